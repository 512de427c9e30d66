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
    /// The store failed; detail is logged, never sent. (Boxed: a
    /// `zones::Error` names two domain names, and this is the rare path.)
    #[error("storage: {0}")]
    Storage(Box<zones::Error>),
    /// Any other server-side failure; detail is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<zones::Error> for ApiError {
    fn from(e: zones::Error) -> Self {
        ApiError::Storage(Box::new(e))
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("catalog JSON: {e}"))
    }
}
