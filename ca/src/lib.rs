//! nameplate's certificate authority, with no HTTP types.
//!
//! - [`pki`]: the root and one intermediate per region (ECDSA P-256, name
//!   constraints limited to the platform zones), leaf issuance that requires
//!   proof of the policy check and of validation, CSR checks, CRLs.
//! - [`issuance`]: the running [`issuance::Ca`] (hierarchy, store, shared
//!   database, cached CRLs) and direct issuance from a policy decision.
//! - [`acme`]: RFC 8555 accounts, External Account Binding, orders,
//!   authorizations and challenges as state types whose transitions are
//!   plain functions of `(state, input, now)`, dns-01 against the live zone
//!   snapshot, CAA (RFC 8659/8657), profiles and ARI (RFC 9773), and their
//!   durable store.

pub mod acme;
pub mod issuance;
pub mod pki;
