//! Security end to end: the role × method matrix over the Unix socket (as
//! other uids) and over TCP+TLS (certificates and tokens), the audit trail,
//! cursor/session limits under a hostile client, hostile RPC payloads, and
//! the daemon running unprivileged.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use rras_client::{AdminClient, ServerAddr, TlsOptions};
use rras_core::{synthetic, Win32Error, RAS_CONNECTION_EX_SIZE as S};
use rras_testkit::pki::TestPki;
use rras_testkit::{free_tcp_port, require_root, runtime, wait_for, DaemonProcess};

const DENIED: u32 = Win32Error::AccessDenied.code();

fn rrasd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rrasd"))
}

/// Calls every method once; returns (method, status) pairs. `handle` is a
/// live connection, so "allowed" shows up as a non-5 status.
async fn matrix(client: &AdminClient, handle: u32) -> Vec<(&'static str, u32)> {
    let code = |r: Result<(), rras_client::ClientError>| r.map(|_| 0).unwrap_or_else(|e| e.code());
    vec![
        ("ServerGetInfo", code(client.server_info().await.map(|_| ()))),
        (
            "ConnectionEnumEx",
            code(client.enum_page(u32::MAX, 0).await.map(|_| ())),
        ),
        ("ConnectionGetInfoEx", code(client.connection(handle).await.map(|_| ()))),
        ("HistoryEnum", code(client.history(5).await.map(|_| ()))),
        ("ConnectionClearStats", code(client.clear_stats(handle).await)),
        ("ConnectionDisconnect", code(client.disconnect(handle).await)),
        ("AuditEnum", code(client.audit(5).await.map(|_| ()))),
        (
            "Report",
            code(
                client
                    .report(vec![rras_client::started(&synthetic::connection(
                        999_999,
                        SystemTime::now(),
                    ))])
                    .await
                    .map(|_| ()),
            ),
        ),
    ]
}

const ADMIN_ONLY: [&str; 4] = ["ConnectionClearStats", "ConnectionDisconnect", "AuditEnum", "Report"];

fn assert_role(results: &[(&str, u32)], admin: bool, who: &str) {
    for (method, status) in results {
        let should_deny = !admin && ADMIN_ONLY.contains(method);
        assert_eq!(*status == DENIED, should_deny, "{who}: {method} returned {status}");
    }
}

async fn seed(addr: &str) -> u32 {
    let root = AdminClient::connect(addr).await.unwrap();
    let now = SystemTime::now();
    let reports = (0..5)
        .map(|i| rras_client::started(&synthetic::connection(i, now)))
        .collect();
    root.report(reports).await.unwrap()[0].unwrap()
}

fn tls(pki: &TestPki, cert: Option<&rras_testkit::pki::CertFiles>, token: Option<&str>) -> TlsOptions {
    TlsOptions {
        ca: Some(pki.ca.clone()),
        cert: cert.map(|c| c.cert.clone()),
        key: cert.map(|c| c.key.clone()),
        token: token.map(str::to_owned),
    }
}

/// A daemon with the TLS listener on a free port and a fresh test PKI.
fn tls_daemon() -> (tempfile::TempDir, TestPki, u16, DaemonProcess) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let port = free_tcp_port();
    let args = pki.daemon_args(port);
    let daemon = DaemonProcess::start_owned(rrasd(), &args);
    (dir, pki, port, daemon)
}

#[test]
fn tls_roles_by_certificate_and_token_and_the_audit_trail() {
    let (_dir, pki, port, daemon) = tls_daemon();
    let rt = runtime();
    let remote = ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap();
    rt.block_on(async {
        let handle = seed(&daemon.addr()).await;
        let connect = |opts: TlsOptions| {
            let remote = remote.clone();
            async move { AdminClient::connect_addr_with(&remote, &opts).await }
        };
        // Valid admin and reader certificates.
        let admin = connect(tls(&pki, Some(&pki.admin), None)).await.expect("admin cert");
        assert_role(&matrix(&admin, handle).await, true, "admin cert");
        let reader = connect(tls(&pki, Some(&pki.reader), None)).await.expect("reader cert");
        assert_role(&matrix(&reader, handle).await, false, "reader cert");
        // Tokens.
        let t_admin = connect(tls(&pki, None, Some(&pki.admin_token)))
            .await
            .expect("admin token");
        assert_role(&matrix(&t_admin, handle).await, true, "admin token");
        let t_reader = connect(tls(&pki, None, Some(&pki.reader_token)))
            .await
            .expect("reader token");
        assert_role(&matrix(&t_reader, handle).await, false, "reader token");
        // No role: wrong SAN, no certificate, bad token → denied at ServerConnect.
        for (who, opts) in [
            ("wrong SAN", tls(&pki, Some(&pki.wrong_san), None)),
            ("no certificate", tls(&pki, None, None)),
            ("invalid token", tls(&pki, None, Some("not-a-token"))),
        ] {
            let err = connect(opts).await.expect_err(who);
            assert_eq!(err.code(), DENIED, "{who}: {err}");
        }
        // Unknown CA and expired certificates: the handshake itself fails.
        for (who, opts) in [
            ("unknown CA", tls(&pki, Some(&pki.unknown_ca), None)),
            ("expired", tls(&pki, Some(&pki.expired), None)),
        ] {
            assert!(connect(opts).await.is_err(), "{who} was accepted");
        }
        // A client that does not trust the server's CA refuses it.
        let untrusting = TlsOptions {
            ca: None,
            ..tls(&pki, None, Some(&pki.admin_token))
        };
        assert!(
            connect(untrusting).await.is_err(),
            "server cert accepted without its CA"
        );

        // Revoking a token (rewriting the file) takes effect without a restart.
        let kept = std::fs::read_to_string(&pki.tokens).unwrap();
        let without_ci: String = kept
            .lines()
            .filter(|l| !l.starts_with("ci "))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&pki.tokens, without_ci).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(3);
        std::fs::File::options()
            .write(true)
            .open(&pki.tokens)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let err = connect(tls(&pki, None, Some(&pki.admin_token)))
            .await
            .expect_err("revoked token");
        assert_eq!(err.code(), DENIED);
        assert!(
            t_admin.server_info().await.is_err(),
            "revoked token still works on an open session"
        );

        // The audit trail has the admin actions and the denials, durably.
        let audit = admin.audit(500).await.unwrap();
        let has = |caller: &str, method: &str, result: u32| {
            audit
                .iter()
                .any(|r| r.caller == caller && r.method == method && r.result == result)
        };
        assert!(has("cert:admin.ops.test", "ConnectionClearStats", 0), "{audit:?}");
        assert!(has(
            "cert:admin.ops.test",
            "ConnectionDisconnect",
            Win32Error::NotSupported.code()
        ));
        assert!(has("cert:monitor.ops.test", "ConnectionClearStats", DENIED));
        assert!(has("token:mon", "AuditEnum", DENIED));
        assert!(audit
            .iter()
            .any(|r| r.caller.starts_with("anonymous:127.0.0.1") && r.result == DENIED));
        let cleared = audit
            .iter()
            .find(|r| r.method == "ConnectionClearStats" && r.result == 0)
            .unwrap();
        assert_eq!(cleared.target, handle.to_string());
    });
}

/// SIGTERM gives in-flight calls on the TLS listener the same grace as on
/// the Unix socket (ARCHITECTURE.md, "Shutdown"): a listing stalled by the
/// client's flow control when the signal arrives still completes, and an
/// idle TLS connection left open does not keep the daemon from exiting.
#[test]
fn sigterm_lets_an_in_flight_tls_listing_finish_then_exits() {
    const N: u64 = 60_000;
    let (_dir, pki, port, daemon) = tls_daemon();
    let rt = runtime();
    let remote = ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap();
    let (client, mut page, first) = rt.block_on(async {
        let root = AdminClient::connect(&daemon.addr()).await.unwrap();
        let now = SystemTime::now();
        let ids: Vec<u64> = (0..N).collect();
        for chunk in ids.chunks(5000) {
            let reports = chunk
                .iter()
                .map(|i| rras_client::started(&synthetic::connection(*i, now)))
                .collect();
            for r in root.report(reports).await.unwrap() {
                r.expect("started");
            }
        }
        let client = AdminClient::connect_addr_with(&remote, &tls(&pki, Some(&pki.admin), None))
            .await
            .expect("admin over TLS");
        let mut page = client
            .enum_records((1, 1, S), rras_core::PREF_MAX_ALL, 0)
            .await
            .unwrap();
        assert_eq!(page.page_entries as u64, N, "one page of everything");
        // Read one chunk; the rest waits in the server behind the windows.
        let first = page.next_chunk().await.expect("a first chunk").unwrap();
        let first = rras_core::record::RecordFrames::new(&first).count() as u64;
        (client, page, first)
    });
    let mut daemon = daemon;
    let terminating = std::thread::spawn(move || {
        let status = daemon.terminate();
        (status, daemon.log())
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let received = rt.block_on(async {
        let mut frames = 0u64;
        while let Some(chunk) = page.next_chunk().await {
            let chunk = chunk.map_err(|e| format!("the listing was cut after SIGTERM: {e}"))?;
            for frame in rras_core::record::RecordFrames::new(&chunk) {
                frame.map_err(|e| format!("bad record: {e}"))?;
                frames += 1;
            }
        }
        Ok::<_, String>(frames)
    });
    let (status, log) = terminating.join().unwrap();
    let received = received.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(
        status.is_some_and(|s| s.success()),
        "rrasd did not exit cleanly with an idle TLS client open: {status:?}\n{log}"
    );
    assert!(
        first < N,
        "the whole listing arrived before SIGTERM; the test proves nothing"
    );
    assert_eq!(first + received, N, "entries lost to SIGTERM");
    drop(client);
    assert!(log.contains("rrasd stopping"), "{log}");
}

#[test]
fn hostile_client_cannot_exhaust_cursors_or_sessions() {
    let (_dir, pki, port, daemon) = tls_daemon();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        seed(&daemon.addr()).await;
        let victim = AdminClient::connect(&daemon.addr()).await.unwrap();
        let victim_page = victim.enum_page(S, 0).await.unwrap();
        assert_ne!(victim_page.resume_handle, 0);
        let remote = ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap();
        let opts = tls(&pki, None, Some(&pki.admin_token));
        // 200 sessions from one identity, 40 cursors each: 8000 cursors asked for.
        let mut first_cursor = None;
        for _ in 0..200 {
            let hostile = AdminClient::connect_addr_with(&remote, &opts).await.unwrap();
            for _ in 0..40 {
                let page = hostile.enum_page(S, 0).await.unwrap();
                first_cursor.get_or_insert((hostile.clone(), page.resume_handle));
            }
        }
        let info = victim.server_info().await.unwrap();
        assert!(info.open_cursors <= 64 * 40 + 1, "{} cursors open", info.open_cursors);
        // The hostile identity's oldest session was evicted, with its cursors.
        let (old, handle) = first_cursor.unwrap();
        assert_eq!(
            old.enum_page(S, handle).await.unwrap_err().code(),
            Win32Error::InvalidHandle.code()
        );
        // The victim (another identity) keeps its session and its cursor.
        let rest = victim.enum_page(u32::MAX, victim_page.resume_handle).await.unwrap();
        assert_eq!(rest.entries.len() + victim_page.entries.len(), 5);
    });
}

/// Sends raw bytes as the request of every admin method.
mod raw {
    use bytes::{Buf, BufMut};
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
    use tonic::Status;

    #[derive(Debug, Clone, Default)]
    pub(crate) struct RawCodec;
    #[derive(Debug, Clone, Default)]
    pub(crate) struct RawEncoder;
    #[derive(Debug, Clone, Default)]
    pub(crate) struct RawDecoder;

    impl Encoder for RawEncoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for RawDecoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            let n = src.remaining();
            Ok(Some(src.copy_to_bytes(n).to_vec()))
        }
    }

    impl Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawEncoder;
        type Decoder = RawDecoder;
        fn encoder(&mut self) -> RawEncoder {
            RawEncoder
        }
        fn decoder(&mut self) -> RawDecoder {
            RawDecoder
        }
    }
}

#[test]
fn hostile_rpc_payloads_get_codes_not_crashes() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use prost::Message;

    let daemon = DaemonProcess::start(rrasd(), &[]);
    let rt = runtime();
    let addr = ServerAddr::parse(&daemon.addr()).unwrap();
    let channel = rt.block_on(rras_client::channel(&addr)).unwrap();
    let session = rt.block_on(async {
        let c = AdminClient::connect(&daemon.addr()).await.unwrap();
        seed(&daemon.addr()).await;
        c.session_id()
    });
    const METHODS: [&str; 13] = [
        "ServerConnect",
        "ServerDisconnect",
        "IsServiceRunning",
        "ServerGetInfo",
        "ConnectionEnumEx",
        "ConnectionEnumRecords",
        "ConnectionGetInfoEx",
        "ConnectionClearStats",
        "ConnectionDisconnect",
        "GetErrorString",
        "HistoryEnum",
        "Report",
        "AuditEnum",
    ];
    // Valid messages to mutate: an enumeration and a report of this session.
    let enum_req = rras_proto::pb::EnumRequest {
        session_id: session,
        header_revision: 1,
        header_type: 1,
        header_size: S,
        pref_max_len: S,
        resume_handle: 0,
    }
    .encode_to_vec();
    let report = rras_proto::pb::ReportBatch {
        reports: vec![rras_client::started(&synthetic::connection(7, SystemTime::now()))],
    }
    .encode_to_vec();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..METHODS.len(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            (
                proptest::collection::vec((0usize..512, any::<u8>()), 1..8),
                any::<bool>()
            )
                .prop_map(move |(flips, rep)| {
                    let mut m = if rep { report.clone() } else { enum_req.clone() };
                    for (i, v) in flips {
                        let n = m.len();
                        m[i % n] = v;
                    }
                    m
                }),
        ],
    );
    runner
        .run(&strategy, |(method, payload)| {
            let result = rt.block_on(async {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                grpc.ready().await.map_err(|e| e.to_string())?;
                let path = format!("/rras.admin.v1.RrasAdmin/{}", METHODS[method]);
                let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).map_err(|e| e.to_string())?;
                Ok::<_, String>(grpc.unary(tonic::Request::new(payload), path, raw::RawCodec).await)
            });
            match result {
                Ok(Ok(reply)) => {
                    // Every reply's field 1 is its Win32 status.
                    let status = rras_proto::pb::StatusReply::decode(reply.get_ref().as_slice())
                        .map_err(|e| TestCaseError::fail(e.to_string()))?
                        .status;
                    prop_assert!(Win32Error::from_code(status).is_some(), "unknown status {status}");
                }
                Ok(Err(status)) => {
                    prop_assert!(
                        matches!(status.code(), tonic::Code::Internal | tonic::Code::InvalidArgument),
                        "{status:?}"
                    );
                }
                Err(e) => return Err(TestCaseError::fail(format!("transport failed: {e}"))),
            }
            Ok(())
        })
        .unwrap();
    // Still alive and serving.
    rt.block_on(async {
        let c = AdminClient::connect(&daemon.addr()).await.unwrap();
        assert!(c.is_service_running().await.unwrap().0);
    });
}

/// Runs this test binary as `uid` (primary group `gid`, supplementary
/// `groups`, set with util-linux setpriv) to call every method on the
/// Unix socket.
fn matrix_as_groups(uid: u32, gid: u32, groups: &[u32], addr: &str, handle: u32) -> String {
    let groups = if groups.is_empty() {
        "--clear-groups".to_owned()
    } else {
        format!(
            "--groups={}",
            groups.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        )
    };
    let out = Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg(groups)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "matrix_helper", "--nocapture", "--test-threads=1"])
        .env("RRAS_HELPER_ADDR", addr)
        .env("RRAS_HELPER_HANDLE", handle.to_string())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn matrix_as(uid: u32, addr: &str, handle: u32) -> String {
    matrix_as_groups(uid, uid, &[], addr, handle)
}

/// Not a test of its own: does nothing unless started by `matrix_as`.
#[test]
fn matrix_helper() {
    let (Ok(addr), Ok(handle)) = (std::env::var("RRAS_HELPER_ADDR"), std::env::var("RRAS_HELPER_HANDLE")) else {
        return;
    };
    let handle: u32 = handle.parse().unwrap();
    let rt = runtime();
    rt.block_on(async {
        match AdminClient::connect(&addr).await {
            Err(e) => println!("\nRESULT ServerConnect {}", e.code()),
            Ok(c) => {
                for (method, code) in matrix(&c, handle).await {
                    println!("\nRESULT {method} {code}");
                }
            }
        }
        // Without a session, probing an existing and a missing connection
        // must look the same to a denied caller.
        let mut rpc = rras_client::connect_channel(&rras_client::ServerAddr::parse(&addr).unwrap())
            .await
            .unwrap();
        for (label, h) in [("existing", handle), ("missing", 0x7fff_fff0)] {
            let r = rpc
                .connection_get_info_ex(rras_proto::pb::ConnectionRequest {
                    session_id: 1,
                    connection_handle: h,
                })
                .await
                .map(|r| r.into_inner().status)
                .unwrap_or(u32::MAX);
            println!("\nPROBE {label} {r}");
        }
    });
}

fn parse(out: &str, prefix: &str) -> Vec<(String, u32)> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(m, c)| (m.to_owned(), c.trim().parse().unwrap_or(u32::MAX)))
        })
        .collect()
}

#[test]
fn unix_socket_role_matrix_by_uid() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rrasd.toml");
    std::fs::write(
        &config,
        "socket_mode = \"0666\"\nadmin_users = [\"1500\"]\nreader_users = [\"1600\"]\n",
    )
    .unwrap();
    let daemon = DaemonProcess::start(rrasd(), &["--config", config.to_str().unwrap()]);
    std::fs::set_permissions(daemon.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let handle = runtime().block_on(seed(&daemon.addr()));

    let admin = parse(&matrix_as(1500, &daemon.addr(), handle), "RESULT ");
    assert_eq!(admin.len(), 8, "{admin:?}");
    let admin: Vec<(&str, u32)> = admin.iter().map(|(m, c)| (m.as_str(), *c)).collect();
    assert_role(&admin, true, "uid 1500 (admin_users)");

    let reader = parse(&matrix_as(1600, &daemon.addr(), handle), "RESULT ");
    let reader: Vec<(&str, u32)> = reader.iter().map(|(m, c)| (m.as_str(), *c)).collect();
    assert_eq!(reader.len(), 8, "{reader:?}");
    assert_role(&reader, false, "uid 1600 (reader_users)");

    let nobody_out = matrix_as(65534, &daemon.addr(), handle);
    assert_eq!(
        parse(&nobody_out, "RESULT "),
        vec![("ServerConnect".to_owned(), DENIED)]
    );
    // Denied callers learn nothing about which connections exist.
    assert_eq!(
        parse(&nobody_out, "PROBE "),
        vec![("existing".to_owned(), DENIED), ("missing".to_owned(), DENIED)]
    );
    let audit = runtime().block_on(async {
        AdminClient::connect(&daemon.addr())
            .await
            .unwrap()
            .audit(100)
            .await
            .unwrap()
    });
    assert!(audit
        .iter()
        .any(|r| r.caller == "uid:1600" && r.method == "ConnectionClearStats" && r.result == DENIED));
    assert!(audit
        .iter()
        .any(|r| r.caller == "uid:65534" && r.method == "ServerConnect" && r.result == DENIED));
    assert!(audit
        .iter()
        .any(|r| r.caller == "uid:1500" && r.method == "ConnectionClearStats" && r.result == 0));
}

#[test]
fn unix_socket_roles_by_primary_and_supplementary_group() {
    if !require_root() || !rras_testkit::require_tool("setpriv") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rrasd.toml");
    std::fs::write(
        &config,
        "socket_mode = \"0666\"\nadmin_group = \"1800\"\nreader_group = \"1810\"\n",
    )
    .unwrap();
    let daemon = DaemonProcess::start(rrasd(), &["--config", config.to_str().unwrap()]);
    std::fs::set_permissions(daemon.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let handle = runtime().block_on(seed(&daemon.addr()));
    let roles = |uid, gid, groups: &[u32]| {
        parse(&matrix_as_groups(uid, gid, groups, &daemon.addr(), handle), "RESULT ")
            .into_iter()
            .collect::<Vec<_>>()
    };
    let check = |results: Vec<(String, u32)>, admin: bool, who: &str| {
        assert_eq!(results.len(), 8, "{who}: {results:?}");
        let results: Vec<(&str, u32)> = results.iter().map(|(m, c)| (m.as_str(), *c)).collect();
        assert_role(&results, admin, who);
    };
    check(roles(1900, 1800, &[]), true, "primary group = admin_group");
    check(roles(1901, 1901, &[1800]), true, "supplementary admin_group");
    check(roles(1902, 1902, &[1810]), false, "supplementary reader_group");
    assert_eq!(
        roles(1903, 1903, &[1811]),
        vec![("ServerConnect".to_owned(), DENIED)],
        "no group"
    );
}

#[test]
fn daemon_runs_as_an_unprivileged_user() {
    if !require_root() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    nix::unistd::chown(
        &state,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    let socket = state.join("admin.sock");
    let mut child = Command::new(rrasd())
        .arg("--state-dir")
        .arg(&state)
        .arg("--admin-socket")
        .arg(&socket)
        .uid(65534)
        .gid(65534)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("unix:{}", socket.display());
    let rt = runtime();
    // Root is admin even of a daemon it does not run as; the daemon's own
    // user is too, and it could write its store.
    let ok = wait_for(std::time::Duration::from_secs(15), || {
        rt.block_on(async {
            let c = AdminClient::connect(&addr).await.ok()?;
            let r = c
                .report(vec![rras_client::started(&synthetic::connection(1, SystemTime::now()))])
                .await
                .ok()?;
            r[0].ok()
        })
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let status = child.wait().unwrap();
    assert!(ok.is_some(), "unprivileged rrasd did not serve");
    assert!(status.success(), "{status:?}");
    let meta = std::fs::metadata(state.join("rrasd.redb")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
}

#[test]
fn sighup_reloads_roles_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let port = free_tcp_port();
    let config = dir.path().join("rrasd.toml");
    let write_config = |admin_names: &str| {
        std::fs::write(
            &config,
            format!(
                "[tls]\nlisten = \"127.0.0.1:{port}\"\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\nadmin_names = [{admin_names}]\n",
                pki.server.cert.display(),
                pki.server.key.display(),
                pki.ca.display()
            ),
        )
        .unwrap();
    };
    write_config("");
    let daemon = DaemonProcess::start(rrasd(), &["--config", config.to_str().unwrap()]);
    let remote = ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap();
    let rt = runtime();
    let admin_code = || {
        rt.block_on(AdminClient::connect_addr_with(
            &remote,
            &tls(&pki, Some(&pki.admin), None),
        ))
        .map(|_| 0)
        .unwrap_or_else(|e| e.code())
    };
    assert_eq!(admin_code(), DENIED, "no admin names configured yet");
    let hup = |pid: u32| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGHUP).unwrap();
    };
    write_config("\"admin.ops.test\"");
    hup(daemon.pid());
    assert!(
        wait_for(std::time::Duration::from_secs(10), || (admin_code() == 0).then_some(())).is_some(),
        "reload not applied"
    );
    // A broken file keeps the working configuration.
    std::fs::write(&config, "this is = not toml [").unwrap();
    hup(daemon.pid());
    let audit = wait_for(std::time::Duration::from_secs(10), || {
        let a = rt.block_on(async { AdminClient::connect(&daemon.addr()).await.ok()?.audit(20).await.ok() })?;
        (a.iter().filter(|r| r.method == "ConfigReload").count() == 2).then_some(a)
    })
    .expect("two reloads audited");
    let reloads: Vec<u32> = audit
        .iter()
        .filter(|r| r.method == "ConfigReload")
        .map(|r| r.result)
        .collect();
    assert_eq!(reloads, vec![Win32Error::InvalidParameter.code(), 0], "newest first");
    assert_eq!(admin_code(), 0, "a failed reload must not drop the working roles");
}
