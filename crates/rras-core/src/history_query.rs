//! `HistoryQuery`: which connections, live or ended, an operator asks for
//! — "who had 10.1.2.3 at 14:05?", "alice's sessions this month". One
//! definition of a match, used by the store over its history (after its
//! indexes picked the candidates), by the daemon over the live table and
//! by the tests.
//!
//! - **User**: a prefix of the account without case, with or without its
//!   domain: `ali` and `alice` find `CORP\alice` and `alice@corp.example`;
//!   `corp\al` finds `CORP\alice` only.
//! - **Address**: the client's address in the tunnel (IPv4 or IPv6).
//! - **Time**: the sessions that overlap `[from, to]` — started at or
//!   before `to`, ended at or after `from` (a live session has not ended).
//!   An instant is `from == to`.
//! - **NAS, engine, instance**: equal (NAS and instance without case).

use std::net::IpAddr;
use std::time::SystemTime;

use crate::model::{ConnectionInfo, EngineKind};

/// What to look for; every part that is set must match.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// A prefix of the account (lower case is not required).
    pub user: Option<String>,
    /// The client's address in the tunnel.
    pub address: Option<IpAddr>,
    /// Sessions that had not ended before this.
    pub from: Option<SystemTime>,
    /// Sessions that had started by this.
    pub to: Option<SystemTime>,
    /// The NAS (RADIUS) or what reported the session for other engines.
    pub nas: Option<String>,
    /// The engine.
    pub engine: Option<EngineKind>,
    /// The source instance (an engine's default instance is named after
    /// the engine).
    pub instance: Option<String>,
}

impl HistoryQuery {
    /// True when nothing is asked: every connection matches.
    pub fn is_empty(&self) -> bool {
        *self == HistoryQuery::default()
    }

    /// The sessions that were up at `at`.
    pub fn at(mut self, at: SystemTime) -> Self {
        self.from = Some(at);
        self.to = Some(at);
        self
    }

    /// Whether the connection `info`, ended at `ended_at` (None: live),
    /// matches.
    pub fn matches(&self, info: &ConnectionInfo, ended_at: Option<SystemTime>) -> bool {
        let user = self.user.as_deref().map(lower);
        user.is_none_or(|u| user_keys(info).iter().any(|k| k.starts_with(&u)))
            && self.address.is_none_or(|a| addresses(info).contains(&a))
            && self.to.is_none_or(|to| info.started_at <= to)
            && self.from.is_none_or(|from| ended_at.is_none_or(|e| e >= from))
            && self.nas.as_ref().is_none_or(|n| lower(&info.source.nas) == lower(n))
            && self.engine.is_none_or(|e| info.source.engine == e)
            && self
                .instance
                .as_ref()
                .is_none_or(|n| lower(info.source.instance_name()) == lower(n))
    }
}

/// What a user query is compared with, lower case: the whole account
/// (`corp\alice`, `alice@corp.example`) and, when it has a domain or realm,
/// the bare name (`alice`). The store's user index holds the same keys.
pub fn user_keys(info: &ConnectionInfo) -> Vec<String> {
    account_keys(&info.account())
}

/// [`user_keys`] of an account as `ConnectionInfo::account` writes it.
pub fn account_keys(account: &str) -> Vec<String> {
    let account = lower(account);
    let bare = account
        .rsplit_once('\\')
        .map(|(_, name)| name)
        .unwrap_or(&account)
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    if bare == account || bare.is_empty() {
        vec![account]
    } else {
        vec![account, bare]
    }
}

/// The client's addresses in the tunnel: IPv4 and IPv6 where it has both.
pub fn addresses(info: &ConnectionInfo) -> Vec<IpAddr> {
    let v4 = info.projection.ipv4().remote_address.map(IpAddr::V4);
    let v6 = info.projection.ipv6().remote_address().map(IpAddr::V6);
    v4.into_iter().chain(v6).collect()
}

/// Lower case as the indexes hold names (Unicode).
pub fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceKey;
    use std::time::Duration;

    fn info(account: &str, v4: &str, started: u64) -> ConnectionInfo {
        let mut i = ConnectionInfo::new(
            SourceKey::new(EngineKind::Radius, "nas-1", "s"),
            "x",
            SystemTime::UNIX_EPOCH + Duration::from_secs(started),
        );
        i.set_account(account);
        i.projection.ipv4_mut().remote_address = Some(v4.parse().unwrap());
        i
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn user_with_or_without_domain_by_prefix_without_case() {
        let corp = info("CORP\\Alice", "10.0.0.1", 0);
        let realm = info("alice@corp.example", "10.0.0.2", 0);
        let q = |u: &str| HistoryQuery {
            user: Some(u.into()),
            ..Default::default()
        };
        for hit in ["alice", "ALI", "a"] {
            assert!(q(hit).matches(&corp, None), "{hit}");
            assert!(q(hit).matches(&realm, None), "{hit}");
        }
        assert!(q("corp\\al").matches(&corp, None));
        assert!(!q("corp\\al").matches(&realm, None));
        assert!(q("alice@corp").matches(&realm, None));
        assert!(!q("bob").matches(&corp, None));
        assert!(!q("lice").matches(&corp, None), "a prefix, not a substring");
        assert_eq!(user_keys(&corp), ["corp\\alice", "alice"]);
        assert_eq!(user_keys(&info("bob", "10.0.0.3", 0)), ["bob"]);
    }

    #[test]
    fn an_address_at_an_instant_and_over_a_range() {
        let s = info("alice", "10.1.2.3", 1_000);
        let ended = Some(t(2_000));
        let at = |x| {
            HistoryQuery {
                address: Some("10.1.2.3".parse().unwrap()),
                ..Default::default()
            }
            .at(t(x))
        };
        assert!(at(1_000).matches(&s, ended), "the first second counts");
        assert!(at(1_500).matches(&s, ended));
        assert!(at(2_000).matches(&s, ended), "the last second counts");
        assert!(!at(999).matches(&s, ended));
        assert!(!at(2_001).matches(&s, ended));
        assert!(at(5_000).matches(&s, None), "a live session has not ended");
        let other = HistoryQuery {
            address: Some("10.1.2.4".parse().unwrap()),
            ..Default::default()
        };
        assert!(!other.matches(&s, ended));
        let range = |from, to| HistoryQuery {
            from: Some(t(from)),
            to: Some(t(to)),
            ..Default::default()
        };
        assert!(range(0, 1_000).matches(&s, ended), "overlaps at its start");
        assert!(range(1_999, 9_999).matches(&s, ended), "overlaps at its end");
        assert!(!range(0, 999).matches(&s, ended));
        assert!(!range(2_001, 3_000).matches(&s, ended));
    }

    #[test]
    fn nas_engine_and_instance() {
        let s = info("alice", "10.1.2.3", 0);
        let q = |nas: Option<&str>, engine, instance: Option<&str>| HistoryQuery {
            nas: nas.map(Into::into),
            engine,
            instance: instance.map(Into::into),
            ..Default::default()
        };
        assert!(q(Some("NAS-1"), Some(EngineKind::Radius), Some("radius")).matches(&s, None));
        assert!(!q(Some("nas-2"), None, None).matches(&s, None));
        assert!(!q(None, Some(EngineKind::Ocserv), None).matches(&s, None));
        assert!(!q(None, None, Some("acct-b")).matches(&s, None));
        assert!(HistoryQuery::default().is_empty());
        assert!(HistoryQuery::default().matches(&s, Some(t(1))));
    }
}
