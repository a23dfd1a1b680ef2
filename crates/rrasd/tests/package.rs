//! The Debian package end to end, as root on the test machine: build it
//! from this build's binaries (dist/deb/build-deb.sh), `dpkg -i`, check the
//! installed files, the system user and admin group, `rrasd --check-config`
//! on the shipped conffile, the manual pages with `man --warnings`, the unit
//! with `systemd-analyze verify`; `dpkg -r` keeps configuration and user,
//! `dpkg --purge` leaves nothing behind.

use std::path::Path;
use std::process::Command;

use rras_testkit::{in_ci, require_root, require_tool};

fn sh(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn exists(name: &str, db: &str) -> bool {
    sh("getent", &[db, name]).0
}

/// Purges the package whatever happens to the test.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "openrras"]).output();
    }
}

#[test]
fn debian_package_installs_checks_and_purges_cleanly() {
    if !require_root()
        || !["dpkg-deb", "dpkg", "strip", "man", "gzip"]
            .iter()
            .all(|t| require_tool(t))
    {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_rrasd")).parent().unwrap();
    let built =
        bin.join("rasctl").exists() && (bin.join("libmprapi.so").exists() || bin.join("deps/libmprapi.so").exists());
    if !built {
        assert!(
            !in_ci(),
            "rasctl and libmprapi.so must be built beside rrasd (cargo test --workspace)"
        );
        eprintln!("SKIP: rasctl/libmprapi.so not built; run cargo test --workspace");
        return;
    }
    if Path::new("/usr/sbin/rrasd").exists() && !sh("dpkg", &["-s", "openrras"]).0 {
        eprintln!("SKIP: /usr/sbin/rrasd exists and is not from this package");
        assert!(!in_ci(), "/usr/sbin/rrasd already exists on the CI machine");
        return;
    }
    let profile = bin.file_name().unwrap().to_string_lossy().into_owned();
    let out = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/deb/build-deb.sh");
    let (ok, built) = sh(
        script.to_str().unwrap(),
        &[
            "--profile",
            &profile,
            "--no-build",
            // This build's own directory, wherever CARGO_TARGET_DIR put it.
            "--bin-dir",
            bin.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(ok, "build-deb.sh: {built}");
    let deb = built.lines().last().unwrap().trim().to_owned();
    let (ok, text) = sh("dpkg", &["-i", &deb]);
    let _installed = Installed;
    assert!(ok, "dpkg -i: {text}");

    let multiarch = sh("gcc", &["-print-multiarch"]).1.trim().to_owned();
    for file in [
        "/usr/sbin/rrasd".to_owned(),
        "/usr/bin/rasctl".to_owned(),
        format!("/usr/lib/{multiarch}/libmprapi.so"),
        format!("/usr/lib/{multiarch}/pkgconfig/mprapi.pc"),
        "/usr/include/mprapi.h".to_owned(),
        "/usr/include/mprapi/windows.h".to_owned(),
        "/usr/include/mprapi/openrras/wide.h".to_owned(),
        format!("/usr/lib/{multiarch}/libmprapi_kit.a"),
        "/lib/systemd/system/rrasd.service".to_owned(),
        "/etc/rrasd/rrasd.toml".to_owned(),
        "/usr/share/man/man8/rrasd.8.gz".to_owned(),
        "/usr/share/man/man1/rasctl.1.gz".to_owned(),
        "/usr/share/man/man5/rrasd.toml.5.gz".to_owned(),
        "/usr/share/man/man3/mprapi.3.gz".to_owned(),
        "/usr/share/bash-completion/completions/rasctl".to_owned(),
        "/usr/share/doc/openrras/copyright".to_owned(),
    ] {
        assert!(Path::new(&file).exists(), "{file} not installed");
    }
    assert!(
        exists("rrasd", "passwd") && exists("rrasadmin", "group"),
        "user or group missing"
    );
    assert!(Path::new("/var/lib/rrasd").is_dir());
    let (ok, text) = sh(
        "/usr/sbin/rrasd",
        &["--check-config", "--config", "/etc/rrasd/rrasd.toml"],
    );
    assert!(
        ok && text.contains("configuration OK") && text.contains("group rrasadmin"),
        "{text}"
    );
    for page in [
        "/usr/share/man/man8/rrasd.8.gz",
        "/usr/share/man/man1/rasctl.1.gz",
        "/usr/share/man/man5/rrasd.toml.5.gz",
        "/usr/share/man/man3/mprapi.3.gz",
    ] {
        rras_testkit::render_man_file(Path::new(page));
    }
    let (_, pkgconfig) = sh("pkg-config", &["--cflags", "--libs", "mprapi"]);
    assert!(pkgconfig.contains("-lmprapi"), "{pkgconfig}");
    // A Windows-shaped tool builds against the installed package alone.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/c/rassessions.c");
    let out_bin = std::env::temp_dir().join(format!("rassessions-pkg-{}", std::process::id()));
    let mut gcc = vec!["-fshort-wchar", "-Wall", "-Wextra", "-Werror"];
    let example_path = example.display().to_string();
    let out_path = out_bin.display().to_string();
    gcc.extend([example_path.as_str(), "-o", out_path.as_str()]);
    gcc.extend(pkgconfig.split_whitespace());
    let (ok, text) = sh("gcc", &gcc);
    let _ = std::fs::remove_file(&out_bin);
    assert!(ok, "gcc against the package: {text}");
    if require_tool("systemd-analyze") {
        let (ok, text) = sh("systemd-analyze", &["verify", "/lib/systemd/system/rrasd.service"]);
        let ours: Vec<&str> = text.lines().filter(|l| l.contains("rrasd.service")).collect();
        assert!(ok && ours.is_empty(), "systemd-analyze verify: {text}");
    }
    // The unit was not started (nothing listens on the admin socket).
    assert!(!Path::new("/run/rrasd/admin.sock").exists());

    // Remove keeps configuration, state and user; purge takes them.
    let (ok, text) = sh("dpkg", &["-r", "openrras"]);
    assert!(ok, "dpkg -r: {text}");
    assert!(!Path::new("/usr/sbin/rrasd").exists());
    assert!(Path::new("/etc/rrasd/rrasd.toml").exists() && exists("rrasd", "passwd"));
    let (ok, text) = sh("dpkg", &["--purge", "openrras"]);
    assert!(ok, "dpkg --purge: {text}");
    for gone in ["/etc/rrasd", "/var/lib/rrasd", "/run/rrasd"] {
        assert!(!Path::new(gone).exists(), "{gone} left after purge");
    }
    assert!(!exists("rrasd", "passwd") && !exists("rrasd", "group") && !exists("rrasadmin", "group"));
}
