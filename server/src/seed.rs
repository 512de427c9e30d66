//! The platform zone created on first start, from configuration.

use std::time::SystemTime;

use anyhow::{Context, Result};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use zones::{ChangeSet, Op, RRset, Zone, ZoneSet};

use crate::config::Platform;

/// The platform zone: SOA, NS for each configured nameserver, and their addresses.
pub fn platform_zone(platform: &Platform) -> Result<Zone> {
    let apex = Name::from_ascii(&platform.zone).context("platform.zone is not a domain name")?.to_lowercase();
    let apex = fqdn(apex);
    let rname = fqdn(Name::from_ascii(&platform.hostmaster).context("platform.hostmaster is not a domain name")?);
    let mut sets = Vec::new();
    let mut ns = RRset::new(&apex, RecordType::NS, platform.ttl);
    for server in &platform.nameservers {
        let name = Name::parse(&server.name, Some(&apex)).context("a platform nameserver name is invalid")?;
        ns.insert(RData::NS(NS(name.clone())));
        let mut a = RRset::new(&name, RecordType::A, platform.ttl);
        let mut aaaa = RRset::new(&name, RecordType::AAAA, platform.ttl);
        for address in &server.addresses {
            match address {
                std::net::IpAddr::V4(v4) => a.insert(RData::A(A(*v4))),
                std::net::IpAddr::V6(v6) => aaaa.insert(RData::AAAA(AAAA(*v6))),
            };
        }
        sets.extend([a, aaaa].into_iter().filter(|s| !s.is_empty() && apex.zone_of(s.name())));
    }
    let mname = match ns.rdatas().first() {
        Some(RData::NS(first)) => first.0.clone(),
        _ => apex.clone(),
    };
    let mut soa = RRset::new(&apex, RecordType::SOA, platform.ttl);
    soa.insert(RData::SOA(SOA::new(mname, rname, 1, 3600, 600, 604_800, platform.negative_ttl)));
    sets.extend([soa, ns]);
    Ok(Zone::from_rrsets(&apex, sets)?)
}

/// A small zone set exercising every lookup outcome, for the fuzz target.
pub fn fuzz_zones() -> ZoneSet {
    let platform = crate::config::Config::load(None).expect("the embedded config loads").platform;
    let zone = platform_zone(&platform).expect("the embedded platform zone is valid");
    let apex = zone.apex().clone();
    let name = |s: &str| Name::parse(s, Some(&apex)).expect("fixed fuzz names are valid");
    let mut change = ChangeSet::new(&apex, "fuzz", "fixture");
    for record in [
        Record::from_rdata(name("app.team.prod"), 300, RData::A(A::new(192, 0, 2, 10))),
        Record::from_rdata(name("app.team.prod"), 300, RData::TXT(TXT::new(vec!["owner=team".into()]))),
        Record::from_rdata(name("*.team.preview"), 60, RData::CNAME(CNAME(name("app.team.prod")))),
        Record::from_rdata(name("loop1"), 60, RData::CNAME(CNAME(name("loop2")))),
        Record::from_rdata(name("loop2"), 60, RData::CNAME(CNAME(name("loop1")))),
        Record::from_rdata(name("ext"), 3600, RData::NS(NS(name("ns.ext")))),
        Record::from_rdata(name("ns.ext"), 3600, RData::A(A::new(198, 51, 100, 1))),
    ] {
        change.push(Op::Add(record));
    }
    let (zone, _) = change.apply(&zone, SystemTime::UNIX_EPOCH).expect("the fuzz fixture is a valid change");
    ZoneSet::new().with_zone(std::sync::Arc::new(zone))
}

fn fqdn(mut name: Name) -> Name {
    name.set_fqdn(true);
    name
}
