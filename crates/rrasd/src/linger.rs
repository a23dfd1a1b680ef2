//! Lingering close for the admin TCP listener.
//!
//! When a TCP socket is closed while the peer's bytes are still unread in
//! its receive queue (HTTP/2 WINDOW_UPDATE and PING frames, a TLS
//! close_notify), Linux answers with a RST instead of a FIN, and a RST
//! throws away what is still queued to send. At shutdown that is exactly the
//! tail of a listing the daemon has just finished: hyper completes the
//! connection once the last frame is in the kernel, drops the socket, and
//! the client sees "connection reset" a few hundred kilobytes before the
//! end. So every accepted connection closes the way web servers do it
//! (nginx's `lingering_close`): shut down the write side, which queues a FIN
//! behind the data, then read and discard until the client closes or
//! [`LINGER`] has passed.
//!
//! Lingering happens in a tracked task so that shutdown can wait for it
//! inside the same grace period as in-flight calls.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::task::TaskTracker;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How long a closed connection keeps reading what its peer still sends.
pub const LINGER: Duration = Duration::from_secs(2);

/// An accepted TCP connection that closes with a lingering close.
#[derive(Debug)]
pub struct LingeringTcp {
    /// `None` only after `Drop` handed the socket to the linger task.
    stream: Option<TcpStream>,
    tracker: TaskTracker,
}

impl LingeringTcp {
    /// Wraps an accepted connection; its linger task is tracked by `tracker`.
    pub fn new(stream: TcpStream, tracker: TaskTracker) -> Self {
        LingeringTcp {
            stream: Some(stream),
            tracker,
        }
    }

    fn stream(self: Pin<&mut Self>) -> io::Result<Pin<&mut TcpStream>> {
        match self.get_mut().stream.as_mut() {
            Some(s) => Ok(Pin::new(s)),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "connection closed")),
        }
    }
}

impl AsyncRead for LingeringTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for LingeringTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }
}

impl Connected for LingeringTcp {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match &self.stream {
            Some(s) => s.connect_info(),
            None => TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            },
        }
    }
}

impl Drop for LingeringTcp {
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        // Outside a runtime (never the case in the daemon) the socket just
        // closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.tracker.spawn_on(linger(stream), &runtime);
        }
    }
}

/// FIN after the queued data, then drain the peer until it closes.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client keeps sending after the server is done with the
    /// connection; the server's last bytes still arrive, followed by EOF,
    /// not a reset.
    #[tokio::test]
    async fn tail_arrives_although_the_peer_keeps_writing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tracker = TaskTracker::new();
        let server = {
            let tracker = tracker.clone();
            tokio::spawn(async move {
                let (socket, _) = listener.accept().await.unwrap();
                let mut conn = LingeringTcp::new(socket, tracker);
                // Wait until the client's bytes are queued, unread.
                tokio::time::sleep(Duration::from_millis(100)).await;
                conn.write_all(&vec![7u8; 4 << 20]).await.unwrap();
                drop(conn);
            })
        };
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(&[1u8; 64 << 10]).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.expect("EOF, not a reset");
        assert_eq!(received.len(), 4 << 20);
        server.await.unwrap();
        drop(client);
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("linger task ends when the client closes");
    }
}
