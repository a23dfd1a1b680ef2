//! `rrasd --check-config`: everything a start would need, checked without
//! starting — the configuration (already parsed and validated by the time
//! this runs), the files it names (certificates, key, CA, tokens file), the
//! users and groups of the roles, and the engine sockets that can be seen
//! now — then a summary of what would run. Exit 0 when it would start, 2
//! when not; usable as `ExecStartPre=`.
//!
//! Engine sockets that are missing are warnings, not errors: engines may
//! start after rrasd, and sources wait for them. Secrets (RADIUS secrets,
//! tokens, keys) are never printed.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::sources::SourceConfig;
use crate::Config;

/// The outcome: what was found wrong, what may be wrong, what would run.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems that stop the daemon from starting.
    pub errors: Vec<String>,
    /// Things that may be wrong (an engine socket not there yet).
    pub warnings: Vec<String>,
    /// What would run.
    pub summary: Vec<String>,
}

impl Report {
    /// The report as printed: summary, then warnings and errors.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.summary {
            out.push_str(line);
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        for e in &self.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        out.push_str(if self.errors.is_empty() {
            "configuration OK\n"
        } else {
            "configuration has errors: rrasd would not start\n"
        });
        out
    }
}

fn certificates(what: &str, path: Option<&Path>, report: &mut Report) {
    let Some(path) = path else {
        report.errors.push(format!("tls.{what} is not set"));
        return;
    };
    match std::fs::read(path) {
        Err(e) => report.errors.push(format!("tls.{what} {}: {e}", path.display())),
        Ok(bytes) => {
            let n = CertificateDer::pem_slice_iter(&bytes).filter(Result::is_ok).count();
            if n == 0 {
                report
                    .errors
                    .push(format!("tls.{what} {}: no PEM certificate in it", path.display()));
            }
        }
    }
}

fn private_key(path: Option<&Path>, report: &mut Report) {
    let Some(path) = path else {
        report.errors.push("tls.key is not set".into());
        return;
    };
    match std::fs::read(path) {
        Err(e) => report.errors.push(format!("tls.key {}: {e}", path.display())),
        Ok(bytes) => {
            if PrivateKeyDer::from_pem_slice(&bytes).is_err() {
                report
                    .errors
                    .push(format!("tls.key {}: no PEM private key in it", path.display()));
            }
        }
    }
}

fn socket_seen(what: &str, path: &Path, report: &mut Report) {
    if !path.exists() {
        report.warnings.push(format!(
            "{what}: {} does not exist (yet): the source waits for it",
            path.display()
        ));
    }
}

/// Checks `config` and what it names: one section of the report after
/// another.
pub fn check(config: &Config) -> Report {
    let mut report = Report::default();
    if let Err(e) = crate::auth::Authorizer::new(config.local_roles(), &config.tls) {
        report.errors.push(e.to_string());
    }
    listeners(config, &mut report);
    secret_files(config, &mut report);
    metrics_and_fleet(config, &mut report);
    roles(config, &mut report);
    sources(config, &mut report);
    if let Some(count) = config.history_limit_ignored {
        report.warnings.push(format!(
            "history_limit = {count} is no longer a limit: the history is kept by history_days ({}) \
             and history_max_bytes ({}); remove the key",
            config.history_days, config.history_max_bytes
        ));
    }
    report
}

/// The admin socket, the state file, admin TLS and the web console, with
/// the certificates and tokens they use.
fn listeners(config: &Config, report: &mut Report) {
    report.summary.push(format!(
        "admin socket: {} (mode {}, group {})",
        config.admin_socket.display(),
        config.socket_mode,
        config.admin_group.as_deref().unwrap_or("-")
    ));
    if let Some(parent) = config.admin_socket.parent() {
        if !parent.exists() {
            report.warnings.push(format!(
                "{} does not exist: rrasd creates it at start",
                parent.display()
            ));
        }
    }
    report
        .summary
        .push(format!("state: {}", config.state_dir.join("rrasd.redb").display()));
    if let Some(addr) = config.tls.listen {
        report.summary.push(format!("admin TLS: {addr}"));
    }
    let https_web = config.tls.cert.is_some() && config.tls.key.is_some();
    if let Some(addr) = config.web.listen {
        report.summary.push(format!(
            "web console: {}://{addr}/",
            if https_web { "https" } else { "http" }
        ));
    }
    // The TLS listener and the web console share the certificate and the
    // ways to sign in: each file is checked once, for whichever uses it.
    if config.tls.listen.is_some() || (config.web.listen.is_some() && https_web) {
        certificates("cert", config.tls.cert.as_deref(), report);
        private_key(config.tls.key.as_deref(), report);
    }
    if config.tls.listen.is_some() || config.web.listen.is_some() {
        if config.tls.client_ca.is_some() {
            certificates("client_ca", config.tls.client_ca.as_deref(), report);
        }
        if let Some(tokens) = &config.tls.tokens_file {
            match std::fs::read_to_string(tokens) {
                Ok(text) => {
                    let n = text
                        .lines()
                        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                        .count();
                    report
                        .summary
                        .push(format!("tokens: {} ({n} entries)", tokens.display()));
                }
                Err(e) => report.errors.push(format!("tls.tokens_file {}: {e}", tokens.display())),
            }
        }
    }
}

/// Every file holding a secret must be the daemon's alone.
fn secret_files(config: &Config, report: &mut Report) {
    for (key, path) in config.secret_files() {
        if let Err(message) = rras_source::private_file::check(&path) {
            report.errors.push(format!("{key}: {message}"));
        }
    }
}

/// The metrics address and the fleet (its URL without any password).
fn metrics_and_fleet(config: &Config, report: &mut Report) {
    if let Some(addr) = config.metrics {
        report.summary.push(format!("metrics: http://{addr}/metrics"));
    }
    if let Some(url) = &config.fleet.url {
        // A password may be in a URL's user part: never print it.
        let servers: Vec<String> = url
            .split(',')
            .map(|u| match u.trim().split_once('@') {
                Some((scheme_user, host)) => {
                    let scheme = scheme_user.split_once("://").map_or("nats", |(s, _)| s);
                    format!("{scheme}://…@{host}")
                }
                None => u.trim().to_owned(),
            })
            .collect();
        report.summary.push(format!(
            "fleet: {} (replicas {}, heartbeat {} s, disconnect {})",
            servers.join(","),
            config.fleet.replicas,
            config.fleet.heartbeat_secs,
            if config.fleet.disconnect { "on" } else { "off" }
        ));
        for (key, path) in config.fleet.options().files() {
            if let Err(e) = std::fs::File::open(path) {
                report.errors.push(format!("fleet.{key} {}: {e}", path.display()));
            }
        }
    }
}

/// Who is an admin and who a reader (names only).
fn roles(config: &Config, report: &mut Report) {
    report.summary.push(format!(
        "admins: root, the daemon's user{}{}{}",
        config
            .admin_group
            .as_deref()
            .map(|g| format!(", group {g}"))
            .unwrap_or_default(),
        if config.admin_users.is_empty() {
            String::new()
        } else {
            format!(", users {}", config.admin_users.join(" "))
        },
        if config.tls.admin_names.is_empty() {
            String::new()
        } else {
            format!(", certificates {}", config.tls.admin_names.join(" "))
        }
    ));
    if config.reader_group.is_some() || !config.reader_users.is_empty() || !config.tls.reader_names.is_empty() {
        report.summary.push(format!(
            "readers:{}{}{}",
            config
                .reader_group
                .as_deref()
                .map(|g| format!(" group {g}"))
                .unwrap_or_default(),
            if config.reader_users.is_empty() {
                String::new()
            } else {
                format!(" users {}", config.reader_users.join(" "))
            },
            if config.tls.reader_names.is_empty() {
                String::new()
            } else {
                format!(" certificates {}", config.tls.reader_names.join(" "))
            }
        ));
    }
}

/// Every source instance, as its engine describes it.
fn sources(config: &Config, report: &mut Report) {
    let instances = config.source_instances();
    if instances.is_empty() {
        report
            .warnings
            .push("no source is configured: only hook reports (rasctl report) will add sessions".into());
    }
    for source in instances {
        let id = source.id().map(|i| i.to_string()).unwrap_or_else(|e| e);
        let line = match &source {
            SourceConfig::Radius(c) => format!(
                "source {id}: RADIUS accounting on {} ({} client networks)",
                c.listen.map(|a| a.to_string()).unwrap_or_default(),
                c.clients.len()
            ),
            SourceConfig::Engine(c) => {
                let d = c.describe();
                for path in &d.paths {
                    socket_seen(&id, path, report);
                }
                format!("source {id}: {}", d.summary)
            }
        };
        report.summary.push(line);
    }
}
