//! The ACME (RFC 8555) endpoints under `/acme`, over [`crate::acme::AcmeEdge`].
//!
//! Every POST goes through [`RawPost::run`]: content type, JWS parse, nonce, URL,
//! key (the account's for `kid`, the embedded one for `jwk`), then the
//! handler runs on a blocking thread (the store flushes). Every response,
//! errors included, carries `Replay-Nonce` and `Link: <directory>;rel="index"`
//! ([`acme_headers`]). Refusals are [`Failure`]s, turned into problem
//! documents in one place ([`Failure::into_response`]).

mod accounts;
mod certs;
pub(crate) mod eab;
mod orders;
mod views;

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post as route_post};
use ca::acme::types::{Account, AccountId};
use ca::acme::{Problem, ProblemType};
use serde_json::{Value, json};
use zones::ZoneSet;

use crate::AppState;
use crate::acme::{
    AcmeEdge, AcmeProblem, PROBLEM_CONTENT_TYPE, PublicJwk, Unverified, VerifiedRequest, check_content_type, check_url,
    problem_document, redeem_nonce,
};

/// The `/acme` routes; `state` gives the headers middleware the nonces.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/acme/directory", get(directory))
        .route("/acme/new-nonce", get(new_nonce_get).head(new_nonce_head))
        .route("/acme/new-account", route_post(accounts::new_account))
        .route("/acme/acct/{id}", route_post(accounts::account))
        .route("/acme/acct/{id}/orders", route_post(accounts::orders))
        .route("/acme/key-change", route_post(accounts::key_change))
        .route("/acme/new-order", route_post(orders::new_order))
        .route("/acme/order/{id}", route_post(orders::order))
        .route("/acme/order/{id}/finalize", route_post(orders::finalize))
        .route("/acme/authz/{id}", route_post(orders::authz))
        .route("/acme/chall/{authz}/{kind}", route_post(orders::challenge))
        .route("/acme/cert/{id}", route_post(certs::download))
        .route("/acme/revoke-cert", route_post(certs::revoke))
        .route("/acme/renewal-info/{id}", get(certs::renewal_info))
        .layer(middleware::map_response_with_state(state, acme_headers))
}

/// Adds a fresh `Replay-Nonce` and the directory `Link` to every `/acme` response.
async fn acme_headers(State(state): State<AppState>, mut response: Response) -> Response {
    let Some(edge) = state.config.acme.clone() else { return response };
    let headers = response.headers_mut();
    if let Ok(nonce) = edge.nonces().issue()
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        headers.insert("replay-nonce", value);
    }
    if let Ok(link) = HeaderValue::from_str(&format!("<{}>;rel=\"index\"", edge.url("/acme/directory"))) {
        headers.append(header::LINK, link);
    }
    response
}

/// The edge, or 404 when ACME is not configured.
fn edge(state: &AppState) -> Result<Arc<AcmeEdge>, Failure> {
    state.config.acme.clone().ok_or(Failure::NotFound)
}

/// How the directory describes `profile` to people choosing one.
fn profile_text(profile: &ca::acme::Profile) -> String {
    let hours = profile.lifetime.as_secs() / 3600;
    let usage = if profile.client_auth { "TLS server and client authentication" } else { "TLS server authentication" };
    format!("leaf lifetime up to {hours} hours, {usage}")
}

/// `GET /acme/directory` (RFC 8555 §7.1.1).
async fn directory(State(state): State<AppState>) -> Result<axum::Json<Value>, Failure> {
    let edge = edge(&state)?;
    let config = edge.acme().config();
    let profiles: serde_json::Map<String, Value> =
        config.profiles.iter().map(|p| (p.name.clone(), json!(profile_text(p)))).collect();
    Ok(axum::Json(json!({
        "newNonce": edge.url("/acme/new-nonce"),
        "newAccount": edge.url("/acme/new-account"),
        "newOrder": edge.url("/acme/new-order"),
        "revokeCert": edge.url("/acme/revoke-cert"),
        "keyChange": edge.url("/acme/key-change"),
        "renewalInfo": edge.url("/acme/renewal-info"),
        "meta": {
            "profiles": profiles,
            "externalAccountRequired": config.eab_required,
            "caaIdentities": [config.ca_identity],
        },
    })))
}

/// `HEAD /acme/new-nonce`: 200 (RFC 8555 §7.2); the nonce is added by [`acme_headers`].
async fn new_nonce_head(State(state): State<AppState>) -> Result<Response, Failure> {
    new_nonce(&state, StatusCode::OK)
}

/// `GET /acme/new-nonce`: 204.
async fn new_nonce_get(State(state): State<AppState>) -> Result<Response, Failure> {
    new_nonce(&state, StatusCode::NO_CONTENT)
}

/// An uncacheable empty `status` (404 without ACME).
fn new_nonce(state: &AppState, status: StatusCode) -> Result<Response, Failure> {
    edge(state)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")]).into_response())
}

/// Which key a request must be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMode {
    /// An embedded `jwk` (newAccount).
    Jwk,
    /// An account's `kid`.
    Kid,
    /// Either (revokeCert).
    Either,
}

/// A verified request, with its account for a `kid` request.
pub(crate) struct Post {
    /// The request.
    pub(crate) req: VerifiedRequest,
    /// The signing account (`kid` requests).
    pub(crate) account: Option<Account>,
}

impl Post {
    /// The signing account, `malformed` for a `jwk` request.
    pub(crate) fn account(&self) -> Result<&Account, Failure> {
        self.account
            .as_ref()
            .ok_or_else(|| problem(ProblemType::Malformed, "this request must be signed by an account"))
    }

    /// The signing account's id.
    pub(crate) fn account_id(&self) -> Result<&AccountId, Failure> {
        self.account().map(|a| &a.id)
    }
}

/// What a handler sees besides the request.
pub(crate) struct Ctx {
    /// The edge.
    pub(crate) edge: Arc<AcmeEdge>,
    /// The API state (policy, zone store).
    pub(crate) state: AppState,
    /// The absolute URL the request was sent to.
    pub(crate) url: String,
    /// The time of the request.
    pub(crate) now: SystemTime,
}

impl Ctx {
    /// The live zones.
    pub(crate) fn zones(&self) -> Arc<ZoneSet> {
        self.state.store.snapshot()
    }
}

/// An ACME POST as a handler receives it, before any check: the state, the
/// URI, the headers and the body. [`RawPost::run`] authenticates it.
pub(crate) struct RawPost {
    state: AppState,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl FromRequest<AppState> for RawPost {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (uri, headers) = (req.uri().clone(), req.headers().clone());
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        Ok(Self { state: state.clone(), uri, headers, body })
    }
}

impl RawPost {
    /// Runs the POST pipeline, then `handler` on a blocking thread.
    pub(crate) async fn run<F>(self, mode: KeyMode, handler: F) -> Response
    where
        F: FnOnce(&Ctx, Post) -> Result<Reply, Failure> + Send + 'static,
    {
        let Self { state, uri, headers, body } = self;
        blocking(move || {
            let edge = edge(&state)?;
            let url = edge.url(uri.path());
            let request = authenticate(&edge, &headers, &body, &url, mode)?;
            let now = state.clock.now();
            handler(&Ctx { edge, state, url, now }, request)
        })
        .await
    }
}

/// Runs `job` on a blocking thread (the store flushes) and answers with its
/// reply or failure.
pub(crate) async fn blocking<F>(job: F) -> Response
where
    F: FnOnce() -> Result<Reply, Failure> + Send + 'static,
{
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(failure)) => failure.into_response(),
        Err(e) => Failure::Internal(format!("acme task failed: {e}")).into_response(),
    }
}

/// Steps 1 to 6 of the module documentation of `crate::acme`.
fn authenticate(edge: &AcmeEdge, headers: &HeaderMap, body: &[u8], url: &str, mode: KeyMode) -> Result<Post, Failure> {
    check_content_type(headers)?;
    let unverified = Unverified::parse(body)?;
    redeem_nonce(unverified.header(), edge.nonces())?;
    check_url(unverified.header(), url)?;
    match (unverified.header().kid().map(str::to_owned), mode) {
        (Some(_), KeyMode::Jwk) => Err(problem(ProblemType::Malformed, "this request must embed its key (jwk)")),
        (None, KeyMode::Kid) => Err(problem(ProblemType::Malformed, "this request must be signed by an account (kid)")),
        (None, _) => Ok(Post { req: unverified.verify_embedded()?, account: None }),
        (Some(kid), _) => {
            let account = account_of(edge, &kid)?;
            let key = PublicJwk::from_value(&account.jwk)?;
            Ok(Post { req: unverified.verify(&key)?, account: Some(account) })
        }
    }
}

/// The valid account a `kid` names; `accountDoesNotExist` or `unauthorized`.
fn account_of(edge: &AcmeEdge, kid: &str) -> Result<Account, Failure> {
    let missing = || problem(ProblemType::AccountDoesNotExist, "no account has this URL");
    let id = kid.strip_prefix(&edge.acme().config().account_url_prefix).ok_or_else(missing)?;
    let account = match edge.acme().account(&AccountId(id.to_owned())) {
        Err(ca::acme::Error::NotFound) => return Err(missing()),
        other => other?,
    };
    if account.status != ca::acme::types::AccountStatus::Valid {
        return Err(problem(ProblemType::Unauthorized, "the account is not valid"));
    }
    Ok(account)
}

/// A successful ACME response.
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    location: Option<String>,
    up: Option<String>,
    retry_after: Option<u64>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Json(Value),
    Pem(String),
    Empty,
}

impl Reply {
    /// 200 with a JSON body.
    pub(crate) fn json(body: Value) -> Self {
        Self { status: StatusCode::OK, location: None, up: None, retry_after: None, body: Body::Json(body) }
    }

    /// 200 with a PEM chain.
    pub(crate) fn pem(chain: String) -> Self {
        Self { body: Body::Pem(chain), ..Self::json(Value::Null) }
    }

    /// 200 with no body.
    pub(crate) fn empty() -> Self {
        Self { body: Body::Empty, ..Self::json(Value::Null) }
    }

    /// The same with `status`.
    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The same with a `Location`.
    pub(crate) fn location(mut self, url: String) -> Self {
        self.location = Some(url);
        self
    }

    /// The same with a `Link: <url>;rel="up"`.
    pub(crate) fn up(mut self, url: String) -> Self {
        self.up = Some(url);
        self
    }

    /// The same with a `Retry-After` in seconds.
    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Body::Json(value) => (self.status, axum::Json(value)).into_response(),
            Body::Pem(pem) => {
                (self.status, [(header::CONTENT_TYPE, "application/pem-certificate-chain")], pem).into_response()
            }
            Body::Empty => self.status.into_response(),
        };
        let headers = response.headers_mut();
        set(headers, header::LOCATION, self.location);
        set(headers, header::LINK, self.up.map(|u| format!("<{u}>;rel=\"up\"")));
        set(headers, header::RETRY_AFTER, self.retry_after.map(|s| s.to_string()));
        response
    }
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: Option<String>) {
    if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.append(name, value);
    }
}

/// A refused or failed ACME request.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Failure {
    /// A problem for the client.
    Problem(Problem),
    /// No such object (404).
    NotFound,
    /// A key already in use by the account at this URL (409, keyChange).
    Conflict(String),
    /// Anything else; logged, answered with `serverInternal`.
    Internal(String),
}

/// A [`Failure::Problem`] of `kind`.
pub(crate) fn problem(kind: ProblemType, detail: impl Into<String>) -> Failure {
    Failure::Problem(Problem::new(kind, detail))
}

impl From<Problem> for Failure {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl From<ca::acme::Error> for Failure {
    fn from(error: ca::acme::Error) -> Self {
        match error {
            ca::acme::Error::Problem(p) => Self::Problem(*p),
            ca::acme::Error::NotFound => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::acme::EdgeError> for Failure {
    fn from(error: crate::acme::EdgeError) -> Self {
        match error {
            crate::acme::EdgeError::Acme(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Problem(p) => AcmeProblem(p).into_response(),
            Self::NotFound => raw_problem(StatusCode::NOT_FOUND, ProblemType::Malformed, "no such resource", None),
            Self::Conflict(location) => raw_problem(
                StatusCode::CONFLICT,
                ProblemType::Malformed,
                "the new key is already in use by another account",
                Some(location),
            ),
            Self::Internal(detail) => {
                tracing::error!(%detail, "acme request failed");
                AcmeProblem(Problem::new(ProblemType::ServerInternal, "internal error")).into_response()
            }
        }
    }
}

/// A problem document of `kind` with `status` instead of the kind's own.
fn raw_problem(status: StatusCode, kind: ProblemType, detail: &str, location: Option<String>) -> Response {
    let mut doc = problem_document(&Problem::new(kind, detail));
    doc["status"] = json!(status.as_u16());
    let body = doc.to_string();
    let mut response = (status, [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)], body).into_response();
    set(response.headers_mut(), header::LOCATION, location);
    response
}

/// The id in a path, for handlers.
pub(crate) type Id = Path<String>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod instant_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod refusal_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
