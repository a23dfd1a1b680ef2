//! The change feed end to end: the real rrasd binary fed by real radclient
//! packets and Report calls; watchers through rras-client. List, then watch
//! from the listing's revision: every later change exactly once, in order;
//! filters applied by the daemon; revisions survive kill -9; a stuck
//! watcher is cut off with resync while ingest goes on.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use rras_client::{AdminClient, Change, ChangeStream, FeedMessage, WatchEvent, WatchFilter};
use rras_core::synthetic;
use rras_testkit::{free_udp_port, radclient, require_tool, runtime, DaemonProcess};

const SECRET: &str = "testing123";

fn start() -> (DaemonProcess, u16) {
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let d = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--radius-acct", &listen, "--radius-client", "127.0.0.0/8=testing123"],
    );
    (d, port)
}

fn packet(id: &str, user: &str, status: &str, extra: &str) -> String {
    let request = rras_testkit::accounting_text::Accounting::new(status, id, user)
        .ppp(3, "10.9.0.3")
        .l2tp();
    format!("{request}{extra}")
}

/// The changes of the next messages until `n` changes arrived (bounded wait).
async fn changes(stream: &mut ChangeStream, n: usize) -> Vec<Change> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(FeedMessage::Changes(c)))) => out.extend(c),
            Ok(Some(Ok(FeedMessage::Alive(_)))) => {}
            other => panic!("after {} of {n} changes: {other:?}", out.len()),
        }
    }
    out
}

fn kinds(changes: &[Change]) -> Vec<(&'static str, String)> {
    changes
        .iter()
        .map(|c| match c {
            Change::Started { connection, .. } => ("started", connection.info.source.session_id.clone()),
            Change::Updated { connection, .. } => ("updated", connection.info.source.session_id.clone()),
            Change::Ended { ended, .. } => ("ended", ended.connection.info.source.session_id.clone()),
            Change::Removed { handle, .. } => ("removed", handle.to_string()),
        })
        .collect()
}

#[test]
fn radius_changes_reach_a_watcher_exactly_once_in_order_and_revisions_survive_kill_9() {
    if !require_tool("radclient") {
        return;
    }
    let (mut d, port) = start();
    let rt = runtime();
    let last = rt.block_on(async {
        let client = AdminClient::connect(&d.addr()).await.unwrap();
        let everything = WatchFilter::default();
        let (r0, list) = client.list_with_revision(&everything).await.unwrap();
        assert!(list.is_empty());
        let mut feed = client.watch_from(Some(r0), &everything).await.unwrap();
        let alice = WatchFilter {
            user: Some("alice".into()),
            ..Default::default()
        };
        let mut only_alice = client.watch_from(Some(r0), &alice).await.unwrap();

        let sent = Instant::now();
        let run = radclient(port, SECRET, &packet("s-a", "CORP\\alice", "Start", ""), &[]);
        assert_eq!(run.responses(), 1, "{run:?}");
        let first = changes(&mut feed, 1).await;
        // A Start reaches the watcher well within a second of its packet.
        assert!(sent.elapsed() < Duration::from_secs(1), "{:?}", sent.elapsed());
        let packets = [
            packet("s-a", "CORP\\alice", "Interim-Update", "Acct-Input-Octets = 777\n"),
            packet("s-b", "bob", "Start", ""),
            packet("s-a", "CORP\\alice", "Stop", "Acct-Terminate-Cause = Idle-Timeout\n"),
        ]
        .join("\n");
        // One after another (-p 1), so the daemon sees them in this order.
        assert_eq!(radclient(port, SECRET, &packets, &["-p", "1"]).responses(), 3);
        let mut all = first;
        all.extend(changes(&mut feed, 3).await);
        assert_eq!(
            kinds(&all),
            [
                ("started", "s-a".to_owned()),
                ("updated", "s-a".to_owned()),
                ("started", "s-b".to_owned()),
                ("ended", "s-a".to_owned()),
            ]
        );
        let revisions: Vec<u64> = all.iter().map(Change::revision).collect();
        assert_eq!(
            revisions,
            (r0 + 1..=r0 + 4).collect::<Vec<_>>(),
            "consecutive, in order"
        );
        let Change::Updated { connection, .. } = &all[1] else {
            unreachable!()
        };
        assert_eq!(connection.info.stats.bytes_rcved, 777);
        let Change::Ended { ended, .. } = &all[3] else {
            unreachable!()
        };
        assert_eq!(ended.reason, "idle-timeout");
        // The daemon applied the filter: bob's start never reached alice's watcher.
        assert_eq!(
            kinds(&changes(&mut only_alice, 3).await),
            [
                ("started", "s-a".to_owned()),
                ("updated", "s-a".to_owned()),
                ("ended", "s-a".to_owned()),
            ]
        );

        // Resuming from a listing's revision: nothing twice, nothing missed.
        let (r_list, list) = client.list_with_revision(&everything).await.unwrap();
        assert_eq!(r_list, r0 + 4);
        assert_eq!(list.len(), 1);
        let mut resumed = client.watch_from(Some(r0 + 2), &everything).await.unwrap();
        assert_eq!(
            kinds(&changes(&mut resumed, 2).await),
            [("started", "s-b".to_owned()), ("ended", "s-a".to_owned())]
        );
        // From the future: resync.
        let mut future = client.watch_from(Some(r_list + 100), &everything).await.unwrap();
        assert_eq!(future.next().await.unwrap().unwrap(), FeedMessage::Resync);
        r_list
    });

    // kill -9: the revision is durable, the kept changes are not.
    d.kill9();
    d.restart();
    rt.block_on(async {
        let client = AdminClient::connect(&d.addr()).await.unwrap();
        let (revision, list) = client.list_with_revision(&WatchFilter::default()).await.unwrap();
        assert_eq!((revision, list.len()), (last, 1), "the revision is where it was");
        let mut old = client
            .watch_from(Some(last - 1), &WatchFilter::default())
            .await
            .unwrap();
        assert_eq!(old.next().await.unwrap().unwrap(), FeedMessage::Resync);
        // The list-then-watch helper: a snapshot, then the next change
        // with the next revision (never one handed out before the crash).
        let mut watcher = client.watch(WatchFilter::default());
        let WatchEvent::Snapshot { revision, connections } = watcher.next().await.unwrap() else {
            panic!("a snapshot first")
        };
        assert_eq!((revision, connections.len()), (last, 1));
        assert_eq!(
            radclient(port, SECRET, &packet("s-c", "carol", "Start", ""), &[]).responses(),
            1
        );
        let WatchEvent::Change(change) = tokio::time::timeout(Duration::from_secs(10), watcher.next())
            .await
            .unwrap()
            .unwrap()
        else {
            panic!("a change")
        };
        assert_eq!(change.revision(), last + 1);
        assert_eq!(kinds(&[*change]), [("started", "s-c".to_owned())]);
    });
}

#[test]
fn a_watcher_that_stops_reading_is_cut_off_with_resync_and_ingest_goes_on() {
    let (d, _) = start();
    let rt = runtime();
    rt.block_on(async {
        let client = AdminClient::connect(&d.addr()).await.unwrap();
        let sessions: Vec<_> = (0..1000u64)
            .map(|i| synthetic::connection(i, SystemTime::now()))
            .collect();
        let reports = sessions.iter().map(rras_client::started).collect();
        assert!(client.report(reports).await.unwrap().iter().all(Result::is_ok));
        // Opened and never read while 120k updates flow (more than the
        // daemon's backlog plus what HTTP/2 windows hold).
        let mut stuck = client.watch_from(None, &WatchFilter::default()).await.unwrap();
        let writer = AdminClient::connect(&d.addr()).await.unwrap();
        let started = Instant::now();
        for round in 1..=120u64 {
            let reports = sessions
                .iter()
                .map(|s| {
                    let stats = rras_core::ConnectionStats {
                        bytes_rcved: round,
                        ..Default::default()
                    };
                    rras_client::updated(&s.source, &stats)
                })
                .collect();
            let acked = tokio::time::timeout(Duration::from_secs(30), writer.report(reports))
                .await
                .expect("ingest must not wait for a stuck watcher")
                .unwrap();
            assert!(acked.iter().all(Result::is_ok));
        }
        eprintln!(
            "120k updates acknowledged in {:?} with a stuck watcher",
            started.elapsed()
        );
        // Reading now: what was buffered, then the cut-off.
        let mut seen = 0usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "no resync after {seen} changes");
            match stuck.next().await {
                Some(Ok(FeedMessage::Changes(c))) => seen += c.len(),
                Some(Ok(FeedMessage::Alive(_))) => {}
                Some(Ok(FeedMessage::Resync)) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(seen < 120_000, "the stuck watcher was not cut off ({seen} changes)");
        // A fresh watcher is served as usual.
        let mut fresh = client.watch(WatchFilter::default());
        let WatchEvent::Snapshot { connections, .. } = fresh.next().await.unwrap() else {
            panic!("snapshot")
        };
        assert_eq!(connections.len(), 1000);
    });
}

/// One caller cannot take every watcher (issue 31, point 5): past its
/// share (64) its next Watch is refused as too busy, and another
/// identity still watches.
#[test]
fn watchers_are_capped_per_caller() {
    let dir = tempfile::tempdir().unwrap();
    let pki = rras_testkit::pki::TestPki::new(dir.path());
    let tls = rras_testkit::free_tcp_port();
    let args = pki.daemon_args(tls);
    let d = DaemonProcess::start_owned(Path::new(env!("CARGO_BIN_EXE_rrasd")), &args);
    let rt = runtime();
    rt.block_on(async {
        let root = AdminClient::connect(&d.addr()).await.unwrap();
        let mut mine = Vec::new();
        for _ in 0..64 {
            mine.push(root.watch_from(None, &WatchFilter::default()).await.unwrap());
        }
        // A refusal is the stream's first (and last) message.
        let mut refused = root.watch_from(None, &WatchFilter::default()).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(5), refused.next())
            .await
            .unwrap();
        assert_eq!(
            first.and_then(Result::err).map(|e| e.code()),
            Some(rras_core::Win32Error::RpcServerTooBusy.code()),
            "the 65th watcher of one caller"
        );
        let remote = rras_client::ServerAddr::parse(&format!("127.0.0.1:{tls}")).unwrap();
        let reader = AdminClient::connect_addr_with(
            &remote,
            &rras_client::TlsOptions {
                ca: Some(pki.ca.clone()),
                token: Some(pki.reader_token.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // Accepted streams stay quiet (a heartbeat after 5 s); refused ones end at once.
        let quiet = |mut stream: ChangeStream| async move {
            tokio::time::timeout(Duration::from_millis(500), stream.next())
                .await
                .is_err()
        };
        let other = reader.watch_from(None, &WatchFilter::default()).await.unwrap();
        assert!(quiet(other).await, "another identity still watches");
        // The daemon notices a stream its client dropped at its next check (≤ 0.5 s).
        mine.pop();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let again = root.watch_from(None, &WatchFilter::default()).await.unwrap();
        assert!(quiet(again).await, "a freed share is reused");
    });
}
