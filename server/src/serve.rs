//! `nameplate serve`: open the store, seed it (platform zone, admin token),
//! start the DNS and HTTP listeners, run until SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use zones::Store;

use crate::config::Config;
use crate::dns::metrics::Registry;
use crate::dns::{self, Snapshots};
use crate::https;

/// Runs the server with `config` until a termination signal.
pub fn run(config: &Config) -> Result<()> {
    let policy = build_policy(config)?;
    let store = Arc::new(open_store(config)?);
    seed_if_empty(&store, config)?;
    bootstrap_admin(&store, config)?;
    store.set_journal_limit(config.dns.journal_limit).context("setting the journal limit")?;
    let secondaries = secondaries(config)?;
    let snapshots: Arc<dyn Snapshots> = store.clone();
    let authority = Arc::new(crate::authority::NameplateAuthority::new(&config.dns.tsig_keys)?);
    let updates: Arc<dyn dns::authority::Authority> = authority.clone();
    let transfers =
        Arc::new(dns::xfr::Transfers::new(store.clone(), secondaries.clone()).with_authority(updates.clone()));
    let catalog = catalog_zone(config)?;
    let ca = open_ca(config, &policy, &store, SystemTime::now())?;
    if let Some(catalog) = &catalog {
        api::sync_catalog_zone(&store, catalog, SystemTime::now()).context("synchronizing the catalog zone")?;
    }
    let metrics = Arc::new(Registry::default());
    let workers = config.udp_workers();
    for addr in &config.dns.listen {
        let updates = Some(updates.clone());
        dns::udp::spawn(
            *addr,
            workers,
            config.dns.reuseport,
            snapshots.clone(),
            config.dns.udp_payload,
            &metrics,
            updates,
        )
        .with_context(|| format!("binding UDP {addr}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("nameplate-io")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let limits = dns::tcp::Limits {
            idle_timeout: Duration::from_secs(config.dns.tcp_idle_timeout_secs),
            max_connections: config.dns.tcp_max_connections,
        };
        for addr in &config.dns.listen {
            let service = dns::tcp::Service {
                snapshots: snapshots.clone(),
                udp_payload: config.dns.udp_payload,
                limits,
                counters: metrics.register(),
                transfers: Some(transfers.clone()),
                authority: Some(updates.clone()),
            };
            let accept = dns::tcp::bind(*addr, service).await.with_context(|| format!("binding TCP {addr}"))?;
            tokio::spawn(accept);
        }
        tokio::spawn(dns::notify::run(store.clone(), secondaries.clone(), Some(updates.clone())));
        let sources: Vec<Arc<dyn api::MetricsSource>> = vec![Arc::new(DnsMetrics(metrics.clone()))];
        let acme = &config.acme_dns;
        let api_config = api::Config::new(policy)
            .with_acme_dns(acme.enabled, &acme.zone_or_default(&config.platform.zone), acme.allow_anonymous_register)
            .context("invalid [acme_dns]")?
            .with_catalog_zone(catalog.clone())
            .with_ca(ca.clone());
        let api_config = match acme_edge(config, &ca)? {
            Some(edge) => api_config.with_acme(edge),
            None => api_config,
        };
        let state = api::AppState::with_metrics(store.clone(), Arc::new(api::SystemClock), api_config, sources);
        authority.attach(state.clone());
        api::spawn_reaper(state.clone());
        let (stop, stopping) = tokio::sync::watch::channel(());
        let web = serve_web(config, &ca, state, stopping).await?;
        let zones = store.snapshot().zones().len();
        tracing::info!(listen = ?config.dns.listen, workers, zones, "nameplate is serving DNS");
        shutdown_signal().await;
        tracing::info!("shutting down");
        drop(stop);
        let _ = web.await;
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Binds the HTTPS listener, and the plain-HTTP one when `[http] listen`
/// is set, and serves `state`'s router on both until `stopping` closes.
/// The HTTPS certificate comes from the CA's service issuer and is renewed
/// in the background. The returned task ends once the HTTPS connections
/// have drained (at most [`https::DRAIN_TIMEOUT`]).
async fn serve_web(
    config: &Config,
    ca: &Arc<ca::issuance::Ca>,
    state: api::AppState,
    stopping: tokio::sync::watch::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>> {
    let issue = https::own_certificate(ca.clone(), Duration::from_secs(config.https.lifetime_seconds));
    let (chain, key) = issue()?;
    let slot = Arc::new(https::CertSlot::new(chain, key).context("loading the HTTPS certificate")?);
    let tls = bind(config.https.listen, "HTTPS").await?;
    let plain = match config.http.listen {
        Some(addr) => Some((addr, bind(addr, "HTTP").await?)),
        None => None,
    };
    let router = api::app(state);
    tokio::spawn(https::renew_loop(slot.clone(), issue, closed(stopping.clone())));
    if let Some((addr, listener)) = plain {
        let service = router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, service).with_graceful_shutdown(closed(stopping)).await {
                tracing::error!(%error, "the plain-HTTP listener stopped");
            }
        });
        tracing::info!(listen = %addr, "nameplate is serving plain HTTP");
    }
    let names = &config.https.names;
    tracing::info!(listen = %config.https.listen, ?names, "nameplate is serving HTTPS");
    Ok(tokio::spawn(async move {
        if let Err(error) = https::serve_https(tls, router, slot, closed(stopping)).await {
            tracing::error!(%error, "the HTTPS listener stopped");
        }
    }))
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {what} {addr}"))
}

/// Completes once every sender of `stopping` is gone.
async fn closed(mut stopping: tokio::sync::watch::Receiver<()>) {
    while stopping.changed().await.is_ok() {}
}

/// Opens the built-in CA in `<data_dir>/ca/`: keys, the hierarchy (made at
/// first start), with its records (the certificate store's and ACME's) in
/// the zone store's database, so that one flush makes a certificate and
/// its catalog entry durable. A data directory from before keeps them in
/// `<data_dir>/ca/db`: they are moved over first ([`zones::merge_database`]).
pub fn open_ca(
    config: &Config,
    policy: &policy::Policy,
    store: &Store,
    now: SystemTime,
) -> Result<Arc<ca::issuance::Ca>> {
    let spec = hierarchy_spec(config, policy)?;
    let dir = config.data_dir.join("ca");
    let legacy = dir.join("db");
    if zones::merge_database(&legacy, store.database()).context("moving the CA's records")? {
        let moved = zones::merged_path(&legacy);
        tracing::info!(from = %legacy.display(), left = %moved.display(), "moved the CA's records into the data directory's database");
    }
    let ca = ca::issuance::Ca::open_in(&dir, store.database(), &spec, &config.ca.caa_identity, now)
        .with_context(|| format!("opening the CA in {}", dir.display()))?;
    let regions: Vec<&str> = ca.hierarchy().regions().collect();
    tracing::info!(dir = %dir.display(), ?regions, "the certificate authority is ready");
    Ok(Arc::new(ca))
}

/// The CA hierarchy `config` asks for.
fn hierarchy_spec(config: &Config, policy: &policy::Policy) -> Result<ca::pki::HierarchySpec> {
    Ok(ca::pki::HierarchySpec {
        ca_name: config.ca.name.clone(),
        regions: regions(&policy.scheme),
        root: config.ca.root()?,
        crl_base_url: config.ca_base_url(),
        max_lifetime: Duration::from_secs(config.ca.max_lifetime_seconds),
        service_names: config.https.names.clone(),
    })
}

/// The ACME server over `ca`, as `[acme]` and `[ca] base_url` configure
/// it; `None` when `[acme] enabled = false`.
fn acme_edge(config: &Config, ca: &Arc<ca::issuance::Ca>) -> Result<Option<Arc<api::acme::AcmeEdge>>> {
    if !config.acme.enabled {
        return Ok(None);
    }
    let certs = &config.policy.certs;
    let profile = |name: &str, seconds: u64, client_auth: bool| ca::acme::Profile {
        name: name.into(),
        lifetime: Duration::from_secs(seconds),
        client_auth,
    };
    let acme = ca::acme::AcmeConfig {
        ca_identity: config.ca.caa_identity.clone(),
        profiles: vec![
            profile("default", certs.max_lifetime_seconds, false),
            profile("shortlived", certs.shortlived_seconds, false),
            profile("tlsclient", certs.max_lifetime_seconds, true),
        ],
        eab_required: config.acme.eab_required,
        pre_authorize: config.acme.pre_authorize,
        http01_port: config.acme.http01_port,
        external_dns_port: config.acme.external_dns_port,
        ..ca::acme::AcmeConfig::default()
    };
    let edge = api::acme::AcmeEdge::open(ca.clone(), acme, &config.ca_base_url()).context("opening the ACME server")?;
    Ok(Some(Arc::new(edge)))
}

/// One intermediate per platform zone region, permitting the region-less
/// zone(s) and its own zone; the region-less zone(s) alone are `default`.
pub fn regions(scheme: &policy::Scheme) -> Vec<ca::pki::RegionSpec> {
    let apex = |z: &policy::PlatformZone| z.apex().to_ascii().trim_end_matches('.').to_owned();
    let shared: Vec<String> = scheme.zones().iter().filter(|z| z.region().is_none()).map(apex).collect();
    let mut out = Vec::new();
    if !shared.is_empty() {
        out.push(ca::pki::RegionSpec { name: "default".to_owned(), permitted: shared.clone() });
    }
    for zone in scheme.zones() {
        if let Some(region) = zone.region() {
            let permitted = shared.iter().cloned().chain([apex(zone)]).collect();
            out.push(ca::pki::RegionSpec { name: region.to_string(), permitted });
        }
    }
    out
}

/// The DNS counters as a part of `GET /metrics` (here, so that `dns` does
/// not depend on `api`).
struct DnsMetrics(Arc<Registry>);

impl api::MetricsSource for DnsMetrics {
    fn render(&self, out: &mut String) {
        const QUERIES: &str = "nameplate_dns_queries_total";
        let totals = self.0.totals();
        let mut text = api::Exposition::new(out);
        text.counter(QUERIES, "DNS queries answered, by transport, RCODE (extended included) and QTYPE.");
        for ([transport, rcode, qtype], count) in totals.query_samples() {
            text.sample(QUERIES, &[("transport", transport), ("rcode", rcode), ("qtype", qtype)], count);
        }
        let counters = [
            ("nameplate_dns_dropped_total", "DNS packets not answered (runts, responses).", totals.dropped),
            ("nameplate_dns_cache_hits_total", "UDP queries answered from the response cache.", totals.cache_hits),
            (
                "nameplate_dns_cache_misses_total",
                "UDP fast-path queries the response cache missed.",
                totals.cache_misses,
            ),
        ];
        for (name, help, value) in counters {
            text.counter(name, help).sample(name, &[], value);
        }
    }
}

/// The policy of the `[policy]` table. An inconsistent table stops the
/// start; a risk policy that cannot be read or loaded closes the risk gate
/// (every registration goes to review) and is logged.
pub fn build_policy(config: &Config) -> Result<policy::Policy> {
    let risk = &config.policy.risk;
    let text = match risk.source().context("invalid [policy.risk]")? {
        policy::PolicySource::Default => Ok(policy::DEFAULT_POLICY.to_owned()),
        policy::PolicySource::Inline(text) => Ok(text.to_owned()),
        policy::PolicySource::File(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("reading the risk policy {}: {e}", path.display()))
        }
    };
    let gate = match text {
        Ok(text) => {
            let (gate, error) = policy::RiskGate::load(&text);
            if let Some(error) = error {
                tracing::error!(%error, "the risk policy did not load: every app registration goes to review");
            }
            gate
        }
        Err(reason) => {
            tracing::error!(%reason, "the risk policy did not load: every app registration goes to review");
            policy::RiskGate::closed(reason)
        }
    };
    policy::Policy::new(&config.policy, gate).context("invalid [policy] configuration")
}

/// The configured secondaries, their key names parsed.
fn secondaries(config: &Config) -> Result<Vec<dns::xfr::Secondary>> {
    let parse = |key: &String| {
        let mut name = zones::Name::from_ascii(key).with_context(|| format!("dns.secondaries: bad key name {key}"))?;
        name.set_fqdn(true);
        anyhow::Ok(name.to_lowercase())
    };
    config
        .dns
        .secondaries
        .iter()
        .map(|s| Ok(dns::xfr::Secondary { address: s.address, tsig_key: s.tsig_key.as_ref().map(parse).transpose()? }))
        .collect()
}

/// The catalog zone's apex, unless `dns.catalog_zone` is empty.
pub fn catalog_zone(config: &Config) -> Result<Option<zones::Name>> {
    let text = config.dns.catalog_zone.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut name = zones::Name::from_ascii(text).with_context(|| format!("dns.catalog_zone: bad name {text}"))?;
    name.set_fqdn(true);
    Ok(Some(name.to_lowercase()))
}

/// Opens the store in the configured data directory.
pub fn open_store(config: &Config) -> Result<Store> {
    Store::open(&config.data_dir).context("opening the zone store")
}

/// Creates the platform zone unless the store already holds a zone.
fn seed_if_empty(store: &Store, config: &Config) -> Result<()> {
    if !store.snapshot().is_empty() {
        return Ok(());
    }
    let zone = crate::seed::platform_zone(&config.platform)?;
    tracing::info!(zone = %zone.apex(), "empty data directory: creating the platform zone");
    let apex = zone.apex().to_ascii();
    let mut tx = zones::Transaction::new();
    tx.put_zone(zone, "nameplate", "first start");
    api::Audit::system("bootstrap", api::PLATFORM_TEAM, "zone.create", apex).commit(store, tx, SystemTime::now())?;
    Ok(())
}

/// Creates the platform admin token on first start and prints it once, on
/// stdout (not in the log).
fn bootstrap_admin(store: &Store, config: &Config) -> Result<()> {
    let token = api::ensure_admin_token(store, &config.data_dir, SystemTime::now())
        .context("creating the platform admin token")?;
    if let Some(token) = token {
        let file = config.data_dir.join(api::tokens::ADMIN_TOKEN_FILE);
        println!("nameplate: the platform admin token (shown only now; also in {}, mode 0600):", file.display());
        println!("{token}");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    fn scheme(zones: &[(&str, Option<&str>)]) -> policy::Scheme {
        let zones = zones
            .iter()
            .map(|(apex, region)| policy::ZoneConfig { apex: (*apex).into(), region: region.map(str::to_owned) })
            .collect();
        policy::Scheme::new(&policy::SchemeConfig { zones, ..policy::SchemeConfig::default() }).unwrap()
    }

    #[test]
    fn regions_permit_their_zone_and_the_shared_one() {
        let split = scheme(&[("apps.company.com", None), ("eu-apps.company.com", Some("eu"))]);
        let specs: Vec<_> = regions(&split).into_iter().map(|r| (r.name, r.permitted)).collect();
        let expected = vec![
            ("default".to_owned(), vec!["apps.company.com".to_owned()]),
            ("eu".to_owned(), vec!["apps.company.com".to_owned(), "eu-apps.company.com".to_owned()]),
        ];
        assert_eq!(specs, expected);
        let only_regions = scheme(&[("us-apps.company.com", Some("us"))]);
        let names: Vec<_> = regions(&only_regions).into_iter().map(|r| (r.name, r.permitted)).collect();
        assert_eq!(names, vec![("us".to_owned(), vec!["us-apps.company.com".to_owned()])]);
    }

    /// The embedded default configuration with its data directory in a
    /// fresh temporary directory, and its policy.
    fn defaults_in_a_temp_dir() -> (tempfile::TempDir, Config, policy::Policy) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(None).unwrap();
        config.data_dir = dir.path().to_path_buf();
        let policy = build_policy(&config).unwrap();
        (dir, config, policy)
    }

    #[test]
    fn the_ca_keeps_its_records_in_the_zone_stores_database_and_reopens() {
        let (dir, config, policy) = defaults_in_a_temp_dir();
        let store = open_store(&config).unwrap();
        let first = open_ca(&config, &policy, &store, SystemTime::now()).unwrap();
        let root = first.hierarchy().root_pem().to_owned();
        assert!(Arc::ptr_eq(first.database(), store.database()), "one database, one flush");
        assert!(!dir.path().join("ca/db").exists());
        drop(first);
        let again = open_ca(&config, &policy, &store, SystemTime::now()).unwrap();
        assert_eq!(again.hierarchy().root_pem(), root, "the root is kept across starts");
        assert!(again.hierarchy().chain_pem("default").is_some());
    }

    #[test]
    fn a_ca_database_from_before_is_moved_into_the_zone_stores() {
        let (dir, config, policy) = defaults_in_a_temp_dir();
        let spec = hierarchy_spec(&config, &policy).unwrap();
        let legacy = ca::issuance::Ca::open(&dir.path().join("ca"), &spec, "nameplate", SystemTime::now()).unwrap();
        let reserved = legacy.store().reserve_serial().unwrap();
        let serials = |database: &zones::GroupFlush| {
            let tree = database.db().open_tree("ca.serials").unwrap();
            tree.iter().keys().collect::<Result<Vec<_>, _>>().unwrap()
        };
        let reserved_before = serials(legacy.database());
        assert!(!reserved_before.is_empty(), "{reserved:?} is recorded");
        drop((reserved, legacy));
        let store = open_store(&config).unwrap();
        let ca = open_ca(&config, &policy, &store, SystemTime::now()).unwrap();
        assert_eq!(serials(store.database()), reserved_before, "the reserved serials moved over");
        assert!(!dir.path().join("ca/db").exists() && dir.path().join("ca/db.merged").is_dir());
        assert!(ca.hierarchy().chain_pem("default").is_some());
    }
}
