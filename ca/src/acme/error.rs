//! The ACME module's error: a client-facing [`Problem`] or an internal
//! failure that the edge answers with `serverInternal`, logging the detail.

use super::problem::{Problem, ProblemType};

/// Why an ACME operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A refusal to show the client as an ACME problem.
    #[error("{0}")]
    Problem(Box<Problem>),
    /// The object named does not exist (the edge answers 404).
    #[error("no such object")]
    NotFound,
    /// The store failed; internal, answered with `serverInternal`.
    #[error("acme store: {0}")]
    Store(#[from] sled::Error),
    /// A stored value did not decode; internal.
    #[error("acme store codec: {0}")]
    Codec(#[from] serde_json::Error),
    /// The random number generator failed; internal.
    #[error("random number generator failed")]
    Random,
    /// The signer (the PKI) failed for an internal reason.
    #[error("signer: {0}")]
    Signer(String),
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Self::Problem(Box::new(problem))
    }
}

impl Error {
    /// The client-facing problem, if this is a refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Problem(p) => Some(p),
            _ => None,
        }
    }
}

/// Shorthand for a problem without subproblems.
pub(crate) fn problem(kind: ProblemType, detail: impl Into<String>) -> Problem {
    Problem::new(kind, detail)
}
