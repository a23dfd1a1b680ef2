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

pub use convert::ProtoError;
