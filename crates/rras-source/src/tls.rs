//! The TLS server settings every listener shares (RadSec, the web
//! console, admin TLS): a rustls server configuration from PEM files, with
//! client certificates verified against a CA and its revocation list, and
//! the check that a verified certificate names a given peer.

use std::path::Path;

use rustls_pki_types::{CertificateDer, ServerName};

/// True when a (verified) certificate is valid for `name` (a DNS name or
/// IP address among its subject alternative names).
pub fn certificate_names(leaf: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    ServerName::try_from(name).is_ok_and(|n| cert.verify_is_valid_for_subject_name(&n).is_ok())
}

/// Whether a TLS listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Optional, verified against the CA when presented (token users sign in otherwise).
    Optional,
    /// Required: no certificate from the CA, no connection.
    Required,
}

/// A rustls server configuration: `cert` chain and `key` (PEM files),
/// client certificates verified against `client_ca` when given, and
/// refused when `client_crl` lists them.
pub fn server_config(
    what: &str,
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    client_crl: Option<&Path>,
    clients: ClientCertificates,
) -> Result<rustls::ServerConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivateKeyDer;
    use std::sync::Arc;
    let bad = |item: &str, e: &dyn std::fmt::Display| format!("{what}{item}: {e}");
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(&format!("cert {}", cert.display()), &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(&format!("key {}", key.display()), &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| bad(&format!("client_ca {}", ca.display()), &e))? {
                let c = c.map_err(|e| bad("client_ca", &e))?;
                roots.add(c).map_err(|e| bad("client_ca", &e))?;
            }
            let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if let Some(crl) = client_crl {
                let crls = rustls_pki_types::CertificateRevocationListDer::pem_file_iter(crl)
                    .and_then(|crls| crls.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| bad(&format!("client_crl {}", crl.display()), &e))?;
                if crls.is_empty() {
                    return Err(bad(&format!("client_crl {}", crl.display()), &"no PEM CRL in it"));
                }
                // Only the end certificate is checked; a CA the list does
                // not speak for is not refused for it.
                verifier = verifier
                    .with_crls(crls)
                    .only_check_end_entity_revocation()
                    .allow_unknown_revocation_status();
            }
            let verifier = match clients {
                ClientCertificates::Optional => verifier.allow_unauthenticated(),
                ClientCertificates::Required => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| bad("client verifier", &e))?)
        }
        None => builder.with_no_client_auth(),
    };
    builder.with_single_cert(chain, key).map_err(|e| bad("certificate", &e))
}
