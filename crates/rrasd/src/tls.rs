//! Remote administration over TCP: TLS only (rustls via tonic), clients
//! authenticated by certificate (issued by the configured CA, role from
//! their SAN) or by bearer token (stored hashed, each with a role).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use parking_lot::Mutex;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::Role;
use rras_source::tls::{certificate_names, server_config, ClientCertificates};

/// `[tls]`: the remote admin listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// TCP address of the admin listener (off when absent).
    pub listen: Option<SocketAddr>,
    /// Server certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    pub key: Option<PathBuf>,
    /// CA that issues client certificates (PEM); enables certificate auth.
    pub client_ca: Option<PathBuf>,
    /// Certificate revocation lists of that CA (PEM, one or more): a
    /// client certificate listed there is refused in the handshake (web
    /// console and admin TLS; read at start-up).
    pub client_crl: Option<PathBuf>,
    /// Bearer tokens: lines `NAME ROLE SHA256-HEX` (see `rasctl token new`).
    pub tokens_file: Option<PathBuf>,
    /// Client certificate names (SAN DNS name or IP) that are admins.
    pub admin_names: Vec<String>,
    /// Client certificate names that are readers.
    pub reader_names: Vec<String>,
}

impl TlsConfig {
    /// The rustls configuration of the daemon's own certificate (web
    /// console and admin TLS), offering `alpn`: client certificates
    /// optional (token users have none), verified against `client_ca` and
    /// `client_crl`. None without a certificate and key.
    pub fn acceptor(&self, alpn: &[&[u8]]) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(None);
        };
        let mut config = server_config(
            "tls.",
            cert,
            key,
            self.client_ca.as_deref(),
            self.client_crl.as_deref(),
            ClientCertificates::Optional,
        )?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))))
    }

    /// Checks that a listener has what it needs.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.is_none() {
            return Ok(());
        }
        if self.cert.is_none() || self.key.is_none() {
            return Err("tls.listen needs tls.cert and tls.key (TLS only, no plaintext)".into());
        }
        if self.client_ca.is_none() && self.tokens_file.is_none() {
            return Err("tls.listen needs tls.client_ca or tls.tokens_file: nobody could authenticate".into());
        }
        if self.client_crl.is_some() && self.client_ca.is_none() {
            return Err("tls.client_crl needs tls.client_ca (the CA whose revocations it lists)".into());
        }
        Ok(())
    }
}

/// The role a client certificate's names map to, if any.
pub fn role_for_certificate(config: &TlsConfig, leaf: &CertificateDer<'_>) -> Option<(String, Role)> {
    let matches = |name: &String| certificate_names(leaf, name);
    if let Some(n) = config.admin_names.iter().find(|n| matches(n)) {
        return Some((n.clone(), Role::Admin));
    }
    config
        .reader_names
        .iter()
        .find(|n| matches(n))
        .map(|n| (n.clone(), Role::Reader))
}

/// SHA-256 of a token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// SHA-256 of a token, hex: what the tokens file stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Clone)]
struct TokenEntry {
    name: String,
    role: Role,
    hash: [u8; 32],
}

/// The tokens file, re-read when its modification time changes (so a
/// revoked token stops working without a restart).
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    state: Mutex<(Option<SystemTime>, Vec<TokenEntry>)>,
}

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "admin" => Some(Role::Admin),
        "reader" => Some(Role::Reader),
        _ => None,
    }
}

fn parse_tokens(text: &str) -> Vec<TokenEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, role, hash) = (parts.next()?, parts.next()?, parts.next()?);
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hash, &mut bytes).ok()?;
            Some(TokenEntry {
                name: name.to_owned(),
                role: parse_role(role)?,
                hash: bytes,
            })
        })
        .collect()
}

impl TokenStore {
    /// A store over `path` (read on first use).
    pub fn new(path: &Path) -> Self {
        TokenStore {
            path: path.to_owned(),
            state: Mutex::new((None, Vec::new())),
        }
    }

    /// The (name, role) of a presented token. Every entry is compared, in
    /// constant time, so timing tells nothing about which bytes matched.
    pub fn verify(&self, presented: &str) -> Option<(String, Role)> {
        self.verify_digest(&token_digest(presented))
    }

    /// The (name, role) of the token with this SHA-256, as the file says
    /// now (re-read when it changed): a deleted line is gone at once.
    pub fn verify_digest(&self, digest: &[u8; 32]) -> Option<(String, Role)> {
        let mut state = self.state.lock();
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if mtime.is_none() || mtime != state.0 {
            let entries = std::fs::read_to_string(&self.path)
                .map(|t| parse_tokens(&t))
                .unwrap_or_default();
            *state = (mtime, entries);
        }
        let mut found = None;
        for entry in &state.1 {
            let diff = entry.hash.iter().zip(digest).fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 {
                found = Some((entry.name.clone(), entry.role));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_revoke_on_file_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(
            &path,
            format!(
                "# comment\nci admin {}\nmon reader {}\nbad nope {}\n",
                token_hash("s3cret"),
                token_hash("look"),
                token_hash("x")
            ),
        )
        .unwrap();
        let store = TokenStore::new(&path);
        assert_eq!(store.verify("s3cret"), Some(("ci".into(), Role::Admin)));
        assert_eq!(store.verify("look"), Some(("mon".into(), Role::Reader)));
        assert_eq!(store.verify("x"), None, "unknown role is ignored");
        assert_eq!(store.verify("S3cret"), None);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, format!("mon reader {}\n", token_hash("look"))).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(store.verify("s3cret"), None, "revoked");
    }

    #[test]
    fn listener_needs_cert_key_and_an_auth_method() {
        let mut c = TlsConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        c.cert = Some("c".into());
        c.key = Some("k".into());
        assert!(c.validate().unwrap_err().contains("client_ca"));
        c.tokens_file = Some("t".into());
        assert!(c.validate().is_ok());
    }
}
