//! The change feed under load: `--watchers` Watch streams on one rrasd with
//! N live RADIUS sessions, while Report calls change `--update-rate`
//! connections per second. Each change carries the moment it was sent (in
//! its byte counter), so every watcher measures send → received, which
//! includes the durable commit the feed waits for.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rras_client::{AdminClient, WatchFilter};
use serde_json::json;

use crate::radload;
use crate::Args;

/// Hook-fed sessions whose counters the driver changes.
const SESSIONS: u64 = 1000;
/// Watch streams sharing one connection and session.
const WATCHERS_PER_CONNECTION: usize = 10;
/// Batches per second of the driver.
const BATCHES_PER_SEC: u64 = 100;

fn session(id: u64) -> rras_core::ConnectionInfo {
    let mut info = rras_core::ConnectionInfo::new(
        rras_core::SourceKey::new(rras_core::EngineKind::Report, "bench", format!("w{id}")),
        format!("watch-{id}"),
        std::time::SystemTime::now(),
    );
    info.interface_name = format!("ppp{id}");
    info
}

/// What one watcher saw.
struct Seen {
    /// Per message: the latency of its oldest change.
    latencies_us: Vec<u32>,
    /// Updates received.
    changes: u64,
    resyncs: u64,
}

async fn watcher(client: AdminClient, epoch: Instant, stop: Arc<AtomicBool>) -> anyhow::Result<Seen> {
    let mut stream = client.watch_from(None, &WatchFilter::default()).await?;
    let mut seen = Seen {
        latencies_us: Vec::new(),
        changes: 0,
        resyncs: 0,
    };
    // One reused connection to decode into, as a lean watcher would.
    let mut scratch = rras_core::record::empty_connection();
    while !stop.load(Ordering::Relaxed) {
        let message = match tokio::time::timeout(Duration::from_millis(200), stream.next_raw()).await {
            Err(_) => continue,
            Ok(None) => break,
            Ok(Some(m)) => m?,
        };
        if message.resync {
            seen.resyncs += 1;
            stream = client.watch_from(None, &WatchFilter::default()).await?;
            continue;
        }
        // The oldest change of a message (its first update) bounds the
        // latency of every change the message carries: one decode per
        // message keeps 100 watchers from measuring their own decoding.
        let now = epoch.elapsed().as_micros() as u64;
        let updated = rras_proto::pb::change::Kind::Updated as i32;
        seen.changes += message.changes.iter().filter(|c| c.kind == updated).count() as u64;
        if let Some(c) = message.changes.iter().find(|c| c.kind == updated) {
            rras_core::record::decode_into(&c.record, &mut scratch)?;
            let sent = scratch.info.stats.bytes_rcved;
            seen.latencies_us
                .push(u32::try_from(now.saturating_sub(sent)).unwrap_or(u32::MAX));
        }
    }
    Ok(seen)
}

/// Changes `rate` connections per second for `secs`, each stamped with its
/// send time; returns how many were acknowledged.
async fn driver(addr: String, epoch: Instant, rate: u64, secs: u64) -> anyhow::Result<u64> {
    let client = AdminClient::connect(&addr).await?;
    let keys: Vec<_> = (0..SESSIONS).map(session).collect();
    client.report(keys.iter().map(rras_client::started).collect()).await?;
    let per_batch = (rate / BATCHES_PER_SEC).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / BATCHES_PER_SEC));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (mut next, mut acked) = (0u64, 0u64);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut inflight = tokio::task::JoinSet::new();
    while Instant::now() < end {
        tick.tick().await;
        let stamp = epoch.elapsed().as_micros() as u64;
        let reports = (0..per_batch)
            .map(|_| {
                let key = &keys[(next % SESSIONS) as usize].source;
                next += 1;
                let stats = rras_core::ConnectionStats {
                    bytes_rcved: stamp,
                    ..Default::default()
                };
                rras_client::updated(key, &stats)
            })
            .collect();
        // Batches overlap: one slow fsync must not lower the offered rate.
        let c = client.clone();
        inflight.spawn(async move { c.report(reports).await });
        while let Some(done) = inflight.try_join_next() {
            acked += done??.iter().filter(|r| r.is_ok()).count() as u64;
        }
    }
    while let Some(done) = inflight.join_next().await {
        acked += done??.iter().filter(|r| r.is_ok()).count() as u64;
    }
    Ok(acked)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

pub(crate) fn run(args: &Args, bin_dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let n = args.sessions.first().copied().unwrap_or(10_000);
    let (daemon, spec) = crate::harness::radius_daemon(args, bin_dir, crate::harness::SECRET, n)?;
    let addr = daemon.addr();
    let load = rt.block_on(radload::run(&spec))?;
    anyhow::ensure!(load.acked == n, "only {} of {n} Starts acknowledged", load.acked);
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // Ten watch streams per connection (and admin session): a daemon caps
    // sessions per caller and calls in flight per connection, and a stream
    // is a call in flight for as long as it lives.
    let clients = (0..args.watchers.div_ceil(WATCHERS_PER_CONNECTION))
        .map(|_| rt.block_on(AdminClient::connect(&addr)))
        .collect::<Result<Vec<_>, _>>()?;
    let watchers: Vec<_> = (0..args.watchers)
        .map(|i| {
            rt.spawn(watcher(
                clients[i / WATCHERS_PER_CONNECTION].clone(),
                epoch,
                stop.clone(),
            ))
        })
        .collect();
    // Let every watcher subscribe before changes flow.
    std::thread::sleep(Duration::from_millis(500));
    let offered = u64::from(args.update_rate);
    let acked = rt.block_on(driver(addr.clone(), epoch, offered, args.watch_secs))?;
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let (mut resyncs, mut fewest, mut delivered) = (0u64, u64::MAX, 0u64);
    for w in watchers {
        let seen = rt.block_on(w)??;
        resyncs += seen.resyncs;
        fewest = fewest.min(seen.changes);
        delivered += seen.changes;
        all.extend(seen.latencies_us);
    }
    all.sort_unstable();
    let (p50, p99, max) = (percentile(&all, 0.5), percentile(&all, 0.99), percentile(&all, 1.0));
    println!(
        "\n## change feed: {} watchers, {n} live sessions, {} changes/s offered for {} s\n",
        args.watchers, offered, args.watch_secs
    );
    println!("| measure | openrras |");
    println!("|---|---:|");
    println!(
        "| changes acknowledged | {acked} ({:.0}/s) |",
        acked as f64 / args.watch_secs as f64
    );
    println!(
        "| changes delivered (all watchers) | {delivered} in {} messages |",
        all.len()
    );
    println!("| fewest delivered to one watcher | {fewest} |");
    println!("| resyncs | {resyncs} |");
    println!("| send → watcher p50 (oldest change of each message) | {p50:.3} ms |");
    println!("| send → watcher p99 | {p99:.3} ms |");
    println!("| send → watcher max | {max:.3} ms |");
    let v = json!({
        "scenario": "watch", "sessions": n, "watchers": args.watchers, "offered_per_sec": offered,
        "secs": args.watch_secs, "acked": acked, "delivered": delivered, "messages": all.len(), "fewest_per_watcher": fewest,
        "resyncs": resyncs, "p50_ms": p50, "p99_ms": p99, "max_ms": max,
    });
    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join(format!("watch-{n}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(&v)?)?;
    println!("\n(JSON: {})", file.display());
    drop(daemon);
    Ok(())
}
