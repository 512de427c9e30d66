//! Certificate issuance policy: which names a principal may get a
//! certificate for, its lifetime, the key types and wildcards.
//!
//! - **Names.** Every name must lie in a platform zone and be one the
//!   principal may write ([`Action::WriteRecords`] on the name, or on the
//!   base of a wildcard, in the zone it lives in: the same decision the
//!   record API makes). A `ci` token, which writes no records, may get
//!   certificates for its team's preview names only ([`Action::CreatePreview`]).
//! - **Lifetime.** Each name's environment (the label below the platform
//!   zone, `preview` for previews) picks a lifetime from
//!   `env_lifetime_seconds` (defaults: preview 6 h, dev 24 h, prod 7 d),
//!   `default_lifetime_seconds` (24 h) for names in no environment (a team
//!   zone). A certificate gets the shortest of its names'. The `shortlived`
//!   profile caps it at `shortlived_seconds` (6 h); a requested
//!   `ttl_seconds` may only shorten it (a longer one is capped) and must be
//!   at least `min_lifetime_seconds` (5 min). Nothing exceeds
//!   `max_lifetime_seconds` (7 d).
//! - **Keys and wildcards.** `key_types` lists what may be certified;
//!   `wildcards` whether `*.name` may be.
//!
//! The result is a [`CertDecision`], which only this module makes; the CA
//! turns it into its signing proof and re-checks it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zones::Name;

use crate::scheme::{normalize, relative_labels};
use crate::{Action, Label, NameKind, Principal, Role, Scheme, Target};

const HOUR: u64 = 3600;

/// Certificate policy as configured (the `[policy.certs]` table).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertConfig {
    /// The longest lifetime of any certificate, in seconds.
    pub max_lifetime_seconds: u64,
    /// The shortest lifetime a request may ask for, in seconds.
    pub min_lifetime_seconds: u64,
    /// The lifetime of names in no environment, in seconds.
    pub default_lifetime_seconds: u64,
    /// The lifetime per environment, in seconds.
    pub env_lifetime_seconds: BTreeMap<String, u64>,
    /// The lifetime of the `shortlived` profile, in seconds.
    pub shortlived_seconds: u64,
    /// The key types that may be certified.
    pub key_types: Vec<CertKeyType>,
    /// Whether wildcard names (`*.name`) may be certified.
    pub wildcards: bool,
}

impl Default for CertConfig {
    fn default() -> Self {
        let envs = [("preview", 6 * HOUR), ("dev", 24 * HOUR), ("prod", 7 * 24 * HOUR)];
        Self {
            max_lifetime_seconds: 7 * 24 * HOUR,
            min_lifetime_seconds: 300,
            default_lifetime_seconds: 24 * HOUR,
            env_lifetime_seconds: envs.into_iter().map(|(e, s)| (e.to_owned(), s)).collect(),
            shortlived_seconds: 6 * HOUR,
            key_types: vec![CertKeyType::P256, CertKeyType::P384, CertKeyType::Ed25519, CertKeyType::Rsa],
            wildcards: true,
        }
    }
}

/// A kind of subject key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertKeyType {
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
    /// Ed25519.
    Ed25519,
    /// RSA (2048 to 8192 bits; the CA checks the size).
    Rsa,
}

/// A certificate profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The lifetime of the names' environments.
    #[default]
    Default,
    /// At most `shortlived_seconds`.
    Shortlived,
}

/// What is asked for: names, each with the apex of the zone it lives in.
#[derive(Clone, Debug)]
pub struct CertRequest<'a> {
    /// `(name, zone apex)` pairs.
    pub names: &'a [(Name, Name)],
    /// The profile.
    pub profile: Profile,
    /// A shorter lifetime, in seconds.
    pub ttl_seconds: Option<u64>,
    /// Whether the certificate may also authenticate clients (mTLS).
    pub client_auth: bool,
}

/// A positive decision: these names, this lifetime, these usages, for this
/// team. Only [`CertConfig::decide`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertDecision {
    names: Vec<String>,
    team: Label,
    lifetime: Duration,
    client_auth: bool,
    key_types: Vec<CertKeyType>,
}

impl CertDecision {
    /// The names, lowercase, without the trailing dot, sorted, deduplicated.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The team the certificate is issued to (the principal's).
    pub fn team(&self) -> &Label {
        &self.team
    }

    /// The lifetime.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Whether clientAuth is granted besides serverAuth.
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }

    /// Whether a key of this type may be certified.
    pub fn allows_key(&self, key: CertKeyType) -> bool {
        self.key_types.contains(&key)
    }
}

/// Why a certificate is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The request names nothing.
    #[error("a certificate needs at least one name")]
    NoNames,
    /// A name outside every platform zone.
    #[error("{0} is outside every platform zone; the CA certifies platform names only")]
    OutsidePlatform(String),
    /// A wildcard where wildcards are off, or a `*` that is not a whole leftmost label.
    #[error("wildcard name {0} is not allowed")]
    Wildcard(String),
    /// A requested lifetime below the minimum.
    #[error("ttl_seconds {requested} is below the minimum of {min}")]
    TooShort {
        /// Requested seconds.
        requested: u64,
        /// The minimum.
        min: u64,
    },
    /// A key type the policy does not allow.
    #[error("key type {0:?} is not allowed")]
    KeyType(CertKeyType),
    /// The principal may not have a name (or a name has the wrong shape).
    #[error(transparent)]
    Policy(#[from] crate::Error),
    /// The configuration is unusable.
    #[error("policy.certs: {0}")]
    Config(String),
}

impl CertConfig {
    /// Checks the configuration: `min <= every lifetime <= max`, some key type.
    pub fn check(&self) -> Result<(), CertError> {
        let (min, max) = (self.min_lifetime_seconds, self.max_lifetime_seconds);
        let lifetimes = [self.default_lifetime_seconds, self.shortlived_seconds];
        let all = lifetimes.iter().chain(self.env_lifetime_seconds.values());
        if min == 0 || min > max || all.into_iter().any(|s| !(min..=max).contains(s)) {
            return Err(CertError::Config(format!("every lifetime must lie within [{min}, {max}] and min > 0")));
        }
        if self.key_types.is_empty() {
            return Err(CertError::Config("key_types is empty".to_owned()));
        }
        Ok(())
    }

    /// Decides a request by `who` (see the module documentation).
    pub fn decide(&self, scheme: &Scheme, who: &Principal, req: &CertRequest<'_>) -> Result<CertDecision, CertError> {
        if req.names.is_empty() {
            return Err(CertError::NoNames);
        }
        let mut names = Vec::with_capacity(req.names.len());
        for (name, zone) in req.names {
            names.push(self.authorize_name(scheme, who, name, zone)?);
        }
        names.sort();
        names.dedup();
        let lifetime = self.lifetime(scheme, req)?;
        let key_types = self.key_types.clone();
        Ok(CertDecision { names, team: who.team.clone(), lifetime, client_auth: req.client_auth, key_types })
    }

    /// Whether a key type may be certified.
    pub fn check_key(&self, key: CertKeyType) -> Result<(), CertError> {
        match self.key_types.contains(&key) {
            true => Ok(()),
            false => Err(CertError::KeyType(key)),
        }
    }

    /// The lifetime of a certificate for these names, profile and ttl.
    pub fn lifetime(&self, scheme: &Scheme, req: &CertRequest<'_>) -> Result<Duration, CertError> {
        let by_env = req.names.iter().map(|(name, _)| self.env_lifetime(scheme, name)).min();
        let mut secs = by_env.unwrap_or(self.default_lifetime_seconds).min(self.max_lifetime_seconds);
        if req.profile == Profile::Shortlived {
            secs = secs.min(self.shortlived_seconds);
        }
        if let Some(requested) = req.ttl_seconds {
            if requested < self.min_lifetime_seconds {
                return Err(CertError::TooShort { requested, min: self.min_lifetime_seconds });
            }
            secs = secs.min(requested);
        }
        Ok(Duration::from_secs(secs))
    }

    /// Checks one name and returns its text form.
    fn authorize_name(&self, scheme: &Scheme, who: &Principal, name: &Name, zone: &Name) -> Result<String, CertError> {
        let name = normalize(name);
        let text = name.to_ascii().trim_end_matches('.').to_owned();
        let base = self.base_of(&name, &text)?;
        if scheme.zone_containing(&base).is_none() {
            return Err(CertError::OutsidePlatform(text));
        }
        // ci may not write records (authorize says so), but may certify its previews.
        let preview = matches!(scheme.parse(&base).map(|a| a.kind()), Ok(NameKind::Preview { .. }));
        let action = if who.role == Role::Ci && preview { Action::CreatePreview } else { Action::WriteRecords };
        scheme.authorize(who, action, Target::Name { name: &base, zone })?;
        Ok(text)
    }

    /// The name itself, or the base of a permitted wildcard.
    fn base_of(&self, name: &Name, text: &str) -> Result<Name, CertError> {
        let wild = name.is_wildcard();
        let stray = text.split('.').skip(usize::from(wild)).any(|l| l.contains('*'));
        if stray || (wild && !self.wildcards) {
            return Err(CertError::Wildcard(text.to_owned()));
        }
        Ok(if wild { name.base_name() } else { name.clone() })
    }

    /// The lifetime of one name's environment, in seconds.
    fn env_lifetime(&self, scheme: &Scheme, name: &Name) -> u64 {
        let name = normalize(name);
        env_of(scheme, &name)
            .and_then(|env| self.env_lifetime_seconds.get(env).copied())
            .unwrap_or(self.default_lifetime_seconds)
    }
}

/// The environment a name lives in: the label right below its platform
/// zone when that is an environment (so an app's env, and the preview env
/// for previews, as [`Scheme::parse`] would find them).
fn env_of<'a>(scheme: &Scheme, name: &'a Name) -> Option<&'a str> {
    let zone = scheme.zone_containing(name)?;
    let labels = relative_labels(name, zone.apex())?;
    labels.last().copied().filter(|l| scheme.env(l).is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;
    use crate::{Denial, SchemeConfig};

    fn scheme() -> Scheme {
        Scheme::new(&SchemeConfig::default()).unwrap()
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn who(role: Role, team: &str) -> Principal {
        Principal { role, team: Label::new(team).unwrap() }
    }

    fn pairs(names: &[&str]) -> Vec<(Name, Name)> {
        names.iter().map(|n| (name(n), name("apps.company.com."))).collect()
    }

    fn request(names: &[(Name, Name)], profile: Profile, ttl: Option<u64>) -> CertRequest<'_> {
        CertRequest { names, profile, ttl_seconds: ttl, client_auth: false }
    }

    fn lifetime(names: &[&str], profile: Profile, ttl: Option<u64>) -> u64 {
        let names = pairs(names);
        CertConfig::default().lifetime(&scheme(), &request(&names, profile, ttl)).unwrap().as_secs()
    }

    #[test]
    fn lifetime_follows_env_profile_and_ttl() {
        assert_eq!(lifetime(&["web.hr.prod.apps.company.com."], Profile::Default, None), 7 * 24 * HOUR);
        assert_eq!(lifetime(&["web.hr.dev.apps.company.com."], Profile::Default, None), 24 * HOUR);
        assert_eq!(lifetime(&["pr-3.web.hr.preview.apps.company.com."], Profile::Default, None), 6 * HOUR);
        assert_eq!(lifetime(&["x.web.hr.prod.apps.company.com."], Profile::Default, None), 7 * 24 * HOUR);
        assert_eq!(lifetime(&["*.pr-3.web.hr.preview.apps.company.com."], Profile::Default, None), 6 * HOUR);
        assert_eq!(lifetime(&["www.hr.apps.company.com."], Profile::Default, None), 24 * HOUR);
        let mixed = ["web.hr.prod.apps.company.com.", "web.hr.dev.apps.company.com."];
        assert_eq!(lifetime(&mixed, Profile::Default, None), 24 * HOUR);
        assert_eq!(lifetime(&["web.hr.prod.apps.company.com."], Profile::Shortlived, None), 6 * HOUR);
        assert_eq!(lifetime(&["web.hr.prod.apps.company.com."], Profile::Default, Some(600)), 600);
        assert_eq!(lifetime(&["web.hr.dev.apps.company.com."], Profile::Default, Some(30 * 24 * HOUR)), 24 * HOUR);
        let names = pairs(&["web.hr.dev.apps.company.com."]);
        let short = CertConfig::default().lifetime(&scheme(), &request(&names, Profile::Default, Some(60)));
        assert!(matches!(short, Err(CertError::TooShort { requested: 60, min: 300 })));
    }

    #[test]
    fn names_must_be_the_teams() {
        let config = CertConfig::default();
        let names = pairs(&["Web.hr.prod.apps.company.com.", "*.web.hr.prod.apps.company.com."]);
        let decision = config.decide(&scheme(), &who(Role::Member, "hr"), &request(&names, Profile::Default, None));
        let decision = decision.unwrap();
        assert_eq!(decision.names(), ["*.web.hr.prod.apps.company.com", "web.hr.prod.apps.company.com"]);
        assert_eq!(decision.team().as_str(), "hr");
        let other = config.decide(&scheme(), &who(Role::Member, "fin"), &request(&names, Profile::Default, None));
        assert!(matches!(other, Err(CertError::Policy(crate::Error::Denied(_)))));
        let outside = pairs(&["www.example.com."]);
        let admin = config.decide(&scheme(), &who(Role::Admin, "platform"), &request(&outside, Profile::Default, None));
        assert!(matches!(admin, Err(CertError::OutsidePlatform(n)) if n == "www.example.com"));
        let apex = pairs(&["apps.company.com."]);
        let platform = config.decide(&scheme(), &who(Role::Owner, "hr"), &request(&apex, Profile::Default, None));
        assert!(matches!(platform, Err(CertError::Policy(_))));
    }

    #[test]
    fn ci_gets_previews_only() {
        let config = CertConfig::default();
        let preview = pairs(&["pr-2.web.hr.preview.apps.company.com."]);
        assert!(config.decide(&scheme(), &who(Role::Ci, "hr"), &request(&preview, Profile::Default, None)).is_ok());
        let stable = pairs(&["web.hr.prod.apps.company.com."]);
        let stable = config.decide(&scheme(), &who(Role::Ci, "hr"), &request(&stable, Profile::Default, None));
        assert!(matches!(stable, Err(CertError::Policy(crate::Error::Denied(Denial::Role { .. })))));
        assert!(matches!(
            stable,
            Err(CertError::Policy(crate::Error::Denied(Denial::Role { role: Role::Ci, action: Action::WriteRecords })))
        ));
        let other = pairs(&["pr-2.web.fin.preview.apps.company.com."]);
        let other = config.decide(&scheme(), &who(Role::Ci, "hr"), &request(&other, Profile::Default, None));
        assert!(matches!(other, Err(CertError::Policy(crate::Error::Denied(Denial::OtherTeam { .. })))));
    }

    #[test]
    fn wildcards_and_keys_follow_the_config() {
        let config = CertConfig { wildcards: false, key_types: vec![CertKeyType::P256], ..CertConfig::default() };
        let wild = pairs(&["*.web.hr.prod.apps.company.com."]);
        let denied = config.decide(&scheme(), &who(Role::Member, "hr"), &request(&wild, Profile::Default, None));
        assert!(matches!(denied, Err(CertError::Wildcard(_))));
        let stray = pairs(&["a.*.hr.prod.apps.company.com."]);
        let any = CertConfig::default();
        let stray = any.decide(&scheme(), &who(Role::Member, "hr"), &request(&stray, Profile::Default, None));
        assert!(matches!(stray, Err(CertError::Wildcard(_))));
        assert!(config.check_key(CertKeyType::P256).is_ok());
        assert!(matches!(config.check_key(CertKeyType::Rsa), Err(CertError::KeyType(CertKeyType::Rsa))));
        assert!(matches!(
            config.decide(&scheme(), &who(Role::Member, "hr"), &request(&[], Profile::Default, None)),
            Err(CertError::NoNames)
        ));
    }

    #[test]
    fn config_is_checked() {
        assert!(CertConfig::default().check().is_ok());
        let long = CertConfig { shortlived_seconds: 30 * 24 * HOUR, ..CertConfig::default() };
        assert!(matches!(long.check(), Err(CertError::Config(_))));
        let none = CertConfig { key_types: vec![], ..CertConfig::default() };
        assert!(none.check().is_err());
    }
}
