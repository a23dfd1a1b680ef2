//! The fuzz targets: one per codec that reads untrusted bytes. Each takes
//! an input through the decoder *and* on into what the daemon does with a
//! decoded value (building a connection, encoding its record), because a
//! hostile number that parses fine can still overflow later.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use rras_core::SourceId;
use rras_core::{synthetic, Connection, ConnectionHandle, ConnectionInfo, EngineKind, Record, RecordError};
use rras_proto::pb;
use rras_source::control::ControlError;
use rras_source::SourceEvent;
use rras_sources::radius::accounting::{interpret, merge_update, nas_claim, AccountingEvent};
use rras_sources::radius::attributes::*;
use rras_sources::radius::packet::{
    message_authenticator_ok, request_authenticator_ok, response_authenticator_ok, Packet, PacketView,
    ACCOUNTING_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK, STATUS_SERVER,
};
use rras_sources::radius::radsec::next_frame;
use rras_sources::radius::scope::NasClaim;
use rras_sources::radius::{RadiusClient, RadiusConfig};
use rras_sources::softether;
use rras_sources::{ocserv, openvpn, strongswan, wireguard};

/// One fuzz target.
#[derive(Debug)]
pub struct Target {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it feeds.
    pub about: &'static str,
    /// Real inputs to mutate.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Feeds one input; true when the decoder accepted it.
    pub feed: fn(&[u8]) -> bool,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "wireguard-uapi",
        about: "WireGuard UAPI get=1 reply → peers → connections → records",
        seeds: uapi_seeds,
        feed: uapi_feed,
    },
    Target {
        name: "openvpn-status",
        about: "OpenVPN management `status 3` → clients → connections → records",
        seeds: openvpn_seeds,
        feed: openvpn_feed,
    },
    Target {
        name: "softether-http",
        about: "SoftEther's HTTPS replies: HTTP/1.1 head, length or chunks → JSON-RPC result or error",
        seeds: softether_http_seeds,
        feed: softether_http_feed,
    },
    Target {
        name: "softether-sessions",
        about: "SoftEther EnumSession / GetSessionStatus / EnumIpTable JSON → connections → records",
        seeds: softether_session_seeds,
        feed: softether_session_feed,
    },
    Target {
        name: "ocserv-users",
        about: "occtl --json show users → sessions → connections → records",
        seeds: ocserv_seeds,
        feed: ocserv_feed,
    },
    Target {
        name: "wireguard-netlink",
        about: "kernel WireGuard WG_CMD_GET_DEVICE dump (generic netlink) → device → connections → records",
        seeds: netlink_seeds,
        feed: netlink_feed,
    },
    Target {
        name: "vici",
        about: "strongSwan VICI packet → list-sa / list-conn → IKE SAs → connections → records",
        seeds: vici_seeds,
        feed: vici_feed,
    },
    Target {
        name: "radius",
        about: "RADIUS datagram → packet → authenticator → accounting event → record",
        seeds: radius_seeds,
        feed: radius_feed,
    },
    Target {
        name: "radius-dynauth",
        about: "RFC 5176 Disconnect/CoA answer → packet → Response Authenticator → Message-Authenticator → Error-Cause",
        seeds: dynauth_seeds,
        feed: dynauth_feed,
    },
    Target {
        name: "radsec-stream",
        about: "RADIUS/TLS byte stream → frames by Length → packets → authenticators (RFC 6614/6613)",
        seeds: radsec_seeds,
        feed: radsec_feed,
    },
    Target {
        name: "record",
        about: "stored/streamed connection record and record frames",
        seeds: record_seeds,
        feed: record_feed,
    },
    Target {
        name: "commit-log",
        about: "store commit-log segment (after a crash) → frames → bodies → stored operations",
        seeds: commit_log_seeds,
        feed: commit_log_feed,
    },
    Target {
        name: "history-block",
        about: "a stored history block (a damaged file) → streams → inflated entries → ended sessions → records",
        seeds: history_block_seeds,
        feed: history_block_feed,
    },
    Target {
        name: "usage-column",
        about: "a stored block's usage column (a damaged file) → sessions → a month's usage report",
        seeds: usage_column_seeds,
        feed: usage_column_feed,
    },
    Target {
        name: "report",
        about: "hook Report batch (protobuf) → manager events → records",
        seeds: report_seeds,
        feed: report_feed,
    },
    Target {
        name: "history-request",
        about: "HistoryEnum's filters (protobuf) → a history query, matched against a session",
        seeds: history_request_seeds,
        feed: history_request_feed,
    },
    Target {
        name: "fleet-history",
        about: "a fleet history request (JSON, from NATS) → a history query; a node's reply (JSON) → rows",
        seeds: fleet_history_seeds,
        feed: fleet_history_feed,
    },
    Target {
        name: "fleet-usage",
        about: "a fleet usage request (JSON, from NATS) → a period; a node's usage reply (JSON) → a report, added up",
        seeds: fleet_usage_seeds,
        feed: fleet_usage_feed,
    },
];

/// A fixed "now" so runs repeat exactly.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_634_200)
}

/// What the daemon does with every decoded connection: encode its record,
/// and read it back.
fn round_trip(info: &ConnectionInfo) {
    let handle = ConnectionHandle::new(1).unwrap_or(ConnectionHandle::MIN);
    let record = Record::encode_info(handle, info);
    let back: Result<Connection, RecordError> = Record::from_bytes(record.as_bytes()).map(|r| r.decode());
    // A record we wrote must read back; anything else is a codec bug.
    assert!(back.is_ok(), "own record does not decode: {back:?}");
}

const UAPI_SAMPLE: &str = "private_key=a8ed5b6bd3bc8c1f3cba84bd44c7e1bcd0cd4d4a5c78ef6ba92bbf5b0a19cd47
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
endpoint=[2001:db8::1]:51820
last_handshake_time_sec=1795634190
last_handshake_time_nsec=0
tx_bytes=0
rx_bytes=0
errno=0

";

fn uapi_seeds() -> Vec<Vec<u8>> {
    vec![UAPI_SAMPLE.as_bytes().to_vec(), b"errno=0\n\n".to_vec()]
}

fn uapi_feed(input: &[u8]) -> bool {
    let text = String::from_utf8_lossy(input);
    let Ok(device) = wireguard::uapi::parse_get(&text) else {
        return false;
    };
    let names = HashMap::from([("wg-fuzz".to_owned(), "fuzz".to_owned())]);
    let devices = [("wg0".to_owned(), device)];
    let mut last_rx = HashMap::new();
    let id = SourceId::default_of(EngineKind::Wireguard);
    for _ in 0..2 {
        let peers = wireguard::active_peers(&id, &devices, &names, Duration::from_secs(180), now(), &mut last_rx);
        for info in &peers {
            round_trip(info);
        }
    }
    true
}

const OPENVPN_SAMPLE: &str = "TITLE\tOpenVPN 2.6.14\nTIME\t2026-11-25 19:33:34\t1795635214\n\
HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\n\
CLIENT_LIST\tlab-user1\t10.200.2.2:48886\t10.200.12.2\t\t2340\t2311\t2026-11-25 19:33:33\t1795635213\tuser1\t0\t0\tAES-256-GCM\n\
CLIENT_LIST\tcert-only\t[2001:db8::9]:1194\t\tfd00::5\t1\t2\tx\t1795635000\tUNDEF\t7\t1\tCHACHA20-POLY1305\n\
HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)\n\
ROUTING_TABLE\t10.200.12.2\tlab-user1\t10.200.2.2:48886\t2026-11-25 19:33:33\t1795635213\n\
GLOBAL_STATS\tMax bcast/mcast queue length\t0\nEND\n";

fn openvpn_seeds() -> Vec<Vec<u8>> {
    vec![OPENVPN_SAMPLE.as_bytes().to_vec()]
}

fn openvpn_feed(input: &[u8]) -> bool {
    let lines: Vec<String> = String::from_utf8_lossy(input).lines().map(str::to_owned).collect();
    let Ok(clients) = openvpn::management::parse_status(&lines) else {
        return false;
    };
    for c in &clients {
        let id = SourceId::default_of(EngineKind::Openvpn);
        round_trip(&openvpn::client_info(&id, "/run/openvpn/fuzz.sock", "tun0", c, now()));
    }
    true
}

fn softether_http_seeds() -> Vec<Vec<u8>> {
    let body = format!(
        r#"{{"result":{},"jsonrpc":"2.0","id":"1"}}"#,
        softether::sessions::SAMPLE_STATUS
    );
    vec![
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: Keep-Alive\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
        .into_bytes(),
        {
            let error =
                r#"{"error":{"code":29,"message":"Error code 29: Object not found."},"jsonrpc":"2.0","id":"1"}"#;
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{error}", error.len()).into_bytes()
        },
    ]
}

thread_local! {
    /// Reading from a byte slice never waits: one runtime per thread drives it.
    static READER: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread().build().ok();
}

fn softether_http_feed(input: &[u8]) -> bool {
    READER.with(|rt| {
        let Some(rt) = rt else { return false };
        let mut reader = input;
        let Ok(response) = rt.block_on(softether::rpc::read_response(&mut reader, 1 << 20)) else {
            return false;
        };
        // A result, or a JSON-RPC error SoftEther named, is a reply understood.
        matches!(
            softether::rpc::decode_reply::<softether::sessions::SessionStatus>(&response.body),
            Ok(_) | Err(ControlError::Refused(_) | ControlError::Status(_))
        )
    })
}

fn softether_session_seeds() -> Vec<Vec<u8>> {
    use softether::sessions::{SAMPLE_IPS, SAMPLE_SESSIONS, SAMPLE_STATUS};
    // One input carries the three replies, one per line.
    let one_line = |s: &str| s.replace('\n', " ");
    vec![format!(
        "{}\n{}\n{}",
        one_line(SAMPLE_SESSIONS),
        one_line(SAMPLE_STATUS),
        one_line(SAMPLE_IPS)
    )
    .into_bytes()]
}

fn softether_session_feed(input: &[u8]) -> bool {
    use softether::sessions::{session_info, IpTable, SessionList, SessionStatus};
    let text = String::from_utf8_lossy(input);
    let mut parts = text.splitn(3, '\n');
    let (Some(list), Some(status), Some(ips)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(list), Ok(status), Ok(ips)) = (
        serde_json::from_str::<SessionList>(list),
        serde_json::from_str::<SessionStatus>(status),
        serde_json::from_str::<IpTable>(ips),
    ) else {
        return false;
    };
    let id = SourceId::default_of(EngineKind::Softether);
    for entry in list.sessions.iter().filter(|s| s.is_user()) {
        let addresses: Vec<_> = ips.entries.iter().filter(|e| e.session == entry.name).collect();
        round_trip(&session_info(&id, "DEFAULT", entry, &status, &addresses, now()));
    }
    true
}

fn ocserv_seeds() -> Vec<Vec<u8>> {
    vec![ocserv::occtl::SHOW_USERS_SAMPLE.as_bytes().to_vec()]
}

fn ocserv_feed(input: &[u8]) -> bool {
    let Ok(users) = ocserv::occtl::parse_users(&String::from_utf8_lossy(input)) else {
        return false;
    };
    let id = SourceId::default_of(EngineKind::Ocserv);
    for u in &users {
        round_trip(&ocserv::session_info(&id, "/run/ocserv/occtl.socket", u, now()));
    }
    true
}

fn netlink_seeds() -> Vec<Vec<u8>> {
    let v4: std::net::IpAddr = std::net::Ipv4Addr::new(10, 0, 0, 2).into();
    let v6: std::net::IpAddr = "fd00::2".parse().unwrap_or(v4);
    wireguard::netlink::sample_dump(&[(&[7; 32], &[(v4, 32), (v6, 128)], 1000, 1_795_634_117)], 1)
}

fn netlink_feed(input: &[u8]) -> bool {
    let Ok(device) = wireguard::netlink::parse_device(&[input]) else {
        return false;
    };
    let id = SourceId::default_of(EngineKind::Wireguard);
    let devices = vec![("wg0".to_owned(), device)];
    let names = std::collections::HashMap::new();
    let mut last_rx = std::collections::HashMap::new();
    for info in wireguard::active_peers(&id, &devices, &names, Duration::from_secs(180), now(), &mut last_rx) {
        round_trip(&info);
    }
    true
}

fn vici_seeds() -> Vec<Vec<u8>> {
    strongswan::sample_packets()
}

fn vici_feed(input: &[u8]) -> bool {
    let Ok(packet) = strongswan::vici::decode_packet(input) else {
        return false;
    };
    // What decodes must encode again and read back the same.
    if let Ok(bytes) = strongswan::vici::encode_packet(&packet) {
        let again = bytes.get(4..).map(strongswan::vici::decode_packet);
        assert!(
            matches!(again, Some(Ok(ref p)) if *p == packet),
            "VICI round trip changed the packet"
        );
    }
    let id = SourceId::default_of(EngineKind::Strongswan);
    let auth = strongswan::parse_list_conn(&packet.message);
    for sa in strongswan::parse_list_sa(&packet.message) {
        let counts = strongswan::running_total(&sa);
        let a = auth.first().map(|x| x.1).unwrap_or_default();
        round_trip(&strongswan::sa_info(&id, "/run/charon.vici", &sa, a, counts, now()));
    }
    true
}

const SECRET: &[u8] = b"fuzz-secret";

fn radius_seeds() -> Vec<Vec<u8>> {
    let attrs = |status: u32| -> Vec<(u8, Vec<u8>)> {
        let mut a = vec![
            (ACCT_STATUS_TYPE, status.to_be_bytes().to_vec()),
            (USER_NAME, b"alice@corp.example".to_vec()),
            (ACCT_SESSION_ID, b"0000000000000001".to_vec()),
            (NAS_IP_ADDRESS, Ipv4Addr::new(127, 0, 0, 1).octets().to_vec()),
            (NAS_IDENTIFIER, b"bras-1".to_vec()),
            (NAS_PORT, 7u32.to_be_bytes().to_vec()),
            (NAS_PORT_TYPE, PORT_VIRTUAL.to_be_bytes().to_vec()),
            (FRAMED_IP_ADDRESS, Ipv4Addr::new(10, 0, 0, 2).octets().to_vec()),
            (FRAMED_IPV6_PREFIX, vec![0, 64, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1]),
            (CALLING_STATION_ID, b"198.51.100.7".to_vec()),
            (TUNNEL_TYPE, [1u8, 0, 0, 3].to_vec()),
            (TUNNEL_CLIENT_ENDPOINT, b"198.51.100.7".to_vec()),
            (ACCT_INTERIM_INTERVAL, 600u32.to_be_bytes().to_vec()),
            (EVENT_TIMESTAMP, 1_795_634_100u32.to_be_bytes().to_vec()),
            (ACCT_DELAY_TIME, 3u32.to_be_bytes().to_vec()),
            (CLASS, vec![1, 2, 3, 4]),
            (
                VENDOR_SPECIFIC,
                [
                    &VENDOR_MICROSOFT.to_be_bytes()[..],
                    &[MS_QUARANTINE_STATE, 6, 0, 0, 0, 2],
                ]
                .concat(),
            ),
        ];
        if status != STATUS_START {
            a.extend([
                (ACCT_INPUT_OCTETS, 1500u32.to_be_bytes().to_vec()),
                (ACCT_OUTPUT_OCTETS, 9000u32.to_be_bytes().to_vec()),
                (ACCT_INPUT_GIGAWORDS, 1u32.to_be_bytes().to_vec()),
                (ACCT_SESSION_TIME, 60u32.to_be_bytes().to_vec()),
                (ACCT_TERMINATE_CAUSE, 1u32.to_be_bytes().to_vec()),
            ]);
        }
        a
    };
    [STATUS_START, STATUS_INTERIM, STATUS_STOP, STATUS_ACCOUNTING_ON]
        .into_iter()
        .map(|status| {
            Packet {
                code: ACCOUNTING_REQUEST,
                identifier: 9,
                authenticator: [0; 16],
                attributes: attrs(status),
            }
            .encode_request(SECRET)
        })
        .collect()
}

fn radius_feed(input: &[u8]) -> bool {
    let _ = request_authenticator_ok(input, SECRET);
    // The decoder the daemon's receive path uses.
    let Ok(packet) = PacketView::decode(input) else {
        return false;
    };
    // Who may speak for the NAS it names (a direct client and a proxy).
    let config = radius_clients();
    let (address, identifier) = nas_claim(&packet, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let claim = NasClaim {
        address,
        identifier: identifier.as_deref(),
    };
    for client in &config.clients {
        let _ = config.may_speak_for(client, &claim);
    }
    let _ = config.hang_up_route(&claim);
    let id = SourceId::default_of(EngineKind::Radius);
    let Ok(accounting) = interpret(&id, &packet, IpAddr::V4(Ipv4Addr::LOCALHOST), now()) else {
        return false;
    };
    match accounting.event {
        AccountingEvent::Start(mut info)
        | AccountingEvent::Interim(mut info)
        | AccountingEvent::Stop { mut info, .. } => {
            round_trip(&info);
            // An update merged over what a full Start said (and over itself).
            let known = known_session();
            merge_update(&mut info, &known, accounting.carried);
            round_trip(&info);
            let again = (*info).clone();
            merge_update(&mut info, &again, accounting.carried);
        }
        AccountingEvent::NasRestart { .. } | AccountingEvent::Ignored(_) => {}
    }
    true
}

/// A direct client and a proxy with grants, as the daemon would have them.
fn radius_clients() -> &'static RadiusConfig {
    static CONFIG: std::sync::OnceLock<RadiusConfig> = std::sync::OnceLock::new();
    CONFIG.get_or_init(|| RadiusConfig {
        clients: vec![
            "127.0.0.1=a".parse().expect("client"),
            RadiusClient {
                nas: vec!["10.0.0.0/8".parse().expect("grant"), "bras-*".parse().expect("grant")],
                coa: Some("127.0.0.2:3799".parse().expect("address")),
                ..RadiusClient::from_str("127.0.0.2=p").expect("client")
            },
        ],
        ..RadiusConfig::default()
    })
}

/// What a full Start (the first seed) said.
fn known_session() -> ConnectionInfo {
    let seed = &radius_seeds()[0];
    let packet = PacketView::decode(seed).expect("seed decodes");
    let id = SourceId::default_of(EngineKind::Radius);
    match interpret(&id, &packet, IpAddr::V4(Ipv4Addr::LOCALHOST), now()).map(|a| a.event) {
        Ok(AccountingEvent::Start(info)) => *info,
        _ => ConnectionInfo::new(id.key("nas", "s"), "u", now()),
    }
}

/// Streams as a RadSec client sends them: several requests back to back,
/// a Status-Server among them.
fn radsec_seeds() -> Vec<Vec<u8>> {
    let requests = radius_seeds();
    let status = Packet {
        code: STATUS_SERVER,
        identifier: 1,
        authenticator: [3; 16],
        attributes: vec![],
    }
    .encode_status_request(b"radsec");
    vec![
        requests.concat(),
        [status.clone(), requests[0].clone()].concat(),
        status,
    ]
}

/// What the RadSec reader does with a stream: cut it into packets until
/// it runs out or the framing breaks; each packet decoded and checked.
fn radsec_feed(input: &[u8]) -> bool {
    let mut rest = input;
    let mut packets = 0;
    loop {
        match next_frame(rest) {
            Ok(Some(len)) => {
                let (frame, tail) = rest.split_at(len);
                rest = tail;
                let Ok(packet) = PacketView::decode(frame) else {
                    return false;
                };
                let _ = request_authenticator_ok(frame, b"radsec");
                let _ = message_authenticator_ok(frame, &packet.authenticator, b"radsec");
                packets += 1;
            }
            Ok(None) => return packets > 0 && rest.is_empty(),
            Err(_) => return false,
        }
    }
}

/// The request authenticator the answers below answer.
const DYNAUTH_REQUEST: [u8; 16] = [7; 16];

fn dynauth_seeds() -> Vec<Vec<u8>> {
    let answer = |code: u8, cause: Option<u32>| Packet {
        code,
        identifier: 3,
        authenticator: [0; 16],
        attributes: cause
            .map(|c| vec![(ERROR_CAUSE, c.to_be_bytes().to_vec())])
            .unwrap_or_default(),
    };
    vec![
        answer(DISCONNECT_ACK, None).encode_response_signed(&DYNAUTH_REQUEST, SECRET),
        answer(DISCONNECT_NAK, Some(503)).encode_response_signed(&DYNAUTH_REQUEST, SECRET),
        answer(DISCONNECT_NAK, Some(401)).encode_response(&DYNAUTH_REQUEST, SECRET),
        answer(DISCONNECT_ACK, None).encode_response(&DYNAUTH_REQUEST, SECRET),
    ]
}

/// What `disconnect.rs` does with an answer, in its order.
fn dynauth_feed(input: &[u8]) -> bool {
    let authentic = response_authenticator_ok(input, &DYNAUTH_REQUEST, SECRET);
    let signed = message_authenticator_ok(input, &DYNAUTH_REQUEST, SECRET);
    let Ok(packet) = Packet::decode(input) else {
        return false;
    };
    let _cause = packet
        .attr(ERROR_CAUSE)
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map(u32::from_be_bytes);
    authentic && signed != Some(false)
}

fn record_seeds() -> Vec<Vec<u8>> {
    (0..8u32)
        .map(|i| {
            let info = synthetic::connection(u64::from(i), now());
            let handle = ConnectionHandle::new(i + 1).unwrap_or(ConnectionHandle::MIN);
            Record::encode_info(handle, &info).as_bytes().to_vec()
        })
        .collect()
}

fn record_feed(input: &[u8]) -> bool {
    let mut scratch = rras_core::record::empty_connection();
    let single = rras_core::record::decode_into(input, &mut scratch).is_ok();
    if let Ok(r) = Record::from_bytes(input) {
        let _ = r.decode();
    }
    // The same bytes read as a stream of length-prefixed frames.
    let framed = rras_core::record::RecordFrames::new(input)
        .take(10_000)
        .all(|f| f.is_ok_and(|bytes| rras_core::record::decode_into(bytes, &mut scratch).is_ok()));
    single || framed
}

fn commit_log_seeds() -> Vec<Vec<u8>> {
    use rras_store::StoreOp;
    (1..4u64)
        .map(|first| {
            (first..first + 3)
                .flat_map(|seq| {
                    let info = synthetic::connection(seq, now());
                    let handle = ConnectionHandle::new(seq as u32).unwrap_or(ConnectionHandle::MIN);
                    let ops = [
                        StoreOp::Put(Record::encode_info(handle, &info)),
                        StoreOp::Delete(handle),
                    ];
                    rras_store::log::Frame::encode(seq, &ops, seq as u32, seq)
                        .map(|f| f.bytes)
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

fn commit_log_feed(input: &[u8]) -> bool {
    use rras_store::log::{read_segment, Body, FRAME_HEADER};
    // A checksum is no signature: a hostile file can carry a frame whose
    // checksum holds and whose body does not parse, so both paths must
    // come back with an answer, never a panic.
    let frames = read_segment(input);
    let bodies = frames.iter().filter(|frame| frame.body().is_ok()).count();
    // Bodies past the checksum, as a hostile file could hold them.
    let body = Body::parse(input.get(FRAME_HEADER..).unwrap_or_default());
    bodies > 0 || body.is_ok()
}

/// Sessions ended a minute to a day after they began, over a month.
fn ended_sessions(count: u64) -> Vec<rras_core::EndedConnection> {
    (0..count)
        .map(|i| {
            let info = synthetic::connection(i, now() - Duration::from_secs(86_400 * (i % 30) + 3_600));
            rras_core::EndedConnection {
                connection: Connection {
                    handle: ConnectionHandle::new(i as u32 + 1).unwrap_or(ConnectionHandle::MIN),
                    info,
                },
                ended_at: now() - Duration::from_secs(86_400 * (i % 30) + 60 * i),
                reason: ["user-request", "idle-timeout", "nas-reboot"][i as usize % 3].into(),
            }
        })
        .collect()
}

fn history_block_seeds() -> Vec<Vec<u8>> {
    let entries: Vec<Vec<u8>> = ended_sessions(70).iter().map(rras_core::record::encode_ended).collect();
    // Blocks of one stream, of a stream and a part, and of three; and
    // single entries (the tail holds them bare).
    let mut seeds: Vec<Vec<u8>> = [1, 40, 70]
        .iter()
        .filter_map(|n| rras_store::history::seal_block(&entries[..*n]).ok())
        .collect();
    seeds.extend(entries.into_iter().take(3));
    seeds
}

fn history_block_feed(input: &[u8]) -> bool {
    let mut any = false;
    if let Ok(sessions) = rras_store::history::read_block(input) {
        for s in &sessions {
            round_trip(&s.connection.info);
        }
        any = true;
    }
    // The same bytes as a bare tail entry.
    if let Ok(s) = rras_core::record::decode_ended(input) {
        round_trip(&s.connection.info);
        any = true;
    }
    any
}

fn usage_column_seeds() -> Vec<Vec<u8>> {
    let users = rras_core::user_hash::UserHasher::new(1, 2);
    let sessions: Vec<_> = ended_sessions(200)
        .iter()
        .map(|s| rras_core::usage::UsageSession::of(&s.connection.info, Some(s.ended_at), &users))
        .collect();
    vec![
        rras_core::usage_column::encode(&sessions[..1]),
        rras_core::usage_column::encode(&sessions),
    ]
}

fn usage_column_feed(input: &[u8]) -> bool {
    use rras_core::usage::{TopBy, UsageBuilder};
    // Two reports to now, as `rasctl usage` asks them, every session the
    // column yields added, then ranked: the last two hours (concurrency counted
    // per second) and the last 400 days (from sorted starts and ends).
    let users = rras_core::user_hash::UserHasher::new(1, 2);
    let mut decoded = false;
    for hours in [2, 400 * 24] {
        let period = Duration::from_secs(hours * 3_600);
        let mut report = UsageBuilder::new(now() - period, now(), now(), users);
        decoded = rras_core::usage_column::decode(input, |s| {
            report.add_session(s);
        })
        .is_ok();
        let _ = report.finish(10, TopBy::Bytes, |_| None);
    }
    decoded
}

fn report_seeds() -> Vec<Vec<u8>> {
    let reports = (0..3u64)
        .map(|i| {
            let info = synthetic::connection(i, now());
            pb::Report {
                kind: (i as i32 % 3) + 1,
                connection: Some(rras_proto::convert::info_to_pb(&info, now())),
                end_reason: if i == 2 { "user-request".into() } else { String::new() },
            }
        })
        .collect();
    vec![pb::ReportBatch { reports }.encode_to_vec()]
}

fn report_feed(input: &[u8]) -> bool {
    let Ok(batch) = pb::ReportBatch::decode(input) else {
        return false;
    };
    let mut any = false;
    for r in &batch.reports {
        if let Ok(event) = rras_proto::convert::report_event(r) {
            any = true;
            if let SourceEvent::Started(info) = event {
                round_trip(&info);
            }
        }
    }
    any
}

fn history_request_seeds() -> Vec<Vec<u8>> {
    let q = rras_core::HistoryQuery {
        user: Some("alice".into()),
        address: Some("10.1.2.3".parse().expect("address")),
        from: Some(now()),
        to: Some(now()),
        nas: Some("10.0.0.1".into()),
        engine: Some(rras_core::EngineKind::Radius),
        instance: Some("radius".into()),
    };
    vec![rras_proto::convert::history_query_to_pb(&q).encode_to_vec()]
}

fn history_request_feed(input: &[u8]) -> bool {
    let Ok(request) = pb::HistoryRequest::decode(input) else {
        return false;
    };
    let Ok(query) = rras_proto::convert::history_query_from_pb(&request) else {
        return false;
    };
    // Matching never panics, whatever the filters.
    let _ = query.matches(&known_session(), Some(now()));
    true
}

fn fleet_history_seeds() -> Vec<Vec<u8>> {
    use rras_fleet::history::{HistoryReply, HistoryRow};
    let request = br#"{"user":"alice","address":"10.1.2.3","from":1,"to":2,"nas":"n","engine":"radius","instance":"radius","limit":10}"#;
    let ended = rras_core::EndedConnection {
        connection: rras_core::Connection {
            handle: rras_core::ConnectionHandle::new(1).expect("handle"),
            info: known_session(),
        },
        ended_at: now(),
        reason: "user-request".into(),
    };
    let reply = HistoryReply {
        status: 0,
        rows: vec![HistoryRow::of(7, &ended)],
        next: Some(7),
    };
    vec![request.to_vec(), serde_json::to_vec(&reply).unwrap_or_default()]
}

fn fleet_history_feed(input: &[u8]) -> bool {
    use rras_fleet::history::{HistoryReply, HistoryRequest};
    if let Ok(request) = HistoryRequest::from_json(input) {
        if let Ok(query) = request.query() {
            let _ = query.matches(&known_session(), None);
            return true;
        }
    }
    serde_json::from_slice::<HistoryReply>(input).is_ok()
}

fn fleet_usage_seeds() -> Vec<Vec<u8>> {
    use rras_core::usage::UsageBuilder;
    use rras_fleet::usage::{UsageReply, UsageSummary};
    let request = br#"{"from":86400,"to":172800,"top":10,"by_time":true}"#;
    // Two days, as a node answers for at most 400.
    let mut builder = UsageBuilder::new(
        now() - Duration::from_secs(2 * 86_400),
        now() + Duration::from_secs(86_400),
        now(),
        rras_core::user_hash::UserHasher::new(1, 2),
    );
    builder.add(&known_session(), Some(now()));
    let report = builder.finish(10, rras_core::usage::TopBy::Bytes, |_| None);
    let reply = UsageReply {
        status: 0,
        report: Some(UsageSummary::of(&report)),
    };
    vec![request.to_vec(), serde_json::to_vec(&reply).unwrap_or_default()]
}

/// A node's usage request, or a node's reply as the asker reads it: the
/// checks never panic, and a reply that passes them adds up with itself.
fn fleet_usage_feed(input: &[u8]) -> bool {
    use rras_fleet::usage::{add_up, UsageReply, UsageRequest};
    if let Ok(request) = UsageRequest::from_json(input) {
        return request.period().is_ok();
    }
    let Ok(reply) = serde_json::from_slice::<UsageReply>(input) else {
        return false;
    };
    let Some(Ok(report)) = reply.report.map(|r| r.report()) else {
        return false;
    };
    let _ = add_up(&[&report, &report], 10, rras_core::usage::TopBy::Time);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_is_accepted() {
        // A target whose own samples fail would only ever fuzz the error path.
        for t in TARGETS {
            for (i, seed) in (t.seeds)().iter().enumerate() {
                assert!((t.feed)(seed), "{}: seed {i} rejected", t.name);
            }
        }
    }
}
