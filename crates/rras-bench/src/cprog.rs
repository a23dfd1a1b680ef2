//! The libmprapi measurement is a C program, because that is what a ported
//! Windows tool is: built here with the system compiler against the
//! checked-in header and the built library, then run as a child.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

const SOURCE: &str = include_str!("../c/enum_bench.c");

/// Builds `enum_bench` in `dir`; returns its path.
pub(crate) fn build(dir: &Path, bin_dir: &Path) -> anyhow::Result<PathBuf> {
    let src = dir.join("enum_bench.c");
    std::fs::write(&src, SOURCE)?;
    let exe = dir.join("enum_bench");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mprapi/include");
    let out = Command::new("gcc")
        .args(["-O2", "-std=c11", "-fshort-wchar", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-I")
        .arg(&include)
        .arg("-L")
        .arg(bin_dir)
        .arg(format!("-Wl,-rpath,{}", bin_dir.display()))
        .arg("-lmprapi")
        .output()
        .context("running gcc (install gcc)")?;
    anyhow::ensure!(
        out.status.success(),
        "gcc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(exe)
}

/// What one run of the program measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnumTimes {
    pub(crate) all_secs: f64,
    pub(crate) all_entries: u64,
    pub(crate) paged_secs: f64,
    pub(crate) paged_entries: u64,
}

/// Runs it against `server` (`unix:PATH`), best of `rounds`.
pub(crate) fn run(exe: &Path, server: &str, rounds: usize) -> anyhow::Result<EnumTimes> {
    let out = Command::new(exe).arg(server).arg(rounds.to_string()).output()?;
    anyhow::ensure!(
        out.status.success(),
        "enum_bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    Ok(EnumTimes {
        all_secs: f("all_secs"),
        all_entries: f("all_entries") as u64,
        paged_secs: f("paged_64k_secs"),
        paged_entries: f("paged_entries") as u64,
    })
}
