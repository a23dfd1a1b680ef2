//! A real WireGuard tunnel for tests: wireguard-go server and client in two
//! network namespaces this fixture creates, joined by a veth pair. Names
//! carry the test process id so parallel runs do not collide (UAPI sockets
//! live in the shared /var/run/wireguard). Dropping it kills its processes
//! by PID and deletes its namespaces.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::netns::{fixture_number, run, NetnsPair};
use crate::wait_for;

/// Where wireguard-go puts UAPI sockets.
pub const SOCKET_DIR: &str = "/var/run/wireguard";

/// One server/client pair.
#[derive(Debug)]
pub struct WireguardLab {
    pub server_iface: String,
    pub client_iface: String,
    pub server_pub: String,
    pub client_pub: String,
    server_key: PathBuf,
    client_key: PathBuf,
    children: Vec<Child>,
    /// Clients added by [`WireguardLab::up_with`]: (user, interface,
    /// public key), the first being the lab's own client.
    users: Vec<(String, String, String)>,
    _dir: tempfile::TempDir,
    // Last: the namespaces go after the processes in them.
    net: NetnsPair,
}

/// Server side of the underlay and the tunnel.
pub const SERVER_UNDERLAY: &str = "10.201.1.1";
/// Client side of the underlay (the endpoint the server sees).
pub const CLIENT_UNDERLAY: &str = "10.201.1.2";
/// Server tunnel address.
pub const SERVER_TUNNEL: &str = "10.201.11.1";
/// Client tunnel address (its allowed IP on the server).
pub const CLIENT_TUNNEL: &str = "10.201.11.2";

/// `wg set IFACE ARGS…` inside namespace `ns`.
fn wg_set(ns: &str, iface: &str, args: &[&str]) {
    let mut command = vec!["ip", "netns", "exec", ns, "wg", "set", iface];
    command.extend_from_slice(args);
    run(&command);
}

fn keypair(dir: &std::path::Path, name: &str) -> (PathBuf, String) {
    let key = run(&["wg", "genkey"]);
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, format!("{key}\n")).expect("write key");
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg pubkey");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(key.as_bytes())
        .expect("feed key");
    let out = child.wait_with_output().expect("wg pubkey output");
    (path, String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl WireguardLab {
    /// Brings the tunnel up and pings through it once.
    pub fn up() -> Self {
        let n = fixture_number();
        let dir = tempfile::tempdir().expect("temp dir");
        let (server_key, server_pub) = keypair(dir.path(), "srv");
        let (client_key, client_pub) = keypair(dir.path(), "cli");
        let mut lab = WireguardLab {
            server_iface: format!("rrwg{n}s0"),
            client_iface: format!("rrwg{n}c0"),
            server_pub,
            client_pub,
            server_key,
            client_key,
            children: Vec::new(),
            users: Vec::new(),
            _dir: dir,
            net: NetnsPair::create("rrw", n, SERVER_UNDERLAY, CLIENT_UNDERLAY),
        };
        let (s, c) = (lab.net.server_ns.clone(), lab.net.client_ns.clone());
        for (ns, iface) in [
            (s.clone(), lab.server_iface.clone()),
            (c.clone(), lab.client_iface.clone()),
        ] {
            let child = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "env",
                    "LOG_LEVEL=error",
                    "wireguard-go",
                    "-f",
                    &iface,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn wireguard-go");
            lab.children.push(child);
        }
        let sockets_up = wait_for(Duration::from_secs(10), || {
            (lab.socket(&lab.server_iface).exists() && lab.socket(&lab.client_iface).exists()).then_some(())
        });
        assert!(sockets_up.is_some(), "wireguard-go did not create its UAPI sockets");
        lab.add_server_peer();
        lab.configure_client();
        run(&[
            "ip",
            "-n",
            &s,
            "addr",
            "add",
            &format!("{SERVER_TUNNEL}/24"),
            "dev",
            &lab.server_iface,
        ]);
        run(&["ip", "-n", &s, "link", "set", &lab.server_iface, "up"]);
        run(&[
            "ip",
            "-n",
            &c,
            "addr",
            "add",
            &format!("{CLIENT_TUNNEL}/24"),
            "dev",
            &lab.client_iface,
        ]);
        run(&["ip", "-n", &c, "link", "set", &lab.client_iface, "up"]);
        assert!(lab.ping(), "no ping through the tunnel");
        lab
    }

    /// The tunnel with one client per user: the first user is the lab's
    /// own client (`client_iface`, `CLIENT_TUNNEL`), each further one a
    /// wireguard-go of its own in the client namespace with the next
    /// tunnel address, every one a peer of the server and checked with a
    /// ping through its interface.
    pub fn up_with(users: &[&str]) -> Self {
        let mut lab = Self::up();
        let first = users.first().copied().unwrap_or("user0");
        lab.users
            .push((first.to_owned(), lab.client_iface.clone(), lab.client_pub.clone()));
        for (i, user) in users.iter().enumerate().skip(1) {
            lab.add_user(user, i);
        }
        lab
    }

    fn add_user(&mut self, user: &str, i: usize) {
        let iface = self.client_iface.replace("c0", &format!("c{i}"));
        let (key, public) = keypair(self._dir.path(), &format!("cli{i}"));
        let tunnel = format!("10.201.11.{}", 2 + i);
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.net.client_ns,
                "env",
                "LOG_LEVEL=error",
                "wireguard-go",
                "-f",
                &iface,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn wireguard-go");
        self.children.push(child);
        let up = wait_for(Duration::from_secs(10), || self.socket(&iface).exists().then_some(()));
        assert!(up.is_some(), "wireguard-go did not create {iface}'s socket");
        wg_set(
            &self.net.server_ns,
            &self.server_iface,
            &["peer", &public, "allowed-ips", &format!("{tunnel}/32")],
        );
        wg_set(
            &self.net.client_ns,
            &iface,
            &[
                "private-key",
                &key.display().to_string(),
                "peer",
                &self.server_pub,
                "allowed-ips",
                &format!("{SERVER_TUNNEL}/32"),
                "endpoint",
                &format!("{SERVER_UNDERLAY}:51820"),
                "persistent-keepalive",
                "25",
            ],
        );
        let c = &self.net.client_ns;
        run(&["ip", "-n", c, "addr", "add", &format!("{tunnel}/32"), "dev", &iface]);
        run(&["ip", "-n", c, "link", "set", &iface, "up"]);
        self.users.push((user.to_owned(), iface.clone(), public));
        assert!(self.ping_user(user), "no ping through {user}'s tunnel");
    }

    /// Pings the server through `user`'s own interface (up_with).
    pub fn ping_user(&self, user: &str) -> bool {
        self.users
            .iter()
            .find(|(u, _, _)| u == user)
            .is_some_and(|(_, iface, _)| self.net.ping_through(iface, SERVER_TUNNEL))
    }

    /// The server's UAPI socket path for `iface`.
    pub fn socket(&self, iface: &str) -> PathBuf {
        PathBuf::from(SOCKET_DIR).join(format!("{iface}.sock"))
    }

    /// The client's side of the tunnel (peer = the server).
    fn configure_client(&self) {
        wg_set(
            &self.net.client_ns,
            &self.client_iface,
            &[
                "private-key",
                &self.client_key.display().to_string(),
                "peer",
                &self.server_pub,
                "allowed-ips",
                "10.201.11.0/24",
                "endpoint",
                &format!("{SERVER_UNDERLAY}:51820"),
                "persistent-keepalive",
                "25",
            ],
        );
    }

    /// (Re)configures the server with the client as its peer, and resets
    /// the client's session so it handshakes again at once (a client whose
    /// peer was removed on the server would otherwise wait for its rekey
    /// timers).
    pub fn add_client_peer(&self) {
        if self.children.len() == 2 {
            wg_set(
                &self.net.client_ns,
                &self.client_iface,
                &["peer", &self.server_pub, "remove"],
            );
            self.configure_client();
        }
        self.add_server_peer();
    }

    fn add_server_peer(&self) {
        wg_set(
            &self.net.server_ns,
            &self.server_iface,
            &[
                "listen-port",
                "51820",
                "private-key",
                &self.server_key.display().to_string(),
                "peer",
                &self.client_pub,
                "allowed-ips",
                &format!("{CLIENT_TUNNEL}/32"),
            ],
        );
    }

    /// Pings the server through the tunnel (up to 10 tries).
    pub fn ping(&self) -> bool {
        self.net.ping_from_client(SERVER_TUNNEL)
    }

    /// The server's peers' public keys, from `wg show … peers`.
    pub fn server_peers(&self) -> Vec<String> {
        run(&[
            "ip",
            "netns",
            "exec",
            &self.net.server_ns,
            "wg",
            "show",
            &self.server_iface,
            "peers",
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// Stops the server's wireguard-go (its interface goes away).
    pub fn stop_server(&mut self) {
        if let Some(mut child) = self.children.first_mut().map(|c| std::mem::replace(c, dummy())) {
            terminate(&mut child);
        }
        let _ = std::fs::remove_file(self.socket(&self.server_iface));
    }
}

fn dummy() -> Child {
    Command::new("true").spawn().expect("spawn true")
}

fn terminate(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    if wait_for(Duration::from_secs(3), || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

impl crate::conformance::EngineLab for WireguardLab {
    fn kind(&self) -> rras_core::EngineKind {
        rras_core::EngineKind::Wireguard
    }

    fn config(&self) -> String {
        let names = self._dir.path().join("peers");
        let lines: String = self.users.iter().map(|(u, _, key)| format!("{key} {u}\n")).collect();
        std::fs::write(&names, lines).expect("peers file");
        format!(
            "[wireguard]\nsocket_dir = \"{SOCKET_DIR}\"\ninterfaces = [\"{}\"]\npoll_secs = 1\nactive_secs = 60\n\
             unreachable_grace_secs = 4\npeers_file = \"{}\"\n",
            self.server_iface,
            names.display()
        )
    }

    fn users(&self) -> [String; 2] {
        [self.users[0].0.clone(), self.users[1].0.clone()]
    }

    fn traffic(&mut self, user: &str) -> bool {
        self.ping_user(user)
    }

    fn ended_in_engine(&mut self, user: &str) -> bool {
        let key = self.users.iter().find(|(u, _, _)| u == user).map(|(_, _, k)| k.clone());
        key.is_some_and(|k| !self.server_peers().contains(&k))
    }

    fn stop_engine(&mut self) {
        self.stop_server();
    }

    fn loss(&self) -> crate::conformance::Loss {
        // The interface is gone with its peers: nothing is unreachable.
        crate::conformance::Loss {
            health: None,
            reason: "interface-down",
        }
    }

    fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    fn check(&self, c: &rras_core::Connection) {
        assert_eq!(c.info.source.nas, self.server_iface);
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().expect("address")));
        let v4 = c.info.projection.ipv4().remote_address.expect("allowed IP");
        assert_eq!(v4.octets()[..3], [10, 201, 11]);
        assert_eq!(c.info.device_type, rras_core::model::device_type::OTHER);
        let key = self
            .users
            .iter()
            .find(|(u, _, _)| *u == c.info.user_name)
            .map(|(_, _, k)| k.as_str());
        assert_eq!(
            Some(c.info.source.session_id.as_str()),
            key,
            "the session is the peer's key"
        );
    }

    fn control_socket(&self) -> Option<std::path::PathBuf> {
        Some(std::path::Path::new(SOCKET_DIR).join(format!("{}.sock", self.server_iface)))
    }
}

impl Drop for WireguardLab {
    fn drop(&mut self) {
        for child in &mut self.children {
            terminate(child);
        }
        // The namespaces go with `net` (NetnsPair's own Drop).
        let extra = self.users.iter().skip(1).map(|(_, iface, _)| iface);
        for iface in [&self.server_iface, &self.client_iface].into_iter().chain(extra) {
            let _ = std::fs::remove_file(self.socket(iface));
        }
    }
}
