//! A real strongSwan IKEv2 responder and initiator in two network
//! namespaces this fixture creates (veth underlay). This kernel has no ESP,
//! so both charons use kernel-libipsec over a TUN device with ESP-in-UDP
//! forced (`encap = yes`); each runs in its own mount namespace with a
//! private /run (charon's pid file and default VICI socket are fixed
//! paths), so the VICI sockets are `DIR/srv-run/charon.vici` and
//! `DIR/cli-run/charon.vici`. The initiator brings up one IKE SA per user
//! (PSK). Dropping it kills both charons by PID and deletes the namespaces.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::netns::{fixture_number, run, NetnsPair};
use crate::{stop_child as stop, wait_for};

/// Responder's underlay address.
pub const SERVER_UNDERLAY: &str = "10.204.1.1";
/// Initiator's underlay address.
pub const CLIENT_UNDERLAY: &str = "10.204.1.2";
/// The protected address behind the responder.
pub const PROTECTED: &str = "10.204.24.1";
/// The virtual IP pool.
pub const POOL: &str = "10.204.14.0/24";
const CHARON: &str = "/usr/lib/ipsec/charon";
const PSK: &str = "lab-psk-secret";

/// Responder and initiator.
#[derive(Debug)]
pub struct StrongswanLab {
    /// The responder's VICI socket.
    pub vici: PathBuf,
    users: Vec<String>,
    dir: tempfile::TempDir,
    server: Option<Child>,
    client: Option<Child>,
    // Last: the namespaces go after the processes in them.
    net: NetnsPair,
}

const STRONGSWAN_CONF: &str = "charon {\n  load_modular = no\n  \
    load = random nonce openssl kdf hmac sha2 aes gcm pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici\n  \
    install_virtual_ip = yes\n  filelog {\n    stderr { default = 1 }\n  }\n  \
    plugins {\n    kernel-libipsec { allow_peer_ts = yes }\n  }\n}\n";

impl StrongswanLab {
    /// Starts both charons and brings up one IKE SA per user, each checked
    /// with a ping to the protected address.
    pub fn up(users: &[&str]) -> Self {
        let n = fixture_number();
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        let net = NetnsPair::create("rrs", n, SERVER_UNDERLAY, CLIENT_UNDERLAY);
        run(&[
            "ip",
            "-n",
            &net.server_ns,
            "addr",
            "add",
            &format!("{PROTECTED}/32"),
            "dev",
            "lo",
        ]);
        for role in ["srv", "cli"] {
            std::fs::create_dir(d.join(format!("{role}-run"))).expect("run dir");
            std::fs::write(d.join(format!("{role}-run/strongswan.conf")), STRONGSWAN_CONF).expect("conf");
        }
        let secrets: String = users
            .iter()
            .map(|u| format!("  ike-{u} {{ id-1 = {u}\n    id-2 = server.lab\n    secret = \"{PSK}\" }}\n"))
            .collect();
        std::fs::write(
            d.join("srv-swanctl.conf"),
            format!(
                "connections {{\n  rw {{\n    version = 2\n    local_addrs = {SERVER_UNDERLAY}\n    pools = labpool\n    encap = yes\n    \
                 local {{ auth = psk\n      id = server.lab }}\n    remote {{ auth = psk\n      id = %any }}\n    \
                 children {{\n      net {{ local_ts = 10.204.24.0/24 }}\n    }}\n  }}\n}}\n\
                 pools {{ labpool {{ addrs = {POOL} }} }}\nsecrets {{\n{secrets}}}\n"
            ),
        )
        .expect("server swanctl.conf");
        let conns: String = users
            .iter()
            .map(|u| {
                format!(
                    "  home-{u} {{\n    version = 2\n    remote_addrs = {SERVER_UNDERLAY}\n    vips = 0.0.0.0\n    encap = yes\n    \
                     local {{ auth = psk\n      id = {u} }}\n    remote {{ auth = psk\n      id = server.lab }}\n    \
                     children {{\n      net-{u} {{ remote_ts = 10.204.24.0/24 }}\n    }}\n  }}\n"
                )
            })
            .collect();
        std::fs::write(
            d.join("cli-swanctl.conf"),
            format!("connections {{\n{conns}}}\nsecrets {{\n{secrets}}}\n"),
        )
        .expect("client swanctl.conf");
        let mut lab = StrongswanLab {
            vici: d.join("srv-run/charon.vici"),
            users: users.iter().map(|u| u.to_string()).collect(),
            dir,
            server: None,
            client: None,
            net,
        };
        lab.server = Some(lab.start_charon("srv"));
        lab.client = Some(lab.start_charon("cli"));
        lab.swanctl(
            "srv",
            &[
                "--load-all",
                "--file",
                &d.join("srv-swanctl.conf").display().to_string(),
            ],
        );
        lab.swanctl(
            "cli",
            &[
                "--load-all",
                "--file",
                &d.join("cli-swanctl.conf").display().to_string(),
            ],
        );
        for u in users {
            lab.swanctl(
                "cli",
                &[
                    "--initiate",
                    "--ike",
                    &format!("home-{u}"),
                    "--child",
                    &format!("net-{u}"),
                    "--timeout",
                    "10",
                ],
            );
        }
        assert!(lab.ping(), "no ping through the IKEv2 tunnel: {}", lab.log("srv"));
        lab
    }

    fn start_charon(&self, role: &str) -> Child {
        let d = self.dir.path();
        let ns = if role == "srv" {
            &self.net.server_ns
        } else {
            &self.net.client_ns
        };
        let run_dir = d.join(format!("{role}-run"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "env", "STRONGSWAN_CONF=/run/strongswan.conf"])
            .args(["unshare", "-m", "--propagation", "private", "sh", "-c"])
            .arg(format!("mount --bind '{}' /run && exec {CHARON}", run_dir.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join(format!("{role}.log"))).expect("log"))
            .spawn()
            .expect("spawn charon");
        let socket = run_dir.join("charon.vici");
        let up = wait_for(Duration::from_secs(10), || socket.exists().then_some(()));
        assert!(up.is_some(), "{role} charon did not start: {}", self.log(role));
        child
    }

    fn log(&self, role: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{role}.log"))).unwrap_or_default()
    }

    /// `swanctl ARGS --uri unix://…/ROLE-run/charon.vici` (must succeed).
    pub fn swanctl(&self, role: &str, args: &[&str]) -> String {
        let uri = format!(
            "unix://{}",
            self.dir.path().join(format!("{role}-run/charon.vici")).display()
        );
        let mut full = vec!["swanctl"];
        full.extend_from_slice(&args[..1]);
        full.extend(["--uri", uri.as_str()]);
        full.extend_from_slice(&args[1..]);
        run(&full)
    }

    /// Pings the protected address from the initiator (up to 10 tries).
    pub fn ping(&self) -> bool {
        self.net.ping_from_client(PROTECTED)
    }

    /// The virtual IP charon gave `user`, as the initiator lists its SA
    /// (`local 'USER' @ ADDR[PORT] [VIP]`).
    pub fn virtual_ip(&self, user: &str) -> Option<String> {
        let listed = self.swanctl("cli", &["--list-sas", "--ike", &format!("home-{user}")]);
        listed
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("local  '{user}'")))
            .and_then(|l| l.trim_end().strip_suffix(']'))
            .and_then(|l| l.rsplit_once('['))
            .map(|(_, vip)| vip.to_owned())
    }

    /// Pings the protected address from `user`'s virtual IP, so the packets
    /// go through that user's CHILD_SA only.
    pub fn ping_as(&self, user: &str) -> bool {
        self.virtual_ip(user)
            .is_some_and(|vip| self.net.ping_through(&vip, PROTECTED))
    }

    /// True when the responder lists an IKE SA of `user`.
    pub fn carries(&self, user: &str) -> bool {
        self.swanctl("srv", &["--list-sas"]).contains(&format!("'{user}'"))
    }

    /// Rekeys every CHILD_SA on the responder.
    pub fn rekey_children(&self) {
        self.swanctl("srv", &["--rekey", "--child", "net"]);
    }

    /// The users the initiator brought up.
    pub fn users(&self) -> &[String] {
        &self.users
    }

    /// Stops the responder's charon.
    pub fn stop_server(&mut self) {
        stop(&mut self.server);
    }

    /// The directory of the lab's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl crate::conformance::EngineLab for StrongswanLab {
    fn kind(&self) -> rras_core::EngineKind {
        rras_core::EngineKind::Strongswan
    }

    fn config(&self) -> String {
        format!(
            "[strongswan]\nvici = \"unix://{}\"\npoll_secs = 1\nunreachable_grace_secs = 4\n",
            self.vici.display()
        )
    }

    fn users(&self) -> [String; 2] {
        [self.users[0].clone(), self.users[1].clone()]
    }

    fn traffic(&mut self, user: &str) -> bool {
        self.ping_as(user)
    }

    fn ended_in_engine(&mut self, user: &str) -> bool {
        !self.carries(user)
    }

    fn stop_engine(&mut self) {
        self.stop_server();
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An IKE SA is an IKEv2 connection: the endpoints of the underlay,
    /// the IKEv2 flag and device type, the IKEv2 projection with the
    /// virtual IP from the pool and the negotiated ESP cipher.
    fn check(&self, c: &rras_core::Connection) {
        use rras_core::model::{connection_flags, device_type};
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().expect("address")));
        assert_eq!(c.info.local_endpoint, Some(SERVER_UNDERLAY.parse().expect("address")));
        assert_eq!(
            c.info.flags & connection_flags::IKEV2_CONNECTION,
            connection_flags::IKEV2_CONNECTION
        );
        assert_eq!(c.info.device_type, device_type::IKEV2);
        let rras_core::Projection::Ikev2(p) = &c.info.projection else {
            panic!("not an IKEv2 projection: {:?}", c.info.projection)
        };
        assert_eq!(p.authentication_protocol, 0, "PSK has no MPRAPI_IKEV2_AUTH value");
        assert_eq!(p.encryption_method, 3, "ESP AES-GCM-128: IPSEC_CIPHER_TYPE_AES_128");
        let vip = p.ipv4.remote_address.expect("virtual IP");
        assert_eq!(vip.octets()[..3], [10, 204, 14]);
        assert_eq!(self.virtual_ip(&c.info.user_name), Some(vip.to_string()));
        assert!(c.info.engine_attributes.iter().any(|(k, _)| k == "IKE-Encryption"));
    }

    fn control_socket(&self) -> Option<std::path::PathBuf> {
        Some(self.vici.clone())
    }
}

impl Drop for StrongswanLab {
    fn drop(&mut self) {
        stop(&mut self.client);
        stop(&mut self.server);
    }
}
