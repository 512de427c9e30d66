//! Zone data for nameplate, with no sockets and no other workspace crate.
//!
//! - [`RRset`], [`Zone`] and [`ZoneSet`] hold the data. Owner names are stored
//!   lowercase; lookups are case-insensitive.
//! - [`ZoneSet::lookup`] answers a question by RFC 1034 §4.3.2 with RFC 4592
//!   wildcards and RFC 2308 negative answers, returning an [`Answer`] value
//!   that the DNS server encodes.
//! - [`ChangeSet`] is the only way zone data changes: it is validated and
//!   applied atomically, bumps the SOA serial and yields a [`JournalEntry`].
//! - [`Store`] persists zones and the journal in sled and publishes immutable
//!   [`ZoneSet`] snapshots that readers load without locking; a
//!   [`Transaction`] groups zone operations and catalog records into one
//!   atomic, durable write, and an audited transaction leaves an
//!   [`AuditRecord`] written in the same batch.
//! - [`zonefile`] imports and exports RFC 1035 master files.
//! - [`catalog`] computes the catalog zone (RFC 9432) and its changes.

// `Error` names the offending owner and zone (two `Name`s, ~160 bytes); it is
// returned on the rare path only, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod audit;
pub mod catalog;
mod change;
mod codec;
mod error;
mod group_flush;
mod journal;
mod lookup;
mod merge;
mod rrset;
mod store;
mod transaction;
mod undo;
mod zone;
pub mod zonefile;
mod zoneset;

pub use audit::AuditRecord;
pub use change::{ChangeSet, Op};
pub use error::Error;
pub use group_flush::{GroupFlush, Ticket};
pub use journal::JournalEntry;
pub use lookup::{Answer, Outcome};
pub use merge::{merge_database, merged_path};
pub use rrset::RRset;
pub use store::{AuditLog, CatalogEntry, Store, open_sled};
pub use transaction::Transaction;
pub use undo::{Undo, WriteSet};
pub use zone::Zone;
pub use zoneset::ZoneSet;

/// Re-exported so callers name the same types as this crate.
pub use hickory_proto::rr::{Name, RData, Record, RecordType};
