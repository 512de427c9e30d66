//! Transactions: zone operations and catalog writes that stand or fall
//! together.
//!
//! [`crate::Store::apply`] validates the operations in order, each against the
//! result of the ones before it, and writes everything in one flushed sled
//! batch; if any operation fails, nothing is written or published. The
//! catalog is an opaque key-value space beside the zones (teams, tokens,
//! apps, ... of the layers above), so that an app's records and its catalog
//! entry are acknowledged together.

use hickory_proto::rr::Name;

use crate::{ChangeSet, Zone};

/// One zone operation of a transaction.
#[derive(Clone, Debug)]
pub(crate) enum ZoneOp {
    /// Apply a change set to an existing zone.
    Change(ChangeSet),
    /// Create a zone, or replace it whole.
    Put { zone: Zone, author: String, reason: String },
    /// Delete a zone with its records and journal.
    Delete { apex: Name },
}

/// Zone operations and catalog writes to apply atomically.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    pub(crate) zone_ops: Vec<ZoneOp>,
    pub(crate) catalog: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub(crate) audit: Option<Vec<u8>>,
    /// The audit record is written even if nothing else changes.
    pub(crate) event: bool,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `change` to its zone.
    pub fn change(&mut self, change: ChangeSet) -> &mut Self {
        self.zone_ops.push(ZoneOp::Change(change));
        self
    }

    /// Creates `zone`, or replaces the zone of its apex (journaled as the
    /// difference, serial moved past the old one).
    pub fn put_zone(&mut self, zone: Zone, author: &str, reason: &str) -> &mut Self {
        self.zone_ops.push(ZoneOp::Put { zone, author: author.to_owned(), reason: reason.to_owned() });
        self
    }

    /// Deletes the zone at `apex`, its records and its journal.
    pub fn delete_zone(&mut self, apex: &Name) -> &mut Self {
        self.zone_ops.push(ZoneOp::Delete { apex: apex.clone() });
        self
    }

    /// Sets catalog `key` to `value`.
    pub fn catalog_put(&mut self, key: &[u8], value: Vec<u8>) -> &mut Self {
        self.catalog.push((key.to_vec(), Some(value)));
        self
    }

    /// Removes catalog `key`.
    pub fn catalog_remove(&mut self, key: &[u8]) -> &mut Self {
        self.catalog.push((key.to_vec(), None));
        self
    }

    /// Records the transaction in the audit log with `note` (the caller's
    /// who, what and why), beside the zone changes it makes. A transaction
    /// that changes nothing leaves no record.
    pub fn audit(&mut self, note: Vec<u8>) -> &mut Self {
        self.audit = Some(note);
        self
    }

    /// Records `note` in the audit log even when the transaction changes
    /// nothing else: the record of an act outside the store, such as a
    /// certificate the CA has recorded in its own trees.
    pub fn event(&mut self, note: Vec<u8>) -> &mut Self {
        self.audit = Some(note);
        self.event = true;
        self
    }

    /// Whether the transaction holds nothing to do.
    pub fn is_empty(&self) -> bool {
        self.zone_ops.is_empty() && self.catalog.is_empty() && !self.event
    }
}
