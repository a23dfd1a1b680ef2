//! `rras-bench soak`: hours of a day's work in minutes, checked for leaks
//! and for lost events.
//!
//! One rrasd is loaded with N RADIUS sessions, then churned for
//! `--soak-secs` through two doors at once: RADIUS accounting (a full pass
//! of Interim, Stop and a successor's Start over every session per
//! segment) and the admin `Report` call (batches ending, updating and
//! starting hook-fed sessions), while a reader lists everything every few
//! seconds. After each segment the daemon's RSS and open descriptors are
//! sampled. At the end:
//!
//! - every acknowledged event is accounted for: the live set is exactly the
//!   sessions whose Start was acknowledged and whose Stop was not sent, on
//!   both doors (compared session by session, not by count);
//! - RSS and descriptors are flat after warm-up (the first 30 % of the
//!   samples): the mean RSS of the last half of the rest is at most 10 % or
//!   16 MiB above that of the first half; descriptors grow by at most 4.
//!
//! It prints a table, writes `soak-N.json` and exits non-zero when a check
//! fails. docs/benchmarks-notebook.md has the documented run and its numbers.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use rras_client::AdminClient;
use rras_core::{synthetic, ConnectionStats, EngineKind, SourceKey};
use serde_json::json;

use crate::process_stats::rss_bytes;
use crate::radload::{self, LoadSpec, Mix};
use crate::Args;

const SECRET: &str = "soak-secret";
/// Hook-fed sessions replaced per `Report` call (each call carries this
/// many ends, updates and starts).
const REPORT_BATCH: u64 = 250;
/// Session ids of the report door start here (far from RADIUS's).
const REPORT_BASE: u64 = 1 << 40;

/// One sample after a segment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_secs: f64,
    events: u64,
    rss: u64,
    fds: u64,
    live: u64,
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// The report door's session `id`: a hook-fed session (engine `report`, so
/// no RADIUS sweep or Accounting-On ever touches it).
fn report_session(id: u64) -> rras_core::ConnectionInfo {
    let mut info = synthetic::connection(id, SystemTime::now());
    info.source = SourceKey::new(EngineKind::Report, "soak", format!("r{id:x}"));
    info
}

/// The report door: keeps `live` hook-fed sessions, replacing the oldest
/// batch with new ones (and updating another batch) per call until
/// `stop`. Returns the sessions live at the end.
async fn report_door(
    addr: String,
    live: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> anyhow::Result<VecDeque<u64>> {
    let client = AdminClient::connect(&addr).await?;
    let mut sessions: VecDeque<u64> = VecDeque::new();
    let mut next = REPORT_BASE;
    while (sessions.len() as u64) < live {
        let batch: Vec<u64> = (next..next + REPORT_BATCH.min(live - sessions.len() as u64)).collect();
        next += batch.len() as u64;
        let reports = batch
            .iter()
            .map(|i| rras_client::started(&report_session(*i)))
            .collect();
        for r in client.report(reports).await? {
            r.map_err(|code| anyhow::anyhow!("report start refused: {code}"))?;
        }
        acked.fetch_add(batch.len() as u64, Ordering::Relaxed);
        sessions.extend(batch);
    }
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let n = REPORT_BATCH.min(sessions.len() as u64 / 2) as usize;
        let ending: Vec<u64> = sessions.drain(..n).collect();
        let starting: Vec<u64> = (next..next + n as u64).collect();
        next += n as u64;
        let mut reports = Vec::with_capacity(3 * n);
        for i in &ending {
            reports.push(rras_client::ended(&report_session(*i).source, "soak"));
        }
        for i in sessions.iter().take(n) {
            let stats = ConnectionStats {
                bytes_rcved: round.saturating_mul(1500),
                ..Default::default()
            };
            reports.push(rras_client::updated(&report_session(*i).source, &stats));
        }
        for i in &starting {
            reports.push(rras_client::started(&report_session(*i)));
        }
        let count = reports.len() as u64;
        for r in client.report(reports).await? {
            r.map_err(|code| anyhow::anyhow!("report refused: {code}"))?;
        }
        acked.fetch_add(count, Ordering::Relaxed);
        sessions.extend(starting);
    }
    Ok(sessions)
}

/// The reader: a full listing every `every`, until `stop`. Returns how many
/// listings completed.
async fn reader(addr: String, every: Duration, stop: Arc<AtomicBool>) -> anyhow::Result<u64> {
    let client = AdminClient::connect(&addr).await?;
    let mut listings = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut n = 0u64;
        client.for_each_connection(|_| n += 1).await?;
        anyhow::ensure!(n > 0, "a listing under load came back empty");
        listings += 1;
        tokio::time::sleep(every).await;
    }
    Ok(listings)
}

pub(crate) fn run(args: &Args, bin_dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let sockets = args.sockets as u64;
    let requested = args.sessions.first().copied().unwrap_or(10_000);
    // Whole sessions per socket, so one churn segment is exactly one pass.
    let n = (requested / sockets).max(1) * sockets;
    let duration = Duration::from_secs(args.soak_secs);
    let (daemon, spec) = crate::harness::radius_daemon(args, bin_dir, SECRET, n)?;
    let addr = daemon.addr();
    let pid = daemon.pid();
    println!(
        "soak: {n} RADIUS + {} report sessions, {} s, rrasd pid {pid}",
        args.report_sessions, args.soak_secs
    );

    let load = rt.block_on(radload::run(&spec))?;
    anyhow::ensure!(load.acked == n, "only {} of {n} Starts acknowledged", load.acked);

    let stop = Arc::new(AtomicBool::new(false));
    let report_acked = Arc::new(AtomicU64::new(0));
    let door = rt.spawn(report_door(
        addr.clone(),
        args.report_sessions,
        stop.clone(),
        report_acked.clone(),
    ));
    let listing = rt.spawn(reader(addr.clone(), Duration::from_secs(5), stop.clone()));

    let started = Instant::now();
    let mut radius_acked = load.acked;
    let mut retransmissions = load.retransmissions;
    let mut first = 0u64;
    let mut samples = Vec::new();
    println!("\n| t (s) | events acked | events/s | rrasd RSS | fds | live |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut last = (0.0f64, 0u64);
    while started.elapsed() < duration {
        let churn = rt.block_on(radload::run(&LoadSpec {
            first,
            mix: Mix::Churn { requests: 3 * n },
            ..spec.clone()
        }))?;
        anyhow::ensure!(
            churn.acked == churn.sent && churn.sent == 3 * n,
            "segment at {first}: {} of {} churn requests acknowledged (expected {})",
            churn.acked,
            churn.sent,
            3 * n
        );
        radius_acked += churn.acked;
        retransmissions += churn.retransmissions;
        first += n;
        let live = rt.block_on(async {
            let c = AdminClient::connect(&addr).await?;
            c.server_info().await.map(|i| i.total_connections)
        })?;
        let s = Sample {
            at_secs: started.elapsed().as_secs_f64(),
            events: radius_acked + report_acked.load(Ordering::Relaxed),
            rss: rss_bytes(pid),
            fds: open_fds(pid),
            live,
        };
        let rate = (s.events - last.1) as f64 / (s.at_secs - last.0).max(1e-9);
        last = (s.at_secs, s.events);
        println!(
            "| {:.0} | {} | {:.0} | {} MiB | {} | {} |",
            s.at_secs,
            s.events,
            rate,
            s.rss >> 20,
            s.fds,
            s.live
        );
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    let report_live = rt.block_on(door).context("report door")??;
    let listings = rt.block_on(listing).context("reader")??;

    // Every acknowledged event accounted for, session by session.
    let mut radius_expected: HashSet<String> = (first..first + n).map(|i| format!("{i:016x}")).collect();
    let mut report_expected: HashSet<String> = report_live.iter().map(|i| format!("r{i:x}")).collect();
    let mut unexpected = Vec::new();
    let total = rt.block_on(async {
        let c = AdminClient::connect(&addr).await?;
        c.for_each_connection(|c| {
            let id = &c.info.source.session_id;
            let known = match c.info.source.engine {
                EngineKind::Radius => radius_expected.remove(id),
                EngineKind::Report => report_expected.remove(id),
                _ => false,
            };
            if !known && unexpected.len() < 5 {
                unexpected.push(format!("{} {}", c.info.source.engine.as_str(), id));
            }
        })
        .await
    })?;
    let events = radius_acked + report_acked.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "\n{events} events acknowledged in {elapsed:.0} s ({:.0}/s; RADIUS {radius_acked}, {retransmissions} retransmissions; report {}), {listings} full listings",
        events as f64 / elapsed.max(1e-9),
        report_acked.load(Ordering::Relaxed)
    );

    let mut failures = Vec::new();
    if !radius_expected.is_empty() || !report_expected.is_empty() {
        failures.push(format!(
            "{} RADIUS and {} report sessions acknowledged but missing",
            radius_expected.len(),
            report_expected.len()
        ));
    }
    if !unexpected.is_empty() {
        failures.push(format!("sessions that should have ended are live, e.g. {unexpected:?}"));
    }
    if total as u64 != n + args.report_sessions {
        failures.push(format!(
            "{total} live at the end, expected {}",
            n + args.report_sessions
        ));
    }
    // Flat means no trend: after warm-up, the mean of the second half of
    // the samples against the mean of the first half (single samples swing
    // with the allocator and redb's cache).
    let warm = samples.len() * 3 / 10;
    let steady = &samples[warm.min(samples.len())..];
    let (early, late) = steady.split_at(steady.len() / 2);
    let mean = |s: &[Sample], f: fn(&Sample) -> u64| s.iter().map(f).sum::<u64>() / (s.len() as u64).max(1);
    let rss_growth = mean(late, |s| s.rss).saturating_sub(mean(early, |s| s.rss));
    let fd_growth = late
        .iter()
        .map(|s| s.fds)
        .max()
        .unwrap_or(0)
        .saturating_sub(early.iter().map(|s| s.fds).max().unwrap_or(0));
    let rss_allowed = (mean(early, |s| s.rss) / 10).max(16 << 20);
    if early.is_empty() {
        failures.push("too short to judge flatness: fewer than 2 samples after warm-up".into());
    }
    if rss_growth > rss_allowed {
        failures.push(format!(
            "RSS grew {} MiB after warm-up (allowed {} MiB)",
            rss_growth >> 20,
            rss_allowed >> 20
        ));
    }
    if fd_growth > 4 {
        failures.push(format!("open descriptors grew by {fd_growth} after warm-up"));
    }
    println!(
        "after warm-up ({} of {} samples): mean RSS +{} KiB from the first half to the second, descriptors +{fd_growth}",
        steady.len(),
        samples.len(),
        rss_growth >> 10
    );

    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join(format!("soak-{n}.json"));
    let v = json!({
        "scenario": "soak", "sessions": n, "report_sessions": args.report_sessions,
        "secs": elapsed, "events": events, "radius_events": radius_acked,
        "report_events": report_acked.load(Ordering::Relaxed), "retransmissions": retransmissions,
        "listings": listings, "rss_growth_bytes": rss_growth, "fd_growth": fd_growth,
        "samples": samples.iter().map(|s| json!({"t": s.at_secs, "events": s.events, "rss": s.rss, "fds": s.fds, "live": s.live})).collect::<Vec<_>>(),
        "failures": failures,
    });
    std::fs::write(&file, serde_json::to_string_pretty(&v)?)?;
    println!("(JSON: {})", file.display());
    drop(daemon);
    anyhow::ensure!(failures.is_empty(), "soak failed: {}", failures.join("; "));
    println!("soak passed");
    Ok(())
}
