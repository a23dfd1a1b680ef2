//! Signed-in web users: a random session id in an HttpOnly, SameSite=Strict
//! cookie, and a per-session CSRF token every state-changing request must
//! echo in a header. Sessions end after [`IDLE`] without use or [`MAX_AGE`].
//! A session keeps the credential that signed it in, and every request
//! asks again what it proves now (a deleted token line or a removed
//! certificate name ends the session, a lowered role downgrades it).
//! Each identity holds at most [`PER_IDENTITY`] sessions — its own oldest
//! goes first — and when the table is full a new sign-in is refused, so
//! one identity can never sign another out.

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::auth::{Caller, Credential};

/// A session unused this long is gone.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// No session lives longer.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Signed-in sessions at once; past it, sign-in is refused.
const MAX_SESSIONS: usize = 4096;
/// Sessions of one identity at once (its oldest goes first).
pub const PER_IDENTITY: usize = 16;

/// One signed-in user.
#[derive(Debug, Clone)]
pub struct WebSession {
    /// Who (token or certificate name) and the role, as of sign-in or the
    /// last check.
    pub caller: Caller,
    /// What signed it in, asked again on every request.
    pub credential: Credential,
    /// What state-changing requests must send in `X-CSRF-Token`.
    pub csrf: String,
    created: Instant,
    used: Instant,
    /// How often it may ask for a window of the connection list.
    pace: super::pace::WindowPace,
}

/// The session table.
#[derive(Debug, Default)]
pub struct WebSessions {
    sessions: Mutex<HashMap<String, WebSession>>,
}

/// 32 random bytes from the kernel, hex.
pub fn random_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Compares secrets without telling, by timing, where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl WebSessions {
    /// Signs `caller` in; returns the new session's id, or None when the
    /// table is full of other identities' sessions.
    pub fn open(&self, caller: Caller, credential: Credential) -> std::io::Result<Option<String>> {
        let id = random_id()?;
        let csrf = random_id()?;
        let now = Instant::now();
        let identity = caller.identity();
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, s| Self::alive(s, now));
        let mine: Vec<(String, Instant)> = sessions
            .iter()
            .filter(|(_, s)| s.caller.identity() == identity)
            .map(|(k, s)| (k.clone(), s.created))
            .collect();
        if mine.len() >= PER_IDENTITY {
            if let Some((oldest, _)) = mine.iter().min_by_key(|(_, created)| *created) {
                sessions.remove(oldest);
            }
        } else if sessions.len() >= MAX_SESSIONS {
            return Ok(None);
        }
        sessions.insert(
            id.clone(),
            WebSession {
                caller,
                credential,
                csrf,
                created: now,
                used: now,
                pace: super::pace::WindowPace::new(now),
            },
        );
        Ok(Some(id))
    }

    fn alive(s: &WebSession, now: Instant) -> bool {
        now.duration_since(s.used) < IDLE && now.duration_since(s.created) < MAX_AGE
    }

    /// The live session `id`, marked used.
    pub fn get(&self, id: &str) -> Option<WebSession> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        let s = sessions.get_mut(id)?;
        if !Self::alive(s, now) {
            sessions.remove(id);
            return None;
        }
        s.used = now;
        Some(s.clone())
    }

    /// Takes one of session `id`'s windows; when it has none left, how
    /// long until it has one (a session gone meanwhile is the caller's
    /// authentication's business, not the pace's).
    pub fn take_window(&self, id: &str) -> Result<(), Duration> {
        match self.sessions.lock().get_mut(id) {
            Some(s) => s.pace.take_at(Instant::now()),
            None => Ok(()),
        }
    }

    /// Signs out.
    pub fn close(&self, id: &str) {
        self.sessions.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Principal, Role};

    #[test]
    fn sessions_are_random_checked_and_closed() {
        let sessions = WebSessions::default();
        let caller = Caller {
            principal: Principal::Token("ops".into()),
            role: Some(Role::Reader),
        };
        let a = sessions
            .open(caller.clone(), Credential::Token([1; 32]))
            .unwrap()
            .unwrap();
        let b = sessions.open(caller, Credential::Token([1; 32])).unwrap().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let s = sessions.get(&a).unwrap();
        assert_eq!(s.caller.role, Some(Role::Reader));
        assert!(same_secret(&s.csrf, &sessions.get(&a).unwrap().csrf));
        assert!(!same_secret(&s.csrf, "x"));
        sessions.close(&a);
        assert!(sessions.get(&a).is_none());
        assert!(sessions.get("nonsense").is_none());
    }

    #[test]
    fn one_identity_signs_out_only_its_own_oldest_and_never_another() {
        let sessions = WebSessions::default();
        let who = |name: &str, role| Caller {
            principal: Principal::Token(name.into()),
            role: Some(role),
        };
        let admin = sessions
            .open(who("ops-admin", Role::Admin), Credential::Token([2; 32]))
            .unwrap()
            .unwrap();
        let mut reader = Vec::new();
        for _ in 0..(PER_IDENTITY * 3) {
            let id = sessions
                .open(who("ops-reader", Role::Reader), Credential::Token([3; 32]))
                .unwrap()
                .unwrap();
            reader.push(id);
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(sessions.get(&admin).is_some(), "a reader signed the admin out");
        let live: Vec<_> = reader.iter().filter(|id| sessions.get(id).is_some()).collect();
        // Each session its own pace: one that used up its windows does not
        // hold up another.
        let used_up = (0..1000).any(|_| sessions.take_window(live[0]).is_err());
        assert!(used_up, "a session's windows run out");
        assert!(sessions.take_window(live[1]).is_ok());
        assert!(sessions.take_window(&admin).is_ok());
        assert_eq!(live.len(), PER_IDENTITY);
        assert_eq!(live[0], &reader[reader.len() - PER_IDENTITY], "the newest stay");
    }
}
