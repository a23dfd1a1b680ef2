//! `FleetReader`: the merged view of every node's connections, built by
//! watching the two buckets — first the last message of every key (a
//! complete snapshot once the watch has caught up), then every change as it
//! is stored. The same consumer is the live feed, so a view is never
//! re-listed to stay current.
//!
//! Everything in the buckets is untrusted: a key that is not
//! `<node>.<handle>`, a value that does not decode as a connection record
//! of that handle, or a malformed heartbeat is skipped and counted.

use std::collections::BTreeMap;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, kv};
use futures_util::StreamExt;
use hashbrown::HashMap;
use rras_core::record::{decode_into, empty_connection};
use rras_core::Connection;

use std::sync::Arc;

use crate::arena::{RecordArena, Slot, MAX_RECORD};
use crate::buckets::{self, Buckets};
use crate::options::Connects;
use crate::watch::{BucketWatch, ServerClients};
use crate::{ConnectionKey, FleetError, FleetNames, NodeBeat};

/// What a reader knows of one node.
#[derive(Debug, Clone, Default)]
pub struct NodeStatus {
    /// Its last heartbeat (None: its connections are in the bucket but it
    /// never beat, or its beat was malformed).
    pub beat: Option<NodeBeat>,
    /// Its connections in this view.
    pub connections: usize,
}

impl NodeStatus {
    /// No recent heartbeat: its connections may be out of date.
    pub fn is_stale(&self, now: SystemTime) -> bool {
        self.beat.as_ref().is_none_or(|b| b.is_stale(now))
    }
}

/// One connection of the merged view.
#[derive(Debug, Clone, Copy)]
pub struct FleetConnection<'a> {
    /// The owning node's id.
    pub node: &'a str,
    /// Its handle there.
    pub handle: u32,
    /// Whether the owning node is stale.
    pub stale: bool,
    record: &'a [u8],
}

impl FleetConnection<'_> {
    /// The connection (decoded from its record; records are checked when
    /// stored, so None does not happen for an entry of a view).
    pub fn connection(&self) -> Option<Connection> {
        let mut c = empty_connection();
        decode_into(self.record, &mut c).ok().map(|()| c)
    }

    /// The record bytes as the node published them.
    pub fn record(&self) -> &[u8] {
        self.record
    }
}

/// The merged view: every node and every connection.
#[derive(Debug, Default)]
pub struct FleetView {
    nodes: BTreeMap<String, NodeStatus>,
    /// Node ids by index (keys of `connections` use the index: a million
    /// connections do not each carry a 36-byte id).
    node_ids: Vec<String>,
    node_index: HashMap<String, u32>,
    connections: HashMap<(u32, u32), Slot>,
    /// The records themselves, in pages (docs in `arena.rs`).
    records: RecordArena,
    /// Where each value is decoded to be checked (one, reused: checking a
    /// million values allocates nothing).
    scratch: Option<Connection>,
    /// Keys or values that were not what a node publishes.
    pub skipped: u64,
}

/// What changed in the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEvent {
    /// A connection came up or changed.
    Put(ConnectionKey),
    /// A connection ended (or its node took it back).
    Removed(ConnectionKey),
    /// A node's heartbeat (or its removal).
    Node(String),
    /// Something malformed was skipped.
    Skipped,
}

impl FleetView {
    /// Makes room for a bucket of `messages` keys, as the server counts
    /// them: up to [`PRESIZE_MAX`], and only as far as memory allows (a
    /// count that lies is not an allocation that aborts).
    fn presize(&mut self, messages: u64) {
        let _ = self.connections.try_reserve(presize_hint(messages));
    }

    /// Connections in the view.
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    /// No connections.
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    /// Every node that beat or has connections, by id.
    pub fn nodes(&self) -> &BTreeMap<String, NodeStatus> {
        &self.nodes
    }

    /// A node by id, unique id prefix, or name.
    pub fn find_node<'a>(&'a self, wanted: &str) -> Result<&'a str, FleetError> {
        if let Some((id, _)) = self.nodes.get_key_value(wanted) {
            return Ok(id);
        }
        let matches: Vec<&str> = self
            .nodes
            .iter()
            .filter(|(id, s)| id.starts_with(wanted) || s.beat.as_ref().is_some_and(|b| b.name == wanted))
            .map(|(id, _)| id.as_str())
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(FleetError::UnknownNode(wanted.to_owned())),
            _ => Err(FleetError::UnknownNode(format!(
                "{wanted} (ambiguous: {})",
                matches.join(", ")
            ))),
        }
    }

    /// A node's name from its heartbeat, or its id when it never beat.
    pub fn node_name<'a>(&'a self, node: &'a str) -> &'a str {
        self.nodes
            .get(node)
            .and_then(|s| s.beat.as_ref())
            .map_or(node, |b| b.name.as_str())
    }

    /// One connection.
    pub fn get(&self, node: &str, handle: u32) -> Option<FleetConnection<'_>> {
        let ix = *self.node_index.get(node)?;
        let slot = *self.connections.get(&(ix, handle))?;
        Some(self.entry(ix, handle, slot, SystemTime::now()))
    }

    /// Every connection, sorted by node id then handle.
    pub fn connections(&self) -> Vec<FleetConnection<'_>> {
        let now = SystemTime::now();
        let mut all: Vec<FleetConnection<'_>> = self
            .connections
            .iter()
            .map(|(&(ix, h), &slot)| self.entry(ix, h, slot, now))
            .collect();
        all.sort_unstable_by(|a, b| (a.node, a.handle).cmp(&(b.node, b.handle)));
        all
    }

    fn entry(&self, ix: u32, handle: u32, slot: Slot, now: SystemTime) -> FleetConnection<'_> {
        let node = self.node_ids[ix as usize].as_str();
        let stale = self.nodes.get(node).is_none_or(|s| s.is_stale(now));
        FleetConnection {
            node,
            handle,
            stale,
            record: self.records.get(slot),
        }
    }

    fn node_ix(&mut self, node: &str) -> u32 {
        if let Some(&ix) = self.node_index.get(node) {
            return ix;
        }
        let ix = self.node_ids.len() as u32;
        self.node_ids.push(node.to_owned());
        self.node_index.insert(node.to_owned(), ix);
        self.nodes.entry(node.to_owned()).or_default();
        ix
    }

    /// Applies one entry of the connections bucket.
    pub fn apply_connection(&mut self, key: &str, operation: kv::Operation, value: &[u8]) -> FleetEvent {
        let Some((node, handle)) = ConnectionKey::split(key) else {
            self.skipped += 1;
            return FleetEvent::Skipped;
        };
        let key = || ConnectionKey {
            node: node.to_owned(),
            handle,
        };
        match self.store(node, handle, operation, value) {
            Some(true) => FleetEvent::Put(key()),
            Some(false) => FleetEvent::Removed(key()),
            None => FleetEvent::Skipped,
        }
    }

    /// Applies an entry without describing it (what catching up does a
    /// million times).
    fn store_connection(&mut self, key: &str, operation: kv::Operation, value: &[u8]) {
        match ConnectionKey::split(key) {
            Some((node, handle)) => {
                self.store(node, handle, operation, value);
            }
            None => self.skipped += 1,
        }
    }

    /// Applies an entry of a well-formed key: Some(true) a put, Some(false)
    /// a removal, None a value that was skipped.
    fn store(&mut self, node: &str, handle: u32, operation: kv::Operation, value: &[u8]) -> Option<bool> {
        match operation {
            kv::Operation::Put => {
                let scratch = self.scratch.get_or_insert_with(empty_connection);
                if value.len() > MAX_RECORD || decode_into(value, scratch).is_err() || scratch.handle.get() != handle {
                    self.skipped += 1;
                    return None;
                }
                let ix = self.node_ix(node);
                let slot = self.records.push(value);
                match self.connections.insert((ix, handle), slot) {
                    Some(old) => self.records.free(old),
                    None => {
                        if let Some(s) = self.nodes.get_mut(node) {
                            s.connections += 1;
                        }
                    }
                }
                if self.records.wants_compaction() {
                    self.records.compact(self.connections.values_mut());
                }
                Some(true)
            }
            kv::Operation::Delete | kv::Operation::Purge => {
                if let Some(&ix) = self.node_index.get(node) {
                    if let Some(old) = self.connections.remove(&(ix, handle)) {
                        self.records.free(old);
                        if let Some(s) = self.nodes.get_mut(node) {
                            s.connections -= 1;
                        }
                    }
                }
                Some(false)
            }
        }
    }

    /// Applies one entry of the nodes bucket.
    pub fn apply_beat(&mut self, key: &str, operation: kv::Operation, value: &[u8]) -> FleetEvent {
        if !crate::names::is_node_id(key) {
            self.skipped += 1;
            return FleetEvent::Skipped;
        }
        let beat = match operation {
            kv::Operation::Put => match NodeBeat::from_json(value) {
                Ok(b) if b.node == key => Some(b),
                _ => {
                    self.skipped += 1;
                    return FleetEvent::Skipped;
                }
            },
            _ => None,
        };
        self.node_ix(key);
        if let Some(s) = self.nodes.get_mut(key) {
            s.beat = beat;
        }
        FleetEvent::Node(key.to_owned())
    }
}

/// One bucket being followed: its watch, and the newest revision (stream
/// sequence) applied, to resume from if the watch breaks.
struct Followed {
    /// The context the consumers are made through (with the reader's
    /// timeout), and the bucket.
    js: jetstream::Context,
    store: kv::Store,
    /// Where a consumer is read from, for a large bucket.
    servers: Option<Arc<ServerClients>>,
    watch: BucketWatch,
    last: u64,
    /// The stream's last sequence when an idle watch was last checked.
    checked: u64,
    /// When the watch last delivered.
    progress: tokio::time::Instant,
    /// Delivered since `progress` was set (the clock is read once the
    /// watch has nothing ready, not per entry).
    moved: bool,
    /// A look at the stream's last sequence, in flight, with the last
    /// revision applied when it was asked.
    check: Option<tokio::task::JoinHandle<(u64, Option<u64>)>>,
    /// When the last check was asked.
    asked: tokio::time::Instant,
    /// Since when the watch must be opened again. Kept here, not in a
    /// local: a caller that cancels `next` while the watch is being
    /// reopened (a select loop, a timeout — slow while a NATS server fails
    /// over) reopens it on its next call instead of forgetting (seen as a
    /// reader stuck on a dead watch whose quiet check had already fired).
    broken: Option<tokio::time::Instant>,
}

/// How a watch is followed: catching up (the view is not complete yet),
/// or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// The stream is asked every [`CATCH_UP_CHECK`] whether anything is
    /// left to read, deliveries or not: the only exact end of a catch-up
    /// on nats-server 2.9 (see [`Followed::catch_up`]).
    CatchingUp,
    /// The stream is asked only when the watch was quiet for
    /// [`IDLE_CHECK`]: messages it should have had mean it is broken.
    Live,
}

/// How long a JetStream call of a reader may take, for a bucket of
/// `messages`: a server busy with a large bucket (a node's reconcile, a
/// replica catching up) answers late, but a call lost while a NATS server
/// fails over must be retried soon.
pub fn setup_timeout(messages: u64) -> Duration {
    // The count is the server's word: a wrong one must not make a reader
    // wait for ever (ten minutes is a bucket of 30M messages).
    Duration::from_secs(2 + (messages / 50_000).min(598))
}

/// Keys a reader of the bucket (the view, a node reconciling its own
/// keys) makes room for up front at most, whatever the server says the
/// bucket holds: past this a table grows as keys arrive.
const PRESIZE_MAX: usize = 1 << 24;

/// How many keys to make room for (with `try_reserve`: only as far as
/// memory allows) when the server counts `messages` in the bucket.
pub fn presize_hint(messages: u64) -> usize {
    usize::try_from(messages).unwrap_or(usize::MAX).min(PRESIZE_MAX)
}

/// How long a broken watch is retried before the reader gives up (a NATS
/// server failing over takes seconds).
const RESUME_FOR: Duration = Duration::from_secs(30);
/// A watch that delivered nothing for this long is checked against the
/// stream: messages it should have had mean it is broken.
const IDLE_CHECK: Duration = Duration::from_secs(3);
/// How often a catching-up reader asks whether it has had everything.
const CATCH_UP_CHECK: Duration = Duration::from_millis(25);

impl Followed {
    async fn open(
        js: &jetstream::Context,
        store: kv::Store,
        servers: Option<Arc<ServerClients>>,
    ) -> Result<Self, FleetError> {
        // Every message from the first, not "last per subject": a bucket
        // keeps one message per key, so the two deliver the same, but
        // nats-server 2.9 answers a last-per-subject consumer only after
        // finding every key's last message (over 5 s at a million keys,
        // and the servers' largest cost of a view). A bucket someone set
        // to keep history still ends right: later messages replace
        // earlier ones, in stream order.
        let watch = BucketWatch::open(js, &store, 1, servers.as_deref()).await?;
        Ok(Followed {
            js: js.clone(),
            store,
            servers,
            watch,
            last: 0,
            checked: 0,
            progress: tokio::time::Instant::now(),
            moved: false,
            check: None,
            asked: tokio::time::Instant::now(),
            broken: None,
        })
    }

    /// The next entry not seen yet. A watch can fail loudly (an error, its
    /// end) or quietly (its consumer died with a NATS server, and nothing
    /// more comes); either way it is opened again after the last revision
    /// applied, so every later message comes and none twice. The quiet
    /// check runs in its own task and its state lives here, so a caller
    /// that cancels `next` often (a select loop) still gets it.
    async fn next(&mut self) -> Result<kv::Entry, FleetError> {
        loop {
            if let Some(e) = self.next_or_quiet(Pace::Live).await? {
                return Ok(e);
            }
        }
    }

    /// [`next`](Self::next), or None when the stream was found to hold
    /// nothing after what was applied: a check reads the stream's last
    /// sequence and compares it with the last revision applied *before*
    /// asking (an entry applied while the answer travels may have been
    /// read by the consumer after a newer message replaced its key's).
    async fn next_or_quiet(&mut self, pace: Pace) -> Result<Option<kv::Entry>, FleetError> {
        self.reopen_if_broken().await?;
        // An entry already waiting is taken without timers or the clock:
        // catching up takes a million of them in a row.
        loop {
            // Polled once with this task's own waker (a no-op waker would
            // be what a Pending watch remembers to wake).
            let Poll::Ready(item) = std::future::poll_fn(|cx| Poll::Ready(self.watch.poll_next_unpin(cx))).await else {
                break;
            };
            match self.take(item) {
                Ok(Some(e)) => return Ok(Some(e)),
                Ok(None) => {}
                Err(failure) => {
                    self.broke(&failure);
                    self.reopen_if_broken().await?;
                }
            }
        }
        if std::mem::take(&mut self.moved) {
            self.progress = tokio::time::Instant::now();
        }
        loop {
            let due = match pace {
                Pace::CatchingUp => self.asked + CATCH_UP_CHECK,
                Pace::Live => self.progress.max(self.asked) + IDLE_CHECK,
            };
            let now = tokio::time::Instant::now();
            if self.check.is_none() && now >= due {
                let stream = self.store.stream.clone();
                let before = self.last;
                // Asked of the server each time: `kv::Store::status` only
                // returns the stream info cached when the bucket was
                // opened (async-nats 0.51), which made this check compare
                // with the stream as it was then — a watch that died
                // quietly was never noticed (seen once its consumer was
                // read over a second connection, to the server killed).
                self.check = Some(tokio::spawn(async move {
                    (before, stream.get_info().await.map(|i| i.state.last_sequence).ok())
                }));
                self.asked = now;
            }
            // With a check in flight its answer wakes the select.
            let deadline = if self.check.is_some() { now + IDLE_CHECK } else { due };
            let failure = tokio::select! {
                item = self.watch.next() => match self.take(item) {
                    Ok(Some(e)) => return Ok(Some(e)),
                    Ok(None) => continue,
                    Err(failure) => failure,
                },
                checked = async {
                    match self.check.as_mut() {
                        Some(task) => task.await.ok(),
                        None => std::future::pending().await,
                    }
                }, if self.check.is_some() => {
                    self.check = None;
                    let Some((before, Some(stream_last))) = checked else {
                        // The stream did not answer: asked again later.
                        continue;
                    };
                    // Live, an entry that came while the answer travelled
                    // counts too: the question is only whether the watch
                    // still works.
                    let applied = match pace {
                        Pace::CatchingUp => before,
                        Pace::Live => self.last,
                    };
                    if stream_last <= applied.max(self.checked) {
                        // Everything the stream held when asked was applied.
                        return Ok(None);
                    }
                    if pace == Pace::CatchingUp && self.progress.elapsed() < IDLE_CHECK {
                        // Behind, but entries are coming: not a broken watch.
                        continue;
                    }
                    // Messages exist that never came (or were purged: each
                    // sequence is acted on once, not in a loop).
                    self.checked = stream_last;
                    "the watch went quiet with messages pending".to_owned()
                }
                () = tokio::time::sleep_until(deadline) => continue,
            };
            self.broke(&failure);
            self.reopen_if_broken().await?;
        }
    }

    /// What one item of the watch means: an entry not seen yet (taken:
    /// the last revision and `moved` follow it), one seen already (None),
    /// or a failure to resume from.
    fn take(&mut self, item: Option<Result<kv::Entry, String>>) -> Result<Option<kv::Entry>, String> {
        match item {
            Some(Ok(e)) if e.revision <= self.last => Ok(None),
            Some(Ok(e)) => {
                self.last = e.revision;
                self.moved = true;
                Ok(Some(e))
            }
            Some(Err(e)) => Err(e),
            None => Err("the watch ended".to_owned()),
        }
    }

    /// Marks the watch to be opened again after the last applied revision.
    fn broke(&mut self, why: &str) {
        if self.broken.is_none() {
            tracing::warn!("fleet reader: {why}; resuming after revision {}", self.last);
            self.broken = Some(tokio::time::Instant::now());
        }
    }

    /// Opens a broken watch again after the last applied revision, trying
    /// for up to [`RESUME_FOR`] since it broke.
    async fn reopen_if_broken(&mut self) -> Result<(), FleetError> {
        let Some(since) = self.broken else {
            return Ok(());
        };
        loop {
            match BucketWatch::open(&self.js, &self.store, self.last + 1, self.servers.as_deref()).await {
                Ok(w) => {
                    self.watch = w;
                    self.broken = None;
                    return Ok(());
                }
                Err(e) if since.elapsed() > RESUME_FOR => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// Applies entries until the view is complete: every key at its last
    /// message as of some moment after the watch began. Two signs,
    /// whichever comes first: an entry with nothing pending after it, or a
    /// check (every [`CATCH_UP_CHECK`]) finding nothing in the stream after
    /// the revision applied before asking. The pending count alone is not
    /// enough: nats-server 2.9 counts a message replaced (by a newer one
    /// for its key) before it was delivered as still pending, for good —
    /// seen as a reader that never finished while heartbeats kept replacing
    /// each other. Nor is reaching the stream's last sequence as read once
    /// at the start: a key whose message was replaced after that read, but
    /// before the consumer reached it, comes only later (seen as a node
    /// missing from `rasctl fleet nodes` while heartbeats went on).
    async fn catch_up(&mut self, mut apply: impl FnMut(&kv::Entry)) -> Result<(), FleetError> {
        // The info cached when the bucket was opened, a moment ago: an
        // empty bucket has nothing to catch up on.
        if self.store.status().await.map_err(FleetError::js)?.info.state.messages == 0 {
            return Ok(());
        }
        while let Some(e) = self.next_or_quiet(Pace::CatchingUp).await? {
            apply(&e);
            if e.delta == 0 || e.seen_current {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// How long opening a reader is tried again while its calls time out.
const OPEN_FOR: Duration = Duration::from_secs(10);

/// Runs `attempt` again while it times out, for up to [`OPEN_FOR`]: a NATS
/// server that rejoined its cluster a moment ago drops JetStream requests
/// for a few seconds (seen right after a restart, the rest of the cluster
/// healthy). A timeout that is a refused permission is not waited out.
async fn while_timing_out<T, F>(connects: Option<&Connects>, mut attempt: impl FnMut() -> F) -> Result<T, FleetError>
where
    F: std::future::Future<Output = Result<T, FleetError>>,
{
    let since = tokio::time::Instant::now();
    loop {
        match attempt().await {
            Err(e @ FleetError::TimedOut(_)) => {
                let e = match connects {
                    Some(c) => c.explain(e),
                    None => e,
                };
                if !matches!(e, FleetError::TimedOut(_)) || since.elapsed() >= OPEN_FOR {
                    return Err(e);
                }
                tracing::warn!("fleet reader: {e}; trying again");
            }
            done => return done,
        }
    }
}

/// Watches the fleet and keeps a [`FleetView`] current.
pub struct FleetReader {
    connections: Followed,
    nodes: Followed,
    view: FleetView,
    /// The client's connection count, when the caller shared it: each
    /// reconnection resumes both watches at once.
    reconnects: Option<(Arc<Connects>, u64)>,
}

impl std::fmt::Debug for FleetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetReader")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl FleetReader {
    /// Opens the buckets and reads until the view is complete: every key's
    /// last message as of the moment the watch started. With the
    /// client's [`Connects`] (from
    /// [`FleetOptions::connect_watched`](crate::FleetOptions::connect_watched)),
    /// a refused permission fails at once instead of being waited out, and
    /// both watches resume whenever the client reconnects. With
    /// `servers` (connections made with the same options), a large
    /// connections bucket is read from the server its consumer landed on
    /// (see [`crate::watch`]); without, everything comes over `client`.
    pub async fn open(
        client: &async_nats::Client,
        names: &FleetNames,
        connects: Option<Arc<Connects>>,
        servers: Option<Arc<ServerClients>>,
    ) -> Result<Self, FleetError> {
        let mut reader =
            while_timing_out(connects.as_deref(), || Self::open_once(client, names, servers.clone())).await?;
        if let Some(connects) = connects {
            // Each reconnection resumes both watches; without it a watch
            // whose server died is found by its silence, seconds later.
            let seen = connects.count();
            reader.reconnects = Some((connects, seen));
        }
        Ok(reader)
    }

    async fn open_once(
        client: &async_nats::Client,
        names: &FleetNames,
        servers: Option<Arc<ServerClients>>,
    ) -> Result<Self, FleetError> {
        let mut js = jetstream::new(client.clone());
        let size = buckets::connection_messages(&js, names).await?;
        js.set_timeout(setup_timeout(size));
        let Buckets { connections, nodes } = buckets::open(&js, names).await?;
        let servers = servers.filter(|s| s.wanted_for(size));
        let mut reader = FleetReader {
            connections: Followed::open(&js, connections, servers).await?,
            nodes: Followed::open(&js, nodes, None).await?,
            view: FleetView::default(),
            reconnects: None,
        };
        // The table sized once for every key the bucket holds: growing it
        // by doubling would leave the smaller tables behind as garbage.
        reader.view.presize(size);
        let view = &mut reader.view;
        reader
            .nodes
            .catch_up(|e| {
                view.apply_beat(&e.key, e.operation, &e.value);
            })
            .await?;
        reader
            .connections
            .catch_up(|e| {
                view.store_connection(&e.key, e.operation, &e.value);
            })
            .await?;
        Ok(reader)
    }

    /// Just the nodes (their heartbeats), without reading a single
    /// connection: what `rasctl fleet nodes` and a disconnect need.
    /// `connects` as for [`open`](Self::open).
    pub async fn nodes(
        client: &async_nats::Client,
        names: &FleetNames,
        connects: Option<&Connects>,
    ) -> Result<FleetView, FleetError> {
        while_timing_out(connects, || Self::nodes_once(client, names)).await
    }

    async fn nodes_once(client: &async_nats::Client, names: &FleetNames) -> Result<FleetView, FleetError> {
        let js = jetstream::new(client.clone());
        let Buckets { nodes, .. } = buckets::open(&js, names).await?;
        let mut view = FleetView::default();
        Followed::open(&js, nodes, None)
            .await?
            .catch_up(|e| {
                view.apply_beat(&e.key, e.operation, &e.value);
            })
            .await?;
        Ok(view)
    }

    /// The view.
    pub fn view(&self) -> &FleetView {
        &self.view
    }

    /// Waits for the next change and applies it.
    pub async fn next(&mut self) -> Result<FleetEvent, FleetError> {
        loop {
            if let Some((connects, seen)) = &mut self.reconnects {
                let now = connects.count();
                if now != *seen {
                    *seen = now;
                    self.connections.broke("NATS reconnected");
                    self.nodes.broke("NATS reconnected");
                }
            }
            let reconnected = async {
                match &self.reconnects {
                    Some((connects, _)) => connects.notify.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                e = self.connections.next() => {
                    let e = e?;
                    return Ok(self.view.apply_connection(&e.key, e.operation, &e.value));
                }
                e = self.nodes.next() => {
                    let e = e?;
                    return Ok(self.view.apply_beat(&e.key, e.operation, &e.value));
                }
                () = reconnected => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::ConnectionHandle;

    fn record(handle: u32, user: &str) -> Vec<u8> {
        let mut info = rras_core::synthetic::connection(u64::from(handle), SystemTime::now());
        info.user_name = user.into();
        rras_core::Record::encode_info(ConnectionHandle::new(handle).unwrap(), &info)
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn what_the_server_counts_sizes_nothing_beyond_bounds() {
        let mut v = FleetView::default();
        v.presize(u64::MAX);
        let room = v.connections.capacity();
        assert!((PRESIZE_MAX..4 * PRESIZE_MAX).contains(&room), "room for {room} keys");
        let mut small = FleetView::default();
        small.presize(1_000);
        assert!((1_000..4_000).contains(&small.connections.capacity()));
        assert_eq!(setup_timeout(0), Duration::from_secs(2));
        assert_eq!(setup_timeout(10_000_000), Duration::from_secs(202));
        assert_eq!(setup_timeout(u64::MAX), Duration::from_secs(600));
    }

    #[test]
    fn puts_deletes_beats_and_hostile_entries() {
        let mut v = FleetView::default();
        let a = "aaaa-1";
        assert_eq!(
            v.apply_connection("aaaa-1.7", kv::Operation::Put, &record(7, "alice")),
            FleetEvent::Put(ConnectionKey {
                node: a.into(),
                handle: 7
            })
        );
        v.apply_connection("aaaa-1.8", kv::Operation::Put, &record(8, "bob"));
        v.apply_connection("bbbb-2.7", kv::Operation::Put, &record(7, "carol"));
        assert_eq!(v.len(), 3);
        assert_eq!(v.get(a, 7).unwrap().connection().unwrap().info.user_name, "alice");
        // The same key again replaces; a delete removes; both count right.
        v.apply_connection("aaaa-1.7", kv::Operation::Put, &record(7, "alice2"));
        v.apply_connection("aaaa-1.8", kv::Operation::Delete, b"");
        assert_eq!(v.len(), 2);
        assert_eq!(v.nodes()[a].connections, 1);
        // Hostile: a record of another handle, garbage, a foreign key.
        assert_eq!(
            v.apply_connection("aaaa-1.9", kv::Operation::Put, &record(10, "x")),
            FleetEvent::Skipped
        );
        assert_eq!(
            v.apply_connection("aaaa-1.9", kv::Operation::Put, b"\x02garbage"),
            FleetEvent::Skipped
        );
        assert_eq!(
            v.apply_connection("weird", kv::Operation::Put, &record(1, "x")),
            FleetEvent::Skipped
        );
        // Larger than any record a node makes (a slot holds 64 KiB).
        let mut huge = record(9, "x");
        huge.resize(MAX_RECORD + 1, 0);
        assert_eq!(
            v.apply_connection("aaaa-1.9", kv::Operation::Put, &huge),
            FleetEvent::Skipped
        );
        assert_eq!(v.skipped, 4);
        assert_eq!(v.len(), 2);
        // No beat: stale; a fresh beat: live; lookups by name and prefix.
        let now = SystemTime::now();
        assert!(v.connections().iter().all(|c| c.stale));
        let beat = NodeBeat {
            node: a.into(),
            name: "vpn-a".into(),
            version: "t".into(),
            connections: 1,
            revision: 1,
            published: 1,
            state: "synced".into(),
            at_ms: NodeBeat::millis(now),
            interval_ms: 2000,
            disconnect: true,
        };
        v.apply_beat(a, kv::Operation::Put, &serde_json::to_vec(&beat).unwrap());
        let stale: Vec<bool> = v.connections().iter().map(|c| c.stale).collect();
        assert_eq!(stale, [false, true], "sorted by node: aaaa-1 live, bbbb-2 stale");
        assert_eq!(v.find_node("vpn-a").unwrap(), a);
        assert_eq!(v.find_node("bbbb").unwrap(), "bbbb-2");
        assert!(v.find_node("zzz").is_err());
        // A beat under another node's key is refused.
        assert_eq!(
            v.apply_beat("bbbb-2", kv::Operation::Put, &serde_json::to_vec(&beat).unwrap()),
            FleetEvent::Skipped
        );
    }
}
