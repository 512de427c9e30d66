//! Dynamic UPDATE (RFC 2136) as a pure function: a zone snapshot and a
//! parsed UPDATE message in, an RCODE or the one [`ChangeSet`] to apply out.
//!
//! [`plan`] checks the zone section (§3.1), the prerequisites (§3.2) and
//! prescans the update section (§3.4.1), then replays the updates (§3.4.2)
//! on an overlay of the RRsets they touch, with the special cases: an SOA
//! add replaces the SOA only with a newer serial, the apex SOA and NS are
//! never deleted (nor the last apex NS), a CNAME is not added beside other
//! data nor other data beside a CNAME. The result is one `ReplaceRRset` per
//! RRset an update names, changed or not (an empty one removes it), so that
//! whoever applies it authorizes every name the client asked to touch; a
//! change set that changes nothing leaves the zone and its serial alone. TSIG, authorization and the
//! write itself are the caller's (`responder.rs`, the `Authority`).

use std::collections::BTreeMap;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record};
use zones::{ChangeSet, Name, Op, RRset, RecordType, Zone, ZoneSet};

/// The RRsets an update touched, by (owner, type): the state after it.
type Overlay = BTreeMap<(Name, u16), RRset>;

/// The change an UPDATE asks for, or the RCODE that refuses it.
pub(crate) fn plan(zones: &ZoneSet, msg: &Message, author: &str) -> Result<ChangeSet, ResponseCode> {
    let zone = zone_section(zones, msg)?;
    prerequisites(&zone, &msg.answers)?;
    prescan(&zone, &msg.authorities)?;
    let mut overlay = Overlay::new();
    for rr in &msg.authorities {
        apply(&zone, &mut overlay, rr);
    }
    let mut change = ChangeSet::new(zone.apex(), author, "dns update");
    for set in overlay.into_values() {
        change.push(Op::ReplaceRRset(set));
    }
    Ok(change)
}

/// The zone the zone section names: exactly one SOA question, class IN, a
/// zone served here.
fn zone_section(zones: &ZoneSet, msg: &Message) -> Result<std::sync::Arc<Zone>, ResponseCode> {
    let [question] = msg.queries.as_slice() else { return Err(ResponseCode::FormErr) };
    if question.query_type() != RecordType::SOA {
        return Err(ResponseCode::FormErr);
    }
    if question.query_class() != DNSClass::IN {
        return Err(ResponseCode::NotAuth);
    }
    zones.get(&question.name().to_lowercase()).cloned().ok_or(ResponseCode::NotAuth)
}

/// RFC 2136 §3.2: every prerequisite holds in `zone`.
fn prerequisites(zone: &Zone, prereqs: &[Record]) -> Result<(), ResponseCode> {
    let mut expected: BTreeMap<(Name, u16), Vec<RData>> = BTreeMap::new();
    for rr in prereqs {
        let name = rr.name.to_lowercase();
        let rtype = rr.record_type();
        if rr.ttl != 0 {
            return Err(ResponseCode::FormErr);
        }
        if !zone.apex().zone_of(&name) {
            return Err(ResponseCode::NotZone);
        }
        let empty = matches!(rr.data, RData::Update0(_));
        match rr.dns_class {
            DNSClass::ANY if !empty => return Err(ResponseCode::FormErr),
            DNSClass::ANY if rtype == RecordType::ANY => {
                if !in_use(zone, &name) {
                    return Err(ResponseCode::NXDomain);
                }
            }
            DNSClass::ANY => {
                if zone.rrset(&name, rtype).is_none_or(RRset::is_empty) {
                    return Err(ResponseCode::NXRRSet);
                }
            }
            DNSClass::NONE if !empty => return Err(ResponseCode::FormErr),
            DNSClass::NONE if rtype == RecordType::ANY => {
                if in_use(zone, &name) {
                    return Err(ResponseCode::YXDomain);
                }
            }
            DNSClass::NONE => {
                if zone.rrset(&name, rtype).is_some_and(|s| !s.is_empty()) {
                    return Err(ResponseCode::YXRRSet);
                }
            }
            DNSClass::IN if empty || is_meta(rtype) => return Err(ResponseCode::FormErr),
            DNSClass::IN => expected.entry((name, u16::from(rtype))).or_default().push(rr.data.clone()),
            _ => return Err(ResponseCode::FormErr),
        }
    }
    for ((name, rtype), rdatas) in expected {
        let mut want = RRset::new(&name, RecordType::from(rtype), 0);
        for rdata in rdatas {
            want.insert(rdata);
        }
        match zone.rrset(&name, RecordType::from(rtype)) {
            Some(have) if same_records(have, &want) => {}
            _ => return Err(ResponseCode::NXRRSet),
        }
    }
    Ok(())
}

/// RFC 2136 §3.4.1: every update is inside the zone and well formed.
fn prescan(zone: &Zone, updates: &[Record]) -> Result<(), ResponseCode> {
    for rr in updates {
        let rtype = rr.record_type();
        if !zone.apex().zone_of(&rr.name.to_lowercase()) {
            return Err(ResponseCode::NotZone);
        }
        let empty = matches!(rr.data, RData::Update0(_));
        let ok = match rr.dns_class {
            DNSClass::IN => !empty && !is_meta(rtype) && rtype != RecordType::ANY,
            DNSClass::ANY => rr.ttl == 0 && empty && !is_transfer(rtype),
            DNSClass::NONE => rr.ttl == 0 && !empty && !is_meta(rtype) && rtype != RecordType::ANY,
            _ => false,
        };
        if !ok {
            return Err(ResponseCode::FormErr);
        }
    }
    Ok(())
}

/// RFC 2136 §3.4.2: one update applied to the overlay.
fn apply(zone: &Zone, overlay: &mut Overlay, rr: &Record) {
    let name = rr.name.to_lowercase();
    let rtype = rr.record_type();
    let apex = &name == zone.apex();
    match rr.dns_class {
        DNSClass::IN => add(zone, overlay, &name, rr),
        DNSClass::ANY if rtype == RecordType::ANY => {
            for t in types_at(zone, overlay, &name) {
                if !(apex && matches!(t, RecordType::SOA | RecordType::NS)) {
                    *current(zone, overlay, &name, t) = RRset::new(&name, t, 0);
                }
            }
        }
        DNSClass::ANY if apex && matches!(rtype, RecordType::SOA | RecordType::NS) => {}
        DNSClass::ANY => *current(zone, overlay, &name, rtype) = RRset::new(&name, rtype, 0),
        DNSClass::NONE if rtype == RecordType::SOA => {}
        DNSClass::NONE => {
            let set = current(zone, overlay, &name, rtype);
            let last_apex_ns = apex && rtype == RecordType::NS && set.rdatas().len() == 1;
            if !last_apex_ns {
                set.remove(&rr.data);
            }
        }
        _ => {}
    }
}

/// §3.4.2.2: an add, with the SOA and CNAME rules.
fn add(zone: &Zone, overlay: &mut Overlay, name: &Name, rr: &Record) {
    let rtype = rr.record_type();
    let types = types_at(zone, overlay, name);
    let cname_conflict = match rtype {
        RecordType::CNAME => {
            types.iter().any(|t| !matches!(t, RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC))
        }
        _ => types.contains(&RecordType::CNAME),
    };
    if cname_conflict {
        return;
    }
    if rtype == RecordType::SOA {
        let (RData::SOA(new), Some(RData::SOA(old))) = (&rr.data, zone.soa().rdatas().first()) else { return };
        let ahead = new.serial.wrapping_sub(old.serial);
        if name != zone.apex() || ahead == 0 || ahead >= 1 << 31 {
            return;
        }
        let mut soa = RRset::new(name, rtype, rr.ttl);
        soa.insert(rr.data.clone());
        *current(zone, overlay, name, rtype) = soa;
        return;
    }
    let set = current(zone, overlay, name, rtype);
    if rtype == RecordType::CNAME {
        *set = RRset::new(name, rtype, rr.ttl); // a CNAME add replaces the CNAME
    }
    set.set_ttl(rr.ttl);
    set.insert(rr.data.clone());
}

/// The RRset of `rtype` at `name` as the updates so far left it.
fn current<'a>(zone: &Zone, overlay: &'a mut Overlay, name: &Name, rtype: RecordType) -> &'a mut RRset {
    overlay
        .entry((name.clone(), u16::from(rtype)))
        .or_insert_with(|| zone.rrset(name, rtype).cloned().unwrap_or_else(|| RRset::new(name, rtype, 0)))
}

/// The types with data at `name` after the updates so far.
fn types_at(zone: &Zone, overlay: &Overlay, name: &Name) -> Vec<RecordType> {
    let mut types: Vec<RecordType> = zone
        .rrsets_at(name)
        .unwrap_or_default()
        .iter()
        .filter(|s| !s.is_empty())
        .map(RRset::rtype)
        .filter(|t| !overlay.contains_key(&(name.clone(), u16::from(*t))))
        .collect();
    let touched = overlay.range((name.clone(), 0)..=(name.clone(), u16::MAX));
    types.extend(touched.filter(|(_, s)| !s.is_empty()).map(|((_, t), _)| RecordType::from(*t)));
    types
}

/// Whether `name` owns any data (RFC 2136 §2.4.4: "name is in use").
fn in_use(zone: &Zone, name: &Name) -> bool {
    zone.rrsets_at(name).is_some_and(|sets| sets.iter().any(|s| !s.is_empty()))
}

/// The same records (TTL aside), as sets.
fn same_records(a: &RRset, b: &RRset) -> bool {
    a.rdatas().len() == b.rdatas().len() && a.rdatas().iter().all(|r| b.rdatas().contains(r))
}

/// Types that are not data: no update may add them.
fn is_meta(rtype: RecordType) -> bool {
    is_transfer(rtype) || matches!(rtype, RecordType::OPT | RecordType::TSIG | RecordType::ANY)
}

/// AXFR, IXFR, MAILA, MAILB.
fn is_transfer(rtype: RecordType) -> bool {
    matches!(u16::from(rtype), 251..=254)
}

#[cfg(test)]
mod tests;
