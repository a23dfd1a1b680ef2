//! The accounting history across the fleet: each node answers for its own
//! history over NATS request/reply (`<prefix>.<node>.history`), and the
//! asker merges the answers, newest end first.
//!
//! A node is asked only about what it kept; the answer is at most
//! [`MAX_ROWS`] rows. Requests are read as hostile input — anyone NATS
//! lets publish on the subject could have sent one: a size cap, unknown
//! fields refused, the filters parsed strictly. Who may ask is NATS's
//! business (docs/fleet.md: readers publish on `<prefix>.*.history`, a
//! node reads only its own subject).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::{EndedConnection, HistoryQuery, Win32Error};
use serde::{Deserialize, Serialize};

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
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl HistoryRequest {
    /// The request for `query`'s first `limit` rows.
    pub fn of(query: &HistoryQuery, limit: u32) -> Self {
        HistoryRequest {
            user: query.user.clone(),
            address: query.address.map(|a| a.to_string()),
            from: query.from.map(secs),
            to: query.to.map(secs),
            nas: query.nas.clone(),
            engine: query.engine.map(|e| e.as_str().to_owned()),
            instance: query.instance.clone(),
            limit,
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
        let time = |s: Option<u64>| match s {
            None => Ok(None),
            Some(s) => rras_core::engine_time::from_unix(s, 0)
                .map(Some)
                .ok_or_else(|| format!("time {s} is out of range")),
        };
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
    /// The row of an ended connection.
    pub fn of(e: &EndedConnection) -> Self {
        let i = &e.connection.info;
        HistoryRow {
            handle: e.connection.handle.get(),
            user: i.account(),
            engine: i.source.engine.as_str().to_owned(),
            instance: i.source.instance_name().to_owned(),
            nas: i.source.nas.clone(),
            ipv4: i.projection.ipv4().remote_address,
            ipv6: i.projection.ipv6().remote_address(),
            started: secs(i.started_at),
            ended: secs(e.ended_at),
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
    /// Newest end first.
    pub rows: Vec<HistoryRow>,
}

/// One node's answer, or why there is none.
#[derive(Debug)]
pub struct NodeHistory {
    /// The node id.
    pub node: String,
    /// Its rows, or the error.
    pub answer: Result<Vec<HistoryRow>, FleetError>,
}

/// Asks every node of `nodes` at once; the answers in `nodes`' order.
pub async fn history(
    client: &async_nats::Client,
    names: &FleetNames,
    nodes: &[String],
    request: &HistoryRequest,
) -> Vec<NodeHistory> {
    let payload = match serde_json::to_vec(request) {
        Ok(p) => p,
        Err(e) => {
            return nodes
                .iter()
                .map(|n| NodeHistory {
                    node: n.clone(),
                    answer: Err(FleetError::Malformed(e.to_string())),
                })
                .collect()
        }
    };
    let asks = nodes.iter().map(|node| {
        let subject = names.history_subject(node);
        let request = async_nats::Request::new()
            .payload(payload.clone().into())
            .timeout(Some(TIMEOUT));
        async move {
            let answer = match client.send_request(subject, request).await {
                Err(e) => Err(FleetError::NoAnswer {
                    node: node.clone(),
                    message: match e.kind() {
                        async_nats::RequestErrorKind::NoResponders => "no responders (node down or not on NATS)".into(),
                        async_nats::RequestErrorKind::TimedOut => {
                            "timed out (node busy, or this NATS user may not ask for history)".into()
                        }
                        _ => e.to_string(),
                    },
                }),
                Ok(message) => match serde_json::from_slice::<HistoryReply>(&message.payload) {
                    Err(e) => Err(FleetError::Malformed(format!("history from {node}: {e}"))),
                    Ok(reply) if reply.status == 0 => Ok(reply.rows),
                    Ok(reply) => Err(FleetError::Refused {
                        node: node.clone(),
                        error: Win32Error::from_code(reply.status).unwrap_or(Win32Error::RpcCallFailed),
                    }),
                },
            };
            NodeHistory {
                node: node.clone(),
                answer,
            }
        }
    });
    futures_util::future::join_all(asks).await
}

/// The answers' rows in one list, newest end first, at most `limit`,
/// each with its node.
pub fn merge(answers: &[NodeHistory], limit: usize) -> Vec<(&str, &HistoryRow)> {
    let mut rows: Vec<(&str, &HistoryRow)> = answers
        .iter()
        .filter_map(|a| a.answer.as_ref().ok().map(|rows| (a.node.as_str(), rows)))
        .flat_map(|(node, rows)| rows.iter().map(move |r| (node, r)))
        .collect();
    rows.sort_by(|a, b| b.1.ended.cmp(&a.1.ended).then_with(|| a.0.cmp(b.0)));
    rows.truncate(limit);
    rows
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

    #[test]
    fn answers_merge_newest_end_first() {
        let row = |ended, user: &str| HistoryRow {
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
        };
        let answers = vec![
            NodeHistory {
                node: "a".into(),
                answer: Ok(vec![row(30, "x"), row(10, "y")]),
            },
            NodeHistory {
                node: "b".into(),
                answer: Ok(vec![row(20, "z")]),
            },
            NodeHistory {
                node: "c".into(),
                answer: Err(FleetError::Malformed("down".into())),
            },
        ];
        let merged: Vec<(&str, u64)> = merge(&answers, 2).into_iter().map(|(n, r)| (n, r.ended)).collect();
        assert_eq!(merged, [("a", 30), ("b", 20)]);
    }
}
