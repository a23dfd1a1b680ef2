//! A TLS client's role from its certificate: the configured names
//! (`tls.admin_names`, `tls.reader_names`) its subject alternative names
//! match.

use rras_source::tls::certificate_names;
use rustls_pki_types::CertificateDer;

use super::Role;
use crate::tls::TlsConfig;

/// The role a client certificate's names map to, if any.
pub(super) fn role_for_certificate(config: &TlsConfig, leaf: &CertificateDer<'_>) -> Option<(String, Role)> {
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
