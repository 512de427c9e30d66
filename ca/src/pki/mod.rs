//! The PKI of the built-in CA: keys, the issuer hierarchy, leaves, CSRs and
//! CRLs.
//!
//! - [`Hierarchy::load_or_create`] makes (first start) or reloads the root
//!   and one intermediate per region, ECDSA P-256, keys written 0600 in the
//!   data directory; an operator may supply the root instead. Every
//!   intermediate has `pathLenConstraint = 0` and critical name constraints
//!   permitting only its region's DNS subtrees, so it cannot sign for
//!   anything else.
//! - [`Issuer::issue`] signs a leaf and requires proof: an [`Approved`]
//!   (constructible only inside this crate, after validation and the policy
//!   check) and a [`ReservedSerial`] that [`CertStore::reserve_serial`] has
//!   already made durable. It re-checks names, lifetime and key type.
//! - [`ServiceIssuer`] (made by the root at every start, in memory only)
//!   signs nameplate's own HTTPS certificate for the configured service
//!   names, such as `localhost` and `127.0.0.1`, which no region
//!   intermediate may certify.
//! - [`CheckedCsr::parse`] verifies a CSR's self-signature and key type.
//! - [`Issuer::crl`] builds the CRL of one issuer from [`CertStore`]'s
//!   revocation entries.
//!
//! Durability: every [`CertStore`] write is followed by a sled `flush()`
//! (an fsync) before it returns; [`CertStore::reserve_serials`] reserves a
//! batch with one flush. The calls block, so async callers should run them
//! on a blocking thread.
//!
//! Leaves are backdated by one minute (`notBefore = now - 60 s`) to absorb
//! clock skew on relying parties; CRLs are valid for 24 hours
//! ([`CRL_VALIDITY`]) and regenerated on every revocation.

mod crl;
mod csr;
mod error;
mod hierarchy;
mod keys;
mod leaf;
mod service;
mod store;
#[cfg(test)]
pub(crate) mod testutil;

pub use crl::{CRL_VALIDITY, crl_pem};
pub use csr::{CheckedCsr, CsrError, KeyKind};
pub use error::Error;
pub use hierarchy::{Hierarchy, HierarchySpec, Issuer, RegionSpec};
pub(crate) use leaf::valid_label;
pub use leaf::{Approved, IssuedCert, KeyType, LeafKey};
pub use service::{ServiceCert, ServiceIssuer};
pub use store::{CertMeta, CertRecord, CertStore, ReservedSerial, RevocationReason, RevokedEntry};
