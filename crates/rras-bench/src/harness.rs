//! What the scenarios start from: where the binaries are, and an rrasd
//! fed by RADIUS with the load of Starts that fills it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rras_testkit::DaemonProcess;

use crate::radload::{LoadSpec, Mix};
use crate::Args;

/// The RADIUS secret every scenario's daemon and load share.
pub(crate) const SECRET: &str = "bench-secret";

/// rrasd with a RADIUS source on a free loopback port accepting `secret`
/// from 127.0.0.0/8, and the load that sends Starts for sessions 0..n to it.
pub(crate) fn radius_daemon(
    args: &Args,
    bin_dir: &Path,
    secret: &str,
    n: u64,
) -> anyhow::Result<(DaemonProcess, LoadSpec)> {
    let listen = format!("127.0.0.1:{}", rras_testkit::free_udp_port());
    let client_spec = format!("127.0.0.0/8={secret}");
    let daemon = DaemonProcess::start(
        &bin_dir.join("rrasd"),
        &["--radius-acct", &listen, "--radius-client", &client_spec],
    );
    Ok((daemon, starts_load(args, listen.parse()?, secret, n)))
}

/// Starts for sessions 0..n to `target`, at the window of `args`.
pub(crate) fn starts_load(args: &Args, target: std::net::SocketAddr, secret: &str, n: u64) -> LoadSpec {
    LoadSpec {
        target,
        secret: secret.as_bytes().to_vec(),
        sockets: args.sockets,
        window: args.window,
        first: 0,
        count: n,
        mix: Mix::Starts,
        retransmit_after: Duration::from_secs(1),
        time_cap: args.time_cap(),
    }
}

/// Where rrasd, rasctl and libmprapi are: `--bin-dir`, else beside this
/// binary.
pub(crate) fn bin_dir(args: &Args) -> anyhow::Result<PathBuf> {
    Ok(match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_owned(),
    })
}
