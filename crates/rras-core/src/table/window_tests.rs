//! Every column index agrees with a scan of the table after random churn —
//! inserts, updates that move sort keys, removals, a restart (its bulk
//! rebuild on several threads) — and every
//! window the indexes answer is the window a scan gives.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::*;
use crate::model::{ConnectionInfo, ConnectionStats, EngineKind, SourceKey};

/// What one generated connection looks like; small alphabets, so users
/// share names, long common prefixes and differ only in case.
#[derive(Debug, Clone)]
struct Shape {
    session: u8,
    user: u8,
    interface: u8,
    address: u8,
    engine: u8,
    started: u8,
    rx: u16,
    tx: u16,
}

const USERS: [&str; 9] = [
    "nu\u{0}l",
    "alice",
    "Alice",
    "bob",
    "averyverylongname1",
    "averyverylongname2",
    "AVERYVERYLONGNAME1",
    "caf\u{e9}",
    "",
];

fn info(s: &Shape) -> ConnectionInfo {
    let engine = EngineKind::ALL[usize::from(s.engine) % EngineKind::ALL.len()];
    let mut info = ConnectionInfo::new(
        SourceKey::new(engine, "nas", format!("Sess-{}", s.session)),
        USERS[usize::from(s.user) % USERS.len()],
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + u64::from(s.started) * 7),
    );
    info.interface_name = format!("ppp{}", s.interface % 12);
    match s.address % 4 {
        0 => {}
        1 | 2 => info.projection.ipv4_mut().remote_address = Some(Ipv4Addr::new(10, s.address / 64, 2, s.address)),
        _ => info.projection.ipv6_mut().set_remote_address(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            u16::from(s.session % 3),
            u16::from(s.address),
        )),
    }
    info.stats = ConnectionStats {
        bytes_rcved: u64::from(s.rx),
        bytes_xmited: u64::from(s.tx) << 20,
        ..Default::default()
    };
    info
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        0u16..50,
        any::<u16>(),
    )
        .prop_map(|(session, user, interface, address, engine, started, rx, tx)| Shape {
            session: session % 64,
            user,
            interface,
            address,
            engine,
            started: started % 16,
            rx,
            tx,
        })
}

/// Each column's index holds the rows in the order a scan sorts them.
fn indexes_agree_with_a_scan(table: &ConnectionTable) -> Result<(), TestCaseError> {
    let rows = table.rows.read();
    let mut all: Vec<Values> = Vec::new();
    for (_, row) in rows.by_handle.iter() {
        let mut v = Values::default();
        v.fill(&row.record.decode());
        all.push(v);
    }
    for column in Column::ALL {
        let mut want = all.clone();
        want.sort_by(|a, b| a.compare(b, column).then(a.handle.cmp(&b.handle)));
        let want: Vec<u32> = want.iter().map(|v| v.handle).collect();
        let got: Vec<u32> = rows.indexes.columns.handles(column);
        prop_assert_eq!(got, want, "column {:?}", column);
    }
    let (live_rx, live_tx) = all.iter().fold((0u64, 0u64), |(r, t), v| (r + v.rx, t + v.tx));
    prop_assert_eq!(
        (rows.indexes.totals.live_rx, rows.indexes.totals.live_tx),
        (live_rx, live_tx)
    );
    Ok(())
}

fn query() -> impl Strategy<Value = WindowQuery> {
    let mut sorts = Column::ALL[..8].to_vec();
    sorts.push(Column::Bytes);
    let sort = prop::sample::select(sorts);
    let text = prop::sample::select(vec![
        "",
        "",
        "al",
        "ALICE",
        "avery",
        "averyverylongname1",
        "10.0",
        "10.1.2.",
        "10",
        "1",
        "ppp1",
        "sess-1",
        "caf",
        "2001:db8",
        "zz",
        "alice ppp1",
        "10.0.2.5",
    ]);
    let user = prop::sample::select(vec![None, None, Some("alice"), Some("BOB"), Some("nobody")]);
    let engine = prop::sample::select(vec![
        None,
        None,
        Some(EngineKind::Radius),
        Some(EngineKind::Openvpn),
        Some(EngineKind::Report),
    ]);
    let interface = prop::sample::select(vec![None, None, Some("ppp3"), Some("PPP11")]);
    let instance = prop::sample::select(vec![None, None, None, Some("radius")]);
    (
        sort,
        any::<bool>(),
        0usize..80,
        1usize..30,
        text,
        user,
        engine,
        interface,
        instance,
    )
        .prop_map(
            |(sort, descending, offset, limit, text, user, engine, interface, instance)| WindowQuery {
                sort,
                descending,
                offset,
                limit,
                filter: ConnectionFilter {
                    user: user.map(str::to_owned),
                    engine,
                    instance: instance.map(str::to_owned),
                    interface: interface.map(str::to_owned),
                },
                text: text.to_owned(),
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(Shape),
    Remove(u8),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => shape().prop_map(Op::Upsert),
        3 => any::<u8>().prop_map(Op::Remove),
        1 => Just(Op::Restart),
    ]
}

use crate::filter::ConnectionFilter;
use indexes::Values;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn indexes_and_windows_agree_with_a_scan(ops in prop::collection::vec(op(), 1..400), queries in prop::collection::vec(query(), 20)) {
        let mut table = ConnectionTable::default();
        for op in ops {
            match op {
                // Same session id, so often an update that moves keys.
                Op::Upsert(s) => { table.upsert(info(&s)); }
                Op::Remove(i) => {
                    let handles: Vec<_> = table.records().iter().map(|r| r.handle()).collect();
                    if !handles.is_empty() {
                        table.remove(handles[usize::from(i) % handles.len()]);
                    }
                }
                Op::Restart => {
                    let records = table.records();
                    let watermark = table.handle_watermark();
                    table = ConnectionTable::default();
                    table.restore(records, watermark);
                    // A million rows rebuild on every core; these few, on
                    // one thread in restore(), so again on three here.
                    let mut rows = table.rows.write();
                    let Rows { indexes, by_handle, .. } = &mut *rows;
                    indexes.rebuild_on(by_handle, 3);
                }
            }
        }
        indexes_agree_with_a_scan(&table)?;
        for q in queries {
            let scanned = table.scan_window(&q);
            if let Some(indexed) = table.window(&q) {
                prop_assert_eq!(
                    indexed.records.iter().map(|r| r.handle()).collect::<Vec<_>>(),
                    scanned.records.iter().map(|r| r.handle()).collect::<Vec<_>>(),
                    "{:?}", q
                );
                prop_assert_eq!((indexed.total, indexed.matching), (scanned.total, scanned.matching), "{:?}", q);
            }
        }
    }
}

#[test]
fn unfiltered_and_narrow_queries_are_answered_from_the_indexes() {
    let table = ConnectionTable::default();
    for i in 0..3000u32 {
        let s = Shape {
            session: 0,
            user: (i % 8) as u8,
            interface: (i % 200) as u8,
            address: (i % 256) as u8,
            engine: (i % 7) as u8,
            started: (i % 16) as u8,
            rx: (i % 50) as u16,
            tx: i as u16,
        };
        let mut c = info(&s);
        c.source = SourceKey::new(EngineKind::Radius, "nas", format!("s{i}"));
        table.upsert(c);
    }
    let q = |sort, text: &str, user: Option<&str>| WindowQuery {
        sort,
        text: text.into(),
        filter: ConnectionFilter {
            user: user.map(str::to_owned),
            ..Default::default()
        },
        ..Default::default()
    };
    for column in Column::ALL[..8].iter().copied() {
        assert!(table.window(&q(column, "", None)).is_some(), "{column:?}");
        assert!(table.window(&q(column, "", Some("bob"))).is_some(), "{column:?}");
    }
    assert!(table.window(&q(Column::User, "averyvery", None)).is_some());
    // Broad (more candidates than allowed is impossible here, 3000 rows),
    // instance-only and IPv6 searches are the scan's.
    assert!(table.window(&q(Column::User, "2001:db8", None)).is_none());
    let instance_only = WindowQuery {
        filter: ConnectionFilter {
            instance: Some("radius".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(table.window(&instance_only).is_none());
    let w = table.window(&q(Column::User, "", Some("BOB"))).unwrap();
    assert_eq!(w.matching, 3000 / 8);
}
