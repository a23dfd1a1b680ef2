//! A real `nats-server` cluster for fleet tests: three servers with
//! JetStream (file storage in a temp dir), clustered over loopback, with
//! the fleet's accounts and permissions (docs/fleet.md shows the same).
//! Servers can be killed and restarted on their own state; everything is
//! killed by PID on drop. Servers do not advertise each other to clients
//! (`no_advertise`), so a client given one URL stays on that server and
//! killing it cuts the client off.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_tcp_port, wait_for};

/// Users of the test accounts, each with the password `<user>-pw`:
/// `rrasd` (a node sharing one user: everything in the fleet account),
/// `operator` (reads the fleet, may send disconnects as "operator"),
/// `viewer` (reads only), `janitor` (reads, purges old markers), `snoop`
/// (in the fleet account, no rights on it), `outsider` (another account);
/// plus one user per node named by [`NatsCluster::start_with_nodes`].
pub const USERS: [&str; 6] = ["rrasd", "operator", "viewer", "janitor", "snoop", "outsider"];

/// What a fleet reader needs: look at and watch the two buckets.
const READ_FLEET: &str = r#""$JS.API.INFO",
            "$JS.API.STREAM.INFO.KV_rras_connections", "$JS.API.STREAM.INFO.KV_rras_nodes",
            "$JS.API.CONSUMER.CREATE.KV_rras_connections", "$JS.API.CONSUMER.CREATE.KV_rras_connections.>",
            "$JS.API.CONSUMER.CREATE.KV_rras_nodes", "$JS.API.CONSUMER.CREATE.KV_rras_nodes.>",
            "$JS.API.CONSUMER.DELETE.KV_rras_connections.*", "$JS.API.CONSUMER.DELETE.KV_rras_nodes.*",
            "$JS.FC.>""#;

/// What a node needs of JetStream beyond its own subjects: create and
/// look at the buckets, list its own keys.
const NODE_JETSTREAM: &str = r#""$JS.API.INFO",
            "$JS.API.STREAM.INFO.KV_rras_connections", "$JS.API.STREAM.INFO.KV_rras_nodes",
            "$JS.API.STREAM.CREATE.KV_rras_connections", "$JS.API.STREAM.CREATE.KV_rras_nodes",
            "$JS.API.CONSUMER.CREATE.KV_rras_connections", "$JS.API.CONSUMER.CREATE.KV_rras_connections.>",
            "$JS.API.CONSUMER.MSG.NEXT.KV_rras_connections.*", "$JS.API.CONSUMER.DELETE.KV_rras_connections.*""#;

/// The fleet account's users, as docs/fleet.md ships them: one user per
/// node (`(user, node id)`), an operator, a viewer and the janitor.
/// `password(user)` is what stands in each `password:` field.
pub fn fleet_users(nodes: &[(&str, &str)], password: impl Fn(&str) -> String) -> String {
    let mut users = String::new();
    for (user, id) in nodes {
        users += &format!(
            r#"      # node {user}: its own keys, heartbeat, disconnect, history and usage requests, replies
      {{ user: {user}, password: {pw}, permissions: {{
          publish: {{ allow: [{NODE_JETSTREAM},
            "$KV.rras_connections.{id}.>", "$KV.rras_nodes.{id}"] }},
          subscribe: {{ allow: ["rras.fleet.{id}.disconnect.*", "rras.fleet.{id}.history", "rras.fleet.{id}.usage", "_INBOX_{id}.>"] }},
          allow_responses: true }} }}
"#,
            pw = password(user)
        );
    }
    users += &format!(
        r#"      # an operator: reads, and hangs up as "operator" (one user per operator)
      {{ user: operator, password: {operator}, permissions: {{
          publish: {{ allow: [{READ_FLEET}, "rras.fleet.*.history", "rras.fleet.*.usage", "rras.fleet.*.disconnect.operator"] }},
          subscribe: {{ allow: ["_INBOX.>"] }} }} }}
      # a viewer: reads only (the buckets, and each node's history and usage)
      {{ user: viewer, password: {viewer}, permissions: {{
          publish: {{ allow: [{READ_FLEET}, "rras.fleet.*.history", "rras.fleet.*.usage"] }},
          subscribe: {{ allow: ["_INBOX.>"] }} }} }}
      # the janitor: rasctl fleet purge-markers, from a timer
      {{ user: janitor, password: {janitor}, permissions: {{
          publish: {{ allow: [{READ_FLEET}, "$JS.API.CONSUMER.MSG.NEXT.KV_rras_connections.*",
            "$JS.API.STREAM.PURGE.KV_rras_connections"] }},
          subscribe: {{ allow: ["_INBOX.>"] }} }} }}
"#,
        operator = password("operator"),
        viewer = password("viewer"),
        janitor = password("janitor"),
    );
    users
}

/// The nats-server `accounts` block docs/fleet.md ships: two nodes (the
/// ids are examples: `rrasd --print-node-id`), passwords from environment
/// variables. A test keeps the page equal to this, so the page shows what
/// the tests run.
pub fn docs_accounts() -> String {
    let nodes = [
        ("vpn1", "5f0c3c1e-8a4b-4d2e-9f61-0c7d2a9b1e01"),
        ("vpn2", "9b2d7e44-1c3a-4f85-b0d2-6e8f3a1c7d02"),
    ];
    format!(
        "accounts {{\n  FLEET {{\n    jetstream: enabled\n    users: [\n{}    ]\n  }}\n}}\n",
        fleet_users(&nodes, |user| format!("${}_PASSWORD", user.to_uppercase()))
    )
}

/// The accounts block of every test server: the fleet's users as
/// docs/fleet.md ships them for `nodes`, plus the test's own: `rrasd` (all
/// rights, for nodes that share one user), `snoop` and `outsider`.
pub fn accounts(nodes: &[(&str, &str)]) -> String {
    format!(
        r#"accounts {{
  FLEET {{
    jetstream: enabled
    users: [
      {{ user: rrasd, password: rrasd-pw }}
{}      {{ user: snoop, password: snoop-pw, permissions: {{
          publish: {{ allow: ["snoop.>"] }},
          subscribe: {{ allow: ["_INBOX.>", "snoop.>"] }} }} }}
    ]
  }}
  OTHER {{
    jetstream: enabled
    users: [ {{ user: outsider, password: outsider-pw }} ]
  }}
}}
"#,
        fleet_users(nodes, |user| format!("{user}-pw"))
    )
}

/// One server of the cluster.
#[derive(Debug)]
struct Server {
    config: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// Three clustered nats-server processes.
#[derive(Debug)]
pub struct NatsCluster {
    /// Configs, stores and logs.
    pub dir: tempfile::TempDir,
    servers: Vec<Server>,
}

impl NatsCluster {
    /// Starts three servers and waits until JetStream answers with a leader.
    pub fn start() -> Self {
        Self::start_with_nodes(&[])
    }

    /// [`start`](Self::start), with a user per node (`(user, node id)`,
    /// password `<user>-pw`) allowed only what docs/fleet.md allows a node.
    pub fn start_with_nodes(nodes: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        crate::reaper::track_dir(dir.path());
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_tcp_port(), free_tcp_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, c)| format!("nats-route://127.0.0.1:{c}"))
            .collect();
        let mut servers = Vec::new();
        for (i, (port, cluster)) in ports.iter().enumerate() {
            let store = dir.path().join(format!("n{i}"));
            let config = dir.path().join(format!("n{i}.conf"));
            let text = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{port}\n\
                 jetstream {{ store_dir: \"{}\", max_memory_store: 256MB, max_file_store: 2GB }}\n\
                 cluster {{ name: rras-{first}, listen: 127.0.0.1:{cluster}, routes: [{}], no_advertise: true }}\n{}",
                store.display(),
                routes.join(", "),
                accounts(nodes),
                // A name of its own, so that servers of two clusters started
                // side by side never join each other.
                first = ports[0].0,
            );
            std::fs::write(&config, text).expect("write nats config");
            servers.push(Server {
                config,
                port: *port,
                child: None,
            });
        }
        let mut cluster = NatsCluster { dir, servers };
        for i in 0..3 {
            cluster.spawn(i);
        }
        cluster.wait_ready();
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("n{i}.log")))
            .expect("nats log");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&self.servers[i].config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        crate::reaper::track_process(child.id());
        self.servers[i].child = Some(child);
    }

    /// Waits (≤ 30 s) until every running server is up and the JetStream
    /// meta group has a leader (a stream can be created).
    pub fn wait_ready(&self) {
        self.wait_jetstream(&self.urls());
    }

    /// Polls (≤ 30 s), as the node user through `urls` (comma-separated),
    /// until `probe` says yes; panics with the servers' logs otherwise.
    fn wait_until<F, Fut>(&self, urls: &str, what: &str, probe: F)
    where
        F: Fn(async_nats::jetstream::Context) -> Fut,
        Fut: std::future::Future<Output = Option<()>>,
    {
        let rt = crate::runtime();
        let urls: Vec<String> = urls.split(',').map(str::to_owned).collect();
        let ok = wait_for(Duration::from_secs(30), || {
            rt.block_on(async {
                let client = async_nats::ConnectOptions::with_user_and_password("rrasd".into(), "rrasd-pw".into())
                    .connect(urls.as_slice())
                    .await
                    .ok()?;
                probe(async_nats::jetstream::new(client)).await
            })
        });
        assert!(ok.is_some(), "nats cluster: {what}:\n{}", self.logs());
    }

    /// Waits (≤ 30 s) until JetStream answers through `urls`
    /// (comma-separated): a server that restarted has rejoined.
    pub fn wait_jetstream(&self, urls: &str) {
        self.wait_until(urls, "JetStream did not answer", |js| async move {
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name: "READY".into(),
                subjects: vec!["ready.>".into()],
                num_replicas: 3,
                ..Default::default()
            })
            .await
            .ok()
            .map(|_| ())
        });
    }

    /// Waits (≤ 30 s) until each of `streams` has a leader and every
    /// replica is current. Only then can a server be killed without the
    /// stream waiting for it: a replica still catching up (a stream a few
    /// seconds old) can stall the election until the killed server returns.
    pub fn wait_replicas_current(&self, streams: &[&str]) {
        self.wait_until(&self.urls(), "replicas never all current", |js| async move {
            for name in streams {
                let mut stream = js.get_stream(*name).await.ok()?;
                let info = stream.info().await.ok()?;
                let cluster = info.cluster.as_ref()?;
                cluster.leader.as_ref()?;
                let current = cluster.replicas.len() == 2 && cluster.replicas.iter().all(|r| r.current && !r.offline);
                current.then_some(())?;
            }
            Some(())
        });
    }

    /// `nats://127.0.0.1:P1,…` of every server.
    pub fn urls(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// PIDs of the running servers.
    pub fn pids(&self) -> Vec<u32> {
        self.servers
            .iter()
            .filter_map(|s| s.child.as_ref().map(|c| c.id()))
            .collect()
    }

    /// The URL of server `i` alone.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].port)
    }

    /// SIGKILL server `i` (its store stays for a restart).
    pub fn kill(&mut self, i: usize) {
        crate::stop_child_now(&mut self.servers[i].child);
    }

    /// Starts server `i` again on its store.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        let port = self.servers[i].port;
        let up = wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(up.is_some(), "nats server {i} did not come back:\n{}", self.logs());
    }

    /// Every server's log (for assertion messages).
    pub fn logs(&self) -> String {
        (0..self.servers.len())
            .map(|i| {
                let log = std::fs::read_to_string(self.dir.path().join(format!("n{i}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                format!("--- n{i}\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Where the test configs live.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            crate::stop_child_now(&mut s.child);
        }
        crate::reaper::forget_dir(self.dir.path());
    }
}
