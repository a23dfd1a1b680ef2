//! A sealed block of history entries: consecutive entries deflated in
//! streams of [`STREAM_ENTRIES`], the streams side by side in one value
//! that fills one page.
//!
//! Why streams: a query by user or address reads one entry from each of a
//! hundred blocks, and inflating is the cost — a stream of 32 entries is an
//! eighth of a block, and compresses almost as well (~35 bytes an entry
//! against ~31 for the whole block at once).
//!
//! Layout: u8 version (1) · varint streams · per stream (varint entries ·
//! varint deflated length) · the deflated streams. Inflated, a stream is its
//! entries, each a varint length and the entry.

use std::io::Write;

use rras_core::record::{put_varint, read_varint};

use crate::StoreError;

/// Entries per deflate stream.
pub(crate) const STREAM_ENTRIES: usize = 32;
const VERSION: u8 = 1;
/// A stream inflates to this at most (a damaged one is an error, not an
/// allocation of whatever it claims).
const STREAM_INFLATED_MAX: usize = 4 << 20;

/// One stream, inflated: its bytes and `(offset, len)` of each entry.
#[derive(Debug)]
struct Stream {
    data: Vec<u8>,
    entries: Vec<(usize, usize)>,
}

/// A block as read from the store: its streams inflated as they are needed.
#[derive(Debug)]
pub(crate) struct Block {
    first: u64,
    value: Vec<u8>,
    /// Per stream: its first entry's index, its entries, where its deflated
    /// bytes are in `value`.
    streams: Vec<(usize, usize, std::ops::Range<usize>)>,
    inflated: Vec<Option<Stream>>,
}

impl Block {
    /// The value of a block holding `entries` (oldest first).
    pub(crate) fn seal(entries: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
        let mut deflated = Vec::new();
        for chunk in entries.chunks(STREAM_ENTRIES) {
            let mut raw = Vec::with_capacity(chunk.iter().map(|e| e.len() + 2).sum());
            for entry in chunk {
                put_varint(&mut raw, entry.len() as u64);
                raw.extend_from_slice(entry);
            }
            let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
            encoder.write_all(&raw).map_err(crate::io_err)?;
            deflated.push((chunk.len(), encoder.finish().map_err(crate::io_err)?));
        }
        let mut value = vec![VERSION];
        put_varint(&mut value, deflated.len() as u64);
        for (count, bytes) in &deflated {
            put_varint(&mut value, *count as u64);
            put_varint(&mut value, bytes.len() as u64);
        }
        for (_, bytes) in &deflated {
            value.extend_from_slice(bytes);
        }
        Ok(value)
    }

    /// The block at `first` whose value is `value` (nothing inflated yet).
    pub(crate) fn open(first: u64, value: Vec<u8>) -> Result<Self, StoreError> {
        let damaged = |why: &str| StoreError::Block {
            first,
            why: why.to_owned(),
        };
        if value.first() != Some(&VERSION) {
            return Err(damaged("unknown version"));
        }
        let mut at = 1;
        let mut next = |what: &str| -> Result<usize, StoreError> {
            let (v, used) = value.get(at..).and_then(read_varint).ok_or_else(|| damaged(what))?;
            at += used;
            usize::try_from(v).map_err(|_| damaged(what))
        };
        let count = next("stream count")?;
        // Each stream takes two bytes of header at least.
        if count > value.len() / 2 {
            return Err(damaged("stream count"));
        }
        let mut sizes = Vec::with_capacity(count);
        for _ in 0..count {
            sizes.push((next("stream entries")?, next("stream length")?));
        }
        let mut streams = Vec::with_capacity(count);
        let mut index = 0usize;
        for (entries, len) in sizes {
            let end = at.checked_add(len).filter(|end| *end <= value.len());
            let end = end.ok_or_else(|| damaged("stream past the end"))?;
            streams.push((index, entries, at..end));
            index = index.checked_add(entries).ok_or_else(|| damaged("entry count"))?;
            at = end;
        }
        if at != value.len() {
            return Err(damaged("bytes after the last stream"));
        }
        Ok(Block {
            first,
            inflated: streams.iter().map(|_| None).collect(),
            value,
            streams,
        })
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.streams.last().map_or(0, |(index, count, _)| index + count)
    }

    fn inflate(&mut self, stream: usize) -> Result<&Stream, StoreError> {
        let first = self.first;
        let damaged = |why: String| StoreError::Block { first, why };
        if self.inflated[stream].is_none() {
            let (_, count, range) = self.streams[stream].clone();
            let mut inflater = flate2::Decompress::new(false);
            let mut data = Vec::with_capacity(8 * range.len());
            loop {
                if data.len() >= STREAM_INFLATED_MAX {
                    return Err(damaged("a stream inflates past its limit".into()));
                }
                data.reserve(8 * range.len().max(512));
                let (read, written) = (inflater.total_in(), data.len());
                let input = self.value[range.clone()]
                    .get(usize::try_from(read).unwrap_or(usize::MAX)..)
                    .unwrap_or_default();
                let status = inflater
                    .decompress_vec(input, &mut data, flate2::FlushDecompress::None)
                    .map_err(|e| damaged(e.to_string()))?;
                if status == flate2::Status::StreamEnd {
                    break;
                }
                if inflater.total_in() == read && data.len() == written {
                    return Err(damaged("a stream ends early".into()));
                }
            }
            // Each entry takes a byte at least: what the header claims
            // beyond that is a lie, and must not size an allocation.
            let mut entries = Vec::with_capacity(count.min(data.len()));
            let mut at = 0;
            while at < data.len() {
                let (len, used) = read_varint(&data[at..]).ok_or_else(|| damaged("entry length".into()))?;
                let start = at + used;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|len| start.checked_add(len))
                    .filter(|end| *end <= data.len())
                    .ok_or_else(|| damaged("entry past the end".into()))?;
                entries.push((start, end - start));
                at = end;
            }
            if entries.len() != count {
                return Err(damaged(format!(
                    "a stream of {} entries, {count} expected",
                    entries.len()
                )));
            }
            self.inflated[stream] = Some(Stream { data, entries });
        }
        self.inflated[stream]
            .as_ref()
            .ok_or_else(|| damaged("a stream went missing".into()))
    }

    /// Entry `seq`, inflating only its stream; None when the block does
    /// not hold it.
    pub(crate) fn entry(&mut self, seq: u64) -> Result<Option<&[u8]>, StoreError> {
        let Some(index) = seq.checked_sub(self.first).and_then(|i| usize::try_from(i).ok()) else {
            return Ok(None);
        };
        let Some(stream) = self
            .streams
            .iter()
            .position(|(at, count, _)| index >= *at && index < at + count)
        else {
            return Ok(None);
        };
        let start = self.streams[stream].0;
        let s = self.inflate(stream)?;
        let (at, len) = s.entries[index - start];
        Ok(s.data.get(at..at + len))
    }

    /// Every entry, oldest first.
    pub(crate) fn all(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        // Room for what each stream holds once it inflated, not for what
        // the header claims.
        let mut out = Vec::new();
        for stream in 0..self.streams.len() {
            let s = self.inflate(stream)?;
            out.reserve(s.entries.len());
            out.extend(s.entries.iter().map(|(at, len)| s.data[*at..*at + *len].to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_one_stream_at_a_time_and_damage_is_an_error() {
        // Entries of mixed sizes, some larger than one inflate step.
        let entries: Vec<Vec<u8>> = (0..300u32)
            .map(|i| (0..(i * 37 % 9_000)).map(|b| (b * i) as u8).collect())
            .collect();
        let value = Block::seal(&entries).unwrap();
        let mut block = Block::open(1_000, value.clone()).unwrap();
        assert_eq!(block.len(), 300);
        assert_eq!(block.entry(1_005).unwrap().unwrap(), entries[5].as_slice());
        assert_eq!(
            block.inflated.iter().filter(|s| s.is_some()).count(),
            1,
            "one entry, one stream"
        );
        assert_eq!(block.entry(999).unwrap(), None);
        assert_eq!(block.entry(1_300).unwrap(), None);
        assert_eq!(block.all().unwrap(), entries);
        // Cut short, flipped, or not a block at all: errors, never panics.
        for cut in [0, 1, 5, value.len() / 2, value.len() - 1] {
            let opened = Block::open(1, value[..cut].to_vec());
            assert!(opened.and_then(|mut b| b.all()).is_err(), "cut at {cut}");
        }
        for at in [1, 3, value.len() / 3, value.len() - 2] {
            let mut flipped = value.clone();
            flipped[at] ^= 0xff;
            if let Ok(mut b) = Block::open(1, flipped) {
                let _ = b.all();
            }
        }
        assert!(Block::open(1, vec![1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    /// A header may claim any number of entries; memory must follow what
    /// the streams hold, not what the header says (a claim of 2^40 entries
    /// allocated up front is an abort, not an error).
    #[test]
    fn a_header_that_lies_about_its_entries_is_an_error_not_an_allocation() {
        let entries: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 10]).collect();
        let value = Block::seal(&entries).unwrap();
        let honest = Block::open(7, value.clone()).unwrap();
        let streams: Vec<_> = honest.streams.iter().map(|(_, n, r)| (*n, r.len())).collect();
        for (lie, claimed) in [(0, 1u64 << 40), (1, 1 << 40), (0, 1 << 20), (1, 0)] {
            let mut forged = vec![VERSION];
            put_varint(&mut forged, streams.len() as u64);
            for (i, (n, len)) in streams.iter().enumerate() {
                put_varint(&mut forged, if i == lie { claimed } else { *n as u64 });
                put_varint(&mut forged, *len as u64);
            }
            forged.extend_from_slice(&value[value.len() - streams.iter().map(|s| s.1).sum::<usize>()..]);
            let mut block = Block::open(7, forged).unwrap();
            assert!(block.all().is_err(), "stream {lie} claiming {claimed}");
            let seq = 7 + if lie == 0 { 0 } else { streams[0].0 as u64 };
            if claimed > 0 {
                assert!(
                    block.entry(seq).is_err(),
                    "entry {seq}, stream {lie} claiming {claimed}"
                );
            }
        }
    }
}
