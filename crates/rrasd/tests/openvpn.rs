//! The OpenVPN source against a real OpenVPN 2.6 server and clients in
//! network namespaces: the engine conformance scenario with two users (an
//! admin's hang-up is client-kill HALT), and a client that quits ending
//! its connection as `user-request`.

use std::path::Path;
use std::time::Duration;

use rras_core::{Connection, EngineKind};
use rras_testkit::openvpn_lab::{OpenvpnLab, CLIENT_TUNNEL, USER};
use rras_testkit::{connections_where, last_end_reason, require_root, require_tool, wait_for, DaemonProcess};

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
    assert_eq!(
        c.info.projection.ipv4().remote_address,
        Some(CLIENT_TUNNEL.parse().unwrap())
    );
    // The client quits by itself (explicit-exit-notify): the session ends
    // as the user's doing. (Listing, counters, an admin's hang-up, restart
    // and engine loss: the conformance scenario below.)
    lab.stop_client();
    let ended = wait_for(Duration::from_secs(20), || {
        last_reason(&daemon).filter(|r| r == "user-request")
    });
    assert!(ended.is_some(), "quit client's session did not end");
    assert!(session(&daemon).is_none());
}

#[test]
fn openvpn_passes_the_engine_conformance_scenario() {
    if !require_root() || !["openvpn", "ping", "ip", "gcc"].iter().all(|t| require_tool(t)) {
        return;
    }
    let mut lab = OpenvpnLab::up_with(&["alice", "bob"]);
    rras_testkit::conformance::run(&mut lab, Path::new(env!("CARGO_BIN_EXE_rrasd")));
}
