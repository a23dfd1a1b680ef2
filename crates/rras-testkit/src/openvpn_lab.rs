//! A real OpenVPN 2.6 server and client in two network namespaces this
//! fixture creates (veth underlay), certificates from the test PKI, a
//! username/password check, and the management interface on a Unix socket.
//! Dropping it kills its processes by PID and deletes its namespaces.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::lab_clients::LabClients;
use crate::netns::{fixture_number, run, NetnsPair};
use crate::pki::TestPki;
use crate::{stop_child as stop, wait_for};

/// Server underlay address.
pub const SERVER_UNDERLAY: &str = "10.202.1.1";
/// Client underlay address (the Real Address the server reports).
pub const CLIENT_UNDERLAY: &str = "10.202.1.2";
/// Server tunnel address.
pub const SERVER_TUNNEL: &str = "10.202.12.1";
/// The client's tunnel address (first in the pool).
pub const CLIENT_TUNNEL: &str = "10.202.12.2";
/// The username the client logs in with.
pub const USER: &str = "user1";

/// One server with one client ([`OpenvpnLab::up`]), or with one client per
/// user ([`OpenvpnLab::up_with`]).
#[derive(Debug)]
pub struct OpenvpnLab {
    pub management: PathBuf,
    dir: tempfile::TempDir,
    server: Option<Child>,
    client: Option<Child>,
    clients: LabClients,
    // Last: the namespaces go after the processes in them.
    net: NetnsPair,
}

fn spawn_in(ns: &str, config: &Path, log: &Path) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "openvpn", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn openvpn")
}

impl OpenvpnLab {
    /// Brings server and client up and pings through the tunnel.
    pub fn up() -> Self {
        let mut lab = Self::server_only(&[USER]);
        lab.start_client();
        lab
    }

    /// Brings the server up with one client per user (each on its own tun
    /// device in the client namespace), each checked with a ping through
    /// its tunnel.
    pub fn up_with(users: &[&str]) -> Self {
        let mut lab = Self::server_only(users);
        for (i, user) in users.iter().enumerate() {
            lab.connect(user, &format!("otun{i}"));
        }
        lab
    }

    fn server_only(users: &[&str]) -> Self {
        let n = fixture_number();
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = TestPki::new(dir.path());
        let d = dir.path().to_path_buf();
        let net = NetnsPair::create("rro", n, SERVER_UNDERLAY, CLIENT_UNDERLAY);
        let management = d.join("mgmt.sock");
        std::fs::write(d.join("cli.pass"), format!("{USER}\nsecret1\n")).expect("pass");
        let auth = d.join("auth.sh");
        let known: Vec<String> = users.iter().map(|u| format!("\"$(sed -n 1p \"$1\")\" = {u}")).collect();
        std::fs::write(
            &auth,
            format!(
                "#!/bin/sh\n{{ [ {} ]; }} && [ \"$(sed -n 2p \"$1\")\" = secret1 ]\n",
                known.join(" ] || [ ")
            ),
        )
        .expect("auth script");
        run(&["chmod", "700", &auth.display().to_string()]);
        std::fs::write(
            d.join("server.conf"),
            format!(
                "dev tun\ntopology subnet\nserver 10.202.12.0 255.255.255.0\nproto udp4\nlocal {SERVER_UNDERLAY}\nport 1194\n\
                 ca {ca}\ncert {cert}\nkey {key}\ndh none\ndisable-dco\nkeepalive 5 30\nmanagement {mgmt} unix\n\
                 script-security 2\nauth-user-pass-verify {auth} via-file\nduplicate-cn\nverb 3\n",
                ca = pki.ca.display(),
                cert = pki.server.cert.display(),
                key = pki.server.key.display(),
                mgmt = management.display(),
                auth = auth.display(),
            ),
        )
        .expect("server.conf");
        std::fs::write(
            d.join("client.conf"),
            format!(
                "client\ndev tun\nproto udp4\nremote {SERVER_UNDERLAY} 1194\nnobind\nca {ca}\ncert {cert}\nkey {key}\n\
                 auth-user-pass {pass}\nexplicit-exit-notify 1\ndisable-dco\nverb 3\n",
                ca = pki.ca.display(),
                cert = pki.admin.cert.display(),
                key = pki.admin.key.display(),
                pass = d.join("cli.pass").display(),
            ),
        )
        .expect("client.conf");
        let mut lab = OpenvpnLab {
            management,
            dir,
            server: None,
            client: None,
            clients: LabClients::default(),
            net,
        };
        lab.server = Some(spawn_in(
            &lab.net.server_ns,
            &d.join("server.conf"),
            &d.join("server.log"),
        ));
        let mgmt_up = wait_for(Duration::from_secs(10), || lab.management.exists().then_some(()));
        assert!(
            mgmt_up.is_some(),
            "OpenVPN management socket missing: {}",
            lab.log("server.log")
        );
        lab
    }

    /// Connects `user` with its own password file and tun device `dev`.
    fn connect(&mut self, user: &str, dev: &str) {
        let d = self.dir.path().to_path_buf();
        let pass = d.join(format!("{user}.pass"));
        std::fs::write(&pass, format!("{user}\nsecret1\n")).expect("pass");
        let log = format!("client-{user}.log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.net.client_ns, "openvpn", "--config"])
            .arg(d.join("client.conf"))
            .arg("--auth-user-pass")
            .arg(&pass)
            .args(["--dev", dev, "--dev-type", "tun"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(d.join(&log)).expect("log file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openvpn");
        self.clients.add(user, dev, child);
        let connected = wait_for(Duration::from_secs(20), || {
            self.log(&log)
                .contains("Initialization Sequence Completed")
                .then_some(())
        });
        assert!(connected.is_some(), "{user} did not connect: {}", self.log(&log));
        assert!(self.ping(user), "no ping through {user}'s tunnel");
    }

    /// Pings the server through `user`'s tunnel (up_with's clients).
    pub fn ping(&self, user: &str) -> bool {
        self.clients
            .dev(user)
            .is_some_and(|dev| self.net.ping_through(dev, SERVER_TUNNEL))
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Starts (or restarts) the client and waits until it pings the server.
    pub fn start_client(&mut self) {
        stop(&mut self.client);
        let d = self.dir.path();
        self.client = Some(spawn_in(
            &self.net.client_ns,
            &d.join("client.conf"),
            &d.join("client.log"),
        ));
        let connected = wait_for(Duration::from_secs(20), || {
            self.log("client.log")
                .contains("Initialization Sequence Completed")
                .then_some(())
        });
        assert!(
            connected.is_some(),
            "client did not connect: {}",
            self.log("client.log")
        );
        assert!(
            self.net.ping_from_client(SERVER_TUNNEL),
            "no ping through the OpenVPN tunnel"
        );
    }

    /// Stops the client (it tells the server with explicit-exit-notify).
    pub fn stop_client(&mut self) {
        stop(&mut self.client);
    }

    /// True once the client process has exited (e.g. after client-kill HALT).
    pub fn client_exited(&mut self) -> bool {
        self.client
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }
}

impl crate::conformance::EngineLab for OpenvpnLab {
    fn kind(&self) -> rras_core::EngineKind {
        rras_core::EngineKind::Openvpn
    }

    fn config(&self) -> String {
        format!(
            "[openvpn]\nmanagement = [\"{}=tun0\"]\npoll_secs = 1\nunreachable_grace_secs = 4\n",
            self.management.display()
        )
    }

    fn users(&self) -> [String; 2] {
        self.clients.first_two()
    }

    fn traffic(&mut self, user: &str) -> bool {
        self.ping(user)
    }

    fn ended_in_engine(&mut self, user: &str) -> bool {
        // client-kill HALT makes the client exit.
        self.clients.exited(user)
    }

    fn stop_engine(&mut self) {
        stop(&mut self.server);
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn check(&self, c: &rras_core::Connection) {
        assert_eq!(c.info.interface_name, "tun0");
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().expect("address")));
        let v4 = c.info.projection.ipv4().remote_address.expect("pool address");
        assert_eq!(v4.octets()[..3], [10, 202, 12]);
        assert_eq!(c.info.device_type, rras_core::model::device_type::OTHER);
        assert!(
            c.info.engine_attributes.iter().any(|(k, _)| k == "Cipher"),
            "{:?}",
            c.info.engine_attributes
        );
    }

    fn control_socket(&self) -> Option<std::path::PathBuf> {
        Some(self.management.clone())
    }
}

impl Drop for OpenvpnLab {
    fn drop(&mut self) {
        self.clients.stop_all();
        stop(&mut self.client);
        stop(&mut self.server);
    }
}
