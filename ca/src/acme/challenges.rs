//! Authorizations and challenge responses (RFC 8555 §7.5).
//!
//! Validation runs synchronously inside [`Acme::respond_challenge`]: the
//! zones served here answer at once, and external lookups go through the
//! blocking seams, outside the authorization's lock; the result is stored only if the
//! authorization is still pending by then. Responding to the challenge of an authorization that is
//! already valid returns it unchanged; for any other non-pending state it is
//! `malformed`. A failed challenge makes the authorization invalid, and with
//! it every order that holds it (on their next read).

use std::time::SystemTime;

use super::authz::StoredAuthz;
use super::dns::Resolver;
use super::error::{Error, problem};
use super::problem::ProblemType;
use super::service::{Acme, check_owner, found};
use super::store::Batch;
use super::types::{AccountId, AuthzId, ChallengeType};
use super::validate::{HttpFetch, validate_dns01, validate_http01};

/// The network seams validation uses.
#[derive(Clone, Copy)]
pub struct Validators<'a> {
    /// DNS: the zones served here and delegated nameservers.
    pub dns: Resolver<'a>,
    /// HTTP GETs for http-01.
    pub http: &'a dyn HttpFetch,
}

impl Acme {
    /// Authorization `id` of `account`, with expiry applied.
    pub fn authorization(&self, id: &AuthzId, account: &AccountId, now: SystemTime) -> Result<StoredAuthz, Error> {
        let authz = found(self.store.authz(id)?)?;
        check_owner(&authz.core().account, account)?;
        Ok(authz.refresh(now))
    }

    /// Validates the `kind` challenge of authorization `id` now.
    pub fn respond_challenge(
        &self,
        id: &AuthzId,
        kind: ChallengeType,
        account: &AccountId,
        net: Validators<'_>,
        now: SystemTime,
    ) -> Result<StoredAuthz, Error> {
        let account = self.valid_account(account)?;
        let pending = match self.authorization(id, &account.id, now)? {
            StoredAuthz::Pending(p) => p,
            valid @ StoredAuthz::Valid(_) => return Ok(valid),
            other => return Err(not_pending(&other)),
        };
        let challenge = pending.challenge(kind).ok_or_else(|| problem(ProblemType::Malformed, "no such challenge"))?;
        let name = pending.0.identifier.name()?;
        let token = challenge.token.clone();
        let outcome = match kind {
            ChallengeType::Dns01 => validate_dns01(net.dns, &name, &token, &account.thumbprint),
            ChallengeType::Http01 => {
                validate_http01(net.dns, net.http, self.config.http01_port, &name, &token, &account.thumbprint)
            }
        };
        let next = match outcome {
            Ok(()) => StoredAuthz::Valid(pending.validated(kind, now, self.config.valid_authz_lifetime)),
            Err(p) => StoredAuthz::Invalid(pending.failed(kind, p)),
        };
        let _guard = self.object_lock(id.as_str());
        let current = self.authorization(id, &account.id, now)?;
        if !matches!(current, StoredAuthz::Pending(_)) {
            return Ok(current); // a concurrent response settled it first
        }
        self.save_authz(&next)?;
        Ok(next)
    }

    /// Deactivates authorization `id` (RFC 8555 §7.5.2): pending or valid only.
    pub fn deactivate_authz(&self, id: &AuthzId, account: &AccountId, now: SystemTime) -> Result<StoredAuthz, Error> {
        let _guard = self.object_lock(id.as_str());
        let next = match self.authorization(id, account, now)? {
            StoredAuthz::Pending(p) => StoredAuthz::Deactivated(p.deactivate()),
            StoredAuthz::Valid(v) => StoredAuthz::Deactivated(v.deactivate()),
            other => return Err(not_pending(&other)),
        };
        self.save_authz(&next)?;
        Ok(next)
    }

    fn save_authz(&self, authz: &StoredAuthz) -> Result<(), Error> {
        let mut batch = Batch::default();
        batch.authz(authz)?;
        self.store.commit(batch)
    }
}

fn not_pending(authz: &StoredAuthz) -> Error {
    problem(ProblemType::Malformed, format!("the authorization is {}", authz.status())).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use super::*;
    use crate::acme::accounts::tests::team_account;
    use crate::acme::dns::NoExternalDns;
    use crate::acme::orders::tests::blue_order;
    use crate::acme::problem::Problem;
    use crate::acme::types::dns01_txt_value;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    struct NoHttp;
    impl HttpFetch for NoHttp {
        fn get(&self, _: SocketAddr, _: &str, _: &str) -> Result<String, Problem> {
            Err(Problem::new(ProblemType::Connection, "no http in this test"))
        }
    }

    /// `shared.example.com` with a TXT value at `_acme-challenge.ok` and a CNAME at `_acme-challenge.via`.
    fn zones(txt: &str) -> zones::ZoneSet {
        let text = format!(
            "$ORIGIN shared.example.com.\n@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30\n@ 3600 IN NS ns1\n\
             ns1 300 IN A 192.0.2.1\n_acme-challenge.ok 60 IN TXT \"{txt}\"\n\
             _acme-challenge.via 60 IN CNAME _acme-challenge.ok\nwww 60 IN A 192.0.2.8\n"
        );
        zones::ZoneSet::new().with_zone(Arc::new(zones::zonefile::parse(&text, None).unwrap()))
    }

    fn respond(
        acme: &Acme,
        zs: &zones::ZoneSet,
        authz: &AuthzId,
        kind: ChallengeType,
        who: &AccountId,
    ) -> Result<StoredAuthz, Error> {
        let net = Validators { dns: Resolver { view: zs, external: &NoExternalDns }, http: &NoHttp };
        acme.respond_challenge(authz, kind, who, net, NOW)
    }

    #[test]
    fn dns01_success_makes_authz_and_order_valid_and_ready() {
        let (acme, a, order) = blue_order(&["*.ok.shared.example.com"]);
        let authz_id = order.core().authzs[0].clone();
        let StoredAuthz::Pending(p) = acme.authorization(&authz_id, &a.id, NOW).unwrap() else { panic!() };
        assert!(p.challenge(ChallengeType::Http01).is_none(), "wildcards get dns-01 only");
        let token = p.challenge(ChallengeType::Dns01).unwrap().token.clone();
        let zs = zones(&dns01_txt_value(&token, "k1"));
        let bad = respond(&acme, &zs, &authz_id, ChallengeType::Http01, &a.id).unwrap_err();
        assert_eq!(bad.problem().unwrap().kind, ProblemType::Malformed);
        let done = respond(&acme, &zs, &authz_id, ChallengeType::Dns01, &a.id).unwrap();
        assert_eq!(done.status(), "valid");
        assert_eq!(acme.authorization(&authz_id, &a.id, NOW).unwrap(), done);
        assert_eq!(acme.order(&order.core().id, &a.id, NOW).unwrap().status(), "ready");
        assert_eq!(respond(&acme, &zs, &authz_id, ChallengeType::Dns01, &a.id).unwrap(), done);
    }

    #[test]
    fn dns01_failure_invalidates_authz_and_order() {
        let (acme, a, order) = blue_order(&["ok.shared.example.com"]);
        let authz_id = order.core().authzs[0].clone();
        let zs = zones("wrong");
        let StoredAuthz::Invalid(inv) = respond(&acme, &zs, &authz_id, ChallengeType::Dns01, &a.id).unwrap() else {
            panic!()
        };
        assert_eq!(inv.error.kind, ProblemType::IncorrectResponse);
        let order = acme.order(&order.core().id, &a.id, NOW).unwrap();
        assert_eq!(order.status(), "invalid");
        let again = respond(&acme, &zs, &authz_id, ChallengeType::Dns01, &a.id).unwrap_err();
        assert_eq!(again.problem().unwrap().kind, ProblemType::Malformed);
    }

    #[test]
    fn http01_unreachable_is_connection_and_others_are_refused() {
        let (acme, a, order) = blue_order(&["www.shared.example.com"]);
        let b = team_account(&acme, "blue", "k2");
        let authz_id = order.core().authzs[0].clone();
        let zs = zones("x");
        let other = respond(&acme, &zs, &authz_id, ChallengeType::Http01, &b.id).unwrap_err();
        assert_eq!(other.problem().unwrap().kind, ProblemType::Unauthorized);
        assert_eq!(acme.authorization(&authz_id, &a.id, NOW).unwrap().status(), "pending");
        let StoredAuthz::Invalid(inv) = respond(&acme, &zs, &authz_id, ChallengeType::Http01, &a.id).unwrap() else {
            panic!()
        };
        assert_eq!(inv.error.kind, ProblemType::Connection);
    }

    #[test]
    fn deactivation_then_order_is_invalid() {
        let (acme, a, order) = blue_order(&["x.shared.example.com"]);
        let authz_id = order.core().authzs[0].clone();
        assert_eq!(acme.deactivate_authz(&authz_id, &a.id, NOW).unwrap().status(), "deactivated");
        assert_eq!(acme.order(&order.core().id, &a.id, NOW).unwrap().status(), "invalid");
        assert!(acme.deactivate_authz(&authz_id, &a.id, NOW).is_err());
    }
}
