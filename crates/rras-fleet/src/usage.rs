//! Usage reports across the fleet: each node reports on its own sessions
//! over NATS request/reply (`<prefix>.<node>.usage`); the asker shows the
//! reports side by side and adds them up.
//!
//! What adds up exactly: sessions, time and bytes (a session lives on one
//! node), in all, per engine and per day. What does not: unique users (a
//! user on two nodes counts on each) and the most sessions at once (nodes
//! peak at different moments) — the fleet's figures for those are upper
//! bounds, and [`add_up`] says so by leaving `max_concurrent_at` empty.
//! Top users are merged by name from each node's top list.
//!
//! Requests and replies are hostile input like the history's: size caps,
//! unknown fields refused, every number checked before it becomes a time.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::engine_time::unix_secs;

use rras_core::history_query::lower;
use rras_core::usage::{DayUsage, TopBy, UsageReport, UsageTotals, UserUsage};
use rras_core::EngineKind;
use serde::{Deserialize, Serialize};

use crate::ask::{ask_all, NodeAnswer, StatusReply};
use crate::history::unix_time;
use crate::{FleetError, FleetNames};

/// Largest request a node reads.
pub const MAX_REQUEST_BYTES: usize = 1024;
/// Most top users one node lists.
pub const MAX_TOP: u32 = 100;
/// Longest period a node reports on (its per-day list has a day each).
pub const MAX_PERIOD_DAYS: u64 = 400;
/// How long the asker waits for each node (a month at 10M sessions is
/// about a second of work; a busy node may queue it).
pub const TIMEOUT: Duration = Duration::from_secs(60);

const DAY: u64 = 86_400;

/// What a node is asked: the period `[from, to)` in unix seconds, how
/// many top users, ranked by time or by bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageRequest {
    /// Start of the period.
    pub from: u64,
    /// End of the period (not included).
    pub to: u64,
    /// Users in the top list (at most [`MAX_TOP`]).
    pub top: u32,
    /// Rank users by time connected instead of bytes.
    #[serde(default)]
    pub by_time: bool,
}

impl UsageRequest {
    /// The request for `[from, to)`.
    pub fn new(from: SystemTime, to: SystemTime, top: u32, by_time: bool) -> Self {
        UsageRequest {
            from: unix_secs(from),
            to: unix_secs(to),
            top,
            by_time,
        }
    }

    /// Reads a request; oversized, malformed or with unknown fields is an
    /// error.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(format!("request of {} bytes", bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// The period it asks about, or why it cannot be one.
    pub fn period(&self) -> Result<(SystemTime, SystemTime), String> {
        if self.to <= self.from {
            return Err("the period ends before it starts".into());
        }
        if self.to - self.from > MAX_PERIOD_DAYS * DAY {
            return Err(format!("a period of more than {MAX_PERIOD_DAYS} days"));
        }
        Ok((unix_time(self.from)?, unix_time(self.to)?))
    }

    /// How to rank users.
    pub fn by(&self) -> TopBy {
        if self.by_time {
            TopBy::Time
        } else {
            TopBy::Bytes
        }
    }
}

/// [`UsageTotals`] on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Sessions.
    pub sessions: u64,
    /// Distinct users.
    pub unique_users: u64,
    /// Seconds inside the period.
    pub duration_secs: u64,
    /// Bytes from the clients.
    pub bytes_in: u64,
    /// Bytes to the clients.
    pub bytes_out: u64,
}

impl From<&UsageTotals> for Totals {
    fn from(t: &UsageTotals) -> Self {
        Totals {
            sessions: t.sessions,
            unique_users: t.unique_users,
            duration_secs: t.duration_secs,
            bytes_in: t.bytes_in,
            bytes_out: t.bytes_out,
        }
    }
}

impl From<&Totals> for UsageTotals {
    fn from(t: &Totals) -> Self {
        UsageTotals {
            sessions: t.sessions,
            unique_users: t.unique_users,
            duration_secs: t.duration_secs,
            bytes_in: t.bytes_in,
            bytes_out: t.bytes_out,
        }
    }
}

/// A node's [`UsageReport`] on the wire, times in unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSummary {
    /// Start of the period.
    pub from: u64,
    /// End of the period.
    pub to: u64,
    /// Everything.
    pub totals: Totals,
    /// Sessions per day.
    pub average_sessions_per_day: f64,
    /// The most sessions at once.
    pub max_concurrent: u64,
    /// When that was first reached.
    pub max_concurrent_at: Option<u64>,
    /// Per engine (its name).
    pub per_engine: Vec<(String, Totals)>,
    /// The top users.
    pub top_users: Vec<(String, Totals)>,
    /// Per day (midnight UTC).
    pub per_day: Vec<(u64, Totals)>,
}

impl UsageSummary {
    /// The summary of a report.
    pub fn of(r: &UsageReport) -> Self {
        UsageSummary {
            from: unix_secs(r.from),
            to: unix_secs(r.to),
            totals: (&r.totals).into(),
            average_sessions_per_day: r.average_sessions_per_day,
            max_concurrent: r.max_concurrent,
            max_concurrent_at: r.max_concurrent_at.map(unix_secs),
            per_engine: r
                .per_engine
                .iter()
                .map(|(e, t)| (e.as_str().to_owned(), t.into()))
                .collect(),
            top_users: r
                .top_users
                .iter()
                .map(|u| (u.user.clone(), (&u.totals).into()))
                .collect(),
            per_day: r.per_day.iter().map(|d| (d.day, (&d.totals).into())).collect(),
        }
    }

    /// The report it stands for, or why it cannot be one (a node's numbers
    /// are checked like any peer's).
    pub fn report(&self) -> Result<UsageReport, String> {
        if self.per_day.len() as u64 > MAX_PERIOD_DAYS + 1 || self.top_users.len() > MAX_TOP as usize {
            return Err("a report longer than any request asks for".into());
        }
        if !self.average_sessions_per_day.is_finite() {
            return Err("sessions per day is not a number".into());
        }
        Ok(UsageReport {
            from: unix_time(self.from)?,
            to: unix_time(self.to)?,
            totals: (&self.totals).into(),
            average_sessions_per_day: self.average_sessions_per_day,
            max_concurrent: self.max_concurrent,
            max_concurrent_at: self.max_concurrent_at.map(unix_time).transpose()?,
            per_engine: self
                .per_engine
                .iter()
                .map(|(e, t)| Ok((e.parse::<EngineKind>().map_err(|e| e.to_string())?, t.into())))
                .collect::<Result<_, String>>()?,
            top_users: self
                .top_users
                .iter()
                .map(|(user, t)| UserUsage {
                    user: user.clone(),
                    totals: t.into(),
                })
                .collect(),
            per_day: self
                .per_day
                .iter()
                .map(|(day, t)| DayUsage {
                    day: *day,
                    totals: t.into(),
                })
                .collect(),
        })
    }
}

/// What a node answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReply {
    /// Win32 status (0: the report is the answer).
    pub status: u32,
    /// The report.
    pub report: Option<UsageSummary>,
}

impl StatusReply for UsageReply {
    fn status(&self) -> u32 {
        self.status
    }
}

/// Asks every node of `nodes` at once; the reports in `nodes`' order.
pub async fn usage(
    client: &async_nats::Client,
    names: &FleetNames,
    nodes: &[String],
    request: &UsageRequest,
) -> Vec<NodeAnswer<UsageReport>> {
    let payload = |_: &str| serde_json::to_vec(request).map_err(|e| FleetError::Malformed(e.to_string()));
    ask_all::<UsageReply>(client, nodes, |n| names.usage_subject(n), payload, TIMEOUT, "usage")
        .await
        .into_iter()
        .map(|a| NodeAnswer {
            answer: a.answer.and_then(|reply| {
                reply
                    .report
                    .ok_or_else(|| "no report".to_owned())
                    .and_then(|s| s.report())
                    .map_err(|e| FleetError::Malformed(format!("usage from {}: {e}", a.node)))
            }),
            node: a.node,
        })
        .collect()
}

/// The fleet's report: the nodes' reports added up. Sessions, time and
/// bytes are exact; `unique_users` (everywhere) and `max_concurrent` are
/// upper bounds, and `max_concurrent_at` is None. The top users are the
/// nodes' top lists merged by name (without case), ranked `by`.
pub fn add_up(reports: &[&UsageReport], top: usize, by: TopBy) -> UsageReport {
    let mut fleet = UsageReport {
        from: reports.iter().map(|r| r.from).min().unwrap_or(UNIX_EPOCH),
        to: reports.iter().map(|r| r.to).max().unwrap_or(UNIX_EPOCH),
        totals: UsageTotals::default(),
        average_sessions_per_day: 0.0,
        max_concurrent: 0,
        max_concurrent_at: None,
        per_engine: Vec::new(),
        top_users: Vec::new(),
        per_day: Vec::new(),
    };
    let mut engines: BTreeMap<usize, UsageTotals> = BTreeMap::new();
    let mut users: BTreeMap<String, UserUsage> = BTreeMap::new();
    let mut days: BTreeMap<u64, UsageTotals> = BTreeMap::new();
    for r in reports {
        fleet.totals.add(&r.totals);
        fleet.average_sessions_per_day += r.average_sessions_per_day;
        fleet.max_concurrent = fleet.max_concurrent.saturating_add(r.max_concurrent);
        for (e, t) in &r.per_engine {
            let i = EngineKind::ALL.iter().position(|k| k == e).unwrap_or(0);
            engines.entry(i).or_default().add(t);
        }
        for u in &r.top_users {
            let merged = users.entry(lower(&u.user)).or_insert_with(|| UserUsage {
                user: u.user.clone(),
                totals: UsageTotals::default(),
            });
            merged.totals.add(&u.totals);
            merged.totals.unique_users = 1;
        }
        for d in &r.per_day {
            days.entry(d.day).or_default().add(&d.totals);
        }
    }
    fleet.per_engine = engines.into_iter().map(|(i, t)| (EngineKind::ALL[i], t)).collect();
    let rank = |u: &UserUsage| match by {
        TopBy::Bytes => u.totals.bytes_in.saturating_add(u.totals.bytes_out),
        TopBy::Time => u.totals.duration_secs,
    };
    let mut top_users: Vec<UserUsage> = users.into_values().collect();
    top_users.sort_by(|a, b| rank(b).cmp(&rank(a)).then_with(|| a.user.cmp(&b.user)));
    top_users.truncate(top);
    fleet.top_users = top_users;
    fleet.per_day = days.into_iter().map(|(day, totals)| DayUsage { day, totals }).collect();
    fleet
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(sessions: u64, users: u64, bytes: u64) -> UsageTotals {
        UsageTotals {
            sessions,
            unique_users: users,
            duration_secs: sessions * 60,
            bytes_in: bytes,
            bytes_out: 2 * bytes,
        }
    }

    fn report(day: u64, sessions: u64, users: &[(&str, u64)], engine: EngineKind) -> UsageReport {
        UsageReport {
            from: UNIX_EPOCH + Duration::from_secs(day),
            to: UNIX_EPOCH + Duration::from_secs(day + 2 * DAY),
            totals: totals(sessions, users.len() as u64, 100 * sessions),
            average_sessions_per_day: sessions as f64 / 2.0,
            max_concurrent: sessions / 2,
            max_concurrent_at: Some(UNIX_EPOCH + Duration::from_secs(day + 60)),
            per_engine: vec![(engine, totals(sessions, users.len() as u64, 100 * sessions))],
            top_users: users
                .iter()
                .map(|(u, s)| UserUsage {
                    user: (*u).into(),
                    totals: totals(*s, 1, 100 * s),
                })
                .collect(),
            per_day: vec![
                DayUsage {
                    day,
                    totals: totals(sessions / 2, 1, 0),
                },
                DayUsage {
                    day: day + DAY,
                    totals: totals(sessions - sessions / 2, 1, 100 * sessions),
                },
            ],
        }
    }

    #[test]
    fn requests_and_summaries_are_checked() {
        let ok = UsageRequest::from_json(br#"{"from":86400,"to":172800,"top":5}"#).unwrap();
        assert_eq!(ok.by(), TopBy::Bytes);
        assert!(ok.period().is_ok());
        for bad in [
            &br#"{"from":5,"to":5,"top":5}"#[..],
            br#"{"from":0,"to":99999999999,"top":5}"#,
            br#"{"from":18446744073709551615,"to":18446744073709551615,"top":1}"#,
        ] {
            let r = UsageRequest::from_json(bad).unwrap();
            assert!(r.period().is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(UsageRequest::from_json(br#"{"from":1,"to":2,"top":1,"who":"x"}"#).is_err());
        assert!(UsageRequest::from_json(&[b' '; MAX_REQUEST_BYTES + 1]).is_err());
        // A report goes over the wire and back unchanged.
        let r = report(DAY, 10, &[("alice", 6), ("bob", 4)], EngineKind::Wireguard);
        let wire = serde_json::to_vec(&UsageSummary::of(&r)).unwrap();
        let back: UsageSummary = serde_json::from_slice(&wire).unwrap();
        assert_eq!(back.report().unwrap(), r);
        let mut bad = back.clone();
        bad.per_engine[0].0 = "pptp".into();
        assert!(bad.report().is_err());
        let mut bad = back;
        bad.max_concurrent_at = Some(u64::MAX);
        assert!(bad.report().is_err());
    }

    #[test]
    fn the_fleet_adds_what_adds_up_and_bounds_the_rest() {
        let a = report(DAY, 10, &[("alice", 6), ("bob", 4)], EngineKind::Wireguard);
        let b = report(DAY, 4, &[("ALICE", 3), ("carol", 1)], EngineKind::Radius);
        let fleet = add_up(&[&a, &b], 2, TopBy::Bytes);
        assert_eq!(fleet.totals.sessions, 14);
        assert_eq!(fleet.totals.bytes_in, 1_400);
        assert_eq!(fleet.totals.unique_users, 4, "an upper bound: alice is on both");
        assert_eq!(fleet.max_concurrent, 7);
        assert_eq!(fleet.max_concurrent_at, None);
        assert_eq!(
            fleet
                .per_engine
                .iter()
                .map(|(e, t)| (*e, t.sessions))
                .collect::<Vec<_>>(),
            [(EngineKind::Radius, 4), (EngineKind::Wireguard, 10)]
        );
        assert_eq!(fleet.top_users.len(), 2);
        assert_eq!(fleet.top_users[0].user, "alice");
        assert_eq!(fleet.top_users[0].totals.sessions, 9, "merged without case");
        assert_eq!(fleet.top_users[1].user, "bob");
        assert_eq!(
            fleet.per_day.iter().map(|d| d.totals.sessions).collect::<Vec<_>>(),
            [5 + 2, 5 + 2]
        );
    }
}
