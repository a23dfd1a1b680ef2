//! ocserv's control interface through `occtl`: `--json show users` lists
//! the sessions, `disconnect id N` ends one.
//!
//! occtl's JSON is loose (numbers as strings, "(none)" for absent values,
//! fields missing when occtl cannot read them — `RX`/`TX` come from the
//! `vpnsN` device, so occtl must run in ocserv's network namespace to have
//! them). Everything is checked; a field that does not parse is absent, an
//! entry without an `ID` is skipped, a reply that is not a JSON array is an
//! error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde_json::Value;

use rras_source::control::{self, ControlError, Limits};

/// One ocserv session, as `show users` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OcUser {
    /// The session's id (`disconnect id N`).
    pub id: u64,
    /// Login name.
    pub username: String,
    /// Group, if one was chosen.
    pub groupname: Option<String>,
    /// "connected", "pre-auth", "authenticating" …
    pub state: String,
    /// The server-side tun device (vpns0 …).
    pub device: String,
    /// The client's outer address.
    pub remote_ip: Option<IpAddr>,
    /// The server's outer address for this session.
    pub local_ip: Option<IpAddr>,
    /// Client's address inside the tunnel.
    pub ipv4: Option<Ipv4Addr>,
    /// Client's IPv6 address inside the tunnel.
    pub ipv6: Option<Ipv6Addr>,
    /// Bytes received from the client (the device's RX).
    pub rx_bytes: Option<u64>,
    /// Bytes sent to the client.
    pub tx_bytes: Option<u64>,
    /// How long ago it connected (`_Connected at`: seconds up to an hour,
    /// minutes up to a day).
    pub connected_for: Option<Duration>,
    /// ocserv's short session id.
    pub session: String,
    /// The client's User-Agent.
    pub user_agent: String,
    /// TLS ciphersuite.
    pub tls_cipher: String,
    /// DTLS cipher.
    pub dtls_cipher: String,
    /// The client's hostname, as it sent it.
    pub hostname: String,
    /// The virtual host.
    pub vhost: String,
}

/// A string field (numbers are accepted and printed); "(none)" and ""
/// are absent.
fn text(entry: &Value, key: &str) -> Option<String> {
    let s = match entry.get(key)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s != "(none)").then_some(s)
}

fn number(entry: &Value, key: &str) -> Option<u64> {
    match entry.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// occtl's relative times: `"    4s"`, `" 3m:12s"`, `" 2h:03m"`,
/// `"1d: 2h"`, `" 3w: 2d"`. None when it is not one.
pub fn parse_interval(s: &str) -> Option<Duration> {
    let mut secs: u64 = 0;
    let mut parts = 0;
    for part in s.split(':').map(str::trim) {
        let unit = part.chars().last()?;
        let value: u64 = part.get(..part.len() - unit.len_utf8())?.trim().parse().ok()?;
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        secs = secs.checked_add(value.checked_mul(scale)?)?;
        parts += 1;
    }
    (parts > 0).then(|| Duration::from_secs(secs))
}

/// Parses `occtl --json show users`.
pub fn parse_users(json: &str) -> Result<Vec<OcUser>, ControlError> {
    let value: Value = serde_json::from_str(json).map_err(|e| ControlError::Malformed(format!("occtl JSON: {e}")))?;
    let Value::Array(entries) = value else {
        return Err(ControlError::Malformed("occtl did not answer with a list".into()));
    };
    Ok(entries
        .iter()
        .filter_map(|e| {
            Some(OcUser {
                id: number(e, "ID")?,
                username: text(e, "Username").unwrap_or_default(),
                groupname: text(e, "Groupname"),
                state: text(e, "State").unwrap_or_default(),
                device: text(e, "Device").unwrap_or_default(),
                remote_ip: text(e, "Remote IP").and_then(|s| s.parse().ok()),
                local_ip: text(e, "Local Device IP").and_then(|s| s.parse().ok()),
                ipv4: text(e, "IPv4").and_then(|s| s.parse().ok()),
                ipv6: text(e, "IPv6").and_then(|s| s.parse().ok()),
                rx_bytes: number(e, "RX"),
                tx_bytes: number(e, "TX"),
                connected_for: text(e, "_Connected at").and_then(|s| parse_interval(&s)),
                session: text(e, "Session").unwrap_or_default(),
                user_agent: text(e, "User-Agent").unwrap_or_default(),
                tls_cipher: text(e, "TLS ciphersuite").unwrap_or_default(),
                dtls_cipher: text(e, "DTLS cipher").unwrap_or_default(),
                hostname: text(e, "Hostname").unwrap_or_default(),
                vhost: text(e, "vhost").unwrap_or_default(),
            })
        })
        .collect())
}

/// How to reach one ocserv: its occtl socket, the occtl binary, and the
/// network namespace to run occtl in (where the vpnsN devices are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occtl {
    /// `occtl-socket-file` of ocserv.conf.
    pub socket: String,
    /// The occtl program.
    pub program: String,
    /// `ip netns exec NS occtl …` when set.
    pub netns: Option<String>,
}

impl Occtl {
    async fn call(&self, args: &[&str]) -> Result<String, ControlError> {
        let mut full: Vec<&str> = Vec::with_capacity(args.len() + 6);
        let program = match &self.netns {
            Some(ns) => {
                full.extend(["netns", "exec", ns.as_str(), self.program.as_str()]);
                "ip"
            }
            None => self.program.as_str(),
        };
        full.extend(["-s", self.socket.as_str()]);
        full.extend_from_slice(args);
        control::run(program, &full, Limits::default()).await
    }

    /// The sessions.
    pub async fn users(&self) -> Result<Vec<OcUser>, ControlError> {
        parse_users(&self.call(&["--json", "show", "users"]).await?)
    }

    /// Ends session `id`.
    pub async fn disconnect(&self, id: u64) -> Result<(), ControlError> {
        self.call(&["disconnect", "id", &id.to_string()]).await.map(|_| ())
    }
}

/// occtl 1.1.6's `--json show users`, as captured in the lab (one session):
/// the seed of the fuzz target and the unit tests' input.
pub const SHOW_USERS_SAMPLE: &str = r#"[
  {
    "ID":  25424,
    "Username":  "user1",
    "Groupname":  "(none)",
    "State":  "connected",
    "vhost":  "default",
    "Device":  "vpns0",
    "MTU":  "1434",
    "Remote IP":  "10.200.3.2",
    "Location":  "unknown",
    "Local Device IP":  "10.200.3.1",
    "IPv4":  "10.200.13.15",
    "P-t-P IPv4":  "10.200.13.1",
    "User-Agent":  "Open AnyConnect VPN Agent v9.01-3",
    "RX":  "300",
    "TX":  "252",
    "_RX":  "300 bytes",
    "_TX":  "252 bytes",
    "DPD":  "60",
    "Hostname":  "vm",
    "Connected at":  "2026-11-25 19:33",
    "_Connected at":  "    1s",
    "Full session":  "Z27+0Te8noQojmsss4dXKQVUDOE=",
    "Session":  "Z27+0T",
    "TLS ciphersuite":  "(TLS1.3)-(ECDHE-SECP256R1)-(ECDSA-SECP256R1-SHA256)-(AES-256-GC",
    "DTLS cipher":  "(DTLS1.2)-(PSK)-(AES-256-GCM)",
    "DNS":	[],
    "Routes":	["10.200.13.0/255.255.255.0"]
  }
]"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_show_users() {
        let users = parse_users(SHOW_USERS_SAMPLE).unwrap();
        assert_eq!(users.len(), 1);
        let u = &users[0];
        assert_eq!(
            (u.id, u.username.as_str(), u.groupname.as_deref()),
            (25424, "user1", None)
        );
        assert_eq!(u.device, "vpns0");
        assert_eq!(u.remote_ip, Some("10.200.3.2".parse().unwrap()));
        assert_eq!(u.local_ip, Some("10.200.3.1".parse().unwrap()));
        assert_eq!(u.ipv4, Some("10.200.13.15".parse().unwrap()));
        assert_eq!((u.rx_bytes, u.tx_bytes), (Some(300), Some(252)));
        assert_eq!(u.connected_for, Some(Duration::from_secs(1)));
        assert_eq!(u.session, "Z27+0T");
        assert!(u.dtls_cipher.contains("AES-256-GCM"));
    }

    #[test]
    fn loose_and_hostile_replies() {
        assert!(parse_users("[]").unwrap().is_empty());
        assert!(parse_users("{}").is_err());
        assert!(parse_users("nl: cannot find vpns0\n[").is_err());
        // No ID: skipped. Absurd numbers: absent, not wrapped.
        let users = parse_users(
            r#"[{"Username":"x"},{"ID":"7","RX":"99999999999999999999","TX":-1,"IPv4":"300.1.1.1","_Connected at":"9999999999999999w"}]"#,
        )
        .unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(
            (users[0].id, users[0].rx_bytes, users[0].tx_bytes, users[0].ipv4),
            (7, None, None, None)
        );
        assert_eq!(users[0].connected_for, None);
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("    4s"), Some(Duration::from_secs(4)));
        assert_eq!(parse_interval(" 3m:12s"), Some(Duration::from_secs(192)));
        assert_eq!(parse_interval(" 2h:03m"), Some(Duration::from_secs(7380)));
        assert_eq!(parse_interval("1d: 2h"), Some(Duration::from_secs(93_600)));
        assert_eq!(
            parse_interval(" 3w: 2d"),
            Some(Duration::from_secs(3 * 604_800 + 2 * 86_400))
        );
        assert_eq!(parse_interval(""), None);
        assert_eq!(parse_interval("4x"), None);
        assert_eq!(parse_interval("s"), None);
    }
}
