//! The history of ended connections: each entry under its sequence number
//! (the order in which Stops became durable), sealed a block at a time into
//! compressed blocks, two indexes beside them, and retention by age and by
//! size.
//!
//! Why blocks: redb keeps each entry in a B-tree leaf that splits in half
//! as entries are appended, so a history of 10M entries of 175 bytes took
//! 744 bytes a session on disk. A block holds a few hundred consecutive
//! entries deflated into one value that fills one page (about 40 bytes an
//! entry), and a usage column beside it holds what a report reads, so a
//! month's report reads varints instead of decoding records.
//!
//! - `history_records`: the tail — seq → entry
//!   (`rras_core::record::encode_ended`), the newest entries not sealed yet.
//!   An entry is in redb with the write that applies its Stop: in a block
//!   when that write fills one, else here.
//! - `history_blocks`: first seq → the deflated entries of seqs
//!   `first..first + count` (each a varint length and the entry).
//! - `history_block_usage`: first seq → the block's usage column
//!   (`rras_core::usage_column`).
//! - `history_block_spans`: first seq → (count, earliest start, latest end,
//!   bytes counted): what a time range, a report and retention skip by.
//! - `history_user_index`: (user hash, seq). The hash is
//!   [`UserHasher`] of the lower-case account under the store's own key.
//! - `history_user_keys`: name ++ 0 ++ user hash, for every lower-case key
//!   of an account (`rras_core::history_query::user_keys`: the account and
//!   its bare name): a user prefix finds its hashes here.
//! - `history_user_names`: user hash → the account as first written (the
//!   names of a report's top users).
//! - `history_address_index`: (address, start, seq) → end: "who had this
//!   address at T" reads only that address's sessions that started by T.
//!   IPv4 addresses are IPv4-mapped; times whole seconds up to 2106.
//!
//! **Retention** removes the oldest blocks (then the oldest tail entries),
//! a step of at most [`RETENTION_STEP`] entries per write transaction, while
//! the oldest ended before `max_age` ago or the history's bytes exceed
//! `max_bytes`. A block goes when its newest entry has expired, so an entry
//! may outlive `max_age` by the seconds its block took to fill. The bytes
//! counted are the blocks', columns', tail entries' and index keys' —
//! not the file's (redb reuses freed pages; the file does not shrink), nor
//! the user names (one per user, kept).

use std::collections::{BTreeSet, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use rras_core::engine_time::unix_secs;

use parking_lot::RwLock;
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use rras_core::history_query::{account_keys, addresses, lower};
use rras_core::usage::{TopBy, UsageBuilder, UsageReport, UsageSession};
use rras_core::user_hash::UserHasher;
use rras_core::{EndedConnection, HistoryQuery};

use crate::history_block::Block;
use crate::history_keys::{
    address_key, hash_of_user_key, secs32, user_key_entry, IndexKeys, RecentChange, RecentKeys, DAY,
};
use crate::{tx_err, StoreError};

/// The tail: seq → entry.
pub(crate) const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history_records");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("history_blocks");
const BLOCK_USAGE: TableDefinition<u64, &[u8]> = TableDefinition::new("history_block_usage");
/// first seq → (count, earliest start, latest end, bytes counted).
const BLOCK_SPANS: TableDefinition<u64, (u32, u64, u64, u64)> = TableDefinition::new("history_block_spans");
/// (end day, user hash, seq).
const USER_INDEX: TableDefinition<(u32, u64, u64), ()> = TableDefinition::new("history_users_by_day");
const USER_KEYS: TableDefinition<&[u8], ()> = TableDefinition::new("history_user_keys");
const USER_NAMES: TableDefinition<u64, &str> = TableDefinition::new("history_user_names");
/// (end day, address, start, seq) → end.
const ADDRESS_INDEX: TableDefinition<(u32, u128, u32, u64), u32> = TableDefinition::new("history_addresses_by_day");
/// "longest" → the longest session ever indexed, seconds: an entry that
/// matches a query ending at `to` ended by `to` + that, which bounds the
/// days a query reads.
const HISTORY_META: TableDefinition<&str, u64> = TableDefinition::new("history_meta");
const LONGEST: &str = "longest";
/// "merged" → the seq at and below which every entry's index keys are in
/// redb; the keys of the entries above it are in memory
/// ([`crate::history_keys`]). Absent in a store written before: all are.
const MERGED: &str = "merged";
/// Indexes of earlier layouts, replaced by the ones above: schema 4's, and
/// the first of schema 5 (without the day in front).
pub(crate) const OLD_INDEXES: [&str; 5] = [
    "history_by_end",
    "history_by_user",
    "history_by_address",
    "history_user_index",
    "history_address_index",
];

pub use crate::history_keys::RECENT_ENTRIES;

/// Entries removed per write transaction at most (whole blocks: a step
/// stops at the block that reaches it).
pub const RETENTION_STEP: usize = 1_024;
/// Entries a block holds at most, unless the store is told otherwise.
pub const BLOCK_ENTRIES: usize = 256;
/// A block's deflated bytes at most: with redb's leaf header it fills one
/// 4 KiB page (a value a little larger would take two).
const BLOCK_BYTES: usize = 4_000;
/// Blocks sealed per write transaction beyond those the write's own Stops
/// fill, so a backlog of tail entries (after a migration) is sealed over
/// many writes instead of holding one up.
const BACKLOG_SEALS_PER_WRITE: usize = 2;
/// What the keys of one tail entry, a user index key, an address index
/// key and a block's span cost beside the values.
const TAIL_KEY_BYTES: u64 = 8;
const USER_KEY_BYTES: u64 = 20;
const ADDRESS_KEY_BYTES: u64 = 36;
const SPAN_BYTES: u64 = 8 + 28;
/// The most entries one query reads without an index before it returns a
/// cursor to go on from.
const SCAN_BUDGET: usize = 200_000;
/// The most index keys one query collects; beyond it (a prefix of most
/// users, an address in every session), it scans within [`SCAN_BUDGET`]
/// instead, which pages with a cursor.
const INDEX_BUDGET: usize = 200_000;
/// The most users a user prefix may name before the query scans instead.
const USER_BUDGET: usize = 4_096;
/// The most (day, user) seeks one query makes before it scans instead.
const SEEK_BUDGET: usize = 20_000;

/// How long and how much history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Entries that ended longer ago are removed.
    pub max_age: std::time::Duration,
    /// The history's bytes (blocks, columns, tail entries and index keys)
    /// kept at most.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: std::time::Duration::from_secs(365 * 86_400),
            max_bytes: 8 << 30,
        }
    }
}

/// One page of a history query, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryPage {
    /// `(seq, entry)`, by falling seq (the newest end first).
    pub entries: Vec<(u64, EndedConnection)>,
    /// Where the next page starts (pass it as `before`); None at the end.
    pub next: Option<u64>,
}

/// The value a block of `entries` ([`rras_core::record::encode_ended`]
/// bytes, oldest first) is stored as: for the fuzzer, whose seeds must be
/// real blocks, and for tools that write a history.
pub fn seal_block(entries: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
    Block::seal(entries)
}

/// Every entry of a block stored as `value` (its first seq taken as 0),
/// decoded, first each one alone as a query reads it and then all
/// together as a report or retention does. A damaged block — a bad disk,
/// a file from elsewhere — is an error naming what is wrong, never a panic
/// and never more memory than the format bounds.
pub fn read_block(value: &[u8]) -> Result<Vec<EndedConnection>, StoreError> {
    let mut block = Block::open(0, value.to_vec())?;
    let count = u64::try_from(block.len()).unwrap_or(u64::MAX);
    for seq in 0..count {
        if let Some(entry) = block.entry(seq)? {
            decode(seq, entry)?;
        }
    }
    (0..)
        .zip(block.all()?)
        .map(|(seq, entry)| decode(seq, &entry))
        .collect()
}

/// What an entry's index keys count for.
fn index_bytes(keys: &IndexKeys) -> u64 {
    USER_KEY_BYTES + ADDRESS_KEY_BYTES * keys.addresses.len() as u64
}

fn decode(seq: u64, bytes: &[u8]) -> Result<EndedConnection, StoreError> {
    rras_core::record::decode_ended(bytes).map_err(|source| StoreError::History { seq, source })
}

/// What sealing needs of each tail entry, kept from when the entry was
/// written (it was decoded then): sealing a block then decodes nothing.
/// Lost with the store's handle after an I/O failure; sealing decodes what
/// it does not find.
pub(crate) type SealCache = std::collections::HashMap<u64, (UsageSession, u64)>;
/// The seal cache is dropped beyond this (it cannot grow past the tail).
const SEAL_CACHE_MAX: usize = 1 << 20;

/// The history's tables in one write transaction.
pub(crate) struct HistoryTables<'tx> {
    cache: SealCache,
    /// The entries of this write, by rising seq (after the tail's), not in
    /// the tail yet: those a block takes in the same write never go there
    /// (an insert, a read back and a removal saved each), the rest go at
    /// [`HistoryTables::finish`].
    fresh: std::collections::VecDeque<(u64, Vec<u8>)>,
    tail: redb::Table<'tx, u64, &'static [u8]>,
    blocks: redb::Table<'tx, u64, &'static [u8]>,
    usage: redb::Table<'tx, u64, &'static [u8]>,
    spans: redb::Table<'tx, u64, (u32, u64, u64, u64)>,
    by_user: redb::Table<'tx, (u32, u64, u64), ()>,
    user_keys: redb::Table<'tx, &'static [u8], ()>,
    user_names: redb::Table<'tx, u64, &'static str>,
    by_address: redb::Table<'tx, (u32, u128, u32, u64), u32>,
    meta: redb::Table<'tx, &'static str, u64>,
    longest: u64,
    users: UserHasher,
    /// The newest entries' keys in memory (none: every key goes into redb,
    /// as when a migration builds the indexes).
    recent: Option<&'tx RwLock<RecentKeys>>,
    /// Keys of entries above this seq go to `recent`, the rest into redb
    /// (`u64::MAX` without `recent`: all into redb).
    floor: u64,
    /// This write's changes to `recent`, published when it ends.
    changes: Vec<RecentChange>,
    /// Users whose names redb holds (see [`RecentKeys`]).
    known_users: HashSet<u64>,
}

impl<'tx> HistoryTables<'tx> {
    /// Opens (creating) the tables in `tx`; the newest entries' keys go to
    /// `recent` (built for this database generation) when given.
    pub(crate) fn open(
        tx: &'tx redb::WriteTransaction,
        users: UserHasher,
        cache: SealCache,
        recent: Option<&'tx RwLock<RecentKeys>>,
    ) -> Result<Self, StoreError> {
        let meta = tx.open_table(HISTORY_META).map_err(tx_err)?;
        let longest = meta.get(LONGEST).map_err(tx_err)?.map_or(0, |v| v.value());
        let (floor, known_users) = match recent {
            Some(recent) => {
                let mut recent = recent.write();
                (recent.floor(), recent.take_known_users())
            }
            None => (u64::MAX, HashSet::new()),
        };
        Ok(HistoryTables {
            cache,
            fresh: Default::default(),
            tail: tx.open_table(HISTORY).map_err(tx_err)?,
            blocks: tx.open_table(BLOCKS).map_err(tx_err)?,
            usage: tx.open_table(BLOCK_USAGE).map_err(tx_err)?,
            spans: tx.open_table(BLOCK_SPANS).map_err(tx_err)?,
            by_user: tx.open_table(USER_INDEX).map_err(tx_err)?,
            user_keys: tx.open_table(USER_KEYS).map_err(tx_err)?,
            user_names: tx.open_table(USER_NAMES).map_err(tx_err)?,
            by_address: tx.open_table(ADDRESS_INDEX).map_err(tx_err)?,
            longest,
            meta,
            users,
            recent,
            floor,
            changes: Vec::new(),
            known_users,
        })
    }

    /// Adds the entry `bytes` as `seq` (above every seq so far) to the
    /// history; returns the bytes it counts for. An entry that does not
    /// decode (it cannot happen: the daemon wrote it) is kept without
    /// indexes rather than lost.
    pub(crate) fn insert(&mut self, seq: u64, bytes: &[u8]) -> Result<u64, StoreError> {
        self.fresh.push_back((seq, bytes.to_vec()));
        let Ok(ended) = rras_core::record::decode_ended(bytes) else {
            return Ok(TAIL_KEY_BYTES + bytes.len() as u64);
        };
        let keys = IndexKeys::of(&self.users, &ended);
        let info = &ended.connection.info;
        if self.cache.len() >= SEAL_CACHE_MAX {
            self.cache.clear();
        }
        let session = UsageSession {
            started: unix_secs(info.started_at),
            ended: Some(unix_secs(ended.ended_at)),
            user: keys.user,
            engine: info.source.engine,
            bytes_in: info.stats.bytes_rcved,
            bytes_out: info.stats.bytes_xmited,
        };
        let counted = index_bytes(&keys);
        self.cache.insert(seq, (session, counted));
        self.index(seq, keys)?;
        Ok(TAIL_KEY_BYTES + bytes.len() as u64 + counted)
    }

    /// Ends the write: what no block took goes into the tail, the write's
    /// in-memory keys are published (before the write commits: see
    /// [`RecentKeys`]), and once `merge_at` entries' keys have gathered
    /// they go into redb with the floor `top` (the history's last seq).
    /// Returns the seal cache, for the next write, and the floor of a
    /// merge, which [`RecentKeys::merged`] must be told once the write has
    /// committed.
    pub(crate) fn finish(mut self, top: u64, merge_at: usize) -> Result<(SealCache, Option<u64>), StoreError> {
        for (seq, entry) in std::mem::take(&mut self.fresh) {
            self.tail.insert(seq, entry.as_slice()).map_err(tx_err)?;
        }
        let Some(recent) = self.recent else {
            return Ok((self.cache, None));
        };
        let mut recent = recent.write();
        recent.publish(std::mem::take(&mut self.changes));
        recent.return_known_users(std::mem::take(&mut self.known_users));
        if recent.added() < merge_at.max(1) {
            return Ok((self.cache, None));
        }
        // Queries read on while the merge writes (only this thread changes
        // the keys).
        let recent = parking_lot::RwLockWriteGuard::downgrade(recent);
        // In key order: each leaf is copied once for all the keys it takes.
        for key in recent.user_keys() {
            self.by_user.insert(*key, ()).map_err(tx_err)?;
        }
        for (key, ended) in recent.address_keys() {
            self.by_address.insert(*key, *ended).map_err(tx_err)?;
        }
        // A name as first written: redb's, if it has one.
        for (user, account) in recent.names() {
            if self.user_names.get(*user).map_err(tx_err)?.is_none() {
                self.user_names.insert(*user, account.as_str()).map_err(tx_err)?;
            }
        }
        for key in recent.name_keys() {
            self.user_keys.insert(key.as_slice(), ()).map_err(tx_err)?;
        }
        self.meta.insert(MERGED, top).map_err(tx_err)?;
        Ok((self.cache, Some(top)))
    }

    fn index(&mut self, seq: u64, keys: IndexKeys) -> Result<(), StoreError> {
        let duration = u64::from(keys.ended.saturating_sub(keys.started));
        if duration > self.longest {
            self.longest = duration;
            self.meta.insert(LONGEST, duration).map_err(tx_err)?;
        }
        let new_user = self.known_users.insert(keys.user);
        if seq > self.floor {
            if new_user {
                self.changes.push(RecentChange::User(keys.user, keys.account.clone()));
            }
            self.changes.push(RecentChange::Add(seq, keys));
            return Ok(());
        }
        if new_user && self.user_names.get(keys.user).map_err(tx_err)?.is_none() {
            self.user_names
                .insert(keys.user, keys.account.as_str())
                .map_err(tx_err)?;
            // A user's names are worked out once, when it is first seen.
            for name in &account_keys(&keys.account) {
                self.user_keys
                    .insert(user_key_entry(name, keys.user).as_slice(), ())
                    .map_err(tx_err)?;
            }
        }
        self.by_user.insert(keys.user_key(seq), ()).map_err(tx_err)?;
        for key in keys.address_keys(seq) {
            self.by_address.insert(key, keys.ended).map_err(tx_err)?;
        }
        Ok(())
    }

    fn unindex(&mut self, seq: u64, bytes: &[u8]) -> Result<u64, StoreError> {
        let Ok(entry) = rras_core::record::decode_ended(bytes) else {
            return Ok(0);
        };
        let keys = IndexKeys::of(&self.users, &entry);
        let counted = index_bytes(&keys);
        if seq > self.floor {
            self.changes.push(RecentChange::Remove(seq, keys));
            return Ok(counted);
        }
        self.by_user.remove(keys.user_key(seq)).map_err(tx_err)?;
        for key in keys.address_keys(seq) {
            self.by_address.remove(key).map_err(tx_err)?;
        }
        Ok(counted)
    }

    /// One step of retention: removes the oldest blocks, then the oldest
    /// tail entries, up to [`RETENTION_STEP`] entries, while they are older
    /// than `retention` allows or `bytes` is over its size; returns how
    /// many went.
    pub(crate) fn retain(
        &mut self,
        retention: &Retention,
        now: SystemTime,
        bytes: &mut u64,
    ) -> Result<usize, StoreError> {
        let cutoff = unix_secs(now.checked_sub(retention.max_age).unwrap_or(UNIX_EPOCH));
        let over = |ended: u64, bytes: u64| ended < cutoff || bytes > retention.max_bytes;
        let mut removed = 0;
        while removed < RETENTION_STEP {
            let oldest = self.spans.first().map_err(tx_err)?.map(|(k, v)| (k.value(), v.value()));
            if let Some((first, (count, min_started, max_ended, block_bytes))) = oldest {
                if over(max_ended, *bytes) {
                    self.take_block(first)?;
                    *bytes = bytes.saturating_sub(block_bytes);
                    removed += count as usize;
                    continue;
                }
                // Some of it may have ended long enough ago: only when it
                // started long enough ago.
                if min_started < cutoff {
                    removed += self.trim_block(first, cutoff, bytes)?;
                }
                break;
            }
            // Then the tail, then this write's entries.
            let oldest = self
                .tail
                .first()
                .map_err(tx_err)?
                .map(|(k, v)| (k.value(), v.value().to_vec()));
            let in_tail = oldest.is_some();
            let Some((seq, entry)) = oldest.or_else(|| self.fresh.front().cloned()) else {
                break;
            };
            let ended = rras_core::record::decode_ended(&entry).map_or(0, |e| unix_secs(e.ended_at));
            if !over(ended, *bytes) {
                break;
            }
            if in_tail {
                self.tail.remove(seq).map_err(tx_err)?;
            } else {
                self.fresh.pop_front();
            }
            self.cache.remove(&seq);
            let freed = TAIL_KEY_BYTES + entry.len() as u64 + self.unindex(seq, &entry)?;
            *bytes = bytes.saturating_sub(freed);
            removed += 1;
        }
        Ok(removed)
    }

    /// Seals the oldest tail entries into blocks while the tail holds a
    /// block's worth: as many blocks as the `added` entries of this write
    /// fill, and a few more. `entries` is how many the next block tries
    /// (adapted so a block fills its page; at most `max`).
    pub(crate) fn seal(
        &mut self,
        added: usize,
        entries: &mut usize,
        max: usize,
        bytes: &mut u64,
    ) -> Result<usize, StoreError> {
        let blocks = added / (*entries).max(1) + BACKLOG_SEALS_PER_WRITE;
        let mut sealed = 0;
        while sealed < blocks {
            // The tail's entries come first, then this write's.
            let fresh = (self.fresh.front().map(|f| f.0), self.fresh.back().map(|f| f.0));
            let first = self.tail.first().map_err(tx_err)?.map(|(k, _)| k.value());
            let last = match fresh.1 {
                Some(last) => Some(last),
                None => self.tail.last().map_err(tx_err)?.map(|(k, _)| k.value()),
            };
            let (Some(first), Some(last)) = (first.or(fresh.0), last) else {
                break;
            };
            let want = (*entries).clamp(1, max.max(1));
            if last - first + 1 < want as u64 {
                break;
            }
            self.seal_one(first, want, entries, max, bytes)?;
            sealed += 1;
        }
        Ok(sealed)
    }

    fn seal_one(
        &mut self,
        first: u64,
        want: usize,
        entries: &mut usize,
        max: usize,
        bytes: &mut u64,
    ) -> Result<(), StoreError> {
        // A block holds consecutive seqs; a tail migrated from schema 4 can
        // have gaps (its retention went by end time), and the block stops at
        // one.
        let mut rows: Vec<Vec<u8>> = Vec::with_capacity(want);
        for row in self.tail.range(first..first + want as u64).map_err(tx_err)? {
            let (seq, entry) = row.map_err(tx_err)?;
            if seq.value() != first + rows.len() as u64 {
                break;
            }
            rows.push(entry.value().to_vec());
        }
        let from_tail = rows.len();
        while rows.len() < want && self.fresh.front().is_some_and(|f| f.0 == first + rows.len() as u64) {
            rows.extend(self.fresh.pop_front().map(|f| f.1));
        }
        let mut n = rows.len();
        let mut deflated;
        loop {
            deflated = Block::seal(&rows[..n])?;
            if deflated.len() <= BLOCK_BYTES || n == 1 {
                break;
            }
            n = (n * BLOCK_BYTES * 9 / 10 / deflated.len()).clamp(1, n - 1);
        }
        // Aim the next block at the page: grow while well under it.
        *entries = if deflated.len() < BLOCK_BYTES * 3 / 4 {
            (n + n / 4 + 1).min(max)
        } else {
            n
        };
        let (block_bytes, index_bytes) = self.put_block(first, &deflated, &rows[..n])?;
        // What an entry counted for as the tail's goes either way.
        let tail_bytes: u64 = rows[..n].iter().map(|e| TAIL_KEY_BYTES + e.len() as u64).sum();
        for seq in first..first + n.min(from_tail) as u64 {
            self.tail.remove(seq).map_err(tx_err)?;
        }
        // This write's entries the block did not take wait for the next.
        let kept = n.max(from_tail);
        for (i, entry) in rows.drain(kept..).enumerate().rev() {
            self.fresh.push_front((first + (kept + i) as u64, entry));
        }
        *bytes = bytes
            .saturating_sub(tail_bytes + index_bytes)
            .saturating_add(block_bytes);
        Ok(())
    }

    /// Writes the block of `entries` (seqs from `first`), deflated, with
    /// its usage column and span; returns the bytes the block counts for
    /// and, of those, its index keys' (which were counted before).
    fn put_block(&mut self, first: u64, deflated: &[u8], entries: &[Vec<u8>]) -> Result<(u64, u64), StoreError> {
        let mut sessions = Vec::with_capacity(entries.len());
        let (mut min_started, mut max_ended, mut index_bytes) = (u64::MAX, 0u64, 0u64);
        for (i, entry) in entries.iter().enumerate() {
            if let Some((session, bytes)) = self.cache.remove(&(first + i as u64)) {
                min_started = min_started.min(session.started);
                max_ended = max_ended.max(session.ended.unwrap_or(0));
                index_bytes += bytes;
                sessions.push(session);
            } else if let Ok(e) = rras_core::record::decode_ended(entry) {
                let session = UsageSession::of(&e.connection.info, Some(e.ended_at), &self.users);
                min_started = min_started.min(session.started);
                max_ended = max_ended.max(session.ended.unwrap_or(0));
                index_bytes += USER_KEY_BYTES + ADDRESS_KEY_BYTES * addresses(&e.connection.info).len() as u64;
                sessions.push(session);
            } else {
                tracing::warn!(
                    "history entry {} does not decode; sealed without its usage",
                    first + i as u64
                );
            }
        }
        let column = rras_core::usage_column::encode(&sessions);
        let block_bytes = (deflated.len() + column.len()) as u64 + SPAN_BYTES + index_bytes;
        self.blocks.insert(first, deflated).map_err(tx_err)?;
        self.usage.insert(first, column.as_slice()).map_err(tx_err)?;
        self.spans
            .insert(first, (entries.len() as u32, min_started, max_ended, block_bytes))
            .map_err(tx_err)?;
        Ok((block_bytes, index_bytes))
    }

    /// Removes the block at `first` with its column, span and index keys;
    /// returns its entries (oldest first).
    fn take_block(&mut self, first: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let value = self.blocks.remove(first).map_err(tx_err)?.map(|v| v.value().to_vec());
        let entries = match value {
            Some(value) => Block::open(first, value)?.all()?,
            None => Vec::new(),
        };
        for (i, entry) in entries.iter().enumerate() {
            self.unindex(first + i as u64, entry)?;
        }
        self.usage.remove(first).map_err(tx_err)?;
        self.spans.remove(first).map_err(tx_err)?;
        Ok(entries)
    }

    /// Removes the expired entries at the front of the block at `first`
    /// (one that also holds entries still kept: the block where old
    /// history meets new), sealing the rest again; returns how many went.
    fn trim_block(&mut self, first: u64, cutoff: u64, bytes: &mut u64) -> Result<usize, StoreError> {
        let Some(value) = self.blocks.get(first).map_err(tx_err)?.map(|v| v.value().to_vec()) else {
            return Ok(0);
        };
        let ended = |e: &[u8]| rras_core::record::decode_ended(e).map_or(0, |e| unix_secs(e.ended_at));
        let mut block = Block::open(first, value)?;
        // Most writes find the first entry kept: one stream inflated.
        if block.entry(first)?.is_none_or(|e| ended(e) >= cutoff) {
            return Ok(0);
        }
        let entries = block.all()?;
        let expired = entries.iter().take_while(|e| ended(e) < cutoff).count();
        if expired == 0 {
            return Ok(0);
        }
        let old_bytes = self.spans.get(first).map_err(tx_err)?.map_or(0, |v| v.value().3);
        let entries = self.take_block(first)?;
        let kept = &entries[expired..];
        if !kept.is_empty() {
            let rest = first + expired as u64;
            let value = Block::seal(kept)?;
            let (block_bytes, _) = self.put_block(rest, &value, kept)?;
            for (i, entry) in kept.iter().enumerate() {
                if let Ok(e) = rras_core::record::decode_ended(entry) {
                    let keys = IndexKeys::of(&self.users, &e);
                    self.index(rest + i as u64, keys)?;
                }
            }
            *bytes = bytes.saturating_add(block_bytes);
        }
        *bytes = bytes.saturating_sub(old_bytes);
        Ok(expired)
    }

    /// Builds the indexes of a history written before they existed (or
    /// with other keys), the tail's and every block's, and returns the bytes
    /// it counts for.
    pub(crate) fn reindex(&mut self) -> Result<u64, StoreError> {
        let mut keys = Vec::new();
        let mut total = 0;
        for row in self.tail.iter().map_err(tx_err)? {
            let (seq, bytes) = row.map_err(tx_err)?;
            let (seq, bytes) = (seq.value(), bytes.value());
            total += TAIL_KEY_BYTES + bytes.len() as u64;
            if let Ok(ended) = rras_core::record::decode_ended(bytes) {
                let k = IndexKeys::of(&self.users, &ended);
                total += index_bytes(&k);
                keys.push((seq, k));
            }
        }
        for (seq, k) in keys {
            self.index(seq, k)?;
        }
        let mut spans = Vec::new();
        for row in self.spans.iter().map_err(tx_err)? {
            let (first, span) = row.map_err(tx_err)?;
            spans.push((first.value(), span.value()));
        }
        for (first, (count, min_started, max_ended, _)) in spans {
            let Some(value) = self.blocks.get(first).map_err(tx_err)?.map(|v| v.value().to_vec()) else {
                continue;
            };
            let column = self.usage.get(first).map_err(tx_err)?.map_or(0, |v| v.value().len());
            let mut block_bytes = (value.len() + column) as u64 + SPAN_BYTES;
            for (i, entry) in Block::open(first, value)?.all()?.iter().enumerate() {
                if let Ok(ended) = rras_core::record::decode_ended(entry) {
                    let k = IndexKeys::of(&self.users, &ended);
                    block_bytes += index_bytes(&k);
                    self.index(first + i as u64, k)?;
                }
            }
            self.spans
                .insert(first, (count, min_started, max_ended, block_bytes))
                .map_err(tx_err)?;
            total += block_bytes;
        }
        Ok(total)
    }
}

/// Rebuilds `recent` for database generation `epoch` from what `tx`
/// holds: the keys of the entries above the floor redb records (which
/// becomes `top`, the history's last seq, in a store written before there
/// was one: all its keys are in redb).
pub(crate) fn rebuild_recent(
    tx: &redb::WriteTransaction,
    users: &UserHasher,
    epoch: u64,
    top: u64,
    recent: &RwLock<RecentKeys>,
) -> Result<(), StoreError> {
    let floor = {
        let mut meta = tx.open_table(HISTORY_META).map_err(tx_err)?;
        let stored = meta.get(MERGED).map_err(tx_err)?.map(|v| v.value());
        match stored {
            Some(floor) => floor,
            None => {
                meta.insert(MERGED, top).map_err(tx_err)?;
                top
            }
        }
    };
    let above = floor.saturating_add(1);
    let mut entries = Vec::new();
    let mut keep = |seq: u64, bytes: &[u8]| {
        if let Ok(ended) = rras_core::record::decode_ended(bytes) {
            entries.push((seq, IndexKeys::of(users, &ended)));
        }
    };
    let spans = tx.open_table(BLOCK_SPANS).map_err(tx_err)?;
    let blocks = tx.open_table(BLOCKS).map_err(tx_err)?;
    // The block that holds `above` (if one does), and every later one.
    let from = spans
        .range(..=above)
        .map_err(tx_err)?
        .next_back()
        .transpose()
        .map_err(tx_err)?
        .map_or(above, |(k, _)| k.value());
    for row in spans.range(from..).map_err(tx_err)? {
        let (first, span) = row.map_err(tx_err)?;
        let (first, count) = (first.value(), u64::from(span.value().0));
        if first.saturating_add(count) <= above {
            continue;
        }
        let Some(value) = blocks.get(first).map_err(tx_err)?.map(|v| v.value().to_vec()) else {
            continue;
        };
        for (i, entry) in Block::open(first, value)?.all()?.iter().enumerate() {
            let seq = first + i as u64;
            if seq >= above {
                keep(seq, entry);
            }
        }
    }
    let tail = tx.open_table(HISTORY).map_err(tx_err)?;
    for row in tail.range(above..).map_err(tx_err)? {
        let (seq, bytes) = row.map_err(tx_err)?;
        keep(seq.value(), bytes.value());
    }
    recent.write().rebuild(epoch, floor, entries);
    Ok(())
}

/// Entries by seq, from the tail or a block (the last block read is kept:
/// a query's candidates come newest first, often several to a block).
struct Entries {
    tail: redb::ReadOnlyTable<u64, &'static [u8]>,
    blocks: redb::ReadOnlyTable<u64, &'static [u8]>,
    spans: redb::ReadOnlyTable<u64, (u32, u64, u64, u64)>,
    block: Option<(u64, Block)>,
}

impl Entries {
    fn open(tx: &redb::ReadTransaction) -> Result<Self, StoreError> {
        Ok(Entries {
            tail: tx.open_table(HISTORY).map_err(tx_err)?,
            blocks: tx.open_table(BLOCKS).map_err(tx_err)?,
            spans: tx.open_table(BLOCK_SPANS).map_err(tx_err)?,
            block: None,
        })
    }

    /// The block at `first` (the one read last, or read now).
    fn block(&mut self, first: u64) -> Result<Option<&mut Block>, StoreError> {
        if self.block.as_ref().is_none_or(|(f, _)| *f != first) {
            self.block = match self.blocks.get(first).map_err(tx_err)? {
                Some(value) => Some((first, Block::open(first, value.value().to_vec())?)),
                None => None,
            };
        }
        Ok(self.block.as_mut().map(|(_, b)| b))
    }

    fn get(&mut self, seq: u64) -> Result<Option<EndedConnection>, StoreError> {
        if let Some(bytes) = self.tail.get(seq).map_err(tx_err)? {
            return decode(seq, bytes.value()).map(Some);
        }
        let Some(first) = self
            .spans
            .range(..=seq)
            .map_err(tx_err)?
            .next_back()
            .transpose()
            .map_err(tx_err)?
            .map(|(k, _)| k.value())
        else {
            return Ok(None);
        };
        let Some(block) = self.block(first)? else {
            return Ok(None);
        };
        match block.entry(seq)? {
            Some(bytes) => decode(seq, bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// How many entries the history holds.
pub(crate) fn len(tx: &redb::ReadTransaction) -> Result<u64, StoreError> {
    let entries = Entries::open(tx)?;
    let tail = entries.tail.len().map_err(tx_err)?;
    let mut sealed = 0u64;
    for row in entries.spans.iter().map_err(tx_err)? {
        sealed += u64::from(row.map_err(tx_err)?.1.value().0);
    }
    Ok(tail + sealed)
}

/// Answers `query` from the history in `tx` (of database generation
/// `epoch`) and the newest entries' keys in `recent`: entries with seq
/// below `before` (all when None), newest first, at most `limit`. None
/// when `recent` has moved past `tx` (a merge committed after `tx` began,
/// or `recent` is being rebuilt): the caller begins a newer `tx`.
pub(crate) fn query(
    tx: &redb::ReadTransaction,
    (recent, epoch): (&RwLock<RecentKeys>, u64),
    q: &HistoryQuery,
    before: Option<u64>,
    limit: usize,
) -> Result<Option<HistoryPage>, StoreError> {
    let mut entries = Entries::open(tx)?;
    let below = before.unwrap_or(u64::MAX);
    let limit = limit.max(1);
    let mut page = HistoryPage::default();
    // Adds a match; false once the page is full (and says where to go on).
    let take = |seq: u64, ended: EndedConnection, page: &mut HistoryPage| -> bool {
        if !q.matches(&ended.connection.info, Some(ended.ended_at)) {
            return true;
        }
        if page.entries.len() == limit {
            page.next = page.entries.last().map(|(s, _)| *s);
            return false;
        }
        page.entries.push((seq, ended));
        true
    };
    match candidates(tx, (recent, epoch), q, below)? {
        Candidates::Stale => return Ok(None),
        Candidates::Seqs(candidates) => {
            // A key in `recent` may be of an entry `tx` does not hold yet.
            for seq in candidates.into_iter().rev() {
                let Some(ended) = entries.get(seq)? else {
                    continue;
                };
                if !take(seq, ended, &mut page) {
                    break;
                }
            }
            return Ok(Some(page));
        }
        Candidates::Scan => {}
    }
    // No index narrows it: walk the tail and the blocks backwards, skipping
    // blocks outside the time range, within a budget.
    let (from, to) = (q.from.map_or(0, unix_secs), q.to.map_or(u64::MAX, unix_secs));
    // One entry of the walk; false once the page is full or the budget is
    // spent (the cursor then says where to go on).
    let mut scanned = 0;
    let mut visit = |seq: u64, bytes: &[u8], page: &mut HistoryPage| -> Result<bool, StoreError> {
        if scanned == SCAN_BUDGET {
            page.next = Some(seq + 1);
            return Ok(false);
        }
        scanned += 1;
        Ok(take(seq, decode(seq, bytes)?, page))
    };
    let mut tail_rows = Vec::new();
    for row in entries.tail.range(..below).map_err(tx_err)?.rev() {
        let (seq, bytes) = row.map_err(tx_err)?;
        tail_rows.push((seq.value(), bytes.value().to_vec()));
        if tail_rows.len() > SCAN_BUDGET {
            break;
        }
    }
    for (seq, bytes) in tail_rows {
        if !visit(seq, &bytes, &mut page)? {
            return Ok(Some(page));
        }
    }
    let (mut spans, mut held) = (Vec::new(), 0usize);
    for row in entries.spans.range(..below).map_err(tx_err)?.rev() {
        let (first, (count, min_started, max_ended, _)) = row.map(|(k, v)| (k.value(), v.value())).map_err(tx_err)?;
        if max_ended >= from && min_started <= to {
            spans.push(first);
            held += count as usize;
        }
        // Enough blocks to use up the budget.
        if held > SCAN_BUDGET {
            break;
        }
    }
    for first in spans {
        let Some(block) = entries.block(first)? else {
            continue;
        };
        let rows = block.all()?;
        for (i, bytes) in rows.iter().enumerate().rev() {
            let seq = first + i as u64;
            if seq >= below {
                continue;
            }
            if !visit(seq, bytes, &mut page)? {
                return Ok(Some(page));
            }
        }
    }
    Ok(Some(page))
}

/// The report of `[from, to)` as of `now`: every ended entry that overlaps
/// the period (blocks through their usage columns, the tail decoded), then
/// what `live` adds; the top users named from the history's names.
pub(crate) fn usage(
    db: &redb::Database,
    recent: &RwLock<RecentKeys>,
    users: UserHasher,
    period: (SystemTime, SystemTime, SystemTime),
    top: (usize, TopBy),
    live: &impl Fn(&mut UsageBuilder),
) -> Result<UsageReport, StoreError> {
    let (from, to, now) = period;
    let tx = &db.begin_read().map_err(tx_err)?;
    let mut builder = UsageBuilder::new(from, to, now, users);
    let (from_s, to_s) = (unix_secs(from), unix_secs(to));
    let mut blocks = Vec::new();
    for row in tx.open_table(BLOCK_SPANS).map_err(tx_err)?.iter().map_err(tx_err)? {
        let (first, (_, min_started, max_ended, _)) = row.map(|(k, v)| (k.value(), v.value())).map_err(tx_err)?;
        if max_ended >= from_s && min_started < to_s {
            blocks.push(first);
        }
    }
    // The columns are read on a thread per core (a month at 10M sessions
    // is ~10M additions), each into its own builder, merged after.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let share = blocks.len().div_ceil(threads).max(1);
    let parts: Vec<Result<UsageBuilder, StoreError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = blocks
            .chunks(share)
            .map(|chunk| {
                let mut part = builder.empty_like();
                scope.spawn(move || {
                    let columns = tx.open_table(BLOCK_USAGE).map_err(tx_err)?;
                    for first in chunk {
                        if let Some(column) = columns.get(*first).map_err(tx_err)? {
                            rras_core::usage_column::decode(column.value(), |s| {
                                part.add_session(s);
                            })
                            .map_err(|source| StoreError::History { seq: *first, source })?;
                        }
                    }
                    Ok(part)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(StoreError::Block {
                        first: 0,
                        why: "a report thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    for part in parts {
        builder.merge(part?);
    }
    let tail = tx.open_table(HISTORY).map_err(tx_err)?;
    for row in tail.iter().map_err(tx_err)? {
        let (seq, bytes) = row.map_err(tx_err)?;
        let ended = decode(seq.value(), bytes.value())?;
        builder.add_session(&UsageSession::of(&ended.connection.info, Some(ended.ended_at), &users));
    }
    live(&mut builder);
    type Names = redb::ReadOnlyTable<u64, &'static str>;
    let stored = |names: &Names, hash: u64| -> Option<String> { Some(names.get(hash).ok()??.value().to_owned()) };
    let names = tx.open_table(USER_NAMES).map_err(tx_err)?;
    // The snapshot's names; else one first seen since the last merge (in
    // memory); else it was merged after the snapshot began, and a newer
    // snapshot has it (names are never removed).
    Ok(builder.finish(top.0, top.1, |hash| {
        stored(&names, hash)
            .or_else(|| recent.read().name(hash).map(str::to_owned))
            .or_else(|| stored(&db.begin_read().ok()?.open_table(USER_NAMES).ok()?, hash))
    }))
}

/// What the indexes offer a query.
enum Candidates {
    /// The seqs an index offers (a superset of the matches), ascending.
    Seqs(Vec<u64>),
    /// No index applies, or one would collect more than its budget.
    Scan,
    /// The in-memory keys have moved past the snapshot.
    Stale,
}

/// The seqs below `below` the indexes — redb's, and the newest entries'
/// in `recent` — offer for `q`.
fn candidates(
    tx: &redb::ReadTransaction,
    (recent, epoch): (&RwLock<RecentKeys>, u64),
    q: &HistoryQuery,
    below: u64,
) -> Result<Candidates, StoreError> {
    let meta = tx.open_table(HISTORY_META).map_err(tx_err)?;
    let merged = meta.get(MERGED).map_err(tx_err)?.map_or(u64::MAX, |v| v.value());
    let (from, to) = (q.from.map_or(0, secs32), q.to.map_or(u32::MAX, secs32));
    // The days an entry that matches can have ended on: from the day of
    // `from` to the last day any entry ended — or, with `to`, to the day of
    // `to` plus the longest session (it started by `to`).
    let longest = meta.get(LONGEST).map_err(tx_err)?.map_or(u64::MAX, |v| v.value());
    let ended_by = u32::try_from(u64::from(to).saturating_add(longest)).unwrap_or(u32::MAX);
    // Of redb's keys and of those in memory, together.
    let days = |stored: (Option<u32>, Option<u32>), held: Option<(u32, u32)>| {
        let first = stored.0.into_iter().chain(held.map(|h| h.0)).min();
        let last = stored.1.into_iter().chain(held.map(|h| h.1)).max();
        match (first, last) {
            (Some(first), Some(last)) => (first.max(from / DAY)..=last.min(ended_by / DAY)).collect::<Vec<u32>>(),
            _ => Vec::new(),
        }
    };
    // Read after `tx` began (see `history_keys`): every key of an entry
    // `tx` holds above `merged` is there, unless a merge has moved on. Its
    // lock is held only while its own keys are read (it holds up the
    // applier).
    let stale = |recent: &RecentKeys| !recent.is_built_for(epoch) || recent.floor() > merged;
    let mut seqs = BTreeSet::new();
    if let Some(address) = q.address {
        let index = tx.open_table(ADDRESS_INDEX).map_err(tx_err)?;
        let first = index.first().map_err(tx_err)?.map(|(k, _)| k.value().0);
        let last = index.last().map_err(tx_err)?.map(|(k, _)| k.value().0);
        let a = address_key(address);
        let mut read = 0;
        let days = {
            let recent = recent.read();
            if stale(&recent) {
                return Ok(Candidates::Stale);
            }
            let days = days((first, last), recent.address_days());
            for day in &days {
                for (seq, ended) in recent.address_seqs(*day, a, to) {
                    read += 1;
                    if read == INDEX_BUDGET {
                        return Ok(Candidates::Scan);
                    }
                    if ended >= from && seq < below {
                        seqs.insert(seq);
                    }
                }
            }
            days
        };
        for day in days {
            for row in index.range((day, a, 0, 0)..=(day, a, to, u64::MAX)).map_err(tx_err)? {
                read += 1;
                if read == INDEX_BUDGET {
                    return Ok(Candidates::Scan);
                }
                let (key, ended) = row.map_err(tx_err)?;
                let (_, _, _, seq) = key.value();
                if ended.value() >= from && seq < below {
                    seqs.insert(seq);
                }
            }
        }
        return Ok(Candidates::Seqs(seqs.into_iter().collect()));
    }
    let Some(user) = &q.user else {
        return Ok(Candidates::Scan);
    };
    let prefix = lower(user);
    let names = tx.open_table(USER_KEYS).map_err(tx_err)?;
    let mut hashes = BTreeSet::new();
    for row in names.range(prefix.as_bytes()..).map_err(tx_err)? {
        let (key, _) = row.map_err(tx_err)?;
        let key = key.value();
        if !key.starts_with(prefix.as_bytes()) {
            break;
        }
        hashes.extend(hash_of_user_key(key));
        if hashes.len() > USER_BUDGET {
            return Ok(Candidates::Scan);
        }
    }
    let index = tx.open_table(USER_INDEX).map_err(tx_err)?;
    let first = index.first().map_err(tx_err)?.map(|(k, _)| k.value().0);
    let last = index.last().map_err(tx_err)?.map(|(k, _)| k.value().0);
    let days = {
        let recent = recent.read();
        if stale(&recent) {
            return Ok(Candidates::Stale);
        }
        hashes.extend(recent.users_named(prefix.as_bytes()));
        if hashes.len() > USER_BUDGET {
            return Ok(Candidates::Scan);
        }
        let days = days((first, last), recent.user_days());
        // Each (day, user) is a seek: many users over many days scan instead.
        if hashes.len().saturating_mul(days.len()) > SEEK_BUDGET {
            return Ok(Candidates::Scan);
        }
        for day in &days {
            for hash in &hashes {
                seqs.extend(recent.user_seqs(*day, *hash, below));
                if seqs.len() > INDEX_BUDGET {
                    return Ok(Candidates::Scan);
                }
            }
        }
        days
    };
    for day in days {
        for hash in &hashes {
            for row in index.range((day, *hash, 0)..(day, *hash, below)).map_err(tx_err)? {
                seqs.insert(row.map_err(tx_err)?.0.value().2);
                if seqs.len() > INDEX_BUDGET {
                    return Ok(Candidates::Scan);
                }
            }
        }
    }
    Ok(Candidates::Seqs(seqs.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::{Connection, ConnectionHandle, ConnectionInfo, EngineKind, SourceKey};

    fn entry(handle: u32) -> Vec<u8> {
        let start = UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000 + u64::from(handle));
        let info = ConnectionInfo::new(
            SourceKey::new(EngineKind::Radius, "nas", format!("s{handle}")),
            "u",
            start,
        );
        rras_core::record::encode_ended(&EndedConnection {
            connection: Connection {
                handle: ConnectionHandle::new(handle).unwrap(),
                info,
            },
            ended_at: start + std::time::Duration::from_secs(60),
            reason: "user-request".into(),
        })
    }

    #[test]
    fn a_sealed_block_reads_back_and_a_damaged_one_is_an_error() {
        let entries: Vec<Vec<u8>> = (1..=70).map(entry).collect();
        let value = seal_block(&entries).unwrap();
        let read = read_block(&value).unwrap();
        let expected: Vec<EndedConnection> = entries
            .iter()
            .map(|e| rras_core::record::decode_ended(e).unwrap())
            .collect();
        assert_eq!(read, expected);
        // A block that inflates fine but holds something that is not an
        // entry: an error naming the entry.
        let mut odd = entries.clone();
        odd[41] = b"not an entry".to_vec();
        match read_block(&seal_block(&odd).unwrap()) {
            Err(StoreError::History { seq, .. }) => assert_eq!(seq, 41),
            other => panic!("expected a history error for entry 41, got {other:?}"),
        }
        // Cut short: an error.
        assert!(read_block(&value[..value.len() - 1]).is_err());
        assert!(read_block(&[]).is_err());
    }

    /// An entry that does not compress (a long random account).
    fn bulky_entry(handle: u32) -> Vec<u8> {
        let mut e = rras_core::record::decode_ended(&entry(handle)).unwrap();
        let noise: String = (0..40u64)
            .map(|i| {
                format!(
                    "{:016x}",
                    (u64::from(handle) * 40 + i).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                )
            })
            .collect();
        e.connection.info.set_account(&noise);
        rras_core::record::encode_ended(&e)
    }

    /// A write's entries go into blocks without passing through the tail,
    /// together with the tail's older ones; a block cut short by its page
    /// leaves the rest of the write's entries for the next block, and what
    /// no block takes goes into the tail.
    #[test]
    fn a_writes_entries_are_sealed_with_the_tails_and_none_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("h.redb")).unwrap();
        let (mut cache, mut entries, mut bytes) = (SealCache::default(), 16, 0);
        // Two entries (the tail), then 40 more in one write.
        for seqs in [1..=2u64, 3..=42] {
            let tx = db.begin_write().unwrap();
            {
                let mut h = HistoryTables::open(&tx, UserHasher::new(1, 2), cache, None).unwrap();
                for seq in seqs.clone() {
                    h.insert(seq, &bulky_entry(seq as u32)).unwrap();
                }
                h.seal(seqs.count(), &mut entries, 16, &mut bytes).unwrap();
                cache = h.finish(42, 1).unwrap().0;
            }
            tx.commit().unwrap();
        }
        let tx = db.begin_read().unwrap();
        let spans: Vec<(u64, u32)> = tx
            .open_table(BLOCK_SPANS)
            .unwrap()
            .iter()
            .unwrap()
            .map(|r| r.map(|(k, v)| (k.value(), v.value().0)).unwrap())
            .collect();
        assert!(spans.len() >= 2, "blocks cut short by their page: {spans:?}");
        assert!(spans.iter().all(|&(_, count)| count < 40), "{spans:?}");
        assert_eq!(spans[0].0, 1, "the tail's entries were sealed first");
        let mut read = Entries::open(&tx).unwrap();
        for seq in 1..=42u64 {
            let got = read.get(seq).unwrap().map(|e| u64::from(e.connection.handle.get()));
            assert_eq!(got, Some(seq), "seq {seq}");
        }
        assert_eq!(len(&tx).unwrap(), 42);
    }

    /// A reader whose snapshot began before a merge of the in-memory keys
    /// committed would find the merged keys neither in memory nor in its
    /// snapshot: it is told to begin again, and a newer snapshot finds them.
    #[test]
    fn a_snapshot_older_than_a_merge_is_told_to_begin_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("h.redb")).unwrap();
        let users = UserHasher::new(1, 2);
        let recent = RwLock::new(RecentKeys::default());
        let write = |seqs: std::ops::RangeInclusive<u64>, merge_at: usize| {
            let tx = db.begin_write().unwrap();
            if !recent.read().is_built_for(0) {
                rebuild_recent(&tx, &users, 0, 0, &recent).unwrap();
            }
            let merged = {
                let mut h = HistoryTables::open(&tx, users, SealCache::default(), Some(&recent)).unwrap();
                for seq in seqs.clone() {
                    h.insert(seq, &entry(seq as u32)).unwrap();
                }
                h.finish(*seqs.end(), merge_at).unwrap().1
            };
            tx.commit().unwrap();
            if let Some(floor) = merged {
                recent.write().merged(floor);
            }
            merged
        };
        let q = HistoryQuery {
            user: Some("u".into()),
            ..HistoryQuery::default()
        };
        let seqs = |tx: &redb::ReadTransaction| {
            query(tx, (&recent, 0), &q, None, 100)
                .unwrap()
                .map(|page| page.entries.iter().map(|(seq, _)| *seq).collect::<Vec<_>>())
        };
        assert_eq!(write(1..=3, 100), None, "below the merge size: keys stay in memory");
        let older = db.begin_read().unwrap();
        assert_eq!(seqs(&older), Some(vec![3, 2, 1]));
        assert_eq!(write(4..=5, 1), Some(5), "merged");
        assert_eq!(recent.read().user_keys().count(), 0);
        assert_eq!(seqs(&older), None, "the older snapshot is stale");
        let newer = db.begin_read().unwrap();
        assert_eq!(seqs(&newer), Some(vec![5, 4, 3, 2, 1]));
        // Another generation of the database (a re-open): stale until rebuilt.
        assert_eq!(query(&newer, (&recent, 1), &q, None, 100).unwrap(), None);
    }

    /// A schema-4 tail can have gaps (its retention went by end time, not
    /// seq): a block stops at a gap, so every entry keeps its own seq.
    #[test]
    fn sealing_a_tail_with_gaps_keeps_every_entry_under_its_seq() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("h.redb")).unwrap();
        let seqs = [1u64, 3, 4, 5, 7, 9, 10, 11, 12];
        let tx = db.begin_write().unwrap();
        {
            let mut h = HistoryTables::open(&tx, UserHasher::new(1, 2), SealCache::default(), None).unwrap();
            for seq in seqs {
                h.insert(seq, &entry(seq as u32)).unwrap();
            }
            let (mut entries, mut bytes) = (3, 0);
            while h.seal(0, &mut entries, 3, &mut bytes).unwrap() > 0 {}
            h.finish(12, 1).unwrap();
        }
        tx.commit().unwrap();
        let tx = db.begin_read().unwrap();
        assert!(
            tx.open_table(BLOCK_SPANS).unwrap().len().unwrap() >= 3,
            "sealed into blocks"
        );
        let mut entries = Entries::open(&tx).unwrap();
        for seq in 1..=12u64 {
            let got = entries.get(seq).unwrap().map(|e| u64::from(e.connection.handle.get()));
            assert_eq!(got, seqs.contains(&seq).then_some(seq), "seq {seq}");
        }
        // Every key in redb (no merge floor in it, none in memory).
        let recent = RwLock::new(RecentKeys::default());
        recent.write().rebuild(0, u64::MAX, Vec::new());
        let page = query(&tx, (&recent, 0), &HistoryQuery::default(), None, 100)
            .unwrap()
            .unwrap();
        let paged: Vec<u64> = page.entries.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(paged, seqs.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(len(&tx).unwrap(), seqs.len() as u64);
    }
}
