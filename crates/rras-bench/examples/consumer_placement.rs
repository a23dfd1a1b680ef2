//! What a fleet reader's consumer costs depending on where nats-server puts
//! it. nats-server 2.9 places an ephemeral (ordered) consumer of a
//! three-replica stream on a random replica; this fills a bucket-shaped
//! stream with N messages, connects a client to server n0, and delivers the
//! whole stream twelve times through fresh ordered consumers, printing where
//! each landed, how it was read (a consumer on another server alternately
//! over the route and over a second connection to that server, as
//! `rras_fleet::ServerClients` does), how long delivery took and the
//! servers' CPU.
//!
//! `cargo run --release -p rras-bench --example consumer_placement -- 300000`
//! (needs nats-server; numbers in docs/benchmarks-notebook.md, "Fleet on NATS JetStream").

use anyhow::Context;
use async_nats::jetstream;
use futures_util::StreamExt;
use rras_testkit::nats::NatsCluster;

/// User + system CPU seconds of the processes, from /proc.
fn cpu_secs(pids: &[u32]) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for p in pids {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat"))?;
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("odd /proc stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks: f64 =
            fields.get(11).context("utime")?.parse::<f64>()? + fields.get(12).context("stime")?.parse::<f64>()?;
        total += ticks / 100.0;
    }
    Ok(total)
}

async fn connect(url: &str) -> anyhow::Result<async_nats::Client> {
    let urls: Vec<String> = url.split(',').map(str::to_owned).collect();
    Ok(
        async_nats::ConnectOptions::with_user_and_password("rrasd".into(), "rrasd-pw".into())
            .connect(urls.as_slice())
            .await?,
    )
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(300_000);
    let cluster = NatsCluster::start();
    let pids = cluster.pids();
    tokio::runtime::Runtime::new()?.block_on(async {
        let js = jetstream::new(connect(&cluster.urls()).await?);
        js.get_or_create_stream(jetstream::stream::Config {
            name: "KV_placement".into(),
            subjects: vec!["$KV.placement.>".into()],
            num_replicas: 3,
            max_messages_per_subject: 1,
            allow_direct: true,
            ..Default::default()
        })
        .await?;
        let value = bytes::Bytes::from(vec![b'x'; 150]);
        let mut acks = Vec::new();
        for i in 0..n {
            acks.push(js.publish(format!("$KV.placement.node.{i}"), value.clone()).await?);
            if acks.len() >= 2000 || i + 1 == n {
                for a in acks.drain(..) {
                    a.await?;
                }
            }
        }
        let client = connect(&cluster.url(0)).await?;
        let here = client.server_info().server_name;
        let js = jetstream::new(client);
        // One more connection to each server: a consumer that landed
        // elsewhere is read there every other time (what
        // rras_fleet::ServerClients does), over the route otherwise.
        let mut on = std::collections::HashMap::new();
        for i in 0..3 {
            let c = connect(&cluster.url(i)).await?;
            on.insert(c.server_info().server_name, c);
        }
        println!("{n} messages; client on {here}");
        let mut elsewhere = 0;
        for _ in 0..12 {
            let created = std::time::Instant::now();
            let consumer = js
                .get_stream("KV_placement")
                .await?
                .create_consumer(jetstream::consumer::push::OrderedConfig {
                    deliver_subject: js.client().new_inbox(),
                    filter_subject: "$KV.placement.>".into(),
                    deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence: 1 },
                    ..Default::default()
                })
                .await?;
            let created = created.elapsed();
            let there = consumer
                .cached_info()
                .cluster
                .as_ref()
                .and_then(|c| c.leader.clone())
                .unwrap_or_default();
            let (consumer, how) = if there == here {
                (consumer, "its own connection")
            } else {
                elsewhere += 1;
                if elsewhere % 2 == 0 {
                    (consumer, "the route")
                } else {
                    let info = consumer.cached_info().clone();
                    let context = jetstream::new(on.get(&there).context("no connection there")?.clone());
                    let config = jetstream::consumer::push::OrderedConfig {
                        deliver_subject: info.config.deliver_subject.clone().context("a push consumer")?,
                        filter_subject: info.config.filter_subject.clone(),
                        deliver_policy: info.config.deliver_policy,
                        ..Default::default()
                    };
                    (jetstream::consumer::Consumer::new(config, info, context), "a second connection to it")
                }
            };
            let before = cpu_secs(&pids)?;
            let start = std::time::Instant::now();
            let mut messages = consumer.messages().await?;
            for _ in 0..n {
                messages.next().await.context("the consumer ended")??;
            }
            println!(
                "consumer on {there} (created in {created:.1?}), read over {how}: delivered in {:.2?}, servers' CPU {:.2} s",
                start.elapsed(),
                cpu_secs(&pids)? - before
            );
        }
        anyhow::Ok(())
    })
}
