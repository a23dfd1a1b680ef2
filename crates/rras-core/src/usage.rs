//! `UsageReport`: what a period's sessions add up to, as Windows RRAS's
//! `Get-RemoteAccessConnectionStatisticsSummary` and its console's reports
//! give it — total sessions, unique users, average sessions per day, the
//! most connected at once and when, total and average duration, bytes in
//! and out — also per engine, per user (the top N by bytes or by time) and
//! per day.
//!
//! A session counts for a period when it overlaps it (ended at or after
//! its start, started before its end; a live session has not ended). Its
//! duration and its days count only the part inside the period; its bytes
//! count whole (counters are not spread over time). Days are UTC days.
//! Pure: the caller feeds the sessions ([`UsageBuilder::add`]), live and
//! ended, in any order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::history_query::lower;
use crate::model::{ConnectionInfo, EngineKind};

const DAY: u64 = 86_400;

/// Totals of a set of sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageTotals {
    /// Sessions that overlap the period.
    pub sessions: u64,
    /// Distinct accounts among them (without case).
    pub unique_users: u64,
    /// Seconds of those sessions inside the period.
    pub duration_secs: u64,
    /// Bytes from the clients (received by the server).
    pub bytes_in: u64,
    /// Bytes to the clients.
    pub bytes_out: u64,
}

impl UsageTotals {
    /// Average seconds per session inside the period (0 with none).
    pub fn average_duration_secs(&self) -> u64 {
        self.duration_secs.checked_div(self.sessions).unwrap_or(0)
    }
}

/// One user's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUsage {
    /// The account as the first of its sessions wrote it.
    pub user: String,
    /// Sessions, seconds inside the period, bytes.
    pub totals: UsageTotals,
}

/// One UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayUsage {
    /// Midnight UTC, seconds since the epoch.
    pub day: u64,
    /// Sessions up at some time that day, their seconds that day, and the
    /// distinct users; bytes count on the day the session ended (live
    /// ones: not at all).
    pub totals: UsageTotals,
}

/// How to rank users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopBy {
    /// Bytes in and out together.
    #[default]
    Bytes,
    /// Seconds connected.
    Time,
}

/// The report of one period.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageReport {
    /// `[from, to)`.
    pub from: SystemTime,
    /// End of the period (not included).
    pub to: SystemTime,
    /// Everything.
    pub totals: UsageTotals,
    /// Sessions per day over the period's days (whole or part).
    pub average_sessions_per_day: f64,
    /// The most sessions up at once, and the first moment it was reached.
    pub max_concurrent: u64,
    /// When `max_concurrent` was first reached.
    pub max_concurrent_at: Option<SystemTime>,
    /// Per engine, in `EngineKind::ALL` order, engines with sessions only.
    pub per_engine: Vec<(EngineKind, UsageTotals)>,
    /// The top users.
    pub top_users: Vec<UserUsage>,
    /// Every day of the period, in order.
    pub per_day: Vec<DayUsage>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Totals plus the set of users behind `unique_users`.
#[derive(Debug, Default)]
struct Tally {
    totals: UsageTotals,
    users: HashSet<String>,
}

impl Tally {
    fn add(&mut self, user: &str, secs: u64, bytes: Option<(u64, u64)>) {
        self.totals.sessions += 1;
        self.totals.duration_secs = self.totals.duration_secs.saturating_add(secs);
        if let Some((bytes_in, bytes_out)) = bytes {
            self.totals.bytes_in = self.totals.bytes_in.saturating_add(bytes_in);
            self.totals.bytes_out = self.totals.bytes_out.saturating_add(bytes_out);
        }
        if !self.users.contains(user) {
            self.users.insert(user.to_owned());
        }
    }

    fn finish(self) -> UsageTotals {
        UsageTotals {
            unique_users: self.users.len() as u64,
            ..self.totals
        }
    }
}

/// Builds a [`UsageReport`] from sessions fed one at a time.
#[derive(Debug)]
pub struct UsageBuilder {
    from: u64,
    to: u64,
    now: u64,
    all: Tally,
    engines: BTreeMap<usize, Tally>,
    users: HashMap<String, (String, Tally)>,
    days: BTreeMap<u64, Tally>,
    /// (second, +1 start / -1 end) of the parts inside the period.
    edges: Vec<(u64, i8)>,
}

impl UsageBuilder {
    /// A report of `[from, to)` as of `now` (live sessions last until now).
    pub fn new(from: SystemTime, to: SystemTime, now: SystemTime) -> Self {
        UsageBuilder {
            from: secs(from),
            to: secs(to).max(secs(from)),
            now: secs(now),
            all: Tally::default(),
            engines: BTreeMap::new(),
            users: HashMap::new(),
            days: BTreeMap::new(),
            edges: Vec::new(),
        }
    }

    /// Adds one session, ended at `ended` (None: live). Sessions that do
    /// not overlap the period are ignored.
    pub fn add(&mut self, info: &ConnectionInfo, ended: Option<SystemTime>) {
        let start = secs(info.started_at);
        let end = ended.map_or(self.now, secs).max(start);
        if end < self.from || start >= self.to {
            return;
        }
        let (inside_from, inside_to) = (start.max(self.from), end.min(self.to));
        let inside = inside_to.saturating_sub(inside_from);
        let account = info.account();
        let key = lower(&account);
        let bytes = Some((info.stats.bytes_rcved, info.stats.bytes_xmited));
        self.all.add(&key, inside, bytes);
        let engine = EngineKind::ALL
            .iter()
            .position(|e| *e == info.source.engine)
            .unwrap_or(0);
        self.engines.entry(engine).or_default().add(&key, inside, bytes);
        self.users
            .entry(key.clone())
            .or_insert_with(|| (account, Tally::default()))
            .1
            .add(&key, inside, bytes);
        // Each day the session touched, with its seconds that day; bytes
        // on the day it ended.
        let ended_day = ended.map(|e| secs(e) / DAY * DAY);
        let mut day = inside_from / DAY * DAY;
        // Bounded by the period: at most its days (plus one).
        while day < inside_to.max(inside_from + 1) {
            let next = day + DAY;
            let part = inside_to.min(next).saturating_sub(inside_from.max(day));
            let day_bytes = (ended_day == Some(day)).then_some((info.stats.bytes_rcved, info.stats.bytes_xmited));
            self.days.entry(day).or_default().add(&key, part, day_bytes);
            day = next;
        }
        self.edges.push((inside_from, 1));
        self.edges.push((inside_to, -1));
    }

    /// The report, with the `top` users ranked `by`.
    pub fn finish(mut self, top: usize, by: TopBy) -> UsageReport {
        let days_in_period = (self.to - self.from).div_ceil(DAY).max(1);
        // Ends before starts at the same second: a hand-over is not overlap.
        self.edges.sort_unstable();
        let (mut up, mut max, mut max_at) = (0i64, 0i64, None);
        for (at, step) in &self.edges {
            up += i64::from(*step);
            if up > max {
                max = up;
                max_at = Some(UNIX_EPOCH + Duration::from_secs(*at));
            }
        }
        let mut top_users: Vec<UserUsage> = self
            .users
            .into_values()
            .map(|(user, tally)| UserUsage {
                user,
                totals: tally.finish(),
            })
            .collect();
        let rank = |u: &UserUsage| match by {
            TopBy::Bytes => u.totals.bytes_in.saturating_add(u.totals.bytes_out),
            TopBy::Time => u.totals.duration_secs,
        };
        top_users.sort_by(|a, b| rank(b).cmp(&rank(a)).then_with(|| a.user.cmp(&b.user)));
        top_users.truncate(top);
        let first_day = self.from / DAY * DAY;
        let per_day = (0..)
            .map(|n| first_day + n * DAY)
            .take_while(|d| *d < self.to.max(self.from + 1))
            .map(|day| DayUsage {
                day,
                totals: self.days.remove(&day).map(Tally::finish).unwrap_or_default(),
            })
            .collect();
        let totals = self.all.finish();
        UsageReport {
            from: UNIX_EPOCH + Duration::from_secs(self.from),
            to: UNIX_EPOCH + Duration::from_secs(self.to),
            average_sessions_per_day: totals.sessions as f64 / days_in_period as f64,
            totals,
            max_concurrent: u64::try_from(max).unwrap_or(0),
            max_concurrent_at: max_at,
            per_engine: self
                .engines
                .into_iter()
                .map(|(i, t)| (EngineKind::ALL[i], t.finish()))
                .collect(),
            top_users,
            per_day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceKey;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn session(engine: EngineKind, account: &str, start: u64, bytes: (u64, u64)) -> ConnectionInfo {
        let mut i = ConnectionInfo::new(SourceKey::new(engine, "nas", "s"), "x", t(start));
        i.set_account(account);
        i.stats.bytes_rcved = bytes.0;
        i.stats.bytes_xmited = bytes.1;
        i
    }

    /// A hand-computed fixture: two days, day 0 = 86,400 (1970-01-02).
    #[test]
    fn the_figures_of_a_hand_computed_fixture() {
        let d0 = DAY;
        let mut b = UsageBuilder::new(t(d0), t(d0 + 2 * DAY), t(d0 + 3 * DAY));
        // alice: 10:00–11:00 day 0, 100/1000 bytes.
        b.add(
            &session(EngineKind::Radius, "CORP\\alice", d0 + 36_000, (100, 1_000)),
            Some(t(d0 + 39_600)),
        );
        // bob: 10:30 day 0 – 01:00 day 1 (crosses midnight), 50/50.
        b.add(
            &session(EngineKind::Wireguard, "bob", d0 + 37_800, (50, 50)),
            Some(t(d0 + DAY + 3_600)),
        );
        // ALICE again (same user, other case) day 1 12:00–12:30, 10/10.
        b.add(
            &session(EngineKind::Radius, "corp\\ALICE", d0 + DAY + 43_200, (10, 10)),
            Some(t(d0 + DAY + 45_000)),
        );
        // carol: started before the period, ended 00:30 day 0: 1,800 s inside.
        b.add(
            &session(EngineKind::Radius, "carol", d0 - 3_600, (7, 7)),
            Some(t(d0 + 1_800)),
        );
        // dave: live since 23:00 day 1: 3,600 s inside (the period ends).
        b.add(&session(EngineKind::Openvpn, "dave", d0 + DAY + 82_800, (1, 2)), None);
        // Outside: ended before, started after.
        b.add(
            &session(EngineKind::Radius, "eve", d0 - 7_200, (9, 9)),
            Some(t(d0 - 3_600)),
        );
        b.add(
            &session(EngineKind::Radius, "eve", d0 + 2 * DAY, (9, 9)),
            Some(t(d0 + 2 * DAY + 60)),
        );
        let r = b.finish(2, TopBy::Bytes);

        assert_eq!(r.totals.sessions, 5);
        assert_eq!(r.totals.unique_users, 4, "alice twice");
        // 3,600 + 52,200 (bob: 37,800 → 90,000) + 1,800 + 1,800 + 3,600
        assert_eq!(r.totals.duration_secs, 3_600 + 52_200 + 1_800 + 1_800 + 3_600);
        assert_eq!(r.totals.average_duration_secs(), 63_000 / 5);
        assert_eq!((r.totals.bytes_in, r.totals.bytes_out), (168, 1_069));
        assert!((r.average_sessions_per_day - 2.5).abs() < 1e-9);
        // alice and bob overlap 10:30–11:00 day 0: two at once, first at 10:30.
        assert_eq!(r.max_concurrent, 2);
        assert_eq!(r.max_concurrent_at, Some(t(d0 + 37_800)));
        assert_eq!(
            r.per_engine.iter().map(|(e, t)| (*e, t.sessions)).collect::<Vec<_>>(),
            [
                (EngineKind::Radius, 3),
                (EngineKind::Wireguard, 1),
                (EngineKind::Openvpn, 1)
            ]
        );
        // Top by bytes: alice (1,120), bob (100).
        assert_eq!(r.top_users.len(), 2);
        assert_eq!(r.top_users[0].user, "CORP\\alice");
        assert_eq!(r.top_users[0].totals.sessions, 2);
        assert_eq!(r.top_users[0].totals.bytes_in + r.top_users[0].totals.bytes_out, 1_120);
        assert_eq!(r.top_users[1].user, "bob");
        // Per day: day 0 has alice, bob (until midnight), carol; day 1 has
        // bob (01:00), alice, dave.
        assert_eq!(r.per_day.len(), 2);
        assert_eq!(r.per_day[0].day, d0);
        assert_eq!(r.per_day[0].totals.sessions, 3);
        assert_eq!(r.per_day[0].totals.duration_secs, 3_600 + 48_600 + 1_800);
        assert_eq!(r.per_day[0].totals.bytes_in, 107, "alice's and carol's ended that day");
        assert_eq!(r.per_day[1].totals.sessions, 3);
        assert_eq!(r.per_day[1].totals.unique_users, 3);
        assert_eq!(r.per_day[1].totals.duration_secs, 3_600 + 1_800 + 3_600);
        let by_time = {
            let mut b = UsageBuilder::new(t(d0), t(d0 + 2 * DAY), t(d0 + 3 * DAY));
            b.add(
                &session(EngineKind::Radius, "short", d0, (1_000_000, 0)),
                Some(t(d0 + 10)),
            );
            b.add(&session(EngineKind::Radius, "long", d0, (1, 0)), Some(t(d0 + 10_000)));
            b.finish(1, TopBy::Time)
        };
        assert_eq!(by_time.top_users[0].user, "long");
    }

    #[test]
    fn an_empty_period_is_zeroes_not_a_division_by_zero() {
        let r = UsageBuilder::new(t(DAY), t(DAY), t(DAY)).finish(10, TopBy::Bytes);
        assert_eq!(r.totals, UsageTotals::default());
        assert_eq!(r.max_concurrent, 0);
        assert_eq!(r.max_concurrent_at, None);
        assert_eq!(r.average_sessions_per_day, 0.0);
        assert_eq!(r.per_day.len(), 1);
    }
}
