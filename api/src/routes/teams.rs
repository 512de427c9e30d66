//! `/api/v1/teams`: create, list and show teams.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Principal;
use crate::extract::{Json, Path};
use crate::teams::{self, NewTeam, TeamRecord};
use crate::{ApiError, AppState};

/// The body of `GET /teams`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TeamList {
    teams: Vec<TeamRecord>,
}

/// `POST /teams` `{name, region?, quotas?}` (admin): 201 with the team, 409
/// if it exists, 400 if the scheme refuses the name.
#[utoipa::path(operation_id = "teams_create", post, path = "/api/v1/teams", tag = "teams", request_body = crate::teams::NewTeam, responses((status = 201, description = "the team", body = crate::teams::TeamRecord), (status = 409, description = "the team exists")), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<NewTeam>,
) -> Result<Response, ApiError> {
    if !who.is_admin() {
        return Err(ApiError::Forbidden("only the platform admin may create teams".to_owned()));
    }
    let policy = state.config.policy.clone();
    let by = who.clone();
    let team = state.write(move |store, now| teams::create(store, &policy, now, &body, &by)).await?;
    tracing::info!(team = %team.name, by = %who.token_id, "team created");
    let location = format!("/api/v1/teams/{}", team.name);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(team)).into_response())
}

/// `GET /teams`: every team for the admin, the caller's own team otherwise.
#[utoipa::path(operation_id = "teams_list", get, path = "/api/v1/teams", tag = "teams", responses((status = 200, description = "every team (non-admins: their own)", body = TeamList)), security(("bearer" = [])))]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<axum::Json<TeamList>, ApiError> {
    let teams = state
        .read(move |store, _| match who.is_admin() {
            true => teams::list(store),
            false => Ok(teams::get(store, &who.team)?.into_iter().collect()),
        })
        .await?;
    Ok(axum::Json(TeamList { teams }))
}

/// `GET /teams/{team}`: the admin or a token of that team; 403 for others
/// (whether or not the team exists), 404 if it does not exist.
#[utoipa::path(operation_id = "teams_show", get, path = "/api/v1/teams/{team}", tag = "teams", params(("team" = String, Path, description = "the team's name")), responses((status = 200, description = "the team", body = crate::teams::TeamRecord)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(team): Path<String>,
) -> Result<axum::Json<TeamRecord>, ApiError> {
    if !who.may_read(&team) {
        return Err(ApiError::Forbidden(format!("a token of team {} may not read team {team}", who.team)));
    }
    let found = state
        .read(move |store, _| teams::get(store, &team)?.ok_or(ApiError::NotFound(format!("no team {team}"))))
        .await?;
    Ok(axum::Json(found))
}
