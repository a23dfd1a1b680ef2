//! Deterministic, realistic-looking connections for the demo, the
//! benchmarks and the tests: a mix of L2TP/PPP, IKEv2, WireGuard and
//! OpenVPN users with varied addresses and counters. Same index, same
//! connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use crate::model::{
    connection_flags, ConnectionInfo, ConnectionStats, EngineKind, Guid, Ikev2Projection, PppProjection, Projection,
    SourceKey,
};

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda",
];

/// A cheap 64-bit mix (splitmix64) so every field varies with the index.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Connection number `i`, started `age` before `now`.
pub fn connection(i: u64, now: SystemTime) -> ConnectionInfo {
    let r = mix(i);
    let kind = i % 4;
    let engine = match kind {
        0 => EngineKind::Radius,
        1 => EngineKind::Strongswan,
        2 => EngineKind::Wireguard,
        _ => EngineKind::Openvpn,
    };
    let user = format!("{}{}", USERS[(r % USERS.len() as u64) as usize], i % 1000);
    let age = Duration::from_secs(r % 86_400);
    let source = SourceKey::new(engine, format!("nas-{}", (r >> 8) % 4), format!("sess-{i:08x}"));
    let mut info = ConnectionInfo::new(source, user, now.checked_sub(age).unwrap_or(now));
    info.guid = Guid::from_u128(u128::from(r) << 64 | u128::from(mix(r)));
    info.interface_name = match kind {
        0 => format!("ppp{}", i % 4096),
        1 => "ipsec0".into(),
        2 => "wg0".into(),
        _ => "tun0".into(),
    };
    info.logon_domain = if kind == 0 { "CORP".into() } else { String::new() };
    let client_ip = Ipv4Addr::from(0x0a80_0000u32 | (i as u32 & 0x7f_ffff));
    info.remote_endpoint = Some(IpAddr::V4(Ipv4Addr::new(198, 51, (r >> 16) as u8, (r >> 24) as u8 | 1)));
    info.local_endpoint = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)));
    info.stats = ConnectionStats {
        bytes_xmited: (r >> 20) % 50_000_000_000,
        bytes_rcved: (r >> 24) % 5_000_000_000,
        frames_xmited: ((r >> 32) % 40_000_000) as u32,
        frames_rcved: ((r >> 36) % 4_000_000) as u32,
        ..ConnectionStats::default()
    };
    info.projection = match kind {
        1 => {
            let mut p = Ikev2Projection {
                authentication_protocol: 2,
                eap_type_id: 26,
                encryption_method: 3,
                ..Default::default()
            };
            p.ipv4.address = Some(Ipv4Addr::new(10, 128, 0, 1));
            p.ipv4.remote_address = Some(client_ip);
            info.flags = connection_flags::IKEV2_CONNECTION;
            Projection::Ikev2(p)
        }
        _ => {
            let mut p = PppProjection::default();
            p.ipv4.address = Some(Ipv4Addr::new(10, 128, 0, 1));
            p.ipv4.remote_address = Some(client_ip);
            if r.is_multiple_of(3) {
                p.ipv6.set_remote_address(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0x10,
                    (i >> 16) as u16,
                    0,
                    0,
                    0,
                    i as u16 | 1,
                ));
            }
            if kind == 0 {
                info.flags = connection_flags::PPP_CONNECTION;
                p.lcp.authentication_protocol = 0xC223;
                p.lcp.authentication_data = 0x81;
                p.ccp.compression_algorithm = 6;
                p.ccp.options = 0x40;
            }
            Projection::Ppp(p)
        }
    };
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_varied() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(connection(5, now), connection(5, now));
        assert_ne!(connection(5, now).source, connection(6, now).source);
        let kinds: std::collections::HashSet<_> = (0..8).map(|i| connection(i, now).projection.info_type()).collect();
        assert_eq!(kinds.len(), 2);
    }
}
