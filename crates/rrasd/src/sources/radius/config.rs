//! `[radius]` settings and NAS client entries (`CIDR=SECRET`).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;

/// `[radius]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusConfig {
    /// The instance's name (`[[source]] name`); `[radius]` and the flags
    /// configure the default instance, named "radius".
    pub name: String,
    /// Accounting listener (off when absent).
    pub listen: Option<SocketAddr>,
    /// NASes allowed to send, each with its shared secret.
    pub clients: Vec<RadiusClient>,
    /// UDP port of the NASes' RFC 5176 listener.
    pub disconnect_port: u16,
    /// Seconds to wait for a Disconnect-ACK/NAK (per try; 3 tries).
    pub disconnect_timeout_secs: u64,
    /// End sessions whose NAS stopped sending updates.
    pub stale_check: bool,
    /// A session is stale after this many interim intervals without news.
    pub stale_after_intervals: u32,
    /// Interim interval assumed when the NAS does not send Acct-Interim-Interval.
    pub default_interim_secs: u64,
}

impl Default for RadiusConfig {
    fn default() -> Self {
        RadiusConfig {
            name: String::new(),
            listen: None,
            clients: Vec::new(),
            disconnect_port: 3799,
            disconnect_timeout_secs: 2,
            stale_check: true,
            stale_after_intervals: 3,
            default_interim_secs: 600,
        }
    }
}

impl RadiusConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.is_some() && self.clients.is_empty() {
            return Err("radius.listen is set but no radius client (CIDR=SECRET) is configured".into());
        }
        if self.stale_after_intervals == 0 || self.default_interim_secs == 0 {
            return Err("stale_after_intervals and default_interim_secs must be at least 1".into());
        }
        Ok(())
    }

    /// The secret of the most specific client entry containing `ip`.
    pub fn secret_for(&self, ip: IpAddr) -> Option<&[u8]> {
        self.clients
            .iter()
            .filter(|c| c.contains(ip))
            .max_by_key(|c| c.prefix_len)
            .map(|c| c.secret.as_bytes())
    }
}

/// One NAS (or range of NASes) and its shared secret.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(try_from = "ClientEntry")]
pub struct RadiusClient {
    /// Network address.
    pub network: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Shared secret.
    pub secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    cidr: String,
    secret: String,
}

impl TryFrom<ClientEntry> for RadiusClient {
    type Error = String;
    fn try_from(e: ClientEntry) -> Result<Self, String> {
        format!("{}={}", e.cidr, e.secret).parse()
    }
}

impl RadiusClient {
    /// True when `ip` is inside this entry's network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix_len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix_len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for RadiusClient {
    type Err = String;
    /// `127.0.0.1/32=SECRET`, `10.0.0.0/8=SECRET` or `::1=SECRET`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (cidr, secret) = s
            .split_once('=')
            .ok_or_else(|| format!("radius client {s:?}: expected CIDR=SECRET"))?;
        if secret.is_empty() {
            return Err(format!("radius client {cidr:?}: empty secret"));
        }
        let (addr, len) = match cidr.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (cidr, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("radius client {cidr:?}: {addr:?} is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("radius client {cidr:?}: prefix length must be 0..={max}"))?,
        };
        Ok(RadiusClient {
            network,
            prefix_len,
            secret: secret.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching_and_most_specific_secret() {
        let config = RadiusConfig {
            clients: vec![
                "10.0.0.0/8=wide".parse().unwrap(),
                "10.1.2.3/32=narrow".parse().unwrap(),
            ],
            ..Default::default()
        };
        assert_eq!(config.secret_for("10.1.2.3".parse().unwrap()), Some(&b"narrow"[..]));
        assert_eq!(config.secret_for("10.9.9.9".parse().unwrap()), Some(&b"wide"[..]));
        assert_eq!(
            config.secret_for("::ffff:10.9.9.9".parse().unwrap()),
            Some(&b"wide"[..])
        );
        assert_eq!(config.secret_for("192.0.2.1".parse().unwrap()), None);
        let v6: RadiusClient = "2001:db8::/32=x".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let all: RadiusClient = "0.0.0.0/0=x".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn bad_entries() {
        assert!("10.0.0.0/8".parse::<RadiusClient>().is_err());
        assert!("10.0.0.0/33=x".parse::<RadiusClient>().is_err());
        assert!("nas.example=x".parse::<RadiusClient>().is_err());
        assert!("10.0.0.1=".parse::<RadiusClient>().is_err());
    }
}
