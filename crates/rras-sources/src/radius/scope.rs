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

use std::net::SocketAddr;

use super::config::{RadiusClient, RadiusConfig};
pub use super::nas::NasClaim;

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
    use crate::radius::nas::NasGrant;

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
