//! RADIUS over TLS (RadSec, RFC 6614): accounting from clients that
//! connect over TCP (usually port 2083) and prove who they are with a
//! certificate from `radsec_client_ca`. A client is the entry whose
//! `radsec_name` its certificate carries and whose `cidr` holds the
//! connection's source; after that its packets go through exactly what
//! UDP's do — the authenticator (secret "radsec", RFC 6614 §2.3), the
//! retransmission cache, client scoping, staging, the group commit — and
//! each answer is written back on the connection once durable.
//!
//! The stream carries RADIUS packets back to back, each as long as its
//! Length field says (RFC 6613 §2.1); a length outside 20..=4096 loses
//! the framing, so the connection is closed. Before a certificate is
//! verified, a connection costs one task and a bounded handshake time.
//! The listener stands behind the same [`ConnectionGate`] as every admin
//! listener: `radsec_max_connections` at once, [`MAX_PER_CLIENT`] from one
//! address (the quietest of the heaviest client makes room when full),
//! idle ones closed after `radsec_idle_secs`. A packet begun must finish
//! within [`FRAME_TIMEOUT`] of its first byte, however slowly it trickles.
//! Status-Server (RFC 5997) is answered here as on UDP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use rras_source::gate::{ClientKey, ConnectionGate, GateLimits, GuardedIo};
use rras_source::SourceError;

use super::packet::{MAX_LEN, MIN_LEN};
use super::{settle, stage_request, Screened, Shared};

/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Once a packet's first bytes arrived, the rest must within this.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections one address may hold: a NAS or a proxy needs a few.
pub const MAX_PER_CLIENT: usize = 32;

/// Requests of one connection staged and not yet answered, at most: past
/// it the connection is not read until answers drain (TCP pushes back).
const WINDOW: usize = 1024;

/// Why a stream's framing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RADIUS length field {0} outside {MIN_LEN}..={MAX_LEN}")]
pub struct FrameError(pub usize);

/// The length of the first whole packet at the front of `buffered`: None
/// while it is incomplete, an error when its Length field is impossible
/// (the stream cannot be resynchronised).
pub fn next_frame(buffered: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(header) = buffered.get(..4) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(FrameError(len));
    }
    Ok((buffered.len() >= len).then_some(len))
}

/// Binds the RadSec listener; the returned task serves it until `stop`.
pub(super) async fn start(
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, SourceError> {
    let config = &shared.config;
    let (Some(addr), Some(cert), Some(key)) = (config.radsec_listen, &config.radsec_cert, &config.radsec_key) else {
        return Err(SourceError::Config(
            "radius.radsec_listen needs radsec_cert and radsec_key".into(),
        ));
    };
    let tls = rras_source::tls::server_config(
        "radius.radsec_",
        cert,
        key,
        config.radsec_client_ca.as_deref(),
        None,
        rras_source::tls::ClientCertificates::Required,
    )
    .map_err(SourceError::Config)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind(addr).await.map_err(|source| SourceError::Open {
        what: format!("radius radsec {addr}"),
        source,
    })?;
    tracing::info!(%addr, "RADIUS/TLS (RadSec) listening");
    Ok(tokio::spawn(serve(shared, listener, acceptor, stop)))
}

async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    mut stop: watch::Receiver<bool>,
) {
    let max = shared.config.radsec_max_connections;
    let gate = ConnectionGate::new(
        "radsec",
        GateLimits {
            max_connections: max,
            max_per_client: MAX_PER_CLIENT.min(max),
            idle_secs: shared.config.radsec_idle_secs,
            handshake_secs: HANDSHAKE_TIMEOUT.as_secs(),
        },
    );
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!("RadSec accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let admission = match gate.admit(ClientKey::Ip(peer.ip())) {
            Ok(a) => a,
            Err(e) => {
                shared.drop_packet(peer, "radsec-busy", &e);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tcp = admission.guard(tcp);
        let (shared, acceptor, stop) = (shared.clone(), acceptor.clone(), stop.clone());
        tokio::spawn(async move { connection(&shared, &acceptor, tcp, peer, stop).await });
    }
}

/// One client's connection: handshake, identity, then packets until it
/// closes, idles out or breaks the framing.
async fn connection(
    shared: &Arc<Shared>,
    acceptor: &tokio_rustls::TlsAcceptor,
    tcp: GuardedIo<TcpStream>,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return shared.drop_packet(peer, "radsec-handshake", &e),
        Err(_) => return shared.drop_packet(peer, "radsec-handshake", &"TLS handshake timed out"),
    };
    let client = {
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
        shared.config.clients.iter().position(|c| {
            c.contains(peer.ip())
                && c.radsec_name
                    .as_deref()
                    .zip(leaf)
                    .is_some_and(|(name, leaf)| rras_source::tls::certificate_names(leaf, name))
        })
    };
    let Some(client) = client else {
        return shared.drop_packet(
            peer,
            "unknown-client",
            &"RadSec certificate names no client entry for this address",
        );
    };
    tracing::debug!(%peer, client = %shared.config.clients[client].name, "RadSec client connected");
    let (mut reader, mut writer) = tokio::io::split(tls);
    let (answers, mut outgoing) = mpsc::channel::<Vec<u8>>(WINDOW);
    let writing = tokio::spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut buffered = BytesMut::with_capacity(MAX_LEN * 2);
    // When the packet now in the buffer must be whole.
    let mut frame_due: Option<tokio::time::Instant> = None;
    loop {
        match next_frame(&buffered) {
            Ok(Some(len)) => {
                let frame = buffered.split_to(len).freeze();
                frame_due = None;
                let Ok(slot) = window.clone().acquire_owned().await else {
                    break;
                };
                handle(shared, client, peer, &frame, &answers, slot).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                shared.drop_packet(peer, "malformed", &e);
                break;
            }
        }
        // A silent client is the gate's (its idle timeout); a packet begun
        // has FRAME_TIMEOUT from its first byte, however slowly it trickles.
        if buffered.is_empty() {
            frame_due = None;
        } else if frame_due.is_none() {
            frame_due = Some(tokio::time::Instant::now() + FRAME_TIMEOUT);
        }
        let reading = reader.read_buf(&mut buffered);
        let read = tokio::select! {
            r = async {
                match frame_due {
                    Some(due) => tokio::time::timeout_at(due, reading).await,
                    None => Ok(reading.await),
                }
            } => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) => {
                tracing::debug!(%peer, "RadSec packet not finished in time: closed");
                break;
            }
        }
    }
    // Answers still being made durable are written before the close.
    drop(answers);
    let _ = writing.await;
}

/// One packet of an identified client.
async fn handle(
    shared: &Arc<Shared>,
    client: usize,
    peer: SocketAddr,
    frame: &[u8],
    answers: &mpsc::Sender<Vec<u8>>,
    slot: tokio::sync::OwnedSemaphorePermit,
) {
    let (job, packet) = match shared.screen(frame, peer, client) {
        Screened::Answer(answer) => {
            let _ = answers.send(answer).await;
            return;
        }
        Screened::Done => return,
        Screened::Job(job, packet) => (job, packet),
    };
    let Some(staged) = stage_request(shared, &job, &packet) else {
        shared.answers.lock().remove(&job.request);
        return;
    };
    let (shared, answers) = (shared.clone(), answers.clone());
    tokio::spawn(async move {
        for (_, answer) in settle(&shared, vec![(job, staged, slot)]).await {
            let _ = answers.send(answer.to_vec()).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_by_their_length_field() {
        assert_eq!(next_frame(&[]), Ok(None));
        assert_eq!(next_frame(&[4, 1, 0]), Ok(None));
        assert_eq!(next_frame(&[4, 1, 0, 20]), Ok(None), "header only");
        let mut two = vec![4, 1, 0, 20];
        two.extend([0; 16]);
        two.extend([4, 2, 0, 22]);
        assert_eq!(next_frame(&two), Ok(Some(20)));
        assert_eq!(next_frame(&two[20..]), Ok(None));
        assert_eq!(next_frame(&[4, 1, 0, 19]), Err(FrameError(19)));
        assert_eq!(next_frame(&[4, 1, 0x10, 1]), Err(FrameError(4097)));
    }
}
