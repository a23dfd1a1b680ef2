//! RFC 5176 Disconnect-Request: how an admin hangs up a RADIUS-sourced
//! session. The request goes to the client that owns the session's NAS
//! (`scope.rs`: the NAS itself, or the proxy granted it, or a client's
//! `coa` address), signed with that client's secret, and carries
//! Event-Timestamp and Message-Authenticator so a captured request can
//! neither be altered nor replayed later at a NAS that checks them. The
//! NAS's Disconnect-ACK is success; a NAK's Error-Cause becomes the Win32
//! status. An answer is taken only from the address asked, matching the
//! identifier, with a correct Response Authenticator and, when it carries
//! one, a correct Message-Authenticator.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rras_core::{Connection, Win32Error};
use tokio::net::UdpSocket;

use super::attributes::{
    ACCT_SESSION_ID, ERROR_CAUSE, EVENT_TIMESTAMP, FRAMED_IP_ADDRESS, NAS_IDENTIFIER, NAS_IPV6_ADDRESS, NAS_IP_ADDRESS,
    USER_NAME,
};
use super::config::RadiusConfig;
use super::packet::{
    message_authenticator_ok, response_authenticator_ok, Packet, DISCONNECT_ACK, DISCONNECT_NAK, DISCONNECT_REQUEST,
};
use super::scope::NasClaim;
use rras_source::HangUp;

const TRIES: u32 = 3;

/// Sends Disconnect-Requests to NASes.
#[derive(Debug)]
pub(super) struct RadiusDisconnector {
    config: RadiusConfig,
}

impl RadiusDisconnector {
    pub(super) fn new(config: RadiusConfig) -> Self {
        RadiusDisconnector { config }
    }
}

/// The Win32 status for an RFC 5176 Error-Cause.
fn nak_status(cause: Option<u32>) -> Win32Error {
    match cause {
        Some(503) => Win32Error::NoConnection,           // Session-Context-Not-Found
        Some(501) => Win32Error::AccessDenied,           // Administratively-Prohibited
        Some(401..=407) => Win32Error::InvalidParameter, // malformed/unsupported request
        _ => Win32Error::RpcCallFailed,
    }
}

fn request_for(c: &Connection, nas: &NasClaim<'_>, identifier: u8, now: std::time::SystemTime) -> Packet {
    let info = &c.info;
    let mut attributes = Vec::new();
    if !info.user_name.is_empty() {
        attributes.push((USER_NAME, info.account().into_bytes()));
    }
    attributes.push((ACCT_SESSION_ID, info.source.session_id.clone().into_bytes()));
    match nas.address {
        IpAddr::V4(a) => attributes.push((NAS_IP_ADDRESS, a.octets().to_vec())),
        IpAddr::V6(a) => attributes.push((NAS_IPV6_ADDRESS, a.octets().to_vec())),
    }
    if let Some(id) = nas.identifier {
        attributes.push((NAS_IDENTIFIER, id.as_bytes().to_vec()));
    }
    if let Some(a) = info.projection.ipv4().remote_address {
        attributes.push((FRAMED_IP_ADDRESS, a.octets().to_vec()));
    }
    // RFC 5176 §3.3: Event-Timestamp lets the NAS refuse a replay.
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0);
    attributes.push((EVENT_TIMESTAMP, secs.to_be_bytes().to_vec()));
    Packet {
        code: DISCONNECT_REQUEST,
        identifier,
        authenticator: [0; 16],
        attributes,
    }
}

async fn send_disconnect(config: RadiusConfig, c: Arc<Connection>) -> Win32Error {
    let Some(nas) = NasClaim::parse(&c.info.source.nas) else {
        return Win32Error::NotSupported;
    };
    let Some(route) = config.hang_up_route(&nas) else {
        // The NAS's client was removed from the configuration since.
        return Win32Error::NotSupported;
    };
    let identifier = (c.handle.get() & 0xff) as u8;
    let secret = &route.client.secret;
    let request = request_for(&c, &nas, identifier, std::time::SystemTime::now()).encode_request_signed(secret);
    let timeout = Duration::from_secs(config.disconnect_timeout_secs.max(1));
    let sent = Sent {
        request: &request,
        identifier,
        secret,
    };
    match &route.client.radsec_name {
        Some(name) => over_tls(&config, name, route.target, &sent, timeout.saturating_mul(TRIES)).await,
        None => over_udp(route.target, &sent, timeout).await,
    }
}

/// A request on its way and what its answer must match.
struct Sent<'a> {
    request: &'a [u8],
    identifier: u8,
    secret: &'a [u8],
}

impl Sent<'_> {
    /// The status an answer gives, or None when it is not an answer to
    /// this request (wrong identifier or code, forged or altered).
    fn judge(&self, reply: &[u8]) -> Option<Win32Error> {
        let mut request_auth = [0u8; 16];
        request_auth.copy_from_slice(self.request.get(4..20)?);
        if !response_authenticator_ok(reply, &request_auth, self.secret)
            || message_authenticator_ok(reply, &request_auth, self.secret) == Some(false)
        {
            return None;
        }
        let p = Packet::decode(reply).ok()?;
        if p.identifier != self.identifier {
            return None;
        }
        match p.code {
            DISCONNECT_ACK => Some(Win32Error::NoError),
            DISCONNECT_NAK => Some(nak_status(
                p.attr(ERROR_CAUSE)
                    .and_then(|v| v.try_into().ok())
                    .map(u32::from_be_bytes),
            )),
            _ => None,
        }
    }
}

/// RFC 5176 over UDP: three tries, an answer only from the address asked.
async fn over_udp(target: SocketAddr, sent: &Sent<'_>, timeout: Duration) -> Win32Error {
    let bind: SocketAddr = match target.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(socket) = UdpSocket::bind(bind).await else {
        return Win32Error::RpcCallFailed;
    };
    let mut buf = vec![0u8; 4096];
    for _ in 0..TRIES {
        if socket.send_to(sent.request, target).await.is_err() {
            return Win32Error::RpcServerUnavailable;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            if from != target {
                continue;
            }
            if let Some(status) = sent.judge(&buf[..n]) {
                return status;
            }
        }
    }
    Win32Error::RpcServerUnavailable
}

/// RFC 5176 over RADIUS/TLS: one connection to the client's RadSec
/// listener, its certificate checked against `radsec_client_ca` for its
/// `radsec_name`, rrasd's own RadSec certificate presented; TCP does the
/// retrying, so one request and one deadline.
async fn over_tls(
    config: &RadiusConfig,
    name: &str,
    target: SocketAddr,
    sent: &Sent<'_>,
    deadline: Duration,
) -> Win32Error {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(connector) = tls_connector(config) else {
        return Win32Error::RpcCallFailed;
    };
    let Ok(server_name) = rustls_pki_types::ServerName::try_from(name.to_owned()) else {
        return Win32Error::InvalidParameter;
    };
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(target).await.ok()?;
        let mut tls = connector.connect(server_name, tcp).await.ok()?;
        tls.write_all(sent.request).await.ok()?;
        tls.flush().await.ok()?;
        let mut buffered = bytes::BytesMut::with_capacity(4096);
        loop {
            match super::radsec::next_frame(&buffered) {
                Ok(Some(len)) => {
                    let frame = buffered.split_to(len);
                    if let Some(status) = sent.judge(&frame) {
                        return Some(status);
                    }
                }
                Ok(None) => {
                    if tls.read_buf(&mut buffered).await.ok()? == 0 {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or(Win32Error::RpcServerUnavailable)
}

/// rrasd as a RadSec client: trusts `radsec_client_ca`, presents
/// `radsec_cert`.
fn tls_connector(config: &RadiusConfig) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(ca), Some(cert), Some(key)) = (&config.radsec_client_ca, &config.radsec_cert, &config.radsec_key) else {
        return Err("RadSec hang-ups need radsec_client_ca, radsec_cert and radsec_key".into());
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| e.to_string())? {
        roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|c| c.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(tls)))
}

impl HangUp for RadiusDisconnector {
    // The request names the session by its attributes (user, session id,
    // NAS, framed address), all read from the connection.
    type Session = Connection;

    fn session(&self, connection: &Connection) -> Option<Connection> {
        Some(connection.clone())
    }

    async fn hang_up(&self, connection: Connection) -> Win32Error {
        send_disconnect(self.config.clone(), Arc::new(connection)).await
    }
}
