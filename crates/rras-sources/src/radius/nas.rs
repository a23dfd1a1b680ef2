//! NAS identities: the one a packet names ([`NasClaim`]) and the ones a
//! proxy client is granted ([`NasGrant`]: a network of addresses or a
//! NAS-Identifier glob). Pure: which client owns what is `scope.rs`.

use std::net::IpAddr;
use std::str::FromStr;

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
    /// True when the identity `claim` falls under this grant.
    pub fn matches(&self, claim: &NasClaim<'_>) -> bool {
        match self {
            NasGrant::Network { network, prefix_len } => network_contains(*network, *prefix_len, claim.address),
            NasGrant::Name(glob) => claim
                .identifier
                .is_some_and(|id| glob_matches(glob.as_bytes(), id.as_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
