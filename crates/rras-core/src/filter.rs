//! `ConnectionFilter`: which connections a listing, a watch or a page of
//! the web console is about. Every part that is set must match.

use crate::model::{Connection, EngineKind};

/// A filter on user name, engine, source instance and interface. User
/// and interface names compare without case, as Windows compares account
/// names (and as the console's indexes hold them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConnectionFilter {
    /// Only this user name (`wszUserName`, without the domain).
    pub user: Option<String>,
    /// Only this engine.
    pub engine: Option<EngineKind>,
    /// Only this source instance (an engine's default instance is named
    /// after the engine).
    pub instance: Option<String>,
    /// Only this interface (ppp5, wg0 …).
    pub interface: Option<String>,
}

impl ConnectionFilter {
    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.engine.is_none() && self.instance.is_none() && self.interface.is_none()
    }

    /// Whether `c` passes.
    pub fn matches(&self, c: &Connection) -> bool {
        let i = &c.info;
        self.user.as_ref().is_none_or(|u| same_text(&i.user_name, u))
            && self.engine.is_none_or(|e| i.source.engine == e)
            && self.instance.as_ref().is_none_or(|n| i.source.instance_name() == n)
            && self.interface.as_ref().is_none_or(|n| same_text(&i.interface_name, n))
    }
}

/// Equal without case (Unicode lower case, as the indexes compare).
fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectionHandle, ConnectionInfo, SourceKey};
    use std::time::SystemTime;

    #[test]
    fn every_set_part_must_match() {
        let mut info = ConnectionInfo::new(
            SourceKey::new(EngineKind::Radius, "nas", "s"),
            "alice",
            SystemTime::UNIX_EPOCH,
        );
        info.interface_name = "ppp5".into();
        let c = Connection {
            handle: ConnectionHandle::new(1).unwrap(),
            info,
        };
        assert!(ConnectionFilter::default().is_empty());
        assert!(ConnectionFilter::default().matches(&c));
        let mut f = ConnectionFilter {
            user: Some("alice".into()),
            engine: Some(EngineKind::Radius),
            instance: Some("radius".into()),
            interface: Some("ppp5".into()),
        };
        assert!(!f.is_empty() && f.matches(&c));
        f.user = Some("ALICE".into());
        assert!(f.matches(&c), "user names compare without case");
        f.interface = Some("ppp6".into());
        assert!(!f.matches(&c));
        f.interface = None;
        f.engine = Some(EngineKind::Openvpn);
        assert!(!f.matches(&c));
    }
}
