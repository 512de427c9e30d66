//! The catalog zone (RFC 9432, schema version 2) as plain data: the zone at
//! its creation, the stable member labels, and the difference between the
//! members it lists and the members wanted, as one change set.
//!
//! ```text
//! <catalog>                         SOA invalid. invalid. 1 3600 600 2147483646 0
//! <catalog>                         NS  invalid.
//! version.<catalog>                 TXT "2"
//! <label>.zones.<catalog>           PTR <member zone>
//! group.<label>.zones.<catalog>     TXT "<team>"
//! ```
//!
//! `<label>` is [`member_label`]: the FNV-1a 64 hash of the member's
//! lowercase absolute name, in hex, so a member keeps its label for as long
//! as it is listed (RFC 9432 §4.1 wants labels unique and stable; a member
//! deleted and created again gets the same label, which consumers treat as
//! the same member).

use std::collections::BTreeMap;

use hickory_proto::rr::rdata::{NS, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::{ChangeSet, Error, Op, RRset, Zone};

/// The TTL of every catalog record (consumers ignore it).
const TTL: u32 = 0;

/// The stable, unique label of `member` under `zones.<catalog>`.
pub fn member_label(member: &Name) -> String {
    let mut text = member.to_lowercase().to_ascii();
    if !text.ends_with('.') {
        text.push('.');
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// A new, empty catalog zone at `apex`: SOA, NS `invalid.`, version "2".
pub fn new_catalog_zone(apex: &Name) -> Result<Zone, Error> {
    let invalid = Name::root().prepend_label("invalid").map_err(|e| Error::Storage(e.to_string()))?;
    let mut soa = RRset::new(apex, RecordType::SOA, TTL);
    soa.insert(RData::SOA(SOA::new(invalid.clone(), invalid.clone(), 1, 3600, 600, 2_147_483_646, 0)));
    let mut ns = RRset::new(apex, RecordType::NS, TTL);
    ns.insert(RData::NS(NS(invalid)));
    Zone::from_rrsets(apex, [soa, ns, version(apex)?])
}

/// The members `catalog` lists: member zone → (its owner name under
/// `zones.`, its group if any).
pub fn members(catalog: &Zone) -> BTreeMap<Name, (Name, Option<String>)> {
    let Ok(zones) = under(catalog.apex(), "zones") else { return BTreeMap::new() };
    let mut members = BTreeMap::new();
    for set in catalog.rrsets() {
        if set.rtype() != RecordType::PTR || set.name().base_name() != zones {
            continue;
        }
        let group = under(set.name(), "group").ok().and_then(|g| catalog.rrset(&g, RecordType::TXT)).and_then(text);
        for rdata in set.rdatas() {
            if let RData::PTR(PTR(member)) = rdata {
                members.insert(member.to_lowercase(), (set.name().clone(), group.clone()));
            }
        }
    }
    members
}

/// The change set that makes `catalog` list exactly `wanted` (member zone →
/// group), or `None` when it does already.
pub fn catalog_diff(
    catalog: &Zone,
    wanted: &BTreeMap<Name, Option<String>>,
    author: &str,
    reason: &str,
) -> Result<Option<ChangeSet>, Error> {
    let apex = catalog.apex();
    let mut cs = ChangeSet::new(apex, author, reason);
    let version = version(apex)?;
    if catalog.rrset(version.name(), RecordType::TXT) != Some(&version) {
        cs.push(Op::ReplaceRRset(version));
    }
    let listed = members(catalog);
    for (member, (owner, _)) in &listed {
        if !wanted.contains_key(member) {
            cs.push(Op::RemoveName(under(owner, "group")?));
            cs.push(Op::RemoveName(owner.clone()));
        }
    }
    let zones = under(apex, "zones")?;
    for (member, group) in wanted {
        let member = member.to_lowercase();
        let (owner, listed_group) = match listed.get(&member) {
            Some((owner, listed_group)) => (owner.clone(), listed_group.clone()),
            None => {
                let owner = under(&zones, &member_label(&member))?;
                let mut ptr = RRset::new(&owner, RecordType::PTR, TTL);
                ptr.insert(RData::PTR(PTR(member.clone())));
                cs.push(Op::ReplaceRRset(ptr));
                (owner, None)
            }
        };
        if &listed_group != group {
            let group_name = under(&owner, "group")?;
            match group {
                Some(group) => {
                    let mut txt = RRset::new(&group_name, RecordType::TXT, TTL);
                    txt.insert(RData::TXT(TXT::new(vec![group.clone()])));
                    cs.push(Op::ReplaceRRset(txt));
                }
                None => {
                    cs.push(Op::RemoveRRset(group_name, RecordType::TXT));
                }
            }
        }
    }
    Ok((!cs.ops.is_empty()).then_some(cs))
}

/// `version.<apex> TXT "2"`.
fn version(apex: &Name) -> Result<RRset, Error> {
    let mut set = RRset::new(&under(apex, "version")?, RecordType::TXT, TTL);
    set.insert(RData::TXT(TXT::new(vec!["2".to_owned()])));
    Ok(set)
}

/// `<label>.<name>`.
fn under(name: &Name, label: &str) -> Result<Name, Error> {
    name.prepend_label(label).map_err(|e| Error::Storage(format!("catalog name below {name}: {e}")))
}

/// The text of a one-string TXT RRset.
fn text(set: &RRset) -> Option<String> {
    match set.rdatas().first()? {
        RData::TXT(txt) => txt.txt_data.first().map(|s| String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("test")
    }

    fn apply(zone: &Zone, cs: &ChangeSet) -> Zone {
        cs.apply(zone, SystemTime::now()).expect("test").0
    }

    #[test]
    fn members_are_added_regrouped_and_removed_and_nothing_means_none() {
        let catalog = new_catalog_zone(&name("catalog.invalid.")).expect("test");
        assert_eq!(catalog.record_count(), 3);
        let mut wanted = BTreeMap::new();
        assert!(catalog_diff(&catalog, &wanted, "catalog", "t").expect("test").is_none(), "empty and wanted empty");
        wanted.insert(name("apps.company.com."), Some("platform".to_owned()));
        wanted.insert(name("HR.apps.company.com."), Some("hr".to_owned()));
        wanted.insert(name("bare.example."), None);
        let cs = catalog_diff(&catalog, &wanted, "catalog", "t").expect("test").expect("test");
        assert_eq!(cs.author, "catalog");
        let catalog = apply(&catalog, &cs);
        let listed = members(&catalog);
        assert_eq!(listed.len(), 3);
        let (owner, group) = &listed[&name("hr.apps.company.com.")];
        let label = member_label(&name("hr.apps.company.com."));
        assert_eq!(owner, &name(&format!("{label}.zones.catalog.invalid.")));
        assert_eq!(group.as_deref(), Some("hr"));
        assert_eq!(listed[&name("bare.example.")].1, None);
        let normalized: BTreeMap<Name, Option<String>> =
            wanted.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect();
        assert!(catalog_diff(&catalog, &normalized, "catalog", "t").expect("test").is_none(), "in sync: None");

        wanted.remove(&name("HR.apps.company.com."));
        wanted.insert(name("bare.example."), Some("ops".to_owned()));
        let catalog = apply(&catalog, &catalog_diff(&catalog, &wanted, "catalog", "t").expect("test").expect("test"));
        let listed = members(&catalog);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[&name("bare.example.")].1.as_deref(), Some("ops"));
        assert!(catalog.rrsets_at(&name(&format!("group.{label}.zones.catalog.invalid."))).is_none());
        assert_eq!(catalog.record_count(), 3 + 2 + 2);
        assert_eq!(catalog.serial(), 3);
    }

    #[test]
    fn labels_are_stable_and_case_blind() {
        let a = member_label(&name("hr.apps.company.com."));
        assert_eq!(a, member_label(&name("HR.Apps.Company.Com")));
        assert_ne!(a, member_label(&name("ops.apps.company.com.")));
        assert_eq!(a.len(), 16);
    }
}
