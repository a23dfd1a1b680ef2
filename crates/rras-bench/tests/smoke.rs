//! The harness must not rot: every openrras scenario at a smoke size, on
//! the binaries this build made, with its JSON checked. (The peer is
//! optional and left out here; bench/peer-setup.sh brings it.)

use std::path::Path;
use std::process::Command;

use rras_testkit::require_tool;

/// Where this build put rras-bench, rrasd and rasctl.
fn bin_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rras-bench"))
        .parent()
        .expect("profile dir")
}

/// Runs `rras-bench ARGS` on this build's binaries, writing into `out`;
/// it must succeed. Returns the JSON file `json` it wrote.
fn bench(args: &[&str], out: &Path, json: &str) -> serde_json::Value {
    let bench = Path::new(env!("CARGO_BIN_EXE_rras-bench"));
    let status = Command::new(bench)
        .args(args)
        .args(["--no-peer", "--time-cap", "120"])
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--out")
        .arg(out)
        .status()
        .expect("run rras-bench");
    assert!(status.success(), "rras-bench {args:?} failed");
    let text = std::fs::read_to_string(out.join(json)).expect("JSON written");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{json}: {e}: {text}"))
}

/// Whether `needed` were built next to rras-bench (`cargo test
/// --workspace` builds them; under CI=true they must be there).
fn built(needed: &[&str]) -> bool {
    for name in needed {
        if !bin_dir().join(name).exists() {
            assert!(
                !rras_testkit::in_ci(),
                "{name} was not built next to rras-bench (cargo test --workspace builds it)"
            );
            eprintln!("SKIP: {name} not built; run cargo test --workspace");
            return false;
        }
    }
    true
}

#[test]
fn every_scenario_runs_at_a_smoke_size() {
    if !require_tool("gcc") {
        return;
    }
    if !built(&["rrasd", "rasctl"]) {
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let v = bench(
        &[
            "all",
            "--sessions",
            "1500",
            "--pages",
            "40",
            "--rounds",
            "1",
            "--update-rate",
            "500",
        ],
        out.path(),
        "all-1500.json",
    );
    let text = v.to_string();
    let num = |path: &[&str]| {
        path.iter()
            .fold(&v, |v, k| &v[*k])
            .as_f64()
            .unwrap_or_else(|| panic!("{path:?} missing in {text}"))
    };
    assert_eq!(num(&["sessions"]), 1500.0);
    assert!(num(&["ingest", "acks_per_sec"]) > 0.0);
    assert!(num(&["ingest", "p99_ms"]) >= num(&["ingest", "p50_ms"]));
    // The bare responder answered every Start (checked in the run) beside it.
    assert!(num(&["ingest_floor", "acks_per_sec"]) > 0.0);
    assert!(num(&["ingest_floor", "p99_ms"]) >= num(&["ingest_floor", "p50_ms"]));
    // Churn: whole (Interim, Stop, Start) triples per socket, ≤ 3 × 1,500.
    let churn = num(&["churn", "requests"]);
    assert!(
        churn > 3000.0 && churn <= 4500.0 && churn % 3.0 == 0.0,
        "churn requests {churn}"
    );
    assert!(num(&["churn", "acks_per_sec"]) > 0.0);
    assert!(num(&["memory", "rss_per_connection"]) > 0.0);
    assert!(num(&["memory", "store_per_connection"]) > 0.0);
    assert!(num(&["rust_client_secs"]) > 0.0);
    assert!(num(&["rasctl_json", "output_bytes"]) > 1500.0 * 100.0);
    assert!(num(&["libmprapi", "pref_all_secs"]) > 0.0);
    assert!(num(&["page", "quiet_p99_ms"]) >= num(&["page", "quiet_p50_ms"]));
    assert!(num(&["restart_secs"]) > 0.0);

    // The change feed: a few watchers, every change delivered to each.
    let w = bench(
        &[
            "watch",
            "--sessions",
            "500",
            "--watchers",
            "5",
            "--update-rate",
            "500",
            "--watch-secs",
            "2",
        ],
        out.path(),
        "watch-500.json",
    );
    let text = w.to_string();
    let acked = w["acked"].as_f64().expect("acked");
    assert!(acked > 0.0, "{text}");
    assert_eq!(
        w["fewest_per_watcher"].as_f64(),
        Some(acked),
        "a watcher missed changes: {text}"
    );
    assert_eq!(w["resyncs"].as_f64(), Some(0.0), "{text}");
    assert!(
        w["p99_ms"].as_f64().unwrap_or(f64::NAN) >= w["p50_ms"].as_f64().unwrap_or(f64::NAN),
        "{text}"
    );
}

/// The fleet scenarios at a smoke size: two real nodes on a three-server
/// NATS cluster, and the merged view beside the bare watches.
#[test]
fn fleet_scenarios_run_at_a_smoke_size() {
    if !require_tool("nats-server") {
        return;
    }
    if !built(&["rrasd"]) {
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let f = bench(
        &[
            "fleet",
            "--sessions",
            "400",
            "--nodes",
            "2",
            "--fleet-rate",
            "100",
            "--watch-secs",
            "2",
            "--rounds",
            "1",
        ],
        out.path(),
        "fleet-400.json",
    );
    assert!(f["view_secs"].as_f64().is_some_and(|s| s > 0.0), "{f}");
    let sent = f["sent"].as_f64().expect("sent");
    assert!(sent >= 100.0, "{f}");
    assert_eq!(f["seen"].as_f64(), Some(sent), "an update never reached the view: {f}");
    assert!(f["node_ack_p50_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{f}");
    let v = bench(
        &["fleet-view", "--sessions", "2000", "--nodes", "4", "--rounds", "1"],
        out.path(),
        "fleet-view-2000.json",
    );
    for key in ["view_secs", "baseline_secs", "raw_all_secs"] {
        assert!(v[key].as_f64().is_some_and(|s| s > 0.0), "{key}: {v}");
    }
    assert_eq!(v["record_bytes"].as_f64().map(|b| b > 100.0), Some(true), "{v}");
}

/// A run stopped by SIGTERM (or Ctrl-C) leaves no daemon and no store
/// behind: the harness kills what it started and removes its temp dirs.
#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    if !built(&["rrasd"]) {
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let mut run = Command::new(env!("CARGO_BIN_EXE_rras-bench"))
        .args([
            "memory",
            "--sessions",
            "2000",
            "--no-peer",
            "--hold",
            "120",
            "--time-cap",
            "120",
        ])
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rras-bench");
    let stdout = run.stdout.take().expect("stdout");
    // "holding rrasd (pid N) at unix:DIR/admin.sock for 120 s"
    let holding = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("holding rrasd"));
    let Some(line) = holding else {
        let _ = run.kill();
        let _ = run.wait();
        panic!("rras-bench never said it was holding the daemon");
    };
    let pid: i32 = line
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .expect("pid in the holding line");
    let socket = line
        .split("unix:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("socket in the holding line");
    let dir = Path::new(socket).parent().expect("daemon dir").to_owned();
    assert!(dir.join("state").exists(), "the daemon's store is there while it runs");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal rras-bench");
    let status = run.wait().expect("rras-bench exits");
    assert_eq!(status.code(), Some(128 + 15), "exit status after SIGTERM");
    // The daemon is gone (or a zombie waiting for init to reap it), and so
    // is its directory.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with(|c| c != 'Z' && c != 'X'))
            })
            .unwrap_or(false)
    };
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(), "rrasd (pid {pid}) still runs after the harness was stopped");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn console_scenario_runs_at_a_smoke_size() {
    if !built(&["rrasd"]) {
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let v = bench(&["console", "--sessions", "3000"], out.path(), "console-3000.json");
    let windows = v["windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 20, "{v}");
    for w in windows {
        let (p50, p99) = (w["p50_ms"].as_f64().unwrap(), w["p99_ms"].as_f64().unwrap());
        assert!(p50 > 0.0 && p99 >= p50, "{w}");
    }
    assert_eq!(
        windows[0]["matching"], 3000,
        "an unfiltered window matches every session"
    );
    let one_user = windows
        .iter()
        .find(|w| w["window"].as_str().unwrap().starts_with("search one user"))
        .unwrap();
    assert_eq!(one_user["matching"], 1);
    let per = v["index_bytes_per_connection"].as_f64().unwrap();
    assert!(per > 50.0 && per < 400.0, "{per} bytes per connection");
    for key in ["churn_alone", "churn_beside_readers", "churn_beside_consoles"] {
        assert!(v[key]["acks_per_sec"].as_f64().unwrap() > 0.0, "{key}: {v}");
    }
    assert!(
        v["steady_10k"]["consoles_windows"].as_u64().unwrap() > 0,
        "the consoles asked for windows"
    );
}
