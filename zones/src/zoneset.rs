//! The set of zones served, and the choice of zone for a name.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};

use crate::Zone;

/// An immutable snapshot of every zone served. Readers hold an `Arc` of it;
/// a change publishes a new one.
#[derive(Clone, Debug, Default)]
pub struct ZoneSet {
    zones: HashMap<Name, Arc<Zone>>,
    generation: u64,
}

impl ZoneSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of `zones` (a later zone with the same apex replaces an earlier one).
    pub fn from_zones(zones: impl IntoIterator<Item = Arc<Zone>>) -> Self {
        Self { zones: zones.into_iter().map(|z| (z.apex().clone(), z)).collect(), generation: 0 }
    }

    /// A number that changes whenever a new snapshot is published, so caches
    /// keyed on a snapshot know when to drop their entries.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A copy of this set with `zone` added or replaced and a new generation.
    pub fn with_zone(&self, zone: Arc<Zone>) -> Self {
        let mut next = self.successor();
        next.zones.insert(zone.apex().clone(), zone);
        next
    }

    /// A copy of this set without the zone at `apex` and with a new generation.
    pub fn without_zone(&self, apex: &Name) -> Self {
        let mut next = self.successor();
        next.zones.remove(apex);
        next
    }

    fn successor(&self) -> Self {
        Self { zones: self.zones.clone(), generation: self.generation.wrapping_add(1) }
    }

    /// The zone whose apex is `apex`.
    pub fn get(&self, apex: &Name) -> Option<&Arc<Zone>> {
        self.zones.get(apex)
    }

    /// Every zone, in canonical order of their apexes.
    pub fn zones(&self) -> Vec<&Arc<Zone>> {
        let mut zones: Vec<_> = self.zones.values().collect();
        zones.sort_by(|a, b| a.apex().cmp(b.apex()));
        zones
    }

    /// Whether no zone is served.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The closest enclosing zone of `name`: the served zone with the longest
    /// apex that is `name` or an ancestor of it.
    pub fn closest_zone(&self, name: &Name) -> Option<&Arc<Zone>> {
        (0..=name.num_labels()).rev().find_map(|depth| self.zones.get(&name.trim_to(depth as usize)))
    }

    /// The zone that answers `qtype` at `name`. DS lives on the parent side of
    /// a cut (RFC 4035 §3.1.4.1), so a DS question for a zone apex goes to the
    /// parent zone when that is served here too.
    pub fn zone_for(&self, name: &Name, qtype: RecordType) -> Option<&Arc<Zone>> {
        let zone = self.closest_zone(name)?;
        if qtype == RecordType::DS && zone.apex() == name && !name.is_root() {
            return self.closest_zone(&name.base_name()).or(Some(zone));
        }
        Some(zone)
    }
}
