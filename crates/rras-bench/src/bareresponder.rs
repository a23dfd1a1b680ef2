//! `BareResponder`: the ingest floor of this machine. The same load
//! generator, window and packets as the ingest scenario, aimed at a RADIUS
//! accounting server that does only what no server can skip — receive,
//! decode, check the request authenticator, sign and send the answer — and
//! keeps nothing: no table, no journal, no fsync. Its acks per second are
//! what the generator and the kernel's loopback UDP leave on these cores;
//! a durable server beside it cannot be faster.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::process_stats::cpu_secs_in;
use rras_sources::radius::packet::{accounting_response, request_authenticator_ok, PacketView, ACCOUNTING_REQUEST};

/// A responder on a loopback UDP port, answering on `threads` threads.
pub(crate) struct BareResponder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    /// Each thread's CPU seconds, read by itself as it ends.
    threads: Vec<JoinHandle<f64>>,
}

impl BareResponder {
    /// Binds a loopback port and starts answering.
    pub(crate) fn start(secret: &[u8], threads: usize) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        // rrasd's receive buffer: the default drops bursts of the window.
        rras_sources::radius::grow_receive_buffer(&socket);
        // Stops within this long once asked.
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for _ in 0..threads.max(1) {
            let (socket, stop, answered, secret) =
                (socket.try_clone()?, stop.clone(), answered.clone(), secret.to_vec());
            handles.push(std::thread::spawn(move || answer(&socket, &secret, &stop, &answered)));
        }
        Ok(BareResponder {
            addr,
            stop,
            answered,
            threads: handles,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it; how many requests it answered, and the CPU seconds its
    /// threads used.
    pub(crate) fn stop(self) -> (u64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let cpu = self.threads.into_iter().filter_map(|t| t.join().ok()).sum();
        (self.answered.load(Ordering::Relaxed), cpu)
    }
}

fn answer(socket: &UdpSocket, secret: &[u8], stop: &AtomicBool, answered: &AtomicU64) -> f64 {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue; // the read timeout: look at `stop` again
        };
        let datagram = &buf[..n];
        // rrasd's own decoder and answer (what it does per request, minus
        // the table, the disk and the batching).
        let Ok(request) = PacketView::decode(datagram) else {
            continue;
        };
        if request.code != ACCOUNTING_REQUEST || !request_authenticator_ok(datagram, secret) {
            continue;
        }
        let response = accounting_response(request.identifier, &request.authenticator, secret);
        if socket.send_to(&response, from).is_ok() {
            answered.fetch_add(1, Ordering::Relaxed);
        }
    }
    cpu_secs_in("/proc/thread-self/stat")
}
