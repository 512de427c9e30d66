//! Change sets: the one way zone data changes.
//!
//! A change set is a list of operations on one zone. [`ChangeSet::apply`]
//! runs them on a copy of the zone, validates every name it touched, bumps
//! the SOA serial and returns the new zone with its journal entry; nothing is
//! changed when any operation or check fails.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::{Error, JournalEntry, RRset, Zone};

/// The largest TTL a record may carry (RFC 2181 §8).
pub const MAX_TTL: u32 = i32::MAX as u32;

/// One operation of a change set.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Add one record; the RRset it joins takes its TTL.
    Add(Record),
    /// Remove one record (matched by name, type and data).
    Remove(Record),
    /// Replace the whole RRset at its name and type; an empty set removes it.
    ReplaceRRset(RRset),
    /// Remove the RRset of a type at a name.
    RemoveRRset(Name, RecordType),
    /// Remove every RRset at a name.
    RemoveName(Name),
}

/// An atomic list of operations on one zone, with who asked and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeSet {
    /// The apex of the zone to change.
    pub zone: Name,
    /// The operations, applied in order.
    pub ops: Vec<Op>,
    /// Who asks for the change.
    pub author: String,
    /// Why.
    pub reason: String,
}

impl ChangeSet {
    /// An empty change set for `zone` by `author`.
    pub fn new(zone: &Name, author: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { zone: zone.to_lowercase(), ops: Vec::new(), author: author.into(), reason: reason.into() }
    }

    /// Appends an operation.
    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Applies the operations to a copy of `zone` and returns it with the
    /// journal entry. A change set that changes no record returns the zone
    /// unchanged and an entry whose serials are equal and lists are empty.
    pub fn apply(&self, zone: &Zone, now: SystemTime) -> Result<(Zone, JournalEntry), Error> {
        let mut next = zone.clone();
        let mut touched = BTreeSet::new();
        for op in &self.ops {
            touched.insert(apply_op(&mut next, op)?.to_lowercase());
        }
        next.check_apex()?;
        for name in &touched {
            check_name(&next, name)?;
        }
        let (removed, added) = diff(zone, &next, touched.iter());
        if removed.is_empty() && added.is_empty() {
            let entry = self.entry(zone.serial(), zone.serial(), Vec::new(), Vec::new(), now);
            return Ok((next, entry));
        }
        let serial = bump_serial(&mut next, zone.serial());
        let mut removed_all: Vec<Record> = zone.soa().records().collect();
        removed_all.extend(removed.into_iter().filter(|r| r.record_type() != RecordType::SOA));
        let mut added_all: Vec<Record> = next.soa().records().collect();
        added_all.extend(added.into_iter().filter(|r| r.record_type() != RecordType::SOA));
        Ok((next, self.entry(zone.serial(), serial, removed_all, added_all, now)))
    }

    fn entry(&self, from: u32, to: u32, removed: Vec<Record>, added: Vec<Record>, now: SystemTime) -> JournalEntry {
        JournalEntry {
            zone: self.zone.clone(),
            from_serial: from,
            to_serial: to,
            removed,
            added,
            author: self.author.clone(),
            reason: self.reason.clone(),
            at_unix: now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        }
    }
}

/// Runs one operation on `zone`, returning the owner name it touched.
fn apply_op<'a>(zone: &mut Zone, op: &'a Op) -> Result<&'a Name, Error> {
    match op {
        Op::Add(record) => {
            check_record(zone, &record.name, record.record_type(), record.ttl)?;
            let mut set = zone
                .rrset(&record.name, record.record_type())
                .cloned()
                .unwrap_or_else(|| RRset::new(&record.name, record.record_type(), record.ttl));
            set.set_ttl(record.ttl);
            if record.record_type() == RecordType::SOA || record.record_type() == RecordType::CNAME {
                set = RRset::new(&record.name, record.record_type(), record.ttl); // singletons: replace
            }
            set.insert(record.data.clone());
            zone.put_rrset(set);
            Ok(&record.name)
        }
        Op::Remove(record) => {
            zone.check_in_zone(&record.name)?;
            if let Some(mut set) = zone.rrset(&record.name, record.record_type()).cloned() {
                set.remove(&record.data);
                zone.put_rrset(set);
            }
            Ok(&record.name)
        }
        Op::ReplaceRRset(set) => {
            check_record(zone, set.name(), set.rtype(), set.ttl())?;
            zone.put_rrset(set.clone());
            Ok(set.name())
        }
        Op::RemoveRRset(name, rtype) => {
            zone.check_in_zone(name)?;
            zone.put_rrset(RRset::new(name, *rtype, 0));
            Ok(name)
        }
        Op::RemoveName(name) => {
            zone.check_in_zone(name)?;
            zone.clear_name(name);
            Ok(name)
        }
    }
}

/// Checks what one record may be: inside the zone, a storable type, a sane TTL,
/// SOA only at the apex.
fn check_record(zone: &Zone, name: &Name, rtype: RecordType, ttl: u32) -> Result<(), Error> {
    zone.check_in_zone(name)?;
    if ttl > MAX_TTL {
        return Err(Error::BadTtl(ttl));
    }
    let bad = |why| Err(Error::BadRecord { name: name.clone(), rtype, why });
    match rtype {
        RecordType::OPT | RecordType::TSIG | RecordType::ANY | RecordType::AXFR | RecordType::IXFR => {
            bad("meta types cannot be stored")
        }
        RecordType::SOA if name != zone.apex() => bad("SOA belongs at the zone apex only"),
        RecordType::CNAME if name == zone.apex() => bad("the apex holds SOA and NS, so it cannot be a CNAME"),
        _ => Ok(()),
    }
}

/// Checks the invariants at one owner name after a change: CNAME stands alone,
/// nothing but glue addresses below a delegation cut.
pub(crate) fn check_name(zone: &Zone, name: &Name) -> Result<(), Error> {
    let Some(sets) = zone.rrsets_at(name) else { return Ok(()) };
    if sets.len() > 1 && sets.iter().any(|s| s.rtype() == RecordType::CNAME) {
        return Err(Error::CnameConflict(name.clone()));
    }
    if let Some(cut) = zone.cut_above(name, false) {
        if sets.iter().any(|s| !matches!(s.rtype(), RecordType::A | RecordType::AAAA)) {
            return Err(Error::BelowCut { name: name.clone(), cut: cut.name().clone() });
        }
    }
    Ok(())
}

/// The records at `names` that `before` has and `after` lacks, and the reverse.
pub(crate) fn diff<'a>(
    before: &Zone,
    after: &Zone,
    names: impl Iterator<Item = &'a Name>,
) -> (Vec<Record>, Vec<Record>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for name in names {
        let old = records_at(before, name);
        let new = records_at(after, name);
        removed.extend(old.iter().filter(|r| !new.contains(r)).cloned());
        added.extend(new.iter().filter(|r| !old.contains(r)).cloned());
    }
    (removed, added)
}

fn records_at(zone: &Zone, name: &Name) -> Vec<Record> {
    zone.rrsets_at(name).unwrap_or_default().iter().flat_map(RRset::records).collect()
}

/// Sets the SOA serial of `zone` to the next one after `old` (RFC 1982), unless
/// the change set itself installed a later serial. Returns the new serial.
fn bump_serial(zone: &mut Zone, old: u32) -> u32 {
    let soa = zone.soa();
    let Some(RData::SOA(mut rdata)) = soa.rdatas().first().cloned() else { return old };
    let ahead = rdata.serial.wrapping_sub(old);
    let serial = if ahead > 0 && ahead < 1 << 31 { rdata.serial } else { old.wrapping_add(1) };
    rdata.serial = serial;
    let mut fresh = RRset::new(soa.name(), RecordType::SOA, soa.ttl());
    fresh.insert(RData::SOA(rdata));
    zone.put_rrset(fresh);
    serial
}
