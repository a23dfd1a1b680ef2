//! Sources: the VPN engines rrasd learns connections from. Each engine is
//! one module; each configured **instance** of an engine (`[[source]]`) is
//! identified by its [`SourceId`], owns exactly the rows it created, and
//! registers its own hang-up. What every source gets for free: supervision
//! (`supervise`), health (`health`), and for engines read by polling, the
//! whole read → compare → apply loop with its time limits and grace period
//! (`polling`). ARCHITECTURE.md, "Adding a source", has the checklist.

pub mod control;
pub mod health;
pub mod instance;
pub mod ocserv;
pub mod openvpn;
pub mod polling;
pub mod radius;
pub mod strongswan;
pub mod supervise;
pub mod wireguard;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rras_core::{Connection, Guid, SourceKey, Win32Error};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::instance::SourceId;
use crate::config::Config;
use crate::manager::{ConnectionManager, Disconnector};
use crate::metrics::Metrics;
use crate::server::DaemonError;

/// A GUID derived from the session's identity, for engines that have none
/// of their own: the same session keeps it across polls and restarts, and
/// sessions of different NASes, interfaces or instances never share one.
pub fn stable_guid(key: &SourceKey) -> Guid {
    let mut h = Sha256::new();
    h.update(key.engine.as_str().as_bytes());
    h.update([0]);
    h.update(key.nas.as_bytes());
    h.update([0]);
    h.update(key.session_id.as_bytes());
    if !key.instance.is_empty() {
        h.update([0]);
        h.update(key.instance.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Guid::from_u128(u128::from_be_bytes(bytes))
}

/// How an instance hangs up one of its sessions. `session` turns the row
/// into the engine's own typed key once, in one place (a client id, a
/// peer's socket and key, a NAS address); `hang_up` acts on it.
pub trait HangUp: Send + Sync + std::fmt::Debug + 'static {
    /// The engine's key of a session.
    type Session: Send + 'static;

    /// The key of `connection`, or None when the row cannot be one of ours.
    fn session(&self, connection: &Connection) -> Option<Self::Session>;

    /// Asks the engine to end the session; the result is the call's status.
    fn hang_up(&self, session: Self::Session) -> impl Future<Output = Win32Error> + Send;
}

impl<T: HangUp> Disconnector for T {
    fn disconnect(self: Arc<Self>, connection: Arc<Connection>) -> Pin<Box<dyn Future<Output = Win32Error> + Send>> {
        Box::pin(async move {
            match self.session(&connection) {
                Some(session) => self.hang_up(session).await,
                None => Win32Error::InvalidHandle,
            }
        })
    }
}

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
    for source in config.source_instances() {
        let name = source.id().map(|id| id.to_string()).unwrap_or_default();
        let invalid = |message: String| DaemonError::Source {
            instance: name,
            message,
        };
        match source {
            SourceConfig::Wireguard(c) => {
                tasks.extend(wireguard::start(&c, manager.clone(), stop.clone()).map_err(invalid)?)
            }
            SourceConfig::Openvpn(c) => {
                tasks.extend(openvpn::start(&c, manager.clone(), stop.clone()).map_err(invalid)?)
            }
            SourceConfig::Ocserv(c) => tasks.extend(ocserv::start(&c, manager.clone(), stop.clone()).map_err(invalid)?),
            SourceConfig::Strongswan(c) => {
                tasks.extend(strongswan::start(&c, manager.clone(), stop.clone()).map_err(invalid)?)
            }
            SourceConfig::Radius(c) => {
                tasks.extend(radius::start(&c, manager.clone(), metrics.clone(), stop.clone()).await?);
            }
        }
    }
    Ok(tasks)
}
