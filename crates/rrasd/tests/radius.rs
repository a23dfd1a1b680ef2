//! RADIUS accounting with the real FreeRADIUS client: `radclient` packets
//! into the real `rrasd` binary, checked through the admin RPC.

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_client::AdminClient;
use rras_core::{Connection, Projection, Win32Error};
use rras_sources::radius::packet::Packet;
use rras_testkit::netns::LoopbackNetns;
use rras_testkit::{
    free_udp_port, radclient, radclient_in, require_root, require_tool, runtime, wait_for, DaemonProcess, NasResponder,
};

const SECRET: &str = "testing123";

fn start(extra: &[&str]) -> (DaemonProcess, u16) {
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--radius-acct",
        listen.as_str(),
        "--radius-client",
        "127.0.0.0/8=testing123",
    ];
    args.extend_from_slice(extra);
    (
        DaemonProcess::start(Path::new(env!("CARGO_BIN_EXE_rrasd")), &args),
        port,
    )
}

/// The daemon's Prometheus text.
fn metrics_text(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// A free loopback TCP port for the metrics listener, as ADDR:PORT.
fn metrics_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// rrasd listening for RADIUS on a free loopback port (returned), the rest
/// of `[radius]` from `radius_toml` (its clients …), plus `extra` flags;
/// its config lives in the returned directory.
fn start_with_config(radius_toml: &str, extra: &[&str]) -> (tempfile::TempDir, DaemonProcess, u16) {
    let port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rrasd.toml");
    std::fs::write(&cfg, format!("[radius]\nlisten = \"127.0.0.1:{port}\"\n{radius_toml}")).unwrap();
    let mut args = vec!["--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let daemon = DaemonProcess::start(Path::new(env!("CARGO_BIN_EXE_rrasd")), &args);
    (dir, daemon, port)
}

/// radclient options for a request that must go unanswered: one try, short.
const ONE_TRY: [&str; 4] = ["-r", "1", "-t", "1"];

fn connections(d: &DaemonProcess) -> Vec<Connection> {
    rras_testkit::connections_where(&d.addr(), |_| true)
}

fn by_session(d: &DaemonProcess, session: &str) -> Option<Connection> {
    connections(d).into_iter().find(|c| c.info.source.session_id == session)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn session(id: &str, nas_ip: &str, status: &str, extra: &str) -> String {
    format!(
        "User-Name = \"CORP\\\\user-{id}\"\nAcct-Session-Id = \"{id}\"\nNAS-IP-Address = {nas_ip}\n\
         NAS-Identifier = \"lab-nas\"\nNAS-Port = 1\nNAS-Port-Type = Virtual\nService-Type = Framed-User\n\
         Framed-Protocol = PPP\nTunnel-Type:1 = L2TP\nCalling-Station-Id = \"10.200.2.2\"\n\
         Called-Station-Id = \"10.200.2.1\"\nFramed-IP-Address = 10.200.12.2\nAcct-Status-Type = {status}\n{extra}"
    )
}

#[test]
fn start_interim_stop_ipv4_with_gigawords() {
    if !require_tool("radclient") {
        return;
    }
    let (d, port) = start(&[]);
    let t = now();
    let run = radclient(
        port,
        SECRET,
        &session("lab-0001", "127.0.0.1", "Start", &format!("Event-Timestamp = {t}\n")),
        &[],
    );
    assert!(run.success && run.responses() == 1, "{run:?}");
    let c = by_session(&d, "lab-0001").expect("started");
    assert_eq!(
        (c.info.user_name.as_str(), c.info.logon_domain.as_str()),
        ("user-lab-0001", "CORP")
    );
    assert_eq!(c.info.source.nas, "lab-nas@127.0.0.1");
    assert_eq!(
        c.info.projection.ipv4().remote_address,
        Some("10.200.12.2".parse().unwrap())
    );
    assert_eq!(c.info.remote_endpoint, Some("10.200.2.2".parse().unwrap()));
    assert_eq!(c.info.flags & 1, 1, "PPP flag");
    assert_eq!(c.info.started_at, UNIX_EPOCH + Duration::from_secs(t));

    let interim = format!(
        "Acct-Session-Time = 60\nAcct-Input-Octets = 123456\nAcct-Output-Octets = 654321\n\
         Acct-Input-Gigawords = 1\nAcct-Output-Gigawords = 2\nAcct-Input-Packets = 100\nAcct-Output-Packets = 200\n\
         Event-Timestamp = {}\n",
        t + 60
    );
    let run = radclient(
        port,
        SECRET,
        &session("lab-0001", "127.0.0.1", "Interim-Update", &interim),
        &[],
    );
    assert_eq!(run.responses(), 1, "{run:?}");
    let after = by_session(&d, "lab-0001").unwrap();
    assert_eq!(after.handle, c.handle, "same connection, same handle");
    assert_eq!(after.info.stats.bytes_rcved, (1u64 << 32) + 123_456);
    assert_eq!(after.info.stats.bytes_xmited, (2u64 << 32) + 654_321);
    assert_eq!(
        (after.info.stats.frames_rcved, after.info.stats.frames_xmited),
        (100, 200)
    );
    assert_eq!(after.info.started_at, UNIX_EPOCH + Duration::from_secs(t));

    let stop = format!("Acct-Session-Time = 120\nAcct-Input-Octets = 223456\nAcct-Terminate-Cause = Lost-Carrier\nEvent-Timestamp = {}\n", t + 120);
    let run = radclient(port, SECRET, &session("lab-0001", "127.0.0.1", "Stop", &stop), &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    assert!(by_session(&d, "lab-0001").is_none());
    let history =
        runtime().block_on(async { AdminClient::connect(&d.addr()).await.unwrap().history(5).await.unwrap() });
    assert_eq!(history[0].connection.info.source.session_id, "lab-0001");
    assert_eq!(history[0].reason, "lost-carrier");
    assert_eq!(history[0].connection.info.stats.bytes_rcved, 223_456);
}

#[test]
fn ipv6_session_from_an_ipv6_nas() {
    if !require_tool("radclient") {
        return;
    }
    let (_dir, d, port) = start_with_config(
        &format!("clients = [ {{ cidr = \"127.0.0.1\", secret = \"{SECRET}\", nas = [\"2001:db8::/32\"] }} ]\n"),
        &[],
    );
    let pkt = "User-Name = \"v6user\"\nAcct-Session-Id = \"v6-1\"\nNAS-IPv6-Address = 2001:db8::1\n\
               Acct-Status-Type = Start\nFramed-IPv6-Prefix = 2001:db8:77::/64\n\
               Framed-Interface-Id = 0:0:0:42\nTunnel-Type:1 = ESP\nTunnel-Client-Endpoint:1 = \"2001:db8:ffff::9\"\n";
    let run = radclient(port, SECRET, pkt, &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    let c = by_session(&d, "v6-1").expect("started");
    assert_eq!(c.info.source.nas, "2001:db8::1");
    assert!(matches!(c.info.projection, Projection::Ikev2(_)), "ESP tunnel is IKEv2");
    assert_eq!(
        c.info.projection.ipv6().remote_address(),
        Some("2001:db8:77::42".parse().unwrap())
    );
    assert_eq!(c.info.remote_endpoint, Some("2001:db8:ffff::9".parse().unwrap()));
}

#[test]
fn a_proxy_for_many_nases_and_accounting_on_ends_only_that_nas() {
    if !require_tool("radclient") {
        return;
    }
    let (_dir, d, port) = start_with_config(
        &format!(
            "clients = [ {{ cidr = \"127.0.0.1\", secret = \"{SECRET}\", name = \"proxy\", nas = [\"10.9.0.0/24\"] }} ]\n"
        ),
        &[],
    );
    let mut packets = String::new();
    for nas in 1..=5 {
        for s in 0..20 {
            packets.push_str(&session(&format!("n{nas}-s{s}"), &format!("10.9.0.{nas}"), "Start", ""));
            packets.push('\n');
        }
    }
    let run = radclient(port, SECRET, &packets, &["-p", "25"]);
    assert_eq!(run.responses(), 100, "{}", run.stderr);
    assert_eq!(connections(&d).len(), 100);
    let on = "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 10.9.0.3\nNAS-Identifier = \"lab-nas\"\n";
    let run = radclient(port, SECRET, on, &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    let left = connections(&d);
    assert_eq!(left.len(), 80);
    assert!(left.iter().all(|c| c.info.source.nas != "lab-nas@10.9.0.3"));
    let history = runtime().block_on(async {
        AdminClient::connect(&d.addr())
            .await
            .unwrap()
            .history(50)
            .await
            .unwrap()
    });
    assert_eq!(history.iter().filter(|h| h.reason == "nas-reboot").count(), 20);
    // Outside its grant the proxy speaks for nobody.
    let run = radclient(port, SECRET, &session("outside", "10.9.1.1", "Start", ""), &ONE_TRY);
    assert_eq!(run.responses(), 0, "{run:?}");
    assert!(by_session(&d, "outside").is_none());
}

/// Two NASes, each its own client with its own secret, on 127.0.0.1 and
/// 127.0.0.2, and a third address for a proxy: the daemon and radclient
/// run in a namespace of their own where each address sends from itself
/// (`LoopbackNetns`); the daemon listens on the namespace's wildcard
/// address so all three reach it. Needs root (skipped outside CI without).
struct TwoNases {
    // Dropped in this order: the daemon stops before its namespace goes.
    daemon: DaemonProcess,
    ns: LoopbackNetns,
    port: u16,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl TwoNases {
    fn start(extra_clients: &str, extra: &[&str]) -> Option<Self> {
        if !require_tool("radclient") || !require_root() {
            return None;
        }
        let ns = LoopbackNetns::create("rrad", &["127.0.0.2", "127.0.0.3"]);
        let dir = tempfile::tempdir().unwrap();
        let (port, metrics) = (free_udp_port(), metrics_addr());
        let cfg = dir.path().join("rrasd.toml");
        std::fs::write(
            &cfg,
            format!(
                "[radius]\nlisten = \"0.0.0.0:{port}\"\nclients = [\n\
                 {{ cidr = \"127.0.0.1\", secret = \"secret-a\", name = \"nas-a\" }},\n\
                 {{ cidr = \"127.0.0.2\", secret = \"secret-b\", name = \"nas-b\" }},\n{extra_clients}]\n"
            ),
        )
        .unwrap();
        let mut args = vec!["--config", cfg.to_str().unwrap(), "--metrics", &metrics];
        args.extend_from_slice(extra);
        let daemon = DaemonProcess::start(&ns.wrapper(Path::new(env!("CARGO_BIN_EXE_rrasd")), dir.path()), &args);
        Some(TwoNases {
            daemon,
            ns,
            port,
            metrics,
            _dir: dir,
        })
    }

    /// radclient as the NAS at `from`.
    fn send(&self, from: &str, secret: &str, packets: &str, extra: &[&str]) -> rras_testkit::RadclientRun {
        radclient_in(&self.ns, from, self.port, secret, packets, extra)
    }

    fn metrics(&self) -> String {
        self.ns.enter(|| metrics_text(&self.metrics))
    }
}

#[test]
fn one_client_can_neither_end_nor_change_another_nases_sessions() {
    let Some(lab) = TwoNases::start("", &[]) else {
        return;
    };
    let d = &lab.daemon;
    let b_sessions: String = (0..5)
        .map(|i| session(&format!("b-{i}"), "127.0.0.2", "Start", "") + "\n")
        .collect();
    let run = lab.send("127.0.0.2", "secret-b", &b_sessions, &[]);
    assert_eq!(run.responses(), 5, "{run:?}");
    let run = lab.send("127.0.0.1", "secret-a", &session("a-0", "127.0.0.1", "Start", ""), &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    assert_eq!(connections(d).len(), 6);

    // A, with its own valid secret, names B's NAS: Accounting-On, a Stop of
    // B's session, an Interim that would rename its user. None is applied
    // or answered.
    let on_b = "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 127.0.0.2\nNAS-Identifier = \"lab-nas\"\n";
    let stop_b = session("b-1", "127.0.0.2", "Stop", "Acct-Terminate-Cause = Admin-Reset\n");
    let rename_b = session("b-2", "127.0.0.2", "Interim-Update", "").replace("user-b-2", "mallory");
    for attack in [on_b, stop_b.as_str(), rename_b.as_str()] {
        let run = lab.send("127.0.0.1", "secret-a", attack, &ONE_TRY);
        assert_eq!(run.responses(), 0, "answered: {attack}");
    }
    let now = connections(d);
    assert_eq!(now.len(), 6, "B's sessions are all there");
    let b2 = now.iter().find(|c| c.info.source.session_id == "b-2").unwrap();
    assert_eq!(b2.info.user_name, "user-b-2");
    let body = lab.metrics();
    assert!(
        body.contains("rrasd_radius_dropped_total{reason=\"foreign-nas\"} 3"),
        "{body}"
    );
    assert!(
        d.log().contains("client nas-a may not speak for NAS 127.0.0.2"),
        "{}",
        d.log()
    );

    // A's own Accounting-On ends A's session and nothing of B's.
    let on_a = "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 127.0.0.1\nNAS-Identifier = \"lab-nas\"\n";
    let run = lab.send("127.0.0.1", "secret-a", on_a, &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    let left: Vec<_> = connections(d).into_iter().map(|c| c.info.source.session_id).collect();
    assert_eq!(left.len(), 5, "{left:?}");
    assert!(left.iter().all(|s| s.starts_with("b-")));
    // B's secret from A's address is a bad authenticator, not B speaking.
    let run = lab.send("127.0.0.1", "secret-b", &stop_b, &ONE_TRY);
    assert_eq!(run.responses(), 0);
    assert_eq!(connections(d).len(), 5);
}

#[test]
fn hang_ups_go_to_the_owning_client_signed_and_timestamped() {
    use rras_sources::radius::packet::message_authenticator_ok;
    // The proxy on 127.0.0.3 speaks for 10.20.0.0/16 and takes hang-ups on
    // its own CoA port.
    let coa_port = free_udp_port();
    let proxy = format!(
        "{{ cidr = \"127.0.0.3\", secret = \"secret-p\", name = \"proxy\", nas = [\"10.20.0.0/16\", \"ap-*\"], coa = \"127.0.0.3:{coa_port}\" }},\n"
    );
    let Some(lab) = TwoNases::start(&proxy, &["--radius-disconnect-port", "9"]) else {
        return;
    };
    let d = &lab.daemon;
    let forwarded = session("via-proxy", "10.20.1.1", "Start", "");
    let run = lab.send("127.0.0.3", "secret-p", &forwarded, &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    // A name grant: a NAS known by its NAS-Identifier.
    let by_name = session("by-name", "192.168.7.7", "Start", "").replace("lab-nas", "ap-7");
    let run = lab.send("127.0.0.3", "secret-p", &by_name, &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    // A direct NAS may not speak for a NAS granted to the proxy.
    let run = lab.send(
        "127.0.0.1",
        "secret-a",
        &session("x", "10.20.1.1", "Start", ""),
        &ONE_TRY,
    );
    assert_eq!(run.responses(), 0);
    let c = by_session(d, "via-proxy").expect("started through the proxy");
    assert_eq!(c.info.source.nas, "lab-nas@10.20.1.1");

    let rt = runtime();
    let disconnect = |handle: u32| {
        rt.block_on(async {
            let client = AdminClient::connect(&d.addr()).await.unwrap();
            client.disconnect(handle).await.map_err(|e| e.code())
        })
    };
    // An answer with a wrong Message-Authenticator is not believed (three
    // tries, then "server unavailable"); the session stays.
    let liar = NasResponder {
        ip: [127, 0, 0, 3].into(),
        port: coa_port,
        secret: "secret-p",
        sign: Some(false),
        answers: 3,
        ..NasResponder::default()
    };
    let (_, liar) = lab.ns.enter(|| liar.spawn());
    assert_eq!(disconnect(c.handle.get()), Err(Win32Error::RpcServerUnavailable.code()));
    assert!(liar.join().unwrap().is_some());
    assert!(by_session(d, "via-proxy").is_some());

    let honest = NasResponder {
        ip: [127, 0, 0, 3].into(),
        port: coa_port,
        secret: "secret-p",
        sign: Some(true),
        ..NasResponder::default()
    };
    let (_, nas) = lab.ns.enter(|| honest.spawn());
    assert_eq!(disconnect(c.handle.get()), Ok(()));
    let req = nas
        .join()
        .unwrap()
        .expect("the proxy got a request signed with its secret");
    assert_eq!(req.attr(4), Some(&[10u8, 20, 1, 1][..]), "NAS-IP-Address names the NAS");
    assert_eq!(req.attr(32), Some(&b"lab-nas"[..]));
    let stamp = u32::from_be_bytes(req.attr(55).expect("Event-Timestamp").try_into().unwrap());
    assert!(u64::from(stamp).abs_diff(now()) < 60, "Event-Timestamp is now");
    let wire = req.to_bytes();
    assert_eq!(message_authenticator_ok(&wire, &[0; 16], b"secret-p"), Some(true));
    assert!(by_session(d, "via-proxy").is_none());
}

#[test]
fn counters_only_interim_and_stop_without_counters_keep_what_the_start_said() {
    if !require_tool("radclient") {
        return;
    }
    let (d, port) = start(&[]);
    let full = "User-Name = \"CORP\\\\merge\"\nAcct-Session-Id = \"m-1\"\nNAS-IP-Address = 127.0.0.1\nNAS-Port = 4\n\
                Acct-Status-Type = Start\nFramed-Protocol = PPP\nTunnel-Type:1 = L2TP\nFramed-IP-Address = 10.61.0.9\n\
                Framed-IPv6-Address = 2001:db8:9::9\nCalling-Station-Id = \"198.51.100.7\"\nClass = 0xc1a550\n";
    assert_eq!(radclient(port, SECRET, full, &[]).responses(), 1);
    let before = by_session(&d, "m-1").expect("started");
    assert_eq!(before.info.device_type, 9, "L2TP");
    let counters = "Acct-Session-Id = \"m-1\"\nNAS-IP-Address = 127.0.0.1\nAcct-Status-Type = Interim-Update\n\
                    Acct-Input-Octets = 1000\nAcct-Output-Octets = 2000\nAcct-Session-Time = 30\n";
    assert_eq!(radclient(port, SECRET, counters, &[]).responses(), 1);
    let after = by_session(&d, "m-1").unwrap();
    let same = |c: &Connection| {
        (
            c.info.user_name.clone(),
            c.info.logon_domain.clone(),
            c.info.projection.ipv4().remote_address,
            c.info.projection.ipv6().remote_address(),
            c.info.device_type,
            c.info.flags,
            c.info.remote_endpoint,
            c.info.interface_name.clone(),
            c.info.engine_attributes.iter().find(|(k, _)| k == "Class").cloned(),
        )
    };
    assert_eq!(same(&after), same(&before));
    assert_eq!(
        after.info.projection.ipv4().remote_address,
        Some("10.61.0.9".parse().unwrap())
    );
    assert_eq!(
        after.info.projection.ipv6().remote_address(),
        Some("2001:db8:9::9".parse().unwrap())
    );
    assert_eq!(
        (after.info.stats.bytes_rcved, after.info.stats.bytes_xmited),
        (1000, 2000)
    );

    let stop = "Acct-Session-Id = \"m-1\"\nNAS-IP-Address = 127.0.0.1\nAcct-Status-Type = Stop\n";
    assert_eq!(radclient(port, SECRET, stop, &[]).responses(), 1);
    assert!(by_session(&d, "m-1").is_none());
    let history =
        runtime().block_on(async { AdminClient::connect(&d.addr()).await.unwrap().history(1).await.unwrap() });
    let ended = &history[0].connection;
    assert_eq!(ended.info.source.session_id, "m-1");
    assert_eq!(
        (ended.info.stats.bytes_rcved, ended.info.stats.bytes_xmited),
        (1000, 2000),
        "last known counters"
    );
    assert_eq!(same(ended), same(&before));
}

#[test]
fn replayed_accounting_on_and_stop_do_not_end_sessions_that_began_later() {
    if !require_tool("radclient") {
        return;
    }
    let (d, port) = start(&[]);
    let t = now();
    let stamped =
        |id: &str, status: &str, at: u64| session(id, "127.0.0.1", status, &format!("Event-Timestamp = {at}\n"));
    assert_eq!(
        radclient(port, SECRET, &stamped("old", "Start", t - 3600), &[]).responses(),
        1
    );
    assert_eq!(radclient(port, SECRET, &stamped("new", "Start", t), &[]).responses(), 1);
    // An Accounting-On from half an hour ago (captured and replayed now):
    // it ends the session that began before it, not the one after.
    let on = format!(
        "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 127.0.0.1\nNAS-Identifier = \"lab-nas\"\nEvent-Timestamp = {}\n",
        t - 1800
    );
    assert_eq!(radclient(port, SECRET, &on, &[]).responses(), 1);
    assert!(by_session(&d, "old").is_none());
    assert!(
        by_session(&d, "new").is_some(),
        "a replayed Accounting-On ended a later session"
    );
    // A Stop dated before the session began: acknowledged, not applied.
    assert_eq!(
        radclient(port, SECRET, &stamped("new", "Stop", t - 600), &[]).responses(),
        1
    );
    assert!(by_session(&d, "new").is_some(), "a replayed Stop ended a later session");
    assert_eq!(
        radclient(port, SECRET, &stamped("new", "Stop", t + 5), &[]).responses(),
        1
    );
    assert!(by_session(&d, "new").is_none());
}

#[test]
fn wrong_secret_and_garbage_are_dropped_and_listener_keeps_working() {
    if !require_tool("radclient") {
        return;
    }
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = format!("127.0.0.1:{metrics_port}");
    let (d, port) = start(&["--metrics", &m]);
    let run = rras_testkit::radclient(port, "wrong-secret", &session("bad-1", "127.0.0.1", "Start", ""), &[]);
    assert!(!run.success && run.responses() == 0, "answered a wrong secret: {run:?}");
    assert!(by_session(&d, "bad-1").is_none());

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let valid = Packet {
        code: 4,
        identifier: 9,
        authenticator: [0; 16],
        attributes: vec![(44, b"x".to_vec()), (40, vec![0, 0, 0, 1])],
    }
    .encode_request(SECRET.as_bytes());
    let mut bad_len = valid.clone();
    bad_len[3] = 0xff;
    let mut bad_attr = valid.clone();
    bad_attr[21] = 0;
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![4],
        vec![0xff; 19],
        bad_len,
        bad_attr,
        vec![4; 5000],
        vec![1; 65_000],
    ];
    for g in &garbage {
        let _ = sock.send_to(g, ("127.0.0.1", port));
    }
    let mut buf = [0u8; 100];
    assert!(sock.recv_from(&mut buf).is_err(), "garbage was answered");
    // Still serving real packets.
    let run = radclient(port, SECRET, &session("good-1", "127.0.0.1", "Start", ""), &[]);
    assert_eq!(run.responses(), 1, "{run:?}");
    let body = metrics_text(&m);
    assert!(
        body.contains("rrasd_radius_dropped_total{reason=\"bad-authenticator\"}"),
        "{body}"
    );
    assert!(
        body.contains("rrasd_radius_dropped_total{reason=\"malformed\"}"),
        "{body}"
    );
    // The 5,000- and 65,000-byte datagrams: told apart by their real
    // length, though only 4,097 bytes of each are read.
    assert!(
        body.contains("rrasd_radius_dropped_total{reason=\"oversize\"} 2"),
        "{body}"
    );
    assert!(d.log().contains("RADIUS packet dropped"));
}

/// `recv_from` that retries when a signal interrupts it (with a receive
/// timeout set, Linux does not restart the call: EINTR reaches the caller
/// whenever the test process gets a signal, e.g. SIGCHLD from a daemon
/// another test stopped).
fn recv(sock: &UdpSocket, buf: &mut [u8]) -> usize {
    for _ in 0..100 {
        match sock.recv_from(buf) {
            Ok((n, _)) => return n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("no answer: {e}"),
        }
    }
    panic!("recv interrupted 100 times")
}

#[test]
fn retransmission_is_answered_again_but_applied_once() {
    if !require_tool("radclient") {
        return;
    }
    let (d, port) = start(&[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mk = |id: u8, status: u32| {
        Packet {
            code: 4,
            identifier: id,
            authenticator: [0; 16],
            attributes: vec![
                (1, b"rt".to_vec()),
                (44, b"rt-1".to_vec()),
                (40, status.to_be_bytes().to_vec()),
            ],
        }
        .encode_request(SECRET.as_bytes())
    };
    let start_pkt = mk(1, 1);
    let stop_pkt = mk(2, 2);
    let mut buf = [0u8; 4096];
    sock.send_to(&start_pkt, ("127.0.0.1", port)).unwrap();
    let n = recv(&sock, &mut buf);
    let first_answer = buf[..n].to_vec();
    sock.send_to(&stop_pkt, ("127.0.0.1", port)).unwrap();
    recv(&sock, &mut buf);
    assert!(by_session(&d, "rt-1").is_none());
    // The Start arrives again (a retransmission): same answer, no resurrection.
    sock.send_to(&start_pkt, ("127.0.0.1", port)).unwrap();
    let n = recv(&sock, &mut buf);
    assert_eq!(buf[..n], first_answer[..]);
    assert!(
        by_session(&d, "rt-1").is_none(),
        "retransmitted Start was applied twice"
    );
}

/// Pairs radclient's `Sent … Id N from 0.0.0.0:PORT` lines with its
/// `Received … Id N … to 127.0.0.1:PORT` lines: the sessions whose requests
/// radclient saw answered.
fn answered_sessions(stdout: &str) -> HashSet<String> {
    let mut outstanding: HashMap<(String, String), String> = HashMap::new();
    let mut answered = HashSet::new();
    let mut pending: Option<(String, String)> = None;
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("Sent Accounting-Request") && words.len() >= 6 {
            let port = words[5].rsplit(':').next().unwrap_or_default().to_owned();
            pending = Some((words[3].to_owned(), port));
        } else if let (Some(key), Some(v)) = (&pending, line.trim().strip_prefix("Acct-Session-Id = ")) {
            outstanding.insert(key.clone(), v.trim_matches('"').to_owned());
            pending = None;
        } else if line.starts_with("Received Accounting-Response") && words.len() >= 8 {
            let port = words[7].rsplit(':').next().unwrap_or_default().to_owned();
            if let Some(s) = outstanding.remove(&(words[3].to_owned(), port)) {
                answered.insert(s);
            }
        }
    }
    answered
}

#[test]
fn sigkill_during_a_10k_burst_loses_no_answered_request() {
    if !require_tool("radclient") || !require_tool("stdbuf") {
        return;
    }
    let (mut d, port) = start(&[]);
    let mut packets = String::new();
    for i in 0..10_000 {
        packets.push_str(&format!(
            "User-Name = \"u{i}\"\nAcct-Session-Id = \"burst-{i}\"\nNAS-IP-Address = 127.0.0.1\nAcct-Status-Type = Start\nFramed-IP-Address = 10.{}.{}.{}\n\n",
            (i >> 16) & 255, (i >> 8) & 255, i & 255
        ));
    }
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), packets).unwrap();
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut radclient = Command::new("stdbuf")
        .args(["-oL", "radclient", "-x", "-t", "1", "-r", "2", "-p", "64", "-f"])
        .arg(input.path())
        .arg(format!("127.0.0.1:{port}"))
        .args(["acct", SECRET])
        .stdout(out_file.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 once a good part of the burst is in, then restart right away:
    // radclient retransmits what was in flight to the new process.
    let seen = wait_for(Duration::from_secs(60), || {
        let n = std::fs::read_to_string(out_file.path())
            .unwrap_or_default()
            .matches("Received Accounting-Response")
            .count();
        (n >= 2000).then_some(n)
    });
    assert!(seen.is_some(), "burst did not get going");
    d.kill9();
    d.restart();
    let status = wait_for(Duration::from_secs(300), || radclient.try_wait().ok().flatten());
    if status.is_none() {
        let _ = radclient.kill();
    }
    let _ = radclient.wait();
    let answered = answered_sessions(&std::fs::read_to_string(out_file.path()).unwrap());
    assert!(answered.len() >= 2000, "only {} answered", answered.len());
    let present: HashSet<String> = connections(&d).into_iter().map(|c| c.info.source.session_id).collect();
    let lost: Vec<_> = answered.iter().filter(|s| !present.contains(*s)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered requests lost, e.g. {:?}",
        lost.len(),
        answered.len(),
        lost.first()
    );
}

fn disconnect_responder(code: u8, error_cause: Option<u32>) -> (u16, std::thread::JoinHandle<Option<Packet>>) {
    rras_testkit::disconnect_responder(SECRET, code, error_cause)
}

#[test]
fn disconnect_sends_rfc5176_request_and_reports_ack_or_nak() {
    if !require_tool("radclient") {
        return;
    }
    let (ack_port, ack_nas) = disconnect_responder(41, None);
    let (d, port) = start(&["--radius-disconnect-port", &ack_port.to_string()]);
    radclient(port, SECRET, &session("dc-1", "127.0.0.1", "Start", ""), &[]);
    let c = by_session(&d, "dc-1").expect("started");
    let rt = runtime();
    rt.block_on(async {
        let client = AdminClient::connect(&d.addr()).await.unwrap();
        client.disconnect(c.handle.get()).await.expect("ACK is success");
    });
    let req = ack_nas.join().unwrap().expect("NAS got a valid Disconnect-Request");
    assert_eq!(req.code, 40);
    assert_eq!(req.attr(44), Some(&b"dc-1"[..]));
    assert_eq!(req.attr(1), Some(&b"CORP\\user-dc-1"[..]));
    assert!(by_session(&d, "dc-1").is_none());
    let history = rt.block_on(async { AdminClient::connect(&d.addr()).await.unwrap().history(1).await.unwrap() });
    assert_eq!(history[0].reason, "admin-disconnect");
    drop(d);

    let (nak_port, nak_nas) = disconnect_responder(42, Some(503));
    let (d, port) = start(&["--radius-disconnect-port", &nak_port.to_string()]);
    radclient(port, SECRET, &session("dc-2", "127.0.0.1", "Start", ""), &[]);
    let c = by_session(&d, "dc-2").expect("started");
    let code = rt.block_on(async {
        let client = AdminClient::connect(&d.addr()).await.unwrap();
        client.disconnect(c.handle.get()).await.unwrap_err().code()
    });
    assert!(nak_nas.join().unwrap().is_some());
    assert_eq!(code, Win32Error::NoConnection.code(), "NAK Session-Context-Not-Found");
    assert!(by_session(&d, "dc-2").is_some(), "a NAK leaves the session");
}

#[test]
fn silent_sessions_end_as_stale() {
    if !require_tool("radclient") {
        return;
    }
    let (_dir, d, port) = start_with_config(
        &format!(
            "clients = [{{ cidr = \"127.0.0.1/32\", secret = \"{SECRET}\" }}]\n\
             default_interim_secs = 1\nstale_after_intervals = 2\n"
        ),
        &[],
    );
    radclient(port, SECRET, &session("stale-1", "127.0.0.1", "Start", ""), &[]);
    assert!(by_session(&d, "stale-1").is_some());
    let gone = wait_for(Duration::from_secs(10), || {
        by_session(&d, "stale-1").is_none().then_some(())
    });
    assert!(gone.is_some(), "stale session was not ended");
    // The table changes first; the history entry lands with the commit a
    // moment later.
    let rt = runtime();
    let history = wait_for(Duration::from_secs(5), || {
        let h = rt.block_on(async { AdminClient::connect(&d.addr()).await.ok()?.history(1).await.ok() })?;
        (!h.is_empty()).then_some(h)
    })
    .expect("the stale session's end reaches the history");
    assert_eq!(history[0].reason, "lost-carrier/stale");
}

#[test]
fn engine_text_in_log_lines_is_escaped() {
    if !require_tool("radclient") {
        return;
    }
    let (d, port) = start(&[]);
    // A NAS-Identifier that would set the terminal's title and ring its bell,
    // naming a NAS this client does not own (so it is quoted in the log),
    // then an Accounting-On for its own (logged with the NAS identity).
    let hostile = "Acct-Status-Type = Start\nAcct-Session-Id = \"t-1\"\nNAS-IP-Address = 192.0.2.1\n\
                   NAS-Identifier = \"x\\033]0;pwned\\007\"\n";
    assert_eq!(radclient(port, SECRET, hostile, &ONE_TRY).responses(), 0);
    let on = "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 127.0.0.1\nNAS-Identifier = \"y\\033[2J\"\n";
    assert_eq!(radclient(port, SECRET, on, &[]).responses(), 1);
    let log = wait_for(Duration::from_secs(5), || {
        let log = d.log();
        log.contains("NAS restarted").then_some(log)
    })
    .expect("the Accounting-On is logged");
    assert!(
        !log.contains('\x1b') && !log.contains('\x07'),
        "raw control in the log: {log:?}"
    );
    assert!(log.contains("x\\x1b]0;pwned\\x07"), "{log}");
    assert!(log.contains("y\\x1b[2J@127.0.0.1"), "{log}");
}

#[test]
fn radius_passes_the_engine_conformance_scenario() {
    if !require_tool("radclient") {
        return;
    }
    let mut lab = rras_testkit::radius_lab::RadiusLab::new(&["alice", "bob"]);
    rras_testkit::conformance::run(&mut lab, Path::new(env!("CARGO_BIN_EXE_rrasd")));
}
