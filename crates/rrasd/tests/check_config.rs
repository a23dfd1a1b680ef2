//! `rrasd --check-config`: validates the configuration and the files it
//! names without starting, prints what would run (never a secret), exits 0
//! or 2.

use std::process::Command;

use rras_testkit::pki::TestPki;

fn check(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .arg("--check-config")
        .args(args)
        .output()
        .expect("run rrasd --check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn a_good_configuration_is_summarised_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let mut args = pki.daemon_args(18443);
    args.extend(
        [
            "--radius-acct",
            "127.0.0.1:18130",
            "--radius-client",
            "10.0.0.0/8=Very-Secret-Radius-1",
            "--openvpn-mgmt",
            "/nonexistent/ovpn.sock=tun0",
            "--state-dir",
        ]
        .map(String::from),
    );
    args.push(dir.path().join("state").display().to_string());
    let (code, out) = check(&args);
    assert_eq!(code, Some(0), "{out}");
    for expected in [
        "admin TLS: 127.0.0.1:18443",
        "tokens: ",
        "source radius: RADIUS accounting on 127.0.0.1:18130 (1 client networks)",
        "source openvpn: OpenVPN management",
        "warning: openvpn: /nonexistent/ovpn.sock does not exist",
        "configuration OK",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    assert!(!out.contains("Very-Secret-Radius-1"), "a secret in the output:\n{out}");
    assert!(!out.contains(&pki.admin_token), "a token in the output:\n{out}");
}

#[test]
fn broken_files_and_names_exit_2_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    // A certificate where the key should be, and a CA that does not exist.
    let mut args = pki.daemon_args(18444);
    let key_at = args.iter().position(|a| a == "--tls-key").unwrap() + 1;
    args[key_at] = pki.server.cert.display().to_string();
    let ca_at = args.iter().position(|a| a == "--tls-client-ca").unwrap() + 1;
    args[ca_at] = "/nonexistent/ca.pem".into();
    let (code, out) = check(&args);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no PEM private key"), "{out}");
    assert!(out.contains("error: tls.client_ca /nonexistent/ca.pem"), "{out}");
    assert!(out.contains("would not start"), "{out}");

    let (code, out) = check(&["--admin-group".into(), "no-such-group-xyz".into()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no-such-group-xyz"), "{out}");

    // A key that does not exist is a configuration error before any check.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "bogus = 1\n").unwrap();
    let (code, out) = check(&["--config".into(), bad.display().to_string()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("bogus"), "{out}");
}

/// rrasd(8) is generated from the same clap definitions as `--help` and
/// renders with `man` without warnings.
#[test]
fn manual_page_renders_without_warnings() {
    if !rras_testkit::require_tool("man") {
        return;
    }
    let page = Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .arg("--print-man")
        .output()
        .unwrap();
    assert!(page.status.success());
    let text = rras_testkit::render_man(&page.stdout, "rrasd.8");
    assert!(
        text.contains("rrasd(8)") && text.contains("--check-config") && text.contains("--radius-acct"),
        "{text}"
    );
}

/// The shipped /etc/rrasd/rrasd.toml: as shipped it is valid, and with
/// every commented key switched on it is still valid — no key in it is
/// misspelt or stale.
#[test]
fn shipped_configuration_is_valid_commented_and_uncommented() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/rrasd.toml");
    let shipped = std::fs::read_to_string(&path).unwrap();
    rrasd::Config::from_toml(&shipped).expect("the shipped file parses");
    let uncommented: String = shipped
        .lines()
        .map(|l| {
            let body = l.strip_prefix("# ").unwrap_or(l);
            let is_key = body.starts_with('[')
                || body.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                });
            if l.starts_with("# ") && is_key {
                format!("{body}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let keys = uncommented
        .lines()
        .filter(|l| l.contains(" = ") && !l.starts_with('#'))
        .count();
    assert!(keys >= 50, "only {keys} keys switched on:\n{uncommented}");
    let config = rrasd::Config::from_toml(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    config.validate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.source.len(), 2);
    assert_eq!(
        config.source_instances().len(),
        7,
        "radius, wireguard, openvpn, ocserv, strongswan, softether, [[source]]"
    );
}

/// rrasd.toml(5), docs/configuration.md and mprapi(3): generated from the
/// shipped configuration file (the checked-in reference must equal the
/// generated one) and rendered without warnings.
#[test]
fn configuration_reference_and_library_pages() {
    let reference = Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .arg("--print-config-reference")
        .output()
        .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert_eq!(
        String::from_utf8_lossy(&reference.stdout),
        std::fs::read_to_string(root.join("docs/configuration.md")).unwrap(),
        "docs/configuration.md is stale: rrasd --print-config-reference > docs/configuration.md"
    );
    if !rras_testkit::require_tool("man") {
        return;
    }
    let page = Command::new(env!("CARGO_BIN_EXE_rrasd"))
        .arg("--print-config-man")
        .output()
        .unwrap();
    let text = rras_testkit::render_man(&page.stdout, "rrasd.toml.5");
    assert!(
        text.contains("RRASD.TOML(5)") && text.contains("listen = \"0.0.0.0:1813\""),
        "{text}"
    );
    let mprapi = std::fs::read(root.join("crates/mprapi/man/mprapi.3")).unwrap();
    let text = rras_testkit::render_man(&mprapi, "mprapi.3");
    assert!(
        text.contains("MprAdminConnectionEnumEx") && text.contains("-fshort-wchar"),
        "{text}"
    );
}

/// A TLS key, tokens file or RADIUS secret file others may read is refused
/// by `--check-config` and at start-up, with the fix in the message; a
/// secret file keeps the secret off the command line.
#[test]
fn secrets_readable_by_others_are_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let secret = dir.path().join("nas.secret");
    rras_testkit::write_private(&secret, "Very-Secret-Radius-2\n");
    let mut args = pki.daemon_args(18444);
    args.extend(["--radius-acct", "127.0.0.1:18131", "--radius-client"].map(String::from));
    args.push(format!("10.0.0.0/8=@{}", secret.display()));
    args.extend(["--state-dir".to_owned(), dir.path().join("state").display().to_string()]);
    let (code, out) = check(&args);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("Very-Secret-Radius-2"), "{out}");

    let open_up = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for (path, key) in [
        (pki.server.key.clone(), "tls.key"),
        (pki.tokens.clone(), "tls.tokens_file"),
    ] {
        open_up(&path, 0o644);
        let (code, out) = check(&args);
        assert_eq!(code, Some(2), "{out}");
        assert!(
            out.contains(key) && out.contains(&format!("chmod 600 {}", path.display())),
            "{out}"
        );
        // Starting is refused the same way, before anything is bound.
        let started = Command::new(env!("CARGO_BIN_EXE_rrasd")).args(&args).output().unwrap();
        assert_eq!(started.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&started.stderr).contains("chmod 600"));
        open_up(&path, 0o600);
    }
    open_up(&secret, 0o640);
    let (code, out) = check(&args);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("mode 640") && out.contains("chmod 600"), "{out}");
}

/// `/metrics` has no authentication: a non-loopback address is refused
/// unless the operator says so.
#[test]
fn metrics_off_loopback_needs_an_explicit_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").display().to_string();
    let (code, out) = check(&["--metrics", "0.0.0.0:9108", "--state-dir", &state].map(String::from));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("metrics_allow_remote"), "{out}");
    let cfg = dir.path().join("rrasd.toml");
    std::fs::write(&cfg, "metrics = \"0.0.0.0:9108\"\nmetrics_allow_remote = true\n").unwrap();
    let (code, out) = check(&["--config", cfg.to_str().unwrap(), "--state-dir", &state].map(String::from));
    assert_eq!(code, Some(0), "{out}");
    let (code, _) = check(&["--metrics", "127.0.0.1:9108", "--state-dir", &state].map(String::from));
    assert_eq!(code, Some(0));
}
