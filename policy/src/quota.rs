//! Per-team quotas: apps, previews, records and hosted zones.
//!
//! Limits come from the configured defaults, laid under per-team overrides
//! from the configuration ([`QuotaConfig::limits`]) and, where the catalog
//! stores one for a team, under that ([`Quotas::overridden`]). A change is
//! checked as a delta against current usage: only what it adds counts, so a
//! team above a lowered limit can still delete.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Label};

/// A team's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Stable apps registered (decommissioned ones do not count).
    pub apps: u64,
    /// Previews alive at once.
    pub previews: u64,
    /// Records across the team's names and zones.
    pub records: u64,
    /// Team zones hosted here.
    pub hosted_zones: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self { apps: 50, previews: 25, records: 1000, hosted_zones: 2 }
    }
}

/// Some of a team's limits, replacing the defaults where set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaOverride {
    /// Replaces [`Quotas::apps`].
    pub apps: Option<u64>,
    /// Replaces [`Quotas::previews`].
    pub previews: Option<u64>,
    /// Replaces [`Quotas::records`].
    pub records: Option<u64>,
    /// Replaces [`Quotas::hosted_zones`].
    pub hosted_zones: Option<u64>,
}

/// The quotas as configured (the `[policy.quotas]` table).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Every team's limits unless overridden.
    pub default: Quotas,
    /// Overrides by team name.
    pub teams: BTreeMap<Label, QuotaOverride>,
}

/// What a team uses now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Usage {
    /// Stable apps registered.
    pub apps: u64,
    /// Previews alive.
    pub previews: u64,
    /// Records.
    pub records: u64,
    /// Hosted team zones.
    pub hosted_zones: u64,
}

/// How a proposed change would move a team's usage (negative: it frees).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageDelta {
    /// Apps added minus apps removed.
    pub apps: i64,
    /// Previews added minus previews removed.
    pub previews: i64,
    /// Records added minus records removed.
    pub records: i64,
    /// Hosted zones added minus hosted zones removed.
    pub hosted_zones: i64,
}

/// Which quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKind {
    /// [`Quotas::apps`].
    Apps,
    /// [`Quotas::previews`].
    Previews,
    /// [`Quotas::records`].
    Records,
    /// [`Quotas::hosted_zones`].
    HostedZones,
}

impl QuotaConfig {
    /// The limits of `team`: the defaults with the team's configured override.
    pub fn limits(&self, team: &Label) -> Quotas {
        self.teams.get(team).map_or(self.default, |o| self.default.overridden(o))
    }
}

impl Quotas {
    /// These limits with the values `o` sets replaced.
    pub fn overridden(&self, o: &QuotaOverride) -> Quotas {
        Quotas {
            apps: o.apps.unwrap_or(self.apps),
            previews: o.previews.unwrap_or(self.previews),
            records: o.records.unwrap_or(self.records),
            hosted_zones: o.hosted_zones.unwrap_or(self.hosted_zones),
        }
    }

    /// Checks that `delta` on top of `current` stays within these limits;
    /// the error names the first quota it would exceed.
    pub fn check(&self, current: &Usage, delta: &UsageDelta) -> Result<(), Error> {
        let rows = [
            (QuotaKind::Apps, self.apps, current.apps, delta.apps),
            (QuotaKind::Previews, self.previews, current.previews, delta.previews),
            (QuotaKind::Records, self.records, current.records, delta.records),
            (QuotaKind::HostedZones, self.hosted_zones, current.hosted_zones, delta.hosted_zones),
        ];
        for (quota, limit, current, delta) in rows {
            let would_be = current.saturating_add_signed(delta);
            if delta > 0 && would_be > limit {
                return Err(Error::QuotaExceeded { quota, limit, would_be });
            }
        }
        Ok(())
    }
}

impl fmt::Display for QuotaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaKind::Apps => "apps",
            QuotaKind::Previews => "previews",
            QuotaKind::Records => "records",
            QuotaKind::HostedZones => "hosted zones",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    const LIMITS: Quotas = Quotas { apps: 2, previews: 3, records: 10, hosted_zones: 1 };

    fn usage(apps: u64, previews: u64, records: u64, hosted_zones: u64) -> Usage {
        Usage { apps, previews, records, hosted_zones }
    }

    #[test]
    fn reaching_a_limit_is_fine_and_passing_it_is_not() {
        let at = UsageDelta { apps: 1, previews: 1, records: 5, hosted_zones: 1 };
        assert!(LIMITS.check(&usage(1, 2, 5, 0), &at).is_ok());
        let cases = [
            (UsageDelta { apps: 2, ..Default::default() }, QuotaKind::Apps, 2, 3),
            (UsageDelta { previews: 2, ..Default::default() }, QuotaKind::Previews, 3, 4),
            (UsageDelta { records: 6, ..Default::default() }, QuotaKind::Records, 10, 11),
            (UsageDelta { hosted_zones: 1, records: -5, ..Default::default() }, QuotaKind::HostedZones, 1, 2),
        ];
        for (delta, quota, limit, would_be) in cases {
            let err = LIMITS.check(&usage(1, 2, 5, 1), &delta).unwrap_err();
            assert_eq!(err, Error::QuotaExceeded { quota, limit, would_be }, "{delta:?}");
        }
    }

    #[test]
    fn the_error_names_quota_limit_and_would_be_value() {
        let err = LIMITS.check(&usage(0, 0, 10, 0), &UsageDelta { records: 1, ..Default::default() }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "quota exceeded: this change would bring records to 11, above the team's limit of 10"
        );
        let err = LIMITS.check(&usage(0, 0, 0, 1), &UsageDelta { hosted_zones: 1, ..Default::default() });
        assert!(err.unwrap_err().to_string().contains("hosted zones to 2"));
    }

    #[test]
    fn freeing_is_allowed_even_above_a_lowered_limit() {
        let over = usage(5, 9, 50, 3);
        assert!(LIMITS.check(&over, &UsageDelta { records: -1, apps: -1, ..Default::default() }).is_ok());
        assert!(LIMITS.check(&over, &UsageDelta::default()).is_ok());
        assert!(LIMITS.check(&over, &UsageDelta { records: 1, ..Default::default() }).is_err());
        assert!(LIMITS.check(&usage(0, 0, 0, 0), &UsageDelta { records: -3, ..Default::default() }).is_ok());
    }

    #[test]
    fn huge_deltas_saturate_instead_of_wrapping() {
        let err = LIMITS.check(&usage(0, 0, u64::MAX, 0), &UsageDelta { records: i64::MAX, ..Default::default() });
        assert!(matches!(err, Err(Error::QuotaExceeded { would_be: u64::MAX, .. })));
    }

    #[test]
    fn overrides_replace_only_what_they_set() {
        let config: QuotaConfig = toml::from_str(
            "[default]\napps = 10\n[teams.hr]\nrecords = 5000\n[teams.fin]\napps = 1\nhosted_zones = 0\n",
        )
        .unwrap();
        let hr = config.limits(&Label::new("hr").unwrap());
        assert_eq!(hr, Quotas { apps: 10, records: 5000, ..Quotas::default() });
        let fin = config.limits(&Label::new("fin").unwrap());
        assert_eq!((fin.apps, fin.hosted_zones, fin.previews), (1, 0, Quotas::default().previews));
        let other = config.limits(&Label::new("ops").unwrap());
        assert_eq!(other, Quotas { apps: 10, ..Quotas::default() });
        let stored = QuotaOverride { previews: Some(1), ..Default::default() };
        assert_eq!(hr.overridden(&stored), Quotas { previews: 1, ..hr });
    }

    #[test]
    fn config_rejects_unknown_fields_and_bad_team_names() {
        assert!(toml::from_str::<QuotaConfig>("[default]\nzones = 1\n").is_err());
        assert!(toml::from_str::<QuotaConfig>("[teams.HR]\napps = 1\n").is_err());
        assert!(toml::from_str::<QuotaConfig>("apps = 1\n").is_err());
        assert!(serde_json::from_str::<QuotaOverride>(r#"{"apps": 3, "cpu": 1}"#).is_err());
        assert_eq!(serde_json::to_string(&QuotaKind::HostedZones).unwrap(), r#""hosted_zones""#);
    }
}
