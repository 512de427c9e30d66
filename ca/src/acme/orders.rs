//! newOrder (RFC 8555 §7.4) and reading orders.
//!
//! - `notBefore`/`notAfter` are refused with `malformed` (as Boulder): the
//!   profile decides the lifetime.
//! - An unknown profile is `invalidProfile`.
//! - Identifiers are parsed, lowercased, de-duplicated and sorted; more than
//!   `max_identifiers` is `rejectedIdentifier`; each is checked with the
//!   [`NamePolicy`], refusals gathered as subproblems.
//! - `replaces` (RFC 9773 §5) must name a certificate issued to the same
//!   account (`malformed` otherwise) that no live order replaces yet
//!   (`alreadyReplaced`); an invalid replacing order frees it again.
//! - Authorizations: a valid one of the same account is reused; else a name
//!   the policy calls pre-authorizable is valid at once (pre-authorization
//!   on); else a pending one with fresh challenges.
//! - The order expires at the earliest of its lifetime and its
//!   authorizations' expiry. An order's state follows its authorizations on
//!   every read ([`PendingOrder::advance`]).

use std::time::SystemTime;

use super::ari::CertId;
use super::authz::{NewAuthz, PendingAuthz, StoredAuthz};
use super::error::{Error, problem};
use super::order::{OrderCore, PendingOrder, StoredOrder};
use super::problem::{Problem, ProblemType};
use super::service::{Acme, NameDecision, NamePolicy, check_owner, found};
use super::store::{Batch, CertRecord};
use super::types::{Account, AccountId, AuthzId, Identifier, OrderId, random_token};

/// A newOrder request, after JWS verification.
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    /// `(type, value)` of each identifier, as sent.
    pub identifiers: Vec<(String, String)>,
    /// Whether `notBefore` was present.
    pub not_before: bool,
    /// Whether `notAfter` was present.
    pub not_after: bool,
    /// The profile asked for.
    pub profile: Option<String>,
    /// The ARI id of the certificate being replaced.
    pub replaces: Option<String>,
}

impl Acme {
    /// Creates an order for `account`.
    pub fn new_order(
        &self,
        account: &AccountId,
        req: NewOrder,
        policy: &dyn NamePolicy,
        now: SystemTime,
    ) -> Result<StoredOrder, Error> {
        // Only the certificate an order replaces is shared with other orders.
        let replaced = req.replaces.as_deref().map(|id| CertId::parse(id).map(|c| c.encode())).transpose()?;
        let _guard = replaced.as_deref().map(|id| self.object_lock(id));
        let account = self.valid_account(account)?;
        let team = self.order_team(&account)?;
        if req.not_before || req.not_after {
            return Err(problem(ProblemType::Malformed, "notBefore and notAfter are not supported").into());
        }
        let profile = self.profile(req.profile)?;
        let identifiers = self.identifiers(&req.identifiers)?;
        let decisions = check_names(policy, &team, &identifiers)?;
        let replaces = self.check_replaces(&account.id, req.replaces.as_deref())?;
        let mut batch = Batch::default();
        let authzs = self.order_authzs(&account.id, &identifiers, &decisions, now, &mut batch)?;
        let expires = authzs.iter().map(|a| a.core().expires).fold(now + self.config.order_lifetime, SystemTime::min);
        let core = OrderCore {
            id: OrderId::random(&*self.rng)?,
            account: account.id.clone(),
            identifiers,
            authzs: authzs.iter().map(|a| a.core().id.clone()).collect(),
            profile,
            replaces: replaces.as_ref().map(|c| c.ari_id.clone()),
            expires,
            created_at: now,
        };
        let order = PendingOrder(core).advance(&authzs);
        batch.order(&order)?;
        if let Some(mut cert) = replaces {
            cert.replaced_by = Some(order.core().id.clone());
            batch.cert(&cert)?;
        }
        self.store.commit(batch)?;
        Ok(order)
    }

    /// The team names are checked for: required when EAB is.
    fn order_team(&self, account: &Account) -> Result<String, Problem> {
        match (&account.team, self.config.eab_required) {
            (Some(team), _) => Ok(team.clone()),
            (None, false) => Ok(String::new()),
            (None, true) => Err(problem(ProblemType::Unauthorized, "account is not bound to a team")),
        }
    }

    fn profile(&self, asked: Option<String>) -> Result<String, Problem> {
        let default = self.config.profiles.first().map(|p| p.name.clone()).unwrap_or_default();
        let profile = asked.unwrap_or(default);
        if self.config.profiles.iter().any(|p| p.name == profile) {
            Ok(profile)
        } else {
            Err(problem(ProblemType::InvalidProfile, format!("profile {profile:?} is not offered")))
        }
    }

    /// Parsed, de-duplicated and sorted identifiers.
    fn identifiers(&self, raw: &[(String, String)]) -> Result<Vec<Identifier>, Problem> {
        if raw.is_empty() {
            return Err(problem(ProblemType::Malformed, "an order needs at least one identifier"));
        }
        let parsed: Vec<(String, Result<Identifier, Problem>)> =
            raw.iter().map(|(kind, value)| (value.clone(), Identifier::parse(kind, value))).collect();
        gather(parsed.iter().map(|(name, r)| (name.as_str(), r.as_ref().err())))?;
        let mut ids: Vec<Identifier> = parsed.into_iter().filter_map(|(_, r)| r.ok()).collect();
        ids.sort();
        ids.dedup();
        if ids.len() > self.config.max_identifiers {
            let detail = format!("an order may carry at most {} identifiers", self.config.max_identifiers);
            return Err(problem(ProblemType::RejectedIdentifier, detail));
        }
        Ok(ids)
    }

    /// The certificate `replaces` names, checked.
    fn check_replaces(&self, account: &AccountId, replaces: Option<&str>) -> Result<Option<CertRecord>, Error> {
        let Some(id) = replaces else { return Ok(None) };
        let id = CertId::parse(id)?.encode();
        let cert = self.store.cert(&id)?.filter(|c| &c.account == account);
        let cert =
            cert.ok_or_else(|| problem(ProblemType::Malformed, "replaces names no certificate of this account"))?;
        if let Some(other) = &cert.replaced_by {
            let live = self.store.order(other)?.is_some_and(|o| !matches!(o, StoredOrder::Invalid(_)));
            if live {
                return Err(problem(ProblemType::AlreadyReplaced, "this certificate is already being replaced").into());
            }
        }
        Ok(Some(cert))
    }

    /// One authorization per identifier; new ones are added to `batch`.
    fn order_authzs(
        &self,
        account: &AccountId,
        identifiers: &[Identifier],
        decisions: &[NameDecision],
        now: SystemTime,
        batch: &mut Batch,
    ) -> Result<Vec<StoredAuthz>, Error> {
        let mut authzs = Vec::with_capacity(identifiers.len());
        for (identifier, decision) in identifiers.iter().zip(decisions) {
            if let Some(reused) = self.reusable(account, identifier, now)? {
                authzs.push(reused);
                continue;
            }
            let authz = self.fresh_authz(account, identifier, *decision, now)?;
            batch.authz(&authz)?;
            authzs.push(authz);
        }
        Ok(authzs)
    }

    /// A valid authorization of `account` for `identifier` with enough life left.
    fn reusable(
        &self,
        account: &AccountId,
        identifier: &Identifier,
        now: SystemTime,
    ) -> Result<Option<StoredAuthz>, Error> {
        let Some(id) = self.store.reusable_authz(account, identifier)? else {
            return Ok(None);
        };
        let authz = self.store.authz(&id)?.map(|a| a.refresh(now));
        let enough = |a: &StoredAuthz| a.core().expires >= now + self.config.authz_reuse_min_remaining;
        Ok(authz.filter(|a| matches!(a, StoredAuthz::Valid(_)) && enough(a)))
    }

    fn fresh_authz(
        &self,
        account: &AccountId,
        identifier: &Identifier,
        decision: NameDecision,
        now: SystemTime,
    ) -> Result<StoredAuthz, Error> {
        let pending = PendingAuthz::new(NewAuthz {
            id: AuthzId::random(&*self.rng)?,
            account: account.clone(),
            order_identifier: identifier.clone(),
            tokens: [random_token(&*self.rng)?, random_token(&*self.rng)?],
            expires: now + self.config.pending_authz_lifetime,
        });
        if self.config.pre_authorize && decision.pre_authorizable {
            return Ok(StoredAuthz::Valid(pending.pre_authorized(now, self.config.valid_authz_lifetime)));
        }
        Ok(StoredAuthz::Pending(pending))
    }

    /// Order `id` of `account`, with expiry applied and its state following
    /// its authorizations.
    pub fn order(&self, id: &OrderId, account: &AccountId, now: SystemTime) -> Result<StoredOrder, Error> {
        let order = found(self.store.order(id)?)?;
        check_owner(&order.core().account, account)?;
        match order.refresh(now) {
            StoredOrder::Pending(pending) => {
                let authzs = self.order_authz_states(&pending.0.authzs, now)?;
                Ok(pending.advance(&authzs))
            }
            other => Ok(other),
        }
    }

    /// The authorizations `ids`, refreshed.
    pub(crate) fn order_authz_states(&self, ids: &[AuthzId], now: SystemTime) -> Result<Vec<StoredAuthz>, Error> {
        ids.iter().map(|id| Ok(found(self.store.authz(id)?)?.refresh(now))).collect()
    }

    /// The ids of `account`'s orders (the edge pages through them).
    pub fn orders(&self, account: &AccountId) -> Result<Vec<OrderId>, Error> {
        self.store.account_orders(account)
    }
}

/// The policy's decision for every identifier, or all refusals at once.
fn check_names(policy: &dyn NamePolicy, team: &str, ids: &[Identifier]) -> Result<Vec<NameDecision>, Problem> {
    let results: Vec<Result<NameDecision, Problem>> = ids.iter().map(|id| policy.check(team, id)).collect();
    gather(ids.iter().zip(&results).map(|(id, r)| (id.as_str(), r.as_ref().err())))?;
    Ok(results.into_iter().filter_map(Result::ok).collect())
}

/// One problem for every refused identifier: the common type, or `compound`
/// when they differ (RFC 8555 §6.7.1), with one subproblem per identifier.
fn gather<'a>(results: impl Iterator<Item = (&'a str, Option<&'a Problem>)>) -> Result<(), Problem> {
    let refused: Vec<(&str, &Problem)> = results.filter_map(|(name, p)| p.map(|p| (name, p))).collect();
    let Some((_, first)) = refused.first() else { return Ok(()) };
    let same = refused.iter().all(|(_, p)| p.kind == first.kind);
    let kind = if same { first.kind } else { ProblemType::Compound };
    let detail = if refused.len() == 1 { first.detail.clone() } else { "several identifiers were refused".into() };
    Err(refused.into_iter().fold(Problem::new(kind, detail), |acc, (name, p)| acc.with_subproblem(name, p.clone())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::acme::accounts::tests::{acme, team_account, temp_db};

    /// Names under `<team>.example.com` belong to the team and are hosted
    /// here; `shared.example.com` names are any team's but not hosted;
    /// other `example.com` names belong to team `other`; the rest are
    /// outside the platform.
    pub(crate) struct Teams;

    impl NamePolicy for Teams {
        fn check(&self, team: &str, name: &Identifier) -> Result<NameDecision, Problem> {
            let base = name.base();
            if base.ends_with(&format!(".{team}.example.com")) || base == format!("{team}.example.com") {
                return Ok(NameDecision { pre_authorizable: true });
            }
            if base.ends_with(".shared.example.com") {
                return Ok(NameDecision { pre_authorizable: false });
            }
            if base.ends_with(".example.com") {
                return Err(problem(ProblemType::Unauthorized, "another team owns this name"));
            }
            Err(problem(ProblemType::RejectedIdentifier, "not a platform name"))
        }
    }

    pub(crate) fn req(names: &[&str]) -> NewOrder {
        NewOrder { identifiers: names.iter().map(|n| ("dns".into(), (*n).into())).collect(), ..NewOrder::default() }
    }

    fn kind(e: Error) -> ProblemType {
        e.problem().unwrap().kind
    }

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    /// A fresh service, a `blue` account with key `k1`, and its order for `names` at the epoch.
    pub(crate) fn blue_order(names: &[&str]) -> (Acme, Account, StoredOrder) {
        let acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let order = acme.new_order(&a.id, req(names), &Teams, NOW).unwrap();
        (acme, a, order)
    }

    #[test]
    fn pre_authorized_order_is_ready_at_once() {
        let (acme, a, order) = blue_order(&["www.blue.example.com", "*.blue.example.com"]);
        assert_eq!(order.status(), "ready");
        let authz = acme.authorization(&order.core().authzs[0], &a.id, NOW).unwrap();
        assert_eq!(authz.status(), "valid");
        assert!(authz.core().wildcard, "sorted: *.blue comes first");
        assert_eq!(acme.order(&order.core().id, &a.id, NOW).unwrap(), order);
        assert_eq!(acme.orders(&a.id).unwrap(), [order.core().id.clone()]);
    }

    #[test]
    fn names_needing_challenges_stay_pending_and_pre_authorization_can_be_off() {
        let db = temp_db();
        let acme = acme(&db);
        let a = team_account(&acme, "blue", "k1");
        let order = acme.new_order(&a.id, req(&["a.shared.example.com", "a.blue.example.com"]), &Teams, NOW).unwrap();
        assert_eq!(order.status(), "pending");
        let statuses: Vec<_> = acme.order_authz_states(&order.core().authzs, NOW).unwrap();
        assert_eq!(statuses.iter().map(StoredAuthz::status).collect::<Vec<_>>(), ["valid", "pending"]);
        let mut off = super::super::accounts::tests::acme(&temp_db());
        off.config.pre_authorize = false;
        let b = team_account(&off, "blue", "k1");
        assert_eq!(off.new_order(&b.id, req(&["a.blue.example.com"]), &Teams, NOW).unwrap().status(), "pending");
    }

    #[test]
    fn identifiers_are_deduplicated_and_limited() {
        let mut acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let order = acme.new_order(&a.id, req(&["A.blue.example.com", "a.blue.example.com"]), &Teams, NOW).unwrap();
        assert_eq!(order.core().identifiers.len(), 1);
        acme.config.max_identifiers = 1;
        let two = acme.new_order(&a.id, req(&["a.blue.example.com", "b.blue.example.com"]), &Teams, NOW);
        assert_eq!(kind(two.unwrap_err()), ProblemType::RejectedIdentifier);
        assert_eq!(kind(acme.new_order(&a.id, req(&[]), &Teams, NOW).unwrap_err()), ProblemType::Malformed);
    }

    #[test]
    fn refusals_carry_subproblems_and_create_nothing() {
        let acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let p = acme.new_order(&a.id, req(&["x.red.example.com", "a.blue.example.com"]), &Teams, NOW).unwrap_err();
        let p = p.problem().unwrap().clone();
        assert_eq!(p.kind, ProblemType::Unauthorized);
        assert_eq!(p.subproblems.len(), 1);
        assert_eq!(p.subproblems[0].0.value, "x.red.example.com");
        let mixed = acme.new_order(&a.id, req(&["x.red.example.com", "www.example.org"]), &Teams, NOW).unwrap_err();
        assert_eq!(mixed.problem().unwrap().kind, ProblemType::Compound);
        assert_eq!(mixed.problem().unwrap().subproblems.len(), 2);
        assert!(acme.orders(&a.id).unwrap().is_empty());
    }

    #[test]
    fn dates_profiles_and_unbound_accounts_are_refused() {
        let mut acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let dated = NewOrder { not_after: true, ..req(&["a.blue.example.com"]) };
        assert_eq!(kind(acme.new_order(&a.id, dated, &Teams, NOW).unwrap_err()), ProblemType::Malformed);
        let profiled = NewOrder { profile: Some("forever".into()), ..req(&["a.blue.example.com"]) };
        assert_eq!(kind(acme.new_order(&a.id, profiled, &Teams, NOW).unwrap_err()), ProblemType::InvalidProfile);
        let short = NewOrder { profile: Some("shortlived".into()), ..req(&["a.blue.example.com"]) };
        assert_eq!(acme.new_order(&a.id, short, &Teams, NOW).unwrap().core().profile, "shortlived");
        acme.config.eab_required = false;
        let (plain, _) = acme.new_account(super::super::accounts::tests::request("k9", None), NOW).unwrap();
        acme.config.eab_required = true;
        assert_eq!(
            kind(acme.new_order(&plain.id, req(&["a.blue.example.com"]), &Teams, NOW).unwrap_err()),
            ProblemType::Unauthorized
        );
    }

    #[test]
    fn valid_authzs_are_reused_and_orders_expire() {
        let (acme, a, first) = blue_order(&["a.blue.example.com"]);
        let later = NOW + Duration::from_secs(3600);
        let second = acme.new_order(&a.id, req(&["a.blue.example.com"]), &Teams, later).unwrap();
        assert_eq!(second.core().authzs, first.core().authzs);
        assert_eq!(second.core().expires, first.core().expires, "bounded by the reused authz");
        let expired = acme.order(&first.core().id, &a.id, first.core().expires).unwrap();
        assert_eq!(expired.status(), "invalid");
    }

    #[test]
    fn wildcard_and_plain_authzs_of_one_name_are_reused_separately() {
        let (acme, a, plain) = blue_order(&["a.blue.example.com"]);
        let wild = acme.new_order(&a.id, req(&["*.a.blue.example.com"]), &Teams, NOW).unwrap();
        assert_ne!(wild.core().authzs, plain.core().authzs, "a plain authz does not cover *.a");
        let again = acme.new_order(&a.id, req(&["*.a.blue.example.com"]), &Teams, NOW).unwrap();
        assert_eq!(again.core().authzs, wild.core().authzs);
        let authz = acme.authorization(&again.core().authzs[0], &a.id, NOW).unwrap();
        assert_eq!(authz.core().order_identifier(), "*.a.blue.example.com");
    }

    #[test]
    fn another_accounts_order_is_unauthorized() {
        let (acme, a, order) = blue_order(&["a.blue.example.com"]);
        let b = team_account(&acme, "blue", "k2");
        assert_eq!(kind(acme.order(&order.core().id, &b.id, NOW).unwrap_err()), ProblemType::Unauthorized);
        assert_eq!(
            kind(acme.authorization(&order.core().authzs[0], &b.id, NOW).unwrap_err()),
            ProblemType::Unauthorized
        );
        assert!(matches!(acme.order(&OrderId("none".into()), &a.id, NOW), Err(Error::NotFound)));
    }
}
