//! `GET /api/v1/audit?team=&since=&after=&limit=`: the audit log.
//!
//! The admin reads every entry (or one team's); any other token reads its
//! own team's, and asking for another team is 403. An entry concerns a team
//! when its object belongs to the team or its actor is the team's token.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry, Filter};
use crate::auth::Principal;
use crate::extract::Query;
use crate::{ApiError, AppState, parse_rfc3339};

/// The most entries one request returns, and the default.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

/// The query of `GET /audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only entries that concern this team (non-admins: their own, the default).
    team: Option<String>,
    /// Only entries at or after this RFC 3339 time, oldest first.
    since: Option<String>,
    /// Only entries numbered above this `id`, oldest first (the cursor for
    /// the next page).
    after: Option<u64>,
    /// At most this many entries (1 to 1000, default 100). Without `since`
    /// and `after`, the newest ones.
    limit: Option<usize>,
}

/// The body of `GET /audit`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditList {
    /// Oldest first.
    entries: Vec<Entry>,
}

/// `GET /audit`: the entries the query selects, oldest first.
#[utoipa::path(operation_id = "audit_list", get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "the entries, oldest first", body = AuditList)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditList>, ApiError> {
    let filter = filter(&who, query)?;
    let entries = state.read(move |store, _| audit::read(store, &filter)).await?;
    Ok(axum::Json(AuditList { entries }))
}

/// The filter `query` asks for, as far as `who` may read.
fn filter(who: &Principal, query: AuditQuery) -> Result<Filter, ApiError> {
    let team = who.listing_scope(query.team, "audit log")?;
    let since = match query.since {
        Some(text) => Some(
            parse_rfc3339(&text)
                .ok_or_else(|| ApiError::InvalidRequest(format!("since {text:?} is not an RFC 3339 time")))?,
        ),
        None => None,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!("limit {limit} is not between 1 and {MAX_LIMIT}")));
    }
    Ok(Filter { team, since, after: query.after, limit })
}
