//! RFC 9457 problem documents: the one place an [`ApiError`] becomes a
//! response.
//!
//! Every error answer is `application/problem+json` with `type`, `title`,
//! `status` and `detail`. The `type` URIs are stable (clients and tests
//! match on them); a 401 also carries `WWW-Authenticate: Bearer` (RFC 6750).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ApiError;

/// The media type of problem documents.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, as every error is answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Problem {
    /// A stable URI: `urn:nameplate:problem:` + `unauthorized`, `forbidden`,
    /// `not-found`, `conflict`, `invalid-body`, `invalid-name`, ...
    #[serde(rename = "type")]
    kind: &'static str,
    /// A short summary of the type.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What was wrong with this request.
    detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = classify(&self);
        let detail = match &self {
            ApiError::Storage(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "API request failed");
                "the server could not complete the request; it is logged".to_owned()
            }
            ApiError::NoCredentials => "send Authorization: Bearer <token>".to_owned(),
            ApiError::Unauthorized(why) => (*why).to_owned(),
            ApiError::MethodNotAllowed => "this resource does not support that method".to_owned(),
            ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::InvalidBody(d)
            | ApiError::BodyTooLarge(d)
            | ApiError::UnsupportedMediaType(d)
            | ApiError::InvalidName(d)
            | ApiError::InvalidRequest(d)
            | ApiError::QuotaExceeded(d)
            | ApiError::InvalidRecords(d) => d.clone(),
        };
        let body = Problem { kind, title, status: status.as_u16(), detail };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], json).into_response();
        // RFC 6750 §3: an error code only when a token was sent.
        let challenge = match self {
            ApiError::NoCredentials => Some("Bearer realm=\"nameplate\""),
            ApiError::Unauthorized(_) => Some("Bearer realm=\"nameplate\", error=\"invalid_token\""),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// The status, stable type URI and title of each error.
fn classify(error: &ApiError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match error {
        ApiError::NoCredentials | ApiError::Unauthorized(_) => {
            (S::UNAUTHORIZED, "urn:nameplate:problem:unauthorized", "Unauthorized")
        }
        ApiError::Forbidden(_) => (S::FORBIDDEN, "urn:nameplate:problem:forbidden", "Forbidden"),
        ApiError::NotFound(_) => (S::NOT_FOUND, "urn:nameplate:problem:not-found", "Not found"),
        ApiError::MethodNotAllowed => {
            (S::METHOD_NOT_ALLOWED, "urn:nameplate:problem:method-not-allowed", "Method not allowed")
        }
        ApiError::Conflict(_) => (S::CONFLICT, "urn:nameplate:problem:conflict", "Conflict"),
        ApiError::InvalidBody(_) => (S::BAD_REQUEST, "urn:nameplate:problem:invalid-body", "Invalid request body"),
        ApiError::BodyTooLarge(_) => {
            (S::PAYLOAD_TOO_LARGE, "urn:nameplate:problem:body-too-large", "Request body too large")
        }
        ApiError::UnsupportedMediaType(_) => {
            (S::UNSUPPORTED_MEDIA_TYPE, "urn:nameplate:problem:unsupported-media-type", "Unsupported media type")
        }
        ApiError::InvalidName(_) => (S::BAD_REQUEST, "urn:nameplate:problem:invalid-name", "Invalid name"),
        ApiError::InvalidRequest(_) => (S::BAD_REQUEST, "urn:nameplate:problem:invalid-request", "Invalid request"),
        ApiError::QuotaExceeded(_) => (S::BAD_REQUEST, "urn:nameplate:problem:quota-exceeded", "Quota exceeded"),
        ApiError::InvalidRecords(_) => (S::BAD_REQUEST, "urn:nameplate:problem:invalid-records", "Invalid records"),
        ApiError::Storage(_) => (S::INTERNAL_SERVER_ERROR, "urn:nameplate:problem:storage", "Storage failure"),
        ApiError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "urn:nameplate:problem:internal", "Internal error"),
    }
}
