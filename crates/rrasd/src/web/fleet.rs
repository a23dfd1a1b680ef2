//! The console's fleet view: when this node publishes to a fleet, it also
//! reads it — one `FleetReader` owned by one task, which answers the
//! console's queries between the changes it applies (no lock around a view
//! of a million rows; filtering and paging happen here, the browser gets a
//! page).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_fleet::options::{Connects, Reconnect};
use rras_fleet::{FleetNames, FleetReader, FleetView, ServerClients};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

/// What the console asks.
#[derive(Debug, Default, Clone)]
pub(crate) struct FleetQuery {
    /// Only this node (id, id prefix or name).
    pub(crate) node: Option<String>,
    /// Only users containing this (case-insensitive).
    pub(crate) user: Option<String>,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

type Ask = (FleetQuery, oneshot::Sender<Value>);

/// The handle the console's handlers hold.
#[derive(Debug, Clone)]
pub(crate) struct FleetQueries(mpsc::Sender<Ask>);

impl FleetQueries {
    /// Starts the reader task for `[fleet]`.
    pub(crate) fn start(config: &crate::fleet::FleetConfig) -> Self {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(serve(config.options(), rx));
        FleetQueries(tx)
    }

    /// The nodes and one page of connections, as JSON for the page.
    pub(crate) async fn ask(&self, query: FleetQuery) -> Value {
        let (reply, answer) = oneshot::channel();
        if self.0.send((query, reply)).await.is_err() {
            return json!({ "available": false, "error": "the fleet reader stopped" });
        }
        match tokio::time::timeout(Duration::from_secs(10), answer).await {
            Ok(Ok(v)) => v,
            _ => json!({ "available": false, "error": "the fleet reader is busy" }),
        }
    }
}

async fn serve(options: rras_fleet::FleetOptions, mut asks: mpsc::Receiver<Ask>) {
    let connects = Arc::new(Connects::default());
    // A large fleet's connections are read from the server their consumer is on.
    let servers = Arc::new(ServerClients::new(options.clone(), "rrasd console"));
    let client = match options
        .connect_watched("rrasd console", Reconnect::Forever, connects.clone())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            // Answer every question with the reason, for as long as the console lives.
            while let Some((_, reply)) = asks.recv().await {
                let _ = reply.send(json!({ "available": false, "error": e.to_string() }));
            }
            return;
        }
    };
    loop {
        // Until the buckets exist (the publisher creates them) and NATS
        // answers, every question gets the reason.
        let mut reader = loop {
            match FleetReader::open(
                &client,
                &FleetNames::default(),
                Some(connects.clone()),
                Some(servers.clone()),
            )
            .await
            {
                Ok(r) => break r,
                Err(e) => {
                    let retry = tokio::time::sleep(Duration::from_secs(2));
                    tokio::pin!(retry);
                    loop {
                        tokio::select! {
                            _ = &mut retry => break,
                            ask = asks.recv() => match ask {
                                Some((_, reply)) => {
                                    let _ = reply.send(json!({ "available": false, "error": e.to_string() }));
                                }
                                None => return,
                            },
                        }
                    }
                }
            }
        };
        loop {
            tokio::select! {
                ask = asks.recv() => match ask {
                    Some((query, reply)) => {
                        let _ = reply.send(answer(reader.view(), &query));
                    }
                    None => return,
                },
                event = reader.next() => if let Err(e) = event {
                    tracing::warn!("console fleet view: {e}; opening it again");
                    break;
                },
            }
        }
    }
}

fn answer(view: &FleetView, q: &FleetQuery) -> Value {
    let now = SystemTime::now();
    let nodes: Vec<Value> = view
        .nodes()
        .iter()
        .map(|(id, s)| {
            let b = s.beat.as_ref();
            json!({
                "node": id,
                "name": b.map_or("", |b| b.name.as_str()),
                "version": b.map_or("", |b| b.version.as_str()),
                "connections": s.connections,
                "last_beat": b.and_then(|b| b.at()).map(crate::web::rows::unix),
                "lag": b.map(|b| b.lag()),
                "state": if s.is_stale(now) { "stale" } else { b.map_or("?", |b| b.state.as_str()) },
            })
        })
        .collect();
    let node = match q.node.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => match view.find_node(n) {
            Ok(id) => Some(id.to_owned()),
            Err(e) => {
                return json!({ "available": true, "nodes": nodes, "error": e.to_string(), "rows": [], "matching": 0 })
            }
        },
        None => None,
    };
    let user = q.user.as_deref().filter(|u| !u.is_empty()).map(str::to_lowercase);
    let mut matching = 0usize;
    let mut rows = Vec::new();
    for c in view.connections() {
        if node.as_deref().is_some_and(|n| n != c.node) {
            continue;
        }
        let Some(conn) = c.connection() else { continue };
        if let Some(u) = &user {
            if !conn.info.account().to_lowercase().contains(u.as_str()) {
                continue;
            }
        }
        matching += 1;
        if matching > q.offset && rows.len() < q.limit {
            let mut row = crate::web::rows::row(&conn, now);
            row["node"] = json!(c.node);
            row["node_name"] = json!(view.node_name(c.node));
            row["stale"] = json!(c.stale);
            rows.push(row);
        }
    }
    json!({ "available": true, "nodes": nodes, "connections": view.len(), "matching": matching, "rows": rows })
}
