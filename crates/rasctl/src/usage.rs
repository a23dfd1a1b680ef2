//! `rasctl usage`: what a period's sessions add up to (total sessions,
//! unique users, sessions per day, the most at once and when, time, bytes;
//! per engine, the top users, per day), as tables, JSON or CSV.

use std::io::Write;
use std::time::SystemTime;

use rras_client::AdminClient;
use rras_core::usage::{UsageReport, UsageTotals};
use serde_json::json;

use crate::history::parse_time;
use crate::output::{escaped, human_bytes, human_duration};

/// The period and the shape of the output, from the command line.
#[derive(Debug, clap::Args)]
pub(crate) struct UsageArgs {
    /// Start of the period (RFC 3339, `2026-12-01 00:00:00` as UTC, or a
    /// duration ago: `30d`).
    #[arg(long, value_parser = parse_time, default_value = "30d")]
    pub(crate) since: SystemTime,
    /// End of the period [default: now].
    #[arg(long, value_parser = parse_time)]
    pub(crate) until: Option<SystemTime>,
    /// How many users in the top list.
    #[arg(long, default_value_t = 10)]
    pub(crate) top: u32,
    /// Rank users by time connected instead of bytes.
    #[arg(long)]
    pub(crate) by_time: bool,
    /// JSON output.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV: the per-day series, one line a day.
    #[arg(long)]
    csv: bool,
}

fn totals_json(t: &UsageTotals) -> serde_json::Value {
    json!({
        "sessions": t.sessions, "unique_users": t.unique_users, "duration_secs": t.duration_secs,
        "average_duration_secs": t.average_duration_secs(), "bytes_in": t.bytes_in, "bytes_out": t.bytes_out,
    })
}

fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `2026-12-07` of a day's midnight as the daemon sent it (unix seconds,
/// not trusted to fit a SystemTime).
fn day(secs: u64) -> String {
    rras_core::csv::rfc3339_secs(secs)
        .chars()
        .take_while(|c| *c != 'T')
        .collect()
}

/// The whole report as one JSON object.
pub(crate) fn report_json(r: &UsageReport) -> serde_json::Value {
    json!({
        "from": time(r.from),
        "to": time(r.to),
        "totals": totals_json(&r.totals),
        "average_sessions_per_day": r.average_sessions_per_day,
        "max_concurrent": r.max_concurrent,
        "max_concurrent_at": r.max_concurrent_at.map(time),
        "per_engine": r.per_engine.iter().map(|(e, t)| json!({"engine": e.as_str(), "totals": totals_json(t)})).collect::<Vec<_>>(),
        "top_users": r.top_users.iter().map(|u| json!({"user": u.user, "totals": totals_json(&u.totals)})).collect::<Vec<_>>(),
        "per_day": r.per_day.iter().map(|d| json!({
            "day": day(d.day),
            "totals": totals_json(&d.totals),
        })).collect::<Vec<_>>(),
    })
}

fn write_csv(out: &mut impl Write, r: &UsageReport) -> std::io::Result<()> {
    out.write_all(b"day,sessions,unique_users,duration_secs,bytes_in,bytes_out\r\n")?;
    write_csv_days(out, None, r)
}

/// A CSV line per day, after `node`'s cell when there is one.
fn write_csv_days(out: &mut impl Write, node: Option<&str>, r: &UsageReport) -> std::io::Result<()> {
    for d in &r.per_day {
        let t = &d.totals;
        let cells: Vec<String> = node
            .map(str::to_owned)
            .into_iter()
            .chain([
                day(d.day),
                t.sessions.to_string(),
                t.unique_users.to_string(),
                t.duration_secs.to_string(),
                t.bytes_in.to_string(),
                t.bytes_out.to_string(),
            ])
            .collect();
        out.write_all(rras_core::csv::line(&cells).as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

fn totals_row(name: String, t: &UsageTotals) -> Vec<String> {
    let [name] = escaped([name]);
    vec![
        name,
        t.sessions.to_string(),
        t.unique_users.to_string(),
        human_duration(std::time::Duration::from_secs(t.duration_secs)),
        human_duration(std::time::Duration::from_secs(t.average_duration_secs())),
        human_bytes(t.bytes_in),
        human_bytes(t.bytes_out),
    ]
}

const TOTALS_HEADER: [&str; 7] = ["", "Sessions", "Users", "Time", "Average", "In", "Out"];

fn write_text(out: &mut impl Write, r: &UsageReport) -> std::io::Result<()> {
    writeln!(out, "{} to {}", time(r.from), time(r.to))?;
    let mut rows = vec![totals_row("all".into(), &r.totals)];
    rows.extend(r.per_engine.iter().map(|(e, t)| totals_row(e.as_str().into(), t)));
    writeln!(out, "{}", table(&TOTALS_HEADER, rows))?;
    writeln!(
        out,
        "sessions per day {:.1}; most at once {}{}",
        r.average_sessions_per_day,
        r.max_concurrent,
        r.max_concurrent_at
            .map(|t| format!(" at {}", time(t)))
            .unwrap_or_default()
    )?;
    if !r.top_users.is_empty() {
        let mut header = TOTALS_HEADER;
        header[0] = "User";
        let rows = r
            .top_users
            .iter()
            .map(|u| totals_row(u.user.clone(), &u.totals))
            .collect();
        writeln!(out, "{}", table(&header, rows))?;
    }
    let mut header = TOTALS_HEADER;
    header[0] = "Day";
    let rows = r.per_day.iter().map(|d| totals_row(day(d.day), &d.totals)).collect();
    writeln!(out, "{}", table(&header, rows))
}

/// Runs `rasctl usage`.
pub(crate) async fn run(client: &AdminClient, args: &UsageArgs) -> anyhow::Result<()> {
    let report = client.usage(args.since, args.until, args.top, args.by_time).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report_json(&report))?;
        out.write_all(b"\n")?;
    } else if args.csv {
        write_csv(&mut out, &report)?;
    } else {
        write_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(())
}

/// One node's report in a fleet's: its id, its name, the report.
pub(crate) type NodeReport<'a> = (&'a str, &'a str, &'a UsageReport);

/// `rasctl fleet usage`: each node's report and the fleet's sum, whose
/// users and most-at-once are upper bounds (a user on two nodes counts on
/// each; nodes peak at different moments).
pub(crate) fn write_fleet(args: &UsageArgs, nodes: &[NodeReport<'_>], fleet: &UsageReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let nodes: Vec<serde_json::Value> = nodes
            .iter()
            .map(|(node, name, r)| json!({"node": node, "node_name": name, "report": report_json(r)}))
            .collect();
        let mut fleet = report_json(fleet);
        fleet["upper_bounds"] = json!(["unique_users", "max_concurrent"]);
        serde_json::to_writer_pretty(&mut out, &json!({"nodes": nodes, "fleet": fleet}))?;
        out.write_all(b"\n")?;
    } else if args.csv {
        out.write_all(b"node,day,sessions,unique_users,duration_secs,bytes_in,bytes_out\r\n")?;
        for (node, _, r) in nodes {
            write_csv_days(&mut out, Some(node), r)?;
        }
        write_csv_days(&mut out, Some("fleet"), fleet)?;
    } else {
        writeln!(out, "{} to {}", time(fleet.from), time(fleet.to))?;
        let row = |name: String, r: &UsageReport, bound: &str| {
            let mut row = totals_row(name, &r.totals);
            row[2] = format!("{bound}{}", r.totals.unique_users);
            row.insert(
                3,
                format!(
                    "{bound}{}{}",
                    r.max_concurrent,
                    r.max_concurrent_at
                        .map(|t| format!(" at {}", time(t)))
                        .unwrap_or_default()
                ),
            );
            row
        };
        let mut rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|(_, name, r)| row((*name).to_owned(), r, ""))
            .collect();
        rows.push(row("fleet".into(), fleet, "≤ "));
        let mut header = TOTALS_HEADER.to_vec();
        header[0] = "Node";
        header.insert(3, "Most at once");
        writeln!(out, "{}", table(&header, rows))?;
        let engines = fleet
            .per_engine
            .iter()
            .map(|(e, t)| totals_row(e.as_str().into(), t))
            .collect();
        let mut header = TOTALS_HEADER;
        header[0] = "Engine";
        writeln!(out, "{}", table(&header, engines))?;
        if !fleet.top_users.is_empty() {
            header[0] = "User";
            let rows = fleet
                .top_users
                .iter()
                .map(|u| totals_row(u.user.clone(), &u.totals))
                .collect();
            writeln!(out, "{}", table(&header, rows))?;
        }
        header[0] = "Day";
        let rows = fleet
            .per_day
            .iter()
            .map(|d| totals_row(day(d.day), &d.totals))
            .collect();
        writeln!(out, "{}", table(&header, rows))?;
        writeln!(
            out,
            "(the fleet's users and most at once are upper bounds: a user on two nodes counts on each, and nodes peak at different moments)"
        )?;
    }
    out.flush()?;
    Ok(())
}
