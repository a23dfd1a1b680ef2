//! The history's index keys: what one entry is indexed under, and the
//! keys of the newest entries — and the names of the users first seen
//! with them — which are kept in memory instead of redb until enough have
//! gathered to merge them in one sorted pass.
//!
//! Why in memory: with 10M entries in the history, inserting each Stop's
//! keys into the two index tables (and a new user's name and name keys)
//! was 45 % of the applier's time — every key lands on a leaf of its own
//! (users and addresses are random within the day), so each cost a walk
//! down the tree and a copy of a leaf. Held here, a key costs a `BTreeSet`
//! insert; merged a few tens of thousands at a time, in key order, a leaf
//! is copied once for all the keys it takes.
//!
//! What keeps a query exact while keys move from here into redb:
//! - Every key of an entry with seq above `floor` is here and none is in
//!   redb; every key of an entry at or below it is in redb. The floor in
//!   redb (`history_meta` "merged") is written by the transaction that
//!   merges the keys.
//! - The applier publishes a write's changes here *before* it commits the
//!   write, and a reader opens its redb snapshot *before* it reads here:
//!   the reader finds the keys of every entry its snapshot holds (and
//!   perhaps keys of entries it does not hold yet, which it skips when it
//!   finds no entry under them).
//! - Merged keys leave only after the merge has committed, and the floor
//!   rises with them; a reader whose snapshot is older than the merge sees
//!   a floor above its snapshot's and opens a newer snapshot.
//! - After any failed write the store re-opens redb (its non-durable
//!   transactions gone) and the applier rebuilds this from the entries
//!   above the floor redb holds; a reader waits for that (`built_for`).
//! - A user's name waits here with the first entry of it the applier
//!   sees (so the rebuild finds it again); the merge writes it unless redb
//!   has it. Names are never removed from redb, so a reader that finds a
//!   name neither here nor in its snapshot finds it in a newer snapshot.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::time::SystemTime;

use rras_core::engine_time::unix_secs;
use rras_core::history_query::{account_keys, addresses};
use rras_core::user_hash::UserHasher;
use rras_core::EndedConnection;

/// Seconds in a day (the index keys' first part is the day an entry ended).
pub(crate) const DAY: u32 = 86_400;
/// Entries whose keys wait in memory before they are merged into redb,
/// unless the store is told otherwise.
pub const RECENT_ENTRIES: usize = 32_768;
/// Users remembered as named in redb; beyond it the set starts again.
const KNOWN_USERS_MAX: usize = 1 << 20;

pub(crate) fn secs32(t: SystemTime) -> u32 {
    u32::try_from(unix_secs(t)).unwrap_or(u32::MAX)
}

pub(crate) fn address_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A user-name key: the lower-case name, a zero, the user's hash.
pub(crate) fn user_key_entry(name: &str, hash: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&hash.to_be_bytes());
    key
}

/// The user hash at the end of a user-name key.
pub(crate) fn hash_of_user_key(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key.get(at..)?.try_into().ok()?))
}

/// The index keys of one entry.
#[derive(Debug, Clone)]
pub(crate) struct IndexKeys {
    /// The UTC day it ended: the first part of every index key, so that
    /// the keys written together (sessions ending now) sit together.
    pub day: u32,
    pub user: u64,
    pub account: String,
    pub started: u32,
    pub ended: u32,
    pub addresses: Vec<u128>,
}

impl IndexKeys {
    pub(crate) fn of(users: &UserHasher, e: &EndedConnection) -> Self {
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

    /// The user index's key.
    pub(crate) fn user_key(&self, seq: u64) -> (u32, u64, u64) {
        (self.day, self.user, seq)
    }

    /// The address index's keys (each maps to the end).
    pub(crate) fn address_keys(&self, seq: u64) -> impl Iterator<Item = (u32, u128, u32, u64)> + '_ {
        self.addresses.iter().map(move |a| (self.day, *a, self.started, seq))
    }
}

/// What a write did to the in-memory keys, published in order when the
/// write ends.
#[derive(Debug)]
pub(crate) enum RecentChange {
    Add(u64, IndexKeys),
    Remove(u64, IndexKeys),
    /// A user (hash, account as written) the applier had not seen yet.
    User(u64, String),
}

/// The index keys of the entries above `floor`.
#[derive(Debug, Default)]
pub(crate) struct RecentKeys {
    /// The database generation these were built for (None: not yet).
    built_for: Option<u64>,
    floor: u64,
    by_user: BTreeSet<(u32, u64, u64)>,
    by_address: BTreeMap<(u32, u128, u32, u64), u32>,
    /// Users first seen since the last merge: hash → account as written,
    /// and their name keys ([`user_key_entry`]).
    names: BTreeMap<u64, String>,
    name_keys: BTreeSet<Vec<u8>>,
    /// Entries added since the last merge.
    added: usize,
    /// Users whose names redb holds (the applier's alone, taken by each
    /// write): their Stops skip the name lookup.
    known_users: HashSet<u64>,
}

impl RecentKeys {
    /// Starts again for database generation `epoch`: the keys of the
    /// entries above `floor` are `entries`.
    pub(crate) fn rebuild(&mut self, epoch: u64, floor: u64, entries: Vec<(u64, IndexKeys)>) {
        *self = RecentKeys {
            built_for: Some(epoch),
            floor,
            ..RecentKeys::default()
        };
        self.added = entries.len();
        for (seq, keys) in entries {
            self.add(seq, &keys);
            self.add_user(keys.user, keys.account);
        }
    }

    /// Whether these are the keys of database generation `epoch`.
    pub(crate) fn is_built_for(&self, epoch: u64) -> bool {
        self.built_for == Some(epoch)
    }

    /// Entries at or below this seq have their keys in redb.
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// Entries added since the last merge.
    pub(crate) fn added(&self) -> usize {
        self.added
    }

    fn add(&mut self, seq: u64, keys: &IndexKeys) {
        self.by_user.insert(keys.user_key(seq));
        for key in keys.address_keys(seq) {
            self.by_address.insert(key, keys.ended);
        }
    }

    fn add_user(&mut self, user: u64, account: String) {
        for name in &account_keys(&account) {
            self.name_keys.insert(user_key_entry(name, user));
        }
        self.names.entry(user).or_insert(account);
    }

    /// A write's changes, in the order it made them.
    pub(crate) fn publish(&mut self, changes: Vec<RecentChange>) {
        for change in changes {
            match change {
                RecentChange::Add(seq, keys) => {
                    self.add(seq, &keys);
                    self.added += 1;
                }
                RecentChange::Remove(seq, keys) => {
                    self.by_user.remove(&keys.user_key(seq));
                    for key in keys.address_keys(seq) {
                        self.by_address.remove(&key);
                    }
                }
                RecentChange::User(user, account) => self.add_user(user, account),
            }
        }
    }

    /// The user keys, in key order (what a merge writes).
    pub(crate) fn user_keys(&self) -> impl Iterator<Item = &(u32, u64, u64)> {
        self.by_user.iter()
    }

    /// The address keys and their ends, in key order.
    pub(crate) fn address_keys(&self) -> impl Iterator<Item = (&(u32, u128, u32, u64), &u32)> {
        self.by_address.iter()
    }

    /// The users first seen since the last merge, by hash.
    pub(crate) fn names(&self) -> impl Iterator<Item = (&u64, &String)> {
        self.names.iter()
    }

    /// Their name keys, in key order.
    pub(crate) fn name_keys(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.name_keys.iter()
    }

    /// The account of `user`, if it was first seen since the last merge.
    pub(crate) fn name(&self, user: u64) -> Option<&str> {
        self.names.get(&user).map(String::as_str)
    }

    /// The hashes of the users here with a name that starts with `prefix`.
    pub(crate) fn users_named<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = u64> + 'a {
        self.name_keys
            .range(prefix.to_vec()..)
            .take_while(move |key| key.starts_with(prefix))
            .filter_map(|key| hash_of_user_key(key))
    }

    /// A merge up to `floor` has committed: its keys and names leave.
    pub(crate) fn merged(&mut self, floor: u64) {
        self.by_user.retain(|k| k.2 > floor);
        self.by_address.retain(|k, _| k.3 > floor);
        self.names.clear();
        self.name_keys.clear();
        self.floor = floor;
        self.added = 0;
    }

    /// The first and last day a user key here ended on.
    pub(crate) fn user_days(&self) -> Option<(u32, u32)> {
        Some((self.by_user.first()?.0, self.by_user.last()?.0))
    }

    /// The first and last day an address key here ended on.
    pub(crate) fn address_days(&self) -> Option<(u32, u32)> {
        Some((
            self.by_address.first_key_value()?.0 .0,
            self.by_address.last_key_value()?.0 .0,
        ))
    }

    /// The seqs (below `below`) of `user`'s entries that ended on `day`.
    pub(crate) fn user_seqs(&self, day: u32, user: u64, below: u64) -> impl Iterator<Item = u64> + '_ {
        self.by_user.range((day, user, 0)..(day, user, below)).map(|k| k.2)
    }

    /// The entries with `address` that ended on `day` and started by `to`:
    /// (seq, end).
    pub(crate) fn address_seqs(&self, day: u32, address: u128, to: u32) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.by_address
            .range((day, address, 0, 0)..=(day, address, to, u64::MAX))
            .map(|(k, end)| (k.3, *end))
    }

    /// The applier takes the set of named users for a write.
    pub(crate) fn take_known_users(&mut self) -> HashSet<u64> {
        std::mem::take(&mut self.known_users)
    }

    /// And gives it back (started again once it is too large).
    pub(crate) fn return_known_users(&mut self, mut users: HashSet<u64>) {
        if users.len() > KNOWN_USERS_MAX {
            users.clear();
        }
        self.known_users = users;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(day: u32, user: u64, address: u128) -> IndexKeys {
        IndexKeys {
            day,
            user,
            account: String::new(),
            started: day * DAY,
            ended: day * DAY + 10,
            addresses: vec![address],
        }
    }

    #[test]
    fn a_merge_takes_the_keys_up_to_its_floor_and_a_removal_what_it_names() {
        let mut recent = RecentKeys::default();
        recent.rebuild(3, 10, vec![(11, keys(1, 7, 99))]);
        assert!(recent.is_built_for(3) && !recent.is_built_for(4));
        recent.publish(vec![
            RecentChange::Add(12, keys(1, 7, 99)),
            RecentChange::Add(13, keys(2, 8, 98)),
            RecentChange::Remove(11, keys(1, 7, 99)),
            RecentChange::User(8, "CORP\\Bob".into()),
        ]);
        assert_eq!(recent.users_named(b"bo").collect::<Vec<_>>(), [8]);
        assert_eq!(recent.users_named(b"corp\\b").collect::<Vec<_>>(), [8]);
        assert_eq!(recent.users_named(b"carol").count(), 0);
        assert_eq!(recent.name(8), Some("CORP\\Bob"));
        assert_eq!(recent.added(), 3);
        assert_eq!(recent.user_seqs(1, 7, u64::MAX).collect::<Vec<_>>(), [12]);
        assert_eq!(recent.user_seqs(1, 7, 12).count(), 0, "below is exclusive");
        assert_eq!(
            recent.address_seqs(1, 99, DAY * 2).collect::<Vec<_>>(),
            [(12, DAY + 10)]
        );
        assert_eq!(recent.address_seqs(1, 99, DAY - 1).count(), 0, "started after `to`");
        assert_eq!(recent.user_days(), Some((1, 2)));
        recent.merged(12);
        assert_eq!(recent.floor(), 12);
        assert_eq!(recent.added(), 0);
        assert_eq!(recent.user_keys().count(), 1);
        assert_eq!(recent.address_days(), Some((2, 2)));
        assert_eq!((recent.name(8), recent.names().count()), (None, 0));
    }
}
