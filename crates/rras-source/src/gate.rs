//! Every listener's doorman (web console, admin TLS, admin Unix socket,
//! metrics, RadSec): how many connections it holds, how many one client may hold,
//! and how long a connection may sit without doing anything.
//!
//! - **Caps.** At most `max_connections` per listener and
//!   `max_per_client` per client address (TCP) or uid (Unix socket). A
//!   client over its own cap is refused — it can only crowd itself out.
//!   When the listener is full, the quietest connection of the client that
//!   holds the most is closed to make room, so thousands of idle sockets
//!   from many addresses cannot lock out a fresh admin with one.
//! - **Handshake deadline.** A connection to which the server has written
//!   nothing `handshake` after it was accepted is closed: a TLS client that
//!   never finishes its ClientHello, an HTTP client that never finishes its
//!   request head (slowloris) — whatever the protocol above.
//! - **Idle timeout.** A connection on which nothing was read or written
//!   for `idle` is closed.
//!
//! [`GuardedIo`] enforces the last two beneath TLS and HTTP; the caps are
//! checked at accept, O(1) except when the listener is full (a scan of
//! its connections, at most `max_connections`).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The limits of one listener (`[listeners]` in rrasd.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateLimits {
    /// Connections at once.
    pub max_connections: usize,
    /// Connections at once from one address (TCP) or uid (Unix socket).
    pub max_per_client: usize,
    /// Seconds without a byte either way before a connection is closed.
    pub idle_secs: u64,
    /// Seconds from accept until the server must have answered something
    /// (TLS handshake, first request head).
    pub handshake_secs: u64,
}

impl Default for GateLimits {
    fn default() -> Self {
        GateLimits {
            max_connections: 1024,
            max_per_client: 128,
            idle_secs: 120,
            handshake_secs: 10,
        }
    }
}

impl GateLimits {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_connections == 0 || self.max_per_client == 0 || self.idle_secs == 0 || self.handshake_secs == 0 {
            return Err("max_connections, max_per_client, idle_secs and handshake_secs must be at least 1".into());
        }
        // Deadlines are clock readings plus these: bounded, they cannot overflow.
        if self.idle_secs > MAX_IDLE_SECS || self.handshake_secs > MAX_HANDSHAKE_SECS {
            return Err(format!(
                "idle_secs must be at most {MAX_IDLE_SECS} (a week) and handshake_secs at most {MAX_HANDSHAKE_SECS}"
            ));
        }
        Ok(())
    }
}

/// The longest idle time a listener may allow.
const MAX_IDLE_SECS: u64 = 7 * 86_400;
/// The longest handshake time a listener may allow.
const MAX_HANDSHAKE_SECS: u64 = 3600;

/// Who a connection counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// A TCP peer's address.
    Ip(IpAddr),
    /// A Unix socket peer's uid.
    Uid(u32),
}

/// One admitted connection's shared state.
#[derive(Debug)]
struct Activity {
    /// Milliseconds since the gate's epoch of the last byte either way.
    last: AtomicU64,
    /// Cancelled to close the connection (evicted to make room).
    evict: CancellationToken,
    key: ClientKey,
}

#[derive(Debug, Default)]
struct GateState {
    per_client: HashMap<ClientKey, usize>,
    live: HashMap<u64, Arc<Activity>>,
    next: u64,
}

/// A listener's caps and timeouts.
#[derive(Debug)]
pub struct ConnectionGate {
    name: &'static str,
    limits: GateLimits,
    epoch: Instant,
    state: Mutex<GateState>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The client already holds its share.
    #[error("this client already holds {0} connections")]
    ClientCap(usize),
}

impl ConnectionGate {
    /// A gate for the listener called `name` (in logs).
    pub fn new(name: &'static str, limits: GateLimits) -> Arc<Self> {
        Arc::new(ConnectionGate {
            name,
            limits,
            epoch: Instant::now(),
            state: Mutex::new(GateState::default()),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Admits a connection from `key`, closing the quietest one when the
    /// listener is full.
    pub fn admit(self: &Arc<Self>, key: ClientKey) -> Result<Admission, Refused> {
        let mut state = self.state.lock();
        let mine = state.per_client.get(&key).copied().unwrap_or(0);
        if mine >= self.limits.max_per_client {
            return Err(Refused::ClientCap(mine));
        }
        if state.live.len() >= self.limits.max_connections {
            // The quietest connection of the client holding the most —
            // the newcomer's own client first when, with it, that is
            // this client.
            let heaviest = state.per_client.values().copied().max().unwrap_or(0);
            let victims = |k: &ClientKey| {
                if mine > 0 && mine + 1 >= heaviest {
                    *k == key
                } else {
                    state.per_client.get(k).copied().unwrap_or(0) == heaviest
                }
            };
            let quietest = state
                .live
                .iter()
                .filter(|(_, a)| victims(&a.key))
                .min_by_key(|(_, a)| a.last.load(Ordering::Relaxed))
                .map(|(id, a)| (*id, a.clone()));
            if let Some((id, activity)) = quietest {
                tracing::debug!(listener = self.name, ?activity.key, "listener full: closing its quietest connection");
                activity.evict.cancel();
                // Counted out now, so the new one fits; its task ends soon.
                state.live.remove(&id);
                Self::count_out(&mut state, activity.key);
            }
        }
        let id = state.next;
        state.next += 1;
        let activity = Arc::new(Activity {
            last: AtomicU64::new(self.now_ms()),
            evict: CancellationToken::new(),
            key,
        });
        state.live.insert(id, activity.clone());
        *state.per_client.entry(key).or_insert(0) += 1;
        Ok(Admission {
            gate: self.clone(),
            id,
            activity,
        })
    }

    fn count_out(state: &mut GateState, key: ClientKey) {
        if let Some(n) = state.per_client.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                state.per_client.remove(&key);
            }
        }
    }

    /// Connections held now.
    pub fn len(&self) -> usize {
        self.state.lock().live.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The limits.
    pub fn limits(&self) -> GateLimits {
        self.limits
    }
}

/// A connection's place at the gate; leaving it (drop) frees the place.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<ConnectionGate>,
    id: u64,
    activity: Arc<Activity>,
}

impl Admission {
    /// `io` with the gate's handshake deadline and idle timeout.
    pub fn guard<IO>(self, io: IO) -> GuardedIo<IO> {
        let limits = self.gate.limits;
        let now = tokio::time::Instant::now();
        GuardedIo {
            io,
            idle_after: Duration::from_secs(limits.idle_secs),
            idle: Box::pin(tokio::time::sleep_until(now + Duration::from_secs(limits.idle_secs))),
            handshake: Some(Box::pin(tokio::time::sleep_until(
                now + Duration::from_secs(limits.handshake_secs),
            ))),
            evicted: Box::pin(self.activity.evict.clone().cancelled_owned()),
            admission: self,
        }
    }

    fn touch(&self) {
        self.activity.last.store(self.gate.now_ms(), Ordering::Relaxed);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.gate.state.lock();
        // An evicted connection was counted out when it was evicted.
        if state.live.remove(&self.id).is_some() {
            ConnectionGate::count_out(&mut state, self.activity.key);
        }
    }
}

/// A stream that fails with `TimedOut` when its handshake deadline or idle
/// timeout passes, and with `ConnectionAborted` when evicted; the protocol
/// above then closes the connection.
pub struct GuardedIo<IO> {
    io: IO,
    idle_after: Duration,
    idle: Pin<Box<Sleep>>,
    handshake: Option<Pin<Box<Sleep>>>,
    evicted: Pin<Box<WaitForCancellationFutureOwned>>,
    admission: Admission,
}

impl<IO> std::fmt::Debug for GuardedIo<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedIo")
            .field("admission", &self.admission)
            .finish_non_exhaustive()
    }
}

impl<IO> GuardedIo<IO> {
    /// Err when the connection must close now.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.evicted.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "listener full: quietest connection closed",
            ));
        }
        if let Some(deadline) = &mut self.handshake {
            if deadline.as_mut().poll(cx).is_ready() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "nothing answered before the handshake deadline",
                ));
            }
        }
        if self.idle.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection closed"));
        }
        Ok(())
    }

    /// After a write: anything written answers the handshake deadline
    /// and is progress.
    fn wrote(&mut self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.handshake = None;
            self.progressed();
        }
    }

    fn progressed(&mut self) {
        self.idle.as_mut().reset(tokio::time::Instant::now() + self.idle_after);
        self.admission.touch();
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for GuardedIo<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.check(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for GuardedIo<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        let written = Pin::new(&mut self.io).poll_write(cx, data);
        self.wrote(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A gRPC server (the admin listeners) asks the guarded socket who is on
/// the other end.
#[cfg(feature = "tonic")]
impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected for GuardedIo<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(max: usize, per: usize) -> GateLimits {
        GateLimits {
            max_connections: max,
            max_per_client: per,
            idle_secs: 5,
            handshake_secs: 2,
        }
    }

    fn ip(last: u8) -> ClientKey {
        ClientKey::Ip(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn a_client_over_its_share_is_refused_and_a_full_gate_closes_the_quietest() {
        let gate = ConnectionGate::new("test", limits(3, 2));
        let b1 = gate.admit(ip(2)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let a1 = gate.admit(ip(1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let a2 = gate.admit(ip(1)).unwrap();
        assert_eq!(gate.admit(ip(1)).unwrap_err(), Refused::ClientCap(2));
        std::thread::sleep(Duration::from_millis(5));
        a1.touch();
        // Full: b1 is the quietest of all, but client 1 holds the most;
        // its quietest (a2, untouched since admission) goes.
        let c1 = gate.admit(ip(3)).unwrap();
        assert_eq!(gate.len(), 3);
        assert!(a2.activity.evict.is_cancelled());
        assert!(!a1.activity.evict.is_cancelled() && !b1.activity.evict.is_cancelled());
        // a2 was counted out: client 1 may connect again (evicting its own a1).
        let a3 = gate.admit(ip(1)).unwrap();
        assert!(!b1.activity.evict.is_cancelled() && !c1.activity.evict.is_cancelled());
        drop((a1, a2, a3, b1, c1));
        assert!(gate.is_empty());
    }

    #[test]
    fn dropping_admissions_frees_their_places() {
        let gate = ConnectionGate::new("test", limits(10, 10));
        let all: Vec<_> = (0..10).map(|i| gate.admit(ip(i)).unwrap()).collect();
        assert_eq!(gate.len(), 10);
        drop(all);
        assert!(gate.is_empty());
        assert!(gate.state.lock().per_client.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn silent_peers_are_cut_at_the_handshake_deadline_then_at_idle() {
        let gate = ConnectionGate::new("test", limits(10, 10));
        // Nothing ever written: cut at the handshake deadline (2 s).
        let (mut server, _client) = tokio::io::duplex(64);
        let mut guarded = gate.admit(ip(1)).unwrap().guard(&mut server);
        let mut buf = [0u8; 8];
        let started = tokio::time::Instant::now();
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed().as_secs(), 2);
        drop(guarded);
        // Answered once: then only the idle timeout (5 s) applies, reset by traffic.
        let (mut server, mut client) = tokio::io::duplex(64);
        let mut guarded = gate.admit(ip(1)).unwrap().guard(&mut server);
        guarded.write_all(b"hello").await.unwrap();
        client.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 1);
        let started = tokio::time::Instant::now();
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed().as_secs(), 5);
    }

    #[tokio::test]
    async fn an_evicted_connection_fails_its_next_read() {
        let gate = ConnectionGate::new("test", limits(1, 1));
        let (mut server, _client) = tokio::io::duplex(64);
        let mut guarded = gate.admit(ip(1)).unwrap().guard(&mut server);
        let _newcomer = gate.admit(ip(2)).unwrap();
        let mut buf = [0u8; 8];
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
    }
}
