//! Authorizations and their challenges (RFC 8555 §7.1.4, §7.1.6) as state
//! types. Each transition consumes the old state; [`StoredAuthz`] is what
//! the store holds, and [`StoredAuthz::refresh`] applies expiry on every read.
//!
//! Validation is synchronous (in-process DNS answers at once), so a
//! challenge goes from `pending` straight to `valid` or `invalid` in one
//! transition; [`ChallengeStatus::Processing`] exists for the wire format
//! and is never stored.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::problem::Problem;
use super::types::{AccountId, AuthzId, ChallengeType, Identifier};

/// A challenge's status (RFC 8555 §7.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChallengeStatus {
    /// Not yet answered.
    Pending,
    /// Being validated (not stored: validation is synchronous).
    Processing,
    /// Validated.
    Valid,
    /// Validation failed.
    Invalid,
}

/// One challenge of an authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// Its type.
    pub kind: ChallengeType,
    /// The token (128 random bits, base64url).
    pub token: String,
    /// Its status.
    pub status: ChallengeStatus,
    /// When it was validated.
    pub validated: Option<SystemTime>,
    /// Why validation failed.
    pub error: Option<Problem>,
}

impl Challenge {
    fn pending(kind: ChallengeType, token: String) -> Self {
        Self { kind, token, status: ChallengeStatus::Pending, validated: None, error: None }
    }
}

/// How an authorization became valid; CAA `validationmethods` is checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ValidationMethod {
    /// By a challenge of this type.
    Challenge(ChallengeType),
    /// By the team owning the name's zone here (pre-authorization; no challenge).
    PreAuthorized,
}

/// What every authorization state holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthzCore {
    /// Its id.
    pub id: AuthzId,
    /// The account it belongs to.
    pub account: AccountId,
    /// The name it is for (never `*.x`; see `wildcard`).
    pub identifier: Identifier,
    /// Whether it is for a wildcard order identifier.
    pub wildcard: bool,
    /// When it expires.
    pub expires: SystemTime,
    /// Its challenges: dns-01 always, http-01 too unless `wildcard`; empty
    /// when pre-authorized.
    pub challenges: Vec<Challenge>,
}

impl AuthzCore {
    /// The order identifier it is for: `*.x` for a wildcard authorization for `x`.
    pub fn order_identifier(&self) -> String {
        if self.wildcard { format!("*.{}", self.identifier) } else { self.identifier.to_string() }
    }
}

/// A pending authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAuthz(pub AuthzCore);

/// A valid authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidAuthz {
    /// The common fields.
    pub core: AuthzCore,
    /// How it was validated.
    pub method: ValidationMethod,
}

/// An authorization whose challenge failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidAuthz {
    /// The common fields.
    pub core: AuthzCore,
    /// Why.
    pub error: Problem,
}

/// An authorization its client deactivated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeactivatedAuthz(pub AuthzCore);

/// An authorization past its `expires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiredAuthz(pub AuthzCore);

/// An authorization the CA revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevokedAuthz(pub AuthzCore);

/// The inputs of a new authorization.
#[derive(Debug, Clone)]
pub struct NewAuthz {
    /// Its id.
    pub id: AuthzId,
    /// The account.
    pub account: AccountId,
    /// The order identifier it is for (`*.x` makes a wildcard authorization for `x`).
    pub order_identifier: Identifier,
    /// Its challenge tokens: dns-01's, then http-01's.
    pub tokens: [String; 2],
    /// When a pending authorization expires.
    pub expires: SystemTime,
}

impl PendingAuthz {
    /// A new pending authorization; wildcards get only dns-01 (RFC 8555 §7.1.3).
    pub fn new(new: NewAuthz) -> Self {
        let wildcard = new.order_identifier.is_wildcard();
        let [dns, http] = new.tokens;
        let mut challenges = vec![Challenge::pending(ChallengeType::Dns01, dns)];
        if !wildcard {
            challenges.push(Challenge::pending(ChallengeType::Http01, http));
        }
        let identifier = new.order_identifier.authz_identifier();
        Self(AuthzCore { id: new.id, account: new.account, identifier, wildcard, expires: new.expires, challenges })
    }

    /// The challenge of `kind`, if offered.
    pub fn challenge(&self, kind: ChallengeType) -> Option<&Challenge> {
        self.0.challenges.iter().find(|c| c.kind == kind)
    }

    /// Valid without a challenge (pre-authorization), until `now + lifetime`.
    pub fn pre_authorized(mut self, now: SystemTime, lifetime: Duration) -> ValidAuthz {
        self.0.challenges.clear();
        self.0.expires = now + lifetime;
        ValidAuthz { core: self.0, method: ValidationMethod::PreAuthorized }
    }

    /// The challenge of `kind` passed at `now`; valid until `now + lifetime`.
    pub fn validated(mut self, kind: ChallengeType, now: SystemTime, lifetime: Duration) -> ValidAuthz {
        self.set_challenge(kind, ChallengeStatus::Valid, Some(now), None);
        self.0.expires = now + lifetime;
        ValidAuthz { core: self.0, method: ValidationMethod::Challenge(kind) }
    }

    /// The challenge of `kind` failed with `error`.
    pub fn failed(mut self, kind: ChallengeType, error: Problem) -> InvalidAuthz {
        self.set_challenge(kind, ChallengeStatus::Invalid, None, Some(error.clone()));
        InvalidAuthz { core: self.0, error }
    }

    fn set_challenge(
        &mut self,
        kind: ChallengeType,
        status: ChallengeStatus,
        at: Option<SystemTime>,
        e: Option<Problem>,
    ) {
        for c in self.0.challenges.iter_mut().filter(|c| c.kind == kind) {
            c.status = status;
            c.validated = at;
            c.error = e.clone();
        }
    }

    /// Deactivated by the client.
    pub fn deactivate(self) -> DeactivatedAuthz {
        DeactivatedAuthz(self.0)
    }
}

impl ValidAuthz {
    /// Deactivated by the client.
    pub fn deactivate(self) -> DeactivatedAuthz {
        DeactivatedAuthz(self.core)
    }

    /// Revoked by the CA.
    pub fn revoke(self) -> RevokedAuthz {
        RevokedAuthz(self.core)
    }
}

/// An authorization in any state, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StoredAuthz {
    /// Pending.
    Pending(PendingAuthz),
    /// Valid.
    Valid(ValidAuthz),
    /// Invalid.
    Invalid(InvalidAuthz),
    /// Deactivated.
    Deactivated(DeactivatedAuthz),
    /// Expired.
    Expired(ExpiredAuthz),
    /// Revoked.
    Revoked(RevokedAuthz),
}

impl StoredAuthz {
    /// Applies expiry: a pending or valid authorization past `expires` is
    /// expired (RFC 8555 §7.1.6). Applied on every read.
    pub fn refresh(self, now: SystemTime) -> Self {
        match self {
            Self::Pending(p) if now >= p.0.expires => Self::Expired(ExpiredAuthz(p.0)),
            Self::Valid(v) if now >= v.core.expires => Self::Expired(ExpiredAuthz(v.core)),
            other => other,
        }
    }

    /// The common fields.
    pub fn core(&self) -> &AuthzCore {
        match self {
            Self::Pending(a) => &a.0,
            Self::Valid(a) => &a.core,
            Self::Invalid(a) => &a.core,
            Self::Deactivated(a) => &a.0,
            Self::Expired(a) => &a.0,
            Self::Revoked(a) => &a.0,
        }
    }

    /// The wire status, e.g. `pending`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Pending(_) => "pending",
            Self::Valid(_) => "valid",
            Self::Invalid(_) => "invalid",
            Self::Deactivated(_) => "deactivated",
            Self::Expired(_) => "expired",
            Self::Revoked(_) => "revoked",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::acme::problem::ProblemType;

    pub(crate) fn pending(name: &str, now: SystemTime) -> PendingAuthz {
        PendingAuthz::new(NewAuthz {
            id: AuthzId("a1".into()),
            account: AccountId("acct".into()),
            order_identifier: Identifier::parse("dns", name).unwrap(),
            tokens: ["tok-dns".into(), "tok-http".into()],
            expires: now + Duration::from_secs(3600),
        })
    }

    #[test]
    fn wildcard_authz_offers_only_dns01_for_the_base_name() {
        let now = SystemTime::UNIX_EPOCH;
        let wild = pending("*.app.example.com", now);
        assert!(wild.0.wildcard);
        assert_eq!(wild.0.identifier.as_str(), "app.example.com");
        assert_eq!(wild.0.challenges.iter().map(|c| c.kind).collect::<Vec<_>>(), [ChallengeType::Dns01]);
        let plain = pending("app.example.com", now);
        assert!(plain.challenge(ChallengeType::Http01).is_some());
    }

    #[test]
    fn validation_marks_the_challenge_and_extends_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let valid = pending("a.example.com", now).validated(ChallengeType::Dns01, now, Duration::from_secs(10));
        assert_eq!(valid.method, ValidationMethod::Challenge(ChallengeType::Dns01));
        assert_eq!(valid.core.expires, now + Duration::from_secs(10));
        assert_eq!(valid.core.challenges[0].status, ChallengeStatus::Valid);
        assert_eq!(valid.core.challenges[1].status, ChallengeStatus::Pending);
    }

    #[test]
    fn failure_records_the_problem_on_challenge_and_authz() {
        let now = SystemTime::UNIX_EPOCH;
        let err = Problem::new(ProblemType::IncorrectResponse, "wrong");
        let invalid = pending("a.example.com", now).failed(ChallengeType::Http01, err.clone());
        assert_eq!(invalid.error, err);
        assert_eq!(invalid.core.challenges[1].status, ChallengeStatus::Invalid);
        assert_eq!(invalid.core.challenges[1].error.as_ref(), Some(&err));
        assert_eq!(StoredAuthz::Invalid(invalid).status(), "invalid");
    }

    #[test]
    fn pending_and_valid_authzs_expire_on_refresh() {
        let now = SystemTime::UNIX_EPOCH;
        let later = now + Duration::from_secs(3600);
        let p = StoredAuthz::Pending(pending("a.example.com", now));
        assert_eq!(p.clone().refresh(later - Duration::from_secs(1)).status(), "pending");
        assert_eq!(p.refresh(later).status(), "expired");
        let v = StoredAuthz::Valid(pending("a.example.com", now).pre_authorized(now, Duration::from_secs(5)));
        assert_eq!(v.clone().refresh(now + Duration::from_secs(4)).status(), "valid");
        assert_eq!(v.refresh(now + Duration::from_secs(5)).status(), "expired");
    }

    #[test]
    fn deactivation_and_revocation_are_final() {
        let now = SystemTime::UNIX_EPOCH;
        let pre = pending("a.example.com", now).pre_authorized(now, Duration::from_secs(5));
        assert!(pre.core.challenges.is_empty());
        assert_eq!(StoredAuthz::Revoked(pre.clone().revoke()).status(), "revoked");
        let d = StoredAuthz::Deactivated(pre.deactivate());
        assert_eq!(d.clone().refresh(now + Duration::from_secs(100)), d);
        assert_eq!(StoredAuthz::Deactivated(pending("a.example.com", now).deactivate()).status(), "deactivated");
    }
}
