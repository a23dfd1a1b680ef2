//! `rasctl fleet`: every rrasd of a fleet in one view, read from NATS
//! JetStream (no rrasd admin socket involved), and fleet-wide disconnect.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use rras_fleet::options::{Connects, Reconnect};
use rras_fleet::{FleetNames, FleetOptions, FleetReader, ServerClients};
use serde::Serialize;

use crate::output::{human_bytes, human_duration, ConnectionJson};

/// How to reach the fleet's NATS (NATS conventions; secrets from files).
#[derive(Debug, clap::Args)]
pub(crate) struct NatsArgs {
    /// NATS server URLs, comma-separated.
    #[arg(
        long,
        value_name = "URL",
        env = "RRAS_FLEET_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats: String,
    /// NATS user (with --nats-password-file).
    #[arg(long, value_name = "USER", requires = "nats_password_file")]
    nats_user: Option<String>,
    /// File whose first line is the NATS password.
    #[arg(long, value_name = "FILE", requires = "nats_user")]
    nats_password_file: Option<PathBuf>,
    /// NATS .creds file.
    #[arg(long, value_name = "FILE", env = "NATS_CREDS")]
    nats_creds: Option<PathBuf>,
    /// File holding an nkey seed.
    #[arg(long, value_name = "FILE")]
    nats_nkey: Option<PathBuf>,
    /// CA of the NATS servers' certificates.
    #[arg(long, value_name = "FILE")]
    nats_ca: Option<PathBuf>,
}

impl NatsArgs {
    /// The client, and its connection events: NATS answers a forbidden
    /// request with silence, and the events say it was a refusal.
    async fn connect(&self) -> anyhow::Result<(async_nats::Client, Arc<Connects>)> {
        let options = self.options()?;
        let connects = Arc::new(Connects::default());
        let client = options
            .connect_watched("rasctl fleet", Reconnect::Fail, connects.clone())
            .await?;
        Ok((client, connects))
    }

    /// The options these flags give, checked.
    fn options(&self) -> anyhow::Result<FleetOptions> {
        let options = FleetOptions {
            url: Some(self.nats.clone()),
            user: self.nats_user.clone(),
            password_file: self.nats_password_file.clone(),
            creds_file: self.nats_creds.clone(),
            nkey_seed_file: self.nats_nkey.clone(),
            tls_ca: self.nats_ca.clone(),
            ..Default::default()
        };
        options.validate().map_err(|e| anyhow::anyhow!("fleet: {e}"))?;
        Ok(options)
    }
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum FleetCommand {
    /// Every connection of every node (the merged view).
    Connections {
        #[command(flatten)]
        nats: NatsArgs,
        /// JSON array (each connection as `rasctl connections --json`,
        /// plus node, node_name, stale).
        #[arg(long, conflicts_with = "jsonl")]
        json: bool,
        /// One JSON object per line.
        #[arg(long)]
        jsonl: bool,
        /// Only this node (id, id prefix or name).
        #[arg(long)]
        node: Option<String>,
        /// Only this user.
        #[arg(long)]
        user: Option<String>,
    },
    /// The nodes: name, version, connections, last heartbeat, lag.
    Nodes {
        #[command(flatten)]
        nats: NatsArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Hang up a connection on whichever node has it: NODE:HANDLE (node id,
    /// id prefix or name). The node carries it out under its own rules and
    /// audits it as fleet:OPERATOR.
    Disconnect {
        #[command(flatten)]
        nats: NatsArgs,
        /// NODE:HANDLE.
        target: String,
        /// The operator to ask as: the name your NATS user is allowed to
        /// send fleet requests as (docs/fleet.md) [default: --nats-user,
        /// else $USER].
        #[arg(long = "as", value_name = "OPERATOR")]
        operator: Option<String>,
    },
    /// The accounting history of every node, merged newest end first: each
    /// node answers for its own (at most 1,000 rows each), with the same
    /// filters as `rasctl history`.
    History {
        #[command(flatten)]
        nats: NatsArgs,
        #[command(flatten)]
        filters: crate::history::HistoryArgs,
    },
    /// Every node's usage report over the period, side by side, and the
    /// fleet's sum (the same options as `rasctl usage`).
    Usage {
        #[command(flatten)]
        nats: NatsArgs,
        #[command(flatten)]
        args: crate::usage::UsageArgs,
    },
    /// Purge every node's delete markers older than --older-than (the
    /// janitor's job when nodes have their own NATS users and may not
    /// purge; run it from a timer with a user that may, docs/fleet.md).
    PurgeMarkers {
        #[command(flatten)]
        nats: NatsArgs,
        /// Age in seconds a marker must have (readers cut off from NATS
        /// for longer must reload) [default: 3600].
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        older_than: u64,
    },
}

#[derive(Serialize)]
struct FleetConnectionJson<'a> {
    node: &'a str,
    node_name: &'a str,
    stale: bool,
    #[serde(flatten)]
    connection: ConnectionJson<'a>,
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

pub(crate) async fn run(command: FleetCommand) -> anyhow::Result<()> {
    let names = FleetNames::default();
    match command {
        FleetCommand::Connections {
            nats,
            json,
            jsonl,
            node,
            user,
        } => {
            let (client, connects) = nats.connect().await?;
            // A large bucket is read from the server its consumer is on.
            let servers = Arc::new(ServerClients::new(nats.options()?, "rasctl fleet"));
            let reader = FleetReader::open(&client, &names, Some(connects), Some(servers)).await?;
            let view = reader.view();
            let node = node.map(|n| view.find_node(&n).map(str::to_owned)).transpose()?;
            let now = SystemTime::now();
            let rows: Vec<_> = view
                .connections()
                .into_iter()
                .filter(|c| node.as_deref().is_none_or(|n| c.node == n))
                .filter_map(|c| c.connection().map(|conn| (c, conn)))
                .filter(|(_, conn)| {
                    user.as_deref()
                        .is_none_or(|u| conn.info.user_name.eq_ignore_ascii_case(u))
                })
                .collect();
            if json || jsonl {
                let objects = rows.iter().map(|(c, conn)| FleetConnectionJson {
                    node: c.node,
                    node_name: view.node_name(c.node),
                    stale: c.stale,
                    connection: ConnectionJson::new(conn, now),
                });
                if jsonl {
                    for o in objects {
                        println!("{}", serde_json::to_string(&o)?);
                    }
                } else {
                    println!("{}", serde_json::to_string_pretty(&objects.collect::<Vec<_>>())?);
                }
                return Ok(());
            }
            let mut table = table([
                "Node",
                "Handle",
                "User",
                "Engine",
                "Iface",
                "Client IP",
                "Duration",
                "Rx",
                "Tx",
                "State",
            ]);
            for (c, conn) in &rows {
                let i = &conn.info;
                table.add_row(crate::output::escaped([
                    view.node_name(c.node).to_owned(),
                    c.handle.to_string(),
                    i.account(),
                    i.source.engine.to_string(),
                    i.interface_name.clone(),
                    i.client_address().map(|a| a.to_string()).unwrap_or_default(),
                    human_duration(i.connect_duration(now)),
                    human_bytes(i.stats.bytes_rcved),
                    human_bytes(i.stats.bytes_xmited),
                    if c.stale { "stale" } else { "live" }.to_owned(),
                ]));
            }
            println!("{table}");
            let stale = rows.iter().filter(|(c, _)| c.stale).count();
            println!(
                "{} connection(s) on {} node(s), {stale} stale",
                rows.len(),
                view.nodes().len()
            );
            Ok(())
        }
        FleetCommand::Nodes { nats, json } => {
            let (client, connects) = nats.connect().await?;
            let view = FleetReader::nodes(&client, &names, Some(&connects)).await?;
            let now = SystemTime::now();
            if json {
                let nodes: Vec<_> = view
                    .nodes()
                    .iter()
                    .map(|(id, s)| {
                        serde_json::json!({
                            "node": id,
                            "stale": s.is_stale(now),
                            "beat": s.beat,
                            "lag": s.beat.as_ref().map(|b| b.lag()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&nodes)?);
                return Ok(());
            }
            let mut table = table([
                "Node",
                "Name",
                "Version",
                "Connections",
                "Last heartbeat",
                "Lag",
                "State",
            ]);
            for (id, s) in view.nodes() {
                let state = if s.is_stale(now) {
                    "stale"
                } else {
                    s.beat.as_ref().map_or("?", |b| b.state.as_str())
                };
                let (name, version, connections, ago, lag) = match &s.beat {
                    Some(b) => (
                        b.name.clone(),
                        b.version.clone(),
                        b.connections.to_string(),
                        b.at()
                            .and_then(|at| now.duration_since(at).ok())
                            .map_or_else(|| "in the future".into(), |ago| format!("{} ago", human_duration(ago))),
                        b.lag().to_string(),
                    ),
                    None => Default::default(),
                };
                table.add_row(crate::output::escaped([
                    id.clone(),
                    name,
                    version,
                    connections,
                    ago,
                    lag,
                    state.to_owned(),
                ]));
            }
            println!("{table}");
            Ok(())
        }
        FleetCommand::Disconnect { nats, target, operator } => {
            let (node, handle) = target
                .rsplit_once(':')
                .filter(|(n, _)| !n.is_empty())
                .and_then(|(n, h)| Some((n, h.parse::<u32>().ok()?)))
                .context("expected NODE:HANDLE (node id, id prefix or name, and a connection handle)")?;
            let (client, connects) = nats.connect().await?;
            let view = FleetReader::nodes(&client, &names, Some(&connects)).await?;
            let node = view.find_node(node)?;
            let operator = operator
                .or_else(|| nats.nats_user.clone())
                .or_else(|| std::env::var("USER").ok())
                .or_else(|| std::env::var("LOGNAME").ok())
                .unwrap_or_else(|| "rasctl".into());
            rras_fleet::disconnect(&client, Some(&connects), &names, node, handle, &operator)
                .await
                .map_err(|e| connects.explain(e))?;
            println!(
                "disconnected {handle} on {} ({node}) as {operator}",
                rras_core::display::escape(view.node_name(node))
            );
            Ok(())
        }
        FleetCommand::History { nats, filters } => history(&names, &nats, &filters).await,
        FleetCommand::Usage { nats, args } => usage(&names, &nats, &args).await,
        FleetCommand::PurgeMarkers { nats, older_than } => {
            let (client, connects) = nats.connect().await?;
            let js = async_nats::jetstream::new(client);
            let report = rras_fleet::purge_markers(&js, &names, std::time::Duration::from_secs(older_than))
                .await
                .map_err(|e| connects.explain(e))?;
            println!(
                "purged {} marker(s) older than {}; {} younger kept; {} key(s) listed",
                report.purged,
                human_duration(std::time::Duration::from_secs(older_than)),
                report.kept,
                report.keys
            );
            Ok(())
        }
    }
}

/// `rasctl fleet usage`: every node asked at once, the reports side by side
/// and added up.
async fn usage(names: &FleetNames, nats: &NatsArgs, args: &crate::usage::UsageArgs) -> anyhow::Result<()> {
    use rras_fleet::usage::{UsageRequest, MAX_TOP};
    let to = args.until.unwrap_or_else(SystemTime::now);
    let request = UsageRequest::new(args.since, to, args.top.min(MAX_TOP), args.by_time);
    request.period().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (client, connects) = nats.connect().await?;
    let view = FleetReader::nodes(&client, names, Some(&connects)).await?;
    let nodes: Vec<String> = view.nodes().keys().cloned().collect();
    let answers = rras_fleet::usage::usage(&client, names, &nodes, &request).await;
    let mut reports = Vec::new();
    for a in &answers {
        match &a.answer {
            Ok(report) => reports.push((a.node.as_str(), view.node_name(&a.node), report)),
            Err(e) => eprintln!(
                "rasctl: {} ({}): {}",
                rras_core::display::escape(view.node_name(&a.node)),
                a.node,
                e
            ),
        }
    }
    anyhow::ensure!(!reports.is_empty() || answers.is_empty(), "no node answered");
    let all: Vec<&rras_core::usage::UsageReport> = reports.iter().map(|(_, _, r)| *r).collect();
    let fleet = rras_fleet::usage::add_up(&all, args.top as usize, request.by());
    crate::usage::write_fleet(args, &reports, &fleet)
}

/// The most rows `rasctl fleet history` gathers.
const MAX_FLEET_ROWS: u64 = 1_000_000;

/// `rasctl fleet history`: every node asked at once, the answers merged.
async fn history(names: &FleetNames, nats: &NatsArgs, filters: &crate::history::HistoryArgs) -> anyhow::Result<()> {
    use rras_fleet::history::{HistoryRequest, MAX_ROWS};
    anyhow::ensure!(
        !filters.live,
        "--live is for one node (rasctl history); the fleet's live connections are `rasctl fleet connections`"
    );
    let (client, connects) = nats.connect().await?;
    let view = FleetReader::nodes(&client, names, Some(&connects)).await?;
    let nodes: Vec<String> = view.nodes().keys().cloned().collect();
    // Page through the nodes, each from its own cursor, until --limit rows
    // (every one exactly once: docs/fleet.md).
    let limit = usize::try_from(filters.limit.min(MAX_FLEET_ROWS)).unwrap_or(0);
    let base = HistoryRequest::of(&filters.query(), MAX_ROWS);
    let mut cursor = rras_fleet::history::FleetCursor::default();
    let mut rows: Vec<(String, rras_fleet::history::HistoryRow)> = Vec::new();
    let mut failed = 0;
    while rows.len() < limit && !cursor.all_done(&nodes) {
        let want = (limit - rows.len()).min(MAX_ROWS as usize);
        let request = HistoryRequest {
            limit: u32::try_from(want).unwrap_or(MAX_ROWS),
            ..base.clone()
        };
        let answers = rras_fleet::history::history(&client, names, &nodes, &request, &cursor).await;
        for a in &answers {
            if let Err(e) = &a.answer {
                failed += 1;
                eprintln!(
                    "rasctl: {} ({}): {}",
                    rras_core::display::escape(view.node_name(&a.node)),
                    a.node,
                    e
                );
            }
        }
        let taken = cursor.take(&answers, want);
        if taken.is_empty() {
            break;
        }
        rows.extend(taken.into_iter().map(|(node, r)| (node.to_owned(), r.clone())));
    }
    anyhow::ensure!(failed < nodes.len() || nodes.is_empty(), "no node answered");
    // The nodes' numbers are not trusted to fit a SystemTime.
    let time = rras_core::csv::rfc3339_secs;
    if filters.csv {
        let mut out = String::from("node,node_name,handle,user,engine,instance,nas,ipv4,ipv6,started_at,ended_at,reason,bytes_in,bytes_out\r\n");
        for (node, r) in &rows {
            let cells = [
                node.to_string(),
                view.node_name(node).to_owned(),
                r.handle.to_string(),
                r.user.clone(),
                r.engine.clone(),
                r.instance.clone(),
                r.nas.clone(),
                r.ipv4.map(|a| a.to_string()).unwrap_or_default(),
                r.ipv6.map(|a| a.to_string()).unwrap_or_default(),
                time(r.started),
                time(r.ended),
                r.reason.clone(),
                r.bytes_in.to_string(),
                r.bytes_out.to_string(),
            ];
            out.push_str(&rras_core::csv::line(&cells));
            out.push_str("\r\n");
        }
        print!("{out}");
    } else if filters.json || filters.jsonl {
        let objects: Vec<serde_json::Value> = rows
            .iter()
            .map(|(node, r)| {
                let mut o = serde_json::to_value(r).unwrap_or_default();
                o["node"] = serde_json::json!(node);
                o["node_name"] = serde_json::json!(view.node_name(node));
                o["started_at"] = serde_json::json!(time(r.started));
                o["ended_at"] = serde_json::json!(time(r.ended));
                o
            })
            .collect();
        if filters.jsonl {
            for o in &objects {
                println!("{}", serde_json::to_string(o)?);
            }
        } else {
            println!("{}", serde_json::to_string_pretty(&objects)?);
        }
    } else {
        let mut t = table([
            "Node", "Handle", "User", "Engine", "Address", "Ended", "Duration", "Reason", "Rx", "Tx",
        ]);
        for (node, r) in &rows {
            t.add_row(crate::output::escaped([
                view.node_name(node).to_owned(),
                r.handle.to_string(),
                r.user.clone(),
                r.engine.clone(),
                r.ipv4
                    .map(|a| a.to_string())
                    .or(r.ipv6.map(|a| a.to_string()))
                    .unwrap_or_default(),
                time(r.ended),
                human_duration(std::time::Duration::from_secs(r.ended.saturating_sub(r.started))),
                r.reason.clone(),
                crate::output::human_bytes(r.bytes_in),
                crate::output::human_bytes(r.bytes_out),
            ]));
        }
        println!("{t}");
    }
    Ok(())
}
