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

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine_time::unix_secs;

use crate::model::{ConnectionInfo, EngineKind};
use crate::user_hash::UserHasher;

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

    /// Adds `other`'s figures to these (unique users too: the caller knows
    /// whether that sum means anything).
    pub fn add(&mut self, other: &UsageTotals) {
        self.sessions = self.sessions.saturating_add(other.sessions);
        self.unique_users = self.unique_users.saturating_add(other.unique_users);
        self.duration_secs = self.duration_secs.saturating_add(other.duration_secs);
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
    }
}

/// One user's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUsage {
    /// The account as the history first wrote it (a user new to it: as
    /// the first of its sessions here wrote it).
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

/// One session as a report reads it: what the history's usage columns
/// hold for each ended session, and what a live one is reduced to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSession {
    /// Start, seconds since the epoch.
    pub started: u64,
    /// End, seconds since the epoch; None while live.
    pub ended: Option<u64>,
    /// The account's [`UserHasher`] hash.
    pub user: u64,
    /// The engine that carried it.
    pub engine: EngineKind,
    /// Bytes from the client.
    pub bytes_in: u64,
    /// Bytes to the client.
    pub bytes_out: u64,
}

impl UsageSession {
    /// The session of `info`, ended at `ended` (None: live).
    pub fn of(info: &ConnectionInfo, ended: Option<SystemTime>, users: &UserHasher) -> Self {
        UsageSession {
            started: unix_secs(info.started_at),
            ended: ended.map(unix_secs),
            user: users.of(info),
            engine: info.source.engine,
            bytes_in: info.stats.bytes_rcved,
            bytes_out: info.stats.bytes_xmited,
        }
    }
}

/// Hashes a user hash to itself: the keys are already keyed SipHash
/// outputs, uniformly spread and unknown to whoever picks user names, so a
/// second hash would only cost time (a report adds tens of millions).
#[derive(Debug, Default, Clone, Copy)]
pub struct UserHashIdentity(u64);

impl Hasher for UserHashIdentity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByUser = BuildHasherDefault<UserHashIdentity>;

fn add_totals(totals: &mut UsageTotals, secs: u64, bytes: Option<(u64, u64)>) {
    totals.sessions += 1;
    totals.duration_secs = totals.duration_secs.saturating_add(secs);
    if let Some((bytes_in, bytes_out)) = bytes {
        totals.bytes_in = totals.bytes_in.saturating_add(bytes_in);
        totals.bytes_out = totals.bytes_out.saturating_add(bytes_out);
    }
}

/// A day's totals and which users (by their place in the builder's list)
/// it saw: a bit each, so a user counts once a day without a set lookup.
#[derive(Debug, Default)]
struct DayTally {
    totals: UsageTotals,
    users: Vec<u64>,
    unique: u64,
}

impl DayTally {
    fn add(&mut self, user: usize, secs: u64, bytes: Option<(u64, u64)>) {
        add_totals(&mut self.totals, secs, bytes);
        self.mark(user);
    }

    fn mark(&mut self, user: usize) {
        let (word, bit) = (user / 64, 1u64 << (user % 64));
        if self.users.len() <= word {
            self.users.resize(word + 1, 0);
        }
        if self.users[word] & bit == 0 {
            self.users[word] |= bit;
            self.unique += 1;
        }
    }

    fn finish(self) -> UsageTotals {
        UsageTotals {
            unique_users: self.unique,
            ..self.totals
        }
    }
}

/// Periods up to this many seconds find the most concurrent sessions with
/// a counter per second (4 bytes each: 35 MB at the limit); longer ones
/// sort the starts and ends.
const SECOND_COUNTERS_UP_TO: u64 = 100 * DAY;

/// How many sessions were up at each moment of the period.
#[derive(Debug)]
enum Concurrency {
    /// `steps[t - from]`: starts minus ends at that second.
    PerSecond { from: u64, steps: Vec<i32> },
    /// `second << 1 | 1` for a start, `second << 1` for an end: sorted,
    /// ends come before starts at the same second.
    Edges(Vec<u64>),
}

impl Concurrency {
    fn new(from: u64, to: u64) -> Self {
        let span = to - from;
        if span <= SECOND_COUNTERS_UP_TO {
            Concurrency::PerSecond {
                from,
                steps: vec![0; span as usize + 1],
            }
        } else {
            Concurrency::Edges(Vec::new())
        }
    }

    /// A session up over `[start, end)`, both inside the period (or `end`
    /// its end).
    fn add(&mut self, start: u64, end: u64) {
        match self {
            Concurrency::PerSecond { from, steps } => {
                let at = |t: u64| usize::try_from(t - *from).unwrap_or(usize::MAX);
                if let Some(s) = steps.get_mut(at(start)) {
                    *s += 1;
                }
                if let Some(s) = steps.get_mut(at(end)) {
                    *s -= 1;
                }
            }
            Concurrency::Edges(edges) => {
                edges.push(start << 1 | 1);
                edges.push(end << 1);
            }
        }
    }

    fn merge(&mut self, other: Concurrency) {
        match (self, other) {
            (Concurrency::PerSecond { steps, .. }, Concurrency::PerSecond { steps: theirs, .. }) => {
                for (mine, theirs) in steps.iter_mut().zip(theirs) {
                    *mine += theirs;
                }
            }
            (Concurrency::Edges(edges), Concurrency::Edges(theirs)) => edges.extend(theirs),
            // Builders of one period choose alike.
            _ => {}
        }
    }

    /// The most up at once, and the first second it was reached.
    fn peak(self) -> (u64, Option<u64>) {
        let (mut up, mut max, mut max_at) = (0i64, 0i64, None);
        match self {
            Concurrency::PerSecond { from, steps } => {
                for (i, step) in steps.iter().enumerate() {
                    up += i64::from(*step);
                    if up > max {
                        max = up;
                        max_at = Some(from + i as u64);
                    }
                }
            }
            Concurrency::Edges(mut edges) => {
                edges.sort_unstable();
                for e in edges {
                    up += if e & 1 == 1 { 1 } else { -1 };
                    if up > max {
                        max = up;
                        max_at = Some(e >> 1);
                    }
                }
            }
        }
        (u64::try_from(max).unwrap_or(0), max_at)
    }
}

/// Builds a [`UsageReport`] from sessions fed one at a time.
///
/// Each user gets a place in a list the first time it is seen (one hash
/// lookup a session); the per-user, per-engine and per-day tallies are
/// then arrays, so a report over ten million sessions is memory-bound, not
/// lookup-bound.
#[derive(Debug)]
pub struct UsageBuilder {
    from: u64,
    to: u64,
    now: u64,
    users_hash: UserHasher,
    totals: UsageTotals,
    engines: [UsageTotals; EngineKind::ALL.len()],
    /// User hash → its place in `users`.
    places: HashMap<u64, u32, ByUser>,
    /// Per user: hash, totals, and a bit per engine that carried it.
    users: Vec<(u64, UsageTotals, u8)>,
    /// Account names as written, of the sessions added with one.
    names: HashMap<u64, String, ByUser>,
    /// The period's days, from the one `from` is in.
    days: Vec<DayTally>,
    concurrency: Concurrency,
}

impl UsageBuilder {
    /// A report of `[from, to)` as of `now` (live sessions last until now),
    /// users told apart by `users` (the store's hasher).
    pub fn new(from: SystemTime, to: SystemTime, now: SystemTime, users: UserHasher) -> Self {
        let (from, to) = (unix_secs(from), unix_secs(to).max(unix_secs(from)));
        let days = (to.max(from + 1) - from / DAY * DAY).div_ceil(DAY);
        UsageBuilder {
            from,
            to,
            now: unix_secs(now),
            users_hash: users,
            totals: UsageTotals::default(),
            engines: Default::default(),
            places: HashMap::default(),
            users: Vec::new(),
            names: HashMap::default(),
            days: (0..days).map(|_| DayTally::default()).collect(),
            concurrency: Concurrency::new(from, to),
        }
    }

    /// Adds one session, ended at `ended` (None: live), its account name
    /// remembered for the ranking. Sessions that do not overlap the period
    /// are ignored.
    pub fn add(&mut self, info: &ConnectionInfo, ended: Option<SystemTime>) {
        let session = UsageSession::of(info, ended, &self.users_hash);
        if self.add_session(&session) && !self.names.contains_key(&session.user) {
            self.names.insert(session.user, info.account());
        }
    }

    /// Adds one session; false when it does not overlap the period.
    pub fn add_session(&mut self, s: &UsageSession) -> bool {
        let start = s.started;
        let end = s.ended.unwrap_or(self.now).max(start);
        if end < self.from || start >= self.to {
            return false;
        }
        let (inside_from, inside_to) = (start.max(self.from), end.min(self.to));
        let inside = inside_to - inside_from;
        let bytes = Some((s.bytes_in, s.bytes_out));
        add_totals(&mut self.totals, inside, bytes);
        let engine = EngineKind::ALL.iter().position(|e| *e == s.engine).unwrap_or(0);
        add_totals(&mut self.engines[engine], inside, bytes);
        let next = self.users.len() as u32;
        let place = *self.places.entry(s.user).or_insert(next) as usize;
        if place == self.users.len() {
            self.users.push((s.user, UsageTotals::default(), 0));
        }
        let user = &mut self.users[place];
        add_totals(&mut user.1, inside, bytes);
        user.2 |= 1 << engine;
        // Each day the session touched, with its seconds that day; bytes
        // on the day it ended.
        let first_day = self.from / DAY * DAY;
        let ended_day = s.ended.map(|e| e / DAY * DAY);
        let mut day = inside_from / DAY * DAY;
        // Bounded by the period: at most its days (plus one).
        while day < inside_to.max(inside_from + 1) {
            let next = day + DAY;
            let part = inside_to.min(next).saturating_sub(inside_from.max(day));
            let day_bytes = (ended_day == Some(day)).then_some((s.bytes_in, s.bytes_out));
            if let Some(tally) = self.days.get_mut(((day - first_day) / DAY) as usize) {
                tally.add(place, part, day_bytes);
            }
            day = next;
        }
        self.concurrency.add(inside_from, inside_to);
        true
    }

    /// A builder of the same period with nothing added: to add part of
    /// the sessions on another thread and [`merge`](Self::merge) it back.
    pub fn empty_like(&self) -> Self {
        UsageBuilder::new(
            UNIX_EPOCH + Duration::from_secs(self.from),
            UNIX_EPOCH + Duration::from_secs(self.to),
            UNIX_EPOCH + Duration::from_secs(self.now),
            self.users_hash,
        )
    }

    /// Adds what `other` (of the same period) was fed, as if fed here.
    pub fn merge(&mut self, other: UsageBuilder) {
        // Unique users are not in these totals yet (finish counts them).
        self.totals.add(&other.totals);
        for (mine, theirs) in self.engines.iter_mut().zip(&other.engines) {
            mine.add(theirs);
        }
        // Their places become ours.
        let mut place_of = Vec::with_capacity(other.users.len());
        for (hash, totals, engines) in &other.users {
            let next = self.users.len() as u32;
            let place = *self.places.entry(*hash).or_insert(next) as usize;
            if place == self.users.len() {
                self.users.push((*hash, UsageTotals::default(), 0));
            }
            self.users[place].1.add(totals);
            self.users[place].2 |= engines;
            place_of.push(place);
        }
        for (mine, theirs) in self.days.iter_mut().zip(other.days) {
            mine.totals.add(&theirs.totals);
            for (word, bits) in theirs.users.iter().enumerate() {
                let mut bits = *bits;
                while bits != 0 {
                    let user = word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if let Some(place) = place_of.get(user) {
                        mine.mark(*place);
                    }
                }
            }
        }
        for (hash, name) in other.names {
            self.names.entry(hash).or_insert(name);
        }
        self.concurrency.merge(other.concurrency);
    }

    /// The report, with the `top` users ranked `by`; `name_of` names users
    /// as the history first wrote them (else as the first session added
    /// here wrote them: a live newcomer).
    pub fn finish(self, top: usize, by: TopBy, mut name_of: impl FnMut(u64) -> Option<String>) -> UsageReport {
        let days_in_period = (self.to - self.from).div_ceil(DAY).max(1);
        let (max_concurrent, max_at) = self.concurrency.peak();
        let rank = |t: &UsageTotals| match by {
            TopBy::Bytes => t.bytes_in.saturating_add(t.bytes_out),
            TopBy::Time => t.duration_secs,
        };
        let mut engine_users = [0u64; EngineKind::ALL.len()];
        for (_, _, engines) in &self.users {
            for (i, n) in engine_users.iter_mut().enumerate() {
                *n += u64::from(engines >> i & 1);
            }
        }
        let unique_users = self.users.len() as u64;
        let mut ranked: Vec<(u64, UsageTotals)> = self.users.into_iter().map(|(h, t, _)| (h, t)).collect();
        // The top by rank first; ties by name below, so take a margin of
        // equals before naming them.
        ranked.sort_unstable_by(|a, b| rank(&b.1).cmp(&rank(&a.1)).then(a.0.cmp(&b.0)));
        let cut = ranked.get(top.saturating_sub(1)).map_or(ranked.len(), |last| {
            let edge = rank(&last.1);
            ranked.iter().take_while(|(_, t)| rank(t) >= edge).count()
        });
        ranked.truncate(cut);
        let mut top_users: Vec<UserUsage> = ranked
            .into_iter()
            .map(|(hash, totals)| UserUsage {
                user: name_of(hash)
                    .or_else(|| self.names.get(&hash).cloned())
                    .unwrap_or_else(|| format!("#{hash:016x}")),
                totals: UsageTotals {
                    unique_users: 1,
                    ..totals
                },
            })
            .collect();
        top_users.sort_by(|a, b| rank(&b.totals).cmp(&rank(&a.totals)).then_with(|| a.user.cmp(&b.user)));
        top_users.truncate(top);
        let first_day = self.from / DAY * DAY;
        let per_day = self
            .days
            .into_iter()
            .enumerate()
            .map(|(n, tally)| DayUsage {
                day: first_day + n as u64 * DAY,
                totals: tally.finish(),
            })
            .collect();
        let totals = UsageTotals {
            unique_users,
            ..self.totals
        };
        UsageReport {
            from: UNIX_EPOCH + Duration::from_secs(self.from),
            to: UNIX_EPOCH + Duration::from_secs(self.to),
            average_sessions_per_day: totals.sessions as f64 / days_in_period as f64,
            totals,
            max_concurrent,
            max_concurrent_at: max_at.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            per_engine: self
                .engines
                .into_iter()
                .zip(engine_users)
                .enumerate()
                .filter(|(_, (t, _))| t.sessions > 0)
                .map(|(i, (t, unique_users))| (EngineKind::ALL[i], UsageTotals { unique_users, ..t }))
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

    const USERS: UserHasher = UserHasher::new(7, 9);

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
        let mut b = UsageBuilder::new(t(d0), t(d0 + 2 * DAY), t(d0 + 3 * DAY), USERS);
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
        let r = b.finish(2, TopBy::Bytes, |_| None);

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
            let mut b = UsageBuilder::new(t(d0), t(d0 + 2 * DAY), t(d0 + 3 * DAY), USERS);
            b.add(
                &session(EngineKind::Radius, "short", d0, (1_000_000, 0)),
                Some(t(d0 + 10)),
            );
            b.add(&session(EngineKind::Radius, "long", d0, (1, 0)), Some(t(d0 + 10_000)));
            b.finish(1, TopBy::Time, |_| None)
        };
        assert_eq!(by_time.top_users[0].user, "long");
    }

    #[test]
    fn an_empty_period_is_zeroes_not_a_division_by_zero() {
        let r = UsageBuilder::new(t(DAY), t(DAY), t(DAY), USERS).finish(10, TopBy::Bytes, |_| None);
        assert_eq!(r.totals, UsageTotals::default());
        assert_eq!(r.max_concurrent, 0);
        assert_eq!(r.max_concurrent_at, None);
        assert_eq!(r.average_sessions_per_day, 0.0);
        assert_eq!(r.per_day.len(), 1);
    }

    #[test]
    fn halves_merged_make_the_report_of_the_whole() {
        let sessions: Vec<(ConnectionInfo, Option<SystemTime>)> = (0..400u64)
            .map(|i| {
                let engine = EngineKind::ALL[(i % 3) as usize];
                let start = DAY + i * 997 % (3 * DAY);
                let info = session(engine, &format!("user{}", i % 37), start, (i * 11, i * 13));
                let ended = (i % 9 != 0).then(|| t(start + 60 + i * 7_919 % 40_000));
                (info, ended)
            })
            .collect();
        for (from, to) in [(DAY, 4 * DAY), (DAY, 500 * DAY), (2 * DAY + 5, 2 * DAY + 50_000)] {
            let whole = {
                let mut b = UsageBuilder::new(t(from), t(to), t(5 * DAY), USERS);
                for (info, ended) in &sessions {
                    b.add(info, *ended);
                }
                b.finish(5, TopBy::Time, |_| None)
            };
            let mut first = UsageBuilder::new(t(from), t(to), t(5 * DAY), USERS);
            let mut second = first.empty_like();
            for (i, (info, ended)) in sessions.iter().enumerate() {
                if i % 3 == 0 {
                    first.add(info, *ended)
                } else {
                    second.add(info, *ended)
                }
            }
            first.merge(second);
            assert_eq!(first.finish(5, TopBy::Time, |_| None), whole, "{from}..{to}");
        }
    }
}
