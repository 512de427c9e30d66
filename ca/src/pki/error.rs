//! The error type of the PKI.

use std::path::PathBuf;

use super::csr::CsrError;

/// Everything that can go wrong in the PKI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a key or certificate file failed.
    #[error("file {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// rcgen could not build, parse or sign something.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A stored certificate could not be parsed.
    #[error("stored certificate {0} is not a valid certificate")]
    BadStoredCert(PathBuf),
    /// A stored key does not match its certificate.
    #[error("key does not match certificate {0}")]
    KeyMismatch(PathBuf),
    /// A stored intermediate is not signed by the root.
    #[error("{0} is not signed by the root")]
    NotSignedByRoot(PathBuf),
    /// A name is not a syntactically valid DNS name.
    #[error("invalid DNS name {0:?}")]
    BadName(String),
    /// The storage backend failed.
    #[error("certificate store: {0}")]
    Store(#[from] sled::Error),
    /// A stored record could not be decoded.
    #[error("corrupt certificate store record: {0}")]
    Corrupt(String),
    /// The random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// No certificate with this serial is known.
    #[error("unknown serial {0}")]
    UnknownSerial(String),
    /// The certificate is already revoked.
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    /// The approval names nothing.
    #[error("no names to certify")]
    NoNames,
    /// A name falls outside the issuer's permitted subtrees.
    #[error("{0} is outside the issuer's name constraints")]
    OutsideConstraints(String),
    /// The requested lifetime is zero or above the configured maximum.
    #[error("lifetime {0:?} is not allowed")]
    Lifetime(std::time::Duration),
    /// The key type is not allowed for leaves.
    #[error("key type not allowed: {0}")]
    KeyNotAllowed(String),
    /// The CSR was rejected.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The hierarchy specification is unusable.
    #[error("bad hierarchy specification: {0}")]
    Spec(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
}
