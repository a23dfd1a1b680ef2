//! Signed-in web users: a random session id in an HttpOnly, SameSite=Strict
//! cookie, and a per-session CSRF token every state-changing request must
//! echo in a header. Sessions end after [`IDLE`] without use or [`MAX_AGE`].

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::auth::Caller;

/// A session unused this long is gone.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// No session lives longer.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Signed-in sessions at once (the oldest goes first).
const MAX_SESSIONS: usize = 4096;

/// One signed-in user.
#[derive(Debug, Clone)]
pub struct WebSession {
    /// Who (token or certificate name) and the role.
    pub caller: Caller,
    /// What state-changing requests must send in `X-CSRF-Token`.
    pub csrf: String,
    created: Instant,
    used: Instant,
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
    /// Signs `caller` in; returns the new session's id.
    pub fn open(&self, caller: Caller) -> std::io::Result<String> {
        let id = random_id()?;
        let csrf = random_id()?;
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, s| Self::alive(s, now));
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| k.clone()) {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            WebSession {
                caller,
                csrf,
                created: now,
                used: now,
            },
        );
        Ok(id)
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
        let a = sessions.open(caller.clone()).unwrap();
        let b = sessions.open(caller).unwrap();
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
}
