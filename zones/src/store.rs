//! Persistence in sled. STUB: being written; the API below is the contract.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use hickory_proto::rr::Name;

use crate::{ChangeSet, Error, JournalEntry, Zone, ZoneSet};

/// The durable zone store: zones and journal in sled, snapshots in memory.
pub struct Store {
    current: ArcSwap<ZoneSet>,
}

impl Store {
    /// Opens (or creates) the store in `dir` and loads every zone.
    pub fn open(_dir: &Path) -> Result<Self, Error> {
        Ok(Self { current: ArcSwap::from_pointee(ZoneSet::new()) })
    }
    /// The published snapshots, for readers that load on every query.
    pub fn snapshots(&self) -> &ArcSwap<ZoneSet> {
        &self.current
    }
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<ZoneSet> {
        self.current.load_full()
    }
    /// Applies, persists (flushed) and publishes a change set.
    pub fn commit(&self, _cs: &ChangeSet, _now: SystemTime) -> Result<JournalEntry, Error> {
        todo!()
    }
    /// Creates or replaces a whole zone.
    pub fn put_zone(&self, zone: Zone, _author: &str, _reason: &str, _now: SystemTime) -> Result<JournalEntry, Error> {
        let next = self.current.load().with_zone(Arc::new(zone));
        self.current.store(Arc::new(next));
        todo!()
    }
    /// Deletes a zone.
    pub fn delete_zone(&self, _apex: &Name, _author: &str, _now: SystemTime) -> Result<(), Error> {
        todo!()
    }
}
