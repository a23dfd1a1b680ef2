//! End-to-end tests of the real `rrasd` binary over its real Unix socket:
//! paging under churn, durability across SIGKILL, access control, service
//! state and error codes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_client::{AdminClient, ClientError};
use rras_core::paging::RAS_PORT_0_SIZE;
use rras_core::{synthetic, SourceKey, Win32Error, RAS_CONNECTION_EX_SIZE as S};
use rras_testkit::{require_root, runtime, DaemonProcess};

fn rrasd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rrasd"))
}

async fn fill(client: &AdminClient, range: std::ops::Range<u64>) -> Vec<u32> {
    let now = SystemTime::now();
    let mut handles = Vec::new();
    let ids: Vec<u64> = range.collect();
    for chunk in ids.chunks(5000) {
        let reports = chunk
            .iter()
            .map(|i| rras_client::started(&synthetic::connection(*i, now)))
            .collect();
        for r in client.report(reports).await.expect("report batch") {
            handles.push(r.expect("started"));
        }
    }
    handles
}

/// What a walk pages through: connections (`ConnectionEnumRecords`, sized
/// by RAS_CONNECTION_EX) or ports (`PortEnum`, sized by RAS_PORT_0).
#[derive(Clone, Copy)]
enum Walk {
    Connections,
    Ports,
}

#[test]
fn pages_50k_exactly_once_while_connections_churn() {
    exactly_once_under_churn(Walk::Connections, 50_000);
}

#[test]
fn pages_ports_exactly_once_over_the_rpc_while_connections_churn() {
    exactly_once_under_churn(Walk::Ports, 14_000);
}

/// `sessions` live; a writer ends every 7th and starts new ones while one
/// walk pages 50 entries at a time: every survivor exactly once, nothing
/// twice, no cursor left open.
fn exactly_once_under_churn(walk: Walk, sessions: u64) {
    let daemon = DaemonProcess::start(rrasd(), &[]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        let handles = fill(&client, 0..sessions).await;
        assert_eq!(handles.len() as u64, sessions);
        // The writer ends every 7th original session and starts new ones.
        let doomed: Vec<SourceKey> = (0..sessions)
            .step_by(7)
            .map(|i| synthetic::connection(i, SystemTime::now()).source)
            .collect();
        let doomed_handles: HashSet<u32> = handles.iter().copied().step_by(7).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let client = AdminClient::connect(&daemon.addr()).await.unwrap();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut next = 1_000_000u64;
                let mut rounds = 0u32;
                for chunk in doomed.chunks(50) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut reports: Vec<_> = chunk.iter().map(|k| rras_client::ended(k, "user-request")).collect();
                    for _ in 0..20 {
                        reports.push(rras_client::started(&synthetic::connection(next, SystemTime::now())));
                        next += 1;
                    }
                    client.report(reports).await.expect("churn batch");
                    rounds += 1;
                }
                rounds
            })
        };
        let mut seen: HashMap<u32, u32> = HashMap::new();
        let mut resume = 0;
        let mut pages = 0;
        loop {
            let (got, next, status) = match walk {
                Walk::Connections => {
                    let page = client.enum_page(49 * S, resume).await.expect("page");
                    let got: Vec<u32> = page.entries.iter().map(|c| c.handle.get()).collect();
                    (got, page.resume_handle, page.status)
                }
                Walk::Ports => {
                    let page = client
                        .port_page(49 * RAS_PORT_0_SIZE + 1, resume, 0)
                        .await
                        .expect("page");
                    for p in &page.ports {
                        assert_eq!(p.level0.port, p.level0.connection);
                    }
                    let got: Vec<u32> = page.ports.iter().map(|p| p.level0.port).collect();
                    (got, page.resume_handle, page.status)
                }
            };
            pages += 1;
            assert!(got.len() <= 50);
            for h in got {
                *seen.entry(h).or_default() += 1;
            }
            if next == 0 {
                assert_eq!(status, 0);
                break;
            }
            assert_eq!(status, Win32Error::MoreData.code());
            resume = next;
        }
        stop.store(true, Ordering::Relaxed);
        let rounds = writer.await.unwrap();
        assert!(rounds > 0, "the writer never ran");
        // The sessions minus the 1/7 ended during the walk, 50 per page.
        let least = sessions * 6 / 7 / 50;
        assert!(pages >= least, "{pages} pages, expected at least {least}");
        assert!(seen.values().all(|&n| n == 1), "an entry came back twice");
        let missed = handles
            .iter()
            .filter(|h| !doomed_handles.contains(h) && !seen.contains_key(h))
            .count();
        assert_eq!(missed, 0, "survivors missed");
        let info = client.server_info().await.unwrap();
        assert_eq!(info.open_cursors, 0);
    });
}

#[test]
fn acknowledged_reports_survive_sigkill() {
    let mut daemon = DaemonProcess::start(rrasd(), &[]);
    let addr = daemon.addr();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let acked: Arc<parking_lot::Mutex<Vec<SourceKey>>> = Arc::default();
    let burst = {
        let acked = acked.clone();
        let addr = addr.clone();
        rt.spawn(async move {
            let client = AdminClient::connect(&addr).await.unwrap();
            let mut tasks = Vec::new();
            for w in 0..16u64 {
                let (client, acked) = (client.clone(), acked.clone());
                tasks.push(tokio::spawn(async move {
                    for i in 0..100_000u64 {
                        let info = synthetic::connection(w * 1_000_000 + i, SystemTime::now());
                        match client.report(vec![rras_client::started(&info)]).await {
                            Ok(r) if r[0].is_ok() => acked.lock().push(info.source),
                            _ => return,
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    };
    // Let the burst get going, then kill -9 in the middle of it.
    rras_testkit::wait_for(Duration::from_secs(30), || (acked.lock().len() >= 3000).then_some(()))
        .expect("burst did not start");
    daemon.kill9();
    rt.block_on(burst).unwrap();
    let acked: Vec<SourceKey> = acked.lock().clone();
    assert!(acked.len() >= 3000);

    daemon.restart();
    rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        let present: HashSet<SourceKey> = client
            .connections()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.info.source)
            .collect();
        let lost: Vec<_> = acked.iter().filter(|k| !present.contains(k)).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged of {} lost after kill -9, e.g. {:?}",
            lost.len(),
            acked.len(),
            lost.first()
        );
    });
}

#[test]
fn clean_restart_keeps_connections_handles_and_history() {
    let mut daemon = DaemonProcess::start(rrasd(), &[]);
    let rt = runtime();
    let (before, ended_key) = rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        fill(&client, 0..100).await;
        let key = synthetic::connection(5, SystemTime::now()).source;
        client
            .report(vec![rras_client::ended(&key, "idle-timeout")])
            .await
            .unwrap();
        let mut list = client.connections().await.unwrap();
        list.sort_by_key(|c| c.handle);
        (list, key)
    });
    let status = daemon.terminate().expect("exit status");
    assert!(status.success(), "rrasd did not exit cleanly on SIGTERM: {status:?}");
    daemon.restart();
    rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        let mut after = client.connections().await.unwrap();
        after.sort_by_key(|c| c.handle);
        assert_eq!(after.len(), 99);
        assert_eq!(
            after.iter().map(|c| (c.handle, &c.info)).collect::<Vec<_>>(),
            before.iter().map(|c| (c.handle, &c.info)).collect::<Vec<_>>()
        );
        let history = client.history(10).await.unwrap();
        assert_eq!(history[0].connection.info.source, ended_key);
        assert_eq!(history[0].reason, "idle-timeout");
        // New handles continue above the old ones: no reuse after restart.
        let max_before = before.iter().map(|c| c.handle.get()).max().unwrap();
        let fresh = fill(&client, 500..501).await[0];
        assert!(fresh > max_before);
    });
}

#[test]
fn ddm_not_running_while_starting() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let mut child = Command::new(rrasd())
        .args(["--debug-start-delay-ms", "2500", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--admin-socket")
        .arg(&socket)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("unix:{}", socket.display());
    let rt = runtime();
    let client = rras_testkit::wait_for(Duration::from_secs(10), || {
        rt.block_on(AdminClient::connect(&addr)).ok()
    })
    .expect("socket came up");
    rt.block_on(async {
        let (running, state) = client.is_service_running().await.unwrap();
        assert!(!running);
        assert_eq!(state, "starting");
        let err = client.enum_page(u32::MAX, 0).await.unwrap_err();
        assert_eq!(err.code(), Win32Error::DdmNotRunning.code());
    });
    let ok = rras_testkit::wait_for(Duration::from_secs(10), || {
        rt.block_on(client.enum_page(u32::MAX, 0)).ok()
    });
    assert!(ok.is_some(), "never reached running");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
}

/// Admin calls run on the daemon's admin thread, not on the runtime the
/// sources use: with both of the daemon's workers stuck (a source in a
/// blocking call), the socket still answers, lists and reports.
#[test]
fn admin_calls_are_served_while_every_daemon_worker_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let config = rrasd::Config {
        state_dir: dir.path().join("state"),
        admin_socket: socket.clone(),
        log_level: "warn".into(),
        ..rrasd::Config::default()
    };
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = workers.spawn(rrasd::run(config, async move {
        let _ = stopped.await;
    }));
    let addr = format!("unix:{}", socket.display());
    let rt = runtime();
    let client = rras_testkit::wait_for(Duration::from_secs(20), || {
        rt.block_on(async {
            let c = AdminClient::connect(&addr).await.ok()?;
            matches!(c.is_service_running().await, Ok((true, _))).then_some(c)
        })
    })
    .expect("daemon running");
    rt.block_on(fill(&client, 0..10));

    // Occupy both workers until released (bounded, so a failure cannot hang).
    let (started, both_started) = std::sync::mpsc::channel();
    let mut releases = Vec::new();
    for _ in 0..2 {
        let (release, released) = std::sync::mpsc::channel::<()>();
        releases.push(release);
        let started = started.clone();
        workers.spawn(async move {
            let _ = started.send(());
            let _ = released.recv_timeout(Duration::from_secs(30));
        });
    }
    for _ in 0..2 {
        both_started
            .recv_timeout(Duration::from_secs(10))
            .expect("both workers blocked");
    }
    let served = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), async {
            let (running, _) = client.is_service_running().await?;
            let page = client.enum_page(u32::MAX, 0).await?;
            let fresh = AdminClient::connect(&addr).await?;
            let info = fresh.server_info().await?;
            Ok::<_, ClientError>((running, page.entries.len(), info.total_connections))
        })
        .await
    });
    drop(releases);
    let _ = stop.send(());
    let ended = workers.block_on(async { tokio::time::timeout(Duration::from_secs(10), daemon).await });
    let (running, listed, total) = served
        .expect("admin calls waited for the daemon's workers")
        .expect("admin calls failed");
    assert!(running);
    assert_eq!((listed, total), (10, 10));
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "daemon did not stop cleanly: {ended:?}"
    );
}

#[test]
fn error_codes_of_the_admin_api() {
    let daemon = DaemonProcess::start(rrasd(), &[]);
    let rt = runtime();
    rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        fill(&client, 0..10).await;
        let code = |r: Result<rras_client::EnumPage, ClientError>| r.unwrap_err().code();
        // Bad header revision, type and size: ERROR_INVALID_PARAMETER.
        assert_eq!(code(client.enum_page_raw((2, 1, S), u32::MAX, 0).await), 87);
        assert_eq!(code(client.enum_page_raw((1, 2, S), u32::MAX, 0).await), 87);
        assert_eq!(code(client.enum_page_raw((1, 1, 1000), u32::MAX, 0).await), 87);
        // A resume handle never issued: ERROR_INVALID_PARAMETER.
        assert_eq!(code(client.enum_page(S, 0x1234_5678).await), 87);
        // Another session's resume handle: ERROR_INVALID_PARAMETER.
        let page = client.enum_page(S, 0).await.unwrap();
        let other = AdminClient::connect(&daemon.addr()).await.unwrap();
        assert_eq!(code(other.enum_page(S, page.resume_handle).await), 87);
        // A session id never issued: ERROR_INVALID_HANDLE.
        let forged = client.with_session_id(client.session_id() ^ 0xdead_beef);
        assert_eq!(code(forged.enum_page(S, 0).await), 6);
        // A closed session: ERROR_INVALID_HANDLE.
        other.disconnect_session().await.unwrap();
        assert_eq!(code(other.enum_page(S, 0).await), 6);
        // Unknown connection handle: ERROR_INVALID_HANDLE.
        assert_eq!(client.connection(999_999).await.unwrap_err().code(), 6);
        assert_eq!(client.clear_stats(0).await.unwrap_err().code(), 6);
        // Hang-up of a hook-fed session: its engine cannot be told.
        let h = client.connections().await.unwrap()[0].handle.get();
        assert_eq!(
            client.disconnect(h).await.unwrap_err().code(),
            Win32Error::NotSupported.code()
        );
        // Clear stats works and is visible.
        client.clear_stats(h).await.unwrap();
        assert_eq!(client.connection(h).await.unwrap().info.stats, Default::default());
        // Error strings: known code, unknown code.
        assert_eq!(
            client.error_string(903).await.unwrap(),
            Win32Error::DdmNotRunning.message()
        );
        assert_eq!(
            client.error_string(4242).await.unwrap_err().code(),
            Win32Error::MrMidNotFound.code()
        );
        // A method the server does not know: ERROR_PROC_NOT_FOUND.
        assert_eq!(unknown_method(&daemon.addr()).await, Win32Error::ProcNotFound.code());
    });
}

async fn unknown_method(addr: &str) -> u32 {
    let addr = rras_client::ServerAddr::parse(addr).unwrap();
    let mut grpc = tonic::client::Grpc::new(rras_client::channel(&addr).await.unwrap());
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/rras.admin.v1.RrasAdmin/NoSuchMethod");
    let codec = tonic_prost::ProstCodec::<rras_proto::pb::Empty, rras_proto::pb::Empty>::default();
    let result = grpc
        .unary(tonic::Request::new(rras_proto::pb::Empty {}), path, codec)
        .await;
    ClientError::from(result.unwrap_err()).code()
}

/// `THP_enabled` of a process, from /proc/PID/status (Linux 5.0 and later).
fn thp_enabled(pid: &str) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("THP_enabled:"))?;
    Some(line.trim() == "1")
}

/// Transparent huge pages cost a query 5 ms at random (the kernel zeroes
/// 2 MiB on the first touch of each), so the daemon turns them off for
/// itself; `MIMALLOC_ALLOW_THP=1` keeps them.
#[test]
fn transparent_huge_pages_are_off_unless_asked_for() {
    let Some(ours) = thp_enabled("self") else {
        println!("skipped: this kernel shows no THP_enabled in /proc/PID/status");
        return;
    };
    let daemon = DaemonProcess::start(rrasd(), &[]);
    assert_eq!(thp_enabled(&daemon.pid().to_string()), Some(false));
    // The flag is inherited: asking for huge pages shows only where this
    // test's own process has them.
    if ours {
        let mut asked = DaemonProcess::prepare(rrasd(), &[]);
        asked.env("MIMALLOC_ALLOW_THP", "1");
        asked.spawn();
        asked.wait_running();
        assert_eq!(thp_enabled(&asked.pid().to_string()), Some(true));
    }
}

#[test]
fn metrics_endpoint_serves_prometheus_text() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let daemon = DaemonProcess::start(rrasd(), &["--metrics", &format!("127.0.0.1:{port}")]);
    let rt = runtime();
    rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        fill(&client, 0..8).await;
        client.connections().await.unwrap();
    });
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("rrasd_active_connections{engine=\"radius\"} 2"), "{body}");
    assert!(body.contains("rrasd_enumerations_total"), "{body}");
    assert!(body.contains("rrasd_rpc_duration_seconds_bucket"), "{body}");
}

#[test]
fn bad_config_is_one_line_naming_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rrasd.toml");
    std::fs::write(&cfg, "state_dir = \"/tmp/x\"\nadmin_sockett = \"/tmp/y\"\n").unwrap();
    let out = Command::new(rrasd()).arg("--config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("admin_sockett") && err.contains("line 2"), "{err}");
    let out = Command::new(rrasd())
        .args(["--radius-client", "10.0.0.0/99=x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = Command::new(rrasd()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--config",
        "--state-dir",
        "--admin-socket",
        "--log-level",
        "--radius-acct",
        "--metrics",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

/// Runs this test binary again as uid/gid 65534 to call the daemon as a
/// non-admin; the child prints the Win32 code it got.
fn call_as_nobody(addr: &str) -> u32 {
    use std::os::unix::process::CommandExt;
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "nobody_client_helper", "--nocapture", "--test-threads=1"])
        .env("RRAS_HELPER_ADDR", addr)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("HELPER-CODE ").map(|(_, c)| c))
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "helper printed no code: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Not a test of its own: does nothing unless started by `call_as_nobody`.
#[test]
fn nobody_client_helper() {
    let Ok(addr) = std::env::var("RRAS_HELPER_ADDR") else {
        return;
    };
    let rt = runtime();
    let code = rt.block_on(async {
        match AdminClient::connect(&addr).await {
            Err(e) => e.code(),
            Ok(c) => c.enum_page(u32::MAX, 0).await.map(|_| 0).unwrap_or_else(|e| e.code()),
        }
    });
    println!("HELPER-CODE {code}");
}

#[test]
fn non_admin_uid_gets_access_denied() {
    if !require_root() {
        return;
    }
    // World-connectable socket: the daemon's SO_PEERCRED check must deny.
    let open = DaemonProcess::start(rrasd(), &["--socket-mode", "0666"]);
    std::fs::set_permissions(open.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(call_as_nobody(&open.addr()), Win32Error::AccessDenied.code());
    // Default 0660 root-owned socket: the kernel refuses, same code.
    let closed = DaemonProcess::start(rrasd(), &[]);
    std::fs::set_permissions(closed.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(call_as_nobody(&closed.addr()), Win32Error::AccessDenied.code());
    // The denial is logged for the operator.
    assert!(open.log().contains("access denied"), "{}", open.log());
}

/// A tmpfs mounted for one test; unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_fails_clearly_loses_nothing_and_recovers() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs");
    let _disk = SmallDisk(state.clone());
    let socket = dir.path().join("admin.sock");
    let spawn = || {
        Command::new(rrasd())
            .arg("--state-dir")
            .arg(&state)
            .arg("--admin-socket")
            .arg(&socket)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let addr = format!("unix:{}", socket.display());
    let rt = runtime();
    let connect = || {
        rras_testkit::wait_for(Duration::from_secs(15), || {
            rt.block_on(async {
                let c = AdminClient::connect(&addr).await.ok()?;
                matches!(c.is_service_running().await, Ok((true, _))).then_some(c)
            })
        })
        .expect("rrasd up")
    };
    let mut child = ChildGuard(spawn());
    let client = connect();
    let now = SystemTime::now();
    let report = |ids: std::ops::Range<u64>| {
        rt.block_on(
            client.report(
                ids.map(|i| rras_client::started(&synthetic::connection(i, now)))
                    .collect(),
            ),
        )
    };
    let key = |i: u64| synthetic::connection(i, now).source.session_id;
    for r in report(0..50).unwrap() {
        r.unwrap();
    }
    // Fill the disk to the last byte.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(state.join("filler")).unwrap();
        for size in [64 * 1024, 4096, 512, 64, 8, 1] {
            let block = vec![0u8; size];
            while filler.write_all(&block).is_ok() {}
        }
    }
    // redb may still have free pages inside its file: write until it needs
    // more room. Every batch that succeeded was acknowledged and must stay.
    let mut acked: Vec<u64> = (0..50).collect();
    let mut refused = None;
    for batch in 0..200u64 {
        let ids = 1000 + batch * 100..1000 + (batch + 1) * 100;
        match report(ids.clone()) {
            Ok(_) => acked.extend(ids),
            Err(e) => {
                refused = Some((ids, e));
                break;
            }
        }
    }
    let (refused_ids, err) = refused.expect("a full disk never refused a write");
    eprintln!("disk full after {} acknowledged sessions", acked.len());
    assert_eq!(err.code(), Win32Error::DiskFull.code(), "{err}");
    // Refused changes are taken back: an end, and a start+end of one session.
    let end_first = rras_client::ended(&synthetic::connection(0, now).source, "user-request");
    assert_eq!(
        rt.block_on(client.report(vec![end_first])).unwrap_err().code(),
        Win32Error::DiskFull.code()
    );
    let brief = synthetic::connection(777_777, now);
    let both = vec![
        rras_client::started(&brief),
        rras_client::ended(&brief.source, "user-request"),
    ];
    assert_eq!(
        rt.block_on(client.report(both)).unwrap_err().code(),
        Win32Error::DiskFull.code()
    );
    // Reads keep working and show exactly what was acknowledged.
    let listed: HashSet<String> = rt
        .block_on(client.connections())
        .unwrap()
        .into_iter()
        .map(|c| c.info.source.session_id)
        .collect();
    assert_eq!(listed.len(), acked.len());
    assert!(listed.contains(&key(0)), "a refused end removed the session");
    assert!(!listed.contains(&key(777_777)), "a refused start+end left the session");
    // Room again: writes succeed without a restart.
    std::fs::remove_file(state.join("filler")).unwrap();
    report(900_000..900_001).unwrap()[0].unwrap();
    acked.push(900_000);
    child.kill9();
    child = ChildGuard(spawn());
    let client = connect();
    let ids: HashSet<String> = rt
        .block_on(client.connections())
        .unwrap()
        .into_iter()
        .map(|c| c.info.source.session_id)
        .collect();
    child.kill9();
    assert_eq!(ids.len(), acked.len());
    assert!(
        acked.iter().all(|i| ids.contains(&key(*i))),
        "an acknowledged report was lost"
    );
    assert!(
        refused_ids.clone().all(|i| !ids.contains(&key(i))),
        "a refused report appeared"
    );
}

/// A child process killed (by PID) when the test ends, even on a panic.
struct ChildGuard(std::process::Child);

impl ChildGuard {
    fn kill9(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill9();
    }
}
