//! GUIDs for engines that have none of their own.

use rras_core::{Guid, SourceKey};
use sha2::{Digest, Sha256};

/// A GUID derived from the session's identity: the same session keeps it
/// across polls and restarts, and sessions of different NASes, interfaces
/// or instances never share one.
pub fn stable_guid(key: &SourceKey) -> Guid {
    let mut h = Sha256::new();
    h.update(key.engine.as_str().as_bytes());
    h.update([0]);
    h.update(key.nas.as_bytes());
    h.update([0]);
    h.update(key.session_id.as_bytes());
    if !key.instance.is_empty() {
        h.update([0]);
        h.update(key.instance.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Guid::from_u128(u128::from_be_bytes(bytes))
}
