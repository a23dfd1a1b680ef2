//! The page-size rule of `MprAdminConnectionEnumEx`, as MS-RRASM states it.

/// `dwPreferedMaxLen` value that asks for everything in one reply.
pub const PREF_MAX_ALL: u32 = u32::MAX;

/// `sizeof(RAS_CONNECTION_EX)` on Windows x64: the entry size of the Ex call.
pub const RAS_CONNECTION_EX_SIZE: u32 = 1672;

/// Byte sizes of the Windows x64 structures a client may page in:
/// RAS_CONNECTION_EX, RAS_CONNECTION_0 … _4 for `MprAdminConnectionEnum`,
/// and RAS_PORT_0 for `MprAdminPortEnum` (one port per connection, so ports
/// page over the connections under the same rules).
pub const ENTRY_SIZES: [u32; 7] = [RAS_CONNECTION_EX_SIZE, 1128, 296, 848, 792, 1696, RAS_PORT_0_SIZE];

/// `sizeof(RAS_PORT_0)` on Windows x64.
pub const RAS_PORT_0_SIZE: u32 = 392;

/// How many entries a reply carries when `remaining` entries are left:
/// everything for [`PREF_MAX_ALL`]; none when `pref_max_len` is smaller than
/// one entry; otherwise `floor(pref_max_len / entry_size) + 1`, capped at
/// `remaining`. `entry_size` must be non-zero (the caller validates it).
pub fn entries_for(pref_max_len: u32, entry_size: u32, remaining: usize) -> usize {
    debug_assert!(entry_size > 0);
    if pref_max_len == PREF_MAX_ALL {
        return remaining;
    }
    if pref_max_len < entry_size {
        return 0;
    }
    let n = (pref_max_len / entry_size) as usize + 1;
    n.min(remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u32 = RAS_CONNECTION_EX_SIZE;

    #[test]
    fn all_means_all() {
        assert_eq!(entries_for(PREF_MAX_ALL, S, 1_000_000), 1_000_000);
        assert_eq!(entries_for(PREF_MAX_ALL, S, 0), 0);
    }

    #[test]
    fn less_than_one_entry_gives_none() {
        assert_eq!(entries_for(0, S, 10), 0);
        assert_eq!(entries_for(1, S, 10), 0);
        assert_eq!(entries_for(S - 1, S, 10), 0);
    }

    #[test]
    fn floor_plus_one_capped() {
        assert_eq!(entries_for(S, S, 10), 2);
        assert_eq!(entries_for(2 * S - 1, S, 10), 2);
        assert_eq!(entries_for(2 * S, S, 10), 3);
        assert_eq!(entries_for(64 * 1024, S, 1000), 65536 / 1672 + 1);
        assert_eq!(entries_for(100 * S, S, 5), 5);
        assert_eq!(entries_for(PREF_MAX_ALL - 1, 1, usize::MAX), u32::MAX as usize);
    }
}
