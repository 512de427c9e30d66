//! The one error type of the zones crate.

use hickory_proto::rr::{Name, RecordType};

/// Why a zone operation failed. Every variant is safe to show to the
/// principal that asked for the change; storage detail is kept generic.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record's owner is not inside the zone it was given for.
    #[error("{name} is not inside zone {zone}")]
    OutOfZone {
        /// The offending owner name.
        name: Name,
        /// The zone's apex.
        zone: Name,
    },
    /// A CNAME would share its owner name with other data (RFC 1034 §3.6.2).
    #[error("CNAME at {0} cannot coexist with other records")]
    CnameConflict(Name),
    /// Non-address data below a delegation cut, which the zone would never serve.
    #[error("{name} is below the delegation cut at {cut}; only glue addresses may be there")]
    BelowCut {
        /// The offending owner name.
        name: Name,
        /// The delegation point above it.
        cut: Name,
    },
    /// A TTL above 2^31 - 1 (RFC 2181 §8).
    #[error("TTL {0} is above the maximum of 2147483647")]
    BadTtl(u32),
    /// A record type this zone refuses to hold at that place (SOA off the apex,
    /// meta types, a second SOA, ...).
    #[error("{rtype} is not allowed at {name}: {why}")]
    BadRecord {
        /// The owner name.
        name: Name,
        /// The record type.
        rtype: RecordType,
        /// What is wrong.
        why: &'static str,
    },
    /// A zone must keep its SOA and NS RRsets at the apex.
    #[error("zone {0} must keep exactly one SOA and at least one NS record at its apex")]
    ApexIncomplete(Name),
    /// No zone with that apex.
    #[error("no zone {0}")]
    NoSuchZone(Name),
    /// A zone with that apex exists already.
    #[error("zone {0} exists already")]
    ZoneExists(Name),
    /// A master file that could not be parsed or does not form a zone.
    #[error("zone file: {0}")]
    ZoneFile(String),
    /// Another process holds the data directory.
    #[error("data directory {0} is in use by another nameplate process")]
    Locked(String),
    /// The storage layer failed.
    #[error("storage: {0}")]
    Storage(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Storage(e.to_string())
    }
}
