//! The ocserv source against a real ocserv with two openconnect clients in
//! network namespaces: both sessions appear with user, addresses and
//! endpoints; counters grow with traffic; an admin disconnect ends one
//! session in ocserv and in the table while the other stays; a restart of
//! rrasd keeps the live session's handle; ocserv going away shows in
//! health and ends the session after the grace period.

use std::path::Path;
use std::time::Duration;

use rras_client::AdminClient;
use rras_core::{Connection, EngineKind};
use rras_testkit::ocserv_lab::{OcservLab, CLIENT_UNDERLAY, SERVER_UNDERLAY};
use rras_testkit::{
    connections_where, last_end_reason, rasctl_beside, require_root, require_tool, run_rasctl, runtime, wait_for,
    DaemonProcess,
};

fn user(name: &'static str) -> impl Fn(&Connection) -> bool {
    move |c| c.info.source.engine == EngineKind::Ocserv && c.info.user_name == name
}

fn session(d: &DaemonProcess, name: &'static str) -> Option<Connection> {
    connections_where(&d.addr(), user(name)).pop()
}

#[test]
fn ocserv_sessions_become_connections() {
    if !require_root()
        || !["ocserv", "occtl", "openconnect", "openssl", "ip", "ping"]
            .iter()
            .all(|t| require_tool(t))
    {
        return;
    }
    let mut lab = OcservLab::up(&["alice", "bob"]);
    let config = lab.dir().join("rrasd.toml");
    std::fs::write(
        &config,
        format!(
            "[ocserv]\nsocket = \"{}\"\nnetns = \"{}\"\npoll_secs = 1\nunreachable_grace_secs = 2\n",
            lab.socket(),
            lab.server_ns
        ),
    )
    .unwrap();
    let mut daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--config", config.to_str().unwrap()],
    );

    let alice = wait_for(Duration::from_secs(15), || session(&daemon, "alice")).expect("alice's session");
    let bob = wait_for(Duration::from_secs(15), || session(&daemon, "bob")).expect("bob's session");
    for c in [&alice, &bob] {
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().unwrap()));
        assert_eq!(c.info.local_endpoint, Some(SERVER_UNDERLAY.parse().unwrap()));
        assert!(c.info.interface_name.starts_with("vpns"), "{:?}", c.info.interface_name);
        let v4 = c.info.projection.ipv4().remote_address.expect("pool address");
        assert_eq!(v4.octets()[..3], [10, 203, 13]);
        assert_eq!(c.info.device_type, rras_core::model::device_type::OTHER);
        assert!(
            c.info.stats.bytes_rcved > 0,
            "no counters: occtl not in ocserv's namespace?"
        );
        assert!(
            c.info
                .engine_attributes
                .iter()
                .any(|(k, v)| k == "User-Agent" && v.contains("AnyConnect")),
            "{:?}",
            c.info.engine_attributes
        );
    }
    assert_ne!(alice.handle, bob.handle);
    assert_ne!(
        alice.info.projection.ipv4().remote_address,
        bob.info.projection.ipv4().remote_address
    );
    let age = std::time::SystemTime::now()
        .duration_since(alice.info.started_at)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(120), "start time {age:?} ago");

    // Traffic through alice's tunnel: her counters grow, same handle.
    assert!(lab.ping("alice"));
    let grown = wait_for(Duration::from_secs(10), || {
        session(&daemon, "alice").filter(|c| c.info.stats.bytes_rcved > alice.info.stats.bytes_rcved)
    })
    .expect("alice's counters grew");
    assert_eq!(grown.handle, alice.handle);

    // What an admin sees with rasctl, and an admin hang-up through it: bob
    // ends in ocserv and in the table, with history.
    let rasctl = rasctl_beside(Path::new(env!("CARGO_BIN_EXE_rrasd")));
    if let Some(rasctl) = &rasctl {
        let json: serde_json::Value = serde_json::from_str(&run_rasctl(
            rasctl,
            &daemon.addr(),
            &["connections", "--json", "--engine", "ocserv"],
        ))
        .expect("JSON");
        let users: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["user"].as_str())
            .collect();
        assert!(users.contains(&"alice") && users.contains(&"bob"), "{json}");
        run_rasctl(rasctl, &daemon.addr(), &["disconnect", &bob.handle.get().to_string()]);
    } else {
        runtime().block_on(async {
            let c = AdminClient::connect(&daemon.addr()).await.unwrap();
            c.disconnect(bob.handle.get()).await.expect("disconnect bob");
        });
    }
    assert!(session(&daemon, "bob").is_none());
    assert_eq!(
        last_end_reason(&daemon.addr(), user("bob")).as_deref(),
        Some("admin-disconnect")
    );
    assert!(
        wait_for(Duration::from_secs(15), || lab.client_exited("bob").then_some(())).is_some(),
        "bob's openconnect is still running"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(session(&daemon, "bob").is_none(), "bob came back");
    assert_eq!(session(&daemon, "alice").map(|c| c.handle), Some(alice.handle));

    // A restart of rrasd keeps alice's handle.
    assert!(daemon.terminate().is_some_and(|s| s.success()));
    daemon.restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(session(&daemon, "alice").map(|c| c.handle), Some(alice.handle));

    // ocserv goes away: health says so, alice ends after the grace period.
    lab.stop_server();
    let unreachable = wait_for(Duration::from_secs(15), || {
        runtime().block_on(async {
            let c = AdminClient::connect(&daemon.addr()).await.ok()?;
            let info = c.server_info().await.ok()?;
            info.sources
                .into_iter()
                .find(|h| h.kind == "ocserv" && h.state == "unreachable")
        })
    });
    assert!(unreachable.is_some(), "ocserv's absence is not in the health");
    let ended = wait_for(Duration::from_secs(15), || {
        last_end_reason(&daemon.addr(), user("alice")).filter(|r| r == "engine-unreachable")
    });
    assert!(ended.is_some(), "alice did not end after the grace period");
}
