//! Moving the trees of one sled database into another, once: data
//! directories from before the CA's records moved into the zone store's
//! database keep them in `<data_dir>/ca/db`.

use std::path::{Path, PathBuf};

use crate::{Error, GroupFlush, Undo, open_sled};

/// The tree sled creates in every database (the zone store's keys).
const DEFAULT_TREE: &[u8] = b"__sled__default";

/// Moves every named tree of the sled database in `from`, if there is one,
/// into `into`'s database, and renames `from` to [`merged_path`]. Returns
/// whether there was one to move.
///
/// `from`'s unfinished write sets are rolled back first ([`Undo::open`]);
/// its keys are copied, flushed in `into`, and only then is `from`
/// renamed, so a crash at any point leaves either `from` or the flushed
/// copy, and a second run copies the same values again. A key `into`
/// already holds with another value, or anything in `from`'s default tree,
/// fails the merge with nothing renamed: neither value is dropped.
/// The caller holds the lock of the directory both live in.
pub fn merge_database(from: &Path, into: &GroupFlush) -> Result<bool, Error> {
    if !from.is_dir() {
        return Ok(false);
    }
    let source = open_sled(from)?;
    Undo::open(&source)?;
    let target = into.db();
    for name in source.tree_names() {
        let tree = source.open_tree(&name)?;
        if name == DEFAULT_TREE {
            if !tree.is_empty() {
                return Err(conflict(from, "its default tree is not empty"));
            }
            continue;
        }
        if name == crate::undo::UNDO_TREE.as_bytes() {
            continue;
        }
        let copy = target.open_tree(&name)?;
        for entry in tree.iter() {
            let (key, value) = entry?;
            match copy.get(&key)? {
                Some(held) if held != value => {
                    let tree = String::from_utf8_lossy(&name);
                    return Err(conflict(from, &format!("tree {tree} holds another value for a key")));
                }
                Some(_) => {}
                None => {
                    copy.insert(key, value)?;
                }
            }
        }
    }
    into.flush()?;
    drop(source);
    let merged = merged_path(from);
    std::fs::rename(from, &merged)
        .map_err(|e| Error::Storage(format!("renaming {} to {}: {e}", from.display(), merged.display())))?;
    Ok(true)
}

/// Where [`merge_database`] leaves a merged database: `<from>.merged`.
pub fn merged_path(from: &Path) -> PathBuf {
    let mut name = from.as_os_str().to_owned();
    name.push(".merged");
    PathBuf::from(name)
}

fn conflict(from: &Path, why: &str) -> Error {
    Error::Storage(format!("cannot merge the database in {}: {why}", from.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn database(dir: &Path) -> GroupFlush {
        GroupFlush::new(&open_sled(dir).unwrap())
    }

    /// A database in `<dir>/old` with `(tree, key, value)` written, flushed
    /// and closed.
    fn old_database(dir: &Path, entries: &[(&str, &[u8], &[u8])]) -> std::path::PathBuf {
        let old = dir.join("old");
        let source = open_sled(&old).unwrap();
        for (tree, key, value) in entries {
            source.open_tree(tree).unwrap().insert(key, *value).unwrap();
        }
        source.flush().unwrap();
        old
    }

    #[test]
    fn trees_move_over_flushed_and_the_old_database_is_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let old = old_database(dir.path(), &[("ca.certs", b"01", b"one"), ("acme.orders", b"o", b"order")]);
        let into = database(&dir.path().join("new"));
        into.db().insert(b"zone key", &b"kept"[..]).unwrap();
        assert!(merge_database(&old, &into).unwrap());
        assert!(!old.exists() && merged_path(&old).is_dir());
        let db = into.db();
        assert_eq!(db.open_tree("ca.certs").unwrap().get(b"01").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(db.open_tree("acme.orders").unwrap().get(b"o").unwrap().as_deref(), Some(&b"order"[..]));
        assert_eq!(db.get(b"zone key").unwrap().as_deref(), Some(&b"kept"[..]));
        assert!(!merge_database(&old, &into).unwrap(), "nothing left to merge");
    }

    #[test]
    fn a_conflicting_key_fails_the_merge_and_keeps_both() {
        let dir = tempfile::tempdir().unwrap();
        let old = old_database(dir.path(), &[("ca.certs", b"01", b"one")]);
        let into = database(&dir.path().join("new"));
        into.db().open_tree("ca.certs").unwrap().insert(b"01", &b"other"[..]).unwrap();
        let error = merge_database(&old, &into).unwrap_err();
        assert!(error.to_string().contains("ca.certs"), "{error}");
        assert!(old.is_dir(), "the old database stays");
        let held = into.db().open_tree("ca.certs").unwrap().get(b"01").unwrap();
        assert_eq!(held.as_deref(), Some(&b"other"[..]));
    }

    #[test]
    fn unfinished_write_sets_are_rolled_back_before_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        {
            let source = open_sled(&old).unwrap();
            let tree = source.open_tree("ca.certs").unwrap();
            tree.insert(b"01", &b"before"[..]).unwrap();
            crate::undo::tests::leave_unfinished(&source, &tree, b"01", b"after");
            source.flush().unwrap();
        }
        let into = database(&dir.path().join("new"));
        merge_database(&old, &into).unwrap();
        let tree = into.db().open_tree("ca.certs").unwrap();
        assert_eq!(tree.get(b"01").unwrap().as_deref(), Some(&b"before"[..]));
        assert!(!into.db().tree_names().iter().any(|n| n == crate::undo::UNDO_TREE.as_bytes()));
    }
}
