//! `StaggeredTable`: a hash table in shards whose sizes differ on purpose,
//! so that they grow at different times.
//!
//! A hash table grows all at once: at 7/8 full it moves every entry into a
//! table twice the size. The cost of that is mostly the fresh memory's
//! first touch, not the moving: at 917,504 rows the table's index went into
//! 66 MB of new pages and held the write lock for 114 ms (97 % of it in the
//! kernel's `clear_page`, perf, docs/benchmarks-notebook.md), and every RADIUS
//! request in flight waited for it: those stalls were the ack p99.
//!
//! (Also the RADIUS source's per-session map, for the same reason; both
//! that and the table's handle index are a [`StaggeredMap`].)
//!
//! Here an entry goes to shard `i` with a probability proportional to
//! 2^(i/SHARDS), so the shards fill at rates spread evenly over one doubling
//! and each one reaches its growth point at its own moment: the same work
//! comes as [`SHARDS`] small pauses (a few milliseconds at a million rows)
//! spread across the interval instead of one long one. Memory is the same
//! on average (and at any size some shards have just grown and some are
//! about to, instead of all being at one extreme).

use std::hash::{BuildHasher, Hash};

use hashbrown::hash_table::HashTable;
use hashbrown::DefaultHashBuilder;

/// Shards per table.
pub const SHARDS: usize = 32;

/// Spreads the shard choice over all 64 bits of a hash: the shards use the
/// low bits (bucket) and the top seven (hashbrown's tag) themselves, and a
/// choice from either would leave part of every shard's buckets unused.
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// A hash table of `T` in [`SHARDS`] shards that grow at staggered times.
/// Callers hash (as with `hashbrown::HashTable`): every call takes the
/// entry's 64-bit hash and, where it may grow a shard, a function giving
/// any entry's hash.
#[derive(Debug)]
pub struct StaggeredTable<T> {
    shards: Vec<HashTable<T>>,
    /// The shard of each 12-bit selector: one load, no branches (a binary
    /// search over the shares cost a full listing 20 ms at 1M rows, its
    /// mispredicted branches keeping lookups from overlapping).
    shard_of_selector: Box<[u8; SELECTORS]>,
    len: usize,
}

/// Selector values (12 bits): enough that every shard's share differs
/// from its neighbours' (89 to 177 selectors each).
const SELECTORS: usize = 1 << 12;

impl<T> Default for StaggeredTable<T> {
    fn default() -> Self {
        let weights: Vec<f64> = (0..SHARDS).map(|i| (i as f64 / SHARDS as f64).exp2()).collect();
        let total: f64 = weights.iter().sum();
        let mut shard_of_selector = Box::new([0u8; SELECTORS]);
        let mut cumulative = 0.0;
        let mut start = 0;
        for (shard, weight) in weights.iter().enumerate() {
            cumulative += weight;
            // The last shard takes whatever rounding left.
            let end = if shard == SHARDS - 1 {
                SELECTORS
            } else {
                ((cumulative / total) * SELECTORS as f64).round() as usize
            };
            for slot in &mut shard_of_selector[start..end] {
                *slot = shard as u8;
            }
            start = end;
        }
        StaggeredTable {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            shard_of_selector,
            len: 0,
        }
    }
}

impl<T> StaggeredTable<T> {
    #[inline]
    fn shard_of(&self, hash: u64) -> usize {
        let selector = (hash.wrapping_mul(MIX) >> (64 - SELECTORS.trailing_zeros())) as usize;
        usize::from(self.shard_of_selector[selector & (SELECTORS - 1)])
    }

    /// The share of entries shard `i` gets, of [`SELECTORS`].
    fn share(&self, i: usize) -> usize {
        self.shard_of_selector.iter().filter(|&&s| usize::from(s) == i).count()
    }

    /// Entries in all shards.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry with `hash` that `eq` accepts.
    #[inline]
    pub fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.shards[self.shard_of(hash)].find(hash, eq)
    }

    /// The entry with `hash` that `eq` accepts, to change.
    #[inline]
    pub fn find_mut(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        let shard = self.shard_of(hash);
        self.shards[shard].find_mut(hash, eq)
    }

    /// Adds an entry known not to be present; `hasher` gives an entry's
    /// hash (the shard grows with it).
    #[inline]
    pub fn insert_unique(&mut self, hash: u64, value: T, hasher: impl Fn(&T) -> u64) {
        let shard = self.shard_of(hash);
        self.shards[shard].insert_unique(hash, value, hasher);
        self.len += 1;
    }

    /// Takes out the entry with `hash` that `eq` accepts.
    #[inline]
    pub fn remove(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<T> {
        let shard = self.shard_of(hash);
        let (value, _) = self.shards[shard].find_entry(hash, eq).ok()?.remove();
        self.len -= 1;
        Some(value)
    }

    /// Room for `additional` more entries, shared as they will arrive. A
    /// hint: room the allocator cannot give is left to grow as entries come
    /// (a count read from a damaged store must not abort the daemon).
    pub fn reserve(&mut self, additional: usize, hasher: impl Fn(&T) -> u64) {
        for i in 0..SHARDS {
            let share = (additional as u64).saturating_mul(self.share(i) as u64) / SELECTORS as u64;
            // A little over the expected share: the split is random.
            let want = share.saturating_add(share / 16).saturating_add(16);
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            if self.shards[i].try_reserve(want, &hasher).is_err() {
                break;
            }
        }
    }

    /// Every entry, shard by shard (no order).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.shards.iter().flat_map(HashTable::iter)
    }

    #[cfg(test)]
    fn shard_lens(&self) -> Vec<usize> {
        self.shards.iter().map(HashTable::len).collect()
    }

    #[cfg(test)]
    fn shard_capacities(&self) -> Vec<usize> {
        self.shards.iter().map(HashTable::capacity).collect()
    }
}

/// A map from a small `Copy` key to `V` over a [`StaggeredTable`], hashed
/// with foldhash (randomly seeded per map): the table's handle index and
/// the RADIUS last-seen map.
#[derive(Debug)]
pub struct StaggeredMap<K, V> {
    table: StaggeredTable<(K, V)>,
    hasher: DefaultHashBuilder,
}

impl<K, V> Default for StaggeredMap<K, V> {
    fn default() -> Self {
        StaggeredMap {
            table: StaggeredTable::default(),
            hasher: DefaultHashBuilder::default(),
        }
    }
}

impl<K: Hash + Eq + Copy, V> StaggeredMap<K, V> {
    /// Entries in the map.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: K) -> Option<&V> {
        self.table
            .find(self.hasher.hash_one(key), |(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The value of `key`, to change.
    #[inline]
    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        let hash = self.hasher.hash_one(key);
        self.table.find_mut(hash, |(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Adds `key`, known not to be present (one probe less than
    /// [`insert`](Self::insert)).
    #[inline]
    pub fn insert_new(&mut self, key: K, value: V) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hasher.hash_one(key), (key, value), |(k, _)| hasher.hash_one(k));
    }

    /// Sets `key` to `value`, whether present or not.
    pub fn insert(&mut self, key: K, value: V) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.insert_new(key, value),
        }
    }

    /// Takes `key` out.
    #[inline]
    pub fn remove(&mut self, key: K) -> Option<V> {
        self.table
            .remove(self.hasher.hash_one(key), |(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Room for `additional` more entries (a hint, as
    /// [`StaggeredTable::reserve`]).
    pub fn reserve(&mut self, additional: usize) {
        let hasher = &self.hasher;
        self.table.reserve(additional, |(k, _)| hasher.hash_one(k));
    }

    /// Every entry (no order).
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.table.iter().map(|(k, v)| (*k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: well spread and the same in every run (a seeded
    /// hasher made the growth test pass or fail by the seed it drew).
    fn hash(k: u64) -> u64 {
        let mut z = k.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn table_of(n: u64) -> (StaggeredTable<u64>, impl Fn(&u64) -> u64) {
        let h = |k: &u64| hash(*k);
        let mut t = StaggeredTable::default();
        for k in 0..n {
            t.insert_unique(h(&k), k, h);
        }
        (t, h)
    }

    #[test]
    fn behaves_like_a_map() {
        let (mut t, h) = table_of(10_000);
        assert_eq!(t.len(), 10_000);
        assert_eq!(t.iter().count(), 10_000);
        assert_eq!(t.find(h(&77), |v| *v == 77), Some(&77));
        assert!(t.find(h(&10_000), |v| *v == 10_000).is_none());
        *t.find_mut(h(&5), |v| *v == 5).expect("present") = 5;
        assert_eq!(t.remove(h(&77), |v| *v == 77), Some(77));
        assert_eq!(t.remove(h(&77), |v| *v == 77), None);
        assert_eq!(t.len(), 9_999);
        t.insert_unique(h(&77), 77, &h);
        assert_eq!(t.len(), 10_000);
        let mut all: Vec<u64> = t.iter().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_000).collect::<Vec<_>>());
    }

    /// The shards fill in proportion to their weights (the largest about
    /// twice the smallest), so they reach their growth points apart.
    #[test]
    fn shards_fill_at_staggered_rates() {
        let (t, _) = table_of(200_000);
        let lens = t.shard_lens();
        for (i, pair) in lens.windows(2).enumerate() {
            assert!(
                pair[0] < pair[1] + 400,
                "shard {i} ({}) vs the next ({})",
                pair[0],
                pair[1]
            );
        }
        let (first, last) = (lens[0] as f64, lens[SHARDS - 1] as f64);
        assert!((1.8..2.1).contains(&(last / first)), "{lens:?}");
    }

    /// Growing from empty to 1M, no single insert moves more than a small
    /// share of the table (what an unsharded table moves is all of it).
    #[test]
    fn growth_comes_in_small_steps_spread_over_each_doubling() {
        let h = |k: &u64| hash(*k);
        let mut t = StaggeredTable::default();
        let mut capacities = t.shard_capacities();
        let mut growth_points = Vec::new();
        for k in 0..1_000_000u64 {
            t.insert_unique(h(&k), k, h);
            if k % 64 == 0 {
                let now = t.shard_capacities();
                let grown: Vec<usize> = (0..SHARDS).filter(|&i| now[i] != capacities[i]).collect();
                // (Small shards grow often; from 50k on, a doubling of the
                // whole table spans tens of thousands of inserts.)
                assert!(
                    k < 50_000 || grown.len() <= 2,
                    "{} shards grew within 64 inserts at {k}",
                    grown.len()
                );
                if k > 100_000 && !grown.is_empty() {
                    growth_points.push(k);
                }
                capacities = now;
            }
        }
        // Between 100k and 1M (over three doublings) the shards grow about
        // 3 × SHARDS times, each at its own point.
        assert!(growth_points.len() >= 2 * SHARDS, "{growth_points:?}");
        let largest = t.shard_capacities().into_iter().max().unwrap_or(0);
        assert!(largest < 1_000_000 / 8, "a shard holds {largest} slots");
    }

    #[test]
    fn the_map_sets_replaces_and_removes_by_key() {
        let mut m: StaggeredMap<u32, &str> = StaggeredMap::default();
        assert!(m.is_empty());
        m.insert_new(1, "one");
        m.insert(2, "two");
        m.insert(1, "uno");
        assert_eq!(m.len(), 2, "insert of a present key replaces it");
        assert_eq!(m.get(1), Some(&"uno"));
        *m.get_mut(2).expect("present") = "dos";
        assert_eq!(m.remove(2), Some("dos"));
        assert_eq!(m.remove(2), None);
        assert_eq!(m.get(3), None);
        m.reserve(1_000);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(1, &"uno")]);
    }

    #[test]
    fn reserve_spreads_room_by_share() {
        let h = |k: &u64| hash(*k);
        let mut t: StaggeredTable<u64> = StaggeredTable::default();
        t.reserve(100_000, h);
        let before = t.shard_capacities();
        for k in 0..100_000u64 {
            t.insert_unique(h(&k), k, h);
        }
        assert_eq!(
            before,
            t.shard_capacities(),
            "an insert within the reserve grew a shard"
        );
    }
}
