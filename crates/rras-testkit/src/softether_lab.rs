//! A real SoftEther VPN Server (Debian's `softether-vpnserver`) with one
//! real OpenVPN client per user, in two network namespaces this fixture
//! creates, plus a veth from the host so a daemon on the host reaches
//! SoftEther's JSON-RPC admin API at [`API_ADDR`].
//!
//! SoftEther is set up the way an operator would: the admin password with
//! `vpncmd`, then users, SecureNAT and the OpenVPN listener through the
//! JSON-RPC API with curl, the client profile from `MakeOpenVpnConfigFile`.
//!
//! Debian's build keeps its state in a fixed place, /var/lib/softether:
//! the fixture moves what is there aside and puts it back when dropped,
//! so one lab runs at a time per machine. vpnserver runs in its own
//! process group (its watchdog forks the server); dropping the lab
//! signals that group and the clients by PID and deletes the namespaces.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::lab_clients::LabClients;
use crate::netns::{fixture_number, run, NetnsPair};
use crate::{reaper, wait_for};

/// Server underlay address (the OpenVPN listener).
pub const SERVER_UNDERLAY: &str = "10.207.1.1";
/// Client underlay address (the client IP SoftEther reports).
pub const CLIENT_UNDERLAY: &str = "10.207.1.2";
/// The host's end of the admin link.
pub const HOST_ADDR: &str = "10.207.2.1";
/// SoftEther's end of the admin link: the API is https://API_ADDR:5555/api/.
pub const API_ADDR: &str = "10.207.2.2";
/// SecureNAT's own address, inside every tunnel.
pub const NAT_GATEWAY: &str = "192.168.30.1";
/// Every user's password.
pub const PASSWORD: &str = "lab-user-pw";
const ADMIN_PASSWORD: &str = "lab-admin-pw";
/// Debian's vpnserver binary.
pub const VPNSERVER: &str = "/usr/libexec/softether/vpnserver/vpnserver";
const STATE: &str = "/var/lib/softether";

/// SoftEther with its clients.
#[derive(Debug)]
pub struct SoftetherLab {
    /// The JSON-RPC API's URL, reachable from the host.
    pub api_url: String,
    /// SHA-256 of the server's certificate, as openssl prints it.
    pub cert_sha256: String,
    /// A file holding the admin password, mode 0600.
    pub password_file: PathBuf,
    dir: tempfile::TempDir,
    server: Option<Child>,
    clients: LabClients,
    /// Where the machine's own SoftEther state waits meanwhile.
    state_backup: Option<PathBuf>,
    // Last: the namespaces go after the processes in them.
    net: NetnsPair,
}

impl SoftetherLab {
    /// Starts SoftEther and connects one OpenVPN client per user (each
    /// checked with a ping through its tunnel).
    pub fn up(users: &[&str]) -> Self {
        let n = fixture_number();
        let dir = tempfile::tempdir().expect("temp dir");
        let state_backup = set_state_aside();
        let net = NetnsPair::create("rse", n, SERVER_UNDERLAY, CLIENT_UNDERLAY);
        let (host_dev, peer_dev) = (format!("vrse{n}h"), format!("vrse{n}p"));
        run(&[
            "ip", "link", "add", &host_dev, "type", "veth", "peer", "name", &peer_dev,
        ]);
        run(&["ip", "link", "set", &peer_dev, "netns", &net.server_ns]);
        run(&["ip", "addr", "add", &format!("{HOST_ADDR}/24"), "dev", &host_dev]);
        run(&["ip", "link", "set", &host_dev, "up"]);
        run(&[
            "ip",
            "-n",
            &net.server_ns,
            "addr",
            "add",
            &format!("{API_ADDR}/24"),
            "dev",
            &peer_dev,
        ]);
        run(&["ip", "-n", &net.server_ns, "link", "set", &peer_dev, "up"]);
        let password_file = dir.path().join("admin.password");
        std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).expect("password file");
        run(&["chmod", "600", &password_file.display().to_string()]);
        let mut lab = SoftetherLab {
            api_url: format!("https://{API_ADDR}:5555/api/"),
            cert_sha256: String::new(),
            password_file,
            dir,
            server: None,
            clients: LabClients::default(),
            state_backup,
            net,
        };
        lab.start_server();
        // A fresh server has no admin password: vpncmd sets it (always with
        // /PASSWORD:, or it prompts and spins).
        lab.in_server(&[
            "timeout",
            "20",
            "vpncmd",
            "localhost:5555",
            "/SERVER",
            "/PASSWORD:",
            "/CMD",
            "ServerPasswordSet",
            ADMIN_PASSWORD,
        ]);
        for user in users {
            lab.rpc(
                "CreateUser",
                &format!(r#"{{"HubName_str":"DEFAULT","Name_str":"{user}","AuthType_u32":1,"Auth_Password_str":"{PASSWORD}"}}"#),
            );
        }
        lab.rpc("EnableSecureNAT", r#"{"HubName_str":"DEFAULT"}"#);
        lab.rpc(
            "SetOpenVpnSstpConfig",
            r#"{"EnableOpenVPN_bool":true,"OpenVPNPortList_str":"1194","EnableSSTP_bool":true}"#,
        );
        lab.cert_sha256 = lab
            .in_server(&[
                "sh",
                "-c",
                "echo | openssl s_client -connect 127.0.0.1:5555 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
            ])
            .rsplit('=')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(lab.cert_sha256.len(), 95, "fingerprint {:?}", lab.cert_sha256);
        lab.write_client_profile();
        for (i, user) in users.iter().enumerate() {
            lab.connect(user, &format!("setun{i}"));
        }
        lab
    }

    fn start_server(&mut self) {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.net.server_ns, VPNSERVER, "execsvc"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("spawn vpnserver");
        reaper::track_process(child.id());
        self.server = Some(child);
        let ns = self.net.server_ns.clone();
        let listening = wait_for(Duration::from_secs(20), || {
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "ss", "-ltn"])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout).contains(":5555 ").then_some(())
        });
        assert!(listening.is_some(), "vpnserver did not listen on 5555");
    }

    /// Runs `args` in the server's namespace; must succeed.
    fn in_server(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", self.net.server_ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// One JSON-RPC call with curl from inside the server's namespace (the
    /// lab's own way in, independent of the code under test); the reply.
    pub fn rpc(&self, method: &str, params: &str) -> String {
        let body = format!(r#"{{"jsonrpc":"2.0","id":"1","method":"{method}","params":{params}}}"#);
        let reply = self.in_server(&[
            "curl",
            "-sk",
            "-m",
            "10",
            "-X",
            "POST",
            "https://127.0.0.1:5555/api/",
            "-H",
            &format!("X-VPNADMIN-PASSWORD: {ADMIN_PASSWORD}"),
            "-d",
            &body,
        ]);
        assert!(reply.contains("\"result\""), "{method}: {reply}");
        reply
    }

    /// The user sessions SoftEther lists now, by name (SecureNAT left out).
    pub fn session_names(&self) -> Vec<String> {
        let reply = self.rpc("EnumSession", r#"{"HubName_str":"DEFAULT"}"#);
        reply
            .split("\"Name_str\":\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter(|n| !n.starts_with("SID-SECURENAT"))
            .map(str::to_owned)
            .collect()
    }

    fn write_client_profile(&self) {
        let reply = self.rpc("MakeOpenVpnConfigFile", "{}");
        let profile = self.dir.path().join("client.ovpn");
        let reply_file = self.dir.path().join("profile.json");
        std::fs::write(&reply_file, reply).expect("profile reply");
        // The profile comes zipped in base64; python's zipfile reads it.
        run(&[
            "python3",
            "-c",
            r#"import base64, io, json, re, sys, zipfile
z = zipfile.ZipFile(io.BytesIO(base64.b64decode(json.load(open(sys.argv[1]))["result"]["Buffer_bin"])))
name = [n for n in z.namelist() if n.endswith("remote_access_l3.ovpn")][0]
text = re.sub(r"(?m)^remote \S+ 1194", "remote " + sys.argv[3] + " 1194", z.read(name).decode())
open(sys.argv[2], "w").write(text)"#,
            &reply_file.display().to_string(),
            &profile.display().to_string(),
            SERVER_UNDERLAY,
        ]);
        assert!(std::fs::read_to_string(&profile).is_ok_and(|p| p.contains(SERVER_UNDERLAY)));
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    fn connect(&mut self, user: &str, iface: &str) {
        let d = self.dir.path();
        let creds = d.join(format!("creds-{user}"));
        std::fs::write(&creds, format!("{user}\n{PASSWORD}\n")).expect("credentials");
        run(&["chmod", "600", &creds.display().to_string()]);
        let log = format!("client-{user}.log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.net.client_ns, "openvpn", "--config"])
            .arg(d.join("client.ovpn"))
            .arg("--auth-user-pass")
            .arg(&creds)
            .args([
                "--data-ciphers",
                "AES-128-GCM:AES-128-CBC",
                "--data-ciphers-fallback",
                "AES-128-CBC",
            ])
            .args(["--dev", iface, "--dev-type", "tun"])
            // A session SoftEther deletes ends the client instead of a
            // reconnect under a new name.
            .args(["--remap-usr1", "SIGTERM", "--route-nopull"])
            .arg("--log")
            .arg(d.join(&log))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openvpn");
        reaper::track_process(child.id());
        self.clients.add(user, iface, child);
        let connected = wait_for(Duration::from_secs(30), || {
            self.log(&log)
                .contains("Initialization Sequence Completed")
                .then_some(())
        });
        assert!(connected.is_some(), "{user} did not connect: {}", self.log(&log));
        assert!(self.ping(user), "no ping through {user}'s tunnel");
    }

    /// Pings SecureNAT through `user`'s tunnel (up to 10 tries): traffic
    /// the session's counters must show.
    pub fn ping(&self, user: &str) -> bool {
        let dev = self.clients.dev(user).expect("a client of this lab");
        self.net.ping_through(dev, NAT_GATEWAY)
    }

    /// True once `user`'s OpenVPN client has exited (after a hang-up).
    pub fn client_exited(&mut self, user: &str) -> bool {
        self.clients.exited(user)
    }

    /// Stops SoftEther (its sessions go with it).
    pub fn stop_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            // The whole group: the watchdog and the server it forked.
            let group = nix::unistd::Pid::from_raw(-(server.id() as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
            if wait_for(Duration::from_secs(5), || server.try_wait().ok().flatten()).is_none() {
                let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = server.wait();
            // The forked server may outlive the watchdog by a moment.
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            reaper::forget_process(server.id());
        }
    }

    /// The directory of the lab's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl crate::conformance::EngineLab for SoftetherLab {
    fn kind(&self) -> rras_core::EngineKind {
        rras_core::EngineKind::Softether
    }

    fn config(&self) -> String {
        format!(
            "[[source]]\nkind = \"softether\"\nname = \"lab\"\nurl = \"{}\"\nserver_cert_sha256 = \"{}\"\n\
             password_file = \"{}\"\npoll_secs = 1\nunreachable_grace_secs = 4\n",
            self.api_url,
            self.cert_sha256,
            self.password_file.display()
        )
    }

    fn users(&self) -> [String; 2] {
        self.clients.first_two()
    }

    fn traffic(&mut self, user: &str) -> bool {
        self.ping(user)
    }

    fn ended_in_engine(&mut self, user: &str) -> bool {
        let prefix = format!("SID-{}-", user.to_uppercase());
        self.client_exited(user) && !self.session_names().iter().any(|n| n.starts_with(&prefix))
    }

    fn stop_engine(&mut self) {
        self.stop_server();
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn check(&self, c: &rras_core::Connection) {
        use rras_core::model::device_type;
        assert_eq!(c.info.source.nas, "DEFAULT", "the hub is the NAS");
        assert_eq!(c.info.interface_name, "DEFAULT");
        assert!(
            c.info.source.session_id.starts_with("SID-"),
            "{}",
            c.info.source.session_id
        );
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().expect("address")));
        let tunnel = c
            .info
            .projection
            .ipv4()
            .remote_address
            .expect("SecureNAT's DHCP address");
        assert_eq!(tunnel.octets()[..3], [192, 168, 30], "{tunnel}");
        // OpenVPN through SoftEther is RDT_Other.
        assert_eq!(c.info.device_type, device_type::OTHER);
        assert!(
            c.info
                .engine_attributes
                .iter()
                .any(|(k, v)| k == "Protocol" && v.contains("OPENVPN")),
            "{:?}",
            c.info.engine_attributes
        );
    }
}

/// Moves the machine's SoftEther state aside (when there is any) and
/// leaves an empty state directory: a fresh server.
fn set_state_aside() -> Option<PathBuf> {
    std::fs::create_dir_all("/run/softether").expect("/run/softether");
    std::fs::create_dir_all("/var/log/softether").expect("/var/log/softether");
    let state = Path::new(STATE);
    let had_state = std::fs::read_dir(state).is_ok_and(|mut d| d.next().is_some());
    let backup = had_state.then(|| {
        let backup = PathBuf::from(format!("{STATE}.rras-lab-{}", std::process::id()));
        std::fs::rename(state, &backup).expect("set SoftEther's state aside");
        backup
    });
    let _ = std::fs::remove_dir_all(state);
    std::fs::create_dir_all(state).expect("fresh SoftEther state");
    backup
}

impl Drop for SoftetherLab {
    fn drop(&mut self) {
        self.clients.stop_all();
        self.stop_server();
        let _ = std::fs::remove_dir_all(STATE);
        match self.state_backup.take() {
            Some(backup) => {
                let _ = std::fs::rename(backup, STATE);
            }
            None => {
                let _ = std::fs::create_dir_all(STATE);
            }
        }
    }
}
