//! `CommitLog`: the store's write-ahead log.
//!
//! A commit is one *frame* appended to a log segment and made durable with
//! a single `fdatasync` of that one file; the caller acknowledges its events
//! then. The frame reaches redb afterwards, on the applier thread
//! (`applier.rs`), in non-durable transactions, and a *checkpoint* (a redb
//! commit with `Durability::Immediate`) later makes everything up to a
//! sequence number durable in redb itself. Measured on this project's disk:
//! an append plus `fdatasync` is 0.1–0.2 ms, a redb commit of 100 changes
//! 3–10 ms (docs/benchmarks-notebook.md) — the log takes that cost off the
//! acknowledgement path and lets redb write many commits' pages at once.
//!
//! Two segment files take turns: appends go to the *active* one; a
//! checkpoint first switches appends to the other segment, from its start,
//! then makes redb durable up to the last frame of the segment it left,
//! which is then *free* (every frame in it is in redb). A segment is only
//! ever rewritten from its start once it is free.
//!
//! Frame: `len` u32 (of the body), `crc` u32 (CRC-32 of `seq` and body),
//! `seq` u64, body. Sequence numbers rise by one per frame and are never
//! reused, so a segment read from its start is a run of consecutive frames
//! followed by garbage: a torn tail, or older frames left from before the
//! segment was rewound (whose numbers are all lower). Reading stops at the
//! first frame that fails its length, checksum or sequence check.
//!
//! A failed append (write or `fdatasync` error) may or may not be on the
//! disk. The next append therefore goes to the same place with the same
//! sequence number and replaces it, and no switch happens until one has
//! succeeded: a frame number is never on the disk twice.

use std::io;

use redb::StorageBackend;
use rras_core::AuditRecord;

use crate::{StoreError, StoreOp};

/// Bytes before a frame's body.
pub const FRAME_HEADER: usize = 16;
/// The largest body accepted when reading: a group commit of 4,096
/// requests of a few kilobytes each fits many times over, and a length
/// beyond it is garbage.
pub const MAX_BODY: usize = 256 * 1024 * 1024;

const OP_PUT: u8 = 1;
const OP_END: u8 = 2;
const OP_DELETE: u8 = 3;
const OP_AUDIT: u8 = 4;

/// One logged commit: its number and its body (see [`Body`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The commit's sequence number (from 1).
    pub seq: u64,
    /// The whole frame, header included (what is written to the segment).
    pub bytes: Vec<u8>,
}

impl Frame {
    /// Encodes a commit: the operations, already in their stored forms.
    pub fn encode(seq: u64, ops: &[StoreOp], handle_watermark: u32, revision: u64) -> Result<Frame, StoreError> {
        let mut bytes = vec![0u8; FRAME_HEADER];
        bytes.extend_from_slice(&handle_watermark.to_le_bytes());
        bytes.extend_from_slice(&revision.to_le_bytes());
        let count = u32::try_from(ops.len()).map_err(|_| StoreError::TooLarge)?;
        bytes.extend_from_slice(&count.to_le_bytes());
        for op in ops {
            match op {
                StoreOp::Put(record) => put_op(&mut bytes, OP_PUT, record.handle().get(), record.as_bytes())?,
                StoreOp::End(ended) => {
                    let entry = rras_core::record::encode_ended(ended);
                    put_op(&mut bytes, OP_END, ended.connection.handle.get(), &entry)?;
                }
                StoreOp::Delete(handle) => put_op(&mut bytes, OP_DELETE, handle.get(), &[])?,
                StoreOp::Audit(record) => {
                    let entry = postcard::to_stdvec::<AuditRecord>(record).map_err(StoreError::Encode)?;
                    put_op(&mut bytes, OP_AUDIT, 0, &entry)?;
                }
            }
        }
        let body_len = bytes.len() - FRAME_HEADER;
        if body_len > MAX_BODY {
            return Err(StoreError::TooLarge);
        }
        let crc = checksum(seq, &bytes[FRAME_HEADER..]);
        bytes[0..4].copy_from_slice(&(body_len as u32).to_le_bytes());
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        bytes[8..16].copy_from_slice(&seq.to_le_bytes());
        Ok(Frame { seq, bytes })
    }

    /// The body's fields; an inconsistent body is an error, never a panic.
    pub fn body(&self) -> Result<Body<'_>, LogError> {
        Body::parse(self.bytes.get(FRAME_HEADER..).unwrap_or_default())
    }
}

fn put_op(out: &mut Vec<u8>, tag: u8, handle: u32, payload: &[u8]) -> Result<(), StoreError> {
    out.push(tag);
    out.extend_from_slice(&handle.to_le_bytes());
    let len = u32::try_from(payload.len()).map_err(|_| StoreError::TooLarge)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

fn checksum(seq: u64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Why a frame's body does not parse (only after a checksum matched: a
/// bug or a hostile file, not a torn write).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The body ends inside a field.
    #[error("log frame body is truncated")]
    Truncated,
    /// An operation tag this version does not know.
    #[error("log frame has an unknown operation {0}")]
    UnknownOp(u8),
    /// Bytes left after the last operation.
    #[error("log frame has {0} bytes after its last operation")]
    Trailing(usize),
}

/// One stored operation, borrowed from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedOp<'a> {
    /// Insert or replace an active record.
    Put {
        /// Its handle.
        handle: u32,
        /// `Record` bytes.
        record: &'a [u8],
    },
    /// Remove an active record and append a history entry.
    End {
        /// The ended connection's handle.
        handle: u32,
        /// `encode_ended` bytes.
        entry: &'a [u8],
    },
    /// Remove an active record.
    Delete(u32),
    /// Append an audit entry (postcard of `AuditRecord`).
    Audit(&'a [u8]),
}

/// A frame's body: the commit's watermark and revision, and its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body<'a> {
    /// The handle watermark the commit carries.
    pub handle_watermark: u32,
    /// The change feed revision the commit carries.
    pub revision: u64,
    /// The operations, in order.
    pub ops: Vec<LoggedOp<'a>>,
}

impl<'a> Body<'a> {
    /// Parses a body (checked: lengths against what is there).
    pub fn parse(bytes: &'a [u8]) -> Result<Body<'a>, LogError> {
        let mut rest = bytes;
        let handle_watermark = take_u32(&mut rest)?;
        let revision = take_u64(&mut rest)?;
        let count = take_u32(&mut rest)?;
        // Each operation takes at least 9 bytes: a count beyond what is
        // there is refused before anything is reserved for it.
        if (count as usize).saturating_mul(9) > rest.len() {
            return Err(LogError::Truncated);
        }
        let mut ops = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let (&tag, tail) = rest.split_first().ok_or(LogError::Truncated)?;
            rest = tail;
            let handle = take_u32(&mut rest)?;
            let len = take_u32(&mut rest)? as usize;
            if len > rest.len() {
                return Err(LogError::Truncated);
            }
            let (payload, tail) = rest.split_at(len);
            rest = tail;
            ops.push(match tag {
                OP_PUT => LoggedOp::Put {
                    handle,
                    record: payload,
                },
                OP_END => LoggedOp::End { handle, entry: payload },
                OP_DELETE => LoggedOp::Delete(handle),
                OP_AUDIT => LoggedOp::Audit(payload),
                other => return Err(LogError::UnknownOp(other)),
            });
        }
        if !rest.is_empty() {
            return Err(LogError::Trailing(rest.len()));
        }
        Ok(Body {
            handle_watermark,
            revision,
            ops,
        })
    }
}

fn take_u32(rest: &mut &[u8]) -> Result<u32, LogError> {
    let (head, tail) = rest.split_first_chunk::<4>().ok_or(LogError::Truncated)?;
    *rest = tail;
    Ok(u32::from_le_bytes(*head))
}

fn take_u64(rest: &mut &[u8]) -> Result<u64, LogError> {
    let (head, tail) = rest.split_first_chunk::<8>().ok_or(LogError::Truncated)?;
    *rest = tail;
    Ok(u64::from_le_bytes(*head))
}

/// The run of consecutive, intact frames at the start of a segment's bytes
/// (see the module comment). Never panics, whatever the bytes.
pub fn read_segment(bytes: &[u8]) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..).and_then(|b| b.first_chunk::<FRAME_HEADER>()) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let seq = u64::from_le_bytes([
            header[8], header[9], header[10], header[11], header[12], header[13], header[14], header[15],
        ]);
        if len > MAX_BODY || seq == 0 || frames.last().is_some_and(|f| f.seq.checked_add(1) != Some(seq)) {
            break;
        }
        let Some(end) = (at + FRAME_HEADER).checked_add(len).filter(|end| *end <= bytes.len()) else {
            break;
        };
        if checksum(seq, &bytes[at + FRAME_HEADER..end]) != crc {
            break;
        }
        frames.push(Frame {
            seq,
            bytes: bytes[at..end].to_vec(),
        });
        at = end;
    }
    frames
}

/// What reading both segments found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Frames after `after`, in order, without a gap.
    pub frames: Vec<Frame>,
    /// The highest frame number seen anywhere (0 if none): new frames must
    /// be numbered above it, so no old frame can ever be mistaken for one.
    pub highest: u64,
    /// Frames beyond a gap (left out: they cannot have been acknowledged,
    /// since every frame is durable before the next is written).
    pub dropped: usize,
}

/// The two segments and where the next frame goes.
pub(crate) struct CommitLog {
    segments: [Box<dyn StorageBackend>; 2],
    active: usize,
    /// Where the next frame goes in the active segment.
    offset: u64,
    /// The last frame appended (its number).
    last_seq: u64,
    /// The inactive segment holds nothing redb lacks.
    other_free: bool,
    /// The last append failed: the next one replaces it.
    failed: bool,
}

impl std::fmt::Debug for CommitLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitLog")
            .field("active", &self.active)
            .field("offset", &self.offset)
            .field("last_seq", &self.last_seq)
            .field("other_free", &self.other_free)
            .field("failed", &self.failed)
            .finish()
    }
}

impl CommitLog {
    /// The log over two segments, to be [`CommitLog::scan`]ned and then
    /// [`CommitLog::restart`]ed.
    pub(crate) fn new(segments: [Box<dyn StorageBackend>; 2]) -> Self {
        CommitLog {
            segments,
            active: 0,
            offset: 0,
            last_seq: 0,
            other_free: true,
            failed: false,
        }
    }

    /// Reads both segments: the frames after `after` (redb's durable
    /// checkpoint), merged in order.
    pub(crate) fn scan(&self, after: u64) -> io::Result<Scan> {
        let mut all: Vec<Frame> = Vec::new();
        for segment in &self.segments {
            let len = usize::try_from(segment.len()?).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
            all.extend(read_segment(&segment.read(0, len)?));
        }
        let highest = all.iter().map(|f| f.seq).max().unwrap_or(0);
        all.retain(|f| f.seq > after);
        all.sort_by_key(|f| f.seq);
        let mut scan = Scan {
            frames: Vec::with_capacity(all.len()),
            highest,
            dropped: 0,
        };
        let mut expected = after.saturating_add(1);
        for frame in all {
            if frame.seq == expected {
                expected = expected.saturating_add(1);
                scan.frames.push(frame);
            } else {
                scan.dropped += 1;
            }
        }
        Ok(scan)
    }

    /// After everything scanned is durable in redb: both segments free,
    /// numbering continues above `last_seq`.
    pub(crate) fn restart(&mut self, last_seq: u64) {
        self.active = 0;
        self.offset = 0;
        self.last_seq = last_seq;
        self.other_free = true;
        self.failed = false;
    }

    /// The number the next frame gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }

    /// The last frame appended.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Bytes in the active segment.
    pub(crate) fn active_bytes(&self) -> u64 {
        self.offset
    }

    /// Writes `frame` (numbered [`CommitLog::next_seq`]) and makes it
    /// durable. On failure the frame's place and number are kept for the
    /// next append.
    pub(crate) fn append(&mut self, frame: &Frame) -> io::Result<()> {
        debug_assert_eq!(frame.seq, self.next_seq());
        let segment = &self.segments[self.active];
        let written = segment
            .write(self.offset, &frame.bytes)
            .and_then(|()| segment.sync_data(false));
        match written {
            Ok(()) => {
                self.offset += frame.bytes.len() as u64;
                self.last_seq = frame.seq;
                self.failed = false;
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Starts the free segment (from its start) if there is one; returns
    /// whether it switched. Afterwards the left segment holds frames up to
    /// [`CommitLog::last_seq`] that redb may not have durably.
    pub(crate) fn switch(&mut self) -> bool {
        if !self.other_free || self.failed {
            return false;
        }
        self.active ^= 1;
        self.offset = 0;
        self.other_free = false;
        true
    }

    /// redb holds every frame up to `seq` durably.
    pub(crate) fn checkpointed(&mut self, seq: u64) {
        // Only the checkpoint switches, and it asks for a frame appended
        // after the switch's last: the inactive segment's frames all
        // precede it.
        self.other_free = true;
        if seq >= self.last_seq && !self.failed {
            // Nothing is waiting anywhere: start over, and give the space
            // back (a failed truncation only leaves old frames, skipped by
            // number).
            self.offset = 0;
            for segment in &self.segments {
                let _ = segment.set_len(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{SimDisk, SplitMix64};
    use rras_core::{synthetic, Connection, ConnectionHandle, Record};
    use std::time::{Duration, SystemTime};

    fn record(handle: u32) -> Record {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        Record::encode(&Connection {
            handle: ConnectionHandle::new(handle).expect("non-zero"),
            info: synthetic::connection(u64::from(handle), t),
        })
    }

    fn frame(seq: u64) -> Frame {
        let ops = [
            StoreOp::Put(record(seq as u32)),
            StoreOp::Delete(ConnectionHandle::new(7).expect("non-zero")),
        ];
        Frame::encode(seq, &ops, seq as u32, seq * 10).expect("encodes")
    }

    #[test]
    fn a_frame_reads_back_as_written() {
        let f = frame(3);
        let body = f.body().expect("parses");
        assert_eq!((body.handle_watermark, body.revision), (3, 30));
        assert_eq!(
            body.ops,
            vec![
                LoggedOp::Put {
                    handle: 3,
                    record: record(3).as_bytes()
                },
                LoggedOp::Delete(7)
            ]
        );
        assert_eq!(read_segment(&f.bytes), vec![f]);
    }

    #[test]
    fn a_segment_ends_at_a_torn_frame_or_an_older_one() {
        let mut bytes: Vec<u8> = [5, 6, 7].iter().flat_map(|s| frame(*s).bytes).collect();
        let whole = bytes.len();
        // Older frames left from before a rewind follow the new run.
        bytes.extend(frame(2).bytes);
        bytes.extend(frame(3).bytes);
        assert_eq!(
            read_segment(&bytes).iter().map(|f| f.seq).collect::<Vec<_>>(),
            [5, 6, 7]
        );
        // A torn last frame is not read, whatever byte was lost.
        for cut in whole - 40..whole {
            let seqs: Vec<u64> = read_segment(&bytes[..cut]).iter().map(|f| f.seq).collect();
            assert_eq!(seqs, [5, 6], "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[whole - 3] ^= 0x10;
        assert_eq!(read_segment(&flipped).len(), 2);
    }

    #[test]
    fn garbage_never_panics_and_never_reads_as_a_frame() {
        let mut rng = SplitMix64(9);
        let good: Vec<u8> = [1, 2].iter().flat_map(|s| frame(*s).bytes).collect();
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] = rng.next_u64() as u8;
            }
            bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
            for f in read_segment(&bytes) {
                // What reads back intact is exactly what was written.
                let original = frame(f.seq);
                assert_eq!(f, original);
                assert!(f.body().is_ok());
            }
            let _ = Body::parse(&bytes);
        }
    }

    #[test]
    fn a_body_with_an_impossible_count_is_refused_before_allocating() {
        let mut body = Vec::new();
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&2u64.to_le_bytes());
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Body::parse(&body), Err(LogError::Truncated));
        body.truncate(12);
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Body::parse(&body), Err(LogError::UnknownOp(9)));
    }

    fn log_on(disk: &SimDisk) -> CommitLog {
        CommitLog::new([Box::new(disk.file(1)), Box::new(disk.file(2))])
    }

    #[test]
    fn scan_merges_both_segments_after_the_checkpoint_and_stops_at_a_gap() {
        let disk = SimDisk::new(1);
        let mut log = log_on(&disk);
        log.restart(0);
        for seq in 1..=3 {
            log.append(&frame(seq)).expect("append");
        }
        assert!(log.switch());
        for seq in 4..=5 {
            log.append(&frame(seq)).expect("append");
        }
        // No second switch before a checkpoint frees the left segment.
        assert!(!log.switch());
        let scan = log.scan(1).expect("scan");
        assert_eq!(scan.frames.iter().map(|f| f.seq).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert_eq!((scan.highest, scan.dropped), (5, 0));

        // After a crash, what was appended is all there.
        disk.crash();
        let disk = disk.reboot();
        let log = log_on(&disk);
        assert_eq!(log.scan(0).expect("scan").frames.len(), 5);

        // A frame missing in the middle: the ones after it are left out.
        let disk = SimDisk::new(3);
        let mut log = log_on(&disk);
        log.restart(0);
        log.append(&frame(1)).expect("append");
        // Within a segment the run just ends there; across the two, the
        // merge must stop at the gap too.
        assert!(log.switch());
        log.last_seq = 2;
        log.append(&frame(3)).expect("append");
        let scan = log.scan(0).expect("scan");
        assert_eq!((scan.frames.len(), scan.dropped, scan.highest), (1, 1, 3));
    }

    #[test]
    fn a_checkpoint_of_everything_empties_both_segments() {
        let disk = SimDisk::new(2);
        let mut log = log_on(&disk);
        log.restart(0);
        log.append(&frame(1)).expect("append");
        assert!(log.switch());
        log.append(&frame(2)).expect("append");
        log.checkpointed(1);
        // Frame 2 is not in redb yet: it stays.
        assert_eq!(log.scan(1).expect("scan").frames.len(), 1);
        assert!(log.switch());
        log.checkpointed(2);
        assert_eq!(log.active_bytes(), 0);
        assert_eq!(disk.file(1).len().expect("len") + disk.file(2).len().expect("len"), 0);
        log.append(&frame(3)).expect("append");
        assert_eq!(log.scan(2).expect("scan").frames.len(), 1);
    }
}
