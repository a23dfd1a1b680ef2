//! `rras-bench`: measures rrasd where operators feel it — listing, paging,
//! accounting ingest, memory, disk and restart — at 10k to 1M live
//! sessions, beside FreeRADIUS + PostgreSQL `radacct` fed the same data in
//! the same run. Prints a table and writes JSON under `target/bench/`.
//!
//!   cargo build --release --workspace
//!   bench/peer-setup.sh                      # optional: the peer
//!   cargo run --release -p rras-bench -- all --sessions 10000,100000,1000000
//!
//! Every scenario has a time cap and stops by itself; every process it
//! starts is killed by PID when it ends.

mod bareresponder;
mod console;
mod cprog;
mod fleetbench;
mod fleetview;
mod flood;
mod harness;
mod history;
mod peer;
mod process_stats;
mod radload;
mod scenario;
mod soak;
mod watchlat;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// Full listing: libmprapi pref -1 and 64 KiB pages, Rust client, rasctl --json; peer: \copy and psql.
    List,
    /// One 100-entry page deep in the list, p50/p99, quiet and under 10k updates/s; peer: keyset SQL.
    Page,
    /// Durable accounting acks/s and latency (N sockets x W outstanding); peer: FreeRADIUS + PostgreSQL.
    Ingest,
    /// RSS per live connection and store bytes per connection; peer: radacct bytes.
    Memory,
    /// kill -9 with N live, then time until the daemon runs again.
    Restart,
    /// The machine's floors: writing a fresh N x 1672-byte buffer (what a
    /// pref -1 listing must fill) the first and the second time.
    Floor,
    /// Everything above from one load (and, with several sizes, the page-cost scaling).
    All,
    /// Leaks and lost events: --soak-secs of RADIUS and Report churn with
    /// listings beside it; RSS and descriptors must stay flat and every
    /// acknowledged event must be accounted for.
    Soak,
    /// The change feed: --watchers Watch streams while --update-rate
    /// changes/s flow for --watch-secs; latency from send to each watcher.
    Watch,
    /// The fleet on NATS JetStream: --nodes rrasd sharing --sessions on a
    /// three-server nats-server cluster; merged view time and memory, and
    /// update → view latency at --fleet-rate for --watch-secs.
    Fleet,
    /// The fleet's merged view alone: the connections bucket filled
    /// directly with --sessions records over --nodes node ids, read by
    /// FleetReader and by a bare KV watch (the peer), --rounds times.
    FleetView,
    /// The RADIUS port under attack: --sessions Starts from the configured
    /// NAS beside --flood-rate junk datagrams/s from one and from
    /// --flood-sources unknown addresses; lost, time, log growth.
    Flood,
    /// The accounting history at --sessions ended sessions (10M is the
    /// target): who had an address at an instant, a user's month, the
    /// month's report, RADIUS churn with the history full, store bytes per
    /// session; peer: the same sessions in radacct with its stock indexes.
    History,
    /// The web console's windows over HTTP at --sessions (each column both
    /// ways, halfway down, searches), and RADIUS churn alone and beside
    /// eight readers of the heaviest window.
    Console,
}

#[derive(Debug, Parser)]
#[command(
    name = "rras-bench",
    about = "openrras benchmarks against the FreeRADIUS + PostgreSQL peer"
)]
pub(crate) struct Args {
    /// Scenario.
    #[arg(value_enum)]
    pub(crate) scenario: Scenario,
    /// Live sessions, comma-separated sizes.
    #[arg(long, value_delimiter = ',', default_value = "10000", value_parser = clap::value_parser!(u64).range(1..=16_000_000))]
    pub(crate) sessions: Vec<u64>,
    /// Directory of the peer (bench/peer-setup.sh); skipped when absent.
    #[arg(long, default_value = "/tmp/openrras-peer")]
    pub(crate) peer: PathBuf,
    /// Do not measure the peer even if it is set up.
    #[arg(long)]
    pub(crate) no_peer: bool,
    /// UDP sockets of the RADIUS load.
    #[arg(long, default_value_t = 32, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub(crate) sockets: usize,
    /// Requests outstanding per socket.
    #[arg(long, default_value_t = 64)]
    pub(crate) window: usize,
    /// Update rate of the "under load" page measurement, per second.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) update_rate: u32,
    /// Pages timed per page measurement. 20,000 pages take about 3 s at
    /// 1M, long enough to span the daemon's periodic work (checkpoints,
    /// sweeps); 2,000 took 0.4 s and their p99 swung with whether one
    /// checkpoint fell inside.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) pages: usize,
    /// Repetitions of each listing (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// Closed rows per live row in the peer's radacct.
    #[arg(long, default_value_t = 3)]
    pub(crate) peer_closed_per_live: u64,
    /// Starts sent to the peer's FreeRADIUS in the ingest scenario (it acks
    /// ~2.7k/s; capped by --time-cap too).
    #[arg(long, default_value_t = 20_000)]
    pub(crate) peer_ingest: u64,
    /// The longest any one step may run, seconds (at most a day).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) time_cap: u64,
    /// Where rrasd, rasctl and libmprapi.so are [default: this binary's directory].
    #[arg(long)]
    pub(crate) bin_dir: Option<PathBuf>,
    /// Keep the loaded daemon this many seconds after measuring (for
    /// profiling by hand; its socket is printed; at most a day).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub(crate) hold: u64,
    /// How long the soak scenario churns, seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub(crate) soak_secs: u64,
    /// Hook-fed sessions the soak keeps live through the Report call.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
    pub(crate) report_sessions: u64,
    /// Watch streams of the watch scenario.
    #[arg(long, default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub(crate) watchers: usize,
    /// How long the watch scenario's changes flow, seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) watch_secs: u64,
    /// rrasd processes of the fleet scenario.
    #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub(crate) nodes: usize,
    /// Interim-Updates per second of the fleet scenario's live phase.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) fleet_rate: u64,
    /// Junk datagrams per second of the flood scenario.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) flood_rate: u64,
    /// Distinct unknown source addresses of the flood scenario's second run.
    #[arg(long, default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub(crate) flood_sources: u32,
    /// How long each flood run lasts at least, seconds (the log is measured over it).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) flood_secs: u64,
    /// Where JSON results go.
    #[arg(long, default_value = "target/bench")]
    pub(crate) out: PathBuf,
}

impl Args {
    pub(crate) fn time_cap(&self) -> Duration {
        Duration::from_secs(self.time_cap)
    }
}

/// Finds the binaries and the peer, then runs the scenario asked for.
fn run(args: &Args) -> anyhow::Result<()> {
    let bin_dir = harness::bin_dir(args)?;
    for needed in ["rrasd", "rasctl"] {
        anyhow::ensure!(
            bin_dir.join(needed).exists(),
            "{} not found in {} (run `cargo build --release --workspace` first, or pass --bin-dir)",
            needed,
            bin_dir.display()
        );
    }
    // cargo leaves the cdylib in the profile directory, or under deps/ for
    // a test build.
    let lib_dir = [bin_dir.clone(), bin_dir.join("deps")]
        .into_iter()
        .find(|d| d.join("libmprapi.so").exists())
        .with_context(|| format!("libmprapi.so not found in {} or its deps/", bin_dir.display()))?;
    std::fs::create_dir_all(&args.out)?;
    let peer = if args.no_peer {
        None
    } else {
        peer::Peer::find(&args.peer)
    };
    match &peer {
        Some(p) => println!(
            "peer: {} (PostgreSQL :{}, FreeRADIUS :{})",
            p.dir.display(),
            p.pg_port,
            p.acct_port
        ),
        None => println!("peer: not set up (bench/peer-setup.sh) — openrras only"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.scenario == Scenario::Soak {
        return soak::run(args, &bin_dir, &rt);
    }
    if args.scenario == Scenario::Watch {
        return watchlat::run(args, &bin_dir, &rt);
    }
    if args.scenario == Scenario::Fleet {
        return fleetbench::run(args, &bin_dir, &rt);
    }
    if args.scenario == Scenario::FleetView {
        return fleetview::run(args, &rt);
    }
    if args.scenario == Scenario::Flood {
        return flood::run(args, &bin_dir, &rt);
    }
    if args.scenario == Scenario::History {
        return history::run(args, &bin_dir, peer.as_ref(), &rt);
    }
    if args.scenario == Scenario::Console {
        return console::run(args, &bin_dir, &rt);
    }
    scenario::run_sizes(args, &bin_dir, &lib_dir, peer.as_ref(), &rt)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // Interrupted mid-run, the harness still stops its daemons and NATS
    // servers and removes their (large) temp directories.
    if let Err(e) = rras_testkit::reaper::clean_up_on_signal() {
        eprintln!("rras-bench: cannot watch for signals ({e}); an interrupted run may leave processes behind");
    }
    // The bench's own clients (the fleet reader) log when RUST_LOG asks.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rras-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
