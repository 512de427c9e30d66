//! Crash-atomic writes of several keys without sled's batches and
//! transactions.
//!
//! sled 0.34's `apply_batch` and transactions take a process-wide write
//! lock, and once either has run, every other sled operation in the
//! process, in any database, takes the read side of that lock. Under load
//! every request then waits on every other one (measured: direct issuance
//! and ACME orders ran at half the rate with them). So nameplate uses
//! neither (clippy's `disallowed-methods` enforces it) and writes a
//! [`WriteSet`] through [`Redo::apply`]:
//!
//! 1. the whole set is stored as one value under a fresh key of the
//!    `nameplate.redo` tree (one insert, atomic by itself);
//! 2. its writes are applied one by one;
//! 3. the redo entry is removed.
//!
//! sled recovers a prefix of its log after a crash, so if any write of a
//! set survived, its redo entry (written before them) did too; unless its
//! removal survived as well, which only follows the last write.
//! [`Redo::open`] re-applies every entry left, oldest first, and removes
//! it, so after a crash a set is on disk whole or not at all. Durability is
//! the caller's flush, as with any sled write.
//!
//! There is no isolation: a reader may see a set half applied. Callers
//! serialize writers of the same keys with their own locks (the zone
//! store's writer lock, ACME's object locks), which also makes the redo
//! entries' order the order in which their writes were applied.

use std::io;

/// The tree holding write sets not yet fully applied.
const REDO_TREE: &str = "nameplate.redo";

/// Writes to apply together: inserts and removals, in order, in any trees
/// of one database.
#[derive(Debug, Default)]
pub struct WriteSet {
    writes: Vec<Write>,
}

#[derive(Debug)]
struct Write {
    tree: sled::Tree,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
}

impl WriteSet {
    /// Sets `key` to `value` in `tree`.
    pub fn insert(&mut self, tree: &sled::Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push(Write { tree: tree.clone(), key: key.into(), value: Some(value.into()) });
    }

    /// Removes `key` from `tree`.
    pub fn remove(&mut self, tree: &sled::Tree, key: impl Into<Vec<u8>>) {
        self.writes.push(Write { tree: tree.clone(), key: key.into(), value: None });
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// Applies [`WriteSet`]s to one database (see the module documentation).
#[derive(Debug)]
pub struct Redo {
    db: sled::Db,
    log: sled::Tree,
}

impl Redo {
    /// Opens the redo tree of `db` and completes every write set a crash
    /// left half applied; fails on an entry it cannot read.
    pub fn open(db: &sled::Db) -> sled::Result<Redo> {
        let log = db.open_tree(REDO_TREE)?;
        let redo = Redo { db: db.clone(), log };
        redo.recover()?;
        Ok(redo)
    }

    /// Applies `set` so that a crash leaves all of it or none (once
    /// [`Redo::open`] has run again). A set of one write is applied as it
    /// is. Not flushed.
    pub fn apply(&self, set: WriteSet) -> sled::Result<()> {
        if let [only] = set.writes.as_slice() {
            return only.apply();
        }
        if set.is_empty() {
            return Ok(());
        }
        // sled's ids grow monotonically, across restarts too, and are
        // unique however many `Redo`s the database has.
        let key = self.db.generate_id()?.to_be_bytes();
        self.log.insert(key, encode(&set.writes))?;
        for write in &set.writes {
            write.apply()?;
        }
        self.log.remove(key)?;
        Ok(())
    }

    /// Re-applies the entries left, oldest first, and removes them.
    fn recover(&self) -> sled::Result<()> {
        for entry in self.log.iter() {
            let (key, value) = entry?;
            let seq = key.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| corrupt("a key is not 8 octets"))?;
            for write in decode(&self.db, &value).map_err(|why| corrupt(&format!("entry {seq}: {why}")))? {
                write.apply()?;
            }
            self.log.remove(&key)?;
            tracing::warn!(entry = seq, "completed a write set that a crash interrupted");
        }
        Ok(())
    }
}

impl Write {
    fn apply(&self) -> sled::Result<()> {
        match &self.value {
            Some(value) => self.tree.insert(&self.key, value.as_slice()).map(drop),
            None => self.tree.remove(&self.key).map(drop),
        }
    }
}

fn corrupt(why: &str) -> sled::Error {
    sled::Error::Io(io::Error::new(io::ErrorKind::InvalidData, format!("{REDO_TREE}: {why}")))
}

/// Each write: tree name, key and (for an insert) value, each as a
/// big-endian u32 length and its octets, the value after a tag octet (0:
/// remove, 1: insert).
fn encode(writes: &[Write]) -> Vec<u8> {
    let mut out = Vec::new();
    for write in writes {
        put_field(&mut out, &write.tree.name());
        put_field(&mut out, &write.key);
        match &write.value {
            Some(value) => {
                out.push(1);
                put_field(&mut out, value);
            }
            None => out.push(0),
        }
    }
    out
}

/// A length (sled values are far below 4 GiB) and the octets.
fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn decode(db: &sled::Db, mut bytes: &[u8]) -> Result<Vec<Write>, String> {
    let mut writes = Vec::new();
    while !bytes.is_empty() {
        let tree = db.open_tree(field(&mut bytes)?).map_err(|e| e.to_string())?;
        let key = field(&mut bytes)?.to_vec();
        let value = match take(&mut bytes, 1)? {
            [0] => None,
            [1] => Some(field(&mut bytes)?.to_vec()),
            _ => return Err("a write is neither an insert nor a removal".to_owned()),
        };
        writes.push(Write { tree, key, value });
    }
    Ok(writes)
}

fn field<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = u32::from_be_bytes(take(bytes, 4)?.try_into().map_err(|_| "short length")?);
    take(bytes, usize::try_from(len).map_err(|_| "length too large")?)
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if bytes.len() < n {
        return Err("truncated".to_owned());
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn temp() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        (dir, db)
    }

    fn value(tree: &sled::Tree, key: &str) -> Option<Vec<u8>> {
        tree.get(key).unwrap().map(|v| v.to_vec())
    }

    #[test]
    fn a_set_is_applied_in_order_across_trees_and_leaves_no_entry() {
        let (_dir, db) = temp();
        let redo = Redo::open(&db).unwrap();
        let other = db.open_tree("other").unwrap();
        db.insert("gone", "x").unwrap();
        let mut set = WriteSet::default();
        set.insert(&db, "a", "1");
        set.insert(&other, "b", "2");
        set.remove(&db, "gone");
        set.insert(&db, "a", "3");
        redo.apply(set).unwrap();
        assert_eq!(
            (value(&db, "a"), value(&other, "b"), value(&db, "gone")),
            (Some(b"3".to_vec()), Some(b"2".to_vec()), None)
        );
        assert!(redo.log.is_empty(), "the entry is removed once applied");
    }

    #[test]
    fn a_set_a_crash_interrupted_is_completed_at_open() {
        let (dir, db) = temp();
        let other = db.open_tree("other").unwrap();
        db.insert("stale", "x").unwrap();
        let mut set = WriteSet::default();
        set.insert(&db, "a", "1");
        set.insert(&other, "b", "2");
        set.remove(&db, "stale");
        // What a crash after the entry and the first write leaves behind.
        let log = db.open_tree(REDO_TREE).unwrap();
        log.insert(7u64.to_be_bytes(), encode(&set.writes)).unwrap();
        set.writes[0].apply().unwrap();
        db.flush().unwrap();
        drop((set, log, other, db));
        let db = crate::open_sled(dir.path()).unwrap();
        let redo = Redo::open(&db).unwrap();
        let other = db.open_tree("other").unwrap();
        assert_eq!(
            (value(&db, "a"), value(&other, "b"), value(&db, "stale")),
            (Some(b"1".to_vec()), Some(b"2".to_vec()), None)
        );
        assert!(redo.log.is_empty());
    }

    #[test]
    fn an_unreadable_entry_fails_the_open() {
        let (_dir, db) = temp();
        db.open_tree(REDO_TREE).unwrap().insert(0u64.to_be_bytes(), &[0, 0, 0, 9, 1][..]).unwrap();
        let error = Redo::open(&db).unwrap_err();
        assert!(error.to_string().contains("entry 0: truncated"), "{error}");
    }
}
