//! Cost of one enumeration page (100 entries) and of `total_entries` at
//! n = 10k, 100k and 1M, with and without concurrent churn. The ratio 1M/10k
//! shows the O(log n) behaviour; results go to docs/benchmarks-notebook.md.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rras_core::{synthetic, ClientSessionId, ConnectionTable, ResumeHandle, RAS_CONNECTION_EX_SIZE as S};

const SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];
const ME: ClientSessionId = ClientSessionId(1);

fn filled(n: u64) -> Arc<ConnectionTable> {
    let table = Arc::new(ConnectionTable::default());
    let now = SystemTime::now();
    for i in 0..n {
        table.upsert(synthetic::connection(i, now));
    }
    table
}

/// Removes the oldest row and inserts a new one, as fast as it can, until told
/// to stop: n stays constant while the tree changes under the reader.
fn churn(table: Arc<ConnectionTable>, start: u64, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let now = SystemTime::now();
        let mut next = start;
        while !stop.load(Ordering::Relaxed) {
            if let Some(oldest) = table.first() {
                table.remove(oldest);
            }
            table.upsert(synthetic::connection(next, now));
            next += 1;
        }
    })
}

fn bench(c: &mut Criterion) {
    for with_churn in [false, true] {
        let label = if with_churn { "churn" } else { "quiet" };
        let mut group = c.benchmark_group(format!("enumerate_{label}"));
        group.sample_size(50);
        for n in SIZES {
            let table = filled(n);
            let stop = Arc::new(AtomicBool::new(false));
            let worker = with_churn.then(|| churn(table.clone(), n, stop.clone()));

            group.bench_with_input(BenchmarkId::new("page100", n), &n, |b, _| {
                let mut cursor: Option<ResumeHandle> = None;
                b.iter(|| {
                    let page = table.enumerate(ME, cursor, 99 * S, S).expect("page");
                    cursor = page.next;
                    page.entries.len()
                });
                table.release_session(ME);
            });

            group.bench_with_input(BenchmarkId::new("total_entries", n), &n, |b, _| {
                // Park a cursor in the middle, then ask only for totals (pref 0).
                let half = u32::try_from(n / 2).expect("fits");
                let mut cursor = table.enumerate(ME, None, (half - 1) * S, S).expect("skip").next;
                b.iter(|| {
                    let page = table.enumerate(ME, cursor, 0, S).expect("total");
                    cursor = page.next;
                    page.total_entries
                });
                table.release_session(ME);
            });

            stop.store(true, Ordering::Relaxed);
            if let Some(w) = worker {
                w.join().expect("churn thread");
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
