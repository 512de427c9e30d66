//! What a team uses now, for quota checks.

use policy::{Label, Owner, Policy, Usage};
use zones::{Store, ZoneSet};

use crate::zones_catalog::{self, ZoneKind};
use crate::{ApiError, apps_catalog, previews_catalog};

/// The records in every zone at names `team` owns.
pub(crate) fn records(policy: &Policy, zones: &ZoneSet, team: &Label) -> u64 {
    let mut count = 0u64;
    for zone in zones.zones() {
        for set in zone.rrsets() {
            if policy.scheme.owner(set.name(), zone.apex()) == Owner::Team(team.clone()) {
                count = count.saturating_add(set.rdatas().len() as u64);
            }
        }
    }
    count
}

/// `team`'s apps (live or pending), previews, hosted zones and records.
pub(crate) fn of_team(store: &Store, policy: &Policy, team: &Label) -> Result<Usage, ApiError> {
    let hosted =
        zones_catalog::list(store)?.iter().filter(|z| z.team == team.as_str() && z.kind == ZoneKind::Hosted).count()
            as u64;
    let records = records(policy, &store.snapshot(), team);
    let apps =
        apps_catalog::list(store)?.iter().filter(|a| a.team == team.as_str() && a.status.is_active()).count() as u64;
    let previews = previews_catalog::list(store)?.iter().filter(|p| p.team == team.as_str()).count() as u64;
    Ok(Usage { apps, previews, hosted_zones: hosted, records })
}
