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
pub(crate) const MAX_TTL: u32 = i32::MAX as u32;

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
            touched.insert(apply_op(&mut next, &fully_qualified(op))?.to_lowercase());
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

/// `op` with its names fully qualified, as zones store them: a name parsed
/// without the trailing dot would otherwise match no stored name and escape
/// the checks.
fn fully_qualified(op: &Op) -> Op {
    let fqdn = |name: &Name| {
        let mut name = name.clone();
        name.set_fqdn(true);
        name
    };
    let mut op = op.clone();
    match &mut op {
        Op::Add(record) | Op::Remove(record) => record.name = fqdn(&record.name),
        Op::RemoveRRset(name, _) | Op::RemoveName(name) => *name = fqdn(name),
        Op::ReplaceRRset(_) => {} // RRset::new qualifies its name
    }
    op
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
/// nothing but glue addresses below a delegation cut (including a cut made
/// at this name over data already below it).
pub(crate) fn check_name(zone: &Zone, name: &Name) -> Result<(), Error> {
    let Some(sets) = zone.rrsets_at(name) else {
        return Ok(());
    };
    if sets.len() > 1 && sets.iter().any(|s| s.rtype() == RecordType::CNAME) {
        return Err(Error::CnameConflict(name.clone()));
    }
    if let Some(cut) = zone.cut_above(name, false)
        && sets.iter().any(|s| !is_glue(s.rtype()))
    {
        return Err(Error::BelowCut { name: name.clone(), cut: cut.name().clone() });
    }
    if name != zone.apex()
        && sets.iter().any(|s| s.rtype() == RecordType::NS)
        && let Some(hidden) = zone.rrsets_below(name).find(|s| !is_glue(s.rtype()))
    {
        return Err(Error::BelowCut { name: hidden.name().clone(), cut: name.clone() });
    }
    Ok(())
}

/// Whether records of `rtype` may sit below a cut: glue addresses only.
fn is_glue(rtype: RecordType) -> bool {
    matches!(rtype, RecordType::A | RecordType::AAAA)
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
        removed.extend(old.iter().filter(|r| !holds(&new, r)).cloned());
        added.extend(new.iter().filter(|r| !holds(&old, r)).cloned());
    }
    (removed, added)
}

/// Whether `records` hold `record` with its TTL (`Record`'s `==` ignores TTLs,
/// RFC 2136 §1.1.1, but a TTL change is a change).
fn holds(records: &[Record], record: &Record) -> bool {
    records.iter().any(|r| r == record && r.ttl == record.ttl)
}

fn records_at(zone: &Zone, name: &Name) -> Vec<Record> {
    zone.rrsets_at(name).unwrap_or_default().iter().flat_map(RRset::records).collect()
}

/// Sets the SOA serial of `zone` to the next one after `old` (RFC 1982), unless
/// the change set itself installed a later serial. Returns the new serial.
pub(crate) fn bump_serial(zone: &mut Zone, old: u32) -> u32 {
    let soa = zone.soa();
    let Some(RData::SOA(mut rdata)) = soa.rdatas().first().cloned() else {
        return old;
    };
    let ahead = rdata.serial.wrapping_sub(old);
    let serial = if ahead > 0 && ahead < 1 << 31 { rdata.serial } else { old.wrapping_add(1) };
    rdata.serial = serial;
    let mut fresh = RRset::new(soa.name(), RecordType::SOA, soa.ttl());
    fresh.insert(RData::SOA(rdata));
    zone.put_rrset(fresh);
    serial
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};

    use super::*;
    use crate::zonefile;

    const ZONE: &str = "$ORIGIN example.com.
@ 3600 IN SOA ns1 hostmaster 100 3600 600 604800 60
@ 3600 IN NS ns1
@ 3600 IN NS ns2
ns1 60 IN A 192.0.2.1
ns2 60 IN A 192.0.2.2
www 60 IN A 192.0.2.80
alias 60 IN CNAME www
sub 60 IN NS ns.sub
ns.sub 60 IN A 198.51.100.1
";

    fn zone() -> Zone {
        zonefile::parse(ZONE, None).unwrap()
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn record(owner: &str, ttl: u32, rdata: RData) -> Record {
        Record::from_rdata(name(owner), ttl, rdata)
    }

    fn a(owner: &str) -> Record {
        record(owner, 60, RData::A(A::new(192, 0, 2, 9)))
    }

    fn txt(owner: &str, text: &str) -> Record {
        record(owner, 60, RData::TXT(TXT::new(vec![text.into()])))
    }

    fn cname(owner: &str, target: &str) -> Record {
        record(owner, 60, RData::CNAME(CNAME(name(target))))
    }

    fn run(zone: &Zone, ops: Vec<Op>) -> Result<(Zone, JournalEntry), Error> {
        let mut cs = ChangeSet::new(zone.apex(), "test", "unit test");
        cs.ops = ops;
        cs.apply(zone, SystemTime::UNIX_EPOCH)
    }

    fn soa_with_serial(zone: &Zone, serial: u32) -> Record {
        let Some(RData::SOA(soa)) = zone.soa().rdatas().first() else { panic!("no SOA") };
        let soa = SOA::new(soa.mname.clone(), soa.rname.clone(), serial, 3600, 600, 604800, 60);
        record("example.com.", 3600, RData::SOA(soa))
    }

    #[test]
    fn cname_beside_other_data_is_rejected_both_ways() {
        let zone = zone();
        let err = run(&zone, vec![Op::Add(cname("www.example.com.", "ns1.example.com."))]).unwrap_err();
        assert!(matches!(err, Error::CnameConflict(n) if n == name("www.example.com.")));
        let err = run(&zone, vec![Op::Add(txt("alias.example.com.", "x"))]).unwrap_err();
        assert!(matches!(err, Error::CnameConflict(_)));
        let err = run(&zone, vec![Op::Add(cname("example.com.", "www.example.com."))]).unwrap_err();
        assert!(matches!(err, Error::BadRecord { rtype: RecordType::CNAME, .. }));
    }

    #[test]
    fn replacing_a_cname_keeps_one() {
        let (next, _) = run(&zone(), vec![Op::Add(cname("alias.example.com.", "ns1.example.com."))]).unwrap();
        let set = next.rrset(&name("alias.example.com."), RecordType::CNAME).unwrap();
        assert_eq!(set.rdatas(), [RData::CNAME(CNAME(name("ns1.example.com.")))]);
    }

    #[test]
    fn out_of_zone_names_are_rejected() {
        let zone = zone();
        for op in [
            Op::Add(a("www.example.net.")),
            Op::Remove(a("example.net.")),
            Op::RemoveRRset(name("com."), RecordType::A),
            Op::RemoveName(name("other.")),
        ] {
            assert!(matches!(run(&zone, vec![op.clone()]), Err(Error::OutOfZone { .. })), "{op:?}");
        }
    }

    #[test]
    fn ttl_above_the_maximum_is_rejected() {
        let zone = zone();
        let err = run(&zone, vec![Op::Add(record("t.example.com.", MAX_TTL + 1, RData::A(A::new(1, 2, 3, 4))))]);
        assert!(matches!(err, Err(Error::BadTtl(t)) if t == MAX_TTL + 1));
        let set = RRset::new(&name("t.example.com."), RecordType::A, u32::MAX);
        assert!(matches!(run(&zone, vec![Op::ReplaceRRset(set)]), Err(Error::BadTtl(_))));
        assert!(run(&zone, vec![Op::Add(record("t.example.com.", MAX_TTL, RData::A(A::new(1, 2, 3, 4))))]).is_ok());
    }

    #[test]
    fn soa_off_the_apex_and_meta_types_are_rejected() {
        let zone = zone();
        let mut soa = soa_with_serial(&zone, 5);
        soa.name = name("www.example.com.");
        let err = run(&zone, vec![Op::Add(soa)]).unwrap_err();
        assert!(matches!(err, Error::BadRecord { rtype: RecordType::SOA, .. }));
        let any = RRset::new(&name("www.example.com."), RecordType::ANY, 60);
        assert!(matches!(run(&zone, vec![Op::ReplaceRRset(any)]), Err(Error::BadRecord { .. })));
    }

    #[test]
    fn below_a_cut_only_glue_addresses_are_allowed() {
        let zone = zone();
        let err = run(&zone, vec![Op::Add(txt("x.sub.example.com.", "hidden"))]).unwrap_err();
        assert!(matches!(err, Error::BelowCut { ref cut, .. } if cut == &name("sub.example.com.")), "{err}");
        let err = run(&zone, vec![Op::Add(txt("deep.x.sub.example.com.", "hidden"))]).unwrap_err();
        assert!(matches!(err, Error::BelowCut { .. }));
        let aaaa = record("ns.sub.example.com.", 60, RData::AAAA(AAAA::from_str("2001:db8::53").unwrap()));
        assert!(run(&zone, vec![Op::Add(a("ns2.sub.example.com.")), Op::Add(aaaa)]).is_ok());
        let ds_side = record("sub.example.com.", 60, RData::NS(NS(name("ns3.example.net."))));
        assert!(run(&zone, vec![Op::Add(ds_side)]).is_ok(), "more NS at the cut itself");
    }

    #[test]
    fn a_new_cut_over_existing_data_is_rejected() {
        let zone = run(&zone(), vec![Op::Add(txt("app.team.example.com.", "v"))]).unwrap().0;
        let ns = record("team.example.com.", 60, RData::NS(NS(name("ns.example.net."))));
        assert!(matches!(run(&zone, vec![Op::Add(ns.clone())]), Err(Error::BelowCut { .. })));
        let glue_only =
            run(&zone, vec![Op::RemoveName(name("app.team.example.com.")), Op::Add(a("ns.team.example.com."))]);
        let zone = glue_only.unwrap().0;
        assert!(run(&zone, vec![Op::Add(ns)]).is_ok());
    }

    #[test]
    fn a_wildcard_below_a_cut_is_rejected() {
        let err = run(&zone(), vec![Op::Add(txt("*.sub.example.com.", "hidden"))]);
        assert!(matches!(err, Err(Error::BelowCut { .. })), "{err:?}");
    }

    #[test]
    fn the_apex_keeps_its_soa_and_an_ns() {
        let zone = zone();
        let apex = name("example.com.");
        for ops in [
            vec![Op::RemoveRRset(apex.clone(), RecordType::SOA)],
            vec![Op::RemoveRRset(apex.clone(), RecordType::NS)],
            vec![Op::RemoveName(apex.clone())],
            vec![
                Op::Remove(record("example.com.", 60, RData::NS(NS(name("ns1.example.com."))))),
                Op::Remove(record("example.com.", 60, RData::NS(NS(name("ns2.example.com."))))),
            ],
        ] {
            assert!(matches!(run(&zone, ops.clone()), Err(Error::ApexIncomplete(_))), "{ops:?}");
        }
        let one_left = vec![Op::Remove(record("example.com.", 60, RData::NS(NS(name("ns2.example.com.")))))];
        assert!(run(&zone, one_left).is_ok());
    }

    #[test]
    fn a_failed_change_set_changes_nothing() {
        let zone = zone();
        let before = zonefile::write(&zone);
        let ops = vec![
            Op::Add(a("new.example.com.")),
            Op::RemoveName(name("www.example.com.")),
            Op::Add(txt("x.sub.example.com.", "no")),
        ];
        assert!(run(&zone, ops).is_err());
        assert_eq!(zonefile::write(&zone), before);
        assert!(zone.rrset(&name("new.example.com."), RecordType::A).is_none());
    }

    #[test]
    fn a_change_set_that_changes_nothing_keeps_the_serial() {
        let zone = zone();
        let ops = vec![
            Op::Add(a("www.example.com.")),
            Op::Remove(a("www.example.com.")),
            Op::Remove(txt("absent.example.com.", "x")),
            Op::RemoveName(name("absent.example.com.")),
            Op::Add(record("ns1.example.com.", 60, RData::A(A::new(192, 0, 2, 1)))),
        ];
        let (next, entry) = run(&zone, ops).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial), (100, 100));
        assert!(entry.removed.is_empty() && entry.added.is_empty());
        assert_eq!(next.serial(), 100);
        assert_eq!(zonefile::write(&next), zonefile::write(&zone));
    }

    #[test]
    fn an_entry_lists_the_soas_first_and_the_changes() {
        let (next, entry) =
            run(&zone(), vec![Op::Add(a("new.example.com.")), Op::RemoveName(name("www.example.com."))]).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial, next.serial()), (100, 101, 101));
        assert_eq!(entry.removed.len(), 2);
        assert_eq!(entry.added.len(), 2);
        assert!(matches!(&entry.removed[0].data, RData::SOA(s) if s.serial == 100));
        assert!(matches!(&entry.added[0].data, RData::SOA(s) if s.serial == 101));
        assert_eq!(entry.removed[1].name, name("www.example.com."));
        assert_eq!(entry.added[1].name, name("new.example.com."));
        assert_eq!((entry.author.as_str(), entry.reason.as_str()), ("test", "unit test"));
    }

    #[test]
    fn a_ttl_change_alone_is_a_change() {
        let (next, entry) =
            run(&zone(), vec![Op::Add(record("www.example.com.", 300, RData::A(A::new(192, 0, 2, 80))))]).unwrap();
        assert_eq!(next.rrset(&name("www.example.com."), RecordType::A).unwrap().ttl(), 300);
        assert_eq!(entry.to_serial, 101);
        assert_eq!((entry.removed[1].ttl, entry.added[1].ttl), (60, 300));
    }

    #[test]
    fn the_serial_wraps_and_a_later_installed_serial_is_kept() {
        let zone = zonefile::parse(&ZONE.replace(" 100 ", " 4294967295 "), None).unwrap();
        assert_eq!(zone.serial(), u32::MAX);
        let (next, entry) = run(&zone, vec![Op::Add(a("new.example.com."))]).unwrap();
        assert_eq!((entry.from_serial, entry.to_serial, next.serial()), (u32::MAX, 0, 0));
        let (next, _) = run(&next, vec![Op::Add(soa_with_serial(&next, 50))]).unwrap();
        assert_eq!(next.serial(), 50, "50 is ahead of 0");
        let (next, _) = run(&next, vec![Op::Add(soa_with_serial(&next, 10))]).unwrap();
        assert_eq!(next.serial(), 51, "10 is behind 50, so 50 + 1");
        let (next, _) = run(&next, vec![Op::Add(soa_with_serial(&next, 51u32.wrapping_add(1 << 31)))]).unwrap();
        assert_eq!(next.serial(), 52, "exactly 2^31 ahead is undefined (RFC 1982), so + 1");
    }

    #[test]
    fn names_without_the_trailing_dot_or_in_mixed_case_work() {
        let zone = zone();
        let mut relative = record("www.example.com.", 60, RData::A(A::new(192, 0, 2, 80)));
        relative.name = name("WWW.Example.Com");
        assert!(!relative.name.is_fqdn());
        let (next, entry) = run(&zone, vec![Op::Remove(relative)]).unwrap();
        assert!(next.rrset(&name("www.example.com."), RecordType::A).is_none());
        assert_eq!(entry.to_serial, 101);
        let err = run(&zone, vec![Op::Add(cname("Example.Com", "www.example.com."))]);
        assert!(matches!(err, Err(Error::BadRecord { .. })), "{err:?}");
        let (next, _) = run(&zone, vec![Op::RemoveName(name("Alias.example.com"))]).unwrap();
        assert!(next.rrsets_at(&name("alias.example.com.")).is_none());
        let err = run(&zone, vec![Op::Add(txt("Alias.Example.Com", "x"))]);
        assert!(matches!(err, Err(Error::CnameConflict(_))), "{err:?}");
    }
}
