//! `InflightLimiter`: at most N admin calls in flight per caller identity,
//! across all its connections, so one client cannot occupy the daemon while
//! other admins wait. Over the limit: RPC_S_SERVER_TOO_BUSY.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rras_core::Win32Error;

/// Counts calls in flight per identity.
#[derive(Debug, Clone)]
pub struct InflightLimiter {
    max: usize,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

/// Holds one slot; releases it when dropped.
#[derive(Debug)]
pub struct InflightGuard {
    identity: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl InflightLimiter {
    /// At most `max` calls per identity.
    pub fn new(max: usize) -> Self {
        InflightLimiter {
            max,
            counts: Arc::default(),
        }
    }

    /// A slot for `identity`, or RPC_S_SERVER_TOO_BUSY.
    pub fn acquire(&self, identity: &str) -> Result<InflightGuard, Win32Error> {
        let mut counts = self.counts.lock();
        let n = counts.entry(identity.to_owned()).or_default();
        if *n >= self.max {
            return Err(Win32Error::RpcServerTooBusy);
        }
        *n += 1;
        Ok(InflightGuard {
            identity: identity.to_owned(),
            counts: self.counts.clone(),
        })
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut counts = self.counts.lock();
        if let Some(n) = counts.get_mut(&self.identity) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.identity);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_identity_cap_and_release() {
        let limiter = InflightLimiter::new(2);
        let a1 = limiter.acquire("uid:1").unwrap();
        let _a2 = limiter.acquire("uid:1").unwrap();
        assert_eq!(limiter.acquire("uid:1").unwrap_err(), Win32Error::RpcServerTooBusy);
        let _b = limiter.acquire("uid:2").expect("another identity is not affected");
        drop(a1);
        assert!(limiter.acquire("uid:1").is_ok());
        assert_eq!(limiter.counts.lock().get("uid:1"), Some(&1));
    }
}
