//! `/api/v1/apps`: register, list, show and decommission apps.
//!
//! `POST /apps` builds the app's name with the naming scheme, asks the
//! policy whether the caller may register it, runs the Rego risk gate
//! (failing closed to `review`) and checks the apps and records quotas.
//! `auto` and `annotated` apps go live in one transaction (records and
//! catalog entry); `review` apps get a catalog entry and a review, and no
//! records, until an admin approves (`routes/reviews.rs`).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use policy::{Action, DataClass, Exposure, Gate, Registration, Target};
use serde::{Deserialize, Serialize};
use zones::{ChangeSet, Transaction};

use crate::apps_catalog::{self, AppRecord, AppStatus, AppTarget, ReviewRecord, ReviewStatus};
use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::{Json, Path, Query};
use crate::zones_catalog::{parse_name, text};
use crate::{ApiError, AppState, previews_catalog, rfc3339, teams, usage};

/// The body of `POST /apps`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApp {
    name: String,
    team: String,
    env: String,
    #[serde(default)]
    region: Option<String>,
    target: AppTarget,
    owner: String,
    exposure: Exposure,
    data_class: DataClass,
    #[serde(default)]
    capabilities: Vec<String>,
}

/// The answer to `POST /apps`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Registered {
    fqdn: String,
    gate: String,
    findings: Vec<policy::Finding>,
    status: AppStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<String>,
}

/// The query of `GET /apps`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AppQuery {
    /// Only this team's apps (non-admins: their own, the default).
    #[serde(default)]
    team: Option<String>,
}

/// The body of `GET /apps`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AppList {
    apps: Vec<AppRecord>,
}

/// The gate `registration` gets; a policy that fails is logged and reviews.
fn evaluate(risk: &policy::RiskGate, registration: &Registration) -> Gate {
    match risk.try_evaluate(registration) {
        Ok(gate) => gate,
        Err(e) => {
            tracing::warn!(app = %registration.app, team = %registration.team, error = %e,
                "risk policy failed; the registration goes to review");
            Gate::fail_closed()
        }
    }
}

/// `POST /apps` (admin, or an owner or member of the app's team): 201
/// `{fqdn, gate, findings, status}` (+ `remediation_days`, `review`).
#[utoipa::path(operation_id = "apps_create", post, path = "/api/v1/apps", tag = "apps", request_body = NewApp, responses((status = 201, description = "registered: live, or pending review", body = Registered), (status = 409, description = "the name is taken")), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<NewApp>,
) -> Result<Response, ApiError> {
    let policy = state.config.policy.clone();
    let counts = state.record_counts();
    let by = who.clone();
    let registered = state
        .write(move |store, now| {
            let principal = by.policy()?;
            let name = policy.scheme.stable(&body.name, &body.team, &body.env, body.region.as_deref())?;
            policy.scheme.authorize(
                &principal,
                Action::RegisterApp,
                Target::Name { name: name.fqdn(), zone: name.zone() },
            )?;
            if body.owner.trim().is_empty() {
                return Err(ApiError::InvalidRequest("owner must name who answers for the app".to_owned()));
            }
            let team = name.team().clone();
            let team_record =
                teams::get(store, team.as_str())?.ok_or_else(|| ApiError::NotFound(format!("no team {team}")))?;
            let fqdn = text(name.fqdn());
            if apps_catalog::get(store, &fqdn)?.is_some_and(|a| a.status.is_active()) {
                return Err(ApiError::Conflict(format!("app {fqdn} exists already")));
            }
            let rrset = body.target.rrset(name.fqdn())?;
            let snapshot = store.snapshot();
            let zone = snapshot.get(name.zone()).ok_or_else(|| zones::Error::NoSuchZone(name.zone().clone()))?;
            if zone.rrsets().iter().any(|s| s.name() == name.fqdn()) {
                return Err(ApiError::Conflict(format!("{fqdn} holds records already; remove them first")));
            }
            let limits = team_record.limits(&policy)?;
            let current = usage::of_team(store, &policy, &counts, &team)?;
            let delta = policy::UsageDelta { apps: 1, records: body.target.records(), ..Default::default() };
            limits.check(&current, &delta)?;

            let registration = Registration {
                app: name.app().clone(),
                team: team.clone(),
                env: name.env().clone(),
                region: name.region().cloned(),
                exposure: body.exposure,
                data_class: body.data_class,
                capabilities: body.capabilities.clone(),
            };
            let gate = evaluate(&policy.risk, &registration);
            let remediation_days = match &gate {
                Gate::Annotated { remediation_days, .. } => Some(*remediation_days),
                _ => None,
            };
            let mut tx = Transaction::new();
            let (status, review) = if gate.goes_live() {
                let mut change =
                    ChangeSet::new(name.zone(), by.author(), format!("api: register app ({})", gate.name()));
                change.push(zones::Op::ReplaceRRset(rrset));
                tx.change(change);
                (AppStatus::Live, None)
            } else {
                let review = ReviewRecord {
                    id: apps_catalog::new_review_id()?,
                    fqdn: fqdn.clone(),
                    team: team.to_string(),
                    findings: gate.findings().to_vec(),
                    status: ReviewStatus::Pending,
                    requested_by: by.author(),
                    created_at: rfc3339(now),
                    decided_by: None,
                    decided_at: None,
                    comment: None,
                };
                apps_catalog::stage_review(&mut tx, &review)?;
                (AppStatus::Pending, Some(review.id))
            };
            let record = AppRecord {
                fqdn: fqdn.clone(),
                name: name.app().to_string(),
                team: team.to_string(),
                env: name.env().to_string(),
                region: name.region().map(ToString::to_string),
                target: body.target,
                owner: body.owner,
                exposure: body.exposure,
                data_class: body.data_class,
                capabilities: body.capabilities,
                gate: gate.name().to_owned(),
                findings: gate.findings().to_vec(),
                remediation_days,
                status,
                review: review.clone(),
                created_at: rfc3339(now),
                updated_at: None,
            };
            apps_catalog::stage(&mut tx, &record)?;
            let why = serde_json::json!({ "gate": record.gate, "findings": record.findings, "status": status });
            Audit::by(&by, &record.team, "app.register", &fqdn).why(why).commit(store, tx, now)?;
            Ok(Registered { fqdn, gate: record.gate, findings: record.findings, status, remediation_days, review })
        })
        .await?;
    tracing::info!(app = %registered.fqdn, gate = %registered.gate, by = %who.token_id, "app registered");
    let location = format!("/api/v1/apps/{}", registered.fqdn);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(registered)).into_response())
}

/// `GET /apps?team=`: every app (of `team`, if given) for the admin; the
/// caller's team's apps otherwise (asking for another team is 403).
#[utoipa::path(operation_id = "apps_list", get, path = "/api/v1/apps", tag = "apps", params(AppQuery), responses((status = 200, description = "the apps the caller may read", body = AppList)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(query): Query<AppQuery>,
) -> Result<axum::Json<AppList>, ApiError> {
    let team = who.listing_scope(query.team, "apps")?;
    let apps = state
        .read(move |store, _| {
            let apps = apps_catalog::list(store)?;
            Ok(apps.into_iter().filter(|a| team.as_ref().is_none_or(|t| *t == a.team)).collect())
        })
        .await?;
    Ok(axum::Json(AppList { apps }))
}

/// The app at `fqdn`, if `who` may read it.
fn readable(store: &zones::Store, who: &Principal, fqdn: &str) -> Result<AppRecord, ApiError> {
    let app = apps_catalog::get(store, fqdn)?.ok_or_else(|| ApiError::NotFound(format!("no app {fqdn}")))?;
    if !who.may_read(&app.team) {
        return Err(ApiError::Forbidden(format!("team {} may not read app {fqdn} of team {}", who.team, app.team)));
    }
    Ok(app)
}

/// `GET /apps/{fqdn}` (admin, or a token of the app's team).
#[utoipa::path(operation_id = "apps_show", get, path = "/api/v1/apps/{fqdn}", tag = "apps", params(("fqdn" = String, Path, description = "the app's stable name, e.g. timesheet.hr.prod.apps.company.com")), responses((status = 200, description = "the app", body = AppRecord)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(fqdn): Path<String>,
) -> Result<axum::Json<AppRecord>, ApiError> {
    let fqdn = text(&parse_name("app", &fqdn)?);
    Ok(axum::Json(state.read(move |store, _| readable(store, &who, &fqdn)).await?))
}

/// `DELETE /apps/{fqdn}` (admin, or an owner or member of the app's team):
/// removes a live app's records and marks it decommissioned in one
/// transaction (a pending review is withdrawn). 200 with the entry.
#[utoipa::path(operation_id = "apps_remove", delete, path = "/api/v1/apps/{fqdn}", tag = "apps", params(("fqdn" = String, Path, description = "the app's stable name, e.g. timesheet.hr.prod.apps.company.com")), responses((status = 200, description = "decommissioned: records and previews removed", body = AppRecord), (status = 409, description = "not live or pending")), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path(fqdn): Path<String>,
) -> Result<axum::Json<AppRecord>, ApiError> {
    let name = parse_name("app", &fqdn)?;
    let policy = state.config.policy.clone();
    let by = who.clone();
    let app = state
        .write(move |store, now| {
            let fqdn = text(&name);
            let mut app = readable(store, &by, &fqdn)?;
            let parsed = policy.scheme.parse(&name)?;
            policy.scheme.authorize(
                &by.policy()?,
                Action::RegisterApp,
                Target::Name { name: parsed.fqdn(), zone: parsed.zone() },
            )?;
            let mut tx = Transaction::new();
            match app.status {
                AppStatus::Live => {
                    let mut change = ChangeSet::new(parsed.zone(), by.author(), "api: decommission app");
                    change.push(app.withdraw()?);
                    tx.change(change);
                }
                AppStatus::Pending => {
                    if let Some(mut review) = match &app.review {
                        Some(id) => apps_catalog::review(store, id)?,
                        None => None,
                    } {
                        review.status = ReviewStatus::Withdrawn;
                        review.decided_by = Some(by.author());
                        review.decided_at = Some(rfc3339(now));
                        apps_catalog::stage_review(&mut tx, &review)?;
                    }
                }
                AppStatus::Denied | AppStatus::Decommissioned => {
                    return Err(ApiError::Conflict(format!("app {fqdn} is not live or pending")));
                }
            }
            let previews = previews_catalog::of_app(store, &fqdn)?;
            for preview in &previews {
                previews_catalog::stage_remove(&mut tx, &policy, preview, &by.author(), "api: decommission app")?;
            }
            app.status = AppStatus::Decommissioned;
            app.updated_at = Some(rfc3339(now));
            apps_catalog::stage(&mut tx, &app)?;
            let removed: Vec<&str> = previews.iter().map(|p| p.fqdn.as_str()).collect();
            let why = serde_json::json!({ "previews_removed": removed });
            Audit::by(&by, &app.team, "app.decommission", &fqdn).why(why).commit(store, tx, now)?;
            Ok(app)
        })
        .await?;
    tracing::info!(app = %app.fqdn, by = %who.token_id, "app decommissioned");
    Ok(axum::Json(app))
}
