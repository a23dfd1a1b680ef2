//! Who is calling, and what they may do.
//!
//! On the Unix socket the kernel tells us the peer's uid, gid and pid
//! (SO_PEERCRED). Root and the daemon's own user are admins; members of the
//! configured admin group are admins; members of the reader group may only
//! read. Everybody else gets ERROR_ACCESS_DENIED on every method, before
//! anything is looked up, so a denied caller learns nothing.

use rras_core::Win32Error;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Enumerate, get info, server info.
    Reader,
    /// Everything, including disconnect, clear stats and reports.
    Admin,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Peer uid.
    pub uid: u32,
    /// Peer primary gid.
    pub gid: u32,
    /// Peer pid (0 if unknown).
    pub pid: i32,
    /// The role it was given, if any.
    pub role: Option<Role>,
}

impl Caller {
    /// A stable identity string for session ownership and logs.
    pub fn identity(&self) -> String {
        format!("uid:{}", self.uid)
    }

    /// Ok if the caller has at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Win32Error> {
        match self.role {
            Some(role) if role >= needed => Ok(()),
            _ => Err(Win32Error::AccessDenied),
        }
    }
}

/// Maps peer credentials to roles.
#[derive(Debug, Clone)]
pub struct Authorizer {
    daemon_uid: u32,
    admin_gid: Option<u32>,
    reader_gid: Option<u32>,
}

/// A configured group that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("config key `{key}`: group {name:?} does not exist")]
pub struct UnknownGroup {
    /// admin_group or reader_group.
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

impl Authorizer {
    /// Resolves the configured group names (or numeric gids).
    pub fn new(admin_group: Option<&str>, reader_group: Option<&str>) -> Result<Self, UnknownGroup> {
        Ok(Authorizer {
            daemon_uid: nix::unistd::getuid().as_raw(),
            admin_gid: resolve("admin_group", admin_group)?,
            reader_gid: resolve("reader_group", reader_group)?,
        })
    }

    /// The admin gid, if configured (the socket is chowned to it).
    pub fn admin_gid(&self) -> Option<u32> {
        self.admin_gid
    }

    /// The caller behind peer credentials.
    pub fn caller(&self, uid: u32, gid: u32, pid: Option<i32>) -> Caller {
        let groups = pid.map(supplementary_groups).unwrap_or_default();
        let in_group = |g: Option<u32>| g.is_some_and(|g| g == gid || groups.contains(&g));
        let role = if uid == 0 || uid == self.daemon_uid || in_group(self.admin_gid) {
            Some(Role::Admin)
        } else if in_group(self.reader_gid) {
            Some(Role::Reader)
        } else {
            None
        };
        Caller {
            uid,
            gid,
            pid: pid.unwrap_or(0),
            role,
        }
    }
}

/// The peer's supplementary groups, from /proc/PID/status ("Groups:").
/// A process that already exited has none we can see.
fn supplementary_groups(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Groups:"))
                .map(|g| g.split_whitespace().filter_map(|x| x.parse().ok()).collect())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_credentials() {
        let auth = Authorizer {
            daemon_uid: 4242,
            admin_gid: Some(500),
            reader_gid: Some(600),
        };
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
    fn own_supplementary_groups_are_read() {
        let own = supplementary_groups(std::process::id() as i32);
        let expected: Vec<u32> = nix::unistd::getgroups()
            .unwrap()
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        assert_eq!(own, expected);
    }

    #[test]
    fn unknown_group_is_an_error_naming_the_key() {
        let e = Authorizer::new(Some("no-such-group-rras"), None).unwrap_err();
        assert!(e.to_string().contains("admin_group"));
    }
}
