//! `ChangeFeed`: every committed change to the connection table, numbered
//! with a revision, for watchers (the Watch RPC).
//!
//! Revisions come from the journal: after a group commit succeeds, each of
//! its changes gets the next revision, in commit order, and the last one
//! went into the same transaction (`Store::commit_at`), so a revision is
//! never handed out twice, across restarts too. Only durable changes are
//! published: a watcher never sees something a crash could take back.
//!
//! The feed keeps the newest [`KEEP`] changes for watchers that resume
//! from a revision (list, then watch from the listing's revision), and
//! fans new ones out over a bounded broadcast channel. Publishing never
//! waits for a watcher: one that falls [`BACKLOG`] changes behind is cut
//! off with "resync" and lists again. Memory is bounded by the two rings,
//! whatever the watchers do.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rras_core::{ConnectionHandle, EndedConnection, Record};
use tokio::sync::broadcast;

/// Changes kept for watchers resuming from a revision.
pub const KEEP: usize = 65_536;
/// Changes one watcher may fall behind before it is cut off with resync.
pub const BACKLOG: usize = 16_384;
/// Watchers at once (each holds a stream and a task).
pub const MAX_WATCHERS: usize = 1024;
/// Watchers of one caller identity at once: one reader cannot take what
/// every other client needs.
pub const MAX_WATCHERS_PER_CALLER: usize = 64;

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// It came up.
    Started,
    /// Its state changed (counters, or everything re-stated by its engine).
    Updated,
    /// It ended (the body has its final state and the reason).
    Ended,
    /// It is not in the table after all: a change that could not be made
    /// durable was taken back (a watcher that listed it drops it).
    Removed,
}

/// The connection as of a change.
#[derive(Debug, Clone)]
pub enum ChangeBody {
    /// Started / Updated: its record.
    Live(Record),
    /// Ended: its final state, end time and reason, and those encoded once
    /// as an ended-connection record for every watcher.
    Ended(Arc<EndedConnection>, bytes::Bytes),
    /// Removed: nothing but the handle.
    Removed,
}

/// One published change.
#[derive(Debug, Clone)]
pub struct Change {
    /// Its revision: one more than the change before it.
    pub revision: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// Which connection.
    pub handle: ConnectionHandle,
    /// Its state.
    pub body: ChangeBody,
}

/// A change before it has a revision (built by the journal).
#[derive(Debug, Clone)]
pub struct PendingChange {
    /// What happened.
    pub kind: ChangeKind,
    /// Which connection.
    pub handle: ConnectionHandle,
    /// Its state.
    pub body: ChangeBody,
}

/// The watcher must list again: the daemon does not have every change after
/// its revision (too old, from before a restart, or it fell behind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("resync: list again and watch from the listing's revision")]
pub struct Resync;

/// Why a watch could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchRefused {
    /// See [`Resync`].
    #[error(transparent)]
    Resync(#[from] Resync),
    /// [`MAX_WATCHERS`] are watching already.
    #[error("too many watchers")]
    Busy,
}

#[derive(Debug)]
struct Kept {
    ring: VecDeque<Arc<Change>>,
}

/// The feed. One per daemon; the journal publishes, watchers subscribe.
#[derive(Debug)]
pub struct ChangeFeed {
    kept: Mutex<Kept>,
    sender: broadcast::Sender<Arc<Change>>,
    /// The newest published revision.
    revision: AtomicU64,
    watchers: Arc<AtomicUsize>,
    per_caller: CallerCounts,
}

/// Watchers per caller identity.
type CallerCounts = Arc<Mutex<std::collections::HashMap<String, usize>>>;

/// Counts a watcher (and its caller's share) while it lives.
#[derive(Debug)]
struct WatcherSlot {
    total: Arc<AtomicUsize>,
    caller: Option<(CallerCounts, String)>,
}

impl Drop for WatcherSlot {
    fn drop(&mut self) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        if let Some((map, caller)) = &self.caller {
            let mut map = map.lock();
            if let Some(n) = map.get_mut(caller) {
                *n -= 1;
                if *n == 0 {
                    map.remove(caller);
                }
            }
        }
    }
}

/// A watcher's view: the kept changes after its revision, then the live
/// ones, with no gap and no change twice.
#[derive(Debug)]
pub struct Subscription {
    backlog: VecDeque<Arc<Change>>,
    live: broadcast::Receiver<Arc<Change>>,
    last: u64,
    _slot: WatcherSlot,
}

impl ChangeFeed {
    /// A feed whose next change is `revision + 1` (the store's revision).
    pub fn new(revision: u64) -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        ChangeFeed {
            kept: Mutex::new(Kept {
                ring: VecDeque::with_capacity(1024),
            }),
            sender,
            revision: AtomicU64::new(revision),
            watchers: Arc::new(AtomicUsize::new(0)),
            per_caller: Arc::default(),
        }
    }

    /// The newest published revision. Read it before reading the table and
    /// the listing reflects every change up to it.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Numbers and publishes `changes` (called by the journal after the
    /// commit whose revision is `self.revision() + changes.len()`).
    pub fn publish(&self, changes: Vec<PendingChange>) {
        if changes.is_empty() {
            return;
        }
        let mut kept = self.kept.lock();
        let mut revision = self.revision();
        for c in changes {
            revision += 1;
            let change = Arc::new(Change {
                revision,
                kind: c.kind,
                handle: c.handle,
                body: c.body,
            });
            if kept.ring.len() == KEEP {
                kept.ring.pop_front();
            }
            kept.ring.push_back(change.clone());
            // No receivers is not an error: nobody watches.
            let _ = self.sender.send(change);
        }
        self.revision.store(revision, Ordering::Release);
    }

    /// Every change after `from` (None: from now on). Resync when the feed
    /// no longer has them all, or `from` is newer than anything published
    /// (a revision of another daemon, or of before a restart).
    pub fn subscribe(&self, from: Option<u64>) -> Result<Subscription, WatchRefused> {
        self.subscribe_as(from, None)
    }

    /// [`subscribe`](Self::subscribe) counted against `caller`'s share
    /// ([`MAX_WATCHERS_PER_CALLER`]) as well as the total.
    pub fn subscribe_as(&self, from: Option<u64>, caller: Option<&str>) -> Result<Subscription, WatchRefused> {
        if let Some(caller) = caller {
            let mut map = self.per_caller.lock();
            let n = map.entry(caller.to_owned()).or_insert(0);
            if *n >= MAX_WATCHERS_PER_CALLER {
                return Err(WatchRefused::Busy);
            }
            *n += 1;
        }
        // From here the slot gives the caller's share back if we refuse.
        let slot = WatcherSlot {
            total: self.watchers.clone(),
            caller: caller.map(|c| (self.per_caller.clone(), c.to_owned())),
        };
        if self.watchers.fetch_add(1, Ordering::AcqRel) >= MAX_WATCHERS {
            return Err(WatchRefused::Busy);
        }
        // Under the publisher's lock: the backlog and the live receiver
        // meet exactly.
        let kept = self.kept.lock();
        let current = self.revision();
        let from = from.unwrap_or(current);
        if from > current {
            return Err(Resync.into());
        }
        let oldest = kept.ring.front().map_or(current + 1, |c| c.revision);
        if from + 1 < oldest {
            return Err(Resync.into());
        }
        let live = self.sender.subscribe();
        let skip = usize::try_from(from + 1 - oldest).unwrap_or(usize::MAX);
        let backlog = kept.ring.iter().skip(skip).cloned().collect();
        Ok(Subscription {
            backlog,
            live,
            last: from,
            _slot: slot,
        })
    }

    /// Watchers now.
    pub fn watchers(&self) -> usize {
        self.watchers.load(Ordering::Acquire)
    }
}

impl Subscription {
    /// The next change, waiting for one; Err(Resync) when this watcher fell
    /// too far behind (or the feed is gone).
    pub async fn next(&mut self) -> Result<Arc<Change>, Resync> {
        if let Some(c) = self.backlog.pop_front() {
            self.last = c.revision;
            return Ok(c);
        }
        loop {
            match self.live.recv().await {
                Ok(c) if c.revision <= self.last => continue,
                Ok(c) => {
                    self.last = c.revision;
                    return Ok(c);
                }
                Err(_) => return Err(Resync),
            }
        }
    }

    /// The next change if one is ready now (for batching).
    pub fn try_next(&mut self) -> Option<Result<Arc<Change>, Resync>> {
        if let Some(c) = self.backlog.pop_front() {
            self.last = c.revision;
            return Some(Ok(c));
        }
        loop {
            match self.live.try_recv() {
                Ok(c) if c.revision <= self.last => continue,
                Ok(c) => {
                    self.last = c.revision;
                    return Some(Ok(c));
                }
                Err(broadcast::error::TryRecvError::Empty) => return None,
                Err(_) => return Some(Err(Resync)),
            }
        }
    }

    /// The revision of the last change handed out (or the starting one).
    pub fn last(&self) -> u64 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(h: u32) -> PendingChange {
        PendingChange {
            kind: ChangeKind::Removed,
            handle: ConnectionHandle::new(h).unwrap(),
            body: ChangeBody::Removed,
        }
    }

    fn handles(sub: &mut Subscription) -> Vec<u32> {
        std::iter::from_fn(|| sub.try_next().map(|c| c.unwrap().handle.get())).collect()
    }

    #[test]
    fn resume_replays_then_goes_live_without_gap_or_duplicate() {
        let feed = ChangeFeed::new(100);
        feed.publish(vec![change(1), change(2), change(3)]);
        assert_eq!(feed.revision(), 103);
        let mut sub = feed.subscribe(Some(101)).unwrap();
        feed.publish(vec![change(4)]);
        assert_eq!(handles(&mut sub), [2, 3, 4]);
        assert_eq!(sub.last(), 104);
        let mut now = feed.subscribe(None).unwrap();
        assert!(now.try_next().is_none());
        feed.publish(vec![change(5)]);
        assert_eq!(handles(&mut now), [5]);
    }

    #[test]
    fn too_old_or_from_the_future_is_resync() {
        let feed = ChangeFeed::new(0);
        feed.publish((1..=(KEEP as u32 + 10)).map(change).collect());
        assert_eq!(feed.subscribe(Some(0)).unwrap_err(), WatchRefused::Resync(Resync));
        assert!(feed.subscribe(Some(10)).is_ok(), "the oldest kept is 11");
        assert!(feed.subscribe(Some(feed.revision() + 1)).is_err());
        // After a restart nothing is kept: only the current revision resumes.
        let restarted = ChangeFeed::new(feed.revision());
        assert!(restarted.subscribe(Some(feed.revision() - 1)).is_err());
        assert!(restarted.subscribe(Some(feed.revision())).is_ok());
    }

    #[test]
    fn watchers_are_counted_and_capped() {
        let feed = ChangeFeed::new(0);
        let all: Vec<_> = (0..MAX_WATCHERS).map(|_| feed.subscribe(None).unwrap()).collect();
        assert_eq!(feed.subscribe(None).unwrap_err(), WatchRefused::Busy);
        drop(all);
        assert_eq!(feed.watchers(), 0);
        assert!(feed.subscribe(None).is_ok());
    }

    #[test]
    fn one_caller_cannot_take_every_watcher() {
        let feed = ChangeFeed::new(0);
        let mine: Vec<_> = (0..MAX_WATCHERS_PER_CALLER)
            .map(|_| feed.subscribe_as(None, Some("token:mon")).unwrap())
            .collect();
        assert_eq!(
            feed.subscribe_as(None, Some("token:mon")).unwrap_err(),
            WatchRefused::Busy
        );
        assert_eq!(feed.watchers(), MAX_WATCHERS_PER_CALLER, "a refusal takes no slot");
        let admin = feed.subscribe_as(None, Some("cert:admin")).unwrap();
        drop(mine);
        assert!(feed.subscribe_as(None, Some("token:mon")).is_ok());
        drop(admin);
        assert_eq!(feed.watchers(), 0);
        assert!(feed.per_caller.lock().is_empty());
    }

    #[test]
    fn a_watcher_that_falls_behind_is_cut_off_not_waited_for() {
        let feed = ChangeFeed::new(0);
        let mut slow = feed.subscribe(None).unwrap();
        feed.publish((1..=(BACKLOG as u32 + 5)).map(change).collect());
        assert_eq!(slow.try_next().unwrap().unwrap_err(), Resync);
    }
}
