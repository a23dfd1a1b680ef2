//! The admin socket's stream, watched by the reactor for input only.
//!
//! Why not tokio's `UnixStream`: it registers every socket for both input
//! and output, edge-triggered, and Linux signals a Unix stream's writer
//! each time its peer consumes data (`unix_write_space` does not check
//! whether the writer ever ran out of room, unlike TCP). So each time the
//! daemon read a request, the client's epoll woke for nothing, and each
//! time the client read a reply, the daemon's did: strace counted ~3.5
//! `epoll_wait` returns per 100-entry page on each side where one is
//! needed. On two shared cores every extra wake-up is one more wait for a
//! core (docs/benchmarks-notebook.md, "The admin thread and quiet sockets").
//!
//! Here output readiness is watched only while a write is blocked: on the
//! first `EAGAIN` a second descriptor of the same socket (`dup`) is
//! registered for output, and it is dropped the next time the connection
//! waits for input with no write blocked. A small call never blocks, so it
//! never registers it; a long listing keeps it while the reader lags.

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tonic::transport::server::{Connected, UdsConnectInfo};

/// A connected Unix stream socket for the admin RPC (both ends).
#[derive(Debug)]
pub struct QuietUnixStream {
    input: AsyncFd<UnixStream>,
    /// The socket's second descriptor, registered for output while a write
    /// waits for room.
    output: Option<AsyncFd<UnixStream>>,
    /// The last write returned `Pending`: its wake-up depends on `output`.
    write_blocked: bool,
    /// The peer's address and credentials, read once when wrapped.
    info: UdsConnectInfo,
}

impl QuietUnixStream {
    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::from_tokio(tokio::net::UnixStream::connect(path).await?)
    }

    /// Takes over a connected tokio stream (an accepted one, on the server).
    pub fn from_tokio(stream: tokio::net::UnixStream) -> io::Result<Self> {
        let info = stream.connect_info();
        let stream = stream.into_std()?;
        stream.set_nonblocking(true)?;
        Ok(Self {
            input: register(stream, Interest::READABLE)?,
            output: None,
            write_blocked: false,
            info,
        })
    }

    /// Whether output readiness is being watched (a write blocked since
    /// the connection last waited for input).
    #[cfg(test)]
    fn watching_output(&self) -> bool {
        self.output.is_some()
    }

    /// Writes with `write` (plain or vectored); on `EAGAIN` waits for room
    /// through the output registration.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&UnixStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match write(self.input.get_ref()) {
                Ok(n) => {
                    self.write_blocked = false;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let output = match &mut self.output {
            Some(output) => output,
            empty => empty.insert(register(self.input.get_ref().try_clone()?, Interest::WRITABLE)?),
        };
        loop {
            let mut guard = match output.poll_write_ready(cx) {
                Poll::Pending => {
                    self.write_blocked = true;
                    return Poll::Pending;
                }
                Poll::Ready(guard) => guard?,
            };
            // On EAGAIN `try_io` clears the readiness it saw and we wait again.
            if let Ok(result) = guard.try_io(|fd| write(fd.get_ref())) {
                self.write_blocked = false;
                return Poll::Ready(result);
            }
        }
    }
}

/// Registers `stream` with the current runtime's reactor for `interest`.
///
/// tokio 1.54 deprecated the safe constructor because an arbitrary `T` may
/// hand out a descriptor it does not own, or a different one later
/// (tokio#8587); its replacement is `unsafe`, which only the FFI crate may
/// use. A std `UnixStream` owns its descriptor and always returns the same
/// one, which is exactly what the replacement's safety contract asks.
#[allow(deprecated)]
fn register(stream: UnixStream, interest: Interest) -> io::Result<AsyncFd<UnixStream>> {
    AsyncFd::with_interest(stream, interest)
}

/// Sends with `MSG_NOSIGNAL`: a peer that has gone away is an `EPIPE`
/// error for the caller, never a SIGPIPE. That matters in libmprapi, which
/// lives in C programs whose SIGPIPE still terminates them (Rust binaries
/// ignore it; the `writev(2)` tokio's streams use for vectored writes, as
/// HTTP/2 makes them, raises it).
fn send(stream: &UnixStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    use nix::sys::socket::{sendmsg, MsgFlags};
    use std::os::fd::AsRawFd;
    sendmsg::<()>(stream.as_raw_fd(), bufs, &[], MsgFlags::MSG_NOSIGNAL, None).map_err(io::Error::from)
}

impl AsyncRead for QuietUnixStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let mut guard = match this.input.poll_read_ready(cx) {
                Poll::Ready(guard) => guard?,
                // The connection waits for its peer. Unless a write is
                // waiting for room, stop watching output.
                Poll::Pending => {
                    if !this.write_blocked {
                        this.output = None;
                    }
                    return Poll::Pending;
                }
            };
            let unfilled = buf.initialize_unfilled();
            let wanted = unfilled.len();
            // On EAGAIN `try_io` clears the readiness it saw and we wait again.
            match guard.try_io(|fd| fd.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    // A short read drained the socket: the next read waits
                    // for the next edge instead of trying for EAGAIN (as
                    // tokio's own streams do).
                    if n > 0 && n < wanted {
                        guard.clear_ready_matching(tokio::io::Ready::READABLE);
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => {}
            }
        }
    }
}

impl AsyncWrite for QuietUnixStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |s| send(s, &[IoSlice::new(buf)]))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |s| send(s, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(match self.input.get_ref().shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

impl Connected for QuietUnixStream {
    type ConnectInfo = UdsConnectInfo;

    fn connect_info(&self) -> UdsConnectInfo {
        self.info.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (QuietUnixStream, QuietUnixStream) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        (
            QuietUnixStream::from_tokio(a).unwrap(),
            QuietUnixStream::from_tokio(b).unwrap(),
        )
    }

    #[tokio::test]
    async fn small_exchanges_never_watch_output() {
        let (mut a, mut b) = pair().await;
        for round in 0..100u8 {
            a.write_all(&[round; 100]).await.unwrap();
            let mut got = [0u8; 100];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(got, [round; 100]);
            b.write_all(&got[..10]).await.unwrap();
            a.read_exact(&mut got[..10]).await.unwrap();
        }
        assert!(!a.watching_output() && !b.watching_output());
    }

    #[tokio::test]
    async fn a_blocked_writer_is_woken_by_a_slow_reader_and_stops_watching_after() {
        let (mut a, mut b) = pair().await;
        // Far more than the socket buffer holds: the writer must wait.
        let sent: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let expected = sent.clone();
        let writer = tokio::spawn(async move {
            a.write_all(&sent).await.unwrap();
            let watched = a.watching_output();
            // The peer's "done" arrives; waiting for it drops the watch.
            let mut done = [0u8; 1];
            a.read_exact(&mut done).await.unwrap();
            (watched, a.watching_output())
        });
        let mut got = vec![0u8; expected.len()];
        let mut at = 0;
        while at < got.len() {
            // Read in small steps with pauses so the writer blocks often.
            let end = (at + 300_000).min(got.len());
            b.read_exact(&mut got[at..end]).await.unwrap();
            at = end;
            tokio::task::yield_now().await;
        }
        assert!(got == expected, "bytes arrived changed or out of order");
        // Late, so the writer is surely waiting for it.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        b.write_all(&[1]).await.unwrap();
        let (watched_while_blocked, watched_after) = writer.await.unwrap();
        assert!(
            watched_while_blocked,
            "the writer never blocked: the test proves nothing"
        );
        assert!(!watched_after);
    }

    #[tokio::test]
    async fn vectored_writes_and_shutdown_reach_the_peer() {
        let (mut a, mut b) = pair().await;
        let n = a
            .write_vectored(&[IoSlice::new(b"head"), IoSlice::new(b"er")])
            .await
            .unwrap();
        assert_eq!(n, 6);
        a.shutdown().await.unwrap();
        let mut all = Vec::new();
        b.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"header");
    }

    #[tokio::test]
    async fn carries_the_peers_credentials() {
        let (a, _b) = pair().await;
        let cred = a.connect_info().peer_cred.expect("SO_PEERCRED");
        assert_eq!(cred.uid(), nix_uid());
    }

    fn nix_uid() -> u32 {
        // The test process is the peer of its own pair.
        std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap()
    }
}
