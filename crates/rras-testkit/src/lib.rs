//! Fixtures for the openrras test suites, written once: a real `rrasd`
//! process on a temp dir, an in-process daemon, the `radclient` driver and
//! the rule for tests that need root or an external tool (fail under
//! `CI=true`, skip with a printed reason elsewhere).

#![allow(missing_docs)]

pub mod accounting_text;
pub mod conformance;
pub mod hostile_socket;
pub mod lab_clients;
pub mod nats;
pub mod netns;
pub mod ocserv_lab;
pub mod openvpn_lab;
pub mod pki;
pub mod radius_lab;
pub mod reaper;
pub mod softether_lab;
pub mod strongswan_lab;
pub mod webdriver;
pub mod wireguard_lab;

use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rras_client::AdminClient;

/// True when running under CI (tests must not skip there).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Returns false (and prints why) when `tool` is missing outside CI; panics
/// under CI, where every tool must be installed by .ci/run.
pub fn require_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(!in_ci(), "{tool} is required under CI=true but is not installed");
        eprintln!("SKIP: {tool} is not installed (apt-get install it, or run .ci/run)");
    }
    found
}

/// Stops an engine process a lab started: SIGTERM, up to 5 s, then SIGKILL;
/// always reaped. By PID, never by name.
pub fn stop_child(child: &mut Option<std::process::Child>) {
    if let Some(mut c) = child.take() {
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if wait_for(Duration::from_secs(5), || c.try_wait().ok().flatten()).is_none() {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
}

/// SIGKILL an engine process and reap it (by PID).
pub fn stop_child_now(child: &mut Option<std::process::Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
        reaper::forget_process(c.id());
    }
}

/// Renders the manual page in `file` (roff, or gzipped roff) with
/// `man --warnings -l` at 80 columns; panics on a failure or any warning.
/// Returns the rendered text.
pub fn render_man_file(file: &std::path::Path) -> String {
    let shown = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(file)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .output()
        .expect("run man");
    let errors = String::from_utf8_lossy(&shown.stderr);
    assert!(shown.status.success(), "man {}: {errors}", file.display());
    assert!(shown.stderr.is_empty(), "man warnings in {}: {errors}", file.display());
    String::from_utf8_lossy(&shown.stdout).into_owned()
}

/// [`render_man_file`] for a page in memory, saved as `name`.
pub fn render_man(page: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(name);
    std::fs::write(&file, page).expect("write the page");
    render_man_file(&file)
}

/// The `rasctl` built beside `rrasd` (a workspace build puts every binary
/// in one directory). None, with the reason printed, when it was not built
/// (`cargo test -p rrasd` alone); under CI it must be there.
pub fn rasctl_beside(rrasd: &std::path::Path) -> Option<std::path::PathBuf> {
    let path = rrasd.parent()?.join("rasctl");
    if path.exists() {
        return Some(path);
    }
    assert!(!in_ci(), "rasctl was not built next to {}", rrasd.display());
    eprintln!("SKIP (rasctl view): rasctl not built; run cargo test --workspace");
    None
}

/// Runs `rasctl --server ADDR ARGS…`, which must succeed; returns stdout.
pub fn run_rasctl(rasctl: &std::path::Path, addr: &str, args: &[&str]) -> String {
    let out = Command::new(rasctl)
        .arg("--server")
        .arg(addr)
        .args(args)
        .output()
        .expect("run rasctl");
    assert!(
        out.status.success(),
        "rasctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a file only its owner may read (0600), as rrasd insists for
/// keys, tokens and secrets.
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).expect("write private file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// Returns false (and prints why) when not root outside CI; panics under CI.
pub fn require_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        assert!(!in_ci(), "this test needs root under CI=true");
        eprintln!("SKIP: this test needs root");
    }
    root
}

/// A free TCP port on 127.0.0.1 (bound then released), from below the
/// kernel's ephemeral range. A port from inside that range can be taken,
/// between our check and the server's bind, by any outgoing connection on
/// the machine (a NATS route, a client of another test), which once left
/// a three-server cluster with one server unable to listen.
pub fn free_tcp_port() -> u16 {
    free_port_below_ephemeral(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
}

/// A free UDP port on 127.0.0.1 (bound then released), from below the
/// kernel's ephemeral range, as [`free_tcp_port`].
pub fn free_udp_port() -> u16 {
    free_port_below_ephemeral(|port| UdpSocket::bind(("127.0.0.1", port)).is_ok())
}

/// Walks the ports from 10000 to the start of the ephemeral range, from a
/// point that differs per process and moves on with every call, and
/// returns the first that `bindable` accepts. Calls in one process never
/// hand out a port twice, so parallel tests cannot pick the same one.
fn free_port_below_ephemeral(bindable: impl Fn(u16) -> bool) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let high = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u32>().ok())
        .filter(|&start| start > LOW + 1_000)
        .unwrap_or(32_768);
    let span = high - LOW;
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(LOW + offset).expect("below 65536");
        if bindable(port) {
            return port;
        }
    }
    panic!("no free port on loopback between {LOW} and {high}");
}

/// Polls `f` every 20 ms until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A real `rrasd` process on a temp state dir and socket. Killed (by PID)
/// on drop.
#[derive(Debug)]
pub struct DaemonProcess {
    binary: PathBuf,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    extra_args: Vec<String>,
    envs: Vec<(String, String)>,
    child: Option<Child>,
}

impl DaemonProcess {
    /// Starts `binary` with the temp dir's state and socket plus `extra_args`,
    /// and waits until it is running.
    pub fn start(binary: &Path, extra_args: &[&str]) -> Self {
        let mut d = Self::prepare(binary, extra_args);
        d.spawn();
        d.wait_running();
        d
    }

    /// [`start`](Self::start) with arguments built as owned strings.
    pub fn start_owned(binary: &Path, extra_args: &[String]) -> Self {
        let args: Vec<&str> = extra_args.iter().map(String::as_str).collect();
        Self::start(binary, &args)
    }

    /// The temp dir and arguments of a daemon, not started yet ([`spawn`](Self::spawn)
    /// and [`wait_running`](Self::wait_running) start it): for a test that
    /// needs its state first, such as its node id.
    pub fn prepare(binary: &Path, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        reaper::track_dir(dir.path());
        let socket = dir.path().join("admin.sock");
        DaemonProcess {
            binary: binary.to_owned(),
            socket,
            dir,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            envs: Vec::new(),
            child: None,
        }
    }

    /// More arguments, for the next [`spawn`](Self::spawn).
    pub fn args(&mut self, args: &[&str]) {
        self.extra_args.extend(args.iter().map(|a| a.to_string()));
    }

    /// An environment variable, for the next [`spawn`](Self::spawn).
    pub fn env(&mut self, key: &str, value: &str) {
        self.envs.push((key.to_owned(), value.to_owned()));
    }

    /// Its `--state-dir`.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Its node id, from `rrasd --print-node-id` on its state dir (before
    /// it starts; the store is the daemon's alone while it runs).
    pub fn node_id(&self) -> String {
        let out = Command::new(&self.binary)
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--print-node-id")
            .output()
            .expect("run rrasd --print-node-id");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `unix:PATH` of the socket.
    pub fn addr(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Spawns the process (without waiting for it).
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("rrasd.log"))
            .expect("log file");
        let child = Command::new(&self.binary)
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--admin-socket")
            .arg(&self.socket)
            .arg("--log-level")
            .arg("info")
            .args(&self.extra_args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rrasd");
        reaper::track_process(child.id());
        self.child = Some(child);
    }

    /// The daemon's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rrasd.log")).unwrap_or_default()
    }

    /// Waits (≤ 20 s) until IsServiceRunning says running.
    pub fn wait_running(&self) {
        let addr = self.addr();
        let rt = runtime();
        let ok = wait_for(Duration::from_secs(20), || {
            rt.block_on(async {
                let c = AdminClient::connect(&addr).await.ok()?;
                matches!(c.is_service_running().await, Ok((true, _))).then_some(())
            })
        });
        assert!(ok.is_some(), "rrasd did not start; log:\n{}", self.log());
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        stop_child_now(&mut self.child);
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(status)) = c.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                break c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        reaper::forget_process(c.id());
        status
    }

    /// Starts the process again on the same state dir and waits for it.
    pub fn restart(&mut self) {
        self.spawn();
        self.wait_running();
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill9();
        reaper::forget_dir(self.dir.path());
    }
}

/// The daemon's connections matching `keep` (empty if it cannot be asked).
pub fn connections_where(addr: &str, keep: impl Fn(&rras_core::Connection) -> bool) -> Vec<rras_core::Connection> {
    runtime().block_on(async {
        match AdminClient::connect(addr).await {
            Ok(c) => c
                .connections()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|c| keep(c))
                .collect(),
            Err(_) => Vec::new(),
        }
    })
}

/// The end reason of the newest ended connection matching `keep`.
pub fn last_end_reason(addr: &str, keep: impl Fn(&rras_core::Connection) -> bool) -> Option<String> {
    runtime().block_on(async {
        let c = AdminClient::connect(addr).await.ok()?;
        c.history(100)
            .await
            .ok()?
            .into_iter()
            .find(|h| keep(&h.connection))
            .map(|h| h.reason)
    })
}

/// A small runtime for blocking test code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// An rrasd running inside this process (for tests that drive it through
/// another front end: rasctl, libmprapi). Stopped on drop.
#[derive(Debug)]
pub struct InProcessDaemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessDaemon {
    /// Starts with `configure` applied to a temp-dir config; waits until running.
    pub fn start(configure: impl FnOnce(&mut rrasd::Config)) -> Self {
        Self::start_until(configure, true)
    }

    /// Starts and waits until the daemon runs (`running`) or only until its
    /// socket answers (for daemons held in the starting state).
    pub fn start_until(configure: impl FnOnce(&mut rrasd::Config), running: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("admin.sock");
        let mut config = rrasd::Config {
            state_dir: dir.path().join("state"),
            admin_socket: socket.clone(),
            log_level: "warn".into(),
            ..rrasd::Config::default()
        };
        configure(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            if let Err(e) = rt.block_on(rrasd::run(config, async move {
                let _ = stopped.await;
            })) {
                eprintln!("in-process rrasd failed: {e}");
            }
        });
        let d = InProcessDaemon {
            dir,
            socket,
            stop: Some(stop),
            thread: Some(thread),
        };
        let addr = d.addr();
        let rt = runtime();
        let ok = wait_for(Duration::from_secs(20), || {
            rt.block_on(async {
                let c = AdminClient::connect(&addr).await.ok()?;
                (!running || matches!(c.is_service_running().await, Ok((true, _)))).then_some(())
            })
        });
        assert!(ok.is_some(), "in-process rrasd did not start");
        d
    }

    /// `unix:PATH` of the socket.
    pub fn addr(&self) -> String {
        format!("unix:{}", self.socket.display())
    }
}

impl Drop for InProcessDaemon {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A NAS's RFC 5176 listener for tests: answers one Disconnect-Request
/// (checked against `secret`) with `code` (41 ACK / 42 NAK) and an optional
/// Error-Cause; the thread returns the request it got.
pub fn disconnect_responder(
    secret: &'static str,
    code: u8,
    error_cause: Option<u32>,
) -> (
    u16,
    std::thread::JoinHandle<Option<rras_sources::radius::packet::Packet>>,
) {
    disconnect_responder_at(0, secret, code, error_cause)
}

/// [`disconnect_responder`] on a given UDP port (0: any), for a NAS whose
/// port the daemon was told before the responder is needed.
pub fn disconnect_responder_at(
    port: u16,
    secret: &'static str,
    code: u8,
    error_cause: Option<u32>,
) -> (
    u16,
    std::thread::JoinHandle<Option<rras_sources::radius::packet::Packet>>,
) {
    let nas = NasResponder {
        port,
        secret,
        code,
        error_cause,
        ..NasResponder::default()
    };
    let (addr, t) = nas.spawn();
    (addr.port(), t)
}

/// A NAS's RFC 5176 listener, configurable: where it listens, what it
/// answers, and how it signs its answers.
#[derive(Debug, Clone)]
pub struct NasResponder {
    /// Loopback address to listen on.
    pub ip: std::net::IpAddr,
    /// UDP port (0: any).
    pub port: u16,
    /// The shared secret requests must be signed with.
    pub secret: &'static str,
    /// 41 ACK / 42 NAK.
    pub code: u8,
    /// Error-Cause in the answer.
    pub error_cause: Option<u32>,
    /// Message-Authenticator in the answer: None, a correct one (true) or a
    /// wrong one (false).
    pub sign: Option<bool>,
    /// How many requests to answer before the thread returns the last.
    pub answers: usize,
}

impl Default for NasResponder {
    fn default() -> Self {
        NasResponder {
            ip: [127, 0, 0, 1].into(),
            port: 0,
            secret: "testing123",
            code: 41,
            error_cause: None,
            sign: None,
            answers: 1,
        }
    }
}

impl NasResponder {
    /// Binds and answers in a thread; the thread returns the last valid
    /// request it got (None when none came in 30 s or one was not signed
    /// with the secret).
    pub fn spawn(
        self,
    ) -> (
        std::net::SocketAddr,
        std::thread::JoinHandle<Option<rras_sources::radius::packet::Packet>>,
    ) {
        use rras_sources::radius::packet::{request_authenticator_ok, Packet};
        let sock = std::net::UdpSocket::bind((self.ip, self.port)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let t = std::thread::spawn(move || {
            let mut last = None;
            for _ in 0..self.answers {
                let mut buf = [0u8; 4096];
                let (n, peer) = sock.recv_from(&mut buf).ok()?;
                if !request_authenticator_ok(&buf[..n], self.secret.as_bytes()) {
                    return None;
                }
                let req = Packet::decode(&buf[..n]).ok()?;
                let attributes = self
                    .error_cause
                    .map(|c| vec![(101u8, c.to_be_bytes().to_vec())])
                    .unwrap_or_default();
                let reply = Packet {
                    code: self.code,
                    identifier: req.identifier,
                    authenticator: [0; 16],
                    attributes,
                };
                let secret = self.secret.as_bytes();
                let reply = match self.sign {
                    None => reply.encode_response(&req.authenticator, secret),
                    Some(true) => reply.encode_response_signed(&req.authenticator, secret),
                    Some(false) => {
                        // Signed with another key: the Response Authenticator
                        // is right, the Message-Authenticator is not.
                        let mut wrong = reply.encode_response_signed(&req.authenticator, b"not-the-secret");
                        let fixed = Packet::decode(&wrong).ok()?.encode_response(&req.authenticator, secret);
                        wrong[4..20].copy_from_slice(&fixed[4..20]);
                        wrong
                    }
                };
                sock.send_to(&reply, peer).ok()?;
                last = Some(req);
            }
            last
        });
        (addr, t)
    }
}

/// Output of one radclient run.
#[derive(Debug)]
pub struct RadclientRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl RadclientRun {
    /// How many Accounting-Responses radclient reported.
    pub fn responses(&self) -> usize {
        self.stdout.matches("Received Accounting-Response").count()
    }
}

/// Runs `radclient` against 127.0.0.1:`port` with `packets` (attribute
/// blocks separated by blank lines), `parallel` outstanding at once.
pub fn radclient(port: u16, secret: &str, packets: &str, extra: &[&str]) -> RadclientRun {
    run_radclient(Command::new("radclient"), "127.0.0.1", port, secret, packets, extra)
}

/// [`radclient`] inside `ns` to `ip`, which it then sends from: how a
/// test speaks as one of several NASes on distinct loopback addresses.
pub fn radclient_in(
    ns: &netns::LoopbackNetns,
    ip: &str,
    port: u16,
    secret: &str,
    packets: &str,
    extra: &[&str],
) -> RadclientRun {
    run_radclient(ns.command("radclient"), ip, port, secret, packets, extra)
}

fn run_radclient(
    mut command: Command,
    ip: &str,
    port: u16,
    secret: &str,
    packets: &str,
    extra: &[&str],
) -> RadclientRun {
    let mut child = command
        .args(["-x", "-t", "2", "-r", "3"])
        .args(extra)
        .arg(format!("{ip}:{port}"))
        .arg("acct")
        .arg(secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn radclient");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(packets.as_bytes()).expect("write radclient stdin");
    }
    let out = child.wait_with_output().expect("radclient output");
    RadclientRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
