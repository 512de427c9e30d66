//! The one place ACME problems become HTTP: the status for each problem
//! type and the `application/problem+json` document (RFC 8555 §6.7, RFC
//! 7807). Statuses follow Boulder's `web/probs.go` and the RFC's examples;
//! where neither says, the choice is noted in [`status`].
//!
//! The router adds `Replay-Nonce` (RFC 8555 §6.5: on every response,
//! errors included, so clients can retry a `badNonce`) and
//! `Link: <directory>;rel="index"` to these responses; they are not set here.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ca::acme::{Problem, ProblemType};
use serde_json::{Value, json};

use super::malformed;

/// The media type of problem documents.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// The media type ACME requests must carry (RFC 8555 §6.2).
pub const JOSE_CONTENT_TYPE: &str = "application/jose+json";

/// The HTTP status for a problem of type `kind`.
///
/// - 400: malformed, badNonce, badCSR, badSignatureAlgorithm, badPublicKey,
///   badRevocationReason, alreadyRevoked, accountDoesNotExist,
///   rejectedIdentifier, invalidContact, unsupportedContact,
///   unsupportedIdentifier, invalidProfile, compound, and the validation
///   problems connection, dns and tls (Boulder).
/// - 403: unauthorized, caa, orderNotReady, incorrectResponse,
///   userActionRequired (the RFC 8555 §7.3.3 example) and
///   externalAccountRequired (Pebble; 401 would need `WWW-Authenticate`).
/// - 409: alreadyReplaced (Boulder's conflict). 429: rateLimited.
///   500: serverInternal.
pub fn status(kind: ProblemType) -> StatusCode {
    match kind {
        ProblemType::Unauthorized
        | ProblemType::Caa
        | ProblemType::OrderNotReady
        | ProblemType::IncorrectResponse
        | ProblemType::UserActionRequired
        | ProblemType::ExternalAccountRequired => StatusCode::FORBIDDEN,
        ProblemType::AlreadyReplaced => StatusCode::CONFLICT,
        ProblemType::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ProblemType::ServerInternal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An ACME problem as an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeProblem(pub Problem);

impl From<Problem> for AcmeProblem {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

impl AcmeProblem {
    /// The problem document: `type`, `detail`, `status`, and `subproblems`
    /// (each with `type`, `detail` and `identifier`) when there are any.
    pub fn document(&self) -> Value {
        document(&self.0)
    }
}

/// [`AcmeProblem::document`] of a borrowed problem.
pub(crate) fn document(problem: &Problem) -> Value {
    let mut doc = json!({
        "type": problem.kind.urn(),
        "detail": problem.detail,
        "status": status(problem.kind).as_u16(),
    });
    if !problem.subproblems.is_empty() {
        doc["subproblems"] = problem.subproblems.iter().map(subproblem).collect();
    }
    doc
}

fn subproblem((identifier, problem): &(ca::acme::ProblemIdentifier, Problem)) -> Value {
    json!({
        "type": problem.kind.urn(),
        "detail": problem.detail,
        "identifier": {"type": identifier.kind, "value": identifier.value},
    })
}

impl IntoResponse for AcmeProblem {
    fn into_response(self) -> Response {
        let body = self.document().to_string();
        (status(self.0.kind), [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)], body).into_response()
    }
}

/// Fails with `malformed` unless the request's `Content-Type` is
/// `application/jose+json` (parameters such as `charset` are tolerated;
/// Boulder answers this with status 415, we with malformed's 400).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = value.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case(JOSE_CONTENT_TYPE) {
        return Ok(());
    }
    Err(malformed(format!("the Content-Type must be {JOSE_CONTENT_TYPE}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn statuses_follow_boulder() {
        let expected = [
            (ProblemType::BadNonce, 400),
            (ProblemType::Malformed, 400),
            (ProblemType::Unauthorized, 403),
            (ProblemType::AccountDoesNotExist, 400),
            (ProblemType::OrderNotReady, 403),
            (ProblemType::RateLimited, 429),
            (ProblemType::ServerInternal, 500),
            (ProblemType::BadSignatureAlgorithm, 400),
            (ProblemType::BadPublicKey, 400),
            (ProblemType::RejectedIdentifier, 400),
            (ProblemType::Caa, 403),
            (ProblemType::ExternalAccountRequired, 403),
            (ProblemType::AlreadyRevoked, 400),
            (ProblemType::AlreadyReplaced, 409),
            (ProblemType::BadCsr, 400),
            (ProblemType::UserActionRequired, 403),
        ];
        for (kind, code) in expected {
            assert_eq!(status(kind).as_u16(), code, "{kind:?}");
        }
    }

    #[test]
    fn document_shape() {
        let sub = Problem::new(ProblemType::Caa, "CAA forbids issuance");
        let problem = Problem::new(ProblemType::RejectedIdentifier, "some names were refused")
            .with_subproblem("a.example.test", sub);
        let doc = AcmeProblem(problem).document();
        assert_eq!(
            doc,
            json!({
                "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                "detail": "some names were refused",
                "status": 400,
                "subproblems": [{
                    "type": "urn:ietf:params:acme:error:caa",
                    "detail": "CAA forbids issuance",
                    "identifier": {"type": "dns", "value": "a.example.test"},
                }],
            })
        );
    }

    #[test]
    fn document_without_subproblems_omits_them() {
        let doc = AcmeProblem(Problem::new(ProblemType::BadNonce, "stale")).document();
        assert!(doc.get("subproblems").is_none());
        assert_eq!(doc["type"], "urn:ietf:params:acme:error:badNonce");
    }

    #[tokio::test]
    async fn response_has_status_type_and_body() {
        let response = AcmeProblem(Problem::new(ProblemType::RateLimited, "slow down")).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["status"], 429);
        assert_eq!(doc["detail"], "slow down");
    }

    fn headers(content_type: Option<&'static str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(value) = content_type {
            map.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn content_type_check() {
        for good in ["application/jose+json", "application/jose+json; charset=utf-8", "Application/JOSE+JSON"] {
            assert!(check_content_type(&headers(Some(good))).is_ok(), "{good}");
        }
        for bad in [Some("application/json"), Some("application/jose+jsonx"), Some("text/plain"), None] {
            assert_eq!(check_content_type(&headers(bad)).unwrap_err().kind, ProblemType::Malformed, "{bad:?}");
        }
    }
}
