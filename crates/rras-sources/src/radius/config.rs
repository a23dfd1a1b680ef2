//! `[radius]` settings and the RADIUS clients: who may send, with which
//! secret, and for which NASes (docs/radius.md, "Client scoping").

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

use super::nas::{network_contains, parse_cidr, NasGrant};

/// `[radius]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusConfig {
    /// The instance's name (`[[source]] name`); `[radius]` and the flags
    /// configure the default instance, named "radius".
    pub name: String,
    /// Accounting listener (off when absent).
    pub listen: Option<SocketAddr>,
    /// NASes (and proxies) allowed to send, each with its shared secret.
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
    /// How far a NAS's clock (Event-Timestamp) may be from ours: an
    /// Accounting-On/Off or Stop ends only sessions that started before its
    /// event time plus this.
    pub clock_skew_secs: u64,
    /// RADIUS/TLS (RadSec, RFC 6614) listener, usually port 2083 (off when
    /// absent). Clients are entries with `radsec_name`.
    pub radsec_listen: Option<SocketAddr>,
    /// The listener's certificate chain (PEM).
    pub radsec_cert: Option<PathBuf>,
    /// Its private key (PEM; mode 600).
    pub radsec_key: Option<PathBuf>,
    /// The CA that issues RadSec clients' certificates (PEM).
    pub radsec_client_ca: Option<PathBuf>,
    /// A RadSec connection silent this long is closed (RFC 6614 §2.6).
    pub radsec_idle_secs: u64,
    /// RadSec connections at once, at most; more are closed on accept.
    pub radsec_max_connections: usize,
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
            clock_skew_secs: 30,
            radsec_listen: None,
            radsec_cert: None,
            radsec_key: None,
            radsec_client_ca: None,
            radsec_idle_secs: 300,
            radsec_max_connections: 256,
        }
    }
}

impl RadiusConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.is_some() && self.clients.is_empty() {
            return Err("radius.listen is set but no radius client (CIDR=SECRET) is configured".into());
        }
        if self.radsec_listen.is_some() {
            if self.listen.is_none() {
                return Err(
                    "radius.radsec_listen goes with radius.listen (the accounting source it belongs to)".into(),
                );
            }
            if self.radsec_cert.is_none() || self.radsec_key.is_none() || self.radsec_client_ca.is_none() {
                return Err("radius.radsec_listen needs radsec_cert, radsec_key and radsec_client_ca".into());
            }
            if self.clients.iter().all(|c| c.radsec_name.is_none()) {
                return Err("radius.radsec_listen is set but no client has a radsec_name".into());
            }
            if self.radsec_idle_secs == 0 || self.radsec_max_connections == 0 {
                return Err("radsec_idle_secs and radsec_max_connections must be at least 1".into());
            }
        }
        if self.stale_after_intervals == 0 || self.default_interim_secs == 0 {
            return Err("stale_after_intervals and default_interim_secs must be at least 1".into());
        }
        // Added to clock readings: bounded, so the sums cannot overflow.
        if self.clock_skew_secs > 86_400 || self.disconnect_timeout_secs > 300 {
            return Err("clock_skew_secs must be at most 86400 and disconnect_timeout_secs at most 300".into());
        }
        for (i, c) in self.clients.iter().enumerate() {
            if self.clients[..i].iter().any(|o| o.name == c.name) {
                return Err(format!("radius client name {:?} is used twice", c.name));
            }
            if !c.nas.is_empty() && c.coa.is_none() && c.single_address().is_none() {
                return Err(format!(
                    "radius client {:?} speaks for other NASes (nas = …) from a range of addresses: \
                     set coa = \"ADDR:PORT\" so hang-ups know where to go",
                    c.name
                ));
            }
        }
        Ok(())
    }

    /// The most specific client entry whose network holds `ip` (whatever
    /// its transport: the owner of the address); of equally specific
    /// ones, the first.
    pub fn client_for(&self, ip: IpAddr) -> Option<&RadiusClient> {
        let mut best: Option<&RadiusClient> = None;
        for c in self.clients.iter().filter(|c| c.contains(ip)) {
            if best.is_none_or(|b| c.prefix_len > b.prefix_len) {
                best = Some(c);
            }
        }
        best
    }

    /// The index of the most specific UDP client entry holding `ip`: who
    /// sent a datagram. RadSec entries are not UDP clients.
    pub fn client_index(&self, ip: IpAddr) -> Option<usize> {
        (0..self.clients.len())
            .filter(|&i| self.clients[i].radsec_name.is_none() && self.clients[i].contains(ip))
            .max_by_key(|&i| self.clients[i].prefix_len)
    }
}

/// One NAS (or range of NASes, or a proxy) and its shared secret.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(try_from = "ClientEntry")]
pub struct RadiusClient {
    /// What logs, metrics and hang-ups call it [default: the CIDR].
    pub name: String,
    /// Network address.
    pub network: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Shared secret.
    pub secret: Vec<u8>,
    /// Where the secret came from, when it is a file (checked by
    /// `--check-config`).
    pub secret_file: Option<PathBuf>,
    /// NAS identities this client may speak for besides its own addresses
    /// (a proxy): networks of NAS-IP(v6)-Address, or NAS-Identifier globs.
    pub nas: Vec<NasGrant>,
    /// Where Disconnect/CoA-Requests for its sessions go [default: the
    /// NAS's address at `disconnect_port`; a proxy's own address; for a
    /// RadSec client, its address at 2083 over TLS].
    pub coa: Option<SocketAddr>,
    /// A RadSec client: the name (DNS or IP subject alternative name) its
    /// certificate must carry; it connects from `cidr`. Its secret is
    /// "radsec" (RFC 6614 §2.3) unless given.
    pub radsec_name: Option<String>,
}

/// Never prints the secret.
impl std::fmt::Debug for RadiusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadiusClient")
            .field("name", &self.name)
            .field("network", &format_args!("{}/{}", self.network, self.prefix_len))
            .field("nas", &self.nas)
            .field("coa", &self.coa)
            .field("radsec_name", &self.radsec_name)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    cidr: String,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    name: Option<String>,
    #[serde(default)]
    nas: Vec<String>,
    coa: Option<SocketAddr>,
    radsec_name: Option<String>,
}

impl TryFrom<ClientEntry> for RadiusClient {
    type Error = String;
    fn try_from(e: ClientEntry) -> Result<Self, String> {
        let secret = match (e.secret, e.secret_file) {
            (Some(s), None) => Secret::Inline(s),
            (None, Some(f)) => Secret::File(f),
            // RFC 6614 §2.3: over TLS the secret is fixed.
            (None, None) if e.radsec_name.is_some() => Secret::Inline("radsec".into()),
            _ => {
                return Err(format!(
                    "radius client {:?}: set exactly one of secret and secret_file",
                    e.cidr
                ))
            }
        };
        let mut client = RadiusClient::new(&e.cidr, secret)?;
        if let Some(name) = e.name {
            if name.is_empty() || name.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "radius client {:?}: name must be non-empty printable text",
                    e.cidr
                ));
            }
            client.name = name;
        }
        client.nas = e
            .nas
            .iter()
            .map(|g| g.parse())
            .collect::<Result<_, _>>()
            .map_err(|m| format!("radius client {:?}: {m}", client.name))?;
        client.coa = e.coa;
        if let Some(name) = &e.radsec_name {
            rustls_pki_types::ServerName::try_from(name.as_str()).map_err(|_| {
                format!(
                    "radius client {:?}: radsec_name {name:?} is not a DNS name or IP address",
                    client.name
                )
            })?;
        }
        client.radsec_name = e.radsec_name;
        Ok(client)
    }
}

/// Where a client's secret is written.
enum Secret {
    Inline(String),
    File(PathBuf),
}

/// Longest shared secret accepted (RFC 2865 sets none; 256 bytes is far
/// past any NAS's limit and keeps a mistaken file from being read whole).
const MAX_SECRET: u64 = 256;

impl RadiusClient {
    fn new(cidr: &str, secret: Secret) -> Result<Self, String> {
        let (network, prefix_len) = parse_cidr(cidr).map_err(|e| format!("radius client {e}"))?;
        let (secret, secret_file) = match secret {
            Secret::Inline(s) => (s.into_bytes(), None),
            Secret::File(path) => (
                read_secret_file(&path).map_err(|m| format!("radius client {cidr:?}: {m}"))?,
                Some(path),
            ),
        };
        if secret.is_empty() {
            return Err(format!("radius client {cidr:?}: empty secret"));
        }
        Ok(RadiusClient {
            name: format!("{network}/{prefix_len}"),
            network,
            prefix_len,
            secret,
            secret_file,
            nas: Vec::new(),
            coa: None,
            radsec_name: None,
        })
    }

    /// True when `ip` is inside this entry's network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        network_contains(self.network, self.prefix_len, ip)
    }

    /// The one address of a /32 or /128 entry.
    pub fn single_address(&self) -> Option<IpAddr> {
        let host = if self.network.is_ipv4() { 32 } else { 128 };
        (self.prefix_len == host).then_some(self.network)
    }
}

/// Reads a secret file: private to the daemon (see
/// [`rras_source::private_file`]), one line, the trailing newline dropped.
fn read_secret_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let mut bytes = rras_source::private_file::read(path, MAX_SECRET)?;
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    if bytes.contains(&b'\n') {
        return Err(format!("secret file {} holds more than one line", path.display()));
    }
    Ok(bytes)
}

impl FromStr for RadiusClient {
    type Err = String;
    /// `127.0.0.1/32=SECRET`, `10.0.0.0/8=SECRET`, `::1=SECRET`, or
    /// `CIDR=@FILE` to read the secret from a file (kept off the command
    /// line, which every local user can read in /proc).
    fn from_str(s: &str) -> Result<Self, String> {
        let (cidr, secret) = s
            .split_once('=')
            .ok_or_else(|| format!("radius client {s:?}: expected CIDR=SECRET or CIDR=@FILE"))?;
        let secret = match secret.strip_prefix('@') {
            Some(file) => Secret::File(file.into()),
            None => Secret::Inline(secret.to_owned()),
        };
        RadiusClient::new(cidr, secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching_and_most_specific_secret() {
        let secret_for =
            |config: &RadiusConfig, ip: &str| config.client_for(ip.parse().unwrap()).map(|c| c.secret.clone());
        let config = RadiusConfig {
            clients: vec![
                "10.0.0.0/8=wide".parse().unwrap(),
                "10.1.2.3/32=narrow".parse().unwrap(),
            ],
            ..Default::default()
        };
        assert_eq!(secret_for(&config, "10.1.2.3"), Some(b"narrow".to_vec()));
        assert_eq!(secret_for(&config, "10.9.9.9"), Some(b"wide".to_vec()));
        assert_eq!(secret_for(&config, "::ffff:10.9.9.9"), Some(b"wide".to_vec()));
        assert_eq!(secret_for(&config, "192.0.2.1"), None);
        let v6: RadiusClient = "2001:db8::/32=x".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let all: RadiusClient = "0.0.0.0/0=x".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        assert_eq!(config.clients[1].name, "10.1.2.3/32");
    }

    #[test]
    fn bad_entries() {
        assert!("10.0.0.0/8".parse::<RadiusClient>().is_err());
        assert!("10.0.0.0/33=x".parse::<RadiusClient>().is_err());
        assert!("nas.example=x".parse::<RadiusClient>().is_err());
        assert!("10.0.0.1=".parse::<RadiusClient>().is_err());
        assert!("10.0.0.1=@/nonexistent/secret".parse::<RadiusClient>().is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c: RadiusClient = "10.0.0.1=hunter2-secret".parse().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn secret_file_must_be_private_and_loses_its_newline() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nas.secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let spec = format!("10.0.0.1=@{}", path.display());
        let err = spec.parse::<RadiusClient>().unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c: RadiusClient = spec.parse().unwrap();
        assert_eq!(c.secret, b"s3cret");
        assert_eq!(c.secret_file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn toml_entries_with_names_grants_and_coa() {
        #[derive(Deserialize)]
        struct T {
            radius: RadiusConfig,
        }
        let t: T = toml::from_str(
            r#"[radius]
clients = [
  { cidr = "127.0.0.1/32", secret = "a", name = "nas-a" },
  { cidr = "127.0.0.3", secret = "p", name = "proxy", nas = ["10.1.0.0/16", "ap-*"], coa = "127.0.0.3:3799" },
]"#,
        )
        .unwrap();
        t.radius.validate().unwrap();
        assert_eq!(t.radius.clients[1].nas.len(), 2);
        assert_eq!(t.radius.clients[1].coa, Some("127.0.0.3:3799".parse().unwrap()));
        let both = toml::from_str::<T>(
            "[radius]\nclients = [ { cidr = \"10.0.0.1\", secret = \"a\", secret_file = \"/x\" } ]",
        );
        assert!(both.is_err());
        let wide_proxy = RadiusConfig {
            clients: vec![RadiusClient {
                nas: vec!["ap-*".parse().unwrap()],
                ..RadiusClient::from_str("10.0.0.0/24=x").unwrap()
            }],
            ..Default::default()
        };
        assert!(wide_proxy.validate().unwrap_err().contains("coa"));
    }
}
