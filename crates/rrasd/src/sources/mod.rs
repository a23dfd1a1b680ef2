//! Sources: the VPN engines rrasd learns connections from. Each engine is
//! one module; all feed the same `ConnectionManager`.

pub mod openvpn;
pub mod radius;
pub mod snapshot;
pub mod wireguard;

use std::sync::Arc;

use rras_core::{Guid, SourceKey};
use sha2::{Digest, Sha256};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::manager::ConnectionManager;
use crate::metrics::Metrics;
use crate::server::DaemonError;

/// A GUID derived from the session's identity, for engines that have none
/// of their own: the same session keeps it across polls and restarts, and
/// sessions of different NASes or interfaces never share one.
pub fn stable_guid(key: &SourceKey) -> Guid {
    let mut h = Sha256::new();
    h.update(key.engine.as_str().as_bytes());
    h.update([0]);
    h.update(key.nas.as_bytes());
    h.update([0]);
    h.update(key.session_id.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Guid::from_u128(u128::from_be_bytes(bytes))
}

/// Starts every configured source; returns their tasks.
pub async fn start(
    config: &Config,
    manager: Arc<ConnectionManager>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, DaemonError> {
    let mut tasks = Vec::new();
    tasks.extend(wireguard::start(&config.wireguard, manager.clone(), stop.clone()));
    tasks.extend(openvpn::start(&config.openvpn, manager.clone(), stop.clone()));
    if config.radius.listen.is_some() {
        tasks.extend(radius::start(&config.radius, manager, metrics, stop).await?);
    }
    Ok(tasks)
}
