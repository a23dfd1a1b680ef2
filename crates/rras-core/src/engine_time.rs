//! Times that engines send as numbers (UAPI handshake seconds, OpenVPN
//! `status 3` epochs, RADIUS Event-Timestamp). The numbers are untrusted:
//! `UNIX_EPOCH + Duration` panics when it overflows, and a time past the
//! year 9999 cannot be shown to a Windows caller (`SYSTEMTIME`) anyway. So
//! every engine time goes through [`from_unix`], which refuses both.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z, the last second a Windows `SYSTEMTIME` can hold.
pub const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// `secs` (+ `nanos`) after the Unix epoch, or None when the number is
/// beyond [`MAX_UNIX_SECS`] or `nanos` is not below one second.
pub fn from_unix(secs: u64, nanos: u32) -> Option<SystemTime> {
    if secs > MAX_UNIX_SECS || nanos >= 1_000_000_000 {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Whole seconds since the Unix epoch (0 for a time before it): the way
/// the history, its indexes and the reports keep times.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `t` moved back by `secs`, or None when that leaves the representable
/// range (never panics, unlike `SystemTime - Duration`).
pub fn before(t: SystemTime, secs: u64) -> Option<SystemTime> {
    t.checked_sub(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_would_overflow() {
        assert_eq!(from_unix(u64::MAX, 0), None);
        assert_eq!(from_unix(MAX_UNIX_SECS + 1, 0), None);
        assert_eq!(from_unix(1, 1_000_000_000), None);
        assert_eq!(from_unix(5, 7), Some(UNIX_EPOCH + Duration::new(5, 7)));
        assert!(from_unix(MAX_UNIX_SECS, 999_999_999).is_some());
        assert_eq!(before(UNIX_EPOCH, 1), UNIX_EPOCH.checked_sub(Duration::from_secs(1)));
        assert!(before(SystemTime::now(), u64::MAX).is_none());
    }
}
