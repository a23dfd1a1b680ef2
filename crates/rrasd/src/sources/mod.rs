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
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
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
            instance: name,
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
        }
    }
    Ok(tasks)
}
