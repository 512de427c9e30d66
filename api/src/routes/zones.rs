//! `/api/v1/zones`: delegate, list, show and remove team zones.
//!
//! `POST /zones` is one transaction: for a hosted zone, the child zone (SOA,
//! NS = the platform's nameservers) plus the NS cut in the parent platform
//! zone; for an external zone, the NS cut and any glue in the parent only;
//! in both cases the catalog entry. `DELETE` undoes all of it in one
//! transaction.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use serde::{Deserialize, Serialize};
use zones::{ChangeSet, Name, Op, RData, RRset, RecordType, Store, Transaction, Zone};

use crate::audit::Audit;
use crate::auth::Principal;
use crate::catalog_zone;
use crate::extract::{Json, Path};
use crate::zones_catalog::{self, NameserverSpec, ZoneKind, ZoneRecord, parse_name, text};
use crate::{ApiError, AppState, PLATFORM_TEAM, rfc3339, teams, usage};

/// The body of `POST /zones`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewZone {
    name: String,
    team: String,
    kind: ZoneKind,
    #[serde(default)]
    nameservers: Option<Vec<NameserverSpec>>,
}

/// A zone as `GET` returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ZoneView {
    name: String,
    team: String,
    /// `hosted`, `external` or `platform`.
    kind: String,
    /// The SOA serial of the zone that holds its data (the parent's, for an
    /// external zone).
    serial: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nameservers: Vec<NameserverSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
}

/// The body of `GET /zones`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ZoneList {
    zones: Vec<ZoneView>,
}

fn kind_name(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Hosted => "hosted",
        ZoneKind::External => "external",
    }
}

/// The view of a delegated zone, with the serial of the zone serving it.
fn view(store: &Store, record: &ZoneRecord) -> ZoneView {
    let snapshot = store.snapshot();
    let served_by = match record.kind {
        ZoneKind::Hosted => record.name.as_str(),
        ZoneKind::External => record.parent.as_str(),
    };
    let serial = parse_name("zone", served_by).ok().and_then(|apex| snapshot.get(&apex).map(|z| z.serial()));
    ZoneView {
        name: record.name.clone(),
        team: record.team.clone(),
        kind: kind_name(record.kind).to_owned(),
        serial,
        nameservers: record.nameservers.clone(),
        created_at: Some(record.created_at.clone()),
    }
}

/// The view of a zone that is no delegated team zone (a platform zone).
fn platform_view(zone: &Zone) -> ZoneView {
    ZoneView {
        name: text(zone.apex()),
        team: PLATFORM_TEAM.to_owned(),
        kind: "platform".to_owned(),
        serial: Some(zone.serial()),
        nameservers: Vec::new(),
        created_at: None,
    }
}

/// `GET /zones`: every zone for the admin; the caller's team's delegated
/// zones otherwise.
#[utoipa::path(operation_id = "zones_list", get, path = "/api/v1/zones", tag = "zones", responses((status = 200, description = "the delegated zones the caller may read", body = ZoneList)), security(("bearer" = [])))]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<axum::Json<ZoneList>, ApiError> {
    let catalog = state.config.catalog_zone.clone();
    let zones = state
        .read(move |store, _| {
            let delegated = zones_catalog::list(store)?;
            let mut views: Vec<ZoneView> =
                delegated.iter().filter(|z| who.may_read(&z.team)).map(|z| view(store, z)).collect();
            if who.is_admin() {
                let snapshot = store.snapshot();
                // The catalog zone is the secondaries' index, not a zone anyone manages.
                let platform = snapshot.zones().into_iter().filter(|z| {
                    !delegated.iter().any(|d| d.name == text(z.apex())) && catalog.as_ref() != Some(z.apex())
                });
                views.extend(platform.map(|z| platform_view(z)));
            }
            views.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(views)
        })
        .await?;
    Ok(axum::Json(ZoneList { zones }))
}

/// `GET /zones/{zone}`: a delegated zone for the admin and its team; a
/// platform zone for any token.
#[utoipa::path(operation_id = "zones_show", get, path = "/api/v1/zones/{zone}", tag = "zones", params(("zone" = String, Path, description = "the zone's apex, e.g. apps.company.com")), responses((status = 200, description = "the zone with its serial", body = ZoneView)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(zone): Path<String>,
) -> Result<axum::Json<ZoneView>, ApiError> {
    let apex = parse_name("zone", &zone)?;
    let found = state
        .read(move |store, _| {
            if let Some(record) = zones_catalog::get(store, &apex)? {
                check_read(&who, &record)?;
                return Ok(view(store, &record));
            }
            match store.snapshot().get(&apex) {
                Some(zone) => Ok(platform_view(zone)),
                None => Err(ApiError::NotFound(format!("no zone {}", text(&apex)))),
            }
        })
        .await?;
    Ok(axum::Json(found))
}

/// Refuses a caller that may not read `record`'s team.
pub(crate) fn check_read(who: &Principal, record: &ZoneRecord) -> Result<(), ApiError> {
    match who.may_read(&record.team) {
        true => Ok(()),
        false => Err(ApiError::Forbidden(format!(
            "team {} may not read zone {} of team {}",
            who.team, record.name, record.team
        ))),
    }
}

/// `POST /zones` `{name, team, kind, nameservers?}` (admin, or the owner of
/// the team whose zone it is): 201 with the zone.
#[utoipa::path(operation_id = "zones_create", post, path = "/api/v1/zones", tag = "zones", request_body = NewZone, responses((status = 201, description = "the zone, delegated", body = ZoneView), (status = 409, description = "delegated already, or names below it hold records")), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<NewZone>,
) -> Result<Response, ApiError> {
    let policy = state.config.policy.clone();
    let counts = state.record_counts();
    let catalog = state.config.catalog_zone.clone();
    let by = who.clone();
    let created = state
        .write(move |store, now| {
            let principal = by.policy()?;
            let apex = parse_name("zone", &body.name)?;
            let team = policy.scheme.team(&body.team)?;
            let parent =
                policy.scheme.zone_containing(&apex).map(|p| p.apex().clone()).ok_or_else(|| {
                    ApiError::InvalidRequest(format!("{} is not inside a platform zone", text(&apex)))
                })?;
            policy.scheme.authorize(
                &principal,
                policy::Action::DelegateZone,
                policy::Target::Name { name: &apex, zone: &parent },
            )?;
            let expected = format!("{team}.{}", text(&parent));
            if text(&apex) != expected {
                return Err(ApiError::InvalidRequest(format!(
                    "zone {} is not team {team}'s zone; team {team}'s zone is {expected}",
                    text(&apex)
                )));
            }
            let team_record =
                teams::get(store, team.as_str())?.ok_or_else(|| ApiError::NotFound(format!("no team {team}")))?;
            if zones_catalog::get(store, &apex)?.is_some() {
                return Err(ApiError::Conflict(format!("zone {} is delegated already", text(&apex))));
            }
            let snapshot = store.snapshot();
            if snapshot.get(&apex).is_some() {
                return Err(ApiError::Conflict(format!("zone {} exists already", text(&apex))));
            }
            let parent_zone = snapshot.get(&parent).ok_or_else(|| zones::Error::NoSuchZone(parent.clone()))?;
            if parent_zone.rrsets().iter().any(|s| apex.zone_of(s.name())) {
                return Err(ApiError::Conflict(format!(
                    "{} holds records in {} already; remove them first",
                    text(&apex),
                    text(&parent)
                )));
            }
            let platform_ns = parent_zone
                .rrset(&parent, RecordType::NS)
                .cloned()
                .ok_or_else(|| ApiError::Internal(format!("platform zone {parent} has no NS RRset")))?;
            let mut tx = Transaction::new();
            let mut cut = ChangeSet::new(&parent, by.author(), "api: delegate zone");
            let nameservers = match body.kind {
                ZoneKind::Hosted => {
                    if body.nameservers.as_ref().is_some_and(|n| !n.is_empty()) {
                        return Err(ApiError::InvalidRequest(
                            "a hosted zone is served by the platform's nameservers; send no nameservers".to_owned(),
                        ));
                    }
                    let limits = team_record.limits(&policy)?;
                    let current = usage::of_team(store, &policy, &counts, &team)?;
                    limits.check(&current, &policy::UsageDelta { hosted_zones: 1, ..Default::default() })?;
                    tx.put_zone(child_zone(&apex, parent_zone, &platform_ns)?, &by.author(), "api: hosted zone");
                    let mut ns = RRset::new(&apex, RecordType::NS, platform_ns.ttl());
                    for rdata in platform_ns.rdatas() {
                        ns.insert(rdata.clone());
                    }
                    cut.push(Op::ReplaceRRset(ns));
                    Vec::new()
                }
                ZoneKind::External => {
                    let specs = body.nameservers.unwrap_or_default();
                    for op in external_cut(&apex, &specs, platform_ns.ttl())? {
                        cut.push(op);
                    }
                    specs
                }
            };
            tx.change(cut);
            let record = ZoneRecord {
                name: text(&apex),
                team: team.to_string(),
                kind: body.kind,
                nameservers,
                parent: text(&parent),
                created_at: rfc3339(now),
            };
            zones_catalog::stage_put(&mut tx, &apex, &record)?;
            if record.kind == ZoneKind::Hosted {
                catalog_zone::stage_member(&mut tx, store, catalog.as_ref(), &apex, Some(&record.team))?;
            }
            let audit = Audit::by(&by, &record.team, "zone.create", &record.name);
            audit.why(serde_json::json!({ "kind": record.kind })).commit(store, tx, now)?;
            Ok(view(store, &record))
        })
        .await?;
    tracing::info!(zone = %created.name, team = %created.team, kind = %created.kind, by = %who.token_id, "zone delegated");
    let location = format!("/api/v1/zones/{}", created.name);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(created)).into_response())
}

/// The hosted child zone: the parent's SOA timers, serial 1, and the
/// platform's nameservers.
fn child_zone(apex: &Name, parent: &Zone, platform_ns: &RRset) -> Result<Zone, ApiError> {
    let soa = match parent.soa().rdatas().first() {
        Some(RData::SOA(soa)) => soa.clone(),
        _ => return Err(ApiError::Internal(format!("zone {} has no SOA record", parent.apex()))),
    };
    let mut soa_set = RRset::new(apex, RecordType::SOA, parent.soa().ttl());
    soa_set.insert(RData::SOA(SOA::new(
        soa.mname.clone(),
        soa.rname.clone(),
        1,
        soa.refresh,
        soa.retry,
        soa.expire,
        soa.minimum,
    )));
    let mut ns = RRset::new(apex, RecordType::NS, platform_ns.ttl());
    for rdata in platform_ns.rdatas() {
        ns.insert(rdata.clone());
    }
    Ok(Zone::from_rrsets(apex, [soa_set, ns])?)
}

/// The NS cut of an external zone and the glue of its nameservers inside it.
fn external_cut(apex: &Name, specs: &[NameserverSpec], ttl: u32) -> Result<Vec<Op>, ApiError> {
    if specs.is_empty() {
        return Err(ApiError::InvalidRequest("an external zone needs at least one nameserver".to_owned()));
    }
    let mut ns = RRset::new(apex, RecordType::NS, ttl);
    let mut ops = Vec::new();
    for spec in specs {
        let name = parse_name("nameserver", &spec.name)?;
        if !ns.insert(RData::NS(NS(name.clone()))) {
            return Err(ApiError::InvalidRequest(format!("nameserver {} is listed twice", text(&name))));
        }
        let inside = apex.zone_of(&name);
        match (inside, spec.addresses.is_empty()) {
            (true, true) => {
                return Err(ApiError::InvalidRequest(format!(
                    "nameserver {} is inside {}, so it needs addresses (glue)",
                    text(&name),
                    text(apex)
                )));
            }
            (false, false) => {
                return Err(ApiError::InvalidRequest(format!(
                    "nameserver {} is outside {}; addresses are only published for nameservers inside it",
                    text(&name),
                    text(apex)
                )));
            }
            _ => {}
        }
        let mut v4 = RRset::new(&name, RecordType::A, ttl);
        let mut v6 = RRset::new(&name, RecordType::AAAA, ttl);
        for address in &spec.addresses {
            match address {
                std::net::IpAddr::V4(a) => v4.insert(RData::A(A(*a))),
                std::net::IpAddr::V6(a) => v6.insert(RData::AAAA(AAAA(*a))),
            };
        }
        ops.extend([v4, v6].into_iter().filter(|s| !s.is_empty()).map(Op::ReplaceRRset));
    }
    ops.insert(0, Op::ReplaceRRset(ns));
    Ok(ops)
}

/// `DELETE /zones/{zone}` (admin, or the owner of the zone's team): removes
/// the hosted zone or the external delegation, the cut and glue in the
/// parent, and the catalog entry, at once. 204.
#[utoipa::path(operation_id = "zones_remove", delete, path = "/api/v1/zones/{zone}", tag = "zones", params(("zone" = String, Path, description = "the zone's apex, e.g. apps.company.com")), responses((status = 204, description = "the delegation and any hosted zone removed")), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path(zone): Path<String>,
) -> Result<StatusCode, ApiError> {
    let apex = parse_name("zone", &zone)?;
    let policy = state.config.policy.clone();
    let catalog = state.config.catalog_zone.clone();
    let by = who.clone();
    let name = text(&apex);
    state
        .write(move |store, now| {
            let record = zones_catalog::get(store, &apex)?
                .ok_or_else(|| ApiError::NotFound(format!("no delegated zone {}", text(&apex))))?;
            check_read(&by, &record)?;
            let parent = parse_name("zone", &record.parent)?;
            let principal = by.policy()?;
            policy.scheme.authorize(
                &principal,
                policy::Action::DelegateZone,
                policy::Target::Name { name: &apex, zone: &parent },
            )?;
            let snapshot = store.snapshot();
            let mut tx = Transaction::new();
            if record.kind == ZoneKind::Hosted && snapshot.get(&apex).is_some() {
                tx.delete_zone(&apex);
                catalog_zone::stage_member(&mut tx, store, catalog.as_ref(), &apex, None)?;
            }
            if let Some(parent_zone) = snapshot.get(&parent) {
                let mut cut = ChangeSet::new(&parent, by.author(), "api: remove delegation");
                let mut names: Vec<Name> =
                    parent_zone.rrsets().iter().map(|s| s.name().clone()).filter(|n| apex.zone_of(n)).collect();
                names.dedup();
                for owner in names {
                    cut.push(Op::RemoveName(owner));
                }
                tx.change(cut);
            }
            zones_catalog::stage_remove(&mut tx, &apex);
            Audit::by(&by, &record.team, "zone.delete", &record.name).commit(store, tx, now)?;
            Ok(())
        })
        .await?;
    tracing::info!(zone = %name, by = %who.token_id, "zone delegation removed");
    Ok(StatusCode::NO_CONTENT)
}
