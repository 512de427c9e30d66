//! `/api/v1/apps/{fqdn}/previews`: short-lived preview names of an app.
//!
//! `POST` (admin, owners, members and ci tokens of the app's team) builds
//! `pr-N.app.team.preview.<zone>` with the naming scheme, bounds the TTL by
//! the policy's preview config, checks the previews quota and writes the
//! records and the catalog entry (with `expires_at`) in one transaction.
//! `DELETE` removes both early; the reaper (`reaper.rs`) removes them on
//! expiry.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use policy::{Action, Target};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zones::{ChangeSet, Op, Transaction};

use crate::apps_catalog::{self, AppTarget};
use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::{Json, Path};
use crate::previews_catalog::{self, PreviewRecord, unix_ms};
use crate::zones_catalog::{parse_name, text};
use crate::{ApiError, AppState, rfc3339, teams, usage};

/// The body of `POST /apps/{fqdn}/previews`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPreview {
    pr: u32,
    target: AppTarget,
    #[serde(default)]
    ttl_seconds: Option<u64>,
}

/// The answer to `POST /apps/{fqdn}/previews`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Created {
    fqdn: String,
    expires_at: String,
}

/// `POST /apps/{fqdn}/previews` `{pr, target, ttl_seconds?}`: 201 `{fqdn, expires_at}`.
#[utoipa::path(operation_id = "previews_create", post, path = "/api/v1/apps/{fqdn}/previews", tag = "previews", params(("fqdn" = String, Path, description = "the app's stable name, e.g. timesheet.hr.prod.apps.company.com")), request_body = NewPreview, responses((status = 201, description = "the preview, live until it expires", body = Created)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    Json(body): Json<NewPreview>,
) -> Result<Response, ApiError> {
    let app = parse_name("app", &app)?;
    let policy = state.config.policy.clone();
    let counts = state.record_counts();
    let by = who.clone();
    let created = state
        .write(move |store, now| {
            let stable = policy.scheme.parse(&app)?;
            let name = policy.scheme.preview_of(&stable, body.pr)?;
            policy.scheme.authorize(
                &by.policy()?,
                Action::CreatePreview,
                Target::Name { name: name.fqdn(), zone: name.zone() },
            )?;
            let app_fqdn = text(&app);
            let app_record = apps_catalog::get(store, &app_fqdn)?
                .filter(|a| a.status.is_active())
                .ok_or_else(|| ApiError::NotFound(format!("no live or pending app {app_fqdn}")))?;
            let expires = policy.preview.expires_at(now, body.ttl_seconds)?;
            let fqdn = text(name.fqdn());
            if previews_catalog::get(store, &fqdn)?.is_some() {
                return Err(ApiError::Conflict(format!("preview {fqdn} exists already")));
            }
            let rrset = body.target.rrset(name.fqdn())?;
            let snapshot = store.snapshot();
            let zone = snapshot.get(name.zone()).ok_or_else(|| zones::Error::NoSuchZone(name.zone().clone()))?;
            if zone.rrsets().iter().any(|s| s.name() == name.fqdn()) {
                return Err(ApiError::Conflict(format!("{fqdn} holds records already; remove them first")));
            }
            let team = name.team().clone();
            let team_record =
                teams::get(store, team.as_str())?.ok_or_else(|| ApiError::NotFound(format!("no team {team}")))?;
            let current = usage::of_team(store, &policy, &counts, &team)?;
            let delta = policy::UsageDelta { previews: 1, records: body.target.records(), ..Default::default() };
            team_record.limits(&policy)?.check(&current, &delta)?;

            let record = PreviewRecord {
                fqdn: fqdn.clone(),
                app: app_record.fqdn,
                team: team.to_string(),
                pr: body.pr,
                target: body.target,
                created_by: by.author(),
                created_at: rfc3339(now),
                expires_at: rfc3339(expires),
                expires_at_ms: unix_ms(expires),
            };
            let mut tx = Transaction::new();
            let mut change = ChangeSet::new(name.zone(), by.author(), "api: create preview");
            change.push(Op::ReplaceRRset(rrset));
            tx.change(change);
            previews_catalog::stage(&mut tx, &record)?;
            let audit = Audit::by(&by, &record.team, "preview.create", &fqdn);
            audit.why(json!({ "app": record.app, "expires_at": record.expires_at })).commit(store, tx, now)?;
            Ok(Created { fqdn, expires_at: record.expires_at })
        })
        .await?;
    tracing::info!(preview = %created.fqdn, expires_at = %created.expires_at, by = %who.token_id, "preview created");
    let location = format!("/api/v1/previews/{}", created.fqdn);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(created)).into_response())
}

/// A pull request number from the path: `42` or `pr-42`.
fn pr_number(text: &str) -> Result<u32, ApiError> {
    let digits = text.strip_prefix("pr-").unwrap_or(text);
    digits.parse().map_err(|_| ApiError::InvalidRequest(format!("{text:?} is not a pull request number")))
}

/// `DELETE /apps/{fqdn}/previews/{pr}`: removes the preview's records and
/// entry in one transaction. 204.
#[utoipa::path(operation_id = "previews_remove", delete, path = "/api/v1/apps/{fqdn}/previews/{pr}", tag = "previews", params(("fqdn" = String, Path, description = "the app's stable name, e.g. timesheet.hr.prod.apps.company.com"), ("pr" = String, Path, description = "the pull request number: 42 or pr-42")), responses((status = 204, description = "removed")), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path((app, pr)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let app = parse_name("app", &app)?;
    let pr = pr_number(&pr)?;
    let policy = state.config.policy.clone();
    let ca = state.config.ca.clone();
    let by = who.clone();
    let fqdn = state
        .write(move |store, now| {
            let name = policy.scheme.preview_of(&policy.scheme.parse(&app)?, pr)?;
            policy.scheme.authorize(
                &by.policy()?,
                Action::DeletePreview,
                Target::Name { name: name.fqdn(), zone: name.zone() },
            )?;
            let fqdn = text(name.fqdn());
            let preview =
                previews_catalog::get(store, &fqdn)?.ok_or_else(|| ApiError::NotFound(format!("no preview {fqdn}")))?;
            let mut tx = Transaction::new();
            previews_catalog::stage_remove(&mut tx, &policy, &preview, &by.author(), "api: delete preview")?;
            Audit::by(&by, &preview.team, "preview.delete", &fqdn).commit(store, tx, now)?;
            if let Some(ca) = &ca {
                let audit = Audit::by(&by, &preview.team, "cert.revoke", &fqdn);
                crate::certs::revoke_preview(ca, store, &fqdn, &audit, now);
            }
            Ok(fqdn)
        })
        .await?;
    tracing::info!(preview = %fqdn, by = %who.token_id, "preview deleted");
    Ok(StatusCode::NO_CONTENT)
}
