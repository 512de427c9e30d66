//! `/api/v1/reviews`: the admin's queue of registrations the risk gate held.
//!
//! Approving publishes the app's records and marks app and review in one
//! transaction; denying marks both and publishes nothing.

use axum::extract::State;
use policy::{Action, Target};
use serde::{Deserialize, Serialize};
use zones::{ChangeSet, Transaction};

use crate::apps_catalog::{self, AppRecord, AppStatus, ReviewRecord, ReviewStatus};
use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::{Json, Path};
use crate::{ApiError, AppState, rfc3339, teams, usage};

/// A reviewer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Decision {
    /// Publish the app.
    Approve,
    /// Keep it unpublished.
    Deny,
}

/// The body of `POST /reviews/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    decision: Decision,
    #[serde(default)]
    comment: Option<String>,
}

/// The body of `GET /reviews`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ReviewList {
    reviews: Vec<ReviewRecord>,
}

fn check_admin(who: &Principal, policy: &policy::Policy) -> Result<(), ApiError> {
    policy.scheme.authorize(&who.policy()?, Action::Review, Target::Platform)?;
    Ok(())
}

/// Whether `app` can go live now: its name holds no records (written since
/// it was held) and its records fit the team's quota.
fn check_publishable(
    store: &zones::Store,
    policy: &policy::Policy,
    counts: &usage::RecordCounts,
    app: &AppRecord,
    name: &policy::AppName,
) -> Result<(), ApiError> {
    let snapshot = store.snapshot();
    let zone = snapshot.get(name.zone()).ok_or_else(|| zones::Error::NoSuchZone(name.zone().clone()))?;
    if zone.rrsets_at(name.fqdn()).is_some() {
        return Err(ApiError::Conflict(format!("{} holds records already; remove them first", app.fqdn)));
    }
    let team = teams::get(store, name.team().as_str())?
        .ok_or_else(|| ApiError::NotFound(format!("no team {}", name.team())))?;
    let current = usage::of_team(store, policy, counts, name.team())?;
    let delta = policy::UsageDelta { records: app.target.records(), ..Default::default() };
    team.limits(policy)?.check(&current, &delta)?;
    Ok(())
}

/// `GET /reviews` (admin): every review, oldest first.
#[utoipa::path(operation_id = "reviews_list", get, path = "/api/v1/reviews", tag = "reviews", responses((status = 200, description = "every review, oldest first", body = ReviewList)), security(("bearer" = [])))]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<axum::Json<ReviewList>, ApiError> {
    check_admin(&who, &state.config.policy)?;
    let mut reviews = state.read(|store, _| apps_catalog::reviews(store)).await?;
    reviews.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(axum::Json(ReviewList { reviews }))
}

/// `POST /reviews/{id}` `{decision, comment}` (admin): 200 with the decided
/// review; 409 if it is decided already.
#[utoipa::path(operation_id = "reviews_decide", post, path = "/api/v1/reviews/{id}", tag = "reviews", params(("id" = String, Path, description = "the review's id")), request_body = DecisionBody, responses((status = 200, description = "the decided review", body = ReviewRecord), (status = 409, description = "decided already")), security(("bearer" = [])))]
pub(crate) async fn decide(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<axum::Json<ReviewRecord>, ApiError> {
    check_admin(&who, &state.config.policy)?;
    let policy = state.config.policy.clone();
    let counts = state.record_counts();
    let by = who.clone();
    let review = state
        .write(move |store, now| {
            let mut review =
                apps_catalog::review(store, &id)?.ok_or_else(|| ApiError::NotFound(format!("no review {id}")))?;
            if review.status != ReviewStatus::Pending {
                return Err(ApiError::Conflict(format!("review {id} is decided already")));
            }
            let mut app = apps_catalog::get(store, &review.fqdn)?
                .ok_or_else(|| ApiError::Internal(format!("review {id} names no app {}", review.fqdn)))?;
            if app.status != AppStatus::Pending {
                return Err(ApiError::Conflict(format!("app {} is not pending", app.fqdn)));
            }
            let mut tx = Transaction::new();
            (review.status, app.status) = match body.decision {
                Decision::Approve => {
                    let parsed = policy.scheme.parse(&app.name()?)?;
                    check_publishable(store, &policy, &counts, &app, &parsed)?;
                    let mut change = ChangeSet::new(parsed.zone(), by.author(), format!("api: review {id} approved"));
                    change.push(app.publish()?);
                    tx.change(change);
                    (ReviewStatus::Approved, AppStatus::Live)
                }
                Decision::Deny => (ReviewStatus::Denied, AppStatus::Denied),
            };
            review.decided_by = Some(by.author());
            review.decided_at = Some(rfc3339(now));
            review.comment = body.comment;
            app.updated_at = Some(rfc3339(now));
            apps_catalog::stage_review(&mut tx, &review)?;
            apps_catalog::stage(&mut tx, &app)?;
            let why = serde_json::json!({ "decision": body.decision, "comment": review.comment, "findings": review.findings });
            Audit::by(&by, &review.team, "review.decide", &review.id).why(why).commit(store, tx, now)?;
            Ok(review)
        })
        .await?;
    tracing::info!(review = %review.id, app = %review.fqdn, status = ?review.status, by = %who.token_id, "review decided");
    Ok(axum::Json(review))
}
