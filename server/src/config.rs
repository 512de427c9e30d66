//! Configuration: the embedded default TOML, an optional file laid over it,
//! then command-line overrides.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The embedded default configuration, also the reference documentation.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where zones and the journal are stored.
    pub data_dir: PathBuf,
    /// Logging.
    pub log: Log,
    /// The DNS listeners.
    pub dns: Dns,
    /// The plain-HTTP listener, off unless configured.
    #[serde(default)]
    pub http: Http,
    /// The HTTPS listener serving every HTTP endpoint.
    #[serde(default)]
    pub https: Https,
    /// The platform zone created on first start.
    pub platform: Platform,
    /// Naming scheme, quotas, preview lifetimes and the risk policy.
    #[serde(default)]
    pub policy: policy::PolicyConfig,
    /// acme-dns compatibility (`/register`, `/update`).
    pub acme_dns: AcmeDns,
    /// The built-in certificate authority.
    #[serde(default)]
    pub ca: CaConfig,
    /// The ACME (RFC 8555) server under `/acme`.
    #[serde(default)]
    pub acme: Acme,
}

/// Logging settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `text` or `json`.
    pub format: LogFormat,
    /// The default level filter (RUST_LOG overrides it).
    pub level: String,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// DNS listener settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// UDP+TCP addresses.
    pub listen: Vec<SocketAddr>,
    /// UDP workers per address; 0 means one per CPU.
    pub workers: usize,
    /// One SO_REUSEPORT socket per worker instead of one shared socket.
    pub reuseport: bool,
    /// Advertised EDNS0 payload size and largest UDP response.
    pub udp_payload: u16,
    /// TCP idle timeout in seconds.
    pub tcp_idle_timeout_secs: u64,
    /// Concurrent TCP connection limit.
    pub tcp_max_connections: usize,
    /// Journal entries kept per zone (the reach of IXFR).
    pub journal_limit: u64,
    /// The catalog zone's apex (RFC 9432); empty: no catalog zone.
    pub catalog_zone: String,
    /// The secondaries: NOTIFY goes to each, and each may transfer every zone.
    #[serde(default)]
    pub secondaries: Vec<Secondary>,
    /// TSIG keys of the configuration (secondaries'): they may transfer, not
    /// update. Teams' keys live in the catalog (the API).
    #[serde(default)]
    pub tsig_keys: Vec<TsigKeyConfig>,
}

/// A TSIG key in the configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    /// The key's name, e.g. `knot-secondary`.
    pub name: String,
    /// `hmac-sha256` and the like, as BIND and Knot spell them.
    pub algorithm: String,
    /// The secret, base64.
    pub secret: String,
}

impl std::fmt::Debug for TsigKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKeyConfig")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A secondary server of every zone (and of the catalog zone).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secondary {
    /// Where NOTIFY goes; transfers are allowed from this IP address.
    pub address: SocketAddr,
    /// The TSIG key that must sign its transfer requests (and our NOTIFYs).
    pub tsig_key: Option<String>,
}

/// The plain-HTTP listener (`[http]`), for deployments behind a
/// TLS-terminating proxy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Where to serve every HTTP endpoint over plain HTTP; none unless set.
    pub listen: Option<SocketAddr>,
}

/// The HTTPS listener (`[https]`): every HTTP endpoint, with a certificate
/// the built-in CA issues to nameplate itself.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Https {
    /// The listen address.
    pub listen: SocketAddr,
    /// The names the listener's certificate carries: DNS names and IP
    /// addresses.
    pub names: Vec<String>,
    /// The certificate's lifetime; it is renewed at two thirds of it.
    pub lifetime_seconds: u64,
}

impl Default for Https {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            lifetime_seconds: 24 * 3600,
        }
    }
}

/// The platform zone's shape.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// The zone's apex, e.g. `apps.company.com`.
    pub zone: String,
    /// SOA RNAME.
    pub hostmaster: String,
    /// SOA MINIMUM: the negative-caching TTL.
    pub negative_ttl: u32,
    /// TTL of the SOA, NS and nameserver address records.
    pub ttl: u32,
    /// The nameservers published at the apex.
    pub nameservers: Vec<Nameserver>,
}

/// One of the platform's nameservers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nameserver {
    /// Name relative to the platform zone (or absolute with a trailing dot).
    pub name: String,
    /// Addresses published for it.
    pub addresses: Vec<IpAddr>,
}

/// acme-dns compatibility settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeDns {
    /// Whether `/register` and `/update` are served.
    pub enabled: bool,
    /// The zone the subdomains live under; empty: `acme.<platform zone>`.
    pub zone: String,
    /// Whether `/register` works without a bearer token.
    pub allow_anonymous_register: bool,
}

/// The ACME server (`[acme]`), served under `/acme` with URLs below
/// `[ca] base_url`; its accounts and orders live in the CA's database.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Acme {
    /// Whether `/acme` is served (false: 404).
    pub enabled: bool,
    /// Whether new accounts need External Account Binding (a team's key).
    pub eab_required: bool,
    /// Whether a team-bound account's names in zones the team owns here are
    /// authorized at once, without a challenge.
    pub pre_authorize: bool,
    /// The port http-01 validation connects to.
    pub http01_port: u16,
    /// The port the nameservers of an external team zone are asked on for
    /// dns-01, http-01 addresses and CAA below the delegation.
    pub external_dns_port: u16,
}

impl Default for Acme {
    fn default() -> Self {
        Self { enabled: true, eab_required: true, pre_authorize: true, http01_port: 80, external_dns_port: 53 }
    }
}

/// The built-in CA (`[ca]`): its keys and database live in `<data_dir>/ca/`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaConfig {
    /// The CA's name, used in the root's and intermediates' subjects.
    pub name: String,
    /// Base URL the CRL distribution points of leaves and the ACME
    /// directory name (`{base_url}/ca/crl/{region}.crl`); empty: the HTTPS
    /// listener, as [`Config::ca_base_url`] derives it.
    pub base_url: String,
    /// An operator-supplied root certificate (PEM path); with `root_key`.
    pub root_cert: Option<PathBuf>,
    /// The operator-supplied root's PKCS#8 key (PEM path); with `root_cert`.
    pub root_key: Option<PathBuf>,
    /// The longest leaf lifetime any intermediate signs, in seconds.
    pub max_lifetime_seconds: u64,
    /// The issuer domain CAA `issue` properties must name to allow issuance.
    pub caa_identity: String,
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            name: "nameplate".to_owned(),
            base_url: String::new(),
            root_cert: None,
            root_key: None,
            max_lifetime_seconds: 7 * 24 * 3600,
            caa_identity: "nameplate".to_owned(),
        }
    }
}

impl CaConfig {
    /// The operator's root, when both paths are set.
    pub fn root(&self) -> Result<Option<(PathBuf, PathBuf)>> {
        match (&self.root_cert, &self.root_key) {
            (Some(cert), Some(key)) => Ok(Some((cert.clone(), key.clone()))),
            (None, None) => Ok(None),
            _ => anyhow::bail!("ca.root_cert and ca.root_key go together"),
        }
    }
}

impl AcmeDns {
    /// The zone: as configured, or `acme.<platform>` when empty.
    pub fn zone_or_default(&self, platform: &str) -> String {
        match self.zone.as_str() {
            "" => format!("acme.{}", platform.trim_end_matches('.')),
            zone => zone.to_owned(),
        }
    }
}

impl Config {
    /// The embedded default with `file` (if any) laid over it.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut merged: toml::Table = DEFAULT_TOML.parse().context("embedded default config")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
            let overlay: toml::Table = text.parse().with_context(|| format!("parsing config {}", path.display()))?;
            merge(&mut merged, overlay);
        }
        default_scheme_zones(&mut merged);
        let config: Config = merged.try_into().context("invalid configuration")?;
        config.check()?;
        Ok(config)
    }

    /// The base URL the CA and ACME build their URLs on, without a trailing
    /// slash: `ca.base_url`, or else `https://<first https name>:<https port>`.
    pub fn ca_base_url(&self) -> String {
        let configured = self.ca.base_url.trim_end_matches('/');
        if !configured.is_empty() {
            return configured.to_owned();
        }
        let host = self.https.names.first().map_or("localhost", String::as_str);
        let port = self.https.listen.port();
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("https://[{ip}]:{port}"),
            _ => format!("https://{host}:{port}"),
        }
    }

    /// UDP workers per address, resolving 0 to the CPU count.
    pub fn udp_workers(&self) -> usize {
        match self.dns.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    fn check(&self) -> Result<()> {
        anyhow::ensure!(!self.dns.listen.is_empty(), "dns.listen must name at least one address");
        anyhow::ensure!(!self.platform.nameservers.is_empty(), "platform.nameservers must not be empty");
        anyhow::ensure!(self.dns.tcp_max_connections > 0, "dns.tcp_max_connections must be at least 1");
        anyhow::ensure!(
            self.policy.certs.max_lifetime_seconds <= self.ca.max_lifetime_seconds,
            "policy.certs.max_lifetime_seconds must not exceed ca.max_lifetime_seconds"
        );
        self.ca.root()?;
        anyhow::ensure!(!self.https.names.is_empty(), "https.names must name at least one name");
        anyhow::ensure!(self.https.lifetime_seconds >= 60, "https.lifetime_seconds must be at least 60");
        Ok(())
    }
}

/// Unless `policy.scheme.zones` is set, makes the platform zone the one
/// platform zone of the naming scheme.
fn default_scheme_zones(config: &mut toml::Table) {
    let Some(zone) = config.get("platform").and_then(|p| p.get("zone")).cloned() else {
        return;
    };
    let policy = config.entry("policy").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(policy) = policy.as_table_mut() else {
        return; // not a table: deserializing reports it
    };
    let scheme = policy.entry("scheme").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(scheme) = scheme.as_table_mut()
        && !scheme.contains_key("zones")
    {
        let mut entry = toml::Table::new();
        entry.insert("apex".to_owned(), zone);
        scheme.insert("zones".to_owned(), toml::Value::Array(vec![toml::Value::Table(entry)]));
    }
}

/// Lays `overlay` over `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_loads() {
        let config = Config::load(None).expect("default config");
        assert_eq!(config.platform.zone, "apps.company.com");
        assert_eq!(config.dns.listen, vec!["127.0.0.1:5353".parse::<SocketAddr>().expect("addr")]);
        assert_eq!(config.http.listen, None, "plain HTTP is off unless configured");
        assert_eq!(config.https.listen, "127.0.0.1:8443".parse::<SocketAddr>().expect("addr"));
        assert_eq!(config.https.names, ["localhost", "127.0.0.1"]);
        assert_eq!(config.policy.scheme.zones[0].apex, "apps.company.com");
        assert_eq!(config.policy.scheme.envs, ["prod", "staging", "dev", "preview"]);
        assert!(config.policy.scheme.reserved.iter().any(|l| l == "acme"), "the acme-dns label is reserved");
        let acme = &config.acme_dns;
        assert_eq!((acme.enabled, acme.allow_anonymous_register), (true, false));
        assert_eq!(acme.zone_or_default(&config.platform.zone), "acme.apps.company.com");
    }

    #[test]
    fn scheme_zones_follow_the_platform_zone_unless_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.toml");
        std::fs::write(&path, "[platform]\nzone = \"svc.example.org\"\n").expect("write");
        let config = Config::load(Some(&path)).expect("overlay");
        assert_eq!(config.policy.scheme.zones.len(), 1);
        assert_eq!(config.policy.scheme.zones[0].apex, "svc.example.org");
        let text = "[[policy.scheme.zones]]\napex = \"eu-apps.company.com\"\nregion = \"eu\"\n";
        std::fs::write(&path, text).expect("write");
        let config = Config::load(Some(&path)).expect("overlay");
        assert_eq!(config.policy.scheme.zones[0].region.as_deref(), Some("eu"));
        std::fs::write(&path, "[policy.quotas.default]\nrecordz = 3\n").expect("write");
        assert!(Config::load(Some(&path)).is_err(), "unknown policy keys fail");
    }

    #[test]
    fn secondaries_journal_limit_and_catalog_zone() {
        let config = Config::load(None).expect("default config");
        assert_eq!((config.dns.journal_limit, config.dns.catalog_zone.as_str()), (10_000, "catalog.nameplate.invalid"));
        assert!(config.dns.secondaries.is_empty(), "no secondary unless configured");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.toml");
        let text = "[[dns.secondaries]]\naddress = \"127.0.0.1:53053\"\ntsig_key = \"k\"\n\n[[dns.secondaries]]\naddress = \"[::1]:53\"\n";
        std::fs::write(&path, text).expect("write");
        let config = Config::load(Some(&path)).expect("overlay");
        assert_eq!(config.dns.secondaries.len(), 2);
        assert_eq!(config.dns.secondaries[0].tsig_key.as_deref(), Some("k"));
        assert_eq!(config.dns.secondaries[1].address, "[::1]:53".parse::<SocketAddr>().expect("addr"));
        std::fs::write(&path, "[[dns.secondaries]]\naddress = \"127.0.0.1:53\"\nkey = \"k\"\n").expect("write");
        assert!(Config::load(Some(&path)).is_err(), "unknown secondary keys fail");
    }

    #[test]
    fn the_readme_shows_the_embedded_default_as_it_is() {
        let readme = include_str!("../../README.md");
        assert!(readme.contains(&format!("```toml\n{DEFAULT_TOML}```")), "README's configuration reference is stale");
    }

    #[test]
    fn the_ca_base_url_follows_the_https_listener_unless_set() {
        let mut config = Config::load(None).expect("default config");
        config.https.listen = "127.0.0.1:9443".parse().expect("addr");
        assert_eq!(config.ca_base_url(), "https://localhost:9443");
        config.https.names = vec!["::1".to_owned()];
        assert_eq!(config.ca_base_url(), "https://[::1]:9443");
        config.ca.base_url = "https://ca.apps.company.com/".to_owned();
        assert_eq!(config.ca_base_url(), "https://ca.apps.company.com");
    }

    #[test]
    fn file_overrides_key_by_key_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.toml");
        std::fs::write(&path, "[dns]\nworkers = 3\n").expect("write");
        let config = Config::load(Some(&path)).expect("overlay");
        assert_eq!((config.dns.workers, config.dns.udp_payload), (3, 1232));
        std::fs::write(&path, "[dns]\nworkerz = 3\n").expect("write");
        let error = Config::load(Some(&path)).expect_err("typo must fail");
        assert!(format!("{error:#}").contains("workerz"), "{error:#}");
    }

    #[test]
    fn the_ca_section_defaults_and_is_checked() {
        let config = Config::load(None).expect("default config");
        assert_eq!((config.ca.name.as_str(), config.ca_base_url().as_str()), ("nameplate", "https://localhost:8443"));
        assert_eq!(config.ca.max_lifetime_seconds, config.policy.certs.max_lifetime_seconds);
        assert!(config.ca.root().expect("no root").is_none());
        assert_eq!(config.policy.certs, policy::CertConfig::default(), "default.toml documents the defaults");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.toml");
        std::fs::write(&path, "[ca]\nroot_cert = \"/r.pem\"\n").expect("write");
        assert!(Config::load(Some(&path)).is_err(), "root_cert without root_key");
        std::fs::write(&path, "[ca]\nmax_lifetime_seconds = 3600\n").expect("write");
        assert!(Config::load(Some(&path)).is_err(), "policy longer than the CA allows");
        std::fs::write(&path, "[ca]\nname = \"corp\"\n[policy.certs]\nwildcards = false\n").expect("write");
        let config = Config::load(Some(&path)).expect("overlay");
        assert_eq!((config.ca.name.as_str(), config.policy.certs.wildcards), ("corp", false));
    }
}
