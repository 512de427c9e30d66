//! `POST /register` and `POST /update`: acme-dns's HTTP API at the root, as
//! joohoi/acme-dns serves it, for cert-manager's `acmeDNS` solver and
//! lego's `acme-dns` provider (the logic is in `acmedns.rs`).
//!
//! Their refusals are acme-dns's, since those clients read them:
//! `application/json` `{"error": "<code>"}` with acme-dns's status and
//! code, in exactly one place ([`Refusal`]'s `IntoResponse`). Only the
//! bearer token of `/register` is checked the way the rest of the API
//! checks it, with a problem document on failure.
//!
//! `/update` refuses in acme-dns's order: the user and key, then the
//! client's address against `allowfrom`, then the body's subdomain against
//! the user's (all 401 `forbidden`), then the subdomain's shape (400
//! `bad_subdomain`, which only a corrupt registration can reach), then the
//! TXT value's (400 `bad_txt`).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::acmedns::{self, Credentials, Refusal};
use crate::audit::Audit;
use crate::auth::{Principal, Role};
use crate::problem::Problem;
use crate::{ApiError, AppState, PLATFORM_TEAM};

/// The optional body of `POST /register` (documentation only: the body is
/// read as acme-dns reads it, see `acmedns::register_body`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RegisterBody {
    /// CIDRs that updates may come from (`192.0.2.0/24`, `2001:db8::/32`);
    /// none: anywhere.
    allowfrom: Option<Vec<String>>,
}

/// The body of `POST /update` (documentation only, as [`RegisterBody`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UpdateBody {
    /// The registration's subdomain.
    subdomain: String,
    /// The dns-01 value: 43 base64url characters.
    txt: String,
}

/// The answer to `POST /update`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Updated {
    /// The value now published.
    txt: String,
}

/// An acme-dns refusal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AcmeDnsError {
    /// `malformed_json_payload`, `invalid_allowfrom_cidr`, `forbidden`,
    /// `bad_subdomain`, `bad_txt` or `db_error`.
    error: String,
}

/// `POST /register` `{"allowfrom": [cidr]}` (body optional): 201 with the
/// new credentials. With a bearer token (admin, owner, member) the
/// registration belongs to the token's team; without one, only if
/// `allow_anonymous_register`, to the platform team.
#[utoipa::path(operation_id = "acmedns_register", post, path = "/register", tag = "acme-dns",
    request_body(content = Option<RegisterBody>, description = "optional"),
    responses(
        (status = 201, description = "the registration; the password is shown only now", body = Credentials),
        (status = 400, description = "malformed_json_payload or invalid_allowfrom_cidr", body = AcmeDnsError),
        (status = 401, description = "no or a bad bearer token (anonymous registration is off)",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "a ci token", body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn register(
    State(state): State<AppState>,
    mut parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let config = state.config.acme_dns.clone();
    if !config.enabled {
        return ApiError::NotFound("no such resource".to_owned()).into_response();
    }
    let (by, team) = match registrant(&state, &mut parts, config.allow_anonymous_register).await {
        Ok(registrant) => registrant,
        Err(e) => return e.into_response(),
    };
    let allowfrom = match body.map_err(|_| Refusal::MalformedJson).and_then(|b| acmedns::register_body(&b)) {
        Ok(entries) => acmedns::allowfrom(entries),
        Err(refusal) => Err(refusal),
    };
    let allowfrom = match allowfrom {
        Ok(allowfrom) => allowfrom,
        Err(refusal) => return refusal.into_response(),
    };
    let created = state.write(move |store, now| acmedns::register(store, &config, now, &team, allowfrom, by)).await;
    match created {
        Ok(credentials) => {
            tracing::info!(user = %credentials.username, fulldomain = %credentials.fulldomain, "acme-dns registration");
            json(StatusCode::CREATED, serde_json::to_vec(&credentials).unwrap_or_default())
        }
        Err(e) => Refusal::Db(e).into_response(),
    }
}

/// The audit note (without its target) of a registration by the request's
/// caller, and the team that will own it.
async fn registrant(state: &AppState, parts: &mut Parts, anonymous: bool) -> Result<(Audit, String), ApiError> {
    const ACTION: &str = "acmedns.register";
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        if !anonymous {
            return Err(ApiError::NoCredentials);
        }
        return Ok((Audit::system("acme-dns", PLATFORM_TEAM, ACTION, ""), PLATFORM_TEAM.to_owned()));
    }
    let who = Principal::from_request_parts(parts, state).await?;
    if !matches!(who.role, Role::Admin | Role::Owner | Role::Member) {
        return Err(ApiError::Forbidden(format!("a {} token may not register acme-dns accounts", who.role)));
    }
    Ok((Audit::by(&who, &who.team, ACTION, ""), who.team.clone()))
}

/// `POST /update` with `X-Api-User`, `X-Api-Key` and `{"subdomain", "txt"}`:
/// the value is published at the subdomain's name (the older of two
/// replaced), durably, before the 200 `{"txt": "<value>"}`.
#[utoipa::path(operation_id = "acmedns_update", post, path = "/update", tag = "acme-dns",
    params(("X-Api-User" = String, Header, description = "the registration's username"),
        ("X-Api-Key" = String, Header, description = "the registration's password")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "published", body = Updated),
        (status = 400, description = "bad_subdomain or bad_txt", body = AcmeDnsError),
        (status = 401, description = "forbidden: unknown user, wrong key, another subdomain, \
            an address outside allowfrom, a body that is not JSON", body = AcmeDnsError)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let config = state.config.acme_dns.clone();
    if !config.enabled {
        return Ok(ApiError::NotFound("no such resource".to_owned()).into_response());
    }
    let (user, key) = (header_text(&parts.headers, "x-api-user"), header_text(&parts.headers, "x-api-key"));
    let user = state.read(move |store, _| Ok(acmedns::authenticate(store, &user, &key))).await??;
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if !acmedns::allowed_from(&user.allowfrom, peer) {
        tracing::info!(user = %user.username, ?peer, "acme-dns update from outside allowfrom");
        return Err(Refusal::Forbidden);
    }
    let (subdomain, txt) = acmedns::update_body(body.as_deref().unwrap_or_default());
    if subdomain != user.subdomain {
        return Err(Refusal::Forbidden);
    }
    if !acmedns::valid_subdomain(&subdomain) {
        return Err(Refusal::BadSubdomain);
    }
    if !acmedns::valid_txt(&txt) {
        return Err(Refusal::BadTxt);
    }
    let (username, value) = (user.username.clone(), txt.clone());
    state.write(move |store, now| acmedns::update(store, &config, now, &username, &value)).await?;
    tracing::info!(user = %user.username, subdomain = %subdomain, "acme-dns TXT updated");
    // acme-dns writes this by hand; the value is base64url, nothing to escape.
    Ok(json(StatusCode::OK, format!("{{\"txt\": \"{txt}\"}}").into_bytes()))
}

/// The text of header `name`, or "" (as Go's `Header.Get`).
fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl IntoResponse for Refusal {
    /// acme-dns's status and `{"error": "<code>"}`, byte for byte.
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Refusal::MalformedJson => (StatusCode::BAD_REQUEST, "malformed_json_payload"),
            Refusal::InvalidAllowfromCidr => (StatusCode::BAD_REQUEST, "invalid_allowfrom_cidr"),
            Refusal::Forbidden => (StatusCode::UNAUTHORIZED, "forbidden"),
            Refusal::BadSubdomain => (StatusCode::BAD_REQUEST, "bad_subdomain"),
            Refusal::BadTxt => (StatusCode::BAD_REQUEST, "bad_txt"),
            Refusal::Db(error) => {
                tracing::error!(%error, "acme-dns request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "db_error")
            }
        };
        json(status, format!("{{\"error\": \"{code}\"}}").into_bytes())
    }
}
