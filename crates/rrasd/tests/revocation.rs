//! Revocation bites at once (issue 31, points 2 and 3): deleting a token's
//! line ends the web sessions, the Server-Sent Events stream and the Watch
//! stream opened with it within a second; a certificate name moved from
//! admin to reader on reload downgrades its web session; one identity's
//! sign-ins never sign another identity out.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rras_client::{AdminClient, ServerAddr, TlsOptions, WatchFilter};
use rras_testkit::pki::{TestPki, ADMIN_NAME, READER_NAME};
use rras_testkit::{free_tcp_port, require_tool, runtime, wait_for, DaemonProcess};

struct Console {
    daemon: DaemonProcess,
    pki: TestPki,
    base: String,
    tls: u16,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn names(admin: &[&str], reader: &[&str]) -> String {
    format!("[tls]\nadmin_names = {admin:?}\nreader_names = {reader:?}\n")
}

impl Console {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new(dir.path());
        let (tls, web) = (free_tcp_port(), free_tcp_port());
        let config = dir.path().join("rrasd.toml");
        std::fs::write(&config, names(&[ADMIN_NAME], &[READER_NAME])).unwrap();
        // The names come from the file, so a reload can change them.
        let daemon = tls_and_web_daemon(pki.listener_args(tls), &config, web);
        Console {
            daemon,
            pki,
            base: format!("https://127.0.0.1:{web}"),
            tls,
            config,
            _dir: dir,
        }
    }

    /// Rewrites the certificate names and reloads (SIGHUP).
    fn reload_names(&self, admin: &[&str], reader: &[&str]) {
        std::fs::write(&self.config, names(admin, reader)).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.pid() as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    }

    fn curl(&self, extra: &[&str], path: &str) -> String {
        let out = Command::new("curl")
            .args(["-s", "-i", "--max-time", "10", "--cacert"])
            .arg(&self.pki.ca)
            .args(extra)
            .arg(format!("{}{path}", self.base))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Signs in with a token; returns the session cookie (`name=value`).
    fn sign_in(&self, token: &str) -> String {
        let form = self.curl(
            &[
                "-H",
                &format!("Origin: {}", self.base),
                "--data",
                &format!("token={token}"),
            ],
            "/login",
        );
        cookie_of(&form)
    }

    fn me(&self, cookie: &str) -> String {
        self.curl(&["-b", cookie], "/api/me")
    }

    /// Removes the tokens file line of `name` (the file keeps its mode).
    fn delete_token(&self, name: &str) {
        let text = std::fs::read_to_string(&self.pki.tokens).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| l.split_whitespace().next() != Some(name))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&self.pki.tokens, kept).unwrap();
    }
}

fn cookie_of(response: &str) -> String {
    response
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {response}"))
        .to_owned()
}

/// Waits (≤ 1 s) for `done`; returns how long it took.
fn within_a_second(mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    wait_for(Duration::from_secs(1), || done().then(|| started.elapsed()))
}

#[test]
fn a_deleted_token_ends_its_web_session_events_and_watch_at_once() {
    if !require_tool("curl") {
        return;
    }
    let c = Console::start();
    let admin = c.sign_in(&c.pki.admin_token);
    assert!(c.me(&admin).contains("\"role\":\"admin\""));
    let reader = c.sign_in(&c.pki.reader_token);
    assert!(c.me(&reader).contains("\"role\":\"reader\""));

    // The admin's page has its event stream open.
    let mut events = Command::new("curl")
        .args(["-s", "-N", "--max-time", "20", "--cacert"])
        .arg(&c.pki.ca)
        .args(["-b", &admin])
        .arg(format!("{}/api/events", c.base))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = events.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // And a Watch stream over the admin TLS listener with the same token.
    let rt = runtime();
    let remote = ServerAddr::parse(&format!("127.0.0.1:{}", c.tls)).unwrap();
    let options = TlsOptions {
        ca: Some(c.pki.ca.clone()),
        token: Some(c.pki.admin_token.clone()),
        ..Default::default()
    };
    let client = rt.block_on(AdminClient::connect_addr_with(&remote, &options)).unwrap();
    let mut watch = rt.block_on(client.watch_from(None, &WatchFilter::default())).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    c.delete_token("ci");
    let deleted = Instant::now();
    let gone = within_a_second(|| c.me(&admin).starts_with("HTTP/2 401") || c.me(&admin).starts_with("HTTP/1.1 401"));
    assert!(gone.is_some(), "the web session outlived its token: {}", c.me(&admin));
    assert!(
        c.me(&reader).contains("\"role\":\"reader\""),
        "another identity's session ended too"
    );
    // The event stream says so and ends.
    let signed_out =
        std::iter::from_fn(|| lines.recv_timeout(Duration::from_millis(1500)).ok()).any(|l| l.contains("signed-out"));
    assert!(signed_out, "the event stream was not ended");
    assert!(deleted.elapsed() < Duration::from_secs(3));
    let _ = events.kill();
    let _ = events.wait();
    // The Watch stream ends with an error within a second.
    let ended = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(1500), async {
            loop {
                match watch.next_raw().await {
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Some(e),
                    None => return None,
                }
            }
        })
        .await
    });
    assert!(
        matches!(ended, Ok(Some(_)) | Ok(None)),
        "the Watch stream outlived its token: {ended:?}"
    );
    // A fresh call with the deleted token is refused.
    assert!(rt.block_on(AdminClient::connect_addr_with(&remote, &options)).is_err());
}

#[test]
fn a_role_lowered_on_reload_downgrades_the_certificate_session() {
    if !require_tool("curl") {
        return;
    }
    let c = Console::start();
    let (cert, key) = (c.pki.admin.cert.to_str().unwrap(), c.pki.admin.key.to_str().unwrap());
    let cookie = cookie_of(&c.curl(&["--cert", cert, "--key", key], "/login"));
    assert!(c.me(&cookie).contains("\"role\":\"admin\""));
    c.reload_names(&[], &[ADMIN_NAME, READER_NAME]);
    let downgraded = within_a_second(|| c.me(&cookie).contains("\"role\":\"reader\""));
    assert!(downgraded.is_some(), "{}", c.me(&cookie));
    // Removed altogether: signed out.
    c.reload_names(&[], &[READER_NAME]);
    let gone = within_a_second(|| c.me(&cookie).contains(" 401"));
    assert!(gone.is_some(), "{}", c.me(&cookie));
}

#[test]
fn a_reader_signing_in_again_and_again_never_signs_the_admin_out() {
    if !require_tool("curl") {
        return;
    }
    let c = Console::start();
    let admin = c.sign_in(&c.pki.admin_token);
    let first_reader = c.sign_in(&c.pki.reader_token);
    for _ in 0..40 {
        c.sign_in(&c.pki.reader_token);
    }
    assert!(c.me(&admin).contains("\"role\":\"admin\""), "the admin was signed out");
    assert!(
        c.me(&first_reader).contains(" 401"),
        "the reader's oldest session should have gone"
    );
}

/// rrasd with the admin TLS listener `args`, the configuration file
/// `config` and the web console on `web`.
fn tls_and_web_daemon(mut args: Vec<String>, config: &Path, web: u16) -> DaemonProcess {
    args.extend([
        "--config".into(),
        config.display().to_string(),
        "--web".into(),
        format!("127.0.0.1:{web}"),
    ]);
    DaemonProcess::start_owned(Path::new(env!("CARGO_BIN_EXE_rrasd")), &args)
}

/// A client certificate on the configured revocation list is refused in
/// the handshake by the admin TLS listener and the web console; the
/// others still get in.
#[test]
fn a_certificate_on_the_revocation_list_is_refused() {
    if !require_tool("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let (tls, web) = (free_tcp_port(), free_tcp_port());
    let config = dir.path().join("rrasd.toml");
    std::fs::write(
        &config,
        format!("[tls]\nclient_crl = \"{}\"\n", pki.crl_revoking_admin.display()),
    )
    .unwrap();
    let _d = tls_and_web_daemon(pki.daemon_args(tls), &config, web);
    let rt = runtime();
    let remote = ServerAddr::parse(&format!("127.0.0.1:{tls}")).unwrap();
    let with_cert = |files: &rras_testkit::pki::CertFiles| TlsOptions {
        ca: Some(pki.ca.clone()),
        cert: Some(files.cert.clone()),
        key: Some(files.key.clone()),
        ..Default::default()
    };
    let revoked = rt.block_on(async {
        match AdminClient::connect_addr_with(&remote, &with_cert(&pki.admin)).await {
            Ok(c) => c.server_info().await.is_err(),
            Err(_) => true,
        }
    });
    assert!(revoked, "a revoked certificate got through the admin TLS listener");
    let reader = rt.block_on(async {
        AdminClient::connect_addr_with(&remote, &with_cert(&pki.reader))
            .await
            .expect("an unrevoked certificate connects")
            .server_info()
            .await
            .is_ok()
    });
    assert!(reader);
    let curl = |files: &rras_testkit::pki::CertFiles| {
        Command::new("curl")
            .args(["-s", "-i", "--max-time", "10", "--cacert"])
            .arg(&pki.ca)
            .arg("--cert")
            .arg(&files.cert)
            .arg("--key")
            .arg(&files.key)
            .arg(format!("https://127.0.0.1:{web}/login"))
            .output()
            .unwrap()
    };
    let out = curl(&pki.admin);
    assert!(
        !out.status.success() || out.stdout.is_empty(),
        "the console let a revoked certificate in"
    );
    let out = curl(&pki.reader);
    assert!(String::from_utf8_lossy(&out.stdout).contains("location: /connections"));
}
