//! Bearer tokens: the tokens file (`NAME ROLE SHA256-HEX` lines, written
//! by `rasctl token new`), stored hashed and re-read when it changes, so a
//! deleted line stops working at once.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::Role;

/// SHA-256 of a token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// SHA-256 of a token, hex: what the tokens file stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Clone)]
struct TokenEntry {
    name: String,
    role: Role,
    hash: [u8; 32],
}

/// The tokens file, re-read when its modification time changes (so a
/// revoked token stops working without a restart).
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    state: Mutex<(Option<SystemTime>, Vec<TokenEntry>)>,
}

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "admin" => Some(Role::Admin),
        "reader" => Some(Role::Reader),
        _ => None,
    }
}

fn parse_tokens(text: &str) -> Vec<TokenEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, role, hash) = (parts.next()?, parts.next()?, parts.next()?);
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hash, &mut bytes).ok()?;
            Some(TokenEntry {
                name: name.to_owned(),
                role: parse_role(role)?,
                hash: bytes,
            })
        })
        .collect()
}

impl TokenStore {
    /// A store over `path` (read on first use).
    pub fn new(path: &Path) -> Self {
        TokenStore {
            path: path.to_owned(),
            state: Mutex::new((None, Vec::new())),
        }
    }

    /// The (name, role) of a presented token. Every entry is compared, in
    /// constant time, so timing tells nothing about which bytes matched.
    pub fn verify(&self, presented: &str) -> Option<(String, Role)> {
        self.verify_digest(&token_digest(presented))
    }

    /// The (name, role) of the token with this SHA-256, as the file says
    /// now (re-read when it changed): a deleted line is gone at once.
    pub fn verify_digest(&self, digest: &[u8; 32]) -> Option<(String, Role)> {
        let mut state = self.state.lock();
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if mtime.is_none() || mtime != state.0 {
            let entries = std::fs::read_to_string(&self.path)
                .map(|t| parse_tokens(&t))
                .unwrap_or_default();
            *state = (mtime, entries);
        }
        let mut found = None;
        for entry in &state.1 {
            let diff = entry.hash.iter().zip(digest).fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 {
                found = Some((entry.name.clone(), entry.role));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_revoke_on_file_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(
            &path,
            format!(
                "# comment\nci admin {}\nmon reader {}\nbad nope {}\n",
                token_hash("s3cret"),
                token_hash("look"),
                token_hash("x")
            ),
        )
        .unwrap();
        let store = TokenStore::new(&path);
        assert_eq!(store.verify("s3cret"), Some(("ci".into(), Role::Admin)));
        assert_eq!(store.verify("look"), Some(("mon".into(), Role::Reader)));
        assert_eq!(store.verify("x"), None, "unknown role is ignored");
        assert_eq!(store.verify("S3cret"), None);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, format!("mon reader {}\n", token_hash("look"))).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(store.verify("s3cret"), None, "revoked");
    }
}
