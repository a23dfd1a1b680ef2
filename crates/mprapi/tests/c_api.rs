//! Drives the C test programs in tests/c and the example in examples/c
//! against a real rrasd: each is compiled by gcc with
//! `-Wall -Wextra -Werror -fsanitize=address,undefined`, linked to the
//! libmprapi.so cargo just built, and run; the main one also under
//! valgrind. Tests need gcc (and valgrind): they skip without it outside CI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use rras_client::AdminClient;
use rras_core::synthetic;
use rras_testkit::{require_tool, runtime, InProcessDaemon};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// Where cargo put libmprapi.so: `target/<profile>/deps` under `cargo test`
/// (the test's own directory), `target/<profile>` after `cargo build`.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let deps = exe.parent().expect("deps dir");
    let found = [deps, deps.parent().expect("profile dir")]
        .into_iter()
        .find(|d| d.join("libmprapi.so").exists())
        .map(Path::to_path_buf);
    found.unwrap_or_else(|| panic!("libmprapi.so not built next to {}", exe.display()))
}

/// Compiles `sources` into `out`; `sanitize` adds ASan+UBSan, `short_wchar`
/// builds with WCHAR = wchar_t (L"" literals).
fn compile(out: &Path, sources: &[&str], sanitize: bool, short_wchar: bool) {
    let lib = lib_dir();
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg(format!("-I{CRATE}/include"))
        .arg(format!("-I{CRATE}/tests/c"));
    if sanitize {
        cmd.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]);
    }
    if short_wchar {
        cmd.arg("-fshort-wchar");
    }
    for s in sources {
        cmd.arg(Path::new(CRATE).join(s));
    }
    cmd.arg("-o").arg(out).arg(format!("-L{}", lib.display()));
    cmd.arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lmprapi", "-pthread"]);
    let result = cmd.output().expect("run gcc");
    assert!(
        result.status.success(),
        "gcc failed for {sources:?}:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

fn run(binary: &Path, envs: &[(&str, String)], wrapper: &[&str]) -> String {
    let mut cmd = if wrapper.is_empty() {
        Command::new(binary)
    } else {
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..]).arg(binary);
        c
    };
    // LeakSanitizer reports on exit; the library frees what it allocates.
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run C test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({:?}):\nstdout:\n{stdout}\nstderr:\n{}",
        binary.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Fills the daemon: `keep` sessions named keep-N, `doom` named doom-N, a
/// mix of engines (PPP, IKEv2, WireGuard, OpenVPN shapes).
fn fill(addr: &str, keep: u64, doom: u64) {
    runtime().block_on(async {
        let client = AdminClient::connect(addr).await.expect("connect");
        let now = SystemTime::now();
        let ids: Vec<u64> = (0..keep + doom).collect();
        for chunk in ids.chunks(5000) {
            let reports = chunk
                .iter()
                .map(|&i| {
                    let mut info = synthetic::connection(i, now);
                    info.user_name = if i < keep {
                        format!("keep-{i}")
                    } else {
                        format!("doom-{i}")
                    };
                    rras_client::started(&info)
                })
                .collect();
            client.report(reports).await.expect("report");
        }
    });
}

fn socket_env(d: &InProcessDaemon) -> (&'static str, String) {
    ("RRAS_ADMIN_SOCKET", d.socket.display().to_string())
}

#[test]
fn layout_matches_the_spec_table() {
    if !require_tool("gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for short in [false, true] {
        let bin = dir.path().join(format!("layout_{short}"));
        compile(&bin, &["tests/c/layout_test.c"], true, short);
        let out = run(&bin, &[], &[]);
        assert!(
            out.contains("169 static assertions hold") && out.contains("ALL OK"),
            "{out}"
        );
    }
}

#[test]
fn enumerate_20k_exactly_once_while_churning_in_both_wchar_builds() {
    if !require_tool("gcc") {
        return;
    }
    let daemon = InProcessDaemon::start(|_| {});
    let (keep, doom) = (15_000u64, 5_000u64);
    fill(&daemon.addr(), keep, doom);
    let dir = tempfile::tempdir().unwrap();
    for short in [true, false] {
        let bin = dir.path().join(format!("enum_{short}"));
        compile(&bin, &["tests/c/enum_test.c"], true, short);
        // Churn while the C program pages: end doomed sessions, start new ones.
        let stop = Arc::new(AtomicBool::new(false));
        let churn = {
            let (addr, stop) = (daemon.addr(), stop.clone());
            std::thread::spawn(move || {
                runtime().block_on(async {
                    let client = AdminClient::connect(&addr).await.unwrap();
                    // Sessions that may end: the doomed ones, then what we start.
                    let now = SystemTime::now();
                    let mut endable: std::collections::VecDeque<_> = (keep..keep + doom)
                        .map(|i| synthetic::connection(i, now).source)
                        .collect();
                    let mut next = 10_000_000u64;
                    let mut rounds = 0;
                    while !stop.load(Ordering::Relaxed) && rounds < 100_000 {
                        let mut reports: Vec<_> = (0..25)
                            .filter_map(|_| endable.pop_front())
                            .map(|key| rras_client::ended(&key, "user-request"))
                            .collect();
                        for _ in 0..25 {
                            let mut info = synthetic::connection(next, SystemTime::now());
                            info.user_name = format!("new-{next}");
                            endable.push_back(info.source.clone());
                            reports.push(rras_client::started(&info));
                            next += 1;
                        }
                        client.report(reports).await.unwrap();
                        rounds += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    rounds
                })
            })
        };
        let out = run(&bin, &[socket_env(&daemon), ("KEEP_COUNT", keep.to_string())], &[]);
        stop.store(true, Ordering::Relaxed);
        let rounds = churn.join().unwrap();
        assert!(out.contains("enum_test: ALL OK"), "{out}");
        assert!(rounds > 0, "no churn happened during the C enumeration");
    }
}

#[test]
fn every_error_code() {
    if !require_tool("gcc") {
        return;
    }
    let daemon = InProcessDaemon::start(|_| {});
    fill(&daemon.addr(), 10, 0);
    let starting = InProcessDaemon::start_until(|c| c.debug_start_delay_ms = 600_000, false);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("errors");
    compile(&bin, &["tests/c/errors_test.c"], true, false);
    let out = run(
        &bin,
        &[
            socket_env(&daemon),
            ("RRAS_STARTING_SOCKET", starting.socket.display().to_string()),
        ],
        &[],
    );
    assert!(out.contains("errors_test: ALL OK"), "{out}");
}

#[test]
fn levels_agree_with_the_ex_call() {
    if !require_tool("gcc") {
        return;
    }
    let daemon = InProcessDaemon::start(|_| {});
    fill(&daemon.addr(), 300, 0);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("levels");
    compile(&bin, &["tests/c/levels_test.c"], true, true);
    let out = run(&bin, &[socket_env(&daemon)], &[]);
    assert!(out.contains("levels_test: ALL OK"), "{out}");
}

#[test]
fn main_test_is_clean_under_valgrind() {
    if !require_tool("gcc") || !require_tool("valgrind") {
        return;
    }
    let daemon = InProcessDaemon::start(|_| {});
    fill(&daemon.addr(), 2_000, 0);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("enum_valgrind");
    compile(&bin, &["tests/c/enum_test.c"], false, true);
    let out = run(
        &bin,
        &[socket_env(&daemon), ("KEEP_COUNT", "2000".into())],
        &[
            "valgrind",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=1",
            "-q",
        ],
    );
    assert!(out.contains("enum_test: ALL OK"), "{out}");
}

#[test]
fn rasstat_example_prints_the_table() {
    if !require_tool("gcc") {
        return;
    }
    let daemon = InProcessDaemon::start(|_| {});
    fill(&daemon.addr(), 40, 0);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("rasstat");
    compile(&bin, &["../../examples/c/rasstat.c"], true, true);
    let out = run(&bin, &[socket_env(&daemon)], &[]);
    assert!(out.contains("keep-0") && out.contains("keep-39"), "{out}");
    assert!(out.contains("40 connection(s)"), "{out}");
}

#[test]
fn make_install_and_pkg_config_build_the_example() {
    if !require_tool("gcc") || !require_tool("make") || !require_tool("pkg-config") {
        return;
    }
    let lib = lib_dir();
    let prefix = tempfile::tempdir().unwrap();
    let root = Path::new(CRATE).join("../..");
    let out = Command::new("make")
        .arg("-C")
        .arg(&root)
        .arg("install")
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("LIBDIR={}", lib.display()))
        .arg("NO_BUILD=1")
        // The binaries of this (debug) build, with the manual pages they
        // generate.
        .arg("PROFILE=debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if root.join("target/debug/rrasd").exists() {
        let page = prefix.path().join("share/man/man8/rrasd.8");
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        assert!(text.contains(".TH rrasd 8"), "{}: {text:.200}", page.display());
    }
    for f in ["lib/libmprapi.so", "include/mprapi.h", "lib/pkgconfig/mprapi.pc"] {
        assert!(prefix.path().join(f).exists(), "{f} not installed");
    }
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "mprapi"])
        .env("PKG_CONFIG_PATH", prefix.path().join("lib/pkgconfig"))
        .output()
        .unwrap();
    assert!(flags.status.success());
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let bin = prefix.path().join("rasstat");
    let mut gcc = Command::new("gcc");
    gcc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fshort-wchar"])
        .arg(Path::new(CRATE).join("../../examples/c/rasstat.c"))
        .args(flags.split_whitespace())
        .arg("-o")
        .arg(&bin);
    let built = gcc.output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let daemon = InProcessDaemon::start(|_| {});
    fill(&daemon.addr(), 3, 0);
    // The installed example takes the server as its argument.
    let out = Command::new(&bin).arg(daemon.addr()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("3 connection(s)"), "{stdout}");
    let dead = Command::new(&bin).arg("unix:/nonexistent.sock").output().unwrap();
    assert!(!dead.status.success());
    assert!(String::from_utf8_lossy(&dead.stderr).contains("1722"));
}

#[test]
fn remote_server_over_tls_with_environment_credentials() {
    if !require_tool("gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = rras_testkit::pki::TestPki::new(dir.path());
    let port = rras_testkit::free_tcp_port();
    let daemon = InProcessDaemon::start(|c| {
        c.tls = rrasd::tls::TlsConfig {
            listen: Some(format!("127.0.0.1:{port}").parse().unwrap()),
            cert: Some(pki.server.cert.clone()),
            key: Some(pki.server.key.clone()),
            client_ca: Some(pki.ca.clone()),
            tokens_file: Some(pki.tokens.clone()),
            admin_names: vec![rras_testkit::pki::ADMIN_NAME.into()],
            reader_names: vec![],
        };
    });
    fill(&daemon.addr(), 4, 0);
    let bin = dir.path().join("rasstat");
    compile(&bin, &["../../examples/c/rasstat.c"], true, true);
    let server = format!("127.0.0.1:{port}");
    // Token from a file.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", pki.reader_token)).unwrap();
    let out = Command::new(&bin)
        .arg(&server)
        .env("RRAS_TLS_CA", &pki.ca)
        .env("RRAS_TOKEN_FILE", &token_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("4 connection(s)"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Client certificate.
    let out = Command::new(&bin)
        .arg(&server)
        .env("RRAS_TLS_CA", &pki.ca)
        .env("RRAS_TLS_CERT", &pki.admin.cert)
        .env("RRAS_TLS_KEY", &pki.admin.key)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 connection(s)"));
    // No credentials: ERROR_ACCESS_DENIED from MprAdminServerConnect.
    let out = Command::new(&bin)
        .arg(&server)
        .env("RRAS_TLS_CA", &pki.ca)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failed: 5 "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
