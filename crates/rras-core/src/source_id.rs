//! `SourceId`: one configured source instance — an engine kind plus the
//! instance's name. Every row an instance creates carries its id in its
//! [`SourceKey`], and an instance only ever reads, changes, ends or hangs
//! up rows with its own id, so two OpenVPN servers (or a wireguard-go and a
//! kernel WireGuard) side by side never touch each other's sessions.

use std::fmt;

use crate::model::{instance_id, instance_name, BadInstanceName};
use crate::{EngineKind, SourceKey, SourceRef};

/// A source instance's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId {
    kind: EngineKind,
    /// As stored in keys: "" for the default instance of `kind`.
    instance: String,
}

impl SourceId {
    /// Instance `name` of `kind` (empty or the kind's own name = the
    /// default instance, which the shorthand sections and flags configure).
    pub fn new(kind: EngineKind, name: &str) -> Result<Self, BadInstanceName> {
        Ok(SourceId {
            kind,
            instance: instance_id(kind, name)?,
        })
    }

    /// The default instance of `kind`.
    pub fn default_of(kind: EngineKind) -> Self {
        SourceId {
            kind,
            instance: String::new(),
        }
    }

    /// The id that owns `key`.
    pub fn of(key: &SourceKey) -> Self {
        SourceId {
            kind: key.engine,
            instance: key.instance.clone(),
        }
    }

    /// The engine kind.
    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// The id as stored in keys ("" for the default instance).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The instance's name as shown to admins (the kind's name for the
    /// default instance).
    pub fn name(&self) -> &str {
        instance_name(self.kind, &self.instance)
    }

    /// True when the row with identity `source` belongs to this instance.
    pub fn owns(&self, source: SourceRef<'_>) -> bool {
        source.engine == self.kind && source.instance == self.instance
    }

    /// The key of session `session_id` at `nas`, owned by this instance.
    pub fn key(&self, nas: impl Into<String>, session_id: impl Into<String>) -> SourceKey {
        SourceKey {
            engine: self.kind,
            instance: self.instance.clone(),
            nas: nas.into(),
            session_id: session_id.into(),
        }
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.instance.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{}/{}", self.kind, self.instance)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_by_kind_and_instance() {
        let a = SourceId::new(EngineKind::Openvpn, "ovpn-udp").unwrap();
        let b = SourceId::new(EngineKind::Openvpn, "ovpn-tcp").unwrap();
        let default = SourceId::new(EngineKind::Openvpn, "openvpn").unwrap();
        assert_eq!(default, SourceId::default_of(EngineKind::Openvpn));
        let key = a.key("/run/a.sock", "0@1");
        assert!(a.owns(SourceRef::of(&key)));
        assert!(!b.owns(SourceRef::of(&key)));
        assert!(!default.owns(SourceRef::of(&key)));
        assert_eq!(SourceId::of(&key), a);
        assert_eq!((a.name(), default.name()), ("ovpn-udp", "openvpn"));
        assert_eq!(a.to_string(), "openvpn/ovpn-udp");
        assert!(SourceId::new(EngineKind::Radius, "bad name").is_err());
        assert!(SourceId::new(EngineKind::Radius, &"x".repeat(65)).is_err());
    }
}
