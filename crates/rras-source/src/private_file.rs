//! Files that hold secrets (TLS key, tokens file, RADIUS secret files) must
//! be private to the daemon, as ssh insists for its keys: owned by the user
//! rrasd runs as (or root), with no permission bits for group or others.
//! A secret other local users can read is not a secret; one another user
//! can write lets them choose it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Why `path` may not hold a secret, with the fix, or Ok.
pub fn check(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "{} is owned by uid {}, not by the user rrasd runs as (uid {me}) or root: \
             another user could change the secret (fix: chown {me} {})",
            path.display(),
            meta.uid(),
            path.display()
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} has mode {mode:03o}: group and others may read it (fix: chmod 600 {})",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

/// Reads a private file of at most `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    check(path)?;
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len > max {
        return Err(format!(
            "{} is {len} bytes, more than the {max} allowed",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn group_or_world_bits_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "x").unwrap();
        for mode in [0o640, 0o604, 0o660, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = check(&path).unwrap_err();
            assert!(
                err.contains("chmod 600") && err.contains(&format!("{mode:03o}")),
                "{err}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read(&path, 10).unwrap(), b"x");
        assert!(read(&path, 0).unwrap_err().contains("more than"));
        assert!(check(dir.path()).unwrap_err().contains("not a regular file"));
        assert!(check(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn another_users_file_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to give a file to another user");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        assert!(check(&path).unwrap_err().contains("owned by uid 65534"));
    }
}
