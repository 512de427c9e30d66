//! nameplate's HTTP edge: the management REST API under `/api/v1`.
//!
//! - [`app`] is the whole route table; the binary serves it, tests drive it
//!   with `tower::ServiceExt::oneshot`.
//! - [`AppState`] wraps the shared [`App`]: the zone [`Store`], an injected
//!   [`Clock`] and the [`Config`], which carries the [`Policy`] (naming
//!   scheme, ownership, quotas) every handler asks before it writes.
//! - Errors are one [`ApiError`] enum, answered as RFC 9457
//!   `application/problem+json` in exactly one place (`problem.rs`).
//! - Authentication is `Authorization: Bearer <token>`; tokens are random,
//!   shown once, and stored only as SHA-256 hashes in the store's catalog
//!   (see [`tokens`] for the key layout). [`ensure_admin_token`] creates the
//!   platform admin token on first start.
//!
//! - Apps (`routes/apps.rs`), their reviews (`routes/reviews.rs`) and
//!   previews (`routes/previews.rs`) live in the catalog beside their
//!   records; [`spawn_reaper`] removes expired previews.
//!
//! - Certificates (`routes/certs.rs`, logic in `certs.rs`): direct issuance
//!   and revocation through the injected [`ca::issuance::Ca`], recorded and
//!   audited in the catalog; `routes/ca_files.rs` serves the root, chains and
//!   CRLs.
//!
//! - acme-dns's `/register` and `/update` (`routes/acmedns.rs`, logic in
//!   `acmedns.rs`) publish dns-01 TXT values under [`AcmeDnsConfig::zone`]
//!   for cert-manager's and lego's acme-dns clients.
//!
//! Every write goes through [`Store::apply`], so it is on disk before the
//! `2xx` is sent.

pub mod acme;
mod acmedns;
mod apps_catalog;
mod audit;
mod auth;
mod catalog_zone;
mod certs;
mod clock;
mod dns_writes;
mod error;
mod extract;
mod metrics;
mod pdns;
mod previews_catalog;
mod problem;
mod reaper;
mod routes;
mod teams;
pub mod tokens;
mod tsig_keys;
mod usage;
mod zones_catalog;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use policy::Policy;
use zones::Store;

pub use acmedns::{AcmeDnsConfig, AcmeDnsConfigError};
pub use audit::Audit;
pub use auth::Role;
pub use catalog_zone::sync_catalog_zone;
pub use clock::{Clock, SystemClock, parse_rfc3339, rfc3339, rfc3339_ms};
pub use error::ApiError;
pub use metrics::{Exposition, METRICS_CONTENT_TYPE, MetricsSource};
pub use reaper::{REAP_INTERVAL, spawn_reaper};
pub use routes::app;
pub use teams::ensure_platform_team;
pub use tokens::{Issued, ensure_admin_token, issue_token};
pub use tsig_keys::{ALGORITHMS as TSIG_ALGORITHMS, TsigKeyRecord};

/// The team that holds the platform admin tokens, created on first start.
pub const PLATFORM_TEAM: &str = "platform";

/// API settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Every policy decision: naming scheme, ownership, quotas, previews, risk.
    pub policy: Arc<Policy>,
    /// acme-dns compatibility (`/register`, `/update`).
    pub acme_dns: AcmeDnsConfig,
    /// The catalog zone (RFC 9432) that zone creation and deletion keep up
    /// to date, if any.
    pub catalog_zone: Option<zones::Name>,
    /// The built-in CA for direct issuance and `/ca/*`; `None` answers
    /// those routes with 404.
    pub ca: Option<Arc<ca::issuance::Ca>>,
    /// The ACME server under `/acme`; `None` answers those routes with 404.
    pub acme: Option<Arc<acme::AcmeEdge>>,
}

impl Config {
    /// The default body limit (64 KiB) with `policy`, and acme-dns enabled
    /// at `acme.<platform zone>` without anonymous registration
    /// ([`AcmeDnsConfig::default_for`], not checked against the policy; see
    /// [`Config::with_acme_dns`]).
    pub fn new(policy: Policy) -> Self {
        let acme_dns = AcmeDnsConfig::default_for(&policy);
        Self { body_limit: 64 * 1024, policy: Arc::new(policy), acme_dns, catalog_zone: None, ca: None, acme: None }
    }

    /// The same, keeping the catalog zone at `catalog` (if any) in step with
    /// zone creations and deletions.
    pub fn with_catalog_zone(mut self, catalog: Option<zones::Name>) -> Self {
        self.catalog_zone = catalog;
        self
    }

    /// The same, serving ACME (RFC 8555) under `/acme` with `edge`.
    pub fn with_acme(mut self, edge: Arc<acme::AcmeEdge>) -> Self {
        self.acme = Some(edge);
        self
    }

    /// The same, issuing certificates with `ca`.
    pub fn with_ca(mut self, ca: Arc<ca::issuance::Ca>) -> Self {
        self.ca = Some(ca);
        self
    }

    /// The same with the acme-dns settings: `zone` empty means
    /// `acme.<platform zone>`; an enabled zone that a team could take is
    /// refused ([`AcmeDnsConfig::new`]).
    pub fn with_acme_dns(
        mut self,
        enabled: bool,
        zone: &str,
        allow_anonymous_register: bool,
    ) -> Result<Self, AcmeDnsConfigError> {
        self.acme_dns = AcmeDnsConfig::new(&self.policy, enabled, zone, allow_anonymous_register)?;
        Ok(self)
    }
}

/// Everything the handlers share.
pub struct App {
    /// The zones and the catalog.
    pub store: Arc<Store>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// API settings.
    pub config: Config,
    /// Serializes the API's check-then-write sequences.
    writer: Mutex<()>,
    /// The request counter and the injected sources `/metrics` renders.
    metrics: metrics::Metrics,
    /// Each team's records per zone, for quota checks.
    record_counts: usage::RecordCounts,
}

/// The router's state: the shared [`App`].
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl AppState {
    /// State over `store` with the system clock and `config`.
    pub fn new(store: Arc<Store>, config: Config) -> Self {
        Self::with_clock(store, Arc::new(SystemClock), config)
    }

    /// State over `store` with `clock` and `config`.
    pub fn with_clock(store: Arc<Store>, clock: Arc<dyn Clock>, config: Config) -> Self {
        Self::with_metrics(store, clock, config, Vec::new())
    }

    /// The same, with `sources` whose metrics `GET /metrics` adds after the
    /// API's own (the DNS counters, from the binary).
    pub fn with_metrics(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        config: Config,
        sources: Vec<Arc<dyn MetricsSource>>,
    ) -> Self {
        let metrics = metrics::Metrics::new(sources);
        let record_counts = usage::RecordCounts::default();
        Self(Arc::new(App { store, clock, config, writer: Mutex::new(()), metrics, record_counts }))
    }

    /// Each team's records per zone, for quota checks (shared).
    pub(crate) fn record_counts(&self) -> usage::RecordCounts {
        self.0.record_counts.clone()
    }

    /// Runs `job` on a blocking thread (writes flush synchronously) with the
    /// store and the current time, holding the API's write lock so that a
    /// check and the write it guards are not interleaved with another
    /// request's.
    pub(crate) async fn write<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store, SystemTime) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let app = self.0.clone();
        blocking(move || {
            let _guard = app.writer.lock().map_err(|_| ApiError::Internal("a writer panicked".to_owned()))?;
            job(&app.store, app.clock.now())
        })
        .await
    }

    /// Runs `job` on a blocking thread (sled reads may touch the disk)
    /// without the write lock.
    pub(crate) async fn read<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store, SystemTime) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let app = self.0.clone();
        blocking(move || job(&app.store, app.clock.now())).await
    }
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(job).await.map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
