//! The polling driver against a fake [`Sink`] over a bare table, under
//! tokio's paused clock: what an admin sees of an engine — sessions coming
//! and going, health, the grace of an unreachable engine, the reason of an
//! admin's hang-up — without a store, a journal or a real engine.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;
use rras_core::{ConnectionTable, CursorLimits, EngineKind, Win32Error};

use super::*;
use crate::hang_up::DynHangUp;
use crate::health::{EngineState, HealthRegistry};
use crate::sink::Staged;

/// A sink that applies events straight to its table (nothing to make
/// durable) and remembers every end and its reason.
#[derive(Debug)]
struct FakeSink {
    table: ConnectionTable,
    health: HealthRegistry,
    running: AtomicBool,
    hanging_up: Mutex<HashSet<SourceKey>>,
    ended: Mutex<Vec<(String, String)>>,
}

impl FakeSink {
    fn new() -> Arc<Self> {
        Arc::new(FakeSink {
            table: ConnectionTable::new(CursorLimits::default()),
            health: HealthRegistry::default(),
            running: AtomicBool::new(true),
            hanging_up: Mutex::new(HashSet::new()),
            ended: Mutex::new(Vec::new()),
        })
    }

    fn sessions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .table
            .select(|_| true)
            .iter()
            .map(|c| c.info.source.session_id.clone())
            .collect();
        v.sort();
        v
    }
}

impl Sink for FakeSink {
    fn table(&self) -> &ConnectionTable {
        &self.table
    }

    fn stage(&self, id: &SourceId, events: Vec<SourceEvent>) -> Staged {
        let results = events
            .into_iter()
            .map(|e| {
                if !id.owns(rras_core::SourceRef::of(e.key())) {
                    return Err(Win32Error::AccessDenied);
                }
                match e {
                    SourceEvent::Started(info) => Ok(self.table.upsert(*info).handle),
                    SourceEvent::Updated { key, stats } => {
                        let h = self.table.find(&key).ok_or(Win32Error::NoConnection)?;
                        self.table.update_stats(h, stats).map(|_| h)
                    }
                    SourceEvent::Ended { key, reason, .. } => {
                        let h = self.table.find(&key).ok_or(Win32Error::NoConnection)?;
                        self.table.remove(h);
                        self.ended.lock().push((key.session_id, reason));
                        Ok(h)
                    }
                }
            })
            .collect();
        Staged::new(results, None)
    }

    fn register_hang_up(&self, _id: SourceId, _hang_up: Arc<dyn DynHangUp>) {}

    fn health(&self, id: SourceId) -> Arc<SourceHealth> {
        self.health.register(id)
    }

    fn is_hanging_up(&self, key: &SourceKey) -> bool {
        self.hanging_up.lock().contains(key)
    }

    fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}

/// What the scripted engine answers: sessions by id, an error, or a read
/// that never finishes.
#[derive(Debug, Clone)]
enum Answer {
    Sessions(Vec<&'static str>),
    Fails(&'static str),
    Hangs,
}

#[derive(Debug)]
struct ScriptedEngine {
    id: SourceId,
    answer: Arc<Mutex<Answer>>,
    reads: Arc<AtomicUsize>,
}

impl PollingEngine for ScriptedEngine {
    async fn read(&mut self) -> Result<Snapshot, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().clone();
        match answer {
            Answer::Sessions(ids) => Ok(Snapshot {
                connections: ids
                    .iter()
                    .map(|s| ConnectionInfo::new(self.id.key("srv", *s), format!("user-{s}"), std::time::UNIX_EPOCH))
                    .collect(),
                unreachable: Vec::new(),
                reached: 1,
            }),
            Answer::Fails(e) => Err(e.to_owned()),
            Answer::Hangs => std::future::pending().await,
        }
    }

    fn ended_reason(&self, _key: &SourceKey) -> String {
        "user-request".into()
    }
}

struct Rig {
    sink: Arc<FakeSink>,
    answer: Arc<Mutex<Answer>>,
    reads: Arc<AtomicUsize>,
    health: Arc<SourceHealth>,
    id: SourceId,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

/// Polls every 5 s with a 60 s grace, starting with `first`.
fn rig(first: Answer) -> Rig {
    let sink = FakeSink::new();
    let id = SourceId::new(EngineKind::Openvpn, "ovpn").unwrap();
    let answer = Arc::new(Mutex::new(first));
    let reads = Arc::new(AtomicUsize::new(0));
    let health = sink.health(id.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let engine = ScriptedEngine {
        id: id.clone(),
        answer: answer.clone(),
        reads: reads.clone(),
    };
    let settings = PollSettings {
        poll_secs: 5,
        grace: Duration::from_secs(60),
        nudge: None,
    };
    let task = tokio::spawn(drive(
        engine,
        id.clone(),
        settings,
        sink.clone(),
        health.clone(),
        stopped,
    ));
    Rig {
        sink,
        answer,
        reads,
        health,
        id,
        stop,
        task,
    }
}

impl Rig {
    fn answer(&self, a: Answer) {
        *self.answer.lock() = a;
    }

    /// Lets the clock run `secs` (paused time: timers fire in order).
    async fn run(&self, secs: u64) {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(1), self.task).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "drive did not stop: {ended:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn sessions_come_and_go_with_the_engines_reason_and_quiet_polls_write_nothing() {
    let rig = rig(Answer::Sessions(vec!["a", "b"]));
    rig.run(1).await;
    assert_eq!(rig.sink.sessions(), ["a", "b"]);
    assert_eq!(rig.health.report().state, EngineState::Ok);
    let watermark = rig.sink.table.handle_watermark();
    // Two quiet polls: nothing re-inserted, no handle spent.
    rig.run(10).await;
    assert_eq!(rig.sink.table.handle_watermark(), watermark);
    rig.answer(Answer::Sessions(vec!["b", "c"]));
    rig.run(5).await;
    assert_eq!(rig.sink.sessions(), ["b", "c"]);
    assert_eq!(*rig.sink.ended.lock(), [("a".to_owned(), "user-request".to_owned())]);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_engine_keeps_its_sessions_for_the_grace_then_ends_them() {
    let rig = rig(Answer::Sessions(vec!["a"]));
    rig.run(1).await;
    rig.answer(Answer::Fails("connection refused"));
    rig.run(5).await;
    let report = rig.health.report();
    assert_eq!(
        (report.state, report.last_error.as_str()),
        (EngineState::Unreachable, "connection refused")
    );
    // Inside the grace the row stays.
    rig.run(50).await;
    assert_eq!(rig.sink.sessions(), ["a"]);
    // Past it (first failure at 5 s, grace 60 s) the row ends.
    rig.run(15).await;
    assert!(
        rig.sink.sessions().is_empty(),
        "reads {} ended {:?} health {:?}",
        rig.reads.load(Ordering::SeqCst),
        rig.sink.ended.lock(),
        rig.health.report()
    );
    assert_eq!(
        *rig.sink.ended.lock(),
        [("a".to_owned(), UNREACHABLE_REASON.to_owned())]
    );
    // Back: the next poll reconciles.
    rig.answer(Answer::Sessions(vec!["a"]));
    rig.run(5).await;
    assert_eq!(
        (rig.sink.sessions(), rig.health.report().state),
        (vec!["a".to_owned()], EngineState::Ok)
    );
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_read_that_never_answers_counts_as_unreachable_after_the_time_limit() {
    let rig = rig(Answer::Hangs);
    rig.run(READ_TIMEOUT.as_secs() - 1).await;
    assert_eq!(rig.health.report().state, EngineState::Starting);
    rig.run(2).await;
    let report = rig.health.report();
    assert_eq!(report.state, EngineState::Unreachable);
    assert!(report.last_error.contains("no answer"), "{}", report.last_error);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_session_gone_during_an_admins_hang_up_ends_as_the_admins() {
    let rig = rig(Answer::Sessions(vec!["a"]));
    rig.run(1).await;
    rig.sink.hanging_up.lock().insert(rig.id.key("srv", "a"));
    rig.answer(Answer::Sessions(vec![]));
    rig.run(5).await;
    assert_eq!(*rig.sink.ended.lock(), [("a".to_owned(), ADMIN_DISCONNECT.to_owned())]);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn nothing_is_read_until_the_daemon_runs() {
    let sink = FakeSink::new();
    sink.running.store(false, Ordering::SeqCst);
    let id = SourceId::default_of(EngineKind::Wireguard);
    let reads = Arc::new(AtomicUsize::new(0));
    let engine = ScriptedEngine {
        id: id.clone(),
        answer: Arc::new(Mutex::new(Answer::Sessions(vec!["a"]))),
        reads: reads.clone(),
    };
    let settings = PollSettings {
        poll_secs: 5,
        grace: Duration::from_secs(60),
        nudge: None,
    };
    let health = sink.health(id.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(drive(engine, id, settings, sink.clone(), health, stopped));
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(reads.load(Ordering::SeqCst), 0);
    sink.running.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        (reads.load(Ordering::SeqCst), sink.sessions()),
        (1, vec!["a".to_owned()])
    );
    stop.send(true).unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(1), task).await.is_ok());
}

#[test]
fn a_sink_refuses_rows_of_another_instance_in_their_place() {
    let sink = FakeSink::new();
    let mine = SourceId::new(EngineKind::Openvpn, "a").unwrap();
    let theirs = SourceId::new(EngineKind::Openvpn, "b").unwrap();
    let info = |id: &SourceId, s: &str| {
        SourceEvent::Started(Box::new(ConnectionInfo::new(
            id.key("srv", s),
            "u",
            std::time::UNIX_EPOCH,
        )))
    };
    let staged = sink.stage(&mine, vec![info(&mine, "1"), info(&theirs, "2"), info(&mine, "3")]);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let results = rt.block_on(staged.durable()).unwrap();
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_eq!(results[1], Err(Win32Error::AccessDenied));
    assert_eq!(sink.sessions(), ["1", "3"]);
}
