//! What the log says about dropped datagrams: at most one line per reason
//! per [`PERIOD`], whatever the flood. A drop costs O(1) — a counter and a
//! fixed handful of "top source" slots (Space-Saving: a source not in the
//! slots takes the smallest one's place, counting on from its count) — so
//! junk from a million distinct addresses costs what junk from one does.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The least time between two log lines about one reason.
pub const PERIOD: Duration = Duration::from_secs(10);

/// How many top sources a summary names.
const TOP: usize = 4;

#[derive(Debug, Default)]
struct Tally {
    /// Drops not yet told.
    count: u64,
    /// Approximate heaviest sources among them (count may overestimate by
    /// at most the smallest slot's count, as Space-Saving does).
    top: [Option<(IpAddr, u64)>; TOP],
    last_logged: Option<Instant>,
}

impl Tally {
    fn count_source(&mut self, peer: IpAddr) {
        if let Some((_, n)) = self.top.iter_mut().flatten().find(|(ip, _)| *ip == peer) {
            *n += 1;
            return;
        }
        if let Some(free) = self.top.iter_mut().find(|s| s.is_none()) {
            *free = Some((peer, 1));
            return;
        }
        if let Some(smallest) = self.top.iter_mut().min_by_key(|s| s.map_or(0, |(_, n)| n)) {
            let n = smallest.map_or(0, |(_, n)| n);
            *smallest = Some((peer, n + 1));
        }
    }

    fn due(&self, now: Instant) -> bool {
        self.last_logged.is_none_or(|t| now.duration_since(t) >= PERIOD)
    }

    /// "a.b.c.d ×n, …", heaviest first.
    fn top_sources(&self) -> String {
        let mut top: Vec<_> = self.top.iter().flatten().collect();
        top.sort_by_key(|t| std::cmp::Reverse(t.1));
        top.iter()
            .map(|(ip, n)| format!("{ip} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Drop summaries for one listener.
#[derive(Debug, Default)]
pub struct DropLog {
    by_reason: Mutex<HashMap<&'static str, Tally>>,
}

impl DropLog {
    /// Counts one dropped datagram; logs it with `detail` at once when
    /// nothing was said about `reason` for a period.
    pub fn drop(&self, reason: &'static str, peer: IpAddr, detail: &dyn Display, now: Instant) {
        let mut by_reason = self.by_reason.lock();
        let tally = by_reason.entry(reason).or_default();
        if tally.due(now) && tally.count == 0 {
            tally.last_logged = Some(now);
            tracing::warn!(%peer, reason, "RADIUS packet dropped: {detail} (further drops for this reason are summarised every {}s)", PERIOD.as_secs());
            return;
        }
        tally.count += 1;
        tally.count_source(peer);
    }

    /// Logs, for each reason with untold drops and nothing said for a
    /// period, one summary line; called every [`PERIOD`].
    pub fn summarise(&self, now: Instant) -> usize {
        let mut lines = 0;
        for (reason, tally) in self.by_reason.lock().iter_mut() {
            if tally.count == 0 || !tally.due(now) {
                continue;
            }
            tracing::warn!(
                reason,
                dropped = tally.count,
                top_sources = %tally.top_sources(),
                "RADIUS packets dropped since the last summary"
            );
            *tally = Tally {
                last_logged: Some(now),
                ..Tally::default()
            };
            lines += 1;
        }
        lines
    }

    /// Drops counted for `reason` and not yet told (for tests).
    pub fn pending(&self, reason: &str) -> u64 {
        self.by_reason.lock().get(reason).map_or(0, |t| t.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_and_the_heavy_source_is_named() {
        let log = DropLog::default();
        let t0 = Instant::now();
        let heavy: IpAddr = "127.9.9.9".parse().unwrap();
        log.drop("unknown-client", heavy, &"first", t0);
        // 100k drops from 50k distinct sources plus a heavy one: counted, not told.
        for i in 0..100_000u32 {
            let peer = if i % 2 == 0 {
                heavy
            } else {
                IpAddr::from([127, 1, (i >> 8) as u8, i as u8])
            };
            log.drop("unknown-client", peer, &"x", t0);
        }
        assert_eq!(log.pending("unknown-client"), 100_000);
        assert_eq!(
            log.summarise(t0 + Duration::from_secs(1)),
            0,
            "too soon after the first line"
        );
        assert_eq!(log.summarise(t0 + PERIOD), 1);
        assert_eq!(log.pending("unknown-client"), 0);
        let tally_top = {
            let by_reason = log.by_reason.lock();
            by_reason["unknown-client"].top
        };
        // Reset after the summary; the heavy source was first before it.
        assert!(tally_top.iter().all(Option::is_none));
        assert_eq!(log.summarise(t0 + PERIOD * 3), 0, "nothing new");
    }

    #[test]
    fn space_saving_keeps_the_heaviest() {
        let mut t = Tally::default();
        let heavy: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..10_000u32 {
            t.count_source(IpAddr::from([192, 0, (i >> 8) as u8, i as u8]));
            t.count_source(heavy);
            t.count_source(heavy);
        }
        assert!(t.top_sources().starts_with("10.0.0.1 ×"), "{}", t.top_sources());
    }
}
