//! Real threads: two writers churn (insert new rows, remove a chosen subset
//! of the original ones, update counters) while a reader pages through
//! 100k connections with small pages. Every original row that is never
//! removed must come back exactly once; nothing may come back twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use rras_core::{
    synthetic, ClientSessionId, ConnectionHandle, ConnectionStats, ConnectionTable, RAS_CONNECTION_EX_SIZE as S,
};

const N: u64 = 100_000;

#[test]
fn survivors_exactly_once_while_writers_churn() {
    let table = Arc::new(ConnectionTable::default());
    let now = SystemTime::now();
    let handles: Vec<ConnectionHandle> = (0..N)
        .map(|i| table.upsert(synthetic::connection(i, now)).handle)
        .collect();
    // Writers may remove every 5th original row; the rest must all be seen.
    let doomed: Vec<ConnectionHandle> = handles.iter().copied().step_by(5).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));

    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (table, stop, writes) = (table.clone(), stop.clone(), writes.clone());
            let doomed: Vec<_> = doomed.iter().copied().skip(w as usize).step_by(2).collect();
            let touch = handles.clone();
            thread::spawn(move || {
                let mut next = N + w * 10_000_000;
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) && i < 1_000_000 {
                    if let Some(&h) = doomed.get(i) {
                        table.remove(h);
                    }
                    table.upsert(synthetic::connection(next, now));
                    let stats = ConnectionStats {
                        bytes_rcved: i as u64,
                        ..Default::default()
                    };
                    let _ = table.update_stats(touch[(i * 7919) % touch.len()], stats);
                    next += 1;
                    i += 1;
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let me = ClientSessionId(42);
    let mut seen: HashMap<ConnectionHandle, u32> = HashMap::new();
    let mut cursor = None;
    let mut pages = 0u32;
    let writes_at_start = writes.load(Ordering::Relaxed);
    loop {
        // A small page: 3 entries (floor(2*S/S)+1).
        let page = table.enumerate(me, cursor, 2 * S, S).expect("page");
        pages += 1;
        for c in &page.entries {
            *seen.entry(c.handle()).or_default() += 1;
        }
        match page.next {
            Some(h) => cursor = Some(h),
            None => break,
        }
        assert!(pages < 10_000_000, "runaway enumeration");
    }
    let writes_during = writes.load(Ordering::Relaxed) - writes_at_start;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer thread");
    }

    assert!(writes_during > 0, "writers did not run during the enumeration");
    assert!(seen.values().all(|&n| n == 1), "a connection was returned twice");
    let doomed: std::collections::HashSet<_> = doomed.into_iter().collect();
    let missed = handles
        .iter()
        .filter(|h| !doomed.contains(h) && !seen.contains_key(h))
        .count();
    assert_eq!(missed, 0, "survivors missed");
    assert_eq!(table.open_cursors(), 0, "completed enumeration left a cursor");
}
