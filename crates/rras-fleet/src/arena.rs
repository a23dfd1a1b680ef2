//! `RecordArena`: a view's records in large pages rather than one
//! allocation each. At a million connections that is what a reader's
//! memory is made of: an allocation of its own costs a record its header
//! and rounding (~16 B) and a 16-byte fat pointer in the table; here a
//! record costs its bytes and an 8-byte [`Slot`]. Space freed by updates
//! and ends is reclaimed by compaction once it outweighs the live records
//! (amortised: each byte is copied at most once per byte freed).

/// Bytes per page (offsets within a page fit 20 bits).
const PAGE: usize = 1 << 20;
/// The largest record kept (a slot's length has 16 bits; a real record is
/// well under 1 KiB, so a larger value is hostile anyway).
pub(crate) const MAX_RECORD: usize = u16::MAX as usize;
/// Garbage below this is never worth a compaction.
const MIN_GARBAGE: usize = 4 * PAGE;

/// Where a record lives: page (28 bits), offset (20 bits), length (16 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot(u64);

impl Slot {
    fn new(page: usize, offset: usize, len: usize) -> Self {
        Slot(((page as u64) << 36) | ((offset as u64) << 16) | len as u64)
    }

    fn page(self) -> usize {
        (self.0 >> 36) as usize
    }

    fn offset(self) -> usize {
        ((self.0 >> 16) & 0xF_FFFF) as usize
    }

    fn len(self) -> usize {
        (self.0 & 0xFFFF) as usize
    }
}

/// Pages of record bytes.
#[derive(Debug, Default)]
pub(crate) struct RecordArena {
    pages: Vec<Vec<u8>>,
    live: usize,
    garbage: usize,
}

impl RecordArena {
    /// Stores `bytes` (the caller keeps them to [`MAX_RECORD`]; longer
    /// ones are cut, which a caller that checks never asks for).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Slot {
        let bytes = &bytes[..bytes.len().min(MAX_RECORD)];
        let fits = self.pages.last().is_some_and(|p| p.capacity() - p.len() >= bytes.len());
        if !fits {
            self.pages.push(Vec::with_capacity(PAGE));
        }
        let index = self.pages.len() - 1;
        let page = &mut self.pages[index];
        let offset = page.len();
        page.extend_from_slice(bytes);
        self.live += bytes.len();
        Slot::new(index, offset, bytes.len())
    }

    /// The bytes of a slot this arena gave out (empty for any other).
    pub(crate) fn get(&self, slot: Slot) -> &[u8] {
        self.pages
            .get(slot.page())
            .and_then(|p| p.get(slot.offset()..slot.offset() + slot.len()))
            .unwrap_or(&[])
    }

    /// Marks a slot's bytes as garbage (the slot must not be used again).
    pub(crate) fn free(&mut self, slot: Slot) {
        self.live = self.live.saturating_sub(slot.len());
        self.garbage += slot.len();
    }

    /// Whether more bytes are garbage than live, and enough to matter.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.garbage > self.live && self.garbage >= MIN_GARBAGE
    }

    /// Copies every live record into fresh pages, rewriting each of
    /// `slots` (which must be every live slot) in place.
    pub(crate) fn compact<'a>(&mut self, slots: impl Iterator<Item = &'a mut Slot>) {
        let old = std::mem::take(&mut self.pages);
        self.live = 0;
        self.garbage = 0;
        for slot in slots {
            let bytes = old
                .get(slot.page())
                .and_then(|p| p.get(slot.offset()..slot.offset() + slot.len()))
                .unwrap_or(&[]);
            *slot = self.push(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_across_pages_and_survive_compaction() {
        let mut arena = RecordArena::default();
        let record = |i: usize| vec![(i % 251) as u8; 100 + i % 400];
        let mut slots: Vec<Slot> = (0..30_000).map(|i| arena.push(&record(i))).collect();
        assert!(arena.pages.len() > 5, "spans pages");
        for (i, s) in slots.iter().enumerate() {
            assert_eq!(arena.get(*s), record(i).as_slice());
        }
        // Free two thirds: compaction is wanted, then keeps the rest.
        let mut kept = Vec::new();
        for (i, s) in slots.drain(..).enumerate() {
            if i % 3 == 0 {
                kept.push((i, s));
            } else {
                arena.free(s);
            }
        }
        assert!(arena.wants_compaction());
        let before = arena.pages.len();
        arena.compact(kept.iter_mut().map(|(_, s)| s));
        assert!(arena.pages.len() < before);
        assert!(!arena.wants_compaction());
        for (i, s) in &kept {
            assert_eq!(arena.get(*s), record(*i).as_slice());
        }
        // Limits: the largest record fits, a longer one is cut, an unknown
        // slot reads as empty.
        let big = vec![7u8; MAX_RECORD];
        let s = arena.push(&big);
        assert_eq!(arena.get(s).len(), MAX_RECORD);
        let cut = arena.push(&vec![1u8; MAX_RECORD + 5]);
        assert_eq!(arena.get(cut).len(), MAX_RECORD);
        assert!(arena.get(Slot::new(1 << 20, 0, 10)).is_empty());
    }
}
