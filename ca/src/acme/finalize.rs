//! Finalization (RFC 8555 §7.4): the seam to the PKI.
//!
//! [`Acme::finalize`] checks, in order: the order is ready (`orderNotReady`),
//! the name policy still allows every identifier for the account's team,
//! every authorization is still valid, CAA allows issuance for each name
//! with the method that validated it (`caa`, with subproblems), and the
//! CSR's names are the order's (`badCSR`). These refusals leave the order
//! ready, so a client may fix its CSR or DNS and retry. Then the order is
//! stored as processing (durable before signing, CONVENTIONS §6) and the
//! [`Signer`] is called with an [`Approved`] only this crate can build.
//! A signer refusal makes the order invalid; success makes it valid and
//! records the certificate for ARI and `replaces`.
//!
//! THE SEAM: the integrator implements [`Signer`] (holding the checked CSR
//! and the region's issuer): `Issuer::issue(request.approved, LeafKey::from_csr(..),
//! store.reserve_serial(..), now)`, and returns the serial, validity and the
//! issuer's key identifier (the leaf's AKI) as [`SignedCert`].

use std::time::SystemTime;

use super::ari::CertId;
use super::authz::StoredAuthz;
use super::caa::{CaaView, check_caa};
use super::error::{Error, problem};
use super::order::{CertificateRef, ReadyOrder, StoredOrder};
use super::problem::{Problem, ProblemType};
use super::service::{Acme, NamePolicy, Profile};
use super::store::{Batch, CertRecord};
use super::types::{AccountId, OrderId};
use crate::pki::Approved;

/// What the signer gets: the approval and who it is for.
#[derive(Debug)]
pub struct SignRequest {
    /// The order.
    pub order: OrderId,
    /// The account.
    pub account: AccountId,
    /// The account's team.
    pub team: Option<String>,
    /// The profile name.
    pub profile: String,
    /// Proof of validation and policy for the names and lifetime.
    pub approved: Approved,
}

/// What the signer reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCert {
    /// The serial, big-endian bytes.
    pub serial: Vec<u8>,
    /// The issuer's key identifier (the leaf's AKI keyIdentifier).
    pub authority_key_id: Vec<u8>,
    /// notBefore.
    pub not_before: SystemTime,
    /// notAfter.
    pub not_after: SystemTime,
}

/// Signs an approved certificate; implemented by the integrator over `pki`.
/// An `Err(Error::Problem)` (e.g. a CSR key the policy refuses) is shown to
/// the client; other errors are internal.
pub trait Signer {
    /// Issues the certificate.
    fn sign(&self, request: SignRequest) -> Result<SignedCert, Error>;
}

/// The seams finalization uses.
#[derive(Clone, Copy)]
pub struct IssueSeams<'a> {
    /// CAA records (a [`super::dns::Resolver`] in production).
    pub caa: &'a dyn CaaView,
    /// The name policy, checked again at finalization (CONVENTIONS §6).
    pub names: &'a dyn NamePolicy,
    /// The PKI.
    pub signer: &'a dyn Signer,
}

impl Acme {
    /// Finalizes order `id` of `account` with a CSR naming `csr_names`.
    pub fn finalize(
        &self,
        id: &OrderId,
        account: &AccountId,
        csr_names: &[String],
        seams: IssueSeams<'_>,
        now: SystemTime,
    ) -> Result<StoredOrder, Error> {
        let _guard = self.object_lock(id.as_str());
        let owner = self.valid_account(account)?;
        let StoredOrder::Ready(ready) = self.order(id, account, now)? else {
            return Err(problem(ProblemType::OrderNotReady, "the order is not ready").into());
        };
        let team = owner.team.clone().unwrap_or_default();
        for identifier in &ready.0.identifiers {
            seams.names.check(&team, identifier)?;
        }
        self.check_caa_for(&ready, seams.caa, now)?;
        let processing = ready.finalize(csr_names, now).map_err(|refused| refused.1)?;
        let profile = self.offered_profile(&processing.core.profile)?;
        let names: Vec<String> = processing.core.identifiers.iter().map(|i| i.as_str().to_owned()).collect();
        let lifetime = seams.names.lifetime(&names, &processing.core.profile).unwrap_or(profile.lifetime);
        let client_auth = profile.client_auth;
        // Staged, not flushed: the certificate's record and the valid order
        // flush it with them. After a crash before that the order may be
        // ready again, and a new finalize issues anew; while running, this
        // order's lock keeps two finalizes apart.
        let mut batch = Batch::default();
        batch.order(&StoredOrder::Processing(processing.clone()))?;
        self.store.stage(batch)?;
        let request = SignRequest {
            order: processing.core.id.clone(),
            account: owner.id.clone(),
            team: owner.team.clone(),
            profile: processing.core.profile.clone(),
            approved: Approved::new(names, lifetime, client_auth),
        };
        match seams.signer.sign(request) {
            Ok(signed) => self.issued(processing, &signed),
            Err(e) => {
                let shown =
                    e.problem().cloned().unwrap_or_else(|| problem(ProblemType::ServerInternal, "issuance failed"));
                self.save_order(&StoredOrder::Invalid(processing.invalidate(shown)))?;
                Err(e)
            }
        }
    }

    /// CAA for every authorization of `order`, with its validation method.
    fn check_caa_for(&self, order: &ReadyOrder, caa: &dyn CaaView, now: SystemTime) -> Result<(), Error> {
        let account_url = self.account_url(&order.0.account);
        let mut refused: Vec<(String, Problem)> = Vec::new();
        for authz in self.order_authz_states(&order.0.authzs, now)? {
            let StoredAuthz::Valid(valid) = authz else {
                return Err(problem(ProblemType::OrderNotReady, "an authorization is no longer valid").into());
            };
            let core = &valid.core;
            let name = core.identifier.name()?;
            if let Err(p) = check_caa(caa, &name, core.wildcard, &self.config.ca_identity, &account_url, valid.method) {
                refused.push((core.order_identifier(), p));
            }
        }
        let Some((_, first)) = refused.first() else { return Ok(()) };
        let top = Problem::new(first.kind, "CAA forbids issuance for some identifiers");
        Err(refused.into_iter().fold(top, |acc, (n, p)| acc.with_subproblem(&n, p)).into())
    }

    fn offered_profile(&self, name: &str) -> Result<&Profile, Error> {
        match self.config.profiles.iter().find(|p| p.name == name) {
            Some(p) => Ok(p),
            None => Err(problem(ProblemType::InvalidProfile, format!("profile {name:?} is no longer offered")).into()),
        }
    }

    fn issued(&self, processing: super::order::ProcessingOrder, signed: &SignedCert) -> Result<StoredOrder, Error> {
        let ari_id = CertId::new(&signed.authority_key_id, &signed.serial).encode();
        let record = CertRecord {
            ari_id: ari_id.clone(),
            account: processing.core.account.clone(),
            order: processing.core.id.clone(),
            not_before: signed.not_before,
            not_after: signed.not_after,
            replaced_by: None,
        };
        let certificate = CertificateRef {
            serial: signed.serial.clone(),
            ari_id,
            not_before: signed.not_before,
            not_after: signed.not_after,
        };
        let valid = StoredOrder::Valid(processing.issued(certificate));
        let mut batch = Batch::default();
        batch.order(&valid)?;
        batch.cert(&record)?;
        self.store.commit(batch)?;
        Ok(valid)
    }

    fn save_order(&self, order: &StoredOrder) -> Result<(), Error> {
        let mut batch = Batch::default();
        batch.order(order)?;
        self.store.commit(batch)
    }

    /// The suggested renewal window of the certificate with ARI id `id`
    /// (RFC 9773 §4.2); `NotFound` for a certificate not issued here.
    pub fn renewal_info(&self, id: &str) -> Result<(SystemTime, SystemTime), Error> {
        let id = CertId::parse(id)?.encode();
        let cert = self.store.cert(&id)?.ok_or(Error::NotFound)?;
        Ok(super::ari::renewal_window(cert.not_before, cert.not_after))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::acme::accounts::tests::{acme, team_account, temp_db};
    use crate::acme::orders::NewOrder;
    use crate::acme::orders::tests::{Teams, blue_order, req};

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    /// Records requests; issues serial `[n]` for the n-th, or refuses.
    struct FakeSigner {
        seen: RefCell<Vec<(Vec<String>, Duration, bool)>>,
        refuse: bool,
    }

    impl Signer for FakeSigner {
        fn sign(&self, r: SignRequest) -> Result<SignedCert, Error> {
            let approved = &r.approved;
            self.seen.borrow_mut().push((approved.names().to_vec(), approved.lifetime(), approved.client_auth()));
            if self.refuse {
                return Err(Problem::new(ProblemType::BadCsr, "key too weak").into());
            }
            let n = self.seen.borrow().len() as u8;
            let lifetime = r.approved.lifetime();
            Ok(SignedCert {
                serial: vec![0x80 | n],
                authority_key_id: vec![7; 20],
                not_before: NOW,
                not_after: NOW + lifetime,
            })
        }
    }

    fn signer(refuse: bool) -> FakeSigner {
        FakeSigner { seen: RefCell::default(), refuse }
    }

    fn seams<'a>(caa: &'a zones::ZoneSet, signer: &'a FakeSigner) -> IssueSeams<'a> {
        IssueSeams { caa, names: &Teams, signer }
    }

    fn no_caa() -> zones::ZoneSet {
        zones::ZoneSet::new()
    }

    fn caa_zone(value: &str) -> zones::ZoneSet {
        let text = format!(
            "$ORIGIN blue.example.com.\n@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30\n@ 3600 IN NS ns1\n\
             ns1 300 IN A 192.0.2.1\n@ IN CAA 0 issue \"{value}\"\n"
        );
        zones::ZoneSet::new().with_zone(Arc::new(zones::zonefile::parse(&text, None).unwrap()))
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn finalize_issues_and_records_the_certificate() {
        let (acme, a, order) = blue_order(&["a.blue.example.com", "*.blue.example.com"]);
        let s = signer(false);
        let csr = names(&["*.blue.example.com", "a.blue.example.com"]);
        let done = acme.finalize(&order.core().id, &a.id, &csr, seams(&no_caa(), &s), NOW).unwrap();
        let StoredOrder::Valid(valid) = &done else { panic!("{done:?}") };
        assert_eq!(valid.certificate.serial, [0x81]);
        assert_eq!(s.seen.borrow()[0], (csr.clone(), Duration::from_secs(7 * 86400), false));
        assert_eq!(acme.order(&order.core().id, &a.id, NOW).unwrap(), done);
        let (start, end) = acme.renewal_info(&valid.certificate.ari_id).unwrap();
        assert!(NOW < start && start < end && end < valid.certificate.not_after);
        let again = acme.finalize(&order.core().id, &a.id, &csr, seams(&no_caa(), &s), NOW).unwrap_err();
        assert_eq!(again.problem().unwrap().kind, ProblemType::OrderNotReady);
    }

    #[test]
    fn the_tlsclient_profile_asks_for_client_auth() {
        let acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let names_asked = ["a.blue.example.com"];
        let order = NewOrder { profile: Some("tlsclient".into()), ..req(&names_asked) };
        let order = acme.new_order(&a.id, order, &Teams, NOW).unwrap();
        let s = signer(false);
        acme.finalize(&order.core().id, &a.id, &names(&names_asked), seams(&no_caa(), &s), NOW).unwrap();
        assert_eq!(s.seen.borrow()[0], (names(&names_asked), Duration::from_secs(7 * 86400), true));
    }

    #[test]
    fn bad_csr_and_caa_leave_the_order_ready() {
        let (acme, a, order) = blue_order(&["a.blue.example.com"]);
        let s = signer(false);
        let id = &order.core().id;
        let bad = acme.finalize(id, &a.id, &names(&["b.blue.example.com"]), seams(&no_caa(), &s), NOW).unwrap_err();
        assert_eq!(bad.problem().unwrap().kind, ProblemType::BadCsr);
        let other_ca = caa_zone("other.ca");
        let caa = acme.finalize(id, &a.id, &names(&["a.blue.example.com"]), seams(&other_ca, &s), NOW).unwrap_err();
        assert_eq!(caa.problem().unwrap().kind, ProblemType::Caa);
        assert_eq!(caa.problem().unwrap().subproblems[0].0.value, "a.blue.example.com");
        let methods = caa_zone("nameplate; validationmethods=dns-01");
        let pre = acme.finalize(id, &a.id, &names(&["a.blue.example.com"]), seams(&methods, &s), NOW).unwrap_err();
        assert_eq!(pre.problem().unwrap().kind, ProblemType::Caa, "pre-authorized names match no method");
        assert!(s.seen.borrow().is_empty());
        assert_eq!(acme.order(id, &a.id, NOW).unwrap().status(), "ready");
        let ours = caa_zone("nameplate");
        assert_eq!(
            acme.finalize(id, &a.id, &names(&["a.blue.example.com"]), seams(&ours, &s), NOW).unwrap().status(),
            "valid"
        );
    }

    /// A policy that no longer allows anything.
    struct Nobody;
    impl NamePolicy for Nobody {
        fn check(&self, _: &str, _: &crate::acme::types::Identifier) -> Result<crate::acme::NameDecision, Problem> {
            Err(Problem::new(ProblemType::Unauthorized, "revoked ownership"))
        }
    }

    #[test]
    fn name_policy_is_checked_again_at_finalize() {
        let (acme, a, order) = blue_order(&["a.blue.example.com"]);
        let s = signer(false);
        let seams = IssueSeams { caa: &no_caa(), names: &Nobody, signer: &s };
        let err = acme.finalize(&order.core().id, &a.id, &names(&["a.blue.example.com"]), seams, NOW).unwrap_err();
        assert_eq!(err.problem().unwrap().kind, ProblemType::Unauthorized);
        assert!(s.seen.borrow().is_empty());
        assert_eq!(acme.order(&order.core().id, &a.id, NOW).unwrap().status(), "ready");
    }

    #[test]
    fn signer_refusal_invalidates_the_order() {
        let (acme, a, order) = blue_order(&["a.blue.example.com"]);
        let err = acme.finalize(
            &order.core().id,
            &a.id,
            &names(&["a.blue.example.com"]),
            seams(&no_caa(), &signer(true)),
            NOW,
        );
        assert_eq!(err.unwrap_err().problem().unwrap().kind, ProblemType::BadCsr);
        let StoredOrder::Invalid(inv) = acme.order(&order.core().id, &a.id, NOW).unwrap() else { panic!() };
        assert_eq!(inv.error.kind, ProblemType::BadCsr);
    }

    #[test]
    fn replaces_must_be_own_and_unreplaced() {
        let acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let b = team_account(&acme, "blue", "k2");
        let s = signer(false);
        let first = acme.new_order(&a.id, req(&["a.blue.example.com"]), &Teams, NOW).unwrap();
        let csr = names(&["a.blue.example.com"]);
        let StoredOrder::Valid(v) = acme.finalize(&first.core().id, &a.id, &csr, seams(&no_caa(), &s), NOW).unwrap()
        else {
            panic!()
        };
        let replacing = |who: &AccountId| {
            let r = NewOrder { replaces: Some(v.certificate.ari_id.clone()), ..req(&["a.blue.example.com"]) };
            acme.new_order(who, r, &Teams, NOW)
        };
        assert_eq!(replacing(&b.id).unwrap_err().problem().unwrap().kind, ProblemType::Malformed);
        let second = replacing(&a.id).unwrap();
        assert_eq!(second.core().replaces.as_deref(), Some(v.certificate.ari_id.as_str()));
        assert_eq!(replacing(&a.id).unwrap_err().problem().unwrap().kind, ProblemType::AlreadyReplaced);
        let bogus = NewOrder { replaces: Some("nodot".into()), ..req(&["a.blue.example.com"]) };
        assert_eq!(
            acme.new_order(&a.id, bogus, &Teams, NOW).unwrap_err().problem().unwrap().kind,
            ProblemType::Malformed
        );
    }

    #[test]
    fn state_survives_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let (account, order) = {
            let db = sled::open(dir.path()).unwrap();
            let acme = acme(&db);
            let a = team_account(&acme, "blue", "k1");
            let order = acme.new_order(&a.id, req(&["a.shared.example.com"]), &Teams, NOW).unwrap();
            (a, order)
        };
        let db = crate::pki::testutil::reopen(dir.path());
        let acme = acme(&db);
        assert_eq!(acme.account(&account.id).unwrap(), account);
        assert_eq!(acme.order(&order.core().id, &account.id, NOW).unwrap(), order);
        assert_eq!(acme.authorization(&order.core().authzs[0], &account.id, NOW).unwrap().status(), "pending");
        let key_id = account.eab_key_id.unwrap();
        assert_eq!(acme.eab_key(&key_id).unwrap().unwrap().bound_to, Some(account.id));
    }
}
