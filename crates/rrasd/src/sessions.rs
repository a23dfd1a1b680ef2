//! Client sessions: what `MprAdminServerConnect` opens. A session belongs to
//! the caller that opened it; its resume cursors live in the table and are
//! freed with it.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;
use rras_core::{ClientSessionId, Win32Error};

use crate::auth::Caller;

#[derive(Debug)]
struct Session {
    owner: String,
    last_used: Instant,
}

/// All open sessions, bounded.
#[derive(Debug)]
pub struct SessionRegistry {
    sessions: Mutex<HashMap<u64, Session>>,
    max: usize,
    per_client: usize,
    salt: u64,
    counter: Mutex<u64>,
}

impl SessionRegistry {
    /// A registry holding at most `max` sessions, `per_client` of them per
    /// caller identity; opening one more drops that caller's least recently
    /// used (or, when the registry is full, the least recently used of all),
    /// so one client cannot crowd out the others.
    pub fn new(max: usize, per_client: usize) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let salt = std::collections::hash_map::RandomState::new().build_hasher().finish();
        SessionRegistry {
            sessions: Mutex::new(HashMap::new()),
            max,
            per_client,
            salt,
            counter: Mutex::new(0),
        }
    }

    /// Opens a session for `caller`. Returns the session and the one evicted
    /// to make room, whose cursors the caller must release.
    pub fn open(&self, caller: &Caller) -> (ClientSessionId, Vec<ClientSessionId>) {
        let id = {
            let mut c = self.counter.lock();
            *c += 1;
            // Non-sequential, non-zero ids: a client cannot guess its neighbour's.
            (c.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.salt) | 1
        };
        let owner = caller.identity();
        let mut sessions = self.sessions.lock();
        let mut evicted = Vec::new();
        let mut evict_oldest = |sessions: &mut HashMap<u64, Session>, only_owner: bool| {
            let oldest = sessions
                .iter()
                .filter(|(_, s)| !only_owner || s.owner == owner)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                sessions.remove(&k);
                evicted.push(ClientSessionId(k));
            }
        };
        if sessions.values().filter(|s| s.owner == owner).count() >= self.per_client {
            evict_oldest(&mut sessions, true);
        }
        if sessions.len() >= self.max {
            evict_oldest(&mut sessions, false);
        }
        sessions.insert(
            id,
            Session {
                owner,
                last_used: Instant::now(),
            },
        );
        (ClientSessionId(id), evicted)
    }

    /// The session if it exists and belongs to `caller`; else
    /// ERROR_INVALID_HANDLE (a stale or foreign server handle).
    pub fn check(&self, caller: &Caller, id: u64) -> Result<ClientSessionId, Win32Error> {
        let mut sessions = self.sessions.lock();
        match sessions.get_mut(&id) {
            Some(s) if s.owner == caller.identity() => {
                s.last_used = Instant::now();
                Ok(ClientSessionId(id))
            }
            _ => Err(Win32Error::InvalidHandle),
        }
    }

    /// Closes a session.
    pub fn close(&self, caller: &Caller, id: u64) -> Result<ClientSessionId, Win32Error> {
        let session = self.check(caller, id)?;
        self.sessions.lock().remove(&id);
        Ok(session)
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    /// True when none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
