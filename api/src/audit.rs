//! The audit log as the API writes and reads it.
//!
//! Every write the API makes goes through [`Audit::commit`], which attaches
//! a JSON note (who, which team's object, what action on which target, why)
//! to the transaction; the zone store writes it with the transaction's
//! zone changes (serials, records removed and added) in the same flushed
//! batch ([`zones::AuditRecord`]). So a change that is acknowledged is
//! audited, and an audit record describes a change that happened.
//!
//! `GET /api/v1/audit` ([`crate::routes`]) reads it back as [`Entry`]s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zones::{AuditRecord, JournalEntry, Store, Transaction};

use crate::auth::Principal;
use crate::{ApiError, rfc3339_ms};

/// Who made a change: a token (its id and team), or a part of the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct Who {
    /// The token's id (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_id: Option<String>,
    /// The team of the token or key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) team: Option<String>,
    /// A part of the server acting on its own: `reaper`, `bootstrap`, `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system: Option<String>,
    /// The TSIG key a DNS UPDATE was signed with (its name, never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tsig_key: Option<String>,
}

/// The note written with an audited transaction: who, which team's object,
/// what, why.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Audit {
    who: Who,
    /// The team whose object changed.
    team: String,
    /// What was done, e.g. `app.register`, `rrsets.patch`, `token.revoke`.
    action: String,
    /// The object: a name, a zone, a token id, a review id.
    target: String,
    /// Why: the gate and findings, a review's decision, ...
    #[serde(default, skip_serializing_if = "Value::is_null")]
    why: Value,
}

impl Audit {
    /// `principal` did `action` on `target`, an object of `team`.
    pub(crate) fn by(principal: &Principal, team: &str, action: &str, target: impl Into<String>) -> Self {
        let who =
            Who { token_id: Some(principal.token_id.clone()), team: Some(principal.team.clone()), ..Who::default() };
        Self::new(who, team, action, target.into())
    }

    /// A DNS UPDATE signed with `team`'s TSIG key `key` did `action` on
    /// `target`, an object of `team`.
    pub(crate) fn by_key(key: &str, team: &str, action: &str, target: impl Into<String>) -> Self {
        let who = Who { tsig_key: Some(key.to_owned()), team: Some(team.to_owned()), ..Who::default() };
        Self::new(who, team, action, target.into())
    }

    /// The server's own `part` (`reaper`, `bootstrap`, `cli`, ...) did
    /// `action` on `target`, an object of `team`.
    pub fn system(part: &str, team: &str, action: &str, target: impl Into<String>) -> Self {
        Self::new(Who { system: Some(part.to_owned()), ..Who::default() }, team, action, target.into())
    }

    fn new(who: Who, team: &str, action: &str, target: String) -> Self {
        Self { who, team: team.to_owned(), action: action.to_owned(), target, why: Value::Null }
    }

    /// The same note about `target`.
    pub(crate) fn target(mut self, target: &str) -> Self {
        target.clone_into(&mut self.target);
        self
    }

    /// The same note with `why` as its reason.
    pub fn why(mut self, why: Value) -> Self {
        self.why = why;
        self
    }

    /// The same note with `key: value` added to its reason (an object; a
    /// reason that is not one is kept under `"why"`).
    pub(crate) fn why_also(mut self, key: &str, value: Value) -> Self {
        let mut why = match std::mem::take(&mut self.why) {
            Value::Object(fields) => fields,
            Value::Null => serde_json::Map::new(),
            other => serde_json::Map::from_iter([("why".to_owned(), other)]),
        };
        why.insert(key.to_owned(), value);
        self.why = Value::Object(why);
        self
    }

    /// Applies `tx` with this note in the audit log, durably.
    pub fn commit(self, store: &Store, tx: Transaction, now: SystemTime) -> Result<Vec<JournalEntry>, ApiError> {
        Ok(store.apply(self.transaction(tx)?, now)?)
    }

    /// Records this note alone, durably: the audit of an act outside the
    /// store, such as a revocation the CA has recorded.
    pub fn record(self, store: &Store, now: SystemTime) -> Result<(), ApiError> {
        store.apply(self.event()?, now)?;
        Ok(())
    }

    /// A transaction of this note alone ([`Transaction::event`]), to apply.
    pub fn event(self) -> Result<Transaction, ApiError> {
        let mut tx = Transaction::new();
        tx.event(serde_json::to_vec(&self)?);
        Ok(tx)
    }

    /// `tx` with this note as its audit record, to apply.
    pub fn transaction(self, mut tx: Transaction) -> Result<Transaction, ApiError> {
        tx.audit(serde_json::to_vec(&self)?);
        Ok(tx)
    }
}

/// One audit record as `GET /audit` returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Entry {
    /// Its number in the log (increasing; use as `after` to page).
    id: u64,
    /// When, RFC 3339 UTC with milliseconds.
    at: String,
    who: Who,
    /// The team whose object changed.
    team: String,
    /// What was done.
    action: String,
    /// The object.
    target: String,
    /// Why, when there is a reason beyond the action.
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    why: Value,
    /// The zone changes, each with its serials and records.
    changes: Vec<Change>,
    /// Zones deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deleted_zones: Vec<String>,
}

/// One zone change of an audit record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Change {
    /// The zone's apex.
    zone: String,
    /// The zone's serial before the change.
    serial_before: u32,
    /// The zone's serial after it.
    serial_after: u32,
    /// Records removed, in presentation form, the old SOA first.
    removed: Vec<String>,
    /// Records added, the new SOA first.
    added: Vec<String>,
    /// The change set's author and reason as the journal has them.
    author: String,
    /// The change set's reason.
    reason: String,
}

impl Entry {
    /// The entry for `record`, whose note this module wrote.
    fn of(record: &AuditRecord) -> Result<Self, ApiError> {
        let note: Audit = serde_json::from_slice(&record.note)
            .map_err(|e| ApiError::Internal(format!("audit record {}: {e}", record.seq)))?;
        Ok(Self {
            id: record.seq,
            at: rfc3339_ms(UNIX_EPOCH + Duration::from_millis(record.at_unix_ms)),
            who: note.who,
            team: note.team,
            action: note.action,
            target: note.target,
            why: note.why,
            changes: record.changes.iter().map(Change::of).collect(),
            deleted_zones: record.deleted_zones.iter().map(|apex| apex.to_ascii()).collect(),
        })
    }

    /// Whether this entry concerns `team`: its object, or the actor's team.
    fn concerns(&self, team: &str) -> bool {
        self.team == team || self.who.team.as_deref() == Some(team)
    }
}

impl Change {
    fn of(entry: &JournalEntry) -> Self {
        let text = |records: &[zones::Record]| records.iter().map(ToString::to_string).collect();
        Self {
            zone: entry.zone.to_ascii(),
            serial_before: entry.from_serial,
            serial_after: entry.to_serial,
            removed: text(&entry.removed),
            added: text(&entry.added),
            author: entry.author.clone(),
            reason: entry.reason.clone(),
        }
    }
}

/// Which entries `GET /audit` returns.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    /// Only those that concern this team.
    pub(crate) team: Option<String>,
    /// Only those at or after this time.
    pub(crate) since: Option<SystemTime>,
    /// Only those numbered above this.
    pub(crate) after: Option<u64>,
    /// At most this many.
    pub(crate) limit: usize,
}

/// The entries `filter` selects, oldest first. With `since` or `after` they
/// are the oldest that match (read forward to page); with neither, the
/// newest `limit`.
pub(crate) fn read(store: &Store, filter: &Filter) -> Result<Vec<Entry>, ApiError> {
    let since_ms = filter.since.map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()));
    let wanted = |record: &AuditRecord| since_ms.is_none_or(|ms| u128::from(record.at_unix_ms) >= ms);
    let mut out = Vec::new();
    let mut take = |record: AuditRecord| -> Result<bool, ApiError> {
        let entry = Entry::of(&record)?;
        if filter.team.as_deref().is_none_or(|team| entry.concerns(team)) {
            out.push(entry);
        }
        Ok(out.len() < filter.limit)
    };
    if filter.since.is_some() || filter.after.is_some() {
        let from = filter.after.map_or(0, |n| n.saturating_add(1));
        for record in store.audit_log(from) {
            let record = record?;
            if wanted(&record) && !take(record)? {
                break;
            }
        }
    } else {
        for record in store.audit_log(0).rev() {
            if !take(record?)? {
                break;
            }
        }
        out.reverse();
    }
    Ok(out)
}
