//! `OcservSource`: AnyConnect/OpenConnect sessions from ocserv through
//! `occtl` (docs/ocserv.md).
//!
//! Each poll runs `occtl --json show users` and sends the table what
//! changed. Identity: engine `ocserv`, NAS = the occtl socket path,
//! session = `ID@SESSION` (ids are worker pids and come back after a
//! restart; the short session id keeps them apart). Hang-up:
//! `occtl disconnect id N`.

pub mod occtl;

use std::sync::Arc;
use std::time::SystemTime;

use rras_core::{Connection, ConnectionInfo, EngineKind, Win32Error};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::occtl::{OcUser, Occtl};
use rras_source::polling::{self, PollSettings, PollingEngine, Snapshot};
use rras_source::Engine;
use rras_source::{HangUp, Sink, SourceId};

/// `[ocserv]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcservConfig {
    /// The instance's name (`[[source]] name`); `[ocserv]` and the flags
    /// configure the default instance, named "ocserv".
    pub name: String,
    /// ocserv's `occtl-socket-file`; the source is off when unset.
    pub socket: Option<String>,
    /// The occtl program.
    pub occtl: String,
    /// Network namespace ocserv runs in: occtl runs there (`ip netns exec`)
    /// so it can read the byte counters of the vpnsN devices.
    pub netns: Option<String>,
    /// Seconds between polls.
    pub poll_secs: u64,
    /// Seconds an ocserv that stops answering keeps its sessions before
    /// they end as `engine-unreachable`.
    pub unreachable_grace_secs: u64,
}

impl Default for OcservConfig {
    fn default() -> Self {
        OcservConfig {
            name: String::new(),
            socket: None,
            occtl: "occtl".into(),
            netns: None,
            poll_secs: 5,
            unreachable_grace_secs: 60,
        }
    }
}

impl OcservConfig {
    fn occtl(&self) -> Option<Occtl> {
        Some(Occtl {
            socket: self.socket.clone()?,
            program: self.occtl.clone(),
            netns: self.netns.clone(),
        })
    }
}

/// What the table holds for one ocserv session. The start time is `now`
/// minus occtl's relative "connected for" (ocserv gives no epoch per
/// session and "Connected at" has minutes only); the polling driver keeps
/// the first value it saw.
pub fn session_info(id: &SourceId, socket: &str, u: &OcUser, now: SystemTime) -> ConnectionInfo {
    let started = u.connected_for.and_then(|ago| now.checked_sub(ago)).unwrap_or(now);
    let key = id.key(socket, format!("{}@{}", u.id, u.session));
    let mut info = ConnectionInfo::new(key, "", started);
    info.set_account(&u.username);
    info.interface_name = u.device.clone();
    info.remote_computer = u.hostname.clone();
    info.remote_endpoint = u.remote_ip;
    info.local_endpoint = u.local_ip;
    info.stats.bytes_rcved = u.rx_bytes.unwrap_or(0);
    info.stats.bytes_xmited = u.tx_bytes.unwrap_or(0);
    info.projection.ipv4_mut().remote_address = u.ipv4;
    if let Some(v6) = u.ipv6 {
        info.projection.ipv6_mut().set_remote_address(v6);
    }
    info.guid = rras_source::stable_guid(&info.source);
    info.device_type = rras_core::model::device_type::OTHER;
    let mut attributes = vec![
        ("User-Agent".to_owned(), u.user_agent.clone()),
        ("TLS-Cipher".to_owned(), u.tls_cipher.clone()),
        ("DTLS-Cipher".to_owned(), u.dtls_cipher.clone()),
        ("Vhost".to_owned(), u.vhost.clone()),
    ];
    if let Some(group) = &u.groupname {
        attributes.push(("Group".to_owned(), group.clone()));
    }
    attributes.retain(|(_, v)| !v.is_empty());
    info.engine_attributes = attributes;
    info
}

/// One ocserv as a polling engine.
#[derive(Debug)]
struct OcservEngine {
    id: SourceId,
    occtl: Occtl,
}

impl PollingEngine for OcservEngine {
    async fn read(&mut self) -> Result<Snapshot, String> {
        let mut snapshot = Snapshot::default();
        match self.occtl.users().await {
            Ok(users) => {
                snapshot.reached = 1;
                let now = SystemTime::now();
                snapshot.connections = users
                    .iter()
                    // Sessions still authenticating are not connections yet.
                    .filter(|u| u.state == "connected")
                    .map(|u| session_info(&self.id, &self.occtl.socket, u, now))
                    .collect();
            }
            Err(e) => snapshot.unreachable.push((self.occtl.socket.clone(), e.to_string())),
        }
        Ok(snapshot)
    }

    fn ended_reason(&self, _key: &rras_core::SourceKey) -> String {
        "user-request".into()
    }
}

/// `occtl disconnect id N`.
#[derive(Debug)]
struct Disconnect {
    occtl: Occtl,
}

impl HangUp for Disconnect {
    type Session = u64;

    fn session(&self, connection: &Connection) -> Option<u64> {
        let (id, _) = connection.info.source.session_id.split_once('@')?;
        id.parse().ok()
    }

    async fn hang_up(&self, id: u64) -> Win32Error {
        match self.occtl.disconnect(id).await {
            Ok(()) => Win32Error::NoError,
            Err(e) => {
                tracing::warn!("occtl disconnect id {id} failed: {e}");
                e.win32()
            }
        }
    }
}

/// The engine, as its settings.
impl Engine for OcservConfig {
    const KIND: EngineKind = EngineKind::Ocserv;
    const ON_KEY: &'static str = "socket";

    fn name(&self) -> &str {
        &self.name
    }

    fn is_on(&self) -> bool {
        self.socket.is_some()
    }

    fn validate(&self) -> Result<(), String> {
        if self.poll_secs == 0 {
            return Err("ocserv.poll_secs must be at least 1".into());
        }
        if let Some(ns) = &self.netns {
            let ok = !ns.is_empty()
                && ns.len() <= 64
                && ns.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(format!("ocserv.netns {ns:?} is not a network namespace name"));
            }
        }
        if self.occtl.is_empty() {
            return Err("ocserv.occtl must name the occtl program".into());
        }
        Ok(())
    }

    fn describe(&self) -> rras_source::Description {
        use rras_source::Description;
        let socket = self.socket.clone().unwrap_or_default();
        Description {
            summary: format!(
                "ocserv via {} -s {socket}{}",
                self.occtl,
                self.netns
                    .as_deref()
                    .map(|n| format!(" in netns {n}"))
                    .unwrap_or_default()
            ),
            paths: vec![std::path::PathBuf::from(socket)],
            secret_files: Vec::new(),
        }
    }

    fn claims(&self) -> Vec<rras_source::Claim> {
        use rras_source::Claim;
        self.socket
            .iter()
            .map(|s| Claim {
                place: s.clone(),
                part: None,
                hint: "each occtl socket belongs to one instance",
            })
            .collect()
    }

    /// Starts the instance's poller under supervision and registers
    /// `occtl disconnect` as its hang-up.
    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, rras_source::SourceError> {
        let Some(occtl) = self.occtl() else {
            return Ok(Vec::new());
        };
        tracing::info!(source = %id, socket = %occtl.socket, netns = ?occtl.netns, "ocserv source polling occtl");
        sink.register_hang_up(id.clone(), Arc::new(Disconnect { occtl: occtl.clone() }));
        let settings = PollSettings::new(self.poll_secs, self.unreachable_grace_secs);
        let task = polling::spawn(id.clone(), settings, sink, stop, move || OcservEngine {
            id: id.clone(),
            occtl: occtl.clone(),
        });
        Ok(vec![task])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_session_becomes_a_connection() {
        let id = SourceId::new(EngineKind::Ocserv, "ssl").unwrap();
        let users = occtl::parse_users(
            r#"[{"ID":41,"Username":"CORP\\alice","Groupname":"staff","State":"connected","Device":"vpns3",
                "Remote IP":"198.51.100.4","Local Device IP":"192.0.2.1","IPv4":"10.9.0.7","IPv6":"fd00::7",
                "RX":"1000","TX":"2000","_Connected at":" 2m:05s","Session":"abc","Hostname":"laptop"}]"#,
        )
        .unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let info = session_info(&id, "/run/ocserv/occtl.socket", &users[0], now);
        assert_eq!(info.source.session_id, "41@abc");
        assert_eq!(info.source.instance, "ssl");
        assert_eq!((info.logon_domain.as_str(), info.user_name.as_str()), ("CORP", "alice"));
        assert_eq!(info.started_at, now - Duration::from_secs(125));
        assert_eq!((info.stats.bytes_rcved, info.stats.bytes_xmited), (1000, 2000));
        assert_eq!(info.interface_name, "vpns3");
        assert_eq!(info.remote_computer, "laptop");
        assert_eq!(info.device_type, rras_core::model::device_type::OTHER);
        assert!(info.engine_attributes.contains(&("Group".into(), "staff".into())));
        assert_eq!(
            info.projection.ipv6().remote_address(),
            Some("fd00::7".parse().unwrap())
        );
    }

    #[test]
    fn config_checks() {
        let ok = OcservConfig {
            socket: Some("/run/ocserv/occtl.socket".into()),
            netns: Some("vpn-ns".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let bad = OcservConfig {
            netns: Some("../etc".into()),
            ..ok.clone()
        };
        assert!(bad.validate().is_err());
    }
}
