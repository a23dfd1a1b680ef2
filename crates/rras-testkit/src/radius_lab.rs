//! A NAS for the engine conformance scenario: two users' PPP sessions
//! reported to rrasd's RADIUS listener with real `radclient` packets — a
//! Start each, then an Interim-Update every second while the session
//! lives, as a NAS with `Acct-Interim-Interval = 1` does — and the NAS's
//! RFC 5176 listener, which acknowledges a Disconnect-Request (checked
//! against the shared secret) and ends that session: no more interims.
//! "The engine goes away" is the NAS falling silent; its sessions then end
//! as stale. Dropping the lab stops its thread.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rras_sources::radius::packet::{request_authenticator_ok, Packet, DISCONNECT_ACK, DISCONNECT_REQUEST};

use crate::accounting_text::Accounting;
use crate::{free_udp_port, radclient};

const SECRET: &str = "lab-nas-secret";
/// Acct-Session-Id of each user's session.
fn session_id(user: &str) -> String {
    format!("lab-{user}")
}

/// One session as the NAS keeps it.
#[derive(Debug, Clone)]
struct NasSession {
    port: u32,
    address: String,
    octets: u64,
    live: bool,
}

/// The NAS and rrasd's side of it.
#[derive(Debug)]
pub struct RadiusLab {
    /// rrasd's accounting port (127.0.0.1).
    pub accounting_port: u16,
    coa_port: u16,
    sessions: Arc<Mutex<BTreeMap<String, NasSession>>>,
    /// False once the NAS falls silent.
    running: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl RadiusLab {
    /// A NAS with `users` (each on its own port and address); nothing is
    /// sent until [`start_sessions`](Self::start_sessions), because rrasd
    /// must be listening first.
    pub fn new(users: &[&str]) -> Self {
        let sessions = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let n = u32::try_from(i).expect("few users") + 1;
                let session = NasSession {
                    port: n,
                    address: format!("10.208.0.{}", n + 1),
                    octets: 1_000,
                    live: true,
                };
                (u.to_string(), session)
            })
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        crate::reaper::track_dir(dir.path());
        RadiusLab {
            accounting_port: free_udp_port(),
            coa_port: free_udp_port(),
            sessions: Arc::new(Mutex::new(sessions)),
            running: Arc::new(AtomicBool::new(true)),
            threads: Vec::new(),
            dir,
        }
    }

    /// What the NAS sends for `user`'s session now.
    fn request(user: &str, session: &NasSession, status: &str) -> Accounting {
        Accounting::new(status, &session_id(user), user)
            .ppp(session.port, &session.address)
            .l2tp()
            .attr("Acct-Interim-Interval", 1)
            .attr("Acct-Input-Octets", session.octets)
            .attr("Acct-Output-Octets", session.octets)
    }

    /// Sends every live session's `status` in one radclient run; true when
    /// rrasd acknowledged them all.
    fn report(&self, status: &str) -> bool {
        report(&self.sessions, self.accounting_port, status)
    }

    /// Starts the sessions (rrasd must be listening), then keeps them
    /// alive with an interim a second and answers Disconnect-Requests.
    pub fn start_sessions(&mut self) {
        assert!(self.report("Start"), "rrasd did not acknowledge the Starts");
        let (sessions, running, port) = (self.sessions.clone(), self.running.clone(), self.accounting_port);
        self.threads.push(std::thread::spawn(move || {
            // Bounded: ten minutes at most, one interim round a second.
            for _ in 0..600 {
                std::thread::sleep(Duration::from_secs(1));
                if !running.load(Ordering::Relaxed) {
                    return;
                }
                report(&sessions, port, "Interim-Update");
            }
        }));
        let socket = UdpSocket::bind(("127.0.0.1", self.coa_port)).expect("bind the NAS's RFC 5176 port");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let (sessions, running) = (self.sessions.clone(), self.running.clone());
        self.threads.push(std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(600);
            while running.load(Ordering::Relaxed) && Instant::now() < until {
                answer_disconnect(&socket, &sessions);
            }
        }));
    }
}

/// One radclient run with every live session's `status`.
fn report(sessions: &Mutex<BTreeMap<String, NasSession>>, port: u16, status: &str) -> bool {
    let requests: Vec<Accounting> = sessions
        .lock()
        .iter()
        .filter(|(_, s)| s.live)
        .map(|(u, s)| RadiusLab::request(u, s, status))
        .collect();
    let n = requests.len();
    n == 0 || radclient(port, SECRET, &Accounting::all(requests), &[]).responses() == n
}

/// Waits (100 ms) for one Disconnect-Request; a valid one for a known
/// session ends it and is acknowledged.
fn answer_disconnect(socket: &UdpSocket, sessions: &Mutex<BTreeMap<String, NasSession>>) {
    let mut buf = [0u8; 4096];
    let Ok((n, peer)) = socket.recv_from(&mut buf) else {
        return;
    };
    let datagram = &buf[..n];
    if !request_authenticator_ok(datagram, SECRET.as_bytes()) {
        return;
    }
    let Ok(request) = Packet::decode(datagram) else { return };
    if request.code != DISCONNECT_REQUEST {
        return;
    }
    let Some(id) = request.attr(44).map(|v| String::from_utf8_lossy(v).into_owned()) else {
        return;
    };
    let mut sessions = sessions.lock();
    let Some(session) = sessions.iter_mut().find(|(u, _)| session_id(u) == id).map(|(_, s)| s) else {
        return;
    };
    session.live = false;
    let ack = Packet {
        code: DISCONNECT_ACK,
        identifier: request.identifier,
        authenticator: [0; 16],
        attributes: Vec::new(),
    };
    let _ = socket.send_to(&ack.encode_response(&request.authenticator, SECRET.as_bytes()), peer);
}

impl crate::conformance::EngineLab for RadiusLab {
    fn kind(&self) -> rras_core::EngineKind {
        rras_core::EngineKind::Radius
    }

    fn config(&self) -> String {
        format!(
            "[radius]\nlisten = \"127.0.0.1:{}\"\n\
             clients = [{{ cidr = \"127.0.0.1/32\", secret = \"{SECRET}\", coa = \"127.0.0.1:{}\" }}]\n\
             default_interim_secs = 1\nstale_after_intervals = 4\n",
            self.accounting_port, self.coa_port
        )
    }

    fn started(&mut self) {
        self.start_sessions();
    }

    fn users(&self) -> [String; 2] {
        let sessions = self.sessions.lock();
        let mut users = sessions.keys().cloned();
        [users.next().unwrap_or_default(), users.next().unwrap_or_default()]
    }

    fn traffic(&mut self, user: &str) -> bool {
        if let Some(s) = self.sessions.lock().get_mut(user) {
            s.octets += 100_000;
        }
        self.report("Interim-Update")
    }

    fn ended_in_engine(&mut self, user: &str) -> bool {
        self.sessions.lock().get(user).is_some_and(|s| !s.live)
    }

    fn stop_engine(&mut self) {
        self.running.store(false, Ordering::Relaxed);
    }

    fn loss(&self) -> crate::conformance::Loss {
        crate::conformance::Loss {
            health: None,
            reason: "lost-carrier/stale",
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn check(&self, c: &rras_core::Connection) {
        let sessions = self.sessions.lock();
        let session = sessions.get(&c.info.user_name).expect("one of the lab's users");
        assert_eq!(c.info.source.session_id, session_id(&c.info.user_name));
        assert_eq!(
            c.info.projection.ipv4().remote_address.map(|a| a.to_string()),
            Some(session.address.clone())
        );
        assert_eq!(c.info.device_type, rras_core::model::device_type::L2TP);
    }
}

impl Drop for RadiusLab {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
