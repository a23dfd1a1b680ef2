//! `FleetError`: why a fleet operation failed, one variant per cause a user
//! can act on.

use rras_core::Win32Error;

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The options are wrong (no URL, unreadable credentials file …).
    #[error("fleet options: {0}")]
    Options(String),
    /// NATS could not be reached or refused us.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The server list tried.
        url: String,
        /// What the client said.
        message: String,
    },
    /// A JetStream call failed (bucket missing, permission, timeout …).
    #[error("JetStream: {0}")]
    JetStream(String),
    /// A JetStream call got no answer in time: a NATS server rejoining its
    /// cluster drops requests for a few seconds, and a user without the
    /// right to a JetStream API subject gets no answer at all.
    #[error("JetStream: {0}")]
    TimedOut(String),
    /// The NATS server refused this user a subject the call needs.
    #[error("NATS refused this user: {0}")]
    Forbidden(String),
    /// The bucket does not exist yet (no rrasd has published to it).
    #[error("fleet bucket {0} does not exist (has any rrasd with --fleet connected yet?)")]
    NoBucket(String),
    /// No node of that name or id is in the fleet view.
    #[error("no node {0} in the fleet")]
    UnknownNode(String),
    /// The node is known but did not answer (down, cut off from NATS, or
    /// this user may not send requests to it).
    #[error("node {node} did not answer: {message}")]
    NoAnswer {
        /// The node id.
        node: String,
        /// Timeout, no responders …
        message: String,
    },
    /// The node answered with a Win32 error.
    #[error("node {node}: {error}")]
    Refused {
        /// The node id.
        node: String,
        /// Its answer.
        error: Win32Error,
    },
    /// Something the fleet sent could not be read (malformed or foreign).
    #[error("bad fleet data: {0}")]
    Malformed(String),
}

impl FleetError {
    /// A JetStream failure, told apart by what it says: every timeout of
    /// async-nats (request, consumer creation, status) reads "timed out",
    /// its error kinds differ per call.
    pub(crate) fn js(e: impl std::fmt::Display) -> Self {
        let message = e.to_string();
        if message.contains("timed out") {
            FleetError::TimedOut(message)
        } else {
            FleetError::JetStream(message)
        }
    }
}
