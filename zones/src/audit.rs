//! The audit log: one record per audited transaction, written in the same
//! batch as the changes it describes.
//!
//! The caller's note (who, what, why) is opaque to this crate: the API
//! writes JSON. The store adds the time and the zone changes the
//! transaction made, so the log says exactly what happened even after the
//! per-zone journal has been trimmed or its zone deleted.

use hickory_proto::rr::Name;

use crate::JournalEntry;

/// One audited transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Its position in the log: 1 for the first record, increasing by one.
    pub seq: u64,
    /// When it was applied, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The note the caller attached ([`crate::Transaction::audit`]).
    pub note: Vec<u8>,
    /// Every zone change it made, in order, with serials and records.
    pub changes: Vec<JournalEntry>,
    /// The apexes of the zones it deleted.
    pub deleted_zones: Vec<Name>,
}
