//! Fault injection below the store: redb on a simulated disk whose writes,
//! syncs and resizes fail at random and which loses power in the middle of
//! commits, keeping an arbitrary subset of the sectors written since the
//! last sync. After every crash the store must open, hold every
//! acknowledged change (or a newer unacknowledged one), nothing that was
//! never written, and a watermark at least as high as any acknowledged one.
//!
//! Size: `RRAS_FAULT_ROUNDS` (default 100) crashes × `RRAS_FAULT_COMMITS`
//! (default 30) commits, seed `RRAS_FAULT_SEED` (a run is reproducible from
//! its seed: nothing here reads the clock); `RRAS_FAULT_VERBOSE=1` prints
//! every failed commit. docs/durability.md has the large run.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use rras_core::history_query::addresses;
use rras_core::{synthetic, Connection, ConnectionHandle, EndedConnection, HistoryQuery, Record};
use rras_store::fault::{FaultRates, SimDisk, SplitMix64};
use rras_store::{Store, StoreOp, StoreOptions};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What the test knows about one handle.
#[derive(Debug, Default)]
struct Known {
    /// The last acknowledged state: Some(record) present, None ended.
    acked: Option<Record>,
    /// States written by commits that failed after the last acknowledged
    /// one: any of them may have reached the disk.
    maybe: Vec<Option<Record>>,
}

fn record(handle: u32, version: u64) -> Record {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut info = synthetic::connection(u64::from(handle), t);
    info.stats.bytes_rcved = version;
    Record::encode(&Connection {
        handle: ConnectionHandle::new(handle).expect("non-zero"),
        info,
    })
}

fn open(disk: &SimDisk) -> Store {
    let options = StoreOptions {
        audit_limit: 1000,
        cache_bytes: 1 << 20,
        // Checkpoints all the time, so crashes land between every step of
        // one (switch, apply, free) and not only in the log's replay.
        checkpoint_interval: Duration::from_millis(1),
        // The newest index keys merged from memory into redb every few
        // entries, so crashes land between every step of that too.
        history_recent_entries: 3,
        ..StoreOptions::default()
    };
    // Opening itself may hit injected faults; a bounded number of retries,
    // then once more without faults, which must work.
    for _ in 0..20 {
        if let Ok(store) = Store::open_simulated(disk, options) {
            return store;
        }
    }
    disk.set_faults(FaultRates::default());
    Store::open_simulated(disk, options).expect("the store opens after a crash")
}

/// The indexes — redb's and the newest keys in memory, rebuilt after the
/// crash — find the newest ended connections and a sample of the rest by
/// address and by user.
fn index_finds_history(store: &Store, round: u64) {
    let all = store
        .history_query(&HistoryQuery::default(), None, usize::MAX)
        .expect("history pages");
    let sample = all.entries.iter().take(8).chain(all.entries.iter().step_by(37));
    for (seq, e) in sample {
        let info = &e.connection.info;
        let by_address = addresses(info).first().map(|a| HistoryQuery {
            address: Some(*a),
            ..HistoryQuery::default()
        });
        let by_user = HistoryQuery {
            user: Some(info.account()),
            ..HistoryQuery::default()
        };
        for q in by_address.iter().chain([&by_user]) {
            let found = store.history_query(q, None, usize::MAX).expect("query");
            assert!(
                found.entries.iter().any(|(s, _)| s == seq),
                "round {round}: entry {seq} not found by {q:?}"
            );
        }
    }
}

#[test]
fn acknowledged_commits_survive_faults_and_crashes() {
    let rounds = env_u64("RRAS_FAULT_ROUNDS", 100);
    let commits = env_u64("RRAS_FAULT_COMMITS", 30);
    let seed = env_u64("RRAS_FAULT_SEED", 0x5eed);
    let rates = FaultRates {
        write_ppm: 3_000,
        sync_ppm: 20_000,
        set_len_ppm: 20_000,
    };
    let sim = SimDisk::new(seed);
    let mut rng = SplitMix64(seed ^ 0xa5a5);
    let mut known: BTreeMap<u32, Known> = BTreeMap::new();
    let mut acked_watermark = 0u32;
    let mut next_handle = 1u32;
    let mut version = 0u64;
    let (mut acked_commits, mut failed_commits, mut acked_ends) = (0u64, 0u64, 0u64);

    for round in 0..rounds {
        let disk = sim.reboot();
        disk.set_faults(FaultRates::default());
        let store = open(&disk);

        // Verify: the disk holds, per handle, the acknowledged state or one
        // a failed commit wrote; nothing else.
        let loaded = store.load().expect("load after crash");
        assert!(
            loaded.handle_watermark >= acked_watermark,
            "round {round}: watermark {} fell below the acknowledged {acked_watermark}",
            loaded.handle_watermark
        );
        let mut on_disk: BTreeMap<u32, Record> = BTreeMap::new();
        for r in loaded.active {
            assert!(on_disk.insert(r.handle().get(), r).is_none());
        }
        for (h, k) in known.iter_mut() {
            let actual = on_disk.remove(h);
            let allowed = std::iter::once(&k.acked).chain(k.maybe.iter()).any(|v| *v == actual);
            assert!(
                allowed,
                "round {round}: handle {h} is {:?} on disk; acknowledged {:?}",
                actual.as_ref().map(|r| r.decode().info.stats.bytes_rcved),
                k.acked.as_ref().map(|r| r.decode().info.stats.bytes_rcved)
            );
            // What survived the crash is now the truth.
            k.acked = actual;
            k.maybe.clear();
        }
        assert!(
            on_disk.is_empty(),
            "round {round}: handles never written are on disk: {:?}",
            on_disk.keys().collect::<Vec<_>>()
        );
        store.history(usize::MAX).expect("history decodes");
        index_finds_history(&store, round);
        acked_watermark = acked_watermark.max(loaded.handle_watermark);
        next_handle = next_handle.max(acked_watermark + 1);

        // A burst of commits under faults, with power lost somewhere in it.
        disk.set_faults(rates);
        disk.crash_after(rng.below(commits * 12) + 1);
        for _ in 0..commits {
            if disk.is_dead() {
                break;
            }
            let mut ops = Vec::new();
            let mut touched: Vec<(u32, Option<Record>)> = Vec::new();
            for _ in 0..=rng.below(6) {
                version += 1;
                let live: Vec<u32> = known
                    .iter()
                    .filter(|(_, k)| k.acked.is_some())
                    .map(|(h, _)| *h)
                    .collect();
                match (rng.below(3), live.is_empty()) {
                    (0, _) | (_, true) => {
                        let h = next_handle;
                        next_handle += 1;
                        let r = record(h, version);
                        ops.push(StoreOp::Put(r.clone()));
                        touched.push((h, Some(r)));
                    }
                    (1, false) => {
                        let h = live[rng.below(live.len() as u64) as usize];
                        let r = record(h, version);
                        ops.push(StoreOp::Put(r.clone()));
                        touched.push((h, Some(r)));
                    }
                    _ => {
                        let h = live[rng.below(live.len() as u64) as usize];
                        let connection = record(h, version).decode();
                        ops.push(StoreOp::End(Box::new(EndedConnection {
                            connection,
                            ended_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + version),
                            reason: "fault-test".into(),
                        })));
                        touched.push((h, None));
                    }
                }
            }
            let watermark = next_handle - 1;
            match store.commit(&ops, watermark) {
                Ok(()) => {
                    acked_commits += 1;
                    acked_watermark = acked_watermark.max(watermark);
                    for (h, state) in touched {
                        acked_ends += u64::from(state.is_none());
                        let k = known.entry(h).or_default();
                        k.acked = state;
                        k.maybe.clear();
                    }
                }
                Err(e) => {
                    if std::env::var_os("RRAS_FAULT_VERBOSE").is_some() {
                        eprintln!("round {round}: commit failed: {e}");
                    }
                    failed_commits += 1;
                    for (h, state) in touched {
                        known.entry(h).or_default().maybe.push(state);
                    }
                }
            }
        }
        if !disk.is_dead() {
            disk.crash();
        }
        drop(store);
    }
    let stats = sim.stats();
    eprintln!(
        "{rounds} crashes: {acked_commits} commits acknowledged ({acked_ends} ends), {failed_commits} failed; disk {stats:?}"
    );
    assert!(
        stats.injected > 0 && failed_commits > 0,
        "no fault fired: the test proves nothing"
    );
    assert!(acked_commits > rounds, "too few commits succeeded to test anything");
    assert!(
        stats.sectors_lost > 0 && stats.sectors_kept > 0,
        "crashes never tore anything"
    );
}
