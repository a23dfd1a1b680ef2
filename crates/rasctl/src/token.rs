//! `rasctl token new`: a random bearer token and the line for rrasd's
//! tokens file (the daemon stores only the SHA-256).

use std::io::Read;

use sha2::{Digest, Sha256};

/// 32 random bytes from the kernel, hex.
pub(crate) fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// What the tokens file stores for `token`.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
