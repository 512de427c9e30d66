//! Teams' TSIG keys in the catalog, for dynamic UPDATE (RFC 2136) and
//! transfers of a team's zones.
//!
//! ```text
//! tsig/<key name, absolute, lowercase> -> JSON TsigKeyRecord {name, algorithm, secret, team, created_at}
//! ```
//!
//! Key names are DNS names, unique across teams. `secret` is the base64
//! (standard) encoding of 32 random bytes, returned once when the key is
//! made and otherwise only to the DNS server ([`tsig_key`]).

use std::time::SystemTime;

use data_encoding::BASE64;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use zones::{Store, Transaction};

use crate::audit::Audit;
use crate::{ApiError, rfc3339};

/// The algorithms a key may have, as BIND and Knot spell them.
pub const ALGORITHMS: [&str; 6] = ["hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"];

/// A team's TSIG key as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyRecord {
    /// The key's name, absolute and lowercase (`hr-ci.`).
    pub name: String,
    /// The algorithm, e.g. `hmac-sha256`.
    pub algorithm: String,
    /// The secret, base64.
    pub secret: String,
    /// The team that owns the key.
    pub team: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

/// Leaves the secret out, so a key never reaches a log by `{:?}`.
impl std::fmt::Debug for TsigKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKeyRecord")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("team", &self.team)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

fn key(name: &str) -> Vec<u8> {
    format!("tsig/{name}").into_bytes()
}

/// A key name in the stored form: a valid DNS name, absolute, lowercase.
pub(crate) fn normalize(name: &str) -> Result<String, ApiError> {
    let parsed = zones::Name::from_ascii(name.trim())
        .map_err(|e| ApiError::InvalidName(format!("{name:?} is not a DNS name: {e}")))?;
    if parsed.is_root() || name.trim().is_empty() {
        return Err(ApiError::InvalidName("a TSIG key needs a name".to_owned()));
    }
    let mut lower = parsed.to_lowercase();
    lower.set_fqdn(true);
    Ok(lower.to_ascii())
}

/// The key called `name` (any spelling), if any: the DNS server's lookup.
pub(crate) fn tsig_key(store: &Store, name: &str) -> Result<Option<TsigKeyRecord>, ApiError> {
    let Ok(name) = normalize(name) else { return Ok(None) };
    match store.catalog_get(&key(&name))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// `team`'s keys, by name.
pub(crate) fn list(store: &Store, team: &str) -> Result<Vec<TsigKeyRecord>, ApiError> {
    let all: Result<Vec<TsigKeyRecord>, ApiError> =
        store.catalog_scan(b"tsig/")?.iter().map(|(_, bytes)| Ok(serde_json::from_slice(bytes)?)).collect();
    Ok(all?.into_iter().filter(|k| k.team == team).collect())
}

/// Makes a key `name` for `team` with a fresh 32-byte secret; 409 when the
/// name is taken (by any team).
pub(crate) fn create(
    store: &Store,
    now: SystemTime,
    team: &str,
    name: &str,
    algorithm: &str,
    audit: Audit,
) -> Result<TsigKeyRecord, ApiError> {
    let name = normalize(name)?;
    if !ALGORITHMS.contains(&algorithm) {
        return Err(ApiError::InvalidRequest(format!(
            "unknown algorithm {algorithm:?}; one of {}",
            ALGORITHMS.join(", ")
        )));
    }
    if store.catalog_get(&key(&name))?.is_some() {
        return Err(ApiError::Conflict(format!("a TSIG key {name} exists")));
    }
    let mut secret = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| ApiError::Internal("the system random source failed".to_owned()))?;
    let record = TsigKeyRecord {
        name: name.clone(),
        algorithm: algorithm.to_owned(),
        secret: BASE64.encode(&secret),
        team: team.to_owned(),
        created_at: rfc3339(now),
    };
    let mut tx = Transaction::new();
    tx.catalog_put(&key(&name), serde_json::to_vec(&record)?);
    audit.target(&name).commit(store, tx, now)?;
    Ok(record)
}

/// Deletes `team`'s key `name`; 404 when the team has no such key.
pub(crate) fn delete(store: &Store, now: SystemTime, team: &str, name: &str, audit: Audit) -> Result<(), ApiError> {
    let found = tsig_key(store, name)?.filter(|k| k.team == team);
    let Some(record) = found else { return Err(ApiError::NotFound(format!("team {team} has no TSIG key {name}"))) };
    let mut tx = Transaction::new();
    tx.catalog_remove(&key(&record.name));
    audit.target(&record.name).commit(store, tx, now)?;
    Ok(())
}
