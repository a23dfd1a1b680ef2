//! One request/response exchange on an engine's control socket (WireGuard
//! UAPI, OpenVPN management, and the engines after them), in one place:
//! connect, write the request, read until the protocol says the reply is
//! complete — within a time limit and a size cap, whatever the engine
//! sends (an endless line, a stall, garbage) — and what each failure means
//! to an admin call, as a Win32 code.
//!
//! The protocol modules keep only what differs: the request bytes, when a
//! reply is complete, and how to parse it.

use std::io;
use std::path::Path;
use std::time::Duration;

use rras_core::Win32Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Bounds of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connect, request and the whole reply.
    pub timeout: Duration,
    /// Bytes the reply may have (some hundred thousand sessions' worth).
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(5),
            max_reply: 64 << 20,
        }
    }
}

/// Why an exchange with an engine failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nobody listens on the socket (refused, or no socket file): the
    /// engine process is gone.
    #[error("nobody listens on the control socket: {0}")]
    Gone(io::Error),
    /// The socket broke during the exchange.
    #[error("control socket: {0}")]
    Io(io::Error),
    /// No complete reply in time.
    #[error("the engine did not answer within {0:?}")]
    Timeout(Duration),
    /// The reply outgrew the cap before it was complete.
    #[error("the engine's reply is larger than {0} bytes")]
    TooLarge(usize),
    /// The reply is not what the protocol says.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// The engine answered with an error status (e.g. UAPI `errno=N`).
    #[error("the engine returned error status {0}")]
    Status(i64),
    /// The engine refused the command for this session (no such session).
    #[error("the engine refused: {0}")]
    Refused(String),
}

impl ControlError {
    /// True when the engine process is not there at all.
    pub fn is_gone(&self) -> bool {
        matches!(self, ControlError::Gone(_))
    }

    /// What an admin call that needed the engine (a hang-up) answers.
    pub fn win32(&self) -> Win32Error {
        match self {
            ControlError::Gone(_) | ControlError::Io(_) | ControlError::Timeout(_) => Win32Error::RpcServerUnavailable,
            ControlError::Refused(_) => Win32Error::NoConnection,
            ControlError::TooLarge(_) | ControlError::Malformed(_) | ControlError::Status(_) => {
                Win32Error::RpcCallFailed
            }
        }
    }
}

/// Sends `request` on `socket` and reads until `complete(reply)` is true
/// (checked after every read, so it should look at the reply's end only),
/// the engine closes the connection, or a limit is hit. The reply must be
/// UTF-8.
pub async fn exchange(
    socket: &Path,
    request: &[u8],
    limits: Limits,
    complete: impl Fn(&[u8]) -> bool,
) -> Result<String, ControlError> {
    let work = async {
        let mut stream = UnixStream::connect(socket).await.map_err(|e| match e.kind() {
            io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => ControlError::Gone(e),
            _ => ControlError::Io(e),
        })?;
        stream.write_all(request).await.map_err(ControlError::Io)?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await.map_err(ControlError::Io)?;
            if n == 0 {
                break;
            }
            if reply.len() + n > limits.max_reply {
                return Err(ControlError::TooLarge(limits.max_reply));
            }
            reply.extend_from_slice(&buf[..n]);
            if complete(&reply) {
                break;
            }
        }
        String::from_utf8(reply).map_err(|_| ControlError::Malformed("not UTF-8".into()))
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| ControlError::Timeout(limits.timeout))?
}

/// The last complete line of `reply` (without its `\n` or `\r\n`), if the
/// reply ends with a line break.
pub fn last_line(reply: &[u8]) -> Option<&[u8]> {
    let body = reply.strip_suffix(b"\n")?;
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    Some(match body.iter().rposition(|b| *b == b'\n') {
        Some(i) => &body[i + 1..],
        None => body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake engine that answers every connection with `reply` (then keeps
    /// the connection open), or with bytes forever.
    fn engine(dir: &Path, reply: Option<&'static [u8]>) -> std::path::PathBuf {
        let path = dir.join("engine.sock");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut req = [0u8; 256];
                    let _ = s.read(&mut req).await;
                    match reply {
                        Some(r) => {
                            let _ = s.write_all(r).await;
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        None => {
                            let junk = [b'x'; 8192];
                            while s.write_all(&junk).await.is_ok() {}
                        }
                    }
                });
            }
        });
        path
    }

    fn small() -> Limits {
        Limits {
            timeout: Duration::from_millis(500),
            max_reply: 1 << 20,
        }
    }

    #[tokio::test]
    async fn reads_until_complete_and_bounds_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let ok = engine(&dir.path().join(""), Some(b"a=1\r\nEND\r\n"));
        let got = exchange(&ok, b"status\n", small(), |r| last_line(r) == Some(b"END")).await;
        assert_eq!(got.unwrap(), "a=1\r\nEND\r\n");

        // Complete never comes: the engine stalls.
        let err = exchange(&ok, b"status\n", small(), |_| false).await.unwrap_err();
        assert!(matches!(err, ControlError::Timeout(_)), "{err}");
        assert_eq!(err.win32(), Win32Error::RpcServerUnavailable);

        // An endless line: capped, not buffered until the deadline.
        let sub = tempfile::tempdir().unwrap();
        let flood = engine(sub.path(), None);
        let err = exchange(&flood, b"get=1\n\n", small(), |r| r.ends_with(b"\n\n"))
            .await
            .unwrap_err();
        assert!(matches!(err, ControlError::TooLarge(_)), "{err}");

        // Nobody there.
        let err = exchange(&dir.path().join("none.sock"), b"x", small(), |_| true)
            .await
            .unwrap_err();
        assert!(err.is_gone(), "{err}");
    }

    #[test]
    fn last_line_handles_crlf_and_partial_lines() {
        assert_eq!(last_line(b"x\r\nEND\r\n"), Some(&b"END"[..]));
        assert_eq!(last_line(b"END\n"), Some(&b"END"[..]));
        assert_eq!(last_line(b"x\nEN"), None);
        assert_eq!(last_line(b"errno=0\n\n"), Some(&b""[..]));
    }
}
