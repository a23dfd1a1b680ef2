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

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rras_core::engine_time::unix_secs;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use rras_core::history_query::{account_keys, addresses, lower};
use rras_core::usage::{TopBy, UsageBuilder, UsageReport, UsageSession};
use rras_core::user_hash::UserHasher;
use rras_core::{EndedConnection, HistoryQuery};

use crate::history_block::Block;
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
/// Indexes of earlier layouts, replaced by the ones above: schema 4's, and
/// the first of schema 5 (without the day in front).
pub(crate) const OLD_INDEXES: [&str; 5] = [
    "history_by_end",
    "history_by_user",
    "history_by_address",
    "history_user_index",
    "history_address_index",
];

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
/// Seconds in a day (the index keys' first part is the day an entry ended).
const DAY: u32 = 86_400;
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

fn secs32(t: SystemTime) -> u32 {
    u32::try_from(unix_secs(t)).unwrap_or(u32::MAX)
}

fn address_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn user_key_entry(name: &str, hash: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&hash.to_be_bytes());
    key
}

fn hash_of_user_key(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key.get(at..)?.try_into().ok()?))
}

fn decode(seq: u64, bytes: &[u8]) -> Result<EndedConnection, StoreError> {
    rras_core::record::decode_ended(bytes).map_err(|source| StoreError::History { seq, source })
}

/// The index keys of one entry.
struct IndexKeys {
    /// The UTC day it ended: the first part of every index key, so that
    /// the keys written together (sessions ending now) sit together and a
    /// write copies a few leaves of each index, not one leaf per Stop.
    day: u32,
    user: u64,
    account: String,
    started: u32,
    ended: u32,
    addresses: Vec<u128>,
}

impl IndexKeys {
    fn of(users: &UserHasher, e: &EndedConnection) -> Self {
        let info = &e.connection.info;
        let account = info.account();
        IndexKeys {
            user: users.account(&account),
            account,
            day: secs32(e.ended_at) / DAY,
            started: secs32(info.started_at),
            ended: secs32(e.ended_at),
            addresses: addresses(info).into_iter().map(address_key).collect(),
        }
    }

    fn bytes(&self) -> u64 {
        USER_KEY_BYTES + ADDRESS_KEY_BYTES * self.addresses.len() as u64
    }
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
}

impl<'tx> HistoryTables<'tx> {
    /// Opens (creating) the tables in `tx`.
    pub(crate) fn open(
        tx: &'tx redb::WriteTransaction,
        users: UserHasher,
        cache: SealCache,
    ) -> Result<Self, StoreError> {
        let meta = tx.open_table(HISTORY_META).map_err(tx_err)?;
        let longest = meta.get(LONGEST).map_err(tx_err)?.map_or(0, |v| v.value());
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
        self.index(seq, &keys)?;
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
        self.cache.insert(seq, (session, keys.bytes()));
        Ok(TAIL_KEY_BYTES + bytes.len() as u64 + keys.bytes())
    }

    /// Ends the write: what no block took goes into the tail; returns the
    /// seal cache, for the next write.
    pub(crate) fn finish(mut self) -> Result<SealCache, StoreError> {
        for (seq, entry) in std::mem::take(&mut self.fresh) {
            self.tail.insert(seq, entry.as_slice()).map_err(tx_err)?;
        }
        Ok(self.cache)
    }

    fn index(&mut self, seq: u64, keys: &IndexKeys) -> Result<(), StoreError> {
        let duration = u64::from(keys.ended.saturating_sub(keys.started));
        if duration > self.longest {
            self.longest = duration;
            self.meta.insert(LONGEST, duration).map_err(tx_err)?;
        }
        self.by_user.insert((keys.day, keys.user, seq), ()).map_err(tx_err)?;
        if self.user_names.get(keys.user).map_err(tx_err)?.is_none() {
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
        for address in &keys.addresses {
            self.by_address
                .insert((keys.day, *address, keys.started, seq), keys.ended)
                .map_err(tx_err)?;
        }
        Ok(())
    }

    fn unindex(&mut self, seq: u64, bytes: &[u8]) -> Result<u64, StoreError> {
        let Ok(entry) = rras_core::record::decode_ended(bytes) else {
            return Ok(0);
        };
        let keys = IndexKeys::of(&self.users, &entry);
        self.by_user.remove((keys.day, keys.user, seq)).map_err(tx_err)?;
        for address in &keys.addresses {
            self.by_address
                .remove((keys.day, *address, keys.started, seq))
                .map_err(tx_err)?;
        }
        Ok(keys.bytes())
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
                    self.index(rest + i as u64, &keys)?;
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
                total += k.bytes();
                keys.push((seq, k));
            }
        }
        for (seq, k) in &keys {
            self.index(*seq, k)?;
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
                    block_bytes += k.bytes();
                    self.index(first + i as u64, &k)?;
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

/// Answers `query` from the history in `tx`: entries with seq below
/// `before` (all when None), newest first, at most `limit`.
pub(crate) fn query(
    tx: &redb::ReadTransaction,
    q: &HistoryQuery,
    before: Option<u64>,
    limit: usize,
) -> Result<HistoryPage, StoreError> {
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
    if let Some(candidates) = candidates(tx, q, below)? {
        for seq in candidates.into_iter().rev() {
            let Some(ended) = entries.get(seq)? else {
                continue;
            };
            if !take(seq, ended, &mut page) {
                break;
            }
        }
        return Ok(page);
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
            return Ok(page);
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
                return Ok(page);
            }
        }
    }
    Ok(page)
}

/// The report of `[from, to)` as of `now`: every ended entry that overlaps
/// the period (blocks through their usage columns, the tail decoded), then
/// what `live` adds; the top users named from the history's names.
pub(crate) fn usage(
    tx: &redb::ReadTransaction,
    users: UserHasher,
    period: (SystemTime, SystemTime, SystemTime),
    top: (usize, TopBy),
    live: &impl Fn(&mut UsageBuilder),
) -> Result<UsageReport, StoreError> {
    let (from, to, now) = period;
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
    let names = tx.open_table(USER_NAMES).map_err(tx_err)?;
    Ok(builder.finish(top.0, top.1, |hash| {
        names.get(hash).ok().flatten().map(|name| name.value().to_owned())
    }))
}

/// The seqs below `below` an index offers for `q` (a superset of the
/// matches), ascending, or None when no index applies or one would
/// collect more than its budget.
fn candidates(tx: &redb::ReadTransaction, q: &HistoryQuery, below: u64) -> Result<Option<Vec<u64>>, StoreError> {
    let mut seqs = BTreeSet::new();
    let (from, to) = (q.from.map_or(0, secs32), q.to.map_or(u32::MAX, secs32));
    // The days an entry that matches can have ended on: from the day of
    // `from` to the last day any entry ended — or, with `to`, to the day of
    // `to` plus the longest session (it started by `to`).
    let longest = tx
        .open_table(HISTORY_META)
        .map_err(tx_err)?
        .get(LONGEST)
        .map_err(tx_err)?
        .map_or(u64::MAX, |v| v.value());
    let ended_by = u32::try_from(u64::from(to).saturating_add(longest)).unwrap_or(u32::MAX);
    let days = |first: Option<u32>, last: Option<u32>| match (first, last) {
        (Some(first), Some(last)) => (first.max(from / DAY)..=last.min(ended_by / DAY)).collect::<Vec<u32>>(),
        _ => Vec::new(),
    };
    if let Some(address) = q.address {
        let index = tx.open_table(ADDRESS_INDEX).map_err(tx_err)?;
        let first = index.first().map_err(tx_err)?.map(|(k, _)| k.value().0);
        let last = index.last().map_err(tx_err)?.map(|(k, _)| k.value().0);
        let a = address_key(address);
        let mut read = 0;
        for day in days(first, last) {
            for row in index.range((day, a, 0, 0)..=(day, a, to, u64::MAX)).map_err(tx_err)? {
                read += 1;
                if read == INDEX_BUDGET {
                    return Ok(None);
                }
                let (key, ended) = row.map_err(tx_err)?;
                let (_, _, _, seq) = key.value();
                if ended.value() >= from && seq < below {
                    seqs.insert(seq);
                }
            }
        }
        return Ok(Some(seqs.into_iter().collect()));
    }
    if let Some(user) = &q.user {
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
                return Ok(None);
            }
        }
        let index = tx.open_table(USER_INDEX).map_err(tx_err)?;
        let first = index.first().map_err(tx_err)?.map(|(k, _)| k.value().0);
        let last = index.last().map_err(tx_err)?.map(|(k, _)| k.value().0);
        let days = days(first, last);
        // Each (day, user) is a seek: many users over many days scan instead.
        if hashes.len().saturating_mul(days.len()) > SEEK_BUDGET {
            return Ok(None);
        }
        for day in days {
            for hash in &hashes {
                for row in index.range((day, *hash, 0)..(day, *hash, below)).map_err(tx_err)? {
                    seqs.insert(row.map_err(tx_err)?.0.value().2);
                    if seqs.len() > INDEX_BUDGET {
                        return Ok(None);
                    }
                }
            }
        }
        return Ok(Some(seqs.into_iter().collect()));
    }
    Ok(None)
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
                let mut h = HistoryTables::open(&tx, UserHasher::new(1, 2), cache).unwrap();
                for seq in seqs.clone() {
                    h.insert(seq, &bulky_entry(seq as u32)).unwrap();
                }
                h.seal(seqs.count(), &mut entries, 16, &mut bytes).unwrap();
                cache = h.finish().unwrap();
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

    /// A schema-4 tail can have gaps (its retention went by end time, not
    /// seq): a block stops at a gap, so every entry keeps its own seq.
    #[test]
    fn sealing_a_tail_with_gaps_keeps_every_entry_under_its_seq() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("h.redb")).unwrap();
        let seqs = [1u64, 3, 4, 5, 7, 9, 10, 11, 12];
        let tx = db.begin_write().unwrap();
        {
            let mut h = HistoryTables::open(&tx, UserHasher::new(1, 2), SealCache::default()).unwrap();
            for seq in seqs {
                h.insert(seq, &entry(seq as u32)).unwrap();
            }
            let (mut entries, mut bytes) = (3, 0);
            while h.seal(0, &mut entries, 3, &mut bytes).unwrap() > 0 {}
            h.finish().unwrap();
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
        let page = query(&tx, &HistoryQuery::default(), None, 100).unwrap();
        let paged: Vec<u64> = page.entries.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(paged, seqs.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(len(&tx).unwrap(), seqs.len() as u64);
    }
}
