//! Two network namespaces joined by a veth pair: the underlay every engine
//! lab builds on. Names carry a prefix and a per-process number so parallel
//! test runs do not collide.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique small number for this process's next fixture.
pub fn fixture_number() -> u32 {
    std::process::id() % 10_000 * 10 + NEXT.fetch_add(1, Ordering::Relaxed) % 10
}

/// Runs a command that must succeed; returns its trimmed stdout.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run command");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Server and client namespaces with addresses on a /24 underlay.
/// Deleted on drop.
#[derive(Debug)]
pub struct NetnsPair {
    pub server_ns: String,
    pub client_ns: String,
}

impl NetnsPair {
    /// Creates `{prefix}{n}s` and `{prefix}{n}c` joined by veth, with
    /// `server_addr`/24 and `client_addr`/24.
    pub fn create(prefix: &str, n: u32, server_addr: &str, client_addr: &str) -> Self {
        let pair = NetnsPair {
            server_ns: format!("{prefix}{n}s"),
            client_ns: format!("{prefix}{n}c"),
        };
        let (s, c) = (&pair.server_ns, &pair.client_ns);
        let (vs, vc) = (format!("v{prefix}{n}s"), format!("v{prefix}{n}c"));
        run(&["ip", "netns", "add", s]);
        run(&["ip", "netns", "add", c]);
        run(&["ip", "link", "add", &vs, "type", "veth", "peer", "name", &vc]);
        run(&["ip", "link", "set", &vs, "netns", s]);
        run(&["ip", "link", "set", &vc, "netns", c]);
        for (ns, dev, addr) in [(s, &vs, server_addr), (c, &vc, client_addr)] {
            run(&["ip", "-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// Pings `target` from the client namespace (up to 10 tries of 3).
    pub fn ping_from_client(&self, target: &str) -> bool {
        self.ping(None, target)
    }

    /// Pings `target` from the client namespace out of device `dev`, or
    /// from source address `dev` (one client's tunnel when several share
    /// the namespace).
    pub fn ping_through(&self, dev: &str, target: &str) -> bool {
        self.ping(Some(dev), target)
    }

    fn ping(&self, dev: Option<&str>, target: &str) -> bool {
        (0..10).any(|_| {
            let mut ping = Command::new("ip");
            ping.args([
                "netns",
                "exec",
                &self.client_ns,
                "ping",
                "-c",
                "3",
                "-i",
                "0.2",
                "-W",
                "1",
            ]);
            if let Some(dev) = dev {
                ping.args(["-I", dev]);
            }
            ping.arg(target)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A network namespace with nothing but its loopback, in which each of
/// `sources` (127.0.0.N) sends from itself when sent to. On the host's
/// loopback every packet leaves from 127.0.0.1 whatever 127/8 address it
/// goes to (the local route's preferred source), and radclient cannot
/// choose its source; here a /32 local route per address gives each its
/// own, so several NASes can be told apart by address. Deleted on drop.
#[derive(Debug)]
pub struct LoopbackNetns {
    /// The namespace's name (`ip netns`).
    pub name: String,
}

impl LoopbackNetns {
    /// Creates `{prefix}{n}` with the routes for `sources`.
    pub fn create(prefix: &str, sources: &[&str]) -> Self {
        let ns = LoopbackNetns {
            name: format!("{prefix}{}", fixture_number()),
        };
        run(&["ip", "netns", "add", &ns.name]);
        run(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        for s in sources {
            run(&[
                "ip", "-n", &ns.name, "route", "replace", "local", s, "dev", "lo", "src", s, "table", "local",
            ]);
        }
        ns
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// A script in `dir` that runs `binary` (with its arguments) inside the
    /// namespace, replacing itself with it (so its PID is the binary's):
    /// for fixtures that start a binary by path, like `DaemonProcess`.
    pub fn wrapper(&self, binary: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("in-{}", self.name));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nexec ip netns exec {} {} \"$@\"\n",
                self.name,
                binary.display()
            ),
        )
        .expect("write wrapper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
        path
    }

    /// Runs `f` on a thread that has entered the namespace: sockets it
    /// creates belong to the namespace and may be used from any thread.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = std::fs::File::open(format!("/var/run/netns/{}", self.name)).expect("open netns");
        std::thread::scope(|s| {
            s.spawn(move || {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("thread in netns")
        })
    }
}

impl Drop for LoopbackNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
