//! The journal: one entry per applied change set, the source of IXFR and audit.

use hickory_proto::rr::{Name, Record};

/// What one change set did to one zone: the serial it moved between, the
/// records it removed and added (each list led by the SOA it replaced or
/// installed, as IXFR sends them, RFC 1995 §4), who asked and why, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    /// The zone's apex.
    pub zone: Name,
    /// The serial before the change.
    pub from_serial: u32,
    /// The serial after the change.
    pub to_serial: u32,
    /// Removed records, the old SOA first.
    pub removed: Vec<Record>,
    /// Added records, the new SOA first.
    pub added: Vec<Record>,
    /// Who made the change (a principal, a TSIG key name, `import`, ...).
    pub author: String,
    /// Why, as given by the author.
    pub reason: String,
    /// When, in seconds since the Unix epoch.
    pub at_unix: u64,
}
