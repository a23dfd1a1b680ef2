//! The embedded durable store: active connections and a bounded history of
//! ended ones, in one redb file.
//!
//! **Invariant:** [`Store::commit`] returns only after redb's commit with
//! `Durability::Immediate`, i.e. after fsync. Callers acknowledge an event
//! to its reporter only after the commit that contains it returned `Ok`.
//! A crash (even `kill -9`) therefore loses nothing that was acknowledged.

#![deny(missing_docs)]

pub mod fault;
mod legacy;

use std::path::Path;

use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use rras_core::{AuditRecord, Connection, ConnectionHandle, EndedConnection, Record, RecordError, Win32Error};

/// Active connections as [`Record`]s (handle → record bytes), the table's
/// own form: a restart loads them without re-encoding.
const ACTIVE: TableDefinition<u32, &[u8]> = TableDefinition::new("active_records");
/// Format 1 of the active table (postcard of `Connection`); migrated to
/// [`ACTIVE`] on open, then deleted.
const ACTIVE_V1: TableDefinition<u32, &[u8]> = TableDefinition::new("active");
/// Ended connections (seq → `rras_core::record::encode_ended`).
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history_records");
/// Formats 1–2 of the history (postcard of the model's `EndedConnection`);
/// migrated to [`HISTORY`] on open, then deleted.
const HISTORY_V1: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_WATERMARK: &str = "handle_watermark";
/// The change feed's last revision (rrasd's Watch): only rises.
const META_REVISION: &str = "revision";
const META_HISTORY_SEQ: &str = "history_seq";
const META_AUDIT_SEQ: &str = "audit_seq";
const META_SCHEMA: &str = "schema";
/// The node identity (a random 128-bit id made once, in two halves).
const META_NODE_HI: &str = "node_id_hi";
const META_NODE_LO: &str = "node_id_lo";
/// Version of the store's layout: 1 = postcard rows in `active`, 2 =
/// records in `active_records`, 3 = history as versioned entries in
/// `history_records`. (The audit log is still postcard of `AuditRecord`,
/// which has not changed since format 1.)
pub const SCHEMA_VERSION: u64 = 3;
/// redb's page cache when nothing else is said: enough for the B-tree's
/// upper levels at a million rows; redb's own default (1 GiB) would be most
/// of the daemon's memory.
pub const DEFAULT_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open store {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// redb's reason.
        #[source]
        source: Box<redb::DatabaseError>,
    },
    /// A transaction failed (I/O error, disk full …).
    #[error("store transaction failed: {0}")]
    Transaction(#[from] Box<redb::Error>),
    /// A stored record does not decode (corruption or an incompatible version).
    #[error("stored record for key {key} does not decode: {source}")]
    Decode {
        /// The record's key.
        key: u64,
        /// postcard's reason.
        #[source]
        source: postcard::Error,
    },
    /// A history entry does not decode.
    #[error("history entry {seq} does not decode: {source}")]
    History {
        /// Its sequence number.
        seq: u64,
        /// Why.
        #[source]
        source: RecordError,
    },
    /// A stored connection record does not decode.
    #[error("stored connection {key} does not decode: {source}")]
    Record {
        /// The handle.
        key: u32,
        /// Why.
        #[source]
        source: RecordError,
    },
    /// A record could not be encoded.
    #[error("cannot encode record: {0}")]
    Encode(#[source] postcard::Error),
    /// The store was written by a newer rrasd.
    #[error("store schema {0} is newer than this rrasd understands ({SCHEMA_VERSION})")]
    Schema(u64),
}

impl StoreError {
    /// The Win32 code a client sees when a change could not be made durable.
    pub fn win32(&self) -> Win32Error {
        match self {
            StoreError::Open { .. } | StoreError::Schema(_) => Win32Error::DdmNotRunning,
            StoreError::Transaction(e) if is_disk_full(e) => Win32Error::DiskFull,
            StoreError::Transaction(_)
            | StoreError::Decode { .. }
            | StoreError::Record { .. }
            | StoreError::History { .. }
            | StoreError::Encode(_) => Win32Error::NotEnoughMemory,
        }
    }

    /// An I/O failure after which redb must be closed and re-opened.
    fn is_io(&self) -> bool {
        matches!(self, StoreError::Transaction(e) if matches!(**e, redb::Error::Io(_) | redb::Error::PreviousIo))
    }
}

fn is_disk_full(e: &redb::Error) -> bool {
    matches!(e, redb::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28))
}

fn tx_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Transaction(Box::new(e.into()))
}

/// Where the store's bytes live.
#[derive(Debug, Clone)]
enum Location {
    /// A file (the daemon).
    File(std::path::PathBuf),
    /// A simulated disk (fault-injection tests).
    Sim(fault::SimDisk),
}

fn open_db(location: &Location, cache_bytes: usize) -> Result<Database, StoreError> {
    let mut builder = Database::builder();
    builder.set_cache_size(cache_bytes);
    let (opened, name) = match location {
        Location::File(path) => (builder.create(path), path.display().to_string()),
        Location::Sim(disk) => (builder.create_with_backend(disk.clone()), "simulated disk".to_owned()),
    };
    opened.map_err(|e| StoreError::Open {
        path: name,
        source: Box::new(e),
    })
}

/// One change to make durable.
#[derive(Debug, Clone)]
pub enum StoreOp {
    /// Insert or replace an active connection.
    Put(Record),
    /// Remove an active connection and append it to the history.
    End(Box<EndedConnection>),
    /// Remove an active connection without history (e.g. a rollback).
    Delete(ConnectionHandle),
    /// Append to the audit trail.
    Audit(AuditRecord),
}

/// What the store held at open.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Active connections, by handle.
    pub active: Vec<Record>,
    /// The last connection handle issued.
    pub handle_watermark: u32,
}

/// The redb-backed store.
///
/// After an I/O error (a full disk, say) redb refuses further transactions
/// until it is re-opened; the store does that by itself on the next
/// operation, so writes succeed again as soon as the disk has room.
#[derive(Debug)]
pub struct Store {
    location: Location,
    db: parking_lot::RwLock<Option<Database>>,
    history_limit: u64,
    audit_limit: u64,
    cache_bytes: usize,
}

/// How big the store may grow, in rows and in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Ended connections kept (oldest dropped first).
    pub history_limit: u64,
    /// Audit records kept.
    pub audit_limit: u64,
    /// redb's page cache, bytes.
    pub cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            history_limit: 100_000,
            audit_limit: 100_000,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

impl Store {
    /// Opens or creates the store file; keeps at most `history_limit` ended
    /// connections (oldest dropped first).
    pub fn open(path: &Path, history_limit: u64) -> Result<Self, StoreError> {
        Self::open_with_limits(path, history_limit, 100_000)
    }

    /// Opens with a bound on the audit trail too.
    pub fn open_with_limits(path: &Path, history_limit: u64, audit_limit: u64) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            StoreOptions {
                history_limit,
                audit_limit,
                ..StoreOptions::default()
            },
        )
    }

    /// Opens with explicit options; migrates an older layout in place.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        Self::open_at(Location::File(path.to_owned()), options)
    }

    /// Opens on a simulated disk ([`fault::SimDisk`]) instead of a file:
    /// the same store, for fault-injection tests.
    pub fn open_simulated(disk: &fault::SimDisk, options: StoreOptions) -> Result<Self, StoreError> {
        Self::open_at(Location::Sim(disk.clone()), options)
    }

    fn open_at(location: Location, options: StoreOptions) -> Result<Self, StoreError> {
        let store = Store {
            db: parking_lot::RwLock::new(Some(open_db(&location, options.cache_bytes)?)),
            location,
            history_limit: options.history_limit,
            audit_limit: options.audit_limit,
            cache_bytes: options.cache_bytes,
        };
        // Create the tables so readers never see "table does not exist", and
        // bring an older layout up to this one in the same transaction.
        store.with_db(|db| {
            let mut tx = db.begin_write().map_err(tx_err)?;
            tx.set_durability(Durability::Immediate);
            {
                let mut meta = tx.open_table(META).map_err(tx_err)?;
                let schema = meta.get(META_SCHEMA).map_err(tx_err)?.map(|v| v.value());
                match schema {
                    Some(v) if v > SCHEMA_VERSION => return Err(StoreError::Schema(v)),
                    Some(SCHEMA_VERSION) => {}
                    old => {
                        if old.is_none_or(|v| v < 2) {
                            let mut active = tx.open_table(ACTIVE).map_err(tx_err)?;
                            migrate_active_v1(&tx, &mut active)?;
                        }
                        migrate_history_v1(&tx)?;
                        meta.insert(META_SCHEMA, SCHEMA_VERSION).map_err(tx_err)?;
                    }
                }
                if meta.get(META_NODE_HI).map_err(tx_err)?.is_none() {
                    let id: u128 = rand::random::<u128>() | 1;
                    meta.insert(META_NODE_HI, (id >> 64) as u64).map_err(tx_err)?;
                    meta.insert(META_NODE_LO, id as u64).map_err(tx_err)?;
                }
            }
            tx.open_table(ACTIVE).map_err(tx_err)?;
            tx.open_table(HISTORY).map_err(tx_err)?;
            tx.open_table(AUDIT).map_err(tx_err)?;
            tx.commit().map_err(tx_err)
        })?;
        Ok(store)
    }

    /// Runs `op` on the database; after an I/O failure re-opens it and tries
    /// once more.
    fn with_db<T>(&self, op: impl Fn(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let first = self.db.read().as_ref().map(&op);
        match first {
            Some(Err(e)) if !e.is_io() => return Err(e),
            Some(Ok(v)) => return Ok(v),
            _ => {}
        }
        {
            let mut slot = self.db.write();
            // The old handle holds the file lock: drop it before re-opening.
            drop(slot.take());
            *slot = Some(open_db(&self.location, self.cache_bytes)?);
        }
        let guard = self.db.read();
        match guard.as_ref() {
            Some(db) => op(db),
            None => Err(StoreError::Transaction(Box::new(redb::Error::PreviousIo))),
        }
    }

    /// Reads the active table and the handle watermark.
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let (_, handle_watermark) = self.active_header()?;
        let (tx, rx) = std::sync::mpsc::channel();
        self.load_streaming(usize::MAX, &tx)?;
        drop(tx);
        Ok(Loaded {
            active: rx.into_iter().flatten().collect(),
            handle_watermark,
        })
    }

    /// This node's identity: made once when the store is created and kept
    /// with it, so a fleet view can key rows by (node, handle).
    pub fn node_id(&self) -> Result<u128, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(tx_err)?;
            let meta = tx.open_table(META).map_err(tx_err)?;
            let half = |k| -> Result<u64, StoreError> { Ok(meta.get(k).map_err(tx_err)?.map_or(0, |v| v.value())) };
            Ok(u128::from(half(META_NODE_HI)?) << 64 | u128::from(half(META_NODE_LO)?))
        })
    }

    /// How many active connections the store holds, and the handle
    /// watermark: what a loader needs before the records themselves.
    pub fn active_header(&self) -> Result<(u64, u32), StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(tx_err)?;
            let count = tx.open_table(ACTIVE).map_err(tx_err)?.len().map_err(tx_err)?;
            let watermark = tx
                .open_table(META)
                .map_err(tx_err)?
                .get(META_WATERMARK)
                .map_err(tx_err)?
                .map(|v| v.value() as u32)
                .unwrap_or(0);
            Ok((count, watermark))
        })
    }

    /// Reads the active table in batches of `batch` records, each sent to
    /// `sink` as soon as it is read and checked (so a caller on another
    /// thread builds its table while the rest is read). A closed sink stops
    /// the read.
    pub fn load_streaming(&self, batch: usize, sink: &std::sync::mpsc::Sender<Vec<Record>>) -> Result<(), StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(tx_err)?;
            let active = tx.open_table(ACTIVE).map_err(tx_err)?;
            let count = active.len().map_err(tx_err)?;
            let mut out = Vec::with_capacity(batch.min(usize::try_from(count).unwrap_or(usize::MAX)));
            for row in active.iter().map_err(tx_err)? {
                let (key, value) = row.map_err(tx_err)?;
                let record = Record::from_bytes(value.value()).map_err(|source| StoreError::Record {
                    key: key.value(),
                    source,
                })?;
                out.push(record);
                if out.len() >= batch && sink.send(std::mem::take(&mut out)).is_err() {
                    return Ok(());
                }
            }
            if !out.is_empty() {
                let _ = sink.send(out);
            }
            Ok(())
        })
    }

    /// Applies `ops` in one durable transaction (fsync before returning).
    pub fn commit(&self, ops: &[StoreOp], handle_watermark: u32) -> Result<(), StoreError> {
        self.commit_at(ops, handle_watermark, 0)
    }

    /// [`Self::commit`], also recording the change feed's revision (kept
    /// as the larger of the stored and the given one, like the watermark),
    /// so revisions are never reused after a restart.
    pub fn commit_at(&self, ops: &[StoreOp], handle_watermark: u32, revision: u64) -> Result<(), StoreError> {
        self.with_db(|db| self.commit_to(db, ops, handle_watermark, revision))
    }

    /// The last change-feed revision committed (0 for a new store).
    pub fn revision(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(tx_err)?;
            let meta = tx.open_table(META).map_err(tx_err)?;
            let value = meta.get(META_REVISION).map_err(tx_err)?.map_or(0, |v| v.value());
            Ok(value)
        })
    }

    fn commit_to(
        &self,
        db: &Database,
        ops: &[StoreOp],
        handle_watermark: u32,
        revision: u64,
    ) -> Result<(), StoreError> {
        let mut tx = db.begin_write().map_err(tx_err)?;
        // Stated, not left to the library's default: the commit returns
        // after fsync, which is what an acknowledgement promises.
        tx.set_durability(Durability::Immediate);
        // The allocator state goes into every commit (with a two-phase
        // commit), so reopening after kill -9 needs no walk of the whole
        // file: 1M connections come back in ~2 s instead of ~4 s, at no
        // measurable cost to ingest (docs/benchmarks.md).
        tx.set_quick_repair(true);
        {
            let mut active = tx.open_table(ACTIVE).map_err(tx_err)?;
            let mut history = tx.open_table(HISTORY).map_err(tx_err)?;
            let mut audit = tx.open_table(AUDIT).map_err(tx_err)?;
            let mut meta = tx.open_table(META).map_err(tx_err)?;
            let mut history_seq = meta
                .get(META_HISTORY_SEQ)
                .map_err(tx_err)?
                .map(|v| v.value())
                .unwrap_or(0);
            let mut audit_seq = meta
                .get(META_AUDIT_SEQ)
                .map_err(tx_err)?
                .map(|v| v.value())
                .unwrap_or(0);
            for op in ops {
                match op {
                    StoreOp::Put(r) => {
                        active.insert(r.handle().get(), r.as_bytes()).map_err(tx_err)?;
                    }
                    StoreOp::End(ended) => {
                        active.remove(ended.connection.handle.get()).map_err(tx_err)?;
                        let bytes = rras_core::record::encode_ended(ended);
                        history_seq += 1;
                        history.insert(history_seq, bytes.as_slice()).map_err(tx_err)?;
                    }
                    StoreOp::Delete(h) => {
                        active.remove(h.get()).map_err(tx_err)?;
                    }
                    StoreOp::Audit(record) => {
                        let bytes = postcard::to_stdvec(record).map_err(StoreError::Encode)?;
                        audit_seq += 1;
                        audit.insert(audit_seq, bytes.as_slice()).map_err(tx_err)?;
                    }
                }
            }
            let excess = audit.len().map_err(tx_err)?.saturating_sub(self.audit_limit);
            for _ in 0..excess {
                audit.pop_first().map_err(tx_err)?;
            }
            meta.insert(META_AUDIT_SEQ, audit_seq).map_err(tx_err)?;
            let excess = history.len().map_err(tx_err)?.saturating_sub(self.history_limit);
            for _ in 0..excess {
                history.pop_first().map_err(tx_err)?;
            }
            meta.insert(META_HISTORY_SEQ, history_seq).map_err(tx_err)?;
            // The watermark only rises: a commit made while the table is
            // still loading (an audit record of a call refused during
            // start-up) carries the empty table's 0, and writing that down
            // would let handles of ended connections be reused after the
            // next crash.
            let stored = meta
                .get(META_WATERMARK)
                .map_err(tx_err)?
                .map(|v| v.value())
                .unwrap_or(0);
            meta.insert(META_WATERMARK, stored.max(u64::from(handle_watermark)))
                .map_err(tx_err)?;
            if revision > 0 {
                let stored = meta.get(META_REVISION).map_err(tx_err)?.map_or(0, |v| v.value());
                meta.insert(META_REVISION, stored.max(revision)).map_err(tx_err)?;
            }
        }
        tx.commit().map_err(tx_err)?;
        Ok(())
    }

    /// The newest `limit` ended connections, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<EndedConnection>, StoreError> {
        self.with_db(|db| {
            Self::newest_from(db, HISTORY, limit, |key, bytes| {
                rras_core::record::decode_ended(bytes).map_err(|source| StoreError::History { seq: key, source })
            })
        })
    }

    /// The newest `limit` audit records, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.with_db(|db| {
            Self::newest_from(db, AUDIT, limit, |key, bytes| {
                postcard::from_bytes(bytes).map_err(|source| StoreError::Decode { key, source })
            })
        })
    }

    fn newest_from<T>(
        db: &Database,
        table: TableDefinition<u64, &[u8]>,
        limit: usize,
        decode: impl Fn(u64, &[u8]) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let tx = db.begin_read().map_err(tx_err)?;
        let rows = tx.open_table(table).map_err(tx_err)?;
        let mut out = Vec::new();
        for row in rows.iter().map_err(tx_err)?.rev().take(limit) {
            let (key, value) = row.map_err(tx_err)?;
            out.push(decode(key.value(), value.value())?);
        }
        Ok(out)
    }
}

/// Moves format-1 rows (postcard `Connection`s in `active`) into the
/// record table and drops the old table. A row that does not decode stops
/// the migration (and the open): better no daemon than a silently lost
/// session.
fn migrate_active_v1(tx: &redb::WriteTransaction, active: &mut redb::Table<'_, u32, &[u8]>) -> Result<(), StoreError> {
    let old_rows: Vec<(u32, Vec<u8>)> = match tx.open_table(ACTIVE_V1) {
        Ok(old) => {
            let mut rows = Vec::new();
            for row in old.iter().map_err(tx_err)? {
                let (k, v) = row.map_err(tx_err)?;
                rows.push((k.value(), v.value().to_vec()));
            }
            rows
        }
        Err(e) => return Err(tx_err(e)),
    };
    for (key, bytes) in &old_rows {
        let connection: Connection = postcard::from_bytes::<legacy::ConnectionV1>(bytes)
            .map_err(|source| StoreError::Decode {
                key: u64::from(*key),
                source,
            })?
            .into();
        active
            .insert(*key, Record::encode(&connection).as_bytes())
            .map_err(tx_err)?;
    }
    tx.delete_table(ACTIVE_V1).map_err(tx_err)?;
    Ok(())
}

/// Rewrites format 1–2 history entries (postcard) as versioned entries,
/// keeping their sequence numbers, and drops the old table. Like the
/// active rows, an entry that does not decode stops the open.
fn migrate_history_v1(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut history = tx.open_table(HISTORY).map_err(tx_err)?;
    {
        let old = tx.open_table(HISTORY_V1).map_err(tx_err)?;
        for row in old.iter().map_err(tx_err)? {
            let (key, value) = row.map_err(tx_err)?;
            let ended: EndedConnection = postcard::from_bytes::<legacy::EndedConnectionV1>(value.value())
                .map_err(|source| StoreError::Decode {
                    key: key.value(),
                    source,
                })?
                .into();
            history
                .insert(key.value(), rras_core::record::encode_ended(&ended).as_slice())
                .map_err(tx_err)?;
        }
    }
    tx.delete_table(HISTORY_V1).map_err(tx_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::synthetic;
    use std::time::SystemTime;

    fn conn(i: u32) -> Connection {
        Connection {
            handle: ConnectionHandle::new(i).unwrap(),
            info: synthetic::connection(
                u64::from(i),
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
            ),
        }
    }

    /// A commit made while the daemon's table is still loading carries a
    /// watermark of 0; it must not lower the stored one.
    #[test]
    fn watermark_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let store = Store::open(&path, 2).unwrap();
            store.commit(&[StoreOp::Put(Record::encode(&conn(7)))], 42).unwrap();
            let audit = rras_core::AuditRecord {
                at: SystemTime::now(),
                caller: "uid:1000".into(),
                method: "ConnectionEnumEx".into(),
                target: String::new(),
                result: 5,
            };
            store.commit(&[StoreOp::Audit(audit)], 0).unwrap();
        }
        let store = Store::open(&path, 2).unwrap();
        assert_eq!(store.load().unwrap().handle_watermark, 42);
        store.commit(&[], 50).unwrap();
        assert_eq!(store.load().unwrap().handle_watermark, 50, "and still rises");
    }

    #[test]
    fn revision_is_kept_and_only_rises() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path, 2).unwrap();
            assert_eq!(store.revision().unwrap(), 0);
            store.commit_at(&[], 1, 70).unwrap();
            store.commit_at(&[], 1, 12).unwrap();
            store.commit(&[], 1).unwrap();
            assert_eq!(store.revision().unwrap(), 70);
        }
        assert_eq!(Store::open(&path, 2).unwrap().revision().unwrap(), 70, "after reopen");
    }

    #[test]
    fn survives_reopen_with_history_and_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let store = Store::open(&path, 2).unwrap();
            store
                .commit(
                    &[
                        StoreOp::Put(Record::encode(&conn(1))),
                        StoreOp::Put(Record::encode(&conn(2))),
                        StoreOp::Put(Record::encode(&conn(3))),
                    ],
                    3,
                )
                .unwrap();
            for (i, reason) in [(1, "a"), (2, "b"), (3, "c")] {
                let ended = EndedConnection {
                    connection: conn(i),
                    ended_at: SystemTime::now(),
                    reason: reason.into(),
                };
                store.commit(&[StoreOp::End(Box::new(ended))], 9).unwrap();
            }
            store.commit(&[StoreOp::Put(Record::encode(&conn(4)))], 10).unwrap();
        }
        let store = Store::open(&path, 2).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.handle_watermark, 10);
        assert_eq!(loaded.active, vec![Record::encode(&conn(4))]);
        let history = store.history(10).unwrap();
        let reasons: Vec<_> = history.iter().map(|h| h.reason.as_str()).collect();
        assert_eq!(reasons, vec!["c", "b"], "bounded to 2, newest first");
    }

    #[test]
    fn audit_trail_is_durable_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let store = Store::open_with_limits(&path, 10, 3).unwrap();
            for i in 0..5u32 {
                let record = AuditRecord {
                    at: SystemTime::UNIX_EPOCH,
                    caller: format!("uid:{i}"),
                    method: "ConnectionDisconnect".into(),
                    target: i.to_string(),
                    result: 0,
                };
                store.commit(&[StoreOp::Audit(record)], 0).unwrap();
            }
        }
        let store = Store::open_with_limits(&path, 10, 3).unwrap();
        let callers: Vec<_> = store.audit(10).unwrap().into_iter().map(|r| r.caller).collect();
        assert_eq!(callers, vec!["uid:4", "uid:3", "uid:2"]);
    }

    #[test]
    fn corrupt_record_is_a_decode_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        let store = Store::open(&path, 10).unwrap();
        store
            .with_db(|db| {
                let tx = db.begin_write().map_err(tx_err)?;
                tx.open_table(ACTIVE)
                    .map_err(tx_err)?
                    .insert(7, &[0xff, 0xff, 0xff][..])
                    .map_err(tx_err)?;
                tx.commit().map_err(tx_err)
            })
            .unwrap();
        match store.load() {
            Err(StoreError::Record { key: 7, .. }) => {}
            other => panic!("expected decode error, got {other:?}"),
        }
    }

    /// A store written in format 1 (postcard rows in `active`, no schema
    /// key) opens, and every connection is found as a record.
    #[test]
    fn format_1_store_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut old = tx.open_table(ACTIVE_V1).unwrap();
                for i in 1..=3 {
                    old.insert(i, legacy::encode_connection_v1(&conn(i)).as_slice())
                        .unwrap();
                }
                tx.open_table(META).unwrap().insert(META_WATERMARK, 3).unwrap();
            }
            tx.commit().unwrap();
        }
        let store = Store::open(&path, 10).unwrap();
        let loaded = store.load().unwrap();
        let back: Vec<Connection> = loaded.active.iter().map(|r| r.decode()).collect();
        assert_eq!(back, (1..=3).map(conn).collect::<Vec<_>>());
        assert_eq!(loaded.handle_watermark, 3);
        let node = store.node_id().unwrap();
        assert_ne!(node, 0);
        drop(store);
        // Opening again is a no-op (already the current format), and the
        // node keeps its identity.
        let again = Store::open(&path, 10).unwrap();
        assert_eq!(again.load().unwrap().active.len(), 3);
        assert_eq!(again.node_id().unwrap(), node);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(META).unwrap().insert(META_SCHEMA, 99).unwrap();
            tx.commit().unwrap();
        }
        assert!(matches!(Store::open(&path, 10), Err(StoreError::Schema(99))));
    }
}
