//! `OpenvpnSource`: sessions from OpenVPN servers through their management
//! interfaces (`management /run/openvpn/server.sock unix`).
//!
//! Each poll reads `status 3` and sends the table what changed. Identity:
//! engine `openvpn`, NAS = the management socket path, session =
//! `CID@CONNECTED-SINCE` (client ids restart at 0 with the server, the
//! connect time keeps them apart). Hang-up: `client-kill CID HALT`.

pub mod management;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_core::{Connection, ConnectionInfo, EngineKind, SourceKey, Win32Error};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::management::Client;
use super::snapshot::{self, diff, Poller};
use crate::manager::{ConnectionManager, Disconnector};

/// `[openvpn]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenvpnConfig {
    /// Management sockets of the servers to watch (`PATH` or `PATH=IFACE`).
    pub management: Vec<String>,
    /// Seconds between polls.
    pub poll_secs: u64,
}

impl Default for OpenvpnConfig {
    fn default() -> Self {
        OpenvpnConfig {
            management: Vec::new(),
            poll_secs: 5,
        }
    }
}

impl OpenvpnConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.poll_secs == 0 {
            return Err("openvpn.poll_secs must be at least 1".into());
        }
        Ok(())
    }

    /// (socket, interface name) of each server.
    fn servers(&self) -> Vec<(PathBuf, String)> {
        self.management
            .iter()
            .map(|m| match m.split_once('=') {
                Some((path, iface)) => (PathBuf::from(path), iface.to_owned()),
                None => (PathBuf::from(m), String::new()),
            })
            .collect()
    }
}

/// Starts the poller and registers `client-kill` as the hang-up.
pub fn start(
    config: &OpenvpnConfig,
    manager: Arc<ConnectionManager>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    if config.management.is_empty() {
        return Vec::new();
    }
    tracing::info!(
        servers = config.management.len(),
        "OpenVPN source polling management interfaces"
    );
    let killed = Killed::default();
    manager.register_disconnector(EngineKind::Openvpn, Arc::new(ClientKiller { killed: killed.clone() }));
    vec![tokio::spawn(poll_loop(config.clone(), manager, killed, stop))]
}

/// Sessions an admin hung up. OpenVPN keeps listing a killed client for a
/// couple of seconds; polls skip it meanwhile so it is not re-created.
#[derive(Debug, Clone, Default)]
struct Killed(Arc<parking_lot::Mutex<std::collections::HashMap<SourceKey, std::time::Instant>>>);

/// How long a killed session is ignored.
const KILL_GRACE: Duration = Duration::from_secs(30);

impl Killed {
    fn add(&self, key: SourceKey) {
        self.0.lock().insert(key, std::time::Instant::now());
    }

    fn contains(&self, key: &SourceKey) -> bool {
        let mut map = self.0.lock();
        map.retain(|_, at| at.elapsed() < KILL_GRACE);
        map.contains_key(key)
    }
}

/// What the table holds for one client of the server at `socket`.
pub fn client_info(socket: &str, iface: &str, c: &Client, now: SystemTime) -> ConnectionInfo {
    let since = c.connected_since.unwrap_or(now);
    let secs = since
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = SourceKey {
        engine: EngineKind::Openvpn,
        nas: socket.to_owned(),
        session_id: format!("{}@{secs}", c.client_id),
    };
    let user = c.username.clone().unwrap_or_else(|| c.common_name.clone());
    let mut info = ConnectionInfo::new(key, user, since);
    info.interface_name = iface.to_owned();
    info.remote_endpoint = c.real_address;
    info.stats.bytes_rcved = c.bytes_received;
    info.stats.bytes_xmited = c.bytes_sent;
    info.projection.ipv4_mut().remote_address = c.virtual_ipv4;
    if let Some(v6) = c.virtual_ipv6 {
        info.projection.ipv6_mut().set_remote_address(v6);
    }
    info.engine_attributes = vec![
        ("Common-Name".into(), c.common_name.clone()),
        ("Cipher".into(), c.cipher.clone()),
    ];
    info
}

async fn poll_loop(
    config: OpenvpnConfig,
    manager: Arc<ConnectionManager>,
    killed: Killed,
    stop: watch::Receiver<bool>,
) {
    let mut poller = Poller::new(config.poll_secs, stop);
    let mut failing = std::collections::HashSet::new();
    while poller.next(&manager).await {
        for (socket, iface) in config.servers() {
            let nas = socket.display().to_string();
            let live = manager
                .table()
                .select(|s| s.engine == EngineKind::Openvpn && s.nas == nas);
            let (current, reason) = match management::status(&socket).await {
                Ok(clients) => {
                    failing.remove(&nas);
                    let now = SystemTime::now();
                    let infos = clients
                        .iter()
                        .map(|c| client_info(&nas, &iface, c, now))
                        .filter(|info| !killed.contains(&info.source))
                        .collect();
                    (infos, "user-request")
                }
                Err(e) => {
                    if failing.insert(nas.clone()) {
                        tracing::warn!(socket = %nas, "OpenVPN management failed: {e}");
                    }
                    (Vec::new(), "server-down")
                }
            };
            snapshot::apply(&manager, "openvpn", diff(current, &live, |_| reason.into())).await;
        }
    }
}

/// `client-kill CID HALT` on the session's server.
#[derive(Debug)]
struct ClientKiller {
    killed: Killed,
}

impl Disconnector for ClientKiller {
    fn disconnect(&self, connection: Arc<Connection>) -> Pin<Box<dyn Future<Output = Win32Error> + Send>> {
        let killed = self.killed.clone();
        Box::pin(async move {
            let socket = PathBuf::from(&connection.info.source.nas);
            let Some(cid) = connection
                .info
                .source
                .session_id
                .split_once('@')
                .and_then(|(cid, _)| cid.parse().ok())
            else {
                return Win32Error::InvalidHandle;
            };
            match management::kill(&socket, cid).await {
                Ok(()) => {
                    killed.add(connection.info.source.clone());
                    Win32Error::NoError
                }
                Err(management::ManagementError::Refused(_)) => Win32Error::NoConnection,
                Err(management::ManagementError::Io(_) | management::ManagementError::Timeout(_)) => {
                    Win32Error::RpcServerUnavailable
                }
                Err(e) => {
                    tracing::warn!("client-kill failed: {e}");
                    Win32Error::RpcCallFailed
                }
            }
        })
    }
}
