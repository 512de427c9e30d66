//! The one error type of the API. `problem.rs` turns it into the wire
//! format; nothing else does.

/// Why a request failed. The `String`s of the 4xx variants are sent to the
/// client as the problem `detail`; those of [`ApiError::Storage`] and
/// [`ApiError::Internal`] are logged only.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization` header at all.
    #[error("unauthorized: no credentials")]
    NoCredentials,
    /// No usable bearer token: malformed, unknown or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The token is valid but its team or role may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such resource (or route).
    #[error("not found: {0}")]
    NotFound(String),
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The resource exists already.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The body is not JSON of the expected shape.
    #[error("invalid body: {0}")]
    InvalidBody(String),
    /// The body is larger than the configured limit.
    #[error("body too large: {0}")]
    BodyTooLarge(String),
    /// The body is not declared as `application/json`.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A name (team, region) that is not a valid DNS label.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A well-formed request that asks for something not allowed as such.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The change would take a team over one of its quotas.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// Zone data the zone store refuses (CNAME beside other data, data
    /// below a cut, a TTL out of range, ...).
    #[error("invalid records: {0}")]
    InvalidRecords(String),
    /// The store failed; detail is logged, never sent. (Boxed: a
    /// `zones::Error` names two domain names, and this is the rare path.)
    #[error("storage: {0}")]
    Storage(Box<zones::Error>),
    /// Any other server-side failure; detail is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<zones::Error> for ApiError {
    /// Errors the request caused keep their text as the detail; storage
    /// failures stay generic on the wire (the text is logged).
    fn from(e: zones::Error) -> Self {
        use zones::Error as Z;
        match e {
            Z::NoSuchZone(_) => ApiError::NotFound(e.to_string()),
            Z::ZoneExists(_) => ApiError::Conflict(e.to_string()),
            Z::CnameConflict(_)
            | Z::BelowCut { .. }
            | Z::OutOfZone { .. }
            | Z::BadTtl(_)
            | Z::BadRecord { .. }
            | Z::ApexIncomplete(_)
            | Z::ZoneFile(_) => ApiError::InvalidRecords(e.to_string()),
            _ => ApiError::Storage(Box::new(e)),
        }
    }
}

impl From<policy::Error> for ApiError {
    /// A denial is 403 with its text; configuration and risk-policy failures
    /// are the operator's and stay in the log; every other policy error is a
    /// bad request whose text says what is wrong.
    fn from(e: policy::Error) -> Self {
        use policy::Error as P;
        match e {
            P::Denied(denial) => ApiError::Forbidden(denial.to_string()),
            P::InvalidLabel { .. } | P::Unavailable { .. } => ApiError::InvalidName(e.to_string()),
            P::QuotaExceeded { .. } => ApiError::QuotaExceeded(e.to_string()),
            P::Config(_) | P::RiskPolicy(_) => ApiError::Internal(e.to_string()),
            _ => ApiError::InvalidRequest(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("catalog JSON: {e}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use axum::response::IntoResponse;
    use policy::{Denial, Label, QuotaKind, Role};
    use zones::{Name, RecordType};

    use super::*;

    /// The status and problem type `error` is answered with, and its detail.
    async fn wire(error: ApiError) -> (u16, String, String) {
        let response = error.into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (status, body["type"].as_str().unwrap().to_owned(), body["detail"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn zone_errors_the_caller_caused_keep_their_text() {
        let name = Name::from_ascii("x.apps.company.com.").unwrap();
        let zone = Name::from_ascii("apps.company.com.").unwrap();
        let cases = [
            (zones::Error::NoSuchZone(zone.clone()), 404, "not-found"),
            (zones::Error::ZoneExists(zone.clone()), 409, "conflict"),
            (zones::Error::CnameConflict(name.clone()), 400, "invalid-records"),
            (zones::Error::BelowCut { name: name.clone(), cut: zone.clone() }, 400, "invalid-records"),
            (zones::Error::OutOfZone { name: name.clone(), zone: zone.clone() }, 400, "invalid-records"),
            (zones::Error::BadTtl(u32::MAX), 400, "invalid-records"),
            (
                zones::Error::BadRecord { name: name.clone(), rtype: RecordType::SOA, why: "off the apex" },
                400,
                "invalid-records",
            ),
            (zones::Error::ApexIncomplete(zone.clone()), 400, "invalid-records"),
        ];
        for (error, status, kind) in cases {
            let text = error.to_string();
            let (got, got_kind, detail) = wire(error.into()).await;
            assert_eq!((got, got_kind.as_str(), detail), (status, &*format!("urn:nameplate:problem:{kind}"), text));
        }
    }

    #[tokio::test]
    async fn storage_failures_stay_generic() {
        for error in [zones::Error::Storage("disk /dev/sda1 on fire".into()), zones::Error::Corrupt("key k".into())] {
            let (status, kind, detail) = wire(error.into()).await;
            assert_eq!((status, kind.as_str()), (500, "urn:nameplate:problem:storage"));
            assert!(!detail.contains("sda1") && !detail.contains("key k"), "{detail}");
        }
    }

    #[tokio::test]
    async fn policy_denials_are_403_and_other_policy_errors_400() {
        let team = Label::new("hr").unwrap();
        let denied = policy::Error::Denied(Denial::OtherTeam {
            team: team.clone(),
            name: "x.ops.prod.apps.company.com.".into(),
            owner: Label::new("ops").unwrap(),
        });
        let text = denied.to_string();
        assert_eq!(wire(denied.into()).await, (403, "urn:nameplate:problem:forbidden".into(), text));
        let role = policy::Error::Denied(Denial::Role { role: Role::Ci, action: policy::Action::WriteRecords });
        assert_eq!(wire(role.into()).await.0, 403);
        let quota = policy::Error::QuotaExceeded { quota: QuotaKind::Records, limit: 2, would_be: 3 };
        let text = quota.to_string();
        assert_eq!(wire(quota.into()).await, (400, "urn:nameplate:problem:quota-exceeded".into(), text));
        let label = policy::Scheme::new(&policy::SchemeConfig::default()).unwrap().team("prod").unwrap_err();
        assert_eq!(wire(label.into()).await.1, "urn:nameplate:problem:invalid-name");
        let env = policy::Error::UnknownEnv { env: "qa".into(), known: "prod".into() };
        assert_eq!(wire(env.into()).await.0, 400);
        let config = policy::Error::Config("secret operator detail".into());
        let (status, _, detail) = wire(config.into()).await;
        assert_eq!(status, 500);
        assert!(!detail.contains("secret"), "{detail}");
    }
}
