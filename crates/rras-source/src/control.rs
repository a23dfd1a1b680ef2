//! One request/response exchange on an engine's control socket (WireGuard
//! UAPI, OpenVPN management, and the engines after them), in one place:
//! connect, write the request, read until the protocol says the reply is
//! complete — within a time limit and a size cap, whatever the engine
//! sends (an endless line, a stall, garbage) — and what each failure means
//! to an admin call, as a Win32 code.
//!
//! The protocol modules keep only what differs: the request bytes, when a
//! reply is complete, and how to parse it. Engines whose control interface
//! is a command (`occtl`) go through [`run`], with the same bounds.

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
    /// The engine did not accept our credentials (a wrong admin password).
    #[error("the engine refused our credentials: {0}")]
    Denied(String),
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
            ControlError::Denied(_) => Win32Error::AccessDenied,
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

/// Runs an engine's control command and returns its standard output,
/// within the same limits: the output is capped, the command is killed at
/// the time limit (and whenever the future is dropped). A command that
/// exits non-zero is `Refused` with the first line it printed.
pub async fn run(program: &str, args: &[&str], limits: Limits) -> Result<String, ControlError> {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ControlError::Io(io::Error::new(e.kind(), format!("{program}: {e}"))))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ControlError::Io(io::Error::other("no pipes to the command")));
    };
    let work = async {
        let (out, err) = tokio::join!(read_capped(stdout, limits.max_reply), read_capped(stderr, 64 * 1024));
        let status = child.wait().await.map_err(ControlError::Io)?;
        let out = out?;
        if !status.success() {
            let err = err.unwrap_or_default();
            let said = first_line(&err).or_else(|| first_line(&out)).unwrap_or_default();
            return Err(ControlError::Refused(format!("{program} exited with {status}: {said}")));
        }
        String::from_utf8(out).map_err(|_| ControlError::Malformed("not UTF-8".into()))
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| ControlError::Timeout(limits.timeout))?
}

async fn read_capped(mut from: impl tokio::io::AsyncRead + Unpin, cap: usize) -> Result<Vec<u8>, ControlError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await.map_err(ControlError::Io)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > cap {
            return Err(ControlError::TooLarge(cap));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The first non-empty line, trimmed and cut to 200 characters.
fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
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

    #[tokio::test]
    async fn commands_are_bounded_and_their_failures_named() {
        let out = run("sh", &["-c", "printf 'a\\nb\\n'"], small()).await.unwrap();
        assert_eq!(out, "a\nb\n");
        let err = run("sh", &["-c", "echo 'no such id' >&2; exit 1"], small())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ControlError::Refused(m) if m.contains("no such id")),
            "{err}"
        );
        assert_eq!(err.win32(), Win32Error::NoConnection);
        let err = run("sh", &["-c", "sleep 5"], small()).await.unwrap_err();
        assert!(matches!(err, ControlError::Timeout(_)), "{err}");
        let err = run("sh", &["-c", "yes"], small()).await.unwrap_err();
        assert!(matches!(err, ControlError::TooLarge(_)), "{err}");
        let err = run("/nonexistent/occtl", &[], small()).await.unwrap_err();
        assert!(matches!(err, ControlError::Io(_)), "{err}");
    }

    #[test]
    fn last_line_handles_crlf_and_partial_lines() {
        assert_eq!(last_line(b"x\r\nEND\r\n"), Some(&b"END"[..]));
        assert_eq!(last_line(b"END\n"), Some(&b"END"[..]));
        assert_eq!(last_line(b"x\nEN"), None);
        assert_eq!(last_line(b"errno=0\n\n"), Some(&b""[..]));
    }
}
