//! What a team uses now, for quota checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use policy::{Label, Owner, Policy, Usage};
use zones::{Name, RRset, Store, Zone, ZoneSet};

use crate::zones_catalog::{self, ZoneKind};
use crate::{ApiError, apps_catalog, previews_catalog};

/// Each team's records in each zone version, kept so that a count walks
/// only the zones that changed since the last one (a quota check per write
/// would otherwise walk every record of every zone: tens of milliseconds
/// for a platform zone of 10,000 apps). Clones share the counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordCounts(Arc<Mutex<HashMap<Name, ZoneCounts>>>);

/// The records per team of one zone version.
#[derive(Debug)]
struct ZoneCounts {
    /// The version counted, and the base the next version is diffed
    /// against. Held, so that its address is not reused by another version
    /// while the entry lives.
    zone: Arc<Zone>,
    teams: HashMap<Label, u64>,
}

impl RecordCounts {
    /// The records in every zone of `zones` at names `team` owns.
    pub(crate) fn records(&self, policy: &Policy, zones: &ZoneSet, team: &Label) -> u64 {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total = 0u64;
        for zone in zones.zones() {
            let current = match counts.get_mut(zone.apex()) {
                Some(current) => {
                    current.advance(policy, zone);
                    current
                }
                None => counts.entry(zone.apex().clone()).or_insert_with(|| ZoneCounts::of(policy, zone)),
            };
            total = total.saturating_add(current.teams.get(team).copied().unwrap_or(0));
        }
        counts.retain(|apex, _| zones.get(apex).is_some());
        total
    }
}

impl ZoneCounts {
    /// Counts the records of `zone` by the team that owns their names.
    fn of(policy: &Policy, zone: &Arc<Zone>) -> ZoneCounts {
        let mut counts = ZoneCounts { zone: Arc::clone(zone), teams: HashMap::new() };
        for set in zone.rrsets() {
            counts.count(policy, set, true);
        }
        counts
    }

    /// Moves these counts to `zone`, a later (or other) version of the same
    /// zone, unless they are its already: only the RRsets at names the
    /// versions do not share are looked at ([`Zone::rrsets_changed_since`]).
    fn advance(&mut self, policy: &Policy, zone: &Arc<Zone>) {
        if Arc::ptr_eq(&self.zone, zone) {
            return;
        }
        let earlier = std::mem::replace(&mut self.zone, Arc::clone(zone));
        let (gone, new) = zone.rrsets_changed_since(&earlier);
        for set in gone {
            self.count(policy, set, false);
        }
        for set in new {
            self.count(policy, set, true);
        }
        self.teams.retain(|_, count| *count > 0);
    }

    /// Adds (or takes away) the records of `set` to its owner's count.
    fn count(&mut self, policy: &Policy, set: &RRset, added: bool) {
        if let Owner::Team(team) = policy.scheme.owner(set.name(), self.zone.apex()) {
            let count = self.teams.entry(team).or_default();
            let records = set.rdatas().len() as u64;
            *count = if added { count.saturating_add(records) } else { count.saturating_sub(records) };
        }
    }
}

/// `team`'s apps (live or pending), previews, hosted zones and records.
pub(crate) fn of_team(store: &Store, policy: &Policy, counts: &RecordCounts, team: &Label) -> Result<Usage, ApiError> {
    let hosted =
        zones_catalog::list(store)?.iter().filter(|z| z.team == team.as_str() && z.kind == ZoneKind::Hosted).count()
            as u64;
    let records = counts.records(policy, &store.snapshot(), team);
    let apps =
        apps_catalog::list(store)?.iter().filter(|a| a.team == team.as_str() && a.status.is_active()).count() as u64;
    let previews = previews_catalog::list(store)?.iter().filter(|p| p.team == team.as_str()).count() as u64;
    Ok(Usage { apps, previews, hosted_zones: hosted, records })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    const BASE: &str = "$ORIGIN apps.company.com.
@ 3600 IN SOA ns1 hostmaster.company.com. 1 3600 600 604800 60
@ 3600 IN NS ns1
ns1 3600 IN A 127.0.0.1
web.hr.dev 300 IN A 192.0.2.1
web.hr.dev 300 IN A 192.0.2.2
api.ops.dev 300 IN TXT \"ops\"
";

    fn zone(text: &str) -> Arc<Zone> {
        Arc::new(zones::zonefile::parse(text, None).unwrap())
    }

    fn policy() -> Policy {
        Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::default()).unwrap()
    }

    #[test]
    fn counts_follow_each_zone_version_and_forget_removed_zones() {
        let (policy, counts) = (policy(), RecordCounts::default());
        let (hr, ops) = (Label::new("hr").unwrap(), Label::new("ops").unwrap());
        let first = ZoneSet::default().with_zone(zone(BASE));
        assert_eq!((counts.records(&policy, &first, &hr), counts.records(&policy, &first, &ops)), (2, 1));
        let team_zone = "$ORIGIN hr.apps.company.com.\n@ 3600 IN SOA ns1 h.company.com. 1 3600 600 604800 60\n";
        let team_zone = zone(&format!("{team_zone}@ 3600 IN NS ns1.apps.company.com.\nx 60 IN TXT \"a\"\n"));
        let more = format!("{BASE}shop.hr.dev 300 IN AAAA 2001:db8::1\n");
        let second = first.with_zone(zone(&more)).with_zone(team_zone);
        // Three in the new platform zone, and the team zone's SOA, NS and TXT.
        assert_eq!(
            counts.records(&policy, &second, &hr),
            6,
            "a new version of a zone is counted again, a new zone too"
        );
        assert_eq!(counts.records(&policy, &first, &hr), 2, "and so is an older one");
        assert_eq!(counts.0.lock().unwrap().len(), 1, "the entry of a zone no longer in the set is dropped");
        let platform = first.zones()[0].clone();
        let mut change = zones::ChangeSet::new(platform.apex(), "test", "");
        change.push(zones::Op::RemoveName("web.hr.dev.apps.company.com.".parse().unwrap()));
        let (changed, _) = change.apply(&platform, std::time::SystemTime::UNIX_EPOCH).unwrap();
        let third = first.with_zone(Arc::new(changed));
        assert_eq!(counts.records(&policy, &third, &hr), 0, "counted from the change: the two A records are gone");
        assert_eq!(counts.records(&policy, &third, &ops), 1);
        let fresh = ZoneCounts::of(&policy, third.zones()[0]).teams;
        assert_eq!(counts.0.lock().unwrap().values().next().unwrap().teams, fresh, "as a full count finds");
        let apex: Name = "apps.company.com.".parse().unwrap();
        assert_eq!(counts.records(&policy, &first.without_zone(&apex), &hr), 0);
    }
}
