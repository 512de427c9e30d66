//! Writes that arrive over DNS (RFC 2136 UPDATE signed with a team's TSIG
//! key) take the API's own path: the same write lock, the naming scheme's
//! authorization of every owner name (as a `member` of the key's team),
//! the team's `records` quota, one audited change set flushed before the
//! answer. The DNS server calls [`AppState::dns_update`] from its own
//! threads (it blocks).

use std::collections::BTreeSet;
use std::sync::Arc;

use policy::{Action, Label, Principal, Role, Target, UsageDelta};
use zones::{ChangeSet, Name, Op, Transaction};

use crate::audit::Audit;
use crate::zones_catalog::text;
use crate::{ApiError, AppState, teams};

impl AppState {
    /// Applies `change` (one zone's UPDATE, prerequisites already checked)
    /// for TSIG key `key_name` of `team`: every owner name authorized, the
    /// quota checked, journaled and audited with the key as who. Returns
    /// the new serial, or `None` when the change changes nothing (then
    /// nothing is written). Blocks until the change is durable.
    pub fn dns_update(&self, key_name: &str, team: &str, mut change: ChangeSet) -> Result<Option<u32>, ApiError> {
        let _guard = self.0.writer.lock().map_err(|_| ApiError::Internal("a writer panicked".to_owned()))?;
        let (store, policy, now) = (&self.0.store, &self.0.config.policy, self.0.clock.now());
        let label = Label::new(team)?;
        let principal = Principal { role: Role::Member, team: label.clone() };
        let snapshot = store.snapshot();
        let apex = change.zone.clone();
        let zone =
            snapshot.get(&apex).cloned().ok_or_else(|| ApiError::NotFound(format!("no zone {}", text(&apex))))?;
        for name in owners(&change) {
            policy.scheme.authorize(&principal, Action::WriteRecords, Target::Name { name: &name, zone: &apex })?;
        }
        let (next, entry) = change.apply(&zone, now)?;
        if entry.from_serial == entry.to_serial {
            return Ok(None);
        }
        let before = self.0.record_counts.records(policy, &snapshot, &label);
        let after = self.0.record_counts.records(policy, &snapshot.with_zone(Arc::new(next)), &label);
        let delta = i64::try_from(after).unwrap_or(i64::MAX).saturating_sub(i64::try_from(before).unwrap_or(i64::MAX));
        let record = teams::get(store, team)?.ok_or_else(|| ApiError::NotFound(format!("no team {team}")))?;
        let current = policy::Usage { records: before, ..Default::default() };
        record.limits(policy)?.check(&current, &UsageDelta { records: delta, ..Default::default() })?;
        change.author = format!("tsig:{key_name} team:{team}");
        change.reason = "dns update".to_owned();
        let mut tx = Transaction::new();
        tx.change(change);
        let entries = Audit::by_key(key_name, team, "dns.update", text(&apex)).commit(store, tx, now)?;
        Ok(entries.first().map(|e| e.to_serial))
    }

    /// The TSIG key `name` from the catalog, if any team has it.
    pub fn team_tsig_key(&self, name: &str) -> Result<Option<crate::TsigKeyRecord>, ApiError> {
        crate::tsig_keys::tsig_key(&self.0.store, name)
    }

    /// Whether `team` owns the zone at `apex` (its delegated zone in the
    /// catalog).
    pub fn team_owns_zone(&self, team: &str, apex: &Name) -> Result<bool, ApiError> {
        Ok(crate::zones_catalog::get(&self.0.store, apex)?.is_some_and(|z| z.team == team))
    }
}

/// Every owner name the change touches.
fn owners(change: &ChangeSet) -> BTreeSet<Name> {
    change
        .ops
        .iter()
        .map(|op| match op {
            Op::Add(record) | Op::Remove(record) => record.name.to_lowercase(),
            Op::ReplaceRRset(set) => set.name().to_lowercase(),
            Op::RemoveRRset(name, _) | Op::RemoveName(name) => name.to_lowercase(),
        })
        .collect()
}
