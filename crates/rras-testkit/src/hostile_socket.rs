//! A hostile engine on a Unix socket. [`HostileSocket::take_over`] puts a
//! listener in the place of an engine's control socket that answers every
//! connection with junk — control characters, escape sequences, bytes
//! that are not UTF-8 — and hangs up; the real socket is renamed aside
//! meanwhile and put back on drop, so the engine itself never notices.
//! [`HostileSocket::serve`] runs a hostile engine of the test's making
//! (valid syntax, absurd numbers, endless lines, stalls).

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
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
    /// Where the engine's own socket waits, when this one took its place.
    aside: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileSocket {
    /// Moves the socket at `path` aside and answers junk there instead.
    pub fn take_over(path: &Path) -> Self {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".real");
        let aside = PathBuf::from(aside);
        std::fs::rename(path, &aside).unwrap_or_else(|e| panic!("move {} aside: {e}", path.display()));
        let mut hostile = Self::serve(path, |n, stream, _| {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(&junk(n));
        });
        hostile.aside = Some(aside);
        hostile
    }

    /// A hostile engine of the caller's making at `path`: `answer` gets
    /// each connection (blocking, in accept order, numbered from 0) and
    /// may read the request and write whatever it likes; the flag turns
    /// true when the socket is dropped (for an answer that writes in a
    /// loop).
    pub fn serve(path: &Path, answer: impl Fn(u64, &mut UnixStream, &AtomicBool) + Send + 'static) -> Self {
        let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        listener.set_nonblocking(true).expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::spawn(move || {
                // Bounded: the owner drops it within seconds; ten minutes at most.
                let until = std::time::Instant::now() + Duration::from_secs(600);
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            answer(served.fetch_add(1, Ordering::Relaxed), &mut stream, &stop);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        HostileSocket {
            path: path.to_owned(),
            aside: None,
            stop,
            served,
            thread: Some(thread),
        }
    }

    /// Connections answered so far.
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
        if let Some(aside) = &self.aside {
            let _ = std::fs::rename(aside, &self.path);
        }
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
