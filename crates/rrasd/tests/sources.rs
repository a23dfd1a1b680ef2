//! Source instances side by side in the real `rrasd` binary: two RADIUS
//! listeners (real `radclient` packets) that never touch each other's
//! sessions, next to a hostile WireGuard "engine" — a UAPI socket that
//! answers with extreme numbers, garbage, a huge reply and a stall. rrasd
//! keeps serving, reports that engine's health, keeps its peer through the
//! grace period and then ends it as engine-unreachable, while the RADIUS
//! instances keep working; beside it a hostile OpenVPN management socket
//! whose replies turn into an endless line.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rras_client::{AdminClient, ServerInfo};
use rras_core::{Connection, EndedConnection};
use rras_testkit::hostile_socket::HostileSocket;
use rras_testkit::{free_udp_port, radclient, require_tool, runtime, wait_for, DaemonProcess};

const SECRET: &str = "testing123";
const PEER_KEY: &str = "c21cb6a0a4f5a4a3f0a06e7fd0dc8ad3e25cd5b1e1ba6a8df72fbb4c2cfc0443";

/// The fake UAPI socket: the n-th connection gets the n-th answer.
fn hostile_uapi(n: u64, stream: &mut UnixStream, _: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut request = [0u8; 64];
    let _ = stream.read(&mut request);
    let peer = |rx: &str| {
        format!(
            "listen_port=51820\npublic_key={PEER_KEY}\nendpoint=198.51.100.9:4000\n\
             last_handshake_time_sec=18446744073709551615\nlast_handshake_time_nsec=18446744073709551615\n\
             rx_bytes={rx}\ntx_bytes=99999999999999999999\nallowed_ip=10.77.0.2/32\nerrno=0\n\n"
        )
    };
    let reply: Vec<u8> = match n {
        // Extreme numbers; counters that grow make the peer active.
        0 => peer("1").into_bytes(),
        1 => peer("18446744073709551614").into_bytes(),
        2 => peer("18446744073709551615").into_bytes(),
        // Then: garbage, a huge line, a stall, garbage … until stopped.
        _ => match n % 3 {
            0 => b"\xff\xfe not uapi at all\n\n".to_vec(),
            1 => vec![b'a'; 17 * 1024 * 1024],
            _ => {
                std::thread::sleep(Duration::from_secs(6));
                Vec::new()
            }
        },
    };
    let _ = stream.write_all(&reply);
}

/// The fake OpenVPN management socket: the first `status 3` gets one
/// client (CRLF lines, a greeting first, as OpenVPN sends them); every
/// later connection gets an endless line, until rrasd hangs up.
fn hostile_management(n: u64, stream: &mut UnixStream, stop: &AtomicBool) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(b">INFO:OpenVPN Management Interface Version 5\r\n");
    let mut request = [0u8; 64];
    let _ = stream.read(&mut request);
    if n == 0 {
        let _ = stream.write_all(
            "TITLE\tOpenVPN 2.6\r\nHEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\t\
             Virtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\t\
             Username\tClient ID\tPeer ID\tData Channel Cipher\r\n\
             CLIENT_LIST\tcarol\t203.0.113.5:1194\t10.8.0.6\t\t99999999999999999999\t5\tx\t\
             18446744073709551615\tcarol\t3\t0\tAES-256-GCM\r\nEND\r\n"
                .as_bytes(),
        );
    } else {
        let flood = [b'x'; 64 * 1024];
        while !stop.load(Ordering::Relaxed) && stream.write_all(&flood).is_ok() {}
    }
}

fn start_packets(session: &str) -> String {
    rras_testkit::accounting_text::Accounting::new("Start", session, &format!("user-{session}"))
        .attr("NAS-Identifier", "\"lab-nas\"")
        .attr("NAS-Port-Type", "Virtual")
        .l2tp()
        .attr("Framed-IP-Address", "10.200.12.2")
        .to_string()
}

fn connections(d: &DaemonProcess) -> Vec<Connection> {
    rras_testkit::connections_where(&d.addr(), |_| true)
}

fn server_info(d: &DaemonProcess) -> ServerInfo {
    runtime().block_on(async {
        AdminClient::connect(&d.addr())
            .await
            .unwrap()
            .server_info()
            .await
            .unwrap()
    })
}

fn history(d: &DaemonProcess) -> Vec<EndedConnection> {
    runtime().block_on(async {
        AdminClient::connect(&d.addr())
            .await
            .unwrap()
            .history(100)
            .await
            .unwrap()
    })
}

fn owned_by<'a>(all: &'a [Connection], instance: &str) -> Vec<&'a Connection> {
    all.iter().filter(|c| c.info.source.instance == instance).collect()
}

#[test]
fn instances_side_by_side_and_a_hostile_engine() {
    if !require_tool("radclient") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wg_dir = dir.path().join("wg");
    std::fs::create_dir(&wg_dir).unwrap();
    let fake = HostileSocket::serve(&wg_dir.join("wg9.sock"), hostile_uapi);
    let management = dir.path().join("ovpn.sock");
    let fake_ovpn = HostileSocket::serve(&management, hostile_management);
    let (port_a, port_b) = (free_udp_port(), free_udp_port());
    let config = dir.path().join("rrasd.toml");
    std::fs::write(
        &config,
        format!(
            "[[source]]\nkind = \"radius\"\nname = \"acct-a\"\nlisten = \"127.0.0.1:{port_a}\"\n\
             clients = [{{ cidr = \"127.0.0.0/8\", secret = \"{SECRET}\" }}]\n\n\
             [[source]]\nkind = \"radius\"\nname = \"acct-b\"\nlisten = \"127.0.0.1:{port_b}\"\n\
             clients = [{{ cidr = \"127.0.0.0/8\", secret = \"{SECRET}\" }}]\n\n\
             [[source]]\nkind = \"wireguard\"\nname = \"wg-hostile\"\nsocket_dir = \"{}\"\n\
             poll_secs = 1\nunreachable_grace_secs = 3\n\n\
             [[source]]\nkind = \"openvpn\"\nname = \"ovpn-hostile\"\nmanagement = [\"{}=tun7\"]\n\
             poll_secs = 1\nunreachable_grace_secs = 3\n",
            wg_dir.display(),
            management.display()
        ),
    )
    .unwrap();
    let daemon = DaemonProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rrasd")),
        &["--config", config.to_str().unwrap()],
    );

    // The same NAS session reaches both listeners: two connections, one
    // per instance, never merged.
    for port in [port_a, port_b] {
        assert_eq!(radclient(port, SECRET, &start_packets("S1"), &[]).responses(), 1);
    }
    let all = connections(&daemon);
    let (a, b) = (owned_by(&all, "acct-a"), owned_by(&all, "acct-b"));
    assert_eq!((a.len(), b.len()), (1, 1), "{all:#?}");
    assert_ne!(a[0].handle, b[0].handle);
    assert_eq!(a[0].info.device_type, 9, "L2TP → RDT_Tunnel_L2tp");

    // The NAS reboots as far as listener A knows: only A's session ends.
    let on = "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 127.0.0.1\nNAS-Identifier = \"lab-nas\"\n";
    assert_eq!(radclient(port_a, SECRET, on, &[]).responses(), 1);
    let all = connections(&daemon);
    assert!(owned_by(&all, "acct-a").is_empty(), "{all:#?}");
    assert_eq!(owned_by(&all, "acct-b").len(), 1, "B's session was touched");

    // The hostile engine's peer, with absurd numbers, became a connection.
    let peer = wait_for(Duration::from_secs(15), || {
        connections(&daemon)
            .into_iter()
            .find(|c| c.info.source.instance == "wg-hostile")
    })
    .expect("the extreme-number peer became a connection");
    assert!(peer.info.stats.bytes_rcved >= u64::MAX - 1, "{peer:?}");
    assert_eq!(peer.info.stats.bytes_xmited, 0, "an overflowing counter reads as 0");

    // Then the engine misbehaves: the health says so, the peer outlives the
    // grace period only, and ends as engine-unreachable.
    let bad = wait_for(Duration::from_secs(30), || {
        server_info(&daemon)
            .sources
            .into_iter()
            .find(|h| h.name == "wg-hostile" && h.state == "unreachable" && !h.last_error.is_empty())
    })
    .expect("the hostile engine is reported unreachable");
    assert_eq!(bad.kind, "wireguard");
    let ended = wait_for(Duration::from_secs(30), || {
        history(&daemon)
            .into_iter()
            .find(|e| e.connection.info.source.instance == "wg-hostile")
    })
    .expect("the peer ended");
    assert_eq!(ended.reason, "engine-unreachable");
    assert!(ended.ended_at.duration_since(peer.info.started_at).is_ok());

    // The OpenVPN engine's client arrived; then its endless line is cut at
    // the cap (not buffered until the deadline) and the client ends too.
    let ovpn = history(&daemon)
        .into_iter()
        .chain(wait_for(Duration::from_secs(30), || {
            history(&daemon)
                .into_iter()
                .find(|e| e.connection.info.source.instance == "ovpn-hostile")
        }))
        .find(|e| e.connection.info.source.instance == "ovpn-hostile")
        .expect("the OpenVPN client became a connection and ended");
    assert_eq!(ovpn.connection.info.user_name, "carol");
    assert_eq!(ovpn.reason, "engine-unreachable");
    let health = server_info(&daemon);
    let o = health
        .sources
        .iter()
        .find(|h| h.name == "ovpn-hostile")
        .expect("ovpn-hostile listed");
    assert_eq!(o.state, "unreachable");
    assert!(o.last_error.contains("larger than"), "{}", o.last_error);

    // Meanwhile the daemon and the other instances kept working.
    assert_eq!(radclient(port_b, SECRET, &start_packets("S2"), &[]).responses(), 1);
    let info = server_info(&daemon);
    let b = info.sources.iter().find(|h| h.name == "acct-b").expect("acct-b listed");
    assert_eq!((b.state.as_str(), b.sessions), ("ok", 2));
    let a = info.sources.iter().find(|h| h.name == "acct-a").expect("acct-a listed");
    assert_eq!(a.sessions, 0);
    assert_eq!(info.sources.len(), 4);
    assert!(!info.node_id.is_empty() && info.node_id != "00000000-0000-0000-0000-000000000000");
    assert!(
        !daemon.log().contains("panicked"),
        "a panic in the log:\n{}",
        daemon.log()
    );

    drop(daemon);
    drop((fake, fake_ovpn));
}
