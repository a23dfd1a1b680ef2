//! Where the fleet lives in NATS: bucket names, keys, subjects.
//!
//! A connection's key is `<node>.<handle>`: the node's persisted id (the
//! GUID `rasctl info` shows, valid as a NATS subject token) and the
//! connection handle in decimal. Node ids, not names: two nodes that an
//! operator named alike must never overwrite (or reconcile away) each
//! other's keys.

use std::fmt;

/// The buckets and subjects of one fleet. Every node and reader of a fleet
/// uses the same names; two fleets on one NATS account use two prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetNames {
    /// Bucket of live connections (`<node>.<handle>` → record).
    pub connections: String,
    /// Bucket of node heartbeats (`<node>` → [`crate::NodeBeat`] JSON).
    pub nodes: String,
    /// Subject prefix of requests to nodes
    /// (`<prefix>.<node>.disconnect.<operator>`).
    pub requests: String,
}

impl Default for FleetNames {
    fn default() -> Self {
        FleetNames {
            connections: "rras_connections".into(),
            nodes: "rras_nodes".into(),
            requests: "rras.fleet".into(),
        }
    }
}

impl FleetNames {
    /// The subject a connection's key is stored under.
    pub fn connection_subject(&self, key: &ConnectionKey) -> String {
        format!("$KV.{}.{key}", self.connections)
    }

    /// The subject filter of one node's connections.
    pub fn node_filter(&self, node: &str) -> String {
        format!("$KV.{}.{node}.>", self.connections)
    }

    /// The subject a node's heartbeat is stored under.
    pub fn beat_subject(&self, node: &str) -> String {
        format!("$KV.{}.{node}", self.nodes)
    }

    /// The subject `operator` sends a disconnect request for `node` on.
    /// The operator's name is part of the subject, not of the request, so
    /// NATS checks it: an operator's NATS user may publish only on subjects
    /// that end in its own name (docs/fleet.md has the permissions).
    pub fn disconnect_subject(&self, node: &str, operator: &str) -> String {
        format!("{}.{node}.disconnect.{operator}", self.requests)
    }

    /// The subjects a node takes disconnect requests on: every operator's.
    pub fn disconnect_filter(&self, node: &str) -> String {
        format!("{}.{node}.disconnect.*", self.requests)
    }

    /// The operator a disconnect request on `subject` came from, if the
    /// subject is one of `node`'s and names a well-formed operator.
    pub fn disconnect_operator<'a>(&self, node: &str, subject: &'a str) -> Option<&'a str> {
        let operator = subject
            .strip_prefix(self.requests.as_str())?
            .strip_prefix('.')?
            .strip_prefix(node)?
            .strip_prefix(".disconnect.")?;
        is_operator_name(operator).then_some(operator)
    }

    /// The subject `node` answers history requests on.
    pub fn history_subject(&self, node: &str) -> String {
        format!("{}.{node}.history", self.requests)
    }

    /// The subject `node` answers usage report requests on.
    pub fn usage_subject(&self, node: &str) -> String {
        format!("{}.{node}.usage", self.requests)
    }

    /// The subject prefix of this node's own request inboxes: its replies
    /// and JetStream answers arrive there, so a node's NATS user needs to
    /// read no one else's (`_INBOX_<node>.>`).
    pub fn node_inbox_prefix(node: &str) -> String {
        format!("_INBOX_{node}")
    }
}

/// An operator's name as it appears in a disconnect subject (and so in the
/// node's audit trail as `fleet:<name>`): 1–64 of `[A-Za-z0-9-_]`, which
/// is always a single NATS subject token.
pub fn is_operator_name(s: &str) -> bool {
    is_node_id(s)
}

/// `<node>.<handle>`: one connection of one node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionKey {
    /// The node id.
    pub node: String,
    /// The connection handle on that node.
    pub handle: u32,
}

impl fmt::Display for ConnectionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.handle)
    }
}

impl ConnectionKey {
    /// Parses a key from the bucket (`<node>.<handle>`); anything else is
    /// None (a foreign key in the bucket is skipped, not trusted).
    pub fn parse(key: &str) -> Option<Self> {
        let (node, handle) = Self::split(key)?;
        Some(ConnectionKey {
            node: node.to_owned(),
            handle,
        })
    }

    /// [`parse`](Self::parse) without allocating: the node id borrowed.
    pub fn split(key: &str) -> Option<(&str, u32)> {
        let (node, text) = key.rsplit_once('.')?;
        // Canonical decimal only: "012" and "+5" would be a second key
        // for the same connection.
        if text.is_empty() || text.len() > 10 || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let handle: u32 = text.parse().ok()?;
        is_node_id(node).then_some((node, handle))
    }
}

/// A node id as it may appear in a key or subject: 1–64 of `[A-Za-z0-9-_]`.
pub fn is_node_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_foreign_keys_are_refused() {
        let k = ConnectionKey {
            node: "0b1c2d3e-aaaa-bbbb-cccc-00112233aabb".into(),
            handle: 42,
        };
        assert_eq!(ConnectionKey::parse(&k.to_string()), Some(k.clone()));
        assert_eq!(ConnectionKey::split("n1.4294967295"), Some(("n1", u32::MAX)));
        for bad in [
            "",
            "x",
            "node.",
            ".5",
            "node.0",
            "node.012",
            "node.-1",
            "a.b.5",
            "node.99999999999",
            "node.4294967296",
            "node.00",
            "node.5 ",
            "n*de.5",
        ] {
            assert_eq!(ConnectionKey::parse(bad), None, "{bad}");
        }
        let names = FleetNames::default();
        assert_eq!(names.connection_subject(&k), format!("$KV.rras_connections.{k}"));
        assert_eq!(names.node_filter("n1"), "$KV.rras_connections.n1.>");
        assert_eq!(
            names.disconnect_subject("n1", "alice"),
            "rras.fleet.n1.disconnect.alice"
        );
        assert_eq!(names.disconnect_filter("n1"), "rras.fleet.n1.disconnect.*");
        assert_eq!(
            names.disconnect_operator("n1", "rras.fleet.n1.disconnect.alice"),
            Some("alice")
        );
        for foreign in [
            "rras.fleet.n2.disconnect.alice",
            "rras.fleet.n1.disconnect.",
            "rras.fleet.n1.disconnect",
            "rras.fleet.n1.disconnect.a.b",
            "rras.fleet.n1x.disconnect.alice",
            "rras.fleetx.n1.disconnect.alice",
        ] {
            assert_eq!(names.disconnect_operator("n1", foreign), None, "{foreign}");
        }
    }
}
