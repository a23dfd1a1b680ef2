//! `OrderIndex`: the enumeration order of the table, with O(log n) rank.
//!
//! Every connection gets a sequence number when it first enters the table
//! and keeps it until it leaves. Enumeration walks sequence numbers upwards,
//! so a resume cursor is just "the last sequence number returned": rows
//! removed behind or ahead of it cannot shift anything, and a row can never
//! be seen twice. `total_entries` needs "how many keys are greater than k",
//! which a plain `BTreeMap` answers only in O(n); this is a treap (a binary
//! search tree with random heap priorities, expected depth O(log n)) whose
//! nodes carry their subtree size, giving rank and "walk from k" in
//! O(log n + page size). Nodes live in an arena of 2 MiB chunks with a free
//! list: no pointer chasing through `Box`es, and growing never copies the
//! whole arena into fresh memory (at 524,288 nodes that copy held the
//! table's write lock for 45 ms, every RADIUS request in flight waiting).

use std::ops::{Index, IndexMut};

const NIL: u32 = u32::MAX;

/// Nodes per arena chunk (2 MiB of 32-byte nodes).
const CHUNK_BITS: u32 = 16;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A vector in fixed-size chunks: indexing costs one more load, growing
/// allocates one chunk. The first chunk grows like a `Vec` (a small
/// table stays small).
#[derive(Debug, Clone)]
struct Arena<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Arena<T> {
    fn new() -> Self {
        Arena {
            chunks: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(value),
            _ => {
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Room for `additional` more without growing the chunk list.
    fn reserve(&mut self, additional: usize) {
        let chunks = self.len.saturating_add(additional).div_ceil(CHUNK);
        // A hint: the chunk list grows anyway as nodes come.
        let _ = self.chunks.try_reserve(chunks.saturating_sub(self.chunks.len()));
    }
}

impl<T> Index<usize> for Arena<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<usize> for Arena<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

#[derive(Debug, Clone)]
struct Node<V> {
    key: u64,
    value: V,
    priority: u32,
    size: u32,
    left: u32,
    right: u32,
}

/// An ordered map from u64 keys to values with subtree counts.
#[derive(Debug, Clone)]
pub struct OrderIndex<V> {
    nodes: Arena<Node<V>>,
    free: Vec<u32>,
    root: u32,
    rng: u64,
}

impl<V: Copy> Default for OrderIndex<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy> OrderIndex<V> {
    /// An empty index.
    pub fn new() -> Self {
        OrderIndex {
            nodes: Arena::new(),
            free: Vec::new(),
            root: NIL,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = {
            let node = &self.nodes[n as usize];
            (node.left, node.right)
        };
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_priority(&mut self) -> u32 {
        // xorshift64*: priorities only need to be independent of the keys.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// Splits `n` into (keys < key, keys >= key).
    fn split(&mut self, n: u32, key: u64) -> (u32, u32) {
        if n == NIL {
            return (NIL, NIL);
        }
        if self.nodes[n as usize].key < key {
            let (l, r) = self.split(self.nodes[n as usize].right, key);
            self.nodes[n as usize].right = l;
            self.fix(n);
            (n, r)
        } else {
            let (l, r) = self.split(self.nodes[n as usize].left, key);
            self.nodes[n as usize].left = r;
            self.fix(n);
            (l, n)
        }
    }

    /// Joins two trees where every key of `a` is below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.fix(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.fix(b);
            b
        }
    }

    fn find(&self, key: u64) -> u32 {
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if key == node.key {
                return n;
            }
            n = if key < node.key { node.left } else { node.right };
        }
        NIL
    }

    /// The value stored under `key`.
    pub fn get(&self, key: u64) -> Option<V> {
        let n = self.find(key);
        (n != NIL).then(|| self.nodes[n as usize].value)
    }

    /// Inserts or replaces `key`.
    pub fn insert(&mut self, key: u64, value: V) {
        let existing = self.find(key);
        if existing != NIL {
            self.nodes[existing as usize].value = value;
            return;
        }
        let node = Node {
            key,
            value,
            priority: self.next_priority(),
            size: 1,
            left: NIL,
            right: NIL,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let (l, r) = self.split(self.root, key);
        let l = self.merge(l, id);
        self.root = self.merge(l, r);
    }

    /// Adds keys given in strictly ascending order. Into an empty index
    /// this is an O(n) build (the load of a million rows at start-up);
    /// otherwise, or if the keys are not ascending, one insert per key.
    pub fn extend_sorted(&mut self, items: Vec<(u64, V)>) {
        let ascending = items.windows(2).all(|w| w[0].0 < w[1].0);
        if !self.is_empty() || !ascending {
            for (k, v) in items {
                self.insert(k, v);
            }
            return;
        }
        // The right spine of the treap built so far, root first: a new key
        // (larger than all) hangs at the end of the spine, taking under its
        // left arm the part of the spine whose priorities are lower.
        let mut spine: Vec<u32> = Vec::new();
        self.nodes.reserve(items.len());
        for (key, value) in items {
            let priority = self.next_priority();
            let id = self.nodes.len() as u32;
            self.nodes.push(Node {
                key,
                value,
                priority,
                size: 1,
                left: NIL,
                right: NIL,
            });
            let mut under = NIL;
            while let Some(&top) = spine.last() {
                if self.nodes[top as usize].priority >= priority {
                    break;
                }
                under = top;
                spine.pop();
            }
            self.nodes[id as usize].left = under;
            if let Some(&top) = spine.last() {
                self.nodes[top as usize].right = id;
            }
            spine.push(id);
        }
        self.finish_spine(&spine);
    }

    /// Sets the root from a freshly built spine and fixes every subtree
    /// size bottom-up (an explicit post-order walk: no recursion at depth).
    fn finish_spine(&mut self, spine: &[u32]) {
        let Some(&root) = spine.first() else { return };
        self.root = root;
        let mut stack = vec![(root, false)];
        while let Some((n, children_done)) = stack.pop() {
            if children_done {
                self.fix(n);
                continue;
            }
            stack.push((n, true));
            let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
            if l != NIL {
                stack.push((l, false));
            }
            if r != NIL {
                stack.push((r, false));
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: u64) -> Option<V> {
        let (l, rest) = self.split(self.root, key);
        let (mid, r) = match key.checked_add(1) {
            Some(next) => self.split(rest, next),
            None => (rest, NIL), // key == u64::MAX: `rest` holds only it
        };
        let removed = if mid == NIL {
            None
        } else {
            self.free.push(mid);
            Some(self.nodes[mid as usize].value)
        };
        self.root = self.merge(l, r);
        removed
    }

    /// How many keys are strictly greater than `key` (all of them for `None`).
    pub fn count_after(&self, key: Option<u64>) -> usize {
        let Some(key) = key else {
            return self.len();
        };
        let mut n = self.root;
        let mut count = 0u32;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if node.key > key {
                count += 1 + self.size(node.right);
                n = node.left;
            } else {
                n = node.right;
            }
        }
        count as usize
    }

    /// How many keys are greater than `after` and below `end`.
    pub fn count_between(&self, after: Option<u64>, end: u64) -> usize {
        let at_or_beyond_end = match end.checked_sub(1) {
            Some(last) => self.count_after(Some(last)),
            None => self.len(),
        };
        self.count_after(after).saturating_sub(at_or_beyond_end)
    }

    /// Up to `limit` (key, value) pairs with keys strictly greater than `key`
    /// (from the smallest for `None`), ascending. O(log n + limit).
    pub fn range_after(&self, key: Option<u64>, limit: usize) -> Vec<(u64, V)> {
        let mut out = Vec::with_capacity(limit.min(self.len()));
        if limit == 0 {
            return out;
        }
        // The stack holds the ancestors still to visit, smallest on top.
        let mut stack = Vec::with_capacity(64);
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if key.is_none_or(|k| node.key > k) {
                stack.push(n);
                n = node.left;
            } else {
                n = node.right;
            }
        }
        while let Some(top) = stack.pop() {
            let node = &self.nodes[top as usize];
            out.push((node.key, node.value));
            if out.len() == limit {
                break;
            }
            let mut c = node.right;
            while c != NIL {
                stack.push(c);
                c = self.nodes[c as usize].left;
            }
        }
        out
    }

    /// The largest key, if any.
    pub fn last_key(&self) -> Option<u64> {
        let mut n = self.root;
        let mut last = None;
        while n != NIL {
            last = Some(self.nodes[n as usize].key);
            n = self.nodes[n as usize].right;
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn behaves_like_a_btreemap(ops in proptest::collection::vec((0u8..3, 0u64..200), 0..400), probe in 0u64..210, limit in 0usize..50) {
            let mut index = OrderIndex::new();
            let mut model = BTreeMap::new();
            for (op, key) in ops {
                match op {
                    0 | 1 => { index.insert(key, key * 2); model.insert(key, key * 2); }
                    _ => { prop_assert_eq!(index.remove(key), model.remove(&key)); }
                }
            }
            prop_assert_eq!(index.len(), model.len());
            prop_assert_eq!(index.count_after(Some(probe)), model.range(probe + 1..).count());
            let want: Vec<_> = model.range(probe + 1..).take(limit).map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(index.range_after(Some(probe), limit), want);
            let want_all: Vec<_> = model.iter().take(limit).map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(index.range_after(None, limit), want_all);
            prop_assert_eq!(index.last_key(), model.keys().next_back().copied());
            let end = probe / 2 + limit as u64;
            prop_assert_eq!(index.count_between(Some(probe / 2), end), model.range(probe / 2 + 1..end.max(probe / 2 + 1)).count());
            prop_assert_eq!(index.count_between(None, end), model.range(..end).count());
        }
    }

    proptest! {
        #[test]
        fn bulk_build_behaves_like_inserts(keys in proptest::collection::btree_set(0u64..10_000, 0..500), probe in 0u64..10_000, later in 0u64..10_000) {
            let mut bulk = OrderIndex::new();
            bulk.extend_sorted(keys.iter().map(|k| (*k, *k + 1)).collect());
            let mut model: BTreeMap<u64, u64> = keys.iter().map(|k| (*k, *k + 1)).collect();
            prop_assert_eq!(bulk.len(), model.len());
            prop_assert_eq!(bulk.count_after(Some(probe)), model.range(probe + 1..).count());
            let want: Vec<_> = model.range(probe + 1..).take(40).map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(bulk.range_after(Some(probe), 40), want);
            // And it stays a working treap afterwards.
            bulk.insert(later, 0);
            model.insert(later, 0);
            prop_assert_eq!(bulk.remove(probe), model.remove(&probe));
            prop_assert_eq!(bulk.range_after(None, usize::MAX), model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn bulk_build_of_unsorted_keys_falls_back_to_inserts() {
        let mut index = OrderIndex::new();
        index.extend_sorted(vec![(5, 1), (3, 2), (9, 3)]);
        assert_eq!(index.range_after(None, 10), vec![(3, 2), (5, 1), (9, 3)]);
    }

    #[test]
    fn extreme_keys() {
        let mut index = OrderIndex::new();
        index.insert(u64::MAX, 1u32);
        index.insert(0, 2);
        assert_eq!(index.count_after(Some(0)), 1);
        assert_eq!(index.remove(u64::MAX), Some(1));
        assert_eq!(index.remove(u64::MAX), None);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn stays_shallow_for_sequential_keys() {
        // Sequential inserts are the table's normal pattern; a plain BST
        // would degenerate into a list and recurse a million deep.
        let mut index = OrderIndex::new();
        for k in 0..200_000u64 {
            index.insert(k, ());
        }
        assert_eq!(index.count_after(Some(99_999)), 100_000);
        for k in (0..200_000u64).step_by(2) {
            index.remove(k);
        }
        assert_eq!(index.len(), 100_000);
        assert_eq!(index.range_after(Some(10), 3), vec![(11, ()), (13, ()), (15, ())]);
    }

    /// Across chunk boundaries of the node arena: values, ranks and walks
    /// stay right, and freed nodes are reused before a new chunk is added.
    #[test]
    fn spans_several_arena_chunks() {
        let n = 3 * CHUNK as u64 + 17;
        let mut index = OrderIndex::new();
        for k in 0..n {
            index.insert(k * 3, k);
        }
        assert_eq!(index.nodes.chunks.len(), 4);
        for k in [0, CHUNK as u64 - 1, CHUNK as u64, 2 * CHUNK as u64 + 5, n - 1] {
            assert_eq!(index.get(k * 3), Some(k));
            assert_eq!(index.count_after(Some(k * 3)), (n - 1 - k) as usize);
        }
        for k in (0..n).filter(|k| k % 5 == 0) {
            assert_eq!(index.remove(k * 3), Some(k));
        }
        let arena = index.nodes.len();
        for k in (0..n).filter(|k| k % 5 == 0) {
            index.insert(k * 3 + 1, k);
        }
        assert_eq!(index.nodes.len(), arena, "freed nodes are reused");
        assert_eq!(index.len(), n as usize);
        let model: std::collections::BTreeMap<u64, u64> = (0..n)
            .map(|k| if k % 5 == 0 { (k * 3 + 1, k) } else { (k * 3, k) })
            .collect();
        for from in [0, CHUNK as u64 * 3 - 1, CHUNK as u64 * 6, n * 3 - 10] {
            let expected: Vec<(u64, u64)> = model.range(from + 1..).take(4).map(|(k, v)| (*k, *v)).collect();
            assert_eq!(index.range_after(Some(from), 4), expected, "after {from}");
        }
    }
}
