//! What a harness started — processes and their temp directories — and a
//! way to clean them up when the harness itself is stopped by a signal.
//!
//! `Drop` does the cleaning on a normal exit or a panic, but not when the
//! harness is killed: a benchmark interrupted at a million sessions used to
//! leave an `rrasd` holding 500 MB and its store in /tmp. Fixtures register
//! here as they start things; a program that wants signal cleanup (the
//! benchmark harness) calls [`clean_up_on_signal`] once. Test binaries do
//! not: the test runner owns their signals.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LIVE: Mutex<Live> = Mutex::new(Live {
    pids: Vec::new(),
    dirs: Vec::new(),
});

struct Live {
    pids: Vec<u32>,
    dirs: Vec<PathBuf>,
}

fn live() -> std::sync::MutexGuard<'static, Live> {
    // A panic while holding the lock leaves plain lists: still usable.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A child process started by a fixture (until [`forget_process`]).
pub fn track_process(pid: u32) {
    live().pids.push(pid);
}

/// The child was reaped: its PID may be reused, never signal it again.
pub fn forget_process(pid: u32) {
    live().pids.retain(|p| *p != pid);
}

/// A directory a fixture owns and removes when dropped.
pub fn track_dir(path: &Path) {
    live().dirs.push(path.to_owned());
}

/// The directory was removed (or handed over).
pub fn forget_dir(path: &Path) {
    live().dirs.retain(|d| d != path);
}

/// On SIGINT, SIGTERM or SIGHUP: SIGKILL every tracked process (by PID),
/// remove every tracked directory, and exit with 128 + the signal number.
/// Call once, early, from a program's `main`.
pub fn clean_up_on_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Registered here, before returning, so no signal falls between.
    let (mut interrupt, mut terminate, mut hangup) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ))
    })?;
    std::thread::Builder::new().name("reaper".into()).spawn(move || {
        let number = rt.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => 2,
                _ = terminate.recv() => 15,
                _ = hangup.recv() => 1,
            }
        });
        let live = live();
        for pid in &live.pids {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(*pid).unwrap_or(i32::MAX));
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        for dir in &live.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        eprintln!(
            "stopped by signal {number}: killed {} process(es), removed {} directory(ies)",
            live.pids.len(),
            live.dirs.len()
        );
        std::process::exit(128 + number);
    })?;
    Ok(())
}
