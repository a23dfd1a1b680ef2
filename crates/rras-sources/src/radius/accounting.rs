//! Meaning of an Accounting-Request: RFC 2865/2866/2869/3162/4818/6911
//! attributes mapped onto the RAS connection model. The mapping table is in
//! docs/radius.md; unknown attributes are kept raw as `attr-N`/`vsa-V-N`.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use rras_core::engine_time;
use rras_core::model::Ikev2Projection;
use rras_core::model::{auth, connection_flags, device_type};
use rras_core::{ConnectionInfo, ConnectionStats, Guid, Projection, QuarantineState};

use super::attributes::*;
use super::packet::Attributes;
use rras_core::SourceId;

/// What an Accounting-Request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountingEvent {
    /// A session started.
    Start(Box<ConnectionInfo>),
    /// Periodic update (also creates a session we missed the Start of).
    Interim(Box<ConnectionInfo>),
    /// The session ended.
    Stop {
        /// Final state.
        info: Box<ConnectionInfo>,
        /// Acct-Terminate-Cause as text.
        reason: String,
    },
    /// The NAS (re)booted or stopped: every session it had is over.
    NasRestart {
        /// The NAS identity (the `nas` of its sessions' keys).
        nas: String,
        /// "nas-reboot" (Accounting-On) or "nas-shutdown" (Accounting-Off).
        reason: &'static str,
    },
    /// A status type we do not track (Tunnel-*, Failed): acknowledged, ignored.
    Ignored(u32),
}

/// A request we cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountingError {
    /// No Acct-Status-Type.
    #[error("Accounting-Request without Acct-Status-Type")]
    NoStatusType,
    /// No Acct-Session-Id in a session event.
    #[error("Accounting-Request without Acct-Session-Id")]
    NoSessionId,
}

/// The decoded request plus what the stale sweep needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    /// The event.
    pub event: AccountingEvent,
    /// Acct-Interim-Interval, if the NAS told us.
    pub interim_interval: Option<Duration>,
    /// When it happened at the NAS: Event-Timestamp, else now minus
    /// Acct-Delay-Time.
    pub event_time: SystemTime,
    /// True when `event_time` is the NAS's own Event-Timestamp (signed by
    /// the authenticator, so a replay carries its original time).
    pub timestamped: bool,
    /// Which groups of fields the packet carried: an update changes those
    /// and keeps the rest ([`merge_update`]).
    pub carried: Carried,
}

/// Groups of connection fields an Accounting-Request may or may not carry
/// (a bit set). Many NASes send counters-only Interim-Updates; what such a
/// packet leaves out must not read as "none".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carried(u32);

impl Carried {
    /// User-Name.
    pub const USER: Carried = Carried(1);
    /// NAS-Port, NAS-Port-Id.
    pub const INTERFACE: Carried = Carried(1 << 1);
    /// Framed-IP-Address.
    pub const IPV4: Carried = Carried(1 << 2);
    /// Framed-IPv6-Prefix, Framed-Interface-Id, Framed-IPv6-Address, Delegated-IPv6-Prefix.
    pub const IPV6: Carried = Carried(1 << 3);
    /// Tunnel-Type, Framed-Protocol, NAS-Port-Type (VPN type, projection, flags).
    pub const TUNNEL: Carried = Carried(1 << 4);
    /// Calling-Station-Id, Tunnel-Client-Endpoint, MS-RAS-Client-Name.
    pub const REMOTE: Carried = Carried(1 << 5);
    /// Called-Station-Id, Tunnel-Server-Endpoint.
    pub const LOCAL: Carried = Carried(1 << 6);
    /// MS-Acct-Auth-Type, MS-Acct-EAP-Type.
    pub const AUTH: Carried = Carried(1 << 7);
    /// MS-RAS-Correlation-Id.
    pub const GUID: Carried = Carried(1 << 8);
    /// MS-Quarantine-State, MS-Quarantine-Grace-Time.
    pub const QUARANTINE: Carried = Carried(1 << 9);
    /// Acct-Session-Time (the start time follows from it).
    pub const SESSION_TIME: Carried = Carried(1 << 10);
    /// Acct-Input-Octets or -Gigawords.
    pub const BYTES_IN: Carried = Carried(1 << 11);
    /// Acct-Output-Octets or -Gigawords.
    pub const BYTES_OUT: Carried = Carried(1 << 12);
    /// Acct-Input-Packets.
    pub const FRAMES_IN: Carried = Carried(1 << 13);
    /// Acct-Output-Packets.
    pub const FRAMES_OUT: Carried = Carried(1 << 14);

    /// True when every group of `other` is carried.
    pub fn has(self, other: Carried) -> bool {
        self.0 & other.0 == other.0
    }

    fn add(&mut self, other: Carried) {
        self.0 |= other.0;
    }
}

fn u32_of(v: &[u8]) -> Option<u32> {
    v.try_into().ok().map(u32::from_be_bytes)
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

fn ipv4_of(v: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from)
}

fn ipv6_of(v: &[u8]) -> Option<Ipv6Addr> {
    <[u8; 16]>::try_from(v).ok().map(Ipv6Addr::from)
}

/// RFC 3162 prefix: reserved(1) length(1) prefix(0..16).
fn ipv6_prefix_of(v: &[u8]) -> Option<([u8; 8], u32)> {
    let (len, bits) = (v.get(1).copied()?, v.get(2..)?);
    if len > 128 || bits.len() > 16 {
        return None;
    }
    let mut prefix = [0u8; 8];
    let n = bits.len().min(8);
    prefix[..n].copy_from_slice(&bits[..n]);
    Some((prefix, u32::from(len)))
}

/// Tagged attributes (Tunnel-*) carry a tag byte first when it is 0x01..=0x1F.
fn untag(v: &[u8]) -> &[u8] {
    match v.first() {
        Some(t) if (1..=0x1f).contains(t) => &v[1..],
        _ => v,
    }
}

/// Tunnel-Type is a tagged integer: 1 tag byte + 3 value bytes.
fn tagged_u32(v: &[u8]) -> Option<u32> {
    let b: [u8; 4] = v.try_into().ok()?;
    Some(u32::from_be_bytes([0, b[1], b[2], b[3]]))
}

/// RFC 2866 §5.10 Acct-Terminate-Cause names, lower-cased.
pub fn terminate_cause(v: u32) -> String {
    const NAMES: [&str; 22] = [
        "",
        "user-request",
        "lost-carrier",
        "lost-service",
        "idle-timeout",
        "session-timeout",
        "admin-reset",
        "admin-reboot",
        "port-error",
        "nas-error",
        "nas-request",
        "nas-reboot",
        "port-unneeded",
        "port-preempted",
        "port-suspended",
        "service-unavailable",
        "callback",
        "user-error",
        "host-request",
        "supplicant-restart",
        "reauthentication-failure",
        "port-reinitialized",
    ];
    match NAMES.get(v as usize) {
        Some(n) if !n.is_empty() => (*n).to_owned(),
        _ => format!("terminate-cause-{v}"),
    }
}

fn unix(secs: u32) -> Option<SystemTime> {
    engine_time::from_unix(u64::from(secs), 0)
}

/// The NAS a packet names: NAS-IP-Address, NAS-IPv6-Address or the
/// datagram's source, and NAS-Identifier (lossy UTF-8, borrowed when valid).
pub fn nas_claim<'a>(p: &'a impl Attributes, source: IpAddr) -> (IpAddr, Option<Cow<'a, str>>) {
    let addr = p
        .attr(NAS_IP_ADDRESS)
        .and_then(ipv4_of)
        .map(IpAddr::V4)
        .or_else(|| p.attr(NAS_IPV6_ADDRESS).and_then(ipv6_of).map(IpAddr::V6))
        .unwrap_or(source);
    let id = p
        .attr(NAS_IDENTIFIER)
        .filter(|id| !id.is_empty())
        .map(String::from_utf8_lossy);
    (addr, id)
}

/// The NAS identity: "Identifier@address" or just the address (see
/// [`nas_claim`]); [`super::scope::NasClaim::parse`] reads it back.
pub fn nas_identity(p: &impl Attributes, source: IpAddr) -> String {
    match nas_claim(p, source) {
        (addr, Some(id)) => format!("{id}@{addr}"),
        (addr, None) => addr.to_string(),
    }
}

fn correlation_guid(v: &[u8]) -> Option<Guid> {
    if let Ok(b) = <[u8; 16]>::try_from(v) {
        let mut data4 = [0; 8];
        data4.copy_from_slice(&b[8..]);
        return Some(Guid {
            data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_le_bytes([b[4], b[5]]),
            data3: u16::from_le_bytes([b[6], b[7]]),
            data4,
        });
    }
    let s: String = text(v).chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let v = u128::from_str_radix(&s, 16).ok().filter(|_| s.len() == 32)?;
    let b = v.to_be_bytes();
    let mut data4 = [0; 8];
    data4.copy_from_slice(&b[8..]);
    Some(Guid {
        data1: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        data2: u16::from_be_bytes([b[4], b[5]]),
        data3: u16::from_be_bytes([b[6], b[7]]),
        data4,
    })
}

/// Interprets an authenticated Accounting-Request from `source` at `now`.
pub fn interpret(
    id: &SourceId,
    p: &impl Attributes,
    source: IpAddr,
    now: SystemTime,
) -> Result<Accounting, AccountingError> {
    let status = p
        .attr(ACCT_STATUS_TYPE)
        .and_then(u32_of)
        .ok_or(AccountingError::NoStatusType)?;
    let nas = nas_identity(p, source);
    let interim_interval = p
        .attr(ACCT_INTERIM_INTERVAL)
        .and_then(u32_of)
        .map(|s| Duration::from_secs(u64::from(s)));
    // When the event happened at the NAS: Event-Timestamp, else now minus
    // Acct-Delay-Time.
    let timestamp = p.attr(EVENT_TIMESTAMP).and_then(u32_of).and_then(unix);
    let delay = p.attr(ACCT_DELAY_TIME).and_then(u32_of).unwrap_or(0);
    let event_time = timestamp
        .or_else(|| engine_time::before(now, u64::from(delay)))
        .unwrap_or(now);
    let mut carried = Carried::default();
    let event = match status {
        STATUS_ACCOUNTING_ON => AccountingEvent::NasRestart {
            nas,
            reason: "nas-reboot",
        },
        STATUS_ACCOUNTING_OFF => AccountingEvent::NasRestart {
            nas,
            reason: "nas-shutdown",
        },
        STATUS_START | STATUS_STOP | STATUS_INTERIM => {
            let (info, groups) = session_info(id, p, nas, event_time)?;
            carried = groups;
            let info = Box::new(info);
            match status {
                STATUS_START => AccountingEvent::Start(info),
                STATUS_INTERIM => AccountingEvent::Interim(info),
                _ => AccountingEvent::Stop {
                    reason: p
                        .attr(ACCT_TERMINATE_CAUSE)
                        .and_then(u32_of)
                        .map(terminate_cause)
                        .unwrap_or_else(|| "user-request".into()),
                    info,
                },
            }
        }
        other => AccountingEvent::Ignored(other),
    };
    Ok(Accounting {
        event,
        interim_interval,
        event_time,
        timestamped: timestamp.is_some(),
        carried,
    })
}

/// An update of a known session: `update` as the packet said it, with
/// every group of fields the packet did not carry taken from `known` (the
/// row as it is). Counters-only Interim-Updates and Stops without counters
/// keep the addresses, VPN type, endpoints and last counters the Start and
/// earlier updates gave.
pub fn merge_update(update: &mut ConnectionInfo, known: &ConnectionInfo, carried: Carried) {
    let keep = |group| !carried.has(group);
    if keep(Carried::USER) {
        update.user_name.clone_from(&known.user_name);
        update.logon_domain.clone_from(&known.logon_domain);
    }
    if keep(Carried::INTERFACE) {
        update.interface_name.clone_from(&known.interface_name);
        update.interface_handle = known.interface_handle;
    }
    // The projection's kind (PPP or IKEv2) and its authentication fields
    // come with the tunnel and auth attributes; the addresses separately.
    let (ipv4, ipv6) = (*update.projection.ipv4(), *update.projection.ipv6());
    if keep(Carried::TUNNEL) && keep(Carried::AUTH) {
        update.projection = known.projection;
        update.flags = known.flags;
        update.device_type = known.device_type;
    }
    *update.projection.ipv4_mut() = if keep(Carried::IPV4) {
        *known.projection.ipv4()
    } else {
        ipv4
    };
    *update.projection.ipv6_mut() = if keep(Carried::IPV6) {
        *known.projection.ipv6()
    } else {
        ipv6
    };
    if keep(Carried::REMOTE) {
        update.remote_endpoint = known.remote_endpoint;
        update.remote_computer.clone_from(&known.remote_computer);
    }
    if keep(Carried::LOCAL) {
        update.local_endpoint = known.local_endpoint;
    }
    if keep(Carried::GUID) {
        update.guid = known.guid;
    }
    if keep(Carried::QUARANTINE) {
        update.quarantine_state = known.quarantine_state;
        update.probation_time = known.probation_time;
    }
    if keep(Carried::SESSION_TIME) {
        update.started_at = known.started_at;
    }
    merge_counters(&mut update.stats, &known.stats, carried);
    update.switch_overs = known.switch_overs;
    // Engine attributes by name: what the update names replaces, the rest stays.
    let mut attributes: Vec<(String, String)> = known
        .engine_attributes
        .iter()
        .filter(|(name, _)| !update.engine_attributes.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    attributes.append(&mut update.engine_attributes);
    update.engine_attributes = attributes;
}

/// The counters a packet carried over the known ones.
pub fn merge_counters(update: &mut ConnectionStats, known: &ConnectionStats, carried: Carried) {
    let mut merged = *known;
    if carried.has(Carried::BYTES_IN) {
        merged.bytes_rcved = update.bytes_rcved;
    }
    if carried.has(Carried::BYTES_OUT) {
        merged.bytes_xmited = update.bytes_xmited;
    }
    if carried.has(Carried::FRAMES_IN) {
        merged.frames_rcved = update.frames_rcved;
    }
    if carried.has(Carried::FRAMES_OUT) {
        merged.frames_xmited = update.frames_xmited;
    }
    *update = merged;
}

/// `dwDeviceType` from what the NAS says: Tunnel-Type first (PPTP, L2TP,
/// ESP = IKEv2), then a PPPoE NAS-Port-Type, else RDT_Other.
fn device_type_of(tunnel_type: Option<u32>, nas_port_type: Option<u32>) -> u32 {
    match (tunnel_type, nas_port_type) {
        (Some(TUNNEL_PPTP), _) => device_type::PPTP,
        (Some(TUNNEL_L2TP), _) => device_type::L2TP,
        (Some(TUNNEL_ESP), _) => device_type::IKEV2,
        (_, Some(PORT_PPPOEOA | PORT_PPPOEOE | PORT_PPPOEOVLAN | PORT_PPPOEOQINQ)) => device_type::PPPOE,
        _ => device_type::OTHER,
    }
}

fn session_info(
    id: &SourceId,
    p: &impl Attributes,
    nas: String,
    event_time: SystemTime,
) -> Result<(ConnectionInfo, Carried), AccountingError> {
    let session_id = p.attr(ACCT_SESSION_ID).map(text).ok_or(AccountingError::NoSessionId)?;
    let key = id.key(nas, session_id);
    // The session started Acct-Session-Time before the event.
    let session_time = u64::from(p.attr(ACCT_SESSION_TIME).and_then(u32_of).unwrap_or(0));
    let started_at = engine_time::before(event_time, session_time).unwrap_or(event_time);

    let mut info = ConnectionInfo::new(key.clone(), String::new(), started_at);
    // Without MS-RAS-Correlation-Id (below), a GUID from the session key.
    info.guid = rras_source::stable_guid(&key);
    let mut tunnel_type = None;
    let mut nas_port_type = None;
    let mut framed_ppp = false;
    let mut nas_port = None;
    let mut ipv6_prefix = None;
    let mut delegated_prefix = None;
    let mut calling = None;
    let mut called = None;
    let (mut in_octets, mut out_octets, mut in_giga, mut out_giga) = (0u64, 0u64, 0u64, 0u64);
    let mut auth_seen = AuthSeen::default();

    let mut carried = Carried::default();
    for (t, v) in p.each() {
        carried.add(group_of(t));
        match t {
            USER_NAME => info.set_account(&text(v)),
            NAS_PORT => nas_port = u32_of(v),
            NAS_PORT_ID => info.interface_name = text(v),
            NAS_PORT_TYPE => {
                nas_port_type = u32_of(v);
                info.engine_attributes
                    .push(("NAS-Port-Type".into(), nas_port_type.unwrap_or(0).to_string()));
            }
            FRAMED_PROTOCOL => framed_ppp = u32_of(v) == Some(FRAMED_PPP),
            FRAMED_IP_ADDRESS => info.projection.ipv4_mut().remote_address = ipv4_of(v),
            FRAMED_IPV6_PREFIX => ipv6_prefix = ipv6_prefix_of(v),
            DELEGATED_IPV6_PREFIX => delegated_prefix = ipv6_prefix_of(v),
            FRAMED_INTERFACE_ID => {
                if let Ok(id) = <[u8; 8]>::try_from(v) {
                    info.projection.ipv6_mut().remote_interface_identifier = id;
                }
            }
            FRAMED_IPV6_ADDRESS => {
                if let Some(a) = ipv6_of(v) {
                    info.projection.ipv6_mut().set_remote_address(a);
                }
            }
            ACCT_INPUT_OCTETS => in_octets = u64::from(u32_of(v).unwrap_or(0)),
            ACCT_OUTPUT_OCTETS => out_octets = u64::from(u32_of(v).unwrap_or(0)),
            ACCT_INPUT_GIGAWORDS => in_giga = u64::from(u32_of(v).unwrap_or(0)),
            ACCT_OUTPUT_GIGAWORDS => out_giga = u64::from(u32_of(v).unwrap_or(0)),
            ACCT_INPUT_PACKETS => info.stats.frames_rcved = u32_of(v).unwrap_or(0),
            ACCT_OUTPUT_PACKETS => info.stats.frames_xmited = u32_of(v).unwrap_or(0),
            CALLING_STATION_ID => calling = Some(text(v)),
            CALLED_STATION_ID => called = Some(text(v)),
            TUNNEL_TYPE => tunnel_type = tagged_u32(v),
            TUNNEL_CLIENT_ENDPOINT => info.remote_endpoint = text(untag(v)).trim().parse().ok(),
            TUNNEL_SERVER_ENDPOINT => info.local_endpoint = text(untag(v)).trim().parse().ok(),
            NAS_IDENTIFIER => info.engine_attributes.push(("NAS-Identifier".into(), text(v))),
            CLASS => info.engine_attributes.push(("Class".into(), hex(v))),
            VENDOR_SPECIFIC => vendor_specific(&mut info, &mut auth_seen, &mut carried, v),
            // Known and used elsewhere, or carried in the key.
            NAS_IP_ADDRESS
            | NAS_IPV6_ADDRESS
            | ACCT_STATUS_TYPE
            | ACCT_SESSION_ID
            | ACCT_SESSION_TIME
            | ACCT_DELAY_TIME
            | EVENT_TIMESTAMP
            | ACCT_TERMINATE_CAUSE
            | ACCT_INTERIM_INTERVAL
            | SERVICE_TYPE
            | TUNNEL_MEDIUM_TYPE
            | ACCT_AUTHENTIC => {}
            other => info.engine_attributes.push((format!("attr-{other}"), hex(v))),
        }
    }
    info.stats.bytes_rcved = in_giga << 32 | in_octets;
    info.stats.bytes_xmited = out_giga << 32 | out_octets;
    // Calling/Called-Station-Id are the outer addresses when they are IPs
    // (VPN NASes send them so); otherwise (MAC, phone number) the caller id
    // names the remote computer.
    if info.remote_endpoint.is_none() {
        match calling.as_deref().map(|c| (c, c.trim().parse::<IpAddr>())) {
            Some((_, Ok(ip))) => info.remote_endpoint = Some(ip),
            Some((c, Err(_))) if info.remote_computer.is_empty() => info.remote_computer = c.to_owned(),
            _ => {}
        }
    }
    if info.local_endpoint.is_none() {
        info.local_endpoint = called.and_then(|c| c.trim().parse().ok());
    }
    if let Some((prefix, len)) = ipv6_prefix.or(delegated_prefix) {
        let p6 = info.projection.ipv6_mut();
        p6.prefix = prefix;
        p6.prefix_length = len;
    }
    info.device_type = device_type_of(tunnel_type, nas_port_type);
    if tunnel_type == Some(TUNNEL_ESP) {
        // IKEv2 (RRAS sends ESP as the tunnel type of IKEv2 sessions).
        let ipv4 = *info.projection.ipv4();
        let ipv6 = *info.projection.ipv6();
        info.projection = Projection::Ikev2(Ikev2Projection {
            ipv4,
            ipv6,
            ..Default::default()
        });
        info.flags |= connection_flags::IKEV2_CONNECTION;
    } else if framed_ppp || matches!(tunnel_type, Some(TUNNEL_PPTP | TUNNEL_L2TP)) {
        info.flags |= connection_flags::PPP_CONNECTION;
    }
    auth_seen.apply(&mut info.projection);
    if info.interface_name.is_empty() {
        let base = if tunnel_type == Some(TUNNEL_ESP) {
            "ipsec"
        } else {
            "ppp"
        };
        info.interface_name = nas_port.map(|n| format!("{base}{n}")).unwrap_or_default();
    }
    info.interface_handle = nas_port.unwrap_or(0);
    if let Some(t) = tunnel_type {
        info.engine_attributes.push(("Tunnel-Type".into(), t.to_string()));
    }
    Ok((info, carried))
}

/// The group of fields a (non-vendor) attribute sets.
fn group_of(attribute: u8) -> Carried {
    match attribute {
        USER_NAME => Carried::USER,
        NAS_PORT | NAS_PORT_ID => Carried::INTERFACE,
        FRAMED_IP_ADDRESS => Carried::IPV4,
        FRAMED_IPV6_PREFIX | DELEGATED_IPV6_PREFIX | FRAMED_INTERFACE_ID | FRAMED_IPV6_ADDRESS => Carried::IPV6,
        TUNNEL_TYPE | FRAMED_PROTOCOL | NAS_PORT_TYPE => Carried::TUNNEL,
        CALLING_STATION_ID | TUNNEL_CLIENT_ENDPOINT => Carried::REMOTE,
        CALLED_STATION_ID | TUNNEL_SERVER_ENDPOINT => Carried::LOCAL,
        ACCT_SESSION_TIME => Carried::SESSION_TIME,
        ACCT_INPUT_OCTETS | ACCT_INPUT_GIGAWORDS => Carried::BYTES_IN,
        ACCT_OUTPUT_OCTETS | ACCT_OUTPUT_GIGAWORDS => Carried::BYTES_OUT,
        ACCT_INPUT_PACKETS => Carried::FRAMES_IN,
        ACCT_OUTPUT_PACKETS => Carried::FRAMES_OUT,
        _ => Carried::default(),
    }
}

/// How the user authenticated, as Microsoft's accounting VSAs say
/// (RFC 2548 MS-Acct-Auth-Type and MS-Acct-EAP-Type); applied once the
/// projection (PPP or IKEv2) is known.
#[derive(Debug, Default, Clone, Copy)]
struct AuthSeen {
    auth_type: Option<u32>,
    eap_type: Option<u32>,
}

impl AuthSeen {
    /// PPP: the LCP authentication protocol (and CHAP variant or EAP type)
    /// a Windows tool reads; IKEv2: EAP or not. Unknown values leave the
    /// fields 0, as for a NAS that does not say.
    fn apply(self, projection: &mut Projection) {
        let eap = self.eap_type.unwrap_or(0);
        match projection {
            Projection::Ppp(p) => {
                let (protocol, data) = match self.auth_type {
                    Some(1) => (auth::PPP_LCP_PAP, 0),
                    Some(2) => (auth::PPP_LCP_CHAP, auth::PPP_LCP_CHAP_MD5),
                    Some(3) => (auth::PPP_LCP_CHAP, auth::PPP_LCP_CHAP_MS),
                    Some(4) => (auth::PPP_LCP_CHAP, auth::PPP_LCP_CHAP_MSV2),
                    Some(5) => (auth::PPP_LCP_EAP, 0),
                    _ => return,
                };
                p.lcp.authentication_protocol = protocol;
                p.lcp.authentication_data = data;
                if protocol == auth::PPP_LCP_EAP {
                    p.lcp.eap_type_id = eap;
                }
            }
            Projection::Ikev2(p) => {
                if self.auth_type == Some(5) || self.eap_type.is_some() {
                    p.authentication_protocol = auth::IKEV2_AUTH_USING_EAP;
                    p.eap_type_id = eap;
                }
            }
        }
    }
}

/// Vendor-Specific: vendor id (4) then vendor attributes type(1) len(1) value.
fn vendor_specific(info: &mut ConnectionInfo, auth_seen: &mut AuthSeen, carried: &mut Carried, v: &[u8]) {
    let Some(vendor) = v.get(..4).and_then(u32_of) else {
        info.engine_attributes.push(("attr-26".into(), hex(v)));
        return;
    };
    let mut rest = &v[4..];
    while rest.len() >= 2 {
        let (t, len) = (rest[0], usize::from(rest[1]));
        if len < 2 || len > rest.len() {
            info.engine_attributes.push((format!("vsa-{vendor}"), hex(rest)));
            return;
        }
        let value = &rest[2..len];
        if vendor == VENDOR_MICROSOFT {
            carried.add(match t {
                MS_RAS_CLIENT_NAME => Carried::REMOTE,
                MS_QUARANTINE_STATE | MS_QUARANTINE_GRACE_TIME => Carried::QUARANTINE,
                MS_ACCT_AUTH_TYPE | MS_ACCT_EAP_TYPE => Carried::AUTH,
                MS_RAS_CORRELATION_ID => Carried::GUID,
                _ => Carried::default(),
            });
        }
        match (vendor, t) {
            (VENDOR_MICROSOFT, MS_RAS_CLIENT_NAME) => info.remote_computer = text(value),
            (VENDOR_MICROSOFT, MS_QUARANTINE_STATE) => {
                info.quarantine_state = match u32_of(value) {
                    Some(1) => QuarantineState::Quarantine,
                    Some(2) => QuarantineState::Probation,
                    _ => QuarantineState::Normal,
                }
            }
            (VENDOR_MICROSOFT, MS_QUARANTINE_GRACE_TIME) => {
                info.probation_time = u32_of(value).and_then(unix);
            }
            (VENDOR_MICROSOFT, MS_ACCT_AUTH_TYPE) => auth_seen.auth_type = u32_of(value),
            (VENDOR_MICROSOFT, MS_ACCT_EAP_TYPE) => auth_seen.eap_type = u32_of(value),
            (VENDOR_MICROSOFT, MS_RAS_CORRELATION_ID) => {
                if let Some(g) = correlation_guid(value) {
                    info.guid = g;
                }
            }
            _ => info.engine_attributes.push((format!("vsa-{vendor}-{t}"), hex(value))),
        }
        rest = &rest[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radius::packet::Packet;

    fn rid() -> SourceId {
        SourceId::default_of(rras_core::EngineKind::Radius)
    }

    fn attr_u32(t: u8, v: u32) -> (u8, Vec<u8>) {
        (t, v.to_be_bytes().to_vec())
    }

    fn packet(attrs: Vec<(u8, Vec<u8>)>) -> Packet {
        Packet {
            code: 4,
            identifier: 1,
            authenticator: [0; 16],
            attributes: attrs,
        }
    }

    #[test]
    fn interim_maps_counters_with_gigawords_and_times() {
        let p = packet(vec![
            (USER_NAME, b"CORP\\alice".to_vec()),
            (ACCT_SESSION_ID, b"s1".to_vec()),
            (NAS_IP_ADDRESS, vec![127, 0, 0, 1]),
            (NAS_IDENTIFIER, b"lab-nas".to_vec()),
            attr_u32(NAS_PORT, 7),
            attr_u32(ACCT_STATUS_TYPE, STATUS_INTERIM),
            attr_u32(FRAMED_PROTOCOL, 1),
            (TUNNEL_TYPE, vec![1, 0, 0, 3]),
            (FRAMED_IP_ADDRESS, vec![10, 200, 12, 2]),
            (CALLING_STATION_ID, b"10.200.2.2".to_vec()),
            (CALLED_STATION_ID, b"10.200.2.1".to_vec()),
            attr_u32(ACCT_INPUT_OCTETS, 123_456),
            attr_u32(ACCT_INPUT_GIGAWORDS, 1),
            attr_u32(ACCT_OUTPUT_OCTETS, 654_321),
            attr_u32(ACCT_SESSION_TIME, 60),
            attr_u32(EVENT_TIMESTAMP, 1_795_634_036),
            (200, vec![1, 2]),
        ]);
        let a = interpret(&rid(), &p, "127.0.0.1".parse().unwrap(), SystemTime::now()).unwrap();
        let AccountingEvent::Interim(info) = a.event else {
            panic!("{a:?}")
        };
        assert_eq!(info.source.nas, "lab-nas@127.0.0.1");
        assert_eq!((info.user_name.as_str(), info.logon_domain.as_str()), ("alice", "CORP"));
        assert_eq!(info.stats.bytes_rcved, (1 << 32) + 123_456);
        assert_eq!(info.stats.bytes_xmited, 654_321);
        assert_eq!(Some(info.started_at), unix(1_795_634_036 - 60));
        assert_eq!(
            info.projection.ipv4().remote_address,
            Some(Ipv4Addr::new(10, 200, 12, 2))
        );
        assert_eq!(info.remote_endpoint, Some("10.200.2.2".parse().unwrap()));
        assert_eq!(info.flags, connection_flags::PPP_CONNECTION);
        assert_eq!(info.interface_name, "ppp7");
        assert!(info.engine_attributes.contains(&("attr-200".into(), "0102".into())));
    }

    #[test]
    fn esp_tunnel_is_ikev2_and_ipv6_prefix_maps() {
        let p = packet(vec![
            (ACCT_SESSION_ID, b"s2".to_vec()),
            attr_u32(ACCT_STATUS_TYPE, STATUS_START),
            (TUNNEL_TYPE, vec![0, 0, 0, 9]),
            (FRAMED_IPV6_PREFIX, vec![0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]),
            (FRAMED_INTERFACE_ID, vec![0, 0, 0, 0, 0, 0, 0, 0x42]),
        ]);
        let a = interpret(&rid(), &p, "::1".parse().unwrap(), SystemTime::now()).unwrap();
        let AccountingEvent::Start(info) = a.event else {
            panic!()
        };
        assert!(matches!(info.projection, Projection::Ikev2(_)));
        assert_eq!(info.flags, connection_flags::IKEV2_CONNECTION);
        assert_eq!(
            info.projection.ipv6().remote_address(),
            Some("2001:db8:1:2::42".parse().unwrap())
        );
        assert_eq!(info.source.nas, "::1");
    }

    /// A Microsoft VSA: vendor 311, one attribute of 4 bytes.
    fn ms_u32(t: u8, v: u32) -> (u8, Vec<u8>) {
        let mut out = VENDOR_MICROSOFT.to_be_bytes().to_vec();
        out.extend([t, 6]);
        out.extend(v.to_be_bytes());
        (VENDOR_SPECIFIC, out)
    }

    #[test]
    fn ms_acct_auth_type_fills_lcp_and_ikev2_authentication() {
        let start = |tunnel: u32, auth_type: u32, eap: Option<u32>| {
            let mut attrs = vec![
                (ACCT_SESSION_ID, b"a1".to_vec()),
                attr_u32(ACCT_STATUS_TYPE, STATUS_START),
                (TUNNEL_TYPE, tunnel.to_be_bytes().to_vec()),
                ms_u32(MS_ACCT_AUTH_TYPE, auth_type),
            ];
            attrs.extend(eap.map(|e| ms_u32(MS_ACCT_EAP_TYPE, e)));
            match interpret(&rid(), &packet(attrs), "::1".parse().unwrap(), SystemTime::now())
                .unwrap()
                .event
            {
                AccountingEvent::Start(info) => info.projection,
                other => panic!("{other:?}"),
            }
        };
        let Projection::Ppp(p) = start(TUNNEL_L2TP, 4, None) else {
            panic!()
        };
        assert_eq!(
            (p.lcp.authentication_protocol, p.lcp.authentication_data),
            (0xC223, 0x81)
        );
        let Projection::Ppp(p) = start(TUNNEL_PPTP, 1, None) else {
            panic!()
        };
        assert_eq!((p.lcp.authentication_protocol, p.lcp.authentication_data), (0xC023, 0));
        let Projection::Ppp(p) = start(TUNNEL_L2TP, 5, Some(13)) else {
            panic!()
        };
        assert_eq!((p.lcp.authentication_protocol, p.lcp.eap_type_id), (0xC227, 13));
        let Projection::Ikev2(i) = start(TUNNEL_ESP, 5, Some(26)) else {
            panic!()
        };
        assert_eq!(
            (i.authentication_protocol, i.eap_type_id),
            (auth::IKEV2_AUTH_USING_EAP, 26)
        );
        // An unknown type leaves the fields as a NAS that says nothing.
        let Projection::Ppp(p) = start(TUNNEL_L2TP, 77, None) else {
            panic!()
        };
        assert_eq!(p.lcp.authentication_protocol, 0);
    }

    #[test]
    fn stop_reason_accounting_on_and_errors() {
        let p = packet(vec![
            (ACCT_SESSION_ID, b"s3".to_vec()),
            attr_u32(ACCT_STATUS_TYPE, STATUS_STOP),
            attr_u32(ACCT_TERMINATE_CAUSE, 2),
        ]);
        let a = interpret(&rid(), &p, "127.0.0.1".parse().unwrap(), SystemTime::now()).unwrap();
        assert!(matches!(a.event, AccountingEvent::Stop { ref reason, .. } if reason == "lost-carrier"));
        let on = packet(vec![
            attr_u32(ACCT_STATUS_TYPE, STATUS_ACCOUNTING_ON),
            (NAS_IP_ADDRESS, vec![10, 0, 0, 9]),
        ]);
        let a = interpret(&rid(), &on, "127.0.0.1".parse().unwrap(), SystemTime::now()).unwrap();
        assert_eq!(
            a.event,
            AccountingEvent::NasRestart {
                nas: "10.0.0.9".into(),
                reason: "nas-reboot"
            }
        );
        assert_eq!(
            interpret(&rid(), &packet(vec![]), "127.0.0.1".parse().unwrap(), SystemTime::now()),
            Err(AccountingError::NoStatusType)
        );
        let no_id = packet(vec![attr_u32(ACCT_STATUS_TYPE, STATUS_START)]);
        assert_eq!(
            interpret(&rid(), &no_id, "127.0.0.1".parse().unwrap(), SystemTime::now()),
            Err(AccountingError::NoSessionId)
        );
        assert_eq!(terminate_cause(99), "terminate-cause-99");
    }

    #[test]
    fn microsoft_vsas() {
        let mut vsa = VENDOR_MICROSOFT.to_be_bytes().to_vec();
        vsa.extend([MS_RAS_CLIENT_NAME, 7, b'P', b'C', b'-', b'4', b'2']);
        vsa.extend([MS_QUARANTINE_STATE, 6, 0, 0, 0, 2]);
        vsa.extend([99, 3, 0xaa]);
        let p = packet(vec![
            (ACCT_SESSION_ID, b"s4".to_vec()),
            attr_u32(ACCT_STATUS_TYPE, STATUS_START),
            (VENDOR_SPECIFIC, vsa),
        ]);
        let a = interpret(&rid(), &p, "127.0.0.1".parse().unwrap(), SystemTime::now()).unwrap();
        let AccountingEvent::Start(info) = a.event else {
            panic!()
        };
        assert_eq!(info.remote_computer, "PC-42");
        assert_eq!(info.quarantine_state, QuarantineState::Probation);
        assert!(info.engine_attributes.contains(&("vsa-311-99".into(), "aa".into())));
    }
}
