//! Watching: the change feed (the Watch RPC) decoded, and a [`Watcher`]
//! that hides list-then-watch and resync: it yields the list once, then
//! every change after it; when the daemon says "resync" it lists again and
//! yields the new list.
//!
//! What a watcher may assume (ARCHITECTURE.md): changes come in revision
//! order, each once; every change after the listing's revision arrives.
//! A change may already show in the listing it follows (the listing reads
//! the live table), so apply changes by handle: a Started for a handle you
//! have replaces it.

use std::collections::VecDeque;

use rras_core::record::{decode_ended, decode_into, empty_connection};
use rras_core::{Connection, EndedConnection, RAS_CONNECTION_EX_SIZE};
use rras_proto::pb;

use crate::{check, AdminClient, ClientError};

/// Which connections to watch (every set part must match; applied in the
/// daemon to changes, and here to the listing a [`Watcher`] starts from).
pub type WatchFilter = rras_core::ConnectionFilter;

/// One change from the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A connection came up.
    Started {
        /// Its revision.
        revision: u64,
        /// The connection.
        connection: Connection,
    },
    /// A connection's state changed.
    Updated {
        /// Its revision.
        revision: u64,
        /// The connection now.
        connection: Connection,
    },
    /// A connection ended.
    Ended {
        /// Its revision.
        revision: u64,
        /// Final state, end time, reason.
        ended: EndedConnection,
    },
    /// A connection is not in the table after all (a change that could not
    /// be made durable was taken back).
    Removed {
        /// Its revision.
        revision: u64,
        /// Which one.
        handle: u32,
    },
}

impl Change {
    /// The change's revision.
    pub fn revision(&self) -> u64 {
        match self {
            Change::Started { revision, .. }
            | Change::Updated { revision, .. }
            | Change::Ended { revision, .. }
            | Change::Removed { revision, .. } => *revision,
        }
    }

    /// The connection's handle.
    pub fn handle(&self) -> u32 {
        match self {
            Change::Started { connection, .. } | Change::Updated { connection, .. } => connection.handle.get(),
            Change::Ended { ended, .. } => ended.connection.handle.get(),
            Change::Removed { handle, .. } => *handle,
        }
    }

    fn from_pb(c: &pb::Change) -> Result<Self, ClientError> {
        let bad = |e: rras_core::record::RecordError| ClientError::Protocol(format!("change {}: {e}", c.revision));
        let live = || -> Result<Connection, ClientError> {
            let mut connection = empty_connection();
            decode_into(&c.record, &mut connection).map_err(bad)?;
            Ok(connection)
        };
        Ok(match pb::change::Kind::try_from(c.kind) {
            Ok(pb::change::Kind::Started) => Change::Started {
                revision: c.revision,
                connection: live()?,
            },
            Ok(pb::change::Kind::Updated) => Change::Updated {
                revision: c.revision,
                connection: live()?,
            },
            Ok(pb::change::Kind::Ended) => Change::Ended {
                revision: c.revision,
                ended: decode_ended(&c.record).map_err(bad)?,
            },
            Ok(pb::change::Kind::Removed) => Change::Removed {
                revision: c.revision,
                handle: c.handle,
            },
            _ => {
                return Err(ClientError::Protocol(format!(
                    "change {}: unknown kind {}",
                    c.revision, c.kind
                )))
            }
        })
    }
}

/// What one message of the feed said.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedMessage {
    /// Changes, in revision order.
    Changes(Vec<Change>),
    /// Nothing new; the daemon's newest revision (a heartbeat).
    Alive(u64),
    /// The daemon no longer has the changes after the watcher's revision:
    /// list again and watch from the new listing. The stream ends.
    Resync,
}

/// The raw feed: messages of one Watch call.
#[derive(Debug)]
pub struct ChangeStream {
    stream: tonic::Streaming<pb::WatchMessage>,
    done: bool,
}

impl ChangeStream {
    /// The next message as it came off the wire (status, resync flag,
    /// changes with their records undecoded): for a watcher that decodes
    /// into its own scratch ([`rras_core::record::decode_into`]) instead of
    /// allocating a [`Connection`] per change. None when the stream ended.
    pub async fn next_raw(&mut self) -> Option<Result<pb::WatchMessage, ClientError>> {
        if self.done {
            return None;
        }
        match self.stream.message().await {
            Ok(Some(m)) => {
                self.done = m.resync || m.status != 0;
                Some(Ok(m))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// The next message; None when the stream ended.
    pub async fn next(&mut self) -> Option<Result<FeedMessage, ClientError>> {
        if self.done {
            return None;
        }
        let message = match self.stream.message().await {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(e) => return Some(Err(e.into())),
        };
        if let Err(e) = check(message.status) {
            self.done = true;
            return Some(Err(e));
        }
        if message.resync {
            self.done = true;
            return Some(Ok(FeedMessage::Resync));
        }
        if message.changes.is_empty() {
            return Some(Ok(FeedMessage::Alive(message.revision)));
        }
        Some(
            message
                .changes
                .iter()
                .map(Change::from_pb)
                .collect::<Result<_, _>>()
                .map(FeedMessage::Changes),
        )
    }
}

/// What a [`Watcher`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The whole list (filtered): first, and again after every resync.
    Snapshot {
        /// The revision the list reflects.
        revision: u64,
        /// The connections.
        connections: Vec<Connection>,
    },
    /// One change after the last snapshot.
    Change(Box<Change>),
}

/// List-then-watch with resync hidden; see the module documentation.
#[derive(Debug)]
pub struct Watcher<'a> {
    client: &'a AdminClient,
    filter: WatchFilter,
    stream: Option<ChangeStream>,
    pending: VecDeque<Change>,
}

impl AdminClient {
    /// The raw feed: changes after `from` (None: from now on), filtered by
    /// the daemon. A `from` the daemon cannot serve gives a Resync message.
    pub async fn watch_from(&self, from: Option<u64>, filter: &WatchFilter) -> Result<ChangeStream, ClientError> {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        let stream = self
            .rpc()
            .watch(pb::WatchRequest {
                session_id: self.session_id,
                from_revision: from.unwrap_or(0),
                from_now: from.is_none(),
                user: text(&filter.user),
                engine: filter.engine.map(|e| e.as_str().to_owned()).unwrap_or_default(),
                instance: text(&filter.instance),
                interface: text(&filter.interface),
            })
            .await?
            .into_inner();
        Ok(ChangeStream { stream, done: false })
    }

    /// Every connection (one enumeration read as a stream) and the feed
    /// revision the list reflects.
    pub async fn list_with_revision(&self, filter: &WatchFilter) -> Result<(u64, Vec<Connection>), ClientError> {
        let mut page = self
            .enum_records((1, 1, RAS_CONNECTION_EX_SIZE), rras_core::PREF_MAX_ALL, 0)
            .await?;
        let revision = page.revision;
        let mut out = Vec::new();
        page.for_each_record(|c| {
            if filter.matches(c) {
                out.push(c.clone());
            }
        })
        .await?;
        Ok((revision, out))
    }

    /// A [`Watcher`]: the list, then every change, across resyncs.
    pub fn watch(&self, filter: WatchFilter) -> Watcher<'_> {
        Watcher {
            client: self,
            filter,
            stream: None,
            pending: VecDeque::new(),
        }
    }
}

impl Watcher<'_> {
    /// The next event: a snapshot first (and after a resync), then changes.
    /// Heartbeats are absorbed. An error ends nothing: calling again lists
    /// anew.
    pub async fn next(&mut self) -> Result<WatchEvent, ClientError> {
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Ok(WatchEvent::Change(Box::new(change)));
            }
            let Some(stream) = self.stream.as_mut() else {
                let (revision, connections) = self.client.list_with_revision(&self.filter).await?;
                self.stream = Some(self.client.watch_from(Some(revision), &self.filter).await?);
                return Ok(WatchEvent::Snapshot { revision, connections });
            };
            match stream.next().await {
                Some(Ok(FeedMessage::Changes(changes))) => self.pending.extend(changes),
                Some(Ok(FeedMessage::Alive(_))) => {}
                Some(Ok(FeedMessage::Resync)) | None => self.stream = None,
                Some(Err(e)) => {
                    self.stream = None;
                    return Err(e);
                }
            }
        }
    }
}
