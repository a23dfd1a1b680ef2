//! `RadiusLoad`: an accounting load generator — N UDP sockets, each with W
//! requests outstanding, retransmitting on timeout like a NAS does, and
//! timing every request from its first send to its response.
//!
//! Aimed at rrasd or at FreeRADIUS alike (same packets, same window), so
//! "durable acks per second" compares like with like.
//!
//! A request's latency ends when its answer reaches the generator's socket
//! (the kernel's receive timestamp, SO_TIMESTAMPNS), not when the
//! generator gets round to reading it: the generator shares two cores with
//! the server, and 32 socket tasks on two threads leave answers waiting in
//! their sockets for as long as the other tasks run. A NAS on its own
//! machine reads its answer at once. What the generator itself saw is kept
//! beside it ([`LoadResult::seen_latencies_us`]).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rras_sources::radius::attributes::*;
use rras_sources::radius::packet::{response_authenticator_ok, Packet, ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE};
use tokio::net::UdpSocket;

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mix {
    /// One Start per session (sessions first..first+count).
    Starts,
    /// The same Starts at most `rate` per second in total.
    PacedStarts { rate: u32 },
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
        Mix::Starts | Mix::PacedStarts { .. } => (mine[next % len], 1),
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
    /// Microseconds from first send to the response's arrival in the
    /// socket (kernel timestamp), sorted.
    pub(crate) latencies_us: Vec<u32>,
    /// Microseconds from first send to the generator reading the response,
    /// sorted: the above plus the generator's own queueing.
    pub(crate) seen_latencies_us: Vec<u32>,
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

    /// The p-th percentile of the latency the generator saw, in milliseconds.
    pub(crate) fn seen_latency_ms(&self, p: f64) -> f64 {
        percentile(&self.seen_latencies_us, p) as f64 / 1000.0
    }

    fn merge(&mut self, other: LoadResult) {
        self.sent += other.sent;
        self.acked += other.acked;
        self.retransmissions += other.retransmissions;
        self.latencies_us.extend(other.latencies_us);
        self.seen_latencies_us.extend(other.seen_latencies_us);
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
    /// The same moment on the clock the kernel stamps received datagrams with.
    first_sent_wall: SystemTime,
    last_sent: Instant,
}

/// Receives one datagram with the kernel's receive timestamp (None if the
/// kernel gave none).
fn recv_stamped(socket: &UdpSocket, buf: &mut [u8]) -> std::io::Result<(usize, Option<SystemTime>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_DONTWAIT)
        .map_err(std::io::Error::from)?;
    let stamp = msg.cmsgs().ok().and_then(|mut cmsgs| {
        cmsgs.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => {
                let since_epoch = Duration::new(u64::try_from(ts.tv_sec()).ok()?, u32::try_from(ts.tv_nsec()).ok()?);
                SystemTime::UNIX_EPOCH.checked_add(since_epoch)
            }
            _ => None,
        })
    });
    Ok((msg.bytes, stamp))
}

/// How often a socket looks for requests to retransmit.
const RETRANSMIT_SCAN: Duration = Duration::from_millis(10);

/// Records the answer `reply` (received at `stamp`, by the kernel's clock)
/// if it answers a request in flight. Only the answer to that very request
/// counts: a late answer to an earlier request that used the same
/// identifier has a different authenticator and is ignored.
fn settle(
    reply: &[u8],
    stamp: Option<SystemTime>,
    secret: &[u8],
    in_flight: &mut HashMap<u8, InFlight>,
    free_ids: &mut Vec<u8>,
    result: &mut LoadResult,
) {
    let matches = reply.len() >= 20
        && reply[0] == ACCOUNTING_RESPONSE
        && in_flight.get(&reply[1]).is_some_and(|f| {
            let mut request_auth = [0u8; 16];
            request_auth.copy_from_slice(&f.bytes[4..20]);
            response_authenticator_ok(reply, &request_auth, secret)
        });
    if !matches {
        return;
    }
    if let Some(f) = in_flight.remove(&reply[1]) {
        result.acked += 1;
        let seen = f.first_sent.elapsed();
        // A clock step between send and receive makes the stamp
        // meaningless: then what the generator saw.
        let arrived = stamp
            .and_then(|at| at.duration_since(f.first_sent_wall).ok())
            .filter(|d| *d <= seen)
            .unwrap_or(seen);
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        result.latencies_us.push(us(arrived));
        result.seen_latencies_us.push(us(seen));
        free_ids.push(reply[1]);
    }
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
    total.seen_latencies_us.sort_unstable();
    Ok(total)
}

async fn socket_loop(spec: &LoadSpec, k: usize, deadline: Instant) -> anyhow::Result<LoadResult> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    socket.connect(spec.target).await?;
    nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
    let mut result = LoadResult::default();
    // This socket's sessions: first + k, first + k + sockets, ...
    let mine: Vec<u64> = (0..spec.count)
        .filter(|i| (*i as usize) % spec.sockets == k)
        .map(|i| spec.first + i)
        .collect();
    let rate_per_socket = match spec.mix {
        Mix::Interims { rate } | Mix::PacedStarts { rate } => Some((f64::from(rate) / spec.sockets as f64).max(0.001)),
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
    let mut last_scan = paced_start;
    loop {
        if Instant::now() >= deadline {
            result.timed_out = true;
            break;
        }
        // Fill the window (paced when a rate is set; interims cycle forever
        // until the deadline, starts end with the list).
        while let Some(&id) = free_ids.last() {
            let more = match spec.mix {
                Mix::Starts | Mix::PacedStarts { .. } => next < mine.len(),
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
                    first_sent_wall: SystemTime::now(),
                    last_sent: now,
                },
            );
        }
        if in_flight.is_empty() {
            let done = match spec.mix {
                Mix::Starts | Mix::PacedStarts { .. } => next >= mine.len(),
                Mix::Churn { .. } => next >= churn_share,
                Mix::Interims { .. } => false,
            };
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        // Wait for one answer, then take every answer already queued
        // before sending more: one wake-up per burst, not per answer.
        let received = socket.async_io(tokio::io::Interest::READABLE, || recv_stamped(&socket, &mut buf));
        match tokio::time::timeout(Duration::from_millis(20), received).await {
            Ok(Ok((n, stamp))) => {
                let mut answer = Some((n, stamp));
                while let Some((n, stamp)) = answer {
                    if let Some(reply) = buf.get(..n) {
                        settle(reply, stamp, &spec.secret, &mut in_flight, &mut free_ids, &mut result);
                    }
                    answer = match socket.try_io(tokio::io::Interest::READABLE, || recv_stamped(&socket, &mut buf)) {
                        Ok(next) => Some(next),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                        Err(e) => return Err(e.into()),
                    };
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {}
        }
        // Retransmit what waited too long (same bytes: same identifier and
        // authenticator, so the server recognises a duplicate). Looked at
        // every few milliseconds, not after every answer: the timeout is a
        // second or more.
        let now = Instant::now();
        if now.duration_since(last_scan) < RETRANSMIT_SCAN {
            continue;
        }
        last_scan = now;
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
