//! RADIUS over TLS (RFC 6614) into the real `rrasd`: radclient's UDP
//! forwarded by Debian's radsecproxy as RadSec, certificates mapped to
//! client entries with the same scoping as UDP, Status-Server (RFC 5997)
//! on UDP and TLS, idle connections closed, and hang-ups sent over TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rras_client::AdminClient;
use rras_core::{Connection, Win32Error};
use rras_sources::radius::packet::{
    message_authenticator_ok, request_authenticator_ok, response_authenticator_ok, Packet,
};
use rras_testkit::pki::{TestPki, RADSEC_NAME};
use rras_testkit::{free_tcp_port, free_udp_port, radclient, require_tool, runtime, wait_for, DaemonProcess};

const UDP_SECRET: &str = "udp-secret";

/// rrasd with a UDP listener (one direct client) and a RadSec listener
/// whose one client is the certificate `RADSEC_NAME` from 127.0.0.1,
/// speaking for 10.30.0.0/16; `coa` is where its hang-ups go.
struct Lab {
    daemon: DaemonProcess,
    pki: TestPki,
    udp: u16,
    radsec: u16,
    dir: tempfile::TempDir,
}

impl Lab {
    fn start(coa: Option<u16>, idle_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new(dir.path());
        let (udp, radsec) = (free_udp_port(), free_tcp_port());
        let coa = coa.map(|p| format!(", coa = \"127.0.0.1:{p}\"")).unwrap_or_default();
        let cfg = dir.path().join("rrasd.toml");
        std::fs::write(
            &cfg,
            format!(
                "[radius]\nlisten = \"127.0.0.1:{udp}\"\nradsec_listen = \"127.0.0.1:{radsec}\"\n\
                 radsec_cert = \"{}\"\nradsec_key = \"{}\"\nradsec_client_ca = \"{}\"\nradsec_idle_secs = {idle_secs}\n\
                 clients = [\n  {{ cidr = \"127.0.0.1\", secret = \"{UDP_SECRET}\", name = \"direct\" }},\n\
                   {{ cidr = \"127.0.0.1\", radsec_name = \"{RADSEC_NAME}\", name = \"tls-proxy\", nas = [\"10.30.0.0/16\"]{coa} }},\n]\n",
                pki.server.cert.display(),
                pki.server.key.display(),
                pki.ca.display()
            ),
        )
        .unwrap();
        let daemon = DaemonProcess::start(
            Path::new(env!("CARGO_BIN_EXE_rrasd")),
            &["--config", cfg.to_str().unwrap()],
        );
        Lab {
            daemon,
            pki,
            udp,
            radsec,
            dir,
        }
    }

    fn connections(&self) -> Vec<Connection> {
        runtime().block_on(async {
            AdminClient::connect(&self.daemon.addr())
                .await
                .unwrap()
                .connections()
                .await
                .unwrap()
        })
    }

    fn by_session(&self, id: &str) -> Option<Connection> {
        self.connections().into_iter().find(|c| c.info.source.session_id == id)
    }

    /// A TLS client connection to the RadSec port with `cert` (the peer
    /// certificate when None).
    fn tls_client(
        &self,
        cert: Option<&rras_testkit::pki::CertFiles>,
    ) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let cert = cert.unwrap_or(&self.pki.radsec_peer);
        let config = client_config(&self.pki.ca, &cert.cert, &cert.key);
        let conn = rustls::ClientConnection::new(Arc::new(config), "127.0.0.1".try_into().unwrap()).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", self.radsec)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        rustls::StreamOwned::new(conn, tcp)
    }
}

fn pem_chain(path: &Path) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pem_key(path: &Path) -> rustls_pki_types::PrivateKeyDer<'static> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::PrivateKeyDer::from_pem_file(path).unwrap()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(ca: &Path, cert: &Path, key: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_chain(ca) {
        roots.add(c).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(pem_chain(cert), pem_key(key))
        .unwrap()
}

/// Reads one RADIUS packet off a stream (by its Length field).
fn read_packet(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut rest = vec![0u8; len.saturating_sub(4)];
    stream.read_exact(&mut rest)?;
    Ok([&header[..], &rest].concat())
}

fn start_packet(session: &str, nas: [u8; 4]) -> Packet {
    Packet {
        code: 4,
        identifier: 1,
        authenticator: [0; 16],
        attributes: vec![
            (1, b"tls-user".to_vec()),
            (44, session.as_bytes().to_vec()),
            (4, nas.to_vec()),
            (40, 1u32.to_be_bytes().to_vec()),
        ],
    }
}

/// radsecproxy in the foreground: UDP in on `udp_in` (radclient's
/// secret), RadSec out to rrasd with the peer certificate.
struct RadsecProxy {
    child: Child,
    log: PathBuf,
}

impl RadsecProxy {
    fn start(lab: &Lab, udp_in: u16) -> Self {
        let conf = lab.dir.path().join("radsecproxy.conf");
        let log = lab.dir.path().join("radsecproxy.log");
        std::fs::write(
            &conf,
            format!(
                "ListenUDP 127.0.0.1:{udp_in}\nLogLevel 4\nLogDestination file://{log}\n\
                 tls default {{\n  CACertificateFile {ca}\n  CertificateFile {cert}\n  CertificateKeyFile {key}\n}}\n\
                 client 127.0.0.1 {{\n  type udp\n  secret {UDP_SECRET}\n}}\n\
                 server rrasd {{\n  host 127.0.0.1\n  port {radsec}\n  type tls\n  tls default\n  StatusServer on\n}}\n\
                 realm * {{\n  server rrasd\n  accountingServer rrasd\n}}\n",
                log = log.display(),
                ca = lab.pki.ca.display(),
                cert = lab.pki.radsec_peer.cert.display(),
                key = lab.pki.radsec_peer.key.display(),
                radsec = lab.radsec,
            ),
        )
        .unwrap();
        let child = Command::new("radsecproxy")
            .args(["-f", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn radsecproxy");
        rras_testkit::reaper::track_process(child.id());
        RadsecProxy { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RadsecProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn session_text(id: &str, nas_ip: &str, status: &str) -> String {
    rras_testkit::accounting_text::Accounting::new(status, id, &format!("user-{id}"))
        .nas_ip(nas_ip)
        .attr("NAS-Identifier", "\"edge\"")
        .attr("Framed-IP-Address", "10.77.0.9")
        .to_string()
}

#[test]
fn radclient_through_radsecproxy_is_recorded_and_scoped_by_certificate() {
    if !require_tool("radclient") || !require_tool("radsecproxy") {
        return;
    }
    let lab = Lab::start(None, 300);
    let udp_in = free_udp_port();
    let proxy = RadsecProxy::start(&lab, udp_in);
    // The proxy's first request may race its TLS connection coming up.
    let up = wait_for(Duration::from_secs(20), || {
        let run = radclient(udp_in, UDP_SECRET, &session_text("tls-1", "10.30.0.5", "Start"), &[]);
        (run.responses() == 1).then_some(())
    });
    assert!(
        up.is_some(),
        "radsecproxy never got an answer: {}\n{}",
        proxy.log(),
        lab.daemon.log()
    );
    let c = lab.by_session("tls-1").expect("recorded over RadSec");
    assert_eq!(c.info.source.nas, "edge@10.30.0.5");
    assert_eq!(c.info.user_name, "user-tls-1");

    // The certificate's grant does not cover 10.31/16: not applied, not answered.
    let run = radclient(
        udp_in,
        UDP_SECRET,
        &session_text("tls-2", "10.31.0.1", "Start"),
        &["-r", "1", "-t", "2"],
    );
    assert_eq!(run.responses(), 0, "{run:?}");
    assert!(lab.by_session("tls-2").is_none());
    assert!(
        lab.daemon
            .log()
            .contains("client tls-proxy may not speak for NAS 10.31.0.1"),
        "{}",
        lab.daemon.log()
    );

    let run = radclient(udp_in, UDP_SECRET, &session_text("tls-1", "10.30.0.5", "Stop"), &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    assert!(lab.by_session("tls-1").is_none());
    // radclient's direct UDP to rrasd still works beside it, with its own scope.
    let run = radclient(lab.udp, UDP_SECRET, &session_text("udp-1", "127.0.0.1", "Start"), &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    let run = radclient(
        lab.udp,
        UDP_SECRET,
        &session_text("udp-2", "10.30.0.5", "Start"),
        &["-r", "1", "-t", "1"],
    );
    assert_eq!(
        run.responses(),
        0,
        "the direct client may not speak for the RadSec client's NASes"
    );
}

#[test]
fn status_server_on_udp_and_tls_and_idle_connections_are_closed() {
    if !require_tool("radclient") {
        return;
    }
    let lab = Lab::start(None, 2);
    // UDP: radclient's Status-Server (it adds a Message-Authenticator).
    let mut status = Command::new("radclient")
        .args(["-x", "-r", "1", "-t", "2"])
        .arg(format!("127.0.0.1:{}", lab.udp))
        .args(["status", UDP_SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    status
        .stdin
        .take()
        .unwrap()
        .write_all(b"Message-Authenticator = 0x00\n")
        .unwrap();
    let out = status.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Received Accounting-Response"), "{stdout}");

    // TLS: Status-Server signed with "radsec", then an Accounting-Request.
    let mut tls = lab.tls_client(None);
    let status = Packet {
        code: 12,
        identifier: 7,
        authenticator: [0x5a; 16],
        attributes: vec![],
    }
    .encode_status_request(b"radsec");
    tls.write_all(&status).unwrap();
    let answer = read_packet(&mut tls).unwrap();
    assert_eq!((answer[0], answer[1]), (5, 7), "Accounting-Response to Status-Server");
    assert!(response_authenticator_ok(&answer, &[0x5a; 16], b"radsec"));
    assert_eq!(message_authenticator_ok(&answer, &[0x5a; 16], b"radsec"), Some(true));
    let start = start_packet("tls-direct", [10, 30, 1, 1]).encode_request(b"radsec");
    tls.write_all(&start).unwrap();
    let answer = read_packet(&mut tls).unwrap();
    assert_eq!(answer[0], 5);
    assert!(response_authenticator_ok(
        &answer,
        start[4..20].try_into().unwrap(),
        b"radsec"
    ));
    assert!(lab.by_session("tls-direct").is_some());

    // Silent for longer than radsec_idle_secs: the daemon closes it.
    let closed = wait_for(Duration::from_secs(8), || {
        let mut byte = [0u8; 1];
        match tls.read(&mut byte) {
            Ok(0) | Err(_) => Some(()),
            Ok(_) => None,
        }
    });
    assert!(closed.is_some(), "idle RadSec connection left open");

    // A packet trickled a byte a second is never idle for 2 s, but it
    // must be whole within 10 s of its first byte: closed, not held.
    let mut trickle = lab.tls_client(None);
    trickle.sock.set_read_timeout(Some(Duration::from_millis(900))).unwrap();
    let slow = start_packet("tls-trickle", [10, 30, 1, 3]).encode_request(b"radsec");
    let began = std::time::Instant::now();
    let mut cut = None;
    for byte in &slow[..slow.len() - 1] {
        if trickle.write_all(&[*byte]).and_then(|_| trickle.flush()).is_err() {
            cut = Some(began.elapsed());
            break;
        }
        let mut answer = [0u8; 1];
        match trickle.read(&mut answer) {
            Ok(0) => {
                cut = Some(began.elapsed());
                break;
            }
            Err(e) if !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                cut = Some(began.elapsed());
                break;
            }
            _ => {}
        }
    }
    let cut = cut.expect("a packet trickled for its whole length was never cut off");
    assert!(
        cut >= Duration::from_secs(8) && cut < Duration::from_secs(15),
        "cut after {cut:?}, not ~10 s after its first byte"
    );
    assert!(lab.by_session("tls-trickle").is_none());

    // One address holds at most 32 connections (before any handshake).
    let held: Vec<TcpStream> = (0..32)
        .map(|_| TcpStream::connect(("127.0.0.1", lab.radsec)).unwrap())
        .collect();
    let extra = TcpStream::connect(("127.0.0.1", lab.radsec)).unwrap();
    // Refused, it is closed at once; kept, it would be quiet for 1 s (less
    // than the 2 s idle time).
    extra.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut byte = [0u8; 1];
    let closed = match (&extra).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    };
    assert!(closed, "a 33rd connection from one address was kept");
    drop(held);

    // A certificate no client entry names is refused after the handshake.
    let mut stranger = lab.tls_client(Some(&lab.pki.admin));
    let _ = stranger.write_all(&start_packet("stranger", [10, 30, 1, 2]).encode_request(b"radsec"));
    assert!(read_packet(&mut stranger).is_err(), "a stranger was answered");
    assert!(lab.by_session("stranger").is_none());
    // One from another CA does not get through the handshake at all.
    let mut rogue = lab.tls_client(Some(&lab.pki.unknown_ca));
    assert!(rogue.write_all(b"x").and_then(|_| read_packet(&mut rogue)).is_err());
}

/// A RadSec peer's own listener: one TLS connection with the peer
/// certificate, one Disconnect-Request read and answered with ACK (signed).
fn tls_nas(pki: &TestPki, port: u16) -> std::thread::JoinHandle<Option<Packet>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_chain(&pki.ca) {
        roots.add(c).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(pem_chain(&pki.radsec_peer.cert), pem_key(&pki.radsec_peer.key))
        .unwrap();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        let conn = rustls::ServerConnection::new(Arc::new(config)).ok()?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let request = read_packet(&mut tls).ok()?;
        if !request_authenticator_ok(&request, b"radsec")
            || message_authenticator_ok(&request, &[0; 16], b"radsec") != Some(true)
        {
            return None;
        }
        let req = Packet::decode(&request).ok()?;
        let ack = Packet {
            code: 41,
            identifier: req.identifier,
            authenticator: [0; 16],
            attributes: vec![],
        }
        .encode_response_signed(&req.authenticator, b"radsec");
        tls.write_all(&ack).ok()?;
        tls.flush().ok()?;
        Some(req)
    })
}

#[test]
fn hang_ups_of_radsec_sessions_go_over_tls_to_the_owner() {
    let coa = free_tcp_port();
    let lab = Lab::start(Some(coa), 300);
    let mut tls = lab.tls_client(None);
    let start = start_packet("tls-hangup", [10, 30, 2, 2]).encode_request(b"radsec");
    tls.write_all(&start).unwrap();
    assert_eq!(read_packet(&mut tls).unwrap()[0], 5);
    let c = lab.by_session("tls-hangup").expect("started over TLS");
    let nas = tls_nas(&lab.pki, coa);
    let result = runtime().block_on(async {
        let client = AdminClient::connect(&lab.daemon.addr()).await.unwrap();
        client.disconnect(c.handle.get()).await.map_err(|e| e.code())
    });
    let req = nas
        .join()
        .unwrap()
        .expect("the peer got a signed Disconnect-Request over TLS");
    assert_eq!(result, Ok(()), "{}", lab.daemon.log());
    assert_eq!(req.code, 40);
    assert_eq!(req.attr(44), Some(&b"tls-hangup"[..]));
    assert_eq!(req.attr(4), Some(&[10u8, 30, 2, 2][..]));
    assert!(lab.by_session("tls-hangup").is_none());
    // With nobody listening, the hang-up fails as unreachable and the session stays.
    tls.write_all(&start_packet("tls-hangup-2", [10, 30, 2, 3]).encode_request(b"radsec"))
        .unwrap();
    assert_eq!(read_packet(&mut tls).unwrap()[0], 5);
    let c = lab.by_session("tls-hangup-2").unwrap();
    let code = runtime().block_on(async {
        let client = AdminClient::connect(&lab.daemon.addr()).await.unwrap();
        client.disconnect(c.handle.get()).await.unwrap_err().code()
    });
    assert_eq!(code, Win32Error::RpcServerUnavailable.code());
    assert!(lab.by_session("tls-hangup-2").is_some());
}
