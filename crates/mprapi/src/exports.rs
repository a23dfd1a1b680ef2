//! The exported MPRAPI functions, Microsoft's names and signatures. Each is
//! a thin shell: check pointers, call safe code in `server`/`fill`, write
//! out-parameters only on success. No panic crosses the boundary.

// Parameter names are Microsoft's, so the signatures read like mprapi.h.
#![allow(non_snake_case, clippy::upper_case_acronyms)]

use std::ffi::c_void;
use std::mem::size_of;
use std::time::SystemTime;

use rras_core::Win32Error;

use crate::abi::*;
use crate::buffer::{to_buffer, to_wide};
use crate::{fill, server};

type DWORD = u32;
type BOOL = i32;

const INVALID_PARAMETER: u32 = Win32Error::InvalidParameter.code();
/// Longest server name read from a caller's LPWSTR.
const MAX_NAME_UNITS: usize = 4096;

/// Runs `body`, turning a panic into ERROR_NOT_ENOUGH_MEMORY-free
/// RPC_S_CALL_FAILED and `Err(code)` into `code`.
fn ffi_boundary(body: impl FnOnce() -> Result<DWORD, DWORD>) -> DWORD {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(status)) | Ok(Err(status)) => status,
        Err(_) => Win32Error::RpcCallFailed.code(),
    }
}

macro_rules! non_null {
    ($($p:expr),+) => {
        $(if $p.is_null() {
            return Err(INVALID_PARAMETER);
        })+
    };
}

/// Reads a NUL-terminated UTF-16 string (NULL reads as "").
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated WCHAR string.
unsafe fn read_wstr(p: *const WCHAR) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut units = Vec::new();
    for i in 0..MAX_NAME_UNITS {
        // SAFETY: the caller promises a NUL-terminated string; we stop at NUL.
        let u = unsafe { *p.add(i) };
        if u == 0 {
            break;
        }
        units.push(u);
    }
    String::from_utf16_lossy(&units)
}

/// Connects to rrasd. `lpwsServerName` NULL or "" is the local daemon
/// (`$RRAS_ADMIN_SOCKET` or /run/rrasd/admin.sock); `unix:PATH` a socket.
///
/// # Safety
/// `lpwsServerName` is NULL or a NUL-terminated WCHAR string;
/// `phMprServer` points to writable storage for a handle.
/// Returns NO_ERROR, ERROR_INVALID_PARAMETER, ERROR_ACCESS_DENIED,
/// RPC_S_SERVER_UNAVAILABLE or RPC_S_INVALID_BINDING.
#[no_mangle]
pub unsafe extern "C" fn MprAdminServerConnect(lpwsServerName: *const WCHAR, phMprServer: *mut HANDLE) -> DWORD {
    ffi_boundary(|| {
        non_null!(phMprServer);
        // SAFETY: per the contract above.
        let name = unsafe { read_wstr(lpwsServerName) };
        let handle = server::connect(&name)?;
        // SAFETY: non-null and writable per the contract.
        unsafe { phMprServer.write(handle) };
        Ok(0)
    })
}

/// Closes a server handle; unknown handles are ignored.
///
/// # Safety
/// Always safe to call; the handle is only looked up.
#[no_mangle]
pub unsafe extern "C" fn MprAdminServerDisconnect(hMprServer: HANDLE) {
    let _ = std::panic::catch_unwind(|| server::disconnect(hMprServer));
}

/// TRUE when rrasd answers and its connection manager is running.
///
/// # Safety
/// `lpwsServerName` is NULL or a NUL-terminated WCHAR string.
#[no_mangle]
pub unsafe extern "C" fn MprAdminIsServiceRunning(lpwsServerName: *const WCHAR) -> BOOL {
    // SAFETY: per the contract above.
    let name = unsafe { read_wstr(lpwsServerName) };
    std::panic::catch_unwind(|| server::is_running(&name) as BOOL).unwrap_or(0)
}

/// Enumerates active connections as RAS_CONNECTION_EX.
///
/// # Safety
/// Pointers are NULL or valid for their type; `*ppRasConn` receives a
/// buffer the caller frees with MprAdminBufferFree. `lpdwResumeHandle` may
/// be NULL (no resumption). Returns NO_ERROR, ERROR_MORE_DATA,
/// ERROR_INVALID_PARAMETER (NULLs, bad header, bad resume handle),
/// ERROR_INVALID_HANDLE, ERROR_ACCESS_DENIED, ERROR_DDM_NOT_RUNNING,
/// RPC_S_SERVER_UNAVAILABLE or ERROR_NOT_ENOUGH_MEMORY.
#[no_mangle]
pub unsafe extern "C" fn MprAdminConnectionEnumEx(
    hRasServer: HANDLE,
    pObjectHeader: *const MprapiObjectHeader,
    dwPreferedMaxLen: DWORD,
    lpdwEntriesRead: *mut DWORD,
    lpdwTotalEntries: *mut DWORD,
    ppRasConn: *mut *mut RasConnectionEx,
    lpdwResumeHandle: *mut DWORD,
) -> DWORD {
    ffi_boundary(|| {
        non_null!(pObjectHeader, lpdwEntriesRead, lpdwTotalEntries, ppRasConn);
        // SAFETY: non-null and valid per the contract.
        let h = unsafe { *pObjectHeader };
        server::check_header(h.revision, h.r#type, h.size)?;
        // SAFETY: NULL or valid per the contract.
        let resume = unsafe { lpdwResumeHandle.as_ref() }.copied().unwrap_or(0);
        let page = server::enumerate_into(
            hRasServer,
            size_of::<RasConnectionEx>() as u32,
            dwPreferedMaxLen,
            resume,
            fill::connection_ex_into,
        )?;
        // SAFETY: all out-pointers were checked non-null above (resume may be NULL).
        Ok(unsafe {
            deliver(
                page_out(page),
                ppRasConn,
                lpdwEntriesRead,
                lpdwTotalEntries,
                lpdwResumeHandle,
            )
        })
    })
}

/// A page for the caller's out-parameters: (buffer, entries read, total,
/// next resume handle, status).
type PageOut<T> = (*mut T, DWORD, DWORD, DWORD, DWORD);

fn page_out<T: Copy>(p: server::FilledPage<T>) -> PageOut<T> {
    let n = p.buffer.len() as DWORD;
    (p.buffer.into_raw(), n, p.total, p.resume, p.status)
}

/// Writes `page` to an enumeration's out-parameters; returns its status.
///
/// # Safety
/// `buffer`, `read` and `total` are valid for writes; `resume` is NULL or
/// valid for writes.
unsafe fn deliver<T>(
    page: PageOut<T>,
    buffer: *mut *mut T,
    read: *mut DWORD,
    total: *mut DWORD,
    resume: *mut DWORD,
) -> DWORD {
    // SAFETY: per the contract above.
    unsafe {
        buffer.write(page.0);
        read.write(page.1);
        total.write(page.2);
        if let Some(r) = resume.as_mut() {
            *r = page.3;
        }
    }
    page.4
}

/// One connection at a level, as one buffer (GetInfo).
fn level_buffer(level: DWORD, c: &rras_core::Connection) -> Result<*mut u8, DWORD> {
    let now = SystemTime::now();
    let p = match level {
        0 => to_buffer(&[fill::connection_0(c, now)])? as *mut u8,
        1 => to_buffer(&[fill::connection_1(c)])? as *mut u8,
        2 => to_buffer(&[fill::connection_2(c)])? as *mut u8,
        3 => to_buffer(&[fill::connection_3(c)])? as *mut u8,
        4 => to_buffer(&[fill::connection_4(c, now)])? as *mut u8,
        _ => return Err(Win32Error::InvalidLevel.code()),
    };
    Ok(p)
}

/// One page of an enumeration level, filled into one buffer: (buffer,
/// entries read, total, resume, status).
fn level_page(server: HANDLE, level: DWORD, pref: DWORD, resume: DWORD) -> Result<PageOut<u8>, DWORD> {
    let size = level_size(level)?;
    fn out<T: Copy>(p: server::FilledPage<T>) -> PageOut<u8> {
        let (buffer, read, total, resume, status) = page_out(p);
        (buffer as *mut u8, read, total, resume, status)
    }
    Ok(match level {
        0 => out(server::enumerate_into(server, size, pref, resume, |o, c, now| {
            *o = fill::connection_0(c, now)
        })?),
        1 => out(server::enumerate_into(server, size, pref, resume, |o, c, _| {
            *o = fill::connection_1(c)
        })?),
        2 => out(server::enumerate_into(server, size, pref, resume, |o, c, _| {
            *o = fill::connection_2(c)
        })?),
        3 => out(server::enumerate_into(server, size, pref, resume, |o, c, _| {
            *o = fill::connection_3(c)
        })?),
        4 => out(server::enumerate_into(server, size, pref, resume, |o, c, now| {
            *o = fill::connection_4(c, now)
        })?),
        _ => return Err(Win32Error::InvalidLevel.code()),
    })
}

fn level_size(level: DWORD) -> Result<u32, DWORD> {
    server::LEVEL_SIZES
        .get(level as usize)
        .copied()
        .ok_or(Win32Error::InvalidLevel.code())
}

/// Enumerates connections at level 0–3 (RAS_CONNECTION_0…3) or 4
/// (RAS_CONNECTION_4, 64-bit counters). Other levels: ERROR_INVALID_LEVEL.
///
/// # Safety
/// As [`MprAdminConnectionEnumEx`]; `*lplpbBuffer` is freed with
/// MprAdminBufferFree.
#[no_mangle]
pub unsafe extern "C" fn MprAdminConnectionEnum(
    hRasServer: HANDLE,
    dwLevel: DWORD,
    lplpbBuffer: *mut *mut u8,
    dwPrefMaxLen: DWORD,
    lpdwEntriesRead: *mut DWORD,
    lpdwTotalEntries: *mut DWORD,
    lpdwResumeHandle: *mut DWORD,
) -> DWORD {
    ffi_boundary(|| {
        level_size(dwLevel)?;
        non_null!(lplpbBuffer, lpdwEntriesRead, lpdwTotalEntries);
        // SAFETY: NULL or valid per the contract.
        let resume = unsafe { lpdwResumeHandle.as_ref() }.copied().unwrap_or(0);
        let page = level_page(hRasServer, dwLevel, dwPrefMaxLen, resume)?;
        // SAFETY: out-pointers checked non-null above (resume may be NULL).
        Ok(unsafe { deliver(page, lplpbBuffer, lpdwEntriesRead, lpdwTotalEntries, lpdwResumeHandle) })
    })
}

/// One connection at level 0–4, in a buffer freed with MprAdminBufferFree.
///
/// # Safety
/// `lplpbBuffer` is valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn MprAdminConnectionGetInfo(
    hRasServer: HANDLE,
    dwLevel: DWORD,
    hRasConnection: HANDLE,
    lplpbBuffer: *mut *mut u8,
) -> DWORD {
    ffi_boundary(|| {
        level_size(dwLevel)?;
        non_null!(lplpbBuffer);
        let c = server::get_info(hRasServer, hRasConnection)?;
        let buffer = level_buffer(dwLevel, &c)?;
        // SAFETY: checked non-null above.
        unsafe { lplpbBuffer.write(buffer) };
        Ok(0)
    })
}

/// Fills the caller's RAS_CONNECTION_EX, whose Header the caller set.
///
/// # Safety
/// `pRasConnection` points to a writable RAS_CONNECTION_EX.
#[no_mangle]
pub unsafe extern "C" fn MprAdminConnectionGetInfoEx(
    hRasServer: HANDLE,
    hRasConnection: HANDLE,
    pRasConnection: *mut RasConnectionEx,
) -> DWORD {
    ffi_boundary(|| {
        non_null!(pRasConnection);
        // SAFETY: non-null and valid per the contract; only the header is read.
        let h = unsafe { (*pRasConnection).Header };
        server::check_header(h.revision, h.r#type, h.size)?;
        let c = server::get_info(hRasServer, hRasConnection)?;
        // SAFETY: valid for writes per the contract.
        unsafe { pRasConnection.write(fill::connection_ex(&c, SystemTime::now())) };
        Ok(0)
    })
}

/// Zeroes a connection's counters.
///
/// # Safety
/// Always safe: handles are only looked up.
#[no_mangle]
pub unsafe extern "C" fn MprAdminConnectionClearStats(hRasServer: HANDLE, hRasConnection: HANDLE) -> DWORD {
    ffi_boundary(|| server::clear_stats(hRasServer, hRasConnection).map(|()| 0))
}

/// `INVALID_HANDLE_VALUE` in `hRasConnection`: every port.
const ALL_CONNECTIONS: HANDLE = HANDLE::MAX;

/// Enumerates ports at level 0 (RAS_PORT_0): one virtual port per
/// connection, paged with `dwPrefMaxLen` and the resume handle under the
/// same rules as connections. `hRasConnection` NULL or
/// `INVALID_HANDLE_VALUE`: every port; a connection handle: that
/// connection's port only.
///
/// # Safety
/// As [`MprAdminConnectionEnum`].
#[no_mangle]
pub unsafe extern "C" fn MprAdminPortEnum(
    hRasServer: HANDLE,
    dwLevel: DWORD,
    hRasConnection: HANDLE,
    lplpbBuffer: *mut *mut u8,
    dwPrefMaxLen: DWORD,
    lpdwEntriesRead: *mut DWORD,
    lpdwTotalEntries: *mut DWORD,
    lpdwResumeHandle: *mut DWORD,
) -> DWORD {
    ffi_boundary(|| {
        if dwLevel != 0 {
            return Err(Win32Error::InvalidLevel.code());
        }
        non_null!(lplpbBuffer, lpdwEntriesRead, lpdwTotalEntries);
        let page: PageOut<u8> = if hRasConnection == 0 || hRasConnection == ALL_CONNECTIONS {
            // SAFETY: NULL or valid per the contract.
            let resume = unsafe { lpdwResumeHandle.as_ref() }.copied().unwrap_or(0);
            let (buffer, read, total, next, status) = page_out(server::enumerate_into(
                hRasServer,
                rras_core::paging::RAS_PORT_0_SIZE,
                dwPrefMaxLen,
                resume,
                |o, c, now| *o = fill::port_0(c, now),
            )?);
            (buffer as *mut u8, read, total, next, status)
        } else {
            let c = server::get_info(hRasServer, hRasConnection)?;
            let one = to_buffer(&[fill::port_0(&c, SystemTime::now())])? as *mut u8;
            (one, 1, 1, 0, 0)
        };
        // SAFETY: out-pointers checked non-null above (resume may be NULL).
        Ok(unsafe { deliver(page, lplpbBuffer, lpdwEntriesRead, lpdwTotalEntries, lpdwResumeHandle) })
    })
}

/// One port at level 0 (RAS_PORT_0) or 1 (RAS_PORT_1), in a buffer freed
/// with MprAdminBufferFree. An unknown port: ERROR_INVALID_PORT_HANDLE.
///
/// # Safety
/// `lplpbBuffer` is valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn MprAdminPortGetInfo(
    hRasServer: HANDLE,
    dwLevel: DWORD,
    hPort: HANDLE,
    lplpbBuffer: *mut *mut u8,
) -> DWORD {
    ffi_boundary(|| {
        if dwLevel > 1 {
            return Err(Win32Error::InvalidLevel.code());
        }
        non_null!(lplpbBuffer);
        let c = port_connection(hRasServer, hPort)?;
        let buffer = match dwLevel {
            0 => to_buffer(&[fill::port_0(&c, SystemTime::now())])? as *mut u8,
            _ => to_buffer(&[fill::port_1(&c)])? as *mut u8,
        };
        // SAFETY: checked non-null above.
        unsafe { lplpbBuffer.write(buffer) };
        Ok(0)
    })
}

/// The connection behind a port handle; an unknown one is
/// ERROR_INVALID_PORT_HANDLE.
fn port_connection(server: HANDLE, port: HANDLE) -> Result<rras_core::Connection, DWORD> {
    server::get_info(server, port).map_err(|e| {
        if e == Win32Error::InvalidHandle.code() {
            Win32Error::InvalidPortHandle.code()
        } else {
            e
        }
    })
}

/// Zeroes the counters of the port's connection.
///
/// # Safety
/// Always safe: handles are only looked up.
#[no_mangle]
pub unsafe extern "C" fn MprAdminPortClearStats(hRasServer: HANDLE, hPort: HANDLE) -> DWORD {
    ffi_boundary(|| {
        port_connection(hRasServer, hPort)?;
        server::clear_stats(hRasServer, hPort).map(|()| 0)
    })
}

/// Resets the port's device. A virtual port has no device to reset: the
/// call checks the port exists and succeeds (the session is untouched; use
/// MprAdminPortDisconnect to end it).
///
/// # Safety
/// Always safe: handles are only looked up.
#[no_mangle]
pub unsafe extern "C" fn MprAdminPortReset(hRasServer: HANDLE, hPort: HANDLE) -> DWORD {
    ffi_boundary(|| port_connection(hRasServer, hPort).map(|_| 0))
}

/// Hangs up the connection whose single port is `hPort` (port handle =
/// connection handle). The engine is asked to end the session.
///
/// # Safety
/// Always safe: handles are only looked up.
#[no_mangle]
pub unsafe extern "C" fn MprAdminPortDisconnect(hRasServer: HANDLE, hPort: HANDLE) -> DWORD {
    ffi_boundary(|| server::hang_up(hRasServer, hPort).map(|()| 0))
}

/// Server facts at level 0 (MPR_SERVER_0): ports are virtual, one per
/// connection, so dwTotalPorts = dwPortsInUse = active connections.
///
/// # Safety
/// `lplpbBuffer` is valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn MprAdminServerGetInfo(hMprServer: HANDLE, dwLevel: DWORD, lplpbBuffer: *mut *mut u8) -> DWORD {
    ffi_boundary(|| {
        if dwLevel != 0 {
            return Err(Win32Error::InvalidLevel.code());
        }
        non_null!(lplpbBuffer);
        let (uptime, connections) = server::server_info(hMprServer)?;
        let info = MprServer0 {
            fLanOnlyMode: 0,
            dwUpTime: uptime,
            dwTotalPorts: connections,
            dwPortsInUse: connections,
        };
        let buffer = to_buffer(std::slice::from_ref(&info))? as *mut u8;
        // SAFETY: checked non-null above.
        unsafe { lplpbBuffer.write(buffer) };
        Ok(0)
    })
}

/// Frees a buffer this library returned. NULL: ERROR_INVALID_PARAMETER.
///
/// # Safety
/// `pBuffer` came from this library and is freed once.
#[no_mangle]
pub unsafe extern "C" fn MprAdminBufferFree(pBuffer: *mut c_void) -> DWORD {
    if pBuffer.is_null() {
        return INVALID_PARAMETER;
    }
    // SAFETY: per the contract above.
    unsafe { crate::buffer::free(pBuffer) };
    0
}

/// The message text of `dwError` as a NUL-terminated UTF-16 string the
/// caller frees with LocalFree (or MprAdminBufferFree). Unknown codes:
/// ERROR_MR_MID_NOT_FOUND.
///
/// # Safety
/// `lplpwsErrorString` is valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn MprAdminGetErrorString(dwError: DWORD, lplpwsErrorString: *mut *mut WCHAR) -> DWORD {
    ffi_boundary(|| {
        non_null!(lplpwsErrorString);
        let text = rras_core::error::error_string(dwError).map_err(|e| e.code())?;
        let s = to_wide(text)?;
        // SAFETY: checked non-null above.
        unsafe { lplpwsErrorString.write(s) };
        Ok(0)
    })
}

/// Windows' LocalFree, for strings from MprAdminGetErrorString. Returns
/// NULL (success), as Windows does.
///
/// # Safety
/// `hMem` is NULL or came from this library and is freed once.
#[no_mangle]
pub unsafe extern "C" fn LocalFree(hMem: *mut c_void) -> *mut c_void {
    if !hMem.is_null() {
        // SAFETY: per the contract above.
        unsafe { crate::buffer::free(hMem) };
    }
    std::ptr::null_mut()
}
