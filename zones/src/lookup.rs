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
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section.
    pub additionals: Vec<Record>,
}

impl Answer {
    fn new(outcome: Outcome, rcode: ResponseCode, authoritative: bool) -> Self {
        Self { outcome, rcode, authoritative, answers: Vec::new(), authorities: Vec::new(), additionals: Vec::new() }
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
        let Some(first) = self.zone_for(qname, qtype) else {
            return Answer::refused();
        };
        let mut answer = Answer::new(Outcome::Hit, ResponseCode::NoError, true);
        let mut zone: &Arc<Zone> = first;
        let mut name = qname.clone();
        for _ in 0..MAX_CNAME_CHAIN {
            match zone.resolve(&name, qtype) {
                Step::Found { owner, sets } => return finish_hit(answer, zone, &owner, &sets),
                Step::NoData => return finish_negative(answer, zone, Outcome::NoData),
                Step::NxDomain => return finish_negative(answer, zone, Outcome::NxDomain),
                Step::Delegation(ns) => return finish_referral(answer, zone, ns),
                Step::Alias { owner, cname } => {
                    answer.answers.extend(cname.records_as(&owner, cname.ttl()));
                    let Some(RData::CNAME(target)) = cname.rdatas().first() else { return answer };
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
    /// Classifies `name` (inside this zone) for `qtype`.
    fn resolve(&self, name: &Name, qtype: RecordType) -> Step<'_> {
        let apex_labels = self.apex().num_labels() as usize;
        let labels = name.num_labels() as usize;
        for depth in apex_labels + 1..=labels {
            let ancestor = name.trim_to(depth);
            let Some(node) = self.node(&ancestor) else {
                return self.resolve_wildcard(name, &ancestor.base_name(), qtype);
            };
            let ds_at_cut = depth == labels && qtype == RecordType::DS;
            if let (Some(ns), false) = (node.get(RecordType::NS), ds_at_cut) {
                return Step::Delegation(ns);
            }
        }
        let node = self.node(name).expect("the loop above returned unless every ancestor has a node");
        select(node.rrsets(), name.clone(), qtype)
    }

    /// RFC 4592 §3.3: below the closest encloser, `*.encloser` answers for names
    /// that do not exist.
    fn resolve_wildcard(&self, name: &Name, encloser: &Name, qtype: RecordType) -> Step<'_> {
        let Ok(wildcard) = encloser.prepend_label("*") else { return Step::NxDomain };
        match self.rrsets_at(&wildcard) {
            Some(sets) => select(sets, name.clone(), qtype),
            None => Step::NxDomain,
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
