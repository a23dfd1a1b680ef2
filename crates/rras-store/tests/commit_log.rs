//! The store's commit log: a commit is durable when `commit` returns, even
//! if redb never received it; reads see every commit that returned; a
//! clean close leaves nothing to replay.

use std::time::{Duration, SystemTime};

use rras_core::{synthetic, AuditRecord, Connection, ConnectionHandle, EndedConnection, Record};
use rras_store::fault::SimDisk;
use rras_store::{Store, StoreOp, StoreOptions};

fn record(handle: u32) -> Record {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    Record::encode(&Connection {
        handle: ConnectionHandle::new(handle).expect("non-zero"),
        info: synthetic::connection(u64::from(handle), t),
    })
}

fn ended(handle: u32) -> StoreOp {
    StoreOp::End(Box::new(EndedConnection {
        connection: record(handle).decode(),
        ended_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_100),
        reason: "test".into(),
    }))
}

/// A store on a simulated disk that checkpoints every `checkpoint_interval`.
fn simulated(seed: u64, checkpoint_interval: Duration) -> (SimDisk, StoreOptions, Store) {
    let sim = SimDisk::new(seed);
    let options = StoreOptions {
        checkpoint_interval,
        ..StoreOptions::default()
    };
    let store = Store::open_simulated(&sim, options).expect("opens");
    (sim, options, store)
}

#[test]
fn commits_only_in_the_log_come_back_after_a_crash() {
    // No checkpoint during the test: redb holds nothing durably but what
    // open wrote.
    let (sim, options, store) = simulated(11, Duration::from_secs(3600));
    for h in 1..=50u32 {
        store
            .commit_at(&[StoreOp::Put(record(h))], h, u64::from(h))
            .expect("commit");
    }
    store.commit(&[ended(7), ended(8)], 50).expect("commit");
    store
        .commit(
            &[StoreOp::Audit(AuditRecord {
                at: SystemTime::now(),
                caller: "uid:0".into(),
                method: "ConnectionHangUp".into(),
                target: "9".into(),
                result: 0,
            })],
            50,
        )
        .expect("commit");
    // Reads see what was committed, whether or not redb is durable yet.
    assert_eq!(store.history(10).expect("history").len(), 2);
    assert_eq!(store.audit(10).expect("audit").len(), 1);
    sim.crash();
    drop(store);

    let disk = sim.reboot();
    let store = Store::open_simulated(&disk, options).expect("opens after the crash");
    let loaded = store.load().expect("load");
    assert_eq!(loaded.active.len(), 48);
    assert_eq!(loaded.handle_watermark, 50);
    assert!(loaded.active.iter().all(|r| ![7, 8].contains(&r.handle().get())));
    assert_eq!(store.revision().expect("revision"), 50);
    let history = store.history(10).expect("history");
    assert_eq!(
        history.iter().map(|e| e.connection.handle.get()).collect::<Vec<_>>(),
        [8, 7]
    );
    assert_eq!(store.audit(10).expect("audit").len(), 1);
    // Replayed once: a second crash and open changes nothing.
    store.commit(&[StoreOp::Put(record(51))], 51).expect("commit");
    sim.crash();
    drop(store);
    let store = Store::open_simulated(&sim.reboot(), options).expect("opens again");
    assert_eq!(store.load().expect("load").active.len(), 49);
    assert_eq!(store.history(10).expect("history").len(), 2);
}

#[test]
fn a_closed_store_leaves_an_empty_log_and_everything_in_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    {
        let store = Store::open_with(&path, StoreOptions::default()).expect("opens");
        for h in 1..=100u32 {
            store.commit(&[StoreOp::Put(record(h))], h).expect("commit");
        }
        let segments: u64 = (0..2)
            .map(|i| {
                std::fs::metadata(dir.path().join(format!("store.redb.log{i}")))
                    .expect("segment")
                    .len()
            })
            .sum();
        assert!(segments > 0, "commits are in the log before the close");
    }
    for i in 0..2 {
        let len = std::fs::metadata(dir.path().join(format!("store.redb.log{i}")))
            .expect("segment")
            .len();
        assert_eq!(len, 0, "segment {i} is empty after a clean close");
    }
    let store = Store::open_with(&path, StoreOptions::default()).expect("reopens");
    assert_eq!(store.load().expect("load").active.len(), 100);
}

#[test]
fn a_second_store_on_the_same_files_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    let _first = Store::open_with(&path, StoreOptions::default()).expect("opens");
    let second = Store::open_with(&path, StoreOptions::default());
    assert!(second.is_err(), "two daemons must not write one store");
}

/// An idle store writes nothing: once what was committed is durable in
/// redb, the periodic checkpoint has nothing to do and makes no commit
/// (it made an empty durable one, two syncs, every interval).
#[test]
fn an_idle_store_stops_syncing_once_it_is_checkpointed() {
    let (sim, options, store) = simulated(12, Duration::from_millis(50));
    store.commit(&[StoreOp::Put(record(1))], 1).expect("commit");
    // The checkpoint after the commit (quiet: 50 ms), then nothing.
    let settled = |wait: Duration| {
        let before = sim.stats().syncs;
        std::thread::sleep(wait);
        sim.stats().syncs - before
    };
    let mut tries = 0;
    while settled(Duration::from_millis(300)) > 0 {
        tries += 1;
        assert!(tries < 20, "the store kept syncing while idle");
    }
    assert_eq!(settled(Duration::from_millis(600)), 0, "syncs while idle");
    // A new commit is still checkpointed.
    let durable_before = sim.stats().syncs;
    store.commit(&[StoreOp::Put(record(2))], 2).expect("commit");
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        sim.stats().syncs >= durable_before + 2,
        "the log's fsync and a checkpoint"
    );
    drop(store);
    let store = Store::open_simulated(&sim.reboot(), options).expect("reopens");
    assert_eq!(store.load().expect("load").active.len(), 2);
}
