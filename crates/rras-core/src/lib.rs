//! The typed core of openrras: the RAS connection model, the Win32 error
//! codes, and the `ConnectionTable` with exact paged enumeration.
//!
//! **Invariant:** this crate does no I/O and has no `unsafe`; every other
//! crate builds on its types.

#![deny(missing_docs)]

pub mod audit;
pub mod column_index;
pub mod csv;
pub mod cursor;
pub mod display;
pub mod engine_time;
pub mod error;
pub mod filter;
pub mod history_query;
pub mod model;
pub mod order_index;
pub mod paging;
pub mod port;
pub mod record;
pub mod source_id;
pub mod staggered;
pub mod synthetic;
pub mod table;
pub mod usage;
pub mod usage_column;
pub mod user_hash;

pub use audit::AuditRecord;
pub use cursor::{ClientSessionId, CursorLimits, ResumeHandle};
pub use error::Win32Error;
pub use filter::ConnectionFilter;
pub use history_query::HistoryQuery;
pub use model::{
    Connection, ConnectionHandle, ConnectionInfo, ConnectionStats, EndedConnection, EngineKind, Guid, InterfaceType,
    Projection, QuarantineState, SourceKey,
};
pub use paging::{PREF_MAX_ALL, RAS_CONNECTION_EX_SIZE};
pub use record::{Record, RecordError, SourceRef};
pub use source_id::SourceId;
pub use staggered::{StaggeredMap, StaggeredTable};
pub use table::{Column, ConnectionTable, Page, Totals, Upserted, Window, WindowQuery};

/// The version every binary reports: the crate version and the git
/// revision it was built from ("unknown" outside a git checkout).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("RRAS_GIT_REV"), ")");
