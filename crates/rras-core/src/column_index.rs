//! `ColumnIndex`: the connections in the order of one column (user,
//! address, bytes …), with rank, so that a console window "40 rows sorted
//! by user from offset 500,000" costs O(log n + rows), not a sort of the
//! table.
//!
//! Memory is what decides the shape: at a million connections every byte
//! per entry is a megabyte per column. An entry is the handle and a key of
//! `W` 32-bit words, most significant first: 12 bytes for a number or a
//! short text (`W` = 2), 20 for a long text (`W` = 4), 4 for an order by
//! handle alone (`W` = 0). Numbers are their own key (exact). A text keeps
//! its first `4W` bytes, so two entries whose keys differ are ordered by
//! the keys alone; only when both texts are that long and share those
//! bytes are the full values compared, read from the table through the
//! caller's `tie`. Ties of equal values go by
//! handle, so the order is total and every entry has exactly one place.
//!
//! The entries live in sorted blocks of at most [`BLOCK`] (a "sorted list
//! of blocks"): finding a place is a binary search over the blocks' last
//! entries and then inside one block; inserting moves at most a block's
//! entries; rank adds up block lengths (about a thousand at a million
//! rows). Blocks grow by a few entries at a time, so capacity beyond the
//! entries stays within a few percent — a `Vec`'s doubling would cost up
//! to twice the memory.

use std::cmp::Ordering;

/// Most entries in one block (a split makes two halves).
pub const BLOCK: usize = 512;
/// Entries a full block grows by.
const GROW: usize = 16;

/// One entry: a key of `W` words and the connection's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<const W: usize> {
    key: [u32; W],
    handle: u32,
}

impl<const W: usize> Entry<W> {
    /// An entry for `key` and `handle`.
    pub fn new(key: [u32; W], handle: u32) -> Self {
        Entry { key, handle }
    }

    /// The key.
    pub fn key(&self) -> [u32; W] {
        self.key
    }

    /// The connection's handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

/// How a column's keys relate to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The key is the value (numbers, handles, times).
    Exact,
    /// [`text_key`]: equal keys whose last byte is not zero (texts of
    /// `4W` bytes or more) may hide different texts.
    Text,
    /// [`address_key`]: equal IPv6 keys may hide different addresses.
    Address,
}

impl KeyKind {
    /// Whether two entries with this same key need their full values
    /// compared.
    fn ambiguous(self, key: &[u32]) -> bool {
        match self {
            KeyKind::Exact => false,
            KeyKind::Text => key.last().is_some_and(|w| w & 0xff != 0),
            KeyKind::Address => key.first().is_some_and(|w| w >> 30 == 2),
        }
    }
}

/// A number as a key.
pub fn number_key(value: u64) -> [u32; 2] {
    [(value >> 32) as u32, value as u32]
}

/// The key of a text without NUL characters: its first `4W` bytes, padded
/// with zeros. Comparing keys compares such texts byte-wise, except that
/// two texts of `4W` bytes or more that share their first `4W` compare
/// equal (and only those: a shorter text's key ends in a zero).
pub fn text_key<const W: usize>(text: &str) -> [u32; W] {
    let bytes = text.as_bytes();
    let mut key = [0u32; W];
    for (i, word) in key.iter_mut().enumerate() {
        for j in 0..4 {
            *word = (*word << 8) | u32::from(bytes.get(4 * i + j).copied().unwrap_or(0));
        }
    }
    key
}

/// The key of an optional address: none first, then IPv4 by value, then
/// IPv6 by its first 62 bits.
pub fn address_key(address: Option<std::net::IpAddr>) -> [u32; 2] {
    number_key(match address {
        None => 0,
        Some(std::net::IpAddr::V4(a)) => (1 << 62) | u64::from(u32::from(a)),
        Some(std::net::IpAddr::V6(a)) => (2 << 62) | (u128::from(a) >> 66) as u64,
    })
}

/// Where an entry is: block and position in it.
type Place = (usize, usize);

/// One column's order over the connection table.
#[derive(Debug, Clone)]
pub struct ColumnIndex<const W: usize> {
    kind: KeyKind,
    blocks: Vec<Vec<Entry<W>>>,
    /// Each block's last entry, side by side: the search over blocks reads
    /// one contiguous array instead of following a pointer per step.
    lasts: Vec<Entry<W>>,
    len: usize,
}

/// Compares the full value of the row with this handle to the probe's
/// full value (called only for ambiguous ties).
pub type Tie<'a> = dyn FnMut(u32) -> Ordering + 'a;

impl<const W: usize> ColumnIndex<W> {
    /// An empty index of keys of `kind`.
    pub fn new(kind: KeyKind) -> Self {
        ColumnIndex {
            kind,
            blocks: Vec::new(),
            lasts: Vec::new(),
            len: 0,
        }
    }

    /// An index of `entries`, which are in order already (a bulk load).
    pub fn from_sorted(kind: KeyKind, entries: &[Entry<W>]) -> Self {
        let blocks: Vec<Vec<Entry<W>>> = entries
            .chunks(BLOCK / 2)
            .map(|chunk| {
                let mut block = Vec::with_capacity(chunk.len() + GROW);
                block.extend_from_slice(chunk);
                block
            })
            .collect();
        let lasts = blocks.iter().filter_map(|b| b.last().copied()).collect();
        ColumnIndex {
            kind,
            blocks,
            lasts,
            len: entries.len(),
        }
    }

    /// Sorts `entries` into this index's order: by key and handle, and
    /// runs of equal ambiguous keys by `compare` (their full values).
    pub fn sort(kind: KeyKind, entries: &mut [Entry<W>], mut compare: impl FnMut(u32, u32) -> Ordering) {
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key).then(a.handle.cmp(&b.handle)));
        let mut start = 0;
        while start < entries.len() {
            let key = entries[start].key;
            let mut end = start + 1;
            while end < entries.len() && entries[end].key == key {
                end += 1;
            }
            if end - start > 1 && kind.ambiguous(&key) {
                entries[start..end].sort_by(|a, b| compare(a.handle, b.handle).then(a.handle.cmp(&b.handle)));
            }
            start = end;
        }
    }

    /// How its keys relate to its values.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (entries at capacity, and the block list).
    pub fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Vec<Entry<W>>>()
            + self.lasts.capacity() * std::mem::size_of::<Entry<W>>()
            + self
                .blocks
                .iter()
                .map(|b| b.capacity() * std::mem::size_of::<Entry<W>>())
                .sum::<usize>()
    }

    /// `existing` against `probe`: key, then (ambiguous keys) full value,
    /// then handle; `tie` compares `existing`'s full value to the probe's.
    fn order(&self, existing: &Entry<W>, probe: &Entry<W>, tie: &mut Tie<'_>) -> Ordering {
        // The same row (one entry per row): no need to read its value,
        // which the table may already have replaced.
        if existing == probe {
            return Ordering::Equal;
        }
        existing
            .key
            .cmp(&probe.key)
            .then_with(|| {
                if self.kind.ambiguous(&probe.key) {
                    tie(existing.handle)
                } else {
                    Ordering::Equal
                }
            })
            .then(existing.handle.cmp(&probe.handle))
    }

    /// The first place whose entry is not below `probe` (ordered as
    /// [`order`](Self::order)); `(blocks.len(), 0)` when all are below.
    fn lower_bound(&self, probe: &Entry<W>, tie: &mut Tie<'_>) -> Place {
        self.bound(probe, false, tie)
    }

    /// The first place whose entry is above `probe` (`inclusive`) or not
    /// below it.
    fn bound(&self, probe: &Entry<W>, inclusive: bool, tie: &mut Tie<'_>) -> Place {
        let before = |o: Ordering| o == Ordering::Less || (inclusive && o == Ordering::Equal);
        // The first block whose last entry is not below the probe.
        let (mut lo, mut hi) = (0, self.lasts.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if before(self.order(&self.lasts[mid], probe, tie)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(block) = self.blocks.get(lo) else {
            return (self.blocks.len(), 0);
        };
        let (mut a, mut b) = (0, block.len());
        while a < b {
            let mid = (a + b) / 2;
            if before(self.order(&block[mid], probe, tie)) {
                a = mid + 1;
            } else {
                b = mid;
            }
        }
        (lo, a)
    }

    /// How many entries are below `probe` (`inclusive`: at or below).
    pub fn rank(&self, probe: Entry<W>, inclusive: bool, tie: &mut Tie<'_>) -> usize {
        let (block, at) = self.bound(&probe, inclusive, tie);
        self.blocks[..block].iter().map(Vec::len).sum::<usize>() + at
    }

    /// Adds an entry (its value's full form is what `tie` compares with).
    pub fn insert(&mut self, entry: Entry<W>, tie: &mut Tie<'_>) {
        if self.blocks.is_empty() {
            let mut block = Vec::with_capacity(GROW);
            block.push(entry);
            self.blocks.push(block);
            self.lasts.push(entry);
            self.len = 1;
            return;
        }
        // Handles, start times and an engine's list mostly grow: past the
        // last entry, it goes to the end without a search.
        let past_end = self
            .lasts
            .last()
            .is_some_and(|last| self.order(last, &entry, tie) == Ordering::Less);
        let (mut b, at) = if past_end {
            (self.blocks.len(), 0)
        } else {
            self.lower_bound(&entry, tie)
        };
        let at = if b == self.blocks.len() {
            // Beyond every entry: the end of the last block.
            b -= 1;
            self.blocks[b].len()
        } else {
            at
        };
        let block = &mut self.blocks[b];
        if block.len() == block.capacity() {
            block.reserve_exact(GROW);
        }
        block.insert(at, entry);
        self.len += 1;
        if block.len() > BLOCK {
            let tail = block.split_off(block.len() / 2);
            block.shrink_to(block.len() + GROW);
            let mut right = Vec::with_capacity(tail.len() + GROW);
            right.extend_from_slice(&tail);
            self.blocks.insert(b + 1, right);
            self.lasts.insert(b + 1, entry);
            self.fix_last(b + 1);
        }
        self.fix_last(b);
    }

    /// Makes `lasts[b]` block `b`'s last entry again.
    fn fix_last(&mut self, b: usize) {
        if let (Some(last), Some(slot)) = (self.blocks.get(b).and_then(|x| x.last()), self.lasts.get_mut(b)) {
            *slot = *last;
        }
    }

    /// Removes an entry; false when it is not there.
    pub fn remove(&mut self, entry: Entry<W>, tie: &mut Tie<'_>) -> bool {
        let (b, at) = self.lower_bound(&entry, tie);
        if self.blocks.get(b).and_then(|block| block.get(at)) != Some(&entry) {
            return false;
        }
        let block = &mut self.blocks[b];
        block.remove(at);
        self.len -= 1;
        if block.is_empty() {
            self.blocks.remove(b);
            self.lasts.remove(b);
            return true;
        }
        if block.capacity() - block.len() > 2 * GROW {
            block.shrink_to(block.len() + GROW);
        }
        // A small block joins its right neighbour when both fit in one.
        if b + 1 < self.blocks.len() && self.blocks[b].len() + self.blocks[b + 1].len() <= BLOCK / 2 {
            let right = self.blocks.remove(b + 1);
            self.lasts.remove(b + 1);
            let left = &mut self.blocks[b];
            left.reserve_exact(right.len() + GROW);
            left.extend_from_slice(&right);
        }
        self.fix_last(b);
        true
    }

    /// The place of the entry at `rank` (0-based).
    fn place(&self, mut rank: usize) -> Option<Place> {
        for (b, block) in self.blocks.iter().enumerate() {
            if rank < block.len() {
                return Some((b, rank));
            }
            rank -= block.len();
        }
        None
    }

    /// Up to `limit` handles from rank `from` upwards.
    pub fn ascending(&self, from: usize, limit: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(limit.min(self.len.saturating_sub(from)));
        let Some((b, at)) = self.place(from) else {
            return out;
        };
        let mut entries = self.blocks[b][at..].iter().chain(self.blocks[b + 1..].iter().flatten());
        while out.len() < limit {
            match entries.next() {
                Some(e) => out.push(e.handle),
                None => break,
            }
        }
        out
    }

    /// Up to `limit` handles from rank `from` downwards (`from` itself
    /// first).
    pub fn descending(&self, from: usize, limit: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(limit.min(from.saturating_add(1)));
        let Some((b, at)) = self.place(from) else {
            return out;
        };
        let mut entries = self.blocks[b][..=at]
            .iter()
            .rev()
            .chain(self.blocks[..b].iter().rev().flat_map(|block| block.iter().rev()));
        while out.len() < limit {
            match entries.next() {
                Some(e) => out.push(e.handle),
                None => break,
            }
        }
        out
    }

    /// Every entry in order (for tests and checks).
    pub fn entries(&self) -> impl Iterator<Item = Entry<W>> + '_ {
        self.blocks.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A column of texts, checked against sorting them.
    /// A narrow (two-word) key makes ties common, which is what is tested.
    struct Texts {
        index: ColumnIndex<2>,
        values: std::collections::HashMap<u32, String>,
    }

    impl Texts {
        fn tie<'a>(
            values: &'a std::collections::HashMap<u32, String>,
            probe: &'a str,
        ) -> impl FnMut(u32) -> Ordering + 'a {
            move |h| values[&h].as_str().cmp(probe)
        }

        fn insert(&mut self, handle: u32, value: String) {
            let entry = Entry::new(text_key::<2>(&value), handle);
            self.index.insert(entry, &mut Self::tie(&self.values, &value));
            self.values.insert(handle, value);
        }

        fn remove(&mut self, handle: u32) -> bool {
            let Some(value) = self.values.get(&handle).cloned() else {
                return false;
            };
            let entry = Entry::new(text_key::<2>(&value), handle);
            let removed = self.index.remove(entry, &mut Self::tie(&self.values, &value));
            self.values.remove(&handle);
            removed
        }

        fn sorted(&self) -> Vec<u32> {
            let mut all: Vec<(&String, u32)> = self.values.iter().map(|(h, v)| (v, *h)).collect();
            all.sort();
            all.into_iter().map(|(_, h)| h).collect()
        }
    }

    #[test]
    fn text_keys_order_like_the_texts_unless_both_are_long_and_share_seven_bytes() {
        let words = [
            "",
            "a",
            "a\u{1}",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefgz",
            "abcdefh",
            "abcdefghijklmnop",
            "abcdefghi",
            "b",
            "\u{e9}",
        ];
        for x in words {
            for y in words {
                let (kx, ky) = (text_key::<2>(x), text_key::<2>(y));
                if kx != ky {
                    assert_eq!(kx.cmp(&ky), x.cmp(y), "{x:?} {y:?}");
                } else if x != y {
                    assert!(KeyKind::Text.ambiguous(&kx), "{x:?} {y:?}");
                }
                let (wx, wy) = (text_key::<4>(x), text_key::<4>(y));
                if wx != wy {
                    assert_eq!(wx.cmp(&wy), x.cmp(y), "{x:?} {y:?}");
                } else if x != y {
                    assert!(KeyKind::Text.ambiguous(&wx), "{x:?} {y:?}");
                }
            }
        }
        let v4 = |s: &str| address_key(Some(s.parse().unwrap()));
        assert!(address_key(None) < v4("0.0.0.0"));
        assert!(v4("10.0.0.9") < v4("10.0.0.10"));
        assert!(v4("255.255.255.255") < v4("::"));
        assert!(v4("2001:db8::1") <= v4("2001:db8::2"));
    }

    proptest! {
        /// After any churn the index lists exactly the sorted values, and
        /// rank, windows in both directions and removals agree with that.
        #[test]
        fn agrees_with_sorting(ops in proptest::collection::vec((0u32..400, 0u8..3, "[a-c]{0,10}"), 1..3000)) {
            let mut t = Texts { index: ColumnIndex::new(KeyKind::Text), values: Default::default() };
            for (handle, op, value) in ops {
                let handle = handle + 1;
                match op {
                    0 | 1 => {
                        // An update is a removal and an insert (a key change).
                        t.remove(handle);
                        t.insert(handle, value);
                    }
                    _ => {
                        let present = t.values.contains_key(&handle);
                        prop_assert_eq!(t.remove(handle), present);
                    }
                }
            }
            let sorted = t.sorted();
            let lasts: Vec<_> = t.index.blocks.iter().map(|b| *b.last().unwrap()).collect();
            prop_assert_eq!(&t.index.lasts, &lasts);
            let listed: Vec<u32> = t.index.entries().map(|e| e.handle()).collect();
            prop_assert_eq!(&listed, &sorted);
            prop_assert_eq!(t.index.len(), sorted.len());
            for from in [0, 1, sorted.len() / 2, sorted.len().saturating_sub(1), sorted.len()] {
                let up = t.index.ascending(from, 40);
                prop_assert_eq!(&up[..], &sorted[from.min(sorted.len())..(from + 40).min(sorted.len())]);
                let down = t.index.descending(from, 40);
                let want: Vec<u32> = if from < sorted.len() {
                    sorted[..=from].iter().rev().take(40).copied().collect()
                } else {
                    Vec::new()
                };
                prop_assert_eq!(down, want);
            }
            for (i, h) in sorted.iter().enumerate().step_by(37) {
                let v = t.values[h].clone();
                let rank = t.index.rank(Entry::new(text_key::<2>(&v), *h), false, &mut Texts::tie(&t.values, &v));
                prop_assert_eq!(rank, i);
                let rank = t.index.rank(Entry::new(text_key::<2>(&v), *h), true, &mut Texts::tie(&t.values, &v));
                prop_assert_eq!(rank, i + 1);
            }
            // A bulk load of the same values gives the same order.
            let mut bulk: Vec<Entry<2>> = t.values.iter().map(|(h, v)| Entry::new(text_key::<2>(v), *h)).collect();
            ColumnIndex::sort(KeyKind::Text, &mut bulk, |a, b| t.values[&a].cmp(&t.values[&b]));
            let loaded = ColumnIndex::from_sorted(KeyKind::Text, &bulk);
            prop_assert_eq!(loaded.entries().map(|e| e.handle()).collect::<Vec<_>>(), sorted.clone());
            // Blocks hold entries with little spare room.
            let entries = t.index.len() * std::mem::size_of::<Entry<2>>();
            prop_assert!(t.index.heap_bytes() <= entries + t.index.blocks.len() * (3 * GROW * 12 + 24) + 64);
        }
    }

    #[test]
    fn a_million_numbers_cost_about_twelve_bytes_each() {
        let mut index = ColumnIndex::<2>::new(KeyKind::Exact);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for h in 1..=1_000_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            index.insert(Entry::new(number_key(x % 1_000_000_007), h), &mut |_| Ordering::Equal);
        }
        let per_entry = index.heap_bytes() as f64 / 1e6;
        assert!(per_entry < 13.5, "{per_entry} bytes per entry");
        let keys: Vec<[u32; 2]> = index.entries().map(|e| e.key()).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
    }
}
