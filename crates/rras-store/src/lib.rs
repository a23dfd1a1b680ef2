//! The embedded durable store: active connections and a bounded history of
//! ended ones, in one redb file, written through a commit log beside it.
//!
//! **Invariant:** [`Store::commit`] returns only after the commit is
//! durable: its frame is in the commit log and `fdatasync`ed (`log.rs`).
//! redb receives it afterwards on the applier thread and makes it durable
//! itself at the next checkpoint; opening the store replays whatever redb
//! lacks. Callers acknowledge an event to its reporter only after the
//! commit that contains it returned `Ok`. A crash (even `kill -9`)
//! therefore loses nothing that was acknowledged.
//!
//! Reads see every commit that returned before they began: a read first
//! waits for the applier to reach the log's last frame.

#![deny(missing_docs)]

mod applier;
pub mod fault;
pub mod history;
mod history_block;
mod history_keys;
mod legacy;
pub mod log;

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::{CommitLog, Frame};
use parking_lot::{Condvar, Mutex};

use history::{HistoryPage, HistoryTables, Retention, HISTORY};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use rras_core::user_hash::UserHasher;
use rras_core::{AuditRecord, Connection, ConnectionHandle, EndedConnection, Record, RecordError, Win32Error};

/// Active connections as [`Record`]s (handle → record bytes), the table's
/// own form: a restart loads them without re-encoding.
const ACTIVE: TableDefinition<u32, &[u8]> = TableDefinition::new("active_records");
/// Format 1 of the active table (postcard of `Connection`); migrated to
/// [`ACTIVE`] on open, then deleted.
const ACTIVE_V1: TableDefinition<u32, &[u8]> = TableDefinition::new("active");
/// Formats 1–2 of the history (postcard of the model's `EndedConnection`);
/// migrated to [`HISTORY`] on open, then deleted.
const HISTORY_V1: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
/// State-changing audit records (and, in stores made before the split,
/// everything): kept by age, never evicted by denials.
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// Denied calls and failed sign-ins (result ERROR_ACCESS_DENIED), already
/// rate-limited by the daemon: kept by count. Keys share `audit_seq` with
/// [`AUDIT`], so the two merge into one ordered trail.
const AUDIT_DENIED: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_denied");
/// The Win32 status that makes an audit record a denial.
const ACCESS_DENIED: u32 = 5;
/// Audit records older than the age limit removed per apply, at most:
/// retention moves in small steps, never stalling commits.
const AUDIT_PRUNE_STEP: usize = 256;
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_WATERMARK: &str = "handle_watermark";
/// The change feed's last revision (rrasd's Watch): only rises.
const META_REVISION: &str = "revision";
const META_HISTORY_SEQ: &str = "history_seq";
/// The history's bytes as [`history`] counts them.
const META_HISTORY_BYTES: &str = "history_bytes";
const META_AUDIT_SEQ: &str = "audit_seq";
/// The last commit-log frame redb holds (durably as of its last durable
/// commit).
const META_LOG_SEQ: &str = "log_seq";
const META_SCHEMA: &str = "schema";
/// The node identity (a random 128-bit id made once, in two halves).
const META_NODE_HI: &str = "node_id_hi";
const META_NODE_LO: &str = "node_id_lo";
/// The key of the history's user hash (`UserHasher`), drawn once.
const META_USER_KEY0: &str = "history_user_key0";
const META_USER_KEY1: &str = "history_user_key1";
/// Version of the store's layout: 1 = postcard rows in `active`, 2 =
/// records in `active_records`, 3 = history as versioned entries in
/// `history_records`, 4 = the history's indexes (by end, user, address)
/// and its byte count, 5 = the history sealed into compressed blocks with
/// usage columns, users indexed by a keyed hash, 6 = the history's index
/// keys led by the day the entry ended. (The audit log is still postcard
/// of `AuditRecord`, which has not changed since format 1.)
pub const SCHEMA_VERSION: u64 = 6;
/// redb's page cache when nothing else is said: enough for the B-tree's
/// upper levels at a million rows; redb's own default (1 GiB) would be most
/// of the daemon's memory.
pub const DEFAULT_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// How often redb is made durable under load when nothing else is said.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a read waits for the applier to catch up with the log.
const READ_WAIT: Duration = Duration::from_secs(30);

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
    /// A sealed block of the history does not inflate.
    #[error("history block {first} is damaged: {why}")]
    Block {
        /// Its first sequence number.
        first: u64,
        /// What is wrong.
        why: String,
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
    /// A commit-log segment could not be opened or read.
    #[error("cannot open the store's commit log {path}: {source}")]
    Log {
        /// The segment.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A logged commit passed its checksum but does not parse.
    #[error("commit log frame {seq} does not parse: {source}")]
    Frame {
        /// Its number.
        seq: u64,
        /// Why.
        #[source]
        source: log::LogError,
    },
    /// A commit too large for one log frame.
    #[error("the commit is too large for one log frame")]
    TooLarge,
    /// The applier did not catch up with the log in time for a read.
    #[error("the store is still applying logged commits")]
    Lagging,
}

impl StoreError {
    /// The Win32 code a client sees when a change could not be made durable.
    pub fn win32(&self) -> Win32Error {
        match self {
            StoreError::Open { .. } | StoreError::Schema(_) | StoreError::Log { .. } => Win32Error::DdmNotRunning,
            StoreError::Transaction(e) if is_disk_full(e) => Win32Error::DiskFull,
            StoreError::Transaction(_)
            | StoreError::Frame { .. }
            | StoreError::TooLarge
            | StoreError::Lagging
            | StoreError::Decode { .. }
            | StoreError::Record { .. }
            | StoreError::History { .. }
            | StoreError::Block { .. }
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

/// A commit-log write or sync failure, as redb's I/O failures read (so a
/// full disk is `DiskFull` either way).
pub(crate) fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Transaction(Box::new(redb::Error::Io(e)))
}

/// Where the store's bytes live.
#[derive(Debug, Clone)]
enum Location {
    /// A file (the daemon).
    File(std::path::PathBuf),
    /// A simulated disk (fault-injection tests).
    Sim(fault::SimDisk),
}

/// The commit log's two segments, beside the database file (`<file>.log0`,
/// `<file>.log1`) or as files 1 and 2 of a simulated disk.
fn open_segments(location: &Location) -> Result<[Box<dyn redb::StorageBackend>; 2], StoreError> {
    match location {
        Location::Sim(disk) => Ok([Box::new(disk.file(1)), Box::new(disk.file(2))]),
        Location::File(path) => {
            let open = |i: usize| -> Result<Box<dyn redb::StorageBackend>, StoreError> {
                let mut name = path.as_os_str().to_owned();
                name.push(format!(".log{i}"));
                let segment = std::path::PathBuf::from(name);
                let log_err = |source| StoreError::Log {
                    path: segment.display().to_string(),
                    source,
                };
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&segment)
                    .map_err(log_err)?;
                let backend = redb::backends::FileBackend::new(file).map_err(|e| StoreError::Open {
                    path: segment.display().to_string(),
                    source: Box::new(e),
                })?;
                Ok(Box::new(backend))
            };
            let segments = [open(0)?, open(1)?];
            // A new segment's name must survive a crash like its bytes.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|source| StoreError::Log {
                        path: dir.display().to_string(),
                        source,
                    })?;
            }
            Ok(segments)
        }
    }
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
    shared: Arc<Shared>,
    writer: Arc<Mutex<Writer>>,
    applier: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the committing side and the applier share.
#[derive(Debug)]
pub(crate) struct Shared {
    location: Location,
    db: parking_lot::RwLock<Option<Database>>,
    /// Rises with every re-open of `db` (which drops its non-durable
    /// transactions).
    epoch: AtomicU64,
    retention: Retention,
    audit_limit: u64,
    audit_max_age: Duration,
    cache_bytes: usize,
    pub(crate) checkpoint_interval: Duration,
    /// A reader waits for the applier: apply what is there now.
    pub(crate) nudged: std::sync::atomic::AtomicBool,
    pub(crate) progress: Mutex<Progress>,
    progressed: Condvar,
    /// The history's user hash, read (or drawn) when the store opens.
    users: std::sync::OnceLock<UserHasher>,
    /// Entries the next history block tries, and the most it may hold.
    block_entries: AtomicUsize,
    block_max: usize,
    /// What sealing needs of the tail's entries (the applier's alone).
    seal_cache: Mutex<history::SealCache>,
    /// The newest history entries' index keys ([`history_keys`]).
    recent: parking_lot::RwLock<history_keys::RecentKeys>,
    /// See [`StoreOptions::history_recent_entries`].
    recent_entries: usize,
    /// See [`StoreOptions::log_hold_back_bytes`].
    hold_back_bytes: u64,
}

/// How far redb is behind the log.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Progress {
    /// The last frame in redb.
    pub applied: u64,
    /// The last frame redb holds durably.
    pub durable: u64,
}

/// The appending side: the log, and the way to the applier (frames are
/// sent in the order they were appended, under the same lock).
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) log: CommitLog,
    to_applier: Option<std::sync::mpsc::Sender<Frame>>,
}

/// How big the store may grow, in rows and in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long and how much history is kept (the entries that ended
    /// first go first, a few per write).
    pub history: Retention,
    /// Denied-call audit records kept (oldest dropped first).
    pub audit_limit: u64,
    /// How long state-changing audit records are kept.
    pub audit_max_age: Duration,
    /// redb's page cache, bytes.
    pub cache_bytes: usize,
    /// The longest redb's own durable state trails the commit log under
    /// steady load (what a restart may have to replay).
    pub checkpoint_interval: Duration,
    /// Entries a sealed history block holds at most (fewer when a block
    /// would not fit its page).
    pub history_block_entries: usize,
    /// The newest history entries whose index keys are kept in memory
    /// before they are merged into the store's indexes in one sorted pass
    /// (a few hundred bytes each; a restart rebuilds them from the
    /// entries).
    pub history_recent_entries: usize,
    /// Niceness of the thread that moves logged commits into redb (0
    /// leaves it at the process's). Above 0 it yields a core to ingest,
    /// whose acknowledgements wait only for the log; it then takes larger
    /// batches, which cost less per change. How far it may fall behind is
    /// bounded by [`StoreOptions::log_hold_back_bytes`].
    pub applier_nice: i32,
    /// How far the log may run ahead of redb, bytes: past it a commit
    /// waits (after its frame is durable) until redb has it, so a
    /// starved applier slows ingest instead of queueing without end.
    pub log_hold_back_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            history: Retention::default(),
            audit_limit: 100_000,
            audit_max_age: Duration::from_secs(400 * 86_400),
            cache_bytes: DEFAULT_CACHE_BYTES,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            history_block_entries: history::BLOCK_ENTRIES,
            history_recent_entries: history::RECENT_ENTRIES,
            applier_nice: 0,
            log_hold_back_bytes: 2 * applier::SEGMENT_TARGET,
        }
    }
}

impl Store {
    /// Opens or creates the store file with the default limits.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
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
        let shared = Arc::new(Shared {
            db: parking_lot::RwLock::new(Some(open_db(&location, options.cache_bytes)?)),
            location,
            epoch: AtomicU64::new(0),
            retention: options.history,
            audit_limit: options.audit_limit,
            audit_max_age: options.audit_max_age,
            cache_bytes: options.cache_bytes,
            checkpoint_interval: options.checkpoint_interval,
            nudged: std::sync::atomic::AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
            progressed: Condvar::new(),
            users: std::sync::OnceLock::new(),
            block_entries: AtomicUsize::new(options.history_block_entries.clamp(1, 64)),
            block_max: options.history_block_entries.max(1),
            seal_cache: Mutex::new(Default::default()),
            recent: Default::default(),
            recent_entries: options.history_recent_entries.max(1),
            hold_back_bytes: options.log_hold_back_bytes,
        });
        // Create the tables so readers never see "table does not exist", and
        // bring an older layout up to this one in the same transaction.
        shared.with_db(|db| {
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
                        for old in history::OLD_INDEXES {
                            tx.delete_table(redb::TableDefinition::<&[u8], ()>::new(old))
                                .map_err(tx_err)?;
                        }
                        let users = user_hasher(&mut meta)?;
                        let bytes = HistoryTables::open(&tx, users, Default::default(), None)?.reindex()?;
                        meta.insert(META_HISTORY_BYTES, bytes).map_err(tx_err)?;
                        meta.insert(META_SCHEMA, SCHEMA_VERSION).map_err(tx_err)?;
                    }
                }
                if meta.get(META_NODE_HI).map_err(tx_err)?.is_none() {
                    let id: u128 = rand::random::<u128>() | 1;
                    meta.insert(META_NODE_HI, (id >> 64) as u64).map_err(tx_err)?;
                    meta.insert(META_NODE_LO, id as u64).map_err(tx_err)?;
                }
            }
            let (users, top) = {
                let mut meta = tx.open_table(META).map_err(tx_err)?;
                let top = meta.get(META_HISTORY_SEQ).map_err(tx_err)?.map_or(0, |v| v.value());
                (user_hasher(&mut meta)?, top)
            };
            let _ = shared.users.set(users);
            tx.open_table(ACTIVE).map_err(tx_err)?;
            drop(HistoryTables::open(&tx, users, Default::default(), None)?);
            history::rebuild_recent(&tx, &users, shared.epoch(), top, &shared.recent)?;
            tx.open_table(AUDIT).map_err(tx_err)?;
            tx.open_table(AUDIT_DENIED).map_err(tx_err)?;
            tx.commit().map_err(tx_err)
        })?;

        // Replay what the log holds beyond redb's durable checkpoint, and
        // make it durable in redb before anything new is logged.
        let mut log = CommitLog::new(open_segments(&shared.location)?);
        let durable = shared.checkpoint_seq()?;
        let scan = log.scan(durable).map_err(io_err)?;
        if scan.dropped > 0 {
            tracing::warn!(
                "the store's commit log has {} frames after a gap; they were never acknowledged and are skipped",
                scan.dropped
            );
        }
        // Numbering continues above every frame on the disk, so no old
        // frame can pass for a new one.
        let last = scan.frames.last().map_or(durable, |f| f.seq).max(scan.highest);
        if last > durable {
            shared.apply(&scan.frames, last, true)?;
        }
        log.restart(last);
        *shared.progress.lock() = Progress {
            applied: last,
            durable: last,
        };
        let (to_applier, frames) = std::sync::mpsc::channel();
        let writer = Arc::new(Mutex::new(Writer {
            log,
            to_applier: Some(to_applier),
        }));
        let applier =
            applier::spawn(shared.clone(), writer.clone(), frames, options.applier_nice).map_err(|source| {
                StoreError::Log {
                    path: "applier thread".into(),
                    source,
                }
            })?;
        Ok(Store {
            shared,
            writer,
            applier: Mutex::new(Some(applier)),
        })
    }

    /// Runs a read on the database once every commit that returned before
    /// it is there.
    fn with_db<T>(&self, op: impl Fn(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.wait_for_commits()?;
        self.shared.with_db(op)
    }

    /// Waits until redb holds every commit that returned before now.
    fn wait_for_commits(&self) -> Result<(), StoreError> {
        let target = self.writer.lock().log.last_seq();
        self.shared.wait_applied(target)
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

    /// Makes `ops` durable in one commit (a log frame, `fdatasync`ed
    /// before this returns).
    pub fn commit(&self, ops: &[StoreOp], handle_watermark: u32) -> Result<(), StoreError> {
        self.commit_at(ops, handle_watermark, 0)
    }

    /// [`Self::commit`], also recording the change feed's revision (kept
    /// as the larger of the stored and the given one, like the watermark),
    /// so revisions are never reused after a restart.
    pub fn commit_at(&self, ops: &[StoreOp], handle_watermark: u32, revision: u64) -> Result<(), StoreError> {
        let mut writer = self.writer.lock();
        let frame = Frame::encode(writer.log.next_seq(), ops, handle_watermark, revision)?;
        writer.log.append(&frame).map_err(io_err)?;
        let (seq, ahead) = (frame.seq, writer.log.active_bytes() > self.shared.hold_back_bytes);
        if let Some(applier) = &writer.to_applier {
            // A gone applier (it never panics, but) leaves the frame to the
            // next open's replay: it is durable either way.
            let _ = applier.send(frame);
        }
        drop(writer);
        if ahead {
            self.hold_back(seq);
        }
        Ok(())
    }

    /// Waits until redb has frame `seq` (the log ran too far ahead of it):
    /// the frame is durable already, so a commit that stops waiting has
    /// lost nothing.
    fn hold_back(&self, seq: u64) {
        if self.shared.wait_applied(seq).is_err() {
            let applied = self.shared.progress.lock().applied;
            tracing::warn!(
                "the store's applier is {} commits behind the log",
                seq.saturating_sub(applied)
            );
        }
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

    /// The newest `limit` ended connections, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<EndedConnection>, StoreError> {
        let page = self.history_query(&rras_core::HistoryQuery::default(), None, limit)?;
        Ok(page.entries.into_iter().map(|(_, e)| e).collect())
    }

    /// The ended connections matching `query` with seq below `before`
    /// (all when None), newest first, at most `limit`; the page says where
    /// the next one starts. Paging this way returns every entry that was
    /// there throughout exactly once: new entries get higher seqs.
    pub fn history_query(
        &self,
        query: &rras_core::HistoryQuery,
        before: Option<u64>,
        limit: usize,
    ) -> Result<HistoryPage, StoreError> {
        // A merge of the newest keys into redb between beginning the
        // snapshot and reading them: begin again (it takes microseconds, a
        // rebuild after a re-open longer — and needs the database's lock,
        // which is let go between tries). The commits it must see are
        // waited for once: a retry need not wait for later ones.
        self.wait_for_commits()?;
        let deadline = std::time::Instant::now() + READ_WAIT;
        loop {
            let page = self.shared.with_db(|db| {
                let tx = db.begin_read().map_err(tx_err)?;
                history::query(&tx, (&self.shared.recent, self.shared.epoch()), query, before, limit)
            })?;
            if let Some(page) = page {
                return Ok(page);
            }
            if std::time::Instant::now() >= deadline {
                return Err(StoreError::Lagging);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// The usage report of `[from, to)` as of `now` with the `top` users
    /// ranked `by`: every ended connection that overlaps the period, and
    /// what `live` adds to the builder (the live connections).
    pub fn usage(
        &self,
        (from, to, now): (std::time::SystemTime, std::time::SystemTime, std::time::SystemTime),
        top: usize,
        by: rras_core::usage::TopBy,
        live: impl Fn(&mut rras_core::usage::UsageBuilder),
    ) -> Result<rras_core::usage::UsageReport, StoreError> {
        self.with_db(|db| {
            history::usage(
                db,
                &self.shared.recent,
                self.shared.users(),
                (from, to, now),
                (top, by),
                &live,
            )
        })
    }

    /// The history's size as retention counts it: entries, and bytes of
    /// blocks, columns, tail entries and index keys.
    pub fn history_size(&self) -> Result<(u64, u64), StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(tx_err)?;
            let entries = history::len(&tx)?;
            let meta = tx.open_table(META).map_err(tx_err)?;
            let bytes = meta.get(META_HISTORY_BYTES).map_err(tx_err)?.map_or(0, |v| v.value());
            Ok((entries, bytes))
        })
    }

    /// The bytes of the pages redb has allocated (what the store holds,
    /// B-tree slack included) — beside the file's size, which redb grows by
    /// doubling below 4 GiB, so it can be up to twice this.
    pub fn allocated_bytes(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_write().map_err(tx_err)?;
            let stats = tx.stats().map_err(tx_err)?;
            let bytes = stats.allocated_pages() * stats.page_size() as u64;
            tx.abort().map_err(tx_err)?;
            Ok(bytes)
        })
    }

    /// The newest `limit` audit records, newest first: state changes and
    /// denials merged in the order they were written.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.with_db(|db| {
            let decode = |key, bytes: &[u8]| {
                postcard::from_bytes(bytes)
                    .map(|r| (key, r))
                    .map_err(|source| StoreError::Decode { key, source })
            };
            let mut both = Self::newest_from(db, AUDIT, limit, decode)?;
            both.extend(Self::newest_from(db, AUDIT_DENIED, limit, decode)?);
            both.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
            Ok(both.into_iter().take(limit).map(|(_, r)| r).collect())
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

impl Shared {
    /// The history's user hash (set when the store opened).
    fn users(&self) -> UserHasher {
        self.users.get().copied().unwrap_or(UserHasher::new(0, 0))
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
        self.reopen()?;
        let guard = self.db.read();
        match guard.as_ref() {
            Some(db) => op(db),
            None => Err(StoreError::Transaction(Box::new(redb::Error::PreviousIo))),
        }
    }

    /// Drops and re-opens the database; returns the new epoch.
    pub(crate) fn reopen(&self) -> Result<u64, StoreError> {
        let mut slot = self.db.write();
        // The old handle holds the file lock: drop it before re-opening.
        drop(slot.take());
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        *slot = Some(open_db(&self.location, self.cache_bytes)?);
        Ok(epoch)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The last log frame redb holds durably (what it holds after a
    /// re-open).
    pub(crate) fn checkpoint_seq(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(tx_err)?;
            let meta = tx.open_table(META).map_err(tx_err)?;
            let value = meta.get(META_LOG_SEQ).map_err(tx_err)?.map_or(0, |v| v.value());
            Ok(value)
        })
    }

    /// Waits, at most [`READ_WAIT`], until redb has frame `seq`, nudging
    /// the applier to apply what it holds at once; `Lagging` if it did not
    /// get there.
    fn wait_applied(&self, seq: u64) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + READ_WAIT;
        let mut progress = self.progress.lock();
        if progress.applied < seq {
            self.nudged.store(true, Ordering::SeqCst);
        }
        while progress.applied < seq {
            if self.progressed.wait_until(&mut progress, deadline).timed_out() {
                return Err(StoreError::Lagging);
            }
        }
        Ok(())
    }

    /// The applier got as far as `applied` (durably, if `durable`).
    pub(crate) fn advance(&self, applied: u64, durable: bool) {
        let mut progress = self.progress.lock();
        progress.applied = applied;
        if durable {
            progress.durable = applied;
        }
        drop(progress);
        self.progressed.notify_all();
    }

    /// Writes `frames` into redb in one transaction that also records
    /// `last` as the last frame applied; `durable` makes it a checkpoint
    /// (fsync, and the allocator state saved for a quick reopen). No
    /// re-open and retry here: a re-open drops the non-durable
    /// transactions, which only the applier can redo.
    pub(crate) fn apply(&self, frames: &[Frame], last: u64, durable: bool) -> Result<(), StoreError> {
        let guard = self.db.read();
        let db = guard
            .as_ref()
            .ok_or_else(|| StoreError::Transaction(Box::new(redb::Error::PreviousIo)))?;
        let mut tx = db.begin_write().map_err(tx_err)?;
        if durable {
            tx.set_durability(Durability::Immediate);
            // The allocator state goes into every checkpoint (with a
            // two-phase commit), so reopening after kill -9 needs no walk
            // of the whole file (docs/benchmarks-notebook.md).
            tx.set_quick_repair(true);
        } else {
            tx.set_durability(Durability::None);
        }
        let merge;
        {
            let mut meta = tx.open_table(META).map_err(tx_err)?;
            let mut history_seq = meta.get(META_HISTORY_SEQ).map_err(tx_err)?.map_or(0, |v| v.value());
            // After a re-open (which lost the non-durable writes) the
            // in-memory keys start again from what redb holds.
            if !self.recent.read().is_built_for(self.epoch()) {
                history::rebuild_recent(&tx, &self.users(), self.epoch(), history_seq, &self.recent)?;
            }
            let mut active = tx.open_table(ACTIVE).map_err(tx_err)?;
            let cache = std::mem::take(&mut *self.seal_cache.lock());
            let mut history = HistoryTables::open(&tx, self.users(), cache, Some(&self.recent))?;
            let mut audit = tx.open_table(AUDIT).map_err(tx_err)?;
            let mut audit_denied = tx.open_table(AUDIT_DENIED).map_err(tx_err)?;
            let mut history_bytes = meta.get(META_HISTORY_BYTES).map_err(tx_err)?.map_or(0, |v| v.value());
            let mut history_added = 0;
            let mut audit_seq = meta.get(META_AUDIT_SEQ).map_err(tx_err)?.map_or(0, |v| v.value());
            let mut watermark = meta.get(META_WATERMARK).map_err(tx_err)?.map_or(0, |v| v.value());
            let mut revision = meta.get(META_REVISION).map_err(tx_err)?.map_or(0, |v| v.value());
            for frame in frames {
                let body = frame
                    .body()
                    .map_err(|source| StoreError::Frame { seq: frame.seq, source })?;
                for op in &body.ops {
                    match *op {
                        log::LoggedOp::Put { handle, record } => {
                            active.insert(handle, record).map_err(tx_err)?;
                        }
                        log::LoggedOp::End { handle, entry } => {
                            active.remove(handle).map_err(tx_err)?;
                            history_seq += 1;
                            history_added += 1;
                            history_bytes = history_bytes.saturating_add(history.insert(history_seq, entry)?);
                        }
                        log::LoggedOp::Delete(handle) => {
                            active.remove(handle).map_err(tx_err)?;
                        }
                        log::LoggedOp::Audit(entry) => {
                            audit_seq += 1;
                            let denied =
                                postcard::from_bytes::<AuditRecord>(entry).is_ok_and(|r| r.result == ACCESS_DENIED);
                            let table = if denied { &mut audit_denied } else { &mut audit };
                            table.insert(audit_seq, entry).map_err(tx_err)?;
                        }
                    }
                }
                // The watermark only rises: a commit made while the table
                // is still loading (an audit record of a call refused
                // during start-up) carries the empty table's 0, and
                // writing that down would let handles of ended connections
                // be reused after the next crash. Revisions only rise too.
                watermark = watermark.max(u64::from(body.handle_watermark));
                revision = revision.max(body.revision);
            }
            // Denials by count; state changes by age, a few at a time.
            let excess = audit_denied.len().map_err(tx_err)?.saturating_sub(self.audit_limit);
            for _ in 0..excess {
                audit_denied.pop_first().map_err(tx_err)?;
            }
            let oldest_kept = std::time::SystemTime::now()
                .checked_sub(self.audit_max_age)
                .unwrap_or(std::time::UNIX_EPOCH);
            for _ in 0..AUDIT_PRUNE_STEP {
                let expired = match audit.first().map_err(tx_err)? {
                    Some((_, bytes)) => {
                        postcard::from_bytes::<AuditRecord>(bytes.value()).map_or(true, |r| r.at < oldest_kept)
                    }
                    None => false,
                };
                if !expired {
                    break;
                }
                audit.pop_first().map_err(tx_err)?;
            }
            history.retain(&self.retention, std::time::SystemTime::now(), &mut history_bytes)?;
            let mut block_entries = self.block_entries.load(Ordering::Relaxed);
            history.seal(history_added, &mut block_entries, self.block_max, &mut history_bytes)?;
            self.block_entries.store(block_entries, Ordering::Relaxed);
            let (cache, merged) = history.finish(history_seq, self.recent_entries)?;
            *self.seal_cache.lock() = cache;
            merge = merged;
            meta.insert(META_AUDIT_SEQ, audit_seq).map_err(tx_err)?;
            meta.insert(META_HISTORY_SEQ, history_seq).map_err(tx_err)?;
            meta.insert(META_HISTORY_BYTES, history_bytes).map_err(tx_err)?;
            meta.insert(META_WATERMARK, watermark).map_err(tx_err)?;
            meta.insert(META_REVISION, revision).map_err(tx_err)?;
            let stored = meta.get(META_LOG_SEQ).map_err(tx_err)?.map_or(0, |v| v.value());
            meta.insert(META_LOG_SEQ, stored.max(last)).map_err(tx_err)?;
        }
        tx.commit().map_err(tx_err)?;
        // Only now may the merged keys leave memory (a failed commit
        // re-opens redb, and the keys are rebuilt then).
        if let Some(floor) = merge {
            self.recent.write().merged(floor);
        }
        Ok(())
    }
}

impl Drop for Store {
    /// Lets the applier finish: everything logged goes into redb durably
    /// and the log is emptied, so the next open replays nothing.
    fn drop(&mut self) {
        self.writer.lock().to_applier = None;
        if let Some(applier) = self.applier.lock().take() {
            let _ = applier.join();
        }
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

/// The history's user hash: its key from `meta`, drawn and written there
/// the first time.
fn user_hasher(meta: &mut redb::Table<&str, u64>) -> Result<UserHasher, StoreError> {
    let k0 = meta.get(META_USER_KEY0).map_err(tx_err)?.map(|v| v.value());
    let k1 = meta.get(META_USER_KEY1).map_err(tx_err)?.map(|v| v.value());
    if let (Some(k0), Some(k1)) = (k0, k1) {
        return Ok(UserHasher::new(k0, k1));
    }
    let (k0, k1) = (rand::random::<u64>(), rand::random::<u64>());
    meta.insert(META_USER_KEY0, k0).map_err(tx_err)?;
    meta.insert(META_USER_KEY1, k1).map_err(tx_err)?;
    Ok(UserHasher::new(k0, k1))
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

    /// Past `log_hold_back_bytes` of log ahead of redb a commit returns
    /// only once redb has it (here after every frame: the bound is a byte);
    /// below it, commits do not wait for the applier (which batches them).
    #[test]
    fn a_commit_waits_while_the_log_is_too_far_ahead_of_redb() {
        for (bound, waits) in [(1, true), (u64::MAX, false)] {
            let dir = tempfile::tempdir().unwrap();
            let options = StoreOptions {
                log_hold_back_bytes: bound,
                // The applier as starved as a thread can ask to be.
                applier_nice: 19,
                ..StoreOptions::default()
            };
            let store = Store::open_with(&dir.path().join("rrasd.redb"), options).unwrap();
            let mut ahead = 0;
            for i in 1..=50 {
                store.commit(&[StoreOp::Put(Record::encode(&conn(i)))], i).unwrap();
                let logged = store.writer.lock().log.last_seq();
                if store.shared.progress.lock().applied < logged {
                    ahead += 1;
                }
            }
            if waits {
                assert_eq!(ahead, 0, "a commit returned before redb had it");
            } else {
                // The applier waits up to 20 ms to batch what arrives.
                assert!(ahead > 0, "commits waited for the applier without a bound to keep");
            }
            assert_eq!(store.load().unwrap().active.len(), 50);
        }
    }

    /// A read that re-opened redb (after an I/O error) leaves the history's
    /// in-memory keys of the old handle; an idle applier catches up by
    /// itself, so the next query by user answers instead of waiting for a
    /// write that may never come (it would end in `Lagging` after 30 s).
    #[test]
    fn an_idle_store_catches_up_after_a_readers_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("rrasd.redb"), StoreOptions::default()).unwrap();
        let ended = |i: u32| {
            StoreOp::End(Box::new(EndedConnection {
                connection: conn(i),
                ended_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_100),
                reason: "test".into(),
            }))
        };
        store.commit(&[ended(1), ended(2)], 2).unwrap();
        store.history_size().unwrap();
        // Idle: the applier makes redb durable by itself.
        for _ in 0..500 {
            let p = *store.shared.progress.lock();
            if p.durable == p.applied {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        store.shared.reopen().unwrap();
        let user = conn(1).info.account();
        let q = rras_core::HistoryQuery {
            user: Some(user.clone()),
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let page = store.history_query(&q, None, 10).unwrap();
        assert!(page.entries.iter().any(|(_, e)| e.connection.info.account() == user));
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{:?}", t.elapsed());
    }

    /// The applier thread runs at the niceness it was given.
    #[test]
    fn the_applier_runs_at_its_niceness() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            applier_nice: 7,
            ..StoreOptions::default()
        };
        let _store = Store::open_with(&dir.path().join("rrasd.redb"), options).unwrap();
        // Every applier of this process (tests run side by side, each
        // store with its own).
        let appliers_nice = || -> Vec<i32> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| {
                    let task = task.ok()?.path();
                    let name = std::fs::read_to_string(task.join("comm")).ok()?;
                    // The kernel keeps 15 bytes of a thread's name.
                    if name.trim() != "rras-store-appl" {
                        return None;
                    }
                    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
                    let (_, rest) = stat.rsplit_once(')')?;
                    // Field 19, nice; `rest` starts at field 3.
                    rest.split_whitespace().nth(16)?.parse().ok()
                })
                .collect()
        };
        // The thread sets it first thing; give it a moment to start.
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = appliers_nice();
            if seen.contains(&7) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(seen.contains(&7), "appliers' niceness: {seen:?}");
    }

    /// A commit made while the daemon's table is still loading carries a
    /// watermark of 0; it must not lower the stored one.
    #[test]
    fn watermark_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let store = Store::open(&path).unwrap();
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
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load().unwrap().handle_watermark, 42);
        store.commit(&[], 50).unwrap();
        assert_eq!(store.load().unwrap().handle_watermark, 50, "and still rises");
    }

    #[test]
    fn revision_is_kept_and_only_rises() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.revision().unwrap(), 0);
            store.commit_at(&[], 1, 70).unwrap();
            store.commit_at(&[], 1, 12).unwrap();
            store.commit(&[], 1).unwrap();
            assert_eq!(store.revision().unwrap(), 70);
        }
        assert_eq!(Store::open(&path).unwrap().revision().unwrap(), 70, "after reopen");
    }

    #[test]
    fn survives_reopen_with_history_and_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        {
            let store = Store::open(&path).unwrap();
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
        let store = Store::open(&path).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.handle_watermark, 10);
        assert_eq!(loaded.active, vec![Record::encode(&conn(4))]);
        let history = store.history(10).unwrap();
        let reasons: Vec<_> = history.iter().map(|h| h.reason.as_str()).collect();
        assert_eq!(reasons, vec!["c", "b", "a"], "newest first");
    }

    #[test]
    fn audit_trail_is_durable_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        let record = |i: u32, at: SystemTime, result: u32| AuditRecord {
            at,
            caller: format!("uid:{i}"),
            method: "ConnectionDisconnect".into(),
            target: i.to_string(),
            result,
        };
        let year = Duration::from_secs(365 * 86_400);
        let options = StoreOptions {
            audit_limit: 3,
            audit_max_age: year,
            ..StoreOptions::default()
        };
        {
            let store = Store::open_with(&path, options).unwrap();
            // Older than the age limit: gone at the next apply.
            store
                .commit(&[StoreOp::Audit(record(0, SystemTime::now() - year * 2, 0))], 0)
                .unwrap();
            // State changes outnumber the count limit and stay.
            for i in 1..6 {
                store
                    .commit(&[StoreOp::Audit(record(i, SystemTime::now(), 0))], 0)
                    .unwrap();
            }
            // A flood of denials is bounded by count and evicts only denials.
            for i in 100..200 {
                store
                    .commit(&[StoreOp::Audit(record(i, SystemTime::now(), ACCESS_DENIED))], 0)
                    .unwrap();
            }
        }
        let store = Store::open_with(&path, options).unwrap();
        let callers: Vec<_> = store.audit(100).unwrap().into_iter().map(|r| r.caller).collect();
        assert_eq!(
            callers,
            vec!["uid:199", "uid:198", "uid:197", "uid:5", "uid:4", "uid:3", "uid:2", "uid:1"],
            "newest first, denials bounded, state changes kept by age"
        );
        assert_eq!(store.audit(2).unwrap().len(), 2);
    }

    #[test]
    fn corrupt_record_is_a_decode_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.redb");
        let store = Store::open(&path).unwrap();
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
        let store = Store::open(&path).unwrap();
        let loaded = store.load().unwrap();
        let back: Vec<Connection> = loaded.active.iter().map(|r| r.decode()).collect();
        assert_eq!(back, (1..=3).map(conn).collect::<Vec<_>>());
        assert_eq!(loaded.handle_watermark, 3);
        let node = store.node_id().unwrap();
        assert_ne!(node, 0);
        drop(store);
        // Opening again is a no-op (already the current format), and the
        // node keeps its identity.
        let again = Store::open(&path).unwrap();
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
        assert!(matches!(Store::open(&path), Err(StoreError::Schema(99))));
    }
}
