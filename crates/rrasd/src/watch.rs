//! The Watch RPC's stream: a feed subscription, filtered in the daemon,
//! batched into messages, with a heartbeat while nothing matches.
//!
//! Each watcher is one task writing into a small channel towards its gRPC
//! stream. When the client stops reading, the channel fills and the task
//! waits — but the feed does not: the watcher falls behind in its
//! subscription and is cut off with resync (feed.rs). So a stuck watcher
//! costs the daemon a bounded amount of memory and nothing else.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rras_core::{ConnectionFilter, Win32Error};
use rras_proto::pb;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::Status;

use crate::feed::{Change, ChangeBody, ChangeKind, Subscription};
use crate::manager::{ConnectionManager, ServiceState};

/// The stream type of the Watch RPC.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchMessage, Status>> + Send>>;

/// Most changes in one message.
const BATCH: usize = 512;
/// A message with the current revision when nothing was sent for this long.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Which connections a watcher wants (every non-empty part must match).
#[derive(Debug, Default, Clone)]
pub struct WatchFilter(ConnectionFilter);

impl WatchFilter {
    /// From the request; an unknown engine name is ERROR_INVALID_PARAMETER.
    pub fn from_request(r: &pb::WatchRequest) -> Result<Self, Win32Error> {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let engine = match r.engine.as_str() {
            "" => None,
            e => Some(e.parse().map_err(|_| Win32Error::InvalidParameter)?),
        };
        Ok(WatchFilter(ConnectionFilter {
            user: text(&r.user),
            engine,
            instance: text(&r.instance),
            interface: text(&r.interface),
        }))
    }

    /// Whether a change goes to this watcher. A removal carries no
    /// connection and always goes (a watcher ignores unknown handles).
    fn admits(&self, change: &Change) -> bool {
        if self.0.is_empty() {
            return true;
        }
        match &change.body {
            ChangeBody::Live(record) => self.0.matches(&record.decode()),
            ChangeBody::Ended(ended, _) => self.0.matches(&ended.connection),
            ChangeBody::Removed => true,
        }
    }
}

fn to_pb(change: &Change) -> pb::Change {
    // Shared bytes: no copy per watcher.
    let (kind, record) = match (&change.kind, &change.body) {
        (ChangeKind::Started, ChangeBody::Live(r)) => (pb::change::Kind::Started, bytes::Bytes::from_owner(r.clone())),
        (_, ChangeBody::Live(r)) => (pb::change::Kind::Updated, bytes::Bytes::from_owner(r.clone())),
        (_, ChangeBody::Ended(_, encoded)) => (pb::change::Kind::Ended, encoded.clone()),
        (_, ChangeBody::Removed) => (pb::change::Kind::Removed, bytes::Bytes::new()),
    };
    pb::Change {
        revision: change.revision,
        kind: kind as i32,
        handle: change.handle.get(),
        record,
    }
}

/// The message that ends a watcher's stream: list again.
pub(crate) fn resync(revision: u64) -> pb::WatchMessage {
    pb::WatchMessage {
        status: 0,
        resync: true,
        changes: Vec::new(),
        revision,
    }
}

/// Starts the watcher's task and returns its stream.
pub fn stream(
    manager: Arc<ConnectionManager>,
    subscription: Subscription,
    filter: WatchFilter,
    allowed: StillAllowed,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(run(manager, subscription, filter, allowed, tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Whether the watcher's credential still carries a role that may read,
/// under the configuration and tokens file in force now.
#[derive(Debug)]
pub struct StillAllowed {
    auth: crate::auth::SharedAuthorizer,
    credential: crate::auth::Credential,
    checked: std::time::Instant,
}

/// How often a stream's credential is checked again (revocation bites
/// within this), and how often an idle watcher looks whether the daemon is
/// stopping.
pub const RECHECK: Duration = Duration::from_millis(500);

impl StillAllowed {
    /// For a stream opened under `credential`.
    pub fn new(auth: crate::auth::SharedAuthorizer, credential: crate::auth::Credential) -> Self {
        StillAllowed {
            auth,
            credential,
            checked: std::time::Instant::now(),
        }
    }

    /// False once the credential no longer reads; checked at most every [`RECHECK`].
    pub fn now(&mut self) -> bool {
        if self.checked.elapsed() < RECHECK {
            return true;
        }
        self.checked = std::time::Instant::now();
        let caller = self.auth.read().caller_for(&self.credential);
        caller.require(crate::auth::Role::Reader).is_ok()
    }
}

async fn run(
    manager: Arc<ConnectionManager>,
    mut sub: Subscription,
    filter: WatchFilter,
    mut allowed: StillAllowed,
    tx: mpsc::Sender<Result<pb::WatchMessage, Status>>,
) {
    let mut idle = Duration::ZERO;
    loop {
        if !allowed.now() {
            let _ = tx
                .send(Err(Status::permission_denied(
                    "the credential this stream was opened with was revoked",
                )))
                .await;
            return;
        }
        let first = match tokio::time::timeout(RECHECK, sub.next()).await {
            Err(_) => {
                if manager.state() == ServiceState::Stopping || tx.is_closed() {
                    return;
                }
                idle += RECHECK;
                if idle >= HEARTBEAT {
                    idle = Duration::ZERO;
                    let beat = pb::WatchMessage {
                        revision: manager.feed().revision(),
                        ..Default::default()
                    };
                    if tx.send(Ok(beat)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            Ok(Err(_)) => {
                let _ = tx.send(Ok(resync(manager.feed().revision()))).await;
                return;
            }
            Ok(Ok(change)) => change,
        };
        let mut changes = Vec::new();
        let mut cut_off = false;
        let mut next = Some(first);
        while let Some(change) = next.take() {
            if filter.admits(&change) {
                changes.push(to_pb(&change));
            }
            if changes.len() >= BATCH {
                break;
            }
            match sub.try_next() {
                Some(Ok(c)) => next = Some(c),
                Some(Err(_)) => cut_off = true,
                None => {}
            }
        }
        if !changes.is_empty() {
            idle = Duration::ZERO;
            let message = pb::WatchMessage {
                status: 0,
                resync: false,
                changes,
                revision: sub.last(),
            };
            if tx.send(Ok(message)).await.is_err() {
                return;
            }
        }
        if cut_off {
            let _ = tx.send(Ok(resync(manager.feed().revision()))).await;
            return;
        }
    }
}
