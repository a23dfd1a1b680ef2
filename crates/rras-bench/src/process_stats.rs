//! What a benchmark reads of a process from /proc: CPU time, resident
//! memory, and whether it has gone quiet.

use std::time::{Duration, Instant};

/// CPU time (user + system) a process has used, in seconds (0 when
/// unreadable): fields 14 and 15 of /proc/PID/stat, in clock ticks.
pub(crate) fn cpu_secs(pid: u32) -> f64 {
    cpu_secs_in(&format!("/proc/{pid}/stat"))
}

/// CPU time of the process or thread whose stat file is `stat` (the
/// calling thread's own: `/proc/thread-self/stat`).
pub(crate) fn cpu_secs_in(stat: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat) else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces: count from after it.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // rest starts at field 3: utime is field 14 → index 11, stime 15 → 12.
    (ticks(11) + ticks(12)) / 100.0
}

/// Waits (at most 15 s) until `pid` has used under 5 % of a core over
/// 200 ms, so a "quiet" measurement does not include the daemon's store
/// still applying and checkpointing what a load just logged. Returns how
/// long that took.
pub(crate) fn wait_until_idle(pid: u32) -> Duration {
    let start = Instant::now();
    let mut before = cpu_secs(pid);
    while start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
        let now = cpu_secs(pid);
        if now - before < 0.010 {
            break;
        }
        before = now;
    }
    start.elapsed()
}

/// CPU seconds used so far by all of `pids` together.
pub(crate) fn cpu_secs_of(pids: &[u32]) -> f64 {
    pids.iter().map(|p| cpu_secs(*p)).sum()
}

pub(crate) fn rss_bytes(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// A size field of /proc/PID/status, in bytes (0 when unreadable).
pub(crate) fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
