//! `rras-bench history`: the accounting history at --sessions ended
//! sessions (10M is the target), beside PostgreSQL's `radacct` holding the
//! same sessions with its stock indexes.
//!
//! The sessions are one generator both sides reproduce exactly (integer
//! formulas, in Rust for the store and in SQL for `radacct`): 100 sessions
//! per user, 65,536 addresses reused over 30 days (about one session per
//! address every 4.7 h at 10M, none overlapping), 10 min–4 h 10 min each,
//! four NASes. The store is filled directly (the daemon is not running),
//! then rrasd starts on it and is asked over its admin socket:
//!
//! - "who had address X at T" (T inside a known session): p50/p99, and the
//!   answer checked;
//! - one user's month (all of its 100 sessions): p50/p99;
//! - the month's usage report;
//! - retention: a tenth as many sessions again ended 400 days ago (past
//!   the default `history_days`), removed by the daemon a step per write
//!   while 10,000 Starts/s flow — how long it took and the Starts' ack p99;
//! - RADIUS churn (Interim, Stop, Start) acknowledged with the history full;
//! - the store's bytes per ended session.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rras_client::AdminClient;
use rras_core::{Connection, ConnectionHandle, ConnectionInfo, EndedConnection, EngineKind, HistoryQuery, SourceKey};
use rras_store::{Store, StoreOp};
use rras_testkit::DaemonProcess;
use serde_json::json;

use crate::harness::{starts_load, SECRET};
use crate::peer::Peer;
use crate::process_stats;
use crate::radload::{self, percentile, Mix};
use crate::Args;

/// Sessions per user.
const PER_USER: u64 = 100;
/// Distinct client addresses.
const ADDRESSES: u64 = 65_536;
/// The period the sessions start in, seconds.
const PERIOD: u64 = 30 * 86_400;
/// Queries timed per kind.
const QUERIES: usize = 1_000;

/// Session `g` of `n`, as both sides hold it.
#[derive(Debug, Clone)]
struct Generated {
    user: String,
    address: Ipv4Addr,
    start: u64,
    duration: u64,
    nas: Ipv4Addr,
    bytes_in: u64,
    bytes_out: u64,
}

fn users(n: u64) -> u64 {
    (n / PER_USER).max(1)
}

fn generated(g: u64, n: u64, base: u64) -> Generated {
    Generated {
        user: format!("user{:07}@corp.example", g % users(n)),
        address: Ipv4Addr::from(0x0a00_0000 + u32::try_from(g % ADDRESSES).unwrap_or(0)),
        start: base + g * PERIOD / n,
        duration: 600 + g * 7_919 % 14_400,
        nas: Ipv4Addr::new(127, 0, 0, 1 + u8::try_from(g % 4).unwrap_or(0)),
        bytes_in: g * 7_919 % 4_294_967_296,
        bytes_out: g * 104_729 % 4_294_967_296,
    }
}

/// Session `g` of the `n` old ones: other users and addresses, ended
/// before the daemon's retention keeps.
fn old_generated(g: u64, n: u64, base: u64) -> Generated {
    let s = generated(g, n, base);
    Generated {
        user: s.user.replacen("user", "old", 1),
        address: Ipv4Addr::from(u32::from(s.address) | 0x0080_0000),
        ..s
    }
}

fn ended(g: u64, n: u64, base: u64) -> EndedConnection {
    ended_of(g, generated(g, n, base))
}

fn ended_of(g: u64, s: Generated) -> EndedConnection {
    let mut info = ConnectionInfo::new(
        SourceKey::new(EngineKind::Radius, s.nas.to_string(), format!("{g:016x}")),
        s.user,
        UNIX_EPOCH + Duration::from_secs(s.start),
    );
    info.projection.ipv4_mut().remote_address = Some(s.address);
    info.interface_name = format!("ppp{}", g % 4096);
    info.stats.bytes_rcved = s.bytes_in;
    info.stats.bytes_xmited = s.bytes_out;
    EndedConnection {
        connection: Connection {
            // Handles of ended connections repeat in a long history.
            handle: ConnectionHandle::new(u32::try_from(g % 4_000_000_000).unwrap_or(0) + 1).expect("not zero"),
            info,
        },
        ended_at: UNIX_EPOCH + Duration::from_secs(s.start + s.duration),
        reason: "user-request".into(),
    }
}

/// The stat file of the store's applier thread in `pid` (empty, read as no
/// CPU, when it is not found).
fn applier_stat(pid: u32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return String::new();
    };
    tasks
        .filter_map(Result::ok)
        .map(|task| task.path())
        .find(|task| {
            // The kernel keeps 15 bytes of a thread's name ("rras-store-apply").
            std::fs::read_to_string(task.join("comm")).is_ok_and(|name| name.trim() == "rras-store-appl")
        })
        .map(|task| task.join("stat").display().to_string())
        .unwrap_or_default()
}

/// Fills the store at `path` with `old` sessions that ended before
/// `old_base` + 30 days, then sessions 0..n; returns the time it took.
fn fill(path: &Path, n: u64, base: u64, old: u64, old_base: u64) -> anyhow::Result<Duration> {
    let t = Instant::now();
    // Retention is the daemon's to do, beside load: this store keeps all.
    let store = Store::open_with(
        path,
        rras_store::StoreOptions {
            history: rras_store::history::Retention {
                max_age: Duration::from_secs(100 * 365 * 86_400),
                max_bytes: u64::MAX,
            },
            ..rras_store::StoreOptions::default()
        },
    )?;
    let mut g = 0;
    while g < old + n {
        let end = (g + 2_000).min(old + n);
        let ops: Vec<StoreOp> = (g..end)
            .map(|i| {
                let e = if i < old {
                    ended_of(i, old_generated(i, old, old_base))
                } else {
                    ended(i - old, n, base)
                };
                StoreOp::End(Box::new(e))
            })
            .collect();
        store.commit(&ops, 0)?;
        g = end;
    }
    drop(store);
    Ok(t.elapsed())
}

/// The same sessions in the peer's `radacct`.
fn fill_peer(peer: &Peer, n: u64, base: u64) -> anyhow::Result<Duration> {
    let t = Instant::now();
    peer.sql(&format!(
        "TRUNCATE radacct;
         INSERT INTO radacct (acctsessionid, acctuniqueid, username, realm, nasipaddress, nasportid, nasporttype,
                              acctstarttime, acctupdatetime, acctstoptime, acctinterval, acctsessiontime,
                              acctauthentic, connectinfo_start, acctinputoctets, acctoutputoctets, calledstationid,
                              callingstationid, acctterminatecause, servicetype, framedprotocol, framedipaddress)
         SELECT lpad(to_hex(g), 16, '0'), md5(g::text),
                'user' || lpad((g % {users})::text, 7, '0') || '@corp.example', 'corp.example',
                ('127.0.0.' || (1 + g % 4))::inet, (g % 4096)::text, 'Virtual',
                to_timestamp({base} + g * {PERIOD} / {n}), to_timestamp({base} + g * {PERIOD} / {n} + 600 + g * 7919 % 14400),
                to_timestamp({base} + g * {PERIOD} / {n} + 600 + g * 7919 % 14400), 600, 600 + g * 7919 % 14400,
                'RADIUS', '', g * 7919 % 4294967296, g * 104729 % 4294967296, '', '', 'User-Request',
                'Framed-User', 'PPP', ('10.0.0.0'::inet + (g % {ADDRESSES}))
         FROM generate_series(0::bigint, {n}::bigint - 1) AS g;
         VACUUM ANALYZE radacct;
         CHECKPOINT;",
        users = users(n)
    ))?;
    Ok(t.elapsed())
}

/// A deterministic spread of sessions to ask about.
fn samples(n: u64, count: usize) -> Vec<u64> {
    (0..count as u64).map(|i| (i * 2_654_435_761 + 12_345) % n).collect()
}

fn ms_percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (percentile(&v, 50.0), percentile(&v, 99.0))
}

fn rfc(secs: u64) -> String {
    rras_core::csv::rfc3339(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Runs the scenario at every --sessions size.
pub(crate) fn run(
    args: &Args,
    bin_dir: &Path,
    peer: Option<&Peer>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    for &n in &args.sessions {
        run_size(args, n, bin_dir, peer, rt)?;
    }
    Ok(())
}

fn run_size(
    args: &Args,
    n: u64,
    bin_dir: &Path,
    peer: Option<&Peer>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    // The sessions end by an hour ago at the latest.
    let base = now - PERIOD - 5 * 3_600;
    let listen = format!("127.0.0.1:{}", rras_testkit::free_udp_port());
    let client_spec = format!("127.0.0.0/8={SECRET}");
    let mut daemon = DaemonProcess::prepare(
        &bin_dir.join("rrasd"),
        &["--radius-acct", &listen, "--radius-client", &client_spec],
    );
    std::fs::create_dir_all(daemon.state_dir())?;
    let store_path = daemon.state_dir().join("rrasd.redb");
    println!("history: filling the store with {n} ended sessions …");
    let old = n / 10;
    let old_base = now - 400 * 86_400;
    let filled = fill(&store_path, n, base, old, old_base)?;
    let (entries, counted, allocated) = {
        let store = Store::open(&store_path)?;
        let (entries, counted) = store.history_size()?;
        (entries, counted, store.allocated_bytes()?)
    };
    let file_bytes = std::fs::metadata(&store_path)?.len();
    daemon.spawn();
    daemon.wait_running();
    let addr = daemon.addr();
    let mut rows = vec![
        (
            "filled (sessions/s)".to_owned(),
            format!("{:.0}", (n + old) as f64 / filled.as_secs_f64()),
        ),
        (
            "store bytes per ended session (allocated / file / counted)".to_owned(),
            format!(
                "{} / {} / {}",
                allocated / entries.max(1),
                file_bytes / entries.max(1),
                counted / entries.max(1)
            ),
        ),
    ];
    let mut out = json!({
        "sessions": n, "old_sessions": old, "fill_secs": filled.as_secs_f64(), "entries": entries,
        "file_bytes": file_bytes, "allocated_bytes": allocated, "counted_bytes": counted,
    });

    let client = rt.block_on(AdminClient::connect(&addr)).context("admin socket")?;
    // The daemon's page cache starts empty: a hundred queries of other
    // addresses first (each side is timed warm; the peer's queries are
    // seconds of scanning either way).
    for g in samples(n, QUERIES + 100).into_iter().skip(QUERIES) {
        let s = generated(g, n, base);
        let q = HistoryQuery {
            address: Some(s.address.into()),
            ..HistoryQuery::default()
        }
        .at(UNIX_EPOCH + Duration::from_secs(s.start + s.duration / 2));
        rt.block_on(client.history_page(&q, None, 100, false))?;
    }
    // Who had X at T, T inside a known session: the answer is checked.
    let mut who = Vec::new();
    for g in samples(n, QUERIES) {
        let s = generated(g, n, base);
        let q = HistoryQuery {
            address: Some(s.address.into()),
            ..HistoryQuery::default()
        }
        .at(UNIX_EPOCH + Duration::from_secs(s.start + s.duration / 2));
        let t = Instant::now();
        let page = rt.block_on(client.history_page(&q, None, 100, false))?;
        who.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            page.entries.len() == 1 && page.entries[0].1.connection.info.user_name == s.user,
            "who had {} at {}: {:?}",
            s.address,
            s.start + s.duration / 2,
            page.entries
                .iter()
                .map(|(_, e)| &e.connection.info.user_name)
                .collect::<Vec<_>>()
        );
    }
    let (who_p50, who_p99) = ms_percentiles(who);
    // One user's month: every one of its sessions.
    let mut month = Vec::new();
    for g in samples(n, QUERIES / 5) {
        let s = generated(g, n, base);
        let q = HistoryQuery {
            user: Some(s.user.clone()),
            from: Some(UNIX_EPOCH + Duration::from_secs(now - PERIOD - 6 * 3_600)),
            ..HistoryQuery::default()
        };
        let t = Instant::now();
        let page = rt.block_on(client.history_page(&q, None, 1_000, false))?;
        month.push(t.elapsed().as_secs_f64() * 1e3);
        let expected = n / users(n) + u64::from(g % users(n) < n % users(n));
        anyhow::ensure!(
            page.entries.len() as u64 == expected,
            "{}: {} of {expected} sessions",
            s.user,
            page.entries.len()
        );
    }
    let (month_p50, month_p99) = ms_percentiles(month);
    // The month's summary.
    let mut summary = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = rt.block_on(client.usage(UNIX_EPOCH + Duration::from_secs(now - PERIOD), None, 10, false))?;
        summary.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(r.totals.sessions > 0, "an empty summary");
    }
    summary.sort_by(|a, b| a.total_cmp(b));
    rows.push((
        "who had X at T, p50 / p99 (ms)".into(),
        format!("{who_p50:.3} / {who_p99:.3}"),
    ));
    rows.push((
        "one user's month, p50 / p99 (ms)".into(),
        format!("{month_p50:.3} / {month_p99:.3}"),
    ));
    rows.push(("month summary, median of 3 (s)".into(), format!("{:.3}", summary[1])));
    out["who_p50_ms"] = json!(who_p50);
    out["who_p99_ms"] = json!(who_p99);
    out["month_p50_ms"] = json!(month_p50);
    out["month_p99_ms"] = json!(month_p99);
    out["summary_secs"] = json!(summary[1]);

    // Retention beside 10,000 Starts/s: the old sessions go a step per
    // write; the history is asked every half second whether any is left.
    let old_end = UNIX_EPOCH + Duration::from_secs(old_base + PERIOD + 5 * 3_600);
    // The Starts run 60 s (retention of 1M took 31 s) and stay live, so the
    // churn after it runs beside 600k more live connections than before.
    let retention_cap = Duration::from_secs(120);
    let paced = radload::LoadSpec {
        sockets: 8,
        first: 1 << 40,
        count: 10_000 * 60,
        mix: Mix::PacedStarts { rate: 10_000 },
        time_cap: retention_cap,
        ..starts_load(args, listen.parse()?, SECRET, 0)
    };
    let (retention_secs, paced) = rt.block_on(async {
        let load = tokio::spawn(async move { radload::run(&paced).await });
        let t = Instant::now();
        let old_left = HistoryQuery {
            to: Some(old_end),
            ..HistoryQuery::default()
        };
        let mut done = None;
        while t.elapsed() < retention_cap {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let page = client.history_page(&old_left, None, 1, false).await?;
            if page.entries.is_empty() {
                done = Some(t.elapsed().as_secs_f64());
                break;
            }
        }
        // The load runs its whole minute either way: the p99 is of Starts
        // beside retention and after it alike.
        let paced = load.await??;
        anyhow::Ok((done, paced))
    })?;
    rows.push((
        format!("retention of {old} old sessions beside 10k Starts/s: s, Starts ack p99 (ms)"),
        format!(
            "{}, {:.1} ({} Starts over {:.0} s)",
            retention_secs.map_or("not done in 120".to_owned(), |s| format!("{s:.1}")),
            paced.latency_ms(99.0),
            paced.acked,
            paced.elapsed.as_secs_f64()
        ),
    ));
    out["retention_secs"] = json!(retention_secs);
    out["retention_starts_acked"] = json!(paced.acked);
    out["retention_starts_p99_ms"] = json!(paced.latency_ms(99.0));

    // RADIUS churn with the history full: a third of it Stops.
    let live = 100_000.min(n);
    let started = rt.block_on(radload::run(&starts_load(args, listen.parse()?, SECRET, live)))?;
    anyhow::ensure!(
        started.acked == live,
        "only {} of {live} Starts acknowledged",
        started.acked
    );
    // CPU per request is steadier than acks/s on a shared machine: the
    // daemon's, and of it the store applier's (counted until the applier
    // has caught up).
    let pid = daemon.pid();
    let applier = applier_stat(pid);
    let cpu_before = (process_stats::cpu_secs(pid), process_stats::cpu_secs_in(&applier));
    let churn = rt.block_on(radload::run(&radload::LoadSpec {
        // Ten rounds of the live table (1M requests, ~12 s): three were
        // ~3.5 s, and a figure over so short a run moved 82-90k.
        mix: Mix::Churn { requests: 10 * live },
        ..starts_load(args, listen.parse()?, SECRET, live)
    }))?;
    process_stats::wait_until_idle(pid);
    let per_request = |before: f64, after: f64| (after - before) * 1e6 / churn.acked.max(1) as f64;
    let rrasd_us = per_request(cpu_before.0, process_stats::cpu_secs(pid));
    let applier_us = per_request(cpu_before.1, process_stats::cpu_secs_in(&applier));
    rows.push((
        "churn with the history full: acks/s, p99 (ms); rrasd CPU per request, of it the store's applier (µs)".into(),
        format!(
            "{:.0}, {:.1}; {rrasd_us:.1}, {applier_us:.1}",
            churn.acks_per_sec(),
            churn.latency_ms(99.0)
        ),
    ));
    out["churn_acks_per_sec"] = json!(churn.acks_per_sec());
    out["churn_p99_ms"] = json!(churn.latency_ms(99.0));
    out["churn_rrasd_cpu_us"] = json!(rrasd_us);
    out["churn_applier_cpu_us"] = json!(applier_us);
    drop(daemon);

    let mut peer_rows = Vec::new();
    if let Some(peer) = peer {
        println!("history: filling the peer's radacct with {n} sessions …");
        let peer_fill = fill_peer(peer, n, base)?;
        let bytes: u64 = peer
            .sql("SELECT pg_total_relation_size('radacct');")?
            .lines()
            .find_map(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let mut who_sql = String::from("\\timing on\n\\o /dev/null\n");
        for g in samples(n, QUERIES / 5) {
            let s = generated(g, n, base);
            let at = rfc(s.start + s.duration / 2);
            who_sql.push_str(&format!(
                "SELECT username FROM radacct WHERE framedipaddress = '{}' AND acctstarttime <= '{at}' \
                 AND (acctstoptime >= '{at}' OR acctstoptime IS NULL);\n",
                s.address
            ));
        }
        let (pw50, pw99) = peer.timed(&who_sql)?;
        let mut month_sql = String::from("\\timing on\n\\o /dev/null\n");
        for g in samples(n, QUERIES / 20) {
            let s = generated(g, n, base);
            month_sql.push_str(&format!(
                "SELECT * FROM radacct WHERE username = '{}' AND acctstoptime >= '{}' ORDER BY acctstarttime DESC;\n",
                s.user,
                rfc(now - PERIOD - 6 * 3_600)
            ));
        }
        let (pm50, pm99) = peer.timed(&month_sql)?;
        let summary_sql = format!(
            "\\timing on\n\\o /dev/null\n{}",
            "SELECT count(*), count(DISTINCT username), sum(acctsessiontime), sum(acctinputoctets), sum(acctoutputoctets) \
             FROM radacct WHERE acctstoptime >= now() - interval '30 days';\n"
                .repeat(3)
        );
        let (ps50, _) = peer.timed(&summary_sql)?;
        peer_rows = vec![
            format!("{:.0}", n as f64 / peer_fill.as_secs_f64()),
            format!("{} (table + indexes)", bytes / n.max(1)),
            format!("{pw50:.3} / {pw99:.3}"),
            format!("{pm50:.3} / {pm99:.3}"),
            format!("{:.3}", ps50 / 1e3),
            "—".into(),
        ];
        out["peer"] = json!({
            "fill_secs": peer_fill.as_secs_f64(), "bytes": bytes, "who_p50_ms": pw50, "who_p99_ms": pw99,
            "month_p50_ms": pm50, "month_p99_ms": pm99, "summary_secs": ps50 / 1e3,
        });
    }

    println!("\n## history at {n} ended sessions\n");
    println!("| measure | openrras | PostgreSQL radacct |");
    println!("|---|---|---|");
    for (i, (m, v)) in rows.iter().enumerate() {
        println!("| {m} | {v} | {} |", peer_rows.get(i).map_or("—", String::as_str));
    }
    std::fs::create_dir_all(&args.out)?;
    let file = args.out.join(format!("history-{n}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(&out)?)?;
    println!("\n(JSON: {})", file.display());
    Ok(())
}
