//! The admin RPC schema of rrasd and its conversions to `rras-core` types.
//!
//! **Invariant:** this is the only crate that knows protobuf; the daemon,
//! the client and libmprapi speak core types and call [`convert`].

#![deny(missing_docs)]

/// Generated protobuf messages and the tonic client/server for
/// `rras.admin.v1.RrasAdmin`.
#[allow(missing_docs, unreachable_pub, missing_debug_implementations, clippy::all)]
pub mod pb {
    tonic::include_proto!("rras.admin.v1");
}

pub mod convert;
pub mod unix_stream;

/// HTTP/2 flow-control windows both ends of the admin RPC use: large, so a
/// streamed listing is not paced by WINDOW_UPDATE round trips every 64 KiB
/// (HTTP/2's default).
pub const H2_STREAM_WINDOW: u32 = 8 << 20;
/// The connection-level window (see [`H2_STREAM_WINDOW`]).
pub const H2_CONNECTION_WINDOW: u32 = 16 << 20;
/// The largest HTTP/2 frame each end accepts. HTTP/2's default of 16 KiB
/// cuts a 100-entry page (~18 KB) into two DATA frames, and the sender
/// writes each large frame with its own system call, so the reader wakes
/// once more per page. 64 KiB keeps a page in one frame; larger frames
/// (up to the protocol's 16 MiB) made no listing faster and only grew the
/// reader's buffer (rasctl's peak RSS +12 MB at 1M).
pub const H2_MAX_FRAME: u32 = 1 << 16;

pub use convert::ProtoError;
pub use unix_stream::QuietUnixStream;
