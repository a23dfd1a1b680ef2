//! The strongSwan source against real charons (IKEv2, kernel-libipsec) in
//! network namespaces, two users at once, started once for both parts:
//!
//! 1. strongSwan's own: with a 60 s poll, what VICI events bring (an SA
//!    the client closes ends, a new one appears, long before the poll);
//!    counters survive a forced rekey; the IKEv2 projection as a C
//!    program sees it through libmprapi.
//! 2. The engine conformance scenario (`rras_testkit::conformance`): both
//!    users listed three ways, each user's counters grow with traffic
//!    through that user's own CHILD_SA, an admin hang-up terminates the SA
//!    in charon, a restart keeps handles, charon's loss ends the sessions.

use std::path::Path;
use std::time::{Duration, Instant};

use rras_core::{Connection, EngineKind};
use rras_testkit::conformance::EngineLab;
use rras_testkit::strongswan_lab::StrongswanLab;
use rras_testkit::{connections_where, last_end_reason, require_root, require_tool, wait_for, DaemonProcess};

fn user(name: &'static str) -> impl Fn(&Connection) -> bool {
    move |c| c.info.source.engine == EngineKind::Strongswan && c.info.user_name == name
}

fn session(d: &DaemonProcess, name: &'static str) -> Option<Connection> {
    connections_where(&d.addr(), user(name)).pop()
}

/// The connections as a C program sees them through libmprapi, one line
/// each (`tests/c/projection_dump.c`); None when libmprapi was not built
/// (`cargo test -p rrasd` alone; under CI the whole workspace is built).
fn through_libmprapi(d: &DaemonProcess) -> Option<String> {
    let rrasd = Path::new(env!("CARGO_BIN_EXE_rrasd"));
    let Some(lib) = rras_testkit::conformance::mprapi_dir(rrasd) else {
        assert!(
            !rras_testkit::in_ci(),
            "libmprapi.so not built next to {}",
            rrasd.display()
        );
        eprintln!("SKIP (C view): libmprapi.so not built; run cargo test --workspace");
        return None;
    };
    if !require_tool("gcc") {
        return None;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/projection_dump.c");
    Some(rras_testkit::conformance::run_mprapi_program(&source, &lib, d))
}

fn bytes_in(d: &DaemonProcess) -> u64 {
    connections_where(&d.addr(), |c| c.info.source.engine == EngineKind::Strongswan)
        .iter()
        .map(|c| c.info.stats.bytes_rcved)
        .sum()
}

#[test]
fn strongswan_ike_sas_become_ikev2_connections() {
    if !require_root()
        || !["swanctl", "/usr/lib/ipsec/charon", "unshare", "ip", "ping"]
            .iter()
            .all(|t| require_tool(t))
    {
        return;
    }
    let mut lab = StrongswanLab::up(&["alice", "bob"]);
    events_rekeys_and_the_c_view(&lab);
    rras_testkit::conformance::run(&mut lab, Path::new(env!("CARGO_BIN_EXE_rrasd")));
}

/// strongSwan's own part, with its own rrasd, which it stops.
fn events_rekeys_and_the_c_view(lab: &StrongswanLab) {
    let config = lab.dir().join("rrasd-events.toml");
    // A long poll interval: anything seen sooner came through the events.
    std::fs::write(
        &config,
        format!(
            "[strongswan]\nvici = \"unix://{}\"\npoll_secs = 60\nunreachable_grace_secs = 2\n",
            lab.vici.display()
        ),
    )
    .unwrap();
    let mut daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--config", config.to_str().unwrap()],
    );
    let alice = wait_for(Duration::from_secs(10), || session(&daemon, "alice")).expect("alice's IKE SA");
    let bob = wait_for(Duration::from_secs(10), || session(&daemon, "bob")).expect("bob's IKE SA");
    for c in [&alice, &bob] {
        lab.check(c);
    }
    assert_ne!(
        alice.info.projection.ipv4().remote_address,
        bob.info.projection.ipv4().remote_address
    );
    // The same through the C API: projectionInfoType 2, the IKEv2 flag, the
    // virtual IP from the IKEv2 projection.
    if let Some(lines) = through_libmprapi(&daemon) {
        let vip = alice.info.projection.ipv4().remote_address.expect("vip");
        let expected = format!("user=alice type=2 flags=0x10 ip={vip} auth=0");
        assert!(lines.lines().any(|l| l == expected), "{expected:?} not in:\n{lines}");
        assert!(
            lines.lines().any(|l| l.starts_with("user=bob type=2 flags=0x10 ")),
            "{lines}"
        );
    }

    // Traffic makes the counters grow; a forced rekey does not take them back.
    let before = bytes_in(&daemon);
    assert!(lab.ping_as("alice"));
    // Counters move on the next poll; nudge one with a rekey event.
    lab.rekey_children();
    let grown = wait_for(Duration::from_secs(10), || {
        let now = bytes_in(&daemon);
        (now > before).then_some(now)
    })
    .expect("counters grew");
    std::thread::sleep(Duration::from_secs(2));
    lab.rekey_children();
    std::thread::sleep(Duration::from_secs(2));
    assert!(bytes_in(&daemon) >= grown, "counters went back after a rekey");
    assert_eq!(session(&daemon, "alice").map(|c| c.handle), Some(alice.handle));

    // bob's client closes its SA, then opens a new one: both reach rrasd
    // through the events, well before the 60 s poll.
    let t = Instant::now();
    lab.swanctl("cli", &["--terminate", "--ike", "home-bob", "--timeout", "10"]);
    let ended = wait_for(Duration::from_secs(5), || {
        session(&daemon, "bob").is_none().then_some(())
    });
    assert!(ended.is_some(), "bob's closed SA still listed");
    assert_eq!(
        last_end_reason(&daemon.addr(), user("bob")).as_deref(),
        Some("user-request")
    );
    lab.swanctl(
        "cli",
        &[
            "--initiate",
            "--ike",
            "home-bob",
            "--child",
            "net-bob",
            "--timeout",
            "10",
        ],
    );
    let back = wait_for(Duration::from_secs(5), || session(&daemon, "bob")).expect("bob back through the events");
    assert_ne!(back.handle, bob.handle);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(daemon.terminate().is_some_and(|s| s.success()));
}
