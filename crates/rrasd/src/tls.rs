//! `[tls]`: remote administration over TCP, TLS only (rustls via tonic),
//! and the daemon's certificate the web console serves too. Who a TLS
//! client is (a certificate's SAN, a bearer token) is `auth`'s business.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use rras_source::tls::{server_config, ClientCertificates};

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

#[cfg(test)]
mod tests {
    use super::*;

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
