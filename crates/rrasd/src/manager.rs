//! `ConnectionManager`: the Demand-Dial Manager of rrasd. Every change from
//! every source goes through here: table first, then the journal, and only
//! then the caller's acknowledgement.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use parking_lot::RwLock;
use rras_core::{
    AuditRecord, Connection, ConnectionHandle, ConnectionInfo, ConnectionStats, ConnectionTable, EndedConnection,
    EngineKind, SourceKey, Win32Error,
};
use rras_store::Store;

use crate::journal::{Journal, JournalEntry};

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

/// A source that can hang up the sessions it reported (RADIUS
/// Disconnect-Request, OpenVPN client-kill …).
pub trait Disconnector: Send + Sync + fmt::Debug {
    /// Asks the engine to end `connection`; the result is the call's status.
    fn disconnect(&self, connection: Arc<Connection>) -> Pin<Box<dyn Future<Output = Win32Error> + Send>>;
}

/// One change reported by a source.
#[derive(Debug, Clone)]
pub enum ReportEvent {
    /// A session is up, or everything about it is re-stated (upsert).
    Started(Box<ConnectionInfo>),
    /// New counters for a known session.
    Updated {
        /// Which session.
        key: SourceKey,
        /// Its counters now.
        stats: ConnectionStats,
    },
    /// The session ended.
    Ended {
        /// Which session.
        key: SourceKey,
        /// Why (goes into the history).
        reason: String,
        /// Final counters, if the engine gave them.
        stats: Option<ConnectionStats>,
    },
}

/// The connection manager.
#[derive(Debug)]
pub struct ConnectionManager {
    table: Arc<ConnectionTable>,
    journal: Journal,
    store: Arc<Store>,
    state: AtomicU8,
    started: Instant,
    disconnectors: RwLock<HashMap<EngineKind, Arc<dyn Disconnector>>>,
}

impl ConnectionManager {
    /// A manager over a loaded table; the state starts as `Starting`.
    pub fn new(table: Arc<ConnectionTable>, store: Arc<Store>) -> Self {
        ConnectionManager {
            journal: Journal::spawn(store.clone(), table.clone()),
            table,
            store,
            state: AtomicU8::new(ServiceState::Starting as u8),
            started: Instant::now(),
            disconnectors: RwLock::new(HashMap::new()),
        }
    }

    /// The table (read-only use by the admin service).
    pub fn table(&self) -> &ConnectionTable {
        &self.table
    }

    /// The durable store (history reads).
    pub fn store(&self) -> &Store {
        &self.store
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

    /// Registers the hang-up path for an engine's connections.
    pub fn register_disconnector(&self, engine: EngineKind, d: Arc<dyn Disconnector>) {
        self.disconnectors.write().insert(engine, d);
    }

    /// Applies `events` to the table, makes them durable in one commit, and
    /// returns each event's handle or status. Returns Err only when the
    /// commit failed, in which case no event is acknowledged.
    pub async fn apply(
        &self,
        events: Vec<ReportEvent>,
    ) -> Result<Vec<Result<ConnectionHandle, Win32Error>>, Win32Error> {
        let mut results = Vec::with_capacity(events.len());
        let mut entries = Vec::with_capacity(events.len());
        let mut created = Vec::new();
        let mut ended = Vec::new();
        let now = SystemTime::now();
        for event in events {
            let result = match event {
                ReportEvent::Started(info) => {
                    let up = self.table.upsert(*info);
                    if up.created {
                        created.push(up.handle);
                    }
                    entries.push(JournalEntry::Persist(up.handle));
                    Ok(up.handle)
                }
                ReportEvent::Updated { key, stats } => {
                    self.table.find(&key).ok_or(Win32Error::NoConnection).and_then(|h| {
                        self.table.update_stats(h, stats)?;
                        entries.push(JournalEntry::Persist(h));
                        Ok(h)
                    })
                }
                ReportEvent::Ended { key, reason, stats } => {
                    match self.table.find(&key).and_then(|h| self.table.remove(h)) {
                        None => Err(Win32Error::NoConnection),
                        Some(c) => {
                            let mut connection = (*c).clone();
                            if let Some(stats) = stats {
                                connection.info.stats = stats;
                            }
                            ended.push(connection.clone());
                            entries.push(JournalEntry::End(Box::new(EndedConnection {
                                connection,
                                ended_at: now,
                                reason,
                            })));
                            Ok(c.handle)
                        }
                    }
                }
            };
            results.push(result);
        }
        if entries.is_empty() {
            return Ok(results);
        }
        if let Err(e) = self.journal.commit(entries).await {
            // Nothing of this group is durable: undo what readers could see.
            for h in created {
                self.table.remove(h);
            }
            self.table.restore(ended, 0);
            return Err(e.win32());
        }
        Ok(results)
    }

    /// Appends to the audit trail (durably; a failure is logged, and the
    /// call it records still gets its answer).
    pub async fn audit(&self, record: AuditRecord) {
        if let Err(e) = self.journal.commit(vec![JournalEntry::Audit(Box::new(record))]).await {
            tracing::error!("audit record not written: {e}");
        }
    }

    /// Ends a connection by handle (admin disconnect, stale sweep).
    pub async fn end_connection(&self, handle: ConnectionHandle, reason: &str) -> Result<(), Win32Error> {
        let c = self.table.get(handle).ok_or(Win32Error::NoConnection)?;
        self.apply(vec![ReportEvent::Ended {
            key: c.info.source.clone(),
            reason: reason.to_owned(),
            stats: None,
        }])
        .await?
        .remove(0)
        .map(|_| ())
    }

    /// Zeroes a connection's counters (MprAdminConnectionClearStats).
    pub async fn clear_stats(&self, handle: ConnectionHandle) -> Result<(), Win32Error> {
        self.table.update_stats(handle, ConnectionStats::default())?;
        self.journal
            .commit(vec![JournalEntry::Persist(handle)])
            .await
            .map_err(|e| e.win32())
    }

    /// Asks the owning source to hang the connection up; on success the
    /// connection is ended with reason "admin-disconnect".
    /// An unknown handle is ERROR_INVALID_HANDLE; a NAS that answers "no such
    /// session" gives ERROR_NO_CONNECTION.
    pub async fn disconnect(&self, handle: ConnectionHandle) -> Result<(), Win32Error> {
        let c = self.table.get(handle).ok_or(Win32Error::InvalidHandle)?;
        let disconnector = self.disconnectors.read().get(&c.info.source.engine).cloned();
        let Some(disconnector) = disconnector else {
            return Err(Win32Error::NotSupported);
        };
        match disconnector.disconnect(c).await {
            Win32Error::NoError => match self.end_connection(handle, "admin-disconnect").await {
                // The engine's own stop event may have raced us: still a success.
                Ok(()) | Err(Win32Error::NoConnection) => Ok(()),
                Err(e) => Err(e),
            },
            e => Err(e),
        }
    }
}
