//! `DatagramBatch`: up to [`SLOTS`] requests from one `recvmmsg`.
//!
//! The ingest profile at 1M Starts put 11.6 % of rrasd's CPU in
//! `recvfrom`, about half of it the system call itself (entry, the file
//! lookup, the user-copy checks) rather than the datagram. A NAS under load
//! keeps its requests queued, so one `recvmmsg` takes what one wake-up finds
//! (docs/benchmarks-notebook.md has the before/after).
//!
//! Every slot holds one byte more than the largest legal packet, and
//! `MSG_TRUNC` makes the kernel report a longer datagram's real length: an
//! oversized datagram is told apart (and its size logged) without a 64 KiB
//! slot each.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::packet::MAX_LEN;

/// Datagrams taken by one system call, at most.
pub(super) const SLOTS: usize = 64;

/// Bytes kept of each datagram.
const SLOT_LEN: usize = MAX_LEN + 1;

/// Owned buffers (the batch lives across awaits in the receive loop, so it
/// holds no kernel-header pointers: those are built per call).
#[derive(Debug)]
pub(super) struct DatagramBatch {
    buffer: Vec<u8>,
    /// Length as the kernel reported it (may exceed the slot) and sender.
    received: Vec<(usize, SocketAddr)>,
}

impl Default for DatagramBatch {
    fn default() -> Self {
        DatagramBatch {
            buffer: vec![0; SLOTS * SLOT_LEN],
            received: Vec::with_capacity(SLOTS),
        }
    }
}

impl DatagramBatch {
    /// Takes what the socket holds, up to [`SLOTS`] datagrams, without
    /// waiting; `WouldBlock` when there is nothing (and tokio's readiness
    /// is cleared, so the next `readable()` waits). Returns how many came.
    pub(super) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received.clear();
        let DatagramBatch { buffer, received } = self;
        socket.try_io(Interest::READABLE, || {
            let mut slices: Vec<[io::IoSliceMut<'_>; 1]> = buffer
                .chunks_exact_mut(SLOT_LEN)
                .map(|slot| [io::IoSliceMut::new(slot)])
                .collect();
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(slices.len(), None);
            let messages = recvmmsg(
                socket.as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
                None,
            )
            .map_err(io::Error::from)?;
            for message in messages {
                // A datagram without a usable IP source cannot be answered:
                // it is skipped like one that never came.
                if let Some(peer) = message.address.as_ref().and_then(socket_addr) {
                    received.push((message.bytes, peer));
                }
            }
            Ok(())
        })?;
        Ok(self.received.len())
    }

    /// The `i`-th datagram taken by the last [`receive`](Self::receive): its
    /// bytes (at most a slot; `len` says whether more were cut off), its
    /// length as sent, and its sender.
    pub(super) fn get(&self, i: usize) -> Option<(&[u8], usize, SocketAddr)> {
        let &(len, peer) = self.received.get(i)?;
        let start = i.checked_mul(SLOT_LEN)?;
        let bytes = self.buffer.get(start..start + len.min(SLOT_LEN))?;
        Some((bytes, len, peer))
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (UdpSocket, UdpSocket) {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        client
            .connect(server.local_addr().expect("addr"))
            .await
            .expect("connect");
        (server, client)
    }

    #[tokio::test]
    async fn takes_queued_datagrams_in_order_with_their_sender() {
        let (server, client) = pair().await;
        for i in 0..(SLOTS + 5) {
            client.send(format!("datagram {i}").as_bytes()).await.expect("send");
        }
        server.readable().await.expect("readable");
        let mut batch = DatagramBatch::default();
        assert_eq!(batch.receive(&server).expect("first call"), SLOTS);
        let (bytes, len, peer) = batch.get(0).expect("first");
        assert_eq!(bytes, b"datagram 0");
        assert_eq!(len, bytes.len());
        assert_eq!(peer, client.local_addr().expect("addr"));
        assert_eq!(
            batch.get(SLOTS - 1).expect("last").0,
            format!("datagram {}", SLOTS - 1).as_bytes()
        );
        assert!(batch.get(SLOTS).is_none());
        assert_eq!(batch.receive(&server).expect("second call"), 5);
        assert_eq!(
            batch.get(4).expect("rest").0,
            format!("datagram {}", SLOTS + 4).as_bytes()
        );
        let empty = batch.receive(&server).expect_err("drained");
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
    }

    #[tokio::test]
    async fn an_oversized_datagram_reports_its_real_length_and_spares_the_next() {
        let (server, client) = pair().await;
        client.send(&vec![7u8; 9000]).await.expect("send big");
        client.send(b"small").await.expect("send small");
        server.readable().await.expect("readable");
        let mut batch = DatagramBatch::default();
        // Both may not be queued by the first call on every kernel; take
        // until both came.
        let mut seen = Vec::new();
        for _ in 0..100 {
            if let Ok(n) = batch.receive(&server) {
                for i in 0..n {
                    let (bytes, len, _) = batch.get(i).expect("datagram");
                    seen.push((bytes.to_vec(), len));
                }
            }
            if seen.len() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(seen.len(), 2, "both datagrams arrive");
        assert_eq!(seen[0].1, 9000, "the real length of the oversized one");
        assert_eq!(seen[0].0.len(), SLOT_LEN, "kept only up to its slot");
        assert_eq!(seen[1], (b"small".to_vec(), 5));
    }
}
