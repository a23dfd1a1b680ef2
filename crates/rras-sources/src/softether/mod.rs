//! `softether`: sessions of SoftEther VPN Server — its own protocol, SSTP,
//! L2TP/IPsec, OpenVPN and EtherIP — from its JSON-RPC admin API
//! (docs/softether.md).
//!
//! Each poll asks `EnumHub` (unless `hubs` names them), then per hub
//! `EnumSession` and `EnumIpTable`, and `GetSessionStatus` per user
//! session for its counters and protocol, all on one kept-alive HTTPS
//! connection whose certificate is pinned. Identity: engine `softether`,
//! NAS = the hub, session = `NAME@CREATED-MS`. Hang-up: `DeleteSession`.
//! SoftEther's SecureNAT, bridges and cascade links are sessions to it but
//! not connections to us.

pub mod rpc;
pub mod sessions;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use rras_core::{Connection, EngineKind, SourceId, SourceKey, Win32Error};
use rras_source::control::{ControlError, Limits};
use rras_source::polling::{self, PollSettings, PollingEngine, Snapshot};
use rras_source::{Description, Engine, HangUp, Sink, SourceError};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::rpc::{ApiUrl, RpcClient};
use self::sessions::{HubList, IpEntry, IpTable, SessionList, SessionStatus};

/// Longest admin password file read (a password, not a document).
const MAX_PASSWORD_FILE: u64 = 4096;

/// `[softether]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoftetherConfig {
    /// The instance's name (`[[source]] name`); `[softether]` configures
    /// the default instance, named "softether".
    pub name: String,
    /// The JSON-RPC API, `https://HOST:5555/api/`; the source is off when
    /// unset.
    pub url: Option<String>,
    /// SHA-256 of the server's certificate (`openssl x509 -fingerprint
    /// -sha256`): SoftEther's certificate is its own, so it is pinned.
    pub server_cert_sha256: Option<String>,
    /// File holding the server's admin password (one line; readable by
    /// rrasd alone).
    pub password_file: Option<PathBuf>,
    /// Virtual hubs to read; empty: every hub on the server.
    pub hubs: Vec<String>,
    /// Seconds between polls.
    pub poll_secs: u64,
    /// Seconds a server that stops answering keeps its sessions before
    /// they end as `engine-unreachable`.
    pub unreachable_grace_secs: u64,
}

impl Default for SoftetherConfig {
    fn default() -> Self {
        SoftetherConfig {
            name: String::new(),
            url: None,
            server_cert_sha256: None,
            password_file: None,
            hubs: Vec::new(),
            poll_secs: 5,
            unreachable_grace_secs: 60,
        }
    }
}

impl SoftetherConfig {
    fn api(&self) -> Result<(ApiUrl, [u8; 32], PathBuf), String> {
        let url = self.url.as_deref().ok_or("url is required")?;
        let url = ApiUrl::parse(url)?;
        let pin = self
            .server_cert_sha256
            .as_deref()
            .ok_or("server_cert_sha256 is required (SoftEther's certificate is pinned, not trusted by name)")?;
        let pin = rpc::parse_fingerprint(pin)?;
        let password = self.password_file.clone().ok_or("password_file is required")?;
        Ok((url, pin, password))
    }
}

/// The engine, as its settings.
impl Engine for SoftetherConfig {
    const KIND: EngineKind = EngineKind::Softether;
    const ON_KEY: &'static str = "url";

    fn name(&self) -> &str {
        &self.name
    }

    fn is_on(&self) -> bool {
        self.url.is_some()
    }

    fn validate(&self) -> Result<(), String> {
        self.api()?;
        if !(1..=3600).contains(&self.poll_secs) {
            return Err("poll_secs must be 1 to 3600".into());
        }
        if self.unreachable_grace_secs > 86_400 {
            return Err("unreachable_grace_secs must be at most 86400".into());
        }
        if let Some(bad) = self
            .hubs
            .iter()
            .find(|h| h.is_empty() || h.len() > 255 || h.chars().any(char::is_control))
        {
            return Err(format!("hub name {bad:?} is not one SoftEther allows"));
        }
        Ok(())
    }

    fn describe(&self) -> Description {
        let hubs = if self.hubs.is_empty() {
            "every hub".to_owned()
        } else {
            format!("hubs {}", self.hubs.join(" "))
        };
        Description {
            summary: format!("SoftEther JSON-RPC {} ({hubs})", self.url.as_deref().unwrap_or("")),
            paths: Vec::new(),
            secret_files: self
                .password_file
                .iter()
                .map(|p| ("softether.password_file".to_owned(), p.clone()))
                .collect(),
        }
    }

    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, SourceError> {
        let (url, pin, password_file) = self.api().map_err(SourceError::Config)?;
        let password = read_password(&password_file)?;
        let tls = rpc::pinned_tls(pin).map_err(SourceError::Config)?;
        let limits = Limits {
            timeout: rpc::CALL_TIMEOUT,
            ..Limits::default()
        };
        tracing::info!(source = %id, %url, "SoftEther source polling the JSON-RPC API");
        let hang_up = SessionDeleter {
            rpc: tokio::sync::Mutex::new(RpcClient::new(url.clone(), tls.clone(), password.clone(), limits)),
        };
        sink.register_hang_up(id.clone(), Arc::new(hang_up));
        let settings = PollSettings::new(self.poll_secs, self.unreachable_grace_secs);
        let hubs = self.hubs.clone();
        let task = polling::spawn(id.clone(), settings, sink, stop, move || SoftetherEngine {
            id: id.clone(),
            rpc: RpcClient::new(url.clone(), tls.clone(), password.clone(), limits),
            hubs: hubs.clone(),
        });
        Ok(vec![task])
    }
}

/// The admin password: the file's first line. It goes into an HTTP
/// header, so a line break or other control character is refused.
fn read_password(path: &std::path::Path) -> Result<String, SourceError> {
    let open = |source| SourceError::Open {
        what: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(open)?.len();
    if len > MAX_PASSWORD_FILE {
        return Err(SourceError::Config(format!(
            "{} is larger than a password",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(open)?;
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() || password.chars().any(char::is_control) {
        return Err(SourceError::Config(format!(
            "{}: the first line must be the admin password (no control characters)",
            path.display()
        )));
    }
    Ok(password)
}

/// One SoftEther server as a polling engine.
#[derive(Debug)]
struct SoftetherEngine {
    id: SourceId,
    rpc: RpcClient,
    hubs: Vec<String>,
}

impl SoftetherEngine {
    /// The hubs to read: the configured ones, or every hub that is online.
    async fn hubs(&mut self) -> Result<Vec<String>, ControlError> {
        if !self.hubs.is_empty() {
            return Ok(self.hubs.clone());
        }
        let list: HubList = self.rpc.call("EnumHub", json!({})).await?;
        Ok(list.hubs.into_iter().filter(|h| h.online).map(|h| h.name).collect())
    }

    /// Every user session of `hub`, with its status and addresses.
    async fn hub(&mut self, hub: &str, now: SystemTime) -> Result<Vec<rras_core::ConnectionInfo>, ControlError> {
        let list: SessionList = self.rpc.call("EnumSession", json!({ "HubName_str": hub })).await?;
        let ips: IpTable = self.rpc.call("EnumIpTable", json!({ "HubName_str": hub })).await?;
        let mut by_session: HashMap<&str, Vec<&IpEntry>> = HashMap::new();
        for e in &ips.entries {
            by_session.entry(e.session.as_str()).or_default().push(e);
        }
        let mut out = Vec::new();
        for entry in list.sessions.iter().filter(|s| s.is_user()) {
            let status: SessionStatus = match self
                .rpc
                .call(
                    "GetSessionStatus",
                    json!({ "HubName_str": hub, "Name_str": entry.name }),
                )
                .await
            {
                Ok(s) => s,
                // Ended between the list and the question: it is gone.
                Err(ControlError::Refused(_)) => continue,
                Err(e) => return Err(e),
            };
            let addresses = by_session.get(entry.name.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            out.push(sessions::session_info(&self.id, hub, entry, &status, addresses, now));
        }
        Ok(out)
    }
}

impl PollingEngine for SoftetherEngine {
    async fn read(&mut self) -> Result<Snapshot, String> {
        let hubs = self.hubs().await.map_err(|e| e.to_string())?;
        let mut snapshot = Snapshot::default();
        let now = SystemTime::now();
        for hub in hubs {
            match self.hub(&hub, now).await {
                Ok(sessions) => {
                    snapshot.reached += 1;
                    snapshot.connections.extend(sessions);
                }
                Err(e) => snapshot.unreachable.push((hub, e.to_string())),
            }
        }
        Ok(snapshot)
    }

    fn ended_reason(&self, _key: &SourceKey) -> String {
        "user-request".into()
    }
}

/// `DeleteSession` on the session's hub.
#[derive(Debug)]
struct SessionDeleter {
    rpc: tokio::sync::Mutex<RpcClient>,
}

impl HangUp for SessionDeleter {
    /// (hub, session name)
    type Session = (String, String);

    fn session(&self, connection: &Connection) -> Option<Self::Session> {
        let key = &connection.info.source;
        let name = sessions::session_name(&key.session_id)?;
        Some((key.nas.clone(), name.to_owned()))
    }

    async fn hang_up(&self, (hub, name): Self::Session) -> Win32Error {
        let mut rpc = self.rpc.lock().await;
        let reply: Result<serde_json::Value, ControlError> = rpc
            .call("DeleteSession", json!({ "HubName_str": hub, "Name_str": name }))
            .await;
        match reply {
            Ok(_) => Win32Error::NoError,
            Err(e) => {
                tracing::warn!(%hub, session = %name, "SoftEther DeleteSession: {e}");
                e.win32()
            }
        }
    }
}
