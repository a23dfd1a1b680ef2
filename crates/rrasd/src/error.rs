//! Why the daemon could not start, or stopped, in one type every start-up
//! step returns.

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
    /// The web console could not start.
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
    /// The TLS listener's configuration is unusable.
    #[error("tls: {0}")]
    Tls(String),
    /// Loading the store's connections failed outside the store itself.
    #[error("loading the store: {0}")]
    Load(String),
    /// A source instance is configured wrongly.
    #[error("source {instance}: {message}")]
    Source {
        /// The instance.
        instance: String,
        /// Why.
        message: String,
    },
}
