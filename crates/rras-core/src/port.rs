//! Ports: the `RAS_PORT_0` / `RAS_PORT_1` view of a connection.
//!
//! Linux VPN engines have no pool of WAN-miniport ports, so every live
//! connection is one virtual port (docs/decisions.md): `hPort` =
//! `hConnection` = the connection's handle, the port authenticated while the
//! session lives. Port enumeration therefore pages over the connection
//! table itself and inherits its exactly-once rules.

use std::time::SystemTime;

use crate::model::{device_type, Connection, ConnectionStats};

/// `wszPortName` holds 16 UTF-16 units plus the terminator.
pub const PORT_NAME_UNITS: usize = 16;
/// `wszMediaName` and `wszDeviceType` hold 16 units plus the terminator.
pub const SHORT_NAME_UNITS: usize = 16;
/// `wszDeviceName` holds 128 units plus the terminator.
pub const DEVICE_NAME_UNITS: usize = 128;

/// `RAS_PORT_CONDITION`: a live session's port is authenticated.
pub const RAS_PORT_AUTHENTICATED: u32 = 5;
/// `RAS_HARDWARE_CONDITION`: operational.
pub const RAS_HARDWARE_OPERATIONAL: u32 = 0;

/// `RAS_PORT_0`, as strings and numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port0 {
    /// hPort (= the connection's handle).
    pub port: u32,
    /// hConnection.
    pub connection: u32,
    /// dwPortCondition.
    pub condition: u32,
    /// dwTotalNumberOfCalls (one session per virtual port).
    pub total_calls: u32,
    /// dwConnectDuration, seconds.
    pub connect_duration: u32,
    /// wszPortName (≤ 16 UTF-16 units, never cut).
    pub port_name: String,
    /// wszMediaName: the engine.
    pub media_name: String,
    /// wszDeviceName: engine and instance.
    pub device_name: String,
    /// wszDeviceType: `vpn`, `pppoe`.
    pub device_type: String,
}

fn fits(s: &str, units: usize) -> bool {
    s.encode_utf16().count() <= units
}

/// The longest prefix of `s` with at most `units` UTF-16 units, cut only
/// between characters.
pub fn clip_utf16(s: &str, units: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > units {
            return &s[..i];
        }
    }
    s
}

/// The port name: the engine's device (`ppp5`, `wg0`, `tun0`, `vpns3`) when
/// it fits in 16 units, else a Windows-style `VPN<n>-<handle>` by tunnel
/// type (PPTP 1, L2TP 2, SSTP 3, IKEv2 4, other 0) or `PPPoE-<handle>`.
pub fn port_name(c: &Connection) -> String {
    let iface = &c.info.interface_name;
    if !iface.is_empty() && fits(iface, PORT_NAME_UNITS) {
        return iface.clone();
    }
    let h = c.handle.get();
    match c.info.device_type {
        device_type::PPPOE => format!("PPPoE-{h}"),
        device_type::PPTP => format!("VPN1-{h}"),
        device_type::L2TP => format!("VPN2-{h}"),
        device_type::SSTP => format!("VPN3-{h}"),
        device_type::IKEV2 => format!("VPN4-{h}"),
        _ => format!("VPN0-{h}"),
    }
}

/// The `RAS_PORT_0` of connection `c` as of `now`.
pub fn port0(c: &Connection, now: SystemTime) -> Port0 {
    let engine = c.info.source.engine.as_str();
    let device = format!("{engine} {}", c.info.source.instance_name());
    Port0 {
        port: c.handle.get(),
        connection: c.handle.get(),
        condition: RAS_PORT_AUTHENTICATED,
        total_calls: 1,
        connect_duration: u32::try_from(c.info.connect_duration(now).as_secs()).unwrap_or(u32::MAX),
        port_name: port_name(c),
        media_name: clip_utf16(engine, SHORT_NAME_UNITS).to_owned(),
        device_name: clip_utf16(&device, DEVICE_NAME_UNITS).to_owned(),
        device_type: if c.info.device_type == device_type::PPPOE {
            "pppoe".into()
        } else {
            "vpn".into()
        },
    }
}

/// A port at both levels: `RAS_PORT_0` and the `RAS_PORT_1` facts (what
/// the admin RPC and `rasctl ports` carry; the C library fills each level
/// from the same functions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The `RAS_PORT_0` part.
    pub level0: Port0,
    /// dwHardwareCondition.
    pub hardware_condition: u32,
    /// dwLineSpeed, bits per second; a tunnel has none to report (0).
    pub line_speed: u32,
    /// The counters (64-bit; `RAS_PORT_1` shows the low 32 bits of bytes).
    pub stats: ConnectionStats,
}

/// The port of connection `c` as of `now`, both levels.
pub fn port(c: &Connection, now: SystemTime) -> Port {
    Port {
        level0: port0(c, now),
        hardware_condition: RAS_HARDWARE_OPERATIONAL,
        line_speed: 0,
        stats: c.info.stats,
    }
}

/// The VPN type a Windows tool derives from `dwDeviceType`, in the words
/// the CLI and JSON use: `pptp`, `l2tp`, `sstp`, `ikev2`, `pppoe`, `other`.
pub fn vpn_type_name(device: u32) -> &'static str {
    match device {
        device_type::PPTP => "pptp",
        device_type::L2TP => "l2tp",
        device_type::SSTP => "sstp",
        device_type::IKEV2 => "ikev2",
        device_type::PPPOE => "pppoe",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectionHandle, ConnectionInfo, EngineKind, SourceKey};
    use std::time::Duration;

    fn conn(iface: &str, device: u32) -> Connection {
        let mut info = ConnectionInfo::new(
            SourceKey::new(EngineKind::Radius, "nas", "s1"),
            "u",
            SystemTime::UNIX_EPOCH,
        );
        info.interface_name = iface.into();
        info.device_type = device;
        Connection {
            handle: ConnectionHandle::new(17).unwrap(),
            info,
        }
    }

    #[test]
    fn names_fit_the_windows_fields() {
        assert_eq!(port_name(&conn("ppp5", device_type::L2TP)), "ppp5");
        assert_eq!(port_name(&conn("", device_type::L2TP)), "VPN2-17");
        assert_eq!(port_name(&conn("", device_type::PPPOE)), "PPPoE-17");
        assert_eq!(
            port_name(&conn("an-interface-name-too-long", device_type::IKEV2)),
            "VPN4-17"
        );
        // 16 units exactly fits; a character that needs two units is never cut.
        assert_eq!(port_name(&conn("abcdefghijklmnop", 0)), "abcdefghijklmnop");
        assert_eq!(clip_utf16("abcdefghijklmno😀", 16), "abcdefghijklmno");
        let p = port0(
            &conn("wg0", device_type::OTHER),
            SystemTime::UNIX_EPOCH + Duration::from_secs(90),
        );
        assert_eq!((p.port, p.connection, p.condition, p.connect_duration), (17, 17, 5, 90));
        assert_eq!(
            (p.media_name.as_str(), p.device_name.as_str(), p.device_type.as_str()),
            ("radius", "radius radius", "vpn")
        );
    }

    #[test]
    fn both_levels_and_vpn_type_words() {
        let mut c = conn("", device_type::PPTP);
        c.info.stats.bytes_rcved = 5_000_000_000;
        let p = port(&c, SystemTime::UNIX_EPOCH + Duration::from_secs(3));
        assert_eq!(p.level0.port_name, "VPN1-17");
        assert_eq!(p.stats.bytes_rcved, 5_000_000_000);
        assert_eq!((p.hardware_condition, p.line_speed), (RAS_HARDWARE_OPERATIONAL, 0));
        assert_eq!(vpn_type_name(device_type::L2TP), "l2tp");
        assert_eq!(vpn_type_name(device_type::IKEV2), "ikev2");
        assert_eq!(vpn_type_name(device_type::OTHER), "other");
        assert_eq!(vpn_type_name(99), "other");
    }
}
