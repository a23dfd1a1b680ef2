//! Fault injection under the daemon's write path: the real
//! `ConnectionManager` (table → journal group commit → store) on a
//! simulated disk (`rras_store::fault::SimDisk`) whose writes and fsyncs
//! fail at random and which loses power mid-burst, keeping any subset of
//! the unsynced sectors. Reporters behave like NASes: an event that was
//! not acknowledged is sent again until it is.
//!
//! After every crash the daemon's start-up path (open, load) must succeed
//! and show every acknowledged start and end; the store must hold each
//! session once (a start rolled back after a failed fsync must not come
//! back from the disk as a second copy); and no handle may ever be issued
//! twice, across all restarts.
//!
//! Size: `RRAS_FAULT_ROUNDS` (default 25) crashes, `RRAS_FAULT_STEPS`
//! (default 120) events per reporter per round, seed `RRAS_FAULT_SEED`;
//! docs/durability.md has the large run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use rras_core::{synthetic, ConnectionStats, ConnectionTable, CursorLimits, SourceKey, Win32Error};
use rras_source::SourceEvent;
use rras_store::fault::{FaultRates, SimDisk, SplitMix64};
use rras_store::{Store, StoreOptions};
use rrasd::manager::ConnectionManager;

const REPORTERS: u64 = 4;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One session as its reporter knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acked {
    /// Started, acknowledged with this handle.
    Up(u32),
    /// Ended, acknowledged.
    Down,
}

#[derive(Debug, Default)]
struct Reporter {
    /// Acknowledged state per session id.
    sessions: HashMap<u64, Acked>,
    /// The event sent but not yet acknowledged (resent until it is).
    unacked: Option<(u64, Kind)>,
    next_id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Update,
    End,
}

fn key(id: u64) -> SourceKey {
    synthetic::connection(id, SystemTime::UNIX_EPOCH).source
}

fn event(id: u64, kind: Kind, n: u64) -> SourceEvent {
    match kind {
        Kind::Start => SourceEvent::Started(Box::new(synthetic::connection(id, SystemTime::now()))),
        Kind::Update => SourceEvent::Updated {
            key: key(id),
            stats: ConnectionStats {
                bytes_rcved: n,
                ..Default::default()
            },
        },
        Kind::End => SourceEvent::Ended {
            key: key(id),
            reason: "fault-test".into(),
            stats: None,
            at: None,
        },
    }
}

fn open(disk: &SimDisk) -> Arc<Store> {
    let options = StoreOptions {
        audit_limit: 1000,
        cache_bytes: 1 << 20,
        // Checkpoints all the time, so crashes land between every step of
        // one (switch, apply, free) and not only in the log's replay.
        checkpoint_interval: Duration::from_millis(1),
        ..StoreOptions::default()
    };
    disk.set_faults(FaultRates::default());
    Arc::new(Store::open_simulated(disk, options).expect("the store opens after a crash"))
}

/// Every handle ever acknowledged, with its session: a handle must never
/// be given to a second session, before or after a restart.
#[derive(Debug, Default)]
struct Handles(HashMap<u32, u64>);

impl Handles {
    fn issued(&mut self, handle: u32, id: u64) {
        let first = *self.0.entry(handle).or_insert(id);
        assert_eq!(first, id, "handle {handle} given to session {first} and again to {id}");
    }
}

#[test]
fn acknowledged_events_survive_faults_and_crashes_without_duplicates() {
    let rounds = env_u64("RRAS_FAULT_ROUNDS", 25);
    let steps = env_u64("RRAS_FAULT_STEPS", 120);
    let seed = env_u64("RRAS_FAULT_SEED", 0xfa17);
    let rates = FaultRates {
        write_ppm: 2_000,
        sync_ppm: 15_000,
        set_len_ppm: 15_000,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = SimDisk::new(seed);
    let mut rng = SplitMix64(seed ^ 0x55);
    let reporters: Vec<Arc<Mutex<Reporter>>> = (0..REPORTERS)
        .map(|r| {
            Arc::new(Mutex::new(Reporter {
                next_id: r << 40,
                ..Default::default()
            }))
        })
        .collect();
    let handles = Arc::new(Mutex::new(Handles::default()));
    let (mut acked_total, mut failed_total) = (0u64, 0u64);

    for round in 0..rounds {
        let disk = sim.reboot();
        let store = open(&disk);
        let table = Arc::new(ConnectionTable::new(CursorLimits::default()));
        rrasd::server::load_table(&store, &table).expect("load after crash");

        // The store holds each session once.
        let loaded = store.load().expect("load");
        let mut keys = HashSet::new();
        for r in &loaded.active {
            let k = r.source();
            assert!(
                keys.insert((
                    k.engine,
                    k.instance.to_owned(),
                    k.nas.to_owned(),
                    k.session_id.to_owned()
                )),
                "round {round}: session {:?} is stored twice",
                k.session_id
            );
        }
        let max_handle_on_disk = loaded.active.iter().map(|r| r.handle().get()).max().unwrap_or(0);
        assert!(loaded.handle_watermark >= max_handle_on_disk);

        // Every acknowledged state is there; an unacknowledged event may or
        // may not have landed, and what the disk says becomes the truth.
        let mut live = 0usize;
        for reporter in &reporters {
            let mut rep = reporter.lock();
            let unacked = rep.unacked.take();
            let ids: Vec<u64> = rep
                .sessions
                .keys()
                .copied()
                .chain(unacked.map(|(id, _)| id))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            for id in ids {
                let now = table.find(&key(id)).map(|h| h.get());
                let acked = rep.sessions.get(&id).copied();
                if unacked.is_some_and(|(u, _)| u == id) {
                    match now {
                        Some(h) => {
                            handles.lock().issued(h, id);
                            rep.sessions.insert(id, Acked::Up(h));
                        }
                        None => {
                            if acked.is_some() {
                                rep.sessions.insert(id, Acked::Down);
                            }
                        }
                    }
                } else {
                    match acked {
                        Some(Acked::Up(h)) => assert_eq!(
                            now,
                            Some(h),
                            "round {round}: acknowledged session {id} (handle {h}) lost"
                        ),
                        Some(Acked::Down) => {
                            assert_eq!(now, None, "round {round}: acknowledged end of {id} undone")
                        }
                        None => {}
                    }
                }
                live += usize::from(now.is_some());
            }
        }
        assert_eq!(
            table.len(),
            live,
            "round {round}: sessions nobody reported are in the table"
        );

        // A burst under faults, power lost somewhere in it.
        let manager = Arc::new(ConnectionManager::new(table.clone(), store.clone()));
        disk.set_faults(rates);
        disk.crash_after(rng.below(steps * REPORTERS * 6) + 1);
        let mut tasks = Vec::new();
        for (r, reporter) in reporters.iter().enumerate() {
            let (manager, reporter, disk, handles) = (manager.clone(), reporter.clone(), disk.clone(), handles.clone());
            let mut rng = SplitMix64(rng.next_u64() ^ r as u64);
            tasks.push(rt.spawn(async move {
                let (mut acked, mut failed) = (0u64, 0u64);
                for n in 0..steps {
                    if disk.is_dead() {
                        break;
                    }
                    let (id, kind) = {
                        let mut rep = reporter.lock();
                        match rep.unacked {
                            Some(e) => e,
                            None => {
                                let up: Vec<u64> = rep
                                    .sessions
                                    .iter()
                                    .filter(|(_, a)| matches!(a, Acked::Up(_)))
                                    .map(|(id, _)| *id)
                                    .collect();
                                let pick = |rng: &mut SplitMix64| up[rng.below(up.len() as u64) as usize];
                                let e = match (rng.below(3), up.is_empty()) {
                                    (0, _) | (_, true) => {
                                        rep.next_id += 1;
                                        (rep.next_id, Kind::Start)
                                    }
                                    (1, false) => (pick(&mut rng), Kind::Update),
                                    _ => (pick(&mut rng), Kind::End),
                                };
                                rep.unacked = Some(e);
                                e
                            }
                        }
                    };
                    match manager.apply(vec![event(id, kind, n)]).await {
                        Err(_) => failed += 1,
                        Ok(mut results) => {
                            acked += 1;
                            let result = results.remove(0);
                            let mut rep = reporter.lock();
                            rep.unacked = None;
                            match (kind, result) {
                                (Kind::Start, Ok(h)) => {
                                    handles.lock().issued(h.get(), id);
                                    rep.sessions.insert(id, Acked::Up(h.get()));
                                }
                                (Kind::Update, Ok(_)) => {}
                                (Kind::End, Ok(_)) => {
                                    rep.sessions.insert(id, Acked::Down);
                                }
                                (kind, Err(e)) => {
                                    // A failed commit was rolled back, so a
                                    // resent event finds its session.
                                    assert_ne!(e, Win32Error::NoConnection, "{kind:?} of {id}: session gone");
                                    panic!("{kind:?} of {id}: {e:?}");
                                }
                            }
                        }
                    }
                }
                (acked, failed)
            }));
        }
        for task in tasks {
            let (a, f) = rt.block_on(task).expect("reporter task");
            acked_total += a;
            failed_total += f;
        }
        if !disk.is_dead() {
            disk.crash();
        }
        drop(manager);
    }
    let stats = sim.stats();
    eprintln!("{rounds} crashes: {acked_total} events acknowledged, {failed_total} failed; disk {stats:?}");
    assert!(
        failed_total > 0 && stats.injected > 0,
        "no fault fired: the test proves nothing"
    );
    assert!(
        acked_total > rounds * REPORTERS,
        "too few events succeeded to test anything"
    );
}
