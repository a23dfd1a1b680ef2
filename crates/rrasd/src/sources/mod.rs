//! Sources: the VPN engines rrasd learns connections from. Each engine is
//! one module; each configured **instance** of an engine (`[[source]]`) is
//! identified by its [`SourceId`], owns exactly the rows it created, and
//! registers its own hang-up. What every source gets for free: supervision
//! (`supervise`), health (`health`), and for engines read by polling, the
//! whole read → compare → apply loop with its time limits and grace period
//! (`polling`). ARCHITECTURE.md, "Adding a source", has the checklist.

pub mod ocserv;
pub mod openvpn;
pub mod radius;
pub mod strongswan;
pub mod wireguard;

use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::manager::ConnectionManager;
use crate::metrics::Metrics;
use crate::server::DaemonError;
pub use rras_core::SourceId;

/// One `[[source]]` entry: `kind` picks the engine, the other keys are that
/// engine's settings (the same as its shorthand section), plus `name`.
/// Engines of `rras_sources::ENGINES` are parsed by the engine itself.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// RADIUS accounting listener.
    Radius(radius::RadiusConfig),
    /// WireGuard UAPI sockets.
    Wireguard(wireguard::WireguardConfig),
    /// OpenVPN management interfaces.
    Openvpn(openvpn::OpenvpnConfig),
    /// ocserv through occtl.
    Ocserv(ocserv::OcservConfig),
    /// strongSwan's charon over VICI.
    Strongswan(strongswan::StrongswanConfig),
    /// An engine of `rras_sources::ENGINES`, known only through the
    /// source API.
    Engine(Arc<dyn rras_source::EngineConfig>),
}

/// The engines still inside the daemon, as serde reads their entries.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum DaemonEngine {
    Radius(radius::RadiusConfig),
    Wireguard(wireguard::WireguardConfig),
    Openvpn(openvpn::OpenvpnConfig),
    Ocserv(ocserv::OcservConfig),
    Strongswan(strongswan::StrongswanConfig),
}

impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let kind = match table.get("kind") {
            Some(toml::Value::String(k)) => k.clone(),
            Some(_) => return Err(D::Error::custom("`kind` must be a string")),
            None => return Err(D::Error::custom("missing field `kind`")),
        };
        if let Some(engine) = rras_sources::engine(&kind) {
            table.remove("kind");
            return (engine.parse)(table)
                .map(|c| SourceConfig::Engine(Arc::from(c)))
                .map_err(|e| D::Error::custom(format!("[[source]] kind = {kind:?}: {e}")));
        }
        let known = ["radius", "wireguard", "openvpn", "ocserv", "strongswan"];
        if !known.contains(&kind.as_str()) {
            let mut all: Vec<&str> = known.to_vec();
            all.extend(rras_sources::ENGINES.iter().map(|e| e.section()));
            return Err(D::Error::custom(format!(
                "unknown source kind {kind:?} (expected one of {})",
                all.join(", ")
            )));
        }
        let parsed = DaemonEngine::deserialize(toml::Value::Table(table)).map_err(|e| D::Error::custom(e.message()))?;
        Ok(match parsed {
            DaemonEngine::Radius(c) => SourceConfig::Radius(c),
            DaemonEngine::Wireguard(c) => SourceConfig::Wireguard(c),
            DaemonEngine::Openvpn(c) => SourceConfig::Openvpn(c),
            DaemonEngine::Ocserv(c) => SourceConfig::Ocserv(c),
            DaemonEngine::Strongswan(c) => SourceConfig::Strongswan(c),
        })
    }
}

impl SourceConfig {
    /// The instance's id.
    pub fn id(&self) -> Result<SourceId, String> {
        let (kind, name) = match self {
            SourceConfig::Radius(c) => (rras_core::EngineKind::Radius, &c.name),
            SourceConfig::Wireguard(c) => (rras_core::EngineKind::Wireguard, &c.name),
            SourceConfig::Openvpn(c) => (rras_core::EngineKind::Openvpn, &c.name),
            SourceConfig::Ocserv(c) => (rras_core::EngineKind::Ocserv, &c.name),
            SourceConfig::Strongswan(c) => (rras_core::EngineKind::Strongswan, &c.name),
            SourceConfig::Engine(c) => return c.id(),
        };
        SourceId::new(kind, name).map_err(|e| e.to_string())
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.id()?;
        match self {
            SourceConfig::Radius(c) => c.validate(),
            SourceConfig::Wireguard(c) => c.validate(),
            SourceConfig::Openvpn(c) => c.validate(),
            SourceConfig::Ocserv(c) => c.validate(),
            SourceConfig::Strongswan(c) => c.validate(),
            SourceConfig::Engine(c) => c.validate(),
        }
    }
}

/// Starts every configured source instance; returns their tasks.
pub async fn start(
    config: &Config,
    manager: Arc<ConnectionManager>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, DaemonError> {
    let mut tasks = Vec::new();
    let sink: Arc<dyn rras_source::Sink> = manager.clone();
    for source in config.source_instances() {
        let name = source.id().map(|id| id.to_string()).unwrap_or_default();
        let invalid = |message: String| DaemonError::Source {
            instance: name.clone(),
            message,
        };
        match source {
            SourceConfig::Wireguard(c) => {
                tasks.extend(wireguard::start(&c, sink.clone(), stop.clone()).map_err(invalid)?)
            }
            SourceConfig::Openvpn(c) => tasks.extend(openvpn::start(&c, sink.clone(), stop.clone()).map_err(invalid)?),
            SourceConfig::Ocserv(c) => tasks.extend(ocserv::start(&c, sink.clone(), stop.clone()).map_err(invalid)?),
            SourceConfig::Strongswan(c) => {
                tasks.extend(strongswan::start(&c, sink.clone(), stop.clone()).map_err(invalid)?)
            }
            SourceConfig::Radius(c) => {
                tasks.extend(radius::start(&c, manager.clone(), metrics.clone(), stop.clone()).await?);
            }
            SourceConfig::Engine(c) => {
                let id = c.id().map_err(&invalid)?;
                tasks.extend(
                    c.start(id, sink.clone(), stop.clone())
                        .map_err(|e| invalid(e.to_string()))?,
                )
            }
        }
    }
    Ok(tasks)
}
