//! Resume cursors: what a `lpdwResumeHandle` stands for on the server.
//!
//! A resume handle is an opaque non-zero 32-bit number that names a
//! position (the sequence number of the last entry returned, and the end of
//! the enumeration) owned by one client session. Memory is bounded three ways, see [`CursorLimits`]:
//! a session that opens too many loses its least recently used cursor, the
//! whole registry never holds more than `total`, and cursors idle longer than
//! `idle` expire. A lost, expired, foreign or never-issued handle gives
//! `ERROR_INVALID_PARAMETER`, as Windows does for a bad resume handle.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Win32Error;

/// The opaque value behind `*lpdwResumeHandle`; never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResumeHandle(NonZeroU32);

impl ResumeHandle {
    /// The handle for a raw value; `None` for 0 ("start").
    pub fn new(raw: u32) -> Option<Self> {
        NonZeroU32::new(raw).map(Self)
    }

    /// The raw value handed to clients.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// A client session (one `MprAdminServerConnect`): owns its cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientSessionId(pub u64);

/// Bounds on cursor memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorLimits {
    /// Open cursors one session may hold; opening one more evicts that
    /// session's least recently used cursor.
    pub per_session: usize,
    /// Open cursors in total; opening one more first drops expired cursors,
    /// then the least recently used one of all.
    pub total: usize,
    /// A cursor unused this long is gone.
    pub idle: Duration,
}

impl Default for CursorLimits {
    fn default() -> Self {
        CursorLimits {
            per_session: 64,
            total: 65_536,
            idle: Duration::from_secs(300),
        }
    }
}

/// Where an enumeration stands: after sequence number `after` (`None` =
/// start), and below `end`, the first sequence number not yet issued when
/// the enumeration began. The bound makes every enumeration finish: rows
/// inserted after its start are not chased, however fast they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) after: Option<u64>,
    pub(crate) end: u64,
}

#[derive(Debug, Clone)]
struct Cursor {
    owner: ClientSessionId,
    position: Position,
    last_used: Instant,
}

/// All open cursors of a table.
#[derive(Debug)]
pub(crate) struct CursorRegistry {
    cursors: HashMap<u32, Cursor>,
    per_session: HashMap<ClientSessionId, usize>,
    limits: CursorLimits,
    counter: u32,
    salt: u32,
}

impl CursorRegistry {
    pub(crate) fn new(limits: CursorLimits, salt: u32) -> Self {
        CursorRegistry {
            cursors: HashMap::new(),
            per_session: HashMap::new(),
            limits,
            counter: 0,
            salt,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.cursors.len()
    }

    /// Takes the cursor out while its page is read, so two concurrent calls
    /// with one handle cannot both advance it.
    pub(crate) fn take(
        &mut self,
        owner: ClientSessionId,
        handle: ResumeHandle,
        now: Instant,
    ) -> Result<Position, Win32Error> {
        let cursor = match self.cursors.get(&handle.get()) {
            Some(c) if c.owner == owner => c.clone(),
            _ => return Err(Win32Error::InvalidParameter),
        };
        self.remove(handle.get());
        if now.saturating_duration_since(cursor.last_used) > self.limits.idle {
            return Err(Win32Error::InvalidParameter);
        }
        Ok(cursor.position)
    }

    /// Stores `position` under `handle` (a handle just taken) or under a new
    /// handle; returns the handle to give the client.
    pub(crate) fn put(
        &mut self,
        owner: ClientSessionId,
        handle: Option<ResumeHandle>,
        position: Position,
        now: Instant,
    ) -> ResumeHandle {
        let handle = match handle {
            Some(h) if !self.cursors.contains_key(&h.get()) => h,
            _ => {
                self.make_room(owner, now);
                self.fresh_handle()
            }
        };
        self.cursors.insert(
            handle.get(),
            Cursor {
                owner,
                position,
                last_used: now,
            },
        );
        *self.per_session.entry(owner).or_default() += 1;
        handle
    }

    /// Drops every cursor of a session (ServerDisconnect).
    pub(crate) fn release_session(&mut self, owner: ClientSessionId) {
        self.cursors.retain(|_, c| c.owner != owner);
        self.per_session.remove(&owner);
    }

    fn remove(&mut self, raw: u32) {
        if let Some(c) = self.cursors.remove(&raw) {
            if let Some(n) = self.per_session.get_mut(&c.owner) {
                *n -= 1;
                if *n == 0 {
                    self.per_session.remove(&c.owner);
                }
            }
        }
    }

    fn make_room(&mut self, owner: ClientSessionId, now: Instant) {
        if self.per_session.get(&owner).copied().unwrap_or(0) >= self.limits.per_session {
            self.evict_lru(|c| c.owner == owner);
        }
        if self.cursors.len() >= self.limits.total {
            let idle = self.limits.idle;
            let expired: Vec<u32> = self
                .cursors
                .iter()
                .filter(|(_, c)| now.saturating_duration_since(c.last_used) > idle)
                .map(|(h, _)| *h)
                .collect();
            for h in expired {
                self.remove(h);
            }
        }
        if self.cursors.len() >= self.limits.total {
            self.evict_lru(|_| true);
        }
    }

    fn evict_lru(&mut self, which: impl Fn(&Cursor) -> bool) {
        let victim = self
            .cursors
            .iter()
            .filter(|(_, c)| which(c))
            .min_by_key(|(_, c)| c.last_used)
            .map(|(h, _)| *h);
        if let Some(h) = victim {
            self.remove(h);
        }
    }

    /// A non-zero handle not in use. Counter values go through a bijective
    /// mix so that handles are not small consecutive numbers a client could
    /// guess or confuse with another session's.
    fn fresh_handle(&mut self) -> ResumeHandle {
        loop {
            self.counter = self.counter.wrapping_add(1);
            let mut x = self.counter ^ self.salt;
            x = (x ^ (x >> 16)).wrapping_mul(0x7feb_352d);
            x = (x ^ (x >> 15)).wrapping_mul(0x846c_a68b);
            x ^= x >> 16;
            if let Some(h) = ResumeHandle::new(x) {
                if !self.cursors.contains_key(&x) {
                    return h;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ClientSessionId = ClientSessionId(1);
    const B: ClientSessionId = ClientSessionId(2);

    fn at(after: u64) -> Position {
        Position {
            after: Some(after),
            end: 1000,
        }
    }

    fn registry(per_session: usize, total: usize) -> CursorRegistry {
        CursorRegistry::new(
            CursorLimits {
                per_session,
                total,
                idle: Duration::from_secs(10),
            },
            0x1234,
        )
    }

    #[test]
    fn foreign_and_unknown_handles_are_invalid_parameter() {
        let mut r = registry(4, 100);
        let now = Instant::now();
        let h = r.put(A, None, at(5), now);
        assert_eq!(r.take(B, h, now), Err(Win32Error::InvalidParameter));
        let bogus = ResumeHandle::new(h.get() ^ 1).unwrap();
        assert_eq!(r.take(A, bogus, now), Err(Win32Error::InvalidParameter));
        assert_eq!(r.take(A, h, now), Ok(at(5)));
        // Taken: a second use of the same handle fails until it is put back.
        assert_eq!(r.take(A, h, now), Err(Win32Error::InvalidParameter));
    }

    #[test]
    fn idle_cursors_expire() {
        let mut r = registry(4, 100);
        let t0 = Instant::now();
        let h = r.put(A, None, at(0), t0);
        assert_eq!(
            r.take(A, h, t0 + Duration::from_secs(11)),
            Err(Win32Error::InvalidParameter)
        );
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn per_session_cap_evicts_that_sessions_oldest() {
        let mut r = registry(2, 100);
        let t0 = Instant::now();
        let b = r.put(B, None, at(0), t0);
        let a1 = r.put(A, None, at(1), t0);
        let a2 = r.put(A, None, at(2), t0 + Duration::from_millis(1));
        let a3 = r.put(A, None, at(3), t0 + Duration::from_millis(2));
        assert_eq!(r.len(), 3);
        let t = t0 + Duration::from_millis(3);
        assert_eq!(r.take(A, a1, t), Err(Win32Error::InvalidParameter));
        assert_eq!(r.take(A, a2, t), Ok(at(2)));
        assert_eq!(r.take(A, a3, t), Ok(at(3)));
        assert_eq!(r.take(B, b, t), Ok(at(0)));
    }

    #[test]
    fn total_cap_holds() {
        let mut r = registry(1000, 50);
        let t0 = Instant::now();
        for i in 0..500u64 {
            r.put(ClientSessionId(i % 7), None, at(i), t0 + Duration::from_micros(i));
            assert!(r.len() <= 50);
        }
        r.release_session(ClientSessionId(3));
        assert!(r.cursors.values().all(|c| c.owner != ClientSessionId(3)));
    }
}
