//! `UserHasher`: the 64-bit name of an account in the history's user index
//! and usage columns — SipHash-2-4 of the lower-case account under a key
//! each store draws once at random.
//!
//! Keyed because the names come from NASes and clients: with a public hash
//! anyone could pick a user name that collides with someone else's and be
//! counted as them in a report. The hash must also never change between
//! releases (it is on disk), which rules out `std`'s `DefaultHasher`; hence
//! this short, test-vectored implementation.

use crate::history_query::lower;
use crate::model::ConnectionInfo;

/// SipHash-2-4 under a fixed 128-bit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserHasher {
    k0: u64,
    k1: u64,
}

struct Sip {
    v: [u64; 4],
}

impl Sip {
    fn round(&mut self) {
        let v = &mut self.v;
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    fn absorb(&mut self, m: u64) {
        self.v[3] ^= m;
        self.round();
        self.round();
        self.v[0] ^= m;
    }
}

impl UserHasher {
    /// The hasher of key `(k0, k1)`.
    pub const fn new(k0: u64, k1: u64) -> Self {
        UserHasher { k0, k1 }
    }

    /// SipHash-2-4 of `bytes`.
    pub fn hash(&self, bytes: &[u8]) -> u64 {
        let mut s = Sip {
            v: [
                self.k0 ^ 0x736f_6d65_7073_6575,
                self.k1 ^ 0x646f_7261_6e64_6f6d,
                self.k0 ^ 0x6c79_6765_6e65_7261,
                self.k1 ^ 0x7465_6462_7974_6573,
            ],
        };
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            s.absorb(u64::from_le_bytes(b));
        }
        let mut last = [0u8; 8];
        let rest = words.remainder();
        last[..rest.len()].copy_from_slice(rest);
        last[7] = bytes.len() as u8;
        s.absorb(u64::from_le_bytes(last));
        s.v[2] ^= 0xff;
        for _ in 0..4 {
            s.round();
        }
        s.v[0] ^ s.v[1] ^ s.v[2] ^ s.v[3]
    }

    /// The hash of an account name as the history keys it (lower case).
    pub fn account(&self, account: &str) -> u64 {
        self.hash(lower(account).as_bytes())
    }

    /// The hash of the connection's account.
    pub fn of(&self, info: &ConnectionInfo) -> u64 {
        self.account(&info.account())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vectors of the SipHash paper (Appendix A and the
    /// authors' vectors.h): key 00..0f, messages 00, 00 01, …
    #[test]
    fn matches_the_reference_vectors() {
        let h = UserHasher::new(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        let msg: Vec<u8> = (0..64).collect();
        assert_eq!(h.hash(&msg[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(h.hash(&msg[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(h.hash(&msg[..15]), 0xa129_ca61_49be_45e5);
        assert_eq!(h.hash(&msg[..8]), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn the_account_is_hashed_without_case_and_the_key_matters() {
        let a = UserHasher::new(1, 2);
        assert_eq!(a.account("CORP\\Alice"), a.account("corp\\alice"));
        assert_ne!(a.account("alice"), a.account("alicf"));
        assert_ne!(a.account("alice"), UserHasher::new(3, 4).account("alice"));
    }
}
