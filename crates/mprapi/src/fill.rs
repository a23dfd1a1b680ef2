//! Core connection → Windows structure conversion (safe code only). Strings
//! are NUL-terminated UTF-16, truncated to the array (never splitting a
//! surrogate pair); 64-bit byte counters give their low 32 bits in the
//! DWORD structures, as on Windows.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::model::{Ipv4Projection, Ipv6Projection};
use rras_core::{Connection, Projection, RAS_CONNECTION_EX_SIZE};

use crate::abi::*;

/// MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1.
pub const REVISION_1: u8 = 1;
/// MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT.
pub const TYPE_RAS_CONNECTION: u8 = 1;

/// Types whose all-zero bit pattern is a valid value (integers, arrays of
/// integers, unions of such): every ABI structure here.
pub trait Zeroed: Sized {
    /// The all-zero value.
    fn zeroed() -> Self;
}

macro_rules! zeroed {
    ($($t:ty),*) => {$(
        impl Zeroed for $t {
            fn zeroed() -> Self {
                // SAFETY: $t is a repr(C) plain-old-data structure of
                // integers, integer arrays and unions of those; zero is valid.
                unsafe { std::mem::zeroed() }
            }
        }
    )*};
}
zeroed!(
    PppProjectionInfo,
    PppProjectionInfo2,
    Ikev2ProjectionInfo,
    Ikev2ProjectionInfo2,
    RasConnectionEx,
    RasConnection0,
    RasConnection1,
    RasConnection2,
    RasConnection3,
    RasConnection4,
    RasPort0,
    RasPort1,
    MprServer0
);

/// Copies `s` into a fixed WCHAR array, truncating and NUL-terminating.
/// What follows the NUL is left as it was (the structures start zeroed).
pub fn put_wstr(dst: &mut [WCHAR], s: &str) {
    let Some(max) = dst.len().checked_sub(1) else { return };
    if s.is_ascii() {
        // The common case, one unit per byte, no surrogates to mind.
        let n = s.len().min(max);
        for (d, b) in dst.iter_mut().zip(&s.as_bytes()[..n]) {
            *d = WCHAR::from(*b);
        }
        dst[n] = 0;
        return;
    }
    let mut n = 0;
    for unit in s.encode_utf16() {
        if n == max {
            break;
        }
        dst[n] = unit;
        n += 1;
    }
    // A high surrogate cut off from its low half is dropped.
    if n > 0 && (0xD800..0xDC00).contains(&dst[n - 1]) && s.encode_utf16().nth(n).is_some() {
        n -= 1;
    }
    dst[n] = 0;
}

/// Text of at most 64 bytes, formatted on the stack: an address written into
/// a million structures must not cost a million allocations.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(std::fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes an address's text form into a WCHAR array; nothing for `None`.
fn put_addr(dst: &mut [WCHAR], a: Option<impl Into<IpAddr>>) {
    match a.map(Into::into) {
        None => put_wstr(dst, ""),
        // Dotted quads by hand: the formatter machinery costs more than
        // the rest of a structure's fill.
        Some(IpAddr::V4(v4)) => {
            let mut text = [0u8; 15];
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    text[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    text[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                text[len] = b'0' + octet % 10;
                len += 1;
            }
            put_wstr(dst, std::str::from_utf8(&text[..len]).unwrap_or_default());
        }
        Some(v6) => put_display(dst, v6),
    }
}

/// Writes `a`'s text form (at most 64 bytes, else nothing) into a WCHAR array.
fn put_display(dst: &mut [WCHAR], a: impl std::fmt::Display) {
    use std::fmt::Write;
    let mut text = StackText { buf: [0; 64], len: 0 };
    // An address always fits; if something longer ever came, the field is
    // left empty rather than cut.
    if write!(text, "{a}").is_err() {
        text.len = 0;
    }
    put_wstr(dst, std::str::from_utf8(&text.buf[..text.len]).unwrap_or_default());
}

/// FILETIME: 100 ns ticks since 1601-01-01 (zero for `None`).
pub fn filetime(t: Option<SystemTime>) -> Filetime {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    let Some(t) = t else { return Filetime::default() };
    let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let ticks = (since_unix.as_secs() + EPOCH_DIFF_SECS) * 10_000_000 + u64::from(since_unix.subsec_nanos() / 100);
    Filetime {
        dwLowDateTime: ticks as u32,
        dwHighDateTime: (ticks >> 32) as u32,
    }
}

fn guid(c: &Connection) -> Guid {
    let g = c.info.guid;
    Guid {
        Data1: g.data1,
        Data2: g.data2,
        Data3: g.data3,
        Data4: g.data4,
    }
}

fn duration_secs(c: &Connection, now: SystemTime) -> u32 {
    u32::try_from(c.info.connect_duration(now).as_secs()).unwrap_or(u32::MAX)
}

fn stats32(c: &Connection) -> Statistics {
    let s = &c.info.stats;
    Statistics {
        dwBytesXmited: s.bytes_xmited as u32,
        dwBytesRcved: s.bytes_rcved as u32,
        dwFramesXmited: s.frames_xmited,
        dwFramesRcved: s.frames_rcved,
        dwCrcErr: s.crc_err,
        dwTimeoutErr: s.timeout_err,
        dwAlignmentErr: s.alignment_err,
        dwHardwareOverrunErr: s.hardware_overrun_err,
        dwFramingErr: s.framing_err,
        dwBufferOverrunErr: s.buffer_overrun_err,
        dwCompressionRatioIn: s.compression_ratio_in,
        dwCompressionRatioOut: s.compression_ratio_out,
    }
}

/// The fields every projection shape shares, filled field by field by the
/// macro below (the PPP/IKEv2 structures and their *2 variants differ only
/// in which of these they have).
macro_rules! fill_ip {
    ($p:expr, $v4:expr, $v6:expr) => {{
        let (v4, v6): (&Ipv4Projection, &Ipv6Projection) = ($v4, $v6);
        $p.dwIPv4NegotiationError = v4.negotiation_error;
        put_addr(&mut $p.wszAddress, v4.address);
        put_addr(&mut $p.wszRemoteAddress, v4.remote_address);
        $p.IPv4SubInterfaceIndex = v4.sub_interface_index;
        $p.dwIPv6NegotiationError = v6.negotiation_error;
        $p.bInterfaceIdentifier = v6.interface_identifier;
        $p.bRemoteInterfaceIdentifier = v6.remote_interface_identifier;
        $p.bPrefix = v6.prefix;
        $p.dwPrefixLength = v6.prefix_length;
        $p.IPv6SubInterfaceIndex = v6.sub_interface_index;
    }};
}

macro_rules! fill_ppp {
    ($p:expr, $ppp:expr) => {{
        let ppp: &rras_core::model::PppProjection = $ppp;
        fill_ip!($p, &ppp.ipv4, &ppp.ipv6);
        $p.dwIPv4Options = ppp.ipv4.options;
        $p.dwIPv4RemoteOptions = ppp.ipv4.remote_options;
        $p.dwLcpError = ppp.lcp.error;
        $p.dwAuthenticationProtocol = ppp.lcp.authentication_protocol;
        $p.dwAuthenticationData = ppp.lcp.authentication_data;
        $p.dwRemoteAuthenticationProtocol = ppp.lcp.remote_authentication_protocol;
        $p.dwRemoteAuthenticationData = ppp.lcp.remote_authentication_data;
        $p.dwLcpTerminateReason = ppp.lcp.terminate_reason;
        $p.dwLcpRemoteTerminateReason = ppp.lcp.remote_terminate_reason;
        $p.dwLcpOptions = ppp.lcp.options;
        $p.dwLcpRemoteOptions = ppp.lcp.remote_options;
        $p.dwEapTypeId = ppp.lcp.eap_type_id;
        $p.dwRemoteEapTypeId = ppp.lcp.remote_eap_type_id;
        $p.dwCcpError = ppp.ccp.error;
        $p.dwCompressionAlgorithm = ppp.ccp.compression_algorithm;
        $p.dwCcpOptions = ppp.ccp.options;
        $p.dwRemoteCompressionAlgorithm = ppp.ccp.remote_compression_algorithm;
        $p.dwCcpRemoteOptions = ppp.ccp.remote_options;
    }};
}

macro_rules! fill_ikev2 {
    ($p:expr, $ike:expr) => {{
        let ike: &rras_core::model::Ikev2Projection = $ike;
        fill_ip!($p, &ike.ipv4, &ike.ipv6);
        $p.dwOptions = ike.options;
        $p.dwAuthenticationProtocol = ike.authentication_protocol;
        $p.dwEapTypeId = ike.eap_type_id;
        $p.dwCompressionAlgorithm = ike.compression_algorithm;
        $p.dwEncryptionMethod = ike.encryption_method;
    }};
}

/// The ten 32-bit counters every structure with statistics has under the
/// same names (frames, errors, compression); the byte counters differ in
/// width between structures and are set by each.
macro_rules! put_counters {
    ($out:expr, $s:expr) => {{
        let s: Statistics = $s;
        $out.dwFramesXmited = s.dwFramesXmited;
        $out.dwFramesRcved = s.dwFramesRcved;
        $out.dwCrcErr = s.dwCrcErr;
        $out.dwTimeoutErr = s.dwTimeoutErr;
        $out.dwAlignmentErr = s.dwAlignmentErr;
        $out.dwHardwareOverrunErr = s.dwHardwareOverrunErr;
        $out.dwFramingErr = s.dwFramingErr;
        $out.dwBufferOverrunErr = s.dwBufferOverrunErr;
        $out.dwCompressionRatioIn = s.dwCompressionRatioIn;
        $out.dwCompressionRatioOut = s.dwCompressionRatioOut;
    }};
}

/// The common head of RAS_CONNECTION_EX and RAS_CONNECTION_4.
macro_rules! fill_common {
    ($out:expr, $c:expr, $now:expr) => {{
        let c: &Connection = $c;
        let i = &c.info;
        $out.dwConnectDuration = duration_secs(c, $now);
        $out.dwInterfaceType = i.interface_type as u32;
        $out.dwConnectionFlags = i.flags;
        put_wstr(&mut $out.wszInterfaceName, &i.interface_name);
        put_wstr(&mut $out.wszUserName, &i.user_name);
        put_wstr(&mut $out.wszLogonDomain, &i.logon_domain);
        put_wstr(&mut $out.wszRemoteComputer, &i.remote_computer);
        $out.guid = guid(c);
        $out.rasQuarState = i.quarantine_state as u32;
        $out.probationTime = filetime(i.probation_time);
        put_counters!($out, stats32(c));
        $out.dwNumSwitchOvers = i.switch_overs;
        put_addr(&mut $out.wszRemoteEndpointAddress, i.remote_endpoint);
        put_addr(&mut $out.wszLocalEndpointAddress, i.local_endpoint);
        $out.hConnection = c.handle.get() as HANDLE;
        $out.hInterface = i.interface_handle as HANDLE;
    }};
}

/// RAS_CONNECTION_EX for `c` as of `now`.
pub fn connection_ex(c: &Connection, now: SystemTime) -> RasConnectionEx {
    let mut out = RasConnectionEx::zeroed();
    connection_ex_into(&mut out, c, now);
    out
}

/// [`connection_ex`] written into a zeroed structure in place (the hot
/// path of a full listing: no 1.6 KB temporary per entry).
pub fn connection_ex_into(out: &mut RasConnectionEx, c: &Connection, now: SystemTime) {
    out.Header = MprapiObjectHeader {
        revision: REVISION_1,
        r#type: TYPE_RAS_CONNECTION,
        size: RAS_CONNECTION_EX_SIZE as u16,
    };
    fill_common!(out, c, now);
    let s = stats32(c);
    out.dwBytesXmited = s.dwBytesXmited;
    out.dwBytesRcved = s.dwBytesRcved;
    out.ProjectionInfo.projectionInfoType = c.info.projection.info_type();
    match &c.info.projection {
        Projection::Ppp(ppp) => {
            let mut p = PppProjectionInfo::zeroed();
            fill_ppp!(p, ppp);
            out.ProjectionInfo.u.PppProjectionInfo = p;
        }
        Projection::Ikev2(ike) => {
            let mut p = Ikev2ProjectionInfo::zeroed();
            fill_ikev2!(p, ike);
            out.ProjectionInfo.u.Ikev2ProjectionInfo = p;
        }
    }
}

/// RAS_CONNECTION_4 (64-bit counters, start time, device type).
pub fn connection_4(c: &Connection, now: SystemTime) -> RasConnection4 {
    let mut out = RasConnection4::zeroed();
    fill_common!(out, c, now);
    out.connectionStartTime = filetime(Some(c.info.started_at));
    out.ullBytesXmited = c.info.stats.bytes_xmited;
    out.ullBytesRcved = c.info.stats.bytes_rcved;
    out.dwDeviceType = c.info.device_type;
    out.ProjectionInfo.projectionInfoType = c.info.projection.info_type();
    match &c.info.projection {
        Projection::Ppp(ppp) => {
            let mut p = PppProjectionInfo2::zeroed();
            fill_ppp!(p, ppp);
            p.dwEmbeddedEAPTypeId = ppp.lcp.embedded_eap_type_id;
            out.ProjectionInfo.u.PppProjectionInfo = p;
        }
        Projection::Ikev2(ike) => {
            let mut p = Ikev2ProjectionInfo2::zeroed();
            fill_ikev2!(p, ike);
            p.dwEmbeddedEAPTypeId = ike.embedded_eap_type_id;
            out.ProjectionInfo.u.Ikev2ProjectionInfo = p;
        }
    }
    out
}

/// RAS_CONNECTION_0.
pub fn connection_0(c: &Connection, now: SystemTime) -> RasConnection0 {
    let mut out = RasConnection0::zeroed();
    let i = &c.info;
    out.hConnection = c.handle.get() as HANDLE;
    out.hInterface = i.interface_handle as HANDLE;
    out.dwConnectDuration = duration_secs(c, now);
    out.dwInterfaceType = i.interface_type as u32;
    out.dwConnectionFlags = i.flags;
    put_wstr(&mut out.wszInterfaceName, &i.interface_name);
    put_wstr(&mut out.wszUserName, &i.user_name);
    put_wstr(&mut out.wszLogonDomain, &i.logon_domain);
    put_wstr(&mut out.wszRemoteComputer, &i.remote_computer);
    out
}

fn ipcp2(c: &Connection) -> PppIpcpInfo2 {
    let v4 = c.info.projection.ipv4();
    let mut ip = PppIpcpInfo2 {
        dwError: v4.negotiation_error,
        wszAddress: [0; IPADDRESSLEN + 1],
        wszRemoteAddress: [0; IPADDRESSLEN + 1],
        dwOptions: v4.options,
        dwRemoteOptions: v4.remote_options,
    };
    put_addr(&mut ip.wszAddress, v4.address);
    put_addr(&mut ip.wszRemoteAddress, v4.remote_address);
    ip
}

fn lcp_ccp(c: &Connection) -> (PppLcpInfo, PppCcpInfo) {
    match &c.info.projection {
        Projection::Ppp(p) => (
            PppLcpInfo {
                dwError: p.lcp.error,
                dwAuthenticationProtocol: p.lcp.authentication_protocol,
                dwAuthenticationData: p.lcp.authentication_data,
                dwRemoteAuthenticationProtocol: p.lcp.remote_authentication_protocol,
                dwRemoteAuthenticationData: p.lcp.remote_authentication_data,
                dwTerminateReason: p.lcp.terminate_reason,
                dwRemoteTerminateReason: p.lcp.remote_terminate_reason,
                dwOptions: p.lcp.options,
                dwRemoteOptions: p.lcp.remote_options,
                dwEapTypeId: p.lcp.eap_type_id,
                dwRemoteEapTypeId: p.lcp.remote_eap_type_id,
            },
            PppCcpInfo {
                dwError: p.ccp.error,
                dwCompressionAlgorithm: p.ccp.compression_algorithm,
                dwOptions: p.ccp.options,
                dwRemoteCompressionAlgorithm: p.ccp.remote_compression_algorithm,
                dwRemoteOptions: p.ccp.remote_options,
            },
        ),
        Projection::Ikev2(_) => Default::default(),
    }
}

/// RAS_CONNECTION_1 (PPP_INFO + statistics).
pub fn connection_1(c: &Connection) -> RasConnection1 {
    let mut out = RasConnection1::zeroed();
    out.hConnection = c.handle.get() as HANDLE;
    out.hInterface = c.info.interface_handle as HANDLE;
    let ip = ipcp2(c);
    out.PppInfo.ip.dwError = ip.dwError;
    out.PppInfo.ip.wszAddress = ip.wszAddress;
    out.PppInfo.ip.wszRemoteAddress = ip.wszRemoteAddress;
    let s = stats32(c);
    out.dwBytesXmited = s.dwBytesXmited;
    out.dwBytesRcved = s.dwBytesRcved;
    put_counters!(out, s);
    out
}

/// RAS_PORT_0: the connection's one virtual port (`rras_core::port`).
pub fn port_0(c: &Connection, now: SystemTime) -> RasPort0 {
    let p = rras_core::port::port0(c, now);
    let mut out = RasPort0::zeroed();
    out.hPort = p.port as HANDLE;
    out.hConnection = p.connection as HANDLE;
    out.dwPortCondition = p.condition;
    out.dwTotalNumberOfCalls = p.total_calls;
    out.dwConnectDuration = p.connect_duration;
    put_wstr(&mut out.wszPortName, &p.port_name);
    put_wstr(&mut out.wszMediaName, &p.media_name);
    put_wstr(&mut out.wszDeviceName, &p.device_name);
    put_wstr(&mut out.wszDeviceType, &p.device_type);
    out
}

/// RAS_PORT_1: the port's hardware state and the connection's counters.
pub fn port_1(c: &Connection) -> RasPort1 {
    let s = stats32(c);
    let mut out = RasPort1::zeroed();
    out.hPort = c.handle.get() as HANDLE;
    out.hConnection = c.handle.get() as HANDLE;
    out.dwHardwareCondition = rras_core::port::RAS_HARDWARE_OPERATIONAL;
    // A tunnel has no line speed to report.
    out.dwLineSpeed = 0;
    out.dwBytesXmited = s.dwBytesXmited;
    out.dwBytesRcved = s.dwBytesRcved;
    put_counters!(out, s);
    out
}

/// RAS_CONNECTION_2 (PPP_INFO_2 with LCP/CCP).
pub fn connection_2(c: &Connection) -> RasConnection2 {
    let mut out = RasConnection2::zeroed();
    out.hConnection = c.handle.get() as HANDLE;
    put_wstr(&mut out.wszUserName, &c.info.user_name);
    out.dwInterfaceType = c.info.interface_type as u32;
    out.guid = guid(c);
    out.PppInfo2.ip = ipcp2(c);
    (out.PppInfo2.lcp, out.PppInfo2.ccp) = lcp_ccp(c);
    out
}

/// RAS_CONNECTION_3 (PPP_INFO_3 with IPV6CP, quarantine state and timer).
pub fn connection_3(c: &Connection) -> RasConnection3 {
    let mut out = RasConnection3::zeroed();
    out.dwVersion = 3;
    out.dwSize = std::mem::size_of::<RasConnection3>() as u32;
    out.hConnection = c.handle.get() as HANDLE;
    put_wstr(&mut out.wszUserName, &c.info.user_name);
    out.dwInterfaceType = c.info.interface_type as u32;
    out.guid = guid(c);
    out.PppInfo3.ip = ipcp2(c);
    let v6 = c.info.projection.ipv6();
    out.PppInfo3.ipv6 = PppIpv6CpInfo {
        dwVersion: 1,
        dwSize: std::mem::size_of::<PppIpv6CpInfo>() as u32,
        dwError: v6.negotiation_error,
        bInterfaceIdentifier: v6.interface_identifier,
        bRemoteInterfaceIdentifier: v6.remote_interface_identifier,
        dwOptions: 0,
        dwRemoteOptions: 0,
        bPrefix: v6.prefix,
        dwPrefixLength: v6.prefix_length,
    };
    (out.PppInfo3.lcp, out.PppInfo3.ccp) = lcp_ccp(c);
    out.rasQuarState = c.info.quarantine_state as u32;
    out.timer = filetime(c.info.probation_time);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::synthetic;

    #[test]
    fn wide_strings_truncate_and_terminate() {
        // Structures start zeroed; put_wstr writes the text and its NUL.
        let mut buf = [0u16; 6];
        put_wstr(&mut buf, "abc");
        assert_eq!(buf, [97, 98, 99, 0, 0, 0]);
        put_wstr(&mut buf, "abcdefgh");
        assert_eq!(buf, [97, 98, 99, 100, 101, 0]);
        // A shorter text over a longer one is terminated where it ends.
        put_wstr(&mut buf, "xy");
        assert_eq!(buf[..3], [120, 121, 0]);
        // Non-ASCII goes through UTF-16.
        put_wstr(&mut buf, "é€");
        assert_eq!(buf[..3], [0xE9, 0x20AC, 0]);
        // "abcd" + U+1F600 (a surrogate pair) does not fit: the pair is dropped whole.
        put_wstr(&mut buf, "abcd\u{1F600}");
        assert_eq!(buf, [97, 98, 99, 100, 0, 0]);
        let mut empty: [u16; 0] = [];
        put_wstr(&mut empty, "x");
    }

    #[test]
    fn filetime_of_unix_epoch() {
        let ft = filetime(Some(UNIX_EPOCH));
        let ticks = u64::from(ft.dwHighDateTime) << 32 | u64::from(ft.dwLowDateTime);
        assert_eq!(ticks, 116_444_736_000_000_000);
        assert_eq!(filetime(None), Filetime::default());
    }

    #[test]
    fn ex_fields_and_union() {
        let now = SystemTime::now();
        let info = synthetic::connection(1, now); // IKEv2
        let c = Connection {
            handle: rras_core::ConnectionHandle::new(77).unwrap(),
            info,
        };
        let ex = connection_ex(&c, now);
        assert_eq!((ex.Header.revision, ex.Header.r#type, ex.Header.size), (1, 1, 1672));
        assert_eq!(ex.hConnection, 77);
        assert_eq!(ex.ProjectionInfo.projectionInfoType, 2);
        assert_eq!(ex.dwBytesXmited, c.info.stats.bytes_xmited as u32);
        // SAFETY: projectionInfoType 2 says the IKEv2 member was written.
        let ike = unsafe { ex.ProjectionInfo.u.Ikev2ProjectionInfo };
        let addr = String::from_utf16_lossy(&ike.wszRemoteAddress);
        assert!(addr.starts_with(&c.info.projection.ipv4().remote_address.unwrap().to_string()));
        let four = connection_4(&c, now);
        assert_eq!(four.ullBytesXmited, c.info.stats.bytes_xmited);
    }
}
