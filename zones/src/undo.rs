//! Crash-atomic writes of several keys without sled's batches and
//! transactions.
//!
//! sled 0.34's `apply_batch` and transactions take a process-wide write
//! lock, and once either has run, every other sled operation in the
//! process, in any database, takes the read side of that lock. Under load
//! every request then waits on every other one (measured: direct issuance
//! and ACME orders ran at half the rate with them). So nameplate uses
//! neither (clippy's `disallowed-methods` enforces it) and writes a
//! [`WriteSet`] through [`Undo::apply`]:
//!
//! 1. the current value of every key the set writes (its before-image) is
//!    stored as one value under a fresh key of the `nameplate.undo` tree
//!    (one insert, atomic by itself);
//! 2. the set's writes are applied one by one;
//! 3. the undo entry is removed.
//!
//! sled recovers a prefix of its log after a crash, so if any write of a
//! set survived, its undo entry (written before them) did too, unless its
//! removal survived as well, which follows the last write. [`Undo::open`]
//! restores the before-images of every entry left, newest first, and
//! removes it: after a crash a set is on disk whole or not at all, and a
//! set whose application failed (reported as an error) is gone once the
//! database is reopened. Durability is the caller's flush, as with any
//! sled write: a set is acknowledged only after a flush, which also makes
//! its entry's removal durable.
//!
//! There is no isolation: a reader may see a set half applied. Callers
//! serialize writers of the same keys with their own locks (the zone
//! store's writer lock, ACME's object locks).

use std::io;

/// The tree holding the before-images of write sets being applied.
pub(crate) const UNDO_TREE: &str = "nameplate.undo";

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
pub struct Undo {
    db: sled::Db,
    log: sled::Tree,
}

impl Undo {
    /// Opens the undo tree of `db` and rolls back every write set a crash
    /// (or a failed write) left unfinished; fails on an entry it cannot
    /// read.
    pub fn open(db: &sled::Db) -> sled::Result<Undo> {
        let log = db.open_tree(UNDO_TREE)?;
        let undo = Undo { db: db.clone(), log };
        undo.recover()?;
        Ok(undo)
    }

    /// Applies `set` so that a crash, or an error returned here, leaves
    /// all of it or none (once [`Undo::open`] has run again). A set of one
    /// write is applied as it is. Not flushed.
    pub fn apply(&self, set: WriteSet) -> sled::Result<()> {
        self.apply_each(set, Write::apply)
    }

    /// [`Undo::apply`] with `apply` making each write of the set (the
    /// rollback always uses [`Write::apply`]); tests inject failures here.
    fn apply_each(&self, set: WriteSet, apply: impl Fn(&Write) -> sled::Result<()>) -> sled::Result<()> {
        if let [only] = set.writes.as_slice() {
            return apply(only);
        }
        if set.is_empty() {
            return Ok(());
        }
        let (key, before) = self.begin(&set)?;
        for (done, write) in set.writes.iter().enumerate() {
            if let Err(error) = apply(write) {
                // Undo at once what was written; should that fail too (sled
                // fails every write after an I/O error), the next open does.
                if before[..done].iter().try_for_each(Write::apply).is_ok() {
                    let _ = self.log.remove(key);
                }
                return Err(error);
            }
        }
        self.log.remove(key)?;
        Ok(())
    }

    /// Stores the before-images of `set` under a fresh key; returns both.
    fn begin(&self, set: &WriteSet) -> sled::Result<([u8; 8], Vec<Write>)> {
        // sled's ids grow monotonically, across restarts too, and are
        // unique however many `Undo`s the database has.
        let key = self.db.generate_id()?.to_be_bytes();
        let before = set
            .writes
            .iter()
            .map(|w| {
                Ok(Write { tree: w.tree.clone(), key: w.key.clone(), value: w.tree.get(&w.key)?.map(|v| v.to_vec()) })
            })
            .collect::<sled::Result<Vec<_>>>()?;
        self.log.insert(key, encode(&before))?;
        Ok((key, before))
    }

    /// Restores the before-images of the entries left, newest entry first,
    /// removes the entries and flushes. (All of a set's before-images are
    /// read before its first write, so a key it writes twice has its
    /// original value in both.)
    fn recover(&self) -> sled::Result<()> {
        let mut rolled_back = 0;
        for entry in self.log.iter().rev() {
            let (key, value) = entry?;
            let seq = key.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| corrupt("a key is not 8 octets"))?;
            let before = decode(&self.db, &value).map_err(|why| corrupt(&format!("entry {seq}: {why}")))?;
            for write in &before {
                write.apply()?;
            }
            self.log.remove(&key)?;
            tracing::warn!(entry = seq, "rolled back a write set that a crash or an error left unfinished");
            rolled_back += 1;
        }
        if rolled_back > 0 {
            self.db.flush()?;
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
    sled::Error::Io(io::Error::new(io::ErrorKind::InvalidData, format!("{UNDO_TREE}: {why}")))
}

/// Each write (or before-image): tree name, key and (for a value) each as a
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
pub(crate) mod tests {
    use super::*;

    /// What a crash after a write set's entry and its first write leaves in
    /// `db`: `tree[key]` set to `value`, its before-image in the undo tree.
    pub(crate) fn leave_unfinished(db: &sled::Db, tree: &sled::Tree, key: &[u8], value: &[u8]) {
        let undo = Undo::open(db).unwrap();
        let mut set = WriteSet::default();
        set.insert(tree, key, value);
        undo.begin(&set).unwrap();
        set.writes[0].apply().unwrap();
    }

    fn temp() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        (dir, db)
    }

    fn value(tree: &sled::Tree, key: &str) -> Option<Vec<u8>> {
        tree.get(key).unwrap().map(|v| v.to_vec())
    }

    /// A set over two trees: `a` written twice, `b` set, `removed` removed.
    fn four_writes(db: &sled::Db, other: &sled::Tree, removed: &str) -> WriteSet {
        let mut set = WriteSet::default();
        set.insert(db, "a", "1");
        set.insert(other, "b", "2");
        set.remove(db, removed);
        set.insert(db, "a", "3");
        set
    }

    /// A database with its undo and a second tree, holding the values that
    /// [`four_writes`] (removing `kept`) changes, as before it.
    fn seeded() -> (tempfile::TempDir, sled::Db, Undo, sled::Tree) {
        let (dir, db) = temp();
        let undo = Undo::open(&db).unwrap();
        let other = db.open_tree("other").unwrap();
        db.insert("a", "old").unwrap();
        db.insert("kept", "x").unwrap();
        (dir, db, undo, other)
    }

    /// Every key [`four_writes`] writes as [`seeded`] left it.
    fn assert_as_before(db: &sled::Db, other: &sled::Tree, when: &str) {
        let now = (value(db, "a"), value(other, "b"), value(db, "kept"));
        assert_eq!(now, (Some(b"old".to_vec()), None, Some(b"x".to_vec())), "every key as before the set, {when}");
    }

    #[test]
    fn a_set_is_applied_in_order_across_trees_and_leaves_no_entry() {
        let (_dir, db) = temp();
        let undo = Undo::open(&db).unwrap();
        let other = db.open_tree("other").unwrap();
        db.insert("gone", "x").unwrap();
        undo.apply(four_writes(&db, &other, "gone")).unwrap();
        assert_eq!(
            (value(&db, "a"), value(&other, "b"), value(&db, "gone")),
            (Some(b"3".to_vec()), Some(b"2".to_vec()), None)
        );
        assert!(undo.log.is_empty(), "the entry is removed once applied");
    }

    #[test]
    fn a_set_a_crash_interrupted_is_rolled_back_at_open() {
        let (dir, db, undo, other) = seeded();
        let set = four_writes(&db, &other, "kept");
        // What a crash after the entry and three of the four writes leaves.
        undo.begin(&set).unwrap();
        for write in &set.writes[..3] {
            write.apply().unwrap();
        }
        db.flush().unwrap();
        drop((set, undo, other, db));
        let db = crate::open_sled(dir.path()).unwrap();
        let undo = Undo::open(&db).unwrap();
        let other = db.open_tree("other").unwrap();
        assert_as_before(&db, &other, "after a reopen");
        assert!(undo.log.is_empty());
    }

    #[test]
    fn a_set_whose_write_fails_is_rolled_back_at_once() {
        let (_dir, db, undo, other) = seeded();
        let writes = std::cell::Cell::new(0);
        // Three writes land; the fourth (`a` again) fails, as sled fails
        // every write after an I/O error.
        let failing = |write: &Write| {
            writes.set(writes.get() + 1);
            if writes.get() == 4 {
                return Err(sled::Error::Io(io::Error::other("injected")));
            }
            write.apply()
        };
        let error = undo.apply_each(four_writes(&db, &other, "kept"), failing).unwrap_err();
        assert!(error.to_string().contains("injected"), "{error}");
        assert_as_before(&db, &other, "without a reopen");
        assert!(undo.log.is_empty(), "nothing left for the next open to roll back");
    }

    #[test]
    fn an_unreadable_entry_fails_the_open() {
        let (_dir, db) = temp();
        db.open_tree(UNDO_TREE).unwrap().insert(0u64.to_be_bytes(), &[0, 0, 0, 9, 1][..]).unwrap();
        let error = Undo::open(&db).unwrap_err();
        assert!(error.to_string().contains("entry 0: truncated"), "{error}");
    }
}
