//! The authoritative lookup: RFC 1034 §4.3.2 with RFC 4592 wildcards, RFC 2308
//! negative answers and CNAME chains followed across the zones served.
//!
//! The answer is built in stages: [`Zone::resolve`] classifies one name into
//! a [`Step`], then [`ZoneSet::lookup`] fills the answer, authority and
//! additional sections from it, following CNAMEs until a final step.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::{RRset, Zone, ZoneSet};

/// The longest CNAME chain followed before answering with what was found.
const MAX_CNAME_CHAIN: usize = 16;

/// What kind of answer a lookup produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The requested data (possibly after CNAMEs, possibly synthesized from a wildcard).
    Hit,
    /// The name exists but has no data of the requested type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The name is below a delegation cut: a referral.
    Delegation,
    /// No zone served here encloses the name.
    Refused,
}

/// The sections of an answer, before encoding.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// What kind of answer this is.
    pub outcome: Outcome,
    /// The response code.
    pub rcode: ResponseCode,
    /// Whether the AA bit is set.
    pub authoritative: bool,
    /// Whether a wildcard produced (part of) the answer, so that it depends on
    /// the query name itself.
    pub synthesized: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section.
    pub additionals: Vec<Record>,
}

impl Answer {
    fn new(outcome: Outcome, rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            outcome,
            rcode,
            authoritative,
            synthesized: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }

    /// The answer for a name outside every zone served.
    pub fn refused() -> Self {
        Self::new(Outcome::Refused, ResponseCode::Refused, false)
    }
}

/// How one name resolves inside one zone.
enum Step<'z> {
    /// RRsets that answer the question, owned by `owner` (the query name when
    /// synthesized from a wildcard).
    Found { owner: Name, sets: Vec<&'z RRset> },
    /// A CNAME at `owner` (also synthesized) that does not answer the question itself.
    Alias { owner: Name, cname: &'z RRset },
    /// The name exists, the type does not.
    NoData,
    /// The name does not exist and no wildcard covers it.
    NxDomain,
    /// The name is at or below the cut whose NS RRset this is.
    Delegation(&'z RRset),
}

impl ZoneSet {
    /// Answers `qtype` at `qname` from the zones in this set.
    pub fn lookup(&self, qname: &Name, qtype: RecordType) -> Answer {
        let mut name = qname.clone();
        name.set_fqdn(true); // zones hold fully qualified names; callers' may lack the dot
        let Some(first) = self.zone_for(&name, qtype) else {
            return Answer::refused();
        };
        let mut answer = Answer::new(Outcome::Hit, ResponseCode::NoError, true);
        let mut zone: &Arc<Zone> = first;
        for _ in 0..MAX_CNAME_CHAIN {
            let (step, wildcard) = zone.resolve(&name, qtype);
            answer.synthesized |= wildcard;
            match step {
                Step::Found { owner, sets } => return finish_hit(answer, zone, &owner, &sets),
                Step::NoData => return finish_negative(answer, zone, Outcome::NoData),
                Step::NxDomain => return finish_negative(answer, zone, Outcome::NxDomain),
                Step::Delegation(ns) => return finish_referral(answer, zone, ns),
                Step::Alias { owner, cname } => {
                    answer.answers.extend(cname.records_as(&owner, cname.ttl()));
                    let Some(RData::CNAME(target)) = cname.rdatas().first() else {
                        return answer;
                    };
                    let target = target.0.clone();
                    if answer.answers.iter().any(|r| r.name == target) {
                        return answer; // a loop: answer with the chain so far
                    }
                    match self.zone_for(&target, qtype) {
                        Some(next) => zone = next,
                        None => return answer, // leaves our zones: the resolver continues
                    }
                    name = target;
                }
            }
        }
        answer
    }
}

/// Adds the found RRsets and the addresses of the names they point at.
fn finish_hit(mut answer: Answer, zone: &Zone, owner: &Name, sets: &[&RRset]) -> Answer {
    for set in sets {
        answer.answers.extend(set.records_as(owner, set.ttl()));
        add_target_addresses(&mut answer.additionals, zone, set);
    }
    answer
}

/// NODATA or NXDOMAIN: the SOA in authority with the negative TTL of RFC 2308 §5.
fn finish_negative(mut answer: Answer, zone: &Zone, outcome: Outcome) -> Answer {
    let soa = zone.soa();
    let minimum = match soa.rdatas().first() {
        Some(RData::SOA(s)) => s.minimum,
        _ => soa.ttl(),
    };
    answer.authorities.extend(soa.records_as(soa.name(), soa.ttl().min(minimum)));
    answer.outcome = outcome;
    if outcome == Outcome::NxDomain {
        answer.rcode = ResponseCode::NXDomain;
    }
    answer
}

/// A referral: the cut's NS RRset in authority and its glue in additional.
/// AA stays set only when a CNAME from our own data led here.
fn finish_referral(mut answer: Answer, zone: &Zone, ns: &RRset) -> Answer {
    answer.authorities.extend(ns.records());
    add_target_addresses(&mut answer.additionals, zone, ns);
    answer.outcome = Outcome::Delegation;
    answer.authoritative = !answer.answers.is_empty();
    answer
}

/// For NS, MX and SRV RRsets, the A and AAAA records of their targets found
/// in `zone` (including glue below cuts), once each.
fn add_target_addresses(additionals: &mut Vec<Record>, zone: &Zone, set: &RRset) {
    for rdata in set.rdatas() {
        let target = match rdata {
            RData::NS(ns) => &ns.0,
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            _ => continue,
        };
        if !zone.contains(target) || additionals.iter().any(|r| &r.name == target) {
            continue;
        }
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(addresses) = zone.rrset(target, rtype) {
                additionals.extend(addresses.records());
            }
        }
    }
}

impl Zone {
    /// Classifies `name` (inside this zone) for `qtype`; the flag tells
    /// whether a wildcard was used.
    fn resolve(&self, name: &Name, qtype: RecordType) -> (Step<'_>, bool) {
        // Not `num_labels()`: it does not count a leading `*` label.
        let apex_labels = self.apex().iter().len();
        let labels = name.iter().len();
        for depth in apex_labels + 1..=labels {
            let ancestor = name.trim_to(depth);
            let Some(node) = self.node(&ancestor) else {
                return self.resolve_wildcard(name, &ancestor.base_name(), qtype);
            };
            let ds_at_cut = depth == labels && qtype == RecordType::DS;
            if let (Some(ns), false) = (node.get(RecordType::NS), ds_at_cut) {
                return (Step::Delegation(ns), false);
            }
        }
        match self.node(name) {
            Some(node) => (select(node.rrsets(), name.clone(), qtype), false),
            None => (Step::NxDomain, false), // only for a name outside the zone
        }
    }

    /// RFC 4592 §3.3: below the closest encloser, `*.encloser` answers for names
    /// that do not exist.
    fn resolve_wildcard(&self, name: &Name, encloser: &Name, qtype: RecordType) -> (Step<'_>, bool) {
        let Ok(wildcard) = encloser.prepend_label("*") else {
            return (Step::NxDomain, false);
        };
        match self.rrsets_at(&wildcard) {
            Some(sets) => (select(sets, name.clone(), qtype), true),
            None => (Step::NxDomain, false),
        }
    }
}

/// Picks what answers `qtype` among the RRsets at one name.
fn select(sets: &[RRset], owner: Name, qtype: RecordType) -> Step<'_> {
    if qtype == RecordType::ANY && !sets.is_empty() {
        return Step::Found { owner, sets: sets.iter().collect() };
    }
    if let Some(set) = sets.iter().find(|s| s.rtype() == qtype) {
        return Step::Found { owner, sets: vec![set] };
    }
    match sets.iter().find(|s| s.rtype() == RecordType::CNAME) {
        Some(cname) => Step::Alias { owner, cname },
        None => Step::NoData,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;
    use crate::zonefile;

    const PARENT: &str = r#"$ORIGIN example.com.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 120
@ 3600 IN NS ns1
@ 3600 IN NS ns2
@ 300 IN MX 10 mail
ns1 300 IN A 192.0.2.1
ns2 300 IN A 192.0.2.2
www 300 IN A 192.0.2.80
mail 300 IN A 192.0.2.25
alias 300 IN CNAME chain1
chain1 300 IN CNAME www
loop1 300 IN CNAME loop2
loop2 300 IN CNAME loop1
out 300 IN CNAME www.example.net.
tochild 300 IN CNAME www.child
tosub 300 IN CNAME host.sub
*.wild 300 IN A 192.0.2.99
a.b.ent 300 IN TXT "x"
sub 3600 IN NS ns.sub
sub 3600 IN NS ns.other.net.
ns.sub 3600 IN A 198.51.100.53
child 3600 IN NS ns1.child
ns1.child 3600 IN A 192.0.2.53
"#;

    const CHILD: &str = r#"$ORIGIN child.example.com.
@ 3600 IN SOA ns1 hostmaster 7 3600 600 604800 30
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.53
www 300 IN A 192.0.2.54
"#;

    fn zones() -> ZoneSet {
        let parent = zonefile::parse(PARENT, None).unwrap();
        let child = zonefile::parse(CHILD, None).unwrap();
        ZoneSet::new().with_zone(Arc::new(parent)).with_zone(Arc::new(child))
    }

    fn ask(qname: &str, qtype: RecordType) -> Answer {
        zones().lookup(&Name::from_ascii(qname).unwrap(), qtype)
    }

    fn names(records: &[Record]) -> Vec<String> {
        records.iter().map(|r| format!("{} {}", r.name.to_ascii().to_lowercase(), r.record_type())).collect()
    }

    /// The negative-answer SOA: its owner, serial and TTL.
    fn negative_soa(answer: &Answer) -> (String, u32, u32) {
        let [soa] = &answer.authorities[..] else { panic!("authority: {:?}", answer.authorities) };
        let RData::SOA(data) = &soa.data else { panic!("not a SOA: {soa:?}") };
        (soa.name.to_ascii(), data.serial, soa.ttl)
    }

    #[test]
    fn exact_match() {
        let answer = ask("www.example.com.", RecordType::A);
        assert_eq!((answer.outcome, answer.rcode, answer.authoritative), (Outcome::Hit, ResponseCode::NoError, true));
        assert_eq!(names(&answer.answers), ["www.example.com. A"]);
        assert!(answer.authorities.is_empty() && !answer.synthesized);
    }

    #[test]
    fn mx_answers_carry_the_exchange_address() {
        let answer = ask("example.com.", RecordType::MX);
        assert_eq!(names(&answer.additionals), ["mail.example.com. A"]);
    }

    #[test]
    fn mixed_case_and_unqualified_names_find_the_data() {
        let answer = ask("WwW.ExAmPlE.cOm.", RecordType::A);
        assert_eq!((answer.outcome, answer.answers.len()), (Outcome::Hit, 1));
        let answer = ask("www.example.com", RecordType::A);
        assert_eq!((answer.outcome, answer.answers.len()), (Outcome::Hit, 1));
    }

    #[test]
    fn cname_chains_are_followed() {
        let answer = ask("alias.example.com.", RecordType::A);
        assert_eq!(answer.outcome, Outcome::Hit);
        assert_eq!(
            names(&answer.answers),
            ["alias.example.com. CNAME", "chain1.example.com. CNAME", "www.example.com. A"]
        );
        let answer = ask("alias.example.com.", RecordType::CNAME);
        assert_eq!(names(&answer.answers), ["alias.example.com. CNAME"]);
    }

    #[test]
    fn cname_loops_stop() {
        let answer = ask("loop1.example.com.", RecordType::A);
        assert_eq!(names(&answer.answers), ["loop1.example.com. CNAME", "loop2.example.com. CNAME"]);
        assert_eq!(answer.rcode, ResponseCode::NoError);
    }

    #[test]
    fn cnames_leaving_our_zones_end_the_answer() {
        let answer = ask("out.example.com.", RecordType::A);
        assert_eq!(names(&answer.answers), ["out.example.com. CNAME"]);
        assert!(answer.authoritative);
    }

    #[test]
    fn cnames_into_a_hosted_child_zone_continue_there() {
        let answer = ask("tochild.example.com.", RecordType::A);
        assert_eq!(names(&answer.answers), ["tochild.example.com. CNAME", "www.child.example.com. A"]);
        assert_eq!(answer.outcome, Outcome::Hit);
    }

    #[test]
    fn cnames_into_a_delegation_end_in_a_referral_with_aa() {
        let answer = ask("tosub.example.com.", RecordType::A);
        assert_eq!(answer.outcome, Outcome::Delegation);
        assert!(answer.authoritative, "the CNAME is our own data");
        assert_eq!(names(&answer.answers), ["tosub.example.com. CNAME"]);
    }

    #[test]
    fn wildcards_synthesize_for_missing_names() {
        for qname in ["x.wild.example.com.", "y.x.wild.example.com."] {
            let answer = ask(qname, RecordType::A);
            assert_eq!(answer.outcome, Outcome::Hit, "{qname}");
            assert_eq!(names(&answer.answers), [format!("{qname} A")]);
            assert!(answer.synthesized);
        }
        let answer = ask("*.wild.example.com.", RecordType::A);
        assert_eq!(names(&answer.answers), ["*.wild.example.com. A"]);
    }

    #[test]
    fn wildcard_nodata() {
        let answer = ask("x.wild.example.com.", RecordType::TXT);
        assert_eq!((answer.outcome, answer.rcode), (Outcome::NoData, ResponseCode::NoError));
        assert_eq!(negative_soa(&answer), ("example.com.".into(), 1, 120));
    }

    #[test]
    fn empty_non_terminals_are_nodata() {
        for qname in ["b.ent.example.com.", "ent.example.com."] {
            let answer = ask(qname, RecordType::A);
            assert_eq!(
                (answer.outcome, answer.rcode, answer.authoritative),
                (Outcome::NoData, ResponseCode::NoError, true)
            );
            assert!(answer.answers.is_empty());
            assert_eq!(negative_soa(&answer), ("example.com.".into(), 1, 120));
        }
    }

    #[test]
    fn nxdomain_carries_the_soa_with_the_negative_ttl() {
        for qname in ["nope.example.com.", "deeper.www.example.com.", "x.a.b.ent.example.com."] {
            let answer = ask(qname, RecordType::A);
            assert_eq!(
                (answer.outcome, answer.rcode, answer.authoritative),
                (Outcome::NxDomain, ResponseCode::NXDomain, true)
            );
            assert_eq!(negative_soa(&answer), ("example.com.".into(), 1, 120), "min(SOA TTL 3600, MINIMUM 120)");
        }
        let answer = ask("*.example.com.", RecordType::A);
        assert_eq!(answer.outcome, Outcome::NxDomain, "no wildcard at the apex");
    }

    #[test]
    fn names_at_and_below_a_cut_get_a_referral_with_glue() {
        for (qname, qtype) in [
            ("host.sub.example.com.", RecordType::A),
            ("sub.example.com.", RecordType::NS),
            ("sub.example.com.", RecordType::A),
        ] {
            let answer = ask(qname, qtype);
            assert_eq!(
                (answer.outcome, answer.rcode, answer.authoritative),
                (Outcome::Delegation, ResponseCode::NoError, false)
            );
            assert!(answer.answers.is_empty());
            assert_eq!(names(&answer.authorities), ["sub.example.com. NS", "sub.example.com. NS"]);
            assert_eq!(names(&answer.additionals), ["ns.sub.example.com. A"], "only in-zone glue");
        }
    }

    #[test]
    fn ds_at_a_cut_is_answered_by_the_parent() {
        let answer = ask("sub.example.com.", RecordType::DS);
        assert_eq!((answer.outcome, answer.authoritative), (Outcome::NoData, true));
        assert_eq!(negative_soa(&answer), ("example.com.".into(), 1, 120));
        let below = ask("x.sub.example.com.", RecordType::DS);
        assert_eq!(below.outcome, Outcome::Delegation);
        let wildcard_below = ask("*.sub.example.com.", RecordType::DS);
        assert_eq!(wildcard_below.outcome, Outcome::Delegation);
    }

    #[test]
    fn the_closest_zone_answers_and_ds_at_a_child_apex_goes_to_the_parent() {
        let answer = ask("www.child.example.com.", RecordType::A);
        assert_eq!((answer.outcome, answer.authoritative), (Outcome::Hit, true));
        assert_eq!(names(&answer.answers), ["www.child.example.com. A"]);
        let apex_ns = ask("child.example.com.", RecordType::NS);
        assert_eq!(
            (apex_ns.outcome, apex_ns.authoritative),
            (Outcome::Hit, true),
            "the child's apex, not the parent's cut"
        );
        let nx = ask("nope.child.example.com.", RecordType::A);
        assert_eq!(negative_soa(&nx), ("child.example.com.".into(), 7, 30));
        let ds = ask("child.example.com.", RecordType::DS);
        assert_eq!((ds.outcome, ds.authoritative), (Outcome::NoData, true));
        assert_eq!(negative_soa(&ds), ("example.com.".into(), 1, 120), "from the parent zone");
    }

    #[test]
    fn names_outside_every_zone_are_refused() {
        let answer = ask("www.example.net.", RecordType::A);
        assert_eq!(
            (answer.outcome, answer.rcode, answer.authoritative),
            (Outcome::Refused, ResponseCode::Refused, false)
        );
    }
}
