//! `rasctl connections --watch` (a live table kept from the change feed,
//! never re-paged) and `rasctl events` (the change stream as it happens).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

use rras_client::{AdminClient, Change, FeedMessage, WatchEvent, WatchFilter};
use rras_core::Connection;
use serde::Serialize;

use crate::output::{connections_table, ConnectionJson};

/// Lists once, then applies every change to the list and redraws at most
/// every `every` while something changed, until Ctrl-C.
pub(crate) async fn live_table(client: &AdminClient, filter: WatchFilter, every: Duration) -> anyhow::Result<()> {
    let mut watcher = client.watch(filter);
    let mut rows: BTreeMap<u32, Connection> = BTreeMap::new();
    let mut dirty = false;
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(100)));
    let tty = std::io::stdout().is_terminal();
    loop {
        tokio::select! {
            event = watcher.next() => {
                match event? {
                    WatchEvent::Snapshot { connections, .. } => {
                        rows = connections.into_iter().map(|c| (c.handle.get(), c)).collect();
                    }
                    WatchEvent::Change(change) => apply(&mut rows, *change),
                }
                dirty = true;
            }
            _ = ticker.tick() => {
                if dirty {
                    dirty = false;
                    let list: Vec<Connection> = rows.values().cloned().collect();
                    if tty {
                        print!("\x1b[2J\x1b[H");
                    }
                    println!("{}", connections_table(&list, SystemTime::now()));
                    println!("{} connection(s)", list.len());
                    std::io::stdout().flush()?;
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// A change applied to a list kept by handle.
fn apply(rows: &mut BTreeMap<u32, Connection>, change: Change) {
    match change {
        Change::Started { connection, .. } | Change::Updated { connection, .. } => {
            rows.insert(connection.handle.get(), connection);
        }
        Change::Ended { ended, .. } => {
            rows.remove(&ended.connection.handle.get());
        }
        Change::Removed { handle, .. } => {
            rows.remove(&handle);
        }
    }
}

/// One line of `rasctl events --json` (stable: fields are only added).
#[derive(Debug, Serialize)]
struct EventJson<'a> {
    revision: u64,
    /// started, updated, ended, removed, or resync (changes were missed).
    kind: &'static str,
    handle: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<ConnectionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

fn event_json(change: &Change) -> EventJson<'_> {
    let now = SystemTime::now();
    let (kind, connection, ended_at, reason) = match change {
        Change::Started { connection, .. } => ("started", Some(ConnectionJson::new(connection, now)), None, None),
        Change::Updated { connection, .. } => ("updated", Some(ConnectionJson::new(connection, now)), None, None),
        Change::Ended { ended, .. } => (
            "ended",
            Some(ConnectionJson::new(&ended.connection, ended.ended_at)),
            Some(humantime::format_rfc3339_seconds(ended.ended_at).to_string()),
            Some(ended.reason.as_str()),
        ),
        Change::Removed { .. } => ("removed", None, None, None),
    };
    EventJson {
        revision: change.revision(),
        kind,
        handle: change.handle(),
        connection,
        ended_at,
        reason,
    }
}

fn event_text(change: &Change) -> String {
    let who = |c: &Connection| {
        let user = c.info.account();
        let ip = c.info.client_address().map_or_else(|| "-".into(), |a| a.to_string());
        format!(
            "{user} {} {} {ip}",
            c.info.source.engine,
            if c.info.interface_name.is_empty() {
                "-"
            } else {
                &c.info.interface_name
            }
        )
    };
    let rev = change.revision();
    let h = change.handle();
    let line = match change {
        Change::Started { connection, .. } => format!("{rev} started {h} {}", who(connection)),
        Change::Updated { connection, .. } => format!(
            "{rev} updated {h} {} rx {} tx {}",
            who(connection),
            connection.info.stats.bytes_rcved,
            connection.info.stats.bytes_xmited
        ),
        Change::Ended { ended, .. } => format!("{rev} ended {h} {} reason {}", who(&ended.connection), ended.reason),
        Change::Removed { .. } => format!("{rev} removed {h}"),
    };
    rras_core::display::escape(&line).into_owned()
}

/// Prints changes as they happen (from now, or after `from`), until Ctrl-C.
/// When the daemon cuts the stream off (this reader fell behind, or `from`
/// is too old) a `resync` line says changes were missed, and printing goes
/// on from the current revision.
pub(crate) async fn events(
    client: &AdminClient,
    filter: WatchFilter,
    mut from: Option<u64>,
    json: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    loop {
        let mut stream = client.watch_from(from.take(), &filter).await?;
        loop {
            let message = tokio::select! {
                m = stream.next() => m,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            match message {
                Some(Ok(FeedMessage::Changes(changes))) => {
                    for change in &changes {
                        if json {
                            serde_json::to_writer(&mut out, &event_json(change))?;
                            out.write_all(b"\n")?;
                        } else {
                            writeln!(out, "{}", event_text(change))?;
                        }
                    }
                    out.flush()?;
                }
                Some(Ok(FeedMessage::Alive(_))) => {}
                Some(Ok(FeedMessage::Resync)) => {
                    if json {
                        writeln!(out, "{{\"kind\":\"resync\"}}")?;
                    } else {
                        writeln!(out, "resync: changes were missed; continuing from now")?;
                    }
                    out.flush()?;
                    break;
                }
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("the daemon closed the change feed (is it stopping?)"),
            }
        }
    }
}
