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
use crate::sources::HangUp;

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
    let (secret, target) = (route.client.secret.clone(), route.target);
    let bind: SocketAddr = match target.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(socket) = UdpSocket::bind(bind).await else {
        return Win32Error::RpcCallFailed;
    };
    let identifier = (c.handle.get() & 0xff) as u8;
    let request = request_for(&c, &nas, identifier, std::time::SystemTime::now()).encode_request_signed(&secret);
    let mut request_auth = [0u8; 16];
    request_auth.copy_from_slice(&request[4..20]);
    let timeout = Duration::from_secs(config.disconnect_timeout_secs.max(1));
    let mut buf = vec![0u8; 4096];
    for _ in 0..TRIES {
        if socket.send_to(&request, target).await.is_err() {
            return Win32Error::RpcServerUnavailable;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            let reply = &buf[..n];
            if from != target
                || !response_authenticator_ok(reply, &request_auth, &secret)
                || message_authenticator_ok(reply, &request_auth, &secret) == Some(false)
            {
                continue;
            }
            let Ok(p) = Packet::decode(reply) else { continue };
            if p.identifier != identifier {
                continue;
            }
            return match p.code {
                DISCONNECT_ACK => Win32Error::NoError,
                DISCONNECT_NAK => nak_status(
                    p.attr(ERROR_CAUSE)
                        .and_then(|v| v.try_into().ok())
                        .map(u32::from_be_bytes),
                ),
                _ => continue,
            };
        }
    }
    Win32Error::RpcServerUnavailable
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
