//! The DNS data validation and CAA read, as seams the edge fills in.
//!
//! [`DnsView`] answers from the zones served here; [`zones::ZoneSet`]
//! implements it with its authoritative lookup, so CNAME chains are followed
//! across the zones served (zones bounds the chain at 16 links and stops at
//! loops). A name at or below an external delegation (an NS cut to a team's
//! own nameservers) gives [`Lookup::Delegated`] with the nameservers and
//! their glue; [`Resolver`] then asks [`ExternalDns`], a blocking seam the
//! edge implements by querying those servers. No sockets here.

use std::net::IpAddr;

use hickory_proto::rr::rdata::CAA;
use zones::{Name, Outcome, RData, Record, RecordType, ZoneSet};

use super::error::problem;
use super::problem::{Problem, ProblemType};

/// An external delegation met during a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The name to ask about (after the CNAMEs followed here).
    pub qname: Name,
    /// The delegated nameservers.
    pub nameservers: Vec<Name>,
    /// Their glue addresses, from the parent zone.
    pub glue: Vec<IpAddr>,
}

/// The outcome of one lookup in the zones served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The data (after following CNAMEs).
    Found(Vec<T>),
    /// The name has no such data, or does not exist.
    Empty,
    /// The name is under an external delegation: ask those servers.
    Delegated(Delegation),
    /// The name (or a CNAME target) is outside every zone served here.
    Outside(Name),
}

/// Read access to the zone data for validation and CAA.
pub trait DnsView {
    /// The TXT strings at `name` (each record's strings concatenated).
    fn txt(&self, name: &Name) -> Lookup<String>;
    /// The A and AAAA addresses of `name`.
    fn addresses(&self, name: &Name) -> Lookup<IpAddr>;
    /// The CAA records at `name`.
    fn caa(&self, name: &Name) -> Lookup<CAA>;
}

/// Lookups at a team's delegated nameservers; implemented by the edge
/// (blocking; it bounds its own time). Errors are `dns` problems.
pub trait ExternalDns {
    /// The TXT strings at `delegation.qname`.
    fn txt(&self, delegation: &Delegation) -> Result<Vec<String>, Problem>;
    /// The addresses of `delegation.qname`.
    fn addresses(&self, delegation: &Delegation) -> Result<Vec<IpAddr>, Problem>;
    /// The CAA records at `delegation.qname`.
    fn caa(&self, delegation: &Delegation) -> Result<Vec<CAA>, Problem>;
}

/// An [`ExternalDns`] that refuses every lookup: for deployments (and
/// tests) where only zones served here may be validated.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExternalDns;

impl ExternalDns for NoExternalDns {
    fn txt(&self, d: &Delegation) -> Result<Vec<String>, Problem> {
        Err(not_served(&d.qname))
    }
    fn addresses(&self, d: &Delegation) -> Result<Vec<IpAddr>, Problem> {
        Err(not_served(&d.qname))
    }
    fn caa(&self, d: &Delegation) -> Result<Vec<CAA>, Problem> {
        Err(not_served(&d.qname))
    }
}

fn not_served(name: &Name) -> Problem {
    problem(ProblemType::Dns, format!("{name} is not served here and external lookups are disabled"))
}

/// The zones served here plus the external seam: complete answers.
#[derive(Clone, Copy)]
pub struct Resolver<'a> {
    /// The zones served here.
    pub view: &'a dyn DnsView,
    /// Lookups below external delegations.
    pub external: &'a dyn ExternalDns,
}

impl Resolver<'_> {
    /// TXT strings at `name`; `dns` when the name is outside the zones known.
    pub fn txt(&self, name: &Name) -> Result<Vec<String>, Problem> {
        finish(self.view.txt(name), |d| self.external.txt(d))
    }

    /// The addresses of `name`.
    pub fn addresses(&self, name: &Name) -> Result<Vec<IpAddr>, Problem> {
        finish(self.view.addresses(name), |d| self.external.addresses(d))
    }

    /// CAA records at `name`; a name outside the zones known has none here.
    pub fn caa(&self, name: &Name) -> Result<Vec<CAA>, Problem> {
        match self.view.caa(name) {
            Lookup::Outside(_) => Ok(Vec::new()),
            other => finish(other, |d| self.external.caa(d)),
        }
    }
}

fn finish<T>(
    lookup: Lookup<T>,
    external: impl FnOnce(&Delegation) -> Result<Vec<T>, Problem>,
) -> Result<Vec<T>, Problem> {
    match lookup {
        Lookup::Found(v) => Ok(v),
        Lookup::Empty => Ok(Vec::new()),
        Lookup::Delegated(d) => external(&d),
        Lookup::Outside(name) => Err(problem(ProblemType::Dns, format!("{name} is outside the zones served here"))),
    }
}

impl DnsView for ZoneSet {
    fn txt(&self, name: &Name) -> Lookup<String> {
        lookup(self, name, RecordType::TXT, txt_string)
    }

    fn addresses(&self, name: &Name) -> Lookup<IpAddr> {
        let v6 = lookup(self, name, RecordType::AAAA, address);
        let v4 = lookup(self, name, RecordType::A, address);
        match (v6, v4) {
            (Lookup::Found(mut a), Lookup::Found(b)) => Lookup::Found({
                a.extend(b);
                a
            }),
            (Lookup::Found(a), _) | (_, Lookup::Found(a)) => Lookup::Found(a),
            (_, other) => other,
        }
    }

    fn caa(&self, name: &Name) -> Lookup<CAA> {
        lookup(self, name, RecordType::CAA, |r| match r {
            RData::CAA(c) => Some(c.clone()),
            _ => None,
        })
    }
}

/// One lookup of `rtype` at `name`, classified; `pick` extracts the data.
fn lookup<T>(zones: &ZoneSet, name: &Name, rtype: RecordType, pick: impl Fn(&RData) -> Option<T>) -> Lookup<T> {
    let answer = zones.lookup(name, rtype);
    let found: Vec<T> =
        answer.answers.iter().filter(|r| r.record_type() == rtype).filter_map(|r| pick(&r.data)).collect();
    match answer.outcome {
        _ if !found.is_empty() => Lookup::Found(found),
        Outcome::Refused => Lookup::Outside(name.clone()),
        Outcome::Delegation => Lookup::Delegated(delegation(last_target(&answer.answers, name), &answer)),
        Outcome::Hit => after_cnames(zones, &answer.answers, name),
        _ => Lookup::Empty,
    }
}

/// A hit with only CNAMEs: the chain left our zones, or looped.
fn after_cnames<T>(zones: &ZoneSet, answers: &[Record], name: &Name) -> Lookup<T> {
    let target = last_target(answers, name);
    if zones.closest_zone(&target).is_none() { Lookup::Outside(target) } else { Lookup::Empty }
}

/// Where the CNAME chain in `answers` ends (`name` when there is none).
fn last_target(answers: &[Record], name: &Name) -> Name {
    answers
        .iter()
        .rev()
        .find_map(|r| match &r.data {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        })
        .unwrap_or_else(|| name.clone())
}

fn delegation(qname: Name, answer: &zones::Answer) -> Delegation {
    let nameservers = answer
        .authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        })
        .collect();
    let glue = answer.additionals.iter().filter_map(|r| address(&r.data)).collect();
    Delegation { qname, nameservers, glue }
}

/// A TXT record's strings, concatenated (the form a dns-01 value takes).
pub fn txt_string(data: &RData) -> Option<String> {
    match data {
        RData::TXT(t) => Some(t.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect()),
        _ => None,
    }
}

/// An A or AAAA record's address.
pub fn address(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;

    pub(crate) const PARENT: &str = r#"$ORIGIN example.com.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.1
_acme-challenge.app 60 IN TXT "value-one"
_acme-challenge.app 60 IN TXT "value-" "two"
www 300 IN A 192.0.2.80
www 300 IN AAAA 2001:db8::80
_acme-challenge.alias 60 IN CNAME _acme-challenge.app.child
_acme-challenge.away 60 IN CNAME elsewhere.example.net.
_acme-challenge.loop 60 IN CNAME _acme-challenge.loop
ext 3600 IN NS ns.ext
ext 3600 IN NS ns.other.net.
ns.ext 3600 IN A 198.51.100.53
_acme-challenge.toext 60 IN CNAME _acme-challenge.www.ext
"#;

    pub(crate) const CHILD: &str = r#"$ORIGIN child.example.com.
@ 3600 IN SOA ns1 hostmaster 7 3600 600 604800 30
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.53
_acme-challenge.app 60 IN TXT "from-child"
"#;

    pub(crate) fn zoneset() -> ZoneSet {
        let parent = zones::zonefile::parse(PARENT, None).unwrap();
        let child = zones::zonefile::parse(CHILD, None).unwrap();
        ZoneSet::new().with_zone(Arc::new(parent)).with_zone(Arc::new(child))
    }

    pub(crate) fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn txt_found_with_strings_joined() {
        let Lookup::Found(mut v) = zoneset().txt(&name("_acme-challenge.app.example.com.")) else { panic!() };
        v.sort();
        assert_eq!(v, ["value-one", "value-two"]);
    }

    #[test]
    fn cname_is_followed_into_another_zone_served_here() {
        let got = zoneset().txt(&name("_acme-challenge.alias.example.com."));
        assert_eq!(got, Lookup::Found(vec!["from-child".to_owned()]));
    }

    #[test]
    fn missing_loop_and_outside() {
        let zs = zoneset();
        assert_eq!(zs.txt(&name("_acme-challenge.nothing.example.com.")), Lookup::Empty);
        assert_eq!(zs.txt(&name("_acme-challenge.loop.example.com.")), Lookup::Empty);
        assert_eq!(zs.txt(&name("_acme-challenge.away.example.com.")), Lookup::Outside(name("elsewhere.example.net.")));
        assert_eq!(zs.txt(&name("x.example.org.")), Lookup::Outside(name("x.example.org.")));
    }

    #[test]
    fn external_delegation_returns_nameservers_and_glue() {
        let Lookup::Delegated(d) = zoneset().txt(&name("_acme-challenge.toext.example.com.")) else { panic!() };
        assert_eq!(d.qname, name("_acme-challenge.www.ext.example.com."));
        let mut ns: Vec<String> = d.nameservers.iter().map(|n| n.to_ascii().to_lowercase()).collect();
        ns.sort();
        assert_eq!(ns, ["ns.ext.example.com.", "ns.other.net."]);
        assert_eq!(d.glue, ["198.51.100.53".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn addresses_prefer_v6_then_v4() {
        let got = zoneset().addresses(&name("www.example.com."));
        let want = ["2001:db8::80", "192.0.2.80"].map(|a| a.parse::<IpAddr>().unwrap()).to_vec();
        assert_eq!(got, Lookup::Found(want));
    }

    /// Answers every TXT question with the name asked about.
    struct Echo;
    impl ExternalDns for Echo {
        fn txt(&self, d: &Delegation) -> Result<Vec<String>, Problem> {
            Ok(vec![format!("{} via {}", d.qname, d.glue.len())])
        }
        fn addresses(&self, _: &Delegation) -> Result<Vec<IpAddr>, Problem> {
            Ok(vec![])
        }
        fn caa(&self, _: &Delegation) -> Result<Vec<CAA>, Problem> {
            Ok(vec![])
        }
    }

    #[test]
    fn resolver_hands_delegated_names_to_external_dns() {
        let zs = zoneset();
        let r = Resolver { view: &zs, external: &Echo };
        let got = r.txt(&name("_acme-challenge.toext.example.com.")).unwrap();
        assert_eq!(got, ["_acme-challenge.www.ext.example.com. via 1"]);
        assert_eq!(r.txt(&name("_acme-challenge.app.child.example.com.")).unwrap(), ["from-child"]);
    }

    #[test]
    fn resolver_asks_external_only_below_delegations() {
        let zs = zoneset();
        let r = Resolver { view: &zs, external: &NoExternalDns };
        assert_eq!(r.txt(&name("_acme-challenge.nothing.example.com.")).unwrap(), Vec::<String>::new());
        assert_eq!(r.txt(&name("a.ext.example.com.")).unwrap_err().kind, ProblemType::Dns);
        assert!(r.caa(&name("com.")).unwrap().is_empty());
    }
}
