//! rras-fleet: many rrasd servers in one view, on NATS JetStream.
//!
//! Each rrasd publishes its connection table into a JetStream key-value
//! bucket (one key per connection, `<node>.<handle>`, the connection's
//! compact record as the value, a delete marker when it ends) and a
//! heartbeat into a second bucket. A reader builds the merged view by
//! watching both buckets (the last message of every key, then live), and
//! asks the owning node to hang a connection up over request/reply.
//!
//! This crate is the shared part: names, connection options, bucket setup,
//! the heartbeat and request formats, and the reader. The publisher lives
//! in rrasd (it needs the daemon's change feed).
//!
//! Compatibility: Debian's nats-server 2.9 answers the account-info request
//! that async-nats' `create_key_value` sends with a shape the client cannot
//! parse, so [`buckets::ensure`] creates the buckets' streams directly
//! (`KV_<bucket>`, subjects `$KV.<bucket>.>`, one message per subject,
//! rollup, direct get) — the same streams, which every KV client reads.

mod arena;
pub mod ask;
pub mod beat;
pub mod buckets;
pub mod disconnect;
mod error;
pub mod history;
pub mod markers;
pub mod names;
pub mod options;
pub mod usage;
pub mod view;
pub mod watch;

pub use beat::NodeBeat;
pub use disconnect::{disconnect, DisconnectReply, DisconnectRequest};
pub use error::FleetError;
pub use markers::{purge_markers, MarkerPurge};
pub use names::{ConnectionKey, FleetNames};
pub use options::FleetOptions;
pub use view::{FleetConnection, FleetReader, FleetView, NodeStatus};
pub use watch::ServerClients;
