//! A real ocserv (AnyConnect/OpenConnect server) with one openconnect client
//! per user, in two network namespaces this fixture creates (veth
//! underlay), password authentication and the occtl socket in a temp dir.
//! Dropping it kills its processes by PID and deletes its namespaces.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::lab_clients::LabClients;
use crate::netns::{fixture_number, run, NetnsPair};
use crate::{stop_child as stop, wait_for};

/// Server underlay address.
pub const SERVER_UNDERLAY: &str = "10.203.1.1";
/// Client underlay address (the Remote IP ocserv reports).
pub const CLIENT_UNDERLAY: &str = "10.203.1.2";
/// The server's address in the VPN pool.
pub const SERVER_TUNNEL: &str = "10.203.13.1";
/// Every user's password.
pub const PASSWORD: &str = "secret1";
const PORT: u16 = 4443;

/// ocserv with its clients.
#[derive(Debug)]
pub struct OcservLab {
    /// ocserv's occtl socket (on the shared filesystem).
    pub occtl_socket: PathBuf,
    /// The namespace ocserv runs in (occtl must run there for counters).
    pub server_ns: String,
    pin: String,
    dir: tempfile::TempDir,
    server: Option<Child>,
    clients: LabClients,
    // Last: the namespaces go after the processes in them.
    net: NetnsPair,
}

fn shell(script: &str) -> String {
    run(&["sh", "-c", script])
}

impl OcservLab {
    /// Starts ocserv and connects one client per user (each checked with a
    /// ping through its own tunnel).
    pub fn up(users: &[&str]) -> Self {
        let n = fixture_number();
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        // ocserv's workers run as nobody and need the directory.
        run(&["chmod", "755", &d.display().to_string()]);
        let net = NetnsPair::create("rrc", n, SERVER_UNDERLAY, CLIENT_UNDERLAY);
        let (crt, key) = (d.join("srv.crt"), d.join("srv.key"));
        run(&[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key.display().to_string(),
            "-out",
            &crt.display().to_string(),
            "-days",
            "2",
            "-subj",
            &format!("/CN={SERVER_UNDERLAY}"),
            "-addext",
            &format!("subjectAltName=IP:{SERVER_UNDERLAY}"),
        ]);
        let pin = shell(&format!(
            "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
            crt.display()
        ));
        let hash = run(&["openssl", "passwd", "-6", PASSWORD]);
        let passwd: String = users.iter().map(|u| format!("{u}:*:{hash}\n")).collect();
        std::fs::write(d.join("ocpasswd"), passwd).expect("passwd file");
        let occtl_socket = d.join("occtl.socket");
        std::fs::write(
            d.join("ocserv.conf"),
            format!(
                "auth = \"plain[passwd={d}/ocpasswd]\"\nlisten-host = {SERVER_UNDERLAY}\ntcp-port = {PORT}\nudp-port = {PORT}\n\
                 run-as-user = nobody\nrun-as-group = nogroup\nsocket-file = {d}/ocserv.sock\n\
                 server-cert = {crt}\nserver-key = {key}\nisolate-workers = false\nmax-clients = 16\nmax-same-clients = 2\n\
                 keepalive = 300\ndpd = 60\nmobile-dpd = 300\ntry-mtu-discovery = false\n\
                 tls-priorities = \"NORMAL:%SERVER_PRECEDENCE\"\nauth-timeout = 240\nmin-reauth-time = 3\n\
                 cookie-timeout = 300\ndeny-roaming = false\nrekey-time = 172800\nrekey-method = ssl\nuse-occtl = true\n\
                 occtl-socket-file = {occtl}\npid-file = {d}/ocserv.pid\ndevice = vpns\npredictable-ips = true\n\
                 ipv4-network = 10.203.13.0\nipv4-netmask = 255.255.255.0\nping-leases = false\n\
                 route = 10.203.13.0/255.255.255.0\ncisco-client-compat = true\n",
                d = d.display(),
                crt = crt.display(),
                key = key.display(),
                occtl = occtl_socket.display(),
            ),
        )
        .expect("ocserv.conf");
        // Only the tun device, inside the client namespace (the stock
        // vpnc-script would rewrite the shared /etc/resolv.conf); one pool
        // route per client, told apart by metric, so `ping -I oclN` leaves
        // through that client's tunnel.
        std::fs::write(
            d.join("vpnc-min.sh"),
            "#!/bin/sh\ncase \"$reason\" in\n  connect)\n    ip link set dev \"$TUNDEV\" up mtu \"${INTERNAL_IP4_MTU:-1400}\"\n    \
             ip addr add \"$INTERNAL_IP4_ADDRESS/32\" dev \"$TUNDEV\"\n    \
             ip route add 10.203.13.0/24 dev \"$TUNDEV\" metric \"$((100 + ${TUNDEV#ocl}))\" ;;\n  \
             disconnect) ip link set dev \"$TUNDEV\" down 2>/dev/null || true ;;\nesac\nexit 0\n",
        )
        .expect("vpnc script");
        run(&["chmod", "755", &d.join("vpnc-min.sh").display().to_string()]);
        let server_ns = net.server_ns.clone();
        let mut lab = OcservLab {
            occtl_socket,
            server_ns,
            pin,
            dir,
            server: None,
            clients: LabClients::default(),
            net,
        };
        lab.server = Some(
            Command::new("ip")
                .args(["netns", "exec", &lab.server_ns, "ocserv", "-f", "-c"])
                .arg(d.join("ocserv.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join("server.log")).expect("log"))
                .spawn()
                .expect("spawn ocserv"),
        );
        let up = wait_for(Duration::from_secs(10), || lab.occtl_socket.exists().then_some(()));
        assert!(up.is_some(), "ocserv did not start: {}", lab.log("server.log"));
        for (i, user) in users.iter().enumerate() {
            lab.connect(user, &format!("ocl{i}"));
        }
        lab
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    fn connect(&mut self, user: &str, iface: &str) {
        let d = self.dir.path();
        let log = d.join(format!("client-{user}.log"));
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.net.client_ns, "openconnect"])
            .arg(format!("--user={user}"))
            .args(["--passwd-on-stdin", "--non-inter"])
            .arg(format!("--servercert=pin-sha256:{}", self.pin))
            .arg(format!("--interface={iface}"))
            .arg(format!("--script={}", d.join("vpnc-min.sh").display()))
            .arg(format!("https://{SERVER_UNDERLAY}:{PORT}"))
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openconnect");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{PASSWORD}");
        }
        self.clients.add(user, iface, child);
        let ns = self.net.client_ns.clone();
        let connected = wait_for(Duration::from_secs(20), || {
            let out = Command::new("ip")
                .args(["-n", &ns, "-4", "addr", "show", "dev", iface])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("inet 10.203.13.")
                .then_some(())
        });
        assert!(
            connected.is_some(),
            "{user} did not connect: {}\n{}",
            self.log(&format!("client-{user}.log")),
            self.log("server.log")
        );
        assert!(self.ping(user), "no ping through {user}'s tunnel");
    }

    /// Pings the server through `user`'s tunnel (up to 10 tries).
    pub fn ping(&self, user: &str) -> bool {
        let dev = self.clients.dev(user).expect("a client of this lab");
        self.net.ping_through(dev, SERVER_TUNNEL)
    }

    /// True once `user`'s openconnect has exited (after a disconnect).
    pub fn client_exited(&mut self, user: &str) -> bool {
        self.clients.exited(user)
    }

    /// Stops ocserv (its sessions go with it).
    pub fn stop_server(&mut self) {
        stop(&mut self.server);
    }

    /// The occtl socket as a string.
    pub fn socket(&self) -> String {
        self.occtl_socket.display().to_string()
    }

    /// The directory of the lab's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl crate::conformance::EngineLab for OcservLab {
    fn kind(&self) -> rras_core::EngineKind {
        rras_core::EngineKind::Ocserv
    }

    fn config(&self) -> String {
        format!(
            "[ocserv]\nsocket = \"{}\"\nnetns = \"{}\"\npoll_secs = 1\nunreachable_grace_secs = 4\n",
            self.socket(),
            self.server_ns
        )
    }

    fn users(&self) -> [String; 2] {
        self.clients.first_two()
    }

    fn traffic(&mut self, user: &str) -> bool {
        self.ping(user)
    }

    fn ended_in_engine(&mut self, user: &str) -> bool {
        self.client_exited(user)
    }

    fn stop_engine(&mut self) {
        self.stop_server();
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn check(&self, c: &rras_core::Connection) {
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().expect("address")));
        assert_eq!(c.info.local_endpoint, Some(SERVER_UNDERLAY.parse().expect("address")));
        assert!(c.info.interface_name.starts_with("vpns"), "{:?}", c.info.interface_name);
        let v4 = c.info.projection.ipv4().remote_address.expect("pool address");
        assert_eq!(v4.octets()[..3], [10, 203, 13]);
        assert_eq!(c.info.device_type, rras_core::model::device_type::OTHER);
        assert!(
            c.info.stats.bytes_rcved > 0,
            "no counters: occtl not in ocserv's namespace?"
        );
        assert!(
            c.info
                .engine_attributes
                .iter()
                .any(|(k, v)| k == "User-Agent" && v.contains("AnyConnect")),
            "{:?}",
            c.info.engine_attributes
        );
    }

    fn control_socket(&self) -> Option<std::path::PathBuf> {
        Some(self.occtl_socket.clone())
    }
}

impl Drop for OcservLab {
    fn drop(&mut self) {
        self.clients.stop_all();
        stop(&mut self.server);
    }
}
