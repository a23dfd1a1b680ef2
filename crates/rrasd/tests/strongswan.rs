//! The strongSwan source against real charons (IKEv2, kernel-libipsec) in
//! network namespaces, two users at once: IKE SAs become IKEv2 connections
//! with the IKEv2 projection; counters grow with traffic and survive a
//! forced rekey; an admin disconnect terminates the SA in charon and ends
//! the connection; a new SA appears through VICI events long before the
//! next poll; a restart of rrasd keeps handles; charon going away shows in
//! health and ends the sessions after the grace period.

use std::path::Path;
use std::time::{Duration, Instant};

use rras_client::AdminClient;
use rras_core::model::{connection_flags, device_type};
use rras_core::{Connection, EngineKind, Projection};
use rras_testkit::strongswan_lab::{StrongswanLab, CLIENT_UNDERLAY, SERVER_UNDERLAY};
use rras_testkit::{
    connections_where, last_end_reason, rasctl_beside, require_root, require_tool, run_rasctl, runtime, wait_for,
    DaemonProcess,
};

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
    let config = lab.dir().join("rrasd.toml");
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
        assert_eq!(c.info.remote_endpoint, Some(CLIENT_UNDERLAY.parse().unwrap()));
        assert_eq!(c.info.local_endpoint, Some(SERVER_UNDERLAY.parse().unwrap()));
        assert_eq!(
            c.info.flags & connection_flags::IKEV2_CONNECTION,
            connection_flags::IKEV2_CONNECTION
        );
        assert_eq!(c.info.device_type, device_type::IKEV2);
        let Projection::Ikev2(p) = &c.info.projection else {
            panic!("not an IKEv2 projection: {:?}", c.info.projection)
        };
        assert_eq!(p.authentication_protocol, 0, "PSK has no MPRAPI_IKEV2_AUTH value");
        assert_eq!(p.encryption_method, 3, "ESP AES-GCM-128: IPSEC_CIPHER_TYPE_AES_128");
        let vip = p.ipv4.remote_address.expect("virtual IP");
        assert_eq!(vip.octets()[..3], [10, 204, 14]);
        assert!(c.info.engine_attributes.iter().any(|(k, _)| k == "IKE-Encryption"));
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
    assert!(lab.ping());
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

    // What an admin sees with rasctl (the IKEv2 shape), and an admin
    // hang-up through it: bob's SA is terminated in charon.
    let rasctl = rasctl_beside(Path::new(env!("CARGO_BIN_EXE_rrasd")));
    if let Some(rasctl) = &rasctl {
        let json: serde_json::Value = serde_json::from_str(&run_rasctl(
            rasctl,
            &daemon.addr(),
            &["connections", "--json", "--user", "alice"],
        ))
        .expect("JSON");
        assert_eq!(json[0]["projection"], "ikev2", "{json}");
        assert_eq!(json[0]["flags"], 16, "{json}");
        assert_eq!(json[0]["engine"], "strongswan", "{json}");
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
    let gone = wait_for(Duration::from_secs(10), || {
        (!lab.swanctl("srv", &["--list-sas"]).contains("'bob'")).then_some(())
    });
    assert!(gone.is_some(), "bob's SA is still in charon");

    // bob comes back: visible through the events, well before the 60 s poll.
    let t = Instant::now();
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
    assert!(t.elapsed() < Duration::from_secs(15));

    // A restart of rrasd keeps handles and does not take counters back.
    let alice_now = session(&daemon, "alice").expect("alice");
    assert!(daemon.terminate().is_some_and(|s| s.success()));
    daemon.restart();
    let after = wait_for(Duration::from_secs(10), || session(&daemon, "alice")).expect("alice after restart");
    assert_eq!(after.handle, alice.handle);
    assert!(after.info.stats.bytes_rcved >= alice_now.info.stats.bytes_rcved);

    // charon goes away: health says so, sessions end after the grace period.
    lab.stop_server();
    let unreachable = wait_for(Duration::from_secs(70), || {
        runtime().block_on(async {
            let c = AdminClient::connect(&daemon.addr()).await.ok()?;
            c.server_info()
                .await
                .ok()?
                .sources
                .into_iter()
                .find(|h| h.kind == "strongswan" && h.state == "unreachable")
        })
    });
    assert!(unreachable.is_some(), "charon's absence is not in the health");
    let ended = wait_for(Duration::from_secs(15), || {
        last_end_reason(&daemon.addr(), user("alice")).filter(|r| r == "engine-unreachable")
    });
    assert!(ended.is_some(), "alice did not end after the grace period");
}
