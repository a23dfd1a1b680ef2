//! The accounting history in a real store file: every query filter through
//! its index, paging newest first exactly once while Stops keep arriving,
//! and retention by age and by size in small steps — each with entries in
//! the tail and with entries sealed into blocks of a few (what a large
//! history is made of), and usage reports from the blocks' usage columns
//! equal to reports from the entries themselves.

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

/// Blocks as large as the store makes them, and blocks of three entries
/// (so a handful of Stops spreads over blocks and the tail).
const BLOCK_SIZES: [usize; 2] = [rras_store::history::BLOCK_ENTRIES, 3];

thread_local! {
    /// `StoreOptions::history_recent_entries` of the stores a test opens.
    static RECENT: std::cell::Cell<usize> = const { std::cell::Cell::new(rras_store::history::RECENT_ENTRIES) };
}

/// Runs `test` with the newest index keys all in memory (as the default
/// holds them: these tests write far fewer entries), then with them
/// merged into redb every two entries (most keys in redb, the newest in
/// memory, queries reading both).
fn each_key_layout(test: fn()) {
    for recent in [rras_store::history::RECENT_ENTRIES, 2] {
        RECENT.set(recent);
        test();
    }
}

fn open(dir: &std::path::Path, retention: Retention) -> Store {
    open_blocks(dir, retention, rras_store::history::BLOCK_ENTRIES)
}

fn open_blocks(dir: &std::path::Path, retention: Retention, block: usize) -> Store {
    Store::open_with(
        &dir.join("rrasd.redb"),
        StoreOptions {
            history: retention,
            history_block_entries: block,
            history_recent_entries: RECENT.get(),
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

fn every_filter_finds_what_it_should_case() {
    for block in BLOCK_SIZES {
        every_filter_finds_what_it_should_with(block);
    }
}

fn every_filter_finds_what_it_should_with(block: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_blocks(dir.path(), Retention::default(), block);
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
    // A report names its top users as the history first wrote them (from
    // memory or from redb, wherever the names are).
    let report = store
        .usage(
            (h(0), h(86_400), t(now_secs())),
            2,
            rras_core::usage::TopBy::Time,
            |_| {},
        )
        .unwrap();
    let top: Vec<&str> = report.top_users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(top, ["dave", "CORP\\alice"]);
    // Every page but the last is full, whatever the filter.
    let page = store.history_query(&HistoryQuery::default(), None, 4).unwrap();
    assert_eq!(page.entries.len(), 4);
    assert!(page.next.is_some());
}

fn paging_returns_each_entry_once_while_stops_arrive_case() {
    for block in BLOCK_SIZES {
        paging_returns_each_entry_once_while_stops_arrive_with(block);
    }
}

fn paging_returns_each_entry_once_while_stops_arrive_with(block: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_blocks(dir.path(), Retention::default(), block);
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

fn retention_by_age_removes_the_oldest_in_steps_case() {
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

fn retention_by_size_keeps_the_newest_within_the_bytes_case() {
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

/// Sessions over three days: users of mixed case and domains, four
/// engines, some crossing midnight, some IPv6.
fn three_days(base: u64, n: u32) -> Vec<EndedConnection> {
    let engines = [
        EngineKind::Radius,
        EngineKind::Wireguard,
        EngineKind::Openvpn,
        EngineKind::Strongswan,
    ];
    (1..=n)
        .map(|i| {
            let k = u64::from(i);
            let account = match i % 5 {
                0 => format!("CORP\\User{}", i % 17),
                1 => format!("corp\\user{}", i % 17),
                2 => format!("user{}@example.net", i % 23),
                _ => format!("u{}", i % 31),
            };
            let address = if i % 7 == 0 {
                format!("2001:db8::{i:x}")
            } else {
                format!("10.3.{}.{}", i / 250, i % 250)
            };
            let started = base + k * 3 * 86_400 / u64::from(n);
            let mut e = ended_on(
                i,
                &account,
                &address,
                started,
                started + 60 + k * 7_919 % 30_000,
                engines[i as usize % 4],
                "nas-1",
            );
            e.connection.info.stats.bytes_rcved = k * 1_000_003 % 9_999_991;
            e.connection.info.stats.bytes_xmited = k * 7_777_777 % 99_999_989;
            e
        })
        .collect()
}

fn a_report_from_the_blocks_usage_columns_equals_one_from_the_entries_case() {
    use rras_core::usage::{TopBy, UsageBuilder};
    use rras_core::user_hash::UserHasher;
    let day = 86_400;
    let base = (now_secs() - 10 * day) / day * day;
    let entries = three_days(base, 600);
    let dir = tempfile::tempdir().unwrap();
    let store = open_blocks(dir.path(), Retention::default(), 7);
    for chunk in entries.chunks(50) {
        end_all(&store, chunk.to_vec());
    }
    let (held, _) = store.history_size().unwrap();
    assert_eq!(held, 600);
    // A live session too, of a user the history has and of one it has not.
    let mut live = ended(9_001, "corp\\USER3", "10.9.9.9", base + day, 0).connection.info;
    live.stats.bytes_rcved = 5;
    let newcomer = ended(9_002, "newcomer", "10.9.9.8", base + 2 * day, 0).connection.info;
    let now = t(base + 3 * day + 3_600);
    // Whole days, part days, a period inside one session's span.
    for (from, to) in [
        (base, base + 3 * day),
        (base + day, base + 2 * day),
        (base + 40_000, base + 150_000),
        (base + 100_000, base + 100_001),
    ] {
        for by in [TopBy::Bytes, TopBy::Time] {
            let mut expected = UsageBuilder::new(t(from), t(to), now, UserHasher::new(1, 2));
            for e in &entries {
                expected.add(&e.connection.info, Some(e.ended_at));
            }
            expected.add(&live, None);
            expected.add(&newcomer, None);
            // Users are named as the history first wrote them.
            let first_name = |hash: u64| {
                let users = UserHasher::new(1, 2);
                entries
                    .iter()
                    .map(|e| e.connection.info.account())
                    .find(|a| users.account(a) == hash)
            };
            let expected = expected.finish(5, by, first_name);
            let got = store
                .usage((t(from), t(to), now), 5, by, |b| {
                    b.add(&live, None);
                    b.add(&newcomer, None);
                })
                .unwrap();
            assert_eq!(got, expected, "{from}..{to} by {by:?}");
            assert!(got.totals.sessions > 0);
        }
    }
}

fn retention_empties_blocks_and_tail_and_their_bytes_to_zero_case() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_blocks(
        dir.path(),
        Retention {
            max_bytes: 0,
            ..Retention::default()
        },
        4,
    );
    let base = now_secs() - 86_400;
    end_all(&store, three_days(base, 40));
    // Each write removes a step; a few writes empty it.
    for _ in 0..4 {
        store.commit(&[], 0).unwrap();
    }
    assert_eq!(
        store.history_size().unwrap(),
        (0, 0),
        "every byte counted in was counted out"
    );
    for q in [
        HistoryQuery::default(),
        HistoryQuery {
            user: Some("u".into()),
            ..Default::default()
        },
        HistoryQuery {
            address: Some("10.3.0.5".parse().unwrap()),
            ..Default::default()
        },
    ] {
        assert!(store.history_query(&q, None, 10).unwrap().entries.is_empty(), "{q:?}");
    }
}

fn sealed_blocks_survive_a_reopen_and_keep_answering_case() {
    let dir = tempfile::tempdir().unwrap();
    let base = now_secs() - 5 * 86_400;
    let entries = three_days(base, 300);
    {
        let store = open_blocks(dir.path(), Retention::default(), 16);
        end_all(&store, entries.clone());
        end_all(&store, []);
    }
    let store = open_blocks(dir.path(), Retention::default(), 16);
    let (held, bytes) = store.history_size().unwrap();
    assert_eq!(held, 300);
    // Sealed, they count less than in the tail (entries and index keys).
    let raw: usize = entries.iter().map(|e| rras_core::record::encode_ended(e).len()).sum();
    let in_tail = raw as u64 + 300 * (8 + 16 + 32);
    assert!(bytes < in_tail * 9 / 10, "{bytes} counted for {in_tail} in the tail");
    let all = all_pages(&store, &HistoryQuery::default(), 37);
    assert_eq!(all, (1..=300).rev().collect::<Vec<u32>>());
    let who = store
        .history_query(
            &HistoryQuery {
                address: Some("10.3.0.43".parse().unwrap()),
                ..Default::default()
            }
            .at(entries[42].connection.info.started_at + Duration::from_secs(30)),
            None,
            10,
        )
        .unwrap();
    assert_eq!(
        who.entries
            .iter()
            .map(|(_, e)| e.connection.handle.get())
            .collect::<Vec<_>>(),
        [43]
    );
    assert_eq!(store.history(3).unwrap().len(), 3);
}

/// Old history and new meet inside a block: retention by age removes the
/// block's old front and seals the rest again, on any write (these are
/// Starts, not Stops).
fn retention_trims_the_block_where_old_history_meets_new_case() {
    let dir = tempfile::tempdir().unwrap();
    let old = now_secs() - 400 * 86_400;
    let recent = now_secs() - 86_400;
    {
        let store = open(
            dir.path(),
            Retention {
                max_age: Duration::from_secs(100 * 365 * 86_400),
                max_bytes: u64::MAX,
            },
        );
        for c in 0..3u32 {
            end_all(
                &store,
                (1..=1000).map(|i| ended(c * 1000 + i, "olduser", "10.9.0.1", old, old + 60)),
            );
        }
        end_all(
            &store,
            (1..=1000).map(|i| ended(5000 + i, "newuser", "10.9.0.2", recent, recent + 60)),
        );
    }
    let store = open(dir.path(), Retention::default());
    assert_eq!(store.history_size().unwrap().0, 4000);
    for i in 0..12u32 {
        let c = Connection {
            handle: ConnectionHandle::new(90_000 + i).unwrap(),
            info: ConnectionInfo::new(
                SourceKey::new(EngineKind::Radius, "nas", format!("s{i}")),
                "u",
                t(now_secs()),
            ),
        };
        store.commit(&[StoreOp::Put(rras_core::Record::encode(&c))], 0).unwrap();
        // A read waits for the write to be applied: one write, one step.
        store.history_size().unwrap();
    }
    let (entries, bytes) = store.history_size().unwrap();
    assert_eq!(entries, 1000, "every old entry went, every new one stayed");
    let q = |user: &str| HistoryQuery {
        user: Some(user.into()),
        ..Default::default()
    };
    assert!(store.history_query(&q("olduser"), None, 10).unwrap().entries.is_empty());
    assert_eq!(all_pages(&store, &q("newuser"), 300).len(), 1000);
    assert_eq!(
        all_pages(&store, &HistoryQuery::default(), 300),
        (5001..=6000).rev().collect::<Vec<u32>>()
    );
    // What is left counts as much as the same entries written fresh.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = open(fresh_dir.path(), Retention::default());
    end_all(
        &fresh,
        (1..=1000).map(|i| ended(5000 + i, "newuser", "10.9.0.2", recent, recent + 60)),
    );
    let (_, fresh_bytes) = fresh.history_size().unwrap();
    assert!(
        bytes.abs_diff(fresh_bytes) < fresh_bytes / 5,
        "{bytes} left, {fresh_bytes} fresh"
    );
}

/// A query reads the index days up to its end plus the longest session
/// the history has held: a five-day session is found at an instant of its
/// first day, in blocks and in the tail.
fn a_session_longer_than_the_rest_is_found_at_any_instant_case() {
    for block in BLOCK_SIZES {
        let dir = tempfile::tempdir().unwrap();
        let store = open_blocks(dir.path(), Retention::default(), block);
        let day = 86_400;
        let base = (now_secs() - 20 * day) / day * day;
        let mut entries = vec![ended(1, "long", "10.5.0.1", base + 3_600, base + 5 * day)];
        entries.extend((2..=40).map(|i| {
            let s = base + u64::from(i) * 7_200;
            ended(i, &format!("short{i}"), "10.5.0.1", s + 10 * day, s + 10 * day + 600)
        }));
        end_all(&store, entries);
        let at = |t: u64| {
            HistoryQuery {
                address: Some("10.5.0.1".parse().unwrap()),
                ..Default::default()
            }
            .at(UNIX_EPOCH + Duration::from_secs(t))
        };
        assert_eq!(all_pages(&store, &at(base + 7_200), 10), [1], "block size {block}");
        assert_eq!(all_pages(&store, &at(base + 4 * day), 10), [1]);
        assert_eq!(all_pages(&store, &at(base + 6 * day), 10), Vec::<u32>::new());
        let long_user = HistoryQuery {
            user: Some("long".into()),
            to: Some(UNIX_EPOCH + Duration::from_secs(base + 4_000)),
            ..Default::default()
        };
        assert_eq!(all_pages(&store, &long_user, 10), [1]);
    }
}

#[test]
fn every_filter_finds_what_it_should() {
    each_key_layout(every_filter_finds_what_it_should_case);
}

#[test]
fn paging_returns_each_entry_once_while_stops_arrive() {
    each_key_layout(paging_returns_each_entry_once_while_stops_arrive_case);
}

#[test]
fn retention_by_age_removes_the_oldest_in_steps() {
    each_key_layout(retention_by_age_removes_the_oldest_in_steps_case);
}

#[test]
fn retention_by_size_keeps_the_newest_within_the_bytes() {
    each_key_layout(retention_by_size_keeps_the_newest_within_the_bytes_case);
}

#[test]
fn a_report_from_the_blocks_usage_columns_equals_one_from_the_entries() {
    each_key_layout(a_report_from_the_blocks_usage_columns_equals_one_from_the_entries_case);
}

#[test]
fn retention_empties_blocks_and_tail_and_their_bytes_to_zero() {
    each_key_layout(retention_empties_blocks_and_tail_and_their_bytes_to_zero_case);
}

#[test]
fn sealed_blocks_survive_a_reopen_and_keep_answering() {
    each_key_layout(sealed_blocks_survive_a_reopen_and_keep_answering_case);
}

#[test]
fn retention_trims_the_block_where_old_history_meets_new() {
    each_key_layout(retention_trims_the_block_where_old_history_meets_new_case);
}

#[test]
fn a_session_longer_than_the_rest_is_found_at_any_instant() {
    each_key_layout(a_session_longer_than_the_rest_is_found_at_any_instant_case);
}

/// Queries racing merges of the newest keys into redb (one every two
/// entries): a query finds every entry whose Stop was acknowledged before
/// it began, whether its keys were in memory, in redb, or moving between
/// them while it read.
#[test]
fn a_query_racing_merges_finds_every_entry_ended_before_it() {
    RECENT.set(2);
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Retention::default());
    let start = now_secs() - 3_600;
    let acked = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (mut queries, total) = (0, 1_500u32);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 1..=total {
                end_all(&store, [ended(i, "racer", "10.8.0.1", start, start + u64::from(i))]);
                acked.store(i as usize, std::sync::atomic::Ordering::SeqCst);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let by = [
            HistoryQuery {
                address: Some("10.8.0.1".parse().unwrap()),
                ..Default::default()
            },
            HistoryQuery {
                user: Some("racer".into()),
                ..Default::default()
            },
        ];
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            for q in &by {
                let before = acked.load(std::sync::atomic::Ordering::SeqCst);
                let found = store.history_query(q, None, 10_000).unwrap().entries.len();
                assert!(found >= before, "{found} found, {before} acknowledged before, by {q:?}");
                queries += 1;
            }
        }
    });
    assert!(queries > 10, "the queries did not race the writes ({queries})");
    let q = HistoryQuery {
        address: Some("10.8.0.1".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(all_pages(&store, &q, 1_000).len(), total as usize);
}
