//! `ConnectionManager`: the Demand-Dial Manager of rrasd. Every change from
//! every source goes through here: table first, then the journal, and only
//! then the caller's acknowledgement.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use parking_lot::RwLock;
use rras_core::{
    AuditRecord, ConnectionHandle, ConnectionStats, ConnectionTable, EndedConnection, Guid, SourceKey, Win32Error,
};
use rras_store::Store;

use rras_source::{DynHangUp, HealthRegistry, Sink, SourceEvent, SourceHealth, Staged};

use crate::feed::{ChangeFeed, ChangeKind};
use crate::journal::{Journal, JournalEntry, Undo};
use rras_core::SourceId;

/// The DDM's life cycle. Enumeration answers ERROR_DDM_NOT_RUNNING unless
/// the state is `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ServiceState {
    /// Loading the store and reconciling sources.
    Starting = 0,
    /// Serving.
    Running = 1,
    /// Shutting down.
    Stopping = 2,
}

impl ServiceState {
    /// Lower-case name for replies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Starting => "starting",
            ServiceState::Running => "running",
            ServiceState::Stopping => "stopping",
        }
    }
}

/// The connection manager.
#[derive(Debug)]
pub struct ConnectionManager {
    table: Arc<ConnectionTable>,
    journal: Journal,
    store: Arc<Store>,
    state: AtomicU8,
    started: Instant,
    hang_ups: RwLock<HashMap<SourceId, Arc<dyn DynHangUp>>>,
    health: HealthRegistry,
    node_id: Guid,
    /// Sessions whose admin hang-up is in progress.
    hanging_up: parking_lot::Mutex<std::collections::HashSet<SourceKey>>,
    /// Every durable change, numbered (the Watch RPC).
    feed: Arc<ChangeFeed>,
    /// Denied calls beyond a few per caller per minute are summed, not
    /// written one by one.
    denials: crate::denials::DenialLimiter,
}

pub use rras_source::ADMIN_DISCONNECT;

impl ConnectionManager {
    /// A manager over a loaded table; the state starts as `Starting`.
    pub fn new(table: Arc<ConnectionTable>, store: Arc<Store>) -> Self {
        // A store that cannot say (I/O error right after opening) gives the
        // nil id; ServerGetInfo still answers.
        let node_id = Guid::from_u128(store.node_id().unwrap_or(0));
        // The feed continues from the store's last revision. (A store that
        // cannot say fails its commits too; the daemon is not serving then.)
        let revision = store.revision().unwrap_or_else(|e| {
            tracing::error!("cannot read the change feed's revision: {e}");
            0
        });
        let feed = Arc::new(ChangeFeed::new(revision));
        ConnectionManager {
            journal: Journal::spawn(store.clone(), table.clone(), feed.clone()),
            feed,
            table,
            store,
            state: AtomicU8::new(ServiceState::Starting as u8),
            started: Instant::now(),
            hang_ups: RwLock::new(HashMap::new()),
            health: HealthRegistry::default(),
            node_id,
            hanging_up: parking_lot::Mutex::new(std::collections::HashSet::new()),
            denials: crate::denials::DenialLimiter::default(),
        }
    }

    /// The table (read-only use by the admin service).
    pub fn table(&self) -> &ConnectionTable {
        &self.table
    }

    /// The change feed (Watch).
    pub fn feed(&self) -> &ChangeFeed {
        &self.feed
    }

    /// The durable store (history reads).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The live connections that match `query`, at most `limit`, newest
    /// start first: a walk over the table's records (the live table has no
    /// history indexes; at a million rows a fraction of a second).
    pub fn live_matching(&self, query: &rras_core::HistoryQuery, limit: usize) -> Vec<rras_core::Connection> {
        let mut live: Vec<rras_core::Connection> = self
            .table
            .records()
            .iter()
            .map(rras_core::Record::decode)
            .filter(|c| query.matches(&c.info, None))
            .collect();
        live.sort_by_key(|c| std::cmp::Reverse(c.info.started_at));
        live.truncate(limit);
        live
    }

    /// The usage report of `[from, to)` as of `now`: the history's
    /// sessions that overlap it and the live ones; blocking (a month at
    /// ten million sessions reads the month's usage columns).
    pub fn usage(
        &self,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
        now: std::time::SystemTime,
        top: usize,
        by: rras_core::usage::TopBy,
    ) -> Result<rras_core::usage::UsageReport, rras_store::StoreError> {
        let records = self.table.records();
        self.store.usage((from, to, now), top, by, |builder| {
            for record in &records {
                builder.add(&record.decode().info, None);
            }
        })
    }

    /// Current state.
    pub fn state(&self) -> ServiceState {
        match self.state.load(Ordering::Acquire) {
            0 => ServiceState::Starting,
            1 => ServiceState::Running,
            _ => ServiceState::Stopping,
        }
    }

    /// Moves to `state`.
    pub fn set_state(&self, state: ServiceState) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Err(ERROR_DDM_NOT_RUNNING) unless running.
    pub fn ensure_running(&self) -> Result<(), Win32Error> {
        match self.state() {
            ServiceState::Running => Ok(()),
            _ => Err(Win32Error::DdmNotRunning),
        }
    }

    /// Time since the manager was created.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// This node's persistent identity.
    pub fn node_id(&self) -> Guid {
        self.node_id
    }

    /// The health of every source instance.
    pub fn health(&self) -> &HealthRegistry {
        &self.health
    }

    /// Applies `events` to the table, makes them durable in one commit, and
    /// returns each event's handle or status. Returns Err only when the
    /// commit failed, in which case no event is acknowledged.
    pub async fn apply(
        &self,
        events: Vec<SourceEvent>,
    ) -> Result<Vec<Result<ConnectionHandle, Win32Error>>, Win32Error> {
        self.stage(events).durable().await
    }

    /// The first half of [`Self::apply`]: changes the table and queues the
    /// changes for the journal, in the caller's order, without waiting.
    /// The daemon's own changes (an admin's hang-up, cleared counters) come
    /// here directly; a source's go through [`Sink::stage`], which first
    /// checks the rows are its own.
    pub fn stage(&self, events: Vec<SourceEvent>) -> Staged {
        let mut results = Vec::with_capacity(events.len());
        let mut entries = Vec::with_capacity(events.len());
        let mut undo = Vec::new();
        let now = SystemTime::now();
        for event in events {
            let result = match event {
                SourceEvent::Started(info) => {
                    let up = self.table.upsert(*info);
                    let kind = if up.previous.is_some() {
                        ChangeKind::Updated
                    } else {
                        ChangeKind::Started
                    };
                    undo.push(match up.previous {
                        Some(old) => Undo::Replace(old),
                        None => Undo::Remove(up.handle),
                    });
                    entries.push(self.persist(up.handle, kind));
                    Ok(up.handle)
                }
                SourceEvent::Updated { key, stats } => {
                    // A session that vanished between find and update is a
                    // per-event NO_CONNECTION like an unknown one: the rest of
                    // the batch still applies (all-or-nothing is about the
                    // commit, not about one stale event).
                    match self.table.find(&key).map(|h| (h, self.table.update_stats(h, stats))) {
                        Some((h, Ok(old))) => {
                            undo.push(Undo::Replace(old));
                            entries.push(self.persist(h, ChangeKind::Updated));
                            Ok(h)
                        }
                        Some((_, Err(e))) => Err(e),
                        None => Err(Win32Error::NoConnection),
                    }
                }
                SourceEvent::Ended { key, reason, stats, at } => {
                    match self.table.find(&key).and_then(|h| self.table.remove_record(h)) {
                        None => Err(Win32Error::NoConnection),
                        Some(record) => {
                            let mut connection = record.decode();
                            let handle = connection.handle;
                            undo.push(Undo::Reinsert(record));
                            if let Some(stats) = stats {
                                connection.info.stats = stats;
                            }
                            // The engine's time where it is plausible: not
                            // before the start, not after now.
                            let ended_at = at
                                .filter(|t| *t >= connection.info.started_at && *t <= now)
                                .unwrap_or(now);
                            entries.push(JournalEntry::End(Box::new(EndedConnection {
                                connection,
                                ended_at,
                                reason,
                            })));
                            Ok(handle)
                        }
                    }
                }
            };
            results.push(result);
        }
        let commit = (!entries.is_empty()).then(|| self.journal.submit(entries, undo));
        // On failure the journal has already taken the changes back out of
        // the table (journal.rs).
        let commit = commit
            .map(|c| -> rras_source::sink::Commit { Box::pin(async move { c.wait().await.map_err(|e| e.win32()) }) });
        Staged::new(results, commit)
    }

    /// The journal entry of a change to `handle`, with the record watchers
    /// are told about: the table's row right after the change.
    fn persist(&self, handle: ConnectionHandle, kind: ChangeKind) -> JournalEntry {
        JournalEntry::Persist {
            handle,
            change: self.table.record(handle).map(|r| (kind, r)),
        }
    }

    /// Appends to the audit trail (durably; a failure is logged, and the
    /// call it records still gets its answer).
    /// Denied calls and failed sign-ins go through the denial limiter
    /// (docs/security.md, "Audit trail"): a few per caller per minute are
    /// written, the rest summed into one record when the minute is over.
    pub async fn audit(&self, record: AuditRecord) {
        let mut entries = Vec::new();
        if record.result == Win32Error::AccessDenied.code() {
            let (ended, verdict) = self.denials.note(&record.caller, record.at);
            entries.extend(ended);
            if verdict == crate::denials::Denial::Write {
                entries.push(record);
            }
        } else {
            entries.push(record);
        }
        self.write_audit(entries).await;
    }

    /// Writes the denial summaries of minutes that are over; the server
    /// calls this every few seconds.
    pub async fn flush_denials(&self) {
        let due = self.denials.due(SystemTime::now());
        self.write_audit(due).await;
    }

    async fn write_audit(&self, records: Vec<AuditRecord>) {
        if records.is_empty() {
            return;
        }
        let entries = records.into_iter().map(|r| JournalEntry::Audit(Box::new(r))).collect();
        if let Err(e) = self.journal.commit(entries).await {
            tracing::error!("audit record not written: {e}");
        }
    }

    /// Returns once every change handed to the journal before this call is
    /// durable (and published to the feed): an empty group commit queued
    /// behind them.
    pub async fn durable_barrier(&self) -> Result<(), Win32Error> {
        self.journal.commit(Vec::new()).await.map_err(|e| e.win32())
    }

    /// Ends a connection by handle (admin disconnect, stale sweep).
    pub async fn end_connection(&self, handle: ConnectionHandle, reason: &str) -> Result<(), Win32Error> {
        let c = self.table.get(handle).ok_or(Win32Error::NoConnection)?;
        self.apply(vec![SourceEvent::Ended {
            key: c.info.source.clone(),
            reason: reason.to_owned(),
            stats: None,
            at: None,
        }])
        .await?
        .remove(0)
        .map(|_| ())
    }

    /// Zeroes a connection's counters (MprAdminConnectionClearStats).
    pub async fn clear_stats(&self, handle: ConnectionHandle) -> Result<(), Win32Error> {
        self.table.update_stats(handle, ConnectionStats::default())?;
        self.journal
            .commit(vec![self.persist(handle, ChangeKind::Updated)])
            .await
            .map_err(|e| e.win32())
    }

    /// Asks the owning source to hang the connection up; on success the
    /// connection is ended with reason "admin-disconnect".
    /// An unknown handle is ERROR_INVALID_HANDLE; a NAS that answers "no such
    /// session" gives ERROR_NO_CONNECTION.
    pub async fn disconnect(&self, handle: ConnectionHandle) -> Result<(), Win32Error> {
        let c = self.table.get(handle).ok_or(Win32Error::InvalidHandle)?;
        let hang_up = self.hang_ups.read().get(&SourceId::of(&c.info.source)).cloned();
        let Some(hang_up) = hang_up else {
            return Err(Win32Error::NotSupported);
        };
        // While the engine is being asked, a poll may already see the
        // session gone; that end is this hang-up's (see `hanging_up`).
        let key = c.info.source.clone();
        self.hanging_up.lock().insert(key.clone());
        let result = match hang_up.hang_up_connection(c).await {
            Win32Error::NoError => match self.end_connection(handle, ADMIN_DISCONNECT).await {
                // The engine's own stop event may have raced us: still a success.
                Ok(()) | Err(Win32Error::NoConnection) => Ok(()),
                Err(e) => Err(e),
            },
            e => Err(e),
        };
        self.hanging_up.lock().remove(&key);
        result
    }

    /// True while an admin hang-up of this session is in progress: a source
    /// that sees the session end meanwhile records it as `admin-disconnect`.
    pub fn is_hanging_up(&self, key: &SourceKey) -> bool {
        self.hanging_up.lock().contains(key)
    }
}

/// What sources may do: everything goes through the same table and journal
/// as the daemon's own changes, but only on the rows the instance owns.
impl Sink for ConnectionManager {
    fn table(&self) -> &ConnectionTable {
        &self.table
    }

    fn stage(&self, id: &SourceId, events: Vec<SourceEvent>) -> Staged {
        if events.iter().all(|e| id.owns(rras_core::SourceRef::of(e.key()))) {
            return ConnectionManager::stage(self, events);
        }
        // Rare (a source's bug): stage its own events and refuse the rest,
        // keeping each result in its event's place.
        let (mine, places): (Vec<SourceEvent>, Vec<bool>) = {
            let mut mine = Vec::new();
            let places = events
                .into_iter()
                .map(|e| {
                    let owned = id.owns(rras_core::SourceRef::of(e.key()));
                    if owned {
                        mine.push(e);
                    } else {
                        tracing::error!(source = %id, key = ?e.key(), "a source reported a row it does not own; refused");
                    }
                    owned
                })
                .collect();
            (mine, places)
        };
        let staged = ConnectionManager::stage(self, mine);
        Staged::new_spread(staged, &places, Win32Error::AccessDenied)
    }

    fn register_hang_up(&self, id: SourceId, hang_up: Arc<dyn DynHangUp>) {
        self.hang_ups.write().insert(id, hang_up);
    }

    fn health(&self, id: SourceId) -> Arc<SourceHealth> {
        self.health.register(id)
    }

    fn is_hanging_up(&self, key: &SourceKey) -> bool {
        ConnectionManager::is_hanging_up(self, key)
    }

    fn is_running(&self) -> bool {
        self.state() == ServiceState::Running
    }
}
