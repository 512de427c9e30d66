//! The platform's naming scheme.
//!
//! The platform serves one or more **platform zones**: one zone, or one per
//! region (`eu-apps.company.com` for `eu`, `us-apps.company.com` for `us`),
//! optionally with a zone that has no region. Below each platform zone:
//!
//! | name | what |
//! | --- | --- |
//! | `app.team.env.<zone>` | a stable endpoint, `env` one of the configured environments |
//! | `pr-N.app.team.preview.<zone>` | a preview of `app` for pull request `N` (N ≥ 1) |
//! | `team.<zone>` | the team's zone, if the team delegated it |
//! | `env.<zone>` | holds the endpoints of every team in that environment |
//!
//! An app's region picks its zone. Labels are lowercase LDH ([`Label`]). A
//! team name may not be an environment, a region or a reserved label, nor the
//! label a nested platform zone occupies, since `hr.apps.company.com` is team
//! hr's zone while `prod.apps.company.com` holds every team's prod endpoints.
//! App names may not be reserved labels (`_acme-challenge`, `www`, ...).

use serde::Deserialize;
use zones::Name;

use crate::{Error, Label};

/// The naming scheme as configured (the `[policy.scheme]` table).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemeConfig {
    /// The platform zones; at most one without a region.
    pub zones: Vec<ZoneConfig>,
    /// The environments, each a label directly below every platform zone.
    pub envs: Vec<String>,
    /// The environment that holds previews; one of `envs`.
    pub preview_env: String,
    /// Labels no team or app may take.
    pub reserved: Vec<String>,
}

/// One platform zone in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's apex, e.g. `eu-apps.company.com`.
    pub apex: String,
    /// The region whose apps live here; none for the default zone.
    #[serde(default)]
    pub region: Option<String>,
}

impl Default for SchemeConfig {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Self {
            zones: vec![ZoneConfig { apex: "apps.company.com".into(), region: None }],
            envs: strings(&["prod", "staging", "dev", "preview"]),
            preview_env: "preview".into(),
            reserved: strings(&["ns1", "ns2", "www", "_acme-challenge", "api", "mail", "acme"]),
        }
    }
}

/// A platform zone: its apex and the region it serves, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformZone {
    apex: Name,
    region: Option<Label>,
}

impl PlatformZone {
    /// The zone's apex, lowercase and fully qualified.
    pub fn apex(&self) -> &Name {
        &self.apex
    }

    /// The region this zone serves; `None` for the default zone.
    pub fn region(&self) -> Option<&Label> {
        self.region.as_ref()
    }
}

/// The validated naming scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheme {
    /// Longest apex first, so the first zone that contains a name is its closest.
    pub(crate) zones: Vec<PlatformZone>,
    pub(crate) envs: Vec<Label>,
    pub(crate) preview_env: Label,
    pub(crate) reserved: Vec<String>,
    /// Labels that nested platform zones occupy below their parent zone.
    pub(crate) nested: Vec<String>,
}

/// Whether a name is a stable endpoint or a preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// `app.team.env.<zone>`.
    Stable,
    /// `pr-N.app.team.preview.<zone>`.
    Preview {
        /// The pull request number N.
        pr: u32,
    },
}

/// An app's name taken apart: built by [`Scheme::stable`] or
/// [`Scheme::preview`], or parsed from a name by [`Scheme::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppName {
    kind: NameKind,
    app: Label,
    team: Label,
    env: Label,
    region: Option<Label>,
    zone: Name,
    fqdn: Name,
}

impl AppName {
    /// Stable or preview.
    pub fn kind(&self) -> NameKind {
        self.kind
    }

    /// The app label.
    pub fn app(&self) -> &Label {
        &self.app
    }

    /// The owning team.
    pub fn team(&self) -> &Label {
        &self.team
    }

    /// The environment (the preview environment for a preview).
    pub fn env(&self) -> &Label {
        &self.env
    }

    /// The region of the platform zone, if it has one.
    pub fn region(&self) -> Option<&Label> {
        self.region.as_ref()
    }

    /// The apex of the platform zone the name lives in.
    pub fn zone(&self) -> &Name {
        &self.zone
    }

    /// The fully qualified, lowercase name.
    pub fn fqdn(&self) -> &Name {
        &self.fqdn
    }
}

impl Scheme {
    /// Checks `config` and builds the scheme.
    pub fn new(config: &SchemeConfig) -> Result<Self, Error> {
        let zones = platform_zones(&config.zones)?;
        let nested = nested_labels(&zones);
        let reserved = reserved_labels(&config.reserved)?;
        let mut envs = Vec::with_capacity(config.envs.len());
        for env in &config.envs {
            let env = Label::parse("environment", env).map_err(config_error)?;
            if envs.contains(&env) {
                return Err(Error::Config(format!("environment {env} is listed twice")));
            }
            envs.push(env);
        }
        let preview_env = Label::parse("preview environment", &config.preview_env).map_err(config_error)?;
        if !envs.contains(&preview_env) {
            return Err(Error::Config(format!("preview_env {preview_env} is not one of the environments")));
        }
        let scheme = Self { zones, envs, preview_env, reserved, nested };
        scheme.check_envs_are_free()?;
        Ok(scheme)
    }

    /// The platform zones, longest apex first.
    pub fn zones(&self) -> &[PlatformZone] {
        &self.zones
    }

    /// The environments.
    pub fn envs(&self) -> &[Label] {
        &self.envs
    }

    /// The environment that holds previews.
    pub fn preview_env(&self) -> &Label {
        &self.preview_env
    }

    /// The platform zone of `region`, or the zone without a region for `None`.
    pub fn zone_for(&self, region: Option<&str>) -> Result<&PlatformZone, Error> {
        let found = self.zones.iter().find(|z| z.region.as_ref().map(Label::as_str) == region);
        found.ok_or_else(|| match region {
            Some(region) => Error::UnknownRegion { region: region.to_owned(), known: self.regions() },
            None => Error::RegionRequired { known: self.regions() },
        })
    }

    /// The closest platform zone at or above `name`, if any.
    pub fn zone_containing(&self, name: &Name) -> Option<&PlatformZone> {
        self.zones.iter().find(|z| z.apex.zone_of(name))
    }

    /// Checks that `env` is a configured environment.
    pub fn env(&self, env: &str) -> Result<Label, Error> {
        let label = Label::parse("environment", env)?;
        if self.envs.contains(&label) {
            return Ok(label);
        }
        Err(Error::UnknownEnv { env: env.to_owned(), known: join(self.envs.iter().map(Label::as_str)) })
    }

    /// Checks an app name: a valid label that is not reserved.
    pub fn app(&self, app: &str) -> Result<Label, Error> {
        let label = Label::parse("app name", app)?;
        if self.is_reserved(app) {
            return Err(Error::Unavailable { what: "app name", label: app.to_owned(), why: "it is reserved" });
        }
        Ok(label)
    }

    /// Checks a team name: a valid label that is not an environment, a
    /// region, a reserved label or a label a nested platform zone takes.
    pub fn team(&self, team: &str) -> Result<Label, Error> {
        let label = Label::parse("team name", team)?;
        match self.taken_by(team) {
            Some(why) => Err(Error::Unavailable { what: "team name", label: team.to_owned(), why }),
            None => Ok(label),
        }
    }

    /// The zone a team may delegate: `team.<platform zone of region>`.
    pub fn team_zone(&self, team: &str, region: Option<&str>) -> Result<Name, Error> {
        let team = self.team(team)?;
        let zone = self.zone_for(region)?;
        prepend(&[&team], &zone.apex)
    }

    /// The stable endpoint `app.team.env.<zone of region>`.
    pub fn stable(&self, app: &str, team: &str, env: &str, region: Option<&str>) -> Result<AppName, Error> {
        let zone = self.zone_for(region)?;
        self.app_name(NameKind::Stable, [app, team, env], zone)
    }

    /// The preview `pr-N.app.team.<preview env>.<zone of region>`.
    pub fn preview(&self, pr: u32, app: &str, team: &str, region: Option<&str>) -> Result<AppName, Error> {
        let zone = self.zone_for(region)?;
        self.app_name(NameKind::Preview { pr: check_pr(pr)? }, [app, team, self.preview_env.as_str()], zone)
    }

    /// The preview of `app` for pull request `pr`, in the same zone.
    pub fn preview_of(&self, app: &AppName, pr: u32) -> Result<AppName, Error> {
        self.preview(pr, app.app.as_str(), app.team.as_str(), app.region.as_ref().map(Label::as_str))
    }

    /// Takes `name` apart (case-insensitively, as DNS compares names), or says
    /// why it is not an app or preview name.
    pub fn parse(&self, name: &Name) -> Result<AppName, Error> {
        let name = normalize(name);
        let not = |why: &str| Error::NotInScheme { name: name.to_ascii(), why: why.to_owned() };
        let zone = self.zone_containing(&name).ok_or_else(|| not("it is outside every platform zone"))?;
        let labels = relative_labels(&name, &zone.apex).ok_or_else(|| not("its labels must be ASCII"))?;
        match labels[..] {
            [app, team, env] => self.app_name(NameKind::Stable, [app, team, env], zone),
            [pr, app, team, env] if env == self.preview_env.as_str() => {
                let pr = parse_pr(pr).ok_or_else(|| not("a preview's first label must be pr-N, with N from 1"))?;
                self.app_name(NameKind::Preview { pr }, [app, team, env], zone)
            }
            [_, _, _, _] => Err(not(&format!("a preview name needs {} as its environment", self.preview_env))),
            _ => Err(not("expected app.team.env.<zone> or pr-N.app.team.preview.<zone>")),
        }
    }

    fn app_name(&self, kind: NameKind, [app, team, env]: [&str; 3], zone: &PlatformZone) -> Result<AppName, Error> {
        let (app, team, env) = (self.app(app)?, self.team(team)?, self.env(env)?);
        let fqdn = match kind {
            NameKind::Stable => prepend(&[&app, &team, &env], &zone.apex)?,
            NameKind::Preview { pr } => prepend(&[&format!("pr-{pr}"), &app, &team, &env], &zone.apex)?,
        };
        Ok(AppName { kind, app, team, env, region: zone.region.clone(), zone: zone.apex.clone(), fqdn })
    }

    /// What already takes `label` below a platform zone, if anything.
    pub(crate) fn taken_by(&self, label: &str) -> Option<&'static str> {
        if self.envs.iter().any(|e| e.as_str() == label) {
            Some("it is an environment name")
        } else if self.zones.iter().any(|z| z.region.as_ref().is_some_and(|r| r.as_str() == label)) {
            Some("it is a region name")
        } else if self.is_reserved(label) {
            Some("it is reserved")
        } else if self.nested.iter().any(|n| n == label) {
            Some("a platform zone uses it")
        } else {
            None
        }
    }

    fn is_reserved(&self, label: &str) -> bool {
        self.reserved.iter().any(|r| r == label)
    }

    fn check_envs_are_free(&self) -> Result<(), Error> {
        let clash = |env: &Label| {
            let region = self.zones.iter().any(|z| z.region.as_ref() == Some(env));
            region || self.is_reserved(env.as_str()) || self.nested.iter().any(|n| n == env.as_str())
        };
        match self.envs.iter().find(|env| clash(env)) {
            Some(env) => Err(Error::Config(format!("environment {env} is also a region, reserved or a zone label"))),
            None => Ok(()),
        }
    }

    fn regions(&self) -> String {
        let regions: Vec<&str> = self.zones.iter().filter_map(|z| z.region.as_ref().map(Label::as_str)).collect();
        if regions.is_empty() { "none (this platform is not region-split)".to_owned() } else { join(regions) }
    }
}

/// Parses and checks the configured zones, longest apex first.
fn platform_zones(configs: &[ZoneConfig]) -> Result<Vec<PlatformZone>, Error> {
    if configs.is_empty() {
        return Err(Error::Config("at least one platform zone is required".into()));
    }
    let mut zones: Vec<PlatformZone> = Vec::with_capacity(configs.len());
    for config in configs {
        let apex = Name::from_ascii(&config.apex)
            .map_err(|e| Error::Config(format!("platform zone {:?}: {e}", config.apex)))?;
        let apex = normalize(&apex);
        if apex.is_root() {
            return Err(Error::Config("the root cannot be a platform zone".into()));
        }
        let region = config.region.as_deref().map(|r| Label::parse("region", r)).transpose().map_err(config_error)?;
        if zones.iter().any(|z| z.apex == apex) {
            return Err(Error::Config(format!("platform zone {apex} is listed twice")));
        }
        if zones.iter().any(|z| z.region == region) {
            let region = region.as_ref().map_or("(none)", Label::as_str);
            return Err(Error::Config(format!("region {region} has more than one platform zone")));
        }
        zones.push(PlatformZone { apex, region });
    }
    zones.sort_by_key(|z| std::cmp::Reverse(z.apex.iter().count()));
    Ok(zones)
}

/// The labels that platform zones nested in other platform zones take there:
/// `eu` for `eu.apps.company.com` inside `apps.company.com`.
fn nested_labels(zones: &[PlatformZone]) -> Vec<String> {
    let mut labels = Vec::new();
    for outer in zones {
        for inner in zones.iter().filter(|z| z.apex != outer.apex && outer.apex.zone_of(&z.apex)) {
            if let Some(below) = relative_labels(&inner.apex, &outer.apex).and_then(|l| l.last().copied()) {
                labels.push(below.to_owned());
            }
        }
    }
    labels
}

/// Checks the reserved labels: lowercase, one label each (`_` is allowed).
fn reserved_labels(reserved: &[String]) -> Result<Vec<String>, Error> {
    for label in reserved {
        let ok = label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > crate::MAX_LABEL_LEN || !ok {
            return Err(Error::Config(format!("reserved label {label:?} must be one lowercase label")));
        }
    }
    Ok(reserved.to_vec())
}

/// `name`, lowercase and fully qualified, as zones stores names.
pub(crate) fn normalize(name: &Name) -> Name {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    name
}

/// The labels of `name` below `zone`, leftmost first; `None` if one is not
/// ASCII. `zone` must be at or above `name`.
pub(crate) fn relative_labels<'a>(name: &'a Name, zone: &Name) -> Option<Vec<&'a str>> {
    let below = name.iter().count().saturating_sub(zone.iter().count());
    name.iter().take(below).map(|l| std::str::from_utf8(l).ok().filter(|s| s.is_ascii())).collect()
}

/// `labels` (leftmost first) prepended to `zone`.
fn prepend(labels: &[&dyn AsRef<str>], zone: &Name) -> Result<Name, Error> {
    let text: Vec<&str> = labels.iter().map(|l| l.as_ref()).collect();
    let joined = format!("{}.{}", text.join("."), zone.to_ascii());
    Name::from_ascii(&joined).map_err(|_| Error::NotInScheme {
        name: joined,
        why: "it is longer than the 255 octets a name may have".into(),
    })
}

/// Checks a pull request number.
fn check_pr(pr: u32) -> Result<u32, Error> {
    if pr == 0 {
        return Err(Error::NotInScheme { name: "pr-0".into(), why: "pull request numbers start at 1".into() });
    }
    Ok(pr)
}

/// Parses `pr-N`, N from 1 without leading zeros, so each number has one name.
fn parse_pr(label: &str) -> Option<u32> {
    let digits = label.strip_prefix("pr-")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

fn config_error(e: Error) -> Error {
    Error::Config(e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
pub(crate) mod tests {
    use super::*;

    pub(crate) fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    /// `apps.company.com` (no region), `eu-apps.company.com`, `us-apps.company.com`
    /// and `ap.apps.company.com` (nested) for `ap`.
    pub(crate) fn split() -> Scheme {
        let zone = |apex: &str, region: Option<&str>| ZoneConfig { apex: apex.into(), region: region.map(Into::into) };
        Scheme::new(&SchemeConfig {
            zones: vec![
                zone("apps.company.com", None),
                zone("eu-apps.company.com", Some("eu")),
                zone("us-apps.company.com", Some("us")),
                zone("ap.apps.company.com", Some("apac")),
            ],
            ..SchemeConfig::default()
        })
        .unwrap()
    }

    fn single() -> Scheme {
        Scheme::new(&SchemeConfig::default()).unwrap()
    }

    fn unavailable(result: Result<Label, Error>) -> &'static str {
        match result {
            Err(Error::Unavailable { why, .. }) => why,
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[test]
    fn team_names_may_not_collide_with_envs_regions_reserved_or_zones() {
        let scheme = split();
        for env in ["prod", "staging", "dev", "preview"] {
            assert_eq!(unavailable(scheme.team(env)), "it is an environment name", "{env}");
        }
        assert_eq!(unavailable(scheme.team("eu")), "it is a region name");
        assert_eq!(unavailable(scheme.team("apac")), "it is a region name");
        assert_eq!(unavailable(scheme.team("ap")), "a platform zone uses it");
        for reserved in ["ns1", "ns2", "www", "api", "mail"] {
            assert_eq!(unavailable(scheme.team(reserved)), "it is reserved", "{reserved}");
        }
        assert!(matches!(scheme.team("_acme-challenge"), Err(Error::InvalidLabel { .. })));
        assert!(matches!(scheme.team("Hr"), Err(Error::InvalidLabel { what: "team name", .. })));
        assert_eq!(scheme.team("hr").unwrap().as_str(), "hr");
        assert_eq!(single().team("eu").unwrap().as_str(), "eu", "no region eu in a single-zone scheme");
    }

    #[test]
    fn app_names_may_not_be_reserved_but_may_repeat_other_labels() {
        let scheme = single();
        assert_eq!(unavailable(scheme.app("www")), "it is reserved");
        assert!(matches!(scheme.app("_acme-challenge"), Err(Error::InvalidLabel { what: "app name", .. })));
        assert!(scheme.app("prod").is_ok());
        assert!(scheme.app("42").is_ok());
    }

    #[test]
    fn stable_and_preview_names_round_trip() {
        let scheme = single();
        let app = scheme.stable("timesheet", "hr", "prod", None).unwrap();
        assert_eq!(app.fqdn(), &name("timesheet.hr.prod.apps.company.com."));
        assert_eq!(scheme.parse(app.fqdn()).unwrap(), app);
        let pr = scheme.preview_of(&app, 42).unwrap();
        assert_eq!(pr.fqdn(), &name("pr-42.timesheet.hr.preview.apps.company.com."));
        assert_eq!(pr.kind(), NameKind::Preview { pr: 42 });
        assert_eq!(pr.env().as_str(), "preview");
        assert_eq!(scheme.parse(pr.fqdn()).unwrap(), pr);
        assert_eq!(scheme.preview(u32::MAX, "a", "b", None).unwrap().kind(), NameKind::Preview { pr: u32::MAX });
    }

    #[test]
    fn region_picks_the_zone_and_parse_recovers_it() {
        let scheme = split();
        let eu = scheme.stable("shop", "sales", "dev", Some("eu")).unwrap();
        assert_eq!(eu.fqdn(), &name("shop.sales.dev.eu-apps.company.com."));
        assert_eq!(eu.region().map(Label::as_str), Some("eu"));
        let ap = scheme.preview(7, "shop", "sales", Some("apac")).unwrap();
        assert_eq!(ap.fqdn(), &name("pr-7.shop.sales.preview.ap.apps.company.com."));
        let plain = scheme.stable("shop", "sales", "dev", None).unwrap();
        assert_eq!(plain.zone(), &name("apps.company.com."));
        for parsed in [&eu, &ap, &plain] {
            assert_eq!(&scheme.parse(parsed.fqdn()).unwrap(), parsed);
        }
        let parsed = scheme.parse(&name("shop.sales.dev.ap.apps.company.com")).unwrap();
        assert_eq!(parsed.zone(), &name("ap.apps.company.com."), "the closest zone wins");
        assert!(matches!(scheme.stable("a", "b", "prod", Some("mars")), Err(Error::UnknownRegion { .. })));
    }

    #[test]
    fn a_region_is_required_when_there_is_no_default_zone() {
        let config = SchemeConfig {
            zones: vec![ZoneConfig { apex: "eu-apps.company.com".into(), region: Some("eu".into()) }],
            ..SchemeConfig::default()
        };
        let scheme = Scheme::new(&config).unwrap();
        let err = scheme.stable("a", "b", "prod", None).unwrap_err();
        assert_eq!(err.to_string(), "a region is required; the regions are eu");
        assert!(single().stable("a", "b", "prod", Some("eu")).unwrap_err().to_string().contains("not region-split"));
    }

    #[test]
    fn parse_folds_case_and_accepts_relative_names() {
        let scheme = single();
        let parsed = scheme.parse(&name("TimeSheet.HR.Prod.Apps.Company.Com")).unwrap();
        assert_eq!(parsed.fqdn(), &name("timesheet.hr.prod.apps.company.com."));
        assert_eq!((parsed.app().as_str(), parsed.team().as_str(), parsed.env().as_str()), ("timesheet", "hr", "prod"));
    }

    #[test]
    fn parse_says_why_a_name_does_not_fit() {
        let scheme = single();
        let why = |s: &str| match scheme.parse(&name(s)) {
            Err(Error::NotInScheme { why, .. }) => why,
            Err(other) => other.to_string(),
            Ok(parsed) => panic!("{s} parsed as {parsed:?}"),
        };
        assert_eq!(why("a.b.prod.example.com"), "it is outside every platform zone");
        assert!(why("hr.apps.company.com").starts_with("expected app.team.env"));
        assert!(why("hr.prod.apps.company.com").starts_with("expected app.team.env"));
        assert!(why("x.a.b.c.prod.apps.company.com").starts_with("expected app.team.env"));
        assert_eq!(why("pr-1.a.b.prod.apps.company.com"), "a preview name needs preview as its environment");
        for bad in ["pr-0", "pr-01", "pr-", "pr-x", "pr-4294967296", "x"] {
            assert_eq!(
                why(&format!("{bad}.a.b.preview.apps.company.com")),
                "a preview's first label must be pr-N, with N from 1"
            );
        }
        assert!(why("a.b.qa.apps.company.com").starts_with("unknown environment \"qa\""));
        assert!(why("a.prod.prod.apps.company.com").contains("is an environment name"));
        assert!(why("www.hr.prod.apps.company.com").contains("reserved"));
        assert!(why("_acme-challenge.hr.prod.apps.company.com").contains("not a valid DNS label"));
    }

    #[test]
    fn building_rejects_bad_parts_and_overlong_names() {
        let scheme = single();
        assert!(matches!(scheme.stable("App", "hr", "prod", None), Err(Error::InvalidLabel { what: "app name", .. })));
        assert!(matches!(scheme.stable("a", "hr", "qa", None), Err(Error::UnknownEnv { .. })));
        assert!(matches!(scheme.preview(0, "a", "hr", None), Err(Error::NotInScheme { .. })));
        let long = "a".repeat(63);
        assert!(scheme.stable(&long, &long, "prod", None).is_ok());
        let preview = scheme.preview(1, &long, &long, None).unwrap();
        assert!(preview.fqdn().len() <= 255);
        let config = SchemeConfig {
            zones: vec![ZoneConfig { apex: format!("{long}.{long}.com"), region: None }],
            ..SchemeConfig::default()
        };
        let deep = Scheme::new(&config).unwrap();
        let err = deep.stable(&long, &long, "prod", None).unwrap_err();
        assert!(err.to_string().contains("longer than the 255 octets"), "{err}");
    }

    #[test]
    fn team_zone_is_team_dot_platform_zone() {
        let scheme = split();
        assert_eq!(scheme.team_zone("hr", None).unwrap(), name("hr.apps.company.com."));
        assert_eq!(scheme.team_zone("hr", Some("us")).unwrap(), name("hr.us-apps.company.com."));
        assert!(matches!(scheme.team_zone("prod", None), Err(Error::Unavailable { .. })));
    }

    #[test]
    fn config_mistakes_are_reported() {
        let bad = |edit: &dyn Fn(&mut SchemeConfig)| {
            let mut config = SchemeConfig::default();
            edit(&mut config);
            match Scheme::new(&config) {
                Err(Error::Config(why)) => why,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert!(bad(&|c| c.zones.clear()).contains("at least one"));
        assert!(bad(&|c| c.zones.push(c.zones[0].clone())).contains("listed twice"));
        assert!(bad(&|c| c.zones.push(ZoneConfig { apex: "x.com".into(), region: None })).contains("more than one"));
        assert!(bad(&|c| c.zones[0].region = Some("EU".into())).contains("uppercase"));
        assert!(bad(&|c| c.envs.push("Prod".into())).contains("uppercase"));
        assert!(bad(&|c| c.envs.push("prod".into())).contains("listed twice"));
        assert!(bad(&|c| c.preview_env = "pr".into()).contains("not one of the environments"));
        assert!(bad(&|c| c.envs.push("www".into())).contains("environment www"));
        assert!(bad(&|c| c.zones[0].region = Some("dev".into())).contains("environment dev"));
        assert!(bad(&|c| c.reserved.push("a.b".into())).contains("one lowercase label"));
        assert!(bad(&|c| c.zones[0].apex = ".".into()).contains("root"));
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_unknown_fields() {
        let config: SchemeConfig = toml::from_str("envs = [\"prod\", \"preview\"]").unwrap();
        assert_eq!(config.zones, SchemeConfig::default().zones);
        assert_eq!(config.envs, ["prod", "preview"]);
        let config: SchemeConfig =
            toml::from_str("[[zones]]\napex = \"eu-apps.company.com\"\nregion = \"eu\"\n").unwrap();
        assert_eq!(config.zones[0].region.as_deref(), Some("eu"));
        assert!(toml::from_str::<SchemeConfig>("env = []").is_err());
        assert!(toml::from_str::<SchemeConfig>("[[zones]]\napex = \"a.b\"\nteam = \"x\"\n").is_err());
    }
}
