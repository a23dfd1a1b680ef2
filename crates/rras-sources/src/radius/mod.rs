//! `RadiusAccountingSource`: RFC 2866 accounting from any NAS.
//!
//! Flow of one datagram: receive → known client? → decode → authenticator
//! check → retransmission cache → does the client own the NAS it names?
//! (`scope.rs`) → interpret → merge with the known row → manager stages it
//! (table changed, change queued for the journal) → after the group
//! commit's fsync, Accounting-Response. A packet from an unknown address,
//! with a wrong authenticator or naming another client's NAS is dropped,
//! counted by reason and summarised in the log (`drop_log.rs`: at most one
//! line per reason per 10 s, O(1) per drop), never answered. A request is answered only after its change is
//! durable, so a NAS that got a response will find the event after
//! `kill -9`; one that did not will retransmit.
//!
//! One loop drains the socket in batches and stages every request in
//! arrival order (a session's Start before its Stop); the batch's answers
//! wait for durability in one task while the loop goes on reading, so
//! everything that arrives during one fsync shares the next.

pub mod accounting;
pub mod attributes;
pub mod config;
mod disconnect;
pub mod drop_log;
pub mod nas;
pub mod packet;
pub mod radsec;
mod receive;
mod reply;
pub mod scope;

use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use rras_core::{ConnectionHandle, EngineKind, SourceId, StaggeredMap};
use rras_source::health::SourceHealth;
use rras_source::supervise::supervise;
use tokio::net::UdpSocket;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use self::accounting::{interpret, merge_counters, merge_update, nas_claim, AccountingEvent};
pub use self::config::{RadiusClient, RadiusConfig};
use self::drop_log::DropLog;
use self::packet::{
    accounting_response, message_authenticator_ok, request_authenticator_ok, PacketView, ACCOUNTING_REQUEST, MAX_LEN,
    STATUS_SERVER,
};
use self::receive::DatagramBatch;
use self::scope::NasClaim;
use rras_source::{Sink, SourceError, SourceEvent, Staged};

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
    Done(Response),
}

/// An Accounting-Response (one size: it carries no attributes).
type Response = [u8; packet::MIN_LEN];

/// A request that passed the checks; what answering it needs.
#[derive(Debug)]
struct Job {
    request: RequestId,
    /// Index of the sending client in the configuration.
    client: usize,
}

/// When each RADIUS session was last heard of, keyed by handle (4 bytes,
/// not a copy of the session's key: this map has a slot per live session).
/// Times are whole seconds since the source started. A [`StaggeredMap`]:
/// answering a batch must not wait while a million slots move into fresh
/// memory (a plain map's growth at 917k sessions was a 48 ms pause).
#[derive(Debug)]
struct LastSeen {
    epoch: Instant,
    by_handle: StaggeredMap<ConnectionHandle, Seen>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    at_secs: u32,
    interval_secs: u32,
}

impl LastSeen {
    fn new(epoch: Instant) -> Self {
        LastSeen {
            epoch,
            by_handle: StaggeredMap::default(),
        }
    }

    fn now_secs(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Records that `handle` was heard from at `at_secs` (from
    /// [`now_secs`](Self::now_secs), read once for a whole batch).
    fn touch(&mut self, handle: ConnectionHandle, interval: Duration, at_secs: u32) {
        let seen = Seen {
            at_secs,
            interval_secs: u32::try_from(interval.as_secs()).unwrap_or(u32::MAX),
        };
        self.by_handle.insert(handle, seen);
    }

    /// Sessions silent for more than `factor` intervals.
    fn stale(&self, factor: u32) -> Vec<ConnectionHandle> {
        let now = u64::from(self.now_secs());
        self.by_handle
            .iter()
            .filter(|(_, s)| now > u64::from(s.at_secs) + u64::from(s.interval_secs) * u64::from(factor))
            .map(|(h, _)| h)
            .collect()
    }
}

/// State shared by the receive loop, the answering tasks and the stale sweep.
#[derive(Debug)]
struct Shared {
    id: SourceId,
    health: Arc<SourceHealth>,
    config: RadiusConfig,
    manager: Arc<dyn Sink>,
    metrics: Arc<dyn RadiusCounters>,
    socket: UdpSocket,
    /// foldhash (hashbrown's default, randomly seeded): this map is read
    /// and written for every request, and SipHash over a 50-byte key showed
    /// in the ingest profile.
    answers: Mutex<hashbrown::HashMap<RequestId, (Answer, Instant)>>,
    sender: reply::AnswerSender,
    last_seen: Mutex<LastSeen>,
    drops: DropLog,
}

/// What RADIUS counts for the daemon's metrics, beyond what the [`Sink`]
/// sees: requests acknowledged, and datagrams dropped by reason.
pub trait RadiusCounters: Send + Sync + std::fmt::Debug {
    /// One request was applied and acknowledged.
    fn accepted(&self);
    /// One datagram (or request of a RadSec stream) was not applied.
    fn dropped(&self, reason: &'static str);
}

/// Binds the listener and starts the receive loop and the
/// stale sweep.
pub async fn start(
    config: &RadiusConfig,
    manager: Arc<dyn Sink>,
    metrics: Arc<dyn RadiusCounters>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, SourceError> {
    let Some(addr) = config.listen else {
        return Ok(Vec::new());
    };
    let id = SourceId::new(EngineKind::Radius, &config.name).map_err(|e| SourceError::Config(e.to_string()))?;
    let socket = UdpSocket::bind(addr).await.map_err(|source| SourceError::Open {
        what: format!("radius accounting {addr}"),
        source,
    })?;
    let buffer = grow_receive_buffer(&socket);
    tracing::info!(source = %id, %addr, clients = config.clients.len(), receive_buffer = buffer, "RADIUS accounting listening");
    manager.register_hang_up(
        id.clone(),
        Arc::new(disconnect::RadiusDisconnector::new(config.clone())),
    );
    let health = manager.health(id.clone());
    health.ok();
    let shared = Arc::new(Shared {
        id,
        health,
        config: config.clone(),
        manager,
        metrics,
        socket,
        // Full size from the start: growing it under the first burst was a
        // 20 ms pause (its slots are touched only as they fill).
        answers: Mutex::new(hashbrown::HashMap::with_capacity(CACHE_MAX)),
        sender: reply::AnswerSender::default(),
        last_seen: Mutex::new(LastSeen::new(Instant::now())),
        drops: DropLog::default(),
    });
    // Off the start-up path: a million sessions take a moment, and the
    // sweep only ever looks at sessions already seeded.
    {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || shared.seed_last_seen());
    }

    let receiving = {
        let (shared, stop) = (shared.clone(), stop.clone());
        supervise(shared.health.clone(), stop.clone(), move || {
            let (shared, stop) = (shared.clone(), stop.clone());
            async move {
                receive_loop(shared, stop).await;
                Ok(())
            }
        })
    };
    let mut tasks = vec![receiving];
    if config.radsec_listen.is_some() {
        tasks.push(radsec::start(shared.clone(), stop.clone()).await?);
    }
    {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(drop_log::PERIOD);
            loop {
                tick.tick().await;
                shared.drops.summarise(Instant::now());
            }
        }));
    }
    if config.stale_check {
        let health = shared.health.clone();
        tasks.push(supervise(health, stop, move || {
            let shared = shared.clone();
            async move {
                stale_sweep(shared).await;
                Ok(())
            }
        }));
    }
    Ok(tasks)
}

/// Room for a burst: NASes keep thousands of requests outstanding, each
/// datagram costs ~1 KiB of kernel buffer, and the default (~208 KiB) drops
/// most of such a burst before rrasd sees it — every drop a retransmission
/// a second later.
const RECEIVE_BUFFER: usize = 16 << 20;

/// Raises SO_RCVBUF (past net.core.rmem_max when privileged); returns what
/// the kernel granted. Public for the benchmark's bare responder, which
/// must not drop what rrasd would keep.
pub fn grow_receive_buffer(socket: &impl std::os::fd::AsFd) -> usize {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &RECEIVE_BUFFER);
    }
    getsockopt(socket, sockopt::RcvBuf).unwrap_or(0)
}

impl Shared {
    /// Sessions reloaded from the store get a fresh deadline: the NAS has a
    /// full stale period to send its next update.
    fn seed_last_seen(&self) {
        let default = Duration::from_secs(self.config.default_interim_secs);
        let handles = self.manager.table().handles_where(|s| self.id.owns(s));
        // Built outside the lock (a million inserts), then swapped in: what
        // answered requests recorded meanwhile is newer and is kept.
        let mut seeded = LastSeen::new(self.last_seen.lock().epoch);
        seeded.by_handle.reserve(handles.len());
        let now = seeded.now_secs();
        for handle in handles {
            seeded.touch(handle, default, now);
        }
        let mut seen = self.last_seen.lock();
        for (handle, recorded) in seen.by_handle.iter() {
            seeded.by_handle.insert(handle, *recorded);
        }
        *seen = seeded;
    }

    /// Counts and (rate-limited) logs a datagram, or part of one, that is
    /// not applied (answered or not: the caller decides). O(1) whatever the
    /// number of distinct sources.
    fn drop_packet(&self, peer: SocketAddr, reason: &'static str, detail: &dyn std::fmt::Display) {
        self.metrics.dropped(reason);
        self.drops.drop(reason, peer.ip(), detail, Instant::now());
    }

    /// Registers a request; returns what to do with it.
    fn check_retransmission(&self, request: &RequestId) -> Option<Option<Response>> {
        let now = Instant::now();
        let mut answers = self.answers.lock();
        if answers.len() >= CACHE_MAX {
            answers.retain(|_, (a, t)| matches!(a, Answer::InFlight) || now.duration_since(*t) < RETRANSMIT_WINDOW);
            if answers.len() >= CACHE_MAX {
                answers.retain(|_, (a, _)| matches!(a, Answer::InFlight));
            }
        }
        match answers.get(request) {
            Some((Answer::Done(bytes), t)) if now.duration_since(*t) < RETRANSMIT_WINDOW => Some(Some(*bytes)),
            Some((Answer::InFlight, _)) => Some(None),
            _ => {
                answers.insert(request.clone(), (Answer::InFlight, now));
                None
            }
        }
    }
}

async fn receive_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut datagrams = DatagramBatch::default();
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    // Room for as many requests as the last batch had: the batch moves into
    // its answering task, and growing it by doubling showed in the profile.
    let mut last_batch = 0;
    loop {
        let readable = tokio::select! {
            r = shared.socket.readable() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Err(e) = readable {
            tracing::warn!("RADIUS socket failed: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // Drain what the kernel holds (up to a batch, plus what the last
        // system call brought): every request is checked and applied to
        // the table here, in arrival order, so a session's Start is always
        // applied before its Stop; their answers wait together for the
        // fsync in one task.
        let mut batch = Vec::with_capacity(last_batch);
        // Bounded by datagrams too: under a flood of junk the socket never
        // runs dry, and the good requests already taken must not wait for
        // a batch to fill.
        let mut taken = 0;
        while batch.len() < BATCH && taken < MAX_PASS {
            let received = match datagrams.receive(&shared.socket) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!("RADIUS receive failed: {e}");
                    break;
                }
            };
            taken += received;
            for i in 0..received {
                let Some((datagram, sent_len, peer)) = datagrams.get(i) else {
                    continue;
                };
                let Some((job, packet)) = shared.accept(datagram, sent_len, peer).await else {
                    continue;
                };
                let Ok(slot) = pending.clone().try_acquire_owned() else {
                    // Back-pressure: the NAS will retransmit; forget it was seen.
                    shared.answers.lock().remove(&job.request);
                    shared.metrics.dropped("overload");
                    continue;
                };
                match stage_request(&shared, &job, &packet) {
                    Some(staged) => batch.push((job, staged, slot)),
                    None => {
                        shared.answers.lock().remove(&job.request);
                    }
                }
            }
        }
        last_batch = batch.len();
        if !batch.is_empty() {
            let shared = shared.clone();
            tokio::spawn(async move { answer_when_durable(&shared, batch).await });
        }
    }
}

impl Shared {
    /// Checks one datagram: a known client, well-formed, an Accounting-Request
    /// with the right authenticator, not a retransmission (which is answered
    /// from the cache, or dropped while its first copy is in flight).
    /// `sent_len` is the datagram's length as sent; `datagram` holds at
    /// most its first `sent_len` bytes (fewer only for an oversized one).
    async fn accept<'a>(&self, datagram: &'a [u8], sent_len: usize, peer: SocketAddr) -> Option<(Job, PacketView<'a>)> {
        let Some(client) = self.config.client_index(peer.ip()) else {
            self.drop_packet(
                peer,
                "unknown-client",
                &"source address is not a configured RADIUS client",
            );
            return None;
        };
        if sent_len > MAX_LEN {
            self.drop_packet(peer, "oversize", &format!("{sent_len}-byte datagram"));
            return None;
        }
        match self.screen(datagram, peer, client) {
            Screened::Answer(answer) => {
                let _ = self.socket.send_to(&answer, peer).await;
                None
            }
            Screened::Done => None,
            Screened::Job(job, packet) => Some((job, packet)),
        }
    }

    /// What UDP and RadSec do alike with a packet from an identified
    /// client: decode it; answer Status-Server; check the code and the
    /// Request Authenticator; answer a retransmission from the cache (or
    /// drop it while its first copy is in flight); else it is a new job.
    fn screen<'a>(&self, datagram: &'a [u8], peer: SocketAddr, client: usize) -> Screened<'a> {
        let secret = &self.config.clients[client].secret;
        let packet = match PacketView::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.drop_packet(peer, "malformed", &e);
                return Screened::Done;
            }
        };
        if packet.code == STATUS_SERVER {
            return match status_server_answer(datagram, &packet, secret) {
                Some(answer) => Screened::Answer(answer),
                None => {
                    self.drop_packet(
                        peer,
                        "bad-authenticator",
                        &"Status-Server without a valid Message-Authenticator",
                    );
                    Screened::Done
                }
            };
        }
        if packet.code != ACCOUNTING_REQUEST {
            self.drop_packet(peer, "unexpected-code", &format!("code {}", packet.code));
            return Screened::Done;
        }
        if !request_authenticator_ok(datagram, secret) {
            self.drop_packet(
                peer,
                "bad-authenticator",
                &"Request Authenticator does not match the shared secret",
            );
            return Screened::Done;
        }
        let request = RequestId {
            peer,
            identifier: packet.identifier,
            authenticator: packet.authenticator,
        };
        match self.check_retransmission(&request) {
            Some(Some(answer)) => Screened::Answer(answer.to_vec()),
            Some(None) => Screened::Done,
            None => Screened::Job(Job { request, client }, packet),
        }
    }
}

/// What to do with a screened packet.
enum Screened<'a> {
    /// Send these bytes back (Status-Server, or a retransmission's cached answer).
    Answer(Vec<u8>),
    /// Nothing more (dropped and counted, or its first copy is in flight).
    Done,
    /// A new request to stage.
    Job(Job, PacketView<'a>),
}

/// The answer to an authentic Status-Server (RFC 5997 §3: it must carry a
/// Message-Authenticator, computed as for Access-Request over its own
/// Request Authenticator; an accounting server answers with an
/// Accounting-Response, signed the same way). None for an unsigned or
/// wrongly signed one, which is dropped.
fn status_server_answer(datagram: &[u8], packet: &PacketView<'_>, secret: &[u8]) -> Option<Vec<u8>> {
    if message_authenticator_ok(datagram, &packet.authenticator, secret) != Some(true) {
        return None;
    }
    let answer = packet::Packet {
        code: packet::ACCOUNTING_RESPONSE,
        identifier: packet.identifier,
        authenticator: [0; 16],
        attributes: Vec::new(),
    };
    Some(answer.encode_response_signed(&packet.authenticator, secret))
}

/// Requests checked and staged in one pass over the socket, at most (the
/// last `recvmmsg` of a pass may bring up to [`receive::SLOTS`] more).
const BATCH: usize = 512;

/// Datagrams read in one pass, at most, good or not.
const MAX_PASS: usize = 4 * BATCH;

/// Requests of one source staged but not yet durable, at most: each holds
/// its packet until its commit returns.
const MAX_PENDING: usize = 65_536;

/// A request applied to the table and queued for the journal.
struct StagedRequest {
    staged: Staged,
    /// Start/Interim (the session was heard from) rather than Stop.
    heard: bool,
    interval: Duration,
}

/// Answers a batch once its changes are durable (a request whose commit
/// failed gets no answer: its NAS retransmits), then sends the answers
/// together ([`reply::AnswerSender`]).
async fn answer_when_durable(shared: &Shared, batch: Vec<(Job, StagedRequest, OwnedSemaphorePermit)>) {
    let outgoing = settle(shared, batch).await;
    shared.sender.send(&shared.socket, &outgoing).await;
}

/// Waits until a batch's changes are durable and records what that means
/// (sessions heard from or gone, answers cached for retransmissions,
/// metrics); returns the answers to send, in order. Shared by UDP and
/// RadSec.
async fn settle(
    shared: &Shared,
    batch: Vec<(Job, StagedRequest, OwnedSemaphorePermit)>,
) -> Vec<(SocketAddr, Response)> {
    let mut durable = Vec::with_capacity(batch.len());
    for (job, request, slot) in batch {
        match request.staged.durable().await {
            Ok(results) => durable.push((job, request.heard, request.interval, results)),
            Err(e) => {
                tracing::error!(peer = %job.request.peer, "accounting not recorded, not acknowledged: {e}");
                shared.health.degraded(format!("accounting not recorded: {e}"));
                shared.answers.lock().remove(&job.request);
            }
        }
        drop(slot);
    }
    // Each shared map is locked once per batch, not once per answer.
    {
        let mut seen = shared.last_seen.lock();
        let now = seen.now_secs();
        for (_, heard, interval, results) in &durable {
            for handle in results.iter().flatten() {
                if *heard {
                    seen.touch(*handle, *interval, now);
                } else {
                    seen.by_handle.remove(*handle);
                }
            }
        }
    }
    let now = Instant::now();
    let mut outgoing: Vec<(SocketAddr, Response)> = Vec::with_capacity(durable.len());
    {
        let mut cache = shared.answers.lock();
        for (job, ..) in durable {
            let secret = &shared.config.clients[job.client].secret;
            let response = accounting_response(job.request.identifier, &job.request.authenticator, secret);
            outgoing.push((job.request.peer, response));
            cache.insert(job.request, (Answer::Done(response), now));
            shared.metrics.accepted();
        }
    }
    outgoing
}

/// Applies one request to the table; None when it must not be answered.
fn stage_request(shared: &Shared, job: &Job, packet: &PacketView<'_>) -> Option<StagedRequest> {
    let peer = job.request.peer;
    let client = &shared.config.clients[job.client];
    {
        let (address, identifier) = nas_claim(packet, peer.ip());
        let claim = NasClaim {
            address,
            identifier: identifier.as_deref(),
        };
        if !shared.config.may_speak_for(client, &claim) {
            // Not recorded, so not answered (RFC 2866 §2: a server that
            // cannot record a request must not acknowledge it).
            shared.drop_packet(peer, "foreign-nas", &ForeignNas(&client.name, &claim));
            return None;
        }
    }
    let accounting = match interpret(&shared.id, packet, peer.ip(), SystemTime::now()) {
        Ok(a) => a,
        Err(e) => {
            // Well-formed and authentic but unusable: answering would tell
            // the NAS we recorded it, so we drop it like RFC 2866 says.
            shared.drop_packet(peer, "unusable", &e);
            return None;
        }
    };
    let interval = accounting
        .interim_interval
        .unwrap_or(Duration::from_secs(shared.config.default_interim_secs));
    // A NAS's clock may differ from ours by this much; an event ends only
    // sessions that started before its time plus the skew.
    // (Event-Timestamp is 32 bits and the skew at most a day, so this does
    // not overflow; if it did, the event time alone would bound it.)
    let latest_start = accounting
        .event_time
        .checked_add(Duration::from_secs(shared.config.clock_skew_secs))
        .unwrap_or(accounting.event_time);
    let table = shared.manager.table();
    // The session's row as it is (what an update merges into).
    let known_row = |key: &rras_core::SourceKey| table.find(key).and_then(|h| table.record(h));
    // What the sweep must learn once the change is durable: sessions heard
    // from (and their interval) or gone.
    let mut heard = false;
    let events = match accounting.event {
        AccountingEvent::Start(mut info) | AccountingEvent::Interim(mut info) => {
            heard = true;
            if let Some(known) = known_row(&info.source) {
                merge_update(&mut info, &known.decode().info, accounting.carried);
            }
            vec![SourceEvent::Started(info)]
        }
        AccountingEvent::Stop { mut info, reason } => {
            match known_row(&info.source) {
                Some(known) => {
                    let known = known.decode().info;
                    if accounting.timestamped && known.started_at > latest_start {
                        // A Stop from before this session began: an old
                        // one replayed, or a late one for an earlier
                        // session with the same id. Acknowledged (it is
                        // authentic), not applied.
                        shared.drop_packet(peer, "stale-event", &info.source.session_id);
                        Vec::new()
                    } else {
                        merge_counters(&mut info.stats, &known.stats, accounting.carried);
                        vec![SourceEvent::Ended {
                            key: info.source.clone(),
                            reason,
                            stats: Some(info.stats),
                            at: Some(accounting.event_time),
                        }]
                    }
                }
                None => Vec::new(),
            }
        }
        AccountingEvent::NasRestart { nas, reason } => {
            let of_nas = table.select_sources(|s| shared.id.owns(s) && s.nas == nas);
            let mut spared = 0usize;
            let ended: Vec<_> = of_nas
                .into_iter()
                .filter(|(h, _)| {
                    let before = table
                        .record(*h)
                        .is_none_or(|r| r.decode().info.started_at <= latest_start);
                    spared += usize::from(!before);
                    before
                })
                .collect();
            tracing::info!(nas = %rras_core::display::Escaped(&nas), sessions = ended.len(), spared, reason, "NAS restarted: ending its sessions that began before the event");
            if spared > 0 {
                shared.drop_packet(
                    peer,
                    "stale-event",
                    &format_args!("{spared} sessions started after the {reason}"),
                );
            }
            ended
                .into_iter()
                .map(|(_, key)| SourceEvent::Ended {
                    key,
                    reason: reason.into(),
                    stats: None,
                    at: Some(accounting.event_time),
                })
                .collect()
        }
        AccountingEvent::Ignored(status) => {
            tracing::debug!(status, "Acct-Status-Type not tracked; acknowledged");
            Vec::new()
        }
    };
    Some(StagedRequest {
        staged: Sink::stage(shared.manager.as_ref(), &shared.id, events),
        heard,
        interval,
    })
}

/// "client X may not speak for NAS Y" (engine text escaped).
struct ForeignNas<'a>(&'a str, &'a NasClaim<'a>);

impl std::fmt::Display for ForeignNas<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ForeignNas(client, claim) = self;
        write!(f, "client {client} may not speak for NAS {}", claim.address)?;
        if let Some(id) = claim.identifier {
            write!(f, " ({})", rras_core::display::Escaped(id))?;
        }
        write!(f, " (grant it with nas = [...] in its client entry)")
    }
}

/// Ends sessions whose NAS has been silent for `stale_after_intervals`
/// interim intervals.
async fn stale_sweep(shared: Arc<Shared>) {
    let period = Duration::from_secs(shared.config.default_interim_secs.clamp(2, 60) / 2);
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let stale = shared.last_seen.lock().stale(shared.config.stale_after_intervals);
        if stale.is_empty() {
            continue;
        }
        tracing::info!(
            sessions = stale.len(),
            "ending RADIUS sessions with no update (lost-carrier/stale)"
        );
        let table = shared.manager.table();
        let mut gone = Vec::new();
        let mut events = Vec::new();
        for handle in stale {
            match table.record(handle) {
                Some(r) => events.push(SourceEvent::Ended {
                    key: r.source().to_owned_key(),
                    reason: "lost-carrier/stale".into(),
                    stats: None,
                    at: None,
                }),
                None => gone.push(handle),
            }
        }
        // Sessions are forgotten only once their end is durable: after a
        // failed commit the next sweep tries them again.
        match rras_source::sink::apply(shared.manager.as_ref(), &shared.id, events).await {
            Ok(results) => gone.extend(results.into_iter().flatten()),
            Err(e) => tracing::error!("stale sweep not recorded: {e}"),
        }
        let mut seen = shared.last_seen.lock();
        for h in gone {
            seen.by_handle.remove(h);
        }
    }
}
