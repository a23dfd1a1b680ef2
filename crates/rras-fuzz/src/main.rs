//! `rras-fuzz`: runs the codec fuzz targets and fails on the first panic,
//! writing the input that caused it to a file for a regression test.
//!
//! ```text
//! cargo run --release -p rras-fuzz -- --inputs 1000000            # every target
//! cargo run --release -p rras-fuzz -- radius --inputs 5000000 --seed 7
//! cargo run --release -p rras-fuzz -- record --seed 7 --last-input /tmp/last   # after an abort
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rras_fuzz::{run, run_watched, TARGETS};

#[derive(Debug, Parser)]
#[command(about = "Fuzz every openrras codec that reads untrusted bytes (engines, NASes, hooks, records)")]
struct Args {
    /// Targets to run (default: all). `--list` shows them.
    targets: Vec<String>,
    /// Inputs per target.
    #[arg(long, default_value_t = 1_000_000)]
    inputs: u64,
    /// Generator seed; the same seed feeds the same inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where a panicking input is written.
    #[arg(long, default_value = "target/fuzz-crashes")]
    crash_dir: PathBuf,
    /// Write each input to this file before feeding it (slower): after a
    /// run that aborted (an allocation failure is no panic), it holds the
    /// input that did it. Same seed, same inputs.
    #[arg(long)]
    last_input: Option<PathBuf>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    if args.list {
        for t in TARGETS {
            println!("{:16} {}", t.name, t.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let selected: Vec<_> = if args.targets.is_empty() {
        TARGETS.iter().collect()
    } else {
        args.targets
            .iter()
            .map(|name| {
                TARGETS
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| anyhow::anyhow!("unknown target {name:?} (see --list)"))
            })
            .collect::<Result<_, _>>()?
    };
    // The panic message is printed once by the hook; the run reports it too.
    let mut failed = false;
    println!(
        "{:16} {:>12} {:>12} {:>9} result",
        "target", "inputs", "accepted", "secs"
    );
    for t in selected {
        let started = Instant::now();
        let report = match &args.last_input {
            None => run(t, args.inputs, args.seed),
            Some(path) => run_watched(t, args.inputs, args.seed, |input| std::fs::write(path, input))?,
        };
        let secs = started.elapsed().as_secs_f64();
        match &report.panic {
            None => println!(
                "{:16} {:>12} {:>12} {:>9.1} ok, 0 panics",
                t.name, report.inputs, report.accepted, secs
            ),
            Some(input) => {
                failed = true;
                std::fs::create_dir_all(&args.crash_dir)?;
                let path = args
                    .crash_dir
                    .join(format!("{}-seed{}-{}", t.name, args.seed, report.inputs));
                std::fs::write(&path, input)?;
                println!(
                    "{:16} {:>12} {:>12} {:>9.1} PANIC on input {} (saved to {})",
                    t.name,
                    report.inputs,
                    report.accepted,
                    secs,
                    report.inputs,
                    path.display()
                );
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
