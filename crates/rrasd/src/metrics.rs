//! Prometheus metrics: active connections per engine, enumerations served,
//! RPC latency per method and replies per status code, RADIUS drops.
//! Served as text on `GET /metrics` by a minimal HTTP/1.1 responder.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::manager::ConnectionManager;
use rras_source::EngineState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineLabel {
    engine: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    kind: &'static str,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceStateLabel {
    kind: &'static str,
    name: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// All metrics of the daemon.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    rpc_latency: Family<MethodLabel, Histogram>,
    replies: Family<CodeLabel, Counter>,
    enumerations: Counter,
    active: Family<EngineLabel, Gauge>,
    radius_dropped: Family<ReasonLabel, Counter>,
    radius_accepted: Counter,
    source_state: Family<SourceStateLabel, Gauge>,
    source_sessions: Family<SourceLabel, Gauge>,
    source_restarts: Family<SourceLabel, Gauge>,
    fleet_connected: Gauge,
    fleet_lag: Gauge,
    fleet_published: Counter,
    fleet_reconciles: Counter,
    index_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rrasd");
        let rpc_latency = Family::<MethodLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
        });
        let replies = Family::<CodeLabel, Counter>::default();
        let enumerations = Counter::default();
        let active = Family::<EngineLabel, Gauge>::default();
        let radius_dropped = Family::<ReasonLabel, Counter>::default();
        let radius_accepted = Counter::default();
        let source_state = Family::<SourceStateLabel, Gauge>::default();
        let source_sessions = Family::<SourceLabel, Gauge>::default();
        let source_restarts = Family::<SourceLabel, Gauge>::default();
        let (fleet_connected, fleet_lag) = (Gauge::default(), Gauge::default());
        let (fleet_published, fleet_reconciles) = (Counter::default(), Counter::default());
        let index_bytes = Gauge::default();
        registry.register(
            "index_bytes",
            "Heap bytes of the connection table's sort orders (the console's indexes)",
            index_bytes.clone(),
        );
        registry.register(
            "fleet_connected",
            "1 while the fleet publisher is connected to NATS",
            fleet_connected.clone(),
        );
        registry.register(
            "fleet_lag",
            "Durable changes not yet acknowledged by the fleet's NATS (after the last batch)",
            fleet_lag.clone(),
        );
        registry.register(
            "fleet_published",
            "Keys published to the fleet bucket",
            fleet_published.clone(),
        );
        registry.register(
            "fleet_reconciles",
            "Times this node's fleet keys were made equal to its table",
            fleet_reconciles.clone(),
        );
        registry.register(
            "source_state",
            "1 for the state each source instance is in (starting, ok, degraded, unreachable)",
            source_state.clone(),
        );
        registry.register(
            "source_sessions",
            "Live sessions owned by each source instance",
            source_sessions.clone(),
        );
        registry.register(
            "source_restarts",
            "Restarts of each source instance after failures",
            source_restarts.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "Admin RPC latency by method",
            rpc_latency.clone(),
        );
        registry.register("rpc_replies", "Admin RPC replies by Win32 status code", replies.clone());
        registry.register("enumerations", "ConnectionEnumEx pages served", enumerations.clone());
        registry.register("active_connections", "Live connections by engine", active.clone());
        registry.register(
            "radius_dropped",
            "RADIUS packets dropped by reason",
            radius_dropped.clone(),
        );
        registry.register(
            "radius_accepted",
            "RADIUS accounting requests acknowledged",
            radius_accepted.clone(),
        );
        Metrics {
            registry,
            rpc_latency,
            replies,
            enumerations,
            active,
            radius_dropped,
            radius_accepted,
            source_state,
            source_sessions,
            source_restarts,
            fleet_connected,
            fleet_lag,
            fleet_published,
            fleet_reconciles,
            index_bytes,
        }
    }

    /// Whether the fleet publisher is connected.
    pub fn fleet_connected(&self, up: bool) {
        self.fleet_connected.set(i64::from(up));
    }

    /// A fleet batch was acknowledged: `keys` published, `lag` left.
    pub fn fleet_published(&self, keys: u64, lag: u64) {
        self.fleet_published.inc_by(keys);
        self.fleet_lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
    }

    /// A reconcile finished.
    pub fn fleet_reconciled(&self) {
        self.fleet_reconciles.inc();
        self.fleet_lag.set(0);
    }

    /// Records one RPC.
    pub fn rpc(&self, method: &'static str, status: u32, elapsed: Duration) {
        self.rpc_latency
            .get_or_create(&MethodLabel { method })
            .observe(elapsed.as_secs_f64());
        self.replies.get_or_create(&CodeLabel { code: status }).inc();
        if matches!(method, "ConnectionEnumEx" | "ConnectionEnumRecords") {
            self.enumerations.inc();
        }
    }

    /// Counts a dropped RADIUS packet.
    pub fn radius_dropped(&self, reason: &'static str) {
        self.radius_dropped.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts an acknowledged RADIUS request.
    pub fn radius_accepted(&self) {
        self.radius_accepted.inc();
    }

    /// The text exposition, with the per-engine gauges refreshed.
    pub fn render(&self, manager: &ConnectionManager) -> String {
        self.index_bytes
            .set(i64::try_from(manager.table().index_bytes()).unwrap_or(i64::MAX));
        for (engine, n) in manager.table().counts_per_engine() {
            self.active
                .get_or_create(&EngineLabel {
                    engine: engine.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for h in manager.health().reports() {
            let (kind, name) = (h.id.kind().as_str(), h.id.name().to_owned());
            for state in [
                EngineState::Starting,
                EngineState::Ok,
                EngineState::Degraded,
                EngineState::Unreachable,
            ] {
                let label = SourceStateLabel {
                    kind,
                    name: name.clone(),
                    state: state.as_str(),
                };
                self.source_state.get_or_create(&label).set(i64::from(state == h.state));
            }
            let label = SourceLabel { kind, name };
            let sessions = manager.table().count_instance(h.id.kind(), h.id.instance());
            self.source_sessions
                .get_or_create(&label)
                .set(i64::try_from(sessions).unwrap_or(i64::MAX));
            self.source_restarts.get_or_create(&label).set(i64::from(h.restarts));
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `GET /metrics` until the listener is dropped: one request per
/// connection, its head read within 5 s, connections capped by `gate`.
pub async fn serve(
    listener: TcpListener,
    gate: Arc<rras_source::gate::ConnectionGate>,
    metrics: Arc<Metrics>,
    manager: Arc<ConnectionManager>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(admission) = gate.admit(rras_source::gate::ClientKey::Ip(peer.ip())) else {
            continue;
        };
        let mut stream = admission.guard(stream);
        let (metrics, manager) = (metrics.clone(), manager.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            // Read the request head, bounded in size and time.
            let head = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    match stream.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            let ok = head.is_ok() && buf[..n].starts_with(b"GET /metrics ");
            let (status, body) = if ok {
                ("200 OK", metrics.render(&manager))
            } else {
                ("404 Not Found", "not found\n".to_owned())
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        });
    }
}

/// RADIUS reports what it acknowledges and drops through these.
impl rras_sources::radius::RadiusCounters for Metrics {
    fn accepted(&self) {
        self.radius_accepted();
    }

    fn dropped(&self, reason: &'static str) {
        self.radius_dropped(reason);
    }
}
