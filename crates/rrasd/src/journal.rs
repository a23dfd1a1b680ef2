//! `Journal`: group commit of table changes into the durable store.
//!
//! Writers send what changed and wait for the reply; one task takes every
//! request that is waiting, writes them in a single redb transaction (one
//! fsync for the whole group), then answers all of them. A burst of 10k
//! RADIUS packets therefore costs a few hundred fsyncs, not 10k.
//!
//! A `Persist` entry names a handle, not a snapshot: the writer reads the
//! table's current row at commit time, so two racing updates of one
//! connection can never leave the older one on disk.
//!
//! A failed commit is not known to have changed nothing: when the fsync
//! fails, the transaction may already be in the file, and the store
//! re-opens onto it. So the commit task itself takes the group's changes
//! back out of the table (before it builds the next group) and remembers
//! every handle the group touched; the next commit writes those handles'
//! table state again, which brings the disk back to what the table says —
//! a session rolled back here cannot come back from the disk after a
//! restart.
//!
//! A successful commit publishes its changes to the [`ChangeFeed`], each
//! with the next revision; the last revision is part of the same
//! transaction. The handles re-written after a failure go out too (as
//! updates, or as removals), so a watcher that listed a change which was
//! then taken back hears about it.

use std::collections::BTreeSet;

use std::sync::Arc;

use rras_core::{AuditRecord, ConnectionHandle, ConnectionTable, EndedConnection, Record};

use crate::feed::{ChangeBody, ChangeFeed, ChangeKind, PendingChange};
use rras_store::{Store, StoreError, StoreOp};
use tokio::sync::{mpsc, oneshot};

/// One change to make durable.
#[derive(Debug, Clone)]
pub enum JournalEntry {
    /// Write the table's current state of this connection (or delete it if
    /// it is no longer in the table); `change` is what watchers are told
    /// (the connection as of this change, which a later change in the same
    /// group may already have replaced in the table).
    Persist {
        /// Which connection.
        handle: ConnectionHandle,
        /// Started or Updated, and the record then.
        change: Option<(ChangeKind, Record)>,
    },
    /// The connection ended: drop it from the active set, add it to history.
    End(Box<EndedConnection>),
    /// An audit record.
    Audit(Box<AuditRecord>),
}

/// How to take back one table change whose commit failed.
#[derive(Debug)]
pub enum Undo {
    /// It was created: remove it.
    Remove(ConnectionHandle),
    /// It was changed: put this version back.
    Replace(Record),
    /// It was removed: insert it again.
    Reinsert(Record),
}

impl Undo {
    fn apply(self, table: &ConnectionTable) {
        match self {
            Undo::Remove(h) => {
                table.remove(h);
            }
            Undo::Replace(old) => {
                table.put_back(old);
            }
            Undo::Reinsert(old) => table.restore([old], 0),
        }
    }
}

struct Request {
    entries: Vec<JournalEntry>,
    undo: Vec<Undo>,
    done: oneshot::Sender<Result<(), Arc<StoreError>>>,
}

/// Handle to the commit task. Cloning is cheap.
///
/// The queue is unbounded so that [`Journal::submit`] never waits and keeps
/// its callers' order; what bounds it is upstream: every request belongs to
/// a reporter waiting for its answer (a RADIUS window, a Report call).
#[derive(Debug, Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Request>,
}

/// A submitted change on its way to disk.
#[derive(Debug)]
pub struct Commit(Result<oneshot::Receiver<Result<(), Arc<StoreError>>>, JournalError>);

impl Commit {
    /// Returns after the fsync that holds the change (or its failure).
    pub async fn wait(self) -> Result<(), JournalError> {
        self.0?
            .await
            .map_err(|_| JournalError::Closed)?
            .map_err(JournalError::Store)
    }
}

/// Why a change was not made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// The store failed; nothing of the group is durable.
    #[error(transparent)]
    Store(#[from] Arc<StoreError>),
    /// The commit task is gone (the daemon is stopping).
    #[error("the journal is closed")]
    Closed,
}

impl JournalError {
    /// What the client of the failed change sees.
    pub fn win32(&self) -> rras_core::Win32Error {
        match self {
            JournalError::Store(e) => e.win32(),
            JournalError::Closed => rras_core::Win32Error::DdmNotRunning,
        }
    }
}

/// Most requests one transaction takes (bounds latency of the first one).
const MAX_GROUP: usize = 4096;

impl Journal {
    /// Starts the commit task on a blocking thread; durable changes are
    /// published to `feed`.
    pub fn spawn(store: Arc<Store>, table: Arc<ConnectionTable>, feed: Arc<ChangeFeed>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Request>();
        std::thread::Builder::new()
            .name("rrasd-journal".into())
            .spawn(move || commit_loop(store, table, feed, rx))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start journal thread: {e}"));
        Journal { tx }
    }

    /// Makes `entries` durable; returns after the fsync.
    pub async fn commit(&self, entries: Vec<JournalEntry>) -> Result<(), JournalError> {
        self.submit(entries, Vec::new()).wait().await
    }

    /// Queues `entries` now (in call order) for the next group commit. If
    /// that commit fails, `undo` is applied to the table (last step first)
    /// before the failure is reported.
    pub fn submit(&self, entries: Vec<JournalEntry>, undo: Vec<Undo>) -> Commit {
        let (done, wait) = oneshot::channel();
        Commit(
            self.tx
                .send(Request { entries, undo, done })
                .map(|()| wait)
                .map_err(|_| JournalError::Closed),
        )
    }
}

/// What watchers are told about one journal entry, if anything.
fn feed_change(entry: &JournalEntry) -> Option<PendingChange> {
    match entry {
        JournalEntry::Persist {
            handle,
            change: Some((kind, record)),
        } => Some(PendingChange {
            kind: *kind,
            handle: *handle,
            body: ChangeBody::Live(record.clone()),
        }),
        JournalEntry::End(ended) => Some(PendingChange {
            kind: ChangeKind::Ended,
            handle: ended.connection.handle,
            body: ChangeBody::Ended(
                Arc::new((**ended).clone()),
                rras_core::record::encode_ended(ended).into(),
            ),
        }),
        JournalEntry::Persist { change: None, .. } | JournalEntry::Audit(_) => None,
    }
}

/// The table's state of a handle re-written after a failed commit.
fn correction(table: &ConnectionTable, handle: ConnectionHandle) -> PendingChange {
    match table.record(handle) {
        Some(record) => PendingChange {
            kind: ChangeKind::Updated,
            handle,
            body: ChangeBody::Live(record),
        },
        None => PendingChange {
            kind: ChangeKind::Removed,
            handle,
            body: ChangeBody::Removed,
        },
    }
}

fn commit_loop(
    store: Arc<Store>,
    table: Arc<ConnectionTable>,
    feed: Arc<ChangeFeed>,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    // Handles touched by failed commits, to be written again from the table.
    let mut dirty: BTreeSet<ConnectionHandle> = BTreeSet::new();
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let persist = |handle: ConnectionHandle| match table.record(handle) {
            Some(r) => StoreOp::Put(r),
            None => StoreOp::Delete(handle),
        };
        let mut ops: Vec<StoreOp> = dirty.iter().map(|h| persist(*h)).collect();
        ops.extend(
            group
                .iter()
                .flat_map(|request| request.entries.iter())
                .map(|entry| match entry {
                    JournalEntry::Persist { handle, .. } => persist(*handle),
                    JournalEntry::End(ended) => StoreOp::End(ended.clone()),
                    JournalEntry::Audit(record) => StoreOp::Audit((**record).clone()),
                }),
        );
        let mut changes: Vec<PendingChange> = dirty.iter().map(|h| correction(&table, *h)).collect();
        changes.extend(group.iter().flat_map(|r| r.entries.iter()).filter_map(feed_change));
        let revision = feed.revision() + changes.len() as u64;
        let result = store
            .commit_at(&ops, table.handle_watermark(), revision)
            .map_err(Arc::new);
        match &result {
            Ok(()) => {
                dirty.clear();
                feed.publish(changes);
            }
            Err(e) => {
                tracing::error!("store commit of {} changes failed: {e}", ops.len());
                for entry in group.iter().flat_map(|request| request.entries.iter()) {
                    match entry {
                        JournalEntry::Persist { handle, .. } => {
                            dirty.insert(*handle);
                        }
                        JournalEntry::End(ended) => {
                            dirty.insert(ended.connection.handle);
                        }
                        JournalEntry::Audit(_) => {}
                    }
                }
                // Newest change first, so a start and an end of one session
                // in the same group cancel out.
                for request in group.iter_mut().rev() {
                    for step in std::mem::take(&mut request.undo).into_iter().rev() {
                        step.apply(&table);
                    }
                }
            }
        }
        for request in group {
            let _ = request.done.send(result.clone());
        }
    }
}
