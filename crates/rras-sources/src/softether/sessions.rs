//! What SoftEther's JSON-RPC calls return, typed, and how one session
//! becomes a connection. SoftEther names each JSON field with its type
//! (`Name_str`, `CreatedTime_dt`, `TotalRecvSize_u64`); fields this code
//! does not need are ignored, and a missing one takes its default, so a
//! newer server that adds or drops fields still parses.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::model::device_type;
use rras_core::{ConnectionInfo, SourceId};
use serde::Deserialize;

/// `EnumHub`'s result.
#[derive(Debug, Default, Deserialize)]
pub struct HubList {
    /// The server's virtual hubs.
    #[serde(rename = "HubList", default)]
    pub hubs: Vec<Hub>,
}

/// One virtual hub.
#[derive(Debug, Default, Deserialize)]
pub struct Hub {
    /// Its name.
    #[serde(rename = "HubName_str", default)]
    pub name: String,
    /// False for a hub switched off (it has no sessions).
    #[serde(rename = "Online_bool", default)]
    pub online: bool,
}

/// `EnumSession`'s result.
#[derive(Debug, Default, Deserialize)]
pub struct SessionList {
    /// The hub's sessions.
    #[serde(rename = "SessionList", default)]
    pub sessions: Vec<SessionEntry>,
}

/// One session as `EnumSession` lists it.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SessionEntry {
    /// The session's name, e.g. `SID-ALICE-[OPENVPN_L3]-2`: what
    /// `GetSessionStatus` and `DeleteSession` take.
    #[serde(rename = "Name_str", default)]
    pub name: String,
    /// The user.
    #[serde(rename = "Username_str", default)]
    pub user: String,
    /// The client's address.
    #[serde(rename = "ClientIP_ip", default)]
    pub client_ip: String,
    /// The client's host name as it told.
    #[serde(rename = "Hostname_str", default)]
    pub hostname: String,
    /// When the session began (UTC).
    #[serde(rename = "CreatedTime_dt", default)]
    pub created: String,
    /// SoftEther's own NAT: a pseudo-session, not a user.
    #[serde(rename = "SecureNATMode_bool", default)]
    pub secure_nat: bool,
    /// A local bridge: not a user either.
    #[serde(rename = "BridgeMode_bool", default)]
    pub bridge: bool,
    /// A cascade link between hubs: not a user either.
    #[serde(rename = "LinkMode_bool", default)]
    pub link: bool,
}

impl SessionEntry {
    /// True for sessions that are a user's connection.
    pub fn is_user(&self) -> bool {
        !(self.secure_nat || self.bridge || self.link || self.name.is_empty())
    }
}

/// `GetSessionStatus`'s result (the part used).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SessionStatus {
    /// Bytes the server received from the client.
    #[serde(rename = "TotalRecvSize_u64", default)]
    pub received: u64,
    /// Bytes the server sent to the client.
    #[serde(rename = "TotalSendSize_u64", default)]
    pub sent: u64,
    /// e.g. "Legacy VPN - OPENVPN_L3", "Legacy VPN - SSTP".
    #[serde(rename = "UnderlayProtocol_str", default)]
    pub protocol: String,
    /// The data channel's cipher.
    #[serde(rename = "CipherName_str", default)]
    pub cipher: String,
    /// The client program, as it said.
    #[serde(rename = "ClientProductName_str", default)]
    pub client_product: String,
}

/// `EnumIpTable`'s result.
#[derive(Debug, Default, Deserialize)]
pub struct IpTable {
    /// Addresses seen in the hub, by session.
    #[serde(rename = "IpTable", default)]
    pub entries: Vec<IpEntry>,
}

/// One address the hub saw a session use.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct IpEntry {
    /// The session it belongs to.
    #[serde(rename = "SessionName_str", default)]
    pub session: String,
    /// The address.
    #[serde(rename = "IpAddress_ip", default)]
    pub address: String,
    /// True when SoftEther's DHCP gave it: the tunnel address proper.
    #[serde(rename = "DhcpAllocated_bool", default)]
    pub dhcp: bool,
}

/// The row key's session id: the session's name and its creation time in
/// milliseconds (names restart from 1 when SoftEther restarts, so a name
/// alone could come back as somebody else).
pub fn session_id(entry: &SessionEntry) -> String {
    let ms = parse_time(&entry.created)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    format!("{}@{ms}", entry.name)
}

/// The session name inside a row key's session id.
pub fn session_name(session_id: &str) -> Option<&str> {
    session_id
        .rsplit_once('@')
        .map(|(name, _)| name)
        .filter(|n| !n.is_empty())
}

/// A SoftEther time (`2026-12-06T22:33:52.471Z`). Its "never" reads as
/// 1970-01-01T09:00 (the epoch in Japan's time zone): anything before a
/// day after the epoch is no time at all.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let t = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?;
    (t > UNIX_EPOCH + Duration::from_secs(86_400)).then_some(t)
}

/// RAS's device type for SoftEther's protocol name: SSTP and L2TP are
/// their own types; OpenVPN, EtherIP and SoftEther's own protocol are
/// RDT_Other.
pub fn device_type_of(protocol: &str, session_name: &str) -> u32 {
    let p = format!("{protocol} {session_name}").to_ascii_uppercase();
    if p.contains("SSTP") {
        device_type::SSTP
    } else if p.contains("L2TP") {
        device_type::L2TP
    } else {
        device_type::OTHER
    }
}

/// What the table holds for one session of `hub`.
pub fn session_info(
    id: &SourceId,
    hub: &str,
    entry: &SessionEntry,
    status: &SessionStatus,
    addresses: &[&IpEntry],
    now: SystemTime,
) -> ConnectionInfo {
    let key = id.key(hub, session_id(entry));
    let mut info = ConnectionInfo::new(key, "", parse_time(&entry.created).unwrap_or(now));
    info.set_account(&entry.user);
    info.interface_name = hub.to_owned();
    info.remote_computer = entry.hostname.clone();
    info.remote_endpoint = entry.client_ip.parse().ok().filter(|a: &IpAddr| !a.is_unspecified());
    info.stats.bytes_rcved = status.received;
    info.stats.bytes_xmited = status.sent;
    // The DHCP lease first, then any other address the hub saw.
    let mut sorted: Vec<&&IpEntry> = addresses.iter().collect();
    sorted.sort_by_key(|e| !e.dhcp);
    for e in sorted {
        match e.address.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) if info.projection.ipv4().remote_address.is_none() && !v4.is_unspecified() => {
                info.projection.ipv4_mut().remote_address = Some(v4);
            }
            Ok(IpAddr::V6(v6)) if !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80 => {
                info.projection.ipv6_mut().set_remote_address(v6);
            }
            _ => {}
        }
    }
    info.guid = rras_source::stable_guid(&info.source);
    info.device_type = device_type_of(&status.protocol, &entry.name);
    let mut attributes = vec![
        ("Protocol".to_owned(), status.protocol.clone()),
        ("Cipher".to_owned(), status.cipher.clone()),
        ("Client".to_owned(), status.client_product.clone()),
        ("Hub".to_owned(), hub.to_owned()),
    ];
    attributes.retain(|(_, v)| !v.is_empty());
    info.engine_attributes = attributes;
    info
}

/// `EnumSession` as the lab's SoftEther 5.01.9674 answered it,
/// trimmed to the fields read plus a few that are not: the tests' and the
/// fuzzer's seeds.
pub const SAMPLE_SESSIONS: &str = r#"{"SessionList":[
  {"BridgeMode_bool":false,"ClientIP_ip":"0.0.0.0","CreatedTime_dt":"2026-12-06T22:33:49.022Z","Hostname_str":"","LinkMode_bool":false,
   "Name_str":"SID-SECURENAT-1","SecureNATMode_bool":true,"Username_str":"SecureNAT","PacketSize_u64":1456},
  {"BridgeMode_bool":false,"ClientIP_ip":"10.200.6.2","CreatedTime_dt":"2026-12-06T22:33:52.471Z","Hostname_str":"10.200.6.2","LinkMode_bool":false,
   "Name_str":"SID-ALICE-[OPENVPN_L3]-2","SecureNATMode_bool":false,"Username_str":"alice","VLanId_u32":0}],"HubName_str":"DEFAULT"}"#;
/// `GetSessionStatus` of the lab's OpenVPN session (trimmed).
pub const SAMPLE_STATUS: &str = r#"{"TotalRecvSize_u64":928,"TotalSendSize_u64":650,"UnderlayProtocol_str":"Legacy VPN - OPENVPN_L3",
  "CipherName_str":"aes-128-cbc","ClientProductName_str":"OpenVPN Client","policy:MaxConnection_u32":32}"#;
/// `EnumIpTable` of the lab's hub, with a link-local address added.
pub const SAMPLE_IPS: &str = r#"{"IpTable":[
  {"DhcpAllocated_bool":false,"IpAddress_ip":"192.168.30.1","SessionName_str":"SID-SECURENAT-1"},
  {"DhcpAllocated_bool":false,"IpAddress_ip":"fe80::1","SessionName_str":"SID-ALICE-[OPENVPN_L3]-2"},
  {"DhcpAllocated_bool":true,"IpAddress_ip":"192.168.30.10","SessionName_str":"SID-ALICE-[OPENVPN_L3]-2"}],"HubName_str":"DEFAULT"}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::EngineKind;

    #[test]
    fn a_lab_session_becomes_a_connection_and_the_nat_does_not() {
        let list: SessionList = serde_json::from_str(SAMPLE_SESSIONS).unwrap();
        let users: Vec<&SessionEntry> = list.sessions.iter().filter(|s| s.is_user()).collect();
        assert_eq!(users.len(), 1, "SecureNAT is not a user");
        let status: SessionStatus = serde_json::from_str(SAMPLE_STATUS).unwrap();
        let ips: IpTable = serde_json::from_str(SAMPLE_IPS).unwrap();
        let mine: Vec<&IpEntry> = ips.entries.iter().filter(|e| e.session == users[0].name).collect();
        let id = SourceId::default_of(EngineKind::Softether);
        let info = session_info(&id, "DEFAULT", users[0], &status, &mine, SystemTime::now());
        assert_eq!(info.user_name, "alice");
        assert_eq!(info.source.nas, "DEFAULT");
        assert_eq!(info.source.session_id, "SID-ALICE-[OPENVPN_L3]-2@1796596432471");
        assert_eq!(session_name(&info.source.session_id), Some("SID-ALICE-[OPENVPN_L3]-2"));
        assert_eq!(info.remote_endpoint, Some("10.200.6.2".parse().unwrap()));
        assert_eq!(
            info.projection.ipv4().remote_address,
            Some("192.168.30.10".parse().unwrap())
        );
        assert_eq!((info.stats.bytes_rcved, info.stats.bytes_xmited), (928, 650));
        assert_eq!(info.device_type, device_type::OTHER);
        assert_eq!(info.started_at, UNIX_EPOCH + Duration::from_millis(1_796_596_432_471));
        assert!(info
            .engine_attributes
            .contains(&("Protocol".into(), "Legacy VPN - OPENVPN_L3".into())));
    }

    #[test]
    fn protocols_map_to_ras_device_types() {
        assert_eq!(
            device_type_of("Legacy VPN - SSTP", "SID-BOB-[SSTP]-3"),
            device_type::SSTP
        );
        assert_eq!(device_type_of("", "SID-BOB-[L2TP]-4"), device_type::L2TP);
        assert_eq!(device_type_of("Legacy VPN - OPENVPN_L3", ""), device_type::OTHER);
        assert_eq!(
            device_type_of("Standard TCP/IP (IPv4)", "SID-CAROL-5"),
            device_type::OTHER
        );
    }

    #[test]
    fn the_japanese_epoch_and_junk_are_no_time() {
        assert_eq!(parse_time("1970-01-01T09:00:00.000Z"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
        assert!(parse_time("2026-12-06T22:33:52.471Z").is_some());
        assert_eq!(session_name("@5"), None);
        assert_eq!(session_name("SID-A@CORP-1@5"), Some("SID-A@CORP-1"));
    }

    #[test]
    fn hostile_replies_parse_to_defaults_or_fail_cleanly() {
        // Wrong types are an error (the poll reports it), never a panic.
        assert!(serde_json::from_str::<SessionList>(r#"{"SessionList":[{"Name_str":5}]}"#).is_err());
        // Missing fields take defaults; an empty name is not a user.
        let list: SessionList = serde_json::from_str(r#"{"SessionList":[{}]}"#).unwrap();
        assert!(!list.sessions[0].is_user());
        let entry = SessionEntry {
            name: "x".into(),
            client_ip: "not an address".into(),
            created: "garbage".into(),
            ..Default::default()
        };
        let now = SystemTime::now();
        let info = session_info(
            &SourceId::default_of(EngineKind::Softether),
            "H",
            &entry,
            &SessionStatus::default(),
            &[],
            now,
        );
        assert_eq!((info.remote_endpoint, info.started_at), (None, now));
        assert_eq!(info.source.session_id, "x@0");
    }
}
