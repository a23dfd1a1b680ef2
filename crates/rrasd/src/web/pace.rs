//! `WindowPace`: how often one web session may ask for a window of the
//! connection list — a token bucket kept in the session itself, so it
//! lives and ends with the session and needs no table of its own.
//!
//! A console asks at most about seven times a second (change
//! notifications are coalesced to one request per 150 ms) plus bursts when
//! someone scrolls. A session asking faster is a script, and every window
//! it gets is CPU that RADIUS ingest does not: beyond [`RATE`] a second
//! (bursts of [`BURST`]) its answers wait for their turn — a timer, not
//! work — and one still ahead after a second is answered 429 Too Many
//! Requests.

use std::time::{Duration, Instant};

/// Windows a second one session may ask for, on average.
pub(super) const RATE: f64 = 20.0;
/// Windows one session may ask for at once.
pub(super) const BURST: f64 = 40.0;

/// One session's bucket.
#[derive(Debug, Clone)]
pub(super) struct WindowPace {
    tokens: f64,
    at: Instant,
}

impl WindowPace {
    /// A full bucket.
    pub(super) fn new(now: Instant) -> Self {
        WindowPace { tokens: BURST, at: now }
    }

    /// Takes a window; when none is left, how long until one is.
    pub(super) fn take_at(&mut self, now: Instant) -> Result<(), Duration> {
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * RATE).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / RATE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t = Instant::now();
        let mut pace = WindowPace::new(t);
        for _ in 0..BURST as usize {
            assert!(pace.take_at(t).is_ok());
        }
        let wait = pace.take_at(t).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(60), "{wait:?}");
        // A second later, RATE more.
        let later = t + Duration::from_secs(1);
        for _ in 0..RATE as usize {
            assert!(pace.take_at(later).is_ok());
        }
        assert!(pace.take_at(later).is_err());
    }
}
