//! `WireguardSource`: sessions from WireGuard interfaces through their UAPI
//! sockets (wireguard-go, and kernel WireGuard through the same protocol
//! where a UAPI socket is exposed).
//!
//! WireGuard has no connections, only peers that handshake. A peer counts as
//! connected while its last handshake is younger than `active_secs`
//! (WireGuard's own REJECT_AFTER_TIME is 180 s), or while its received
//! bytes keep growing between polls (traffic, keepalives). Each poll compares the
//! devices with the table and sends only what changed: a new active peer or
//! new counters (upsert), a peer gone quiet (`idle-timeout`) or an interface
//! gone (`interface-down`). Identity: engine `wireguard`, NAS = interface
//! name, session = the peer's public key (base64, as `wg` shows it).

pub mod netlink;
pub mod uapi;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_core::{Connection, ConnectionInfo, EngineKind, SourceKey, Win32Error};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::uapi::{Device, Peer};
use rras_source::control::ControlError;
use rras_source::polling::{self, PollSettings, PollingEngine, Snapshot};
use rras_source::Engine;
use rras_source::{HangUp, Sink, SourceId};

/// Where a WireGuard instance reads its interfaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The cross-platform UAPI sockets (wireguard-go, boringtun …).
    #[default]
    Uapi,
    /// The kernel module, over generic netlink.
    Netlink,
}

/// `[wireguard]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WireguardConfig {
    /// The instance's name (`[[source]] name`); the `[wireguard]` section
    /// and flags configure the default instance, named "wireguard".
    pub name: String,
    /// How the interfaces are read: `uapi` (wireguard-go's sockets in
    /// `socket_dir`) or `netlink` (kernel WireGuard, the `interfaces` listed).
    pub backend: Backend,
    /// Directory of UAPI sockets (`<iface>.sock`); the UAPI source is off
    /// when unset.
    pub socket_dir: Option<PathBuf>,
    /// Only these interfaces (empty: every socket in `socket_dir`). Two
    /// instances on one directory split it with disjoint lists.
    pub interfaces: Vec<String>,
    /// Seconds between polls.
    pub poll_secs: u64,
    /// A peer is connected while its last handshake is younger than this.
    pub active_secs: u64,
    /// Optional `PUBLIC-KEY-BASE64 USER-NAME` lines naming peers.
    pub peers_file: Option<PathBuf>,
    /// Seconds an interface that stops answering keeps its peers before
    /// they end as `engine-unreachable`.
    pub unreachable_grace_secs: u64,
}

impl Default for WireguardConfig {
    fn default() -> Self {
        WireguardConfig {
            name: String::new(),
            backend: Backend::Uapi,
            socket_dir: None,
            interfaces: Vec::new(),
            poll_secs: 5,
            active_secs: 180,
            peers_file: None,
            unreachable_grace_secs: 60,
        }
    }
}

/// The UAPI sockets in `dir`: (interface name, socket path).
async fn sockets(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        // No directory: no wireguard-go runs (it creates it).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("sock") {
            if let Some(name) = path.file_stem().and_then(|s| s.to_str()) {
                out.push((name.to_owned(), path));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn peer_names(file: Option<&Path>) -> HashMap<String, String> {
    let Some(file) = file else { return HashMap::new() };
    std::fs::read_to_string(file)
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once(char::is_whitespace))
                .map(|(k, u)| (k.to_owned(), u.trim().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// What the table should hold for an active peer. `since` is when the
/// session began (kept from the table across polls and restarts).
fn peer_info(id: &SourceId, iface: &str, peer: &Peer, user: Option<&String>, since: SystemTime) -> ConnectionInfo {
    let key = id.key(iface, peer.public_key.clone());
    let user = user
        .cloned()
        .unwrap_or_else(|| format!("wg:{}", &peer.public_key[..8.min(peer.public_key.len())]));
    let mut info = ConnectionInfo::new(key, user, since);
    info.interface_name = iface.to_owned();
    info.remote_endpoint = peer.endpoint.map(|e| e.ip());
    info.stats.bytes_rcved = peer.rx_bytes;
    info.stats.bytes_xmited = peer.tx_bytes;
    info.guid = rras_source::stable_guid(&info.source);
    info.device_type = rras_core::model::device_type::OTHER;
    for (addr, len) in &peer.allowed_ips {
        match addr {
            IpAddr::V4(a) if *len == 32 && info.projection.ipv4().remote_address.is_none() => {
                info.projection.ipv4_mut().remote_address = Some(*a);
            }
            IpAddr::V6(a) if *len == 128 && info.projection.ipv6().remote_address().is_none() => {
                info.projection.ipv6_mut().set_remote_address(*a);
            }
            _ => {}
        }
    }
    info.engine_attributes.push(("allowed-ips".into(), allowed_text(peer)));
    info
}

fn allowed_text(peer: &Peer) -> String {
    peer.allowed_ips
        .iter()
        .map(|(a, l)| format!("{a}/{l}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The peers that count as connected now. `last_rx` holds each peer's
/// received bytes at the previous poll and is updated here.
pub fn active_peers(
    id: &SourceId,
    devices: &[(String, Device)],
    names: &HashMap<String, String>,
    active: Duration,
    now: SystemTime,
    last_rx: &mut HashMap<(String, String), u64>,
) -> Vec<ConnectionInfo> {
    let mut current = Vec::new();
    for (iface, device) in devices {
        for peer in &device.peers {
            let recent = peer
                .last_handshake
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() < active);
            let traffic = last_rx
                .insert((iface.clone(), peer.public_key.clone()), peer.rx_bytes)
                .is_some_and(|rx| peer.rx_bytes > rx);
            if recent || traffic {
                let since = peer.last_handshake.unwrap_or(now);
                current.push(peer_info(id, iface, peer, names.get(&peer.public_key), since));
            }
        }
    }
    let ifaces: HashSet<&str> = devices.iter().map(|(i, _)| i.as_str()).collect();
    last_rx.retain(|(iface, _), _| ifaces.contains(iface.as_str()));
    current
}

/// One WireGuard instance as a polling engine.
#[derive(Debug)]
struct WireguardEngine {
    id: SourceId,
    config: WireguardConfig,
    last_rx: HashMap<(String, String), u64>,
    /// Interfaces that answered the last read.
    listed: HashSet<String>,
}

impl WireguardEngine {
    /// Every interface of the instance with what reading it gave.
    async fn read_devices(&self) -> Result<Vec<(String, Result<uapi::Device, ControlError>)>, String> {
        let mut out = Vec::new();
        match self.config.backend {
            Backend::Uapi => {
                let dir = self.config.socket_dir.clone().unwrap_or_default();
                let mine = |iface: &str| {
                    self.config.interfaces.is_empty() || self.config.interfaces.iter().any(|i| i == iface)
                };
                for (iface, socket) in sockets(&dir).await?.into_iter().filter(|(iface, _)| mine(iface)) {
                    out.push((iface, uapi::get(&socket).await));
                }
            }
            Backend::Netlink => {
                for iface in &self.config.interfaces {
                    let name = iface.clone();
                    let read = tokio::task::spawn_blocking(move || netlink::get_device(&name))
                        .await
                        .map_err(|e| format!("netlink reader: {e}"))?;
                    // Without the kernel family nothing can be read at all.
                    if let Err(e @ netlink::NetlinkError::NoFamily(_)) = &read {
                        return Err(e.to_string());
                    }
                    out.push((iface.clone(), read.map_err(ControlError::from)));
                }
            }
        }
        Ok(out)
    }
}

impl PollingEngine for WireguardEngine {
    async fn read(&mut self) -> Result<Snapshot, String> {
        let mut devices = Vec::new();
        let mut unreachable = Vec::new();
        for (iface, read) in self.read_devices().await? {
            match read {
                Ok(d) => devices.push((iface, d)),
                // Nobody listens on the socket / no such interface: the
                // interface is gone, and its peers with it (interface-down).
                Err(e) if e.is_gone() => {}
                // It is there but does not answer properly: keep its peers
                // for the grace period.
                Err(e) => unreachable.push((iface, e.to_string())),
            }
        }
        let names = peer_names(self.config.peers_file.as_deref());
        let active = Duration::from_secs(self.config.active_secs);
        let connections = active_peers(&self.id, &devices, &names, active, SystemTime::now(), &mut self.last_rx);
        self.listed = devices.iter().map(|(iface, _)| iface.clone()).collect();
        Ok(Snapshot {
            connections,
            reached: devices.len(),
            unreachable,
        })
    }

    fn ended_reason(&self, key: &SourceKey) -> String {
        if self.listed.contains(&key.nas) {
            "idle-timeout".into()
        } else {
            "interface-down".into()
        }
    }
}

/// Hangs a peer up by removing it from the running interface (the
/// interface's configuration file is untouched: a restart of the interface
/// brings the peer back).
#[derive(Debug)]
enum PeerRemover {
    /// Through the UAPI sockets in this directory.
    Uapi(PathBuf),
    /// Through the kernel.
    Netlink,
}

/// A peer to remove: its interface and its public key.
#[derive(Debug)]
struct PeerSession {
    iface: String,
    public_key: String,
}

impl HangUp for PeerRemover {
    type Session = PeerSession;

    fn session(&self, connection: &Connection) -> Option<PeerSession> {
        let key = &connection.info.source;
        // The interface name becomes a path: refuse anything but a name.
        let iface_ok = !key.nas.is_empty() && !key.nas.contains('/') && key.nas != "..";
        iface_ok.then(|| PeerSession {
            iface: key.nas.clone(),
            public_key: key.session_id.clone(),
        })
    }

    async fn hang_up(&self, peer: PeerSession) -> Win32Error {
        let removed = match self {
            PeerRemover::Uapi(dir) => {
                uapi::remove_peer(&dir.join(format!("{}.sock", peer.iface)), &peer.public_key).await
            }
            PeerRemover::Netlink => {
                let (iface, key) = (peer.iface.clone(), peer.public_key.clone());
                match tokio::task::spawn_blocking(move || netlink::remove_peer(&iface, &key)).await {
                    Ok(r) => r.map_err(ControlError::from),
                    Err(e) => Err(ControlError::Io(std::io::Error::other(e.to_string()))),
                }
            }
        };
        match removed {
            Ok(()) => Win32Error::NoError,
            Err(e) => {
                tracing::warn!("WireGuard peer removal failed: {e}");
                e.win32()
            }
        }
    }
}

/// The engine, as its settings.
impl Engine for WireguardConfig {
    const KIND: EngineKind = EngineKind::Wireguard;
    const ON_KEY: &'static str = "socket_dir";

    fn name(&self) -> &str {
        &self.name
    }

    fn is_on(&self) -> bool {
        self.socket_dir.is_some() || self.backend == Backend::Netlink
    }

    fn validate(&self) -> Result<(), String> {
        if self.poll_secs == 0 || self.active_secs == 0 {
            return Err("wireguard.poll_secs and wireguard.active_secs must be at least 1".into());
        }
        if self.backend == Backend::Netlink {
            if self.interfaces.is_empty() {
                return Err("wireguard.backend = \"netlink\" needs the `interfaces` to read".into());
            }
            if let Some(bad) = self
                .interfaces
                .iter()
                .find(|i| i.is_empty() || i.len() > 15 || i.contains('/'))
            {
                return Err(format!("wireguard.interfaces: {bad:?} is not an interface name"));
            }
        }
        Ok(())
    }

    fn describe(&self) -> rras_source::Description {
        use rras_source::Description;
        let backend = match self.backend {
            Backend::Uapi => "UAPI sockets in",
            Backend::Netlink => "kernel (netlink)",
        };
        Description {
            summary: format!(
                "WireGuard {backend} {}{}",
                self.socket_dir
                    .as_deref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                if self.interfaces.is_empty() {
                    String::new()
                } else {
                    format!(" interfaces {}", self.interfaces.join(" "))
                }
            ),
            paths: self.socket_dir.iter().cloned().collect(),
            secret_files: Vec::new(),
        }
    }

    fn claims(&self) -> Vec<rras_source::Claim> {
        use rras_source::Claim;
        // Kernel instances all read the one kernel.
        let place = match self.backend {
            Backend::Netlink => "the kernel".to_owned(),
            Backend::Uapi => match &self.socket_dir {
                Some(dir) => dir.display().to_string(),
                None => return Vec::new(),
            },
        };
        let hint = "give each a disjoint `interfaces` list";
        if self.interfaces.is_empty() {
            return vec![Claim {
                place,
                part: None,
                hint,
            }];
        }
        self.interfaces
            .iter()
            .map(|i| Claim {
                place: place.clone(),
                part: Some(i.clone()),
                hint,
            })
            .collect()
    }

    /// Starts the instance's poller under supervision; registers its hang-up
    /// (peer removal).
    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, rras_source::SourceError> {
        let remover = match (self.backend, self.socket_dir.clone()) {
            (Backend::Netlink, _) => {
                tracing::info!(source = %id, interfaces = ?self.interfaces, "WireGuard source polling the kernel over netlink");
                PeerRemover::Netlink
            }
            (Backend::Uapi, Some(dir)) => {
                tracing::info!(source = %id, dir = %dir.display(), "WireGuard source polling UAPI sockets");
                PeerRemover::Uapi(dir)
            }
            (Backend::Uapi, None) => return Ok(Vec::new()),
        };
        sink.register_hang_up(id.clone(), Arc::new(remover));
        let config = self.clone();
        let settings = PollSettings::new(config.poll_secs, config.unreachable_grace_secs);
        let task = polling::spawn(id.clone(), settings, sink, stop, move || WireguardEngine {
            id: id.clone(),
            config: config.clone(),
            last_rx: HashMap::new(),
            listed: HashSet::new(),
        });
        Ok(vec![task])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_source::SourceEvent;
    use std::time::UNIX_EPOCH;

    fn peer(key: &str, handshake: Option<u64>, rx: u64) -> Peer {
        Peer {
            public_key: key.into(),
            endpoint: Some("198.51.100.4:5000".parse().unwrap()),
            last_handshake: handshake.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            rx_bytes: rx,
            tx_bytes: 10,
            allowed_ips: vec![("10.9.0.2".parse().unwrap(), 32), ("10.99.0.0".parse().unwrap(), 24)],
        }
    }

    /// What one poll would apply: the driver's comparison of the active
    /// peers with the instance's rows.
    fn reconcile(
        devices: &[(String, Device)],
        live: &[Arc<Connection>],
        names: &HashMap<String, String>,
        window: Duration,
        now: SystemTime,
        rx: &mut HashMap<(String, String), u64>,
    ) -> Vec<SourceEvent> {
        let id = SourceId::default_of(EngineKind::Wireguard);
        let engine = WireguardEngine {
            id: id.clone(),
            config: WireguardConfig::default(),
            last_rx: HashMap::new(),
            listed: devices.iter().map(|(i, _)| i.clone()).collect(),
        };
        let current = active_peers(&id, devices, names, window, now, rx);
        polling::diff(current, live, |k| engine.ended_reason(k))
    }

    #[test]
    fn reconcile_starts_updates_and_ends() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let window = Duration::from_secs(180);
        let names = HashMap::from([("AAA".to_owned(), "alice".to_owned())]);
        let devices = vec![(
            "wg0".to_owned(),
            Device {
                listen_port: Some(51820),
                peers: vec![
                    peer("AAA", Some(9_990), 5),
                    peer("BBB", Some(1_000), 5),
                    peer("CCC", None, 0),
                ],
            },
        )];
        let mut rx = HashMap::new();
        let events = reconcile(&devices, &[], &names, window, now, &mut rx);
        assert_eq!(events.len(), 1, "only the fresh peer");
        let SourceEvent::Started(info) = &events[0] else {
            panic!()
        };
        assert_eq!(info.user_name, "alice");
        assert_eq!(info.device_type, rras_core::model::device_type::OTHER);
        assert_eq!(info.projection.ipv4().remote_address, Some("10.9.0.2".parse().unwrap()));
        assert_eq!(info.remote_endpoint, Some("198.51.100.4".parse().unwrap()));
        assert_eq!(info.started_at, UNIX_EPOCH + Duration::from_secs(9_990));

        // In the table now: same counters → nothing; new counters → upsert
        // keeping the start time.
        let live = vec![Arc::new(Connection {
            handle: rras_core::ConnectionHandle::new(1).unwrap(),
            info: (**info).clone(),
        })];
        assert!(reconcile(&devices, &live, &names, window, now, &mut rx).is_empty());
        let mut later = devices.clone();
        later[0].1.peers[0] = peer("AAA", Some(9_995), 99);
        let events = reconcile(&later, &live, &names, window, now, &mut rx);
        let SourceEvent::Started(info) = &events[0] else {
            panic!()
        };
        assert_eq!(
            (info.stats.bytes_rcved, info.started_at),
            (99, UNIX_EPOCH + Duration::from_secs(9_990))
        );

        // Quiet peer → idle-timeout; vanished interface → interface-down.
        let quiet = reconcile(&devices, &live, &names, window, now + Duration::from_secs(400), &mut rx);
        assert!(matches!(&quiet[0], SourceEvent::Ended { reason, .. } if reason == "idle-timeout"));
        // An old handshake but growing counters (keepalives): still connected.
        let mut busy = devices.clone();
        busy[0].1.peers[1] = peer("BBB", Some(1_000), 50);
        let events = reconcile(&busy, &[], &names, window, now, &mut rx);
        assert!(events
            .iter()
            .any(|e| matches!(e, SourceEvent::Started(i) if i.source.session_id == "BBB")));
        let gone = reconcile(&[], &live, &names, window, now, &mut rx);
        assert!(matches!(&gone[0], SourceEvent::Ended { reason, .. } if reason == "interface-down"));
    }
}
