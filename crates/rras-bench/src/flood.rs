//! The RADIUS port under a junk flood (`rras-bench flood`): legitimate
//! Starts from the one configured NAS (127.0.0.1) beside --flood-rate junk
//! datagrams/s, first from one unknown address, then from --flood-sources
//! distinct unknown addresses (127.1.0.0 upwards: all of 127/8 is local,
//! and a socket bound to the wildcard may send from any of it with
//! IP_PKTINFO, no privileges needed). Each run gets a fresh daemon.
//! Measured: Starts lost and the time they took, the junk rate reached,
//! and how fast the daemon's log grew. The targets (issue 29): 0 lost,
//! many sources ≤ 2× the time of one, log ≤ 20 KB per minute of flood.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rras_testkit::DaemonProcess;
use serde_json::{json, Value};

use crate::radload::{self, LoadSpec, Mix};
use crate::Args;

const SECRET: &str = "flood-bench-secret";

/// What one run (one or many sources) measured.
struct FloodRun {
    sources: u32,
    starts: u64,
    acked: u64,
    retransmissions: u64,
    elapsed: Duration,
    p99_ms: f64,
    junk_sent: u64,
    flood_secs: f64,
    log_bytes: u64,
    /// The daemon's CPU over the measured span, in cores.
    daemon_cores: f64,
}

impl FloodRun {
    fn junk_rate(&self) -> f64 {
        self.junk_sent as f64 / self.flood_secs.max(1e-9)
    }

    fn log_bytes_per_minute(&self) -> f64 {
        self.log_bytes as f64 * 60.0 / self.flood_secs.max(1e-9)
    }

    fn json(&self) -> Value {
        json!({
            "sources": self.sources, "starts": self.starts, "acked": self.acked,
            "lost": self.starts - self.acked.min(self.starts),
            "retransmissions": self.retransmissions, "secs": self.elapsed.as_secs_f64(),
            "ack_p99_ms": self.p99_ms, "junk_per_sec": self.junk_rate(),
            "flood_secs": self.flood_secs, "log_bytes": self.log_bytes,
            "log_bytes_per_minute": self.log_bytes_per_minute(),
            "daemon_cores": self.daemon_cores,
        })
    }
}

/// Sends junk to `target` at `rate`/s from `sources` addresses in turn
/// until `stop`; returns how many it sent.
fn flood(target: SocketAddr, rate: u64, sources: u32, stop: &AtomicBool) -> anyhow::Result<u64> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, SockaddrIn};
    use std::os::fd::AsRawFd;
    let socket = UdpSocket::bind("0.0.0.0:0").context("flood socket")?;
    socket.set_nonblocking(true)?;
    let SocketAddr::V4(target) = target else {
        anyhow::bail!("the flood targets IPv4 loopback");
    };
    let to = SockaddrIn::from(target);
    let first = u32::from(Ipv4Addr::new(127, 1, 0, 0));
    // Junk that is not even RADIUS-shaped past its first bytes; varied.
    let mut junk = [0u8; 64];
    let started = Instant::now();
    let mut sent = 0u64;
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        // Pace in 1 ms slices: send what the rate allows so far.
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        if sent >= due {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        for _ in 0..(due - sent).min(512) {
            let src = first + (i % sources.max(1));
            i = i.wrapping_add(1);
            junk[..4].copy_from_slice(&i.to_be_bytes());
            junk[8..12].copy_from_slice(&src.to_be_bytes());
            let info = nix::libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: nix::libc::in_addr { s_addr: src.to_be() },
                ipi_addr: nix::libc::in_addr { s_addr: 0 },
            };
            let iov = [std::io::IoSlice::new(&junk)];
            let cmsg = [ControlMessage::Ipv4PacketInfo(&info)];
            // A full socket buffer drops the datagram, as a real flood's would be.
            let _ = sendmsg(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), Some(&to));
            sent += 1;
        }
    }
    Ok(sent)
}

fn one_run(
    args: &Args,
    bin_dir: &Path,
    rt: &tokio::runtime::Runtime,
    sources: u32,
    starts: u64,
) -> anyhow::Result<FloodRun> {
    let listen: SocketAddr = format!("127.0.0.1:{}", rras_testkit::free_udp_port()).parse()?;
    // The load names NASes 127.0.0.1–4 (radload::session_packet): one
    // client for the lot; the junk comes from 127.1/16, outside it.
    let client = format!("127.0.0.0/29={SECRET}");
    let daemon = DaemonProcess::start(
        &bin_dir.join("rrasd"),
        &["--radius-acct", &listen.to_string(), "--radius-client", &client],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let (stop, rate) = (stop.clone(), args.flood_rate);
        std::thread::spawn(move || flood(listen, rate, sources, &stop))
    };
    // Let the flood reach full rate (and its first drops be logged) first.
    std::thread::sleep(Duration::from_secs(2));
    let log_before = daemon.log().len() as u64;
    let cpu_before = crate::process_stats::cpu_secs(daemon.pid());
    let flood_from = Instant::now();
    let load = rt.block_on(radload::run(&LoadSpec {
        target: listen,
        secret: SECRET.as_bytes().to_vec(),
        sockets: args.sockets.min(8),
        window: args.window.min(16),
        first: 0,
        count: starts,
        mix: Mix::Starts,
        retransmit_after: Duration::from_secs(1),
        time_cap: args.time_cap(),
    }));
    // Keep flooding a while after the Starts: the log is measured over a
    // span long enough to hold several 10 s summary periods.
    let tail = Duration::from_secs(args.flood_secs).saturating_sub(flood_from.elapsed());
    std::thread::sleep(tail);
    let log_bytes = (daemon.log().len() as u64).saturating_sub(log_before);
    let flood_secs = flood_from.elapsed().as_secs_f64();
    let daemon_cores = (crate::process_stats::cpu_secs(daemon.pid()) - cpu_before) / flood_secs.max(1e-9);
    stop.store(true, Ordering::Relaxed);
    let total_junk = flooder.join().map_err(|_| anyhow::anyhow!("flood thread panicked"))??;
    let load = load?;
    drop(daemon);
    Ok(FloodRun {
        sources,
        starts,
        acked: load.acked,
        retransmissions: load.retransmissions,
        elapsed: load.elapsed,
        p99_ms: load.latency_ms(99.0),
        // Pro rata: the junk of the measured span (the flood ran 2 s before it).
        junk_sent: (total_junk as f64 * flood_secs / (flood_secs + 2.0)) as u64,
        flood_secs,
        log_bytes,
        daemon_cores,
    })
}

/// Both runs, a table, and `flood.json`.
pub(crate) fn run(args: &Args, bin_dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let starts = args.sessions.first().copied().unwrap_or(10_000);
    println!(
        "flood: {starts} Starts from the configured NAS beside {} junk datagrams/s, from 1 and from {} unknown addresses",
        args.flood_rate, args.flood_sources
    );
    let one = one_run(args, bin_dir, rt, 1, starts)?;
    let many = one_run(args, bin_dir, rt, args.flood_sources, starts)?;
    let ratio = many.elapsed.as_secs_f64() / one.elapsed.as_secs_f64().max(1e-9);
    println!("\n| measure | 1 junk source | {} junk sources |", many.sources);
    println!("|---|---|---|");
    let row = |name: &str, f: &dyn Fn(&FloodRun) -> String| println!("| {name} | {} | {} |", f(&one), f(&many));
    row("junk datagrams/s reached", &|r| format!("{:.0}", r.junk_rate()));
    row("Starts acknowledged / sent", &|r| format!("{} / {}", r.acked, r.starts));
    row("time for the Starts", &|r| format!("{:.2} s", r.elapsed.as_secs_f64()));
    row("ack p99", &|r| format!("{:.2} ms", r.p99_ms));
    row("retransmissions", &|r| r.retransmissions.to_string());
    row("log growth per minute of flood", &|r| {
        format!("{:.1} KB", r.log_bytes_per_minute() / 1000.0)
    });
    row("rrasd CPU during the flood", &|r| {
        format!("{:.2} cores", r.daemon_cores)
    });
    println!(
        "\nmany sources / one source time: {ratio:.2}x (target ≤ 2x); lost: {} (target 0)",
        many.starts - many.acked.min(many.starts)
    );
    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join("flood.json");
    let out = json!({"scenario": "flood", "one_source": one.json(), "many_sources": many.json(), "time_ratio": ratio});
    std::fs::write(&file, serde_json::to_string_pretty(&out)?)?;
    println!("(JSON: {})", file.display());
    Ok(())
}
