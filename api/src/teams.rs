//! Teams in the catalog.
//!
//! ```text
//! team/<name> -> JSON TeamRecord {name, region, quotas?, created_at}
//! ```
//!
//! Team names are checked by the naming scheme ([`policy::Scheme::team`]):
//! lowercase LDH labels that are no environment, region or reserved label.
//! `quotas` overrides some of the configured limits for this team.

use std::time::SystemTime;

use policy::{Label, Policy, QuotaOverride, Quotas};
use serde::{Deserialize, Serialize};
use zones::{Store, Transaction};

use crate::audit::Audit;
use crate::auth::Principal;
use crate::{ApiError, rfc3339};

/// A team as stored and as returned by the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamRecord {
    /// The team's name, a DNS label.
    pub(crate) name: String,
    /// The team's home region, if any.
    pub(crate) region: Option<String>,
    /// Limits that replace the configured ones for this team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quotas: Option<QuotaOverride>,
    /// When the team was created (RFC 3339).
    pub(crate) created_at: String,
}

impl TeamRecord {
    /// A team created at `now`.
    pub(crate) fn new(name: &str, region: Option<&str>, now: SystemTime) -> Self {
        Self { name: name.to_owned(), region: region.map(str::to_owned), quotas: None, created_at: rfc3339(now) }
    }

    /// The team's limits: the configured ones, with its stored override.
    pub(crate) fn limits(&self, policy: &Policy) -> Result<Quotas, ApiError> {
        let label = Label::new(&self.name)?;
        let configured = policy.quotas.limits(&label);
        Ok(self.quotas.as_ref().map_or(configured, |o| configured.overridden(o)))
    }
}

fn key(name: &str) -> Vec<u8> {
    format!("team/{name}").into_bytes()
}

/// The team called `name`, if any.
pub(crate) fn get(store: &Store, name: &str) -> Result<Option<TeamRecord>, ApiError> {
    match store.catalog_get(&key(name))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Every team, by name.
pub(crate) fn list(store: &Store) -> Result<Vec<TeamRecord>, ApiError> {
    store.catalog_scan(b"team/")?.iter().map(|(_, bytes)| Ok(serde_json::from_slice(bytes)?)).collect()
}

/// Adds `team` to `tx`.
pub(crate) fn stage(tx: &mut Transaction, team: &TeamRecord) -> Result<(), ApiError> {
    tx.catalog_put(&key(&team.name), serde_json::to_vec(team)?);
    Ok(())
}

/// Creates the platform team unless it exists.
pub fn ensure_platform_team(store: &Store, now: SystemTime) -> Result<(), ApiError> {
    if get(store, crate::PLATFORM_TEAM)?.is_none() {
        let mut tx = Transaction::new();
        stage(&mut tx, &TeamRecord::new(crate::PLATFORM_TEAM, None, now))?;
        Audit::system("bootstrap", crate::PLATFORM_TEAM, "team.create", crate::PLATFORM_TEAM).commit(store, tx, now)?;
    }
    Ok(())
}

/// What `POST /teams` asks for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTeam {
    /// The team's name.
    pub(crate) name: String,
    /// Its home region.
    #[serde(default)]
    pub(crate) region: Option<String>,
    /// Limits replacing the configured ones.
    #[serde(default)]
    pub(crate) quotas: Option<QuotaOverride>,
}

/// Creates the team `new` asks for (a name the scheme allows, unused),
/// durably.
pub(crate) fn create(
    store: &Store,
    policy: &Policy,
    now: SystemTime,
    new: &NewTeam,
    by: &Principal,
) -> Result<TeamRecord, ApiError> {
    let name = policy.scheme.team(&new.name)?;
    if let Some(region) = &new.region {
        check_label("region", region)?;
        // A region-split platform knows its regions; elsewhere the region
        // is only the team's home, for information.
        if policy.scheme.zones().iter().any(|z| z.region().is_some()) {
            policy.scheme.zone_for(Some(region))?;
        }
    }
    if get(store, name.as_str())?.is_some() {
        return Err(ApiError::Conflict(format!("team {name} exists already")));
    }
    let mut team = TeamRecord::new(name.as_str(), new.region.as_deref(), now);
    team.quotas = new.quotas;
    let mut tx = Transaction::new();
    stage(&mut tx, &team)?;
    Audit::by(by, &team.name, "team.create", &team.name).commit(store, tx, now)?;
    Ok(team)
}

/// Checks that `label` is a lowercase LDH DNS label of 1 to 63 bytes that
/// neither starts nor ends with a hyphen.
pub(crate) fn check_label(what: &str, label: &str) -> Result<(), ApiError> {
    let bad = |why: &str| Err(ApiError::InvalidName(format!("{what} {label:?} {why}")));
    if label.is_empty() || label.len() > 63 {
        return bad("must be 1 to 63 characters long");
    }
    if !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return bad("may hold only lowercase letters, digits and hyphens");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return bad("may not start or end with a hyphen");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for good in ["hr", "a", "team-7", &"x".repeat(63)] {
            assert!(check_label("team name", good).is_ok(), "{good}");
        }
        for bad in ["", "HR", "-hr", "hr-", "h_r", "h.r", "hé", &"x".repeat(64)] {
            assert!(matches!(check_label("team name", bad), Err(ApiError::InvalidName(_))), "{bad}");
        }
    }
}
