//! The engine conformance scenario: one script every engine lab runs, so
//! that "rrasd supports engine X" means the same thing for each.
//!
//! Against a real engine with two users up, a real rrasd must: list both
//! through the Rust client, `rasctl --json` and libmprapi (a C program
//! built against it); show counters that grow with traffic; hang one user
//! up — gone from the engine and the table, history reason
//! `admin-disconnect`, the other untouched; keep handles across its own
//! restart; and, when the engine goes away, say so in its health and end
//! the sessions with the engine's reason (`engine-unreachable` after the
//! grace; WireGuard's vanished interface: `interface-down`).
//!
//! A lab implements [`EngineLab`]; what is particular to an engine (its
//! device type, its addresses) it checks in [`EngineLab::check`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rras_client::AdminClient;
use rras_core::{Connection, EngineKind};

use crate::hostile_socket::HostileSocket;
use crate::{last_end_reason, rasctl_beside, run_rasctl, runtime, wait_for, DaemonProcess};

/// A real engine with users connected, as the scenario drives it.
pub trait EngineLab {
    /// The engine.
    fn kind(&self) -> EngineKind;

    /// rrasd.toml text that makes rrasd read this engine, polling every
    /// second with a grace of four seconds.
    fn config(&self) -> String;

    /// Called once rrasd runs, for an engine that reports to rrasd rather
    /// than being read by it (a NAS sends its Starts now).
    fn started(&mut self) {}

    /// The two users the lab connected.
    fn users(&self) -> [String; 2];

    /// Sends traffic through `user`'s tunnel; false when it did not pass.
    fn traffic(&mut self, user: &str) -> bool;

    /// True once the engine no longer carries `user`'s session (its client
    /// was hung up).
    fn ended_in_engine(&mut self, user: &str) -> bool;

    /// Stops the engine; its sessions go with it.
    fn stop_engine(&mut self);

    /// How the engine going away shows in rrasd.
    fn loss(&self) -> Loss {
        Loss {
            health: Some("unreachable"),
            reason: "engine-unreachable",
        }
    }

    /// Where the lab keeps its files (rrasd's configuration goes there).
    fn dir(&self) -> &Path;

    /// The engine's own expectations of one listed session.
    fn check(&self, connection: &Connection);

    /// The Unix socket rrasd reads the engine through, for the hostile
    /// step (None: the engine is reached otherwise, e.g. over TLS, and
    /// its hostile replies are the codec's tests and fuzz targets).
    fn control_socket(&self) -> Option<PathBuf> {
        None
    }
}

/// How an engine's going away shows: the health state rrasd reports for
/// it (None: it stays as it was, e.g. WireGuard, where an interface that
/// vanished is not an engine that fails to answer) and the end reason of
/// its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    /// The health state to expect, if any.
    pub health: Option<&'static str>,
    /// The sessions' end reason.
    pub reason: &'static str,
}

/// The users' sessions as the daemon lists them, or None until both are.
fn both(addr: &str, kind: EngineKind, users: [&str; 2]) -> Option<[Connection; 2]> {
    let listed = crate::connections_where(addr, |c| c.info.source.engine == kind);
    let find = |u: &str| listed.iter().find(|c| c.info.user_name == u).cloned();
    Some([find(users[0])?, find(users[1])?])
}

fn session(addr: &str, kind: EngineKind, user: &str) -> Option<Connection> {
    crate::connections_where(addr, |c| c.info.source.engine == kind && c.info.user_name == user).pop()
}

/// Runs the scenario against `lab` with the rrasd at `rrasd` (rasctl and
/// libmprapi are expected beside it, as `cargo test --workspace` builds
/// them). Panics with what failed.
pub fn run(lab: &mut dyn EngineLab, rrasd: &Path) {
    let kind = lab.kind();
    let users = lab.users();
    let users = [users[0].as_str(), users[1].as_str()];
    let config = lab.dir().join("rrasd.toml");
    std::fs::write(&config, lab.config()).expect("rrasd.toml");
    let mut daemon = DaemonProcess::start(rrasd, &["--config", &config.display().to_string()]);
    let addr = daemon.addr();
    lab.started();

    // Both users listed, each as the engine describes it.
    let [first, second] = wait_for(Duration::from_secs(20), || both(&addr, kind, users))
        .unwrap_or_else(|| panic!("{kind}: both users never listed\n{}", daemon.log()));
    assert_ne!(first.handle, second.handle);
    for c in [&first, &second] {
        assert_eq!(c.info.source.engine, kind);
        assert_ne!(
            c.info.guid.to_string(),
            "00000000-0000-0000-0000-000000000000",
            "{kind}: no GUID"
        );
        let age = std::time::SystemTime::now()
            .duration_since(c.info.started_at)
            .unwrap_or_default();
        assert!(age < Duration::from_secs(600), "{kind}: start time {age:?} ago");
        lab.check(c);
    }

    // rasctl --json and libmprapi see the same sessions.
    let rasctl = rasctl_beside(rrasd).expect("rasctl built beside rrasd (cargo test --workspace)");
    let json: serde_json::Value = serde_json::from_str(&run_rasctl(
        &rasctl,
        &addr,
        &["connections", "--json", "--engine", kind.as_str()],
    ))
    .expect("rasctl --json");
    for c in [&first, &second] {
        let listed = json
            .as_array()
            .expect("a JSON array")
            .iter()
            .any(|row| row["user"] == c.info.user_name.as_str() && row["handle"] == c.handle.get());
        assert!(
            listed,
            "{kind}: rasctl --json lacks {} ({}): {json}",
            c.info.user_name,
            c.handle.get()
        );
    }
    let listing = mprapi_listing(&daemon, rrasd);
    for c in [&first, &second] {
        let line = format!("{} {} ", c.handle.get(), c.info.user_name);
        assert!(
            listing.lines().any(|l| l.starts_with(&line)),
            "{kind}: libmprapi's listing lacks {line:?}:\n{listing}"
        );
    }

    // Traffic: the counters grow, the handle stays.
    assert!(
        lab.traffic(users[0]),
        "{kind}: no traffic through {}'s tunnel",
        users[0]
    );
    let grown = wait_for(Duration::from_secs(15), || {
        session(&addr, kind, users[0]).filter(|c| {
            c.info.stats.bytes_rcved > first.info.stats.bytes_rcved
                && c.info.stats.bytes_xmited > first.info.stats.bytes_xmited
        })
    })
    .unwrap_or_else(|| panic!("{kind}: {}'s counters did not grow", users[0]));
    assert_eq!(grown.handle, first.handle);

    // An admin hangs the second user up with rasctl.
    run_rasctl(&rasctl, &addr, &["disconnect", &second.handle.get().to_string()]);
    assert!(
        session(&addr, kind, users[1]).is_none(),
        "{kind}: still listed after the hang-up"
    );
    assert_eq!(
        last_end_reason(&addr, |c| c.handle == second.handle).as_deref(),
        Some("admin-disconnect"),
        "{kind}: history reason"
    );
    assert!(
        wait_for(Duration::from_secs(20), || lab.ended_in_engine(users[1]).then_some(())).is_some(),
        "{kind}: the engine still carries {}'s session",
        users[1]
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        session(&addr, kind, users[1]).is_none(),
        "{kind}: {} came back",
        users[1]
    );
    assert_eq!(session(&addr, kind, users[0]).map(|c| c.handle), Some(first.handle));

    // rrasd restarts: the live session keeps its handle.
    assert!(
        daemon.terminate().is_some_and(|s| s.success()),
        "{kind}: rrasd did not stop cleanly"
    );
    daemon.restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        session(&addr, kind, users[0]).map(|c| c.handle),
        Some(first.handle),
        "{kind}: handle after restart"
    );

    // A hostile engine: its socket answers junk.
    if let Some(socket) = lab.control_socket() {
        hostile_engine(&addr, kind, &socket, &first, users);
    }

    // The engine goes away: health says so, the session ends (after the
    // grace, where the engine has one).
    let loss = lab.loss();
    lab.stop_engine();
    if let Some(state) = loss.health {
        let seen = wait_for(Duration::from_secs(20), || {
            runtime().block_on(async {
                let c = AdminClient::connect(&addr).await.ok()?;
                let info = c.server_info().await.ok()?;
                info.sources
                    .into_iter()
                    .find(|h| h.kind == kind.as_str() && h.state == state)
            })
        });
        assert!(seen.is_some(), "{kind}: the engine's absence is not in the health");
    }
    let ended = wait_for(Duration::from_secs(20), || {
        last_end_reason(&addr, |c| c.handle == first.handle).filter(|r| r == loss.reason)
    });
    assert!(ended.is_some(), "{kind}: {} did not end after the grace", users[0]);
}

/// The engine's socket answers junk until rrasd's health says the engine
/// is not well (the message free of raw control characters), then the
/// engine is back: rrasd stayed up, took nothing from the junk, kept the
/// live session (within the grace) and reads the engine again.
fn hostile_engine(addr: &str, kind: EngineKind, socket: &Path, live: &Connection, users: [&str; 2]) {
    let user = live.info.user_name.as_str();
    let health = |wanted: &dyn Fn(&str) -> bool| {
        runtime().block_on(async {
            let c = AdminClient::connect(addr).await.ok()?;
            let info = c.server_info().await.ok()?;
            info.sources
                .into_iter()
                .find(|h| h.kind == kind.as_str() && wanted(&h.state))
        })
    };
    let hostile = HostileSocket::take_over(socket);
    let unwell = wait_for(Duration::from_secs(15), || {
        health(&|s| s == "unreachable" || s == "degraded")
    });
    let served = hostile.served();
    drop(hostile);
    let unwell = unwell.unwrap_or_else(|| panic!("{kind}: junk from the engine is not in the health"));
    assert!(served > 0, "{kind}: rrasd never read the hostile socket");
    assert!(
        !unwell.last_error.chars().any(char::is_control),
        "{kind}: raw control characters in the health: {:?}",
        unwell.last_error
    );
    // Nothing from the junk: every row is one of the lab's users, and the
    // live session kept its handle.
    let listed = crate::connections_where(addr, |c| c.info.source.engine == kind);
    assert!(
        listed.iter().all(|c| users.contains(&c.info.user_name.as_str())),
        "{kind}: the junk made a session: {:?}",
        listed.iter().map(|c| &c.info.user_name).collect::<Vec<_>>()
    );
    assert!(
        listed.iter().any(|c| c.handle == live.handle),
        "{kind}: the junk ended {}",
        live.info.user_name
    );
    assert!(
        wait_for(Duration::from_secs(20), || health(&|s| s == "ok")).is_some(),
        "{kind}: not read again after the junk"
    );
    assert_eq!(
        session(addr, kind, user).map(|c| c.handle),
        Some(live.handle),
        "{kind}: {user}'s session did not survive the junk"
    );
}

/// Where cargo put libmprapi.so beside the `rrasd` binary (the profile
/// directory after `cargo build`, or its `deps` under `cargo test`).
pub fn mprapi_dir(rrasd: &Path) -> Option<PathBuf> {
    let bin = rrasd.parent()?;
    [bin.to_path_buf(), bin.join("deps")]
        .into_iter()
        .find(|d| d.join("libmprapi.so").exists())
}

/// Builds the C program `source` against the checked-in `mprapi.h` and the
/// libmprapi in `lib` (with Windows' 2-byte WCHAR), runs it against
/// `daemon`, and returns what it printed; panics if either step fails.
pub fn run_mprapi_program(source: &Path, lib: &Path, daemon: &DaemonProcess) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let name = source
        .file_stem()
        .map_or("program".into(), |s| s.to_string_lossy().into_owned());
    let out = daemon.state_dir().join(&name);
    let built = Command::new("gcc")
        .args(["-std=c11", "-fshort-wchar", "-Wall", "-Wextra", "-Werror"])
        .arg(format!("-I{}", root.join("crates/mprapi/include").display()))
        .arg(source)
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lmprapi", "-pthread"])
        .output()
        .expect("run gcc");
    assert!(
        built.status.success(),
        "gcc {}: {}",
        source.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    let addr = daemon.addr();
    let socket = addr.strip_prefix("unix:").unwrap_or(&addr);
    let ran = Command::new(&out)
        .env("RRAS_ADMIN_SOCKET", socket)
        .output()
        .expect("run the libmprapi program");
    assert!(ran.status.success(), "{name}: {}", String::from_utf8_lossy(&ran.stderr));
    String::from_utf8_lossy(&ran.stdout).into_owned()
}

/// What `c/connections.c` — a `MprAdminConnectionEnumEx` pager written as
/// Windows code, built against libmprapi — lists from `daemon`: one line
/// per connection, "handle user bytes-in bytes-out".
pub fn mprapi_listing(daemon: &DaemonProcess, rrasd: &Path) -> String {
    let lib = mprapi_dir(rrasd).expect("libmprapi.so built beside rrasd (cargo test --workspace)");
    run_mprapi_program(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("c/connections.c"),
        &lib,
        daemon,
    )
}
