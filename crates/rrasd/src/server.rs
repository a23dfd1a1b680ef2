//! `run`: the daemon's life from start to clean exit. Tests and the demo
//! call it in-process with their own shutdown future.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rras_core::ConnectionTable;
use rras_proto::pb::rras_admin_server::RrasAdminServer;
use rras_store::Store;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

use crate::auth::Authorizer;
use crate::config::Config;
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

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The state directory is unusable.
    #[error("state_dir {path}: {source}")]
    StateDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] rras_store::StoreError),
    /// The admin socket could not be set up.
    #[error("admin_socket {path}: {message}")]
    Socket {
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
    /// A configured group does not exist.
    #[error(transparent)]
    Group(#[from] crate::auth::UnknownGroup),
    /// A listener (metrics, RADIUS) could not bind.
    #[error("cannot listen on {what}: {source}")]
    Bind {
        /// Which listener.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The RPC server failed.
    #[error("admin RPC server: {0}")]
    Rpc(#[from] tonic::transport::Error),
}

fn socket_error(path: &Path, message: impl ToString) -> DaemonError {
    DaemonError::Socket {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Binds the admin socket: removes a stale file (nobody listening), refuses
/// to steal a live daemon's socket, applies mode and group.
fn bind_admin_socket(config: &Config, admin_gid: Option<u32>) -> Result<UnixListener, DaemonError> {
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
    let listener = UnixListener::bind(path).map_err(|e| socket_error(path, e))?;
    let mode = config.socket_mode_bits().map_err(|e| socket_error(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| socket_error(path, e))?;
    if let Some(gid) = admin_gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid))).map_err(|e| socket_error(path, e))?;
    }
    Ok(listener)
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), DaemonError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|source| DaemonError::StateDir {
        path: config.state_dir.display().to_string(),
        source,
    })?;
    let auth = Arc::new(Authorizer::new(
        config.admin_group.as_deref(),
        config.reader_group.as_deref(),
    )?);
    // The socket comes up first, so clients see ERROR_DDM_NOT_RUNNING (not
    // "server unavailable") while a large store loads.
    let listener = bind_admin_socket(&config, auth.admin_gid())?;
    let store = Arc::new(Store::open(&config.state_dir.join("rrasd.redb"), config.history_limit)?);
    let table = Arc::new(ConnectionTable::new(config.cursor_limits()));
    let manager = Arc::new(ConnectionManager::new(table.clone(), store.clone()));
    let metrics = Arc::new(Metrics::new());
    let sessions = Arc::new(SessionRegistry::new(config.max_sessions));
    let service = AdminService::new(manager.clone(), sessions, auth, metrics.clone());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut rpc_stop = stop_rx.clone();
    let rpc = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                RrasAdminServer::new(service)
                    .max_decoding_message_size(MAX_REQUEST_BYTES)
                    .max_encoding_message_size(MAX_REPLY_BYTES),
            )
            .serve_with_incoming_shutdown(UnixListenerStream::new(listener), async move {
                let _ = rpc_stop.wait_for(|s| *s).await;
            }),
    );

    let loaded = store.load()?;
    let n_loaded = loaded.active.len();
    table.restore(loaded.active, loaded.handle_watermark);
    tracing::info!(connections = n_loaded, "store loaded");

    let mut background = Vec::new();
    if let Some(addr) = config.metrics {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DaemonError::Bind {
                what: format!("metrics {addr}"),
                source,
            })?;
        background.push(tokio::spawn(crate::metrics::serve(l, metrics.clone(), manager.clone())));
    }
    background.extend(sources::start(&config, manager.clone(), metrics.clone(), stop_rx.clone()).await?);

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
    // In-flight calls get a grace period; idle client connections do not
    // hold the daemon up.
    let abort = rpc.abort_handle();
    let result = tokio::time::timeout(SHUTDOWN_GRACE, rpc).await;
    let _ = std::fs::remove_file(&config.admin_socket);
    match result {
        Ok(Ok(r)) => r.map_err(DaemonError::from),
        Ok(Err(join)) => {
            tracing::error!("admin RPC task ended abnormally: {join}");
            Ok(())
        }
        Err(_) => {
            abort.abort();
            tracing::info!("closed idle admin connections after {SHUTDOWN_GRACE:?}");
            Ok(())
        }
    }
}
