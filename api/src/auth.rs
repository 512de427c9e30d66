//! Bearer-token authentication and the roles a token carries.
//!
//! A request's `Authorization: Bearer <token>` is hashed and looked up in
//! the catalog ([`crate::tokens`]); the token itself is never stored or
//! logged. Missing, malformed, unknown and revoked tokens all get the same
//! 401, so a caller learns nothing about which it was.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::tokens::{self, TokenRecord};
pub use policy::Role;

use crate::{ApiError, AppState, PLATFORM_TEAM};

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    /// The token's id (safe to log and audit).
    pub(crate) token_id: String,
    /// The token's team.
    pub(crate) team: String,
    /// The token's role.
    pub(crate) role: Role,
}

impl Principal {
    /// Whether this is a platform admin.
    pub(crate) fn is_admin(&self) -> bool {
        self.role == Role::Admin && self.team == PLATFORM_TEAM
    }

    /// Whether the caller may read `team`: an admin, or a member of it.
    pub(crate) fn may_read(&self, team: &str) -> bool {
        self.is_admin() || self.team == team
    }

    /// The team a listing of `what` is restricted to when the caller asks for
    /// `asked`: any team (or all, `None`) for the admin, the caller's own
    /// otherwise; another team's is 403.
    pub(crate) fn listing_scope(&self, asked: Option<String>, what: &str) -> Result<Option<String>, ApiError> {
        match asked {
            Some(team) if !self.may_read(&team) => {
                Err(ApiError::Forbidden(format!("team {} may not read the {what} of team {team}", self.team)))
            }
            Some(team) => Ok(Some(team)),
            None if self.is_admin() => Ok(None),
            None => Ok(Some(self.team.clone())),
        }
    }

    /// The caller as the policy crate sees it.
    pub(crate) fn policy(&self) -> Result<policy::Principal, ApiError> {
        // Admin tokens exist only for the platform team (tokens::issue_token refuses others).
        let role = self.role;
        let team = policy::Label::new(&self.team)
            .map_err(|e| ApiError::Internal(format!("token {} has an invalid team: {e}", self.token_id)))?;
        Ok(policy::Principal { role, team })
    }

    /// The author written into change sets and the journal.
    pub(crate) fn author(&self) -> String {
        format!("token:{} team:{}", self.token_id, self.team)
    }

    /// Whether the caller may manage `team`'s tokens: an admin, or its owner.
    pub(crate) fn may_manage(&self, team: &str) -> bool {
        self.is_admin() || (self.team == team && self.role == Role::Owner)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        // On the async worker, not the blocking pool: a hash and one sled
        // read of the catalog, which stays in sled's cache, take
        // microseconds, and every API request makes this lookup.
        let record: TokenRecord = tokens::lookup(&state.store, token)?
            .filter(|record| !record.revoked)
            .ok_or(ApiError::Unauthorized("the bearer token is unknown or revoked"))?;
        Ok(Principal { token_id: record.id, team: record.team, role: record.role })
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or(ApiError::NoCredentials)?;
    let text = value.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not text"))?;
    let (scheme, token) =
        text.split_once(' ').ok_or(ApiError::Unauthorized("the Authorization header is not Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("the Authorization header is not Bearer <token>"));
    }
    Ok(token.trim())
}
