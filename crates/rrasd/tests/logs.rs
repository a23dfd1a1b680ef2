//! The daemon's log as an operator's tools see it: never an escape code
//! when stderr is not a terminal, JSON lines with stable fields on request,
//! journald priority prefixes under systemd, and no secret at any level —
//! run with a RADIUS secret, TLS key, bearer tokens and a WireGuard private
//! key all in play, at debug level.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rras_client::{AdminClient, ServerAddr, TlsOptions};
use rras_testkit::pki::TestPki;
use rras_testkit::{free_tcp_port, free_udp_port, radclient, require_tool, runtime, wait_for};

const RADIUS_SECRET: &str = "Rad1us-S3cret-in-play";
/// A WireGuard private key as a UAPI `get` reply carries it (hex).
const WG_PRIVATE: &str = "a8ed5b6bd3bc8c1f3cba84bd44c7e1bcd0cd4d4a5c78ef6ba92bbf5b0a19cd47";

/// Runs rrasd with `args` and `env` until `work` is done, then SIGTERM;
/// returns everything it wrote to stderr.
fn run_daemon(dir: &Path, args: &[String], env: &[(&str, &str)], work: impl FnOnce(&str)) -> String {
    let socket = dir.join("admin.sock");
    let log = dir.join("rrasd.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--admin-socket")
        .arg(&socket)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn rrasd");
    let addr = format!("unix:{}", socket.display());
    let up = wait_for(Duration::from_secs(20), || {
        runtime().block_on(async {
            let c = AdminClient::connect(&addr).await.ok()?;
            matches!(c.is_service_running().await, Ok((true, _))).then_some(())
        })
    });
    if up.is_some() {
        work(&addr);
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = wait_for(Duration::from_secs(10), || child.try_wait().ok().flatten());
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(up.is_some(), "rrasd did not start:\n{text}");
    text
}

/// A UAPI socket whose replies carry a private key.
fn uapi_with_private_key(dir: &Path) -> PathBuf {
    let wg = dir.join("wg");
    std::fs::create_dir_all(&wg).unwrap();
    let listener = UnixListener::bind(wg.join("wgx.sock")).unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten().take(50) {
            let mut request = [0u8; 64];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                format!(
                    "private_key={WG_PRIVATE}\nlisten_port=51820\n\
                     public_key=c21cb6a0a4f5a4a3f0a06e7fd0dc8ad3e25cd5b1e1ba6a8df72fbb4c2cfc0443\n\
                     preshared_key={WG_PRIVATE}\nrx_bytes=1\ntx_bytes=1\nlast_handshake_time_sec=1\nerrno=0\n\n"
                )
                .as_bytes(),
            );
        }
    });
    wg
}

#[test]
fn no_escape_codes_and_no_secrets_at_debug_level() {
    if !require_tool("radclient") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let tcp = free_tcp_port();
    let udp = free_udp_port();
    let wg = uapi_with_private_key(dir.path());
    let mut args = pki.daemon_args(tcp);
    args.extend([
        "--log-level".into(),
        "debug".into(),
        "--radius-acct".into(),
        format!("127.0.0.1:{udp}"),
        "--radius-client".into(),
        format!("127.0.0.0/8={RADIUS_SECRET}"),
        "--wireguard-dir".into(),
        wg.display().to_string(),
        "--wireguard-poll-secs".into(),
        "1".into(),
    ]);
    let token = pki.admin_token.clone();
    let log = run_daemon(dir.path(), &args, &[], |_| {
        let packets =
            "Acct-Status-Type = Start\nUser-Name = \"u\"\nAcct-Session-Id = \"log-1\"\nNAS-IP-Address = 127.0.0.1\n";
        assert_eq!(radclient(udp, RADIUS_SECRET, packets, &[]).responses(), 1);
        // A wrong secret is logged as such, without either secret.
        radclient(udp, "wrong-secret-zz", packets, &["-r", "1", "-t", "1"]);
        runtime().block_on(async {
            let remote = ServerAddr::parse(&format!("127.0.0.1:{tcp}")).unwrap();
            let tls = TlsOptions {
                ca: Some(pki.ca.clone()),
                token: Some(token.clone()),
                ..Default::default()
            };
            let c = AdminClient::connect_addr_with(&remote, &tls)
                .await
                .expect("token login");
            c.connections().await.expect("list");
            let bad = TlsOptions {
                token: Some("not-the-token-qq".into()),
                ..tls
            };
            if let Ok(c) = AdminClient::connect_addr_with(&remote, &bad).await {
                let _ = c.connections().await;
            }
        });
        std::thread::sleep(Duration::from_secs(2));
    });
    assert!(
        log.contains("DEBUG") || log.contains("debug"),
        "debug level was not on:\n{log}"
    );
    assert!(!log.contains('\x1b'), "escape codes in a log that is not a terminal");
    let key_pem = std::fs::read_to_string(&pki.server.key).unwrap();
    let key_line = key_pem.lines().nth(1).expect("PEM body");
    for (what, secret) in [
        ("RADIUS secret", RADIUS_SECRET),
        ("wrong RADIUS secret", "wrong-secret-zz"),
        ("bearer token", token.as_str()),
        ("wrong bearer token", "not-the-token-qq"),
        ("WireGuard private key", WG_PRIVATE),
        ("TLS private key", key_line),
    ] {
        assert!(!log.contains(secret), "{what} in the log:\n{log}");
    }
}

#[test]
fn json_lines_and_journald_priorities() {
    let dir = tempfile::tempdir().unwrap();
    let json = run_daemon(dir.path(), &["--log-format".into(), "json".into()], &[], |_| {});
    let lines: Vec<&str> = json.lines().collect();
    assert!(lines.len() >= 2, "{json}");
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for field in ["ts", "level", "target", "message"] {
            assert!(v[field].is_string(), "{field} missing in {line}");
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("\"message\":\"rrasd running\"")),
        "{json}"
    );

    let dir = tempfile::tempdir().unwrap();
    let journal = run_daemon(dir.path(), &[], &[("JOURNAL_STREAM", "8:1234")], |_| {});
    assert!(
        journal
            .lines()
            .any(|l| l.starts_with("<6>rrasd::server: rrasd running")),
        "{journal}"
    );
    assert!(journal.lines().all(|l| l.starts_with('<')), "{journal}");
    assert!(!journal.contains('\x1b'));
}
