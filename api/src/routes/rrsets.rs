//! `/api/v1/zones/{zone}/rrsets`: read a zone's RRsets and change them with
//! PowerDNS's PATCH body, as one validated, atomic change set.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use policy::{Action, Owner, Target, UsageDelta};
use zones::{ChangeSet, Name, Op, RRset, RecordType, Store, Transaction, Zone};

use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::{Json, Path};
use crate::pdns::{self, ChangeType, RRsetPatch, RRsetView, RRsets};
use crate::routes::zones::check_read;
use crate::zones_catalog::{self, parse_name, text};
use crate::{ApiError, AppState, PLATFORM_TEAM, teams};

/// `GET /zones/{zone}/rrsets`: every RRset of the zone, by name and type (a
/// delegated zone for the admin and its team; a platform zone for any token).
#[utoipa::path(operation_id = "rrsets_list", get, path = "/api/v1/zones/{zone}/rrsets", tag = "zones", params(("zone" = String, Path, description = "the zone's apex, e.g. apps.company.com")), responses((status = 200, description = "every RRset of the zone", body = RRsets<RRsetView>)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(zone): Path<String>,
) -> Result<axum::Json<RRsets<RRsetView>>, ApiError> {
    let apex = parse_name("zone", &zone)?;
    let rrsets = state
        .read(move |store, _| {
            let zone = readable_zone(store, &who, &apex)?;
            let mut sets: Vec<&RRset> = zone.rrsets();
            sets.sort_by(|a, b| (a.name(), u16::from(a.rtype())).cmp(&(b.name(), u16::from(b.rtype()))));
            Ok(sets.into_iter().map(RRsetView::of).collect())
        })
        .await?;
    Ok(axum::Json(RRsets { rrsets }))
}

/// The zone at `apex` if `who` may read it.
fn readable_zone(store: &Store, who: &Principal, apex: &Name) -> Result<std::sync::Arc<Zone>, ApiError> {
    if let Some(record) = zones_catalog::get(store, apex)? {
        check_read(who, &record)?;
    }
    store.snapshot().get(apex).cloned().ok_or_else(|| ApiError::NotFound(format!("no zone {}", text(apex))))
}

/// `PATCH /zones/{zone}/rrsets` `{"rrsets": [{name, type, ttl, changetype,
/// records: [{content}]}]}`: every name authorized, content parsed per type,
/// the records quota checked, then one change set; 204, or nothing applied.
#[utoipa::path(operation_id = "rrsets_patch", patch, path = "/api/v1/zones/{zone}/rrsets", tag = "zones", params(("zone" = String, Path, description = "the zone's apex, e.g. apps.company.com")), request_body = RRsets<RRsetPatch>, responses((status = 204, description = "applied as one change set")), security(("bearer" = [])))]
pub(crate) async fn patch(
    State(state): State<AppState>,
    who: Principal,
    Path(zone): Path<String>,
    Json(body): Json<RRsets<RRsetPatch>>,
) -> Result<StatusCode, ApiError> {
    let apex = parse_name("zone", &zone)?;
    let policy = state.config.policy.clone();
    let counts = state.record_counts();
    let by = who.clone();
    let count = body.rrsets.len();
    let serial = state
        .write(move |store, now| {
            let principal = by.policy()?;
            let zone = readable_zone(store, &by, &apex)?;
            let mut change = ChangeSet::new(&apex, by.author(), "api");
            let mut seen = BTreeSet::new();
            let mut owners = BTreeSet::new();
            let mut delta: i64 = 0;
            for patch in &body.rrsets {
                let name = parse_name("name", &patch.name)?;
                let rtype = pdns::parse_type(&patch.rtype)?;
                if !seen.insert((name.clone(), u16::from(rtype))) {
                    return Err(ApiError::InvalidRequest(format!("{} {rtype} is listed twice", name.to_ascii())));
                }
                policy.scheme.authorize(&principal, Action::WriteRecords, Target::Name { name: &name, zone: &apex })?;
                owners.insert(owner_team(&policy, &name, &apex));
                let existing = zone.rrset(&name, rtype).map_or(0, |s| s.rdatas().len());
                let op = to_op(&name, rtype, patch)?;
                let added = match &op {
                    Op::ReplaceRRset(set) => set.rdatas().len(),
                    _ => 0,
                };
                delta = delta.saturating_add(added as i64 - existing as i64);
                change.push(op);
            }
            if !by.is_admin() {
                let team =
                    teams::get(store, &by.team)?.ok_or_else(|| ApiError::NotFound(format!("no team {}", by.team)))?;
                let limits = team.limits(&policy)?;
                let current = policy::Usage {
                    records: counts.records(&policy, &store.snapshot(), &principal.team),
                    ..Default::default()
                };
                limits.check(&current, &UsageDelta { records: delta, ..Default::default() })?;
            }
            let mut tx = Transaction::new();
            tx.change(change);
            let team = match owners.len() {
                1 => owners.pop_first().unwrap_or_default(),
                _ => PLATFORM_TEAM.to_owned(),
            };
            let entries = Audit::by(&by, &team, "rrsets.patch", text(&apex)).commit(store, tx, now)?;
            Ok(entries.first().map(|e| e.to_serial))
        })
        .await?;
    tracing::info!(zone = %zone, rrsets = count, ?serial, by = %who.token_id, "rrsets patched");
    Ok(StatusCode::NO_CONTENT)
}

/// The team that owns `name` in the zone at `apex`, or the platform team.
fn owner_team(policy: &policy::Policy, name: &Name, apex: &Name) -> String {
    match policy.scheme.owner(name, apex) {
        Owner::Team(team) => team.to_string(),
        Owner::Platform | Owner::Unmanaged => PLATFORM_TEAM.to_owned(),
    }
}

/// The change-set operation of one PATCH entry.
fn to_op(name: &Name, rtype: RecordType, patch: &RRsetPatch) -> Result<Op, ApiError> {
    let owner = name.to_ascii();
    match patch.changetype {
        ChangeType::Delete => {
            if !patch.records.is_empty() {
                return Err(ApiError::InvalidRequest(format!("{owner} {rtype}: DELETE takes no records")));
            }
            Ok(Op::RemoveRRset(name.clone(), rtype))
        }
        ChangeType::Replace => {
            let ttl =
                patch.ttl.ok_or_else(|| ApiError::InvalidRequest(format!("{owner} {rtype}: REPLACE needs a ttl")))?;
            let mut set = RRset::new(name, rtype, ttl);
            for record in &patch.records {
                if record.disabled {
                    return Err(ApiError::InvalidRequest(format!(
                        "{owner} {rtype}: disabled records are not supported"
                    )));
                }
                let rdata = pdns::parse_content(&owner, rtype, &record.content)?;
                if !set.insert(rdata) {
                    return Err(ApiError::InvalidRequest(format!(
                        "{owner} {rtype}: {:?} is listed twice",
                        record.content
                    )));
                }
            }
            Ok(Op::ReplaceRRset(set))
        }
    }
}
