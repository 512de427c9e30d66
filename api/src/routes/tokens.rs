//! `/api/v1/teams/{team}/tokens`: mint and revoke a team's tokens.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::{Json, Path};
use crate::{ApiError, AppState, Issued, Role, tokens};

/// The body of `POST /teams/{team}/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    role: Role,
    #[serde(default)]
    description: String,
}

/// `POST /teams/{team}/tokens` (admin, or an owner of the team; owners may
/// not mint admin tokens): 201 `{id, token}`, the only time the token is shown.
#[utoipa::path(operation_id = "tokens_create", post, path = "/api/v1/teams/{team}/tokens", tag = "tokens", params(("team" = String, Path, description = "the team's name")), request_body = NewToken, responses((status = 201, description = "the token, shown only now", body = crate::Issued)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(team): Path<String>,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, axum::Json<Issued>), ApiError> {
    check_manage(&who, &team)?;
    if body.role == Role::Admin && !who.is_admin() {
        return Err(ApiError::Forbidden("only the platform admin may mint admin tokens".to_owned()));
    }
    let role = body.role;
    let audit = Audit::by(&who, &team, "token.create", "");
    let for_team = team.clone();
    let issued =
        state.write(move |store, now| tokens::mint(store, now, &for_team, role, &body.description, audit)).await?;
    tracing::info!(%team, %role, id = %issued.id, by = %who.token_id, "token minted");
    Ok((StatusCode::CREATED, axum::Json(issued)))
}

/// `DELETE /teams/{team}/tokens/{id}` (admin, or an owner of the team): 204.
#[utoipa::path(operation_id = "tokens_revoke", delete, path = "/api/v1/teams/{team}/tokens/{id}", tag = "tokens", params(("team" = String, Path, description = "the team's name"), ("id" = String, Path, description = "the token's id")), responses((status = 204, description = "revoked")), security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path((team, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_manage(&who, &team)?;
    let audit = Audit::by(&who, &team, "token.revoke", &id);
    let (for_team, for_id) = (team.clone(), id.clone());
    state.write(move |store, now| tokens::revoke(store, now, &for_team, &for_id, audit)).await?;
    tracing::info!(%team, %id, by = %who.token_id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}

fn check_manage(who: &Principal, team: &str) -> Result<(), ApiError> {
    match who.may_manage(team) {
        true => Ok(()),
        false => Err(ApiError::Forbidden(format!(
            "a {} token of team {} may not manage the tokens of team {team}",
            who.role, who.team
        ))),
    }
}
