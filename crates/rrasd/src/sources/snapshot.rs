//! `diff`: for sources that read the engine's whole state each poll
//! (WireGuard, OpenVPN, …), the events that make the table agree with it —
//! only what changed, so a quiet poll writes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rras_core::{Connection, ConnectionInfo, SourceKey};
use tokio::sync::watch;

use crate::manager::{ConnectionManager, ReportEvent};

/// The rhythm of a polling source: a tick every period while the manager
/// runs, until the daemon stops.
#[derive(Debug)]
pub struct Poller {
    tick: tokio::time::Interval,
    stop: watch::Receiver<bool>,
}

impl Poller {
    /// Ticks every `secs` seconds until `stop` turns true.
    pub fn new(secs: u64, stop: watch::Receiver<bool>) -> Self {
        Poller {
            tick: tokio::time::interval(Duration::from_secs(secs)),
            stop,
        }
    }

    /// Waits for the next tick at which the manager is running; false when
    /// the daemon is stopping.
    pub async fn next(&mut self, manager: &ConnectionManager) -> bool {
        loop {
            tokio::select! {
                _ = self.tick.tick() => {}
                _ = self.stop.wait_for(|s| *s) => return false,
            }
            if manager.ensure_running().is_ok() {
                return true;
            }
        }
    }
}

/// Applies a poll's events; a failed commit is logged and simply retried by
/// the next poll, which computes the difference again.
pub async fn apply(manager: &ConnectionManager, engine: &str, events: Vec<ReportEvent>) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = manager.apply(events).await {
        tracing::error!(engine, "changes not recorded (retried next poll): {e}");
    }
}

/// `current` is what the engine reports now; `live` is what the table holds
/// for this source. A known connection keeps its start time (engines that
/// do not say when a session began would otherwise move it every poll).
/// Connections in `live` but not in `current` end with `ended_reason(key)`.
pub fn diff(
    current: Vec<ConnectionInfo>,
    live: &[Arc<Connection>],
    ended_reason: impl Fn(&SourceKey) -> String,
) -> Vec<ReportEvent> {
    let known: HashMap<&SourceKey, &Arc<Connection>> = live.iter().map(|c| (&c.info.source, c)).collect();
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    for mut info in current {
        let existing = known.get(&info.source);
        if let Some(c) = existing {
            info.started_at = c.info.started_at;
        }
        if existing.is_none_or(|c| c.info != info) {
            seen.insert(info.source.clone());
            events.push(ReportEvent::Started(Box::new(info)));
        } else {
            seen.insert(info.source);
        }
    }
    for c in live {
        if !seen.contains(&c.info.source) {
            events.push(ReportEvent::Ended {
                key: c.info.source.clone(),
                reason: ended_reason(&c.info.source),
                stats: None,
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::{ConnectionHandle, EngineKind};
    use std::time::{Duration, UNIX_EPOCH};

    fn info(id: &str, rx: u64, start: u64) -> ConnectionInfo {
        let key = SourceKey {
            engine: EngineKind::Openvpn,
            nas: "srv".into(),
            session_id: id.into(),
        };
        let mut i = ConnectionInfo::new(key, "u", UNIX_EPOCH + Duration::from_secs(start));
        i.stats.bytes_rcved = rx;
        i
    }

    #[test]
    fn only_changes_and_ends() {
        let live = vec![
            Arc::new(Connection {
                handle: ConnectionHandle::new(1).unwrap(),
                info: info("a", 5, 100),
            }),
            Arc::new(Connection {
                handle: ConnectionHandle::new(2).unwrap(),
                info: info("gone", 5, 100),
            }),
        ];
        // "a" unchanged except a later start time it must not take; "b" new.
        let events = diff(vec![info("a", 5, 999), info("b", 1, 50)], &live, |_| "quit".into());
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[0], ReportEvent::Started(i) if i.source.session_id == "b"));
        assert!(
            matches!(&events[1], ReportEvent::Ended { key, reason, .. } if key.session_id == "gone" && reason == "quit")
        );
        // Counters moved: an upsert with the original start time.
        let events = diff(vec![info("a", 9, 999)], &live[..1], |_| "quit".into());
        assert!(
            matches!(&events[0], ReportEvent::Started(i) if i.stats.bytes_rcved == 9 && i.started_at == UNIX_EPOCH + Duration::from_secs(100))
        );
    }
}
