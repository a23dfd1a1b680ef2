//! The WireGuard source against real wireguard-go in network namespaces:
//! a peer that handshakes becomes a connection with its counters and
//! addresses; an admin disconnect removes the peer; a quiet peer ends as
//! idle-timeout; a vanished interface ends its peers as interface-down.

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
    let mut lab = WireguardLab::up();
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

    // More traffic, higher counters, same handle.
    assert!(lab.ping());
    let grown = wait_for(Duration::from_secs(10), || {
        peer_connection(&daemon, &iface).filter(|c| c.info.stats.bytes_rcved > first.info.stats.bytes_rcved)
    })
    .expect("counters grew");
    assert_eq!(grown.handle, first.handle);

    // An admin hang-up removes the peer from the running interface.
    runtime().block_on(async {
        let c = AdminClient::connect(&daemon.addr()).await.unwrap();
        c.disconnect(first.handle.get()).await.expect("disconnect");
    });
    assert!(lab.server_peers().is_empty(), "peer still configured");
    assert!(peer_connection(&daemon, &iface).is_none());
    assert_eq!(
        last_end_reason(&daemon.addr(), on(&iface)).as_deref(),
        Some("admin-disconnect")
    );

    // Back again, then quiet: ends as idle-timeout after the 5 s window.
    lab.add_client_peer();
    assert!(lab.ping());
    wait_for(Duration::from_secs(15), || peer_connection(&daemon, &iface)).expect("peer back");
    let ended = wait_for(Duration::from_secs(20), || {
        last_end_reason(&daemon.addr(), on(&iface)).filter(|r| r == "idle-timeout")
    });
    assert!(ended.is_some(), "quiet peer did not end");

    // Back again, then the interface disappears.
    assert!(lab.ping());
    wait_for(Duration::from_secs(15), || peer_connection(&daemon, &iface)).expect("peer back again");
    lab.stop_server();
    let down = wait_for(Duration::from_secs(15), || {
        last_end_reason(&daemon.addr(), on(&iface)).filter(|r| r == "interface-down")
    });
    assert!(down.is_some(), "peers of a vanished interface did not end");
}
