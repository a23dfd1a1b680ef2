//! `Sink`: everything an engine may do to the daemon — and nothing more.
//!
//! An engine reads the table, stages and applies events on the rows its
//! own [`SourceId`] owns (the sink refuses an event about anyone else's
//! row), registers its hang-up, and keeps its health. The daemon's
//! connection manager implements it with the journal behind `stage`;
//! tests implement it over a bare [`ConnectionTable`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rras_core::{Connection, ConnectionHandle, ConnectionTable, SourceId, SourceKey, Win32Error};

use crate::event::SourceEvent;
use crate::hang_up::DynHangUp;
use crate::health::SourceHealth;

/// Per event, the row's handle or why the event did not apply.
pub type EventResults = Vec<Result<ConnectionHandle, Win32Error>>;

/// The commit a [`Staged`] waits for.
pub type Commit = Pin<Box<dyn Future<Output = Result<(), Win32Error>> + Send>>;

/// Changes applied to the table and queued to become durable
/// ([`Sink::stage`]); [`Staged::durable`] waits for the commit.
#[must_use = "a staged change is acknowledged only after durable() returned Ok"]
pub struct Staged {
    results: EventResults,
    commit: Option<Commit>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("results", &self.results)
            .field("commit", &self.commit.is_some())
            .finish()
    }
}

impl Staged {
    /// `results`, durable once `commit` (if any) completes.
    pub fn new(results: EventResults, commit: Option<Commit>) -> Self {
        Staged { results, commit }
    }

    /// `staged`'s results spread over a longer batch: where `places` is
    /// false the event was refused with `refused`, and the others take
    /// `staged`'s results in order (a sink that refuses part of a batch
    /// still answers one result per event, in the caller's order).
    pub fn new_spread(staged: Staged, places: &[bool], refused: Win32Error) -> Self {
        let mut mine = staged.results.into_iter();
        let results = places
            .iter()
            .map(|&owned| {
                if owned {
                    mine.next().unwrap_or(Err(refused))
                } else {
                    Err(refused)
                }
            })
            .collect();
        Staged {
            results,
            commit: staged.commit,
        }
    }

    /// Waits until the changes are durable and returns each event's handle
    /// or status. Err when the commit failed: the sink has then taken the
    /// changes back out of the table and nothing may be acknowledged.
    pub async fn durable(self) -> Result<EventResults, Win32Error> {
        if let Some(commit) = self.commit {
            commit.await?;
        }
        Ok(self.results)
    }
}

/// What an engine reports to.
pub trait Sink: Send + Sync + std::fmt::Debug + 'static {
    /// The live table, to read (an engine changes it only through
    /// [`Sink::stage`]).
    fn table(&self) -> &ConnectionTable;

    /// Applies `events` of instance `id` to the table, in order, and queues
    /// them to become durable without waiting. An event about a row `id`
    /// does not own gets ERROR_ACCESS_DENIED and changes nothing. A source
    /// that must keep a session's events in order (Start before Stop)
    /// stages them one after another and may wait for durability
    /// concurrently, so one slow fsync does not hold up its next packet.
    fn stage(&self, id: &SourceId, events: Vec<SourceEvent>) -> Staged;

    /// Makes `hang_up` the way instance `id`'s sessions are ended.
    fn register_hang_up(&self, id: SourceId, hang_up: Arc<dyn DynHangUp>);

    /// The health of instance `id`, registered on first call.
    fn health(&self, id: SourceId) -> Arc<SourceHealth>;

    /// True while an admin's hang-up of `key` is under way: a session that
    /// disappears then ended because the admin asked.
    fn is_hanging_up(&self, key: &SourceKey) -> bool;

    /// True once the daemon serves (a source's first read waits for it, so
    /// a restart's restored rows are in the table first).
    fn is_running(&self) -> bool;

    /// The rows instance `id` owns, as the table holds them.
    fn live(&self, id: &SourceId) -> Vec<Arc<Connection>> {
        self.table().select(|s| id.owns(s))
    }
}

/// [`Sink::stage`], then waits until durable.
pub async fn apply(sink: &dyn Sink, id: &SourceId, events: Vec<SourceEvent>) -> Result<EventResults, Win32Error> {
    sink.stage(id, events).durable().await
}
