//! One zone: its apex, SOA and the tree of owner names, indexed for lookup.
//!
//! Every ancestor of an owner name, up to the apex, has a node, so empty
//! non-terminals exist as nodes without RRsets (RFC 4592 §2.2.2) and the
//! closest encloser of any name is the deepest of its ancestors that has a
//! node. Nodes are shared behind `Arc`, so cloning a zone to apply a change
//! set copies pointers, not data.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, RecordType};

use crate::{Error, RRset};

/// A zone: the apex, its SOA, and every RRset at or below the apex.
#[derive(Clone, Debug)]
pub struct Zone {
    apex: Name,
    nodes: HashMap<Name, Arc<Node>>,
}

/// The data at one owner name, and how many child nodes hang below it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    rrsets: Vec<RRset>,
    children: u32,
}

impl Node {
    /// The RRsets at this name.
    pub(crate) fn rrsets(&self) -> &[RRset] {
        &self.rrsets
    }

    /// The RRset of `rtype`, if present.
    pub(crate) fn get(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype() == rtype)
    }
}

impl Zone {
    /// A zone from its RRsets. The apex must hold one SOA record and at least
    /// one NS record; every owner must be inside the apex.
    pub fn from_rrsets(apex: &Name, rrsets: impl IntoIterator<Item = RRset>) -> Result<Self, Error> {
        let mut zone = Self::empty(apex);
        for set in rrsets {
            zone.check_in_zone(set.name())?;
            zone.put_rrset(set);
        }
        zone.check_apex()?;
        Ok(zone)
    }

    /// A zone with just an apex node and no data; callers must add SOA and NS.
    pub(crate) fn empty(apex: &Name) -> Self {
        let mut apex = apex.to_lowercase();
        apex.set_fqdn(true);
        let mut nodes = HashMap::new();
        nodes.insert(apex.clone(), Arc::new(Node::default()));
        Self { apex, nodes }
    }

    /// The apex name (lowercase, fully qualified).
    pub fn apex(&self) -> &Name {
        &self.apex
    }

    /// The SOA RRset at the apex.
    pub fn soa(&self) -> &RRset {
        self.rrset(&self.apex, RecordType::SOA)
            .expect("invariant: a zone always holds its SOA (checked at construction and on every change)")
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        match self.soa().rdatas().first() {
            Some(RData::SOA(soa)) => soa.serial,
            _ => 0,
        }
    }

    /// The RRset of `rtype` at `name`, if present.
    pub fn rrset(&self, name: &Name, rtype: RecordType) -> Option<&RRset> {
        self.node(name)?.get(rtype)
    }

    /// The RRsets at `name`: `None` if the name has no node, empty for an
    /// empty non-terminal.
    pub fn rrsets_at(&self, name: &Name) -> Option<&[RRset]> {
        self.node(name).map(|n| n.rrsets())
    }

    /// Every RRset of the zone, apex first, then in canonical name order.
    pub fn rrsets(&self) -> Vec<&RRset> {
        let mut names: Vec<&Name> = self.nodes.keys().collect();
        names.sort();
        names.into_iter().flat_map(|n| self.nodes[n].rrsets.iter()).collect()
    }

    /// What differs from `earlier`, another version of this zone: the
    /// RRsets `earlier` has, then those this version has, at every name
    /// whose node the two do not share. A change copies the zone sharing
    /// the nodes it does not touch, so the cost is one pointer comparison
    /// per name plus the changed RRsets.
    pub fn rrsets_changed_since<'a>(&'a self, earlier: &'a Zone) -> (Vec<&'a RRset>, Vec<&'a RRset>) {
        let (mut gone, mut new) = (Vec::new(), Vec::new());
        let mut in_both = 0;
        for (name, node) in &self.nodes {
            match earlier.nodes.get(name) {
                Some(old) => {
                    in_both += 1;
                    if !Arc::ptr_eq(old, node) {
                        gone.extend(old.rrsets.iter());
                        new.extend(node.rrsets.iter());
                    }
                }
                None => new.extend(node.rrsets.iter()),
            }
        }
        // Names only `earlier` has, looked for only when there are some.
        if in_both < earlier.nodes.len() {
            let removed = earlier.nodes.iter().filter(|(name, _)| !self.nodes.contains_key(*name));
            gone.extend(removed.flat_map(|(_, old)| old.rrsets.iter()));
        }
        (gone, new)
    }

    /// How many records the zone holds.
    pub fn record_count(&self) -> usize {
        self.nodes.values().flat_map(|n| n.rrsets.iter()).map(|s| s.rdatas().len()).sum()
    }

    /// The node at `name`, if any.
    pub(crate) fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(name).map(|n| &**n)
    }

    /// Whether `name` is at or below the apex.
    pub fn contains(&self, name: &Name) -> bool {
        self.apex.zone_of(name)
    }

    /// The highest delegation cut strictly between the apex and `name`
    /// (or at `name` itself when `inclusive`), if any.
    pub(crate) fn cut_above(&self, name: &Name, inclusive: bool) -> Option<&RRset> {
        // Not `num_labels()`: it does not count a leading `*` label.
        let labels = name.iter().len();
        let last = if inclusive { labels } else { labels.saturating_sub(1) };
        (self.apex.iter().len() + 1..=last)
            .map_while(|depth| self.node(&name.trim_to(depth)))
            .find_map(|node| node.get(RecordType::NS))
    }

    /// The RRsets of every name strictly below `name`, in no particular order.
    pub(crate) fn rrsets_below<'a>(&'a self, name: &'a Name) -> impl Iterator<Item = &'a RRset> + 'a {
        self.nodes
            .iter()
            .filter(move |(owner, _)| *owner != name && name.zone_of(owner))
            .flat_map(|(_, node)| node.rrsets.iter())
    }

    /// Errors unless `name` is inside this zone.
    pub(crate) fn check_in_zone(&self, name: &Name) -> Result<(), Error> {
        if self.contains(name) { Ok(()) } else { Err(Error::OutOfZone { name: name.clone(), zone: self.apex.clone() }) }
    }

    /// Errors unless the apex holds exactly one SOA record and some NS record.
    pub(crate) fn check_apex(&self) -> Result<(), Error> {
        let soa_ok = self.rrset(&self.apex, RecordType::SOA).is_some_and(|s| s.rdatas().len() == 1);
        let ns_ok = self.rrset(&self.apex, RecordType::NS).is_some_and(|s| !s.is_empty());
        if soa_ok && ns_ok { Ok(()) } else { Err(Error::ApexIncomplete(self.apex.clone())) }
    }

    /// Stores `set` at its owner, replacing the RRset of the same type; an
    /// empty set removes that type. Creates and prunes ancestor nodes.
    pub(crate) fn put_rrset(&mut self, set: RRset) {
        let name = set.name().clone();
        let rtype = set.rtype();
        let node = self.node_mut(&name);
        node.rrsets.retain(|s| s.rtype() != rtype);
        if !set.is_empty() {
            let at = node.rrsets.partition_point(|s| u16::from(s.rtype()) < u16::from(rtype));
            node.rrsets.insert(at, set);
        }
        self.prune(&name);
    }

    /// Removes every RRset at `name` (its descendants stay).
    pub(crate) fn clear_name(&mut self, name: &Name) {
        if let Some(node) = self.nodes.get_mut(name) {
            Arc::make_mut(node).rrsets.clear();
            self.prune(name);
        }
    }

    /// The node at `name`, created with all its missing ancestors.
    fn node_mut(&mut self, name: &Name) -> &mut Node {
        if !self.nodes.contains_key(name) {
            let parent = name.base_name();
            if name != &self.apex {
                Arc::make_mut(self.node_mut_parent(&parent)).children += 1;
            }
            self.nodes.insert(name.clone(), Arc::new(Node::default()));
        }
        Arc::make_mut(self.nodes.get_mut(name).expect("just inserted"))
    }

    fn node_mut_parent(&mut self, parent: &Name) -> &mut Arc<Node> {
        self.node_mut(parent);
        self.nodes.get_mut(parent).expect("just created")
    }

    /// Removes `name`'s node and then its ancestors' while they hold no data
    /// and no children (the apex always stays).
    fn prune(&mut self, name: &Name) {
        let mut name = name.clone();
        while name != self.apex {
            match self.nodes.get(&name) {
                Some(node) if node.rrsets.is_empty() && node.children == 0 => {}
                _ => return,
            }
            self.nodes.remove(&name);
            name = name.base_name();
            if let Some(parent) = self.nodes.get_mut(&name) {
                let parent = Arc::make_mut(parent);
                parent.children = parent.children.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::time::SystemTime;

    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{RData, Record};

    use super::*;
    use crate::{ChangeSet, Op, zonefile};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn zone() -> Zone {
        let text = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nns 60 IN A 192.0.2.1\n\
                    a.b.c.d 60 IN TXT \"deep\"\nx.c.d 60 IN TXT \"sibling\"\n";
        zonefile::parse(text, None).unwrap()
    }

    fn change(zone: &Zone, op: Op) -> Zone {
        let mut cs = ChangeSet::new(zone.apex(), "test", "");
        cs.push(op);
        cs.apply(zone, SystemTime::UNIX_EPOCH).unwrap().0
    }

    fn deep_txt() -> Record {
        Record::from_rdata(name("a.b.c.d.example.com."), 60, RData::TXT(TXT::new(vec!["deep".into()])))
    }

    #[test]
    fn every_ancestor_is_a_node() {
        let zone = zone();
        for ent in ["b.c.d.example.com.", "c.d.example.com.", "d.example.com."] {
            assert_eq!(zone.rrsets_at(&name(ent)), Some(&[][..]), "{ent} is an empty non-terminal");
        }
        assert_eq!(zone.rrsets_at(&name("a.b.c.d.example.com.")).map(<[RRset]>::len), Some(1));
        assert_eq!(zone.rrsets_at(&name("e.example.com.")), None);
        assert_eq!(zone.rrsets_at(&name("A.B.C.D.Example.COM.")).map(<[RRset]>::len), Some(1));
    }

    #[test]
    fn removing_the_only_record_prunes_the_empty_non_terminals() {
        let zone = change(&zone(), Op::Remove(deep_txt()));
        for gone in ["a.b.c.d.example.com.", "b.c.d.example.com."] {
            assert_eq!(zone.rrsets_at(&name(gone)), None, "{gone}");
        }
        assert_eq!(zone.rrsets_at(&name("c.d.example.com.")), Some(&[][..]), "still above x.c.d");
        let zone = change(&zone, Op::RemoveName(name("x.c.d.example.com.")));
        for gone in ["x.c.d.example.com.", "c.d.example.com.", "d.example.com."] {
            assert_eq!(zone.rrsets_at(&name(gone)), None, "{gone}");
        }
        assert!(zone.rrsets_at(zone.apex()).is_some(), "the apex stays");
    }

    #[test]
    fn clearing_a_name_with_children_leaves_an_empty_non_terminal() {
        let zone =
            change(&zone(), Op::Add(Record::from_rdata(name("c.d.example.com."), 60, RData::TXT(TXT::new(vec![])))));
        assert_eq!(zone.rrsets_at(&name("c.d.example.com.")).map(<[RRset]>::len), Some(1));
        let zone = change(&zone, Op::RemoveName(name("c.d.example.com.")));
        assert_eq!(zone.rrsets_at(&name("c.d.example.com.")), Some(&[][..]));
        assert!(zone.rrset(&name("a.b.c.d.example.com."), RecordType::TXT).is_some());
    }

    #[test]
    fn re_adding_after_pruning_rebuilds_the_nodes() {
        let zone = change(&zone(), Op::Remove(deep_txt()));
        let zone = change(&zone, Op::Add(deep_txt()));
        assert_eq!(zone.rrsets_at(&name("b.c.d.example.com.")), Some(&[][..]));
        let zone = change(&change(&zone, Op::Remove(deep_txt())), Op::RemoveName(name("x.c.d.example.com.")));
        assert_eq!(zone.rrsets_at(&name("d.example.com.")), None, "child counts stayed right");
        assert_eq!(zone.record_count(), 3);
    }

    #[test]
    fn a_diff_between_versions_holds_the_changed_names_only() {
        let before = zone();
        let after = change(&before, Op::Remove(deep_txt()));
        let (gone, new) = after.rrsets_changed_since(&before);
        let names = |sets: &[&RRset]| sets.iter().map(|s| s.name().to_ascii()).collect::<Vec<_>>();
        assert!(names(&gone).contains(&"a.b.c.d.example.com.".to_owned()), "{:?}", names(&gone));
        for shared in ["ns.example.com.", "x.c.d.example.com."] {
            assert!(!names(&gone).contains(&shared.to_owned()) && !names(&new).contains(&shared.to_owned()));
        }
        let records = |sets: &[&RRset]| sets.iter().map(|s| s.rdatas().len()).sum::<usize>();
        assert_eq!(after.record_count() + records(&gone), before.record_count() + records(&new));
        assert_eq!(before.rrsets_changed_since(&after).0.len(), new.len(), "the other way round");
        let (none, nothing) = after.rrsets_changed_since(&after);
        assert!(none.is_empty() && nothing.is_empty());
    }

    #[test]
    fn rrsets_are_apex_first_in_canonical_order() {
        let owners: Vec<String> = zone().rrsets().iter().map(|s| s.name().to_ascii()).collect();
        assert_eq!(
            owners,
            ["example.com.", "example.com.", "a.b.c.d.example.com.", "x.c.d.example.com.", "ns.example.com."]
        );
    }

    #[test]
    fn cuts_are_found_above_wildcard_names_too() {
        let text = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nsub 60 IN NS ns.sub\n";
        let zone = zonefile::parse(text, None).unwrap();
        for below in ["*.sub.example.com.", "x.sub.example.com.", "*.x.sub.example.com."] {
            assert!(zone.cut_above(&name(below), false).is_some(), "{below}");
        }
        assert!(zone.cut_above(&name("sub.example.com."), false).is_none());
        assert!(zone.cut_above(&name("sub.example.com."), true).is_some());
        assert!(zone.cut_above(&name("*.example.com."), false).is_none());
    }
}
