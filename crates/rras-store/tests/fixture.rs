//! Stores users already have must keep opening: each checked-in fixture
//! (written by `examples/write-fixture.rs` with the code of its day) is
//! opened by today's code, and every connection, history entry and audit
//! record must be found with its contents.

use std::io::Read;
use std::time::{Duration, UNIX_EPOCH};

use rras_core::{synthetic, ConnectionHandle};
use rras_store::Store;

fn unpack(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let gz = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).expect("fixture present"))
        .read_to_end(&mut bytes)
        .expect("fixture unpacks");
    let path = dir.join("rrasd.redb");
    std::fs::write(&path, bytes).expect("write fixture copy");
    path
}

#[test]
fn a_schema_2_store_opens_with_everything_in_it() {
    opens_with_everything_in_it("schema-2.redb.gz");
}

#[test]
fn a_schema_3_store_opens_with_everything_in_it() {
    opens_with_everything_in_it("schema-3.redb.gz");
}

/// Schema 4 had the history's first indexes (by end, and user and address
/// keys as bytes); schema 5 replaces them.
#[test]
fn a_schema_4_store_opens_with_everything_in_it() {
    opens_with_everything_in_it("schema-4.redb.gz");
}

fn opens_with_everything_in_it(fixture: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = unpack(fixture, dir.path());
    let at = UNIX_EPOCH + Duration::from_secs(1_795_600_000);
    for round in 0..2 {
        // Twice: the first open migrates, the second reads the new layout.
        let store = Store::open(&path).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.handle_watermark, 8, "round {round}");
        let mut active: Vec<_> = loaded.active.iter().map(|r| r.decode()).collect();
        active.sort_by_key(|c| c.handle);
        assert_eq!(active.len(), 5);
        for (i, c) in (1..=5u32).zip(&active) {
            assert_eq!(c.handle, ConnectionHandle::new(i).unwrap());
            assert_eq!(c.info, synthetic::connection(u64::from(i), at), "connection {i}");
        }
        let history = store.history(10).unwrap();
        assert_eq!(history.len(), 3);
        for (e, i) in history.iter().zip([8u32, 7, 6]) {
            assert_eq!(e.connection.handle.get(), i);
            assert_eq!(e.connection.info, synthetic::connection(u64::from(i), at));
            assert_eq!(e.reason, format!("reason-{i}"));
            assert_eq!(e.ended_at, at + Duration::from_secs(u64::from(i)));
        }
        let audit = store.audit(10).unwrap();
        assert_eq!(audit.len(), 2);
        assert_eq!((audit[0].caller.as_str(), audit[0].target.as_str()), ("uid:1", "2"));
        assert_eq!(
            (audit[1].caller.as_str(), audit[1].method.as_str()),
            ("uid:0", "ConnectionHangUp")
        );
        // The history written before its indexes is found through them.
        let seven = synthetic::connection(7, at);
        let by_address = rras_core::HistoryQuery {
            address: seven.client_address(),
            ..Default::default()
        };
        let found = store.history_query(&by_address, None, 10).unwrap();
        assert_eq!(found.entries.len(), 1, "round {round}");
        assert_eq!(found.entries[0].1.connection.handle.get(), 7);
        let by_user = rras_core::HistoryQuery {
            user: Some(seven.user_name.clone()),
            ..Default::default()
        };
        let found = store.history_query(&by_user, None, 10).unwrap();
        assert!(found.entries.iter().any(|(_, e)| e.connection.handle.get() == 7));
        assert!(store.history_size().unwrap().1 > 0, "bytes counted at migration");
    }
}
