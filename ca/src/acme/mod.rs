//! The ACME (RFC 8555) logic: accounts, orders, authorizations, challenges,
//! with no HTTP types, sockets or clocks.
//!
//! - [`types`], [`order`], [`authz`]: domain values and the order and
//!   authorization state types (transitions consume the old state; expiry
//!   via `refresh(now)` on every read).
//! - [`dns`], [`validate`], [`caa`]: dns-01 and http-01 against the live
//!   zone snapshot, delegated nameservers and HTTP through seams the edge
//!   implements ([`ExternalDns`], [`HttpFetch`]); CAA (RFC 8659/8657).
//! - [`ari`]: RFC 9773 certificate ids and renewal windows.
//! - [`store`]: the durable sled store.
//! - [`Acme`]: the facade the HTTP edge calls (accounts and EAB, orders,
//!   challenges, finalize through the [`Signer`] seam to `pki`).
//!
//! Errors: [`Error::Problem`] is a refusal for the client (the edge picks
//! the HTTP status from its type), [`Error::NotFound`] is a 404, everything
//! else is internal and answered with `serverInternal`, the detail logged.
//!
//! Decisions (see each module for more):
//! - EAB keys are single use (as at Let's Encrypt); EAB is required by default.
//! - Pending orders and authorizations live 8 h, valid authorizations 8 h
//!   (reused while ≥ 1 h remains); all configurable in [`AcmeConfig`].
//! - An expired authorization is `expired` (RFC 8555 §7.1.6), an expired
//!   pending or ready order `invalid`.
//! - Pre-authorized authorizations carry no challenge; CAA
//!   `validationmethods` never matches them.
//! - CAA is checked at finalization, for every name, with the method that
//!   validated its authorization; refusals there (and `badCSR`) leave the
//!   order ready.
//! - Another account's object is `unauthorized`; a missing one is `NotFound`.

mod accounts;
pub mod ari;
pub mod authz;
pub mod caa;
mod challenges;
pub mod dns;
mod error;
mod finalize;
mod names;
pub mod order;
mod orders;
pub mod problem;
mod service;
pub mod store;
pub mod types;
pub mod validate;

pub use accounts::{NewAccount, VerifiedEab};
pub use challenges::Validators;
pub use dns::{Delegation, DnsView, ExternalDns, Lookup, NoExternalDns, Resolver, address, txt_string};
pub use error::Error;
pub use finalize::{IssueSeams, SignRequest, SignedCert, Signer};
pub use names::SchemePolicy;
pub use orders::NewOrder;
pub use problem::{Problem, ProblemIdentifier, ProblemType};
pub use service::{Acme, AcmeConfig, NameDecision, NamePolicy, Profile};
pub use store::AcmeStore;
pub use validate::HttpFetch;
