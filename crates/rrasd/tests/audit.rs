//! An audit trail no flood can erase (issue 31, point 4): after an admin's
//! state-changing calls, 200,000 denied calls and failed web sign-ins go
//! by; the admin's records are still there, the denials are in the trail
//! as a few individual records and per-minute counts that add up, and the
//! trail did not grow by 200,000 records.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use rras_client::{AdminClient, ServerAddr, TlsOptions};
use rras_core::{ConnectionInfo, EngineKind, SourceKey};
use rras_testkit::pki::TestPki;
use rras_testkit::{free_tcp_port, require_tool, runtime, wait_for, DaemonProcess};

const DENIED_CALLS: u64 = 196_000;
const FAILED_SIGN_INS: u64 = 4_000;

#[test]
fn two_hundred_thousand_denials_cannot_push_an_admins_disconnect_out() {
    if !require_tool("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let (tls, web) = (free_tcp_port(), free_tcp_port());
    let mut args = pki.daemon_args(tls);
    // A count limit far below the flood: denials must not need it.
    args.extend(["--web".into(), format!("127.0.0.1:{web}")]);
    let cfg = dir.path().join("rrasd.toml");
    std::fs::write(&cfg, "audit_limit = 1000\nrpc_inflight_per_client = 64\n").unwrap();
    args.extend(["--config".into(), cfg.display().to_string()]);
    let d = DaemonProcess::start_owned(Path::new(env!("CARGO_BIN_EXE_rrasd")), &args);
    let rt = runtime();

    // The admin (root on the socket) reports a session, clears its
    // statistics and tries to hang it up.
    let handle = rt.block_on(async {
        let admin = AdminClient::connect(&d.addr()).await.unwrap();
        let key = SourceKey {
            engine: EngineKind::Report,
            instance: String::new(),
            nas: "hook".into(),
            session_id: "audited-1".into(),
        };
        let info = ConnectionInfo::new(key, "alice", SystemTime::now());
        let handle = admin.report(vec![rras_client::started(&info)]).await.unwrap()[0].unwrap();
        admin.clear_stats(handle).await.unwrap();
        let _ = admin.disconnect(handle).await;
        handle
    });

    // A reader hammers an admin-only call over TLS: every one denied.
    let remote = ServerAddr::parse(&format!("127.0.0.1:{tls}")).unwrap();
    let options = TlsOptions {
        ca: Some(pki.ca.clone()),
        token: Some(pki.reader_token.clone()),
        ..Default::default()
    };
    let denied: u64 = rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (remote, options) = (remote.clone(), options.clone());
                tokio::spawn(async move {
                    let reader = AdminClient::connect_addr_with(&remote, &options).await.unwrap();
                    let mut denied = 0u64;
                    for _ in 0..DENIED_CALLS / 8 {
                        if reader.disconnect(handle).await.is_err() {
                            denied += 1;
                        }
                    }
                    denied
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(denied, DENIED_CALLS);
    // Failed web sign-ins, many per curl (one kept-alive connection).
    let base = format!("https://127.0.0.1:{web}");
    let mut failed = 0;
    while failed < FAILED_SIGN_INS {
        let batch = 500;
        let urls: Vec<String> = (0..batch).map(|_| format!("{base}/login")).collect();
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "--cacert"])
            .arg(&pki.ca)
            .args(["-H", &format!("Origin: {base}"), "--data", "token=not-a-token"])
            .args(&urls)
            .output()
            .unwrap();
        let codes = String::from_utf8_lossy(&out.stdout);
        assert_eq!(codes.lines().filter(|c| *c == "303").count(), batch, "{codes}");
        failed += batch as u64;
    }

    // The minute's counts are written once it is over (checked every 5 s).
    let trail = wait_for(Duration::from_secs(90), || {
        let trail = rt.block_on(async { AdminClient::connect(&d.addr()).await.ok()?.audit(5000).await.ok() })?;
        let summed: u64 = trail
            .iter()
            .filter(|r| r.method == "DeniedCalls")
            .map(|r| {
                r.target
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum();
        let written = trail
            .iter()
            .filter(|r| r.result == 5 && r.method != "DeniedCalls")
            .count() as u64;
        (summed + written == DENIED_CALLS + FAILED_SIGN_INS).then_some(trail)
    })
    .expect("the denials are counted in the trail");
    let admin_calls: Vec<_> = trail
        .iter()
        .filter(|r| r.caller == "uid:0" && r.target == handle.to_string())
        .map(|r| r.method.as_str())
        .collect();
    assert!(admin_calls.contains(&"ConnectionClearStats"), "{admin_calls:?}");
    assert!(admin_calls.contains(&"ConnectionDisconnect"), "{admin_calls:?}");
    assert!(
        trail.len() < 200,
        "the trail holds {} records for 200,000 denials",
        trail.len()
    );
    assert!(trail
        .iter()
        .any(|r| r.caller == "token:mon" && r.method == "DeniedCalls"));
    assert!(trail.iter().any(|r| r.caller.starts_with("web:") && r.result == 5));
}
