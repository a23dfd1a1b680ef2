//! Sources: the VPN engines rrasd learns connections from. Each engine is
//! one module; all feed the same `ConnectionManager`.

pub mod openvpn;
pub mod radius;
pub mod snapshot;
pub mod wireguard;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::manager::ConnectionManager;
use crate::metrics::Metrics;
use crate::server::DaemonError;

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
