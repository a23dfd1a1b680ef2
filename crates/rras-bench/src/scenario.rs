//! The scenarios, one load per size: start rrasd, feed it N sessions
//! through the RADIUS source, measure what was asked, then the same on the
//! peer; print a table and write JSON.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use rras_client::AdminClient;
use rras_core::RAS_CONNECTION_EX_SIZE;
use rras_testkit::DaemonProcess;
use serde_json::{json, Map, Value};

use crate::bareresponder::BareResponder;
use crate::harness::{bin_dir, radius_daemon, starts_load, SECRET};
use crate::peer::Peer;
use crate::process_stats::{cpu_secs, rss_bytes, status_field, wait_until_idle};
use crate::radload::{self, percentile, LoadResult, LoadSpec, Mix};
use crate::{cprog, Args, Scenario};

/// One size's results: rows for the table, numbers for the JSON.
struct Report {
    sessions: u64,
    rows: Vec<(String, String, String)>,
    json: Map<String, Value>,
}

impl Report {
    fn new(sessions: u64) -> Self {
        Report {
            sessions,
            rows: Vec::new(),
            json: Map::new(),
        }
    }

    fn row(&mut self, measure: &str, ours: String, peer: Option<String>) {
        self.rows
            .push((measure.to_owned(), ours, peer.unwrap_or_else(|| "—".into())));
    }

    /// Fills the peer's column of a row added before.
    fn set_peer(&mut self, measure: &str, value: String) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.0 == measure) {
            row.2 = value;
        }
    }

    fn set(&mut self, key: &str, v: Value) {
        self.json.insert(key.to_owned(), v);
    }

    fn print(&self) {
        let w = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(10).max(10);
        println!("\n## {} live sessions\n", self.sessions);
        println!(
            "| {:w$} | {:>24} | {:>28} |",
            "measure", "openrras", "FreeRADIUS + PostgreSQL"
        );
        println!("|{}|{}|{}|", "-".repeat(w + 2), "-".repeat(26), "-".repeat(30));
        for (m, o, p) in &self.rows {
            println!("| {m:w$} | {o:>24} | {p:>28} |");
        }
    }
}

fn ms(v: f64) -> String {
    format!("{v:.3} ms")
}

fn secs(v: f64) -> String {
    format!("{v:.3} s")
}

/// The sizes scenarios (`list`, `ingest`, `page`, `all`): for each of
/// `--sessions`, rrasd fed that many sessions, measured, and the peer
/// beside it.
pub(crate) fn run_sizes(
    args: &Args,
    bin_dir: &Path,
    lib_dir: &Path,
    peer: Option<&Peer>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let c_bench = if matches!(args.scenario, Scenario::List | Scenario::All) {
        Some(cprog::build(work.path(), lib_dir)?)
    } else {
        None
    };
    let mut page_p50 = Vec::new();
    for &n in &args.sessions {
        let mut report = Report::new(n);
        run_size(args, n, bin_dir, peer, rt, c_bench.as_deref(), &mut report)?;
        report.print();
        if let Some(Value::Number(p)) = report.json.get("page_quiet_p50_ms") {
            page_p50.push((n, p.as_f64().unwrap_or(f64::NAN)));
        }
        let file = args.out.join(format!("{:?}-{n}.json", args.scenario).to_lowercase());
        report.set("sessions", json!(n));
        report.set("scenario", json!(format!("{:?}", args.scenario).to_lowercase()));
        std::fs::write(&file, serde_json::to_string_pretty(&Value::Object(report.json))?)?;
        println!("\n(JSON: {})", file.display());
    }
    if let (Some(first), Some(last)) = (page_p50.first(), page_p50.last()) {
        if page_p50.len() > 1 {
            println!(
                "\nscaling: 100-entry page p50 at {} = {:.3} ms, at {} = {:.3} ms: ratio {:.2} for {}x the sessions",
                last.0,
                last.1,
                first.0,
                first.1,
                last.1 / first.1,
                last.0 / first.0.max(1)
            );
        }
    }
    Ok(())
}

/// What filling the caller's buffer costs before any RAS work: N
/// RAS_CONNECTION_EX-sized entries written once into fresh memory (the
/// kernel zero-fills and maps every page) and once more (memory already
/// mapped). Best of three.
fn memory_floor(n: u64, report: &mut Report) {
    let len = usize::try_from(n)
        .unwrap_or(usize::MAX)
        .saturating_mul(RAS_CONNECTION_EX_SIZE as usize);
    let (mut first, mut second) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        let mut buf = vec![0u8; len];
        buf.fill(1);
        first = first.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        buf.fill(2);
        second = second.min(t.elapsed().as_secs_f64());
        // Keep the writes observable.
        std::hint::black_box(&buf);
    }
    report.row(
        "floor: write N x 1672 B, fresh / mapped",
        format!("{} / {}", secs(first), secs(second)),
        None,
    );
    report.set(
        "floor",
        json!({"fresh_write_secs": first, "mapped_write_secs": second, "bytes": len}),
    );
}

/// The same Starts answered by a [`BareResponder`] (nothing kept, nothing
/// written): the most acks per second the generator and loopback UDP leave
/// on this machine's cores.
fn ingest_floor(args: &Args, n: u64, rt: &tokio::runtime::Runtime, report: &mut Report) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let bare = BareResponder::start(SECRET.as_bytes(), threads)?;
    let before = cpu_secs(std::process::id());
    let load = rt.block_on(radload::run(&starts_load(args, bare.addr(), SECRET, n)));
    let ours = cpu_secs(std::process::id()) - before;
    let (answered, responder_cpu) = bare.stop();
    let load = load?;
    anyhow::ensure!(
        load.acked == n,
        "the bare responder answered {answered}, {} acked of {n}",
        load.acked
    );
    // The generator's CPU is this process's less the responder's threads.
    let per = |secs: f64| secs * 1e6 / n.max(1) as f64;
    let (generator_us, responder_us) = (per(ours - responder_cpu), per(responder_cpu));
    report.row(
        "floor: acks/s of a bare responder (no table, no disk), p99",
        format!("{:.0}/s, {}", load.acks_per_sec(), ms(load.latency_ms(99.0))),
        None,
    );
    report.row(
        "floor: CPU per request, generator / bare responder",
        format!("{generator_us:.1} / {responder_us:.1} µs"),
        None,
    );
    report.set(
        "ingest_floor",
        json!({"acks_per_sec": load.acks_per_sec(), "p50_ms": load.latency_ms(50.0), "p99_ms": load.latency_ms(99.0),
               "retransmissions": load.retransmissions, "responder_threads": threads,
               "generator_cpu_us_per_request": generator_us, "responder_cpu_us_per_request": responder_us}),
    );
    Ok(())
}

fn run_size(
    args: &Args,
    n: u64,
    bin_dir: &Path,
    peer: Option<&Peer>,
    rt: &tokio::runtime::Runtime,
    c_bench: Option<&Path>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let s = args.scenario;
    let all = s == Scenario::All;
    if all || s == Scenario::Floor || s == Scenario::Ingest {
        ingest_floor(args, n, rt, report)?;
    }
    if all || s == Scenario::Floor {
        memory_floor(n, report);
        if s == Scenario::Floor {
            return Ok(());
        }
    }
    let (mut daemon, spec) = radius_daemon(args, bin_dir, SECRET, n)?;
    let listen = spec.target.to_string();
    let addr = daemon.addr();
    let baseline_rss = rss_bytes(daemon.pid());

    // Load: N Starts through the RADIUS source — the ingest measurement.
    let cpu_before = (cpu_secs(std::process::id()), cpu_secs(daemon.pid()));
    let load = rt.block_on(radload::run(&spec))?;
    let per_request = |before: f64, pid: u32| (cpu_secs(pid) - before) * 1e6 / n.max(1) as f64;
    let (generator_us, rrasd_us) = (
        per_request(cpu_before.0, std::process::id()),
        per_request(cpu_before.1, daemon.pid()),
    );
    anyhow::ensure!(
        load.acked == n,
        "only {} of {n} Starts acknowledged in {:?}",
        load.acked,
        load.elapsed
    );
    let live = live_sessions(rt, &addr)?;
    anyhow::ensure!(live == n, "rrasd holds {live} sessions after {n} acknowledged Starts");
    report.set(
        "ingest",
        json!({"acks_per_sec": load.acks_per_sec(), "p50_ms": load.latency_ms(50.0), "p99_ms": load.latency_ms(99.0),
               "seen_p50_ms": load.seen_latency_ms(50.0), "seen_p99_ms": load.seen_latency_ms(99.0),
               "max_ms": load.latency_ms(100.0), "retransmissions": load.retransmissions,
               "sockets": args.sockets, "window": args.window,
               "generator_cpu_us_per_request": generator_us, "rrasd_cpu_us_per_request": rrasd_us}),
    );

    let (peer_ingest, peer_churn) = match peer {
        Some(p) if all || s == Scenario::Ingest => {
            p.load(0, 0)?; // an empty radacct, as a fresh deployment
            let count = args.peer_ingest.min(n);
            let spec = LoadSpec {
                target: format!("127.0.0.1:{}", p.acct_port).parse()?,
                secret: p.secret.as_bytes().to_vec(),
                count,
                ..spec.clone()
            };
            let starts = rt.block_on(radload::run(&spec))?;
            let churn = rt.block_on(radload::run(&LoadSpec {
                mix: Mix::Churn { requests: count },
                ..spec
            }))?;
            (Some(starts), Some(churn))
        }
        _ => (None, None),
    };
    if all || s == Scenario::Ingest {
        ingest_rows(&load, peer_ingest.as_ref(), (generator_us, rrasd_us), report);
    }

    if all || s == Scenario::Memory {
        memory(&daemon, baseline_rss, n, report);
    }

    if all || s == Scenario::List {
        list(args, n, &daemon, rt, c_bench, report)?;
    }
    if all || s == Scenario::Page {
        let settled = wait_until_idle(daemon.pid());
        println!(
            "rrasd idle {:.1} s after the load (its store applies and checkpoints what it logged)",
            settled.as_secs_f64()
        );
        page(args, n, &addr, &listen, rt, report)?;
    }
    if all || s == Scenario::Restart {
        restart(args, n, &mut daemon, &addr, rt, report)?;
    }
    // Churn last: it replaces sessions by successors, so the update load
    // and the restart check above still see the sessions first loaded.
    // Interim, Stop and a successor's Start for each session in turn;
    // the live count must come out where it went in.
    let churn = if all || s == Scenario::Ingest {
        let requests = (3 * n).min(300_000);
        let churn = rt.block_on(radload::run(&LoadSpec {
            mix: Mix::Churn { requests },
            ..spec.clone()
        }))?;
        anyhow::ensure!(
            churn.acked == churn.sent && churn.sent > 0,
            "only {} of {} churn requests acknowledged",
            churn.acked,
            churn.sent
        );
        let live = live_sessions(rt, &addr)?;
        anyhow::ensure!(live == n, "rrasd holds {live} sessions after churn, expected {n}");
        Some(churn)
    } else {
        None
    };

    if all || s == Scenario::Ingest {
        if let Some(c) = &churn {
            report.row(
                "churn acks/s (Interim, Stop, Start)",
                format!("{:.0}/s, p99 {}", c.acks_per_sec(), ms(c.latency_ms(99.0))),
                peer_churn
                    .as_ref()
                    .map(|l| format!("{:.0}/s, p99 {}", l.acks_per_sec(), ms(l.latency_ms(99.0)))),
            );
            report.set(
                "churn",
                json!({"acks_per_sec": c.acks_per_sec(), "p50_ms": c.latency_ms(50.0), "p99_ms": c.latency_ms(99.0),
                       "max_ms": c.latency_ms(100.0), "retransmissions": c.retransmissions, "requests": c.sent}),
            );
        }
        if let Some(l) = &peer_churn {
            report.set(
                "peer_churn",
                json!({"acks_per_sec": l.acks_per_sec(), "p99_ms": l.latency_ms(99.0), "retransmissions": l.retransmissions}),
            );
        }
    }
    daemon.kill9();
    // The peer's reads last, with rrasd stopped: its bulk load and the
    // VACUUM after it must not run beside our measurements (nor ours
    // beside its).
    if let Some(p) = peer {
        if all || matches!(s, Scenario::List | Scenario::Page | Scenario::Memory) {
            peer_reads(args, n, p, report)?;
        }
    }
    if args.hold > 0 {
        daemon.spawn();
        println!("holding rrasd (pid {}) at {addr} for {} s", daemon.pid(), args.hold);
        std::thread::sleep(Duration::from_secs(args.hold));
    }
    daemon.kill9();
    Ok(())
}

fn list(
    args: &Args,
    n: u64,
    daemon: &DaemonProcess,
    rt: &tokio::runtime::Runtime,
    c_bench: Option<&Path>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let addr = daemon.addr();
    // Rust client: one streamed enumeration, every record decoded.
    let mut best = f64::MAX;
    for _ in 0..args.rounds {
        let (t, count) = rt.block_on(async {
            let c = AdminClient::connect(&addr).await?;
            let t = Instant::now();
            let mut count = 0u64;
            c.for_each_connection(|_| count += 1).await?;
            Ok::<_, rras_client::ClientError>((t.elapsed().as_secs_f64(), count))
        })?;
        anyhow::ensure!(count == n, "the Rust client listed {count} of {n}");
        best = best.min(t);
    }
    report.row("rras-client full listing", secs(best), None);
    report.set("rust_client_secs", json!(best));

    // rasctl --json into a file, with its peak memory.
    let file = daemon.dir.path().join("connections.json");
    let t = Instant::now();
    let mut child = Command::new(bin_dir(args)?.join("rasctl"))
        .args(["--server", &addr, "connections", "--json"])
        .stdout(std::fs::File::create(&file)?)
        .stderr(Stdio::inherit())
        .spawn()?;
    // Its peak RSS: VmHWM only grows, so the last reading before it exits
    // is its peak (to within the last 5 ms).
    let mut maxrss = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        maxrss = maxrss.max(status_field(child.id(), "VmHWM:"));
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = t.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "rasctl connections --json failed");
    let objects = count_occurrences(&file, b"\"handle\":")?;
    anyhow::ensure!(objects == n, "rasctl --json printed {objects} of {n} connections");
    let size = std::fs::metadata(&file)?.len();
    let _ = std::fs::remove_file(&file);
    report.row(
        "rasctl connections --json > file",
        format!("{} ({} MB RSS)", secs(elapsed), maxrss >> 20),
        None,
    );
    report.set(
        "rasctl_json",
        json!({"secs": elapsed, "max_rss_bytes": maxrss, "output_bytes": size}),
    );
    // libmprapi last: its 1.6 GB buffers would hide rasctl's peak above.
    if let Some(exe) = c_bench {
        let t = cprog::run(exe, &addr, args.rounds)?;
        anyhow::ensure!(
            t.all_entries == n && t.paged_entries == n,
            "libmprapi listed {} / {} of {n}",
            t.all_entries,
            t.paged_entries
        );
        report.row("MprAdminConnectionEnumEx, pref -1", secs(t.all_secs), None);
        report.row("MprAdminConnectionEnumEx, 64 KiB pages", secs(t.paged_secs), None);
        report.set(
            "libmprapi",
            json!({"pref_all_secs": t.all_secs, "paged_64k_secs": t.paged_secs}),
        );
    }
    Ok(())
}

/// Live connections the daemon at `addr` reports.
fn live_sessions(rt: &tokio::runtime::Runtime, addr: &str) -> anyhow::Result<u64> {
    Ok(rt.block_on(async {
        let c = AdminClient::connect(addr).await?;
        c.server_info().await.map(|i| i.total_connections)
    })?)
}

fn count_occurrences(path: &Path, needle: &[u8]) -> anyhow::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut n = 0u64;
    loop {
        let read = f.read(&mut buf)?;
        if read == 0 {
            return Ok(n);
        }
        carry.extend_from_slice(&buf[..read]);
        n += carry.windows(needle.len()).filter(|w| *w == needle).count() as u64;
        let keep = carry.len().min(needle.len() - 1);
        carry.drain(..carry.len() - keep);
    }
}

/// The round trip of the smallest call (IsServiceRunning): the floor under
/// any page, whatever the table does.
async fn empty_call_latencies(addr: &str, calls: usize) -> anyhow::Result<Vec<u32>> {
    let c = AdminClient::connect(addr).await?;
    let mut out = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        c.is_service_running().await?;
        out.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    out.sort_unstable();
    Ok(out)
}

/// 100-entry pages from the middle of the list, each timed from request to
/// last record decoded.
async fn page_latencies(addr: &str, n: u64, pages: usize) -> anyhow::Result<Vec<u32>> {
    let c = AdminClient::connect(addr).await?;
    let header = (1, 1, RAS_CONNECTION_EX_SIZE);
    let page_pref = 99 * RAS_CONNECTION_EX_SIZE;
    let mut out = Vec::with_capacity(pages);
    let deadline = Instant::now() + Duration::from_secs(300);
    while out.len() < pages && Instant::now() < deadline {
        // Jump to the middle: one call returning the first half.
        let half = u32::try_from(n / 2).unwrap_or(u32::MAX).max(1);
        let mut skip = c
            .enum_records(header, (half - 1).saturating_mul(RAS_CONNECTION_EX_SIZE), 0)
            .await?;
        while let Some(chunk) = skip.next_chunk().await {
            chunk?;
        }
        let mut resume = skip.resume_handle;
        while resume != 0 && out.len() < pages {
            let t = Instant::now();
            let mut page = c.enum_records(header, page_pref, resume).await?;
            let got = page.for_each_record(|_| {}).await?;
            out.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            anyhow::ensure!(got <= 100, "a 100-entry page carried {got}");
            resume = page.resume_handle;
        }
        // An unfinished enumeration's cursor is dropped by the server later.
    }
    out.sort_unstable();
    Ok(out)
}

fn page(
    args: &Args,
    n: u64,
    addr: &str,
    listen: &str,
    rt: &tokio::runtime::Runtime,
    report: &mut Report,
) -> anyhow::Result<()> {
    // The pager runs on a current-thread runtime of its own, as libmprapi's
    // blocking client does: one thread drives the connection, no hand-offs.
    let pager_rt = || tokio::runtime::Builder::new_current_thread().enable_all().build();
    let quiet = pager_rt()?.block_on(page_latencies(addr, n, args.pages))?;
    let floor = pager_rt()?.block_on(empty_call_latencies(addr, args.pages))?;
    // The same under a steady stream of Interim-Updates.
    let spec = LoadSpec {
        target: listen.parse()?,
        secret: SECRET.as_bytes().to_vec(),
        sockets: 8,
        window: 64,
        first: 0,
        count: n,
        mix: Mix::Interims { rate: args.update_rate },
        retransmit_after: Duration::from_secs(1),
        time_cap: args.time_cap(),
    };
    let load = rt.spawn(async move { radload::run(&spec).await });
    // Let the update stream reach its rate first.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let busy = pager_rt()?.block_on(page_latencies(addr, n, args.pages));
    let updates = t.elapsed();
    load.abort();
    let busy = busy?;
    let p = |v: &[u32], q| percentile(v, q) as f64 / 1000.0;
    report.row(
        "100-entry page deep, p50 / p99 (quiet)",
        format!("{} / {}", ms(p(&quiet, 50.0)), ms(p(&quiet, 99.0))),
        None,
    );
    report.row(
        "empty RPC round trip (floor), p50 / p99",
        format!("{} / {}", ms(p(&floor, 50.0)), ms(p(&floor, 99.0))),
        None,
    );
    report.row(
        &format!("same under {} updates/s", args.update_rate),
        format!("{} / {}", ms(p(&busy, 50.0)), ms(p(&busy, 99.0))),
        None,
    );
    report.set("page_quiet_p50_ms", json!(p(&quiet, 50.0)));
    report.set(
        "page",
        json!({"quiet_p50_ms": p(&quiet, 50.0), "quiet_p99_ms": p(&quiet, 99.0),
               "empty_rpc_p50_ms": p(&floor, 50.0), "empty_rpc_p99_ms": p(&floor, 99.0),
               "busy_p50_ms": p(&busy, 50.0), "busy_p99_ms": p(&busy, 99.0),
               "busy_update_rate": args.update_rate, "busy_secs": updates.as_secs_f64()}),
    );
    Ok(())
}

/// The ingest rows: rrasd's Starts beside the peer's, and their CPU.
fn ingest_rows(load: &LoadResult, pi: Option<&LoadResult>, (generator_us, rrasd_us): (f64, f64), report: &mut Report) {
    report.row(
        "accounting acks/s (Starts, durable)",
        format!("{:.0}/s", load.acks_per_sec()),
        pi.map(|l| format!("{:.0}/s ({} sent)", l.acks_per_sec(), l.sent)),
    );
    report.row(
        "ack latency p50 / p99",
        format!("{} / {}", ms(load.latency_ms(50.0)), ms(load.latency_ms(99.0))),
        pi.map(|l| format!("{} / {}", ms(l.latency_ms(50.0)), ms(l.latency_ms(99.0)))),
    );
    let seen = |l: &LoadResult| format!("{} / {}", ms(l.seen_latency_ms(50.0)), ms(l.seen_latency_ms(99.0)));
    report.row(
        "ack latency as the generator read it, p50 / p99",
        seen(load),
        pi.map(seen),
    );
    report.row(
        "ack latency max, retransmissions",
        format!("{}, {}", ms(load.latency_ms(100.0)), load.retransmissions),
        pi.map(|l| format!("{}, {}", ms(l.latency_ms(100.0)), l.retransmissions)),
    );
    report.row(
        "CPU per Start, generator / rrasd",
        format!("{generator_us:.1} / {rrasd_us:.1} µs"),
        None,
    );
    if let Some(l) = pi {
        report.set(
            "peer_ingest",
            json!({"acks_per_sec": l.acks_per_sec(), "p50_ms": l.latency_ms(50.0), "p99_ms": l.latency_ms(99.0),
                   "seen_p50_ms": l.seen_latency_ms(50.0), "seen_p99_ms": l.seen_latency_ms(99.0),
                   "max_ms": l.latency_ms(100.0), "retransmissions": l.retransmissions, "sent": l.sent}),
        );
    }
}

/// RSS and store bytes per live connection.
fn memory(daemon: &DaemonProcess, baseline_rss: u64, n: u64, report: &mut Report) {
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_bytes(daemon.pid());
    let per = rss.saturating_sub(baseline_rss) as f64 / n as f64;
    // The whole store: the database and its commit log's two segments,
    // as file lengths and as the blocks the file system gave them (redb
    // grows its file ahead of use; pages never written are holes).
    let files: Vec<std::fs::Metadata> = ["rrasd.redb", "rrasd.redb.log0", "rrasd.redb.log1"]
        .iter()
        .filter_map(|f| std::fs::metadata(daemon.dir.path().join("state").join(f)).ok())
        .collect();
    let store: u64 = files.iter().map(|m| m.len()).sum();
    let allocated: u64 = files
        .iter()
        .map(|m| std::os::unix::fs::MetadataExt::blocks(m) * 512)
        .sum();
    report.row(
        "rrasd RSS per live connection",
        format!("{per:.0} B ({} MB total)", rss >> 20),
        None,
    );
    report.row(
        "store per live connection: file length / blocks in use",
        format!(
            "{:.0} B / {:.0} B",
            store as f64 / n as f64,
            allocated as f64 / n as f64
        ),
        None,
    );
    report.set(
        "memory",
        json!({"rss_bytes": rss, "baseline_rss_bytes": baseline_rss, "rss_per_connection": per,
               "store_bytes": store, "store_per_connection": store as f64 / n as f64,
               "store_allocated_bytes": allocated, "store_allocated_per_connection": allocated as f64 / n as f64}),
    );
}

/// kill -9 with N live, then the time until the daemon runs again with
/// every acknowledged session.
fn restart(
    args: &Args,
    n: u64,
    daemon: &mut DaemonProcess,
    addr: &str,
    rt: &tokio::runtime::Runtime,
    report: &mut Report,
) -> anyhow::Result<()> {
    daemon.kill9();
    let t = Instant::now();
    daemon.spawn();
    let cap = Instant::now() + args.time_cap();
    let restarted = loop {
        let up = rt.block_on(async {
            let c = AdminClient::connect(addr).await.ok()?;
            let (running, _) = c.is_service_running().await.ok()?;
            let info = c.server_info().await.ok()?;
            running.then_some(info.total_connections)
        });
        if let Some(total) = up {
            break Some((t.elapsed(), total));
        }
        if Instant::now() > cap {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (elapsed, total) = restarted.context("rrasd did not come back after kill -9")?;
    anyhow::ensure!(
        total == n,
        "after kill -9 rrasd holds {total} of {n} acknowledged sessions"
    );
    report.row("kill -9 → running again", secs(elapsed.as_secs_f64()), None);
    report.set("restart_secs", json!(elapsed.as_secs_f64()));
    Ok(())
}

/// The peer's side of the reads: radacct filled with the same sessions
/// (plus closed history), checkpointed, then the online list, keyset pages
/// and its size.
fn peer_reads(args: &Args, n: u64, p: &Peer, report: &mut Report) -> anyhow::Result<()> {
    let t = p.load(n, args.peer_closed_per_live)?;
    let rows = p.live_rows()?;
    anyhow::ensure!(rows == n, "peer holds {rows} live rows, expected {n}");
    report.set("peer_load_secs", json!(t.as_secs_f64()));
    let s = args.scenario;
    let all = s == Scenario::All;
    if all || s == Scenario::List {
        let (copy, plain) = p.online_list(args.rounds)?;
        report.set_peer(
            "MprAdminConnectionEnumEx, pref -1",
            format!("\\copy {} / psql {}", secs(copy), secs(plain)),
        );
        report.set("peer_list", json!({"copy_secs": copy, "psql_secs": plain}));
    }
    if all || s == Scenario::Page {
        let (p50, p99) = p.keyset_pages(args.pages)?;
        report.set_peer(
            "100-entry page deep, p50 / p99 (quiet)",
            format!("keyset {} / {}", ms(p50), ms(p99)),
        );
        report.set("peer_page", json!({"keyset_p50_ms": p50, "keyset_p99_ms": p99}));
    }
    if all || s == Scenario::Memory {
        let bytes = p.table_bytes()?;
        report.set_peer(
            "store per live connection: file length / blocks in use",
            format!(
                "{:.0} B (with {} closed each)",
                bytes as f64 / n as f64,
                args.peer_closed_per_live
            ),
        );
        report.set("peer_radacct_bytes", json!(bytes));
    }
    Ok(())
}
