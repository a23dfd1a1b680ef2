//! The web console's reads at scale (`rras-bench console`): --sessions
//! RADIUS sessions in a real rrasd serving the console on loopback, a
//! reader signed in as a browser would, and the windows a console asks
//! for, timed over HTTP — the first window sorted by each column both ways,
//! a window halfway down, a user search and an address-prefix search.
//! Then readers against writers: RADIUS churn alone, and beside eight
//! readers repeating the heaviest window as fast as they are answered.
//! Targets (issue 30): p50 ≤ 10 ms and p99 ≤ 50 ms per window at 1M,
//! eight readers cost ingest ≤ 10 %.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rras_testkit::DaemonProcess;
use serde_json::{json, Value};

use crate::radload::{self, LoadSpec, Mix};
use crate::Args;

const SECRET: &str = "console-bench-secret";
const TOKEN: &str = "console-bench-reader-token-0123456789";
/// Window size of a console page (a screenful and a margin).
const ROWS: usize = 40;
/// Timed repetitions of each window.
const REPEAT: usize = 21;
/// Readers beside the churn.
const READERS: usize = 8;

/// An HTTP/1.1 connection kept open, as a browser keeps one.
struct Http {
    addr: SocketAddr,
    stream: Option<std::io::BufReader<TcpStream>>,
}

impl Http {
    fn new(addr: SocketAddr) -> Self {
        Http { addr, stream: None }
    }

    /// GET `path`; the body. A connection the server closed is opened again.
    fn get(&mut self, path: &str, cookie: &str) -> anyhow::Result<Vec<u8>> {
        use std::io::BufRead;
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(self.addr)?;
                s.set_read_timeout(Some(Duration::from_secs(60)))?;
                s.set_nodelay(true)?;
                self.stream = Some(std::io::BufReader::new(s));
            }
            let Some(stream) = self.stream.as_mut() else { continue };
            let sent = write!(
                stream.get_mut(),
                "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
                self.addr
            );
            let mut status = String::new();
            if sent.is_err() || stream.read_line(&mut status)? == 0 {
                self.stream = None;
                anyhow::ensure!(attempt == 0, "the server closed the connection");
                continue;
            }
            let mut length = None;
            loop {
                let mut line = String::new();
                stream.read_line(&mut line)?;
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse::<usize>().ok();
                    }
                }
            }
            let length = length.context("no Content-Length")?;
            let mut body = vec![0; length];
            stream.read_exact(&mut body)?;
            // Read whole either way, so the connection stays in step.
            anyhow::ensure!(status.starts_with("HTTP/1.1 200"), "GET {path}: {}", status.trim_end());
            return Ok(body);
        }
        anyhow::bail!("GET {path}: no answer")
    }
}

/// Signs in with the reader token; the session cookie.
fn sign_in(addr: SocketAddr) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    let body = format!("token={TOKEN}");
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let cookie = response
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .context("sign-in gave no cookie")?;
    Ok(cookie.to_owned())
}

fn json_of(body: &[u8]) -> anyhow::Result<Value> {
    serde_json::from_slice(body).context("window JSON")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Times one window `REPEAT` times: (p50, p99) in ms, and what it said.
fn time_window(http: &mut Http, cookie: &str, query: &str) -> anyhow::Result<(f64, f64, Value)> {
    let path = format!("/api/connections?{query}");
    let mut times = Vec::with_capacity(REPEAT);
    let mut last = Value::Null;
    for _ in 0..REPEAT {
        // A session may ask for 20 windows a second (the daemon's pace);
        // the wait is not timed.
        std::thread::sleep(Duration::from_millis(55));
        let t = Instant::now();
        let body = http.get(&path, cookie)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = json_of(&body)?;
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&times, 50.0), percentile(&times, 99.0), last))
}

/// One console's own traffic: its change stream, and the window it asks
/// for again after each batch of changes (under churn, every batch has
/// starts and ends, so every batch touches the page). Until `stop`; how
/// many windows it asked for.
fn console_client(web: SocketAddr, stop: &AtomicBool) -> anyhow::Result<u64> {
    use std::io::BufRead;
    let cookie = sign_in(web)?;
    let events = TcpStream::connect(web)?;
    events.set_read_timeout(Some(Duration::from_millis(200)))?;
    write!(
        &events,
        "GET /api/events HTTP/1.1\r\nHost: {web}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )?;
    let mut lines = std::io::BufReader::new(events);
    let mut http = Http::new(web);
    let window = format!("/api/connections?offset=0&limit={ROWS}&sort=handle&dir=desc");
    let mut asked = 0;
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => anyhow::bail!("the change stream ended"),
            Ok(_) if line.starts_with("event: changes") => {
                http.get(&window, &cookie)?;
                asked += 1;
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(asked)
}

/// Runs `load` with ten consoles open (each its change stream and the
/// windows it asks for); what `load` gave, the consoles' windows, seconds.
fn with_ten_consoles<T>(web: SocketAddr, load: impl FnOnce() -> T) -> anyhow::Result<(T, u64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let consoles: Vec<_> = (0..10)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
                console_client(web, &stop)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let t = Instant::now();
    let out = load();
    stop.store(true, Ordering::Relaxed);
    let secs = t.elapsed().as_secs_f64();
    let mut windows = 0;
    for c in consoles {
        windows += c.join().map_err(|_| anyhow::anyhow!("a console panicked"))??;
    }
    Ok((out, windows, secs))
}

fn churn(args: &Args, target: SocketAddr, n: u64, requests: u64) -> LoadSpec {
    LoadSpec {
        mix: Mix::Churn { requests },
        ..crate::harness::starts_load(args, target, SECRET, n)
    }
}

pub(crate) fn run(args: &Args, bin_dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let n = args.sessions.first().copied().unwrap_or(10_000);
    let work = tempfile::tempdir()?;
    let tokens = work.path().join("tokens");
    rras_testkit::write_private(
        &tokens,
        format!("bench-reader reader {}\n", rrasd::auth::token_hash(TOKEN)),
    );
    let listen: SocketAddr = format!("127.0.0.1:{}", rras_testkit::free_udp_port()).parse()?;
    let web: SocketAddr = format!("127.0.0.1:{}", rras_testkit::free_tcp_port()).parse()?;
    let metrics: SocketAddr = format!("127.0.0.1:{}", rras_testkit::free_tcp_port()).parse()?;
    let daemon = DaemonProcess::start(
        &bin_dir.join("rrasd"),
        &[
            "--radius-acct",
            &listen.to_string(),
            "--radius-client",
            &format!("127.0.0.0/8={SECRET}"),
            "--web",
            &web.to_string(),
            "--tokens-file",
            tokens.to_str().context("tokens path")?,
            "--metrics",
            &metrics.to_string(),
        ],
    );
    println!("console: loading {n} RADIUS sessions");
    let loaded = rt.block_on(radload::run(&crate::harness::starts_load(args, listen, SECRET, n)))?;
    anyhow::ensure!(loaded.acked == n, "{} of {n} Starts acked", loaded.acked);
    let cookie = sign_in(web)?;
    let rss = crate::process_stats::rss_bytes(daemon.pid());
    // The sort orders' own memory, as the daemon counts it.
    let exposition = String::from_utf8_lossy(&Http::new(metrics).get("/metrics", "")?).to_string();
    let index_bytes: u64 = exposition
        .lines()
        .find_map(|l| l.strip_prefix("rrasd_index_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .context("no rrasd_index_bytes in /metrics")?;
    let per_connection = index_bytes as f64 / n as f64;

    // The windows a console asks for.
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut http = Http::new(web);
    let mut measure = |name: String, query: String, rows: &mut Vec<(String, f64, f64, u64)>| -> anyhow::Result<()> {
        let (p50, p99, answer) = time_window(&mut http, &cookie, &query)?;
        let matching = answer["matching"].as_u64().unwrap_or(0);
        results.push(json!({"window": name, "query": query, "p50_ms": p50, "p99_ms": p99, "matching": matching}));
        rows.push((name, p50, p99, matching));
        Ok(())
    };
    for sort in [
        "handle",
        "user",
        "address",
        "engine",
        "interface",
        "duration",
        "rx",
        "tx",
    ] {
        for dir in ["asc", "desc"] {
            measure(
                format!("first {ROWS} by {sort} {dir}"),
                format!("offset=0&limit={ROWS}&sort={sort}&dir={dir}"),
                &mut rows,
            )?;
        }
    }
    let half = n / 2;
    measure(
        format!("{ROWS} at offset {half} by address"),
        format!("offset={half}&limit={ROWS}&sort=address&dir=asc"),
        &mut rows,
    )?;
    let user = format!("user{:07}", n / 3);
    measure(
        format!("search one user ({user})"),
        format!("offset=0&limit={ROWS}&sort=user&q={user}"),
        &mut rows,
    )?;
    measure(
        "search an address prefix (10.0.1.)".into(),
        format!("offset=0&limit={ROWS}&sort=address&q=10.0.1."),
        &mut rows,
    )?;
    measure(
        "filter one user, sorted by bytes".into(),
        format!("offset=0&limit={ROWS}&sort=rx&dir=desc&user={user}@corp.example"),
        &mut rows,
    )?;

    // Readers against writers: churn alone, then beside eight readers
    // repeating the heaviest indexed window.
    // Long enough (about three seconds) that the readers' bursts are a
    // small part of it.
    let requests = 300_000;
    let alone = rt.block_on(radload::run(&churn(args, listen, n, requests)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let heavy = format!("/api/connections?offset={half}&limit={ROWS}&sort=address&dir=desc");
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (stop, answered, refused, heavy) = (stop.clone(), answered.clone(), refused.clone(), heavy.clone());
            // Each reader its own session, as eight consoles would be.
            let cookie = sign_in(web);
            std::thread::spawn(move || {
                // The readers stand for browsers elsewhere: on this
                // machine their own CPU must not be what ingest loses.
                let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
                let Ok(cookie) = cookie else { return };
                let mut http = Http::new(web);
                while !stop.load(Ordering::Relaxed) {
                    if http.get(&heavy, &cookie).is_ok() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // Steady hammering, not the first burst each session may take.
    std::thread::sleep(Duration::from_secs(3));
    let before = answered.load(Ordering::Relaxed);
    let t = Instant::now();
    // The sessions the first run did not touch (and its successors).
    let mut spec = churn(args, listen, n, requests);
    spec.first = requests / 3;
    let beside = rt.block_on(radload::run(&spec));
    stop.store(true, Ordering::Relaxed);
    let reader_secs = t.elapsed().as_secs_f64();
    for r in readers {
        let _ = r.join();
    }
    let beside = beside?;

    // Ten consoles open during the churn, each with its own traffic.
    let mut spec = churn(args, listen, n, requests);
    spec.first = 2 * (requests / 3);
    let (with_consoles, console_windows, console_secs) = with_ten_consoles(web, || rt.block_on(radload::run(&spec)))?;
    let with_consoles = with_consoles?;
    // And at the steady 10,000 Interim-Updates/s for 5 s: the
    // daemon's CPU and the ack p99, without and with ten consoles.
    let steady = LoadSpec {
        sockets: 8,
        mix: Mix::Interims { rate: 10_000 },
        time_cap: Duration::from_secs(5),
        ..crate::harness::starts_load(args, listen, SECRET, n)
    };
    let cpu = crate::process_stats::cpu_secs;
    let cpu_before = cpu(daemon.pid());
    let steady_alone = rt.block_on(radload::run(&steady))?;
    let steady_alone_cpu = cpu(daemon.pid()) - cpu_before;
    let cpu_before = cpu(daemon.pid());
    let (steady_beside, steady_windows, _) = with_ten_consoles(web, || rt.block_on(radload::run(&steady)))?;
    let steady_beside = steady_beside?;
    let steady_beside_cpu = cpu(daemon.pid()) - cpu_before;
    let steady_cost = steady_beside_cpu / steady_alone_cpu.max(1e-9) - 1.0;
    let console_cost = 1.0 - with_consoles.acks_per_sec() / alone.acks_per_sec().max(1e-9);
    let reads_per_sec = (answered.load(Ordering::Relaxed) - before) as f64 / reader_secs.max(1e-9);
    let refused_per_sec = refused.load(Ordering::Relaxed) as f64 / reader_secs.max(1e-9);
    let cost = 1.0 - beside.acks_per_sec() / alone.acks_per_sec().max(1e-9);

    // The peer: the same windows as SQL over radacct, an index per column.
    let peer = if args.no_peer {
        None
    } else {
        crate::peer::Peer::find(&args.peer)
    };
    let mut peer_windows: Vec<(String, f64, f64)> = Vec::new();
    let mut peer_json = Value::Null;
    if let Some(p) = &peer {
        // The daemon is idle now; the peer gets the machine to itself.
        drop(daemon);
        let loaded = p.load(n, args.peer_closed_per_live)?;
        let (windows, built) = p.console_windows(n, ROWS, REPEAT, &user)?;
        peer_json = json!({
            "load_secs": loaded.as_secs_f64(), "index_build_secs": built.as_secs_f64(),
            "windows": windows.iter().map(|(w, p50, p99)| json!({"window": w, "p50_ms": p50, "p99_ms": p99})).collect::<Vec<_>>(),
        });
        peer_windows = windows;
    } else {
        drop(daemon);
    }
    let peer_of = |name: &str| {
        peer_windows
            .iter()
            .find(|(w, _, _)| w.as_str() == name)
            .map_or("—".to_owned(), |(_, p50, p99)| format!("{p50:.2} / {p99:.2} ms"))
    };
    println!(
        "\n## {n} live sessions (rrasd RSS {:.0} MB; sort orders {:.0} MB, {per_connection:.1} B per connection, target ≤ 120)\n",
        rss as f64 / 1e6,
        index_bytes as f64 / 1e6
    );
    println!("| window ({ROWS} rows) | openrras p50 / p99 | matching | radacct, an index per column, p50 / p99 |");
    println!("|---|---|---|---|");
    for (name, p50, p99, matching) in &rows {
        println!("| {name} | {p50:.2} / {p99:.2} ms | {matching} | {} |", peer_of(name));
    }
    println!("\n| readers against writers | acks/s | ack p99 |");
    println!("|---|---|---|");
    println!(
        "| RADIUS churn alone | {:.0}/s | {:.1} ms |",
        alone.acks_per_sec(),
        alone.latency_ms(99.0)
    );
    println!(
        "| beside {READERS} readers of the heaviest window ({reads_per_sec:.0} windows/s answered, {refused_per_sec:.0}/s refused by the pace) | {:.0}/s | {:.1} ms |",
        beside.acks_per_sec(),
        beside.latency_ms(99.0)
    );
    println!(
        "| beside 10 open consoles, each its change stream and the windows it asks for ({:.0} windows/s in all) | {:.0}/s | {:.1} ms |",
        console_windows as f64 / console_secs.max(1e-9),
        with_consoles.acks_per_sec(),
        with_consoles.latency_ms(99.0)
    );
    println!("\ningest cost of the readers: {:.1} % (target ≤ 10 %)", cost * 100.0);
    println!(
        "ingest cost of ten consoles: {:.1} % (target ≤ 10 %)",
        console_cost * 100.0
    );
    println!(
        "\nat a steady 10,000 Interim-Updates/s: rrasd {:.2} cores, ack p99 {:.1} ms alone; {:.2} cores, ack p99 {:.1} ms beside ten consoles ({steady_windows} windows): {:+.1} % CPU",
        steady_alone_cpu / 5.0,
        steady_alone.latency_ms(99.0),
        steady_beside_cpu / 5.0,
        steady_beside.latency_ms(99.0),
        steady_cost * 100.0
    );
    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join(format!("console-{n}.json"));
    let out = json!({
        "scenario": "console", "sessions": n, "rss_bytes": rss, "windows": results,
        "index_bytes": index_bytes, "index_bytes_per_connection": per_connection,
        "churn_alone": {"acks_per_sec": alone.acks_per_sec(), "p99_ms": alone.latency_ms(99.0)},
        "churn_beside_readers": {"acks_per_sec": beside.acks_per_sec(), "p99_ms": beside.latency_ms(99.0),
                                 "readers": READERS, "windows_per_sec": reads_per_sec,
                                 "refused_per_sec": refused_per_sec},
        "ingest_cost": cost,
        "churn_beside_consoles": {"acks_per_sec": with_consoles.acks_per_sec(), "p99_ms": with_consoles.latency_ms(99.0),
                                  "consoles": 10, "windows": console_windows},
        "consoles_ingest_cost": console_cost,
        "steady_10k": {"alone_cpu_secs": steady_alone_cpu, "alone_p99_ms": steady_alone.latency_ms(99.0),
                       "consoles_cpu_secs": steady_beside_cpu, "consoles_p99_ms": steady_beside.latency_ms(99.0),
                       "consoles_windows": steady_windows, "cpu_cost": steady_cost},
        "peer": peer_json,
    });
    std::fs::write(&file, serde_json::to_string_pretty(&out)?)?;
    println!("(JSON: {})", file.display());
    Ok(())
}
