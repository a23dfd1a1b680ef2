//! `SourceEvent`: one change an engine reports about one of its sessions.

use rras_core::{ConnectionInfo, ConnectionStats, SourceKey};

/// One change reported by a source.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    /// A session is up, or everything about it is re-stated (upsert).
    Started(Box<ConnectionInfo>),
    /// New counters for a known session.
    Updated {
        /// Which session.
        key: SourceKey,
        /// Its counters now.
        stats: ConnectionStats,
    },
    /// The session ended.
    Ended {
        /// Which session.
        key: SourceKey,
        /// Why (goes into the history).
        reason: String,
        /// Final counters, if the engine gave them.
        stats: Option<ConnectionStats>,
        /// When it ended, if the engine says (a RADIUS Stop's event time);
        /// else when the event is applied. The history keeps it, bounded
        /// by the session's start and the daemon's clock.
        at: Option<std::time::SystemTime>,
    },
}

impl SourceEvent {
    /// The session the event is about.
    pub fn key(&self) -> &SourceKey {
        match self {
            SourceEvent::Started(info) => &info.source,
            SourceEvent::Updated { key, .. } | SourceEvent::Ended { key, .. } => key,
        }
    }
}
