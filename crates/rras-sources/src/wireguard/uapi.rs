//! The WireGuard cross-platform UAPI (wireguard-go, and `wg` for kernel
//! interfaces): `get=1` lists the device and its peers as `key=value`
//! lines ending with `errno=N` and a blank line; `set=1` changes them. Keys
//! are hex on the wire; we show them base64, as `wg` does. The private key
//! is never kept.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::SystemTime;

use rras_core::engine_time;

use base64::Engine;
use rras_source::control;

/// Errors of a UAPI exchange are the control socket's (`Status` carries
/// the device's `errno`).
pub use rras_source::control::ControlError as UapiError;

/// One peer as the device reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// Public key, base64.
    pub public_key: String,
    /// Last endpoint the peer spoke from.
    pub endpoint: Option<SocketAddr>,
    /// Last completed handshake (None = never).
    pub last_handshake: Option<SystemTime>,
    /// Bytes received from the peer.
    pub rx_bytes: u64,
    /// Bytes sent to the peer.
    pub tx_bytes: u64,
    /// Allowed IPs (address, prefix length).
    pub allowed_ips: Vec<(IpAddr, u8)>,
}

/// A device: its listen port and peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// UDP listen port.
    pub listen_port: Option<u16>,
    /// Peers in the device's order.
    pub peers: Vec<Peer>,
}

/// Hex key (64 chars) → base64; None if it is not a 32-byte hex key.
pub fn hex_to_base64(hex_key: &str) -> Option<String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut bytes).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Base64 key → hex, for `set` requests.
pub fn base64_to_hex(key: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(key).ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

fn parse_allowed_ip(v: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = v.split_once('/')?;
    Some((addr.parse().ok()?, len.parse().ok()?))
}

/// Parses a `get=1` reply.
pub fn parse_get(reply: &str) -> Result<Device, UapiError> {
    let mut device = Device::default();
    let mut handshake_secs: Option<u64> = None;
    let mut errno = None;
    for line in reply.lines() {
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| UapiError::Malformed(format!("line without '=': {line:?}")))?;
        match key {
            "public_key" => {
                let key = hex_to_base64(value).ok_or_else(|| UapiError::Malformed("bad public_key".into()))?;
                device.peers.push(Peer {
                    public_key: key,
                    ..Peer::default()
                });
                handshake_secs = None;
            }
            "listen_port" => device.listen_port = value.parse().ok(),
            "errno" => errno = value.parse::<i64>().ok(),
            _ => {
                let Some(peer) = device.peers.last_mut() else { continue };
                match key {
                    "endpoint" => peer.endpoint = value.parse().ok(),
                    "rx_bytes" => peer.rx_bytes = value.parse().unwrap_or(0),
                    "tx_bytes" => peer.tx_bytes = value.parse().unwrap_or(0),
                    "allowed_ip" => peer.allowed_ips.extend(parse_allowed_ip(value)),
                    "last_handshake_time_sec" => {
                        handshake_secs = value.parse().ok();
                        peer.last_handshake = handshake_secs
                            .filter(|s| *s > 0)
                            .and_then(|s| engine_time::from_unix(s, 0));
                    }
                    "last_handshake_time_nsec" => {
                        if let (Some(s), Ok(ns)) = (handshake_secs.filter(|s| *s > 0), value.parse::<u32>()) {
                            peer.last_handshake = engine_time::from_unix(s, ns.min(999_999_999));
                        }
                    }
                    // private_key, preshared_key, protocol_version, keepalive …
                    _ => {}
                }
            }
        }
    }
    match errno {
        Some(0) => Ok(device),
        Some(e) => Err(UapiError::Status(e)),
        None => Err(UapiError::Malformed("no errno line".into())),
    }
}

/// A UAPI reply is complete after its `errno=N` line and a blank line.
fn complete(reply: &[u8]) -> bool {
    reply.ends_with(b"\n\n") && control::last_line(&reply[..reply.len() - 1]).is_some_and(|l| l.starts_with(b"errno="))
}

async fn exchange(socket: &Path, request: &str) -> Result<String, UapiError> {
    control::exchange(socket, request.as_bytes(), control::Limits::default(), complete).await
}

/// `get=1` on a device's UAPI socket.
pub async fn get(socket: &Path) -> Result<Device, UapiError> {
    parse_get(&exchange(socket, "get=1\n\n").await?)
}

/// Removes a peer (base64 key) from the running device.
pub async fn remove_peer(socket: &Path, public_key: &str) -> Result<(), UapiError> {
    let hex_key = base64_to_hex(public_key).ok_or_else(|| UapiError::Malformed("bad public key".into()))?;
    let reply = exchange(socket, &format!("set=1\npublic_key={hex_key}\nremove=true\n\n")).await?;
    let errno = reply
        .lines()
        .find_map(|l| l.strip_prefix("errno="))
        .and_then(|e| e.trim().parse::<i64>().ok())
        .ok_or_else(|| UapiError::Malformed("no errno line".into()))?;
    if errno == 0 {
        Ok(())
    } else {
        Err(UapiError::Status(errno))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    const SAMPLE: &str = "private_key=a8ed5b6bd3bc8c1f3cba84bd44c7e1bcd0cd4d4a5c78ef6ba92bbf5b0a19cd47
listen_port=51820
public_key=c21cb6a0a4f5a4a3f0a06e7fd0dc8ad3e25cd5b1e1ba6a8df72fbb4c2cfc0443
preshared_key=0000000000000000000000000000000000000000000000000000000000000000
protocol_version=1
endpoint=10.200.1.2:53981
last_handshake_time_sec=1795634117
last_handshake_time_nsec=103487781
tx_bytes=476
rx_bytes=564
persistent_keepalive_interval=0
allowed_ip=10.200.11.2/32
allowed_ip=fd00::2/128
public_key=0000000000000000000000000000000000000000000000000000000000000001
last_handshake_time_sec=0
last_handshake_time_nsec=0
tx_bytes=0
rx_bytes=0
errno=0

";

    #[test]
    fn parses_the_reply_of_wireguard_go() {
        let d = parse_get(SAMPLE).unwrap();
        assert_eq!(d.listen_port, Some(51820));
        assert_eq!(d.peers.len(), 2);
        let p = &d.peers[0];
        assert_eq!(
            p.public_key,
            hex_to_base64("c21cb6a0a4f5a4a3f0a06e7fd0dc8ad3e25cd5b1e1ba6a8df72fbb4c2cfc0443").unwrap()
        );
        assert_eq!(p.endpoint, Some("10.200.1.2:53981".parse().unwrap()));
        assert_eq!((p.rx_bytes, p.tx_bytes), (564, 476));
        assert_eq!(
            p.last_handshake,
            Some(UNIX_EPOCH + Duration::new(1_795_634_117, 103_487_781))
        );
        assert_eq!(
            p.allowed_ips,
            vec![("10.200.11.2".parse().unwrap(), 32), ("fd00::2".parse().unwrap(), 128)]
        );
        assert_eq!(d.peers[1].last_handshake, None, "never handshaked");
        assert_eq!(
            base64_to_hex(&p.public_key).unwrap(),
            "c21cb6a0a4f5a4a3f0a06e7fd0dc8ad3e25cd5b1e1ba6a8df72fbb4c2cfc0443"
        );
    }

    #[test]
    fn extreme_numbers_do_not_panic() {
        let key = "c21cb6a0a4f5a4a3f0a06e7fd0dc8ad3e25cd5b1e1ba6a8df72fbb4c2cfc0443";
        for (sec, nsec) in [
            ("18446744073709551615", "999999999"),
            ("253402300800", "0"),
            ("9223372036854775807", "4294967295"),
            ("1", "18446744073709551615"),
            ("-1", "-1"),
        ] {
            let reply = format!(
                "public_key={key}\nlast_handshake_time_sec={sec}\nlast_handshake_time_nsec={nsec}\n\
                 rx_bytes=18446744073709551615\ntx_bytes=99999999999999999999999\nerrno=0\n\n"
            );
            let d = parse_get(&reply).unwrap();
            let p = &d.peers[0];
            assert!(
                p.last_handshake
                    .is_none_or(|t| t <= UNIX_EPOCH + Duration::from_secs(2)),
                "{sec}: {p:?}"
            );
            assert_eq!((p.rx_bytes, p.tx_bytes), (u64::MAX, 0));
        }
    }

    #[test]
    fn errors_and_garbage() {
        assert!(matches!(parse_get("errno=22\n\n"), Err(UapiError::Status(22))));
        assert!(matches!(parse_get("listen_port=1\n"), Err(UapiError::Malformed(_))));
        assert!(matches!(parse_get("garbage\nerrno=0\n"), Err(UapiError::Malformed(_))));
        assert!(matches!(
            parse_get("public_key=zz\nerrno=0\n"),
            Err(UapiError::Malformed(_))
        ));
        assert_eq!(base64_to_hex("short"), None);
    }
}
