//! Buffers handed to the caller: one zeroed allocation each, owned by the
//! caller until MprAdminBufferFree (or LocalFree for error strings).
//!
//! Small buffers come from `calloc`. A large one (a full listing is 1.6 GB
//! at a million connections) is its own 2 MiB-aligned anonymous mapping
//! with transparent huge pages requested: faulting 1.6 GB in 4 KiB pages
//! costs about a second, in 2 MiB pages a few hundredths (measured in
//! docs/benchmarks-notebook.md). The mappings are remembered so that the free
//! functions know to unmap them.
//!
//! The kernel zeroes every fresh page, and on a VM the first touch of
//! memory is slower still; a tool that lists a million connections every
//! few seconds would pay that each time. So the last large buffer freed is
//! kept (one, for at most [`SPARE_SECS`] seconds, and dropped when the last
//! server handle closes) and reused, zeroed by `memset`, for the next
//! listing of a similar size.

use std::collections::HashMap;
use std::ffi::c_void;
use std::mem::size_of;
use std::sync::LazyLock;

use parking_lot::Mutex;
use rras_core::Win32Error;

/// Buffers at least this large are huge-page mappings.
const LARGE: usize = 8 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// Large buffers handed out: address given to the caller → (mapping start,
/// mapping length).
static MAPPINGS: LazyLock<Mutex<HashMap<usize, (usize, usize)>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A freed large buffer kept for reuse.
#[derive(Debug, Clone, Copy)]
struct Spare {
    aligned: usize,
    usable: usize,
    base: usize,
    map_len: usize,
    freed: std::time::Instant,
}

/// How long a freed large buffer is kept for the next listing.
pub(crate) const SPARE_SECS: u64 = 30;

static SPARE: Mutex<Option<Spare>> = Mutex::new(None);

/// Unmaps the kept buffer (when the last server handle closes, or when it
/// has aged out).
pub(crate) fn release_spare() {
    if let Some(s) = SPARE.lock().take() {
        // SAFETY: the spare mapping is owned by SPARE alone; taken once.
        unsafe { libc::munmap(s.base as *mut c_void, s.map_len) };
    }
}

/// The kept buffer, zeroed, if it fits `len` without wasting more than
/// half of it.
fn reuse_spare(len: usize) -> Option<*mut u8> {
    let mut slot = SPARE.lock();
    let s = (*slot)?;
    if s.freed.elapsed().as_secs() >= SPARE_SECS || s.usable < len || s.usable / 2 > len {
        drop(slot);
        release_spare();
        return None;
    }
    *slot = None;
    drop(slot);
    // SAFETY: [aligned, aligned + len) is inside the spare mapping, which
    // no one else refers to any more.
    unsafe { std::ptr::write_bytes(s.aligned as *mut u8, 0, len) };
    MAPPINGS.lock().insert(s.aligned, (s.base, s.map_len));
    Some(s.aligned as *mut u8)
}

/// `len` zeroed bytes aligned for any structure; NULL when out of memory.
fn alloc_zeroed(len: usize) -> *mut u8 {
    if len < LARGE {
        // SAFETY: calloc with a non-zero size; NULL on failure.
        return unsafe { libc::calloc(1, len) } as *mut u8;
    }
    if let Some(p) = reuse_spare(len) {
        return p;
    }
    let Some(map_len) = len.checked_add(HUGE_PAGE) else {
        return std::ptr::null_mut();
    };
    // SAFETY: a fresh private anonymous mapping (zero-filled by the kernel);
    // no existing memory is touched.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let aligned = (base as usize).next_multiple_of(HUGE_PAGE);
    // SAFETY: [aligned, aligned + len) lies inside the mapping just made;
    // MADV_HUGEPAGE is a hint that changes no contents.
    unsafe { libc::madvise(aligned as *mut c_void, len, libc::MADV_HUGEPAGE) };
    MAPPINGS.lock().insert(aligned, (base as usize, map_len));
    aligned as *mut u8
}

/// Frees what [`alloc_zeroed`] returned (NULL is a no-op).
///
/// # Safety
/// `p` is NULL or came from `alloc_zeroed` and was not freed before.
unsafe fn free_zeroed(p: *mut c_void) {
    let mapping = MAPPINGS.lock().remove(&(p as usize));
    match mapping {
        // Kept for the next listing; the one kept before is unmapped.
        Some((base, map_len)) => {
            let previous = SPARE.lock().replace(Spare {
                aligned: p as usize,
                usable: map_len - (p as usize - base),
                base,
                map_len,
                freed: std::time::Instant::now(),
            });
            if let Some(old) = previous {
                // SAFETY: the previous spare was owned by SPARE alone.
                unsafe { libc::munmap(old.base as *mut c_void, old.map_len) };
            }
        }
        // SAFETY: not a mapping, so it came from calloc (or is NULL).
        None => unsafe { libc::free(p) },
    }
}

/// A caller-owned buffer filled in place: one zeroed allocation of
/// `capacity` structures, written one by one (so a million entries are never built
/// twice), handed over with [`CallocVec::into_raw`] or freed on drop.
#[derive(Debug)]
pub(crate) struct CallocVec<T: Copy> {
    ptr: *mut T,
    len: usize,
    capacity: usize,
}

impl<T: Copy> CallocVec<T> {
    /// Room for `capacity` structures (none allocated for 0).
    pub(crate) fn with_capacity(capacity: usize) -> Result<Self, u32> {
        let ptr = if capacity == 0 {
            std::ptr::null_mut()
        } else {
            let len = capacity
                .checked_mul(size_of::<T>())
                .ok_or(Win32Error::NotEnoughMemory.code())?;
            let p = alloc_zeroed(len) as *mut T;
            if p.is_null() {
                return Err(Win32Error::NotEnoughMemory.code());
            }
            p
        };
        Ok(CallocVec { ptr, len: 0, capacity })
    }

    /// Fills the next (zeroed) slot in place; false (nothing written) when full.
    pub(crate) fn push_with(&mut self, fill: impl FnOnce(&mut T)) -> bool {
        if self.len == self.capacity {
            return false;
        }
        // SAFETY: len < capacity, so the slot is inside the allocation, which
        // is aligned for any structure (calloc's alignment, or a page) and
        // zeroed; T is a repr(C) POD for which all-zero is a valid value, and
        // nothing else refers to the slot, so a &mut to it is sound.
        let slot = unsafe { &mut *self.ptr.add(self.len) };
        fill(slot);
        self.len += 1;
        true
    }

    /// The slots not written yet, each a zeroed structure, to be filled in
    /// any order (by several threads, split with `split_at_mut`); then
    /// [`CallocVec::count_filled`] says how many of them were.
    pub(crate) fn unfilled(&mut self) -> &mut [T] {
        if self.ptr.is_null() {
            return &mut [];
        }
        // SAFETY: ptr..ptr+capacity is one zeroed allocation aligned for T
        // (calloc's alignment, or a page); the slots from len on were never
        // handed out; T is a repr(C) POD for which all-zero is a valid value;
        // the slice borrows self mutably, so nothing else refers to them.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(self.len), self.capacity - self.len) }
    }

    /// Counts the first `n` slots of [`CallocVec::unfilled`] as written
    /// (never past the capacity).
    pub(crate) fn count_filled(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.capacity);
    }

    /// Structures written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Gives the buffer to the caller (NULL when nothing was written).
    pub(crate) fn into_raw(self) -> *mut T {
        let me = std::mem::ManuallyDrop::new(self);
        if me.len == 0 {
            // SAFETY: the pointer came from alloc_zeroed (or is NULL) and is
            // not handed out.
            unsafe { free_zeroed(me.ptr as *mut c_void) };
            return std::ptr::null_mut();
        }
        me.ptr
    }
}

impl<T: Copy> Drop for CallocVec<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from alloc_zeroed (or is NULL) and was
        // not handed out (into_raw forgets self).
        unsafe { free_zeroed(self.ptr as *mut c_void) };
    }
}

/// Copies `items` into one fresh allocation; NULL for an empty slice.
pub(crate) fn to_buffer<T: Copy>(items: &[T]) -> Result<*mut T, u32> {
    let mut buffer = CallocVec::with_capacity(items.len())?;
    for item in items {
        buffer.push_with(|slot| *slot = *item);
    }
    Ok(buffer.into_raw())
}

/// A NUL-terminated UTF-16 copy of `s` in one allocation.
pub(crate) fn to_wide(s: &str) -> Result<*mut u16, u32> {
    let mut units: Vec<u16> = s.encode_utf16().collect();
    units.push(0);
    to_buffer(&units)
}

/// Frees what [`to_buffer`] returned.
///
/// # Safety
/// `p` must come from [`to_buffer`]/[`to_wide`] and not be freed before.
pub(crate) unsafe fn free(p: *mut c_void) {
    // SAFETY: by the contract above `p` came from to_buffer/to_wide (calloc)
    // or a CallocVec (alloc_zeroed); free_zeroed tells them apart.
    unsafe { free_zeroed(p) }
}
