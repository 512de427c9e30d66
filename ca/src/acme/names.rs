//! A [`NamePolicy`] over the naming scheme and the zones served.
//!
//! [`policy::Scheme::owner`] says which team owns a name given the zone it
//! lives in. The zone is the closest served zone, or the delegation cut
//! when the name is at or below an NS cut (an external team zone). Then:
//!
//! - outside every platform zone: `rejectedIdentifier`;
//! - owned by the platform or another team: `unauthorized`;
//! - owned by the team: allowed, and pre-authorizable when the zone is
//!   served here (not under an external delegation).
//!
//! Lifetimes come from `[policy.certs]` (per environment and profile), the
//! same rules direct issuance applies.

use std::time::Duration;

use policy::{CertConfig, CertRequest, Owner, Profile, Scheme};
use zones::{Name, RecordType, ZoneSet};

use super::error::problem;
use super::problem::{Problem, ProblemType};
use super::service::{NameDecision, NamePolicy};
use super::types::Identifier;

/// Team ownership by `policy`'s scheme over a zone snapshot.
#[derive(Clone, Copy)]
pub struct SchemePolicy<'a> {
    /// The naming scheme.
    pub scheme: &'a Scheme,
    /// The zones served now.
    pub zones: &'a ZoneSet,
    /// Certificate lifetimes.
    pub certs: &'a CertConfig,
}

impl NamePolicy for SchemePolicy<'_> {
    fn check(&self, team: &str, identifier: &Identifier) -> Result<NameDecision, Problem> {
        let name = identifier.name()?;
        let (zone, hosted) = self.zone_of(&name);
        match self.scheme.owner(&name, &zone) {
            Owner::Team(owner) if owner.as_str() == team => Ok(NameDecision { pre_authorizable: hosted }),
            Owner::Team(_) => Err(problem(ProblemType::Unauthorized, format!("{identifier} belongs to another team"))),
            Owner::Platform => Err(problem(ProblemType::Unauthorized, format!("{identifier} belongs to the platform"))),
            Owner::Unmanaged => {
                Err(problem(ProblemType::RejectedIdentifier, format!("{identifier} is outside the platform zones")))
            }
        }
    }

    fn lifetime(&self, names: &[String], profile: &str) -> Option<Duration> {
        let pairs: Vec<(Name, Name)> = names
            .iter()
            .filter_map(|n| Name::from_ascii(n.trim_start_matches("*.")).ok())
            .map(|name| {
                let zone = self.zone_of(&name).0;
                (name, zone)
            })
            .collect();
        let profile = if profile == "shortlived" { Profile::Shortlived } else { Profile::Default };
        let request = CertRequest { names: &pairs, profile, ttl_seconds: None, client_auth: false };
        self.certs.lifetime(self.scheme, &request).ok()
    }
}

impl SchemePolicy<'_> {
    /// The apex of the zone `name` lives in, and whether it is served here.
    fn zone_of(&self, name: &Name) -> (Name, bool) {
        let Some(zone) = self.zones.closest_zone(name) else {
            return (Name::root(), false);
        };
        let labels = name.iter().len();
        let cut = (zone.apex().iter().len() + 1..=labels)
            .map(|depth| name.trim_to(depth))
            .find(|ancestor| zone.rrset(ancestor, RecordType::NS).is_some());
        match cut {
            Some(cut) => (cut, false),
            None => (zone.apex().clone(), true),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use policy::SchemeConfig;

    use super::*;

    const PLATFORM: &str = r#"$ORIGIN apps.company.com.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.1
blue 3600 IN NS ns.other.net.
red 3600 IN NS ns1
"#;

    const RED: &str = r#"$ORIGIN red.apps.company.com.
@ 3600 IN SOA ns1.apps.company.com. hostmaster 1 3600 600 604800 30
@ 3600 IN NS ns1.apps.company.com.
"#;

    fn check(team: &str, name: &str) -> Result<bool, ProblemType> {
        let scheme = Scheme::new(&SchemeConfig::default()).unwrap();
        let parse = |text| Arc::new(zones::zonefile::parse(text, None).unwrap());
        let zones = ZoneSet::new().with_zone(parse(PLATFORM)).with_zone(parse(RED));
        let certs = CertConfig::default();
        let policy = SchemePolicy { scheme: &scheme, zones: &zones, certs: &certs };
        let id = Identifier::parse("dns", name).unwrap();
        policy.check(team, &id).map(|d| d.pre_authorizable).map_err(|p| p.kind)
    }

    #[test]
    fn lifetimes_follow_the_policy_per_environment_and_profile() {
        let scheme = Scheme::new(&SchemeConfig::default()).unwrap();
        let zones = ZoneSet::new().with_zone(Arc::new(zones::zonefile::parse(PLATFORM, None).unwrap()));
        let certs = CertConfig::default();
        let policy = SchemePolicy { scheme: &scheme, zones: &zones, certs: &certs };
        let hours = |h: u64| Some(Duration::from_secs(h * 3600));
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(policy.lifetime(&names(&["web.green.prod.apps.company.com"]), "default"), hours(7 * 24));
        assert_eq!(policy.lifetime(&names(&["*.green.dev.apps.company.com"]), "default"), hours(24));
        let mixed = names(&["web.green.prod.apps.company.com", "pr-7.web.green.preview.apps.company.com"]);
        assert_eq!(policy.lifetime(&mixed, "default"), hours(6), "the shortest of its names'");
        assert_eq!(policy.lifetime(&names(&["web.green.prod.apps.company.com"]), "shortlived"), hours(6));
    }

    #[test]
    fn team_subtrees_in_served_zones_are_pre_authorizable() {
        assert_eq!(check("green", "web.green.prod.apps.company.com"), Ok(true));
        assert_eq!(check("green", "*.green.prod.apps.company.com"), Ok(true));
        assert_eq!(check("red", "www.red.apps.company.com"), Ok(true));
    }

    #[test]
    fn external_team_zones_need_a_challenge() {
        assert_eq!(check("blue", "www.blue.apps.company.com"), Ok(false));
    }

    #[test]
    fn others_names_and_outside_names_are_refused() {
        assert_eq!(check("red", "web.green.prod.apps.company.com"), Err(ProblemType::Unauthorized));
        assert_eq!(check("red", "www.blue.apps.company.com"), Err(ProblemType::Unauthorized));
        assert_eq!(check("red", "prod.apps.company.com"), Err(ProblemType::Unauthorized));
        assert_eq!(check("red", "www.example.org"), Err(ProblemType::RejectedIdentifier));
    }
}
