//! The fleet's merged view alone, beside the raw-KV peer: a three-server
//! nats-server cluster (buckets at three replicas) whose connections bucket
//! is filled directly with `--sessions` records over `--nodes` node ids,
//! then read by `FleetReader::open` — from the server its consumer landed
//! on, and over its own connection only (the reader before it read where
//! the consumer is) — and by bare KV watches that only count (the issue's
//! baseline method, and the same watch from the first message), in the same
//! run, `--rounds` times each.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream;
use futures_util::StreamExt;
use rras_core::{ConnectionHandle, Record};
use rras_fleet::{buckets, ConnectionKey, FleetNames, FleetReader, ServerClients};
use rras_testkit::nats::NatsCluster;
use serde_json::json;

use crate::fleetbench::options;
use crate::process_stats::{cpu_secs_of as cpu, rss_bytes};
use crate::Args;

/// Publishes in flight at once while filling.
const WINDOW: usize = 4096;

fn node_id(i: usize) -> String {
    format!("{i:08x}-6f70-4e72-8261-{i:012x}")
}

async fn fill(js: &jetstream::Context, names: &FleetNames, n: u64, k: usize) -> anyhow::Result<u64> {
    let now = SystemTime::now();
    let mut pending = std::collections::VecDeque::new();
    let mut bytes = 0u64;
    for i in 0..n {
        let node = node_id((i % k as u64) as usize);
        let handle = u32::try_from(i / k as u64 + 1)?;
        let info = rras_core::synthetic::connection(i, now);
        let record = Record::encode_info(
            ConnectionHandle::new(handle).ok_or_else(|| anyhow::anyhow!("handle"))?,
            &info,
        );
        bytes += record.as_bytes().len() as u64;
        let subject = names.connection_subject(&ConnectionKey { node, handle });
        pending.push_back(
            js.publish(subject, bytes::Bytes::copy_from_slice(record.as_bytes()))
                .await?,
        );
        if pending.len() >= WINDOW {
            if let Some(ack) = pending.pop_front() {
                ack.await?;
            }
        }
    }
    while let Some(ack) = pending.pop_front() {
        ack.await?;
    }
    Ok(bytes / n.max(1))
}

/// The peer: a bare KV watch that only counts, nothing decoded or kept —
/// the baseline (`last_per_subject`: every key's last message,
/// as `watch_with_history` asks), or from the first message as
/// `FleetReader` asks (the same messages when a bucket keeps one per key).
async fn raw_watch(js: &jetstream::Context, names: &FleetNames, last_per_subject: bool) -> anyhow::Result<u64> {
    let store = js.get_key_value(&names.connections).await?;
    let mut watch = if last_per_subject {
        store.watch_with_history(">").await?
    } else {
        store.watch_all_from_revision(1).await?
    };
    let mut seen = 0u64;
    while let Some(e) = watch.next().await {
        let e = e?;
        seen += 1;
        if e.delta == 0 {
            break;
        }
    }
    Ok(seen)
}

pub(crate) fn run(args: &Args, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let n = args.sessions.first().copied().unwrap_or(100_000);
    let k = args.nodes;
    // JetStream contexts spawn their ack task on the current runtime.
    let _runtime = rt.enter();
    let cluster = NatsCluster::start();
    println!("nats: 3 servers at {}", cluster.urls());
    let names = FleetNames::default();
    let writer =
        rt.block_on(options(&cluster, "rrasd")?.connect("rras-bench", rras_fleet::options::Reconnect::Fail))?;
    let js = jetstream::new(writer.clone());
    rt.block_on(buckets::ensure(&js, &names, 3))?;
    let filling = Instant::now();
    let record_bytes = rt.block_on(fill(&js, &names, n, k))?;
    println!(
        "filled {n} keys over {k} nodes ({record_bytes} B records) in {:.2?}",
        filling.elapsed()
    );
    let viewer = options(&cluster, "viewer")?;
    let reader_client = rt.block_on(viewer.connect("rras-bench", rras_fleet::options::Reconnect::Fail))?;
    let placement = Arc::new(ServerClients::new(viewer, "rras-bench"));
    let mut reader_js = jetstream::new(reader_client.clone());
    // The last-per-subject consumer of the baseline takes the servers
    // seconds to create at a million keys.
    reader_js.set_timeout(Duration::from_secs(120));
    let (me, servers) = (vec![std::process::id()], cluster.pids());
    let mut rounds = Vec::new();
    let mut best = [Duration::MAX; 4];
    let mut per_connection = 0;
    let labels = [
        "openrras FleetReader::open",
        "openrras FleetReader::open, own connection only",
        "raw KV watch, last per subject (the issue's baseline)",
        "raw KV watch, from the first message",
    ];
    // One untimed read first: the servers load the freshly written
    // stream's blocks on its first delivery, which made round 0 of
    // whichever reader went first ~1–2 s slower than the rest.
    let warm = Instant::now();
    let warmed = rt.block_on(raw_watch(&reader_js, &names, false))?;
    println!("warm-up read of {warmed} messages: {:.3?} (untimed)", warm.elapsed());
    for round in 0..args.rounds.max(1) {
        let mut row = Vec::new();
        // The two readers of ours alternate who goes first: the first read
        // of a round finds the servers' caches as the last one left them.
        let order: [usize; 4] = if round % 2 == 0 { [0, 1, 2, 3] } else { [1, 0, 2, 3] };
        for i in order {
            let label = labels[i];
            let placed_before = placement.placed_reads();
            let (c0, s0, m0) = (cpu(&me), cpu(&servers), rss_bytes(std::process::id()));
            let t = Instant::now();
            let seen = if i < 2 {
                let placed = (i == 0).then(|| placement.clone());
                let reader = rt.block_on(FleetReader::open(&reader_client, &names, None, placed))?;
                // The first open only: later ones reuse what it freed.
                if round == 0 && i == order[0] {
                    per_connection = rss_bytes(std::process::id()).saturating_sub(m0) / n;
                }
                reader.view().len() as u64
            } else {
                rt.block_on(raw_watch(&reader_js, &names, i == 2))?
            };
            let took = t.elapsed();
            anyhow::ensure!(seen == n, "{label}: {seen} of {n}");
            let (reader_cpu, server_cpu) = (cpu(&me) - c0, cpu(&servers) - s0);
            let placed = placement.placed_reads() > placed_before;
            let note = if i == 0 && placed {
                ", read over a second connection"
            } else if i == 0 {
                ", consumer on the reader's own server"
            } else {
                ""
            };
            println!(
                "round {round}: {label}: {took:.3?} (CPU: reader {reader_cpu:.2} s, servers {server_cpu:.2} s{note})"
            );
            best[i] = best[i].min(took);
            row.push(json!({"reader": label, "secs": took.as_secs_f64(), "reader_cpu": reader_cpu, "server_cpu": server_cpu, "placed": placed}));
        }
        rounds.push(row);
    }
    println!("\n## fleet view: {n} keys over {k} nodes, 3 nats-server (R3)\n");
    println!("| reader | merged view, best of {} |", args.rounds.max(1));
    println!("|---|---:|");
    for (label, t) in labels.iter().zip(best) {
        println!("| {label} | {t:.3?} |");
    }
    println!("\nFleetReader RSS per connection (first open): {per_connection} B");
    println!(
        "FleetReader::open read {} of {} views over a second connection (the others' consumer was on its own server)",
        placement.placed_reads(),
        args.rounds.max(1)
    );
    let v = json!({"scenario": "fleet-view", "sessions": n, "nodes": k, "record_bytes": record_bytes,
        "view_secs": best[0].as_secs_f64(), "own_connection_secs": best[1].as_secs_f64(),
        "baseline_secs": best[2].as_secs_f64(), "raw_all_secs": best[3].as_secs_f64(),
        "read_where_placed": placement.placed_reads(),
        "reader_bytes_per_connection": per_connection, "rounds": rounds});
    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join(format!("fleet-view-{n}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(&v)?)?;
    println!("\n(JSON: {})", file.display());
    Ok(())
}
