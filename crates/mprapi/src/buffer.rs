//! Buffers handed to the caller: one `calloc` allocation each, owned by the
//! caller until MprAdminBufferFree (or LocalFree for error strings).

use std::ffi::c_void;
use std::mem::size_of;

use rras_core::Win32Error;

/// A caller-owned buffer filled in place: one `calloc` of `capacity`
/// structures, written one by one (so a million entries are never built
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
            // SAFETY: calloc with a non-zero count and element size; it checks
            // the multiplication for overflow and returns NULL on failure.
            let p = unsafe { libc::calloc(capacity, size_of::<T>()) } as *mut T;
            if p.is_null() {
                return Err(Win32Error::NotEnoughMemory.code());
            }
            p
        };
        Ok(CallocVec { ptr, len: 0, capacity })
    }

    /// Appends one structure; false (nothing written) when full.
    pub(crate) fn push(&mut self, item: T) -> bool {
        if self.len == self.capacity {
            return false;
        }
        // SAFETY: len < capacity, so the slot is inside the allocation, which
        // calloc aligned for any fundamental type (these are repr(C) PODs).
        unsafe { self.ptr.add(self.len).write(item) };
        self.len += 1;
        true
    }

    /// Structures written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Gives the buffer to the caller (NULL when nothing was written).
    pub(crate) fn into_raw(self) -> *mut T {
        let me = std::mem::ManuallyDrop::new(self);
        if me.len == 0 {
            // SAFETY: the pointer came from calloc (or is NULL) and is not
            // handed out.
            unsafe { libc::free(me.ptr as *mut c_void) };
            return std::ptr::null_mut();
        }
        me.ptr
    }
}

impl<T: Copy> Drop for CallocVec<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from calloc (or is NULL) and was not
        // handed out (into_raw forgets self).
        unsafe { libc::free(self.ptr as *mut c_void) };
    }
}

/// Copies `items` into one fresh allocation; NULL for an empty slice.
pub(crate) fn to_buffer<T: Copy>(items: &[T]) -> Result<*mut T, u32> {
    if items.is_empty() {
        return Ok(std::ptr::null_mut());
    }
    // SAFETY: calloc with a non-zero count and element size; it checks the
    // multiplication for overflow and returns NULL on failure.
    let p = unsafe { libc::calloc(items.len(), size_of::<T>()) } as *mut T;
    if p.is_null() {
        return Err(Win32Error::NotEnoughMemory.code());
    }
    // SAFETY: `p` is a fresh allocation of items.len() T's (calloc aligns
    // for any fundamental type, which covers these repr(C) structures) and
    // cannot overlap `items`.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len()) };
    Ok(p)
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
    // SAFETY: by the contract above `p` came from calloc.
    unsafe { libc::free(p) }
}
