//! The accounting history across the fleet: each node answers for its own
//! history over NATS request/reply (`<prefix>.<node>.history`), a page at
//! a time below its own cursor, and the asker merges the pages, newest end
//! first, keeping a cursor per node ([`FleetCursor`]) so that paging on
//! returns every entry exactly once however the nodes' Stops interleave.
//!
//! A node is asked only about what it kept; the answer is at most
//! [`MAX_ROWS`] rows. Requests are read as hostile input — anyone NATS
//! lets publish on the subject could have sent one: a size cap, unknown
//! fields refused, the filters parsed strictly. Who may ask is NATS's
//! business (docs/fleet.md: readers publish on `<prefix>.*.history`, a
//! node reads only its own subject).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use rras_core::engine_time::unix_secs;

use rras_core::{EndedConnection, HistoryQuery};
use serde::{Deserialize, Serialize};

use crate::ask::{ask_all, StatusReply};
use crate::{FleetError, FleetNames};

/// Largest request a node reads.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// Most rows one node answers with.
pub const MAX_ROWS: u32 = 1_000;
/// How long the asker waits for each node.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What a node is asked: the filters of a [`HistoryQuery`] (times in unix
/// seconds) and how many rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryRequest {
    /// A prefix of the account.
    pub user: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// Sessions that had not ended before this.
    pub from: Option<u64>,
    /// Sessions that had started by this.
    pub to: Option<u64>,
    /// The NAS.
    pub nas: Option<String>,
    /// The engine.
    pub engine: Option<String>,
    /// The source instance.
    pub instance: Option<String>,
    /// Rows wanted (at most [`MAX_ROWS`]).
    pub limit: u32,
    /// Only entries below this sequence number (the node's cursor).
    pub before: Option<u64>,
}

/// Unix seconds a peer sent, as a time; past the year 9999 is refused.
pub(crate) fn unix_time(s: u64) -> Result<SystemTime, String> {
    rras_core::engine_time::from_unix(s, 0).ok_or_else(|| format!("time {s} is out of range"))
}

impl HistoryRequest {
    /// The request for `query`'s first `limit` rows.
    pub fn of(query: &HistoryQuery, limit: u32) -> Self {
        HistoryRequest {
            user: query.user.clone(),
            address: query.address.map(|a| a.to_string()),
            from: query.from.map(unix_secs),
            to: query.to.map(unix_secs),
            nas: query.nas.clone(),
            engine: query.engine.map(|e| e.as_str().to_owned()),
            instance: query.instance.clone(),
            limit,
            before: None,
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

    /// The query it asks, or why it cannot be one.
    pub fn query(&self) -> Result<HistoryQuery, String> {
        // Untrusted numbers: past the year 9999 is refused, not a panic.
        let time = |s: Option<u64>| s.map(unix_time).transpose();
        // An empty text is no filter, as in the RPC and the console.
        let text = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(HistoryQuery {
            user: text(&self.user),
            address: match &self.address {
                Some(a) => Some(a.parse().map_err(|_| format!("{a:?} is not an IP address"))?),
                None => None,
            },
            from: time(self.from)?,
            to: time(self.to)?,
            nas: text(&self.nas),
            engine: match &self.engine {
                Some(e) => Some(e.parse().map_err(|e: rras_core::model::UnknownEngine| e.to_string())?),
                None => None,
            },
            instance: text(&self.instance),
        })
    }
}

/// One ended connection as a node reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// Its sequence number in that node's history (0 from a node too old
    /// to say).
    #[serde(default)]
    pub seq: u64,
    /// Its handle on that node (handles repeat over a long history).
    pub handle: u32,
    /// The account, `DOMAIN\user` or the user alone.
    pub user: String,
    /// The engine.
    pub engine: String,
    /// The source instance.
    pub instance: String,
    /// The NAS or what reported it.
    pub nas: String,
    /// The client's IPv4 address in the tunnel.
    pub ipv4: Option<Ipv4Addr>,
    /// The client's IPv6 address in the tunnel.
    pub ipv6: Option<Ipv6Addr>,
    /// Start, unix seconds.
    pub started: u64,
    /// End, unix seconds.
    pub ended: u64,
    /// Why it ended.
    pub reason: String,
    /// Bytes from the client.
    pub bytes_in: u64,
    /// Bytes to the client.
    pub bytes_out: u64,
}

impl HistoryRow {
    /// The row of entry `seq`.
    pub fn of(seq: u64, e: &EndedConnection) -> Self {
        let i = &e.connection.info;
        HistoryRow {
            seq,
            handle: e.connection.handle.get(),
            user: i.account(),
            engine: i.source.engine.as_str().to_owned(),
            instance: i.source.instance_name().to_owned(),
            nas: i.source.nas.clone(),
            ipv4: i.projection.ipv4().remote_address,
            ipv6: i.projection.ipv6().remote_address(),
            started: unix_secs(i.started_at),
            ended: unix_secs(e.ended_at),
            reason: e.reason.clone(),
            bytes_in: i.stats.bytes_rcved,
            bytes_out: i.stats.bytes_xmited,
        }
    }
}

/// What a node answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryReply {
    /// Win32 status (0: the rows are the answer).
    pub status: u32,
    /// By falling seq (newest Stop first).
    pub rows: Vec<HistoryRow>,
    /// Where the node's next page starts (None: this was the last).
    #[serde(default)]
    pub next: Option<u64>,
}

impl StatusReply for HistoryReply {
    fn status(&self) -> u32 {
        self.status
    }
}

/// One node's page, or why there is none.
#[derive(Debug)]
pub struct NodeHistory {
    /// The node id.
    pub node: String,
    /// Its page, or the error.
    pub answer: Result<HistoryReply, FleetError>,
}

/// Asks every node of `nodes` at once for the page of `request` below its
/// place in `cursor`; the answers in `nodes`' order. Nodes the cursor has
/// finished are not asked.
pub async fn history(
    client: &async_nats::Client,
    names: &FleetNames,
    nodes: &[String],
    request: &HistoryRequest,
    cursor: &FleetCursor,
) -> Vec<NodeHistory> {
    let nodes: Vec<String> = nodes.iter().filter(|n| !cursor.is_done(n)).cloned().collect();
    let payload = |node: &str| {
        let request = HistoryRequest {
            before: cursor.before.get(node).copied(),
            ..request.clone()
        };
        serde_json::to_vec(&request).map_err(|e| FleetError::Malformed(e.to_string()))
    };
    ask_all::<HistoryReply>(
        client,
        &nodes,
        |n| names.history_subject(n),
        payload,
        TIMEOUT,
        "history",
    )
    .await
    .into_iter()
    .map(|a| NodeHistory {
        node: a.node,
        answer: a.answer,
    })
    .collect()
}

/// Each node's place in a walk through the fleet's history.
#[derive(Debug, Clone, Default)]
pub struct FleetCursor {
    /// The next page of a node starts below this seq.
    before: BTreeMap<String, u64>,
    /// Nodes with nothing more (or that failed).
    done: BTreeSet<String>,
}

impl FleetCursor {
    /// Whether `node` has nothing more to give.
    pub fn is_done(&self, node: &str) -> bool {
        self.done.contains(node)
    }

    /// Whether every one of `nodes` is done.
    pub fn all_done(&self, nodes: &[String]) -> bool {
        nodes.iter().all(|n| self.is_done(n))
    }

    /// Takes up to `limit` rows from the answers: each node's rows in its
    /// own order, and among the nodes the newest end first; moves each
    /// node's place past what was taken (a node that failed is done).
    /// Taking a prefix of every node's page is what makes the next round
    /// miss nothing and repeat nothing.
    pub fn take<'a>(&mut self, answers: &'a [NodeHistory], limit: usize) -> Vec<(&'a str, &'a HistoryRow)> {
        let mut heads: Vec<(&str, &[HistoryRow], Option<u64>)> = Vec::new();
        for a in answers {
            match &a.answer {
                Ok(reply) => heads.push((a.node.as_str(), reply.rows.as_slice(), reply.next)),
                Err(_) => {
                    self.done.insert(a.node.clone());
                }
            }
        }
        let mut taken_from = vec![0usize; heads.len()];
        let mut out = Vec::new();
        while out.len() < limit {
            let next = (0..heads.len())
                .filter_map(|i| heads[i].1.get(taken_from[i]).map(|row| (i, row)))
                .max_by(|(i, a), (j, b)| a.ended.cmp(&b.ended).then_with(|| heads[*j].0.cmp(heads[*i].0)));
            let Some((i, row)) = next else { break };
            taken_from[i] += 1;
            out.push((heads[i].0, row));
        }
        for (i, (node, rows, next)) in heads.iter().enumerate() {
            let whole = taken_from[i] == rows.len();
            match (whole, next) {
                // A node too old to give seqs has one page only.
                (true, Some(next)) if rows.iter().all(|r| r.seq > 0) => {
                    self.before.insert((*node).to_owned(), *next);
                }
                (true, _) => {
                    self.done.insert((*node).to_owned());
                }
                (false, _) if taken_from[i] > 0 => {
                    self.before.insert((*node).to_owned(), rows[taken_from[i] - 1].seq);
                }
                // Nothing taken: pinned where its first page started, so
                // Stops that came since stay out of this walk.
                (false, _) => {
                    if let Some(first) = rows.first() {
                        self.before
                            .entry((*node).to_owned())
                            .or_insert(first.seq.saturating_add(1));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let ok = br#"{"user":"alice","address":"10.1.2.3","from":5,"to":5,"limit":10}"#;
        let request = HistoryRequest::from_json(ok).unwrap();
        let query = request.query().unwrap();
        assert_eq!(query.user.as_deref(), Some("alice"));
        assert_eq!(query.address, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(HistoryRequest::of(&query, 10), request);
        assert!(HistoryRequest::from_json(br#"{"limit":10,"caller":"x"}"#).is_err());
        assert!(HistoryRequest::from_json(br#"{"limit":-1}"#).is_err());
        assert!(HistoryRequest::from_json(&[b' '; MAX_REQUEST_BYTES + 1]).is_err());
        let bad = HistoryRequest {
            address: Some("10.1.2.300".into()),
            ..Default::default()
        };
        assert!(bad.query().unwrap_err().contains("not an IP address"));
        let bad = HistoryRequest {
            engine: Some("pptp".into()),
            ..Default::default()
        };
        assert!(bad.query().is_err());
        // Found by rras-fuzz: a time past what SystemTime holds panicked.
        let far = HistoryRequest::from_json(br#"{"from":9223372036854775808,"limit":1}"#).unwrap();
        assert!(far.query().unwrap_err().contains("out of range"));
        // An empty user is no filter (not a prefix every user has).
        let empty = HistoryRequest::from_json(br#"{"user":"","limit":1}"#).unwrap();
        assert_eq!(empty.query().unwrap().user, None);
    }

    /// A node's history as `(seq, ended)`, answered a page at a time
    /// like rrasd does (by falling seq, below the cursor).
    fn page_of(node: &str, entries: &[(u64, u64)], request: &HistoryRequest) -> NodeHistory {
        let below = request.before.unwrap_or(u64::MAX);
        let mut rows: Vec<HistoryRow> = entries
            .iter()
            .rev()
            .filter(|(seq, _)| *seq < below)
            .map(|(seq, ended)| HistoryRow {
                seq: *seq,
                ended: *ended,
                ..row(0, node)
            })
            .collect();
        let limit = request.limit as usize;
        let next = (rows.len() > limit).then(|| rows[limit - 1].seq);
        rows.truncate(limit);
        NodeHistory {
            node: node.into(),
            answer: Ok(HistoryReply { status: 0, rows, next }),
        }
    }

    fn row(ended: u64, user: &str) -> HistoryRow {
        HistoryRow {
            seq: 1,
            handle: 1,
            user: user.into(),
            engine: "radius".into(),
            instance: "radius".into(),
            nas: "n".into(),
            ipv4: None,
            ipv6: None,
            started: 0,
            ended,
            reason: "user-request".into(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    #[test]
    fn paging_across_nodes_returns_each_entry_once_while_stops_arrive() {
        // Two nodes whose Stops interleave in time, one whose seq order is
        // not its end order (a late Stop), and one that fails.
        let mut a: Vec<(u64, u64)> = (1..=20).map(|s| (s, 100 + 10 * s)).collect();
        let mut b: Vec<(u64, u64)> = (1..=13).map(|s| (s, 105 + 15 * s)).collect();
        b[6].1 = 50;
        let mut seen: Vec<(String, u64)> = Vec::new();
        let mut cursor = FleetCursor::default();
        let request = HistoryRequest {
            limit: 4,
            ..Default::default()
        };
        let nodes = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        for round in 0..100 {
            if cursor.all_done(&nodes) {
                break;
            }
            let ask = |node: &str| HistoryRequest {
                before: cursor.before.get(node).copied(),
                ..request.clone()
            };
            let mut answers = Vec::new();
            for node in &nodes {
                if cursor.is_done(node) {
                    continue;
                }
                answers.push(match node.as_str() {
                    "a" => page_of("a", &a, &ask("a")),
                    "b" => page_of("b", &b, &ask("b")),
                    _ => NodeHistory {
                        node: "c".into(),
                        answer: Err(FleetError::Malformed("down".into())),
                    },
                });
            }
            let taken = cursor.take(&answers, 4);
            assert!(taken.len() <= 4);
            if round == 0 {
                // The newest end first across the nodes.
                let ends: Vec<u64> = taken.iter().map(|(_, r)| r.ended).collect();
                assert_eq!(ends, [300, 300, 290, 285]);
            }
            seen.extend(taken.iter().map(|(n, r)| ((*n).to_owned(), r.seq)));
            // New Stops on both nodes between pages: above every cursor.
            a.push((a.len() as u64 + 1, 1_000 + round));
            b.push((b.len() as u64 + 1, 1_000 + round));
        }
        assert!(cursor.is_done("c"));
        let mut want: Vec<(String, u64)> = (1..=20)
            .map(|s| ("a".to_owned(), s))
            .chain((1..=13).map(|s| ("b".to_owned(), s)))
            .collect();
        want.sort();
        let mut got = seen.clone();
        got.sort();
        assert_eq!(got, want, "each entry there from the start, exactly once");
    }
}
