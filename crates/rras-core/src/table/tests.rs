//! Unit tests of the paging rules, one per rule, plus the exactly-once
//! property under random interleavings.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;

use super::*;
use crate::paging::{PREF_MAX_ALL, RAS_CONNECTION_EX_SIZE as S};
use crate::synthetic;

const ME: ClientSessionId = ClientSessionId(1);

fn table_with(n: u64) -> ConnectionTable {
    let table = ConnectionTable::default();
    let now = SystemTime::now();
    for i in 0..n {
        table.upsert(synthetic::connection(i, now));
    }
    table
}

fn drain(table: &ConnectionTable, pref: u32) -> Vec<ConnectionHandle> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..100_000 {
        let page = table.enumerate(ME, cursor, pref, S).expect("page");
        out.extend(page.entries.iter().map(|c| c.handle()));
        match page.next {
            None => return out,
            Some(h) => cursor = Some(h),
        }
    }
    panic!("enumeration did not finish");
}

#[test]
fn minus_one_returns_everything_at_once() {
    let table = table_with(250);
    let page = table.enumerate(ME, None, PREF_MAX_ALL, S).unwrap();
    assert_eq!(page.entries.len(), 250);
    assert_eq!(page.total_entries, 250);
    assert_eq!(page.next, None);
    assert_eq!(page.status(), Win32Error::NoError);
    assert_eq!(table.open_cursors(), 0);
}

#[test]
fn less_than_one_entry_gives_zero_entries_but_a_handle() {
    let table = table_with(3);
    let page = table.enumerate(ME, None, S - 1, S).unwrap();
    assert!(page.entries.is_empty());
    assert_eq!(page.total_entries, 3);
    let handle = page.next.expect("entries remain, so a handle");
    assert_eq!(page.status(), Win32Error::MoreData);
    // The zero-entry reply did not move the cursor.
    let page = table.enumerate(ME, Some(handle), PREF_MAX_ALL, S).unwrap();
    assert_eq!(page.entries.len(), 3);
}

#[test]
fn floor_plus_one_per_page_and_exact_totals() {
    let table = table_with(10);
    let mut cursor = None;
    let mut seen = 0;
    let mut totals = Vec::new();
    loop {
        let page = table.enumerate(ME, cursor, 2 * S, S).unwrap();
        totals.push(page.total_entries);
        assert_eq!(page.entries.len(), 3.min(10 - seen));
        seen += page.entries.len();
        match page.next {
            Some(h) => {
                assert_ne!(h.get(), 0);
                assert_eq!(page.status(), Win32Error::MoreData);
                cursor = Some(h);
            }
            None => break,
        }
    }
    assert_eq!(seen, 10);
    assert_eq!(totals, vec![10, 7, 4, 1]);
}

#[test]
fn enumeration_ends_even_when_inserts_outpace_it() {
    let table = table_with(10);
    let now = SystemTime::now();
    let mut cursor = None;
    let mut seen = 0;
    for round in 0..100u64 {
        let page = table.enumerate(ME, cursor, S, S).unwrap();
        seen += page.entries.len();
        // Five new rows per page of two: a chasing enumeration never ends.
        for i in 0..5 {
            table.upsert(synthetic::connection(1000 + round * 5 + i, now));
        }
        match page.next {
            Some(h) => cursor = Some(h),
            None => {
                assert_eq!(seen, 10);
                return;
            }
        }
    }
    panic!("enumeration chased the inserts");
}

#[test]
fn empty_table_completes_immediately() {
    let table = ConnectionTable::default();
    let page = table.enumerate(ME, None, 0, S).unwrap();
    assert!(page.entries.is_empty());
    assert_eq!((page.total_entries, page.next), (0, None));
}

#[test]
fn zero_entry_size_is_invalid() {
    let table = table_with(1);
    assert_eq!(
        table.enumerate(ME, None, 100, 0).unwrap_err(),
        Win32Error::InvalidParameter
    );
}

#[test]
fn bad_handles_are_invalid_parameter() {
    let table = table_with(10);
    let handle = table.enumerate(ME, None, S, S).unwrap().next.unwrap();
    let other = ClientSessionId(2);
    assert_eq!(
        table.enumerate(other, Some(handle), S, S).unwrap_err(),
        Win32Error::InvalidParameter
    );
    let forged = ResumeHandle::new(handle.get().wrapping_add(1).max(1)).unwrap();
    assert_eq!(
        table.enumerate(ME, Some(forged), S, S).unwrap_err(),
        Win32Error::InvalidParameter
    );
    // The owner can still use it after the failed foreign attempts.
    assert_eq!(
        table
            .enumerate(ME, Some(handle), PREF_MAX_ALL, S)
            .unwrap()
            .entries
            .len(),
        8
    );
    // Completed: the handle is gone.
    assert_eq!(
        table.enumerate(ME, Some(handle), S, S).unwrap_err(),
        Win32Error::InvalidParameter
    );
}

#[test]
fn expired_handles_are_invalid_parameter() {
    let table = table_with(10);
    let t0 = Instant::now();
    let handle = table.enumerate_at(ME, None, S, S, t0).unwrap().next.unwrap();
    let late = t0 + CursorLimits::default().idle + Duration::from_secs(1);
    assert_eq!(
        table.enumerate_at(ME, Some(handle), S, S, late).unwrap_err(),
        Win32Error::InvalidParameter
    );
}

#[test]
fn release_session_frees_its_cursors() {
    let table = table_with(10);
    let handle = table.enumerate(ME, None, S, S).unwrap().next.unwrap();
    assert_eq!(table.open_cursors(), 1);
    table.release_session(ME);
    assert_eq!(table.open_cursors(), 0);
    assert_eq!(
        table.enumerate(ME, Some(handle), S, S).unwrap_err(),
        Win32Error::InvalidParameter
    );
}

#[test]
fn upsert_keeps_handle_and_position() {
    let table = table_with(5);
    let now = SystemTime::now();
    let mut info = synthetic::connection(2, now);
    info.user_name = "renamed".into();
    let up = table.upsert(info);
    assert!(!up.created);
    let all = drain(&table, PREF_MAX_ALL);
    assert_eq!(all.len(), 5);
    assert_eq!(all[2], up.handle);
    assert_eq!(table.get(up.handle).unwrap().info.user_name, "renamed");
}

#[test]
fn identity_index_survives_growth_and_removals() {
    // Enough rows that the source index grows (and rehashes from its
    // stored hashes) several times, then loses every other row.
    let n = 20_000u64;
    let table = table_with(n);
    let now = SystemTime::now();
    let key = |i: u64| synthetic::connection(i, now).source;
    let handles: Vec<_> = (0..n)
        .map(|i| table.find(&key(i)).expect("every identity indexed"))
        .collect();
    assert_eq!(handles.iter().collect::<HashSet<_>>().len(), n as usize);
    for (i, h) in handles.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        assert_eq!(table.remove(*h).expect("live").info.source, key(i as u64));
    }
    for (i, h) in handles.iter().enumerate() {
        let found = table.find(&key(i as u64));
        assert_eq!(found, (i % 2 == 1).then_some(*h), "identity {i}");
    }
    // A returning identity gets a new handle, found by its key again.
    let back = table.upsert(synthetic::connection(0, now));
    assert!(back.created);
    assert_eq!(table.find(&key(0)), Some(back.handle));
    assert_eq!(table.len(), n as usize / 2 + 1);
}

#[test]
fn handles_are_not_reused_and_survive_restore() {
    let table = table_with(3);
    let removed = drain(&table, PREF_MAX_ALL)[2];
    table.remove(removed);
    let fresh = table.upsert(synthetic::connection(99, SystemTime::now())).handle;
    assert!(fresh.get() > removed.get());
    let restored = ConnectionTable::default();
    let rows: Vec<_> = table
        .select(|_| true)
        .iter()
        .map(|c| crate::Record::encode(c))
        .collect();
    restored.restore(rows, table.handle_watermark());
    assert_eq!(restored.len(), 3);
    let next = restored.upsert(synthetic::connection(100, SystemTime::now())).handle;
    assert!(next.get() > fresh.get());
    assert_eq!(restored.counts_per_engine().iter().map(|(_, n)| n).sum::<usize>(), 4);
}

#[test]
fn modify_cannot_change_identity_and_unknown_handles_fail() {
    let table = table_with(1);
    let h = drain(&table, PREF_MAX_ALL)[0];
    let before = table.get(h).unwrap().info.source.clone();
    table
        .modify(h, |info| {
            info.source.session_id = "hijack".into();
            info.stats.bytes_rcved = 7;
        })
        .unwrap();
    let after = table.get(h).unwrap();
    assert_eq!(after.info.source, before);
    assert_eq!(after.info.stats.bytes_rcved, 7);
    let missing = ConnectionHandle::new(4_000_000).unwrap();
    assert_eq!(
        table.update_stats(missing, Default::default()).unwrap_err(),
        Win32Error::NoConnection
    );
}

#[derive(Debug, Clone)]
enum Op {
    Insert,
    Remove(usize),
    UpdateStats(usize),
    Page(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let pref = prop_oneof![
        Just(0u32),
        Just(S - 1),
        Just(S),
        (1u32..5).prop_map(|k| k * S),
        Just(64 * 1024),
        Just(PREF_MAX_ALL),
    ];
    prop_oneof![
        3 => Just(Op::Insert),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::UpdateStats),
        4 => pref.prop_map(Op::Page),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random interleavings of churn and paging: exactly-once for survivors,
    /// never twice, never a row removed before its page, exact totals.
    #[test]
    fn exactly_once_under_churn(initial in 0u64..60, ops in proptest::collection::vec(op(), 1..300)) {
        let table = table_with(initial);
        let now = SystemTime::now();
        let mut next_id = initial;
        let mut live: HashSet<ConnectionHandle> = drain(&table, PREF_MAX_ALL).into_iter().collect();
        // State of the enumeration in progress.
        let mut cursor: Option<ResumeHandle> = None;
        let mut in_progress = false;
        let mut present_at_start: HashSet<ConnectionHandle> = HashSet::new();
        let mut removed_during: HashSet<ConnectionHandle> = HashSet::new();
        let mut inserted_during: HashSet<ConnectionHandle> = HashSet::new();
        let mut returned: HashMap<ConnectionHandle, usize> = HashMap::new();

        for op in ops {
            let mut sorted: Vec<_> = live.iter().copied().collect();
            sorted.sort();
            match op {
                Op::Insert => {
                    let up = table.upsert(synthetic::connection(next_id, now));
                    next_id += 1;
                    prop_assert!(up.created);
                    live.insert(up.handle);
                    inserted_during.insert(up.handle);
                }
                Op::Remove(i) if !sorted.is_empty() => {
                    let h = sorted[i % sorted.len()];
                    prop_assert!(table.remove(h).is_some());
                    live.remove(&h);
                    removed_during.insert(h);
                }
                Op::UpdateStats(i) if !sorted.is_empty() => {
                    let h = sorted[i % sorted.len()];
                    let stats = ConnectionStats { bytes_rcved: i as u64, ..Default::default() };
                    prop_assert!(table.update_stats(h, stats).is_ok());
                }
                Op::Page(pref) => {
                    if !in_progress {
                        in_progress = true;
                        present_at_start = live.clone();
                        removed_during.clear();
                        inserted_during.clear();
                        returned.clear();
                    }
                    let page = table.enumerate(ME, cursor, pref, S).unwrap();
                    // Rows inserted after the enumeration began are not chased.
                    let expected_total = live
                        .iter()
                        .filter(|h| !returned.contains_key(h) && !inserted_during.contains(h))
                        .count();
                    prop_assert_eq!(page.total_entries as usize, expected_total);
                    prop_assert_eq!(page.entries.len(), crate::paging::entries_for(pref, S, expected_total));
                    for c in &page.entries {
                        prop_assert!(live.contains(&c.handle()), "removed row returned");
                        prop_assert!(!inserted_during.contains(&c.handle()), "row newer than the enumeration returned");
                        *returned.entry(c.handle()).or_default() += 1;
                    }
                    prop_assert!(returned.values().all(|&n| n == 1), "row returned twice");
                    cursor = page.next;
                    if cursor.is_none() {
                        in_progress = false;
                        for h in present_at_start.difference(&removed_during) {
                            prop_assert_eq!(returned.get(h), Some(&1), "survivor missed");
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
