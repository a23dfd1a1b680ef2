//! `AnswerSender`: a batch's Accounting-Responses, sent together.
//!
//! A batch's answers go out at once, when its commit is durable. Sending a
//! datagram costs almost nothing per byte and a lot per datagram (route,
//! IP output, the device; on loopback also the receiving side's softirq):
//! the ingest profile at 1M Starts put 23 % of rrasd's CPU in `sendto`,
//! 2.7 % of it in the part that is per datagram on arrival. Answers to one
//! NAS have one size (an Accounting-Response carries no attributes), so up
//! to [`MAX_SEGMENTS`] of them leave as one UDP GSO send (`UDP_SEGMENT`,
//! Linux 4.18): one trip through the stack, cut into the same datagrams at
//! its end (by the NIC, the kernel's software GSO, or the receiving socket
//! on loopback). The NAS sees exactly what one `sendto` per answer sends.
//! If the kernel refuses, every answer goes alone from then on.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, SockaddrStorage};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams in one GSO send, at most (the kernel's `UDP_MAX_SEGMENTS` was
/// 64 before Linux 6.x raised it to 128).
pub(super) const MAX_SEGMENTS: usize = 64;

/// The largest UDP payload one send may carry.
const MAX_UDP_PAYLOAD: usize = 65_507;

/// Sends answers, coalescing those to one peer while the kernel lets it.
#[derive(Debug)]
pub(super) struct AnswerSender {
    segmentation: AtomicBool,
}

impl Default for AnswerSender {
    fn default() -> Self {
        AnswerSender {
            segmentation: AtomicBool::new(true),
        }
    }
}

impl AnswerSender {
    /// Sends every answer once; the answers to one peer keep their order.
    /// A failed send is logged and the NAS retransmits (its answer is in the
    /// retransmission cache by now).
    pub(super) async fn send<B: AsRef<[u8]>>(&self, socket: &UdpSocket, answers: &[(SocketAddr, B)]) {
        for run in runs(answers) {
            let (peer, first) = &answers[run[0]];
            if run.len() > 1 && self.segmentation.load(Ordering::Relaxed) {
                let size = u16::try_from(first.as_ref().len()).unwrap_or(u16::MAX);
                let parts: Vec<IoSlice<'_>> = run.iter().map(|&i| IoSlice::new(answers[i].1.as_ref())).collect();
                match send_segmented(socket, *peer, &parts, size).await {
                    Ok(()) => continue,
                    Err(e) => {
                        tracing::warn!(%peer, "UDP segmentation offload refused ({e}): answers go one datagram each");
                        self.segmentation.store(false, Ordering::Relaxed);
                    }
                }
            }
            for &i in &run {
                let (peer, bytes) = &answers[i];
                if let Err(e) = socket.send_to(bytes.as_ref(), *peer).await {
                    tracing::warn!(%peer, "cannot send Accounting-Response: {e}");
                }
            }
        }
    }
}

/// Indices of `answers` in runs that may share one GSO send: same peer,
/// same length, in their original order, each run within the kernel's
/// limits.
fn runs<B: AsRef<[u8]>>(answers: &[(SocketAddr, B)]) -> Vec<Vec<usize>> {
    let len_of = |i: usize| answers[i].1.as_ref().len();
    let mut order: Vec<usize> = (0..answers.len()).collect();
    // Stable: a peer's answers stay in the order their requests came.
    order.sort_by_key(|&i| (answers[i].0, len_of(i)));
    let mut runs = Vec::new();
    for same in order.chunk_by(|&a, &b| answers[a].0 == answers[b].0 && len_of(a) == len_of(b)) {
        let len = len_of(same[0]).max(1);
        let per_send = MAX_SEGMENTS.min(MAX_UDP_PAYLOAD / len).max(1);
        runs.extend(same.chunks(per_send).map(<[usize]>::to_vec));
    }
    runs
}

/// One `sendmsg` whose payload the kernel cuts into `size`-byte datagrams.
async fn send_segmented(socket: &UdpSocket, peer: SocketAddr, parts: &[IoSlice<'_>], size: u16) -> io::Result<()> {
    let to = SockaddrStorage::from(peer);
    socket
        .async_io(Interest::WRITABLE, || {
            sendmsg(
                socket.as_raw_fd(),
                parts,
                &[ControlMessage::UdpGsoSegments(&size)],
                MsgFlags::empty(),
                Some(&to),
            )
            .map(|_| ())
            .map_err(io::Error::from)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(peer: &str, len: usize, tag: u8) -> (SocketAddr, Vec<u8>) {
        (peer.parse().unwrap(), vec![tag; len])
    }

    #[test]
    fn runs_group_by_peer_and_length_in_order_within_limits() {
        let mut answers = vec![
            answer("127.0.0.1:1000", 20, 0),
            answer("127.0.0.2:1000", 20, 1),
            answer("127.0.0.1:1000", 20, 2),
            answer("127.0.0.1:1000", 26, 3),
            answer("127.0.0.1:1001", 20, 4),
            answer("127.0.0.1:1000", 20, 5),
        ];
        let runs = runs(&answers);
        let tags: Vec<Vec<u8>> = runs
            .iter()
            .map(|r| r.iter().map(|&i| answers[i].1[0]).collect())
            .collect();
        assert_eq!(tags, vec![vec![0, 2, 5], vec![3], vec![4], vec![1]]);
        // Never more than MAX_SEGMENTS, nor more bytes than one datagram holds.
        answers = (0..150).map(|i| answer("127.0.0.1:1000", 20, i as u8)).collect();
        let sizes: Vec<usize> = runs_len(&answers);
        assert_eq!(sizes, vec![64, 64, 22]);
        answers = (0..40).map(|i| answer("127.0.0.1:1000", 4096, i as u8)).collect();
        assert_eq!(runs_len(&answers), vec![15, 15, 10]);
    }

    fn runs_len(answers: &[(SocketAddr, Vec<u8>)]) -> Vec<usize> {
        runs(answers).iter().map(Vec::len).collect()
    }

    /// The receiver gets one datagram per answer, byte for byte, in order.
    #[tokio::test]
    async fn a_coalesced_send_arrives_as_separate_datagrams() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let nas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to_nas = nas.local_addr().unwrap();
        let to_other = other.local_addr().unwrap();
        let mut answers: Vec<_> = (0..100u8)
            .map(|i| (to_nas, [[i; 4], [0xa5; 4], [i; 4], [0x5a; 4], [i; 4]].concat()))
            .collect();
        answers.push((to_other, vec![7; 33]));
        answers.push((to_nas, vec![9; 21]));
        let sender = AnswerSender::default();
        sender.send(&server, &answers).await;
        assert!(
            sender.segmentation.load(Ordering::Relaxed),
            "this kernel refused UDP_SEGMENT"
        );
        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        for _ in 0..101 {
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), nas.recv(&mut buf))
                .await
                .expect("an answer went missing")
                .unwrap();
            got.push(buf[..n].to_vec());
        }
        let mut expected: Vec<Vec<u8>> = answers.iter().filter(|a| a.0 == to_nas).map(|a| a.1.clone()).collect();
        // The odd-sized answer travels in its own run, after the others.
        expected.sort_by_key(Vec::len);
        got.sort_by_key(Vec::len);
        assert_eq!(got, expected);
        let n = other.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[7; 33][..]);
    }

    /// Once the kernel has refused segmentation, a run goes one datagram
    /// per answer, in order.
    #[tokio::test]
    async fn without_segmentation_every_answer_goes_alone() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let nas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to_nas = nas.local_addr().unwrap();
        let answers: Vec<_> = (0..10u8).map(|i| (to_nas, [i; 20])).collect();
        let sender = AnswerSender {
            segmentation: AtomicBool::new(false),
        };
        sender.send(&server, &answers).await;
        let mut buf = [0u8; 64];
        for i in 0..10u8 {
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), nas.recv(&mut buf))
                .await
                .expect("an answer went missing")
                .unwrap();
            assert_eq!(&buf[..n], &[i; 20][..]);
        }
    }
}
