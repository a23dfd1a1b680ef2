//! Drives the C test programs in tests/c and the example in examples/c
//! against a real rrasd: each is compiled by gcc with
//! `-Wall -Wextra -Werror -fsanitize=address,undefined`, linked to the
//! libmprapi.so cargo just built, and run; the main one also under
//! valgrind. The porting kit's tests build the way a user does — `make
//! install` into a temporary prefix, then only `-fshort-wchar` and the
//! pkg-config flags — as C and as C++, and run the two Windows-shaped
//! example tools against the real rrasd fed by radclient. Tests need gcc
//! (g++, valgrind, radclient): they skip without them outside CI.

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
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_program(binary, &[], &envs, wrapper)
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

/// rrasd killed between two calls on one server handle: the C program gets
/// error codes and is not killed by SIGPIPE.
#[test]
fn a_daemon_killed_between_calls_is_an_error_code_not_sigpipe() {
    use std::io::{BufRead, Write};
    use std::os::unix::process::ExitStatusExt;
    if !require_tool("gcc") {
        return;
    }
    let Some(rrasd) = rrasd_binary() else { return };
    let mut daemon = rras_testkit::DaemonProcess::start(&rrasd, &[]);
    fill(&daemon.addr(), 10, 0);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("dead_daemon");
    compile(&bin, &["tests/c/dead_daemon_test.c"], false, false);
    let mut child = Command::new(&bin)
        .env_remove("LD_LIBRARY_PATH")
        .env("RRAS_ADMIN_SOCKET", &daemon.socket)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "first call done");
    daemon.kill9();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let exited = rras_testkit::wait_for(std::time::Duration::from_secs(30), || child.try_wait().unwrap());
    let Some(status) = exited else {
        let _ = child.kill();
        panic!("the C program hung after the daemon died");
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(
        status.signal(),
        None,
        "killed by signal {:?}:\n{rest}{err}",
        status.signal()
    );
    assert!(
        status.success() && rest.contains("dead_daemon_test: ALL OK"),
        "{rest}{err}"
    );
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

/// `make install` of this build into a temporary prefix (library, headers
/// with the porting kit, libmprapi_kit.a, pkg-config file, and the manual
/// pages of the debug binaries), and the flags `pkg-config --cflags --libs
/// mprapi` gives for it: what a user compiles with.
fn install_prefix() -> (tempfile::TempDir, Vec<String>) {
    let lib = lib_dir();
    let prefix = tempfile::tempdir().unwrap();
    let root = Path::new(CRATE).join("../..");
    let out = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(&root)
        .arg("install")
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("LIBDIR={}", lib.display()))
        .arg(format!("KITDIR={}", prefix.path().join("kit-build").display()))
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
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "mprapi"])
        .env("PKG_CONFIG_PATH", prefix.path().join("lib/pkgconfig"))
        .output()
        .unwrap();
    assert!(flags.status.success());
    let flags = String::from_utf8_lossy(&flags.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (prefix, flags)
}

/// Builds `source` the way a user does: only `-fshort-wchar` and the
/// pkg-config flags, with warnings as errors; as C11 (`sanitize`: under
/// ASan + UBSan) or as C++17.
fn build_with_kit(source: &Path, out: &Path, flags: &[String], cpp: bool, sanitize: bool) {
    let mut cc = Command::new(if cpp { "g++" } else { "gcc" });
    if cpp {
        cc.args(["-x", "c++", "-std=c++17"]);
    } else {
        cc.arg("-std=c11");
    }
    cc.args(["-Wall", "-Wextra", "-Werror", "-fshort-wchar", "-g"]);
    if sanitize {
        cc.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]);
    }
    let built = cc.arg(source).args(flags).arg("-o").arg(out).output().unwrap();
    assert!(
        built.status.success(),
        "{} {}: {}",
        if cpp { "g++" } else { "gcc" },
        source.display(),
        String::from_utf8_lossy(&built.stderr)
    );
}

#[test]
fn make_install_and_pkg_config_build_the_example() {
    if !require_tool("gcc") || !require_tool("make") || !require_tool("pkg-config") {
        return;
    }
    let (prefix, flags) = install_prefix();
    if Path::new(CRATE).join("../../target/debug/rrasd").exists() {
        let page = prefix.path().join("share/man/man8/rrasd.8");
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        assert!(text.contains(".TH rrasd 8"), "{}: {text:.200}", page.display());
    }
    for f in [
        "lib/libmprapi.so",
        "lib/libmprapi_kit.a",
        "include/mprapi.h",
        "include/mprapi/mprapi.h",
        "include/mprapi/windows.h",
        "include/mprapi/Ws2tcpip.h",
        "include/mprapi/MprApi.h",
        "include/mprapi/openrras/wintypes.h",
        "lib/pkgconfig/mprapi.pc",
    ] {
        assert!(prefix.path().join(f).exists(), "{f} not installed");
    }
    let bin = prefix.path().join("rasstat");
    build_with_kit(
        &Path::new(CRATE).join("../../examples/c/rasstat.c"),
        &bin,
        &flags,
        false,
        false,
    );
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
            ..Default::default()
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

/// Runs a C program with `args` and `env`, optionally under a wrapper
/// (valgrind); its stdout, or a failure with both outputs. LeakSanitizer
/// reports on exit: the library frees what it allocates.
fn run_program(bin: &Path, args: &[&str], env: &[(&str, &str)], wrapper: &[&str]) -> String {
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    // cargo's LD_LIBRARY_PATH would win over the rpath `compile` set and
    // may name a stale target/debug/libmprapi.so from an older `cargo build`.
    cmd.args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({:?}):\n{stdout}\n{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const VALGRIND: [&str; 5] = [
    "valgrind",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--error-exitcode=1",
    "-q",
];

#[test]
fn porting_kit_formats_and_converts_as_msvc_in_c_and_cpp() {
    if !require_tool("gcc") || !require_tool("g++") || !require_tool("make") || !require_tool("pkg-config") {
        return;
    }
    let (prefix, flags) = install_prefix();
    let source = Path::new(CRATE).join("tests/c/kit_test.c");
    // TZ two hours east of UTC: the test checks local-time conversion; the
    // argument checks wmain's UTF-16 arguments.
    let env = [("TZ", "UTC-2")];
    for cpp in [false, true] {
        let bin = prefix.path().join(format!("kit_test_{cpp}"));
        build_with_kit(&source, &bin, &flags, cpp, !cpp);
        let out = run_program(&bin, &["héllo"], &env, &[]);
        assert!(out.contains("kit_test: ALL OK"), "{out}");
        assert!(
            out.contains("kit_test: 0 failure(s), 5000000000 bytes, user CORP\\alice"),
            "{out}"
        );
        if cpp && require_tool("valgrind") {
            run_program(&bin, &["héllo"], &env, &VALGRIND);
        }
    }
    // A wide function the kit does not provide is a compile error, not
    // glibc's 4-byte version reading garbage.
    let unsupported = prefix.path().join("unsupported.c");
    std::fs::write(
        &unsupported,
        "#include <windows.h>\nint wmain(int c, wchar_t **v) { int x; (void)c; return swscanf(v[0], L\"%d\", &x); }\n",
    )
    .unwrap();
    let compile_errors = |extra: &[&str]| {
        let out = Command::new("gcc")
            .args(extra)
            .arg("-c")
            .arg(&unsupported)
            .args(&flags)
            .arg("-o")
            .arg(prefix.path().join("unsupported.o"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra:?} compiled");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let errors = compile_errors(&["-fshort-wchar"]);
    assert!(
        errors.contains("swscanf() is not in the openrras porting kit"),
        "{errors}"
    );
    // Without -fshort-wchar the kit says what is missing.
    let errors = compile_errors(&[]);
    assert!(errors.contains("needs -fshort-wchar"), "{errors}");
}

/// The rrasd binary of this build (`cargo test --workspace` builds it).
fn rrasd_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("rrasd");
    if bin.exists() {
        return Some(bin);
    }
    assert!(!rras_testkit::in_ci(), "rrasd not built next to {}", exe.display());
    eprintln!("SKIP: rrasd not built; run cargo test --workspace");
    None
}

/// Four sessions as a Windows RRAS / NPS NAS reports them, all started at
/// 2026-01-01 00:00:00 UTC: L2TP with MS-CHAPv2, IPv4 + IPv6 (prefix and
/// interface id) and 64-bit counters; PPTP with PAP and no interface (a
/// VPN1-<handle> port); IKEv2 with EAP-MSCHAPv2 and a UPN; a plain session.
const WINDOWS_NAS_SESSIONS: &str = "\
User-Name = \"CORP\\\\alice\"\nAcct-Session-Id = \"l2tp-1\"\nNAS-IP-Address = 127.0.0.1\nNAS-Port = 5\n\
NAS-Port-Type = Virtual\nFramed-Protocol = PPP\nTunnel-Type:1 = L2TP\nFramed-IP-Address = 10.200.12.2\n\
Framed-IPv6-Prefix = 2001:db8:1:2::/64\nFramed-Interface-Id = 0000:0000:0000:0042\nMS-Acct-Auth-Type = MS-CHAP-2\n\
Acct-Input-Octets = 5\nAcct-Input-Gigawords = 1\nAcct-Output-Octets = 7\nEvent-Timestamp = 1767225600\n\
Acct-Status-Type = Start\n\n\
User-Name = \"bob\"\nAcct-Session-Id = \"pptp-1\"\nNAS-IP-Address = 127.0.0.1\nFramed-Protocol = PPP\n\
Tunnel-Type:1 = PPTP\nFramed-IP-Address = 10.200.12.3\nMS-Acct-Auth-Type = PAP\nEvent-Timestamp = 1767225600\n\
Acct-Status-Type = Start\n\n\
User-Name = \"carol@example.com\"\nAcct-Session-Id = \"ike-1\"\nNAS-IP-Address = 127.0.0.1\nNAS-Port = 7\n\
Tunnel-Type:1 = ESP\nFramed-IP-Address = 10.200.12.4\nFramed-IPv6-Prefix = 2001:db8:9::/64\n\
Framed-Interface-Id = 0000:0000:0000:0007\nMS-Acct-Auth-Type = EAP\nMS-Acct-EAP-Type = 26\n\
Event-Timestamp = 1767225600\nAcct-Status-Type = Start\n\n\
User-Name = \"EXAMPLE\\\\dave\"\nAcct-Session-Id = \"plain-1\"\nNAS-IP-Address = 127.0.0.1\nNAS-Port = 9\n\
NAS-Port-Type = Virtual\nFramed-IP-Address = 10.200.12.5\nEvent-Timestamp = 1767225600\nAcct-Status-Type = Start\n";

/// The line of `out` that mentions `user`, split into words.
fn line_of<'a>(out: &'a str, user: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().any(|w| w == user))
        .unwrap_or_else(|| panic!("no line for {user}:\n{out}"))
        .split_whitespace()
        .collect()
}

#[test]
fn windows_tools_build_unchanged_and_print_radius_sessions() {
    for tool in ["gcc", "g++", "make", "pkg-config", "radclient", "valgrind"] {
        if !require_tool(tool) {
            return;
        }
    }
    let Some(rrasd) = rrasd_binary() else { return };
    let (prefix, flags) = install_prefix();
    let port = rras_testkit::free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = rras_testkit::DaemonProcess::start(
        &rrasd,
        &["--radius-acct", &listen, "--radius-client", "127.0.0.0/8=testing123"],
    );
    let sent = rras_testkit::radclient(port, "testing123", WINDOWS_NAS_SESSIONS, &[]);
    assert_eq!(sent.responses(), 4, "{sent:?}");
    let socket = daemon.socket.display().to_string();
    let env = [("RRAS_ADMIN_SOCKET", socket.as_str()), ("TZ", "UTC")];

    for example in ["rasports", "rassessions"] {
        let source = Path::new(CRATE).join(format!("../../examples/c/{example}.c"));
        let sanitized = prefix.path().join(format!("{example}-asan"));
        build_with_kit(&source, &sanitized, &flags, false, true);
        let plain = prefix.path().join(format!("{example}-plain"));
        build_with_kit(&source, &plain, &flags, false, false);
        let cpp = prefix.path().join(format!("{example}-cpp"));
        build_with_kit(&source, &cpp, &flags, true, false);
        let out = run_program(&sanitized, &[], &env, &[]);
        // The same answer from the C++ build and under valgrind.
        assert_eq!(run_program(&cpp, &[], &env, &[]), out);
        assert_eq!(run_program(&plain, &[], &env, &VALGRIND), out);

        if example == "rasports" {
            let alice = line_of(&out, "alice");
            assert_eq!(alice[0], "ppp5", "{out}");
            assert_eq!(alice[3..], ["10.200.12.2", "2001:db8:1:2::42"], "{out}");
            // No interface from the NAS: the Windows-style name of a PPTP port.
            let bob = line_of(&out, "bob");
            assert_eq!(bob[0], format!("VPN1-{}", bob[1]), "{out}");
            assert_eq!(bob[3..], ["10.200.12.3", "-"], "{out}");
            let carol = line_of(&out, "carol@example.com");
            assert_eq!(carol[0], "ipsec7", "{out}");
            assert_eq!(carol[3..], ["10.200.12.4", "2001:db8:9::7"], "{out}");
            assert_eq!(line_of(&out, "dave")[0], "ppp9", "{out}");
            assert!(out.contains("4 authenticated port(s)"), "{out}");
        } else {
            let expect = [
                ("CORP\\alice", "L2TP MS-CHAPv2 in 4294967301 out 7"),
                ("bob", "PPTP PAP in 0 out 0"),
                ("carol@example.com", "IKEv2 EAP (type 26) in 0 out 0"),
                ("EXAMPLE\\dave", "other - in 0 out 0"),
            ];
            for (user, rest) in expect {
                let words = line_of(&out, user);
                assert_eq!(words[..2], ["2026-01-01", "00:00:00"], "{out}");
                assert_eq!(words[3..].join(" "), rest, "{out}");
            }
            assert!(out.contains("4 session(s)"), "{out}");
        }
    }
}
