//! Buffers handed to the caller: one `calloc` allocation each, owned by the
//! caller until MprAdminBufferFree (or LocalFree for error strings).

use std::ffi::c_void;
use std::mem::size_of;

use rras_core::Win32Error;

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
