//! The fleet end to end: a real three-server nats-server cluster (JetStream,
//! file storage, buckets at three replicas), three real rrasd processes fed
//! by radclient, a fleet reader (rras-fleet) following the view live, and
//! `rasctl fleet`. The view must equal the union of the nodes' tables —
//! under churn, with a NATS server killed, with an rrasd killed -9, frozen
//! (SIGSTOP) and cut off from NATS — and fleet disconnect must hang up on
//! the right node, audited there; users without the rights must be refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rras_client::AdminClient;
use rras_fleet::{FleetNames, FleetOptions, FleetReader};
use rras_testkit::nats::NatsCluster;
use rras_testkit::webdriver::{Browser, Engine};
use rras_testkit::{
    disconnect_responder_at, free_tcp_port, free_udp_port, radclient, rasctl_beside, require_tool, runtime,
    DaemonProcess,
};

const SECRET: &str = "testing123";
const READER_TOKEN: &str = "fleet-reader-token-0123456789";

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots")
}

/// Headless Chromium signed in to the console at `port`, on /fleet (None
/// with the reason printed when Chromium is missing outside CI).
fn web_fleet_page(port: u16) -> Option<Browser> {
    let engine = Engine::Chromium;
    if !require_tool(engine.browser()) || !require_tool(engine.driver()) {
        return None;
    }
    let b = Browser::start(engine, 1280, 1000);
    let base = format!("http://127.0.0.1:{port}");
    b.goto(&format!("{base}/login"));
    b.type_into(&b.wait("#token", Duration::from_secs(10)), READER_TOKEN);
    b.click(&b.wait("#sign-in", Duration::from_secs(5)));
    b.wait("#counts", Duration::from_secs(10));
    b.click(&b.wait("#nav-fleet", Duration::from_secs(5)));
    b.wait("#fleet-status", Duration::from_secs(10));
    Some(b)
}

/// (node id, handle) → user.
type Table = BTreeMap<(String, u32), String>;

struct Node {
    name: String,
    d: DaemonProcess,
    port: u16,
    id: String,
}

/// A node's daemon before it starts: its state (and so its id) exists.
struct Prepared {
    name: String,
    d: DaemonProcess,
    port: u16,
    config: PathBuf,
}

impl Node {
    fn start(name: &str, nats_url: &str, cluster: &NatsCluster, extra: &[&str]) -> Node {
        Self::launch(Self::prepare(name, extra), nats_url, cluster, "rrasd", "")
    }

    fn prepare(name: &str, extra: &[&str]) -> Prepared {
        let port = free_udp_port();
        let mut d = DaemonProcess::prepare(Path::new(env!("CARGO_BIN_EXE_rrasd")), extra);
        let config = d.dir.path().join(format!("{name}.toml"));
        d.args(&[
            "--config",
            config.to_str().unwrap(),
            "--radius-acct",
            &format!("127.0.0.1:{port}"),
            "--radius-client",
            "127.0.0.0/8=testing123",
        ]);
        Prepared {
            name: name.into(),
            d,
            port,
            config,
        }
    }

    /// Writes the node's `[fleet]` section (NATS user `user`, password
    /// `<user>-pw`, and `more` lines) and starts it.
    fn launch(p: Prepared, nats_url: &str, cluster: &NatsCluster, user: &str, more: &str) -> Node {
        let Prepared {
            name,
            mut d,
            port,
            config,
        } = p;
        let pw = cluster.path().join(format!("{user}.pw"));
        std::fs::write(&pw, format!("{user}-pw\n")).unwrap();
        std::fs::write(
            &config,
            format!(
                "[fleet]\nurl = \"{nats_url}\"\nuser = \"{user}\"\npassword_file = \"{}\"\nreplicas = 3\n\
                 heartbeat_secs = 1\nname = \"{name}\"\n{more}",
                pw.display()
            ),
        )
        .unwrap();
        d.spawn();
        d.wait_running();
        let id = runtime().block_on(async {
            let c = AdminClient::connect(&d.addr()).await.unwrap();
            c.server_info().await.unwrap().node_id
        });
        Node { name, d, port, id }
    }

    /// This node's table as (node, handle) → user.
    fn table(&self) -> Table {
        let addr = self.d.addr();
        runtime().block_on(async {
            let c = AdminClient::connect(&addr).await.unwrap();
            c.connections()
                .await
                .unwrap()
                .into_iter()
                .map(|c| ((self.id.clone(), c.handle.get()), c.info.user_name))
                .collect()
        })
    }

    fn send(&self, packets: &[String]) {
        let run = radclient(self.port, SECRET, &packets.join("\n"), &["-p", "32"]);
        assert_eq!(
            run.responses(),
            packets.len(),
            "radclient: {}\n{}",
            run.stderr,
            self.d.log()
        );
    }
}

fn packet(id: &str, user: &str, status: &str) -> String {
    rras_testkit::accounting_text::Accounting::new(status, id, user)
        .ppp(3, "10.9.0.3")
        .to_string()
}

fn union(nodes: &[&Node]) -> Table {
    nodes.iter().flat_map(|n| n.table()).collect()
}

/// A fleet reader following the view in its own thread; asked for
/// snapshots over a channel.
struct LiveView {
    ask: mpsc::Sender<mpsc::Sender<Snapshot>>,
}

#[derive(Debug, Clone, Default)]
struct Snapshot {
    connections: Table,
    /// node id → stale
    stale: BTreeMap<String, bool>,
    skipped: u64,
}

fn options(cluster: &NatsCluster, url: String, user: &str) -> FleetOptions {
    let pw = cluster.path().join(format!("{user}.pw"));
    std::fs::write(&pw, format!("{user}-pw\n")).unwrap();
    FleetOptions {
        url: Some(url),
        user: Some(user.into()),
        password_file: Some(pw),
        ..Default::default()
    }
}

impl LiveView {
    /// A viewer's live view, once the nodes have created the buckets (≤ 20 s).
    fn start_when_buckets_exist(cluster: &NatsCluster) -> LiveView {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let opened = std::panic::catch_unwind(|| LiveView::start(options(cluster, cluster.urls(), "viewer")));
            match opened {
                Ok(v) => return v,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
    }

    fn start(options: FleetOptions) -> LiveView {
        let (ask, asks) = mpsc::channel::<mpsc::Sender<Snapshot>>();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let connects = std::sync::Arc::new(rras_fleet::options::Connects::default());
                let client = options
                    .connect_watched("test reader", rras_fleet::options::Reconnect::Forever, connects.clone())
                    .await
                    .unwrap();
                // Every bucket read where its consumer is (the default is
                // large buckets only), so the faults below go through it.
                let servers =
                    std::sync::Arc::new(rras_fleet::ServerClients::new(options.clone(), "test reader").min_messages(0));
                let mut reader = FleetReader::open(&client, &FleetNames::default(), Some(connects), Some(servers))
                    .await
                    .unwrap();
                ready_tx.send(()).unwrap();
                loop {
                    // Answer every waiting question, then follow for a while.
                    while let Ok(reply) = asks.try_recv() {
                        let v = reader.view();
                        let now = std::time::SystemTime::now();
                        let snap = Snapshot {
                            connections: v
                                .connections()
                                .iter()
                                .map(|c| ((c.node.to_owned(), c.handle), c.connection().unwrap().info.user_name))
                                .collect(),
                            stale: v.nodes().iter().map(|(id, s)| (id.clone(), s.is_stale(now))).collect(),
                            skipped: v.skipped,
                        };
                        if reply.send(snap).is_err() {
                            return;
                        }
                    }
                    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(100), reader.next()).await {
                        panic!("fleet reader: {e}");
                    }
                }
            });
        });
        ready.recv_timeout(Duration::from_secs(30)).expect("reader opened");
        LiveView { ask }
    }

    fn snapshot(&self) -> Snapshot {
        let (tx, rx) = mpsc::channel();
        self.ask.send(tx).expect("reader alive");
        rx.recv_timeout(Duration::from_secs(10)).expect("reader answers")
    }

    /// Waits (≤ `within`) until the view equals `truth()`; returns how
    /// long it took.
    fn converges(&self, within: Duration, what: &str, nodes: &[&Node]) -> Duration {
        let truth = || union(nodes);
        let start = Instant::now();
        let mut last = (Table::new(), Table::new());
        while start.elapsed() < within {
            let want = truth();
            let got = self.snapshot().connections;
            if got == want {
                return start.elapsed();
            }
            last = (want, got);
            std::thread::sleep(Duration::from_millis(50));
        }
        let (want, got) = last;
        let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).take(5).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
        let logs: Vec<String> = nodes
            .iter()
            .map(|n| {
                let log = n.d.log();
                let fleet: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("fleet") || l.contains("nats"))
                    .collect();
                format!("--- {} ({})\n{}", n.name, n.id, fleet.join("\n"))
            })
            .collect();
        panic!(
            "{what}: the fleet view did not converge in {within:?}: {} wanted, {} seen; missing {missing:?}, extra {extra:?}\n{}",
            want.len(),
            got.len(),
            logs.join("\n")
        );
    }

    fn wait_stale(&self, node: &str, stale: bool, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.snapshot().stale.get(node) == Some(&stale) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "node {node} not stale={stale} after {within:?}: {:?}",
            self.snapshot().stale
        );
    }
}

fn rasctl(rasctl: &Path, cluster: &NatsCluster, user: &str, args: &[&str]) -> std::process::Output {
    let pw = cluster.path().join(format!("{user}.pw"));
    std::fs::write(&pw, format!("{user}-pw\n")).unwrap();
    Command::new(rasctl)
        .arg("fleet")
        .args(args)
        .arg("--nats")
        .arg(cluster.urls())
        .arg("--nats-user")
        .arg(user)
        .arg("--nats-password-file")
        .arg(&pw)
        .output()
        .expect("run rasctl")
}

fn starts(prefix: &str, range: std::ops::Range<usize>, status: &str) -> Vec<String> {
    range
        .map(|i| packet(&format!("{prefix}-{i}"), &format!("{prefix}-user{i}"), status))
        .collect()
}

#[test]
fn fleet_view_equals_the_nodes_tables_through_churn_faults_and_disconnects() {
    if !require_tool("radclient") || !require_tool("nats-server") {
        return;
    }
    let Some(rasctl_bin): Option<PathBuf> = rasctl_beside(Path::new(env!("CARGO_BIN_EXE_rrasd"))) else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter("rras_fleet=debug,async_nats=info")
        .with_writer(std::io::stderr)
        .try_init();
    let mut cluster = NatsCluster::start();
    let nas_port = free_udp_port();
    let nas_port_arg = nas_port.to_string();
    // vpn-a serves the web console too: its fleet view is checked in a
    // real browser.
    let tokens = cluster.path().join("tokens");
    rras_testkit::write_private(
        &tokens,
        format!("ops-reader reader {}\n", rrasd::auth::token_hash(READER_TOKEN)),
    );
    let web_port = free_tcp_port();
    let web_listen = format!("127.0.0.1:{web_port}");
    let a = Node::start(
        "vpn-a",
        &cluster.urls(),
        &cluster,
        &[
            "--radius-disconnect-port",
            &nas_port_arg,
            "--web",
            &web_listen,
            "--tokens-file",
            tokens.to_str().unwrap(),
        ],
    );
    let mut b = Node::start("vpn-b", &cluster.urls(), &cluster, &[]);
    // vpn-c knows only the third NATS server: stopping it cuts vpn-c off.
    let c = Node::start("vpn-c", &cluster.url(2), &cluster, &[]);

    // 1. Sessions on every node; a reader (another user, all servers) sees
    //    exactly their union, and no node is stale.
    a.send(&starts("a", 0..40, "Start"));
    b.send(&starts("b", 0..40, "Start"));
    c.send(&starts("c", 0..40, "Start"));
    // The reader may open before every node has created the buckets.
    let view = LiveView::start_when_buckets_exist(&cluster);
    view.converges(Duration::from_secs(10), "initial", &[&a, &b, &c]);
    assert_eq!(view.snapshot().connections.len(), 120);
    for n in [&a, &b, &c] {
        view.wait_stale(&n.id, false, Duration::from_secs(5));
    }

    // 2. Churn on all three nodes at once (ends, new starts, interim
    //    updates); the live view follows to exactly the union.
    let churn = |n: &Node, p: &str, round: usize| {
        let lo = round * 10;
        let mut packets = starts(p, lo..lo + 10, "Stop");
        packets.extend(starts(p, 40 + lo..50 + lo, "Start"));
        packets.extend(starts(p, lo + 10..lo + 20, "Interim-Update"));
        n.send(&packets);
    };
    std::thread::scope(|s| {
        s.spawn(|| churn(&a, "a", 0));
        s.spawn(|| churn(&b, "b", 0));
        s.spawn(|| churn(&c, "c", 0));
    });
    let took = view.converges(Duration::from_secs(10), "after churn", &[&a, &b, &c]);
    eprintln!("view converged {took:?} after churn");
    assert_eq!(view.snapshot().connections.len(), 120, "10 stops + 10 starts per node");

    // The console's fleet view (vpn-a's web console): every node with its
    // health, every connection with its node; filtered in the daemon.
    let browser = web_fleet_page(web_port);
    if let Some(b) = &browser {
        b.wait_text("#fleet-status", Duration::from_secs(15), |t| {
            t.starts_with("120 connection(s) on 3 node(s)")
        });
        let nodes = b.text(&b.wait("#fleet-nodes", Duration::from_secs(5)));
        for n in ["vpn-a", "vpn-b", "vpn-c"] {
            assert!(nodes.contains(n), "{n} in {nodes}");
        }
        assert_eq!(b.find_all("#fleet-connections tr").len(), 121, "a header and 120 rows");
        std::fs::create_dir_all(screenshot_dir()).unwrap();
        std::fs::write(screenshot_dir().join("fleet.png"), b.screenshot()).unwrap();
        b.type_into(&b.wait("#fleet-node", Duration::from_secs(5)), "vpn-b");
        b.wait_text("#fleet-matching", Duration::from_secs(10), |t| {
            t.starts_with("40 matching")
        });
        let rows = b.text(&b.wait("#fleet-connections", Duration::from_secs(5)));
        assert!(rows.contains("b-user") && !rows.contains("a-user"), "{rows}");
    }

    // 3. One NATS server killed during churn: publishing and the view go on
    //    (three replicas); it comes back and nothing is lost or doubled.
    cluster.wait_replicas_current(&["KV_rras_connections", "KV_rras_nodes"]);
    cluster.kill(0);
    std::thread::scope(|s| {
        s.spawn(|| churn(&a, "a", 1));
        s.spawn(|| churn(&b, "b", 1));
    });
    view.converges(Duration::from_secs(40), "with one NATS server down", &[&a, &b, &c]);
    cluster.restart(0);
    churn(&b, "b", 2);
    view.converges(
        Duration::from_secs(40),
        "after the NATS server came back",
        &[&a, &b, &c],
    );
    // The commands below test permissions, not the restart: the server
    // that came back answers JetStream and every replica is current first
    // (in its first seconds a rejoined server can leave a command's
    // JetStream calls unanswered past rasctl's 10 s of retries — seen once).
    cluster.wait_jetstream(&cluster.url(0));
    cluster.wait_replicas_current(&["KV_rras_connections", "KV_rras_nodes"]);

    // 4. Fleet disconnect: an operator hangs up a session of vpn-a by node
    //    name; vpn-a asks its NAS, ends it, and audits fleet:operator (the
    //    name NATS let it send as).
    let victim = a.table().into_iter().next().expect("a has sessions");
    let target = format!("vpn-a:{}", victim.0 .1);
    // A viewer may read but not hang up; a snoop may not even read; an
    // outsider (other account) sees no fleet.
    let denied = rasctl(
        &rasctl_bin,
        &cluster,
        "viewer",
        &["disconnect", &target, "--as", "mallory"],
    );
    assert!(!denied.status.success(), "a viewer hung up a session");
    let why = String::from_utf8_lossy(&denied.stderr);
    assert!(
        why.contains("NATS refused this user") && why.contains("rras.fleet."),
        "the refusal is named: {why}\n{}",
        cluster.logs()
    );
    assert!(
        a.table().contains_key(&victim.0),
        "the session survived the viewer's attempt"
    );
    let listing = rasctl(&rasctl_bin, &cluster, "viewer", &["connections", "--jsonl"]);
    assert!(
        listing.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&listing.stderr),
        cluster.logs()
    );
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).lines().count(),
        union(&[&a, &b, &c]).len()
    );
    for user in ["snoop", "outsider"] {
        let out = rasctl(&rasctl_bin, &cluster, user, &["connections"]);
        assert!(!out.status.success(), "{user} read the fleet");
        let why = String::from_utf8_lossy(&out.stderr);
        let expected = if user == "snoop" {
            "NATS refused this user"
        } else {
            "does not exist"
        };
        assert!(why.contains(expected), "{user}: {why}");
        assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    }
    let (_, nas) = disconnect_responder_at(nas_port, SECRET, 41, None);
    let done = rasctl(&rasctl_bin, &cluster, "operator", &["disconnect", &target]);
    assert!(
        done.status.success(),
        "fleet disconnect: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let request = nas.join().unwrap().expect("the NAS got a Disconnect-Request");
    assert!(
        request
            .attributes
            .iter()
            .any(|(t, v)| *t == 1 && v == victim.1.as_bytes()),
        "for the right user"
    );
    assert!(!a.table().contains_key(&victim.0), "ended on vpn-a");
    let audit = runtime().block_on(async {
        let c = AdminClient::connect(&a.d.addr()).await.unwrap();
        c.audit(20).await.unwrap()
    });
    assert!(
        audit.iter().any(|r| r.caller == "fleet:operator"
            && r.method == "ConnectionDisconnect"
            && r.target == victim.0 .1.to_string()
            && r.result == 0),
        "{audit:?}"
    );
    assert!(
        !audit.iter().any(|r| r.caller == "fleet:mallory"),
        "the viewer's request never reached the node"
    );
    view.converges(Duration::from_secs(5), "after the fleet disconnect", &[&a, &b, &c]);
    // Each node answers for its own history; the viewer gets them merged:
    // the session just hung up, on vpn-a, newest first.
    let asked = rasctl(
        &rasctl_bin,
        &cluster,
        "viewer",
        &["history", "--user", &victim.1, "--json"],
    );
    assert!(asked.status.success(), "{}", String::from_utf8_lossy(&asked.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&asked.stdout).expect("fleet history --json");
    // A prefix query: user1 finds user10 … too; this user's rows only.
    let mine: Vec<&serde_json::Value> = rows
        .as_array()
        .expect("an array")
        .iter()
        .filter(|r| r["user"] == victim.1.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{rows}");
    assert_eq!(mine[0]["node_name"], "vpn-a", "{rows}");
    assert_eq!(mine[0]["reason"], "admin-disconnect", "{rows}");
    let all = rasctl(
        &rasctl_bin,
        &cluster,
        "viewer",
        &["history", "--limit", "1000", "--csv"],
    );
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    let csv = String::from_utf8_lossy(&all.stdout);
    assert!(csv.starts_with("node,node_name,handle,user"), "{csv}");
    assert!(csv.contains(&victim.1), "{csv}");
    let snoop = rasctl(&rasctl_bin, &cluster, "snoop", &["history"]);
    assert!(!snoop.status.success(), "a snoop read the fleet's history");
    // Each node reports on its own sessions (the live ones and the one just
    // ended); the fleet's sum is theirs.
    let usage = rasctl(&rasctl_bin, &cluster, "viewer", &["usage", "--since", "1d", "--json"]);
    assert!(usage.status.success(), "{}", String::from_utf8_lossy(&usage.stderr));
    let usage: serde_json::Value = serde_json::from_slice(&usage.stdout).expect("fleet usage --json");
    let nodes = usage["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3, "{usage}");
    let sessions = |r: &serde_json::Value| r["totals"]["sessions"].as_u64().expect("sessions");
    let per_node: u64 = nodes.iter().map(|n| sessions(&n["report"])).sum();
    assert!(per_node > 0, "{usage}");
    assert_eq!(sessions(&usage["fleet"]), per_node, "{usage}");
    assert!(
        nodes.iter().all(|n| sessions(&n["report"]) > 0),
        "every node has sessions: {usage}"
    );
    let snoop = rasctl(&rasctl_bin, &cluster, "snoop", &["usage"]);
    assert!(!snoop.status.success(), "a snoop read the fleet's usage");

    // 5. kill -9 vpn-b: it goes stale (its connections stay, marked); while
    //    it is down nothing changes; it restarts and reconciles.
    b.d.kill9();
    view.wait_stale(&b.id, true, Duration::from_secs(10));
    if let Some(br) = &browser {
        // The console shows the node's health: vpn-b stale, its rows too.
        br.wait_text("#fleet-status", Duration::from_secs(10), |t| t.contains("1 stale"));
        let nodes = br.text(&br.wait("#fleet-nodes", Duration::from_secs(5)));
        assert!(
            nodes.lines().any(|l| l.contains("vpn-b") && l.contains("stale")),
            "{nodes}"
        );
    }
    assert_eq!(
        view.snapshot().connections.keys().filter(|(n, _)| *n == b.id).count(),
        40,
        "a stale node's connections stay in the view"
    );
    b.d.restart();
    view.wait_stale(&b.id, false, Duration::from_secs(10));
    churn(&b, "b", 3);
    view.converges(
        Duration::from_secs(10),
        "after vpn-b was killed -9 and restarted",
        &[&a, &b, &c],
    );

    // 6. Freeze vpn-a (SIGSTOP): stale; thaw: live again, nothing lost.
    let pid = nix::unistd::Pid::from_raw(a.d.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    view.wait_stale(&a.id, true, Duration::from_secs(10));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    view.wait_stale(&a.id, false, Duration::from_secs(10));
    churn(&a, "a", 3);
    view.converges(Duration::from_secs(10), "after vpn-a was frozen", &[&a, &b, &c]);

    // 7. Cut vpn-c off from NATS (its only server killed) while its sessions
    //    change; when the server returns, vpn-c reconciles in ≤ 5 s.
    cluster.wait_replicas_current(&["KV_rras_connections", "KV_rras_nodes"]);
    cluster.kill(2);
    churn(&c, "c", 1);
    churn(&c, "c", 2);
    let of_c = |t: &Table| -> Table {
        t.iter()
            .filter(|((n, _), _)| *n == c.id)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    view.wait_stale(&c.id, true, Duration::from_secs(10));
    assert_ne!(
        of_c(&view.snapshot().connections),
        c.table(),
        "cut off: the view still has vpn-c's old sessions"
    );
    cluster.restart(2);
    // "Reconnected" is when JetStream answers through that server again
    // (a restarted server first rejoins the cluster's meta group).
    cluster.wait_jetstream(&cluster.url(2));
    let took = view.converges(
        Duration::from_secs(20),
        "after vpn-c was cut off from NATS",
        &[&a, &b, &c],
    );
    eprintln!("vpn-c reconciled into the view {took:?} after its NATS server returned");
    for l in
        c.d.log()
            .lines()
            .filter(|l| l.contains("fleet") || l.contains("nats"))
            .skip(3)
    {
        eprintln!("vpn-c: {l}");
    }
    assert!(took <= Duration::from_secs(5), "reconciled {took:?} after reconnecting");
    assert_eq!(of_c(&view.snapshot().connections), c.table());
    view.wait_stale(&c.id, false, Duration::from_secs(5));
    assert_eq!(view.snapshot().skipped, 0, "nothing malformed in the buckets");
}

/// Both buckets, opened with a node's rights, to write them directly.
async fn buckets_as_node(cluster: &NatsCluster, names: &FleetNames) -> rras_fleet::buckets::Buckets {
    let client = options(cluster, cluster.urls(), "rrasd")
        .connect("test writer", rras_fleet::options::Reconnect::Fail)
        .await
        .unwrap();
    rras_fleet::buckets::ensure(&async_nats::jetstream::new(client), names, 3)
        .await
        .unwrap()
}

/// A reader's view is complete when it opens, even while every key is
/// being replaced all the time (heartbeats do that): the catch-up must end
/// on what the stream holds, not on its last sequence read once at the
/// start — that let a key whose message was replaced mid-read go missing
/// (seen as `rasctl fleet disconnect` answering "no node vpn-a").
#[test]
fn a_reader_opens_complete_while_every_key_is_being_replaced() {
    if !require_tool("nats-server") {
        return;
    }
    let cluster = NatsCluster::start();
    let names = FleetNames::default();
    let ids = ["node-a", "node-b", "node-c", "node-d"];
    runtime().block_on(async {
        let buckets = buckets_as_node(&cluster, &names).await;
        let beat = |node: &str, n: u64| {
            let b = rras_fleet::NodeBeat {
                node: node.into(),
                name: node.into(),
                version: "test".into(),
                connections: n,
                revision: n,
                published: n,
                state: "synced".into(),
                at_ms: rras_fleet::NodeBeat::millis(std::time::SystemTime::now()),
                interval_ms: 2000,
                disconnect: false,
            };
            serde_json::to_vec(&b).unwrap()
        };
        for id in ids {
            buckets.nodes.put(id, beat(id, 0).into()).await.unwrap();
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writing = {
            let (stop, nodes) = (stop.clone(), buckets.nodes.clone());
            tokio::spawn(async move {
                let mut rounds = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && rounds < 100_000 {
                    rounds += 1;
                    for id in ids {
                        nodes.put(id, beat(id, rounds).into()).await.unwrap();
                    }
                }
                rounds
            })
        };
        let reader_client = options(&cluster, cluster.urls(), "viewer")
            .connect("test reader", rras_fleet::options::Reconnect::Fail)
            .await
            .unwrap();
        let mut reads = 0;
        let started = Instant::now();
        while reads < 60 && started.elapsed() < Duration::from_secs(60) {
            let view = FleetReader::nodes(&reader_client, &names, None).await.unwrap();
            let seen: Vec<&str> = view
                .nodes()
                .iter()
                .filter(|(_, s)| s.beat.is_some())
                .map(|(id, _)| id.as_str())
                .collect();
            assert_eq!(seen, ids, "read {reads}: every node, each with its beat");
            reads += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = writing.await.unwrap();
        assert!(reads >= 20, "only {reads} reads in a minute");
        assert!(
            rounds > 2 * reads,
            "the keys were replaced while being read ({rounds} rounds of puts over {reads} reads)"
        );
    });
}

/// A reader reads the connections bucket from the server its consumer
/// landed on (nats-server 2.9 picks a replica at random; reading it over a
/// route costs a third of a large view), and follows it live there: every
/// view complete, at least one of a dozen opens read over a second
/// connection (all twelve landing on the reader's own server: 1 in 531,441),
/// and a put and a delete after the open seen through it.
#[test]
fn a_reader_reads_the_bucket_where_its_consumer_is_and_follows_it_there() {
    if !require_tool("nats-server") {
        return;
    }
    let cluster = NatsCluster::start();
    let names = FleetNames::default();
    let record = |handle: u32| {
        let mut info = rras_core::synthetic::connection(u64::from(handle), std::time::SystemTime::now());
        info.user_name = format!("user{handle}");
        let handle = rras_core::ConnectionHandle::new(handle).unwrap();
        rras_core::Record::encode_info(handle, &info).as_bytes().to_vec()
    };
    runtime().block_on(async {
        let buckets = buckets_as_node(&cluster, &names).await;
        for h in 1..=1000u32 {
            buckets
                .connections
                .put(format!("node-a.{h}"), record(h).into())
                .await
                .unwrap();
        }
        // The reader's own connection goes to server 0 only; the second
        // connections to whichever server holds its consumer.
        let reader_client = options(&cluster, cluster.url(0), "viewer")
            .connect("test reader", rras_fleet::options::Reconnect::Fail)
            .await
            .unwrap();
        let servers = std::sync::Arc::new(
            rras_fleet::ServerClients::new(options(&cluster, cluster.urls(), "viewer"), "test reader").min_messages(0),
        );
        let mut placed_reader = None;
        for open in 0..12 {
            let before = servers.placed_reads();
            let reader = FleetReader::open(&reader_client, &names, None, Some(servers.clone()))
                .await
                .unwrap();
            let view = reader.view();
            assert_eq!(view.len(), 1000, "open {open}: every connection");
            let c = view.get("node-a", 777).unwrap().connection().unwrap();
            assert_eq!(c.info.user_name, "user777", "open {open}: the record itself");
            if servers.placed_reads() > before {
                placed_reader = Some(reader);
            }
        }
        let placed = servers.placed_reads();
        assert!(
            (1..=12).contains(&placed),
            "{placed} of 12 opens read where the consumer is"
        );
        let mut reader = placed_reader.unwrap();
        // Live, over the second connection.
        buckets
            .connections
            .put("node-a.1001", record(1001).into())
            .await
            .unwrap();
        buckets.connections.delete("node-a.5").await.unwrap();
        let started = Instant::now();
        while reader.view().get("node-a", 5).is_some() || reader.view().get("node-a", 1001).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the put and delete never came"
            );
            let _ = tokio::time::timeout(Duration::from_millis(500), reader.next()).await;
        }
        assert_eq!(reader.view().len(), 1000);
    });
}

/// Full logs of every server (Permission Violations are looked for there).
fn full_logs(cluster: &NatsCluster) -> String {
    (0..3)
        .map(|i| std::fs::read_to_string(cluster.path().join(format!("n{i}.log"))).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fleet identities are proven, not claimed. Each node has its own NATS
/// user with the permissions docs/fleet.md ships; with vpn-a's credentials
/// stolen, the thief can neither overwrite, delete nor purge vpn-b's keys,
/// forge its heartbeat, hang up its sessions, intercept its requests, nor
/// act as an operator; an operator can hang up only under its own name,
/// which the node audits; a viewer hangs up nothing; old markers are
/// purged by the janitor, which a node's user may not do.
#[test]
fn stolen_node_credentials_cannot_touch_another_nodes_sessions() {
    if !require_tool("radclient") || !require_tool("nats-server") {
        return;
    }
    let Some(rasctl_bin): Option<PathBuf> = rasctl_beside(Path::new(env!("CARGO_BIN_EXE_rrasd"))) else {
        return;
    };
    let nas_port = free_udp_port();
    let nas_port_arg = nas_port.to_string();
    // The ids exist before the nodes first start: the NATS configuration
    // names them (`rrasd --print-node-id`).
    let pa = Node::prepare("vpn-a", &[]);
    let pb = Node::prepare("vpn-b", &["--radius-disconnect-port", &nas_port_arg]);
    let (id_a, id_b) = (pa.d.node_id(), pb.d.node_id());
    let cluster = NatsCluster::start_with_nodes(&[("vpn-a", &id_a), ("vpn-b", &id_b)]);
    let own_user = "purge_markers = false\n";
    let a = Node::launch(pa, &cluster.urls(), &cluster, "vpn-a", own_user);
    let b = Node::launch(pb, &cluster.urls(), &cluster, "vpn-b", own_user);
    assert_eq!((a.id.as_str(), b.id.as_str()), (id_a.as_str(), id_b.as_str()));
    a.send(&starts("a", 0..10, "Start"));
    b.send(&starts("b", 0..10, "Start"));
    let view = LiveView::start_when_buckets_exist(&cluster);
    view.converges(Duration::from_secs(20), "nodes on their own users", &[&a, &b]);
    // What the nodes do needs nothing they were not given.
    let logs = full_logs(&cluster);
    assert!(
        !logs.contains("Violation"),
        "a node needed a right docs/fleet.md does not give:\n{logs}"
    );

    // The thief: vpn-a's user and password, and its inbox prefix (without
    // it not even JetStream answers reach it).
    let victim = b.table().into_keys().next().expect("vpn-b has sessions");
    let victim_subject = format!("$KV.rras_connections.{id_b}.{}", victim.1);
    let refused: Vec<String> = runtime().block_on(async {
        let thief = async_nats::ConnectOptions::with_user_and_password("vpn-a".into(), "vpn-a-pw".into())
            .custom_inbox_prefix(format!("_INBOX_{id_a}"))
            .connect(cluster.urls().split(',').collect::<Vec<_>>().as_slice())
            .await
            .expect("the stolen credentials connect");
        let mut js = async_nats::jetstream::new(thief.clone());
        // NATS refuses at once; the server logs are checked for each
        // refusal below, so a failure here is never a mere timeout.
        js.set_timeout(Duration::from_secs(1));
        let mut outcomes = Vec::new();
        let mut attempt = |what: &str, failed: bool| outcomes.push((what.to_owned(), failed));
        // Overwrite vpn-b's session with junk, delete it, forge a heartbeat.
        let put = async {
            js.publish(victim_subject.clone(), "junk".into()).await?.await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        };
        attempt("overwrite", put.await.is_err());
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("KV-Operation", "DEL");
        let del = async {
            js.publish_with_headers(victim_subject.clone(), headers, "".into())
                .await?
                .await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        };
        attempt("delete", del.await.is_err());
        let beat = async {
            js.publish(format!("$KV.rras_nodes.{id_b}"), "{}".into()).await?.await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        };
        attempt("forge a heartbeat", beat.await.is_err());
        // Purge it, or the whole bucket; delete or shrink the stream.
        let stream = js
            .get_stream("KV_rras_connections")
            .await
            .expect("a node may look at the bucket");
        attempt(
            "purge a key",
            stream.purge().filter(victim_subject.clone()).await.is_err(),
        );
        attempt("purge the bucket", stream.purge().await.is_err());
        attempt(
            "delete the bucket",
            js.delete_stream("KV_rras_connections").await.is_err(),
        );
        let mut shrunk = stream.cached_info().config.clone();
        shrunk.max_messages = 1;
        attempt("shrink the bucket", js.update_stream(shrunk).await.is_err());
        // Listen for vpn-b's requests, then hang up as an operator on
        // either node.
        let mut eavesdrop = thief
            .subscribe(format!("rras.fleet.{id_b}.disconnect.*"))
            .await
            .expect("a refused subscription is reported by the server, later");
        for node in [&id_b, &id_a] {
            let body = serde_json::to_vec(&rras_fleet::DisconnectRequest { handle: victim.1 }).unwrap();
            let ask = thief.send_request(
                format!("rras.fleet.{node}.disconnect.operator"),
                async_nats::Request::new()
                    .payload(body.into())
                    .timeout(Some(Duration::from_secs(1))),
            );
            attempt("hang up as an operator", ask.await.is_err());
        }
        // An operator's real request to vpn-b never reaches the thief.
        let seen = std::sync::Arc::new(rras_fleet::options::Connects::default());
        let operator = options(&cluster, cluster.urls(), "operator")
            .connect_watched("test operator", rras_fleet::options::Reconnect::Fail, seen.clone())
            .await
            .unwrap();
        let (_, nas) = disconnect_responder_at(nas_port, SECRET, 41, None);
        rras_fleet::disconnect(
            &operator,
            Some(&seen),
            &FleetNames::default(),
            &id_b,
            victim.1,
            "operator",
        )
        .await
        .expect("the operator hangs up on vpn-b");
        assert!(nas.join().unwrap().is_some(), "vpn-b asked its NAS");
        let heard = tokio::time::timeout(Duration::from_secs(1), eavesdrop.next()).await;
        attempt("overhear a request", !matches!(heard, Ok(Some(_))));
        // Impersonate another operator with the operator's own user.
        let other =
            rras_fleet::disconnect(&operator, Some(&seen), &FleetNames::default(), &id_b, victim.1, "alice").await;
        attempt(
            "hang up as another operator",
            matches!(other, Err(rras_fleet::FleetError::Forbidden(_))),
        );
        outcomes
            .into_iter()
            .filter(|(_, failed)| !failed)
            .map(|(what, _)| what)
            .collect()
    });
    assert!(
        refused.is_empty(),
        "the stolen credentials could: {refused:?}\n{}",
        cluster.logs()
    );
    let logs = full_logs(&cluster);
    for subject in [
        victim_subject.as_str(),
        &format!("$KV.rras_nodes.{id_b}"),
        "$JS.API.STREAM.PURGE.KV_rras_connections",
        "$JS.API.STREAM.DELETE.KV_rras_connections",
        "$JS.API.STREAM.UPDATE.KV_rras_connections",
        &format!("rras.fleet.{id_b}.disconnect.operator"),
        &format!("rras.fleet.{id_b}.disconnect.*"),
        &format!("rras.fleet.{id_b}.disconnect.alice"),
    ] {
        assert!(
            logs.lines().any(|l| l.contains("Violation") && l.contains(subject)),
            "NATS refused {subject} by permission:\n{logs}"
        );
    }
    // vpn-b lost exactly the session the operator hung up, and its keys
    // still equal its table: nothing overwritten, deleted or purged.
    assert!(!b.table().contains_key(&victim));
    assert_eq!(b.table().len(), 9);
    view.converges(Duration::from_secs(5), "after the thief", &[&a, &b]);
    assert_eq!(view.snapshot().skipped, 0, "no junk value in the bucket");
    assert!(!view.snapshot().stale[&id_b], "vpn-b's heartbeat is its own");
    let audit = runtime().block_on(async {
        let c = AdminClient::connect(&b.d.addr()).await.unwrap();
        c.audit(20).await.unwrap()
    });
    let fleet_calls: Vec<_> = audit.iter().filter(|r| r.caller.starts_with("fleet:")).collect();
    assert_eq!(fleet_calls.len(), 1, "{audit:?}");
    assert_eq!(
        (fleet_calls[0].caller.as_str(), fleet_calls[0].result),
        ("fleet:operator", 0),
        "the audit names the operator NATS proved"
    );

    // rasctl: a viewer hangs up nothing, an operator cannot pass for alice.
    let target = format!("vpn-b:{}", b.table().keys().next().unwrap().1);
    for (user, extra) in [("viewer", None), ("operator", Some("alice"))] {
        let mut args = vec!["disconnect", target.as_str()];
        args.extend(extra.iter().flat_map(|name| ["--as", *name]));
        let out = rasctl(&rasctl_bin, &cluster, user, &args);
        assert!(!out.status.success(), "{user} {args:?} hung up");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(why.contains("NATS refused this user"), "{user}: {why}");
    }
    assert_eq!(b.table().len(), 9);

    // Markers: vpn-a ends three sessions; it may not purge their markers,
    // the janitor may and does; a node's user running the janitor's
    // command is refused.
    a.send(&starts("a", 0..3, "Stop"));
    view.converges(Duration::from_secs(5), "after vpn-a's stops", &[&a, &b]);
    let messages = || {
        runtime().block_on(async {
            let client = options(&cluster, cluster.urls(), "viewer")
                .connect("test count", rras_fleet::options::Reconnect::Fail)
                .await
                .unwrap();
            rras_fleet::buckets::connection_messages(&async_nats::jetstream::new(client), &FleetNames::default())
                .await
                .unwrap()
        })
    };
    let before = messages();
    assert_eq!(
        before,
        7 + 9 + 3 + 1,
        "live keys, vpn-a's three markers and the hung-up one"
    );
    let node_tries = rasctl(&rasctl_bin, &cluster, "vpn-a", &["purge-markers", "--older-than", "0"]);
    assert!(!node_tries.status.success(), "a node's user purged");
    let janitor = rasctl(
        &rasctl_bin,
        &cluster,
        "janitor",
        &["purge-markers", "--older-than", "0"],
    );
    assert!(janitor.status.success(), "{}", String::from_utf8_lossy(&janitor.stderr));
    let said = String::from_utf8_lossy(&janitor.stdout);
    assert!(said.starts_with("purged 4 marker(s)"), "{said}");
    assert_eq!(messages(), 16, "only the live keys are left");
    view.converges(Duration::from_secs(5), "after the janitor", &[&a, &b]);
}

/// docs/fleet.md ships the nats-server configuration the tests run.
#[test]
fn docs_ship_the_nats_configuration_the_tests_run() {
    let page = include_str!("../../../docs/fleet.md");
    let shipped = rras_testkit::nats::docs_accounts();
    assert!(
        page.contains(&shipped),
        "docs/fleet.md must show, in its \"Permissions\" section:\n{shipped}"
    );
}
