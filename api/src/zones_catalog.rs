//! Delegated team zones in the catalog.
//!
//! ```text
//! zone/<apex, lowercase, no trailing dot> -> JSON ZoneRecord {name, team, kind, nameservers, created_at}
//! ```
//!
//! The entry is written in the same transaction as the zone data it
//! describes (the hosted child zone, the NS cut and glue in the parent), and
//! removed in the same transaction as that data.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use zones::{Name, Store, Transaction};

use crate::ApiError;

/// How a team zone is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ZoneKind {
    /// Served here: a child zone on the platform's nameservers.
    Hosted,
    /// Served elsewhere: only the NS cut (and glue) lives in the parent.
    External,
}

/// A nameserver of a delegation, as asked for and as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameserverSpec {
    /// The nameserver's name (absolute).
    pub(crate) name: String,
    /// Its addresses, published as glue when it is inside the delegated zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub(crate) addresses: Vec<IpAddr>,
}

/// A delegated team zone as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZoneRecord {
    /// The zone's apex, lowercase, without the trailing dot.
    pub(crate) name: String,
    /// The team that owns it.
    pub(crate) team: String,
    /// Hosted here or external.
    pub(crate) kind: ZoneKind,
    /// The nameservers of the delegation.
    pub(crate) nameservers: Vec<NameserverSpec>,
    /// The apex of the platform zone that holds the cut.
    pub(crate) parent: String,
    /// When it was delegated (RFC 3339).
    pub(crate) created_at: String,
}

/// `name` as catalog keys and the API write zone names: lowercase, without
/// the trailing dot.
pub(crate) fn text(name: &Name) -> String {
    let ascii = name.to_lowercase().to_ascii();
    ascii.strip_suffix('.').unwrap_or(&ascii).to_owned()
}

/// Parses a zone or owner name from the API (trailing dot optional) as an
/// absolute, lowercase name.
pub(crate) fn parse_name(what: &str, text: &str) -> Result<Name, ApiError> {
    let bad = |why: String| ApiError::InvalidName(format!("{what} {text:?} is not a valid domain name: {why}"));
    if text.is_empty() || text == "." {
        return Err(bad("it is empty".to_owned()));
    }
    let mut name = Name::from_ascii(text).map_err(|e| bad(e.to_string()))?.to_lowercase();
    name.set_fqdn(true);
    Ok(name)
}

fn key(apex: &Name) -> Vec<u8> {
    format!("zone/{}", text(apex)).into_bytes()
}

/// The delegated zone at `apex`, if any.
pub(crate) fn get(store: &Store, apex: &Name) -> Result<Option<ZoneRecord>, ApiError> {
    match store.catalog_get(&key(apex))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Every delegated zone, by name.
pub(crate) fn list(store: &Store) -> Result<Vec<ZoneRecord>, ApiError> {
    store.catalog_scan(b"zone/")?.iter().map(|(_, bytes)| Ok(serde_json::from_slice(bytes)?)).collect()
}

/// Adds `zone`'s entry to `tx`.
pub(crate) fn stage_put(tx: &mut Transaction, apex: &Name, zone: &ZoneRecord) -> Result<(), ApiError> {
    tx.catalog_put(&key(apex), serde_json::to_vec(zone)?);
    Ok(())
}

/// Removes the entry of `apex` in `tx`.
pub(crate) fn stage_remove(tx: &mut Transaction, apex: &Name) {
    tx.catalog_remove(&key(apex));
}
