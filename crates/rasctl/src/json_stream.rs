//! `rasctl connections --json` / `--jsonl` without sorting: one enumeration
//! read as a stream of record chunks and written while it arrives, so a
//! million connections cost the memory of a few chunks, never the list.
//!
//! Formatting JSON is most of the work (a 1M listing kept one thread busy
//! ~2 s while the other core idled), so chunks are decoded and formatted on
//! [`FORMATTERS`] threads and written in their order by one writer thread.
//! At most [`IN_FLIGHT`] chunks exist at once anywhere between the socket
//! and stdout: a slow reader of stdout slows the listing, it never grows
//! rasctl's memory. The array form is byte for byte what
//! `serde_json::to_string_pretty` of the whole list gives.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use rras_client::{AdminClient, ClientError, WatchFilter};
use rras_core::record::{decode_into, empty_connection, RecordFrames};
use serde::ser::{SerializeSeq, Serializer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::output::{write_json_line, ConnectionJson};

/// Threads that decode and format chunks.
const FORMATTERS: usize = 2;

/// Chunks (~1 MiB of records, ~5 MiB of pretty JSON) alive at once, at
/// most: rasctl's memory at any listing size is about this many chunks.
const IN_FLIGHT: usize = 4;

/// Bytes of pretty JSON per byte of record (measured ~5; one allocation
/// of the right size, not a doubling past it).
const JSON_PER_RECORD_BYTE: usize = 6;

/// A chunk on its way: its place in the listing and the permit that
/// counts it against [`IN_FLIGHT`] (released once it is written).
struct Job {
    seq: u64,
    records: bytes::Bytes,
    permit: OwnedSemaphorePermit,
}

/// A chunk formatted: its elements as text (for the array form, each at
/// the array's indentation, joined by ",\n"; empty when none was kept) —
/// the bytes of `.0` in range `.1` — or why it could not be.
struct Formatted {
    seq: u64,
    text: Result<(Vec<u8>, std::ops::Range<usize>), String>,
    records: usize,
    _permit: OwnedSemaphorePermit,
}

/// Writes every connection `filter` keeps as a pretty JSON array, or as
/// JSON lines when `lines`.
pub(crate) async fn stream_json(client: &AdminClient, filter: WatchFilter, lines: bool) -> anyhow::Result<()> {
    let mut page = client
        .enum_records((1, 1, rras_core::RAS_CONNECTION_EX_SIZE), rras_core::PREF_MAX_ALL, 0)
        .await?;
    let now = SystemTime::now();
    let filter = Arc::new(filter);
    let (jobs, job_queue) = mpsc::channel::<Job>();
    let job_queue = Arc::new(Mutex::new(job_queue));
    let (done, finished) = mpsc::channel::<Formatted>();
    let formatters: Vec<_> = (0..FORMATTERS)
        .map(|_| {
            let (queue, done, filter) = (job_queue.clone(), done.clone(), filter.clone());
            std::thread::spawn(move || format_chunks(&queue, &done, &filter, now, lines))
        })
        .collect();
    drop(done);
    // Set by the writer when stdout is gone (`| head`): stop receiving.
    let stopped = Arc::new(AtomicBool::new(false));
    let writer = {
        let stopped = stopped.clone();
        std::thread::spawn(move || write_in_order(finished, lines, &stopped))
    };

    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut seq = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    while !stopped.load(Ordering::SeqCst) {
        let records = match page.next_chunk().await {
            None => break,
            Some(Ok(records)) => records,
            Some(Err(e)) => {
                failure = Some(e.into());
                break;
            }
        };
        let permit = slots.clone().acquire_owned().await.context("chunk permits closed")?;
        if jobs.send(Job { seq, records, permit }).is_err() {
            break;
        }
        seq += 1;
    }
    // Closing the queue ends the formatters, whose ends end the writer.
    drop(jobs);
    for formatter in formatters {
        if formatter.join().is_err() {
            failure.get_or_insert_with(|| anyhow::anyhow!("a JSON formatter thread failed"));
        }
    }
    let written = match writer.join() {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!("the JSON writer thread failed")),
    };
    if let Some(e) = failure {
        return Err(e);
    }
    let decoded = written?;
    let announced = page.page_entries as usize;
    // The formatters count what they decoded (a bad frame already failed
    // the listing above): the server is held to the count it announced.
    if decoded != announced {
        return Err(ClientError::Protocol(format!("page announced {announced} records, carried {decoded}")).into());
    }
    Ok(())
}

/// A formatter thread: takes chunks until the queue closes.
fn format_chunks(
    queue: &Mutex<mpsc::Receiver<Job>>,
    done: &mpsc::Sender<Formatted>,
    filter: &WatchFilter,
    now: SystemTime,
    lines: bool,
) {
    let mut scratch = empty_connection();
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        let mut records = 0usize;
        // A panic here would leave a hole the writer waits for forever.
        let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            format_chunk(&job.records, &mut scratch, filter, now, lines, &mut records)
        }))
        .unwrap_or_else(|_| Err("formatting a chunk failed".into()));
        let formatted = Formatted {
            seq: job.seq,
            text,
            records,
            _permit: job.permit,
        };
        if done.send(formatted).is_err() {
            return;
        }
    }
}

/// One chunk's kept connections as JSON text; counts the records decoded.
fn format_chunk(
    chunk: &[u8],
    scratch: &mut rras_core::Connection,
    filter: &WatchFilter,
    now: SystemTime,
    lines: bool,
    records: &mut usize,
) -> Result<(Vec<u8>, std::ops::Range<usize>), String> {
    let size = chunk.len().saturating_mul(JSON_PER_RECORD_BYTE);
    let mut text = Vec::with_capacity(if lines { size } else { 0 });
    let mut array = serde_json::Serializer::pretty(Vec::with_capacity(if lines { 0 } else { size }));
    let mut elements = array.serialize_seq(None).map_err(|e| e.to_string())?;
    for frame in RecordFrames::new(chunk) {
        frame
            .and_then(|f| decode_into(f, scratch))
            .map_err(|e| format!("bad record from the server: {e}"))?;
        *records += 1;
        if !filter.matches(scratch) {
            continue;
        }
        if lines {
            write_json_line(&mut text, scratch, now).map_err(|e| e.to_string())?;
        } else {
            elements
                .serialize_element(&ConnectionJson::new(scratch, now))
                .map_err(|e| e.to_string())?;
        }
    }
    SerializeSeq::end(elements).map_err(|e| e.to_string())?;
    if lines {
        let all = 0..text.len();
        return Ok((text, all));
    }
    // "[\n  {…},\n  {…}\n]" → the elements alone, at the array's indentation;
    // "[]" (none kept) → nothing.
    let array = array.into_inner();
    let body = match array.len() {
        n if n >= 4 && array.starts_with(b"[\n") => 2..n - 2,
        _ => 0..0,
    };
    Ok((array, body))
}

/// The writer thread: puts chunks out in listing order; returns how many
/// records the formatters decoded.
fn write_in_order(finished: mpsc::Receiver<Formatted>, lines: bool, stopped: &AtomicBool) -> anyhow::Result<usize> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    let mut decoded = 0usize;
    let mut any = false;
    let mut failure: Option<anyhow::Error> = None;
    for formatted in finished {
        waiting.insert(formatted.seq, formatted);
        while let Some(formatted) = waiting.remove(&next) {
            next += 1;
            decoded += formatted.records;
            if failure.is_some() {
                continue;
            }
            let written = match formatted.text {
                Err(e) => Err(anyhow::anyhow!(e)),
                Ok((_, body)) if body.is_empty() => Ok(()),
                Ok((text, body)) if lines => out.write_all(&text[body]).map_err(Into::into),
                Ok((text, body)) => {
                    let text = &text[body];
                    let lead: &[u8] = if any { b",\n" } else { b"[\n" };
                    any = true;
                    out.write_all(lead)
                        .and_then(|()| out.write_all(text))
                        .map_err(Into::into)
                }
            };
            if let Err(e) = written {
                stopped.store(true, Ordering::SeqCst);
                failure = Some(e);
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !lines {
        out.write_all(if any { b"\n]\n" } else { b"[]\n" })?;
    }
    out.flush()?;
    Ok(decoded)
}
