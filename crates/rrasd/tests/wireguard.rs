//! The WireGuard source against real wireguard-go in network namespaces:
//! the engine conformance scenario with two peers (an admin's hang-up
//! removes the peer; a vanished interface ends its peers as
//! interface-down); a quiet peer ending as idle-timeout; two instances
//! splitting one socket directory; the kernel backend.

use std::path::Path;
use std::time::Duration;

use rras_client::AdminClient;
use rras_core::{Connection, EngineKind};
use rras_testkit::wireguard_lab::{WireguardLab, CLIENT_TUNNEL, CLIENT_UNDERLAY, SOCKET_DIR};
use rras_testkit::{connections_where, last_end_reason, require_root, require_tool, runtime, wait_for, DaemonProcess};

fn on(iface: &str) -> impl Fn(&Connection) -> bool + '_ {
    move |c| c.info.source.engine == EngineKind::Wireguard && c.info.source.nas == iface
}

fn peer_connection(d: &DaemonProcess, iface: &str) -> Option<Connection> {
    connections_where(&d.addr(), on(iface)).into_iter().next()
}

#[test]
fn wireguard_go_peers_become_connections() {
    if !require_root() || !["wireguard-go", "wg", "ping", "ip"].iter().all(|t| require_tool(t)) {
        return;
    }
    let lab = WireguardLab::up();
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("peers");
    std::fs::write(&names, format!("# key user\n{} alice\n", lab.client_pub)).unwrap();
    let daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &[
            "--wireguard-dir",
            SOCKET_DIR,
            "--wireguard-poll-secs",
            "1",
            "--wireguard-active-secs",
            "5",
            "--wireguard-peers-file",
            names.to_str().unwrap(),
        ],
    );
    let iface = lab.server_iface.clone();
    let first =
        wait_for(Duration::from_secs(15), || peer_connection(&daemon, &iface)).expect("peer became a connection");
    assert_eq!(first.info.user_name, "alice");
    assert_eq!(first.info.source.session_id, lab.client_pub);
    assert_eq!(first.info.interface_name, iface);
    assert_eq!(first.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().unwrap()));
    assert_eq!(
        first.info.projection.ipv4().remote_address,
        Some(CLIENT_TUNNEL.parse().unwrap())
    );
    assert!(first.info.stats.bytes_rcved > 0 && first.info.stats.bytes_xmited > 0);

    // Quiet: the peer ends as idle-timeout after the 5 s window.
    // (Listing, counters, an admin's hang-up, restart and a vanished
    // interface: the conformance scenario below.)
    let ended = wait_for(Duration::from_secs(20), || {
        last_end_reason(&daemon.addr(), on(&iface)).filter(|r| r == "idle-timeout")
    });
    assert!(ended.is_some(), "quiet peer did not end");
    assert!(peer_connection(&daemon, &iface).is_none());
}

/// Two WireGuard source instances side by side, splitting one socket
/// directory by interface, each over its own real wireguard-go server: each
/// instance reports, hangs up and ends only its own peers.
#[test]
fn two_wireguard_instances_keep_to_their_own_peers() {
    if !require_root() || !["wireguard-go", "wg", "ping", "ip"].iter().all(|t| require_tool(t)) {
        return;
    }
    let lab_a = WireguardLab::up();
    let mut lab_b = WireguardLab::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rrasd.toml");
    let instance = |name: &str, iface: &str| {
        format!(
            "[[source]]\nkind = \"wireguard\"\nname = \"{name}\"\nsocket_dir = \"{SOCKET_DIR}\"\n\
             interfaces = [\"{iface}\"]\npoll_secs = 1\nactive_secs = 60\n"
        )
    };
    std::fs::write(
        &config,
        instance("wg-a", &lab_a.server_iface) + &instance("wg-b", &lab_b.server_iface),
    )
    .unwrap();
    let daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--config", config.to_str().unwrap()],
    );
    let owned_by = |name: &'static str, iface: String| {
        move |c: &Connection| c.info.source.instance == name && c.info.source.nas == iface
    };
    let (a_iface, b_iface) = (lab_a.server_iface.clone(), lab_b.server_iface.clone());
    let a = wait_for(Duration::from_secs(15), || {
        connections_where(&daemon.addr(), owned_by("wg-a", a_iface.clone())).pop()
    })
    .expect("instance wg-a reports its peer");
    let b = wait_for(Duration::from_secs(15), || {
        connections_where(&daemon.addr(), owned_by("wg-b", b_iface.clone())).pop()
    })
    .expect("instance wg-b reports its peer");
    assert_eq!(
        (a.info.source.session_id.as_str(), b.info.source.session_id.as_str()),
        (lab_a.client_pub.as_str(), lab_b.client_pub.as_str())
    );
    // Only the configured interfaces: the clients' sockets in the same
    // directory are nobody's.
    let all = connections_where(&daemon.addr(), |c| c.info.source.engine == EngineKind::Wireguard);
    assert_eq!(all.len(), 2, "{all:?}");

    // A hang-up goes through the instance that owns the row, to its server.
    runtime().block_on(async {
        let c = AdminClient::connect(&daemon.addr()).await.unwrap();
        c.disconnect(a.handle.get()).await.expect("disconnect through wg-a");
    });
    assert!(lab_a.server_peers().is_empty(), "wg-a's peer still configured");
    assert_eq!(
        lab_b.server_peers(),
        vec![lab_b.client_pub.clone()],
        "wg-b's server was touched"
    );
    std::thread::sleep(Duration::from_secs(3));
    let b_now = connections_where(&daemon.addr(), owned_by("wg-b", b_iface.clone()));
    assert_eq!(
        b_now.iter().map(|c| c.handle).collect::<Vec<_>>(),
        vec![b.handle],
        "wg-b's session changed"
    );

    // wg-b's engine goes away: its session ends, wg-a keeps working.
    lab_b.stop_server();
    let down = wait_for(Duration::from_secs(15), || {
        last_end_reason(&daemon.addr(), owned_by("wg-b", b_iface.clone())).filter(|r| r == "interface-down")
    });
    assert!(down.is_some(), "wg-b's peer did not end with its interface");
    lab_a.add_client_peer();
    assert!(lab_a.ping());
    let back = wait_for(Duration::from_secs(15), || {
        connections_where(&daemon.addr(), owned_by("wg-a", a_iface.clone())).pop()
    })
    .expect("wg-a still polls after wg-b's engine died");
    assert_ne!(back.handle, a.handle, "a new session after the hang-up");
    assert!(connections_where(&daemon.addr(), owned_by("wg-b", b_iface.clone())).is_empty());
}

/// The kernel backend through the real generic netlink socket of this
/// machine: without the wireguard module the instance is reported
/// unreachable with the reason, and the daemon keeps serving; with it, a
/// missing interface is simply no peers.
#[test]
fn kernel_backend_reports_what_the_kernel_has() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rrasd.toml");
    std::fs::write(
        &config,
        "[[source]]\nkind = \"wireguard\"\nname = \"wg-kernel\"\nbackend = \"netlink\"\ninterfaces = [\"rrwgk0\"]\npoll_secs = 1\n",
    )
    .unwrap();
    let daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--config", config.to_str().unwrap()],
    );
    let kernel_has_wireguard = rras_sources::wireguard::netlink::family_id("wireguard").is_ok();
    let health = wait_for(Duration::from_secs(10), || {
        runtime().block_on(async {
            let c = AdminClient::connect(&daemon.addr()).await.ok()?;
            let h = c
                .server_info()
                .await
                .ok()?
                .sources
                .into_iter()
                .find(|h| h.name == "wg-kernel")?;
            (h.state != "unknown" && (h.last_ok.is_some() || !h.last_error.is_empty())).then_some(h)
        })
    })
    .expect("the kernel instance reports its health");
    if kernel_has_wireguard {
        assert_eq!(health.state, "ok", "{health:?}");
    } else {
        assert_eq!(health.state, "unreachable", "{health:?}");
        assert!(health.last_error.contains("module"), "{}", health.last_error);
    }
    assert_eq!(health.sessions, 0);
}

#[test]
fn wireguard_passes_the_engine_conformance_scenario() {
    if !require_root()
        || !["wireguard-go", "wg", "ping", "ip", "gcc"]
            .iter()
            .all(|t| require_tool(t))
    {
        return;
    }
    let mut lab = WireguardLab::up_with(&["alice", "bob"]);
    rras_testkit::conformance::run(&mut lab, Path::new(env!("CARGO_BIN_EXE_rrasd")));
}
