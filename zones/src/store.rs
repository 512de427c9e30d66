//! Persistence in sled, and the published snapshots.
//!
//! Writers are serialized by one mutex. A write applies its change to the
//! current zone in memory, writes every key it touches as one
//! [`WriteSet`] (so that a crash leaves all of it or none, see
//! [`crate::undo`]), flushes sled (so it is durable), and only then publishes the
//! new [`ZoneSet`] and returns: a change is acknowledged exactly when it is
//! on disk. Readers load the published snapshot without locking.
//!
//! # Layout
//!
//! One sled tree (the default one) holds records, meta and journal. Names in keys are lowercase, fully qualified presentation
//! text (`example.com.`), which never holds a NUL byte; values are encoded by
//! the `codec` module, which documents their format.
//!
//! ```text
//! z\0<apex>                         -> meta: serial, journal sequence range
//! r\0<apex>\0<owner>\0<type u16 BE> -> one RRset (owner, type, TTL, rdatas)
//! j\0<apex>\0<seq u64 BE>           -> one journal entry, oldest first
//! c\0<key>                          -> a catalog value (opaque to this crate)
//! a\0<seq u64 BE>                   -> one audit record, oldest first
//! ```
//!
//! Every write is a [`Transaction`]: its operations are staged against a
//! copy of the zones and metas, and only a fully staged transaction reaches
//! sled, as one write set.
//!
//! A transaction with an audit note ([`Transaction::audit`]) also writes an
//! [`AuditRecord`] with the next sequence number into the same write set. The
//! audit log is never trimmed or deleted with a zone.
//!
//! The journal keeps the most recent entries per zone, 10 000 unless
//! [`Store::set_journal_limit`] says otherwise; older ones are deleted in the
//! write set that adds a new one. A zone's first entry (from [`Store::put_zone`]
//! on a new apex) has an empty `removed` list and `from_serial` equal to
//! `to_serial`.
//!
//! The directory is locked with an exclusive `flock` on `<dir>/LOCK` for as
//! long as the store is open, so a second process (or a second open in this
//! one) gets [`Error::Locked`] at once instead of waiting.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use fs2::FileExt;
use hickory_proto::rr::{Name, Record, RecordType};

use crate::change::{bump_serial, check_name, diff};
use crate::codec::{self, Meta};
use crate::transaction::ZoneOp;
use crate::{
    AuditRecord, ChangeSet, Error, GroupFlush, JournalEntry, Ticket, Transaction, Undo, WriteSet, Zone, ZoneSet,
};

/// A catalog key and its value.
pub type CatalogEntry = (Vec<u8>, Vec<u8>);

/// How many journal entries per zone are kept unless set otherwise.
pub(crate) const DEFAULT_JOURNAL_LIMIT: u64 = 10_000;

/// The durable zone store: zones and journal in sled, snapshots in memory.
pub struct Store {
    db: sled::Db,
    /// Crash-atomic application of each transaction's writes.
    undo: Arc<Undo>,
    /// Flushes, shared by concurrent writers and by every store opened on
    /// this database ([`Store::database`]).
    flushes: Arc<GroupFlush>,
    current: ArcSwap<ZoneSet>,
    writer: Mutex<Writer>,
    /// Journal entries written since the store was opened (for metrics).
    change_sets: AtomicU64,
    _lock: File,
}

/// State only writers touch, under the writer mutex.
struct Writer {
    metas: HashMap<Name, Meta>,
    journal_limit: u64,
    /// The sequence number the next audit record gets.
    next_audit_seq: u64,
    /// Set when a batch may have reached sled but not the snapshot; later
    /// writes are refused until the store is reopened.
    failed: bool,
}

impl Store {
    /// Opens (or creates) the store in `dir` and loads every zone. Fails at
    /// once with [`Error::Locked`] when another open store holds `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let lock = lock_dir(dir)?;
        let db = open_sled(dir)?;
        let flushes = GroupFlush::shared(&db);
        let undo = flushes.undo()?;
        let (zones, metas) = load(&db)?;
        let next_audit_seq = last_audit_seq(&db)? + 1;
        let writer = Writer { metas, journal_limit: DEFAULT_JOURNAL_LIMIT, next_audit_seq, failed: false };
        Ok(Self {
            flushes,
            undo,
            db,
            current: ArcSwap::from_pointee(zones),
            writer: Mutex::new(writer),
            change_sets: AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// The database and its shared flushes, for other stores to open their
    /// trees in (the CA's and ACME's), so that one flush makes a write of
    /// theirs and a catalog write durable together.
    pub fn database(&self) -> &Arc<GroupFlush> {
        &self.flushes
    }

    /// The published snapshots, for readers that load on every query.
    pub fn snapshots(&self) -> &ArcSwap<ZoneSet> {
        &self.current
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<ZoneSet> {
        self.current.load_full()
    }

    /// Keeps at most `limit` (at least 1) journal entries per zone from the
    /// next write of each zone on.
    pub fn set_journal_limit(&self, limit: u64) -> Result<(), Error> {
        self.lock_writer()?.journal_limit = limit.max(1);
        Ok(())
    }

    /// Applies, persists (flushed) and publishes a change set. A change set
    /// that changes nothing is not written; its entry has equal serials.
    pub fn commit(&self, cs: &ChangeSet, now: SystemTime) -> Result<JournalEntry, Error> {
        let mut tx = Transaction::new();
        tx.change(cs.clone());
        self.apply_one(tx, now)
    }

    /// Creates or replaces a whole zone, journaled as the difference from the
    /// zone it replaces. When it replaces a zone, its serial is moved past
    /// the old one unless it is ahead already (RFC 1982). The zone must pass
    /// the checks a change set passes: CNAMEs alone, only glue below cuts.
    pub fn put_zone(&self, zone: Zone, author: &str, reason: &str, now: SystemTime) -> Result<JournalEntry, Error> {
        let mut tx = Transaction::new();
        tx.put_zone(zone, author, reason);
        self.apply_one(tx, now)
    }

    /// Deletes a zone with its records and its journal.
    pub fn delete_zone(&self, apex: &Name, _author: &str, now: SystemTime) -> Result<(), Error> {
        let mut tx = Transaction::new();
        tx.delete_zone(apex);
        self.apply(tx, now).map(drop)
    }

    /// Applies every operation of `tx` in order, each against the result of
    /// the ones before, then writes them and the catalog writes in one batch,
    /// flushes, and publishes the new snapshot. On any error nothing is
    /// written. Returns the journal entries of the zone changes, in order
    /// (deletions have none).
    ///
    /// Both kinds flush through one [`GroupFlush`], so concurrent writers
    /// share fsyncs. A transaction with zone operations is flushed under
    /// the writer lock, so a snapshot is published only once it is
    /// durable. One with only catalog writes and audit records is flushed
    /// after the lock is released (it publishes nothing); it still returns
    /// only once it is on disk.
    pub fn apply(&self, tx: Transaction, now: SystemTime) -> Result<Vec<JournalEntry>, Error> {
        if tx.zone_ops.is_empty() {
            let ticket = self.write_catalog(tx, now)?;
            return self.durable(ticket.map_or(Ok(()), |t| self.flushes.wait(t))).map(|()| Vec::new());
        }
        let mut writer = self.lock_writer()?;
        let mut stage = self.stage(tx, &writer, now)?;
        if !stage.changed {
            return Ok(stage.entries);
        }
        self.write(&mut writer, &mut stage)?;
        written(&mut writer, self.flushes.flush())?;
        writer.metas = stage.metas;
        self.current.store(Arc::new(stage.zones));
        self.change_sets.fetch_add(stage.entries.len() as u64, Ordering::Relaxed);
        Ok(stage.entries)
    }

    /// [`Store::apply`] of a transaction with only catalog writes and audit
    /// records, resolving once they are on disk without holding a thread
    /// meanwhile. Fails with [`Error::Storage`], writing nothing, when `tx`
    /// has zone operations.
    pub async fn apply_catalog(&self, tx: Transaction, now: SystemTime) -> Result<(), Error> {
        if !tx.zone_ops.is_empty() {
            return Err(Error::Storage("zone operations are applied by Store::apply".into()));
        }
        match self.write_catalog(tx, now)? {
            Some(ticket) => self.durable(self.flushes.wait_async(ticket).await),
            None => Ok(()),
        }
    }

    /// Writes a transaction without zone operations, under the writer lock,
    /// and returns the ticket that makes it durable (none when it changes
    /// nothing).
    fn write_catalog(&self, tx: Transaction, now: SystemTime) -> Result<Option<Ticket>, Error> {
        let mut writer = self.lock_writer()?;
        let mut stage = self.stage(tx, &writer, now)?;
        if !stage.changed {
            return Ok(None);
        }
        self.write(&mut writer, &mut stage)?;
        drop(writer);
        Ok(Some(self.flushes.ticket()))
    }

    /// Stages every operation of `tx` (see [`Store::apply`]) and, if it
    /// changes anything, its audit record.
    fn stage(&self, tx: Transaction, writer: &Writer, now: SystemTime) -> Result<Stage, Error> {
        let Transaction { zone_ops, catalog, audit, event } = tx;
        // Only zone operations need the zones and their metadata as they
        // will be; a catalog write does not copy them.
        let mut stage = if zone_ops.is_empty() {
            Stage::new(ZoneSet::default(), HashMap::new(), writer, &self.db)
        } else {
            Stage::new(ZoneSet::clone(&self.current.load()), writer.metas.clone(), writer, &self.db)
        };
        for op in zone_ops {
            stage.zone_op(op, now)?;
        }
        for (key, value) in catalog {
            stage.changed = true;
            match value {
                Some(value) => stage.insert(catalog_key(&key), value),
                None => stage.remove(catalog_key(&key)),
            }
        }
        stage.changed |= event; // an event always carries its note
        if stage.changed
            && let Some(note) = audit
        {
            stage.audit(writer.next_audit_seq, note, now)?;
        }
        Ok(stage)
    }

    /// Writes a staged transaction (not yet flushed) and takes its audit
    /// sequence number.
    fn write(&self, writer: &mut Writer, stage: &mut Stage) -> Result<(), Error> {
        written(writer, self.undo.apply(std::mem::take(&mut stage.batch)))?;
        writer.next_audit_seq += u64::from(stage.audited);
        Ok(())
    }

    /// Passes on the result of a flush made after the writer lock was
    /// released, marking the store failed when it is an error.
    fn durable(&self, flushed: sled::Result<()>) -> Result<(), Error> {
        if flushed.is_err() {
            written(&mut self.writer.lock().unwrap_or_else(PoisonError::into_inner), flushed)?;
        }
        Ok(())
    }

    /// How many zone changes (journal entries: change sets, zone creations
    /// and replacements) this store has written since it was opened.
    pub fn change_sets_applied(&self) -> u64 {
        self.change_sets.load(Ordering::Relaxed)
    }

    /// The value of catalog `key`, if set.
    pub fn catalog_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.db.get(catalog_key(key))?.map(|v| v.to_vec()))
    }

    /// Every catalog entry whose key starts with `prefix`, in key order.
    pub fn catalog_scan(&self, prefix: &[u8]) -> Result<Vec<CatalogEntry>, Error> {
        let strip = CATALOG_PREFIX.len();
        self.db
            .scan_prefix(catalog_key(prefix))
            .map(|item| item.map(|(k, v)| (k[strip..].to_vec(), v.to_vec())).map_err(Error::from))
            .collect()
    }

    /// The audit records numbered `from` and later, oldest first (`.rev()`
    /// walks newest first).
    pub fn audit_log(&self, from: u64) -> AuditLog {
        AuditLog(self.db.range(audit_key(from)..=audit_key(u64::MAX)))
    }

    /// The journal of the zone at `apex`, oldest entry first.
    pub fn journal(&self, apex: &Name) -> Result<Vec<JournalEntry>, Error> {
        let apex = canonical(apex);
        if self.current.load().get(&apex).is_none() {
            return Err(Error::NoSuchZone(apex));
        }
        self.db.scan_prefix(journal_prefix(&apex)).values().map(|value| codec::decode_entry(&value?)).collect()
    }

    /// Applies a transaction of one zone operation and returns its entry.
    fn apply_one(&self, tx: Transaction, now: SystemTime) -> Result<JournalEntry, Error> {
        self.apply(tx, now)?.pop().ok_or_else(|| Error::Storage("a zone operation produced no journal entry".into()))
    }

    fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>, Error> {
        let writer = self.writer.lock().map_err(|_| Error::Storage("a writer panicked".into()))?;
        if writer.failed {
            return Err(Error::Storage("an earlier write failed; reopen the store".into()));
        }
        Ok(writer)
    }
}

/// Passes on the result of a write, marking the store failed (every later
/// write refused until it is reopened, which rolls back a write set left
/// half applied, see [`Undo`]) when it is an error.
fn written<T>(writer: &mut Writer, result: sled::Result<T>) -> Result<(), Error> {
    if result.is_err() {
        writer.failed = true;
    }
    result.map(drop).map_err(Error::from)
}

/// A transaction being staged: the zones and metas as they will be, the
/// write set that makes them so, and the journal entries so far.
struct Stage {
    zones: ZoneSet,
    metas: HashMap<Name, Meta>,
    journal_limit: u64,
    tree: sled::Tree,
    batch: WriteSet,
    entries: Vec<JournalEntry>,
    deleted: Vec<Name>,
    changed: bool,
    audited: bool,
}

impl Stage {
    fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.batch.insert(&self.tree, key, value);
    }

    fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.batch.remove(&self.tree, key);
    }

    fn new(zones: ZoneSet, metas: HashMap<Name, Meta>, writer: &Writer, tree: &sled::Tree) -> Self {
        Self {
            tree: tree.clone(),
            zones,
            metas,
            journal_limit: writer.journal_limit,
            batch: WriteSet::default(),
            entries: Vec::new(),
            deleted: Vec::new(),
            changed: false,
            audited: false,
        }
    }

    fn zone_op(&mut self, op: ZoneOp, now: SystemTime) -> Result<(), Error> {
        match op {
            ZoneOp::Change(cs) => self.change(&cs, now),
            ZoneOp::Put { zone, author, reason } => self.put(zone, &author, &reason, now),
            ZoneOp::Delete { apex } => self.delete(&canonical(&apex)),
        }
    }

    /// Stages a change set; one that changes nothing only yields its entry.
    fn change(&mut self, cs: &ChangeSet, now: SystemTime) -> Result<(), Error> {
        let apex = canonical(&cs.zone);
        let zone = self.zones.get(&apex).cloned().ok_or_else(|| Error::NoSuchZone(apex.clone()))?;
        let (next, mut entry) = cs.apply(&zone, now)?;
        entry.zone = apex.clone();
        if entry.removed.is_empty() && entry.added.is_empty() {
            self.entries.push(entry);
            return Ok(());
        }
        for (owner, rtype) in touched_rrsets(&entry) {
            match next.rrset(&owner, rtype) {
                Some(set) => self.insert(rrset_key(&apex, &owner, rtype), codec::encode_rrset(set)?),
                None => self.remove(rrset_key(&apex, &owner, rtype)),
            }
        }
        self.journal(entry)?;
        self.zones = self.zones.with_zone(Arc::new(next));
        Ok(())
    }

    /// Stages creating or replacing a whole zone.
    fn put(&mut self, mut zone: Zone, author: &str, reason: &str, now: SystemTime) -> Result<(), Error> {
        let apex = zone.apex().clone();
        check_zone(&zone)?;
        let old = self.zones.get(&apex).cloned();
        if let Some(old) = &old {
            bump_serial(&mut zone, old.serial());
            self.remove_rrsets(old);
        }
        let mut entry = full_diff(old.as_deref(), &zone);
        (entry.author, entry.reason, entry.at_unix) = (author.to_owned(), reason.to_owned(), unix(now));
        for set in zone.rrsets() {
            self.insert(rrset_key(&apex, set.name(), set.rtype()), codec::encode_rrset(set)?);
        }
        self.journal(entry)?;
        self.zones = self.zones.with_zone(Arc::new(zone));
        Ok(())
    }

    /// Stages deleting a zone with its records, journal and meta.
    fn delete(&mut self, apex: &Name) -> Result<(), Error> {
        let zone = self.zones.get(apex).cloned().ok_or_else(|| Error::NoSuchZone(apex.clone()))?;
        self.remove_rrsets(&zone);
        let meta = self.metas.remove(apex).unwrap_or_default();
        for seq in meta.first_seq..meta.next_seq {
            self.remove(journal_key(apex, seq));
        }
        self.remove(zone_key(apex));
        self.zones = self.zones.without_zone(apex);
        self.deleted.push(apex.clone());
        self.changed = true;
        Ok(())
    }

    /// Stages the audit record numbered `seq`: `note`, the time, and every
    /// zone change and deletion staged so far.
    fn audit(&mut self, seq: u64, note: Vec<u8>, now: SystemTime) -> Result<(), Error> {
        let changes = self.entries.iter().filter(|e| !e.removed.is_empty() || !e.added.is_empty()).cloned().collect();
        let at_unix_ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let record = AuditRecord { seq, at_unix_ms, note, changes, deleted_zones: self.deleted.clone() };
        self.insert(audit_key(seq), codec::encode_audit(&record)?);
        self.audited = true;
        Ok(())
    }

    /// Removes the stored RRsets of `zone` (as it stands in this stage).
    fn remove_rrsets(&mut self, zone: &Zone) {
        for set in zone.rrsets() {
            self.remove(rrset_key(zone.apex(), set.name(), set.rtype()));
        }
    }

    /// Adds `entry` as its zone's next journal entry with the new meta,
    /// trimming the oldest entries past the limit.
    fn journal(&mut self, entry: JournalEntry) -> Result<(), Error> {
        let apex = entry.zone.clone();
        let mut meta = self.metas.get(&apex).copied().unwrap_or_default();
        self.insert(journal_key(&apex, meta.next_seq), codec::encode_entry(&entry)?);
        meta.next_seq += 1;
        meta.serial = entry.to_serial;
        let first = meta.first_seq.max(meta.next_seq.saturating_sub(self.journal_limit));
        for seq in meta.first_seq..first {
            self.remove(journal_key(&apex, seq));
        }
        meta.first_seq = first;
        self.insert(zone_key(&apex), codec::encode_meta(&meta));
        self.metas.insert(apex, meta);
        self.entries.push(entry);
        self.changed = true;
        Ok(())
    }
}

/// The audit records of a store, in sequence order ([`Store::audit_log`]).
pub struct AuditLog(sled::Iter);

impl AuditLog {
    fn decode(item: sled::Result<(sled::IVec, sled::IVec)>) -> Result<AuditRecord, Error> {
        let (key, value) = item?;
        codec::decode_audit(audit_seq(&key)?, &value)
    }
}

impl Iterator for AuditLog {
    type Item = Result<AuditRecord, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Self::decode)
    }
}

impl DoubleEndedIterator for AuditLog {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(Self::decode)
    }
}

/// The sequence number of the newest audit record, 0 when there is none.
fn last_audit_seq(db: &sled::Db) -> Result<u64, Error> {
    match db.scan_prefix(AUDIT_PREFIX).next_back() {
        Some(item) => audit_seq(&item?.0),
        None => Ok(0),
    }
}

/// Reads every zone and its meta.
fn load(db: &sled::Db) -> Result<(ZoneSet, HashMap<Name, Meta>), Error> {
    let mut zones = Vec::new();
    let mut metas = HashMap::new();
    for item in db.scan_prefix(b"z\0") {
        let (key, value) = item?;
        let apex = name_from_key(&key[2..])?;
        let meta = codec::decode_meta(&value)?;
        let zone = load_zone(db, &apex)?;
        if zone.serial() != meta.serial {
            return Err(Error::Corrupt(format!("zone {apex}: serial {} but meta says {}", zone.serial(), meta.serial)));
        }
        zones.push(Arc::new(zone));
        metas.insert(apex, meta);
    }
    Ok((ZoneSet::from_zones(zones), metas))
}

fn load_zone(db: &sled::Db, apex: &Name) -> Result<Zone, Error> {
    let mut sets = Vec::new();
    for item in db.scan_prefix(rrset_prefix(apex)) {
        let (key, value) = item?;
        let set = codec::decode_rrset(&value)?;
        if *key != *rrset_key(apex, set.name(), set.rtype()) {
            return Err(Error::Corrupt(format!("zone {apex}: RRset {} {} under another key", set.name(), set.rtype())));
        }
        sets.push(set);
    }
    Zone::from_rrsets(apex, sets).map_err(|e| Error::Corrupt(format!("zone {apex}: {e}")))
}

/// Checks every owner name of a whole zone as a change set would.
fn check_zone(zone: &Zone) -> Result<(), Error> {
    let names: BTreeSet<&Name> = zone.rrsets().into_iter().map(|s| s.name()).collect();
    names.into_iter().try_for_each(|name| check_name(zone, name))
}

/// The journal entry that turns `old` (or nothing) into `new`; the caller
/// fills in who, why and when.
fn full_diff(old: Option<&Zone>, new: &Zone) -> JournalEntry {
    let empty = Zone::empty(new.apex());
    let before = old.unwrap_or(&empty);
    let names: BTreeSet<&Name> = before.rrsets().into_iter().chain(new.rrsets()).map(|s| s.name()).collect();
    let (removed, added) = diff(before, new, names.into_iter());
    let without_soa = |records: Vec<Record>| records.into_iter().filter(|r| r.record_type() != RecordType::SOA);
    let mut removed_all: Vec<Record> = old.map(|z| z.soa().records().collect()).unwrap_or_default();
    removed_all.extend(without_soa(removed));
    let mut added_all: Vec<Record> = new.soa().records().collect();
    added_all.extend(without_soa(added));
    JournalEntry {
        zone: new.apex().clone(),
        from_serial: old.map_or(new.serial(), Zone::serial),
        to_serial: new.serial(),
        removed: removed_all,
        added: added_all,
        author: String::new(),
        reason: String::new(),
        at_unix: 0,
    }
}

/// Every (owner, type) whose records an entry adds or removes.
fn touched_rrsets(entry: &JournalEntry) -> BTreeSet<(Name, RecordType)> {
    entry.removed.iter().chain(&entry.added).map(|r| (canonical(&r.name), r.record_type())).collect()
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `name` lowercase and fully qualified, as zones store names.
fn canonical(name: &Name) -> Name {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    name
}

fn key_text(name: &Name) -> String {
    canonical(name).to_ascii()
}

fn zone_key(apex: &Name) -> Vec<u8> {
    [b"z\0", key_text(apex).as_bytes()].concat()
}

fn rrset_prefix(apex: &Name) -> Vec<u8> {
    [b"r\0", key_text(apex).as_bytes(), b"\0"].concat()
}

fn rrset_key(apex: &Name, owner: &Name, rtype: RecordType) -> Vec<u8> {
    let owner = key_text(owner);
    [&rrset_prefix(apex), owner.as_bytes(), b"\0", &u16::from(rtype).to_be_bytes()].concat()
}

/// Catalog keys live under this prefix, beside zones, records and journals.
const CATALOG_PREFIX: &[u8] = b"c\0";

fn catalog_key(key: &[u8]) -> Vec<u8> {
    [CATALOG_PREFIX, key].concat()
}

/// Audit records live under this prefix, keyed by sequence number.
const AUDIT_PREFIX: &[u8] = b"a\0";

fn audit_key(seq: u64) -> Vec<u8> {
    [AUDIT_PREFIX, &seq.to_be_bytes()].concat()
}

fn audit_seq(key: &[u8]) -> Result<u64, Error> {
    let bytes = key.strip_prefix(AUDIT_PREFIX).and_then(|b| <[u8; 8]>::try_from(b).ok());
    bytes.map(u64::from_be_bytes).ok_or_else(|| Error::Corrupt(format!("audit key {key:?}")))
}

fn journal_prefix(apex: &Name) -> Vec<u8> {
    [b"j\0", key_text(apex).as_bytes(), b"\0"].concat()
}

fn journal_key(apex: &Name, seq: u64) -> Vec<u8> {
    [journal_prefix(apex), seq.to_be_bytes().to_vec()].concat()
}

fn name_from_key(text: &[u8]) -> Result<Name, Error> {
    let text = std::str::from_utf8(text).map_err(|e| Error::Corrupt(format!("zone key: {e}")))?;
    Name::from_ascii(text).map_err(|e| Error::Corrupt(format!("zone key {text:?}: {e}")))
}

/// Takes the exclusive lock on `<dir>/LOCK`, failing at once if it is held.
fn lock_dir(dir: &Path) -> Result<File, Error> {
    let path = dir.join("LOCK");
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path);
    let file = file.map_err(|e| io_error(&path, e))?;
    match file.try_lock_exclusive() {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(Error::Locked(dir.display().to_string())),
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
            Err(Error::Locked(dir.display().to_string()))
        }
        Err(e) => Err(io_error(&path, e)),
    }
}

/// How long [`open_sled`] waits for a closed store's sled to let go.
const SLED_RELEASE_WAIT: Duration = Duration::from_secs(2);

/// Opens sled in `dir`. sled's own file lock can outlive a database this
/// process dropped for a moment (its flusher thread closes it a little
/// later), so a sled lock error is retried for a bounded time. The caller
/// holds a lock that proves no other process uses `dir` (the [`Store`]'s
/// `LOCK`, or the data directory's for the databases beside it), so the
/// wait only ever outlasts our own dropped handle.
pub fn open_sled(dir: &Path) -> Result<sled::Db, Error> {
    let started = Instant::now();
    loop {
        match sled::Config::new().path(dir).open().map_err(|e| open_error(dir, e)) {
            Err(Error::Locked(_)) if started.elapsed() < SLED_RELEASE_WAIT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => return opened,
        }
    }
}

fn io_error(path: &Path, e: io::Error) -> Error {
    Error::Storage(format!("{}: {e}", path.display()))
}

/// sled reports its own lock failure as an I/O error; keep it a lock error.
fn open_error(dir: &Path, e: sled::Error) -> Error {
    match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            Error::Locked(dir.display().to_string())
        }
        sled::Error::Corruption { .. } => Error::Corrupt(e.to_string()),
        e => Error::from(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::time::{Duration, Instant};

    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::{A, TXT};
    use tempfile::TempDir;

    use super::*;
    use crate::{Op, zonefile};

    const ZONE: &str = "$ORIGIN example.com.\n@ 3600 IN SOA ns1 hostmaster 10 3600 600 604800 60\n\
                        @ 3600 IN NS ns1\nns1 60 IN A 192.0.2.1\nwww 60 IN A 192.0.2.80\n";

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn apex() -> Name {
        name("example.com.")
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    /// A store in a fresh directory holding the zone above.
    fn store() -> (TempDir, Store) {
        let dir = TempDir::new().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_zone(zonefile::parse(ZONE, None).unwrap(), "import", "test zone", now()).unwrap();
        (dir, store)
    }

    fn add_txt(owner: &str, text: &str) -> ChangeSet {
        let mut cs = ChangeSet::new(&apex(), "alice", "add TXT");
        let record = Record::from_rdata(name(owner), 60, RData::TXT(TXT::new(vec![text.into()])));
        cs.push(Op::Add(record));
        cs
    }

    fn text_of(zone: &ZoneSet) -> String {
        zonefile::write(zone.get(&apex()).unwrap())
    }

    #[test]
    fn commits_are_published_and_survive_a_reopen() {
        let (dir, store) = store();
        let entry = store.commit(&add_txt("t.example.com.", "one"), now()).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial), (10, 11));
        let mut remove = ChangeSet::new(&apex(), "bob", "cleanup");
        remove.push(Op::RemoveName(name("www.example.com.")));
        store.commit(&remove, now()).unwrap();
        let before = store.snapshot();
        assert!(before.get(&apex()).unwrap().rrset(&name("t.example.com."), RecordType::TXT).is_some());
        assert_eq!(store.snapshots().load().generation(), before.generation());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(text_of(&store.snapshot()), text_of(&before));
        let journal = store.journal(&apex()).unwrap();
        let serials: Vec<(u32, u32)> = journal.iter().map(|e| (e.from_serial, e.to_serial)).collect();
        assert_eq!(serials, [(10, 10), (10, 11), (11, 12)]);
        assert_eq!((journal[2].author.as_str(), journal[2].reason.as_str()), ("bob", "cleanup"));
        assert_eq!(journal[2].at_unix, 1_700_000_000);
    }

    /// Writers on several threads: every change is acknowledged only once
    /// its zone (or a newer one) is published, the journal is one unbroken
    /// chain, and the last snapshot holds every change.
    #[test]
    fn concurrent_writers_each_see_their_change_published() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let entry = store.commit(&add_txt(&format!("t{t}-{i}.example.com."), "x"), now()).unwrap();
                        let published = store.snapshot().get(&apex()).unwrap().serial();
                        assert!(
                            published >= entry.to_serial,
                            "{published} < {}: acknowledged, not published",
                            entry.to_serial
                        );
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let zone = store.snapshot().get(&apex()).cloned().unwrap();
        assert_eq!(zone.serial(), 10 + 200);
        for t in 0..8 {
            for i in 0..25 {
                assert!(zone.rrset(&name(&format!("t{t}-{i}.example.com.")), RecordType::TXT).is_some(), "t{t}-{i}");
            }
        }
        let journal = store.journal(&apex()).unwrap();
        let chain: Vec<(u32, u32)> = journal.iter().skip(1).map(|e| (e.from_serial, e.to_serial)).collect();
        assert_eq!(chain, (10..210).map(|s| (s, s + 1)).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_or_empty_change_set_writes_nothing() {
        let (dir, store) = store();
        let generation = store.snapshot().generation();
        let mut bad = add_txt("ok.example.com.", "fine");
        bad.push(Op::Add(Record::from_rdata(name("x.example.net."), 60, RData::A(A::new(1, 2, 3, 4)))));
        assert!(matches!(store.commit(&bad, now()), Err(Error::OutOfZone { .. })));
        let mut nothing = ChangeSet::new(&apex(), "alice", "no-op");
        nothing.push(Op::RemoveName(name("absent.example.com.")));
        let entry = store.commit(&nothing, now()).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial), (10, 10));
        assert_eq!(store.snapshot().generation(), generation, "nothing published");
        assert_eq!(store.journal(&apex()).unwrap().len(), 1);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.snapshot().get(&apex()).unwrap().serial(), 10);
        assert!(store.snapshot().get(&apex()).unwrap().rrsets_at(&name("ok.example.com.")).is_none());
    }

    #[test]
    fn unknown_zones_are_errors() {
        let (_dir, store) = store();
        let mut cs = add_txt("t.example.org.", "x");
        cs.zone = name("example.org.");
        assert!(matches!(store.commit(&cs, now()), Err(Error::NoSuchZone(_))));
        assert!(matches!(store.journal(&name("example.org.")), Err(Error::NoSuchZone(_))));
        assert!(matches!(store.delete_zone(&name("example.org."), "x", now()), Err(Error::NoSuchZone(_))));
    }

    #[test]
    fn replacing_a_zone_moves_its_serial_forward_and_journals_the_difference() {
        let (dir, store) = store();
        let older = ZONE.replace(" 10 3600", " 3 3600").replace("www 60 IN A 192.0.2.80", "web 60 IN A 192.0.2.81");
        let entry = store.put_zone(zonefile::parse(&older, None).unwrap(), "import", "reload", now()).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial), (10, 11), "3 is behind 10");
        let records = |rs: &[Record]| rs.iter().map(|r| format!("{} {}", r.name, r.record_type())).collect::<Vec<_>>();
        assert_eq!(records(&entry.removed), ["example.com. SOA", "www.example.com. A"]);
        assert_eq!(records(&entry.added), ["example.com. SOA", "web.example.com. A"]);
        let ahead = ZONE.replace(" 10 3600", " 500 3600");
        let entry = store.put_zone(zonefile::parse(&ahead, None).unwrap(), "import", "reload", now()).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial), (11, 500));
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let zone = store.snapshot().get(&apex()).cloned().unwrap();
        assert_eq!(zone.serial(), 500);
        assert!(zone.rrsets_at(&name("web.example.com.")).is_none(), "old records were deleted");
        assert_eq!(store.journal(&apex()).unwrap().len(), 3);
    }

    #[test]
    fn put_zone_checks_what_a_change_set_checks() {
        let dir = TempDir::new().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conflict = format!("{ZONE}www 60 IN CNAME ns1\n");
        let zone = zonefile::parse(&conflict, None).unwrap();
        assert!(matches!(store.put_zone(zone, "import", "", now()), Err(Error::CnameConflict(_))));
        assert!(store.snapshot().is_empty());
    }

    #[test]
    fn deleting_a_zone_removes_records_and_journal() {
        let (dir, store) = store();
        store.commit(&add_txt("t.example.com.", "one"), now()).unwrap();
        store.delete_zone(&name("Example.COM."), "admin", now()).unwrap();
        assert!(store.snapshot().get(&apex()).is_none());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(store.snapshot().is_empty());
        assert_eq!(store.db.iter().count(), 0, "no key is left behind");
        store.put_zone(zonefile::parse(ZONE, None).unwrap(), "import", "again", now()).unwrap();
        assert_eq!(store.journal(&apex()).unwrap().len(), 1, "a fresh journal");
    }

    #[test]
    fn the_journal_keeps_the_most_recent_entries() {
        let (dir, store) = store();
        store.set_journal_limit(3).unwrap();
        for i in 0..5 {
            store.commit(&add_txt(&format!("t{i}.example.com."), "x"), now()).unwrap();
        }
        let serials: Vec<u32> = store.journal(&apex()).unwrap().iter().map(|e| e.to_serial).collect();
        assert_eq!(serials, [13, 14, 15]);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        store.commit(&add_txt("t9.example.com.", "x"), now()).unwrap();
        assert_eq!(store.journal(&apex()).unwrap().len(), 4, "the default limit again: 3 kept + 1");
        let journal_keys = store.db.scan_prefix(journal_prefix(&apex())).count();
        assert_eq!(journal_keys, 4);
    }

    #[test]
    fn only_touched_rrsets_are_rewritten() {
        let (_dir, store) = store();
        let key = rrset_key(&apex(), &name("www.example.com."), RecordType::A);
        let untouched = store.db.get(&key).unwrap().unwrap();
        store.commit(&add_txt("www.example.com.", "beside"), now()).unwrap();
        assert_eq!(store.db.get(&key).unwrap().unwrap(), untouched);
        let txt_key = rrset_key(&apex(), &name("www.example.com."), RecordType::TXT);
        assert!(store.db.get(&txt_key).unwrap().is_some());
    }

    #[test]
    fn a_store_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Store>();
    }

    #[test]
    fn a_second_open_fails_at_once() {
        let (dir, _store) = store();
        let started = Instant::now();
        let second = Store::open(dir.path());
        assert!(matches!(second, Err(Error::Locked(_))), "{:?}", second.err());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_panic() {
        let (dir, store) = store();
        let key = rrset_key(&apex(), &name("www.example.com."), RecordType::A);
        store.db.insert(&key, &b"\x01garbage"[..]).unwrap();
        store.db.flush().unwrap();
        drop(store);
        assert!(matches!(Store::open(dir.path()), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_meta_that_disagrees_with_the_soa_is_corrupt() {
        let (dir, store) = store();
        let meta = Meta { serial: 99, first_seq: 0, next_seq: 1 };
        store.db.insert(zone_key(&apex()), codec::encode_meta(&meta)).unwrap();
        store.db.flush().unwrap();
        drop(store);
        assert!(matches!(Store::open(dir.path()), Err(Error::Corrupt(_))));
    }

    const CHILD: &str = "$ORIGIN team.example.com.\n@ 3600 IN SOA ns1.example.com. hostmaster 1 3600 600 604800 60\n\
                         @ 3600 IN NS ns1.example.com.\napp 60 IN A 192.0.2.7\n";

    fn delegate(child: &str) -> ChangeSet {
        let mut cs = ChangeSet::new(&apex(), "admin", "delegate");
        let ns = hickory_proto::rr::rdata::NS(name("ns1.example.com."));
        cs.push(Op::Add(Record::from_rdata(name(child), 3600, RData::NS(ns))));
        cs
    }

    #[test]
    fn transaction_spans_zones_and_catalog() {
        let (dir, store) = store();
        let mut tx = Transaction::new();
        tx.put_zone(zonefile::parse(CHILD, None).unwrap(), "api", "hosted delegation")
            .change(delegate("team.example.com."))
            .catalog_put(b"team/team", b"{\"name\":\"team\"}".to_vec());
        let entries = store.apply(tx, now()).unwrap();
        assert_eq!(entries.len(), 2);
        let snapshot = store.snapshot();
        assert!(snapshot.get(&name("team.example.com.")).is_some());
        assert!(snapshot.get(&apex()).unwrap().rrset(&name("team.example.com."), RecordType::NS).is_some());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.catalog_get(b"team/team").unwrap().as_deref(), Some(&b"{\"name\":\"team\"}"[..]));
        assert_eq!(store.snapshot().zones().len(), 2);
        assert_eq!(store.journal(&apex()).unwrap().last().unwrap().reason, "delegate");
    }

    #[test]
    fn failed_operation_writes_nothing() {
        let (dir, store) = store();
        let before = text_of(&store.snapshot());
        let mut tx = Transaction::new();
        tx.change(add_txt("ok.example.com.", "fine"))
            .change(add_txt("outside.example.org.", "out of zone"))
            .catalog_put(b"app/ok", b"x".to_vec());
        assert!(matches!(store.apply(tx, now()), Err(Error::OutOfZone { .. })));
        assert_eq!(text_of(&store.snapshot()), before);
        assert_eq!(store.catalog_get(b"app/ok").unwrap(), None);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(text_of(&store.snapshot()), before);
        assert_eq!(store.journal(&apex()).unwrap().len(), 1);
    }

    #[test]
    fn later_operations_see_earlier_ones() {
        let (dir, store) = store();
        let mut tx = Transaction::new();
        tx.change(add_txt("a.example.com.", "one")).change(add_txt("a.example.com.", "two"));
        let entries = store.apply(tx, now()).unwrap();
        assert_eq!((entries[0].to_serial, entries[1].from_serial, entries[1].to_serial), (11, 11, 12));
        // Replacing the zone in the same transaction drops what the change added, on disk too.
        let mut tx = Transaction::new();
        tx.change(add_txt("b.example.com.", "gone soon")).put_zone(
            zonefile::parse(ZONE, None).unwrap(),
            "import",
            "reset",
        );
        store.apply(tx, now()).unwrap();
        let expected = text_of(&store.snapshot());
        assert!(!expected.contains("b.example.com."));
        drop(store);
        assert_eq!(text_of(&Store::open(dir.path()).unwrap().snapshot()), expected);
    }

    #[test]
    fn catalog_scan_and_remove() {
        let (dir, store) = store();
        let mut tx = Transaction::new();
        tx.catalog_put(b"app/b", b"2".to_vec()).catalog_put(b"app/a", b"1".to_vec()).catalog_put(b"team/x", vec![]);
        store.apply(tx, now()).unwrap();
        let mut tx = Transaction::new();
        tx.catalog_remove(b"app/b");
        store.apply(tx, now()).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.catalog_scan(b"app/").unwrap(), vec![(b"app/a".to_vec(), b"1".to_vec())]);
        assert_eq!(store.snapshot().zones().len(), 1, "catalog keys are not zones");
    }

    #[test]
    fn catalog_transactions_apply_as_futures_and_refuse_zone_operations() {
        let (dir, store) = store();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut tx = Transaction::new();
        tx.catalog_put(b"cert/1", b"one".to_vec());
        runtime.block_on(store.apply_catalog(audited(&mut tx, "who: ci"), now())).unwrap();
        tx.catalog_put(b"cert/2", b"two".to_vec()).change(add_txt("a.example.com.", "zone op"));
        let refused = runtime.block_on(store.apply_catalog(std::mem::take(&mut tx), now()));
        assert!(matches!(refused, Err(Error::Storage(_))), "{refused:?}");
        let before = text_of(&store.snapshot());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.catalog_scan(b"cert/").unwrap(), vec![(b"cert/1".to_vec(), b"one".to_vec())]);
        assert_eq!(text_of(&store.snapshot()), before, "the refused transaction changed no zone");
        let notes: Vec<_> = store.audit_log(0).map(|r| r.unwrap().note).collect();
        assert_eq!(notes, vec![b"who: ci".to_vec()]);
    }

    fn audited(tx: &mut Transaction, note: &str) -> Transaction {
        tx.audit(note.as_bytes().to_vec());
        std::mem::take(tx)
    }

    #[test]
    fn an_event_is_recorded_alone_and_a_plain_note_is_not() {
        let (_dir, store) = store();
        store.apply(audited(&mut Transaction::new(), "nothing changed"), now()).unwrap();
        let mut tx = Transaction::new();
        tx.event(b"issued elsewhere".to_vec());
        assert!(!tx.is_empty());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(store.apply_catalog(tx, now())).unwrap();
        let notes: Vec<_> = store.audit_log(0).map(|r| r.unwrap().note).collect();
        assert_eq!(notes, vec![b"issued elsewhere".to_vec()]);
    }

    #[test]
    fn audited_transactions_leave_one_record_each_in_their_batch() {
        let (dir, store) = store();
        let mut tx = Transaction::new();
        tx.change(add_txt("a.example.com.", "one")).catalog_put(b"app/a", b"1".to_vec());
        store.apply(audited(&mut tx, "who: alice"), now()).unwrap();
        let mut tx = Transaction::new();
        tx.catalog_put(b"team/x", vec![]);
        store.apply(audited(&mut tx, "catalog only"), now()).unwrap();
        // Not audited, a no-op, and a failure leave nothing.
        store.commit(&add_txt("b.example.com.", "unaudited"), now()).unwrap();
        let mut nothing = ChangeSet::new(&apex(), "alice", "no-op");
        nothing.push(Op::RemoveName(name("absent.example.com.")));
        store.apply(audited(Transaction::new().change(nothing), "no-op"), now()).unwrap();
        let mut bad = add_txt("c.example.com.", "x");
        bad.push(Op::Add(Record::from_rdata(name("x.example.net."), 60, RData::A(A::new(1, 2, 3, 4)))));
        assert!(store.apply(audited(Transaction::new().change(bad), "bad"), now()).is_err());

        let log: Vec<AuditRecord> = store.audit_log(0).map(Result::unwrap).collect();
        let notes: Vec<(u64, &[u8])> = log.iter().map(|r| (r.seq, r.note.as_slice())).collect();
        assert_eq!(notes, [(1, &b"who: alice"[..]), (2, &b"catalog only"[..])]);
        assert_eq!(log[0].at_unix_ms, 1_700_000_000_000);
        let change = &log[0].changes[0];
        assert_eq!((change.from_serial, change.to_serial, change.added.len()), (10, 11, 2), "SOA + TXT");
        assert!(log[1].changes.is_empty() && log[1].deleted_zones.is_empty());

        // The sequence goes on after a reopen; a deletion is recorded with its apex.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        store.apply(audited(Transaction::new().delete_zone(&apex()), "drop"), now()).unwrap();
        let newest = store.audit_log(0).next_back().unwrap().unwrap();
        assert_eq!((newest.seq, newest.deleted_zones.clone()), (3, vec![apex()]));
        assert_eq!(store.audit_log(2).count(), 2, "from 2 on");
    }
}
