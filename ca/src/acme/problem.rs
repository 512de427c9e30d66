//! ACME problems (RFC 8555 §6.7): what the CA logic refuses and why, as
//! values. The HTTP status and the problem document are made from these in
//! one place, at the edge (`api`'s ACME module).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An `urn:ietf:params:acme:error:*` type (RFC 8555 §6.7, RFC 9773 §7.4
/// `alreadyReplaced`, the profiles extension's `invalidProfile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ProblemType {
    /// The request named an account that does not exist.
    AccountDoesNotExist,
    /// The certificate was already revoked.
    AlreadyRevoked,
    /// The order's `replaces` names a certificate already replaced.
    AlreadyReplaced,
    /// The CSR is unacceptable (e.g. names differ from the order's).
    BadCsr,
    /// The nonce was unknown, used or missing.
    BadNonce,
    /// The JWS was signed by a key the CA does not accept.
    BadPublicKey,
    /// The revocation reason is not allowed.
    BadRevocationReason,
    /// The JWS algorithm is not supported.
    BadSignatureAlgorithm,
    /// CAA records forbid issuance.
    Caa,
    /// Several problems; see the subproblems.
    Compound,
    /// The validation could not connect to the target.
    Connection,
    /// A DNS problem during validation.
    Dns,
    /// The request must carry External Account Binding.
    ExternalAccountRequired,
    /// The response to a challenge was wrong.
    IncorrectResponse,
    /// A contact URL is invalid.
    InvalidContact,
    /// The requested profile is not offered.
    InvalidProfile,
    /// The request message was malformed.
    Malformed,
    /// The order is not in a state that allows finalization.
    OrderNotReady,
    /// A rate limit was exceeded.
    RateLimited,
    /// The CA will not issue for this identifier.
    RejectedIdentifier,
    /// The server had an internal error.
    ServerInternal,
    /// A TLS problem during validation.
    Tls,
    /// The client lacks authorization for the action.
    Unauthorized,
    /// A contact URL has an unsupported scheme.
    UnsupportedContact,
    /// The identifier type is not supported.
    UnsupportedIdentifier,
    /// The user must visit the terms of service.
    UserActionRequired,
}

impl ProblemType {
    /// The last segment of the URN, e.g. `badNonce`.
    pub fn code(self) -> &'static str {
        match self {
            Self::AccountDoesNotExist => "accountDoesNotExist",
            Self::AlreadyRevoked => "alreadyRevoked",
            Self::AlreadyReplaced => "alreadyReplaced",
            Self::BadCsr => "badCSR",
            Self::BadNonce => "badNonce",
            Self::BadPublicKey => "badPublicKey",
            Self::BadRevocationReason => "badRevocationReason",
            Self::BadSignatureAlgorithm => "badSignatureAlgorithm",
            Self::Caa => "caa",
            Self::Compound => "compound",
            Self::Connection => "connection",
            Self::Dns => "dns",
            Self::ExternalAccountRequired => "externalAccountRequired",
            Self::IncorrectResponse => "incorrectResponse",
            Self::InvalidContact => "invalidContact",
            Self::InvalidProfile => "invalidProfile",
            Self::Malformed => "malformed",
            Self::OrderNotReady => "orderNotReady",
            Self::RateLimited => "rateLimited",
            Self::RejectedIdentifier => "rejectedIdentifier",
            Self::ServerInternal => "serverInternal",
            Self::Tls => "tls",
            Self::Unauthorized => "unauthorized",
            Self::UnsupportedContact => "unsupportedContact",
            Self::UnsupportedIdentifier => "unsupportedIdentifier",
            Self::UserActionRequired => "userActionRequired",
        }
    }

    /// The full type URN, e.g. `urn:ietf:params:acme:error:badNonce`.
    pub fn urn(self) -> String {
        format!("urn:ietf:params:acme:error:{}", self.code())
    }
}

/// A DNS identifier a subproblem is about (RFC 8555 §6.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemIdentifier {
    /// Always `dns` here.
    pub kind: String,
    /// The name, as the client sent it.
    pub value: String,
}

/// One refusal: a type, a human-readable detail safe to show the client,
/// and per-identifier subproblems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The problem type.
    pub kind: ProblemType,
    /// What went wrong, for the client (never internal detail).
    pub detail: String,
    /// Per-identifier problems (RFC 8555 §6.7.1).
    pub subproblems: Vec<(ProblemIdentifier, Problem)>,
}

impl Problem {
    /// A problem of `kind` with `detail` and no subproblems.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), subproblems: Vec::new() }
    }

    /// Adds a subproblem about the DNS name `name`.
    pub fn with_subproblem(mut self, name: &str, problem: Problem) -> Self {
        self.subproblems.push((ProblemIdentifier { kind: "dns".into(), value: name.into() }, problem));
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)
    }
}

impl std::error::Error for Problem {}
