//! `RadiusLoad`: an accounting load generator — N UDP sockets, each with W
//! requests outstanding, retransmitting on timeout like a NAS does, and
//! timing every request from its first send to its response.
//!
//! Aimed at rrasd or at FreeRADIUS alike (same packets, same window), so
//! "durable acks per second" compares like with like.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rrasd::sources::radius::attributes::*;
use rrasd::sources::radius::packet::{response_authenticator_ok, Packet, ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE};
use tokio::net::UdpSocket;

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mix {
    /// One Start per session (sessions first..first+count).
    Starts,
    /// Interim-Updates over sessions first..first+count, cycling, at most
    /// `rate` per second in total (a steady update load).
    Interims { rate: u32 },
    /// Session churn over live sessions first..first+count, `requests` in
    /// all: for each session in turn an Interim-Update, its Stop, and the
    /// Start of its successor (session + count, then + 2·count …), so the
    /// live count stays `count` and every kind of request is a third (each
    /// socket sends whole triples: `requests` is rounded down to them).
    Churn { requests: u64 },
}

/// The `next`-th request of a socket whose sessions are `mine`:
/// (session, Acct-Status-Type).
fn nth_request(mix: Mix, mine: &[u64], count: u64, next: usize) -> (u64, u32) {
    let len = mine.len().max(1);
    match mix {
        Mix::Starts => (mine[next % len], 1),
        Mix::Interims { .. } => (mine[next % len], 3),
        Mix::Churn { .. } => {
            let round = (next / (3 * len)) as u64;
            let current = mine[(next / 3) % len] + round * count;
            match next % 3 {
                0 => (current, 3),
                1 => (current, 2),
                _ => (current + count, 1),
            }
        }
    }
}

/// A load run's shape.
#[derive(Debug, Clone)]
pub(crate) struct LoadSpec {
    pub(crate) target: SocketAddr,
    pub(crate) secret: Vec<u8>,
    pub(crate) sockets: usize,
    pub(crate) window: usize,
    pub(crate) first: u64,
    pub(crate) count: u64,
    pub(crate) mix: Mix,
    /// A request unanswered this long is sent again (same bytes).
    pub(crate) retransmit_after: Duration,
    /// The run stops by itself after this long, done or not.
    pub(crate) time_cap: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadResult {
    pub(crate) sent: u64,
    pub(crate) acked: u64,
    pub(crate) retransmissions: u64,
    pub(crate) elapsed: Duration,
    /// Microseconds from first send to response, sorted.
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) timed_out: bool,
}

impl LoadResult {
    pub(crate) fn acks_per_sec(&self) -> f64 {
        self.acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The p-th percentile latency in milliseconds.
    pub(crate) fn latency_ms(&self, p: f64) -> f64 {
        percentile(&self.latencies_us, p) as f64 / 1000.0
    }

    fn merge(&mut self, other: LoadResult) {
        self.sent += other.sent;
        self.acked += other.acked;
        self.retransmissions += other.retransmissions;
        self.latencies_us.extend(other.latencies_us);
        self.timed_out |= other.timed_out;
    }
}

/// The p-th percentile of sorted values (0 for none).
pub(crate) fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The attributes of session `i`: realistic sizes (user@realm, a 16-hex
/// session id, NAS, addresses, tunnel type), every session different.
pub(crate) fn session_packet(i: u64, status: u32, identifier: u8, seq: u64) -> Packet {
    let user = format!("user{i:07}@corp.example");
    let session = format!("{i:016x}");
    let nas_ip = Ipv4Addr::new(127, 0, 0, 1 + (i % 4) as u8);
    let framed = Ipv4Addr::from(0x0a00_0000u32 | (i as u32 & 0x00ff_ffff));
    let calling = format!("198.51.{}.{}", (i >> 8) % 256, i % 256);
    let mut attributes = vec![
        (ACCT_STATUS_TYPE, status.to_be_bytes().to_vec()),
        (USER_NAME, user.into_bytes()),
        (ACCT_SESSION_ID, session.into_bytes()),
        (NAS_IP_ADDRESS, nas_ip.octets().to_vec()),
        (NAS_PORT, ((i % 4096) as u32).to_be_bytes().to_vec()),
        (NAS_PORT_TYPE, PORT_VIRTUAL.to_be_bytes().to_vec()),
        (FRAMED_IP_ADDRESS, framed.octets().to_vec()),
        (CALLING_STATION_ID, calling.into_bytes()),
        (TUNNEL_TYPE, TUNNEL_L2TP.to_be_bytes().to_vec()), // tag 0
        (ACCT_INTERIM_INTERVAL, 600u32.to_be_bytes().to_vec()),
    ];
    if status == STATUS_INTERIM || status == STATUS_STOP {
        // Counters that grow with every update make every interim a new
        // request (never a duplicate the server answers from its cache).
        attributes.push((
            ACCT_INPUT_OCTETS,
            (seq as u32).wrapping_mul(1500).to_be_bytes().to_vec(),
        ));
        attributes.push((
            ACCT_OUTPUT_OCTETS,
            (seq as u32).wrapping_mul(9000).to_be_bytes().to_vec(),
        ));
        attributes.push((ACCT_SESSION_TIME, 60u32.to_be_bytes().to_vec()));
    }
    Packet {
        code: ACCOUNTING_REQUEST,
        identifier,
        authenticator: [0; 16],
        attributes,
    }
}

struct InFlight {
    bytes: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
}

/// Runs the load; every socket works through its share of the sessions.
pub(crate) async fn run(spec: &LoadSpec) -> anyhow::Result<LoadResult> {
    let started = Instant::now();
    let deadline = started + spec.time_cap;
    let spec = Arc::new(spec.clone());
    let mut tasks = Vec::new();
    for k in 0..spec.sockets {
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move { socket_loop(&spec, k, deadline).await }));
    }
    let mut total = LoadResult::default();
    for t in tasks {
        total.merge(t.await??);
    }
    total.elapsed = started.elapsed();
    total.latencies_us.sort_unstable();
    Ok(total)
}

async fn socket_loop(spec: &LoadSpec, k: usize, deadline: Instant) -> anyhow::Result<LoadResult> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    socket.connect(spec.target).await?;
    let mut result = LoadResult::default();
    // This socket's sessions: first + k, first + k + sockets, ...
    let mine: Vec<u64> = (0..spec.count)
        .filter(|i| (*i as usize) % spec.sockets == k)
        .map(|i| spec.first + i)
        .collect();
    let rate_per_socket = match spec.mix {
        Mix::Interims { rate } => Some((f64::from(rate) / spec.sockets as f64).max(0.001)),
        Mix::Starts | Mix::Churn { .. } => None,
    };
    // This socket's share of a churn run's requests, in whole triples (a
    // Stop without its successor's Start would shrink the live count).
    let churn_share = match spec.mix {
        Mix::Churn { requests } => (requests / spec.sockets as u64 / 3 * 3) as usize,
        _ => 0,
    };
    let window = spec.window.clamp(1, 255);
    let mut in_flight: HashMap<u8, InFlight> = HashMap::new();
    let mut free_ids: Vec<u8> = (0..window as u8).collect();
    let mut next = 0usize;
    let mut buf = vec![0u8; 4096];
    let paced_start = Instant::now();
    loop {
        if Instant::now() >= deadline {
            result.timed_out = true;
            break;
        }
        // Fill the window (paced when a rate is set; interims cycle forever
        // until the deadline, starts end with the list).
        while let Some(&id) = free_ids.last() {
            let more = match spec.mix {
                Mix::Starts => next < mine.len(),
                Mix::Interims { .. } => !mine.is_empty(),
                Mix::Churn { .. } => !mine.is_empty() && next < churn_share,
            };
            if !more {
                break;
            }
            if let Some(rate) = rate_per_socket {
                // Past the clock's range is "not yet": the deadline ends the run.
                let due = Duration::try_from_secs_f64(result.sent as f64 / rate)
                    .ok()
                    .and_then(|d| paced_start.checked_add(d));
                if due.is_none_or(|due| Instant::now() < due) {
                    break;
                }
            }
            free_ids.pop();
            let (session, status) = nth_request(spec.mix, &mine, spec.count, next);
            next += 1;
            let bytes = session_packet(session, status, id, result.sent).encode_request(&spec.secret);
            socket.send(&bytes).await?;
            let now = Instant::now();
            result.sent += 1;
            in_flight.insert(
                id,
                InFlight {
                    bytes,
                    first_sent: now,
                    last_sent: now,
                },
            );
        }
        if in_flight.is_empty() {
            let done = match spec.mix {
                Mix::Starts => next >= mine.len(),
                Mix::Churn { .. } => next >= churn_share,
                Mix::Interims { .. } => false,
            };
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        match tokio::time::timeout(Duration::from_millis(20), socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let Some(reply) = buf.get(..n) else { continue };
                // Only the answer to this very request counts: a late answer
                // to an earlier request that used the same identifier has a
                // different authenticator and is ignored.
                let matches = reply.len() >= 20
                    && reply[0] == ACCOUNTING_RESPONSE
                    && in_flight.get(&reply[1]).is_some_and(|f| {
                        let mut request_auth = [0u8; 16];
                        request_auth.copy_from_slice(&f.bytes[4..20]);
                        response_authenticator_ok(reply, &request_auth, &spec.secret)
                    });
                if matches {
                    if let Some(f) = in_flight.remove(&reply[1]) {
                        result.acked += 1;
                        let us = f.first_sent.elapsed().as_micros();
                        result.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                        free_ids.push(reply[1]);
                    }
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {}
        }
        // Retransmit what waited too long (same bytes: same identifier and
        // authenticator, so the server recognises a duplicate).
        let now = Instant::now();
        for f in in_flight.values_mut() {
            if now.duration_since(f.last_sent) >= spec.retransmit_after {
                socket.send(&f.bytes).await?;
                f.last_sent = now;
                result.retransmissions += 1;
            }
        }
    }
    Ok(result)
}
