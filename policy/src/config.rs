//! The `[policy]` configuration table and the [`Policy`] built from it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{CertConfig, Error, PreviewConfig, QuotaConfig, RiskGate, Scheme, SchemeConfig};

/// Everything policy reads from the configuration; every table and key is
/// optional and defaults as documented on its type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The naming scheme (`[policy.scheme]`).
    pub scheme: SchemeConfig,
    /// Quotas (`[policy.quotas]`).
    pub quotas: QuotaConfig,
    /// Preview lifetimes (`[policy.preview]`).
    pub preview: PreviewConfig,
    /// The risk policy (`[policy.risk]`).
    pub risk: RiskConfig,
    /// Certificate issuance (`[policy.certs]`).
    #[serde(default)]
    pub certs: CertConfig,
}

/// Where the risk policy comes from: the default, a file or inline text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// A Rego file that replaces the default policy (read by the caller).
    pub policy_file: Option<PathBuf>,
    /// Rego text that replaces the default policy.
    pub policy: Option<String>,
}

/// The risk policy's source, as [`RiskConfig::source`] resolves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicySource<'a> {
    /// [`crate::DEFAULT_POLICY`].
    Default,
    /// Text in a file, which the caller reads and passes to [`RiskGate::load`].
    File(&'a Path),
    /// Text given inline.
    Inline(&'a str),
}

impl RiskConfig {
    /// Where the policy comes from; naming both a file and text is an error.
    pub fn source(&self) -> Result<PolicySource<'_>, Error> {
        match (&self.policy_file, &self.policy) {
            (Some(_), Some(_)) => Err(Error::Config("set risk.policy_file or risk.policy, not both".into())),
            (Some(path), None) => Ok(PolicySource::File(path)),
            (None, Some(text)) => Ok(PolicySource::Inline(text)),
            (None, None) => Ok(PolicySource::Default),
        }
    }
}

/// Every policy decision in one value, built once at start-up and shared.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Names and ownership.
    pub scheme: Scheme,
    /// Quota limits.
    pub quotas: QuotaConfig,
    /// Preview lifetimes.
    pub preview: PreviewConfig,
    /// The risk gate.
    pub risk: RiskGate,
    /// Certificate issuance rules.
    pub certs: CertConfig,
}

impl Policy {
    /// Checks `config` and bundles it with `risk`, the gate loaded from
    /// [`RiskConfig::source`] (a closed gate if that failed).
    pub fn new(config: &PolicyConfig, risk: RiskGate) -> Result<Policy, Error> {
        let scheme = Scheme::new(&config.scheme)?;
        config.preview.check()?;
        config.risk.source()?;
        config.certs.check().map_err(|e| Error::Config(e.to_string()))?;
        if let Some(team) = config.quotas.teams.keys().find(|team| scheme.team(team.as_str()).is_err()) {
            return Err(Error::Config(format!("quotas.teams.{team} is not a valid team name")));
        }
        let certs = config.certs.clone();
        Ok(Policy { scheme, quotas: config.quotas.clone(), preview: config.preview, risk, certs })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;
    use crate::{DEFAULT_POLICY, Label};

    #[test]
    fn an_empty_table_is_all_defaults() {
        let config: PolicyConfig = toml::from_str("").unwrap();
        assert_eq!(config, PolicyConfig::default());
        let policy = Policy::new(&config, RiskGate::new(DEFAULT_POLICY).unwrap()).unwrap();
        assert_eq!(policy.scheme.envs().len(), 4);
        assert!(policy.risk.is_loaded());
    }

    #[test]
    fn a_full_table_deserializes() {
        let text = r#"
[scheme]
envs = ["prod", "dev", "preview"]
reserved = ["ns1", "www"]
[[scheme.zones]]
apex = "eu-apps.company.com"
region = "eu"
[[scheme.zones]]
apex = "us-apps.company.com"
region = "us"
[quotas.default]
apps = 5
[quotas.teams.hr]
apps = 50
[preview]
min_ttl_seconds = 2
[risk]
policy_file = "/etc/nameplate/risk.rego"
[certs]
wildcards = false
env_lifetime_seconds = { prod = 86400 }
"#;
        let config: PolicyConfig = toml::from_str(text).unwrap();
        assert_eq!(config.risk.source().unwrap(), PolicySource::File(Path::new("/etc/nameplate/risk.rego")));
        let policy = Policy::new(&config, RiskGate::closed("not read in this test")).unwrap();
        assert_eq!(policy.scheme.zones().len(), 2);
        assert_eq!(policy.quotas.limits(&Label::new("hr").unwrap()).apps, 50);
        assert_eq!(policy.quotas.limits(&Label::new("fin").unwrap()).apps, 5);
        assert!(policy.preview.ttl(Some(1)).is_err());
        assert!(!policy.certs.wildcards);
        assert_eq!(policy.certs.env_lifetime_seconds.get("prod"), Some(&86400));
    }

    #[test]
    fn mistakes_are_rejected() {
        assert!(toml::from_str::<PolicyConfig>("[schema]\n").is_err());
        assert!(toml::from_str::<PolicyConfig>("[risk]\nfile = \"x\"\n").is_err());
        let both: PolicyConfig = toml::from_str("[risk]\npolicy_file = \"x\"\npolicy = \"package x\"\n").unwrap();
        assert!(matches!(Policy::new(&both, RiskGate::default()), Err(Error::Config(_))));
        let prod_quota: PolicyConfig = toml::from_str("[quotas.teams.prod]\napps = 1\n").unwrap();
        let err = Policy::new(&prod_quota, RiskGate::default()).unwrap_err();
        assert_eq!(err.to_string(), "policy configuration: quotas.teams.prod is not a valid team name");
        let ttl: PolicyConfig = toml::from_str("[preview]\nmax_ttl_seconds = 60\n").unwrap();
        assert!(matches!(Policy::new(&ttl, RiskGate::default()), Err(Error::Config(_))));
        let inline: PolicyConfig = toml::from_str("[risk]\npolicy = \"package nameplate.risk\"\n").unwrap();
        assert_eq!(inline.risk.source().unwrap(), PolicySource::Inline("package nameplate.risk"));
    }
}
