//! The history of ended connections: each entry under its sequence number
//! (the order in which Stops became durable), three indexes beside it, and
//! retention by age and by size.
//!
//! - `history_records`: seq → the entry (`rras_core::record::encode_ended`).
//! - `history_by_end`: (ended, seq): time ranges, and what retention
//!   removes first.
//! - `history_by_user`: user key ++ 0 ++ seq: a prefix of an account, with
//!   or without its domain (`rras_core::history_query::user_keys`).
//! - `history_by_address`: address (16 bytes, IPv4 mapped) ++ started ++
//!   seq → ended: "who had this address at T" reads only that address's
//!   sessions that started by T.
//!
//! Times are whole seconds since the epoch. **Retention** removes the
//! entries that ended first, a few per write transaction
//! ([`RETENTION_STEP`]), while the oldest ended before `max_age` ago or
//! the history's bytes exceed `max_bytes` — never the whole backlog in
//! one go, so acknowledgements never wait behind it. The bytes counted are
//! the entries' and their index keys', not the file's (redb reuses freed
//! pages; the file does not shrink).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{ReadableTable, TableDefinition};
use rras_core::history_query::{addresses, lower, user_keys};
use rras_core::{EndedConnection, HistoryQuery};

use crate::{tx_err, StoreError};

/// Ended connections (seq → entry).
pub(crate) const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history_records");
const BY_END: TableDefinition<(u64, u64), ()> = TableDefinition::new("history_by_end");
const BY_USER: TableDefinition<&[u8], ()> = TableDefinition::new("history_by_user");
const BY_ADDRESS: TableDefinition<&[u8], u64> = TableDefinition::new("history_by_address");

/// Entries removed per write transaction at most.
pub const RETENTION_STEP: usize = 512;
/// What a key of the entry table and of the end index cost beside the
/// entry itself (two u64 and a pair of them).
const FIXED_BYTES: u64 = 8 + 16;
/// The most entries one query reads without an index before it returns a
/// cursor to go on from.
const SCAN_BUDGET: usize = 200_000;

/// How long and how much history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Entries that ended longer ago are removed.
    pub max_age: Duration,
    /// The history's bytes (entries and index keys) kept at most.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(365 * 86_400),
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

/// The history's tables in one write transaction.
pub(crate) struct HistoryTables<'tx> {
    entries: redb::Table<'tx, u64, &'static [u8]>,
    by_end: redb::Table<'tx, (u64, u64), ()>,
    by_user: redb::Table<'tx, &'static [u8], ()>,
    by_address: redb::Table<'tx, &'static [u8], u64>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn address_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn user_key(name: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn address_key(address: IpAddr, started: u64, seq: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&address_bytes(address));
    key[16..24].copy_from_slice(&started.to_be_bytes());
    key[24..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn seq_of(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|at| key.get(at..))
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// The index keys of one entry and what they cost.
struct IndexKeys {
    ended: u64,
    users: Vec<Vec<u8>>,
    addresses: Vec<([u8; 32], u64)>,
}

impl IndexKeys {
    fn of(seq: u64, e: &EndedConnection) -> Self {
        let info = &e.connection.info;
        let ended = secs(e.ended_at);
        IndexKeys {
            ended,
            users: user_keys(info).iter().map(|u| user_key(u, seq)).collect(),
            addresses: addresses(info)
                .into_iter()
                .map(|a| (address_key(a, secs(info.started_at), seq), ended))
                .collect(),
        }
    }

    fn bytes(&self, entry_len: usize) -> u64 {
        let users: usize = self.users.iter().map(Vec::len).sum();
        FIXED_BYTES + (entry_len + users + self.addresses.len() * 40) as u64
    }
}

impl<'tx> HistoryTables<'tx> {
    /// Opens (creating) the tables in `tx`.
    pub(crate) fn open(tx: &'tx redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(HistoryTables {
            entries: tx.open_table(HISTORY).map_err(tx_err)?,
            by_end: tx.open_table(BY_END).map_err(tx_err)?,
            by_user: tx.open_table(BY_USER).map_err(tx_err)?,
            by_address: tx.open_table(BY_ADDRESS).map_err(tx_err)?,
        })
    }

    /// Adds the entry `bytes` as `seq`; returns the bytes it counts for.
    /// An entry that does not decode (it cannot happen: the daemon wrote
    /// it) is kept without indexes rather than lost.
    pub(crate) fn insert(&mut self, seq: u64, bytes: &[u8]) -> Result<u64, StoreError> {
        self.entries.insert(seq, bytes).map_err(tx_err)?;
        let Ok(ended) = rras_core::record::decode_ended(bytes) else {
            return Ok(FIXED_BYTES + bytes.len() as u64);
        };
        let keys = IndexKeys::of(seq, &ended);
        self.index(seq, &keys)?;
        Ok(keys.bytes(bytes.len()))
    }

    fn index(&mut self, seq: u64, keys: &IndexKeys) -> Result<(), StoreError> {
        self.by_end.insert((keys.ended, seq), ()).map_err(tx_err)?;
        for user in &keys.users {
            self.by_user.insert(user.as_slice(), ()).map_err(tx_err)?;
        }
        for (address, ended) in &keys.addresses {
            self.by_address.insert(address.as_slice(), *ended).map_err(tx_err)?;
        }
        Ok(())
    }

    /// Removes the entry `seq` and its index keys; returns the bytes freed.
    fn remove(&mut self, seq: u64, ended: u64) -> Result<u64, StoreError> {
        let Some(bytes) = self.entries.remove(seq).map_err(tx_err)?.map(|v| v.value().to_vec()) else {
            self.by_end.remove((ended, seq)).map_err(tx_err)?;
            return Ok(0);
        };
        let Ok(entry) = rras_core::record::decode_ended(&bytes) else {
            self.by_end.remove((ended, seq)).map_err(tx_err)?;
            return Ok(FIXED_BYTES + bytes.len() as u64);
        };
        let keys = IndexKeys::of(seq, &entry);
        self.by_end.remove((keys.ended, seq)).map_err(tx_err)?;
        for user in &keys.users {
            self.by_user.remove(user.as_slice()).map_err(tx_err)?;
        }
        for (address, _) in &keys.addresses {
            self.by_address.remove(address.as_slice()).map_err(tx_err)?;
        }
        Ok(keys.bytes(bytes.len()))
    }

    /// One step of retention: removes up to [`RETENTION_STEP`] of the
    /// entries that ended first while they are older than `retention`
    /// allows or `bytes` is over its size; returns how many went.
    pub(crate) fn retain(
        &mut self,
        retention: &Retention,
        now: SystemTime,
        bytes: &mut u64,
    ) -> Result<usize, StoreError> {
        let cutoff = secs(now.checked_sub(retention.max_age).unwrap_or(UNIX_EPOCH));
        let mut removed = 0;
        while removed < RETENTION_STEP {
            let Some((ended, seq)) = self.by_end.first().map_err(tx_err)?.map(|(k, _)| k.value()) else {
                break;
            };
            if ended >= cutoff && *bytes <= retention.max_bytes {
                break;
            }
            *bytes = bytes.saturating_sub(self.remove(seq, ended)?);
            removed += 1;
        }
        Ok(removed)
    }

    /// Builds the indexes of a history written before they existed, and
    /// returns the bytes it counts for.
    pub(crate) fn reindex(&mut self) -> Result<u64, StoreError> {
        let mut keys = Vec::new();
        let mut total = 0;
        for row in self.entries.iter().map_err(tx_err)? {
            let (seq, bytes) = row.map_err(tx_err)?;
            let (seq, bytes) = (seq.value(), bytes.value());
            match rras_core::record::decode_ended(bytes) {
                Ok(ended) => {
                    let k = IndexKeys::of(seq, &ended);
                    total += k.bytes(bytes.len());
                    keys.push((seq, k));
                }
                Err(_) => total += FIXED_BYTES + bytes.len() as u64,
            }
        }
        for (seq, k) in &keys {
            self.index(*seq, k)?;
        }
        Ok(total)
    }
}

/// Answers `query` from the history in `tx`: entries with seq below
/// `before` (all when None), newest first, at most `limit`.
pub(crate) fn query(
    tx: &redb::ReadTransaction,
    q: &HistoryQuery,
    before: Option<u64>,
    limit: usize,
) -> Result<HistoryPage, StoreError> {
    let entries = tx.open_table(HISTORY).map_err(tx_err)?;
    let below = before.unwrap_or(u64::MAX);
    let limit = limit.max(1);
    let mut page = HistoryPage::default();
    let take = |seq: u64, bytes: &[u8], page: &mut HistoryPage| -> Result<bool, StoreError> {
        let ended = rras_core::record::decode_ended(bytes).map_err(|source| StoreError::History { seq, source })?;
        if q.matches(&ended.connection.info, Some(ended.ended_at)) {
            if page.entries.len() == limit {
                page.next = page.entries.last().map(|(s, _)| *s);
                return Ok(false);
            }
            page.entries.push((seq, ended));
        }
        Ok(true)
    };
    let Some(mut candidates) = candidates(tx, q, below)? else {
        // No index narrows it: walk the entries backwards, within a budget.
        for (scanned, row) in entries.range(..below).map_err(tx_err)?.rev().enumerate() {
            let (seq, bytes) = row.map_err(tx_err)?;
            if scanned == SCAN_BUDGET {
                page.next = Some(seq.value() + 1);
                break;
            }
            if !take(seq.value(), bytes.value(), &mut page)? {
                break;
            }
        }
        return Ok(page);
    };
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    candidates.dedup();
    for seq in candidates {
        let Some(bytes) = entries.get(seq).map_err(tx_err)? else {
            continue;
        };
        if !take(seq, bytes.value(), &mut page)? {
            break;
        }
    }
    Ok(page)
}

/// Feeds `usage` every entry that overlaps its period: ended at or after
/// `from` (through the end index), started before `to`.
pub(crate) fn usage(
    tx: &redb::ReadTransaction,
    from: SystemTime,
    to: SystemTime,
    usage: &mut rras_core::usage::UsageBuilder,
) -> Result<(), StoreError> {
    let entries = tx.open_table(HISTORY).map_err(tx_err)?;
    let index = tx.open_table(BY_END).map_err(tx_err)?;
    for row in index.range((secs(from), 0)..).map_err(tx_err)? {
        let (key, _) = row.map_err(tx_err)?;
        let (_, seq) = key.value();
        let Some(bytes) = entries.get(seq).map_err(tx_err)? else {
            continue;
        };
        let ended =
            rras_core::record::decode_ended(bytes.value()).map_err(|source| StoreError::History { seq, source })?;
        if ended.connection.info.started_at < to {
            usage.add(&ended.connection.info, Some(ended.ended_at));
        }
    }
    Ok(())
}

/// The seqs below `below` an index offers for `q` (a superset of the
/// matches), or None when no index applies.
fn candidates(tx: &redb::ReadTransaction, q: &HistoryQuery, below: u64) -> Result<Option<Vec<u64>>, StoreError> {
    let mut seqs = Vec::new();
    if let Some(address) = q.address {
        let index = tx.open_table(BY_ADDRESS).map_err(tx_err)?;
        let to = q.to.map_or(u64::MAX, secs);
        let from = q.from.map_or(0, secs);
        let start = address_key(address, 0, 0);
        let end = address_key(address, to, u64::MAX);
        for row in index.range(start.as_slice()..=end.as_slice()).map_err(tx_err)? {
            let (key, ended) = row.map_err(tx_err)?;
            let seq = seq_of(key.value());
            if ended.value() >= from && seq < below {
                seqs.push(seq);
            }
        }
        return Ok(Some(seqs));
    }
    if let Some(user) = &q.user {
        let prefix = lower(user);
        let index = tx.open_table(BY_USER).map_err(tx_err)?;
        for row in index.range(prefix.as_bytes()..).map_err(tx_err)? {
            let (key, _) = row.map_err(tx_err)?;
            if !key.value().starts_with(prefix.as_bytes()) {
                break;
            }
            let seq = seq_of(key.value());
            if seq < below {
                seqs.push(seq);
            }
        }
        return Ok(Some(seqs));
    }
    if let Some(from) = q.from {
        let index = tx.open_table(BY_END).map_err(tx_err)?;
        for row in index.range((secs(from), 0)..).map_err(tx_err)? {
            let (key, _) = row.map_err(tx_err)?;
            let (_, seq) = key.value();
            if seq < below {
                seqs.push(seq);
            }
        }
        return Ok(Some(seqs));
    }
    Ok(None)
}
