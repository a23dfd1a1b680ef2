//! The applier: the thread that moves logged commits into redb.
//!
//! Every frame the commit log made durable is sent here, in order. The
//! applier writes what has arrived in one non-durable redb transaction
//! (many commits' pages written once), and about once a second — sooner
//! when a segment grows large, and whenever the store goes quiet — it
//! *checkpoints*: switches the log to its other segment, applies the rest
//! of the one it left with `Durability::Immediate`, and so frees it.
//!
//! When redb fails (an I/O error) its non-durable transactions are gone
//! with the handle; the applier re-opens it and re-applies everything the
//! log holds after redb's durable checkpoint, so a failed apply never
//! loses a frame that was acknowledged.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::log::Frame;
use crate::{Shared, StoreError, Writer};

/// A checkpoint is due once the active segment is this large.
pub(crate) const SEGMENT_TARGET: u64 = 64 * 1024 * 1024;
/// Quiet this long: make redb durable and give the log's space back
/// (sooner if checkpoints are asked for more often).
const IDLE: Duration = Duration::from_millis(200);
/// How long frames wait to be applied together. The applier shares the
/// cores with ingest, so its batches are kept short: at 1M Starts, 100 ms
/// batches (a burst of ~10k inserts each) gave an ack p99 of 45.7–49.8 ms
/// over four runs, 20 ms batches 43.3–46.8 ms, with the same CPU per
/// request and the same store size (docs/benchmarks-notebook.md).
const APPLY_EVERY: Duration = Duration::from_millis(20);
/// How often a waiting applier looks for a reader's nudge.
const NUDGE_POLL: Duration = Duration::from_millis(2);
/// The most bytes of frames applied in one transaction.
const BATCH_BYTES: usize = 32 * 1024 * 1024;
/// Waits between attempts to recover from a failing redb.
const RETRY: Duration = Duration::from_millis(100);

pub(crate) fn spawn(
    shared: Arc<Shared>,
    writer: Arc<Mutex<Writer>>,
    frames: Receiver<Frame>,
    nice: i32,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("rras-store-apply".into())
        .spawn(move || {
            // Linux: a thread's own niceness. Failing is harmless (a
            // negative one needs CAP_SYS_NICE): it runs as the process does.
            if nice != 0 {
                let me = rustix::thread::gettid();
                if let Err(e) = rustix::process::setpriority_process(Some(me), nice) {
                    tracing::info!("cannot give the store's applier niceness {nice} ({e})");
                }
            }
            Applier::new(shared, writer, frames).run()
        })
}

struct Applier {
    shared: Arc<Shared>,
    writer: Arc<Mutex<Writer>>,
    frames: Receiver<Frame>,
    /// The last frame in redb (durably or not).
    applied: u64,
    /// The last frame taken from the channel (every later one is still in
    /// it, in order).
    received: u64,
    /// Frames taken, not yet applied.
    pending: Vec<Frame>,
    pending_bytes: usize,
    pending_since: Option<Instant>,
    /// redb must be re-opened and caught up from the log before anything
    /// else is applied.
    broken: bool,
    /// The database generation applied to (a re-open elsewhere loses the
    /// non-durable transactions).
    epoch: u64,
    last_checkpoint: Instant,
}

impl Applier {
    fn new(shared: Arc<Shared>, writer: Arc<Mutex<Writer>>, frames: Receiver<Frame>) -> Self {
        let applied = shared.progress.lock().applied;
        let epoch = shared.epoch();
        Applier {
            shared,
            writer,
            frames,
            applied,
            received: applied,
            pending: Vec::new(),
            pending_bytes: 0,
            pending_since: None,
            broken: false,
            epoch,
            last_checkpoint: Instant::now(),
        }
    }

    fn run(mut self) {
        loop {
            let wait = if self.broken {
                RETRY
            } else if self.pending.is_empty() {
                IDLE.min(self.shared.checkpoint_interval)
            } else {
                NUDGE_POLL
            };
            match self.frames.recv_timeout(wait) {
                Ok(frame) => {
                    self.take(frame);
                    while self.pending_bytes < BATCH_BYTES {
                        match self.frames.try_recv() {
                            Ok(frame) => self.take(frame),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    // A reader re-opened redb after an I/O error: what was
                    // not durable is gone, and the history's in-memory
                    // keys are of the old handle. Catch up now, not at the
                    // next write (queries wait for it).
                    if self.shared.epoch() != self.epoch {
                        self.broken = true;
                    }
                    if self.broken {
                        self.recover();
                    } else if self.pending.is_empty() && self.applied > self.shared.progress.lock().durable {
                        self.checkpoint();
                        continue;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // The store is closing: leave redb durable and the log
                    // empty, so the next open has nothing to replay.
                    if self.ready() && (!self.pending.is_empty() || self.applied > self.shared.progress.lock().durable)
                    {
                        self.checkpoint();
                    }
                    return;
                }
            }
            // Frames wait to be applied together (fewer copies of the same
            // B-tree pages, less garbage before the next checkpoint), unless
            // a reader is waiting for them.
            let due = self.pending_bytes >= BATCH_BYTES
                || self.pending_since.is_some_and(|t| t.elapsed() >= APPLY_EVERY)
                || self.shared.nudged.swap(false, std::sync::atomic::Ordering::SeqCst);
            if due && !self.pending.is_empty() {
                let batch = self.take_pending();
                self.apply(batch, false);
            }
            let (segment_full, last_logged) = {
                let writer = self.writer.lock();
                (writer.log.active_bytes() >= SEGMENT_TARGET, writer.log.last_seq())
            };
            // Only when something is not durable in redb yet: an idle daemon
            // made an empty durable commit (two fsyncs and a copy of the
            // allocator state) every second, forever, and a reader paging
            // through an idle table paid for it.
            let behind = !self.pending.is_empty() || last_logged > self.shared.progress.lock().durable;
            if !self.broken
                && behind
                && (segment_full || self.last_checkpoint.elapsed() >= self.shared.checkpoint_interval)
            {
                self.checkpoint();
            }
        }
    }

    /// A frame from the channel, to be applied with the next batch.
    fn take(&mut self, frame: Frame) {
        self.received = frame.seq;
        self.pending_bytes += frame.bytes.len();
        self.pending_since.get_or_insert_with(Instant::now);
        self.pending.push(frame);
    }

    /// The frames taken and not applied yet, handed over.
    fn take_pending(&mut self) -> Vec<Frame> {
        self.pending_bytes = 0;
        self.pending_since = None;
        std::mem::take(&mut self.pending)
    }

    /// Whether redb can be written: a broken applier first recovers.
    fn ready(&mut self) -> bool {
        if self.broken {
            self.recover();
        }
        !self.broken
    }

    /// Applies `batch` (frames already in redb are skipped); a failure
    /// leaves the applier broken, to recover from the log.
    fn apply(&mut self, mut batch: Vec<Frame>, durable: bool) {
        if self.shared.epoch() != self.epoch {
            self.broken = true;
        }
        if !self.ready() {
            return;
        }
        batch.retain(|f| f.seq > self.applied);
        if batch.is_empty() && !durable {
            return;
        }
        let last = batch.last().map_or(self.applied, |f| f.seq);
        match self.shared.apply(&batch, last, durable) {
            Ok(()) => {
                self.applied = last;
                self.shared.advance(last, durable);
            }
            Err(e) => {
                tracing::warn!("applying {} logged commits to the store failed: {e}", batch.len());
                self.broken = true;
            }
        }
    }

    /// Makes redb durable up to the last frame logged so far.
    fn checkpoint(&mut self) {
        if !self.ready() {
            return;
        }
        let upto = {
            let mut writer = self.writer.lock();
            writer.log.switch();
            writer.log.last_seq()
        };
        // Every frame up to `upto` was sent before the lock was let go.
        let mut batch = self.take_pending();
        while self.received < upto {
            match self.frames.recv() {
                Ok(frame) => {
                    self.received = frame.seq;
                    batch.push(frame);
                }
                Err(_) => break,
            }
        }
        self.apply(batch, true);
        if !self.broken && self.applied >= upto {
            self.last_checkpoint = Instant::now();
            self.writer.lock().log.checkpointed(upto);
        }
    }

    /// Re-opens redb and applies, durably, everything the log holds after
    /// redb's durable checkpoint.
    fn recover(&mut self) {
        match self.try_recover() {
            Ok(()) => self.broken = false,
            Err(e) => {
                tracing::warn!("the store cannot catch up from its log yet: {e}");
                self.broken = true;
            }
        }
    }

    fn try_recover(&mut self) -> Result<(), StoreError> {
        self.epoch = self.shared.reopen()?;
        // Appends wait meanwhile: the scan must not race a frame being
        // written, and this is a failure path.
        let mut writer = self.writer.lock();
        let durable = self.shared.checkpoint_seq()?;
        let mut frames = writer.log.scan(durable).map_err(crate::io_err)?.frames;
        // A frame whose append failed may be readable, but it was never
        // acknowledged and its number goes to the next append.
        frames.retain(|f| f.seq <= writer.log.last_seq());
        let last = frames.last().map_or(durable, |f| f.seq);
        self.shared.apply(&frames, last, true)?;
        self.applied = last;
        self.shared.advance(last, true);
        self.last_checkpoint = Instant::now();
        writer.log.checkpointed(last);
        Ok(())
    }
}
