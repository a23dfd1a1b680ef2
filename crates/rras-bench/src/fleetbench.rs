//! The fleet on NATS JetStream: `--nodes` rrasd processes sharing
//! `--sessions` live RADIUS sessions, publishing to a three-server
//! nats-server cluster (buckets at three replicas). Measures how long the
//! fleet takes to hold everything (publish catch-up), how long a reader
//! takes to build the complete merged view and the memory it holds per
//! connection, and — with the view live — send → visible latency of
//! Interim-Updates at `--fleet-rate` per second spread over the nodes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rras_fleet::{FleetNames, FleetOptions, FleetReader, ServerClients};
use rras_sources::radius::attributes::{ACCT_INPUT_OCTETS, STATUS_INTERIM};
use rras_testkit::nats::NatsCluster;
use rras_testkit::DaemonProcess;
use serde_json::json;
use tokio::net::UdpSocket;

use crate::harness::SECRET;
use crate::process_stats::{cpu_secs_of as cpu, rss_bytes};
use crate::radload::{self, session_packet, LoadSpec, Mix};
use crate::Args;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn options(cluster: &NatsCluster, user: &str) -> anyhow::Result<FleetOptions> {
    let pw = cluster.path().join(format!("{user}.pw"));
    std::fs::write(&pw, format!("{user}-pw\n"))?;
    Ok(FleetOptions {
        url: Some(cluster.urls()),
        user: Some(user.into()),
        password_file: Some(pw),
        ..Default::default()
    })
}

struct Node {
    daemon: DaemonProcess,
    target: std::net::SocketAddr,
    first: u64,
    count: u64,
}

/// Waits until every node's heartbeat says all its connections are
/// published; returns how long that took.
async fn wait_published(
    client: &async_nats::Client,
    nodes: usize,
    per_node: u64,
    cap: Duration,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        // No bucket yet: no node has reached NATS so far.
        let done = match FleetReader::nodes(client, &FleetNames::default(), None).await {
            Ok(view) => view
                .nodes()
                .values()
                .filter_map(|s| s.beat.as_ref())
                .filter(|b| b.connections == per_node && b.lag() == 0 && b.state == "synced")
                .count(),
            Err(rras_fleet::FleetError::NoBucket(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        if done == nodes {
            return Ok(start.elapsed());
        }
        anyhow::ensure!(
            start.elapsed() < cap,
            "only {done} of {nodes} nodes published everything in {cap:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Interim-Updates at `rate`/s over every node's sessions for `secs`, each
/// carrying its send time (ms since 1970) as Acct-Input-Octets' low bits.
/// Returns how many were sent and each one's send → durable RADIUS ack
/// time in µs (the node's share of the path to the fleet view).
async fn updates(
    nodes: Vec<(std::net::SocketAddr, u64, u64)>,
    rate: u64,
    secs: u64,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(u64, Vec<u64>)> {
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    // Send times by RADIUS identifier: 256 in flight at most, far more
    // than a second's worth at the rates used here ack in time.
    let sent_at = Arc::new(std::sync::Mutex::new([None::<Instant>; 256]));
    let answers = {
        let (sock, sent_at, stop) = (sock.clone(), sent_at.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acks = Vec::new();
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(100), sock.recv_from(&mut buf)).await
                else {
                    continue;
                };
                if n < 2 {
                    continue;
                }
                let at = sent_at.lock().ok().and_then(|mut s| s[usize::from(buf[1])].take());
                if let Some(at) = at {
                    acks.push(at.elapsed().as_micros() as u64);
                }
            }
            acks
        })
    };
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut sent, mut id) = (0u64, 0u8);
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for _ in 0..per_tick {
            let (target, first, count) = nodes[(sent % nodes.len() as u64) as usize];
            let session = first + (sent / nodes.len() as u64) % count;
            let mut packet = session_packet(session, STATUS_INTERIM, id, sent);
            let stamp = (now_ms() as u32).to_be_bytes().to_vec();
            for a in &mut packet.attributes {
                if a.0 == ACCT_INPUT_OCTETS {
                    a.1 = stamp.clone();
                }
            }
            if let Ok(mut s) = sent_at.lock() {
                s[usize::from(id)] = Some(Instant::now());
            }
            sock.send_to(&packet.encode_request(SECRET.as_bytes()), target).await?;
            id = id.wrapping_add(1);
            sent += 1;
        }
    }
    // The last answers, then the receiver stops.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acks = answers.await?;
    acks.sort_unstable();
    Ok((sent, acks))
}

pub(crate) fn run(args: &Args, bin_dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let n = args.sessions.first().copied().unwrap_or(100_000);
    let k = args.nodes;
    let per_node = n / k as u64;
    anyhow::ensure!(per_node > 0, "--sessions must be at least --nodes");
    let cluster = NatsCluster::start();
    println!("nats: 3 servers at {}", cluster.urls());
    let pw = cluster.path().join("rrasd.pw");
    std::fs::write(&pw, "rrasd-pw\n")?;
    let mut nodes = Vec::new();
    for i in 0..k {
        let config = cluster.path().join(format!("node{i}.toml"));
        std::fs::write(
            &config,
            format!(
                "[fleet]\nurl = \"{}\"\nuser = \"rrasd\"\npassword_file = \"{}\"\nreplicas = 3\nheartbeat_secs = 1\nname = \"node{i}\"\n",
                cluster.urls(),
                pw.display()
            ),
        )?;
        let listen = format!("127.0.0.1:{}", rras_testkit::free_udp_port());
        let daemon = DaemonProcess::start(
            &bin_dir.join("rrasd"),
            &[
                "--config",
                &config.display().to_string(),
                "--radius-acct",
                &listen,
                "--radius-client",
                &format!("127.0.0.0/8={SECRET}"),
            ],
        );
        nodes.push(Node {
            daemon,
            target: listen.parse()?,
            first: i as u64 * per_node,
            count: per_node,
        });
    }
    // Load every node at once; the fleet publishes as the feed flows.
    let loading = Instant::now();
    let specs: Vec<LoadSpec> = nodes
        .iter()
        .map(|node| LoadSpec {
            target: node.target,
            secret: SECRET.as_bytes().to_vec(),
            sockets: (args.sockets / k).max(1),
            window: args.window,
            first: node.first,
            count: node.count,
            mix: Mix::Starts,
            retransmit_after: Duration::from_secs(1),
            time_cap: args.time_cap(),
        })
        .collect();
    let loads = rt.block_on(async {
        let tasks: Vec<_> = specs
            .into_iter()
            .map(|s| tokio::spawn(async move { radload::run(&s).await }))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await??);
        }
        anyhow::Ok(out)
    })?;
    let acked: u64 = loads.iter().map(|l| l.acked).sum();
    anyhow::ensure!(acked == per_node * k as u64, "only {acked} Starts acknowledged");
    let loaded = loading.elapsed();
    let viewer = options(&cluster, "viewer")?;
    let client = rt.block_on(viewer.connect("rras-bench", rras_fleet::options::Reconnect::Fail))?;
    // The reader reads the connections from the server its consumer is on.
    let placement = Arc::new(ServerClients::new(viewer.clone(), "rras-bench"));
    let catch_up = rt.block_on(wait_published(&client, k, per_node, args.time_cap()))?;
    let total = per_node * k as u64;
    println!("loaded {total} sessions on {k} nodes in {loaded:.2?}; fleet caught up {catch_up:.2?} after the last ack");
    // What the nodes warned of while publishing (resyncs, reconnects).
    for (i, node) in nodes.iter().enumerate() {
        let log = node.daemon.log();
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
        if let Some(last) = warnings.last() {
            println!("node{i}: {} warnings, the last: {last}", warnings.len());
        }
    }

    // The complete merged view, best of --rounds, each from a fresh reader.
    let mut best = Duration::MAX;
    let mut per_connection = 0u64;
    let (me, servers) = ([std::process::id()], cluster.pids());
    for round in 0..args.rounds.max(1) {
        let before = rss_bytes(std::process::id());
        let (cpu_me, cpu_servers) = (cpu(&me), cpu(&servers));
        let started = Instant::now();
        let reader = rt.block_on(FleetReader::open(
            &client,
            &FleetNames::default(),
            None,
            Some(placement.clone()),
        ))?;
        let took = started.elapsed();
        println!(
            "view round {round}: {took:.3?}; CPU meanwhile: reader process {:.2} s, nats servers {:.2} s",
            cpu(&me) - cpu_me,
            cpu(&servers) - cpu_servers
        );
        anyhow::ensure!(
            reader.view().len() as u64 == total,
            "view has {} of {total}",
            reader.view().len()
        );
        let held = rss_bytes(std::process::id()).saturating_sub(before);
        // Memory from the first open only: later ones reuse what the
        // first freed, and RSS does not shrink.
        if round == 0 {
            per_connection = held / total;
            let records: usize = reader.view().connections().iter().map(|c| c.record().len()).sum();
            println!("records: {} B each on average", records / total as usize);
        }
        best = best.min(took);
        drop(reader);
    }
    println!("merged view of {total}: {best:.3?}, reader RSS {per_connection} B per connection");

    // Live: updates → visible in the view.
    let mut reader = rt.block_on(FleetReader::open(
        &client,
        &FleetNames::default(),
        None,
        Some(placement.clone()),
    ))?;
    let stop = Arc::new(AtomicBool::new(false));
    let targets: Vec<_> = nodes.iter().map(|n| (n.target, n.first, n.count)).collect();
    let rate = args.fleet_rate;
    let secs = args.watch_secs;
    let driver = rt.spawn(updates(targets, rate, secs, stop.clone()));
    let mut latencies: Vec<u64> = Vec::new();
    let mut last_stamp: HashMap<(String, u32), u64> = HashMap::new();
    let observe_until = Instant::now() + Duration::from_secs(secs + 3);
    rt.block_on(async {
        while Instant::now() < observe_until {
            let Ok(event) = tokio::time::timeout(Duration::from_millis(200), reader.next()).await else {
                continue;
            };
            if let rras_fleet::view::FleetEvent::Put(key) = event? {
                let now = now_ms() as u32;
                let Some(c) = reader.view().get(&key.node, key.handle).and_then(|c| c.connection()) else {
                    continue;
                };
                let stamp = c.info.stats.bytes_rcved as u32;
                // Only updates sent during this run (the Starts carry no stamp).
                if stamp != 0 && last_stamp.insert((key.node, key.handle), u64::from(stamp)) != Some(u64::from(stamp)) {
                    latencies.push(u64::from(now.wrapping_sub(stamp)));
                }
            }
        }
        anyhow::Ok(())
    })?;
    stop.store(true, Ordering::Relaxed);
    let (sent, acks) = rt.block_on(driver)??;
    let ack_ms = |q: f64| radload::percentile(&acks, q) as f64 / 1000.0;
    latencies.retain(|l| *l < 600_000);
    latencies.sort_unstable();
    let p = |q: f64| radload::percentile(&latencies, q);
    println!("\n## fleet: {k} rrasd × {per_node} sessions, 3 nats-server (R3), {rate} updates/s for {secs} s\n");
    println!("| measure | openrras |");
    println!("|---|---:|");
    println!("| RADIUS Starts acknowledged (all nodes at once) | {total} in {loaded:.2?} |");
    println!("| fleet caught up after the last ack | {catch_up:.2?} |");
    println!(
        "| merged view complete (FleetReader::open, best of {}) | {best:.3?} |",
        args.rounds.max(1)
    );
    println!("| reader RSS per connection (first open) | {per_connection} B |");
    println!("| updates sent / seen in the view | {sent} / {} |", latencies.len());
    println!(
        "| of that, send → the node's durable RADIUS ack p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        ack_ms(50.0),
        ack_ms(99.0),
        ack_ms(100.0)
    );
    println!(
        "| send → visible p50 / p99 / max | {} / {} / {} ms |",
        p(50.0),
        p(99.0),
        p(100.0)
    );
    let v = json!({
        "scenario": "fleet", "sessions": total, "nodes": k, "load_secs": loaded.as_secs_f64(),
        "catch_up_secs": catch_up.as_secs_f64(), "view_secs": best.as_secs_f64(), "reader_bytes_per_connection": per_connection,
        "rate": rate, "secs": secs, "sent": sent, "seen": latencies.len(),
        "p50_ms": p(50.0), "p99_ms": p(99.0), "max_ms": p(100.0),
        "node_ack_p50_ms": ack_ms(50.0), "node_ack_p99_ms": ack_ms(99.0),
    });
    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join(format!("fleet-{total}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(&v)?)?;
    println!("\n(JSON: {})", file.display());
    Ok(())
}
