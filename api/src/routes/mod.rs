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
//! | `POST /api/v1/teams/{team}/tsig-keys`    | admin, or an owner of that team         |
//! | `GET /api/v1/teams/{team}/tsig-keys`     | admin, or a token of that team          |
//! | `DELETE /api/v1/teams/{team}/tsig-keys/{name}` | admin, or an owner of that team   |
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
//! | `POST /api/v1/certs`                     | admin, owners, members per name; ci: previews |
//! | `POST /api/v1/certs/{serial}/revoke`     | admin, owners and members of its team   |
//! | `GET /ca/root.pem`, `/ca/chain/{region}.pem`, `/ca/crl/{region}.crl` | anyone |
//! | `POST /api/v1/teams/{team}/eab`          | admin, or an owner of that team         |
//! | `/acme/*` (RFC 8555, `routes/acme/`)     | JWS-signed by an ACME account or key    |
//! | `GET /api/v1/openapi.json`               | anyone                                  |
//! | `POST /register` (acme-dns)              | admin, owners, members (anonymous if configured) |
//! | `POST /update` (acme-dns)                | the registration's `X-Api-User`/`X-Api-Key`, from `allowfrom` |
//!
//! `/register` and `/update` speak acme-dns's protocol, errors included
//! (`{"error": "..."}`, see `acmedns.rs`), not problem documents.
//!
//! `documented()` registers every route of the OpenAPI document
//! (`openapi.rs`) with its handler in one place.

mod acme;
mod acmedns;
mod apps;
mod audit;
mod ca_files;
mod certs;
mod openapi;
mod previews;
mod reviews;
mod rrsets;
mod teams;
mod tokens;
mod tsig_keys;
pub(crate) mod zones;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState, metrics};

/// The whole route table over `state`. Every request, the fallbacks'
/// included, is counted for `/metrics` by method, route pattern and status.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let (routes, mut doc) = documented().split_for_parts();
    openapi::Conventions.modify(&mut doc);
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    routes
        .merge(acme::routes(state.clone()))
        .route("/metrics", get(metrics::scrape))
        .route("/api/v1/openapi.json", get(move || openapi_json(doc.clone())))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::count_requests))
        .with_state(state)
}

/// The routes described in the OpenAPI document, with their handlers; the
/// paths are those of the handlers' `#[utoipa::path]` attributes.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(teams::create, teams::list))
        .routes(routes!(teams::show))
        .routes(routes!(tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tsig_keys::create, tsig_keys::list))
        .routes(routes!(tsig_keys::remove))
        .routes(routes!(zones::list, zones::create))
        .routes(routes!(zones::show, zones::remove))
        .routes(routes!(rrsets::list, rrsets::patch))
        .routes(routes!(apps::create, apps::list))
        .routes(routes!(apps::show, apps::remove))
        .routes(routes!(previews::create))
        .routes(routes!(previews::remove))
        .routes(routes!(reviews::list))
        .routes(routes!(reviews::decide))
        .routes(routes!(audit::list))
        .routes(routes!(certs::issue))
        .routes(routes!(certs::revoke))
        .routes(routes!(ca_files::root))
        .routes(routes!(ca_files::chain))
        .routes(routes!(ca_files::crl))
        .routes(routes!(acme::eab::create))
        .routes(routes!(acmedns::register))
        .routes(routes!(acmedns::update))
}

/// `GET /api/v1/openapi.json`: the document, rendered once at start.
async fn openapi_json(doc: Arc<String>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned())
}

/// `GET /healthz`: `ok` while the server runs.
#[utoipa::path(operation_id = "server_healthz", get, path = "/healthz", tag = "operations", responses((status = 200, description = "ok", body = String)))]
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
mod acmedns_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod app_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod audit_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod cert_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tsig_key_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod zone_tests;
