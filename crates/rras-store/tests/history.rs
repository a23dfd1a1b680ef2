//! The accounting history in a real store file: every query filter through
//! its index, paging newest first exactly once while Stops keep arriving,
//! and retention by age and by size in small steps.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::{Connection, ConnectionHandle, ConnectionInfo, EndedConnection, EngineKind, HistoryQuery, SourceKey};
use rras_store::history::{Retention, RETENTION_STEP};
use rras_store::{Store, StoreOp, StoreOptions};

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Now, in whole seconds (the history keeps seconds).
fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One ended session: `account` on `engine`/`nas` with `address`, from
/// `started` to `ended` (seconds).
fn ended(handle: u32, account: &str, address: &str, started: u64, ended: u64) -> EndedConnection {
    ended_on(handle, account, address, started, ended, EngineKind::Radius, "nas-1")
}

fn ended_on(
    handle: u32,
    account: &str,
    address: &str,
    started: u64,
    ended: u64,
    engine: EngineKind,
    nas: &str,
) -> EndedConnection {
    let mut info = ConnectionInfo::new(SourceKey::new(engine, nas, format!("s-{handle}")), "x", t(started));
    info.set_account(account);
    match address.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => info.projection.ipv4_mut().remote_address = Some(v4),
        IpAddr::V6(v6) => info.projection.ipv6_mut().set_remote_address(v6),
    }
    EndedConnection {
        connection: Connection {
            handle: ConnectionHandle::new(handle).unwrap(),
            info,
        },
        ended_at: t(ended),
        reason: "user-request".into(),
    }
}

fn open(dir: &std::path::Path, retention: Retention) -> Store {
    Store::open_with(
        &dir.join("rrasd.redb"),
        StoreOptions {
            history: retention,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

fn end_all(store: &Store, entries: impl IntoIterator<Item = EndedConnection>) {
    let ops: Vec<StoreOp> = entries.into_iter().map(|e| StoreOp::End(Box::new(e))).collect();
    store.commit(&ops, 0).unwrap();
}

/// Every page of `q`, `limit` at a time: the handles, newest first.
fn all_pages(store: &Store, q: &HistoryQuery, limit: usize) -> Vec<u32> {
    let mut handles = Vec::new();
    let mut before = None;
    for _ in 0..1_000 {
        let page = store.history_query(q, before, limit).unwrap();
        assert!(page.entries.len() <= limit);
        handles.extend(page.entries.iter().map(|(_, e)| e.connection.handle.get()));
        match page.next {
            Some(next) => before = Some(next),
            None => return handles,
        }
    }
    panic!("paging did not end");
}

/// A day of sessions, recent enough for the default retention.
fn fixture() -> (u64, Vec<EndedConnection>) {
    let base = now_secs() - 30 * 86_400;
    let h = |x: u64| base + x;
    let entries = vec![
        ended(1, "CORP\\alice", "10.1.2.3", h(0), h(3_600)),
        ended(2, "bob@corp.example", "10.1.2.3", h(3_600), h(7_200)),
        ended(3, "alicia", "10.1.2.4", h(1_000), h(2_000)),
        ended_on(
            4,
            "carol",
            "2001:db8::7",
            h(5_000),
            h(9_000),
            EngineKind::Ocserv,
            "vpns0",
        ),
        ended_on(
            5,
            "CORP\\alice",
            "10.1.2.5",
            h(8_000),
            h(10_000),
            EngineKind::Wireguard,
            "wg0",
        ),
        ended(6, "dave", "10.1.2.3", h(10_000), h(20_000)),
    ];
    (base, entries)
}

#[test]
fn every_filter_finds_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Retention::default());
    let (base, entries) = fixture();
    end_all(&store, entries);
    let q = |f: &dyn Fn(&mut HistoryQuery)| {
        let mut q = HistoryQuery::default();
        f(&mut q);
        all_pages(&store, &q, 2)
    };
    let h = |x: u64| t(base + x);
    // Everything, newest first (the order the Stops became durable).
    assert_eq!(q(&|_| {}), [6, 5, 4, 3, 2, 1]);
    // User: with or without the domain, by prefix, without case.
    assert_eq!(q(&|q| q.user = Some("alice".into())), [5, 1]);
    assert_eq!(q(&|q| q.user = Some("ALI".into())), [5, 3, 1]);
    assert_eq!(q(&|q| q.user = Some("corp\\alice".into())), [5, 1]);
    assert_eq!(q(&|q| q.user = Some("bob".into())), [2]);
    assert_eq!(q(&|q| q.user = Some("bob@corp".into())), [2]);
    assert_eq!(q(&|q| q.user = Some("zed".into())), Vec::<u32>::new());
    // Who had 10.1.2.3 at an instant; over a range.
    let addr = |a: &str, from: u64, to: u64| {
        q(&|q| {
            q.address = Some(a.parse().unwrap());
            q.from = Some(h(from));
            q.to = Some(h(to));
        })
    };
    assert_eq!(addr("10.1.2.3", 1_800, 1_800), [1]);
    assert_eq!(addr("10.1.2.3", 3_600, 3_600), [2, 1], "the hand-over second");
    assert_eq!(addr("10.1.2.3", 15_000, 15_000), [6]);
    assert_eq!(addr("10.1.2.3", 25_000, 25_000), Vec::<u32>::new());
    assert_eq!(addr("10.1.2.3", 0, 99_999), [6, 2, 1]);
    assert_eq!(addr("2001:db8::7", 6_000, 6_000), [4]);
    assert_eq!(addr("10.9.9.9", 0, 99_999), Vec::<u32>::new());
    // Sessions overlapping a time range.
    let range = |from: u64, to: u64| {
        q(&|q| {
            q.from = Some(h(from));
            q.to = Some(h(to));
        })
    };
    assert_eq!(range(1_500, 1_600), [3, 1]);
    assert_eq!(range(9_500, 9_600), [5]);
    assert_eq!(range(21_000, 30_000), Vec::<u32>::new());
    // NAS, engine, instance.
    assert_eq!(q(&|q| q.nas = Some("NAS-1".into())), [6, 3, 2, 1]);
    assert_eq!(q(&|q| q.engine = Some(EngineKind::Ocserv)), [4]);
    assert_eq!(q(&|q| q.instance = Some("wireguard".into())), [5]);
    // Together: alice's sessions on WireGuard.
    assert_eq!(
        q(&|q| {
            q.user = Some("alice".into());
            q.engine = Some(EngineKind::Wireguard);
        }),
        [5]
    );
    // Every page but the last is full, whatever the filter.
    let page = store.history_query(&HistoryQuery::default(), None, 4).unwrap();
    assert_eq!(page.entries.len(), 4);
    assert!(page.next.is_some());
}

#[test]
fn paging_returns_each_entry_once_while_stops_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Retention::default());
    let start = now_secs() - 86_400;
    let user = |i: u32| if i.is_multiple_of(2) { "alice" } else { "bob" };
    end_all(
        &store,
        (1..=100).map(|i| {
            ended(
                i,
                user(i),
                "10.1.2.3",
                start + u64::from(i),
                start + 1_000 + u64::from(i),
            )
        }),
    );
    let mut next_handle = 1_000;
    for q in [
        HistoryQuery::default(),
        HistoryQuery {
            user: Some("alice".into()),
            ..Default::default()
        },
        HistoryQuery {
            address: Some("10.1.2.3".parse().unwrap()),
            ..Default::default()
        },
        HistoryQuery::default().at(t(start + 1_050)),
    ] {
        let present: BTreeSet<u32> = all_pages(&store, &q, 1_000).into_iter().collect();
        assert!(!present.is_empty(), "{q:?}");
        let mut seen: Vec<u32> = Vec::new();
        let mut before = None;
        loop {
            let page = store.history_query(&q, before, 7).unwrap();
            seen.extend(page.entries.iter().map(|(_, e)| e.connection.handle.get()));
            // More Stops between pages, matching the query too.
            end_all(
                &store,
                (0..3u32).map(|k| {
                    next_handle += 1;
                    let s = start + 1_000 + u64::from(k);
                    ended(next_handle, "alice", "10.1.2.3", s, s + 100)
                }),
            );
            match page.next {
                Some(n) => before = Some(n),
                None => break,
            }
        }
        let unique: BTreeSet<u32> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "an entry came twice for {q:?}");
        assert_eq!(unique, present, "an entry was missed for {q:?}");
        let mut newest_first = seen.clone();
        newest_first.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(seen, newest_first);
    }
}

#[test]
fn retention_by_age_removes_the_oldest_in_steps() {
    let dir = tempfile::tempdir().unwrap();
    let year = Duration::from_secs(365 * 86_400);
    let store = open(
        dir.path(),
        Retention {
            max_age: year,
            ..Retention::default()
        },
    );
    let old = now_secs() - 400 * 86_400;
    let n_old = (RETENTION_STEP + 100) as u32;
    // The old ones in one commit, then a recent one: retention runs with
    // every write, a step at a time.
    end_all(
        &store,
        (1..=n_old).map(|i| ended(i, "olduser", "10.9.0.1", old, old + 60)),
    );
    let recent = now_secs() - 86_400;
    end_all(&store, [ended(n_old + 1, "newuser", "10.9.0.2", recent, recent + 60)]);
    let (entries, _) = store.history_size().unwrap();
    assert!(
        entries > 1 && entries <= (n_old as u64 + 1) - RETENTION_STEP as u64 + 1,
        "one step removes at most {RETENTION_STEP}: {entries} left"
    );
    for _ in 0..3 {
        end_all(&store, [ended(n_old + 2, "newuser", "10.9.0.2", recent, recent + 60)]);
    }
    let (entries, bytes) = store.history_size().unwrap();
    assert!(entries <= 4, "old entries left: {entries}");
    assert!(bytes > 0 && bytes < 4_000, "{bytes} bytes for {entries} entries");
    // Their index keys went with them.
    let old_user = HistoryQuery {
        user: Some("olduser".into()),
        ..Default::default()
    };
    assert!(store.history_query(&old_user, None, 10).unwrap().entries.is_empty());
    let old_address = HistoryQuery {
        address: Some("10.9.0.1".parse().unwrap()),
        ..Default::default()
    };
    assert!(store.history_query(&old_address, None, 10).unwrap().entries.is_empty());
    assert_eq!(all_pages(&store, &HistoryQuery::default(), 10)[0], n_old + 2);
}

#[test]
fn retention_by_size_keeps_the_newest_within_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes = 20_000;
    let store = open(
        dir.path(),
        Retention {
            max_bytes,
            ..Retention::default()
        },
    );
    let start = now_secs() - 86_400;
    for batch in 0..10u32 {
        end_all(
            &store,
            (1..=50).map(|i| {
                let h = batch * 50 + i;
                ended(h, &format!("user{h}"), "10.7.0.1", start, start + u64::from(h))
            }),
        );
    }
    let (entries, bytes) = store.history_size().unwrap();
    assert!(bytes <= max_bytes, "{bytes} bytes kept, {max_bytes} allowed");
    assert!(entries > 20 && entries < 500, "{entries} entries kept");
    let kept = all_pages(&store, &HistoryQuery::default(), 1_000);
    assert_eq!(kept.len() as u64, entries);
    assert_eq!(kept[0], 500, "the newest stays");
    assert_eq!(*kept.last().unwrap(), 500 - entries as u32 + 1, "the oldest went first");
    // Reopened, the count of bytes is the same (it is stored, not guessed).
    drop(store);
    let store = open(
        dir.path(),
        Retention {
            max_bytes,
            ..Retention::default()
        },
    );
    assert_eq!(store.history_size().unwrap(), (entries, bytes));
}
