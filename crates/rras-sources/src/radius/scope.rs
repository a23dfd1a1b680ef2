//! Client scoping: which configured RADIUS client may speak for which NAS.
//!
//! A packet names its NAS (NAS-IP-Address or NAS-IPv6-Address, else the
//! datagram's source, plus NAS-Identifier); that identity is the `nas` of
//! every session key it touches. The identity's *owners* follow from the
//! configuration alone:
//!
//! 1. the clients with a `nas` grant matching it (a proxy: a network of
//!    NAS addresses, or a NAS-Identifier glob) — explicit grants are
//!    exclusive: no other client speaks for an identity granted to one;
//! 2. otherwise the most specific client whose own network holds the
//!    identity's address.
//!
//! A packet is applied only when the client that sent it (found by source
//! address, proven by its secret) owns the identity it names, so client A
//! can never end or change a session whose key names client B's NAS. The
//! same function routes a hang-up: to the session's owner, with the
//! owner's secret.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::config::{RadiusClient, RadiusConfig};

/// A NAS identity a proxy client may speak for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NasGrant {
    /// NAS-IP(v6)-Address in this network (`10.1.0.0/16`, `2001:db8::/32`).
    Network {
        /// Network address.
        network: IpAddr,
        /// Prefix length.
        prefix_len: u8,
    },
    /// NAS-Identifier matching this glob (`ap-*`; `*` is any run of
    /// characters, everything else literal).
    Name(String),
}

impl FromStr for NasGrant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.chars().any(char::is_control) {
            return Err(format!("nas grant {s:?}: empty or not printable"));
        }
        let address = s.split_once('/').map_or(s, |(a, _)| a);
        if !s.contains('/') && address.parse::<IpAddr>().is_err() {
            return Ok(NasGrant::Name(s.to_owned()));
        }
        let (network, prefix_len) = parse_cidr(s).map_err(|e| format!("nas grant {e}"))?;
        Ok(NasGrant::Network { network, prefix_len })
    }
}

/// `ADDRESS` or `ADDRESS/LEN` (IPv4 or IPv6); a bare address is one host.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let network: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?}: {addr:?} is not an IP address"))?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{s:?}: prefix length must be 0..={max}"))?,
    };
    Ok((network, prefix_len))
}

/// True when `ip` (IPv4-mapped IPv6 taken as IPv4) is in `network/prefix_len`.
pub fn network_contains(network: IpAddr, prefix_len: u8, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix_len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// `*` matches any run of bytes; everything else itself. Iterative with
/// one backtrack point (the last star), so O(len × pattern) at worst.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The NAS a packet (or a stored session key) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NasClaim<'a> {
    /// NAS-IP(v6)-Address, else the datagram's source.
    pub address: IpAddr,
    /// NAS-Identifier, when given.
    pub identifier: Option<&'a str>,
}

impl<'a> NasClaim<'a> {
    /// Reads back a session key's `nas` ("Identifier@address" or "address").
    pub fn parse(nas: &'a str) -> Option<Self> {
        match nas.rsplit_once('@') {
            Some((id, addr)) => Some(NasClaim {
                address: addr.parse().ok()?,
                identifier: Some(id),
            }),
            None => Some(NasClaim {
                address: nas.parse().ok()?,
                identifier: None,
            }),
        }
    }
}

impl NasGrant {
    fn matches(&self, claim: &NasClaim<'_>) -> bool {
        match self {
            NasGrant::Network { network, prefix_len } => network_contains(*network, *prefix_len, claim.address),
            NasGrant::Name(glob) => claim
                .identifier
                .is_some_and(|id| glob_matches(glob.as_bytes(), id.as_bytes())),
        }
    }
}

impl RadiusClient {
    fn grants(&self, claim: &NasClaim<'_>) -> bool {
        self.nas.iter().any(|g| g.matches(claim))
    }
}

/// RADIUS/TLS's port (RFC 6614 §2.1).
pub const RADSEC_PORT: u16 = 2083;

/// Where a hang-up for a session goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HangUpRoute<'a> {
    /// The owning client (its secret signs the request).
    pub client: &'a RadiusClient,
    /// Its RFC 5176 listener.
    pub target: SocketAddr,
}

impl RadiusConfig {
    /// True when `client` (the sender, by source address and secret) owns
    /// the NAS identity `claim`.
    pub fn may_speak_for(&self, client: &RadiusClient, claim: &NasClaim<'_>) -> bool {
        if client.grants(claim) {
            return true;
        }
        if self.clients.iter().any(|c| c.grants(claim)) {
            return false;
        }
        self.client_for(claim.address).is_some_and(|c| c.name == client.name)
    }

    /// The client that owns `claim` and where its hang-ups go: the first
    /// client (in configuration order) granted it, else the most specific
    /// client holding its address.
    pub fn hang_up_route(&self, claim: &NasClaim<'_>) -> Option<HangUpRoute<'_>> {
        let (client, proxy) = match self.clients.iter().find(|c| c.grants(claim)) {
            Some(proxy) => (proxy, true),
            None => (self.client_for(claim.address)?, false),
        };
        let target = match client.coa {
            Some(coa) => coa,
            // Over TLS, to the client itself on the RadSec port.
            None if client.radsec_name.is_some() => SocketAddr::new(client.single_address()?, RADSEC_PORT),
            None if proxy => SocketAddr::new(client.single_address()?, self.disconnect_port),
            None => SocketAddr::new(claim.address, self.disconnect_port),
        };
        Some(HangUpRoute { client, target })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(address: &str, identifier: Option<&'static str>) -> NasClaim<'static> {
        NasClaim {
            address: address.parse().unwrap(),
            identifier,
        }
    }

    fn config(entries: &str) -> RadiusConfig {
        #[derive(serde::Deserialize)]
        struct T {
            radius: RadiusConfig,
        }
        let t: T = toml::from_str(&format!("[radius]\nclients = [{entries}]")).unwrap();
        t.radius.validate().unwrap();
        t.radius
    }

    #[test]
    fn globs() {
        assert!(glob_matches(b"ap-*", b"ap-17"));
        assert!(glob_matches(b"ap-*", b"ap-"));
        assert!(!glob_matches(b"ap-*", b"xap-1"));
        assert!(glob_matches(b"*-edge-*", b"fra-edge-7"));
        assert!(!glob_matches(b"*-edge-*", b"fra-core-7"));
        assert!(glob_matches(b"nas1", b"nas1"));
        assert!(!glob_matches(b"nas1", b"nas10"));
        assert!(glob_matches(b"a*b*c", b"aXbYbZc"));
        assert!(glob_matches(b"*", b""));
    }

    #[test]
    fn a_nas_speaks_only_for_its_own_addresses() {
        let c = config(
            r#"{ cidr = "127.0.0.1", secret = "a", name = "a" },
               { cidr = "127.0.0.2", secret = "b", name = "b" },
               { cidr = "10.0.0.0/8", secret = "w", name = "wide" },
               { cidr = "10.1.2.3", secret = "n", name = "narrow" }"#,
        );
        let [a, b, wide, narrow] = [0, 1, 2, 3].map(|i| &c.clients[i]);
        assert!(c.may_speak_for(a, &claim("127.0.0.1", Some("lab-nas"))));
        assert!(
            !c.may_speak_for(a, &claim("127.0.0.2", Some("lab-nas"))),
            "A names B's NAS"
        );
        assert!(
            !c.may_speak_for(a, &claim("192.0.2.1", None)),
            "A names an address nobody has"
        );
        assert!(c.may_speak_for(b, &claim("127.0.0.2", None)));
        // A range is one client: its NASes share the range's secret.
        assert!(c.may_speak_for(wide, &claim("10.9.9.9", None)));
        // …but not the address a more specific entry owns.
        assert!(!c.may_speak_for(wide, &claim("10.1.2.3", None)));
        assert!(c.may_speak_for(narrow, &claim("10.1.2.3", None)));
    }

    #[test]
    fn proxies_speak_for_what_they_are_granted_and_only_that() {
        let c = config(
            r#"{ cidr = "127.0.0.1", secret = "a", name = "a" },
               { cidr = "127.0.0.3", secret = "p", name = "proxy", nas = ["10.1.0.0/16", "ap-*"] },
               { cidr = "10.0.0.0/8", secret = "w", name = "wide" }"#,
        );
        let [a, proxy, wide] = [0, 1, 2].map(|i| &c.clients[i]);
        assert!(c.may_speak_for(proxy, &claim("10.1.7.7", None)));
        assert!(c.may_speak_for(proxy, &claim("192.168.1.1", Some("ap-3"))));
        assert!(c.may_speak_for(proxy, &claim("127.0.0.3", None)), "and for itself");
        assert!(!c.may_speak_for(proxy, &claim("127.0.0.1", Some("lab"))), "not for A");
        assert!(!c.may_speak_for(proxy, &claim("10.2.0.1", Some("core-1"))));
        // Grants are exclusive: the wide range no longer speaks for them.
        assert!(!c.may_speak_for(wide, &claim("10.1.7.7", None)));
        assert!(c.may_speak_for(wide, &claim("10.2.0.1", None)));
        assert!(!c.may_speak_for(a, &claim("127.0.0.1", Some("ap-9"))));

        let route = c.hang_up_route(&claim("10.1.7.7", None)).unwrap();
        assert_eq!(
            (route.client.name.as_str(), route.target),
            ("proxy", "127.0.0.3:3799".parse().unwrap())
        );
        let route = c.hang_up_route(&claim("10.2.0.1", Some("x"))).unwrap();
        assert_eq!(
            (route.client.name.as_str(), route.target),
            ("wide", "10.2.0.1:3799".parse().unwrap())
        );
        assert!(c.hang_up_route(&claim("192.0.2.9", None)).is_none());
    }

    #[test]
    fn coa_address_wins() {
        let c = config(
            r#"{ cidr = "127.0.0.0/24", secret = "p", name = "proxies", nas = ["ap-*"], coa = "127.0.0.9:4000" }"#,
        );
        let route = c.hang_up_route(&claim("10.0.0.1", Some("ap-1"))).unwrap();
        assert_eq!(route.target, "127.0.0.9:4000".parse().unwrap());
    }

    #[test]
    fn stored_identities_read_back() {
        assert_eq!(
            NasClaim::parse("lab@nas@10.0.0.1"),
            Some(claim("10.0.0.1", Some("lab@nas")))
        );
        assert_eq!(NasClaim::parse("2001:db8::1"), Some(claim("2001:db8::1", None)));
        assert_eq!(NasClaim::parse("nonsense"), None);
        assert!("10.0.0.0/33".parse::<NasGrant>().is_err());
        assert!("ap-/8".parse::<NasGrant>().is_err());
        assert_eq!("ap-*".parse::<NasGrant>(), Ok(NasGrant::Name("ap-*".into())));
    }
}
