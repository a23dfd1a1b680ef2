//! rrasd: the RRAS connection manager (Demand-Dial Manager) for Linux VPN
//! servers. Sources feed the [`manager::ConnectionManager`]; the admin
//! service serves `MprAdminConnectionEnumEx` and friends over gRPC.

pub mod admin_runtime;
pub mod auth;
pub mod check;
pub mod config;
pub mod config_reference;
pub mod denials;
pub mod error;
pub mod feed;
pub mod fleet;
pub mod inflight;
pub mod journal;
pub mod linger;
pub mod logging;
pub mod manager;
pub mod metrics;
pub mod scans;
pub mod server;
pub mod service;
pub mod sessions;
pub mod sources;
pub mod tls;
pub mod watch;
pub mod web;

pub use config::{Args, Config};
pub use error::DaemonError;
pub use server::run;
