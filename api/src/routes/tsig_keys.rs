//! `/api/v1/teams/{team}/tsig-keys`: a team's TSIG keys for dynamic UPDATE
//! (`nsupdate -y`, cert-manager's and lego's rfc2136 clients) and transfers
//! of the team's zones. The secret is shown once, when the key is made.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::{Json, Path};
use crate::{ApiError, AppState, teams, tsig_keys};

/// The body of `POST /teams/{team}/tsig-keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTsigKey {
    /// The key's name, a DNS name unique across teams (e.g. `hr-ci.`).
    name: String,
    /// `hmac-md5`, `hmac-sha1`, `hmac-sha224`, `hmac-sha256`, `hmac-sha384`
    /// or `hmac-sha512`.
    algorithm: String,
}

/// A key as `POST` returns it: with its secret, this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct IssuedTsigKey {
    /// The key's name, absolute and lowercase.
    name: String,
    /// Its algorithm.
    algorithm: String,
    /// The secret, base64 (32 random bytes).
    secret: String,
}

/// A key as `GET` lists it: no secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TsigKeyView {
    /// The key's name.
    name: String,
    /// Its algorithm.
    algorithm: String,
    /// When it was made (RFC 3339).
    created_at: String,
}

/// The list `GET /teams/{team}/tsig-keys` returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TsigKeys {
    /// The team's keys, by name.
    keys: Vec<TsigKeyView>,
}

/// `POST /teams/{team}/tsig-keys` (admin, or an owner of the team): 201
/// `{name, algorithm, secret}`; 409 when any team has a key of that name.
#[utoipa::path(operation_id = "tsig_keys_create", post, path = "/api/v1/teams/{team}/tsig-keys", tag = "tsig-keys", params(("team" = String, Path, description = "the team's name")), request_body = NewTsigKey, responses((status = 201, description = "the key and its secret, shown only now", body = IssuedTsigKey)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(team): Path<String>,
    Json(body): Json<NewTsigKey>,
) -> Result<(StatusCode, axum::Json<IssuedTsigKey>), ApiError> {
    check_manage(&who, &team)?;
    let audit = Audit::by(&who, &team, "tsig_key.create", "");
    let for_team = team.clone();
    let record = state
        .write(move |store, now| {
            teams::get(store, &for_team)?.ok_or_else(|| ApiError::NotFound(format!("no team {for_team}")))?;
            tsig_keys::create(store, now, &for_team, &body.name, &body.algorithm, audit)
        })
        .await?;
    tracing::info!(%team, key = %record.name, algorithm = %record.algorithm, by = %who.token_id, "tsig key made");
    let issued = IssuedTsigKey { name: record.name, algorithm: record.algorithm, secret: record.secret };
    Ok((StatusCode::CREATED, axum::Json(issued)))
}

/// `GET /teams/{team}/tsig-keys` (admin, or a token of the team): names and
/// algorithms, never secrets.
#[utoipa::path(operation_id = "tsig_keys_list", get, path = "/api/v1/teams/{team}/tsig-keys", tag = "tsig-keys", params(("team" = String, Path, description = "the team's name")), responses((status = 200, description = "the team's keys, without secrets", body = TsigKeys)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(team): Path<String>,
) -> Result<axum::Json<TsigKeys>, ApiError> {
    if !who.is_admin() && who.team != team {
        return Err(ApiError::Forbidden(format!("a token of team {} may not list team {team}'s keys", who.team)));
    }
    let keys = state
        .read(move |store, _| {
            teams::get(store, &team)?.ok_or_else(|| ApiError::NotFound(format!("no team {team}")))?;
            tsig_keys::list(store, &team)
        })
        .await?;
    let keys = keys
        .into_iter()
        .map(|k| TsigKeyView { name: k.name, algorithm: k.algorithm, created_at: k.created_at })
        .collect();
    Ok(axum::Json(TsigKeys { keys }))
}

/// `DELETE /teams/{team}/tsig-keys/{name}` (admin, or an owner of the
/// team): 204; updates signed with it are refused from then on.
#[utoipa::path(operation_id = "tsig_keys_delete", delete, path = "/api/v1/teams/{team}/tsig-keys/{name}", tag = "tsig-keys", params(("team" = String, Path, description = "the team's name"), ("name" = String, Path, description = "the key's name")), responses((status = 204, description = "deleted")), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path((team, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_manage(&who, &team)?;
    let audit = Audit::by(&who, &team, "tsig_key.delete", &name);
    let (for_team, for_name) = (team.clone(), name.clone());
    state.write(move |store, now| tsig_keys::delete(store, now, &for_team, &for_name, audit)).await?;
    tracing::info!(%team, key = %name, by = %who.token_id, "tsig key deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn check_manage(who: &Principal, team: &str) -> Result<(), ApiError> {
    match who.may_manage(team) {
        true => Ok(()),
        false => Err(ApiError::Forbidden(format!(
            "a {} token of team {} may not manage the TSIG keys of team {team}",
            who.role, who.team
        ))),
    }
}
