//! `SourceError`: why an engine could not start.

/// Why an engine instance could not start (a running engine reports
/// trouble through its health instead, and is restarted by supervision).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Its configuration cannot work (checked before anything starts).
    #[error("{0}")]
    Config(String),
    /// A socket or file it needs could not be opened.
    #[error("cannot open {what}: {source}")]
    Open {
        /// What was opened (an address, a path).
        what: String,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}
