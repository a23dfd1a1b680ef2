//! A hostile engine: the engine's control socket taken over by a listener
//! that answers every connection with junk — control characters, escape
//! sequences, bytes that are not UTF-8, a line with no end — and hangs up.
//! The real socket is renamed aside meanwhile and put back on drop, so the
//! engine itself never notices.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How much junk one connection gets.
const JUNK_BYTES: usize = 256 * 1024;

/// The taken-over socket; dropping it restores the engine's.
#[derive(Debug)]
pub struct HostileSocket {
    path: PathBuf,
    aside: PathBuf,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileSocket {
    /// Moves the socket at `path` aside and listens there instead.
    pub fn take_over(path: &Path) -> Self {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".real");
        let aside = PathBuf::from(aside);
        std::fs::rename(path, &aside).unwrap_or_else(|e| panic!("move {} aside: {e}", path.display()));
        let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        listener.set_nonblocking(true).expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::spawn(move || {
                // Bounded: the owner drops it within seconds; a minute at most.
                for _ in 0..6_000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                            let _ = stream.write_all(&junk(served.fetch_add(1, Ordering::Relaxed)));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        HostileSocket {
            path: path.to_owned(),
            aside,
            stop,
            served,
            thread: Some(thread),
        }
    }

    /// Connections answered with junk so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for HostileSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::rename(&self.aside, &self.path);
    }
}

/// The junk for the `n`th connection: a different mix each time, from a
/// small generator (no randomness: a failure can be replayed).
fn junk(n: u64) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ n;
    let mut out = Vec::with_capacity(JUNK_BYTES);
    out.extend_from_slice(b"\x1b[2J\x1b]0;owned\x07\r\n\xff\xfe\x00{\"error\":");
    while out.len() < JUNK_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(state as u8);
    }
    out
}
