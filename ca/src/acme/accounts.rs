//! Accounts (RFC 8555 §7.3) and External Account Binding keys (§7.3.4).
//!
//! The edge verifies the JWS and the EAB inner JWS (it reads the HMAC key
//! with [`Acme::eab_key`]) and passes the key id here as [`VerifiedEab`];
//! this module binds the key to the new account in the same write, once
//! only. A key change whose new key already has an account is refused with
//! `malformed` (the edge answers 409 with that account's URL, which
//! [`Acme::account_by_key`] gives).

use std::time::SystemTime;

use super::error::{Error, problem};
use super::problem::ProblemType;
use super::service::{Acme, found};
use super::store::Batch;
use super::types::{Account, AccountId, AccountStatus, EabKey, random_bytes, random_token};

/// The most contact URLs an account may list.
const MAX_CONTACTS: usize = 10;
/// Length of an EAB HMAC key.
const EAB_KEY_BYTES: usize = 32;

/// An EAB whose inner JWS the edge verified with the key `key_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEab {
    /// The key id (the inner JWS `kid`).
    pub key_id: String,
}

/// A new-account request, after JWS verification.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account key as a JWK.
    pub jwk: serde_json::Value,
    /// Its RFC 7638 thumbprint.
    pub thumbprint: String,
    /// Contact URLs.
    pub contact: Vec<String>,
    /// The verified EAB, if the request carried one.
    pub eab: Option<VerifiedEab>,
    /// `onlyReturnExisting`.
    pub only_return_existing: bool,
}

impl Acme {
    /// Creates an account, or returns the existing one for this key
    /// (`created` false, RFC 8555 §7.3.1); the key of a deactivated or
    /// revoked account is refused with `unauthorized` (§7.3.6).
    pub fn new_account(&self, req: NewAccount, now: SystemTime) -> Result<(Account, bool), Error> {
        let _guard = self.account_lock();
        if let Some(existing) = self.store.account_by_thumbprint(&req.thumbprint)? {
            if existing.status != AccountStatus::Valid {
                return Err(problem(ProblemType::Unauthorized, "the account of this key is not valid").into());
            }
            return Ok((existing, false));
        }
        if req.only_return_existing {
            return Err(problem(ProblemType::AccountDoesNotExist, "no account exists for this key").into());
        }
        check_contacts(&req.contact)?;
        let eab = self.usable_eab(req.eab.as_ref())?;
        let account = Account {
            id: AccountId::random(&*self.rng)?,
            thumbprint: req.thumbprint,
            jwk: req.jwk,
            contact: req.contact,
            status: AccountStatus::Valid,
            team: eab.as_ref().map(|k| k.team.clone()),
            eab_key_id: eab.as_ref().map(|k| k.key_id.clone()),
            created_at: now,
        };
        self.store_new_account(&account, eab)?;
        Ok((account, true))
    }

    /// The EAB key to bind: required when configured, existing and unused.
    fn usable_eab(&self, eab: Option<&VerifiedEab>) -> Result<Option<EabKey>, Error> {
        let Some(eab) = eab else {
            if self.config.eab_required {
                return Err(
                    problem(ProblemType::ExternalAccountRequired, "external account binding is required").into()
                );
            }
            return Ok(None);
        };
        let key = self.store.eab(&eab.key_id)?;
        let key = key.ok_or_else(|| problem(ProblemType::Unauthorized, "unknown external account binding key"))?;
        if key.bound_to.is_some() {
            return Err(problem(ProblemType::Unauthorized, "this external account binding key was already used").into());
        }
        Ok(Some(key))
    }

    fn store_new_account(&self, account: &Account, eab: Option<EabKey>) -> Result<(), Error> {
        let mut batch = Batch::default();
        batch.account(account)?;
        batch.thumbprint(&account.thumbprint, &account.id)?;
        if let Some(mut key) = eab {
            key.bound_to = Some(account.id.clone());
            batch.eab(&key)?;
        }
        self.store.commit(batch)
    }

    /// Account `id`.
    pub fn account(&self, id: &AccountId) -> Result<Account, Error> {
        found(self.store.account(id)?)
    }

    /// The account whose key has `thumbprint`, if any.
    pub fn account_by_key(&self, thumbprint: &str) -> Result<Option<Account>, Error> {
        self.store.account_by_thumbprint(thumbprint)
    }

    /// Replaces the contact URLs of a valid account.
    pub fn update_account(&self, id: &AccountId, contact: Vec<String>) -> Result<Account, Error> {
        check_contacts(&contact)?;
        self.change_account(id, |a| a.contact = contact)
    }

    /// Deactivates a valid account (final, RFC 8555 §7.3.6).
    pub fn deactivate_account(&self, id: &AccountId) -> Result<Account, Error> {
        self.change_account(id, |a| a.status = AccountStatus::Deactivated)
    }

    fn change_account(&self, id: &AccountId, change: impl FnOnce(&mut Account)) -> Result<Account, Error> {
        let _guard = self.account_lock();
        let mut account = self.valid_account(id)?;
        change(&mut account);
        let mut batch = Batch::default();
        batch.account(&account)?;
        self.store.commit(batch)?;
        Ok(account)
    }

    /// Account `id`, which must be valid (else `unauthorized`).
    pub(crate) fn valid_account(&self, id: &AccountId) -> Result<Account, Error> {
        let account = self.account(id)?;
        if account.status != AccountStatus::Valid {
            return Err(problem(ProblemType::Unauthorized, "account is not valid").into());
        }
        Ok(account)
    }

    /// Rolls the account's key over (RFC 8555 §7.3.5); the edge verified both signatures.
    pub fn key_change(&self, id: &AccountId, jwk: serde_json::Value, thumbprint: String) -> Result<Account, Error> {
        let _guard = self.account_lock();
        let mut account = self.valid_account(id)?;
        if self.store.account_by_thumbprint(&thumbprint)?.is_some() {
            return Err(problem(ProblemType::Malformed, "the new key is already in use by an account").into());
        }
        let mut batch = Batch::default();
        batch.remove_thumbprint(&account.thumbprint);
        batch.thumbprint(&thumbprint, id)?;
        account.jwk = jwk;
        account.thumbprint = thumbprint;
        batch.account(&account)?;
        self.store.commit(batch)?;
        Ok(account)
    }

    /// A new EAB key for `team`, made by `by` (32 random bytes; the edge shows
    /// them once, as unpadded base64url).
    pub fn new_eab_key(&self, team: &str, by: &str, now: SystemTime) -> Result<EabKey, Error> {
        let key = EabKey {
            key_id: random_token(&*self.rng)?,
            hmac_key: random_bytes(&*self.rng, EAB_KEY_BYTES)?,
            team: team.to_owned(),
            created_at: now,
            created_by: by.to_owned(),
            bound_to: None,
        };
        let mut batch = Batch::default();
        batch.eab(&key)?;
        self.store.commit(batch)?;
        Ok(key)
    }

    /// EAB key `key_id`, used or not.
    pub fn eab_key(&self, key_id: &str) -> Result<Option<EabKey>, Error> {
        self.store.eab(key_id)
    }
}

/// Contacts must be single `mailto:` addresses without header fields.
fn check_contacts(contact: &[String]) -> Result<(), Error> {
    if contact.len() > MAX_CONTACTS {
        return Err(problem(ProblemType::InvalidContact, "too many contact URLs").into());
    }
    for url in contact {
        let Some(address) = url.strip_prefix("mailto:") else {
            return Err(problem(ProblemType::UnsupportedContact, "only mailto: contacts are supported").into());
        };
        let ok = address.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
        if !ok || address.contains([',', '?', ' ']) {
            return Err(problem(ProblemType::InvalidContact, format!("{url:?} is not one email address")).into());
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::acme::service::AcmeConfig;
    use crate::acme::store::AcmeStore;

    pub(crate) fn acme(db: &sled::Db) -> Acme {
        let config = AcmeConfig { account_url_prefix: "https://acme.test/acct/".into(), ..AcmeConfig::default() };
        Acme::new(
            AcmeStore::open(&zones::GroupFlush::shared(db)).unwrap(),
            config,
            Arc::new(ring::rand::SystemRandom::new()),
        )
    }

    pub(crate) fn temp_db() -> sled::Db {
        sled::Config::new().temporary(true).open().unwrap()
    }

    pub(crate) fn request(thumbprint: &str, eab: Option<&EabKey>) -> NewAccount {
        NewAccount {
            jwk: serde_json::json!({"kty": "EC", "x": thumbprint}),
            thumbprint: thumbprint.into(),
            contact: vec!["mailto:ops@example.com".into()],
            eab: eab.map(|k| VerifiedEab { key_id: k.key_id.clone() }),
            only_return_existing: false,
        }
    }

    /// A valid account bound to `team`.
    pub(crate) fn team_account(acme: &Acme, team: &str, thumbprint: &str) -> Account {
        let key = acme.new_eab_key(team, "admin", SystemTime::UNIX_EPOCH).unwrap();
        acme.new_account(request(thumbprint, Some(&key)), SystemTime::UNIX_EPOCH).unwrap().0
    }

    fn kind(e: Error) -> ProblemType {
        e.problem().unwrap().kind
    }

    #[test]
    fn eab_binds_the_team_once() {
        let acme = acme(&temp_db());
        let now = SystemTime::UNIX_EPOCH;
        let key = acme.new_eab_key("blue", "admin", now).unwrap();
        assert_eq!(key.hmac_key.len(), 32);
        let (account, created) = acme.new_account(request("k1", Some(&key)), now).unwrap();
        assert!(created);
        assert_eq!(account.team.as_deref(), Some("blue"));
        assert_eq!(acme.eab_key(&key.key_id).unwrap().unwrap().bound_to, Some(account.id.clone()));
        let again = acme.new_account(request("k2", Some(&key)), now).unwrap_err();
        assert_eq!(kind(again), ProblemType::Unauthorized);
        assert!(acme.account_by_key("k2").unwrap().is_none());
    }

    #[test]
    fn same_key_returns_the_existing_account() {
        let acme = acme(&temp_db());
        let first = team_account(&acme, "blue", "k1");
        let (second, created) = acme.new_account(request("k1", None), SystemTime::UNIX_EPOCH).unwrap();
        assert!(!created);
        assert_eq!(second, first);
    }

    #[test]
    fn refusals_leave_no_account() {
        let acme = acme(&temp_db());
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(kind(acme.new_account(request("k1", None), now).unwrap_err()), ProblemType::ExternalAccountRequired);
        let mut only = request("k1", None);
        only.only_return_existing = true;
        assert_eq!(kind(acme.new_account(only, now).unwrap_err()), ProblemType::AccountDoesNotExist);
        let key = acme.new_eab_key("blue", "admin", now).unwrap();
        let mut bad = request("k1", Some(&key));
        bad.contact = vec!["tel:+1555".into()];
        assert_eq!(kind(acme.new_account(bad, now).unwrap_err()), ProblemType::UnsupportedContact);
        assert!(acme.account_by_key("k1").unwrap().is_none());
        assert_eq!(acme.eab_key(&key.key_id).unwrap().unwrap().bound_to, None);
    }

    #[test]
    fn update_deactivate_and_key_change() {
        let acme = acme(&temp_db());
        let a = team_account(&acme, "blue", "k1");
        let b = team_account(&acme, "blue", "k2");
        let bad = acme.update_account(&a.id, vec!["mailto:a@b.c?subject=x".into()]).unwrap_err();
        assert_eq!(kind(bad), ProblemType::InvalidContact);
        assert_eq!(acme.update_account(&a.id, vec![]).unwrap().contact, Vec::<String>::new());
        let taken = acme.key_change(&a.id, serde_json::json!({}), "k2".into()).unwrap_err();
        assert_eq!(kind(taken), ProblemType::Malformed);
        acme.key_change(&a.id, serde_json::json!({"new": true}), "k3".into()).unwrap();
        assert!(acme.account_by_key("k1").unwrap().is_none());
        assert_eq!(acme.account_by_key("k3").unwrap().unwrap().id, a.id);
        assert_eq!(acme.deactivate_account(&b.id).unwrap().status, AccountStatus::Deactivated);
        assert_eq!(kind(acme.update_account(&b.id, vec![]).unwrap_err()), ProblemType::Unauthorized);
        let reuse = acme.new_account(request("k2", None), SystemTime::UNIX_EPOCH).unwrap_err();
        assert_eq!(kind(reuse), ProblemType::Unauthorized);
        assert!(matches!(acme.account(&AccountId("nope".into())), Err(Error::NotFound)));
    }
}
