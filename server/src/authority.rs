//! The binary's [`Authority`]: what the DNS side may ask of the catalog and
//! the API's write path.
//!
//! - `tsig_key`: keys of the configuration (`[[dns.tsig_keys]]`, no team)
//!   first, then teams' keys from the catalog (`tsig/<name>`, made with
//!   `POST /api/v1/teams/{team}/tsig-keys`).
//! - `update`: the API's own path ([`api::AppState::dns_update`]): every
//!   owner name authorized for the key's team as a `member`, the team's
//!   records quota, one audited change set (who = the key), durable before
//!   it returns.
//! - `may_transfer`: a team key may transfer the zones its team owns (its
//!   hosted zones in the catalog). Configured secondaries (address and/or
//!   key) are the transfer code's own check (`dns::xfr`), which asks here
//!   only for what it does not know itself; so without a team key this
//!   answers `false`.
//!
//! The API state is made inside the async runtime, after the UDP workers
//! start; it is attached once with [`NameplateAuthority::attach`]. Until
//! then team keys are unknown and updates fail (SERVFAIL).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use zones::{ChangeSet, Name};

use crate::config::TsigKeyConfig;
use crate::dns::authority::{Algorithm, Authority, Refusal, TsigKey};
use crate::dns::tsig;

/// Configured keys plus the API's catalog and write path.
pub struct NameplateAuthority {
    configured: HashMap<Name, TsigKey>,
    api: OnceLock<api::AppState>,
}

impl NameplateAuthority {
    /// The authority with the configured `keys` (names, algorithms and
    /// base64 secrets checked here, so a bad one stops the start).
    pub fn new(keys: &[TsigKeyConfig]) -> Result<Self> {
        let mut configured = HashMap::new();
        for key in keys {
            let name = key_name(&key.name).with_context(|| format!("dns.tsig_keys: bad key name {:?}", key.name))?;
            let Some(algorithm) = Algorithm::from_name(&key.algorithm) else {
                bail!("dns.tsig_keys: key {}: unknown algorithm {:?}", key.name, key.algorithm);
            };
            let Some(secret) = tsig::decode_secret(&key.secret) else {
                bail!("dns.tsig_keys: key {}: the secret is not base64", key.name);
            };
            let key = TsigKey { name: name.clone(), algorithm, secret, team: None };
            if configured.insert(name.clone(), key).is_some() {
                bail!("dns.tsig_keys: key {name} is listed twice");
            }
        }
        Ok(Self { configured, api: OnceLock::new() })
    }

    /// Attaches the API state (once; later calls are ignored).
    pub fn attach(&self, state: api::AppState) {
        let _ = self.api.set(state);
    }
}

fn key_name(text: &str) -> Result<Name> {
    let mut name = Name::from_ascii(text.trim())?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

impl Authority for NameplateAuthority {
    fn tsig_key(&self, name: &Name) -> Option<TsigKey> {
        let name = name.to_lowercase();
        if let Some(key) = self.configured.get(&name) {
            return Some(key.clone());
        }
        let record = match self.api.get()?.team_tsig_key(&name.to_ascii()) {
            Ok(record) => record?,
            Err(error) => {
                tracing::error!(%error, "reading a TSIG key from the catalog");
                return None;
            }
        };
        let algorithm = Algorithm::from_name(&record.algorithm)?;
        let secret = tsig::decode_secret(&record.secret)?;
        Some(TsigKey { name, algorithm, secret, team: Some(record.team) })
    }

    fn may_transfer(&self, _peer: IpAddr, key: Option<&TsigKey>, zone: &Name) -> bool {
        let (Some(key), Some(api)) = (key, self.api.get()) else { return false };
        let Some(team) = &key.team else { return false };
        api.team_owns_zone(team, zone).unwrap_or_else(|error| {
            tracing::error!(%error, "reading the zone catalog for a transfer");
            false
        })
    }

    fn update(&self, key: &TsigKey, change: ChangeSet) -> Result<(), Refusal> {
        let Some(team) = &key.team else { return Err(Refusal::Refused("a configured key may not update".into())) };
        let Some(api) = self.api.get() else { return Err(Refusal::Failed("the API is not ready".into())) };
        let zone = change.zone.to_ascii();
        match api.dns_update(&key.name.to_ascii(), team, change) {
            Ok(serial) => {
                tracing::info!(key = %key.name, %team, %zone, ?serial, "dns update applied");
                Ok(())
            }
            Err(error) => Err(refusal(error)),
        }
    }
}

/// The refusal an API error becomes.
fn refusal(error: api::ApiError) -> Refusal {
    use api::ApiError as E;
    match error {
        E::Forbidden(reason) | E::QuotaExceeded(reason) | E::NotFound(reason) => Refusal::Refused(reason),
        E::InvalidRecords(reason) | E::InvalidRequest(reason) | E::InvalidName(reason) => Refusal::Invalid(reason),
        other => Refusal::Failed(other.to_string()),
    }
}
