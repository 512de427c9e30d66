//! Previews in the catalog.
//!
//! ```text
//! preview/<fqdn, lowercase, no trailing dot> -> JSON PreviewRecord
//! ```
//!
//! A preview's entry is written with its records and removed with them, in
//! one transaction, by `DELETE` or by the reaper when it expires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zones::{ChangeSet, Op, Store, Transaction};

use crate::ApiError;
use crate::apps_catalog::AppTarget;
use crate::zones_catalog::parse_name;

/// A preview as stored and returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRecord {
    /// The preview's name, lowercase, without the trailing dot.
    pub(crate) fqdn: String,
    /// The stable name of its app.
    pub(crate) app: String,
    /// The app's team.
    pub(crate) team: String,
    /// The pull request number.
    pub(crate) pr: u32,
    /// Where the name points.
    pub(crate) target: AppTarget,
    /// Who created it (token and team).
    pub(crate) created_by: String,
    /// When it was created (RFC 3339).
    pub(crate) created_at: String,
    /// When it expires (RFC 3339, whole seconds).
    pub(crate) expires_at: String,
    /// When it expires, in milliseconds since the Unix epoch (what the
    /// reaper compares).
    pub(crate) expires_at_ms: u64,
}

impl PreviewRecord {
    /// When the preview expires.
    pub(crate) fn expiry(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_at_ms)
    }
}

/// `at` in milliseconds since the Unix epoch (0 before it, saturating).
pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn key(fqdn: &str) -> Vec<u8> {
    format!("preview/{fqdn}").into_bytes()
}

/// The preview at `fqdn`, if any.
pub(crate) fn get(store: &Store, fqdn: &str) -> Result<Option<PreviewRecord>, ApiError> {
    match store.catalog_get(&key(fqdn))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Every preview, by name.
pub(crate) fn list(store: &Store) -> Result<Vec<PreviewRecord>, ApiError> {
    store.catalog_scan(b"preview/")?.iter().map(|(_, bytes)| Ok(serde_json::from_slice(bytes)?)).collect()
}

/// Adds `preview`'s entry to `tx`.
pub(crate) fn stage(tx: &mut Transaction, preview: &PreviewRecord) -> Result<(), ApiError> {
    tx.catalog_put(&key(&preview.fqdn), serde_json::to_vec(preview)?);
    Ok(())
}

/// Adds to `tx` the removal of `preview`: a change set by `author` for
/// `reason` that removes its RRset, and its entry.
pub(crate) fn stage_remove(
    tx: &mut Transaction,
    policy: &policy::Policy,
    preview: &PreviewRecord,
    author: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let name = parse_name("preview", &preview.fqdn)?;
    let parsed = policy.scheme.parse(&name)?;
    let mut change = ChangeSet::new(parsed.zone(), author, reason);
    change.push(Op::RemoveRRset(name, preview.target.rtype()));
    tx.change(change).catalog_remove(&key(&preview.fqdn));
    Ok(())
}

/// The previews of the app at `app` (its stable name, like
/// [`PreviewRecord::app`]).
pub(crate) fn of_app(store: &Store, app: &str) -> Result<Vec<PreviewRecord>, ApiError> {
    Ok(list(store)?.into_iter().filter(|p| p.app == app).collect())
}
