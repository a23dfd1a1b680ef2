//! The accounting history end to end: sessions reported with real
//! `radclient` packets, asked for with `rasctl history` — who had an
//! address at an instant, a user with or without domain, live ones too —
//! as JSON and CSV, and still there after a restart.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_testkit::accounting_text::Accounting;
use rras_testkit::{free_udp_port, radclient, rasctl_beside, require_tool, run_rasctl, DaemonProcess};

const SECRET: &str = "history-secret";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// A session of `account` on `address`, started `started` (unix seconds),
/// and stopped at `stopped` when given.
fn session(id: &str, account: &str, address: &str, started: u64, stopped: Option<u64>) -> String {
    let start = Accounting::new("Start", id, account)
        .ppp(1, address)
        .attr("Event-Timestamp", started);
    let mut packets = vec![start];
    if let Some(stopped) = stopped {
        packets.push(
            Accounting::new("Stop", id, account)
                .ppp(1, address)
                .attr("Event-Timestamp", stopped)
                .attr("Acct-Session-Time", stopped - started)
                .attr("Acct-Input-Octets", 4_000)
                .attr("Acct-Output-Octets", 9_000),
        );
    }
    Accounting::all(packets)
}

fn history(rasctl: &Path, d: &DaemonProcess, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["history", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&run_rasctl(rasctl, &d.addr(), &all)).expect("rasctl history --json")
}

/// The accounts of the rows, as `DOMAIN\user` or the user alone.
fn users(rows: &serde_json::Value) -> Vec<String> {
    rows.as_array()
        .expect("an array")
        .iter()
        .map(|r| {
            let (domain, user) = (r["domain"].as_str().unwrap_or(""), r["user"].as_str().unwrap_or(""));
            if domain.is_empty() {
                user.to_owned()
            } else {
                format!("{domain}\\{user}")
            }
        })
        .collect()
}

#[test]
fn who_had_an_address_at_an_instant_and_a_users_sessions() {
    if !require_tool("radclient") {
        return;
    }
    let rrasd = Path::new(env!("CARGO_BIN_EXE_rrasd"));
    let rasctl = rasctl_beside(rrasd).expect("rasctl built beside rrasd (cargo test --workspace)");
    let port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rrasd.toml");
    std::fs::write(
        &config,
        format!(
            "[radius]\nlisten = \"127.0.0.1:{port}\"\nclients = [{{ cidr = \"127.0.0.1/32\", secret = \"{SECRET}\" }}]\n"
        ),
    )
    .unwrap();
    let mut d = DaemonProcess::start(rrasd, &["--config", config.to_str().unwrap()]);
    let t = now();
    // 10.5.0.1 was alice's for half an hour, then bob's; carol is still on.
    let packets = [
        session("h-1", "CORP\\alice", "10.5.0.1", t - 3_600, Some(t - 1_800)),
        session("h-2", "bob@corp.example", "10.5.0.1", t - 1_700, Some(t - 600)),
        session("h-3", "CORP\\carol", "10.5.0.2", t - 500, None),
    ]
    .concat();
    assert_eq!(radclient(port, SECRET, &packets, &[]).responses(), 5);

    let at =
        |d: &DaemonProcess, ip: &str, secs: u64| users(&history(&rasctl, d, &["--ip", ip, "--at", &rfc3339(secs)]));
    assert_eq!(at(&d, "10.5.0.1", t - 2_700), ["CORP\\alice"]);
    assert_eq!(at(&d, "10.5.0.1", t - 1_000), ["bob@corp.example"]);
    assert_eq!(
        at(&d, "10.5.0.1", t - 1_750),
        Vec::<String>::new(),
        "nobody between the two"
    );
    assert_eq!(at(&d, "10.5.0.1", t - 4_000), Vec::<String>::new());
    let both = users(&history(
        &rasctl,
        &d,
        &[
            "--ip",
            "10.5.0.1",
            "--since",
            &rfc3339(t - 7_200),
            "--until",
            &rfc3339(t),
        ],
    ));
    assert_eq!(both, ["bob@corp.example", "CORP\\alice"], "newest end first");
    // Users with or without domain, by prefix; the live one only with --live.
    assert_eq!(users(&history(&rasctl, &d, &["--user", "alice"])), ["CORP\\alice"]);
    assert_eq!(users(&history(&rasctl, &d, &["--user", "corp\\ali"])), ["CORP\\alice"]);
    assert_eq!(users(&history(&rasctl, &d, &["--user", "BOB"])), ["bob@corp.example"]);
    assert!(users(&history(&rasctl, &d, &["--user", "carol"])).is_empty());
    let carol = history(&rasctl, &d, &["--user", "carol", "--live"]);
    assert_eq!(users(&carol), ["CORP\\carol"]);
    assert_eq!(carol[0]["live"], true);
    let alice = history(&rasctl, &d, &["--user", "alice"]);
    assert_eq!(alice[0]["live"], false);
    assert_eq!(alice[0]["bytes_rcved"], 4_000);
    assert_eq!(alice[0]["duration_secs"], 1_800);
    assert_eq!(users(&history(&rasctl, &d, &["--limit", "1"])).len(), 1);

    // CSV: a header, one line per session, RFC 3339 times.
    let csv = run_rasctl(&rasctl, &d.addr(), &["history", "--csv", "--ip", "10.5.0.1"]);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "live,handle,user,engine,instance,nas,ipv4,ipv6,started_at,ended_at,duration_secs,reason,bytes_in,bytes_out"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let alice: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(alice[0], "false");
    assert_eq!(alice[2], "CORP\\alice");
    assert_eq!(alice[3], "radius");
    assert_eq!(alice[6], "10.5.0.1");
    assert_eq!(alice[8], rfc3339(t - 3_600));
    assert_eq!(alice[9], rfc3339(t - 1_800));
    assert_eq!(alice[10], "1800");

    // What the two hours add up to: three sessions, never two at once.
    let usage: serde_json::Value = serde_json::from_str(&run_rasctl(
        &rasctl,
        &d.addr(),
        &[
            "usage",
            "--since",
            &rfc3339(t - 7_200),
            "--until",
            &rfc3339(t),
            "--json",
        ],
    ))
    .expect("rasctl usage --json");
    assert_eq!(usage["totals"]["sessions"], 3, "{usage}");
    assert_eq!(usage["totals"]["unique_users"], 3);
    assert_eq!(usage["totals"]["bytes_in"], 8_000);
    assert_eq!(usage["totals"]["duration_secs"], 1_800 + 1_100 + 500);
    assert_eq!(usage["max_concurrent"], 1);
    assert_eq!(usage["per_engine"][0]["engine"], "radius");
    // alice and bob tie on bytes (13,000 each); the name breaks the tie.
    assert_eq!(usage["top_users"][0]["user"], "CORP\\alice");

    // Durable: after a restart the same answers.
    assert!(d.terminate().is_some_and(|s| s.success()));
    d.restart();
    assert_eq!(at(&d, "10.5.0.1", t - 2_700), ["CORP\\alice"]);
    assert_eq!(at(&d, "10.5.0.1", t - 1_000), ["bob@corp.example"]);
}

#[test]
fn bad_filters_are_refused_with_a_clear_error() {
    let rrasd = Path::new(env!("CARGO_BIN_EXE_rrasd"));
    let Some(rasctl) = rasctl_beside(rrasd) else {
        assert!(!rras_testkit::in_ci(), "rasctl not built beside rrasd");
        return;
    };
    for (args, expected) in [
        (vec!["history", "--ip", "10.5.0.300"], "invalid IP address"),
        (vec!["history", "--at", "yesterday-ish"], "neither a time"),
        (vec!["history", "--engine", "pptp"], "pptp"),
        (vec!["history", "--at", "1h", "--since", "2h"], "cannot be used with"),
    ] {
        let out = std::process::Command::new(&rasctl).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
