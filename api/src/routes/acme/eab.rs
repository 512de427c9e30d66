//! `POST /api/v1/teams/{team}/eab`: an External Account Binding key
//! (RFC 8555 §7.3.4) for the team's ACME clients, shown once. The key
//! lives in the ACME store; the catalog gets `acme-eab/<key id>` (team and
//! maker, no secret) in the audited transaction.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use zones::Transaction;

use crate::audit::Audit;
use crate::auth::Principal;
use crate::extract::Path;
use crate::{ApiError, AppState, teams};

/// An EAB key as `POST` returns it: the HMAC key, this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct IssuedEabKey {
    /// The key id, the EAB JWS `kid` (e.g. certbot's `--eab-kid`).
    key_id: String,
    /// The HMAC key, unpadded base64url (certbot's `--eab-hmac-key`); single use.
    hmac_key: String,
}

/// `POST /teams/{team}/eab` (admin, or an owner of the team): 201
/// `{key_id, hmac_key}`; binds one ACME account to the team.
#[utoipa::path(operation_id = "acme_eab_create", post, path = "/api/v1/teams/{team}/eab", tag = "certs", params(("team" = String, Path, description = "the team's name")), responses((status = 201, description = "the key id and HMAC key, shown only now", body = IssuedEabKey)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(team): Path<String>,
) -> Result<(StatusCode, axum::Json<IssuedEabKey>), ApiError> {
    if !who.may_manage(&team) {
        let detail = format!("a {} token of team {} may not make EAB keys of team {team}", who.role, who.team);
        return Err(ApiError::Forbidden(detail));
    }
    let edge = state.config.acme.clone().ok_or_else(|| ApiError::NotFound("ACME is not configured".to_owned()))?;
    let audit = Audit::by(&who, &team, "acme.eab.create", "");
    let (for_team, by) = (team.clone(), who.token_id.clone());
    let key = state
        .write(move |store, now| {
            teams::get(store, &for_team)?.ok_or_else(|| ApiError::NotFound(format!("no team {for_team}")))?;
            let key = edge.acme().new_eab_key(&for_team, &by, now).map_err(|e| ApiError::Internal(e.to_string()))?;
            let mut tx = Transaction::new();
            let record = serde_json::json!({"key_id": key.key_id, "team": key.team, "created_by": key.created_by});
            tx.catalog_put(format!("acme-eab/{}", key.key_id).as_bytes(), serde_json::to_vec(&record)?);
            audit.target(&key.key_id).commit(store, tx, now)?;
            Ok(key)
        })
        .await?;
    tracing::info!(%team, key_id = %key.key_id, by = %who.token_id, "acme eab key made");
    let hmac_key = data_encoding::BASE64URL_NOPAD.encode(&key.hmac_key);
    Ok((StatusCode::CREATED, axum::Json(IssuedEabKey { key_id: key.key_id, hmac_key })))
}
