//! Kernel WireGuard over generic netlink: the `wireguard` family's
//! `WG_CMD_GET_DEVICE` (a dump: the device and its peers, possibly split
//! over several messages) and `WG_CMD_SET_DEVICE` with a peer flagged
//! `WGPEER_F_REMOVE_ME` for hang-up. The family id is resolved through the
//! generic netlink controller (`CTRL_CMD_GETFAMILY`).
//!
//! Encoding and decoding are pure functions over bytes, every length
//! checked against what is left (the kernel is trusted more than an engine
//! socket, but the same codec must never panic); the socket part uses nix
//! (no `unsafe`) with a receive timeout, on a blocking thread. What comes
//! out is the same [`Device`] the UAPI source produces, so the peer →
//! connection rules are shared.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use rras_core::engine_time;

use super::uapi::{Device, Peer};
use rras_source::control::ControlError;

const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// `WG_GENL_NAME`.
pub const FAMILY: &str = "wireguard";
const WG_GENL_VERSION: u8 = 1;
const WG_CMD_GET_DEVICE: u8 = 0;
const WG_CMD_SET_DEVICE: u8 = 1;
const WGDEVICE_A_IFNAME: u16 = 2;
const WGDEVICE_A_LISTEN_PORT: u16 = 6;
const WGDEVICE_A_PEERS: u16 = 8;
const WGPEER_A_PUBLIC_KEY: u16 = 1;
const WGPEER_A_FLAGS: u16 = 3;
const WGPEER_A_ENDPOINT: u16 = 4;
const WGPEER_A_LAST_HANDSHAKE_TIME: u16 = 6;
const WGPEER_A_RX_BYTES: u16 = 7;
const WGPEER_A_TX_BYTES: u16 = 8;
const WGPEER_A_ALLOWEDIPS: u16 = 9;
const WGPEER_F_REMOVE_ME: u32 = 1;
const WGALLOWEDIP_A_FAMILY: u16 = 1;
const WGALLOWEDIP_A_IPADDR: u16 = 2;
const WGALLOWEDIP_A_CIDR_MASK: u16 = 3;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// Why netlink bytes or a netlink exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetlinkError {
    /// A header or attribute length that does not fit.
    #[error("malformed netlink message at byte {0}")]
    Malformed(usize),
    /// The kernel answered with an error (a positive errno).
    #[error("netlink error: {}", std::io::Error::from_raw_os_error(*.0))]
    Errno(i32),
    /// The kernel has no such generic netlink family (module not loaded).
    #[error("the kernel has no {0:?} generic netlink family (is the module loaded?)")]
    NoFamily(String),
    /// The socket failed or timed out.
    #[error("netlink socket: {0}")]
    Io(String),
    /// A value too long to encode.
    #[error("{0} too long")]
    TooLong(&'static str),
}

impl From<NetlinkError> for ControlError {
    fn from(e: NetlinkError) -> Self {
        match e {
            // The interface is not there: like a UAPI socket nobody
            // listens on.
            NetlinkError::Errno(19) => ControlError::Gone(std::io::Error::from_raw_os_error(19)),
            NetlinkError::Errno(n) => ControlError::Status(i64::from(n)),
            NetlinkError::Io(m) => ControlError::Io(std::io::Error::other(m)),
            other => ControlError::Malformed(other.to_string()),
        }
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one attribute (payload padded to 4 bytes).
fn put_attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) -> Result<(), NetlinkError> {
    let len = u16::try_from(4 + payload.len()).map_err(|_| NetlinkError::TooLong("attribute"))?;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(align4(out.len()), 0);
    Ok(())
}

/// Appends a nested attribute whose payload `fill` writes.
fn put_nested(
    out: &mut Vec<u8>,
    kind: u16,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<(), NetlinkError>,
) -> Result<(), NetlinkError> {
    let mut inner = Vec::new();
    fill(&mut inner)?;
    put_attr(out, kind | NLA_F_NESTED, &inner)
}

fn c_string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// A generic netlink request: netlink header, genl header, attributes.
fn request(family: u16, flags: u16, seq: u32, cmd: u8, version: u8, attrs: &[u8]) -> Result<Vec<u8>, NetlinkError> {
    let len = u32::try_from(NLMSG_HDRLEN + GENL_HDRLEN + attrs.len()).map_err(|_| NetlinkError::TooLong("message"))?;
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&family.to_ne_bytes());
    out.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[cmd, version, 0, 0]);
    out.extend_from_slice(attrs);
    Ok(out)
}

/// `CTRL_CMD_GETFAMILY` for `name`.
pub fn encode_get_family(seq: u32, name: &str) -> Result<Vec<u8>, NetlinkError> {
    let mut attrs = Vec::new();
    put_attr(&mut attrs, CTRL_ATTR_FAMILY_NAME, &c_string(name))?;
    request(GENL_ID_CTRL, 0, seq, CTRL_CMD_GETFAMILY, 1, &attrs)
}

/// `WG_CMD_GET_DEVICE` (dump) for interface `ifname`.
pub fn encode_get_device(family: u16, seq: u32, ifname: &str) -> Result<Vec<u8>, NetlinkError> {
    let mut attrs = Vec::new();
    put_attr(&mut attrs, WGDEVICE_A_IFNAME, &c_string(ifname))?;
    request(family, NLM_F_DUMP, seq, WG_CMD_GET_DEVICE, WG_GENL_VERSION, &attrs)
}

/// `WG_CMD_SET_DEVICE` removing the peer with `public_key` from `ifname`.
pub fn encode_remove_peer(family: u16, seq: u32, ifname: &str, public_key: &[u8; 32]) -> Result<Vec<u8>, NetlinkError> {
    let mut attrs = Vec::new();
    put_attr(&mut attrs, WGDEVICE_A_IFNAME, &c_string(ifname))?;
    put_nested(&mut attrs, WGDEVICE_A_PEERS, |peers| {
        put_nested(peers, 0, |peer| {
            put_attr(peer, WGPEER_A_PUBLIC_KEY, public_key)?;
            put_attr(peer, WGPEER_A_FLAGS, &WGPEER_F_REMOVE_ME.to_ne_bytes())
        })
    })?;
    request(family, NLM_F_ACK, seq, WG_CMD_SET_DEVICE, WG_GENL_VERSION, &attrs)
}

/// One netlink message of a received buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`: the family, NLMSG_ERROR or NLMSG_DONE.
    pub kind: u16,
    /// The sequence number it answers.
    pub seq: u32,
    /// What follows the netlink header.
    pub payload: &'a [u8],
}

/// Splits a received buffer into messages.
pub fn messages(buf: &[u8]) -> Result<Vec<Message<'_>>, NetlinkError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < buf.len() {
        let header = buf.get(at..at + NLMSG_HDRLEN).ok_or(NetlinkError::Malformed(at))?;
        let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len < NLMSG_HDRLEN {
            return Err(NetlinkError::Malformed(at));
        }
        let end = at
            .checked_add(len)
            .filter(|e| *e <= buf.len())
            .ok_or(NetlinkError::Malformed(at))?;
        out.push(Message {
            kind: u16::from_ne_bytes([header[4], header[5]]),
            seq: u32::from_ne_bytes([header[8], header[9], header[10], header[11]]),
            payload: &buf[at + NLMSG_HDRLEN..end],
        });
        at = align4(end);
    }
    Ok(out)
}

/// The attributes of a payload: (type without flags, value).
pub fn attributes(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, NetlinkError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 4 <= buf.len() {
        let len = usize::from(u16::from_ne_bytes([buf[at], buf[at + 1]]));
        let kind = u16::from_ne_bytes([buf[at + 2], buf[at + 3]]) & NLA_TYPE_MASK;
        if len < 4 {
            return Err(NetlinkError::Malformed(at));
        }
        let end = at
            .checked_add(len)
            .filter(|e| *e <= buf.len())
            .ok_or(NetlinkError::Malformed(at))?;
        out.push((kind, &buf[at + 4..end]));
        at = align4(end);
    }
    Ok(out)
}

/// The errno of an NLMSG_ERROR payload (0 = an acknowledgement).
fn error_code(payload: &[u8]) -> Result<i32, NetlinkError> {
    let b = payload.get(..4).ok_or(NetlinkError::Malformed(0))?;
    Ok(-i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn genl_attributes(payload: &[u8]) -> Result<Vec<(u16, &[u8])>, NetlinkError> {
    attributes(payload.get(GENL_HDRLEN..).ok_or(NetlinkError::Malformed(0))?)
}

/// The family id in a `CTRL_CMD_GETFAMILY` answer.
pub fn parse_family_id(payload: &[u8]) -> Result<Option<u16>, NetlinkError> {
    Ok(genl_attributes(payload)?
        .into_iter()
        .find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, v)| Some(u16::from_ne_bytes([*v.first()?, *v.get(1)?]))))
}

fn u64_of(v: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?))
}

fn endpoint(v: &[u8]) -> Option<SocketAddr> {
    // struct sockaddr_in / sockaddr_in6: family (host order), port and
    // address in network order.
    let family = u16::from_ne_bytes([*v.first()?, *v.get(1)?]);
    let port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    match family {
        AF_INET => {
            let a: [u8; 4] = v.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        AF_INET6 => {
            let a: [u8; 16] = v.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => None,
    }
}

fn allowed_ip(v: &[u8]) -> Result<Option<(IpAddr, u8)>, NetlinkError> {
    let (mut family, mut addr, mut cidr) = (None, None, None);
    for (k, v) in attributes(v)? {
        match k {
            WGALLOWEDIP_A_FAMILY => family = v.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])),
            WGALLOWEDIP_A_IPADDR => addr = Some(v),
            WGALLOWEDIP_A_CIDR_MASK => cidr = v.first().copied(),
            _ => {}
        }
    }
    let ip = match (family, addr) {
        (Some(AF_INET), Some(a)) => a
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| IpAddr::V4(b.into())),
        (Some(AF_INET6), Some(a)) => a
            .get(..16)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(|b| IpAddr::V6(b.into())),
        _ => None,
    };
    Ok(ip.zip(cidr))
}

fn peer(v: &[u8]) -> Result<Option<Peer>, NetlinkError> {
    let mut p = Peer::default();
    let mut key = None;
    let (mut secs, mut nanos) = (0i64, 0i64);
    for (k, v) in attributes(v)? {
        match k {
            WGPEER_A_PUBLIC_KEY => key = <[u8; 32]>::try_from(v).ok(),
            WGPEER_A_ENDPOINT => p.endpoint = endpoint(v),
            WGPEER_A_LAST_HANDSHAKE_TIME => {
                // struct __kernel_timespec { s64 tv_sec; s64 tv_nsec; }
                secs = u64_of(v).map_or(0, |s| s as i64);
                nanos = v.get(8..).and_then(u64_of).map_or(0, |n| n as i64);
            }
            WGPEER_A_RX_BYTES => p.rx_bytes = u64_of(v).unwrap_or(0),
            WGPEER_A_TX_BYTES => p.tx_bytes = u64_of(v).unwrap_or(0),
            WGPEER_A_ALLOWEDIPS => {
                for (_, ip) in attributes(v)? {
                    if let Some(a) = allowed_ip(ip)? {
                        p.allowed_ips.push(a);
                    }
                }
            }
            _ => {}
        }
    }
    let Some(key) = key else { return Ok(None) };
    p.public_key = base64::engine::general_purpose::STANDARD.encode(key);
    // 0 = never; negative or absurd times are "never" too.
    if secs > 0 {
        p.last_handshake = u64::try_from(secs)
            .ok()
            .and_then(|s| engine_time::from_unix(s, u32::try_from(nanos).unwrap_or(0)));
    }
    Ok(Some(p))
}

/// The device from the payloads of a `WG_CMD_GET_DEVICE` dump. A peer with
/// many allowed IPs may continue in the next message (its key repeated);
/// those are merged.
pub fn parse_device(payloads: &[&[u8]]) -> Result<Device, NetlinkError> {
    let mut device = Device::default();
    for payload in payloads {
        for (k, v) in genl_attributes(payload)? {
            match k {
                WGDEVICE_A_LISTEN_PORT => device.listen_port = v.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])),
                WGDEVICE_A_PEERS => {
                    for (_, p) in attributes(v)? {
                        let Some(p) = peer(p)? else { continue };
                        match device.peers.last_mut() {
                            Some(last) if last.public_key == p.public_key => last.allowed_ips.extend(p.allowed_ips),
                            _ => device.peers.push(p),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(device)
}

/// Most bytes one answer (all messages of a dump) may have.
const MAX_ANSWER: usize = 64 << 20;
/// Receive timeout of the netlink socket.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends one request on a fresh generic netlink socket and collects the
/// payloads of its answer (up to NLMSG_DONE for a dump, the one reply or
/// the acknowledgement otherwise). Blocking: call from a blocking thread.
fn exchange(request: &[u8], seq: u32, dump: bool) -> Result<Vec<Vec<u8>>, NetlinkError> {
    use nix::sys::socket::{
        bind, recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
        SockType,
    };
    use std::os::fd::AsRawFd;
    let io = |e: nix::Error| NetlinkError::Io(e.to_string());
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkGeneric,
    )
    .map_err(io)?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(io)?;
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(TIMEOUT.as_secs() as i64, 0),
    )
    .map_err(io)?;
    sendto(fd.as_raw_fd(), request, &NetlinkAddr::new(0, 0), MsgFlags::empty()).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut payloads = Vec::new();
    let mut total = 0usize;
    loop {
        let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(io(e)),
        };
        total += n;
        if total > MAX_ANSWER {
            return Err(NetlinkError::TooLong("answer"));
        }
        for m in messages(&buf[..n])? {
            if m.seq != seq {
                continue;
            }
            match m.kind {
                NLMSG_DONE => return Ok(payloads),
                NLMSG_ERROR => {
                    let code = error_code(m.payload)?;
                    return if code == 0 {
                        Ok(payloads)
                    } else {
                        Err(NetlinkError::Errno(code))
                    };
                }
                _ => {
                    payloads.push(m.payload.to_vec());
                    if !dump {
                        return Ok(payloads);
                    }
                }
            }
        }
    }
}

/// The id of generic netlink family `name`.
pub fn family_id(name: &str) -> Result<u16, NetlinkError> {
    let payloads = exchange(&encode_get_family(1, name)?, 1, false).map_err(|e| match e {
        NetlinkError::Errno(2) => NetlinkError::NoFamily(name.to_owned()),
        other => other,
    })?;
    payloads
        .first()
        .map(|p| parse_family_id(p))
        .transpose()?
        .flatten()
        .ok_or(NetlinkError::NoFamily(name.to_owned()))
}

/// Reads interface `ifname` from the kernel.
pub fn get_device(ifname: &str) -> Result<Device, NetlinkError> {
    let family = family_id(FAMILY)?;
    let payloads = exchange(&encode_get_device(family, 2, ifname)?, 2, true)?;
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    parse_device(&refs)
}

/// Removes the peer with base64 `public_key` from `ifname`.
pub fn remove_peer(ifname: &str, public_key: &str) -> Result<(), NetlinkError> {
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(NetlinkError::Malformed(0))?;
    let family = family_id(FAMILY)?;
    exchange(&encode_remove_peer(family, 3, ifname, &key)?, 3, false).map(|_| ())
}

/// One peer of [`sample_dump`]: public key, allowed IPs, received bytes,
/// last handshake (Unix seconds).
pub type SamplePeer<'a> = (&'a [u8; 32], &'a [(IpAddr, u8)], u64, i64);

/// A `WG_CMD_GET_DEVICE` answer as the kernel builds it, for tests and the
/// fuzzer: one device with the given peers, split into `split` messages.
pub fn sample_dump(peers: &[SamplePeer<'_>], split: usize) -> Vec<Vec<u8>> {
    let chunk = peers.len().div_ceil(split.max(1)).max(1);
    peers
        .chunks(chunk)
        .map(|group| {
            let mut attrs = Vec::new();
            let _ = put_attr(&mut attrs, WGDEVICE_A_IFNAME, &c_string("wg0"));
            let _ = put_attr(&mut attrs, WGDEVICE_A_LISTEN_PORT, &51820u16.to_ne_bytes());
            let _ = put_nested(&mut attrs, WGDEVICE_A_PEERS, |list| {
                for (key, ips, rx, handshake) in group {
                    put_nested(list, 0, |p| {
                        put_attr(p, WGPEER_A_PUBLIC_KEY, *key)?;
                        let mut sin = AF_INET.to_ne_bytes().to_vec();
                        sin.extend_from_slice(&51000u16.to_be_bytes());
                        sin.extend_from_slice(&[198, 51, 100, 7]);
                        sin.extend_from_slice(&[0; 8]);
                        put_attr(p, WGPEER_A_ENDPOINT, &sin)?;
                        let mut ts = handshake.to_ne_bytes().to_vec();
                        ts.extend_from_slice(&5i64.to_ne_bytes());
                        put_attr(p, WGPEER_A_LAST_HANDSHAKE_TIME, &ts)?;
                        put_attr(p, WGPEER_A_RX_BYTES, &rx.to_ne_bytes())?;
                        put_attr(p, WGPEER_A_TX_BYTES, &(rx * 2).to_ne_bytes())?;
                        put_nested(p, WGPEER_A_ALLOWEDIPS, |list| {
                            for (ip, cidr) in *ips {
                                put_nested(list, 0, |a| {
                                    let (family, bytes) = match ip {
                                        IpAddr::V4(v4) => (AF_INET, v4.octets().to_vec()),
                                        IpAddr::V6(v6) => (AF_INET6, v6.octets().to_vec()),
                                    };
                                    put_attr(a, WGALLOWEDIP_A_FAMILY, &family.to_ne_bytes())?;
                                    put_attr(a, WGALLOWEDIP_A_IPADDR, &bytes)?;
                                    put_attr(a, WGALLOWEDIP_A_CIDR_MASK, &[*cidr])
                                })?;
                            }
                            Ok(())
                        })
                    })?;
                }
                Ok(())
            });
            request(0x20, 0x2, 2, WG_CMD_GET_DEVICE, WG_GENL_VERSION, &attrs)
                .ok()
                .and_then(|m| m.get(NLMSG_HDRLEN..).map(<[u8]>::to_vec))
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: [u8; 32] = [7; 32];
    const KEY_B: [u8; 32] = [9; 32];

    #[test]
    fn a_dump_split_over_messages_becomes_one_device() {
        let v4: IpAddr = "10.0.0.2".parse().unwrap();
        let v6: IpAddr = "fd00::2".parse().unwrap();
        let payloads = sample_dump(
            &[(&KEY_A, &[(v4, 32)], 1000, 1_795_634_117), (&KEY_B, &[(v6, 128)], 5, 0)],
            2,
        );
        assert_eq!(payloads.len(), 2);
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let d = parse_device(&refs).unwrap();
        assert_eq!(d.listen_port, Some(51820));
        assert_eq!(d.peers.len(), 2);
        let a = &d.peers[0];
        assert_eq!(a.public_key, base64::engine::general_purpose::STANDARD.encode(KEY_A));
        assert_eq!(a.endpoint, Some("198.51.100.7:51000".parse().unwrap()));
        assert_eq!((a.rx_bytes, a.tx_bytes), (1000, 2000));
        assert_eq!(a.allowed_ips, vec![(v4, 32)]);
        assert!(a.last_handshake.is_some());
        assert_eq!(d.peers[1].last_handshake, None, "0 is never");
        assert_eq!(d.peers[1].allowed_ips, vec![(v6, 128)]);
    }

    #[test]
    fn a_peer_continued_in_the_next_message_is_merged() {
        let a: IpAddr = "10.0.0.2".parse().unwrap();
        let b: IpAddr = "10.0.0.3".parse().unwrap();
        let payloads = sample_dump(&[(&KEY_A, &[(a, 32)], 1, 1), (&KEY_A, &[(b, 32)], 1, 1)], 2);
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let d = parse_device(&refs).unwrap();
        assert_eq!(d.peers.len(), 1);
        assert_eq!(d.peers[0].allowed_ips, vec![(a, 32), (b, 32)]);
    }

    #[test]
    fn requests_and_hostile_bytes() {
        let req = encode_remove_peer(0x20, 3, "wg0", &KEY_A).unwrap();
        let msgs = messages(&req).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!((msgs[0].kind, msgs[0].seq), (0x20, 3));
        let attrs = genl_attributes(msgs[0].payload).unwrap();
        assert_eq!(attrs[0], (WGDEVICE_A_IFNAME, &b"wg0\0"[..]));
        assert_eq!(attrs[1].0, WGDEVICE_A_PEERS);
        assert_eq!(messages(&[1, 2, 3]), Err(NetlinkError::Malformed(0)));
        assert!(messages(&[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(attributes(&[2, 0, 1, 0]).is_err(), "attribute shorter than its header");
        assert!(attributes(&[200, 0, 1, 0, 0]).is_err(), "attribute past the end");
        assert!(parse_device(&[&[0, 1]]).is_err());
        // A handshake time past year 9999 is "never", not a panic.
        let payloads = sample_dump(&[(&KEY_A, &[], 1, i64::MAX)], 1);
        let d = parse_device(&[payloads[0].as_slice()]).unwrap();
        assert_eq!(d.peers[0].last_handshake, None);
    }

    /// The real socket path against this kernel's generic netlink
    /// controller: `nlctrl` always exists; `wireguard` exists only with the
    /// module (docs/wireguard.md says what ran where).
    #[test]
    fn resolves_families_through_the_real_controller() {
        assert_eq!(family_id("nlctrl"), Ok(GENL_ID_CTRL));
        match family_id(FAMILY) {
            Ok(id) => assert!(id > GENL_ID_CTRL),
            Err(e) => assert_eq!(e, NetlinkError::NoFamily(FAMILY.into())),
        }
        assert_eq!(
            family_id("no-such-fam"),
            Err(NetlinkError::NoFamily("no-such-fam".into()))
        );
    }
}
