//! A simulated disk under redb, for fault injection.
//!
//! [`SimDisk`] is a redb [`StorageBackend`] that models what a real disk and
//! page cache promise and nothing more:
//!
//! - writes land in a volatile image (what reads see) and in a list of
//!   writes not yet made durable;
//! - `sync_data` makes every pending write durable — it is the only barrier;
//! - a crash ([`SimDisk::crash`]) keeps the durable image plus an arbitrary
//!   subset of the pending writes, 4 KiB sector by sector, in any
//!   combination: torn pages and reordered writes included;
//! - writes, syncs and resizes fail at random with EIO or ENOSPC at a
//!   configured rate. A failed write changes nothing; a failed sync leaves
//!   its writes pending (they may or may not survive a crash, as after a
//!   real `fsync` error).
//!
//! A crash also kills the "process": the handle that was in use (and every
//! clone of it) fails every later call, like a file descriptor of a dead
//! process, so a commit thread caught mid-write cannot touch the disk after
//! the crash. [`SimDisk::reboot`] returns a fresh handle onto what survived.
//!
//! A disk holds several files ([`SimDisk::file`]): the store's database
//! and its commit log's segments share one power supply, so a crash hits
//! them all at the same instant.
//!
//! Everything is driven by a seeded generator, so a failing run is
//! reproduced from its seed.

use std::fmt;
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;
use redb::StorageBackend;

/// Crash-consistency granularity: a disk keeps or loses whole sectors.
const SECTOR: u64 = 4096;

/// How often calls fail, in parts per million of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultRates {
    /// `write` returns an error without writing.
    pub write_ppm: u32,
    /// `sync_data` returns an error; its writes stay pending.
    pub sync_ppm: u32,
    /// `set_len` returns an error without resizing.
    pub set_len_ppm: u32,
}

/// What the disk has seen (for reports and for asserting that faults fired).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Successful writes.
    pub writes: u64,
    /// Successful syncs.
    pub syncs: u64,
    /// Injected failures of any kind.
    pub injected: u64,
    /// Crashes.
    pub crashes: u64,
    /// Pending sectors dropped by crashes.
    pub sectors_lost: u64,
    /// Pending sectors kept by crashes.
    pub sectors_kept: u64,
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

/// One file's bytes: what survives a crash, what reads see, and the
/// writes between the two.
#[derive(Default)]
struct FileImage {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    pending: Vec<Pending>,
}

struct DiskState {
    files: Vec<FileImage>,
    /// Handles of older generations are dead.
    generation: u64,
    rates: FaultRates,
    /// Crash when this many more writes/syncs/resizes have been attempted.
    crash_in: Option<u64>,
    rng: SplitMix64,
    stats: DiskStats,
}

/// A handle onto the simulated disk (cheap to clone; clones share the disk
/// and the generation).
#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<DiskState>>,
    generation: u64,
    file: usize,
}

impl fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        let image = s.files.get(self.file);
        f.debug_struct("SimDisk")
            .field("generation", &self.generation)
            .field("file", &self.file)
            .field("len", &image.map_or(0, |i| i.volatile.len()))
            .field("pending", &image.map_or(0, |i| i.pending.len()))
            .field("stats", &s.stats)
            .finish()
    }
}

impl SimDisk {
    /// An empty disk whose faults and crashes follow `seed`.
    pub fn new(seed: u64) -> Self {
        SimDisk {
            state: Arc::new(Mutex::new(DiskState {
                files: Vec::new(),
                generation: 0,
                rates: FaultRates::default(),
                crash_in: None,
                rng: SplitMix64(seed),
                stats: DiskStats::default(),
            })),
            generation: 0,
            file: 0,
        }
    }

    /// A handle onto file `index` of the same disk, in the same generation
    /// (this handle is file 0 unless it came from here).
    pub fn file(&self, index: usize) -> SimDisk {
        SimDisk {
            state: self.state.clone(),
            generation: self.generation,
            file: index,
        }
    }

    /// Sets the failure rates from now on (zero: no faults).
    pub fn set_faults(&self, rates: FaultRates) {
        self.state.lock().rates = rates;
    }

    /// Power loss at the `ops`-th write, sync or resize from now (that call
    /// fails): a crash in the middle of whatever is running then.
    pub fn crash_after(&self, ops: u64) {
        self.state.lock().crash_in = Some(ops);
    }

    /// Counters so far.
    pub fn stats(&self) -> DiskStats {
        self.state.lock().stats
    }

    /// True once a crash has killed this handle's generation.
    pub fn is_dead(&self) -> bool {
        self.state.lock().generation != self.generation
    }

    /// Power loss now: every handle in use dies, the durable image keeps a
    /// random subset of the pending sectors.
    pub fn crash(&self) {
        self.state.lock().crash();
    }

    /// A live handle onto the disk as it is now (after [`SimDisk::crash`]:
    /// what survived).
    pub fn reboot(&self) -> SimDisk {
        let generation = self.state.lock().generation;
        SimDisk {
            state: self.state.clone(),
            generation,
            file: 0,
        }
    }

    /// Locks the disk for one call: the state, or the error a dead handle
    /// gets.
    fn live(&self) -> io::Result<parking_lot::MutexGuard<'_, DiskState>> {
        let mut s = self.state.lock();
        if s.generation != self.generation {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "simulated crash: process is gone",
            ));
        }
        if s.files.len() <= self.file {
            s.files.resize_with(self.file + 1, FileImage::default);
        }
        Ok(s)
    }
}

fn write_into(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let Ok(start) = usize::try_from(offset) else {
        return;
    };
    let end = start.saturating_add(data.len());
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(data);
}

impl DiskState {
    /// See [`SimDisk::crash`].
    fn crash(&mut self) {
        for file in 0..self.files.len() {
            let image = &mut self.files[file];
            let pending = std::mem::take(&mut image.pending);
            let durable = std::mem::take(&mut image.durable);
            let survived = self.survivors(durable, pending);
            self.files[file].volatile = survived.clone();
            self.files[file].durable = survived;
        }
        self.generation += 1;
        self.stats.crashes += 1;
        // A planned power loss is moot once the power is gone.
        self.crash_in = None;
    }

    /// The durable image plus a random subset of `pending`, sector by
    /// sector.
    fn survivors(&mut self, mut image: Vec<u8>, pending: Vec<Pending>) -> Vec<u8> {
        for op in pending {
            match op {
                Pending::SetLen(len) => {
                    if let (true, Ok(len)) = (self.rng.chance(1, 2), usize::try_from(len)) {
                        image.resize(len, 0);
                    }
                }
                Pending::Write { offset, data } => {
                    for (i, sector) in data.chunks(SECTOR as usize).enumerate() {
                        if self.rng.chance(1, 2) {
                            self.stats.sectors_kept += 1;
                            write_into(&mut image, offset + i as u64 * SECTOR, sector);
                        } else {
                            self.stats.sectors_lost += 1;
                        }
                    }
                }
            }
        }
        image
    }

    /// Decides whether this call fails; an injected error is EIO or ENOSPC.
    fn inject(&mut self, ppm: u32) -> io::Result<()> {
        if let Some(n) = self.crash_in {
            if n == 0 {
                self.crash_in = None;
                self.crash();
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "simulated crash"));
            }
            self.crash_in = Some(n - 1);
        }
        if ppm > 0 && self.rng.chance(u64::from(ppm), 1_000_000) {
            self.stats.injected += 1;
            let errno = if self.rng.chance(1, 4) { 28 } else { 5 };
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(())
    }
}

impl StorageBackend for SimDisk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.live()?.files[self.file].volatile.len() as u64)
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, io::Error> {
        let s = self.live()?;
        let image = &s.files[self.file].volatile;
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let end = start.checked_add(len).filter(|e| *e <= image.len());
        match end {
            Some(end) => Ok(image[start..end].to_vec()),
            None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end")),
        }
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let ppm = s.rates.set_len_ppm;
        s.inject(ppm)?;
        let new_len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let image = &mut s.files[self.file];
        image.volatile.resize(new_len, 0);
        image.pending.push(Pending::SetLen(len));
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let ppm = s.rates.sync_ppm;
        s.inject(ppm)?;
        // The durable image catches up by replaying the pending list (not
        // by copying the whole volatile image, which is as big as the file).
        // Like fdatasync, this makes durable only this file's writes.
        let image = &mut s.files[self.file];
        for op in std::mem::take(&mut image.pending) {
            match op {
                Pending::SetLen(len) => {
                    if let Ok(len) = usize::try_from(len) {
                        image.durable.resize(len, 0);
                    }
                }
                Pending::Write { offset, data } => write_into(&mut image.durable, offset, &data),
            }
        }
        s.stats.syncs += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let ppm = s.rates.write_ppm;
        s.inject(ppm)?;
        let image = &mut s.files[self.file];
        write_into(&mut image.volatile, offset, data);
        image.pending.push(Pending::Write {
            offset,
            data: data.to_vec(),
        });
        s.stats.writes += 1;
        Ok(())
    }
}

/// A small seeded generator (SplitMix64): reproducible from the seed, no
/// dependency, good enough to pick faults.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        den > 0 && self.next_u64() % den < num
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}
