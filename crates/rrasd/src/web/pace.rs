//! `WindowPace`: how often one web session may ask for a window of the
//! connection list.
//!
//! A console asks at most about seven times a second (change
//! notifications are coalesced to one request per 150 ms) plus bursts when
//! someone scrolls. A session asking faster is a script, and every window
//! it gets is CPU that RADIUS ingest does not: beyond [`RATE`] a second
//! (bursts of [`BURST`]) its answers wait for their turn — a timer, not
//! work — and one still ahead after a second is answered 429 Too Many
//! Requests.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Windows a second one session may ask for, on average.
pub(super) const RATE: f64 = 20.0;
/// Windows one session may ask for at once.
pub(super) const BURST: f64 = 40.0;
/// Sessions remembered; beyond, the quiet ones are forgotten.
const KEPT: usize = 8192;

/// A token bucket per web session.
#[derive(Debug, Default)]
pub(super) struct WindowPace {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl WindowPace {
    /// Takes a window for `session`; when it has none left, how long until
    /// it has one.
    pub(super) fn take(&self, session: &str) -> Result<(), Duration> {
        self.take_at(session, Instant::now())
    }

    fn take_at(&self, session: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock();
        if buckets.len() >= KEPT && !buckets.contains_key(session) {
            // A full bucket is a quiet session: nothing lost by forgetting it.
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * RATE < BURST);
        }
        let (tokens, at) = buckets.entry(session.to_owned()).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * RATE).min(BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / RATE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_sessions_apart() {
        let pace = WindowPace::default();
        let t = Instant::now();
        for _ in 0..BURST as usize {
            assert!(pace.take_at("a", t).is_ok());
        }
        let wait = pace.take_at("a", t).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(60), "{wait:?}");
        // Another session is not held up by this one.
        assert!(pace.take_at("b", t).is_ok());
        // A second later, RATE more.
        let later = t + Duration::from_secs(1);
        for _ in 0..RATE as usize {
            assert!(pace.take_at("a", later).is_ok());
        }
        assert!(pace.take_at("a", later).is_err());
    }
}
