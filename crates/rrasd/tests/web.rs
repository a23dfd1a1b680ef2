//! The web console in a real browser: headless Chromium driven through
//! chromedriver (WebDriver), against the real rrasd binary fed by real
//! radclient packets. Sign-in, the live list (a Start appears and a Stop
//! disappears without reload), filter and sort, the detail page, a reader
//! who may not disconnect (not in the page, and refused by the API when
//! called by hand), an admin disconnect that ends the session and shows
//! in the audit trail. A screenshot of the connections page is saved.
//! The daemon holds 100,000 more sessions from its store throughout, so
//! every step runs at the scale the console is meant for.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rras_testkit::webdriver::{Browser, Engine};
use rras_testkit::{free_tcp_port, free_udp_port, radclient, require_tool, DaemonProcess};

const SECRET: &str = "testing123";
const READER_TOKEN: &str = "reader-token-0123456789abcdef";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

fn packet(id: &str, user: &str, ip: &str, status: &str) -> String {
    rras_testkit::accounting_text::Accounting::new(status, id, user)
        .ppp(7, ip)
        .l2tp()
        .attr("Framed-IPv6-Prefix", "2001:db8:7::/64")
        .attr("Framed-Interface-Id", "0000:0000:0000:0009")
        .attr("Acct-Input-Octets", 4321)
        .attr("Acct-Output-Octets", 8765)
        .to_string()
}

/// Sessions the daemon's store holds before it starts.
const LOADED: u32 = 100_000;

/// Fills a daemon's store with [`LOADED`] reported sessions whose users
/// (`0load-…`) sort before every test user and match none of their
/// searches.
fn preload(d: &DaemonProcess) {
    use rras_core::model::{ConnectionHandle, ConnectionInfo, EngineKind, SourceKey};
    std::fs::create_dir_all(d.state_dir()).unwrap();
    let store = rras_store::Store::open_with(&d.state_dir().join("rrasd.redb"), Default::default()).unwrap();
    let now = std::time::SystemTime::now();
    let ops: Vec<rras_store::StoreOp> = (1..=LOADED)
        .map(|i| {
            let mut info = ConnectionInfo::new(
                SourceKey::new(EngineKind::Report, "load", format!("load-{i}")),
                format!("0load-{i:06}"),
                now,
            );
            info.interface_name = format!("ppp{}", i % 1000);
            info.projection.ipv4_mut().remote_address = Some(std::net::Ipv4Addr::new(10, 100, (i >> 8) as u8, i as u8));
            let handle = ConnectionHandle::new(i).unwrap();
            rras_store::StoreOp::Put(rras_core::Record::encode_info(handle, &info))
        })
        .collect();
    for chunk in ops.chunks(20_000) {
        store.commit(chunk, LOADED).unwrap();
    }
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots")
}

fn sign_in(b: &Browser, base: &str, token: &str) {
    b.delete_cookies();
    b.goto(&format!("{base}/login"));
    let field = b.wait("#token", Duration::from_secs(10));
    b.type_into(&field, token);
    b.click(&b.wait("#sign-in", Duration::from_secs(5)));
    b.wait_text("#counts", Duration::from_secs(10), |t| t.contains("connection(s)"));
}

#[test]
fn console_in_chromium() {
    console_in_a_real_browser(Engine::Chromium);
}

#[test]
fn console_in_firefox() {
    console_in_a_real_browser(Engine::Firefox);
}

fn console_in_a_real_browser(engine: Engine) {
    for tool in ["radclient", engine.browser(), engine.driver()] {
        if !require_tool(tool) {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    rras_testkit::write_private(
        &tokens,
        format!(
            "ops-reader reader {}\nops-admin admin {}\n",
            rrasd::auth::token_hash(READER_TOKEN),
            rrasd::auth::token_hash(ADMIN_TOKEN)
        ),
    );
    let (dm_port, nas) = rras_testkit::disconnect_responder(SECRET, 41, None);
    let acct = free_udp_port();
    let web = free_tcp_port();
    let mut d = DaemonProcess::prepare(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &[
            "--radius-acct",
            &format!("127.0.0.1:{acct}"),
            "--radius-client",
            "127.0.0.0/8=testing123",
            "--radius-disconnect-port",
            &dm_port.to_string(),
            "--web",
            &format!("127.0.0.1:{web}"),
            "--tokens-file",
            tokens.to_str().unwrap(),
        ],
    );
    preload(&d);
    d.spawn();
    d.wait_running();
    let base = format!("http://127.0.0.1:{web}");
    let count = |n: u32| format!("{} connection(s)", LOADED + n);
    let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    let starts: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            packet(
                &format!("s-{u}"),
                &format!("CORP\\{u}"),
                &format!("10.20.0.{}", i + 2),
                "Start",
            )
        })
        .collect();
    assert_eq!(
        radclient(acct, SECRET, &starts.join("\n"), &[]).responses(),
        users.len()
    );

    let b = Browser::start(engine, 1280, 900);
    // Not signed in: the console sends you to the sign-in page.
    b.goto(&format!("{base}/connections"));
    b.wait("#token", Duration::from_secs(10));
    assert!(b.url().ends_with("/login"), "{}", b.url());
    // A wrong token is refused.
    b.type_into(&b.wait("#token", Duration::from_secs(5)), "not-a-token");
    b.click(&b.wait("#sign-in", Duration::from_secs(5)));
    b.wait_text("#message", Duration::from_secs(10), |t| t.contains("not valid"));

    // Reader: the list.
    sign_in(&b, &base, READER_TOKEN);
    b.wait_text("#counts", Duration::from_secs(10), |t| t.starts_with(&count(8)));
    // A screenful of rows in the page, not the table.
    let drawn = b.find_all(".rows .row").len();
    assert!((8..=80).contains(&drawn), "{drawn} rows drawn");
    // Newest first (handle, descending): the test's own sessions on top.
    b.click(&b.wait("button.sort[data-key=handle]", Duration::from_secs(5)));
    b.wait_text(".rows .row .c-user", Duration::from_secs(5), |t| t.contains("heidi"));
    assert!(b.text(&b.wait("#who", Duration::from_secs(5))).contains("reader"));
    std::fs::create_dir_all(screenshot_dir()).unwrap();
    std::fs::write(
        screenshot_dir().join(format!("connections-{engine:?}.png").to_lowercase()),
        b.screenshot(),
    )
    .unwrap();

    // A new Start appears without reload, within a second; its Stop removes it.
    let sent = Instant::now();
    assert_eq!(
        radclient(
            acct,
            SECRET,
            &packet("s-newcomer", "newcomer", "10.20.0.99", "Start"),
            &[]
        )
        .responses(),
        1
    );
    b.wait_text("#counts", Duration::from_secs(5), |t| t.starts_with(&count(9)));
    let appeared = sent.elapsed();
    assert!(
        appeared < Duration::from_secs(1),
        "the Start took {appeared:?} to appear"
    );
    let rows = b.find_all(".rows .row");
    assert!(rows.iter().any(|r| b.text(r).contains("newcomer")));
    assert_eq!(
        radclient(
            acct,
            SECRET,
            &packet("s-newcomer", "newcomer", "10.20.0.99", "Stop"),
            &[]
        )
        .responses(),
        1
    );
    b.wait_text("#counts", Duration::from_secs(5), |t| t.starts_with(&count(8)));
    assert!(b.find_all(".rows .row").iter().all(|r| !b.text(r).contains("newcomer")));

    // Filter (in the daemon) and sort.
    let search = b.wait("#search", Duration::from_secs(5));
    b.type_into(&search, "carol");
    b.wait_text("#counts", Duration::from_secs(5), |t| {
        t.contains("1 shown by the filter")
    });
    let rows = b.find_all(".rows .row");
    assert_eq!(rows.len(), 1);
    assert!(b.text(&rows[0]).contains("CORP\\carol"));
    b.clear(&search);
    b.type_into(&search, " ");
    b.clear(&search);
    b.wait_text("#counts", Duration::from_secs(5), |t| {
        !t.contains("shown by the filter")
    });
    let user_header = b.wait("button.sort[data-key=user]", Duration::from_secs(5));
    b.click(&user_header);
    b.click(&b.wait("button.sort[data-key=user]", Duration::from_secs(5)));
    let first = b.wait_text(".rows .row .c-user", Duration::from_secs(5), |t| t.contains("heidi"));
    assert!(first.contains("heidi"), "descending by user starts with heidi");

    // The detail page: addresses and counters in words.
    let heidi = b.wait(".rows .row", Duration::from_secs(5));
    b.click(&heidi);
    let fields = b.wait_text("#fields", Duration::from_secs(10), |t| t.contains("10.20.0.9"));
    assert!(
        fields.contains("2001:db8:7::9"),
        "IPv6 from prefix + identifier: {fields}"
    );
    assert!(fields.contains("L2TP") || fields.contains("l2tp"), "{fields}");
    let counters = b.text(&b.wait("#counters", Duration::from_secs(5)));
    assert!(counters.contains("4321") && counters.contains("8765"), "{counters}");
    // A reader has no disconnect control, and the API refuses it by hand.
    assert!(b.find_all("#disconnect").is_empty());
    let handle = b.url().rsplit('/').next().unwrap().to_owned();
    let status = b.run_async(&format!(
        "const done = arguments[0];
         fetch('/api/me').then(r => r.json()).then(me =>
           fetch('/api/connections/{handle}/disconnect', {{ method: 'POST', headers: {{ 'X-CSRF-Token': me.csrf }} }}))
         .then(r => done(r.status)).catch(e => done(String(e)));"
    ));
    assert_eq!(status, 403, "a reader's disconnect is refused");
    // Without the CSRF header even an admin's session is refused (checked below).

    // Admin: disconnect from the detail page, confirm, gone, audited.
    sign_in(&b, &base, ADMIN_TOKEN);
    let status = b.run_async(&format!(
        "const done = arguments[0];
         fetch('/api/connections/{handle}/disconnect', {{ method: 'POST' }}).then(r => done(r.status));"
    ));
    assert_eq!(status, 403, "no CSRF token, no action");
    b.goto(&format!("{base}/connections/{handle}"));
    let button = b.wait("#disconnect", Duration::from_secs(10));
    b.click(&button);
    b.accept_dialog();
    b.wait_text("#counts", Duration::from_secs(10), |t| t.starts_with(&count(7)));
    let req = nas.join().unwrap().expect("the NAS got the Disconnect-Request");
    assert_eq!(req.code, 40);
    b.goto(&format!("{base}/audit"));
    let audit = b.wait_text("#audit", Duration::from_secs(10), |t| {
        t.contains("ConnectionDisconnect")
    });
    assert!(audit.contains("web:token:ops-admin"), "{audit}");
    assert!(
        audit.contains("web:token:ops-reader"),
        "the refused reader is audited: {audit}"
    );
    b.goto(&format!("{base}/history"));
    let history = b.wait_text("#history", Duration::from_secs(10), |t| t.contains("admin-disconnect"));
    assert!(history.contains("heidi"), "{history}");
    // Filtered in the daemon: heidi by a prefix of her name …
    b.type_into(&b.wait("#h-user", Duration::from_secs(5)), "heid");
    b.click(&b.wait("#h-search", Duration::from_secs(5)));
    b.wait_text("#history-status", Duration::from_secs(10), |t| {
        t.starts_with("1 session")
    });
    let history = b.text(&b.wait("#history", Duration::from_secs(5)));
    assert!(history.contains("heidi") && !history.contains("newcomer"), "{history}");
    // … alice, live, by her address; and the same filters as CSV.
    b.clear(&b.wait("#h-user", Duration::from_secs(5)));
    b.type_into(&b.wait("#h-ip", Duration::from_secs(5)), "10.20.0.2");
    b.click(&b.wait("#h-live", Duration::from_secs(5)));
    b.click(&b.wait("#h-search", Duration::from_secs(5)));
    let history = b.wait_text("#history", Duration::from_secs(10), |t| t.contains("alice"));
    assert!(history.contains("live") && !history.contains("heidi"), "{history}");
    let csv = b.run_async(
        "const done = arguments[0];
         fetch(document.getElementById('history-csv').getAttribute('href')).then(r => r.text()).then(done);",
    );
    let csv = csv.as_str().unwrap_or_default().to_owned();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("live,handle,user,engine"), "{csv}");
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("true,") && lines[1].contains("CORP\\alice"),
        "{csv}"
    );
    // Reports: the last 30 days, drawn by the page (SVG).
    b.goto(&format!("{base}/reports"));
    let summary = b.wait_text("#report-summary", Duration::from_secs(10), |t| t.contains("session(s)"));
    let sessions: u64 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(sessions >= 9, "{summary}");
    assert!(b
        .text(&b.wait("#report-totals", Duration::from_secs(5)))
        .contains("radius"));
    let bars = b.run_async("arguments[0](document.querySelectorAll('#chart-sessions rect').length);");
    assert_eq!(bars, 30, "a bar a day");
    let today = b.run_async(
        "const r = document.querySelectorAll('#chart-sessions rect'); arguments[0](Number(r[r.length - 1].getAttribute('data-value')));",
    );
    assert!(today.as_u64().unwrap_or(0) >= 9, "today's bar: {today}");
    std::fs::write(
        screenshot_dir().join(format!("reports-{engine:?}.png").to_lowercase()),
        b.screenshot(),
    )
    .unwrap();
    b.goto(&format!("{base}/overview"));
    b.wait_text("#total", Duration::from_secs(10), |t| {
        t.starts_with(&format!("{} active connection(s)", LOADED + 7))
    });

    if engine == Engine::Firefox {
        // Desktop Firefox will not make its window phone-narrow; Chromium
        // checks the layout at that width below.
        drop(d);
        return;
    }
    // A phone's width: the list still fits, nothing scrolls sideways.
    b.resize(390, 844);
    b.goto(&format!("{base}/connections"));
    b.wait_text("#counts", Duration::from_secs(10), |t| t.starts_with(&count(7)));
    let fits = b.run_async("arguments[0](document.documentElement.scrollWidth <= window.innerWidth);");
    assert_eq!(fits, true, "the page scrolls sideways at 390 px");
    std::fs::write(screenshot_dir().join("connections-phone.png"), b.screenshot()).unwrap();
    drop(d);
}

/// HTTPS with the daemon's certificate; a client certificate the daemon
/// trusts signs in by itself with its role; without one, the sign-in page.
#[test]
fn console_over_https_signs_in_by_client_certificate() {
    if !require_tool("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = rras_testkit::pki::TestPki::new(dir.path());
    let web = free_tcp_port();
    let mut args = pki.daemon_args(free_tcp_port());
    args.extend(["--web".into(), format!("127.0.0.1:{web}")]);
    let _d = DaemonProcess::start_owned(Path::new(env!("CARGO_BIN_EXE_rrasd")), &args);
    let base = format!("https://127.0.0.1:{web}");
    let curl = |extra: &[&str], path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-i", "--max-time", "10", "--cacert"])
            .arg(&pki.ca)
            .args(extra)
            .arg(format!("{base}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (cert, key) = (pki.admin.cert.to_str().unwrap(), pki.admin.key.to_str().unwrap());
    let signed_in = curl(&["--cert", cert, "--key", key], "/login");
    assert!(
        signed_in.starts_with("HTTP/") && signed_in.contains("location: /connections"),
        "{signed_in}"
    );
    let cookie = signed_in
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {signed_in}"));
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let id = cookie.split(';').next().unwrap();
    let me = curl(&["-b", id], "/api/me");
    assert!(
        me.contains("\"role\":\"admin\"") && me.contains("cert:admin.ops.test"),
        "{me}"
    );
    assert!(me.contains("content-security-policy: default-src 'none'"), "{me}");
    assert!(
        me.contains("strict-transport-security: max-age=31536000"),
        "HSTS over HTTPS: {me}"
    );
    // No certificate: the sign-in page; a token signs in as its role.
    let page = curl(&[], "/login");
    assert!(page.contains("id=\"token\""), "{page}");
    let token = format!("token={}", pki.reader_token);
    let form = curl(&["-H", &format!("Origin: {base}"), "--data", &token], "/login");
    assert!(form.contains("location: /connections"), "{form}");
    // A form posted from another origin is refused.
    let forged = curl(&["-H", "Origin: https://evil.example", "--data", &token], "/login");
    assert!(
        forged.starts_with("HTTP/2 403") || forged.starts_with("HTTP/1.1 403"),
        "{forged}"
    );
    // Plain HTTP on the HTTPS port gets nothing.
    let plain = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{web}/login"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("token"));
}

#[test]
fn console_refuses_plain_http_off_loopback_and_without_a_way_to_sign_in() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .args(["--check-config", "--web", "0.0.0.0:8443", "--tokens-file", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a loopback address"),
        "{out:?}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .args(["--check-config", "--web", "127.0.0.1:8443"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nobody could sign in"),
        "{out:?}"
    ); // The files the console signs in with are checked even without the
       // TLS admin listener.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .args([
            "--check-config",
            "--web",
            "127.0.0.1:8443",
            "--tokens-file",
            "/nonexistent/tokens",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("tls.tokens_file /nonexistent/tokens"),
        "{out:?}"
    );
}
