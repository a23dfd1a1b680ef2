//! `OpenvpnSource`: sessions from OpenVPN servers through their management
//! interfaces (`management /run/openvpn/server.sock unix`).
//!
//! Each poll reads `status 3` and sends the table what changed. Identity:
//! engine `openvpn`, NAS = the management socket path, session =
//! `CID@CONNECTED-SINCE` (client ids restart at 0 with the server, the
//! connect time keeps them apart). Hang-up: `client-kill CID HALT`.

pub mod management;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_core::{Connection, ConnectionInfo, EngineKind, SourceKey, Win32Error};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::management::Client;
use rras_source::polling::{self, PollSettings, PollingEngine, Snapshot};
use rras_source::Engine;
use rras_source::{HangUp, Sink, SourceId};

/// `[openvpn]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenvpnConfig {
    /// The instance's name (`[[source]] name`); `[openvpn]` and the flags
    /// configure the default instance, named "openvpn".
    pub name: String,
    /// Management sockets of the servers to watch (`PATH` or `PATH=IFACE`).
    pub management: Vec<String>,
    /// Seconds between polls.
    pub poll_secs: u64,
    /// Seconds a server that stops answering keeps its clients before they
    /// end as `engine-unreachable`.
    pub unreachable_grace_secs: u64,
}

impl Default for OpenvpnConfig {
    fn default() -> Self {
        OpenvpnConfig {
            name: String::new(),
            management: Vec::new(),
            poll_secs: 5,
            unreachable_grace_secs: 60,
        }
    }
}

impl OpenvpnConfig {
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
pub fn client_info(id: &SourceId, socket: &str, iface: &str, c: &Client, now: SystemTime) -> ConnectionInfo {
    let since = c.connected_since.unwrap_or(now);
    let secs = since
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = id.key(socket, format!("{}@{secs}", c.client_id));
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
    info.guid = rras_source::stable_guid(&info.source);
    info.device_type = rras_core::model::device_type::OTHER;
    info.engine_attributes = vec![
        ("Common-Name".into(), c.common_name.clone()),
        ("Cipher".into(), c.cipher.clone()),
    ];
    info
}

/// One OpenVPN instance (one or more servers) as a polling engine.
#[derive(Debug)]
struct OpenvpnEngine {
    id: SourceId,
    servers: Vec<(PathBuf, String)>,
    killed: Killed,
}

impl PollingEngine for OpenvpnEngine {
    async fn read(&mut self) -> Result<Snapshot, String> {
        let mut snapshot = Snapshot::default();
        for (socket, iface) in &self.servers {
            let nas = socket.display().to_string();
            match management::status(socket).await {
                Ok(clients) => {
                    snapshot.reached += 1;
                    let now = SystemTime::now();
                    snapshot.connections.extend(
                        clients
                            .iter()
                            .map(|c| client_info(&self.id, &nas, iface, c, now))
                            .filter(|info| !self.killed.contains(&info.source)),
                    );
                }
                Err(e) => snapshot.unreachable.push((nas, e.to_string())),
            }
        }
        Ok(snapshot)
    }

    fn ended_reason(&self, _key: &SourceKey) -> String {
        "user-request".into()
    }
}

/// `client-kill CID HALT` on the session's server.
#[derive(Debug)]
struct ClientKiller {
    killed: Killed,
}

/// A client of one server: what `client-kill` needs.
#[derive(Debug)]
struct ClientSession {
    socket: PathBuf,
    client_id: u64,
    key: SourceKey,
}

impl HangUp for ClientKiller {
    type Session = ClientSession;

    fn session(&self, connection: &Connection) -> Option<ClientSession> {
        let key = &connection.info.source;
        let (cid, _since) = key.session_id.split_once('@')?;
        Some(ClientSession {
            socket: PathBuf::from(&key.nas),
            client_id: cid.parse().ok()?,
            key: key.clone(),
        })
    }

    async fn hang_up(&self, client: ClientSession) -> Win32Error {
        match management::kill(&client.socket, client.client_id).await {
            Ok(()) => {
                self.killed.add(client.key);
                Win32Error::NoError
            }
            Err(e) => {
                tracing::warn!("client-kill failed: {e}");
                e.win32()
            }
        }
    }
}

/// The engine, as its settings.
impl Engine for OpenvpnConfig {
    const KIND: EngineKind = EngineKind::Openvpn;
    const ON_KEY: &'static str = "management";

    fn name(&self) -> &str {
        &self.name
    }

    fn is_on(&self) -> bool {
        !self.management.is_empty()
    }

    fn validate(&self) -> Result<(), String> {
        if self.poll_secs == 0 {
            return Err("openvpn.poll_secs must be at least 1".into());
        }
        Ok(())
    }

    fn describe(&self) -> rras_source::Description {
        use rras_source::Description;
        let paths = self
            .management
            .iter()
            .map(|m| std::path::PathBuf::from(m.split_once('=').map_or(m.as_str(), |(p, _)| p)))
            .collect();
        Description {
            summary: format!("OpenVPN management {}", self.management.join(" ")),
            paths,
            secret_files: Vec::new(),
        }
    }

    fn claims(&self) -> Vec<rras_source::Claim> {
        use rras_source::Claim;
        self.servers()
            .into_iter()
            .map(|(socket, _)| Claim {
                place: socket.display().to_string(),
                part: None,
                hint: "each management socket belongs to one instance",
            })
            .collect()
    }

    /// Starts the instance's poller under supervision and registers
    /// `client-kill` as its hang-up.
    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, rras_source::SourceError> {
        if self.management.is_empty() {
            return Ok(Vec::new());
        }
        tracing::info!(source = %id, servers = self.management.len(), "OpenVPN source polling management interfaces");
        let killed = Killed::default();
        sink.register_hang_up(id.clone(), Arc::new(ClientKiller { killed: killed.clone() }));
        let config = self.clone();
        let settings = PollSettings::new(config.poll_secs, config.unreachable_grace_secs);
        let task = polling::spawn(id.clone(), settings, sink, stop, move || OpenvpnEngine {
            id: id.clone(),
            servers: config.servers(),
            killed: killed.clone(),
        });
        Ok(vec![task])
    }
}
