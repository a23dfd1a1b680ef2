//! `run`: the daemon's life from start to clean exit. Tests and the demo
//! call it in-process with their own shutdown future.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rras_core::ConnectionTable;
use rras_proto::pb::rras_admin_server::RrasAdminServer;
use rras_store::{Store, StoreOptions};
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

use crate::auth::{Authorizer, SharedAuthorizer};
use crate::config::Config;
use crate::error::DaemonError;
use crate::inflight::InflightLimiter;
use crate::manager::{ConnectionManager, ServiceState};
use crate::metrics::Metrics;
use crate::service::AdminService;
use crate::sessions::SessionRegistry;
use crate::sources;

/// Largest request the admin socket accepts (a report batch of ~30k).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Largest reply (a full enumeration of a very large table with -1).
pub const MAX_REPLY_BYTES: usize = 1024 * 1024 * 1024;

/// How long a stopping daemon waits for in-flight admin calls.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn socket_error(path: &Path, message: impl ToString) -> DaemonError {
    DaemonError::Socket {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Binds the admin socket: removes a stale file (nobody listening), refuses
/// to steal a live daemon's socket, applies mode and group.
fn bind_admin_socket(config: &Config, admin_gid: Option<u32>) -> Result<std::os::unix::net::UnixListener, DaemonError> {
    let path = &config.admin_socket;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| socket_error(path, e))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(socket_error(path, "another rrasd is listening there"));
        }
        std::fs::remove_file(path).map_err(|e| socket_error(path, format!("cannot remove stale socket: {e}")))?;
    }
    // A std listener: it is served on the admin thread's runtime, not this one.
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| socket_error(path, e))?;
    listener.set_nonblocking(true).map_err(|e| socket_error(path, e))?;
    let mode = config.socket_mode_bits().map_err(|e| socket_error(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| socket_error(path, e))?;
    if let Some(gid) = admin_gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid))).map_err(|e| socket_error(path, e))?;
    }
    Ok(listener)
}

/// Fills the table from the store: one thread reads and checks records in
/// batches while this one indexes them, so on two cores a million rows take
/// about as long as reading them.
pub fn load_table(store: &Arc<Store>, table: &ConnectionTable) -> Result<u64, DaemonError> {
    let (count, watermark) = store.active_header()?;
    table.reserve(usize::try_from(count).unwrap_or(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let store = store.clone();
        std::thread::Builder::new()
            .name("rrasd-load".into())
            .spawn(move || store.load_streaming(1 << 16, &tx))
            .map_err(|e| DaemonError::Load(format!("cannot start the reader thread: {e}")))?
    };
    table.restore(rx.into_iter().flatten(), watermark);
    reader
        .join()
        .map_err(|_| DaemonError::Load("the reader thread panicked".into()))??;
    Ok(count)
}

/// The server settings both listeners share: per-connection concurrency
/// cap, per-call timeout, keepalives that find dead peers.
fn rpc_builder(config: &Config) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(config.rpc_concurrency_per_connection)
        .timeout(Duration::from_secs(config.rpc_timeout_secs))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        // HTTP/2's default 64 KiB windows make a 200 MB listing thousands of
        // WINDOW_UPDATE round trips; large windows let it flow.
        .initial_stream_window_size(Some(rras_proto::H2_STREAM_WINDOW))
        .initial_connection_window_size(Some(rras_proto::H2_CONNECTION_WINDOW))
        .max_frame_size(Some(rras_proto::H2_MAX_FRAME))
}

fn admin_service(service: AdminService) -> RrasAdminServer<AdminService> {
    RrasAdminServer::new(service)
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_REPLY_BYTES)
}

/// The TCP admin listener: TLS only, client certificates optional (so
/// token clients can connect) but verified against the CA when presented.
fn start_tls_listener(
    admin_rt: &crate::admin_runtime::AdminRuntime,
    config: &Config,
    addr: std::net::SocketAddr,
    service: AdminService,
    mut stop: tokio::sync::watch::Receiver<bool>,
    lingering: tokio_util::task::TaskTracker,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    // rrasd terminates TLS itself (not tonic): the handshake runs under the
    // listener's deadline, and client certificates are checked against the
    // revocation list.
    let acceptor = config
        .tls
        .acceptor(&[b"h2"])
        .map_err(DaemonError::Tls)?
        .ok_or_else(|| DaemonError::Tls("tls.listen needs tls.cert and tls.key".into()))?;
    let bind_error = |source| DaemonError::Bind {
        what: format!("admin TLS {addr}"),
        source,
    };
    // Bound here so a taken port fails the start; served on the admin thread.
    let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    let server = rpc_builder(config).add_service(admin_service(service));
    tracing::info!(%addr, "admin RPC over TLS listening");
    let gate = rras_source::gate::ConnectionGate::new("admin TLS", config.listeners);
    let handshake = Duration::from_secs(config.listeners.handshake_secs);
    Ok(admin_rt.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("admin TLS listener failed: {e}");
                return;
            }
        };
        // Accepted, admitted and handshaken connections, each handshake
        // on its own task so a slow one holds up nobody.
        let (ready, incoming) = tokio::sync::mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("admin TLS accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let admission = match gate.admit(rras_source::gate::ClientKey::Ip(peer.ip())) {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!(%peer, "admin TLS connection refused: {e}");
                        continue;
                    }
                };
                let io = admission.guard(crate::linger::LingeringTcp::new(tcp, lingering.clone()));
                let (acceptor, ready) = (acceptor.clone(), ready.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake, acceptor.accept(io)).await {
                        Ok(Ok(stream)) => {
                            let _ = ready.send(Ok::<_, std::io::Error>(stream)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "admin TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "admin TLS handshake timed out"),
                    }
                });
            }
        });
        let result = server
            .serve_with_incoming_shutdown(tokio_stream::wrappers::ReceiverStream::new(incoming), async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        accepting.abort();
        if let Err(e) = result {
            tracing::error!("admin TLS listener failed: {e}");
        }
    }))
}

/// SIGHUP: re-read the configuration file, apply the same flags again, and
/// swap in the new roles, TLS client names and tokens file. Listeners, the
/// store and sources keep their settings until a restart. A configuration
/// that does not load leaves the old one in force. Either way the reload is
/// audited.
async fn reload_on_sighup(cli: crate::config::Args, auth: SharedAuthorizer, manager: Arc<ConnectionManager>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reload disabled");
        return;
    };
    while hangups.recv().await.is_some() {
        let target = cli.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let result = cli
            .clone()
            .into_config()
            .and_then(|c| c.check_secret_files().map(|()| c))
            .map_err(|e| e.to_string())
            .and_then(|c| Authorizer::new(c.local_roles(), &c.tls).map_err(|e| e.to_string()));
        let code = match result {
            Ok(new) => {
                *auth.write() = Arc::new(new);
                tracing::info!(config = %target, "configuration reloaded (roles, TLS client names, tokens)");
                0
            }
            Err(e) => {
                tracing::error!("reload failed, keeping the previous configuration: {e}");
                rras_core::Win32Error::InvalidParameter.code()
            }
        };
        manager
            .audit(rras_core::AuditRecord {
                at: std::time::SystemTime::now(),
                caller: "signal:SIGHUP".into(),
                method: "ConfigReload".into(),
                target,
                result: code,
            })
            .await;
    }
}

/// Opens (or creates) the durable store under the state dir.
fn open_store(config: &Config) -> Result<Store, DaemonError> {
    Ok(Store::open_with(
        &config.state_dir.join("rrasd.redb"),
        StoreOptions {
            history: rras_store::history::Retention {
                max_age: Duration::from_secs(config.history_days.saturating_mul(86_400)),
                max_bytes: config.history_max_bytes,
            },
            audit_limit: config.audit_limit,
            audit_max_age: Duration::from_secs(config.audit_days.saturating_mul(86_400)),
            cache_bytes: usize::try_from(config.store_cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            applier_nice: config.store_applier_nice,
            ..StoreOptions::default()
        },
    )?)
}

/// This node's id (its key in a fleet, and what per-node NATS permissions
/// name), read from the store, which is created if missing: an operator
/// can write the NATS configuration before the node first starts. Fails
/// while the daemon runs (the store is its alone; `rasctl server` shows
/// the id then).
pub fn node_id(config: &Config) -> Result<rras_core::Guid, DaemonError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|source| DaemonError::StateDir {
        path: config.state_dir.display().to_string(),
        source,
    })?;
    let store = open_store(config)?;
    Ok(rras_core::Guid::from_u128(store.node_id()?))
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), DaemonError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|source| DaemonError::StateDir {
        path: config.state_dir.display().to_string(),
        source,
    })?;
    let auth: SharedAuthorizer = Arc::new(parking_lot::RwLock::new(Arc::new(Authorizer::new(
        config.local_roles(),
        &config.tls,
    )?)));
    // The socket comes up first, so clients see ERROR_DDM_NOT_RUNNING (not
    // "server unavailable") while a large store loads.
    let admin_gid = auth.read().admin_gid();
    let listener = bind_admin_socket(&config, admin_gid)?;
    let opening = std::time::Instant::now();
    let store = Arc::new(open_store(&config)?);
    let table = Arc::new(ConnectionTable::new(config.cursor_limits()));
    let manager = Arc::new(ConnectionManager::new(table.clone(), store.clone()));
    let metrics = Arc::new(Metrics::new());
    let sessions = Arc::new(SessionRegistry::new(
        config.max_admin_sessions,
        config.admin_sessions_per_client,
    ));
    let inflight = InflightLimiter::new(config.rpc_inflight_per_client);
    let service = AdminService::new(manager.clone(), sessions, auth.clone(), metrics.clone(), inflight);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rpc_stop = stop_rx.clone();
    let admin_rt =
        crate::admin_runtime::AdminRuntime::start(config.admin_nice).map_err(|source| DaemonError::Bind {
            what: "admin runtime".into(),
            source,
        })?;
    let rpc = serve_admin_socket(&admin_rt, &config, listener, service.clone(), rpc_stop);
    let lingering = tokio_util::task::TaskTracker::new();
    let tls_rpc = match config.tls.listen {
        Some(addr) => Some(start_tls_listener(
            &admin_rt,
            &config,
            addr,
            service,
            stop_rx.clone(),
            lingering.clone(),
        )?),
        None => None,
    };

    let opened = opening.elapsed();
    let loading = std::time::Instant::now();
    let n_loaded = load_table(&store, &table)?;
    tracing::info!(
        connections = n_loaded,
        open_ms = opened.as_millis() as u64,
        load_ms = loading.elapsed().as_millis() as u64,
        "store loaded"
    );

    let mut background = Vec::new();
    background.extend(serve_metrics(&config, metrics.clone(), manager.clone()).await?);
    let (web_rt, web) = start_web(&config, manager.clone(), auth.clone()).await?;
    background.extend(web);
    background.extend(crate::fleet::start(&config.fleet, manager.clone(), metrics.clone()));
    background.push(tokio::spawn(flush_denials(manager.clone())));
    background.extend(
        sources::start(
            config.source_instances(),
            manager.clone(),
            metrics.clone(),
            stop_rx.clone(),
        )
        .await?,
    );
    if let Some(cli) = config.cli.clone() {
        background.push(tokio::spawn(reload_on_sighup(cli, auth, manager.clone())));
    }

    tokio::pin!(shutdown);
    let stopped_while_starting = tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(config.debug_start_delay_ms)) => false,
        _ = &mut shutdown => true,
    };
    if !stopped_while_starting {
        manager.set_state(ServiceState::Running);
        tracing::info!(socket = %config.admin_socket.display(), "rrasd running");
        shutdown.await;
    }
    manager.set_state(ServiceState::Stopping);
    tracing::info!("rrasd stopping");
    let _ = stop_tx.send(true);
    for task in background {
        task.abort();
    }
    // In-flight calls on every listener get one shared grace period; idle
    // client connections do not hold the daemon up past it.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    if let Some(task) = tls_rpc {
        drain_listener("admin TLS", task, deadline).await;
        // Closed TCP connections finish their lingering close (the last
        // bytes of a reply reach the client) within the same grace.
        lingering.close();
        let _ = tokio::time::timeout_at(deadline, lingering.wait()).await;
    }
    let unix_result = drain_listener("admin socket", rpc, deadline).await;
    let _ = std::fs::remove_file(&config.admin_socket);
    // Joining the admin and web threads blocks: not on a worker.
    let _ = tokio::task::spawn_blocking(move || {
        drop(admin_rt);
        drop(web_rt);
    })
    .await;
    if let Some(Err(e)) = unix_result {
        return Err(e);
    }
    Ok(())
}

/// The admin RPC on the Unix socket, on the admin thread, each connection
/// admitted by the gate per uid, until `stop` turns true.
fn serve_admin_socket(
    admin_rt: &crate::admin_runtime::AdminRuntime,
    config: &Config,
    listener: std::os::unix::net::UnixListener,
    service: AdminService,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<(), DaemonError>> {
    let rpc_server = rpc_builder(config).add_service(admin_service(service));
    let unix_gate = rras_source::gate::ConnectionGate::new("admin socket", config.listeners);
    admin_rt.spawn(async move {
        let listener = UnixListener::from_std(listener).map_err(|source| DaemonError::Bind {
            what: "admin socket".into(),
            source,
        })?;
        // Counted per uid: one local user's idle connections cannot keep
        // another's out.
        let incoming = tokio_stream::StreamExt::filter_map(UnixListenerStream::new(listener), move |accepted| {
            let stream = match accepted.and_then(rras_proto::QuietUnixStream::from_tokio) {
                Ok(s) => s,
                Err(e) => return Some(Err(e)),
            };
            let uid = tonic::transport::server::Connected::connect_info(&stream)
                .peer_cred
                .map_or(u32::MAX, |c| c.uid());
            match unix_gate.admit(rras_source::gate::ClientKey::Uid(uid)) {
                Ok(admission) => Some(Ok(admission.guard(stream))),
                Err(e) => {
                    tracing::debug!(uid, "admin socket connection refused: {e}");
                    None
                }
            }
        });
        rpc_server
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(DaemonError::from)
    })
}

/// `metrics` on its address, behind its own gate, when configured.
async fn serve_metrics(
    config: &Config,
    metrics: Arc<Metrics>,
    manager: Arc<ConnectionManager>,
) -> Result<Option<tokio::task::JoinHandle<()>>, DaemonError> {
    let Some(addr) = config.metrics else {
        return Ok(None);
    };
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Bind {
            what: format!("metrics {addr}"),
            source,
        })?;
    let gate = rras_source::gate::ConnectionGate::new("metrics", config.listeners);
    Ok(Some(tokio::spawn(crate::metrics::serve(l, gate, metrics, manager))))
}

/// The web console on its own thread, below RADIUS in the kernel's eyes
/// (nice 10); the thread, and the console's task when it is configured.
async fn start_web(
    config: &Config,
    manager: Arc<ConnectionManager>,
    auth: SharedAuthorizer,
) -> Result<(crate::admin_runtime::AdminRuntime, Option<tokio::task::JoinHandle<()>>), DaemonError> {
    let web_rt =
        crate::admin_runtime::AdminRuntime::start_named("rrasd-web", 10).map_err(|source| DaemonError::Bind {
            what: "web runtime".into(),
            source,
        })?;
    let (web, tls, fleet) = (config.web.clone(), config.tls.clone(), config.fleet.clone());
    let listeners = config.listeners;
    let web = web_rt.spawn(async move { crate::web::start(&web, &tls, listeners, &fleet, manager, auth).await });
    match web.await {
        Ok(Ok(web)) => Ok((web_rt, web)),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(DaemonError::Bind {
            what: "web console".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// Writes the summed denials every 5 s.
async fn flush_denials(manager: Arc<ConnectionManager>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        manager.flush_denials().await;
    }
}

/// Waits for a listener task that was told to stop until `deadline`, then
/// aborts it: its graceful shutdown lets in-flight calls finish, the abort
/// closes what is still open after the grace period.
async fn drain_listener<T>(what: &str, task: tokio::task::JoinHandle<T>, deadline: tokio::time::Instant) -> Option<T> {
    let abort = task.abort_handle();
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(join)) => {
            tracing::error!("{what} listener ended abnormally: {join}");
            None
        }
        Err(_) => {
            abort.abort();
            tracing::info!("{what}: closed open connections after {SHUTDOWN_GRACE:?}");
            None
        }
    }
}
