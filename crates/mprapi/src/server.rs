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
pub(crate) fn enumerate_into<T: Copy + Send>(
    handle: HANDLE,
    entry_size: u32,
    pref_max_len: u32,
    resume: u32,
    fill: impl Fn(&mut T, &Connection, SystemTime) + Sync,
) -> Result<FilledPage<T>, u32> {
    let client = server(handle)?;
    let mut page = client
        .enum_records((1, 1, entry_size), pref_max_len, resume)
        .map_err(code)?;
    let mut buffer = CallocVec::with_capacity(page.page_entries as usize)?;
    let now = page.server_now;
    if page.page_entries >= PARALLEL_FILL_MIN {
        let filled = fill_in_parallel(&client, &mut page, buffer.unfilled(), &fill, now)?;
        buffer.count_filled(filled);
    } else {
        // for_each_record holds the server to the count it announced, which
        // is the buffer's capacity, so every record has its slot.
        let mut overflow = false;
        client
            .for_each_record(&mut page, |c| overflow |= !buffer.push_with(|slot| fill(slot, c, now)))
            .map_err(code)?;
        if overflow {
            return Err(Win32Error::RpcCallFailed.code());
        }
    }
    Ok(FilledPage {
        buffer,
        total: page.total_entries,
        resume: page.resume_handle,
        status: page.status,
    })
}

/// Pages of at least this many entries are filled by [`fill_in_parallel`]
/// (below it, two threads cost more than they save).
const PARALLEL_FILL_MIN: u32 = 8_192;

/// Threads that decode and fill, beside the one that receives.
const FILLERS: usize = 2;

/// Chunks (~1 MiB each) received but not yet taken by a filler, at most.
const FILL_QUEUE: usize = 4;

/// Fills `slots` from a large page: this thread receives the chunks and
/// hands each, with the slots its records go to, to [`FILLERS`] threads.
/// A profile of a 1M listing had the caller's one thread busy decoding
/// and converting (UTF-16, addresses) while the other core idled; each
/// chunk's records go to their own run of slots, so the threads never
/// share one. Returns how many slots were filled: the page's announced
/// count, or an error (nothing the caller sees is then half-filled).
fn fill_in_parallel<T: Copy + Send>(
    client: &BlockingClient,
    page: &mut rras_client::RecordPage,
    slots: &mut [T],
    fill: &(impl Fn(&mut T, &Connection, SystemTime) + Sync),
    now: SystemTime,
) -> Result<usize, u32> {
    use rras_core::record::{decode_into, empty_connection, RecordFrames};
    use std::sync::atomic::{AtomicU32, Ordering};

    const NO_ERROR: u32 = 0;
    // The first failure (a Win32 code); fillers keep draining after one so
    // the receiving thread never blocks on a full queue.
    let failed = AtomicU32::new(NO_ERROR);
    let fail = |code: u32| {
        let _ = failed.compare_exchange(NO_ERROR, code, Ordering::SeqCst, Ordering::SeqCst);
    };
    let protocol = |e: rras_core::record::RecordError| code(ClientError::Protocol(e.to_string()));
    let (queue, jobs) = std::sync::mpsc::sync_channel::<(bytes::Bytes, &mut [T])>(FILL_QUEUE);
    let jobs = std::sync::Mutex::new(jobs);
    let received = std::thread::scope(|scope| {
        for _ in 0..FILLERS {
            scope.spawn(|| {
                let mut scratch = empty_connection();
                loop {
                    let job = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    let Ok((chunk, out)) = job else {
                        return;
                    };
                    if failed.load(Ordering::SeqCst) != NO_ERROR {
                        continue;
                    }
                    for (frame, slot) in RecordFrames::new(&chunk).zip(out.iter_mut()) {
                        match frame.and_then(|f| decode_into(f, &mut scratch)) {
                            Ok(()) => fill(slot, &scratch, now),
                            Err(e) => {
                                fail(protocol(e));
                                break;
                            }
                        }
                    }
                }
            });
        }
        let mut rest = slots;
        let mut received = 0usize;
        while failed.load(Ordering::SeqCst) == NO_ERROR {
            let chunk = match client.block_on(page.next_chunk()) {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    fail(code(e));
                    break;
                }
            };
            // Counting frames only reads their lengths; a bad one is
            // counted, and reported by the filler that decodes it.
            let count = RecordFrames::new(&chunk).count();
            if count > rest.len() {
                // More records than the page announced: its slots are full.
                fail(Win32Error::RpcCallFailed.code());
                break;
            }
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(count);
            rest = tail;
            received += count;
            if queue.send((chunk, mine)).is_err() {
                fail(Win32Error::RpcCallFailed.code());
                break;
            }
        }
        // Closing the queue ends the fillers; the scope joins them.
        drop(queue);
        if failed.load(Ordering::SeqCst) == NO_ERROR && received != page.page_entries as usize {
            fail(code(ClientError::Protocol(format!(
                "page announced {} records, carried {received}",
                page.page_entries
            ))));
        }
        received
    });
    match failed.into_inner() {
        NO_ERROR => Ok(received),
        code => Err(code),
    }
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
