//! The route table and the handlers, one module per resource.
//!
//! | method and path                          | who may call it                         |
//! | ---------------------------------------- | --------------------------------------- |
//! | `GET /healthz`                           | anyone                                  |
//! | `GET /metrics` (Prometheus text format)  | anyone                                  |
//! | `POST /api/v1/teams`                     | admin                                   |
//! | `GET /api/v1/teams`                      | any token (non-admins see their team)   |
//! | `GET /api/v1/teams/{team}`               | admin, or a token of that team          |
//! | `POST /api/v1/teams/{team}/tokens`       | admin, or an owner of that team         |
//! | `DELETE /api/v1/teams/{team}/tokens/{id}`| admin, or an owner of that team         |
//! | `GET /api/v1/zones`                      | any token (non-admins see their team's) |
//! | `POST /api/v1/zones`                     | admin, or the owner of the zone's team  |
//! | `GET /api/v1/zones/{zone}`               | admin, its team; platform zones: any    |
//! | `DELETE /api/v1/zones/{zone}`            | admin, or the owner of the zone's team  |
//! | `GET /api/v1/zones/{zone}/rrsets`        | admin, its team; platform zones: any    |
//! | `PATCH /api/v1/zones/{zone}/rrsets`      | admin, owners and members, per name     |
//! | `POST /api/v1/apps`                      | admin, owners and members of the team   |
//! | `GET /api/v1/apps?team=`                 | any token (non-admins see their team's) |
//! | `GET /api/v1/apps/{fqdn}`                | admin, or a token of the app's team     |
//! | `DELETE /api/v1/apps/{fqdn}`             | admin, owners and members of the team   |
//! | `POST /api/v1/apps/{fqdn}/previews`      | admin, owners, members, ci of the team  |
//! | `DELETE /api/v1/apps/{fqdn}/previews/{pr}` | admin, owners, members, ci of the team |
//! | `GET /api/v1/reviews`                    | admin                                   |
//! | `POST /api/v1/reviews/{id}`              | admin                                   |
//! | `GET /api/v1/audit?team=&since=&after=&limit=` | any token (non-admins: their team's) |

mod apps;
mod audit;
mod previews;
mod reviews;
mod rrsets;
mod teams;
mod tokens;
pub(crate) mod zones;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, post};

use crate::{ApiError, AppState, metrics};

/// The whole route table over `state`. Every request, the fallbacks'
/// included, is counted for `/metrics` by method, route pattern and status.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let v1 = Router::new()
        .route("/teams", post(teams::create).get(teams::list))
        .route("/teams/{team}", get(teams::show))
        .route("/teams/{team}/tokens", post(tokens::create))
        .route("/teams/{team}/tokens/{id}", delete(tokens::revoke))
        .route("/zones", get(zones::list).post(zones::create))
        .route("/zones/{zone}", get(zones::show).delete(zones::remove))
        .route("/zones/{zone}/rrsets", get(rrsets::list).patch(rrsets::patch))
        .route("/apps", post(apps::create).get(apps::list))
        .route("/apps/{fqdn}", get(apps::show).delete(apps::remove))
        .route("/apps/{fqdn}/previews", post(previews::create))
        .route("/apps/{fqdn}/previews/{pr}", delete(previews::remove))
        .route("/reviews", get(reviews::list))
        .route("/reviews/{id}", post(reviews::decide))
        .route("/audit", get(audit::list));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::scrape))
        .nest("/api/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::count_requests))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such resource".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod app_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod audit_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod zone_tests;
