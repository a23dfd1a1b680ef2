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

pub mod uapi;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_core::{Connection, ConnectionInfo, EngineKind, SourceKey, Win32Error};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::uapi::{Device, Peer};
use super::snapshot::{self, diff, Poller};
use crate::manager::{ConnectionManager, Disconnector, ReportEvent};

/// `[wireguard]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WireguardConfig {
    /// Directory of UAPI sockets (`<iface>.sock`); the source is off when unset.
    pub socket_dir: Option<PathBuf>,
    /// Seconds between polls.
    pub poll_secs: u64,
    /// A peer is connected while its last handshake is younger than this.
    pub active_secs: u64,
    /// Optional `PUBLIC-KEY-BASE64 USER-NAME` lines naming peers.
    pub peers_file: Option<PathBuf>,
}

impl Default for WireguardConfig {
    fn default() -> Self {
        WireguardConfig {
            socket_dir: None,
            poll_secs: 5,
            active_secs: 180,
            peers_file: None,
        }
    }
}

impl WireguardConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.poll_secs == 0 || self.active_secs == 0 {
            return Err("wireguard.poll_secs and wireguard.active_secs must be at least 1".into());
        }
        Ok(())
    }
}

/// Starts the poller; registers the hang-up path (peer removal).
pub fn start(
    config: &WireguardConfig,
    manager: Arc<ConnectionManager>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let Some(dir) = config.socket_dir.clone() else {
        return Vec::new();
    };
    tracing::info!(dir = %dir.display(), "WireGuard source polling UAPI sockets");
    manager.register_disconnector(EngineKind::Wireguard, Arc::new(PeerRemover { dir }));
    vec![tokio::spawn(poll_loop(config.clone(), manager, stop))]
}

/// The UAPI sockets in `dir`: (interface name, socket path).
async fn sockets(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return out;
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
    out
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
fn peer_info(iface: &str, peer: &Peer, user: Option<&String>, since: SystemTime) -> ConnectionInfo {
    let key = SourceKey {
        engine: EngineKind::Wireguard,
        nas: iface.to_owned(),
        session_id: peer.public_key.clone(),
    };
    let user = user
        .cloned()
        .unwrap_or_else(|| format!("wg:{}", &peer.public_key[..8.min(peer.public_key.len())]));
    let mut info = ConnectionInfo::new(key, user, since);
    info.interface_name = iface.to_owned();
    info.remote_endpoint = peer.endpoint.map(|e| e.ip());
    info.stats.bytes_rcved = peer.rx_bytes;
    info.stats.bytes_xmited = peer.tx_bytes;
    info.guid = super::stable_guid(&info.source);
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

/// The events that bring the table in line with what the devices say.
/// `last_rx` holds each peer's received bytes at the previous poll and is
/// updated here.
pub fn reconcile(
    devices: &[(String, Device)],
    live: &[Arc<Connection>],
    names: &HashMap<String, String>,
    active: Duration,
    now: SystemTime,
    last_rx: &mut HashMap<SourceKey, u64>,
) -> Vec<ReportEvent> {
    let mut current = Vec::new();
    for (iface, device) in devices {
        for peer in &device.peers {
            let key = SourceKey {
                engine: EngineKind::Wireguard,
                nas: iface.clone(),
                session_id: peer.public_key.clone(),
            };
            let recent = peer
                .last_handshake
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() < active);
            let traffic = last_rx.insert(key, peer.rx_bytes).is_some_and(|rx| peer.rx_bytes > rx);
            if recent || traffic {
                let since = peer.last_handshake.unwrap_or(now);
                current.push(peer_info(iface, peer, names.get(&peer.public_key), since));
            }
        }
    }
    let ifaces: HashSet<&str> = devices.iter().map(|(i, _)| i.as_str()).collect();
    last_rx.retain(|k, _| ifaces.contains(k.nas.as_str()));
    diff(current, live, |key| {
        if ifaces.contains(key.nas.as_str()) {
            "idle-timeout".into()
        } else {
            "interface-down".into()
        }
    })
}

async fn poll_loop(config: WireguardConfig, manager: Arc<ConnectionManager>, stop: watch::Receiver<bool>) {
    let Some(dir) = config.socket_dir.clone() else { return };
    let active = Duration::from_secs(config.active_secs);
    let mut poller = Poller::new(config.poll_secs, stop);
    let mut failing: HashSet<String> = HashSet::new();
    let mut last_rx = HashMap::new();
    while poller.next(&manager).await {
        let mut devices = Vec::new();
        for (iface, socket) in sockets(&dir).await {
            match uapi::get(&socket).await {
                Ok(d) => {
                    failing.remove(&iface);
                    devices.push((iface, d));
                }
                // A stale socket file of a dead wireguard-go: its peers end.
                Err(e) => {
                    if failing.insert(iface.clone()) {
                        tracing::warn!(%iface, "WireGuard UAPI failed: {e}");
                    }
                }
            }
        }
        let live = manager.table().select(|s| s.engine == EngineKind::Wireguard);
        let names = peer_names(config.peers_file.as_deref());
        let events = reconcile(&devices, &live, &names, active, SystemTime::now(), &mut last_rx);
        snapshot::apply(&manager, "wireguard", events).await;
    }
}

/// Hangs a peer up by removing it from the running interface (the
/// interface's configuration file is untouched: a restart of the interface
/// brings the peer back).
#[derive(Debug)]
struct PeerRemover {
    dir: PathBuf,
}

impl Disconnector for PeerRemover {
    fn disconnect(&self, connection: Arc<Connection>) -> Pin<Box<dyn Future<Output = Win32Error> + Send>> {
        let socket = self.dir.join(format!("{}.sock", connection.info.source.nas));
        Box::pin(async move {
            match uapi::remove_peer(&socket, &connection.info.source.session_id).await {
                Ok(()) => Win32Error::NoError,
                Err(uapi::UapiError::Io(_) | uapi::UapiError::Timeout(_)) => Win32Error::RpcServerUnavailable,
                Err(e) => {
                    tracing::warn!("WireGuard peer removal failed: {e}");
                    Win32Error::RpcCallFailed
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let ReportEvent::Started(info) = &events[0] else {
            panic!()
        };
        assert_eq!(info.user_name, "alice");
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
        let ReportEvent::Started(info) = &events[0] else {
            panic!()
        };
        assert_eq!(
            (info.stats.bytes_rcved, info.started_at),
            (99, UNIX_EPOCH + Duration::from_secs(9_990))
        );

        // Quiet peer → idle-timeout; vanished interface → interface-down.
        let quiet = reconcile(&devices, &live, &names, window, now + Duration::from_secs(400), &mut rx);
        assert!(matches!(&quiet[0], ReportEvent::Ended { reason, .. } if reason == "idle-timeout"));
        // An old handshake but growing counters (keepalives): still connected.
        let mut busy = devices.clone();
        busy[0].1.peers[1] = peer("BBB", Some(1_000), 50);
        let events = reconcile(&busy, &[], &names, window, now, &mut rx);
        assert!(events
            .iter()
            .any(|e| matches!(e, ReportEvent::Started(i) if i.source.session_id == "BBB")));
        let gone = reconcile(&[], &live, &names, window, now, &mut rx);
        assert!(matches!(&gone[0], ReportEvent::Ended { reason, .. } if reason == "interface-down"));
    }
}
