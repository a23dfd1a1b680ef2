//! Who is calling, and what they may do.
//!
//! On the Unix socket the kernel tells us the peer's uid, gid and pid
//! (SO_PEERCRED). Root and the daemon's own user are admins; configured
//! admin users and members of the admin group are admins; reader users and
//! members of the reader group may only read. Over TCP (TLS only) a client
//! certificate's SAN (`certificate.rs`) or a bearer token (`tokens.rs`)
//! gives the role. Everybody
//! else gets ERROR_ACCESS_DENIED on every method, before anything is looked
//! up, so a denied caller learns nothing.

use std::sync::Arc;

use rras_core::Win32Error;
use tonic::Request;

mod certificate;
mod peer_groups;
pub mod tokens;

use self::certificate::role_for_certificate;
use self::peer_groups::PeerGroups;
pub use self::tokens::{token_digest, token_hash, TokenStore};
use crate::tls::TlsConfig;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Enumerate, get info, server info.
    Reader,
    /// Everything, including disconnect, clear stats and reports.
    Admin,
}

/// Who the caller is, as far as authentication could tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A local process on the Unix socket (SO_PEERCRED).
    Unix {
        /// Peer uid.
        uid: u32,
        /// Peer primary gid.
        gid: u32,
        /// Peer pid (0 if unknown).
        pid: i32,
    },
    /// A TLS client certificate, by the configured name it matched.
    Certificate(String),
    /// A bearer token, by its name in the tokens file.
    Token(String),
    /// Nothing we recognise (remote address, if known).
    Anonymous(String),
}

/// What proved a caller's identity. Long-lived things opened under it —
/// a web session, its Server-Sent Events, a Watch stream — keep it and ask
/// again ([`Authorizer::caller_for`]) against the configuration and tokens
/// file in force now, so a deleted token line, a removed certificate name
/// or a role lowered on reload bites at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Unix socket peer credentials.
    Unix {
        /// Peer uid.
        uid: u32,
        /// Peer primary gid.
        gid: u32,
        /// Peer pid, when known.
        pid: Option<i32>,
    },
    /// A verified client certificate (its end-entity certificate).
    Certificate(rustls_pki_types::CertificateDer<'static>),
    /// A bearer token, by its SHA-256 (the token itself is not kept).
    Token([u8; 32]),
    /// Nothing that proves anything (remote address, if known).
    Nothing(String),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// The role it was given, if any.
    pub role: Option<Role>,
}

impl Caller {
    /// A stable identity string for session ownership, logs and the audit.
    pub fn identity(&self) -> String {
        match &self.principal {
            Principal::Unix { uid, .. } => format!("uid:{uid}"),
            Principal::Certificate(name) => format!("cert:{name}"),
            Principal::Token(name) => format!("token:{name}"),
            Principal::Anonymous(from) => format!("anonymous:{from}"),
        }
    }

    /// Ok if the caller has at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Win32Error> {
        match self.role {
            Some(role) if role >= needed => Ok(()),
            _ => Err(Win32Error::AccessDenied),
        }
    }
}

/// The authorizer in use; SIGHUP swaps in a new one.
pub type SharedAuthorizer = Arc<parking_lot::RwLock<Arc<Authorizer>>>;

/// Maps peer credentials to roles.
#[derive(Debug, Clone)]
pub struct Authorizer {
    daemon_uid: u32,
    admin_gid: Option<u32>,
    reader_gid: Option<u32>,
    admin_uids: Vec<u32>,
    reader_uids: Vec<u32>,
    tls: TlsConfig,
    tokens: Option<Arc<TokenStore>>,
    peer_groups: Arc<PeerGroups>,
}

/// A configured group or user that does not exist.
/// Who has a role on the Unix socket: the configuration's `admin_group`,
/// `reader_group`, `admin_users` and `reader_users` (names or ids).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalRoles<'a> {
    /// Members are admins.
    pub admin_group: Option<&'a str>,
    /// Members may read.
    pub reader_group: Option<&'a str>,
    /// Users who are admins.
    pub admin_users: &'a [String],
    /// Users who are readers.
    pub reader_users: &'a [String],
}

#[derive(Debug, thiserror::Error)]
#[error("config key `{key}`: {name:?} does not exist")]
pub struct UnknownGroup {
    /// admin_group, reader_group, admin_users or reader_users.
    pub key: &'static str,
    /// The name.
    pub name: String,
}

fn resolve(key: &'static str, name: Option<&str>) -> Result<Option<u32>, UnknownGroup> {
    let Some(name) = name else { return Ok(None) };
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Some(gid));
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(Some(g.gid.as_raw())),
        _ => Err(UnknownGroup {
            key,
            name: name.to_owned(),
        }),
    }
}

fn resolve_users(key: &'static str, names: &[String]) -> Result<Vec<u32>, UnknownGroup> {
    names
        .iter()
        .map(|name| {
            if let Ok(uid) = name.parse::<u32>() {
                return Ok(uid);
            }
            match nix::unistd::User::from_name(name) {
                Ok(Some(u)) => Ok(u.uid.as_raw()),
                _ => Err(UnknownGroup {
                    key,
                    name: name.clone(),
                }),
            }
        })
        .collect()
}

impl Authorizer {
    /// Resolves the configured group and user names (or numeric ids) of
    /// the Unix socket's roles; TLS callers are mapped by `tls`.
    pub fn new(roles: LocalRoles<'_>, tls: &TlsConfig) -> Result<Self, UnknownGroup> {
        Ok(Authorizer {
            daemon_uid: nix::unistd::getuid().as_raw(),
            admin_gid: resolve("admin_group", roles.admin_group)?,
            reader_gid: resolve("reader_group", roles.reader_group)?,
            admin_uids: resolve_users("admin_users", roles.admin_users)?,
            reader_uids: resolve_users("reader_users", roles.reader_users)?,
            tls: tls.clone(),
            tokens: tls.tokens_file.as_deref().map(|p| Arc::new(TokenStore::new(p))),
            peer_groups: Arc::default(),
        })
    }

    /// Who sent `request`: SO_PEERCRED on the Unix socket; over TLS the
    /// client certificate (if its SAN maps to a role), else a bearer token
    /// (`authorization: Bearer …`), else anonymous.
    pub fn caller_of<T>(&self, request: &Request<T>) -> Caller {
        self.identify(request).1
    }

    /// What proves who sent `request` (see [`caller_of`](Self::caller_of)).
    pub fn credential_of<T>(&self, request: &Request<T>) -> Credential {
        self.identify(request).0
    }

    /// The credential and the caller it proves, each check made once (a
    /// certificate's names, a token's line): every admin call comes here.
    fn identify<T>(&self, request: &Request<T>) -> (Credential, Caller) {
        if let Some(cred) = request
            .extensions()
            .get::<tonic::transport::server::UdsConnectInfo>()
            .and_then(|i| i.peer_cred)
        {
            let caller = self.caller(cred.uid(), cred.gid(), cred.pid());
            let credential = Credential::Unix {
                uid: cred.uid(),
                gid: cred.gid(),
                pid: cred.pid(),
            };
            return (credential, caller);
        }
        if let Some(certs) = request.peer_certs() {
            if let Some((leaf, (name, role))) = certs
                .first()
                .and_then(|leaf| Some((leaf, role_for_certificate(&self.tls, leaf)?)))
            {
                let caller = Caller {
                    principal: Principal::Certificate(name),
                    role: Some(role),
                };
                return (Credential::Certificate(leaf.clone()), caller);
            }
        }
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let (Some(tokens), Some(token)) = (&self.tokens, token) {
            let digest = token_digest(token);
            if let Some((name, role)) = tokens.verify_digest(&digest) {
                let caller = Caller {
                    principal: Principal::Token(name),
                    role: Some(role),
                };
                return (Credential::Token(digest), caller);
            }
        }
        let from = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown".into());
        let caller = Caller {
            principal: Principal::Anonymous(from.clone()),
            role: None,
        };
        (Credential::Nothing(from), caller)
    }

    /// The caller `credential` proves under the configuration in force now
    /// (its role None when it no longer has one).
    pub fn caller_for(&self, credential: &Credential) -> Caller {
        match credential {
            Credential::Unix { uid, gid, pid } => self.caller(*uid, *gid, *pid),
            Credential::Certificate(leaf) => match role_for_certificate(&self.tls, leaf) {
                Some((name, role)) => Caller {
                    principal: Principal::Certificate(name),
                    role: Some(role),
                },
                None => Caller {
                    principal: Principal::Anonymous("certificate no longer named".into()),
                    role: None,
                },
            },
            Credential::Token(digest) => match self.tokens.as_ref().and_then(|t| t.verify_digest(digest)) {
                Some((name, role)) => Caller {
                    principal: Principal::Token(name),
                    role: Some(role),
                },
                None => Caller {
                    principal: Principal::Anonymous("token no longer in the tokens file".into()),
                    role: None,
                },
            },
            Credential::Nothing(from) => Caller {
                principal: Principal::Anonymous(from.clone()),
                role: None,
            },
        }
    }

    /// The caller a bearer token names (the web console's sign-in), if the
    /// tokens file has it.
    pub fn token_caller(&self, token: &str) -> Option<Caller> {
        let (name, role) = self.tokens.as_ref()?.verify(token)?;
        Some(Caller {
            principal: Principal::Token(name),
            role: Some(role),
        })
    }

    /// The caller a verified client certificate names, if its SAN maps to
    /// a role.
    pub fn certificate_caller(&self, leaf: &rustls_pki_types::CertificateDer<'_>) -> Option<Caller> {
        let (name, role) = role_for_certificate(&self.tls, leaf)?;
        Some(Caller {
            principal: Principal::Certificate(name),
            role: Some(role),
        })
    }

    /// The admin gid, if configured (the socket is chowned to it).
    pub fn admin_gid(&self) -> Option<u32> {
        self.admin_gid
    }

    /// The caller behind peer credentials. The peer's supplementary groups
    /// are looked up only when its uid and primary gid do not decide the
    /// role already: reading them costs more than the rest of a page's work
    /// (a profile of paging under load put `/proc/PID/status` at 60 % of
    /// the call's CPU, for root callers whose role never depended on it).
    pub fn caller(&self, uid: u32, gid: u32, pid: Option<i32>) -> Caller {
        let groups = || pid.map(|pid| self.peer_groups.of(pid, uid, gid)).unwrap_or_default();
        Caller {
            principal: Principal::Unix {
                uid,
                gid,
                pid: pid.unwrap_or(0),
            },
            role: self.role_of(uid, gid, groups),
        }
    }

    /// Admin beats reader, whichever way each is granted (by uid, primary
    /// gid or supplementary group); `groups` is called at most once, and
    /// only when a configured group is not the primary gid.
    fn role_of(&self, uid: u32, gid: u32, groups: impl FnOnce() -> Arc<[u32]>) -> Option<Role> {
        if uid == 0 || uid == self.daemon_uid || self.admin_uids.contains(&uid) || self.admin_gid == Some(gid) {
            return Some(Role::Admin);
        }
        let reader_by_id = self.reader_uids.contains(&uid) || self.reader_gid == Some(gid);
        let unsettled = |g: Option<u32>| g.is_some_and(|g| g != gid);
        let needs_groups = unsettled(self.admin_gid) || (!reader_by_id && unsettled(self.reader_gid));
        let groups = if needs_groups { groups() } else { Arc::from([]) };
        let member = |g: Option<u32>| g.is_some_and(|g| groups.contains(&g));
        if member(self.admin_gid) {
            Some(Role::Admin)
        } else if reader_by_id || member(self.reader_gid) {
            Some(Role::Reader)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Daemon uid 4242, admin uid 1500, reader uid 1600, and these groups.
    fn authorizer(admin_gid: Option<u32>, reader_gid: Option<u32>) -> Authorizer {
        Authorizer {
            daemon_uid: 4242,
            admin_gid,
            reader_gid,
            admin_uids: vec![1500],
            reader_uids: vec![1600],
            tls: TlsConfig::default(),
            tokens: None,
            peer_groups: Arc::default(),
        }
    }

    #[test]
    fn roles_from_credentials() {
        let auth = authorizer(Some(500), Some(600));
        assert_eq!(auth.caller(1500, 1, None).role, Some(Role::Admin));
        assert_eq!(auth.caller(1600, 1, None).role, Some(Role::Reader));
        assert_eq!(auth.caller(0, 0, None).role, Some(Role::Admin));
        assert_eq!(auth.caller(4242, 1, None).role, Some(Role::Admin));
        assert_eq!(auth.caller(1000, 500, None).role, Some(Role::Admin));
        assert_eq!(auth.caller(1000, 600, None).role, Some(Role::Reader));
        assert_eq!(auth.caller(1000, 1000, None).role, None);
        let reader = auth.caller(1000, 600, None);
        assert_eq!(reader.require(Role::Reader), Ok(()));
        assert_eq!(reader.require(Role::Admin), Err(Win32Error::AccessDenied));
        assert_eq!(
            auth.caller(1000, 1000, None).require(Role::Reader),
            Err(Win32Error::AccessDenied)
        );
    }

    #[test]
    fn supplementary_groups_are_read_only_when_they_decide() {
        let both = authorizer(Some(500), Some(600));
        let role = |a: &Authorizer, uid, gid, groups: &[u32]| {
            let reads = std::cell::Cell::new(0);
            let role = a.role_of(uid, gid, || {
                reads.set(reads.get() + 1);
                Arc::from(groups)
            });
            (role, reads.get())
        };
        // Decided by uid or primary gid: nothing read.
        assert_eq!(role(&both, 0, 0, &[]), (Some(Role::Admin), 0));
        assert_eq!(role(&both, 4242, 7, &[]), (Some(Role::Admin), 0));
        assert_eq!(role(&both, 1500, 7, &[]), (Some(Role::Admin), 0));
        assert_eq!(role(&both, 1000, 500, &[]), (Some(Role::Admin), 0));
        // Supplementary membership, read once.
        assert_eq!(role(&both, 1000, 1000, &[9, 500]), (Some(Role::Admin), 1));
        assert_eq!(role(&both, 1000, 1000, &[600]), (Some(Role::Reader), 1));
        assert_eq!(role(&both, 1000, 1000, &[9]), (None, 1));
        // A reader by uid or primary gid is still an admin through the admin group.
        assert_eq!(role(&both, 1600, 7, &[500]), (Some(Role::Admin), 1));
        assert_eq!(role(&both, 1000, 600, &[500]), (Some(Role::Admin), 1));
        assert_eq!(role(&both, 1600, 7, &[]), (Some(Role::Reader), 1));
        // No admin group configured: a reader by id needs no lookup.
        let readers_only = authorizer(None, Some(600));
        assert_eq!(role(&readers_only, 1600, 7, &[]), (Some(Role::Reader), 0));
        assert_eq!(role(&readers_only, 1000, 600, &[]), (Some(Role::Reader), 0));
        assert_eq!(role(&readers_only, 1000, 7, &[600]), (Some(Role::Reader), 1));
        // No groups configured at all: never read.
        assert_eq!(role(&authorizer(None, None), 1000, 7, &[500]), (None, 0));
    }

    #[test]
    fn unknown_group_is_an_error_naming_the_key() {
        let roles = LocalRoles {
            admin_group: Some("no-such-group-rras"),
            ..Default::default()
        };
        let e = Authorizer::new(roles, &TlsConfig::default()).unwrap_err();
        assert!(e.to_string().contains("admin_group"));
        let users = ["no-such-user-rras".to_string()];
        let roles = LocalRoles {
            reader_users: &users,
            ..Default::default()
        };
        assert!(Authorizer::new(roles, &TlsConfig::default())
            .unwrap_err()
            .to_string()
            .contains("reader_users"));
    }
}
