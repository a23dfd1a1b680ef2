//! The history as CSV, the same from `rasctl history --csv` and the web
//! console's download: RFC 4180 cells (quoted where needed; the caller
//! ends lines with CRLF), and safe to open in a spreadsheet — a cell that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
//! leading `'`, because user and NAS names come from engines and must not
//! run as formulas.

use std::time::SystemTime;

use crate::model::Connection;

/// The columns of a history line.
pub const HISTORY_HEADER: [&str; 14] = [
    "live",
    "handle",
    "user",
    "engine",
    "instance",
    "nas",
    "ipv4",
    "ipv6",
    "started_at",
    "ended_at",
    "duration_secs",
    "reason",
    "bytes_in",
    "bytes_out",
];

/// One cell: quoted when it holds a comma, quote or line break; defused
/// when a spreadsheet would read it as a formula.
pub fn cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// Cells joined into one line (without its CRLF).
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    cells.iter().map(|c| cell(c.as_ref())).collect::<Vec<_>>().join(",")
}

/// RFC 3339 in UTC, whole seconds (`2026-12-07T14:05:00Z`).
pub fn rfc3339(t: SystemTime) -> String {
    rfc3339_secs(crate::engine_time::unix_secs(t))
}

/// [`rfc3339`] of `secs` after the Unix epoch: for a number a peer sent,
/// which `UNIX_EPOCH + Duration` would panic on when it is too large.
pub fn rfc3339_secs(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The cells of one history line: a live connection (`ended` None) or an
/// ended one with its end and reason; durations of live ones run to `now`.
pub fn history_cells(c: &Connection, ended: Option<(SystemTime, &str)>, now: SystemTime) -> [String; 14] {
    let i = &c.info;
    [
        ended.is_none().to_string(),
        c.handle.get().to_string(),
        i.account(),
        i.source.engine.as_str().to_owned(),
        i.source.instance_name().to_owned(),
        i.source.nas.clone(),
        i.projection
            .ipv4()
            .remote_address
            .map(|a| a.to_string())
            .unwrap_or_default(),
        i.projection
            .ipv6()
            .remote_address()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        rfc3339(i.started_at),
        ended.map(|(t, _)| rfc3339(t)).unwrap_or_default(),
        i.connect_duration(ended.map_or(now, |(t, _)| t)).as_secs().to_string(),
        ended.map(|(_, r)| r.to_owned()).unwrap_or_default(),
        i.stats.bytes_rcved.to_string(),
        i.stats.bytes_xmited.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(cell("alice"), "alice");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-cmd"), "'-cmd");
        assert_eq!(cell("@sum"), "'@sum");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(line(&["a", "b,c"]), "a,\"b,c\"");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_796_652_300)),
            "2026-12-07T14:05:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(4_107_542_399)),
            "2100-02-28T23:59:59Z"
        );
        assert_eq!(rfc3339_secs(1_796_652_300), "2026-12-07T14:05:00Z");
        // Any number a peer sends prints without a panic.
        assert!(rfc3339_secs(u64::MAX).ends_with('Z'));
    }
}
