//! `RadiusAccountingSource`: RFC 2866 accounting from any NAS.
//!
//! Flow of one datagram: receive → known client? → decode → authenticator
//! check → retransmission cache → shard by session → interpret → manager
//! (table + durable commit) → Accounting-Response. A packet from an unknown
//! address or with a wrong authenticator is dropped, counted and logged at
//! most once per source per minute, never answered. A request is answered
//! only after its change is durable, so a NAS that got a response will find
//! the event after `kill -9`; one that did not will retransmit.
//!
//! Packets of one session go through one shard in arrival order (Start
//! before Stop), different sessions run concurrently, and the journal
//! commits them in groups.

pub mod accounting;
pub mod config;
mod disconnect;
pub mod packet;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use rras_core::{EngineKind, SourceKey};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use self::accounting::{interpret, AccountingEvent};
pub use self::config::{RadiusClient, RadiusConfig};
use self::packet::{request_authenticator_ok, Packet, ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE, MAX_LEN};
use crate::manager::{ConnectionManager, ReportEvent};
use crate::metrics::Metrics;
use crate::server::DaemonError;

const SHARDS: usize = 64;
const SHARD_QUEUE: usize = 1024;
/// How long a request's response is kept for retransmissions.
const RETRANSMIT_WINDOW: Duration = Duration::from_secs(120);
const CACHE_MAX: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RequestId {
    peer: SocketAddr,
    identifier: u8,
    authenticator: [u8; 16],
}

#[derive(Debug)]
enum Answer {
    /// Being applied; a retransmission now is dropped (the answer will come).
    InFlight,
    /// Applied and durable; a retransmission gets these bytes again.
    Done(Arc<Vec<u8>>),
}

#[derive(Debug)]
struct Job {
    request: RequestId,
    packet: Packet,
    secret: Arc<[u8]>,
}

/// State shared by the receive loop, the shards and the stale sweep.
#[derive(Debug)]
struct Shared {
    config: RadiusConfig,
    manager: Arc<ConnectionManager>,
    metrics: Arc<Metrics>,
    socket: UdpSocket,
    answers: Mutex<HashMap<RequestId, (Answer, Instant)>>,
    last_seen: Mutex<HashMap<SourceKey, (Instant, Duration)>>,
    last_logged: Mutex<HashMap<IpAddr, Instant>>,
}

/// Binds the listener and starts the receive loop, the shards and the
/// stale sweep.
pub async fn start(
    config: &RadiusConfig,
    manager: Arc<ConnectionManager>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, DaemonError> {
    let Some(addr) = config.listen else {
        return Ok(Vec::new());
    };
    let socket = UdpSocket::bind(addr).await.map_err(|source| DaemonError::Bind {
        what: format!("radius accounting {addr}"),
        source,
    })?;
    tracing::info!(%addr, clients = config.clients.len(), "RADIUS accounting listening");
    manager.register_disconnector(
        EngineKind::Radius,
        Arc::new(disconnect::RadiusDisconnector::new(config.clone())),
    );
    let shared = Arc::new(Shared {
        config: config.clone(),
        manager,
        metrics,
        socket,
        answers: Mutex::new(HashMap::new()),
        last_seen: Mutex::new(HashMap::new()),
        last_logged: Mutex::new(HashMap::new()),
    });
    shared.seed_last_seen();

    let mut tasks = Vec::new();
    let mut shards = Vec::with_capacity(SHARDS);
    for _ in 0..SHARDS {
        let (tx, rx) = mpsc::channel(SHARD_QUEUE);
        shards.push(tx);
        tasks.push(tokio::spawn(shard_loop(shared.clone(), rx)));
    }
    tasks.push(tokio::spawn(receive_loop(shared.clone(), shards, stop)));
    if config.stale_check {
        tasks.push(tokio::spawn(stale_sweep(shared)));
    }
    Ok(tasks)
}

impl Shared {
    /// Sessions reloaded from the store get a fresh deadline: the NAS has a
    /// full stale period to send its next update.
    fn seed_last_seen(&self) {
        let default = Duration::from_secs(self.config.default_interim_secs);
        let now = Instant::now();
        let mut seen = self.last_seen.lock();
        for c in self
            .manager
            .table()
            .select(|c| c.info.source.engine == EngineKind::Radius)
        {
            seen.insert(c.info.source.clone(), (now, default));
        }
    }

    fn drop_packet(&self, peer: SocketAddr, reason: &'static str, detail: &dyn std::fmt::Display) {
        self.metrics.radius_dropped(reason);
        let now = Instant::now();
        let mut logged = self.last_logged.lock();
        if logged.len() > 10_000 {
            logged.retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
        }
        let due = logged
            .get(&peer.ip())
            .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(60));
        if due {
            logged.insert(peer.ip(), now);
            tracing::warn!(%peer, reason, "RADIUS packet dropped: {detail} (further drops from this source are not logged for a minute)");
        }
    }

    /// Registers a request; returns what to do with it.
    fn check_retransmission(&self, request: &RequestId) -> Option<Option<Arc<Vec<u8>>>> {
        let now = Instant::now();
        let mut answers = self.answers.lock();
        if answers.len() >= CACHE_MAX {
            answers.retain(|_, (a, t)| matches!(a, Answer::InFlight) || now.duration_since(*t) < RETRANSMIT_WINDOW);
            if answers.len() >= CACHE_MAX {
                answers.retain(|_, (a, _)| matches!(a, Answer::InFlight));
            }
        }
        match answers.get(request) {
            Some((Answer::Done(bytes), t)) if now.duration_since(*t) < RETRANSMIT_WINDOW => Some(Some(bytes.clone())),
            Some((Answer::InFlight, _)) => Some(None),
            _ => {
                answers.insert(request.clone(), (Answer::InFlight, now));
                None
            }
        }
    }
}

async fn receive_loop(shared: Arc<Shared>, shards: Vec<mpsc::Sender<Job>>, mut stop: watch::Receiver<bool>) {
    // One byte more than the largest legal packet tells "too big" apart.
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = tokio::select! {
            r = shared.socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("RADIUS receive failed: {e}");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let datagram = &buf[..n];
        let Some(secret) = shared.config.secret_for(peer.ip()).map(Arc::<[u8]>::from) else {
            shared.drop_packet(
                peer,
                "unknown-client",
                &"source address is not a configured RADIUS client",
            );
            continue;
        };
        if n > MAX_LEN {
            shared.drop_packet(peer, "oversize", &format!("{n}-byte datagram"));
            continue;
        }
        let packet = match Packet::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                shared.drop_packet(peer, "malformed", &e);
                continue;
            }
        };
        if packet.code != ACCOUNTING_REQUEST {
            shared.drop_packet(peer, "unexpected-code", &format!("code {}", packet.code));
            continue;
        }
        if !request_authenticator_ok(datagram, &secret) {
            shared.drop_packet(
                peer,
                "bad-authenticator",
                &"Request Authenticator does not match the shared secret",
            );
            continue;
        }
        let request = RequestId {
            peer,
            identifier: packet.identifier,
            authenticator: packet.authenticator,
        };
        match shared.check_retransmission(&request) {
            Some(Some(answer)) => {
                let _ = shared.socket.send_to(&answer, peer).await;
                continue;
            }
            Some(None) => continue,
            None => {}
        }
        let mut h = DefaultHasher::new();
        accounting::nas_identity(&packet, peer.ip()).hash(&mut h);
        packet.attr(44).hash(&mut h);
        let shard = &shards[(h.finish() % SHARDS as u64) as usize];
        let job = Job {
            request,
            packet,
            secret,
        };
        if let Err(mpsc::error::TrySendError::Full(job)) = shard.try_send(job) {
            // Back-pressure: the NAS will retransmit; forget it was seen.
            shared.answers.lock().remove(&job.request);
            shared.metrics.radius_dropped("overload");
        }
    }
}

async fn shard_loop(shared: Arc<Shared>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let durable = handle_request(&shared, &job).await;
        if !durable {
            shared.answers.lock().remove(&job.request);
            continue;
        }
        let response = Packet {
            code: ACCOUNTING_RESPONSE,
            identifier: job.packet.identifier,
            authenticator: [0; 16],
            attributes: Vec::new(),
        }
        .encode_response(&job.packet.authenticator, &job.secret);
        let response = Arc::new(response);
        shared
            .answers
            .lock()
            .insert(job.request.clone(), (Answer::Done(response.clone()), Instant::now()));
        shared.metrics.radius_accepted();
        if let Err(e) = shared.socket.send_to(&response, job.request.peer).await {
            tracing::warn!(peer = %job.request.peer, "cannot send Accounting-Response: {e}");
        }
    }
}

/// Applies one request; true when it is durable (and may be answered).
async fn handle_request(shared: &Shared, job: &Job) -> bool {
    let accounting = match interpret(&job.packet, job.request.peer.ip(), SystemTime::now()) {
        Ok(a) => a,
        Err(e) => {
            // Well-formed and authentic but unusable: answering would tell
            // the NAS we recorded it, so we drop it like RFC 2866 says.
            shared.drop_packet(job.request.peer, "unusable", &e);
            return false;
        }
    };
    let interval = accounting
        .interim_interval
        .unwrap_or(Duration::from_secs(shared.config.default_interim_secs));
    let events = match accounting.event {
        AccountingEvent::Start(info) | AccountingEvent::Interim(info) => {
            shared
                .last_seen
                .lock()
                .insert(info.source.clone(), (Instant::now(), interval));
            vec![ReportEvent::Started(info)]
        }
        AccountingEvent::Stop { info, reason } => {
            shared.last_seen.lock().remove(&info.source);
            vec![ReportEvent::Ended {
                key: info.source.clone(),
                reason,
                stats: Some(info.stats),
            }]
        }
        AccountingEvent::NasRestart { nas, reason } => {
            let ended = shared
                .manager
                .table()
                .select(|c| c.info.source.engine == EngineKind::Radius && c.info.source.nas == nas);
            tracing::info!(%nas, sessions = ended.len(), reason, "NAS restarted: ending its sessions");
            let mut seen = shared.last_seen.lock();
            ended
                .iter()
                .map(|c| {
                    seen.remove(&c.info.source);
                    ReportEvent::Ended {
                        key: c.info.source.clone(),
                        reason: reason.into(),
                        stats: None,
                    }
                })
                .collect()
        }
        AccountingEvent::Ignored(status) => {
            tracing::debug!(status, "Acct-Status-Type not tracked; acknowledged");
            Vec::new()
        }
    };
    match shared.manager.apply(events).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(peer = %job.request.peer, "accounting not recorded, not acknowledged: {e}");
            false
        }
    }
}

/// Ends sessions whose NAS has been silent for `stale_after_intervals`
/// interim intervals.
async fn stale_sweep(shared: Arc<Shared>) {
    let period = Duration::from_secs(shared.config.default_interim_secs.clamp(2, 60) / 2);
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let factor = shared.config.stale_after_intervals;
        let now = Instant::now();
        let stale: Vec<SourceKey> = {
            let mut seen = shared.last_seen.lock();
            let stale: Vec<_> = seen
                .iter()
                .filter(|(_, (t, interval))| now.duration_since(*t) > *interval * factor)
                .map(|(k, _)| k.clone())
                .collect();
            for k in &stale {
                seen.remove(k);
            }
            stale
        };
        if stale.is_empty() {
            continue;
        }
        tracing::info!(
            sessions = stale.len(),
            "ending RADIUS sessions with no update (lost-carrier/stale)"
        );
        let events = stale
            .into_iter()
            .map(|key| ReportEvent::Ended {
                key,
                reason: "lost-carrier/stale".into(),
                stats: None,
            })
            .collect();
        if let Err(e) = shared.manager.apply(events).await {
            tracing::error!("stale sweep not recorded: {e}");
        }
    }
}
