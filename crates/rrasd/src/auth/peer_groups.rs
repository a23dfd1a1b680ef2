//! The supplementary groups of a Unix-socket peer, read from /proc and
//! kept for a second per (pid, uid, gid).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Supplementary groups of recent peers, kept for [`PeerGroups::FRESH`].
///
/// A client makes many calls a second on one connection (a paging tool,
/// libmprapi's enumeration); reading `/proc/PID/status` for each would
/// cost more than answering it. The key is the whole SO_PEERCRED triple,
/// so a recycled pid with another uid or gid is a new entry; a process
/// that changes its groups in place (which needs CAP_SETGID) is seen with
/// its new groups at most a second later.
#[derive(Debug, Default)]
pub(super) struct PeerGroups {
    recent: parking_lot::Mutex<HashMap<PeerCredentials, GroupsRead>>,
}

#[derive(Debug)]
struct GroupsRead {
    at: Instant,
    groups: Arc<[u32]>,
}

/// SO_PEERCRED's (pid, uid, gid).
type PeerCredentials = (i32, u32, u32);

impl PeerGroups {
    const FRESH: Duration = Duration::from_secs(1);
    /// Bounds the map when many short-lived clients connect.
    const MAX_PEERS: usize = 256;

    pub(super) fn of(&self, pid: i32, uid: u32, gid: u32) -> Arc<[u32]> {
        let key = (pid, uid, gid);
        let now = Instant::now();
        if let Some(read) = self.recent.lock().get(&key) {
            if now.duration_since(read.at) < Self::FRESH {
                return read.groups.clone();
            }
        }
        let groups: Arc<[u32]> = supplementary_groups(pid).into();
        let mut recent = self.recent.lock();
        if recent.len() >= Self::MAX_PEERS {
            recent.retain(|_, read| now.duration_since(read.at) < Self::FRESH);
            if recent.len() >= Self::MAX_PEERS {
                recent.clear();
            }
        }
        recent.insert(
            key,
            GroupsRead {
                at: now,
                groups: groups.clone(),
            },
        );
        groups
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
    fn peer_groups_are_cached_per_credentials() {
        let cache = PeerGroups::default();
        let pid = std::process::id() as i32;
        let first = cache.of(pid, 1, 2);
        assert_eq!(&*first, &supplementary_groups(pid)[..]);
        assert!(Arc::ptr_eq(&first, &cache.of(pid, 1, 2)), "read again within FRESH");
        assert!(
            !Arc::ptr_eq(&first, &cache.of(pid, 1, 3)),
            "another gid is another peer"
        );
        for fake_pid in 0..(PeerGroups::MAX_PEERS as i32 * 2) {
            cache.of(-1 - fake_pid, 1, 2);
        }
        assert!(cache.recent.lock().len() <= PeerGroups::MAX_PEERS);
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
}
