//! The OpenVPN source against a real OpenVPN 2.6 server and client in
//! network namespaces: the client becomes a connection with user, address
//! and counters; an admin disconnect sends client-kill HALT; a client that
//! quits ends its connection.

use std::path::Path;
use std::time::Duration;

use rras_client::AdminClient;
use rras_core::{Connection, EngineKind};
use rras_testkit::openvpn_lab::{OpenvpnLab, CLIENT_TUNNEL, CLIENT_UNDERLAY, USER};
use rras_testkit::{connections_where, last_end_reason, require_root, require_tool, runtime, wait_for, DaemonProcess};

fn is_openvpn(c: &Connection) -> bool {
    c.info.source.engine == EngineKind::Openvpn
}

fn session(d: &DaemonProcess) -> Option<Connection> {
    connections_where(&d.addr(), is_openvpn).into_iter().next()
}

fn last_reason(d: &DaemonProcess) -> Option<String> {
    last_end_reason(&d.addr(), is_openvpn)
}

#[test]
fn openvpn_clients_become_connections() {
    if !require_root() || !["openvpn", "ping", "ip"].iter().all(|t| require_tool(t)) {
        return;
    }
    let mut lab = OpenvpnLab::up();
    let mgmt = format!("{}=tun0", lab.management.display());
    let daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--openvpn-mgmt", &mgmt, "--openvpn-poll-secs", "1"],
    );
    let c = wait_for(Duration::from_secs(15), || session(&daemon)).expect("client became a connection");
    assert_eq!(c.info.user_name, USER);
    assert_eq!(c.info.interface_name, "tun0");
    assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().unwrap()));
    assert_eq!(
        c.info.projection.ipv4().remote_address,
        Some(CLIENT_TUNNEL.parse().unwrap())
    );
    assert!(c.info.stats.bytes_rcved > 0 && c.info.stats.bytes_xmited > 0);
    assert!(c.info.engine_attributes.iter().any(|(k, _)| k == "Cipher"));

    // Admin hang-up: client-kill HALT, the client exits, the session ends.
    runtime().block_on(async {
        AdminClient::connect(&daemon.addr())
            .await
            .unwrap()
            .disconnect(c.handle.get())
            .await
            .expect("disconnect")
    });
    assert!(session(&daemon).is_none());
    assert_eq!(last_reason(&daemon).as_deref(), Some("admin-disconnect"));
    assert!(
        wait_for(Duration::from_secs(15), || lab.client_exited().then_some(())).is_some(),
        "client kept running"
    );

    // A new session; the client quits by itself.
    lab.start_client();
    let again = wait_for(Duration::from_secs(15), || session(&daemon)).expect("client back");
    assert_ne!(again.info.source.session_id, c.info.source.session_id, "a new session");
    lab.stop_client();
    let ended = wait_for(Duration::from_secs(20), || {
        last_reason(&daemon).filter(|r| r == "user-request")
    });
    assert!(ended.is_some(), "quit client's session did not end");
}
