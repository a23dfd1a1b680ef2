//! `ConnectionTable`: the live connections, written by sources and paged by
//! admins.
//!
//! Locking: one `RwLock` over the rows (many enumerations read at once,
//! sources write briefly) and a separate `Mutex` over the resume cursors. A
//! call never holds both: it takes its cursor out, reads a page under the
//! read lock, then puts the cursor back. No lock is held across I/O.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;
use std::time::Instant;

use hashbrown::DefaultHashBuilder;
use parking_lot::{Mutex, RwLock};

use crate::cursor::{ClientSessionId, CursorLimits, CursorRegistry, Position, ResumeHandle};
use crate::model::{Connection, ConnectionHandle, ConnectionInfo, ConnectionStats, EngineKind, SourceKey};
use crate::order_index::OrderIndex;
use crate::paging::entries_for;
use crate::record::{Record, SourceRef};
use crate::staggered::{StaggeredMap, StaggeredTable};
use crate::Win32Error;

/// One reply of a paged enumeration.
#[derive(Debug, Clone)]
pub struct Page {
    /// The entries of this reply, in enumeration order, as the shared
    /// records the table holds (no copy was made to build the page).
    pub entries: Vec<Record>,
    /// Entries from the cursor position on, this reply's included.
    pub total_entries: u32,
    /// The handle for the next call; `None` exactly when the enumeration is
    /// complete.
    pub next: Option<ResumeHandle>,
}

impl Page {
    /// ERROR_MORE_DATA while entries remain, else NO_ERROR.
    pub fn status(&self) -> Win32Error {
        if self.next.is_some() {
            Win32Error::MoreData
        } else {
            Win32Error::NoError
        }
    }
}

/// Result of [`ConnectionTable::upsert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// The connection's handle (new or existing).
    pub handle: ConnectionHandle,
    /// True when the connection was not in the table before.
    pub created: bool,
    /// What the table held before, for an existing connection (to undo).
    pub previous: Option<Record>,
}

#[derive(Debug)]
struct Row {
    seq: u64,
    record: Record,
}

/// A `by_source` slot: the handle and 32 bits of its identity's hash. The
/// key itself is read back from the record, not copied; the hash is kept
/// because growing the index at a million rows would otherwise read every
/// record back (a random memory access and a decode per row, measured at
/// ~8 % of rrasd's CPU while a million Starts arrive).
#[derive(Debug, Clone, Copy)]
struct SourceSlot {
    handle: ConnectionHandle,
    hash: u32,
}

/// The index hash of a slot, rebuilt from its 32 bits: the low bits pick
/// the bucket, the top seven are hashbrown's tag, both from the same 32.
fn slot_hash(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// The rows. Memory per connection is what matters at a million: a row is
/// its record (one allocation of ~150 bytes), a slot in `by_handle`, an
/// 8-byte slot in `by_source` and a treap node. Both indexes are staggered
/// ([`StaggeredMap`], [`StaggeredTable`]): they grow in small steps, never
/// by moving a million entries under the write lock at once.
#[derive(Debug, Default)]
struct Rows {
    by_handle: StaggeredMap<ConnectionHandle, Row>,
    by_source: StaggeredTable<SourceSlot>,
    /// foldhash, randomly seeded per table: fast, and a NAS cannot choose
    /// session ids that collide.
    hasher: DefaultHashBuilder,
    order: OrderIndex<ConnectionHandle>,
    /// Live rows per source instance: (engine, instance, count). A handful
    /// of entries, so a scan beats a map (and needs no key allocation).
    per_instance: Vec<(EngineKind, Box<str>, usize)>,
    next_seq: u64,
    /// The last handle issued; new handles count up from it (wrapping, never 0).
    handle_watermark: u32,
    /// Column indexes and totals, changed with the rows.
    indexes: indexes::Indexes,
}

/// The live connection table. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ConnectionTable {
    rows: RwLock<Rows>,
    cursors: Mutex<CursorRegistry>,
}

impl Default for ConnectionTable {
    fn default() -> Self {
        Self::new(CursorLimits::default())
    }
}

impl ConnectionTable {
    /// An empty table with the given cursor limits.
    pub fn new(limits: CursorLimits) -> Self {
        // A per-process salt (std seeds RandomState from the OS) makes resume
        // handles differ between daemon runs.
        let salt = RandomState::new().build_hasher().finish() as u32;
        ConnectionTable {
            rows: RwLock::new(Rows::default()),
            cursors: Mutex::new(CursorRegistry::new(limits, salt)),
        }
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.rows.read().by_handle.len()
    }

    /// True when no connection is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live connections per engine.
    pub fn counts_per_engine(&self) -> Vec<(EngineKind, usize)> {
        let rows = self.rows.read();
        EngineKind::ALL
            .into_iter()
            .map(|e| {
                let n = rows
                    .per_instance
                    .iter()
                    .filter(|(k, _, _)| *k == e)
                    .map(|(_, _, n)| n)
                    .sum();
                (e, n)
            })
            .collect()
    }

    /// Live connections of one source instance ("" = the engine's default).
    pub fn count_instance(&self, engine: EngineKind, instance: &str) -> usize {
        self.rows
            .read()
            .per_instance
            .iter()
            .find(|(k, i, _)| *k == engine && **i == *instance)
            .map_or(0, |(_, _, n)| *n)
    }

    /// The last handle issued; persist it so a restarted daemon does not hand
    /// out a handle a client may still hold.
    pub fn handle_watermark(&self) -> u32 {
        self.rows.read().handle_watermark
    }

    /// Number of open resume cursors (for metrics and limit tests).
    pub fn open_cursors(&self) -> usize {
        self.cursors.lock().len()
    }

    /// Adds a connection, or replaces what is known about the one with the
    /// same [`SourceKey`] (its handle and enumeration position stay).
    pub fn upsert(&self, info: ConnectionInfo) -> Upserted {
        // The indexed values are read from the info before the lock, not
        // decoded back from the record under it.
        let mut values = indexes::Values::default();
        values.fill_info(&info);
        let mut rows = self.rows.write();
        if let Some(handle) = rows.find(SourceRef::of(&info.source)) {
            let record = Record::encode_info(handle, &info);
            values.handle = handle.get();
            if let Some(previous) = rows.replace_known(handle, record, &values) {
                return Upserted {
                    handle,
                    created: false,
                    previous: Some(previous),
                };
            }
        }
        let handle = rows.allocate_handle();
        values.handle = handle.get();
        let record = Record::encode_info(handle, &info);
        let seq = rows.add(record, false);
        let Rows { indexes, by_handle, .. } = &mut *rows;
        indexes.add_values(&values, by_handle);
        rows.order.insert(seq, handle);
        Upserted {
            handle,
            created: true,
            previous: None,
        }
    }

    /// Makes room for `additional` more connections (before a large restore
    /// whose count is known but whose records arrive as a stream).
    pub fn reserve(&self, additional: usize) {
        self.rows.write().reserve(additional);
    }

    /// Puts back records read from the store (or taken out by an undo), with
    /// their own handles, and raises the handle watermark to at least
    /// `watermark`. A record whose handle or identity is already present is
    /// skipped.
    pub fn restore(&self, records: impl IntoIterator<Item = Record>, watermark: u32) {
        let records = records.into_iter();
        let mut rows = self.rows.write();
        rows.reserve(records.size_hint().0);
        // Into an empty table (start-up) the enumeration order is built in
        // one pass at the end rather than by a million treap inserts.
        let mut appended = rows.order.is_empty().then(Vec::new);
        for r in records {
            let handle = r.handle();
            rows.handle_watermark = rows.handle_watermark.max(handle.get());
            if rows.by_handle.get(handle).is_some() || rows.find(r.source()).is_some() {
                continue;
            }
            match &mut appended {
                Some(order) => order.push((rows.add(r, false), handle)),
                None => rows.insert(r),
            }
        }
        if let Some(order) = appended {
            rows.order.extend_sorted(order);
            let Rows { indexes, by_handle, .. } = &mut *rows;
            indexes.rebuild(by_handle);
        }
        rows.handle_watermark = rows.handle_watermark.max(watermark);
    }

    /// Replaces a live connection's record with an earlier one of the same
    /// connection (undo of a change); false when the handle is gone or the
    /// identity differs.
    pub fn put_back(&self, record: Record) -> bool {
        let mut rows = self.rows.write();
        match rows.by_handle.get(record.handle()) {
            Some(row) if row.record.source() == record.source() => rows.replace(record.handle(), record).is_some(),
            _ => false,
        }
    }

    /// The connection with this handle (decoded from its record).
    pub fn get(&self, handle: ConnectionHandle) -> Option<Arc<Connection>> {
        self.record(handle).map(|r| Arc::new(r.decode()))
    }

    /// The record of the connection with this handle.
    pub fn record(&self, handle: ConnectionHandle) -> Option<Record> {
        self.rows.read().by_handle.get(handle).map(|r| r.record.clone())
    }

    /// The handle of the connection a source knows by `key`.
    pub fn find(&self, key: &SourceKey) -> Option<ConnectionHandle> {
        self.rows.read().find(SourceRef::of(key))
    }

    /// Replaces the counters of a connection; returns the record before.
    pub fn update_stats(&self, handle: ConnectionHandle, stats: ConnectionStats) -> Result<Record, Win32Error> {
        self.modify(handle, |info| info.stats = stats)
    }

    /// Applies `change` to a connection's info (copy-on-write: readers
    /// holding the old record keep seeing the old values); returns the
    /// record before.
    pub fn modify(
        &self,
        handle: ConnectionHandle,
        change: impl FnOnce(&mut ConnectionInfo),
    ) -> Result<Record, Win32Error> {
        let mut rows = self.rows.write();
        let row = rows.by_handle.get(handle).ok_or(Win32Error::NoConnection)?;
        let mut connection = row.record.decode();
        let source = connection.info.source.clone();
        change(&mut connection.info);
        // The source key is the identity; a change may not move it.
        connection.info.source = source;
        rows.replace(handle, Record::encode(&connection))
            .ok_or(Win32Error::NoConnection)
    }

    /// Removes a connection, returning it.
    pub fn remove(&self, handle: ConnectionHandle) -> Option<Arc<Connection>> {
        self.remove_record(handle).map(|r| Arc::new(r.decode()))
    }

    /// Removes a connection, returning its record.
    pub fn remove_record(&self, handle: ConnectionHandle) -> Option<Record> {
        let mut rows = self.rows.write();
        let row = rows.by_handle.remove(handle)?;
        rows.order.remove(row.seq);
        let Rows { indexes, by_handle, .. } = &mut *rows;
        indexes.remove(&row.record, by_handle);
        let source = row.record.source();
        let hash = rows.source_hash(source);
        rows.by_source.remove(slot_hash(hash), |s| s.handle == handle);
        if let Some(slot) = rows
            .per_instance
            .iter_mut()
            .find(|(k, i, _)| *k == source.engine && **i == *source.instance)
        {
            slot.2 = slot.2.saturating_sub(1);
        }
        Some(row.record)
    }

    /// The handle first in enumeration order (the oldest row).
    pub fn first(&self) -> Option<ConnectionHandle> {
        let rows = self.rows.read();
        rows.order.range_after(None, 1).first().map(|(_, h)| *h)
    }

    /// The handles of every connection whose identity matches `keep` (no
    /// allocation per row: for seeding per-session state at start-up).
    pub fn handles_where(&self, keep: impl Fn(SourceRef<'_>) -> bool) -> Vec<ConnectionHandle> {
        let rows = self.rows.read();
        rows.by_handle
            .iter()
            .filter(|(_, r)| keep(r.record.source()))
            .map(|(h, _)| h)
            .collect()
    }

    /// The records whose identity matches `keep`, in enumeration order
    /// (only the identity prefix of each record is read).
    fn matching(&self, keep: impl Fn(SourceRef<'_>) -> bool) -> Vec<Record> {
        let rows = self.rows.read();
        rows.order
            .range_after(None, usize::MAX)
            .into_iter()
            .filter_map(|(_, h)| rows.by_handle.get(h))
            .filter(|r| keep(r.record.source()))
            .map(|r| r.record.clone())
            .collect()
    }

    /// Every connection whose identity matches `keep`, in enumeration order,
    /// as (handle, key) — for ending all of a NAS's sessions and similar
    /// sweeps; O(n) but decodes only the identity prefix of each record.
    pub fn select_sources(&self, keep: impl Fn(SourceRef<'_>) -> bool) -> Vec<(ConnectionHandle, SourceKey)> {
        self.matching(keep)
            .into_iter()
            .map(|r| (r.handle(), r.source().to_owned_key()))
            .collect()
    }

    /// Every row's record (shared bytes, not decoded): a snapshot for a
    /// reader that filters and sorts on its own (the web console).
    pub fn records(&self) -> Vec<Record> {
        self.rows
            .read()
            .by_handle
            .iter()
            .map(|(_, r)| r.record.clone())
            .collect()
    }

    /// Every connection whose identity matches `keep`, in enumeration order,
    /// decoded (only those: a poller of 10 WireGuard peers beside a million
    /// RADIUS sessions decodes 10 records).
    pub fn select(&self, keep: impl Fn(SourceRef<'_>) -> bool) -> Vec<Arc<Connection>> {
        self.matching(keep).into_iter().map(|r| Arc::new(r.decode())).collect()
    }

    /// One page of `MprAdminConnectionEnumEx` for `session`.
    ///
    /// `cursor` is `None` for the first call (resume handle 0). `entry_size`
    /// is the byte size of the ABI structure the client asked for
    /// (1672 for `RAS_CONNECTION_EX`); 0 is `ERROR_INVALID_PARAMETER`.
    pub fn enumerate(
        &self,
        session: ClientSessionId,
        cursor: Option<ResumeHandle>,
        pref_max_len: u32,
        entry_size: u32,
    ) -> Result<Page, Win32Error> {
        self.enumerate_at(session, cursor, pref_max_len, entry_size, Instant::now())
    }

    /// [`Self::enumerate`] at a given time (for expiry tests).
    pub fn enumerate_at(
        &self,
        session: ClientSessionId,
        cursor: Option<ResumeHandle>,
        pref_max_len: u32,
        entry_size: u32,
        now: Instant,
    ) -> Result<Page, Win32Error> {
        if entry_size == 0 {
            return Err(Win32Error::InvalidParameter);
        }
        let position = match cursor {
            Some(h) => Some(self.cursors.lock().take(session, h, now)?),
            None => None,
        };
        let (entries, total, position) = {
            let rows = self.rows.read();
            // A new enumeration covers what exists now: its end is the next
            // sequence number to be issued.
            let position = position.unwrap_or(Position {
                after: None,
                end: rows.next_seq,
            });
            let total = rows.order.count_between(position.after, position.end);
            let n = entries_for(pref_max_len, entry_size, total);
            let keys = rows.order.range_after(position.after, n);
            let last_seq = keys.last().map(|(seq, _)| *seq).or(position.after);
            let entries: Vec<_> = keys
                .into_iter()
                .filter_map(|(_, h)| rows.by_handle.get(h).map(|r| r.record.clone()))
                .collect();
            (
                entries,
                total,
                Position {
                    after: last_seq,
                    ..position
                },
            )
        };
        let remaining = total - entries.len();
        let next = (remaining > 0).then(|| self.cursors.lock().put(session, cursor, position, now));
        Ok(Page {
            entries,
            total_entries: u32::try_from(total).unwrap_or(u32::MAX),
            next,
        })
    }

    /// Frees a client session's cursors (ServerDisconnect).
    pub fn release_session(&self, session: ClientSessionId) {
        self.cursors.lock().release_session(session);
    }
}

impl Rows {
    /// 32 bits of an identity's hash (what a `by_source` slot keeps).
    fn source_hash(&self, key: SourceRef<'_>) -> u32 {
        let h = self.hasher.hash_one(key);
        (h ^ (h >> 32)) as u32
    }

    fn find(&self, key: SourceRef<'_>) -> Option<ConnectionHandle> {
        let hash = self.source_hash(key);
        self.by_source
            .find(slot_hash(hash), |s| {
                s.hash == hash && self.by_handle.get(s.handle).is_some_and(|r| r.record.source() == key)
            })
            .map(|s| s.handle)
    }

    fn allocate_handle(&mut self) -> ConnectionHandle {
        // Counting up and wrapping means a handle comes back only after four
        // billion others: far longer than any client holds one.
        loop {
            self.handle_watermark = self.handle_watermark.wrapping_add(1);
            if let Some(h) = ConnectionHandle::new(self.handle_watermark) {
                if self.by_handle.get(h).is_none() {
                    return h;
                }
            }
        }
    }

    /// Replaces a row's record, moving it in the indexes; returns the
    /// record before (None when the handle is not live).
    fn replace(&mut self, handle: ConnectionHandle, record: Record) -> Option<Record> {
        let row = self.by_handle.get_mut(handle)?;
        let previous = std::mem::replace(&mut row.record, record.clone());
        self.indexes.replace(&previous, &record, &self.by_handle);
        Some(previous)
    }

    /// [`replace`](Self::replace) with the new record's indexed values
    /// already read.
    fn replace_known(&mut self, handle: ConnectionHandle, record: Record, values: &indexes::Values) -> Option<Record> {
        let row = self.by_handle.get_mut(handle)?;
        let previous = std::mem::replace(&mut row.record, record);
        self.indexes.replace_values(&previous, values, &self.by_handle);
        Some(previous)
    }

    fn reserve(&mut self, additional: usize) {
        self.by_handle.reserve(additional);
        self.by_source.reserve(additional, |s| slot_hash(s.hash));
    }

    fn insert(&mut self, record: Record) {
        let handle = record.handle();
        let seq = self.add(record, true);
        self.order.insert(seq, handle);
    }

    /// Adds a row everywhere but the enumeration order (and, unless
    /// `indexed`, the column indexes: a bulk load builds them at the end);
    /// returns its sequence number.
    fn add(&mut self, record: Record, indexed: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let handle = record.handle();
        let source = record.source();
        match self
            .per_instance
            .iter_mut()
            .find(|(k, i, _)| *k == source.engine && **i == *source.instance)
        {
            Some(slot) => slot.2 += 1,
            None => self.per_instance.push((source.engine, source.instance.into(), 1)),
        }
        let hash = self.source_hash(source);
        self.by_source
            .insert_unique(slot_hash(hash), SourceSlot { handle, hash }, |s| slot_hash(s.hash));
        if indexed {
            self.indexes.add(&record, &self.by_handle);
        }
        self.by_handle.insert_new(handle, Row { seq, record });
        seq
    }
}

mod indexes;
#[cfg(test)]
mod tests;
mod window;
#[cfg(test)]
mod window_tests;

pub use indexes::{Column, Totals};
pub use window::{Window, WindowQuery, MAX_CANDIDATES};
