//! `rrasd` entry point: parse flags, set up logging, run until SIGTERM/SIGINT.

use clap::Parser;

/// mimalloc instead of glibc's allocator: the daemon's hot paths (a decoded
/// packet, a record, a reply per request) are many small short-lived
/// allocations from several threads; measured in docs/benchmarks-notebook.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (as Redis does),
/// unless `MIMALLOC_ALLOW_THP=1` asks for them. mimalloc asks the kernel for
/// huge pages, and the thread whose allocation first touches one waits
/// while the kernel zeroes 2 MiB: up to 5 ms on a VM, so one history query
/// in a hundred that grew the heap took 5–12 ms instead of 0.3 ms
/// (docs/benchmarks-notebook.md, "Huge pages"). A kernel without the
/// prctl (before 3.15) keeps them on; the daemon works either way.
fn transparent_huge_pages_off() {
    let asked = std::env::var("MIMALLOC_ALLOW_THP")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "on" | "yes" | "true"));
    if !asked {
        let _ = nix::sys::prctl::set_thp_disable(true);
    }
}

fn main() -> std::process::ExitCode {
    transparent_huge_pages_off();
    let args = rrasd::Args::parse();
    if args.print_man {
        use clap::CommandFactory;
        let man = clap_mangen::Man::new(rrasd::Args::command()).section("8");
        return match man.render(&mut std::io::stdout()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rrasd: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if args.print_config_man {
        print!("{}", rrasd::config_reference::man_page(rras_core::VERSION));
        return std::process::ExitCode::SUCCESS;
    }
    if args.print_config_reference {
        print!("{}", rrasd::config_reference::markdown());
        return std::process::ExitCode::SUCCESS;
    }
    let check_only = args.check_config;
    let print_node_id = args.print_node_id;
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rrasd: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if print_node_id {
        return match rrasd::server::node_id(&config) {
            Ok(id) => {
                println!("{id}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rrasd: {e} (while rrasd runs, `rasctl server` shows the node id)");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if check_only {
        let report = rrasd::check::check(&config);
        print!("{}", report.render());
        return if report.errors.is_empty() {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::from(2)
        };
    }
    // Like ssh with its keys: a secret others can read is refused, with the fix.
    if let Err(e) = config.check_secret_files() {
        eprintln!("rrasd: {e}");
        return std::process::ExitCode::from(2);
    }
    rrasd::logging::init(&config.log_level, config.log_format);

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rrasd: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(rrasd::run(config, shutdown_signal()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rrasd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
