//! The shared driver of polling sources (WireGuard, OpenVPN, …): read the
//! engine's whole state → compare it with the rows this instance owns →
//! apply only what changed, so a quiet poll writes nothing.
//!
//! The driver also owns what every polling source must get right the same
//! way: a time limit on each read, engine health, and the grace period of
//! an unreachable engine — its sessions are kept for `grace`, then end with
//! reason `engine-unreachable`; when it answers again the next poll
//! reconciles.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

// tokio's clock, so the grace period runs on a test's paused time too.
use tokio::time::Instant;

use rras_core::{Connection, ConnectionInfo, SourceKey};
use tokio::sync::watch;

use rras_core::SourceId;

use crate::event::SourceEvent;
use crate::hang_up::ADMIN_DISCONNECT;
use crate::health::SourceHealth;
use crate::sink::Sink;

/// Longest one read of an engine may take before it counts as unreachable.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The end reason of sessions whose engine stayed unreachable past the grace.
pub const UNREACHABLE_REASON: &str = "engine-unreachable";

/// What one read of the engine found.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The sessions up now.
    pub connections: Vec<ConnectionInfo>,
    /// Parts of the engine (a server's socket, an interface; by the `nas`
    /// of their rows) that did not answer, with the error.
    pub unreachable: Vec<(String, String)>,
    /// Parts that answered.
    pub reached: usize,
}

/// An engine read by polling.
pub trait PollingEngine: Send + 'static {
    /// Reads the engine's whole state.
    fn read(&mut self) -> impl Future<Output = Result<Snapshot, String>> + Send;

    /// Why a session that is no longer listed ended.
    fn ended_reason(&self, key: &SourceKey) -> String;

    /// Called once before the first read with the instance's rows as the
    /// table holds them (e.g. to continue running counters after a
    /// restart). Most engines need nothing.
    fn seed(&mut self, _live: &[Arc<Connection>]) {}
}

/// The rhythm of a polling source: a tick every period while the manager
/// runs, until the daemon stops.
#[derive(Debug)]
pub struct Poller {
    tick: tokio::time::Interval,
    stop: watch::Receiver<bool>,
    nudge: Option<Arc<tokio::sync::Notify>>,
}

impl Poller {
    /// Ticks every `secs` seconds until `stop` turns true. A tick missed
    /// (a slow read, a long start) is not made up in a burst of reads: the
    /// next comes a whole period after the late one.
    pub fn new(secs: u64, stop: watch::Receiver<bool>) -> Self {
        let mut tick = tokio::time::interval(Duration::from_secs(secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Poller {
            tick,
            stop,
            nudge: None,
        }
    }

    /// Runs `work` unless the daemon stops first (None then): stopping
    /// does not wait for an engine that is slow to answer.
    pub async fn unless_stopped<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            _ = self.stop.wait_for(|s| *s) => None,
        }
    }

    /// Waits for the next tick (or nudge), then until the daemon is
    /// running; false when the daemon is stopping. A tick that comes while
    /// the daemon is still starting is deferred, not skipped: with a long
    /// `poll_secs` the first read would otherwise wait a whole interval.
    pub async fn next(&mut self, sink: &dyn Sink) -> bool {
        let nudge = self.nudge.clone();
        let nudged = async move {
            match nudge {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.tick.tick() => {}
            _ = nudged => {}
            _ = self.stop.wait_for(|s| *s) => return false,
        }
        if !sink.is_running() {
            while !sink.is_running() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = self.stop.wait_for(|s| *s) => return false,
                }
            }
            // The ticks that passed meanwhile are not owed.
            self.tick.reset();
        }
        true
    }
}

/// How a polling instance runs.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Seconds between reads.
    pub poll_secs: u64,
    /// How long sessions of an unreachable engine are kept.
    pub grace: Duration,
    /// Engines with an event feed nudge this to read at once.
    pub nudge: Option<Arc<tokio::sync::Notify>>,
}

impl PollSettings {
    /// Every `poll_secs`, sessions kept `unreachable_grace_secs` while the
    /// engine cannot be reached (the two keys every polled engine has);
    /// no event feed.
    pub fn new(poll_secs: u64, unreachable_grace_secs: u64) -> Self {
        PollSettings {
            poll_secs,
            grace: Duration::from_secs(unreachable_grace_secs),
            nudge: None,
        }
    }
}

/// Registers the instance's health and runs [`drive`] under supervision,
/// with a fresh engine from `make` after every restart.
pub fn spawn<E: PollingEngine>(
    id: SourceId,
    settings: PollSettings,
    sink: Arc<dyn Sink>,
    stop: watch::Receiver<bool>,
    make: impl Fn() -> E + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let health = sink.health(id.clone());
    crate::supervise::supervise(health.clone(), stop.clone(), move || {
        drive(
            make(),
            id.clone(),
            settings.clone(),
            sink.clone(),
            health.clone(),
            stop.clone(),
        )
    })
}

/// Polls `engine` until the daemon stops. Returns early only on a bug the
/// supervisor should see.
pub async fn drive<E: PollingEngine>(
    mut engine: E,
    id: SourceId,
    settings: PollSettings,
    sink: Arc<dyn Sink>,
    health: Arc<SourceHealth>,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut poller = Poller::new(settings.poll_secs, stop);
    poller.nudge = settings.nudge.clone();
    engine.seed(&sink.live(&id));
    // Since when each unreachable part (by nas; "" = the whole engine) has
    // been failing.
    let mut failing: HashMap<String, Instant> = HashMap::new();
    while poller.next(sink.as_ref()).await {
        let live = sink.live(&id);
        let read = match poller
            .unless_stopped(tokio::time::timeout(READ_TIMEOUT, engine.read()))
            .await
        {
            None => break,
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(format!("no answer within {READ_TIMEOUT:?}")),
        };
        let now = Instant::now();
        let (current, unreachable): (Vec<ConnectionInfo>, Vec<(String, String)>) = match read {
            Ok(snapshot) => {
                match (snapshot.unreachable.first(), snapshot.reached) {
                    (None, _) => health.ok(),
                    (Some((nas, e)), 0) => health.unreachable(format!("{nas}: {e}")),
                    (Some((nas, e)), _) => health.degraded(format!("{nas}: {e}")),
                }
                failing.remove("");
                (snapshot.connections, snapshot.unreachable)
            }
            Err(e) => {
                health.unreachable(e.clone());
                (Vec::new(), vec![(String::new(), e)])
            }
        };
        let down: HashSet<&str> = unreachable.iter().map(|(nas, _)| nas.as_str()).collect();
        failing.retain(|nas, _| down.contains(nas.as_str()));
        for nas in &down {
            failing.entry((*nas).to_owned()).or_insert(now);
        }
        // Rows of a part that is down are kept while its grace lasts (left
        // out of the comparison); past it they end as engine-unreachable.
        let expired = |nas: &str| {
            let since = failing.get(nas).or_else(|| failing.get(""));
            since.is_some_and(|t| now.duration_since(*t) >= settings.grace)
        };
        let is_down = |nas: &str| down.contains(nas) || down.contains("");
        let compared: Vec<Arc<Connection>> = live
            .iter()
            .filter(|c| !is_down(&c.info.source.nas) || expired(&c.info.source.nas))
            .cloned()
            .collect();
        let events = diff(current, &compared, |key| {
            if sink.is_hanging_up(key) {
                ADMIN_DISCONNECT.to_owned()
            } else if is_down(&key.nas) {
                UNREACHABLE_REASON.to_owned()
            } else {
                engine.ended_reason(key)
            }
        });
        apply(sink.as_ref(), &id, events).await;
    }
    Ok(())
}

/// Applies a poll's events; a failed commit is logged and simply retried by
/// the next poll, which computes the difference again.
async fn apply(sink: &dyn Sink, id: &SourceId, events: Vec<SourceEvent>) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = crate::sink::apply(sink, id, events).await {
        tracing::error!(source = %id, "changes not recorded (retried next poll): {e}");
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
) -> Vec<SourceEvent> {
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
            events.push(SourceEvent::Started(Box::new(info)));
        } else {
            seen.insert(info.source);
        }
    }
    for c in live {
        if !seen.contains(&c.info.source) {
            events.push(SourceEvent::Ended {
                key: c.info.source.clone(),
                reason: ended_reason(&c.info.source),
                stats: None,
                at: None,
            });
        }
    }
    events
}

#[cfg(test)]
mod drive_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::{ConnectionHandle, EngineKind};
    use std::time::{Duration, UNIX_EPOCH};

    fn info(id: &str, rx: u64, start: u64) -> ConnectionInfo {
        let key = SourceKey::new(EngineKind::Openvpn, "srv", id);
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
        assert!(matches!(&events[0], SourceEvent::Started(i) if i.source.session_id == "b"));
        assert!(
            matches!(&events[1], SourceEvent::Ended { key, reason, .. } if key.session_id == "gone" && reason == "quit")
        );
        // Counters moved: an upsert with the original start time.
        let events = diff(vec![info("a", 9, 999)], &live[..1], |_| "quit".into());
        assert!(
            matches!(&events[0], SourceEvent::Started(i) if i.stats.bytes_rcved == 9 && i.started_at == UNIX_EPOCH + Duration::from_secs(100))
        );
    }
}
