//! `rasctl history`: the accounting history, filtered (who had an address
//! at an instant, a user's sessions, a NAS's, a time range), read page by
//! page from the daemon and written as a table, JSON, JSON lines or CSV.
//!
//! CSV is `rras_core::csv`'s: RFC 4180 with CRLF line ends, formula-safe,
//! the same as the web console's download.

use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

use anyhow::Context;
use rras_client::AdminClient;
use rras_core::{Connection, EndedConnection, EngineKind, HistoryQuery};
use serde::Serialize;

use crate::output::{history_table, ConnectionJson, EndedJson};

/// The most entries one request asks for.
const PAGE: u32 = 1_000;

/// The filters and the shape of the output, from the command line.
#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// A prefix of the account, with or without its domain (`alice`,
    /// `CORP\alice`, `ali`), without case.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// The client's address in the tunnel (IPv4 or IPv6).
    #[arg(long)]
    pub(crate) ip: Option<IpAddr>,
    /// The sessions up at this instant (RFC 3339, `2026-12-07 14:05:00`
    /// as UTC, or a duration ago: `90m`).
    #[arg(long, value_parser = parse_time, conflicts_with_all = ["since", "until"])]
    pub(crate) at: Option<SystemTime>,
    /// Sessions that had not ended by then (same forms as --at).
    #[arg(long, value_parser = parse_time)]
    pub(crate) since: Option<SystemTime>,
    /// Sessions that had started by then (same forms as --at).
    #[arg(long, value_parser = parse_time)]
    pub(crate) until: Option<SystemTime>,
    /// The NAS (RADIUS: its identity, e.g. `10.0.0.1` or `id@10.0.0.1`).
    #[arg(long)]
    pub(crate) nas: Option<String>,
    /// The engine (radius, wireguard, openvpn, ocserv, strongswan, softether).
    #[arg(long)]
    pub(crate) engine: Option<EngineKind>,
    /// The source instance.
    #[arg(long)]
    pub(crate) instance: Option<String>,
    /// Live connections that match too, listed first.
    #[arg(long)]
    pub(crate) live: bool,
    /// How many entries at most.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: u64,
    /// JSON array output.
    #[arg(long, conflicts_with_all = ["jsonl", "csv"])]
    pub(crate) json: bool,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    pub(crate) jsonl: bool,
    /// CSV with a header line.
    #[arg(long)]
    pub(crate) csv: bool,
}

/// `2026-12-07T14:05:00Z`, `2026-12-07 14:05:00` (UTC), or `90m` ago.
pub(crate) fn parse_time(text: &str) -> Result<SystemTime, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Ok(t);
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return SystemTime::now()
            .checked_sub(ago)
            .ok_or_else(|| format!("{text} ago is before the epoch"));
    }
    Err(format!(
        "{text:?} is neither a time (2026-12-07T14:05:00Z, 2026-12-07 14:05:00) nor a duration ago (90m, 7d)"
    ))
}

impl HistoryArgs {
    pub(crate) fn query(&self) -> HistoryQuery {
        let query = HistoryQuery {
            user: self.user.clone(),
            address: self.ip,
            from: self.since,
            to: self.until,
            nas: self.nas.clone(),
            engine: self.engine,
            instance: self.instance.clone(),
        };
        match self.at {
            Some(at) => query.at(at),
            None => query,
        }
    }
}

/// One row: a live connection or an ended one.
enum Row {
    Live(Connection),
    Ended(u64, EndedConnection),
}

/// Reads up to `limit` rows, page by page.
async fn read(client: &AdminClient, args: &HistoryArgs) -> anyhow::Result<Vec<Row>> {
    let query = args.query();
    let mut rows = Vec::new();
    let mut before = None;
    let mut first = true;
    // Bounded: every page but the last brings at least one entry.
    while (rows.len() as u64) < args.limit {
        let want = u32::try_from(args.limit - rows.len() as u64).unwrap_or(PAGE).min(PAGE);
        let page = client
            .history_page(&query, before, want, first && args.live)
            .await
            .context("history")?;
        if first {
            rows.extend(page.live.into_iter().map(Row::Live));
            first = false;
        }
        let got = page.entries.len();
        rows.extend(page.entries.into_iter().map(|(seq, e)| Row::Ended(seq, e)));
        match page.next {
            Some(next) if got > 0 || page.next != before => before = Some(next),
            _ => break,
        }
    }
    rows.truncate(usize::try_from(args.limit).unwrap_or(usize::MAX));
    Ok(rows)
}

/// JSON of one row.
#[derive(Serialize)]
#[serde(untagged)]
enum RowJson<'a> {
    Live {
        live: bool,
        #[serde(flatten)]
        connection: ConnectionJson<'a>,
    },
    Ended {
        live: bool,
        seq: u64,
        #[serde(flatten)]
        ended: EndedJson<'a>,
    },
}

impl<'a> RowJson<'a> {
    fn new(row: &'a Row, now: SystemTime) -> Self {
        match row {
            Row::Live(c) => RowJson::Live {
                live: true,
                connection: ConnectionJson::new(c, now),
            },
            Row::Ended(seq, e) => RowJson::Ended {
                live: false,
                seq: *seq,
                ended: EndedJson::new(e),
            },
        }
    }
}

fn write_csv(out: &mut impl Write, rows: &[Row], now: SystemTime) -> std::io::Result<()> {
    use rras_core::csv::{history_cells, line, HISTORY_HEADER};
    out.write_all(line(&HISTORY_HEADER).as_bytes())?;
    out.write_all(b"\r\n")?;
    for row in rows {
        let cells = match row {
            Row::Live(c) => history_cells(c, None, now),
            Row::Ended(_, e) => history_cells(&e.connection, Some((e.ended_at, e.reason.as_str())), now),
        };
        out.write_all(line(&cells).as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Runs `rasctl history`.
pub(crate) async fn run(client: &AdminClient, args: &HistoryArgs) -> anyhow::Result<()> {
    let rows = read(client, args).await?;
    let now = SystemTime::now();
    let mut out = std::io::stdout().lock();
    if args.csv {
        write_csv(&mut out, &rows, now)?;
    } else if args.jsonl {
        for row in &rows {
            serde_json::to_writer(&mut out, &RowJson::new(row, now))?;
            out.write_all(b"\n")?;
        }
    } else if args.json {
        let json: Vec<RowJson<'_>> = rows.iter().map(|r| RowJson::new(r, now)).collect();
        serde_json::to_writer_pretty(&mut out, &json)?;
        out.write_all(b"\n")?;
    } else {
        let (live, ended): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| matches!(r, Row::Live(_)));
        if !live.is_empty() {
            let live: Vec<Connection> = live
                .into_iter()
                .filter_map(|r| match r {
                    Row::Live(c) => Some(c.clone()),
                    Row::Ended(..) => None,
                })
                .collect();
            writeln!(out, "live:\n{}", crate::output::connections_table(&live, now))?;
        }
        let ended: Vec<EndedConnection> = ended
            .into_iter()
            .filter_map(|r| match r {
                Row::Ended(_, e) => Some(e.clone()),
                Row::Live(_) => None,
            })
            .collect();
        writeln!(out, "{}", history_table(&ended))?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc_or_a_duration_ago() {
        let t = parse_time("2026-12-07T14:05:00Z").unwrap();
        assert_eq!(t, parse_time("2026-12-07 14:05:00").unwrap());
        assert_eq!(humantime::format_rfc3339_seconds(t).to_string(), "2026-12-07T14:05:00Z");
        let ago = SystemTime::now().duration_since(parse_time("90m").unwrap()).unwrap();
        assert!((Duration::from_secs(5_390)..Duration::from_secs(5_410)).contains(&ago));
        assert!(parse_time("yesterday-ish").unwrap_err().contains("neither"));
    }
}
