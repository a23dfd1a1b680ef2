//! The fleet publisher: this node's connection table, mirrored into the
//! fleet's JetStream bucket from the change feed, plus a heartbeat and the
//! fleet disconnect responder (rras-fleet has the names and formats).
//!
//! Only durable changes go out: the publisher is a watcher of the change
//! feed, so the fleet is never ahead of what this node made durable. On
//! every (re)connect, and whenever it fell too far behind the feed, it
//! reconciles: it lists this node's keys in the bucket and makes them equal
//! to the table (puts what differs, deletes what ended while NATS was away)
//! and then follows the feed from the revision the table was read at.
//!
//! Publishing never holds up ingest or the admin RPC: the feed's bounded
//! backlog is the queue. Changes that arrive while a batch is being
//! acknowledged are coalesced per connection (the newest state wins); a
//! publisher that falls more than the feed's backlog behind is cut off and
//! reconciles, which costs one listing instead of unbounded memory. Lag
//! (revisions made durable but not yet acknowledged by NATS) is a metric
//! and part of every heartbeat.
//!
//! Ended connections leave a delete marker (the live view needs it). Markers
//! older than `tombstone_keep_secs` are purged, so the bucket holds live
//! connections plus recent ends, not every session ever.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::{self, consumer};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use rras_core::{AuditRecord, ConnectionHandle, Win32Error};
use rras_fleet::options::{Connects, Reconnect};
use rras_fleet::{DisconnectReply, DisconnectRequest, FleetError, FleetNames, FleetOptions, NodeBeat};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::feed::{ChangeBody, Subscription};
use crate::manager::ConnectionManager;
use crate::metrics::Metrics;

/// `[fleet]`: publish this node into a fleet on NATS JetStream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// NATS server URLs, comma-separated (`nats://…`, `tls://…`); off when
    /// absent.
    pub url: Option<String>,
    /// NATS user (with `password_file`).
    pub user: Option<String>,
    /// File whose first line is the NATS password.
    pub password_file: Option<PathBuf>,
    /// NATS `.creds` file (JWT + nkey seed).
    pub creds_file: Option<PathBuf>,
    /// File with an nkey seed.
    pub nkey_seed_file: Option<PathBuf>,
    /// CA (PEM) that signed the NATS servers' certificates.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for NATS servers that ask for one.
    pub tls_cert: Option<PathBuf>,
    /// Its key (PEM).
    pub tls_key: Option<PathBuf>,
    /// This node's name in fleet views [default: the host name]; the key
    /// in the buckets is the node id, which never changes.
    pub name: Option<String>,
    /// Replicas of the buckets when this node creates them (3 on a
    /// three-server cluster).
    pub replicas: usize,
    /// Seconds between heartbeats; a node is stale after three missed.
    pub heartbeat_secs: u64,
    /// Take fleet disconnect requests (sent by NATS users allowed on
    /// `rras.fleet.<node>.disconnect.<operator>`).
    pub disconnect: bool,
    /// Purge this node's old delete markers. Off when the node's NATS user
    /// may not purge (per-node credentials: a purge names its subject in
    /// the request body, which NATS permissions cannot check, so only a
    /// janitor user may; `rasctl fleet purge-markers`, docs/fleet.md).
    pub purge_markers: bool,
    /// Seconds a delete marker of an ended connection stays in the bucket
    /// (a fleet reader cut off from NATS longer than this reloads).
    pub tombstone_keep_secs: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            url: None,
            user: None,
            password_file: None,
            creds_file: None,
            nkey_seed_file: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            name: None,
            replicas: 1,
            heartbeat_secs: 2,
            disconnect: true,
            purge_markers: true,
            tombstone_keep_secs: 3600,
        }
    }
}

impl FleetConfig {
    /// The connection part.
    pub fn options(&self) -> FleetOptions {
        FleetOptions {
            url: self.url.clone(),
            user: self.user.clone(),
            password_file: self.password_file.clone(),
            creds_file: self.creds_file.clone(),
            nkey_seed_file: self.nkey_seed_file.clone(),
            tls_ca: self.tls_ca.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            inbox_prefix: None,
        }
    }

    /// Checks the section (only when a URL turns the fleet on).
    pub fn validate(&self) -> Result<(), String> {
        if self.url.is_none() {
            return Ok(());
        }
        self.options().validate()?;
        if !(1..=5).contains(&self.replicas) {
            return Err("replicas must be 1 to 5".into());
        }
        if !(1..=300).contains(&self.heartbeat_secs) {
            return Err("heartbeat_secs must be 1 to 300".into());
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                return Err("name must be 1–64 printable characters".into());
            }
        }
        Ok(())
    }

    fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "rrasd".into())
        })
    }
}

/// Publishes whose acknowledgements may be outstanding at once (bounds
/// what one NATS hiccup has in flight).
const WINDOW: usize = 1024;
/// Changes taken from the feed into one batch.
const BATCH: usize = 8192;
/// How long one JetStream call may take.
const API_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a publish may wait for its acknowledgement, counted from the
/// publish: with a full window in flight on a busy cluster the last one
/// waits for all before it. A NATS server that went away is noticed
/// sooner, by the reconnect.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Fleet disconnect requests handled at once.
const MAX_DISCONNECTS: usize = 16;
/// Delete markers remembered for purging (older ones wait for the next
/// reconcile, which sweeps every old marker of this node).
const MAX_TOMBSTONES: usize = 1 << 20;

/// What the publisher shares with its heartbeat.
#[derive(Debug, Default)]
struct Progress {
    published: AtomicU64,
    synced: AtomicBool,
}

/// Starts the fleet tasks if `[fleet] url` is set.
pub fn start(config: &FleetConfig, manager: Arc<ConnectionManager>, metrics: Arc<Metrics>) -> Option<JoinHandle<()>> {
    config.url.as_ref()?;
    let publisher = Publisher {
        node: manager.node_id().to_string(),
        name: config.display_name(),
        names: FleetNames::default(),
        config: config.clone(),
        manager,
        metrics,
        progress: Arc::new(Progress::default()),
        tombstones: VecDeque::new(),
        connects: Arc::new(Connects::default()),
    };
    Some(tokio::spawn(publisher.run()))
}

struct Publisher {
    node: String,
    name: String,
    names: FleetNames,
    config: FleetConfig,
    manager: Arc<ConnectionManager>,
    metrics: Arc<Metrics>,
    progress: Arc<Progress>,
    /// Delete markers published, oldest first, to purge when old.
    tombstones: VecDeque<(Instant, u32)>,
    /// NATS (re)connections: each one means a reconcile.
    connects: Arc<Connects>,
}

/// Why a publishing session ended.
enum Interrupted {
    /// NATS failed; wait for the connection and reconcile.
    Nats(FleetError),
    /// Fell behind the feed: reconcile at once.
    Resync,
    /// NATS reconnected: whatever was lost meanwhile, reconcile.
    Reconnected,
}

impl From<FleetError> for Interrupted {
    fn from(e: FleetError) -> Self {
        Interrupted::Nats(e)
    }
}

fn js_err(e: impl std::fmt::Display) -> Interrupted {
    Interrupted::Nats(FleetError::JetStream(e.to_string()))
}

impl Publisher {
    async fn run(mut self) {
        // Replies come to `_INBOX_<node>`: a node's NATS user needs to read
        // no other client's replies.
        let options = FleetOptions {
            inbox_prefix: Some(FleetNames::node_inbox_prefix(&self.node)),
            ..self.config.options()
        };
        let client = match options
            .connect_watched(
                &format!("rrasd {}", self.name),
                Reconnect::Forever,
                self.connects.clone(),
            )
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("fleet: {e}; this node is not published");
                return;
            }
        };
        tracing::info!(node = %self.node, name = %self.name, "fleet: publishing to NATS");
        let responder = tokio::spawn(respond_to_disconnects(
            client.clone(),
            self.names.clone(),
            self.node.clone(),
            self.manager.clone(),
            self.config.disconnect,
        ));
        let history = tokio::spawn(respond_to_history(
            client.clone(),
            self.names.clone(),
            self.node.clone(),
            self.manager.clone(),
        ));
        let usage = tokio::spawn(respond_to_usage(
            client.clone(),
            self.names.clone(),
            self.node.clone(),
            self.manager.clone(),
        ));
        let beats = tokio::spawn(heartbeat(
            client.clone(),
            self.beat_template(),
            self.names.beat_subject(&self.node),
            self.manager.clone(),
            self.progress.clone(),
            Duration::from_secs(self.config.heartbeat_secs),
        ));
        let _guard = AbortOnDrop(vec![responder, history, usage, beats]);
        let mut backoff = Duration::from_millis(100);
        loop {
            wait_connected(&client).await;
            self.metrics.fleet_connected(true);
            match self.session(&client).await {
                Interrupted::Resync => {
                    tracing::warn!("fleet: fell behind the change feed; reconciling");
                    backoff = Duration::from_millis(100);
                }
                Interrupted::Reconnected => {
                    tracing::info!("fleet: NATS reconnected; reconciling");
                    backoff = Duration::from_millis(100);
                }
                Interrupted::Nats(e) => {
                    self.metrics
                        .fleet_connected(client.connection_state() == async_nats::connection::State::Connected);
                    tracing::warn!("fleet: {e}; reconciling when NATS answers");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
            self.progress.synced.store(false, Ordering::Release);
        }
    }

    fn beat_template(&self) -> NodeBeat {
        NodeBeat {
            node: self.node.clone(),
            name: self.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            connections: 0,
            revision: 0,
            published: 0,
            state: String::new(),
            at_ms: 0,
            interval_ms: self.config.heartbeat_secs * 1000,
            disconnect: self.config.disconnect,
        }
    }

    /// One connected stretch: reconcile, then follow the feed until NATS
    /// fails or the feed cuts us off.
    async fn session(&mut self, client: &async_nats::Client) -> Interrupted {
        let mut js = jetstream::new(client.clone());
        // A JetStream call that takes longer is lost (its server went away,
        // its stream is electing a leader): retry soon rather than wait the
        // default 5 s. A healthy cluster answers in milliseconds, and with
        // WINDOW acknowledgements outstanding the oldest is tens of ms old.
        js.set_timeout(API_TIMEOUT);
        // A reconnect after this point, even during the reconcile, makes
        // the next session reconcile again.
        let connection = self.connects.count();
        match self.reconcile(&js).await {
            Ok(sub) => self.follow(&js, sub, connection).await,
            Err(e) => e,
        }
    }

    /// Makes this node's keys equal to the table; returns the feed
    /// subscription to follow from there.
    async fn reconcile(&mut self, js: &jetstream::Context) -> Result<Subscription, Interrupted> {
        let started = Instant::now();
        rras_fleet::buckets::ensure(js, &self.names, self.config.replicas).await?;
        // Subscribe first, then read the table: every change after the
        // subscription's revision comes from the feed, so nothing between
        // the two is missed (one seen twice is harmless: same final state).
        let sub = self
            .manager
            .feed()
            .subscribe(None)
            .map_err(|e| Interrupted::Nats(FleetError::JetStream(format!("change feed: {e}"))))?;
        let records = self.manager.table().records();
        // What the table shows may include changes still on their way to
        // disk; wait for them, so the fleet never shows what a crash could
        // take back.
        if let Err(e) = self.manager.durable_barrier().await {
            return Err(Interrupted::Nats(FleetError::JetStream(format!("store: {e}"))));
        }
        let existing = self.own_keys(js).await?;
        let keep = Duration::from_secs(self.config.tombstone_keep_secs);
        let now = SystemTime::now();
        let mut out = Outbox::new(js, self.key_prefix());
        let mut live = std::collections::HashSet::with_capacity(records.len());
        let mut puts = 0usize;
        for record in records {
            let handle = record.handle().get();
            live.insert(handle);
            let same = matches!(existing.get(&handle), Some(OwnKey::Value(h)) if *h == digest(record.as_bytes()));
            if !same {
                out.put(handle, Bytes::from_owner(record)).await?;
                puts += 1;
            }
        }
        let mut deletes = 0usize;
        let mut purge = Vec::new();
        for (handle, key) in &existing {
            match key {
                OwnKey::Value(_) if !live.contains(handle) => {
                    out.delete(*handle).await?;
                    self.remember_tombstone(*handle);
                    deletes += 1;
                }
                OwnKey::Marker(at) => {
                    let age = now.duration_since(*at).unwrap_or_default();
                    if age >= keep {
                        purge.push(*handle);
                    } else {
                        // Purged when it is `keep` old, not `keep` after now.
                        let made = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                        self.remember_tombstone_made(*handle, made);
                    }
                }
                OwnKey::Value(_) => {}
            }
        }
        out.finish().await?;
        self.purge(js, &purge).await?;
        let published = sub.last();
        self.progress.published.store(published, Ordering::Release);
        self.progress.synced.store(true, Ordering::Release);
        self.metrics.fleet_reconciled();
        tracing::info!(
            keys = existing.len(),
            puts,
            deletes,
            purged = purge.len(),
            revision = published,
            ms = started.elapsed().as_millis() as u64,
            "fleet: reconciled"
        );
        Ok(sub)
    }

    /// Follows the feed: each wake-up takes every change that is ready,
    /// keeps the newest per connection and publishes them. Batches do not
    /// wait for each other's acknowledgements (a change would wait a
    /// round trip behind the batch before it): up to [`WINDOW`] are
    /// outstanding, answered in order, and a batch counts as published
    /// when its last acknowledgement is in.
    async fn follow(&mut self, js: &jetstream::Context, mut sub: Subscription, connection: u64) -> Interrupted {
        let mut sweep = tokio::time::interval(Duration::from_secs(10));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let connects = self.connects.clone();
        let mut out = Outbox::new(js, self.key_prefix());
        // (acknowledgements sent when the batch ended, feed revision).
        let mut batches: VecDeque<(usize, u64)> = VecDeque::new();
        loop {
            if connects.count() != connection {
                return Interrupted::Reconnected;
            }
            let first = tokio::select! {
                c = sub.next() => c,
                _ = connects.notify.notified() => continue,
                acked = out.settle_one(), if out.outstanding() > 0 => {
                    if let Err(e) = acked {
                        return e;
                    }
                    self.published_through(&out, &mut batches);
                    continue;
                }
                _ = sweep.tick() => {
                    if let Err(e) = self.sweep(js).await {
                        return e;
                    }
                    continue;
                }
            };
            let mut batch: HashMap<u32, Option<Bytes>> = HashMap::new();
            let mut next = Some(first);
            while let Some(change) = next.take() {
                let Ok(change) = change else { return Interrupted::Resync };
                let value = match &change.body {
                    ChangeBody::Live(record) => Some(Bytes::from_owner(record.clone())),
                    ChangeBody::Ended(..) | ChangeBody::Removed => None,
                };
                batch.insert(change.handle.get(), value);
                if batch.len() >= BATCH {
                    break;
                }
                next = sub.try_next();
            }
            let before = out.sent;
            for (handle, value) in batch {
                let sent = match value {
                    Some(bytes) => out.put(handle, bytes).await,
                    None => {
                        self.remember_tombstone(handle);
                        out.delete(handle).await
                    }
                };
                if let Err(e) = sent {
                    return e;
                }
            }
            batches.push_back((out.sent, sub.last()));
            self.published_through(&out, &mut batches);
            self.metrics.fleet_published(
                (out.sent - before) as u64,
                self.manager
                    .feed()
                    .revision()
                    .saturating_sub(self.progress.published.load(Ordering::Acquire)),
            );
        }
    }

    /// Moves the published revision past every batch whose
    /// acknowledgements are all in.
    fn published_through(&self, out: &Outbox, batches: &mut VecDeque<(usize, u64)>) {
        while let Some(&(sent, revision)) = batches.front() {
            if sent > out.acked {
                break;
            }
            self.progress.published.store(revision, Ordering::Release);
            batches.pop_front();
        }
    }

    /// `$KV.<bucket>.<node>.`: a key's subject is this and the handle.
    fn key_prefix(&self) -> String {
        format!("$KV.{}.{}.", self.names.connections, self.node)
    }

    fn remember_tombstone(&mut self, handle: u32) {
        self.remember_tombstone_made(handle, Instant::now());
    }

    /// Remembers a marker made at `made`, keeping the queue in age order
    /// (markers found by a reconcile may be older than ones already in it).
    fn remember_tombstone_made(&mut self, handle: u32, made: Instant) {
        if !self.config.purge_markers {
            return;
        }
        if self.tombstones.len() == MAX_TOMBSTONES {
            self.tombstones.pop_front();
        }
        let at = self.tombstones.partition_point(|(t, _)| *t <= made);
        self.tombstones.insert(at, (made, handle));
    }

    /// Purges the delete markers older than the keep time.
    async fn sweep(&mut self, js: &jetstream::Context) -> Result<(), Interrupted> {
        let keep = Duration::from_secs(self.config.tombstone_keep_secs);
        let mut old = Vec::new();
        while let Some(&(at, handle)) = self.tombstones.front() {
            if at.elapsed() < keep || old.len() >= 1000 {
                break;
            }
            old.push(handle);
            self.tombstones.pop_front();
        }
        self.purge(js, &old).await
    }

    async fn purge(&self, js: &jetstream::Context, handles: &[u32]) -> Result<(), Interrupted> {
        if handles.is_empty() || !self.config.purge_markers {
            return Ok(());
        }
        let stream = js
            .get_stream(format!("KV_{}", self.names.connections))
            .await
            .map_err(js_err)?;
        for &handle in handles {
            let key = rras_fleet::ConnectionKey {
                node: self.node.clone(),
                handle,
            };
            stream
                .purge()
                .filter(self.names.connection_subject(&key))
                .await
                .map_err(js_err)?;
        }
        Ok(())
    }

    /// This node's keys in the bucket: the last message of each, as a
    /// digest of the value or a delete marker with its time.
    async fn own_keys(&self, js: &jetstream::Context) -> Result<HashMap<u32, OwnKey>, Interrupted> {
        // A large bucket makes the server answer late: this call gets
        // longer, in proportion (a call lost in a failover is still
        // retried soon). Every message of this node's keys, not "last per
        // subject": the bucket keeps one per key, and nats-server 2.9
        // would first find every key's last message (seconds at 1M).
        let size = rras_fleet::buckets::connection_messages(js, &self.names).await?;
        let mut js = js.clone();
        js.set_timeout(rras_fleet::view::setup_timeout(size));
        let stream = js
            .get_stream(format!("KV_{}", self.names.connections))
            .await
            .map_err(js_err)?;
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                filter_subject: self.names.node_filter(&self.node),
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                memory_storage: true,
                ..Default::default()
            })
            .await
            .map_err(js_err)?;
        let expected = consumer.cached_info().num_pending;
        // The server's count sizes the map only as a hint: capped, and
        // only as far as memory allows (a count that lies must not abort).
        let mut keys = HashMap::new();
        let _ = keys.try_reserve(rras_fleet::view::presize_hint(expected));
        if expected == 0 {
            return Ok(keys);
        }
        let mut messages = consumer.messages().await.map_err(js_err)?;
        let prefix = self.key_prefix();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .map_err(|_| Interrupted::Nats(FleetError::JetStream("listing own keys timed out".into())))?
                .ok_or_else(|| Interrupted::Nats(FleetError::JetStream("listing own keys ended early".into())))?
                .map_err(js_err)?;
            let info = message.info().map_err(js_err)?;
            let pending = info.pending;
            let handle = message
                .subject
                .strip_prefix(prefix.as_str())
                .and_then(|h| h.parse::<u32>().ok())
                .filter(|h| ConnectionHandle::new(*h).is_some());
            if let Some(handle) = handle {
                let key = if rras_fleet::markers::is_marker(&message) {
                    OwnKey::Marker(rras_fleet::markers::stored_at(&info))
                } else {
                    OwnKey::Value(digest(&message.payload))
                };
                keys.insert(handle, key);
            }
            if pending == 0 {
                return Ok(keys);
            }
        }
    }
}

/// The last message of one of this node's keys.
#[derive(Debug)]
enum OwnKey {
    /// A value (its digest).
    Value(u64),
    /// A delete marker and when it was stored.
    Marker(SystemTime),
}

fn digest(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// An acknowledgement on its way (its timeout runs from the publish).
type Ack =
    Pin<Box<dyn Future<Output = Result<jetstream::publish::PublishAck, jetstream::context::PublishError>> + Send>>;

/// Publishes with up to [`WINDOW`] acknowledgements outstanding, taken
/// in order.
struct Outbox {
    js: jetstream::Context,
    prefix: String,
    acks: VecDeque<Ack>,
    sent: usize,
    acked: usize,
}

impl Outbox {
    fn new(js: &jetstream::Context, prefix: String) -> Self {
        let mut js = js.clone();
        js.set_timeout(ACK_TIMEOUT);
        Outbox {
            js,
            prefix,
            acks: VecDeque::new(),
            sent: 0,
            acked: 0,
        }
    }

    fn subject(&self, handle: u32) -> String {
        format!("{}{handle}", self.prefix)
    }

    async fn put(&mut self, handle: u32, value: Bytes) -> Result<(), Interrupted> {
        let ack = self.js.publish(self.subject(handle), value).await.map_err(js_err)?;
        self.push(ack).await
    }

    async fn delete(&mut self, handle: u32) -> Result<(), Interrupted> {
        let mut headers = HeaderMap::new();
        headers.insert("KV-Operation", "DEL");
        let ack = self
            .js
            .publish_with_headers(self.subject(handle), headers, Bytes::new())
            .await
            .map_err(js_err)?;
        self.push(ack).await
    }

    async fn push(&mut self, ack: jetstream::context::PublishAckFuture) -> Result<(), Interrupted> {
        self.acks.push_back(ack.into_future());
        self.sent += 1;
        if self.acks.len() >= WINDOW {
            self.settle_one().await?;
        }
        Ok(())
    }

    fn outstanding(&self) -> usize {
        self.acks.len()
    }

    /// Waits for the oldest acknowledgement. Cancel-safe: the future stays
    /// in the queue until it is answered.
    async fn settle_one(&mut self) -> Result<(), Interrupted> {
        let Some(oldest) = self.acks.front_mut() else {
            return Ok(());
        };
        let answer = oldest.as_mut().await;
        self.acks.pop_front();
        self.acked += 1;
        answer.map(drop).map_err(js_err)
    }

    /// Waits for every acknowledgement.
    async fn finish(&mut self) -> Result<(), Interrupted> {
        while !self.acks.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }
}

async fn wait_connected(client: &async_nats::Client) {
    while client.connection_state() != async_nats::connection::State::Connected {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Sends this node's heartbeat every interval while connected.
async fn heartbeat(
    client: async_nats::Client,
    mut beat: NodeBeat,
    subject: String,
    manager: Arc<ConnectionManager>,
    progress: Arc<Progress>,
    interval: Duration,
) {
    let js = jetstream::new(client.clone());
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if client.connection_state() != async_nats::connection::State::Connected {
            continue;
        }
        let synced = progress.synced.load(Ordering::Acquire);
        beat.connections = manager.table().len() as u64;
        beat.revision = manager.feed().revision();
        beat.published = progress.published.load(Ordering::Acquire).min(beat.revision);
        beat.state = if synced { "synced" } else { "reconciling" }.into();
        beat.at_ms = NodeBeat::millis(SystemTime::now());
        let Ok(payload) = serde_json::to_vec(&beat) else {
            continue;
        };
        // The bucket may not exist until the publisher's first reconcile;
        // a lost beat is the next one's business.
        if let Ok(ack) = js.publish(subject.clone(), payload.into()).await {
            let _ = tokio::time::timeout(interval, ack).await;
        }
    }
}

/// Subscribes to `subject`, trying again every second until NATS lets it.
async fn subscribe(client: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    loop {
        match client.subscribe(subject.to_owned()).await {
            Ok(s) => return s,
            Err(e) => {
                tracing::warn!("fleet: cannot subscribe to {subject}: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Answers fleet disconnect requests for this node, from every operator:
/// `rras.fleet.<node>.disconnect.<operator>`.
async fn respond_to_disconnects(
    client: async_nats::Client,
    names: FleetNames,
    node: String,
    manager: Arc<ConnectionManager>,
    allowed: bool,
) {
    let subject = names.disconnect_filter(&node);
    let mut requests = subscribe(&client, &subject).await;
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_DISCONNECTS));
    while let Some(message) = requests.next().await {
        let Some(reply) = message.reply.clone() else { continue };
        // The operator is the subject's last token, which NATS let this
        // sender publish on: the name it proved, not one it typed.
        let Some(operator) = names.disconnect_operator(&node, message.subject.as_str()) else {
            tracing::warn!(
                subject = %rras_core::display::escape(message.subject.as_str()),
                "fleet: disconnect request without an operator refused"
            );
            continue;
        };
        let caller = format!("fleet:{operator}");
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (client, manager) = (client.clone(), manager.clone());
        tokio::spawn(async move {
            let status = fleet_disconnect(&manager, caller, &message.payload, allowed).await;
            let _permit = permit;
            if let Ok(body) = serde_json::to_vec(&DisconnectReply { status: status.code() }) {
                if let Err(e) = client.publish(reply, body.into()).await {
                    tracing::warn!("fleet: cannot answer a disconnect request: {e}");
                }
            }
        });
    }
}

/// History requests answered at once (each a store read).
const MAX_HISTORY_READS: usize = 4;
/// Usage reports made at once (each up to a second of every core).
const MAX_USAGE_REPORTS: usize = 1;

/// Makes a request's reply of its payload (blocking: it reads the store).
type Answer = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// Answers the requests on `subject`, `at_once` at a time, each with the
/// reply `answer` makes of its payload on a blocking thread (they read the
/// store); `what` names them in the log.
async fn respond_blocking(
    client: async_nats::Client,
    subject: String,
    at_once: usize,
    what: &'static str,
    answer: Answer,
) {
    let mut requests = subscribe(&client, &subject).await;
    let limit = Arc::new(tokio::sync::Semaphore::new(at_once));
    while let Some(message) = requests.next().await {
        let Some(reply) = message.reply.clone() else { continue };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (client, answer) = (client.clone(), answer.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(body) = tokio::task::spawn_blocking(move || answer(&message.payload)).await else {
                return;
            };
            if let Err(e) = client.publish(reply, body.into()).await {
                tracing::warn!("fleet: cannot answer a {what} request: {e}");
            }
        });
    }
}

/// Answers history requests for this node (`rras.fleet.<node>.history`):
/// its own history, at most `rras_fleet::history::MAX_ROWS` rows. A
/// malformed request gets INVALID_PARAMETER, not silence.
async fn respond_to_history(
    client: async_nats::Client,
    names: FleetNames,
    node: String,
    manager: Arc<ConnectionManager>,
) {
    use rras_fleet::history::{HistoryReply, HistoryRequest, HistoryRow, MAX_ROWS};
    let answer = move |payload: &[u8]| {
        let reply = match HistoryRequest::from_json(payload).and_then(|r| Ok((r.query()?, r.limit, r.before))) {
            Err(e) => {
                tracing::warn!(
                    "fleet: malformed history request refused: {}",
                    rras_core::display::escape(&e)
                );
                HistoryReply {
                    status: Win32Error::InvalidParameter.code(),
                    ..HistoryReply::default()
                }
            }
            Ok((query, rows, before)) => {
                let rows = usize::try_from(rows.clamp(1, MAX_ROWS)).unwrap_or(1);
                match manager.store().history_query(&query, before, rows) {
                    Ok(page) => HistoryReply {
                        status: 0,
                        rows: page.entries.iter().map(|(seq, e)| HistoryRow::of(*seq, e)).collect(),
                        next: page.next,
                    },
                    Err(e) => HistoryReply {
                        status: e.win32().code(),
                        ..HistoryReply::default()
                    },
                }
            }
        };
        serde_json::to_vec(&reply).unwrap_or_default()
    };
    let subject = names.history_subject(&node);
    respond_blocking(client, subject, MAX_HISTORY_READS, "history", Arc::new(answer)).await;
}

/// Answers usage report requests for this node (`rras.fleet.<node>.usage`):
/// the report of its own sessions, ended and live, over the period asked.
async fn respond_to_usage(
    client: async_nats::Client,
    names: FleetNames,
    node: String,
    manager: Arc<ConnectionManager>,
) {
    use rras_fleet::usage::{UsageReply, UsageRequest, UsageSummary, MAX_TOP};
    let answer = move |payload: &[u8]| {
        let reply = match UsageRequest::from_json(payload).and_then(|r| Ok((r.period()?, r))) {
            Err(e) => {
                tracing::warn!(
                    "fleet: malformed usage request refused: {}",
                    rras_core::display::escape(&e)
                );
                UsageReply {
                    status: Win32Error::InvalidParameter.code(),
                    report: None,
                }
            }
            Ok(((from, to), request)) => {
                let top = usize::try_from(request.top.min(MAX_TOP)).unwrap_or(0);
                match manager.usage(from, to, SystemTime::now(), top, request.by()) {
                    Ok(report) => UsageReply {
                        status: 0,
                        report: Some(UsageSummary::of(&report)),
                    },
                    Err(e) => UsageReply {
                        status: e.win32().code(),
                        report: None,
                    },
                }
            }
        };
        serde_json::to_vec(&reply).unwrap_or_default()
    };
    let subject = names.usage_subject(&node);
    respond_blocking(client, subject, MAX_USAGE_REPORTS, "usage", Arc::new(answer)).await;
}

/// Checks and carries out one request; audited as `caller`
/// (`fleet:<operator>`).
async fn fleet_disconnect(manager: &ConnectionManager, caller: String, payload: &[u8], allowed: bool) -> Win32Error {
    let request = match DisconnectRequest::from_json(payload) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(caller, "fleet: malformed disconnect request refused: {e}");
            return Win32Error::InvalidParameter;
        }
    };
    let status = if !allowed {
        Win32Error::AccessDenied
    } else {
        match ConnectionHandle::new(request.handle) {
            None => Win32Error::InvalidHandle,
            Some(h) => manager.disconnect(h).await.err().unwrap_or(Win32Error::NoError),
        }
    };
    manager
        .audit(AuditRecord {
            at: SystemTime::now(),
            caller: caller.clone(),
            method: "ConnectionDisconnect".into(),
            target: request.handle.to_string(),
            result: status.code(),
        })
        .await;
    tracing::info!(
        caller,
        handle = request.handle,
        result = status.code(),
        "fleet disconnect"
    );
    status
}
