//! libmprapi: the Windows MPRAPI administration functions as a C ABI over
//! rrasd. C code written against the Windows API compiles unchanged with
//! `include/mprapi.h` and links with `-lmprapi`.
//!
//! **Invariant:** this is the only crate with `unsafe`; each block states
//! why it is sound, and all logic lives in safe modules (`fill`, `server`).

pub mod abi;
mod buffer;
pub mod exports;
pub mod fill;
pub mod server;
