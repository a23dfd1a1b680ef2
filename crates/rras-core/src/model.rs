//! The RAS connection model: every field of `RAS_CONNECTION_EX` and
//! `RAS_CONNECTION_4`, typed, plus what Linux engines add (engine, session id,
//! NAS identity).
//!
//! Fields that are derived at read time are not stored: `dwConnectDuration`
//! comes from `started_at`, the 32-bit byte counters are the low halves of
//! the 64-bit ones. The C layout lives in the `mprapi` crate; this module only
//! knows the facts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// `hConnection`: a non-zero 32-bit id, not reused while a client may hold it
/// (MS-RRASM carries handles as 32-bit values on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnectionHandle(NonZeroU32);

impl ConnectionHandle {
    /// The handle for a raw value; `None` for 0, which is never a handle.
    pub const fn new(raw: u32) -> Option<Self> {
        match NonZeroU32::new(raw) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// The raw 32-bit value.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for ConnectionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A GUID in Windows field order (`Data1`, `Data2`, `Data3`, `Data4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Guid {
    /// Data1.
    pub data1: u32,
    /// Data2.
    pub data2: u16,
    /// Data3.
    pub data3: u16,
    /// Data4.
    pub data4: [u8; 8],
}

impl Guid {
    /// A version-4-shaped GUID from 128 bits the caller chose (randomness is
    /// the caller's business: core does no I/O).
    pub fn from_u128(v: u128) -> Self {
        let b = v.to_be_bytes();
        let mut data4 = [0; 8];
        data4.copy_from_slice(&b[8..]);
        data4[0] = (data4[0] & 0x3f) | 0x80;
        Guid {
            data1: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_be_bytes([b[4], b[5]]),
            data3: (u16::from_be_bytes([b[6], b[7]]) & 0x0fff) | 0x4000,
            data4,
        }
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// `ROUTER_INTERFACE_TYPE`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InterfaceType {
    /// A remote-access client (every VPN user).
    #[default]
    Client = 0,
    /// A home router.
    HomeRouter = 1,
    /// A full router.
    FullRouter = 2,
    /// A dedicated interface.
    Dedicated = 3,
    /// The internal interface.
    Internal = 4,
    /// Loopback.
    Loopback = 5,
    /// A tunnel interface.
    Tunnel1 = 6,
    /// A dial-out interface.
    Dialout = 7,
}

/// `RAS_QUARANTINE_STATE`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum QuarantineState {
    /// Not quarantined.
    #[default]
    Normal = 0,
    /// Quarantined.
    Quarantine = 1,
    /// On probation until `probation_time`.
    Probation = 2,
    /// The client cannot do quarantine.
    NotCapable = 3,
}

/// `RAS_CONNECTION_4.dwDeviceType`: Windows' RDT_* tunnel types. Every
/// source sets one (docs/device-types.md has the mapping per engine).
pub mod device_type {
    /// RDT_Tunnel_Pptp.
    pub const PPTP: u32 = 8;
    /// RDT_Tunnel_L2tp.
    pub const L2TP: u32 = 9;
    /// RDT_Other: an engine Windows has no number for (WireGuard, OpenVPN,
    /// AnyConnect).
    pub const OTHER: u32 = 12;
    /// RDT_PPPoE.
    pub const PPPOE: u32 = 13;
    /// RDT_Tunnel_Sstp.
    pub const SSTP: u32 = 14;
    /// RDT_Tunnel_Ikev2.
    pub const IKEV2: u32 = 15;
}

/// `PPP_LCP_INFO.dwAuthenticationProtocol` / `dwAuthenticationData` and
/// `IKEV2_PROJECTION_INFO.dwAuthenticationProtocol` values (mprapi.h).
pub mod auth {
    /// PPP_LCP_PAP.
    pub const PPP_LCP_PAP: u32 = 0xC023;
    /// PPP_LCP_CHAP.
    pub const PPP_LCP_CHAP: u32 = 0xC223;
    /// PPP_LCP_EAP.
    pub const PPP_LCP_EAP: u32 = 0xC227;
    /// PPP_LCP_CHAP_MD5 (dwAuthenticationData).
    pub const PPP_LCP_CHAP_MD5: u32 = 0x05;
    /// PPP_LCP_CHAP_MS: MS-CHAP v1.
    pub const PPP_LCP_CHAP_MS: u32 = 0x80;
    /// PPP_LCP_CHAP_MSV2: MS-CHAP v2.
    pub const PPP_LCP_CHAP_MSV2: u32 = 0x81;
    /// MPRAPI_IKEV2_AUTH_USING_CERT.
    pub const IKEV2_AUTH_USING_CERT: u32 = 1;
    /// MPRAPI_IKEV2_AUTH_USING_EAP.
    pub const IKEV2_AUTH_USING_EAP: u32 = 2;
}

/// `dwConnectionFlags` bits.
pub mod connection_flags {
    /// RAS_FLAGS_PPP_CONNECTION.
    pub const PPP_CONNECTION: u32 = 0x1;
    /// RAS_FLAGS_MESSENGER_PRESENT.
    pub const MESSENGER_PRESENT: u32 = 0x2;
    /// RAS_FLAGS_QUARANTINE_PRESENT.
    pub const QUARANTINE_PRESENT: u32 = 0x8;
    /// RAS_FLAGS_ARAP_CONNECTION.
    pub const ARAP_CONNECTION: u32 = 0x10;
    /// RAS_FLAGS_IKEV2_CONNECTION (same bit as ARAP).
    pub const IKEV2_CONNECTION: u32 = 0x10;
    /// RAS_FLAGS_DORMANT.
    pub const DORMANT: u32 = 0x20;
}

/// The VPN engine a connection was learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EngineKind {
    /// RADIUS accounting from a NAS.
    Radius,
    /// WireGuard (kernel or wireguard-go).
    Wireguard,
    /// OpenVPN management interface.
    Openvpn,
    /// ocserv (OpenConnect server).
    Ocserv,
    /// strongSwan IKEv2 via VICI.
    Strongswan,
    /// SoftEther VPN Server through its JSON-RPC admin API.
    Softether,
    /// Reported through the admin Report RPC (hook scripts, demo).
    Report,
}

impl EngineKind {
    /// Every engine, in display order.
    pub const ALL: [EngineKind; 7] = [
        EngineKind::Radius,
        EngineKind::Wireguard,
        EngineKind::Openvpn,
        EngineKind::Ocserv,
        EngineKind::Strongswan,
        EngineKind::Softether,
        EngineKind::Report,
    ];

    /// Position in [`EngineKind::ALL`].
    pub const fn index(self) -> usize {
        match self {
            EngineKind::Radius => 0,
            EngineKind::Wireguard => 1,
            EngineKind::Openvpn => 2,
            EngineKind::Ocserv => 3,
            EngineKind::Strongswan => 4,
            EngineKind::Softether => 5,
            EngineKind::Report => 6,
        }
    }

    /// The lower-case name used in config, CLI and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            EngineKind::Radius => "radius",
            EngineKind::Wireguard => "wireguard",
            EngineKind::Openvpn => "openvpn",
            EngineKind::Ocserv => "ocserv",
            EngineKind::Strongswan => "strongswan",
            EngineKind::Softether => "softether",
            EngineKind::Report => "report",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = UnknownEngine;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EngineKind::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownEngine(s.to_owned()))
    }
}

/// A name that is not one of [`EngineKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine {0:?} (expected radius, wireguard, openvpn, ocserv, strongswan, softether or report)")]
pub struct UnknownEngine(pub String);

/// What identifies a connection to the engine that owns it: the key by which
/// sources upsert and end connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceKey {
    /// The engine.
    pub engine: EngineKind,
    /// The configured source instance that owns the connection (`[[source]]
    /// name`); empty for the engine's default instance, which is named
    /// after the engine. Two instances of one engine never share a key.
    pub instance: String,
    /// Who reported it: the NAS identity for RADIUS, the interface or
    /// management socket for local engines.
    pub nas: String,
    /// The engine's own session id (Acct-Session-Id, peer key, client id …).
    pub session_id: String,
}

impl SourceKey {
    /// A key of the engine's default instance.
    pub fn new(engine: EngineKind, nas: impl Into<String>, session_id: impl Into<String>) -> Self {
        SourceKey {
            engine,
            instance: String::new(),
            nas: nas.into(),
            session_id: session_id.into(),
        }
    }

    /// The owning instance's name (the engine's name for the default one).
    pub fn instance_name(&self) -> &str {
        instance_name(self.engine, &self.instance)
    }
}

/// A source instance name that is not one: 1–64 characters of ASCII
/// letters, digits, `-`, `_` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source instance name {0:?} must be 1-64 characters of letters, digits, '-', '_' and '.'")]
pub struct BadInstanceName(pub String);

/// The stored id of instance `name` of `engine`: "" for the default
/// instance (no name, or the engine's own name), else the checked name.
pub fn instance_id(engine: EngineKind, name: &str) -> Result<String, BadInstanceName> {
    if name.is_empty() || name == engine.as_str() {
        return Ok(String::new());
    }
    let ok = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(BadInstanceName(name.to_owned()))
    }
}

/// The name of `instance` of `engine`: itself, or the engine's name for the
/// default instance (empty).
pub fn instance_name(engine: EngineKind, instance: &str) -> &str {
    if instance.is_empty() {
        engine.as_str()
    } else {
        instance
    }
}

/// Traffic and error counters. Byte counters are 64-bit; the `RAS_CONNECTION_EX`
/// view gives their low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// Bytes sent to the client.
    pub bytes_xmited: u64,
    /// Bytes received from the client.
    pub bytes_rcved: u64,
    /// Frames (packets) sent.
    pub frames_xmited: u32,
    /// Frames (packets) received.
    pub frames_rcved: u32,
    /// CRC errors.
    pub crc_err: u32,
    /// Timeout errors.
    pub timeout_err: u32,
    /// Alignment errors.
    pub alignment_err: u32,
    /// Hardware overrun errors.
    pub hardware_overrun_err: u32,
    /// Framing errors.
    pub framing_err: u32,
    /// Buffer overrun errors.
    pub buffer_overrun_err: u32,
    /// Compression ratio of received data, percent.
    pub compression_ratio_in: u32,
    /// Compression ratio of sent data, percent.
    pub compression_ratio_out: u32,
}

/// IPv4 part of a projection (IPCP for PPP, the configuration payload for IKEv2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ipv4Projection {
    /// dwIPv4NegotiationError.
    pub negotiation_error: u32,
    /// wszAddress: the server side of the tunnel.
    pub address: Option<Ipv4Addr>,
    /// wszRemoteAddress: the address assigned to the client.
    pub remote_address: Option<Ipv4Addr>,
    /// dwIPv4Options (PPP only; PPP_IPCP_VJ).
    pub options: u32,
    /// dwIPv4RemoteOptions (PPP only).
    pub remote_options: u32,
    /// IPv4SubInterfaceIndex.
    pub sub_interface_index: u64,
}

/// IPv6 part of a projection (IPV6CP / IKEv2), in Windows' shape: interface
/// identifiers and a 64-bit prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ipv6Projection {
    /// dwIPv6NegotiationError.
    pub negotiation_error: u32,
    /// bInterfaceIdentifier: the server's interface id.
    pub interface_identifier: [u8; 8],
    /// bRemoteInterfaceIdentifier: the client's interface id.
    pub remote_interface_identifier: [u8; 8],
    /// bPrefix: the first 64 bits of the client's prefix.
    pub prefix: [u8; 8],
    /// dwPrefixLength.
    pub prefix_length: u32,
    /// IPv6SubInterfaceIndex.
    pub sub_interface_index: u64,
}

impl Ipv6Projection {
    /// The client's full address (prefix + interface id), if any was set.
    pub fn remote_address(&self) -> Option<Ipv6Addr> {
        if self.prefix_length == 0 && self.remote_interface_identifier == [0; 8] {
            return None;
        }
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.prefix);
        b[8..].copy_from_slice(&self.remote_interface_identifier);
        Some(Ipv6Addr::from(b))
    }

    /// Sets the client's address as a /64 prefix plus interface id, the way
    /// Windows reports an IPV6CP result.
    pub fn set_remote_address(&mut self, addr: Ipv6Addr) {
        let o = addr.octets();
        self.prefix.copy_from_slice(&o[..8]);
        self.remote_interface_identifier.copy_from_slice(&o[8..]);
        self.prefix_length = 64;
    }
}

/// LCP results of a PPP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LcpInfo {
    /// dwLcpError.
    pub error: u32,
    /// dwAuthenticationProtocol (PAP 0xC023, CHAP 0xC223, EAP 0xC227 …).
    pub authentication_protocol: u32,
    /// dwAuthenticationData (CHAP MD5 5, MS 0x80, MSV2 0x81).
    pub authentication_data: u32,
    /// dwRemoteAuthenticationProtocol.
    pub remote_authentication_protocol: u32,
    /// dwRemoteAuthenticationData.
    pub remote_authentication_data: u32,
    /// dwLcpTerminateReason.
    pub terminate_reason: u32,
    /// dwLcpRemoteTerminateReason.
    pub remote_terminate_reason: u32,
    /// dwLcpOptions.
    pub options: u32,
    /// dwLcpRemoteOptions.
    pub remote_options: u32,
    /// dwEapTypeId.
    pub eap_type_id: u32,
    /// dwEmbeddedEAPTypeId (the *_2 structures only).
    pub embedded_eap_type_id: u32,
    /// dwRemoteEapTypeId.
    pub remote_eap_type_id: u32,
}

/// CCP results of a PPP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CcpInfo {
    /// dwCcpError.
    pub error: u32,
    /// dwCompressionAlgorithm (RASCCPCA_MPPC 6, RASCCPCA_STAC 5).
    pub compression_algorithm: u32,
    /// dwCcpOptions.
    pub options: u32,
    /// dwRemoteCompressionAlgorithm.
    pub remote_compression_algorithm: u32,
    /// dwCcpRemoteOptions.
    pub remote_options: u32,
}

/// `PPP_PROJECTION_INFO(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PppProjection {
    /// IPCP.
    pub ipv4: Ipv4Projection,
    /// IPV6CP.
    pub ipv6: Ipv6Projection,
    /// LCP.
    pub lcp: LcpInfo,
    /// CCP.
    pub ccp: CcpInfo,
}

/// `IKEV2_PROJECTION_INFO(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ikev2Projection {
    /// IPv4 configuration (options fields unused).
    pub ipv4: Ipv4Projection,
    /// IPv6 configuration.
    pub ipv6: Ipv6Projection,
    /// dwOptions.
    pub options: u32,
    /// dwAuthenticationProtocol (MPRAPI_IKEV2_AUTH_USING_CERT 1, _EAP 2).
    pub authentication_protocol: u32,
    /// dwEapTypeId.
    pub eap_type_id: u32,
    /// dwEmbeddedEAPTypeId (the *_2 structures only).
    pub embedded_eap_type_id: u32,
    /// dwCompressionAlgorithm.
    pub compression_algorithm: u32,
    /// dwEncryptionMethod.
    pub encryption_method: u32,
}

/// `PROJECTION_INFO`: which control protocol set up the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    /// MPRAPI_PPP_PROJECTION_INFO_TYPE (1). Also used, with only the
    /// addresses filled, for WireGuard, OpenVPN and ocserv.
    Ppp(PppProjection),
    /// MPRAPI_IKEV2_PROJECTION_INFO_TYPE (2).
    Ikev2(Ikev2Projection),
}

impl Default for Projection {
    fn default() -> Self {
        Projection::Ppp(PppProjection::default())
    }
}

impl Projection {
    /// The `projectionInfoType` value.
    pub fn info_type(&self) -> u8 {
        match self {
            Projection::Ppp(_) => 1,
            Projection::Ikev2(_) => 2,
        }
    }

    /// The IPv4 part, whichever the kind.
    pub fn ipv4(&self) -> &Ipv4Projection {
        match self {
            Projection::Ppp(p) => &p.ipv4,
            Projection::Ikev2(p) => &p.ipv4,
        }
    }

    /// The IPv6 part, whichever the kind.
    pub fn ipv6(&self) -> &Ipv6Projection {
        match self {
            Projection::Ppp(p) => &p.ipv6,
            Projection::Ikev2(p) => &p.ipv6,
        }
    }

    /// The IPv4 part, mutably.
    pub fn ipv4_mut(&mut self) -> &mut Ipv4Projection {
        match self {
            Projection::Ppp(p) => &mut p.ipv4,
            Projection::Ikev2(p) => &mut p.ipv4,
        }
    }

    /// The IPv6 part, mutably.
    pub fn ipv6_mut(&mut self) -> &mut Ipv6Projection {
        match self {
            Projection::Ppp(p) => &mut p.ipv6,
            Projection::Ikev2(p) => &mut p.ipv6,
        }
    }
}

/// What a source knows about a connection: everything but the handle, which
/// the [`crate::ConnectionTable`] assigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// Engine, NAS and engine session id: the upsert key.
    pub source: SourceKey,
    /// hInterface: the interface the connection runs on (0 when none).
    pub interface_handle: u32,
    /// The connection GUID.
    pub guid: Guid,
    /// dwInterfaceType.
    pub interface_type: InterfaceType,
    /// dwConnectionFlags ([`connection_flags`]).
    pub flags: u32,
    /// wszInterfaceName: the Linux interface (ppp3, wg0, tun0 …).
    pub interface_name: String,
    /// wszUserName.
    pub user_name: String,
    /// wszLogonDomain.
    pub logon_domain: String,
    /// wszRemoteComputer.
    pub remote_computer: String,
    /// connectionStartTime; dwConnectDuration is derived from it.
    pub started_at: SystemTime,
    /// rasQuarState.
    pub quarantine_state: QuarantineState,
    /// probationTime (None = zero FILETIME).
    pub probation_time: Option<SystemTime>,
    /// All counters.
    pub stats: ConnectionStats,
    /// dwNumSwitchOvers.
    pub switch_overs: u32,
    /// wszRemoteEndpointAddress: the client's outer tunnel address.
    pub remote_endpoint: Option<IpAddr>,
    /// wszLocalEndpointAddress: the server's outer tunnel address.
    pub local_endpoint: Option<IpAddr>,
    /// ProjectionInfo.
    pub projection: Projection,
    /// dwDeviceType (RAS_CONNECTION_4).
    pub device_type: u32,
    /// Engine facts with no Windows field (NAS-Identifier, Class, cipher,
    /// unknown RADIUS attributes as `attr-N` = hex …), in arrival order.
    pub engine_attributes: Vec<(String, String)>,
}

impl ConnectionInfo {
    /// A connection with every optional field empty.
    pub fn new(source: SourceKey, user_name: impl Into<String>, started_at: SystemTime) -> Self {
        ConnectionInfo {
            source,
            interface_handle: 0,
            guid: Guid::default(),
            interface_type: InterfaceType::Client,
            flags: 0,
            interface_name: String::new(),
            user_name: user_name.into(),
            logon_domain: String::new(),
            remote_computer: String::new(),
            started_at,
            quarantine_state: QuarantineState::Normal,
            probation_time: None,
            stats: ConnectionStats::default(),
            switch_overs: 0,
            remote_endpoint: None,
            local_endpoint: None,
            projection: Projection::default(),
            device_type: 0,
            engine_attributes: Vec::new(),
        }
    }

    /// Sets `wszLogonDomain` and `wszUserName` from an account name the way
    /// Windows RRAS reports it: `DOMAIN\user` splits at the first
    /// backslash; anything else (a UPN `user@realm`, a bare name) is the
    /// user name whole, with no domain.
    pub fn set_account(&mut self, name: &str) {
        match name.split_once('\\') {
            Some((domain, user)) => {
                self.logon_domain = domain.to_owned();
                self.user_name = user.to_owned();
            }
            None => {
                self.logon_domain.clear();
                self.user_name = name.to_owned();
            }
        }
    }

    /// The account as the NAS and Windows tools write it: `DOMAIN\user`, or
    /// the user name alone (the inverse of [`Self::set_account`]).
    pub fn account(&self) -> String {
        if self.logon_domain.is_empty() {
            self.user_name.clone()
        } else {
            format!("{}\\{}", self.logon_domain, self.user_name)
        }
    }

    /// The client's address inside the tunnel: IPv4 if it has one, else
    /// IPv6.
    pub fn client_address(&self) -> Option<IpAddr> {
        self.projection
            .ipv4()
            .remote_address
            .map(IpAddr::V4)
            .or_else(|| self.projection.ipv6().remote_address().map(IpAddr::V6))
    }

    /// Seconds since the connection started, as `dwConnectDuration` gives it
    /// (0 for a start time in the future, saturating at u32::MAX).
    pub fn connect_duration(&self, now: SystemTime) -> Duration {
        now.duration_since(self.started_at).unwrap_or_default()
    }
}

/// A live connection: the table's handle plus what the source knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// hConnection.
    pub handle: ConnectionHandle,
    /// Everything else.
    pub info: ConnectionInfo,
}

/// Why a connection ended (kept in the history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedConnection {
    /// The connection with its final counters.
    pub connection: Connection,
    /// When it ended.
    pub ended_at: SystemTime,
    /// Why: "user-request", "admin-reset", "lost-carrier/stale", "nas-reboot" …
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_zero_is_not_a_handle() {
        assert!(ConnectionHandle::new(0).is_none());
        assert_eq!(ConnectionHandle::new(7).map(|h| h.get()), Some(7));
    }

    #[test]
    fn guid_is_version_4_shaped_and_formats() {
        let g = Guid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(g.data3 >> 12, 4);
        assert_eq!(g.data4[0] >> 6, 2);
        assert_eq!(g.to_string(), "01234567-89ab-4def-8123-456789abcdef");
    }

    #[test]
    fn ipv6_projection_round_trips_an_address() {
        let mut p = Ipv6Projection::default();
        assert_eq!(p.remote_address(), None);
        let a: Ipv6Addr = "2001:db8:1:2::42".parse().unwrap();
        p.set_remote_address(a);
        assert_eq!(p.prefix_length, 64);
        assert_eq!(p.remote_address(), Some(a));
    }

    #[test]
    fn engine_names_parse_back() {
        for (i, e) in EngineKind::ALL.into_iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(e.as_str().parse::<EngineKind>(), Ok(e));
        }
        assert!("pptp".parse::<EngineKind>().is_err());
    }
    #[test]
    fn accounts_split_like_windows_rras() {
        let key = SourceKey::new(EngineKind::Report, "n", "s");
        let mut info = ConnectionInfo::new(key, "", SystemTime::UNIX_EPOCH);
        info.set_account("CORP\\alice");
        assert_eq!((info.logon_domain.as_str(), info.user_name.as_str()), ("CORP", "alice"));
        info.set_account("bob@corp.example");
        assert_eq!(
            (info.logon_domain.as_str(), info.user_name.as_str()),
            ("", "bob@corp.example")
        );
        info.set_account("CORP\\carol\\x");
        assert_eq!(
            (info.logon_domain.as_str(), info.user_name.as_str()),
            ("CORP", "carol\\x")
        );
        // account() writes back what set_account() split.
        for name in ["CORP\\alice", "bob@corp.example", "CORP\\carol\\x"] {
            info.set_account(name);
            assert_eq!(info.account(), name);
        }
    }

    #[test]
    fn client_address_prefers_ipv4() {
        let key = SourceKey::new(EngineKind::Report, "n", "s");
        let mut info = ConnectionInfo::new(key, "", SystemTime::UNIX_EPOCH);
        assert_eq!(info.client_address(), None);
        info.projection
            .ipv6_mut()
            .set_remote_address("2001:db8::7".parse().unwrap());
        assert_eq!(info.client_address(), Some("2001:db8::7".parse().unwrap()));
        info.projection.ipv4_mut().remote_address = Some("10.0.0.7".parse().unwrap());
        assert_eq!(info.client_address(), Some("10.0.0.7".parse().unwrap()));
    }
}
