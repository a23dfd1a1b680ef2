//! `FleetOptions`: how to reach the fleet's NATS servers, by NATS
//! conventions — `nats://` or `tls://` URLs (comma-separated for a
//! cluster), user and password, an nkey seed, or a `.creds` file, and TLS
//! trust and client certificates. Secrets come from files, never from the
//! command line or the config itself (a password may also be in the URL,
//! for tests on loopback).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::FleetError;

/// Connection settings, shared by rrasd's `[fleet]` and `rasctl fleet`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetOptions {
    /// NATS server URLs, comma-separated (`nats://a:4222,nats://b:4222`).
    pub url: Option<String>,
    /// User name (with `password_file`).
    pub user: Option<String>,
    /// File whose first line is the password of `user`.
    pub password_file: Option<PathBuf>,
    /// A NATS `.creds` file (JWT and nkey seed).
    pub creds_file: Option<PathBuf>,
    /// File holding an nkey seed (`SU…`).
    pub nkey_seed_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for `tls://` servers.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM), with `tls_key`, when the server asks.
    pub tls_cert: Option<PathBuf>,
    /// Client key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Prefix of this client's reply inboxes instead of `_INBOX` (a node
    /// uses `_INBOX_<node>`, so its NATS user may read only its own
    /// replies).
    pub inbox_prefix: Option<String>,
}

/// Counts the connections a client made (the first and every reconnect),
/// and keeps the server's last refusal of a permission.
#[derive(Debug, Default)]
pub struct Connects {
    count: AtomicU64,
    /// Woken at each connection.
    pub notify: tokio::sync::Notify,
    refused: std::sync::Mutex<Option<String>>,
    /// Woken at each refusal.
    refusals: tokio::sync::Notify,
}

impl Connects {
    /// Connections so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// What the server last refused this user ("Permissions Violation for
    /// Publish to …"): NATS answers a forbidden request with nothing, so
    /// the request itself only times out.
    pub fn refused(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Waits until the server refuses this user something on `subject`
    /// (forever if it never does): a request NATS refused is never
    /// answered, and need not be waited for.
    pub async fn refusal_of(&self, subject: &str) -> String {
        let quoted = format!("\"{subject}\"");
        loop {
            let woken = self.refusals.notified();
            if let Some(refused) = self.refused().filter(|r| r.contains(&quoted)) {
                return refused;
            }
            woken.await;
        }
    }

    /// `e`, or the refusal behind it: a call that got no answer while the
    /// server refused this user a permission was refused, not slow.
    pub fn explain(&self, e: FleetError) -> FleetError {
        match (&e, self.refused()) {
            (FleetError::TimedOut(_) | FleetError::NoAnswer { .. }, Some(refused)) => FleetError::Forbidden(refused),
            _ => e,
        }
    }

    fn saw(&self, event: &async_nats::Event) {
        match event {
            async_nats::Event::Connected => {
                self.count.fetch_add(1, Ordering::AcqRel);
                self.notify.notify_one();
            }
            async_nats::Event::ServerError(async_nats::ServerError::Other(message))
                if message.to_lowercase().contains("permissions violation") =>
            {
                if let Ok(mut refused) = self.refused.lock() {
                    *refused = Some(message.clone());
                }
                self.refusals.notify_waiters();
            }
            _ => {}
        }
    }
}

/// How a connection behaves when the servers go away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// A daemon: start even if NATS is down, and keep trying forever.
    Forever,
    /// A command: fail at once when no server answers.
    Fail,
    /// A reader's connection to one server of the cluster
    /// ([`ServerClients`](crate::ServerClients)): fail at once when that
    /// server does not answer now, keep trying forever once connected, and
    /// never move to another server of the cluster.
    Pinned,
}

impl FleetOptions {
    /// The server list, or an error naming what is missing.
    pub fn servers(&self) -> Result<Vec<String>, FleetError> {
        let url = self.url.as_deref().unwrap_or("").trim();
        if url.is_empty() {
            return Err(FleetError::Options("no NATS URL (fleet.url, --fleet or --nats)".into()));
        }
        let servers: Vec<String> = url
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        for s in &servers {
            s.parse::<async_nats::ServerAddr>()
                .map_err(|e| FleetError::Options(format!("bad NATS URL {s}: {e}")))?;
        }
        Ok(servers)
    }

    /// Checks what can be checked without touching the network or the
    /// files: the URLs parse, credentials are not given twice, pairs are
    /// whole.
    pub fn validate(&self) -> Result<(), String> {
        self.servers().map_err(|e| e.to_string())?;
        let ways = [
            self.password_file.is_some(),
            self.creds_file.is_some(),
            self.nkey_seed_file.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err("give one of password_file, creds_file, nkey_seed_file".into());
        }
        if self.password_file.is_some() != self.user.is_some() {
            return Err("user and password_file go together".into());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key go together".into());
        }
        Ok(())
    }

    /// The files these options name (key, path), for `--check-config`;
    /// a missing one is reported there and when connecting.
    pub fn files(&self) -> Vec<(&'static str, &std::path::Path)> {
        [
            ("password_file", &self.password_file),
            ("creds_file", &self.creds_file),
            ("nkey_seed_file", &self.nkey_seed_file),
            ("tls_ca", &self.tls_ca),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
        ]
        .into_iter()
        .filter_map(|(key, path)| path.as_deref().map(|p| (key, p)))
        .collect()
    }

    /// Connects. `name` is how this client shows in the server's monitoring.
    pub async fn connect(&self, name: &str, reconnect: Reconnect) -> Result<async_nats::Client, FleetError> {
        self.connect_watched(name, reconnect, Arc::new(Connects::default()))
            .await
    }

    /// Connects, counting every (re)connection in `connects`: a publisher
    /// reconciles after each, whatever it missed while the link was down.
    pub async fn connect_watched(
        &self,
        name: &str,
        reconnect: Reconnect,
        connects: Arc<Connects>,
    ) -> Result<async_nats::Client, FleetError> {
        let servers = self.servers()?;
        let mut options = async_nats::ConnectOptions::new()
            .event_callback(move |event| {
                let connects = connects.clone();
                async move { connects.saw(&event) }
            })
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            // Reconnects every ≤ 1 s: a node reconciles within seconds of
            // NATS coming back.
            .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(1000)));
        options = match reconnect {
            Reconnect::Forever => options.retry_on_initial_connect(),
            Reconnect::Fail => options.max_reconnects(Some(3)),
            Reconnect::Pinned => options.ignore_discovered_servers(),
        };
        if let Some(file) = &self.password_file {
            let password = read_secret(file)?;
            let user = self.user.clone().unwrap_or_default();
            options = options.user_and_password(user, password);
        }
        if let Some(file) = &self.nkey_seed_file {
            options = options.nkey(read_secret(file)?);
        }
        if let Some(file) = &self.creds_file {
            options = options
                .credentials_file(file)
                .await
                .map_err(|e| FleetError::Options(format!("creds file {}: {e}", file.display())))?;
        }
        if let Some(prefix) = &self.inbox_prefix {
            options = options.custom_inbox_prefix(prefix.clone());
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        options
            .connect(servers.as_slice())
            .await
            .map_err(|e| FleetError::Connect {
                url: servers.join(","),
                message: e.to_string(),
            })
    }
}

fn read_secret(path: &std::path::Path) -> Result<String, FleetError> {
    let text = std::fs::read_to_string(path).map_err(|e| FleetError::Options(format!("{}: {e}", path.display())))?;
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if line.is_empty() {
        return Err(FleetError::Options(format!("{} is empty", path.display())));
    }
    Ok(line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_credentials_are_checked_before_connecting() {
        let o = |url: &str| FleetOptions {
            url: Some(url.into()),
            ..Default::default()
        };
        assert_eq!(o("nats://a:4222, nats://b:4223").servers().unwrap().len(), 2);
        assert!(FleetOptions::default().validate().unwrap_err().contains("no NATS URL"));
        assert!(o("nats://a:notaport").validate().unwrap_err().contains("bad NATS URL"));
        let mut two = o("nats://a:4222");
        two.creds_file = Some("/etc/hostname".into());
        two.nkey_seed_file = Some("/etc/hostname".into());
        assert!(two.validate().unwrap_err().contains("one of"));
        let mut named = o("nats://a:4222");
        named.tls_ca = Some("/nonexistent/ca.pem".into());
        assert!(
            named.validate().is_ok(),
            "files are --check-config's and connect's business"
        );
        assert_eq!(named.files(), [("tls_ca", std::path::Path::new("/nonexistent/ca.pem"))]);
        let mut half = o("nats://a:4222");
        half.user = Some("u".into());
        assert!(half.validate().unwrap_err().contains("together"));
    }
}
