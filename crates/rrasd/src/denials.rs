//! Denied calls and failed sign-ins in the audit trail, without letting a
//! flood of them bury what matters. The first [`WRITTEN_PER_MINUTE`]
//! denials of a caller in a minute are written one by one; the rest are
//! counted, and when the minute is over one record per caller says how
//! many more there were ("DeniedCalls", target "N more in the minute
//! from …"). The store keeps denials apart from state-changing records
//! (which go by age, never by count), so even the counted ones cannot
//! push an admin's disconnect out.
//!
//! Callers without an identity (anonymous, from many addresses) share one
//! key, and a minute tracks at most 10,000 callers — past that
//! the rest count under the shared key — so the limiter's own memory is
//! bounded too.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rras_core::{AuditRecord, Win32Error};

/// Denials per caller per minute written as they are.
pub const WRITTEN_PER_MINUTE: u32 = 10;

/// Callers tracked per minute.
const MAX_CALLERS: usize = 10_000;

/// The key of callers with no identity, and of callers past the cap.
const SHARED: &str = "anonymous";

#[derive(Debug, Default)]
struct Minute {
    /// Unix minute.
    index: u64,
    /// Per caller: written, counted.
    callers: HashMap<String, (u32, u64)>,
}

/// What to do with one denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Write it.
    Write,
    /// Counted; it will be in the minute's summary.
    Counted,
}

/// The limiter (one per daemon).
#[derive(Debug, Default)]
pub struct DenialLimiter {
    minute: Mutex<Minute>,
}

fn unix_minute(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 60)
}

fn key_of(caller: &str) -> &str {
    if caller.is_empty() || caller.starts_with("anonymous") || caller.ends_with(":anonymous") {
        SHARED
    } else {
        caller
    }
}

impl DenialLimiter {
    /// Records a denial of `caller` at `at`; returns the summaries of a
    /// minute that just ended (to be written) and whether to write this one.
    pub fn note(&self, caller: &str, at: SystemTime) -> (Vec<AuditRecord>, Denial) {
        let mut minute = self.minute.lock();
        let ended = Self::roll(&mut minute, unix_minute(at));
        let mut key = key_of(caller).to_owned();
        if !minute.callers.contains_key(&key) && minute.callers.len() >= MAX_CALLERS {
            key = SHARED.to_owned();
        }
        let entry = minute.callers.entry(key).or_insert((0, 0));
        let verdict = if entry.0 < WRITTEN_PER_MINUTE {
            entry.0 += 1;
            Denial::Write
        } else {
            entry.1 += 1;
            Denial::Counted
        };
        (ended, verdict)
    }

    /// The summaries of minutes over by `now` (called every few seconds,
    /// so a flood's count is written even if the flood stopped).
    pub fn due(&self, now: SystemTime) -> Vec<AuditRecord> {
        Self::roll(&mut self.minute.lock(), unix_minute(now))
    }

    /// Moves to minute `index`; the summaries of the one it leaves.
    fn roll(minute: &mut Minute, index: u64) -> Vec<AuditRecord> {
        if minute.index == index {
            return Vec::new();
        }
        let from = UNIX_EPOCH + Duration::from_secs(minute.index * 60);
        let summaries = minute
            .callers
            .drain()
            .filter(|(_, (_, counted))| *counted > 0)
            .map(|(caller, (_, counted))| AuditRecord {
                at: from + Duration::from_secs(60),
                caller,
                method: "DeniedCalls".into(),
                target: format!(
                    "{counted} more in the minute from {}",
                    humantime::format_rfc3339_seconds(from)
                ),
                result: Win32Error::AccessDenied.code(),
            })
            .collect();
        minute.index = index;
        summaries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_minute_written_the_rest_summed_per_caller() {
        let limiter = DenialLimiter::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000 / 60 * 60);
        limiter.note("token:mon", t0);
        let mut written = 0;
        for i in 0..1000 {
            let (ended, verdict) = limiter.note("token:mon", t0 + Duration::from_millis(i));
            assert!(ended.is_empty());
            written += u32::from(verdict == Denial::Write);
        }
        assert_eq!(written, WRITTEN_PER_MINUTE - 1);
        // Another caller has its own allowance.
        assert_eq!(limiter.note("cert:admin", t0).1, Denial::Write);
        // Anonymous callers from many addresses share one.
        let anonymous: u32 = (0..100)
            .map(|i| u32::from(limiter.note(&format!("anonymous:10.0.0.{i}"), t0).1 == Denial::Write))
            .sum();
        assert_eq!(anonymous, WRITTEN_PER_MINUTE);
        assert!(
            limiter.due(t0 + Duration::from_secs(30)).is_empty(),
            "the minute is not over"
        );
        let mut summaries = limiter.due(t0 + Duration::from_secs(61));
        summaries.sort_by(|a, b| a.caller.cmp(&b.caller));
        let told: Vec<_> = summaries
            .iter()
            .map(|r| (r.caller.as_str(), r.target.split(' ').next().unwrap()))
            .collect();
        assert_eq!(told, vec![("anonymous", "90"), ("token:mon", "991")]);
        assert!(summaries.iter().all(|r| r.result == 5 && r.method == "DeniedCalls"));
        assert!(limiter.due(t0 + Duration::from_secs(62)).is_empty());
    }
}
