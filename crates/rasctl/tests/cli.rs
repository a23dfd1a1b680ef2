//! The `rasctl` binary against a real (in-process) rrasd over its socket:
//! every subcommand, JSON output, filters and error codes.

use std::process::{Command, Output};

use rras_testkit::InProcessDaemon;
use serde_json::Value;

fn rasctl(d: Option<&InProcessDaemon>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rasctl"));
    if let Some(d) = d {
        cmd.arg("--server").arg(d.addr());
    }
    cmd.args(args).output().expect("run rasctl")
}

fn ok(d: &InProcessDaemon, args: &[&str]) -> String {
    let out = rasctl(Some(d), args);
    assert!(
        out.status.success(),
        "rasctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(d: &InProcessDaemon, args: &[&str]) -> Value {
    serde_json::from_str(&ok(d, args)).expect("valid JSON")
}

#[test]
fn report_list_inspect_clear_and_end() {
    let d = InProcessDaemon::start(|_| {});
    let h1 = ok(
        &d,
        &[
            "report",
            "start",
            "--session",
            "ppp0-1",
            "--user",
            "CORP\\alice",
            "--interface",
            "ppp0",
            "--kind",
            "ppp",
            "--client-ip",
            "10.1.0.5",
            "--remote-endpoint",
            "198.51.100.7",
            "--bytes-in",
            "5000000000",
        ],
    );
    let h1: u32 = h1.trim().parse().expect("handle printed");
    ok(
        &d,
        &[
            "report",
            "start",
            "--engine",
            "openvpn",
            "--nas",
            "vpn1",
            "--session",
            "c7",
            "--user",
            "bob",
            "--client-ip",
            "2001:db8::7",
        ],
    );

    let all = json(&d, &["connections", "--json"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    let alice = all.iter().find(|c| c["user"] == "alice").unwrap();
    assert_eq!(alice["handle"], h1);
    assert_eq!(alice["domain"], "CORP");
    assert_eq!(alice["ipv4"], "10.1.0.5");
    assert_eq!(alice["remote_endpoint"], "198.51.100.7");
    assert_eq!(alice["bytes_rcved"], 5_000_000_000u64);
    assert_eq!(alice["flags"], 1);
    let bob = all.iter().find(|c| c["user"] == "bob").unwrap();
    assert_eq!(bob["ipv6"], "2001:db8::7");
    assert_eq!(bob["engine"], "openvpn");

    let only = json(&d, &["connections", "--json", "--engine", "openvpn"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    let only = json(&d, &["connections", "--json", "--user", "alice"]);
    assert_eq!(only[0]["handle"], h1);
    let sorted = json(&d, &["connections", "--json", "--sort", "bytes"]);
    assert_eq!(sorted[0]["user"], "alice");

    let table = ok(&d, &["connections"]);
    assert!(
        table.contains("CORP\\alice") && table.contains("4.7 GiB") && table.contains("2 connection(s)"),
        "{table}"
    );

    ok(
        &d,
        &[
            "report",
            "update",
            "--session",
            "ppp0-1",
            "--bytes-in",
            "7",
            "--bytes-out",
            "9",
        ],
    );
    let one = json(&d, &["connection", &h1.to_string(), "--json"]);
    assert_eq!(
        (one["bytes_rcved"].as_u64(), one["bytes_xmited"].as_u64()),
        (Some(7), Some(9))
    );
    assert!(ok(&d, &["connection", &h1.to_string()]).contains("alice"));

    ok(&d, &["clear-stats", &h1.to_string()]);
    assert_eq!(json(&d, &["connection", &h1.to_string(), "--json"])["bytes_xmited"], 0);

    ok(
        &d,
        &["report", "end", "--session", "ppp0-1", "--reason", "idle-timeout"],
    );
    let history = json(&d, &["history", "--json"]);
    assert_eq!(history[0]["user"], "alice");
    assert_eq!(history[0]["reason"], "idle-timeout");
    assert!(ok(&d, &["history"]).contains("idle-timeout"));

    let server = json(&d, &["server", "--json"]);
    assert_eq!(server["connections"], 1);
    assert_eq!(server["per_engine"]["openvpn"], 1);
    assert_eq!(server["state"], "running");
}

#[test]
fn ports_list_filter_and_show_both_levels() {
    let d = InProcessDaemon::start(|_| {});
    let start = |session: &str, iface: &str, vpn: &str| -> u32 {
        let mut args = vec![
            "report",
            "start",
            "--session",
            session,
            "--user",
            "CORP\\u",
            "--kind",
            "ppp",
        ];
        args.extend(["--interface", iface, "--vpn-type", vpn, "--bytes-in", "5000000123"]);
        ok(&d, &args).trim().parse().expect("handle printed")
    };
    let ppp = start("s1", "ppp5", "l2tp");
    let pptp = start("s2", "", "pptp");
    let long = start("s3", "an-interface-name-longer-than-16", "ikev2");

    let ports = json(&d, &["ports", "--json"]);
    let ports = ports.as_array().expect("array");
    assert_eq!(ports.len(), 3);
    let by = |h: u32| ports.iter().find(|p| p["port"] == h).expect("port listed");
    assert_eq!(by(ppp)["port_name"], "ppp5");
    assert_eq!(by(pptp)["port_name"], format!("VPN1-{pptp}"));
    assert_eq!(by(long)["port_name"], format!("VPN4-{long}"));
    for p in ports {
        assert_eq!(p["port"], p["connection"]);
        assert_eq!(
            (p["condition"].as_str(), p["condition_code"].as_u64()),
            (Some("authenticated"), Some(5))
        );
        assert_eq!(
            (p["media"].as_str(), p["device_type"].as_str()),
            (Some("report"), Some("vpn"))
        );
        assert_eq!(p["bytes_rcved"], 5_000_000_123u64);
    }
    // The connections JSON names the tunnel type the port name came from.
    let conns = json(&d, &["connections", "--json", "--sort", "handle"]);
    let types: Vec<_> = conns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["vpn_type"].clone())
        .collect();
    assert_eq!(types, ["l2tp", "pptp", "ikev2"]);
    assert_eq!(conns[0]["device_type"], 9);

    let one = json(&d, &["ports", "--json", "--connection", &pptp.to_string()]);
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert_eq!(one[0]["port"], pptp);
    let shown = json(&d, &["port", &ppp.to_string(), "--json"]);
    assert_eq!(
        (shown["line_speed"].as_u64(), shown["hardware_condition"].as_u64()),
        (Some(0), Some(0))
    );
    let table = ok(&d, &["ports"]);
    assert!(
        table.contains("ppp5") && table.contains("3 port(s)") && table.contains("authenticated"),
        "{table}"
    );
    assert!(ok(&d, &["port", &ppp.to_string()]).contains("port_name: ppp5"));

    // Unknown port: ERROR_INVALID_PORT_HANDLE; an ended connection's port is gone.
    let out = rasctl(Some(&d), &["port", "999999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 601"), "{out:?}");
    ok(&d, &["report", "end", "--session", "s1"]);
    let out = rasctl(Some(&d), &["ports", "--connection", &ppp.to_string()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 6"), "{out:?}");
    assert_eq!(json(&d, &["ports", "--json"]).as_array().map(Vec::len), Some(2));
}

/// A long-running rasctl (events, --watch) whose stdout lines arrive on a
/// channel; killed (by its PID) when dropped.
struct Follow {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Follow {
    fn start(d: &InProcessDaemon, args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_rasctl"))
            .arg("--server")
            .arg(d.addr())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn rasctl");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Follow { child, lines }
    }

    /// Lines until one satisfies `done` (bounded wait).
    fn until(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let stop = done(&line);
                    seen.push(line);
                    if stop {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no matching line; got {seen:?}");
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_stream_changes_and_watch_keeps_the_table_live() {
    let d = InProcessDaemon::start(|_| {});
    let events = Follow::start(&d, &["events", "--json"]);
    let text = Follow::start(&d, &["events", "--user", "erin"]);
    let table = Follow::start(&d, &["connections", "--watch"]);
    // The table is drawn once from the listing (empty) before changes flow.
    table.until(|l| l.contains("0 connection(s)"));
    // rasctl events subscribes "from now": give both a moment to be in.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let start = |session: &str, user: &str| {
        ok(
            &d,
            &[
                "report",
                "start",
                "--session",
                session,
                "--user",
                user,
                "--client-ip",
                "10.7.0.1",
            ],
        );
    };
    start("e1", "erin");
    start("f1", "frank");
    ok(&d, &["report", "update", "--session", "e1", "--bytes-in", "42"]);
    ok(&d, &["report", "end", "--session", "e1", "--reason", "user-request"]);

    let lines = events.until(|l| l.contains("\"ended\""));
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let kinds: Vec<(&str, &str)> = parsed
        .iter()
        .map(|v| (v["kind"].as_str().unwrap(), v["connection"]["user"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("started", "erin"),
            ("started", "frank"),
            ("updated", "erin"),
            ("ended", "erin")
        ]
    );
    let revisions: Vec<u64> = parsed.iter().map(|v| v["revision"].as_u64().unwrap()).collect();
    assert!(revisions.windows(2).all(|w| w[1] == w[0] + 1), "{revisions:?}");
    assert_eq!(parsed[2]["connection"]["bytes_rcved"], 42);
    assert_eq!(parsed[3]["reason"], "user-request");

    // The text form, filtered by the daemon: frank never shows.
    let lines = text.until(|l| l.contains(" ended "));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].contains(" started ") && lines[0].contains("erin") && lines[0].contains("10.7.0.1"));
    assert!(lines.iter().all(|l| !l.contains("frank")), "{lines:?}");

    // The live table ends with frank alone, from the feed.
    let drawn = table.until(|l| l.contains("1 connection(s)"));
    assert!(drawn.iter().any(|l| l.contains("frank")), "{drawn:?}");
    // --watch is a table; JSON streams are `rasctl events`.
    let out = rasctl(Some(&d), &["connections", "--watch", "--json"]);
    assert!(!out.status.success());
}

#[test]
fn errors_print_the_win32_code_and_exit_non_zero() {
    let d = InProcessDaemon::start(|_| {});
    let out = rasctl(Some(&d), &["connection", "999999"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error 6") && err.contains("ERROR_INVALID_HANDLE"), "{err}");

    let h = ok(&d, &["report", "start", "--session", "s", "--user", "u"]);
    let out = rasctl(Some(&d), &["disconnect", h.trim()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error 50"),
        "hook-fed sessions cannot be hung up"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_rasctl"))
        .args(["--server", "unix:/nonexistent/admin.sock", "connections"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error 1722"), "{err}");
    assert!(
        err.contains("/nonexistent/admin.sock") && err.contains("is rrasd running"),
        "names the socket and the fix: {err}"
    );

    let out = rasctl(None, &["error", "903"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("903: The Demand-dial service"));
    let out = rasctl(None, &["error", "4242"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 317"));

    let out = rasctl(
        Some(&d),
        &["report", "start", "--session", "x", "--user", "u", "--engine", "pptp"],
    );
    assert_eq!(out.status.code(), Some(2), "clap rejects an unknown engine");

    let bash = String::from_utf8_lossy(&rasctl(None, &["completions", "bash"]).stdout).into_owned();
    assert!(bash.contains("_rasctl") && bash.contains("clear-stats"), "{bash}");
    let token = String::from_utf8_lossy(&rasctl(None, &["token", "new", "--name", "ci", "--role", "reader"]).stdout)
        .into_owned();
    let secret = token
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token line");
    assert_eq!(secret.len(), 64);
    assert!(token.contains("tokens-file line: ci reader "), "{token}");
    let help = String::from_utf8_lossy(&rasctl(None, &["--help"]).stdout).into_owned();
    for sub in [
        "connections",
        "connection",
        "disconnect",
        "clear-stats",
        "server",
        "history",
        "report",
        "demo",
    ] {
        assert!(help.contains(sub), "--help lacks {sub}");
    }
}

/// `--instance` puts a hook-fed session under a named source instance: the
/// same session id in two instances is two connections, each ended only
/// through its own instance, and `connections --instance` filters on it.
#[test]
fn report_instances_are_separate_owners() {
    let d = InProcessDaemon::start(|_| {});
    let start = |instance: &str, user: &str| {
        let mut args = vec!["report", "start", "--session", "tun-7", "--user", user];
        if !instance.is_empty() {
            args.extend(["--instance", instance]);
        }
        ok(&d, &args).trim().parse::<u32>().expect("handle printed")
    };
    let east = start("east", "alice");
    let west = start("west", "bob");
    let default = start("", "carol");
    assert!(east != west && west != default, "three connections");

    let all = json(&d, &["connections", "--json"]);
    let instance_of =
        |user: &str| all.as_array().unwrap().iter().find(|c| c["user"] == user).unwrap()["instance"].clone();
    assert_eq!(
        (instance_of("alice"), instance_of("bob"), instance_of("carol")),
        ("east".into(), "west".into(), "report".into())
    );
    let only = json(&d, &["connections", "--json", "--instance", "west"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["handle"], west);

    ok(
        &d,
        &[
            "report",
            "end",
            "--session",
            "tun-7",
            "--instance",
            "east",
            "--reason",
            "user-request",
        ],
    );
    let left: Vec<u64> = json(&d, &["connections", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["handle"].as_u64())
        .collect();
    assert_eq!(left.len(), 2);
    assert!(
        !left.contains(&u64::from(east)),
        "east's session ended, the others not: {left:?}"
    );
    let history = json(&d, &["history", "--json"]);
    assert_eq!(
        (history[0]["user"].as_str(), history[0]["instance"].as_str()),
        (Some("alice"), Some("east"))
    );

    // Ending a session in an instance that does not own it finds nothing.
    let out = rasctl(
        Some(&d),
        &["report", "end", "--session", "tun-7", "--instance", "north"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error 6"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A name that cannot be an instance is refused before anything changes.
    let out = rasctl(
        Some(&d),
        &[
            "report",
            "start",
            "--session",
            "s",
            "--user",
            "u",
            "--instance",
            "bad name!",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error 87"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&d, &["connections", "--json"]).as_array().unwrap().len(), 2);
}

#[test]
fn demo_runs_on_embedded_defaults_and_exits() {
    let out = Command::new(env!("CARGO_BIN_EXE_rasctl")).arg("demo").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("active connections") && stdout.contains("MprAdminConnectionEnumEx"),
        "{stdout}"
    );
    assert!(
        stdout.contains("server: rrasd") && stdout.contains("state=running"),
        "{stdout}"
    );
    assert!(stdout.matches("── refresh").count() >= 3, "{stdout}");
}

#[test]
fn version_names_the_git_revision() {
    let out = rasctl(None, &["--version"]);
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let rev = text
        .strip_prefix(&format!("rasctl {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version: {text:?}"));
    assert!(
        rev == "unknown" || (rev.len() == 12 && rev.chars().all(|c| c.is_ascii_hexdigit())),
        "{rev:?}"
    );
}

/// rasctl(1) comes from the same clap definitions as `--help` and renders
/// with `man` without warnings.
#[test]
fn manual_page_renders_without_warnings() {
    if !rras_testkit::require_tool("man") {
        return;
    }
    let page = rasctl(None, &["man"]);
    assert!(page.status.success());
    let text = rras_testkit::render_man(&page.stdout, "rasctl.1");
    assert!(text.contains("rasctl(1)") && text.contains("connections"), "{text}");
}

#[test]
fn fleet_commands_fail_clearly_without_nats_or_with_bad_input() {
    // Nothing listens on this port: a clear error naming the URL, exit 1.
    let port = rras_testkit::free_tcp_port();
    let url = format!("nats://127.0.0.1:{port}");
    let out = rasctl(None, &["fleet", "nodes", "--nats", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to NATS") && err.contains(&port.to_string()),
        "{err}"
    );
    // A target that is not NODE:HANDLE is refused before connecting.
    for bad in ["vpn1", "vpn1:x", ":", ":5", "vpn1:-3"] {
        let out = rasctl(None, &["fleet", "disconnect", bad, "--nats", &url]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("NODE:HANDLE"), "{bad}");
    }
    // Half a credential pair is a usage error.
    let out = rasctl(None, &["fleet", "nodes", "--nats", &url, "--nats-user", "u"]);
    assert_eq!(out.status.code(), Some(2));
    // A bad URL names itself.
    let out = rasctl(None, &["fleet", "nodes", "--nats", "nats://127.0.0.1:notaport"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad NATS URL"));
}

/// `connections --json` / `--jsonl` at a size that spans several record
/// chunks (formatted on several threads, written in order): every
/// connection once, in enumeration order, the array byte for byte
/// `serde_json`'s pretty form, filters applied.
#[test]
fn streamed_json_spans_chunks_in_order() {
    let d = InProcessDaemon::start(|_| {});
    let n = 20_000u64;
    rras_testkit::runtime().block_on(async {
        let client = rras_client::AdminClient::connect(&d.addr()).await.expect("connect");
        let now = std::time::SystemTime::now();
        let ids: Vec<u64> = (0..n).collect();
        for chunk in ids.chunks(5000) {
            let reports = chunk
                .iter()
                .map(|&i| {
                    let mut info = rras_core::synthetic::connection(i, now);
                    info.user_name = format!("user-{i}");
                    rras_client::started(&info)
                })
                .collect();
            client.report(reports).await.expect("report");
        }
    });
    let text = ok(&d, &["connections", "--json"]);
    let all: Value = serde_json::from_str(&text).expect("valid JSON");
    let all = all.as_array().expect("an array");
    assert_eq!(all.len(), n as usize);
    // Byte for byte what the sorted (non-streamed) path prints — the whole
    // list through serde_json's pretty printer — but for the durations,
    // which follow each run's clock.
    let sorted = ok(&d, &["connections", "--json", "--sort", "handle"]);
    let timeless = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.contains("\"duration_secs\""))
            .map(str::to_owned)
            .collect()
    };
    assert!(text.ends_with("\n]\n") && sorted.ends_with("\n]\n"));
    let (streamed, whole) = (timeless(&text), timeless(&sorted));
    let differ = streamed.iter().zip(&whole).position(|(a, b)| a != b);
    assert!(
        streamed.len() == whole.len() && differ.is_none(),
        "streamed and whole-list JSON differ: {} vs {} lines, first difference at line {differ:?}",
        streamed.len(),
        whole.len()
    );
    let handles: Vec<u64> = all.iter().map(|c| c["handle"].as_u64().expect("handle")).collect();
    assert!(handles.windows(2).all(|w| w[0] < w[1]), "enumeration order, each once");
    let users: Vec<&str> = all.iter().map(|c| c["user"].as_str().expect("user")).collect();
    assert_eq!(users[0], "user-0");
    assert_eq!(users[n as usize - 1], format!("user-{}", n - 1));

    let lines = ok(&d, &["connections", "--jsonl"]);
    let line_handles: Vec<u64> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["handle"]
                .as_u64()
                .expect("handle")
        })
        .collect();
    assert_eq!(line_handles, handles);

    let one = json(&d, &["connections", "--json", "--user", "user-12345"]);
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert_eq!(one[0]["user"], "user-12345");
    assert_eq!(ok(&d, &["connections", "--json", "--user", "nobody"]), "[]\n");
    assert_eq!(ok(&d, &["connections", "--jsonl", "--user", "nobody"]), "");
}

/// A NAS's User-Name holding ESC and BEL (sent by real radclient) is shown
/// escaped in every human output, and exact in JSON.
#[test]
fn engine_text_never_reaches_the_terminal_raw() {
    if !rras_testkit::require_tool("radclient") {
        return;
    }
    let port = rras_testkit::free_udp_port();
    let d = InProcessDaemon::start(|c| {
        c.radius.listen = Some(([127, 0, 0, 1], port).into());
        c.radius.clients = vec!["127.0.0.1=testing123".parse().unwrap()];
    });
    let evil = "User-Name = \"evil\\033[2Jx\\007\\342\\200\\256dig\"\nAcct-Session-Id = \"esc-1\"\n\
                NAS-IP-Address = 127.0.0.1\nNAS-Port-Id = \"ppp\\0339\"\nAcct-Status-Type = Start\n";
    let run = rras_testkit::radclient(port, "testing123", evil, &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    let raw_user = "evil\x1b[2Jx\x07\u{202e}dig";
    let is_clean = |text: &str| !text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{202e}');

    let table = ok(&d, &["connections"]);
    assert!(is_clean(&table), "{table:?}");
    assert!(table.contains("evil\\x1b[2Jx\\x07\\u{202e}dig"), "{table}");
    assert!(table.contains("ppp\\x1b9"), "{table}");
    let listed = json(&d, &["connections", "--json"]);
    assert_eq!(listed[0]["user"], raw_user, "JSON keeps the exact text");
    let handle = listed[0]["handle"].to_string();
    let details = ok(&d, &["connection", &handle]);
    assert!(is_clean(&details) && details.contains("\\x1b[2J"), "{details}");

    // A watcher sees the end; history shows it escaped too.
    let mut events = Command::new(env!("CARGO_BIN_EXE_rasctl"))
        .args(["--server", &d.addr(), "events"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let stop = evil.replace("Acct-Status-Type = Start", "Acct-Status-Type = Stop");
    assert_eq!(rras_testkit::radclient(port, "testing123", &stop, &[]).responses(), 1);
    let history = ok(&d, &["history"]);
    assert!(is_clean(&history) && history.contains("\\x07"), "{history}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = events.kill();
    let out = events.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ended") && is_clean(&text), "{text:?}");
}

/// `rasctl connections` sorted, filtered, searched and cut from the
/// daemon's indexes (ConnectionWindow), in windows of up to 10,000: 25,000
/// reported sessions, checked against sorting the plain listing.
#[test]
fn sorted_filtered_and_searched_listings_come_from_the_daemon() {
    use rras_core::model::{ConnectionInfo, ConnectionStats, EngineKind, SourceKey};
    let d = InProcessDaemon::start(|_| {});
    let n = 25_000u32;
    rras_testkit::runtime().block_on(async {
        let c = rras_client::AdminClient::connect(&d.addr()).await.unwrap();
        let now = std::time::SystemTime::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
            let reports = chunk
                .iter()
                .map(|&i| {
                    let user = if i % 1000 == 7 {
                        "Alice".to_owned()
                    } else {
                        format!("u{i:05}")
                    };
                    let mut info =
                        ConnectionInfo::new(SourceKey::new(EngineKind::Report, "bulk", format!("s{i}")), user, now);
                    info.interface_name = format!("ppp{i}");
                    info.projection.ipv4_mut().remote_address =
                        Some(std::net::Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250) as u8));
                    info.stats = ConnectionStats {
                        bytes_rcved: u64::from((i * 7919) % 100_003),
                        bytes_xmited: u64::from(i % 97),
                        ..Default::default()
                    };
                    rras_proto::pb::Report {
                        kind: rras_proto::pb::ReportKind::Started as i32,
                        connection: Some(rras_proto::convert::info_to_pb(&info, now)),
                        end_reason: String::new(),
                    }
                })
                .collect();
            let done = c.report(reports).await.unwrap();
            assert!(done.iter().all(|r| r.is_ok()));
        }
    });
    let rows = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["connections", "--json"];
        all.extend_from_slice(args);
        json(&d, &all).as_array().unwrap().clone()
    };
    let bytes = |c: &Value| c["bytes_rcved"].as_u64().unwrap() + c["bytes_xmited"].as_u64().unwrap();

    // One user (without case), by bytes, most first.
    let alice = rows(&["--user", "alice", "--sort", "bytes"]);
    assert_eq!(alice.len(), 25);
    assert!(alice.iter().all(|c| c["user"] == "Alice"));
    assert!(
        alice.windows(2).all(|w| bytes(&w[0]) >= bytes(&w[1])),
        "most bytes first"
    );

    // The top ten by bytes received, against sorting everything here.
    let mut everything = rows(&[]);
    assert_eq!(everything.len(), n as usize);
    everything.sort_by_key(|c| {
        (
            std::cmp::Reverse(c["bytes_rcved"].as_u64().unwrap()),
            std::cmp::Reverse(c["handle"].as_u64().unwrap()),
        )
    });
    let top: Vec<_> = rows(&["--sort", "rx", "--limit", "10"])
        .iter()
        .map(|c| c["handle"].clone())
        .collect();
    let want: Vec<_> = everything[..10].iter().map(|c| c["handle"].clone()).collect();
    assert_eq!(top, want);

    // More than one window (10,000): all 25,000 by user, in order, once each.
    let by_user = rows(&["--sort", "user", "--reverse"]);
    assert_eq!(by_user.len(), n as usize);
    let names: Vec<String> = by_user
        .iter()
        .map(|c| c["user"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "Z to A");
    let mut handles: Vec<u64> = by_user.iter().map(|c| c["handle"].as_u64().unwrap()).collect();
    handles.sort_unstable();
    handles.dedup();
    assert_eq!(handles.len(), n as usize);

    // A search by the beginning of an address; the table says how many.
    let found = rows(&["--search", "10.1.3.", "--sort", "address"]);
    assert_eq!(found.len(), 250);
    assert!(found.iter().all(|c| c["ipv4"].as_str().unwrap().starts_with("10.1.3.")));
    let table = ok(&d, &["connections", "--search", "10.1.3.", "--limit", "5"]);
    assert!(table.contains("5 of 250 connection(s)"), "{table}");

    // Nonsense is refused before anything is asked.
    let out = rasctl(Some(&d), &["connections", "--sort", "colour"]);
    assert!(!out.status.success());
    let out = rasctl(Some(&d), &["connections", "--watch", "--sort", "user"]);
    assert!(!out.status.success());
}
