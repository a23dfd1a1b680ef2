//! rrasd configuration: a TOML file (`--config FILE`) where every option
//! can also be given as a flag; flags win over the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::sources::radius::RadiusConfig;

/// The daemon's settings after file and flags are merged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory of the durable store (`rrasd.redb`).
    pub state_dir: PathBuf,
    /// Path of the admin Unix socket.
    pub admin_socket: PathBuf,
    /// Permission bits of the admin socket, octal text ("0660").
    pub socket_mode: String,
    /// Members of this group (and root, and the daemon's own user) are admins.
    pub admin_group: Option<String>,
    /// Members of this group may read (enumerate, get info) but change nothing.
    pub reader_group: Option<String>,
    /// Users (names or uids) who are admins.
    pub admin_users: Vec<String>,
    /// Users (names or uids) who are readers.
    pub reader_users: Vec<String>,
    /// tracing filter ("info", "rrasd=debug" …).
    pub log_level: String,
    /// `text` (colour on a terminal only; journald priorities under
    /// systemd) or `json` (one object per line).
    pub log_format: crate::logging::LogFormat,
    /// Serve Prometheus metrics on this address (`GET /metrics`).
    pub metrics: Option<SocketAddr>,
    /// Days an ended connection stays in the history (the accounting
    /// history `rasctl history` and the console query).
    pub history_days: u64,
    /// Bytes the history may hold (entries and their indexes); past it the
    /// oldest entries go, as they do past `history_days`, whichever comes
    /// first.
    pub history_max_bytes: u64,
    /// The old count of ended connections kept; no longer a limit (the
    /// history is kept by `history_days` and `history_max_bytes`), still
    /// read so old files load. `--check-config` warns.
    #[serde(rename = "history_limit")]
    pub history_limit_ignored: Option<u64>,
    /// Memory for the store's page cache, MiB (the live table itself is
    /// always in memory; this caches the file's B-tree pages).
    pub store_cache_mb: u64,
    /// Resume cursors one client session may hold.
    pub cursors_per_session: usize,
    /// Resume cursors held in total.
    pub cursors_total: usize,
    /// Seconds an unused resume cursor lives.
    pub cursor_idle_secs: u64,
    /// Admin client sessions (`MprAdminServerConnect` handles, not VPN
    /// sessions) held in total. `max_sessions` is the old name, still read.
    #[serde(alias = "max_sessions")]
    pub max_admin_sessions: usize,
    /// Milliseconds to stay in the "starting" state before serving (tests).
    pub debug_start_delay_ms: u64,
    /// Most admin client sessions one caller identity may hold
    /// (`sessions_per_client` is the old name, still read).
    #[serde(alias = "sessions_per_client")]
    pub admin_sessions_per_client: usize,
    /// Most admin RPCs in flight on one connection.
    pub rpc_concurrency_per_connection: usize,
    /// Most admin RPCs in flight for one caller identity, over all its
    /// connections (more: RPC_S_SERVER_TOO_BUSY).
    pub rpc_inflight_per_client: usize,
    /// Seconds after which an admin RPC is cut off.
    pub rpc_timeout_secs: u64,
    /// Niceness of the admin RPC's thread (-20..19; below 0 needs root or
    /// CAP_SYS_NICE). Below the sources' 0 so a page is not kept waiting
    /// behind ingest for a core; the web console runs at 10.
    pub admin_nice: i32,
    /// Niceness of the store's applier thread (-20..19), which moves
    /// logged commits into the database: above the sources' 0 so ingest,
    /// whose acknowledgements wait only for the log, gets a core first.
    pub store_applier_nice: i32,
    /// Denied-call records kept in the audit log (state-changing records
    /// are kept by `audit_days`, never evicted by denials).
    pub audit_limit: u64,
    /// Days a state-changing audit record (disconnect, clear statistics,
    /// reload, fleet hang-up …) is kept.
    pub audit_days: u64,
    /// `[listeners]`: caps and timeouts of every admin listener (web
    /// console, admin TLS, admin Unix socket, metrics), each on its own.
    pub listeners: rras_source::gate::GateLimits,
    /// Serve `metrics` on a non-loopback address (it has no
    /// authentication; off: such an address is refused).
    pub metrics_allow_remote: bool,
    /// RADIUS accounting source.
    pub radius: RadiusConfig,
    /// Remote administration over TLS.
    pub tls: crate::tls::TlsConfig,
    /// `[web]`: the web console.
    pub web: crate::web::WebConfig,
    /// `[fleet]`: publish this node to a fleet on NATS JetStream.
    pub fleet: crate::fleet::FleetConfig,
    /// WireGuard source.
    pub wireguard: crate::sources::wireguard::WireguardConfig,
    /// OpenVPN source.
    pub openvpn: crate::sources::openvpn::OpenvpnConfig,
    /// `[ocserv]`: the default ocserv instance.
    pub ocserv: crate::sources::ocserv::OcservConfig,
    /// `[strongswan]`: the default strongSwan instance.
    pub strongswan: crate::sources::strongswan::StrongswanConfig,
    /// Further source instances (`[[source]] kind = "openvpn" name = …`);
    /// `[radius]`, `[wireguard]`, `[openvpn]` and the flags are shorthands
    /// for one default instance each.
    pub source: Vec<crate::sources::SourceConfig>,
    /// The command line this configuration came from; SIGHUP re-reads the
    /// file and applies the same flags again (roles, TLS names, tokens).
    #[serde(skip)]
    pub cli: Option<Args>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            state_dir: PathBuf::from("/var/lib/rrasd"),
            admin_socket: PathBuf::from("/run/rrasd/admin.sock"),
            socket_mode: "0660".into(),
            admin_group: None,
            reader_group: None,
            admin_users: Vec::new(),
            reader_users: Vec::new(),
            log_level: "info".into(),
            log_format: crate::logging::LogFormat::Text,
            metrics: None,
            history_days: 365,
            history_max_bytes: 8 << 30,
            history_limit_ignored: None,
            store_cache_mb: 32,
            cursors_per_session: 64,
            cursors_total: 65_536,
            cursor_idle_secs: 300,
            max_admin_sessions: 4096,
            debug_start_delay_ms: 0,
            admin_sessions_per_client: 64,
            rpc_concurrency_per_connection: 32,
            rpc_inflight_per_client: 64,
            rpc_timeout_secs: 60,
            admin_nice: -5,
            store_applier_nice: 5,
            audit_limit: 100_000,
            audit_days: 400,
            listeners: rras_source::gate::GateLimits::default(),
            metrics_allow_remote: false,
            radius: RadiusConfig::default(),
            tls: crate::tls::TlsConfig::default(),
            web: crate::web::WebConfig::default(),
            fleet: crate::fleet::FleetConfig::default(),
            wireguard: Default::default(),
            openvpn: Default::default(),
            ocserv: Default::default(),
            strongswan: Default::default(),
            source: Vec::new(),
            cli: None,
        }
    }
}

/// A configuration problem, reported as one line naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid for this schema.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// toml's message, with the line.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A file holding a secret is readable or writable by others.
    #[error("config key `{key}`: {message}")]
    Insecure {
        /// The key naming the file.
        key: String,
        /// What is wrong, with the fix.
        message: String,
    },
}

/// `rrasd` command line.
#[derive(Debug, Clone, Parser, Default)]
#[command(
    name = "rrasd",
    version = rras_core::VERSION,
    about = "openrras daemon: the RRAS connection manager for Linux VPN servers"
)]
pub struct Args {
    /// Print the rrasd(8) manual page (roff) and exit.
    #[arg(long, hide = true)]
    pub print_man: bool,
    /// Print the rrasd.toml(5) manual page (roff) and exit.
    #[arg(long, hide = true)]
    pub print_config_man: bool,
    /// Print the configuration reference (Markdown) and exit.
    #[arg(long, hide = true)]
    pub print_config_reference: bool,
    /// Check the configuration and the files it names, print what would
    /// run, and exit: 0 when rrasd would start, 2 when not.
    #[arg(long)]
    pub check_config: bool,
    /// Print this node's id and exit: its key in a fleet, which per-node
    /// NATS permissions name (creates the store if it is missing).
    #[arg(long)]
    pub print_node_id: bool,
    /// TOML configuration file (every key is also a flag below).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the durable store [default: /var/lib/rrasd].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Admin Unix socket [default: /run/rrasd/admin.sock].
    #[arg(long, value_name = "PATH")]
    pub admin_socket: Option<PathBuf>,
    /// Admin socket permission bits, octal [default: 0660].
    #[arg(long, value_name = "MODE")]
    pub socket_mode: Option<String>,
    /// Group whose members are admins (root and the daemon's user always are).
    #[arg(long, value_name = "GROUP")]
    pub admin_group: Option<String>,
    /// Group whose members may read but not change anything.
    #[arg(long, value_name = "GROUP")]
    pub reader_group: Option<String>,
    /// Log filter, e.g. info or rrasd=debug [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log lines as text or JSON [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<crate::logging::LogFormat>,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Store page cache in MiB [default: 32].
    #[arg(long, value_name = "MIB")]
    pub store_cache_mb: Option<u64>,
    /// Listen for RADIUS accounting (RFC 2866) on ADDR:PORT [default: off].
    #[arg(long, value_name = "ADDR:PORT")]
    pub radius_acct: Option<SocketAddr>,
    /// A RADIUS client (NAS): CIDR=SECRET, repeatable.
    #[arg(long, value_name = "CIDR=SECRET")]
    pub radius_client: Vec<String>,
    /// UDP port of the NASes' Disconnect-Request (RFC 5176) listener [default: 3799].
    #[arg(long, value_name = "PORT")]
    pub radius_disconnect_port: Option<u16>,
    /// Serve the web console on ADDR:PORT [default: off]; HTTPS with
    /// --tls-cert/--tls-key, plain HTTP only on a loopback address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<SocketAddr>,
    /// Publish this node to a fleet on NATS JetStream (URL, comma-separated
    /// for a cluster; credentials and TLS in `[fleet]`) [default: off].
    #[arg(long, value_name = "NATS-URL")]
    pub fleet: Option<String>,
    /// Serve the admin RPC over TLS on ADDR:PORT too [default: off].
    #[arg(long, value_name = "ADDR:PORT")]
    pub admin_tcp: Option<SocketAddr>,
    /// Server certificate chain for --admin-tcp (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Server private key for --admin-tcp (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// CA of client certificates (enables certificate authentication).
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Bearer tokens file: lines `NAME ROLE SHA256-HEX` (rasctl token new).
    #[arg(long, value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Client certificate name (SAN) that is an admin; repeatable.
    #[arg(long, value_name = "NAME")]
    pub tls_admin_name: Vec<String>,
    /// Client certificate name (SAN) that is a reader; repeatable.
    #[arg(long, value_name = "NAME")]
    pub tls_reader_name: Vec<String>,
    /// Learn WireGuard sessions from the UAPI sockets in DIR
    /// (wireguard-go: /var/run/wireguard) [default: off].
    #[arg(long, value_name = "DIR")]
    pub wireguard_dir: Option<PathBuf>,
    /// Seconds between WireGuard polls [default: 5].
    #[arg(long, value_name = "SECS")]
    pub wireguard_poll_secs: Option<u64>,
    /// A WireGuard peer is connected while its last handshake is younger [default: 180].
    #[arg(long, value_name = "SECS")]
    pub wireguard_active_secs: Option<u64>,
    /// File of `PUBLIC-KEY USER` lines naming WireGuard peers.
    #[arg(long, value_name = "FILE")]
    pub wireguard_peers_file: Option<PathBuf>,
    /// An OpenVPN management socket to watch (PATH or PATH=IFACE), repeatable.
    #[arg(long, value_name = "PATH[=IFACE]")]
    pub openvpn_mgmt: Vec<String>,
    /// Seconds between OpenVPN polls [default: 5].
    #[arg(long, value_name = "SECS")]
    pub openvpn_poll_secs: Option<u64>,
    /// ocserv's occtl socket (`occtl-socket-file`): watch that ocserv.
    #[arg(long, value_name = "PATH")]
    pub ocserv_socket: Option<String>,
    /// Network namespace ocserv runs in (occtl runs there, for counters).
    #[arg(long, value_name = "NAME")]
    pub ocserv_netns: Option<String>,
    /// Seconds between ocserv polls [default: 5].
    #[arg(long, value_name = "SECS")]
    pub ocserv_poll_secs: Option<u64>,
    /// charon's VICI socket (unix:///var/run/charon.vici): watch strongSwan.
    #[arg(long, value_name = "URI")]
    pub strongswan_vici: Option<String>,
    /// Stay "starting" this long before serving (for tests of ERROR_DDM_NOT_RUNNING).
    #[arg(long, value_name = "MS", hide = true)]
    pub debug_start_delay_ms: Option<u64>,
}

impl Args {
    /// Reads the file (if any) and applies the flags over it.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let cli = self.clone();
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = self.$field {
                    config.$field = v;
                }
            };
            (opt $field:ident) => {
                if self.$field.is_some() {
                    config.$field = self.$field;
                }
            };
        }
        set!(state_dir);
        set!(admin_socket);
        set!(socket_mode);
        set!(log_level);
        set!(log_format);
        set!(debug_start_delay_ms);
        set!(store_cache_mb);
        set!(opt admin_group);
        set!(opt reader_group);
        set!(opt metrics);
        if self.web.is_some() {
            config.web.listen = self.web;
        }
        if self.fleet.is_some() {
            config.fleet.url = self.fleet.clone();
        }
        if self.radius_acct.is_some() {
            config.radius.listen = self.radius_acct;
        }
        if let Some(port) = self.radius_disconnect_port {
            config.radius.disconnect_port = port;
        }
        if self.admin_tcp.is_some() {
            config.tls.listen = self.admin_tcp;
        }
        macro_rules! set_tls {
            ($flag:ident => $field:ident) => {
                if self.$flag.is_some() {
                    config.tls.$field = self.$flag.clone();
                }
            };
        }
        set_tls!(tls_cert => cert);
        set_tls!(tls_key => key);
        set_tls!(tls_client_ca => client_ca);
        set_tls!(tokens_file => tokens_file);
        if self.wireguard_dir.is_some() {
            config.wireguard.socket_dir = self.wireguard_dir.clone();
        }
        if self.wireguard_peers_file.is_some() {
            config.wireguard.peers_file = self.wireguard_peers_file.clone();
        }
        config.openvpn.management.extend(self.openvpn_mgmt.iter().cloned());
        if let Some(s) = self.openvpn_poll_secs {
            config.openvpn.poll_secs = s;
        }
        if self.ocserv_socket.is_some() {
            config.ocserv.socket = self.ocserv_socket.clone();
        }
        if self.ocserv_netns.is_some() {
            config.ocserv.netns = self.ocserv_netns.clone();
        }
        if let Some(s) = self.ocserv_poll_secs {
            config.ocserv.poll_secs = s;
        }
        if self.strongswan_vici.is_some() {
            config.strongswan.vici = self.strongswan_vici.clone();
        }
        if let Some(s) = self.wireguard_poll_secs {
            config.wireguard.poll_secs = s;
        }
        if let Some(s) = self.wireguard_active_secs {
            config.wireguard.active_secs = s;
        }
        config.tls.admin_names.extend(self.tls_admin_name.iter().cloned());
        config.tls.reader_names.extend(self.tls_reader_name.iter().cloned());
        for spec in &self.radius_client {
            config
                .radius
                .clients
                .push(spec.parse().map_err(|message| ConfigError::Invalid {
                    key: "radius.clients",
                    message,
                })?);
        }
        config.validate()?;
        config.cli = Some(cli);
        Ok(config)
    }
}

impl Config {
    /// Parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses TOML text; the error is one line with the line number and key.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str::<Config>(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let message = e.message().replace('\n', " ");
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })
    }

    /// Checks values the type system cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.socket_mode_bits()?;
        if self.history_days == 0 || self.history_days > 36_500 {
            return Err(ConfigError::Invalid {
                key: "history_days",
                message: "must be 1 to 36500 days".into(),
            });
        }
        if self.history_max_bytes < 1 << 20 {
            return Err(ConfigError::Invalid {
                key: "history_max_bytes",
                message: "must be at least 1048576 (1 MiB)".into(),
            });
        }
        self.listeners.validate().map_err(|message| ConfigError::Invalid {
            key: "listeners",
            message,
        })?;
        if let Some(addr) = self.metrics {
            if !addr.ip().is_loopback() && !self.metrics_allow_remote {
                return Err(ConfigError::Invalid {
                    key: "metrics",
                    message: format!(
                        "{addr} is not a loopback address and /metrics has no authentication: \
                         bind it to 127.0.0.1, or set metrics_allow_remote = true behind your own access control"
                    ),
                });
            }
        }
        if self.cursors_per_session == 0 || self.cursors_total == 0 {
            return Err(ConfigError::Invalid {
                key: "cursors_per_session",
                message: "cursor limits must be at least 1".into(),
            });
        }
        if !(1..=65_536).contains(&self.store_cache_mb) {
            return Err(ConfigError::Invalid {
                key: "store_cache_mb",
                message: "must be 1 to 65536 (MiB)".into(),
            });
        }
        if self.max_admin_sessions == 0 {
            return Err(ConfigError::Invalid {
                key: "max_admin_sessions",
                message: "must be at least 1".into(),
            });
        }
        for (key, nice) in [
            ("admin_nice", self.admin_nice),
            ("store_applier_nice", self.store_applier_nice),
        ] {
            if !(-20..=19).contains(&nice) {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be -20 to 19 (a niceness)".into(),
                });
            }
        }
        let limits = [
            self.admin_sessions_per_client,
            self.rpc_concurrency_per_connection,
            self.rpc_inflight_per_client,
            self.rpc_timeout_secs as usize,
        ];
        if limits.contains(&0) {
            return Err(ConfigError::Invalid {
                key: "admin_sessions_per_client",
                message: "session, concurrency and timeout limits must be at least 1".into(),
            });
        }
        self.tls
            .validate()
            .map_err(|message| ConfigError::Invalid { key: "tls", message })?;
        self.web
            .validate(&self.tls)
            .map_err(|message| ConfigError::Invalid { key: "web", message })?;
        self.fleet
            .validate()
            .map_err(|message| ConfigError::Invalid { key: "fleet", message })?;
        let shorthands: [&dyn rras_source::EngineConfig; 4] =
            [&self.openvpn, &self.wireguard, &self.ocserv, &self.strongswan];
        for engine in shorthands {
            engine.validate().map_err(|message| ConfigError::Invalid {
                key: engine.kind().as_str(),
                message,
            })?;
        }
        self.radius
            .validate()
            .map_err(|message| ConfigError::Invalid { key: "radius", message })?;
        self.validate_sources()
    }

    /// Every file the configuration names that holds a secret, with the
    /// key that names it: each must be private to the daemon
    /// ([`rras_source::private_file`]). RADIUS secret files were read (and
    /// checked) when the configuration was parsed; they are listed so
    /// `--check-config` names them.
    pub fn secret_files(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        if let Some(key) = &self.tls.key {
            out.push(("tls.key".to_owned(), key.clone()));
        }
        if let Some(tokens) = &self.tls.tokens_file {
            out.push(("tls.tokens_file".to_owned(), tokens.clone()));
        }
        for source in self.source_instances() {
            if let crate::sources::SourceConfig::Engine(engine) = &source {
                out.extend(engine.describe().secret_files);
            }
            if let crate::sources::SourceConfig::Radius(radius) = source {
                if let Some(key) = &radius.radsec_key {
                    out.push(("radius.radsec_key".to_owned(), key.clone()));
                }
                for c in &radius.clients {
                    if let Some(file) = &c.secret_file {
                        out.push((format!("radius client {} secret_file", c.name), file.clone()));
                    }
                }
            }
        }
        out
    }

    /// Refuses to start on a secret file that others may read or write.
    pub fn check_secret_files(&self) -> Result<(), ConfigError> {
        for (key, path) in self.secret_files() {
            rras_source::private_file::check(&path).map_err(|message| ConfigError::Insecure { key, message })?;
        }
        Ok(())
    }

    /// Who has a role on the admin socket, as the authorizer reads it.
    pub fn local_roles(&self) -> crate::auth::LocalRoles<'_> {
        crate::auth::LocalRoles {
            admin_group: self.admin_group.as_deref(),
            reader_group: self.reader_group.as_deref(),
            admin_users: &self.admin_users,
            reader_users: &self.reader_users,
        }
    }

    /// Every source instance to run: the shorthand sections that are
    /// switched on, then the `[[source]]` entries, in order.
    pub fn source_instances(&self) -> Vec<crate::sources::SourceConfig> {
        use crate::sources::SourceConfig;
        use rras_source::EngineConfig;
        let mut out = Vec::new();
        if self.radius.listen.is_some() {
            out.push(SourceConfig::Radius(Box::new(self.radius.clone())));
        }
        let sections: [std::sync::Arc<dyn EngineConfig>; 4] = [
            std::sync::Arc::new(self.wireguard.clone()),
            std::sync::Arc::new(self.openvpn.clone()),
            std::sync::Arc::new(self.ocserv.clone()),
            std::sync::Arc::new(self.strongswan.clone()),
        ];
        out.extend(sections.into_iter().filter(|s| s.is_on()).map(SourceConfig::Engine));
        out.extend(self.source.iter().cloned());
        out
    }

    fn validate_sources(&self) -> Result<(), ConfigError> {
        use crate::sources::SourceConfig;
        let invalid = |message: String| ConfigError::Invalid { key: "source", message };
        for entry in &self.source {
            let id = entry.id().map_err(invalid)?;
            if let Some(key) = entry.missing_key() {
                return Err(invalid(format!("{id}: {key} is required")));
            }
            entry.validate().map_err(|e| invalid(format!("{id}: {e}")))?;
        }
        let mut seen = std::collections::HashSet::new();
        for entry in self.source_instances() {
            let id = entry.id().map_err(invalid)?;
            if !seen.insert(id.clone()) {
                return Err(invalid(format!(
                    "{id} is configured twice (a [[source]] named like its kind is the [{}] section's instance)",
                    id.kind()
                )));
            }
        }
        // Two instances reading one socket or interface would both report
        // (and end) the same sessions.
        let claims: Vec<(String, rras_source::Claim)> = self
            .source_instances()
            .into_iter()
            .filter_map(|entry| match entry {
                SourceConfig::Engine(c) => Some(c),
                SourceConfig::Radius(_) => None,
            })
            .flat_map(|c| {
                let name = match c.name() {
                    "" => c.kind().as_str().to_owned(),
                    n => n.to_owned(),
                };
                c.claims().into_iter().map(move |claim| (name.clone(), claim))
            })
            .collect();
        for (i, (a, claim)) in claims.iter().enumerate() {
            if let Some((b, _)) = claims[i + 1..]
                .iter()
                .find(|(b, other)| b != a && claim.overlaps(other))
            {
                return Err(invalid(format!(
                    "instances {:?} and {:?} both read {}: {}",
                    a, b, claim.place, claim.hint
                )));
            }
        }
        Ok(())
    }

    /// The socket mode as bits.
    pub fn socket_mode_bits(&self) -> Result<u32, ConfigError> {
        u32::from_str_radix(self.socket_mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| ConfigError::Invalid {
                key: "socket_mode",
                message: format!("{:?} is not an octal mode like 0660", self.socket_mode),
            })
    }

    /// Cursor limits for the connection table.
    pub fn cursor_limits(&self) -> rras_core::CursorLimits {
        rras_core::CursorLimits {
            per_session: self.cursors_per_session,
            total: self.cursors_total,
            idle: Duration::from_secs(self.cursor_idle_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_the_key_and_line() {
        let err = Config::from_toml("state_dir = \"/tmp/x\"\nbogus_key = 1\n").unwrap_err();
        assert!(err.contains("bogus_key") && err.contains("line 2"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn web_key_parses_and_is_checked() {
        let c = Config::from_toml("[web]\nlisten = \"127.0.0.1:8080\"\n").unwrap();
        assert_eq!(c.web.listen, Some("127.0.0.1:8080".parse().unwrap()));
        // Nobody could sign in: refused, naming the key.
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("web") && err.contains("sign in"), "{err}");
    }

    #[test]
    fn fleet_section_parses_and_is_checked() {
        let c = Config::from_toml("[fleet]\nurl = \"nats://a:4222,nats://b:4222\"\nreplicas = 3\nname = \"vpn1\"\n")
            .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.fleet.options().servers().unwrap().len(), 2);
        let check =
            crate::check::check(&Config::from_toml("[fleet]\nurl = \"nats://u:secret@a:4222\"\n").unwrap()).render();
        assert!(
            check.contains("fleet: nats://…@a:4222") && !check.contains("secret"),
            "{check}"
        );
        for (bad, says) in [
            ("replicas = 9", "replicas"),
            ("heartbeat_secs = 0", "heartbeat_secs"),
            ("password_file = \"/etc/pw\"", "together"),
            ("url2 = 1", "url2"),
        ] {
            let err = Config::from_toml(&format!("[fleet]\nurl = \"nats://a:4222\"\n{bad}\n"))
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.to_string()))
                .unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        // A named file that is missing is --check-config's error.
        let missing =
            Config::from_toml("[fleet]\nurl = \"nats://a:4222\"\ncreds_file = \"/nonexistent/x.creds\"\n").unwrap();
        assert!(missing.validate().is_ok());
        let report = crate::check::check(&missing);
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.contains("fleet.creds_file /nonexistent/x.creds")),
            "{:?}",
            report.errors
        );
        // Off without a URL: nothing else is checked.
        assert!(Config::from_toml("[fleet]\nreplicas = 9\n").unwrap().validate().is_ok());
    }

    #[test]
    fn flags_override_file_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rrasd.toml");
        std::fs::write(
            &path,
            "state_dir = \"/from/file\"\nlog_level = \"debug\"\n[radius]\nlisten = \"127.0.0.1:1813\"\n",
        )
        .unwrap();
        let args = Args {
            config: Some(path),
            state_dir: Some("/from/flag".into()),
            radius_client: vec!["127.0.0.0/8=s3cret".into()],
            ..Args::default()
        };
        let config = args.into_config().unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/from/flag"));
        assert_eq!(config.log_level, "debug");
        assert_eq!(config.radius.listen, Some("127.0.0.1:1813".parse().unwrap()));
        assert_eq!(config.radius.clients.len(), 1);
    }

    #[test]
    fn bad_values_are_rejected_with_the_key() {
        let args = Args {
            socket_mode: Some("rw-rw----".into()),
            ..Args::default()
        };
        let err = args.into_config().unwrap_err().to_string();
        assert!(err.contains("socket_mode"), "{err}");
        let args = Args {
            radius_client: vec!["10.0.0.0/40=x".into()],
            ..Args::default()
        };
        assert!(args.into_config().unwrap_err().to_string().contains("radius"));
        let args = Args {
            admin_tcp: Some("127.0.0.1:8443".parse().unwrap()),
            ..Args::default()
        };
        let err = args.into_config().unwrap_err().to_string();
        assert!(err.contains("tls") && err.contains("no plaintext"), "{err}");
        let err = Config::from_toml("rpc_timeout_secs = 0\n").map(|c| c.validate());
        assert!(matches!(err, Ok(Err(ConfigError::Invalid { .. }))));
    }

    #[test]
    fn wireguard_instances_on_one_directory_must_split_it() {
        let two = |a: &str, b: &str| {
            format!(
                "[[source]]\nkind = \"wireguard\"\nname = \"wg-a\"\nsocket_dir = \"/run/wg\"\n{a}\n\
                 [[source]]\nkind = \"wireguard\"\nname = \"wg-b\"\nsocket_dir = \"/run/wg\"\n{b}\n"
            )
        };
        let check = |text: String| Config::from_toml(&text).expect("parses").validate();
        let err = check(two("", "")).unwrap_err().to_string();
        assert!(
            err.contains("wg-a") && err.contains("wg-b") && err.contains("interfaces"),
            "{err}"
        );
        assert!(check(two("interfaces = [\"wg0\"]", "interfaces = [\"wg0\", \"wg1\"]")).is_err());
        assert!(check(two("interfaces = [\"wg0\"]", "")).is_err());
        check(two("interfaces = [\"wg0\"]", "interfaces = [\"wg1\"]")).expect("disjoint lists are fine");
        // Different directories never overlap.
        let text = two("", "").replacen("/run/wg", "/run/wg-other", 1);
        check(text).expect("separate directories");
    }

    #[test]
    fn engines_of_the_source_api_are_parsed_and_checked_by_the_engine() {
        let entry = |extra: &str| {
            format!(
                "[[source]]\nkind = \"softether\"\nname = \"se-1\"\nurl = \"https://127.0.0.1:5555/api/\"\n\
                 password_file = \"/etc/rrasd/se.pw\"\n{extra}\n"
            )
        };
        let pin = format!("server_cert_sha256 = \"{}\"", "ab".repeat(32));
        let config = Config::from_toml(&entry(&pin)).expect("parses");
        config.validate().expect("valid");
        let instances = config.source_instances();
        let [crate::sources::SourceConfig::Engine(se)] = instances.as_slice() else {
            panic!("{instances:?}");
        };
        assert_eq!(se.id().unwrap().to_string(), "softether/se-1");
        assert_eq!(
            config.secret_files(),
            [("softether.password_file".to_owned(), PathBuf::from("/etc/rrasd/se.pw"))]
        );
        // The engine's own checks and its own unknown keys.
        let err = Config::from_toml(&entry(""))
            .expect("parses")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("se-1") && err.contains("server_cert_sha256"), "{err}");
        let err = Config::from_toml(&entry(&format!("{pin}\nhubz = []"))).unwrap_err();
        assert!(err.contains("hubz") && err.contains("softether"), "{err}");
        let err = Config::from_toml("[[source]]\nkind = \"pptpd\"\n").unwrap_err();
        assert!(
            err.contains("pptpd") && err.contains("softether") && err.contains("radius"),
            "{err}"
        );
    }

    #[test]
    fn two_instances_may_not_read_one_socket() {
        let two = |a: &str, b: &str| {
            format!(
                "[[source]]\nkind = \"openvpn\"\nname = \"udp\"\nmanagement = [\"{a}=tun0\"]\n\
                 [[source]]\nkind = \"openvpn\"\nname = \"tcp\"\nmanagement = [\"{b}=tun1\"]\n"
            )
        };
        let check = |text: String| Config::from_toml(&text).expect("parses").validate();
        let err = check(two("/run/ovpn.sock", "/run/ovpn.sock")).unwrap_err().to_string();
        assert!(
            err.contains("udp") && err.contains("tcp") && err.contains("/run/ovpn.sock"),
            "{err}"
        );
        check(two("/run/a.sock", "/run/b.sock")).expect("separate sockets");
        // The [openvpn] section and a [[source]] on its socket collide too.
        let text = "[openvpn]\nmanagement = [\"/run/a.sock\"]\n[[source]]\nkind = \"openvpn\"\nname = \"x\"\nmanagement = [\"/run/a.sock\"]\n";
        assert!(check(text.into()).is_err());
        // A [[source]] without the key that switches it on says which.
        let err = check("[[source]]\nkind = \"ocserv\"\nname = \"oc\"\n".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("socket is required"), "{err}");
    }

    #[test]
    fn the_old_names_of_the_admin_session_limits_still_work() {
        let c = Config::from_toml("max_sessions = 7\nsessions_per_client = 3\n").expect("old names parse");
        assert_eq!((c.max_admin_sessions, c.admin_sessions_per_client), (7, 3));
        let c = Config::from_toml("max_admin_sessions = 9\n").expect("new name parses");
        assert_eq!(c.max_admin_sessions, 9);
    }
}
