//! The API between openrras and a VPN engine.
//!
//! An engine (RADIUS accounting, WireGuard, OpenVPN, ocserv, strongSwan,
//! SoftEther …) learns sessions from its VPN server and reports them to a
//! [`Sink`]: it stages and applies [`SourceEvent`]s on the rows its own
//! [`SourceId`] owns, registers the one [`HangUp`] that ends its sessions,
//! and reports its [`health`]. The daemon's connection manager is the
//! sink; tests use a fake one.
//!
//! What every engine gets from here rather than writing again: the
//! polling driver ([`polling`]: read → compare → apply, with time limits
//! and the grace period of an unreachable engine), supervision with
//! backoff ([`supervise`]), one bounded exchange on a control socket or
//! command ([`control`]), and stable GUIDs for engines without their own.
//!
//! **Invariant:** this crate knows nothing of the daemon — no store, no
//! journal, no configuration file; an engine that needs more than the
//! [`Sink`] offers is a change to this API, not a reach past it.

#![deny(missing_docs)]

pub mod control;
pub mod engine;
pub mod error;
pub mod event;
pub mod gate;
pub mod guid;
pub mod hang_up;
pub mod health;
pub mod polling;
pub mod private_file;
pub mod sink;
pub mod supervise;
pub mod tls;

pub use engine::{Claim, Description, Engine, EngineConfig, EngineEntry};
pub use error::SourceError;
pub use event::SourceEvent;
pub use guid::stable_guid;
pub use hang_up::{DynHangUp, HangUp, ADMIN_DISCONNECT};
pub use health::{EngineState, HealthRegistry, HealthReport, SourceHealth};
pub use rras_core::SourceId;
pub use sink::{Sink, Staged};
