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
        names
            .into_iter()
            .flat_map(|n| self.nodes[n].rrsets.iter())
            .collect()
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
        let apex_labels = self.apex.num_labels();
        let last = if inclusive { name.num_labels() } else { name.num_labels().saturating_sub(1) };
        (apex_labels + 1..=last)
            .map_while(|depth| self.node(&name.trim_to(depth as usize)))
            .find_map(|node| node.get(RecordType::NS))
    }

    /// Errors unless `name` is inside this zone.
    pub(crate) fn check_in_zone(&self, name: &Name) -> Result<(), Error> {
        if self.contains(name) {
            Ok(())
        } else {
            Err(Error::OutOfZone { name: name.clone(), zone: self.apex.clone() })
        }
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
