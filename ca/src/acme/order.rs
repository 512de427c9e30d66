//! Orders (RFC 8555 §7.1.3, §7.1.6) as state types: pending, ready,
//! processing, valid, invalid. Each transition consumes the old state, so
//! e.g. finalizing a pending order does not compile. [`StoredOrder`] is the
//! stored form; [`StoredOrder::refresh`] applies expiry on every read.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::authz::StoredAuthz;
use super::error::problem;
use super::problem::{Problem, ProblemType};
use super::types::{AccountId, AuthzId, Identifier, OrderId};

/// What every order state holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCore {
    /// Its id.
    pub id: OrderId,
    /// The account it belongs to.
    pub account: AccountId,
    /// Its identifiers, de-duplicated and sorted.
    pub identifiers: Vec<Identifier>,
    /// One authorization per identifier, in the same order.
    pub authzs: Vec<AuthzId>,
    /// The certificate profile asked for.
    pub profile: String,
    /// The ARI id of the certificate this order replaces (RFC 9773 §5).
    pub replaces: Option<String>,
    /// When it expires (unless processing or valid).
    pub expires: SystemTime,
    /// When it was created.
    pub created_at: SystemTime,
}

/// The certificate a valid order produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRef {
    /// Its serial number, big-endian bytes.
    pub serial: Vec<u8>,
    /// Its ARI certificate id (RFC 9773 §4.1).
    pub ari_id: String,
    /// Its notBefore.
    pub not_before: SystemTime,
    /// Its notAfter.
    pub not_after: SystemTime,
}

/// An order waiting for its authorizations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOrder(pub OrderCore);

/// An order whose authorizations are all valid: it may be finalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyOrder(pub OrderCore);

/// A finalized order whose certificate is being issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingOrder {
    /// The common fields.
    pub core: OrderCore,
    /// When finalize was accepted.
    pub finalized_at: SystemTime,
}

/// An order with its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidOrder {
    /// The common fields.
    pub core: OrderCore,
    /// The certificate.
    pub certificate: CertificateRef,
}

/// A failed or expired order; final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidOrder {
    /// The common fields.
    pub core: OrderCore,
    /// Why it failed.
    pub error: Problem,
}

impl PendingOrder {
    /// All authorizations are valid.
    pub fn authorizations_valid(self) -> ReadyOrder {
        ReadyOrder(self.0)
    }

    /// Moves on according to its authorizations (refreshed, in any order):
    /// invalid if any failed, expired, was deactivated or revoked; ready if
    /// all are valid; else still pending.
    pub fn advance(self, authzs: &[StoredAuthz]) -> StoredOrder {
        if authzs.iter().any(|a| !matches!(a, StoredAuthz::Pending(_) | StoredAuthz::Valid(_))) {
            let error = problem(ProblemType::Unauthorized, "an authorization of this order is not valid");
            return StoredOrder::Invalid(self.invalidate(error));
        }
        if authzs.len() == self.0.authzs.len() && authzs.iter().all(|a| matches!(a, StoredAuthz::Valid(_))) {
            return StoredOrder::Ready(self.authorizations_valid());
        }
        StoredOrder::Pending(self)
    }

    /// Failed with `error`.
    pub fn invalidate(self, error: Problem) -> InvalidOrder {
        InvalidOrder { core: self.0, error }
    }
}

impl ReadyOrder {
    /// Accepts the finalize request when the CSR's names (any order, any
    /// case) are exactly the order's identifiers; else `badCSR`, and the
    /// order stays ready (RFC 8555 §7.4).
    pub fn finalize(self, csr_names: &[String], now: SystemTime) -> Result<ProcessingOrder, Box<(Self, Problem)>> {
        let mut names: Vec<String> = csr_names.iter().map(|n| n.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        let wanted: Vec<&str> = self.0.identifiers.iter().map(Identifier::as_str).collect();
        if names != wanted {
            let p = problem(ProblemType::BadCsr, "the CSR's names differ from the order's identifiers");
            return Err(Box::new((self, p)));
        }
        Ok(ProcessingOrder { core: self.0, finalized_at: now })
    }

    /// Failed with `error`.
    pub fn invalidate(self, error: Problem) -> InvalidOrder {
        InvalidOrder { core: self.0, error }
    }
}

impl ProcessingOrder {
    /// The certificate was issued.
    pub fn issued(self, certificate: CertificateRef) -> ValidOrder {
        ValidOrder { core: self.core, certificate }
    }

    /// Issuance failed with `error`.
    pub fn invalidate(self, error: Problem) -> InvalidOrder {
        InvalidOrder { core: self.core, error }
    }
}

/// An order in any state, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StoredOrder {
    /// Pending.
    Pending(PendingOrder),
    /// Ready.
    Ready(ReadyOrder),
    /// Processing.
    Processing(ProcessingOrder),
    /// Valid.
    Valid(ValidOrder),
    /// Invalid.
    Invalid(InvalidOrder),
}

impl StoredOrder {
    /// Applies expiry: a pending or ready order past `expires` is invalid
    /// (RFC 8555 §7.1.6). Applied on every read.
    pub fn refresh(self, now: SystemTime) -> Self {
        let expired = || problem(ProblemType::Malformed, "the order expired");
        match self {
            Self::Pending(o) if now >= o.0.expires => Self::Invalid(o.invalidate(expired())),
            Self::Ready(o) if now >= o.0.expires => Self::Invalid(o.invalidate(expired())),
            other => other,
        }
    }

    /// The common fields.
    pub fn core(&self) -> &OrderCore {
        match self {
            Self::Pending(o) => &o.0,
            Self::Ready(o) => &o.0,
            Self::Processing(o) => &o.core,
            Self::Valid(o) => &o.core,
            Self::Invalid(o) => &o.core,
        }
    }

    /// The wire status, e.g. `ready`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Pending(_) => "pending",
            Self::Ready(_) => "ready",
            Self::Processing(_) => "processing",
            Self::Valid(_) => "valid",
            Self::Invalid(_) => "invalid",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::acme::authz::tests::pending as pending_authz;

    fn core(now: SystemTime) -> OrderCore {
        OrderCore {
            id: OrderId("o1".into()),
            account: AccountId("acct".into()),
            identifiers: vec![
                Identifier::parse("dns", "*.b.example.com").unwrap(),
                Identifier::parse("dns", "a.example.com").unwrap(),
            ],
            authzs: vec![AuthzId("z1".into()), AuthzId("z2".into())],
            profile: "default".into(),
            replaces: None,
            expires: now + Duration::from_secs(60),
            created_at: now,
        }
    }

    fn cert() -> CertificateRef {
        let t = SystemTime::UNIX_EPOCH;
        CertificateRef { serial: vec![1, 2], ari_id: "a.b".into(), not_before: t, not_after: t }
    }

    #[test]
    fn happy_path_pending_ready_processing_valid() {
        let now = SystemTime::UNIX_EPOCH;
        let ready = PendingOrder(core(now)).authorizations_valid();
        let names = vec!["A.example.com".to_owned(), "*.b.example.com".to_owned(), "a.example.com".to_owned()];
        let processing = ready.finalize(&names, now).unwrap();
        assert_eq!(processing.finalized_at, now);
        let valid = processing.issued(cert());
        assert_eq!(StoredOrder::Valid(valid.clone()).status(), "valid");
        assert_eq!(valid.certificate.serial, [1, 2]);
    }

    #[test]
    fn csr_name_mismatch_is_bad_csr_and_keeps_the_order_ready() {
        let now = SystemTime::UNIX_EPOCH;
        let ready = ReadyOrder(core(now));
        let (back, p) = *ready.clone().finalize(&["a.example.com".to_owned()], now).unwrap_err();
        assert_eq!(p.kind, ProblemType::BadCsr);
        assert_eq!(back, ready);
        let extra = ["a.example.com", "*.b.example.com", "c.example.com"].map(String::from);
        assert!(ready.finalize(&extra, now).is_err());
    }

    #[test]
    fn advance_follows_the_authorizations() {
        let now = SystemTime::UNIX_EPOCH;
        let life = Duration::from_secs(60);
        let pend = StoredAuthz::Pending(pending_authz("a.example.com", now));
        let valid = StoredAuthz::Valid(pending_authz("a.example.com", now).pre_authorized(now, life));
        let bad = StoredAuthz::Deactivated(pending_authz("a.example.com", now).deactivate());
        let order = PendingOrder(core(now));
        assert_eq!(order.clone().advance(&[valid.clone(), pend]).status(), "pending");
        assert_eq!(order.clone().advance(&[valid.clone(), valid.clone()]).status(), "ready");
        assert_eq!(order.clone().advance(std::slice::from_ref(&valid)).status(), "pending");
        assert_eq!(order.advance(&[valid, bad]).status(), "invalid");
    }

    #[test]
    fn pending_and_ready_orders_expire_but_processing_and_valid_do_not() {
        let now = SystemTime::UNIX_EPOCH;
        let late = now + Duration::from_secs(60);
        let pending = StoredOrder::Pending(PendingOrder(core(now)));
        assert_eq!(pending.clone().refresh(late - Duration::from_secs(1)).status(), "pending");
        assert_eq!(pending.refresh(late).status(), "invalid");
        assert_eq!(StoredOrder::Ready(ReadyOrder(core(now))).refresh(late).status(), "invalid");
        let processing = ReadyOrder(core(now)).finalize(&["a.example.com".into(), "*.b.example.com".into()], now);
        let processing = processing.unwrap();
        assert_eq!(StoredOrder::Processing(processing.clone()).refresh(late).status(), "processing");
        assert_eq!(StoredOrder::Valid(processing.issued(cert())).refresh(late).status(), "valid");
    }

    #[test]
    fn invalidate_keeps_the_problem() {
        let now = SystemTime::UNIX_EPOCH;
        let p = Problem::new(ProblemType::Caa, "no");
        let inv = ReadyOrder(core(now)).finalize(&["a.example.com".into(), "*.b.example.com".into()], now);
        let inv = inv.unwrap().invalidate(p.clone());
        assert_eq!(inv.error, p);
        assert_eq!(PendingOrder(core(now)).invalidate(p.clone()).error, p);
    }
}
