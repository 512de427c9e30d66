//! The facade the HTTP edge calls: [`Acme`] holds the store, the config and
//! the random number generator. Its methods live in `accounts`, `orders`,
//! `challenges` and `finalize`.
//!
//! Ownership: every object is looked up by id first; a missing one is
//! [`Error::NotFound`] (404), one that belongs to another account is
//! `unauthorized` (403), so a client learns nothing about others' objects
//! beyond existence. Read-check-write sequences hold one lock, so two
//! requests cannot both bind one EAB key or both finalize one order.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ring::rand::SecureRandom;

use super::error::{Error, problem};
use super::problem::{Problem, ProblemType};
use super::store::AcmeStore;
use super::types::{AccountId, Identifier};

/// A certificate profile: its name and longest leaf lifetime. A
/// [`NamePolicy`] may give a shorter one per name (`SchemePolicy` does, by
/// environment); the profile's is used when it gives none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The name clients ask for, e.g. `shortlived`.
    pub name: String,
    /// The longest leaf lifetime.
    pub lifetime: Duration,
    /// Whether its leaves carry EKU clientAuth beside serverAuth (mTLS).
    pub client_auth: bool,
}

/// Behaviour of the ACME logic, from runtime config.
///
/// Lifetimes: a pending order or authorization lives 8 hours (long enough
/// for a team's external nameservers to pick up a TXT record; Boulder uses
/// 7 days, needless for an internal CA). A valid authorization lives 8 hours
/// too, the CAA reuse bound of RFC 8659 §3, and is reused by new orders of
/// the same account while at least `authz_reuse_min_remaining` of it is left.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The CA's issuer domain name for CAA, e.g. `ca.nameplate.example`.
    pub ca_identity: String,
    /// Account URLs are this prefix plus the account id (for CAA `accounturi`).
    pub account_url_prefix: String,
    /// Whether new accounts must carry External Account Binding.
    pub eab_required: bool,
    /// Whether names in zones the team owns here are authorized without a challenge.
    pub pre_authorize: bool,
    /// The profiles offered; the first is used when an order names none.
    /// Defaults: `default` (7 days) and `shortlived` (6 hours), as
    /// `[policy.certs]`'s defaults.
    pub profiles: Vec<Profile>,
    /// Lifetime of a pending or ready order.
    pub order_lifetime: Duration,
    /// Lifetime of a pending authorization.
    pub pending_authz_lifetime: Duration,
    /// Lifetime of a valid authorization.
    pub valid_authz_lifetime: Duration,
    /// A valid authorization is reused while at least this much of it remains.
    pub authz_reuse_min_remaining: Duration,
    /// The most identifiers one order may carry.
    pub max_identifiers: usize,
    /// The port http-01 fetches go to (80 in production).
    pub http01_port: u16,
    /// The port the nameservers of an external delegation are asked on
    /// (53 in production; tests run a team's server on a high port).
    pub external_dns_port: u16,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        Self {
            ca_identity: "nameplate".into(),
            account_url_prefix: "/acme/acct/".into(),
            eab_required: true,
            pre_authorize: true,
            profiles: vec![
                Profile { name: "default".into(), lifetime: hours(7 * 24), client_auth: false },
                Profile { name: "shortlived".into(), lifetime: hours(6), client_auth: false },
                Profile { name: "tlsclient".into(), lifetime: hours(7 * 24), client_auth: true },
            ],
            order_lifetime: hours(8),
            pending_authz_lifetime: hours(8),
            valid_authz_lifetime: hours(8),
            authz_reuse_min_remaining: hours(1),
            max_identifiers: 100,
            http01_port: 80,
            external_dns_port: 53,
        }
    }
}

/// What the name policy says about one identifier for one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameDecision {
    /// The name is in a zone hosted here that the team owns: with
    /// pre-authorization on, its authorization is valid at once.
    pub pre_authorizable: bool,
}

/// Which names a team may order; implemented by the edge over `policy`
/// and the zone catalog. Refusals: `rejectedIdentifier` for a name outside
/// the platform zones, `unauthorized` for a name another team owns.
pub trait NamePolicy {
    /// Whether `team` may order `name` (a wildcard keeps its `*.`).
    fn check(&self, team: &str, name: &Identifier) -> Result<NameDecision, Problem>;

    /// The lifetime policy gives a certificate for `names` (wildcards keep
    /// their `*.`) in `profile`; `None` leaves it to the profile's own.
    fn lifetime(&self, _names: &[String], _profile: &str) -> Option<std::time::Duration> {
        None
    }
}

/// How many locks the orders, authorizations and certificates hash onto.
const OBJECT_LOCKS: usize = 64;

/// The ACME logic over its store.
///
/// Read-check-write sequences are serialized by two kinds of lock, never
/// held together: one for account changes (EAB keys are single-use, an
/// account key belongs to one account), and one per order, authorization
/// or replaced certificate (hashed onto [`OBJECT_LOCKS`] locks), so that
/// different orders are created, validated and finalized in parallel and
/// their flushes share fsyncs.
pub struct Acme {
    pub(crate) store: AcmeStore,
    pub(crate) config: AcmeConfig,
    pub(crate) rng: Arc<dyn SecureRandom + Send + Sync>,
    accounts: Mutex<()>,
    objects: Vec<Mutex<()>>,
}

impl Acme {
    /// The ACME logic with `store`, `config` and `rng` (ring's `SystemRandom` in production).
    pub fn new(store: AcmeStore, config: AcmeConfig, rng: Arc<dyn SecureRandom + Send + Sync>) -> Self {
        let objects = (0..OBJECT_LOCKS).map(|_| Mutex::new(())).collect();
        Self { store, config, rng, accounts: Mutex::new(()), objects }
    }

    /// The config.
    pub fn config(&self) -> &AcmeConfig {
        &self.config
    }

    /// The URL of account `id`, as CAA `accounturi` names it.
    pub fn account_url(&self, id: &AccountId) -> String {
        format!("{}{}", self.config.account_url_prefix, id)
    }

    /// Serializes changes to accounts.
    pub(crate) fn account_lock(&self) -> MutexGuard<'_, ()> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serializes read-check-write sequences on the object `id` (an order,
    /// authorization or certificate id).
    pub(crate) fn object_lock(&self, id: &str) -> MutexGuard<'_, ()> {
        // FNV-1a: ids are random already, this only spreads them.
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let lock = &self.objects[(hash % OBJECT_LOCKS as u64) as usize];
        lock.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `unauthorized` unless `owner` is `account`.
pub(crate) fn check_owner(owner: &AccountId, account: &AccountId) -> Result<(), Error> {
    if owner == account {
        Ok(())
    } else {
        Err(problem(ProblemType::Unauthorized, "this object belongs to another account").into())
    }
}

/// `Ok(v)` or [`Error::NotFound`].
pub(crate) fn found<V>(value: Option<V>) -> Result<V, Error> {
    value.ok_or(Error::NotFound)
}
