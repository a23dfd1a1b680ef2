//! Server handles and the calls behind the exports, in safe Rust. A server
//! handle is an opaque id looked up in a registry, never a pointer we
//! dereference: a stale or forged handle is ERROR_INVALID_HANDLE.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use std::time::SystemTime;

use parking_lot::Mutex;
use rras_client::{BlockingClient, ClientError};
use rras_core::{Connection, Win32Error, RAS_CONNECTION_EX_SIZE};

use crate::abi::HANDLE;
use crate::buffer::CallocVec;

/// Entry sizes of MprAdminConnectionEnum levels 0..=4.
pub const LEVEL_SIZES: [u32; 5] = [1128, 296, 848, 792, 1696];

struct Registry {
    next: usize,
    servers: HashMap<usize, Arc<BlockingClient>>,
}

static SERVERS: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        // Handles look like pointers to C but are only keys; starting far
        // from 0 keeps NULL and small integers invalid.
        next: 0x5241_5300,
        servers: HashMap::new(),
    })
});

fn code(e: ClientError) -> u32 {
    e.code()
}

/// MprAdminServerConnect: `server` None/"" = local daemon.
pub fn connect(server: &str) -> Result<HANDLE, u32> {
    let client = BlockingClient::connect(server).map_err(code)?;
    let mut reg = SERVERS.lock();
    reg.next += 0x10;
    let handle = reg.next;
    reg.servers.insert(handle, Arc::new(client));
    Ok(handle)
}

/// The client behind a handle.
pub fn server(handle: HANDLE) -> Result<Arc<BlockingClient>, u32> {
    SERVERS
        .lock()
        .servers
        .get(&handle)
        .cloned()
        .ok_or(Win32Error::InvalidHandle.code())
}

/// MprAdminServerDisconnect: frees the session (and its cursors) on the server.
pub fn disconnect(handle: HANDLE) {
    let (client, last) = {
        let mut reg = SERVERS.lock();
        let client = reg.servers.remove(&handle);
        (client, reg.servers.is_empty())
    };
    if last {
        crate::buffer::release_spare();
    }
    if let Some(client) = client {
        let _ = client.block_on(client.inner().disconnect_session());
    }
}

/// MprAdminIsServiceRunning.
pub fn is_running(server: &str) -> bool {
    match BlockingClient::connect(server) {
        Ok(c) => {
            let running = matches!(c.is_service_running(), Ok((true, _)));
            let _ = c.close();
            running
        }
        Err(_) => false,
    }
}

/// One enumeration page filled straight into the caller's buffer.
#[derive(Debug)]
pub(crate) struct FilledPage<T: Copy> {
    pub buffer: CallocVec<T>,
    pub total: u32,
    pub resume: u32,
    pub status: u32,
}

/// A page in units of `entry_size`, read as records and converted one by
/// one by `fill` into a buffer sized once from the page's announced count.
/// Each record is decoded into one reused connection: no per-entry
/// allocation between the socket and the caller's buffer.
pub(crate) fn enumerate_into<T: Copy>(
    handle: HANDLE,
    entry_size: u32,
    pref_max_len: u32,
    resume: u32,
    fill: impl Fn(&mut T, &Connection, SystemTime),
) -> Result<FilledPage<T>, u32> {
    let client = server(handle)?;
    let mut page = client
        .enum_records((1, 1, entry_size), pref_max_len, resume)
        .map_err(code)?;
    let mut buffer = CallocVec::with_capacity(page.page_entries as usize)?;
    let now = page.server_now;
    // for_each_record holds the server to the count it announced, which is
    // the buffer's capacity, so every record has its slot.
    let mut overflow = false;
    client
        .for_each_record(&mut page, |c| overflow |= !buffer.push_with(|slot| fill(slot, c, now)))
        .map_err(code)?;
    if overflow {
        return Err(Win32Error::RpcCallFailed.code());
    }
    Ok(FilledPage {
        buffer,
        total: page.total_entries,
        resume: page.resume_handle,
        status: page.status,
    })
}

/// The ERROR_INVALID_PARAMETER check of an Ex header.
pub fn check_header(revision: u8, kind: u8, size: u16) -> Result<(), u32> {
    if revision == 1 && kind == 1 && u32::from(size) == RAS_CONNECTION_EX_SIZE {
        Ok(())
    } else {
        Err(Win32Error::InvalidParameter.code())
    }
}

/// A connection handle as the server's 32-bit id.
pub fn connection_id(connection: HANDLE) -> Result<u32, u32> {
    u32::try_from(connection)
        .ok()
        .filter(|h| *h != 0)
        .ok_or(Win32Error::InvalidHandle.code())
}

/// MprAdminConnectionGetInfo(Ex).
pub fn get_info(handle: HANDLE, connection: HANDLE) -> Result<Connection, u32> {
    let id = connection_id(connection)?;
    server(handle)?.connection(id).map_err(code)
}

/// MprAdminConnectionClearStats.
pub fn clear_stats(handle: HANDLE, connection: HANDLE) -> Result<(), u32> {
    let id = connection_id(connection)?;
    server(handle)?.clear_stats(id).map_err(code)
}

/// MprAdminPortDisconnect: every connection has exactly one port whose
/// handle equals the connection handle.
pub fn hang_up(handle: HANDLE, port: HANDLE) -> Result<(), u32> {
    let id = connection_id(port).map_err(|_| Win32Error::InvalidPortHandle.code())?;
    server(handle)?.disconnect(id).map_err(code)
}

/// MprAdminServerGetInfo level 0 values: (uptime secs, connections).
pub fn server_info(handle: HANDLE) -> Result<(u32, u32), u32> {
    let info = server(handle)?.server_info().map_err(code)?;
    Ok((
        u32::try_from(info.uptime_secs).unwrap_or(u32::MAX),
        u32::try_from(info.total_connections).unwrap_or(u32::MAX),
    ))
}
