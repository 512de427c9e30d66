//! The one error type of the policy crate.
//!
//! Every message is written for the principal that asked: the API shows it as
//! the problem `detail`. [`Error::Denied`] is the only "forbidden" variant
//! (HTTP 403); [`Error::Config`] and [`Error::RiskPolicy`] concern the
//! operator and belong in the log; every other variant is a bad request.

use crate::{Action, Label, QuotaKind, Role};

/// Why a policy decision said no.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A label that is not a lowercase LDH label of 1 to 63 characters.
    #[error("{what} {label:?} is not a valid DNS label: {why}")]
    InvalidLabel {
        /// What the label was meant to be: "team name", "app name", ...
        what: &'static str,
        /// The label as given.
        label: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A well-formed label that the scheme keeps for something else.
    #[error("{what} {label:?} cannot be used: {why}")]
    Unavailable {
        /// What the label was meant to be.
        what: &'static str,
        /// The label as given.
        label: String,
        /// What it is taken by.
        why: &'static str,
    },
    /// An environment that the scheme does not know.
    #[error("unknown environment {env:?}; the environments are {known}")]
    UnknownEnv {
        /// The environment as given.
        env: String,
        /// The configured environments, comma separated.
        known: String,
    },
    /// A region that has no platform zone.
    #[error("unknown region {region:?}; the regions are {known}")]
    UnknownRegion {
        /// The region as given.
        region: String,
        /// The configured regions, comma separated.
        known: String,
    },
    /// No region was given and every platform zone belongs to a region.
    #[error("a region is required; the regions are {known}")]
    RegionRequired {
        /// The configured regions, comma separated.
        known: String,
    },
    /// A name that does not have the shape the scheme or the action needs.
    #[error("{name} does not fit the naming scheme: {why}")]
    NotInScheme {
        /// The name as given.
        name: String,
        /// What shape was expected.
        why: String,
    },
    /// The principal may not do this; the denial says precisely why.
    #[error("{0}")]
    Denied(Denial),
    /// A change would take a team over one of its quotas.
    #[error("quota exceeded: this change would bring {quota} to {would_be}, above the team's limit of {limit}")]
    QuotaExceeded {
        /// Which quota.
        quota: QuotaKind,
        /// The team's limit.
        limit: u64,
        /// The usage the change would lead to.
        would_be: u64,
    },
    /// A preview TTL outside the configured bounds.
    #[error("a preview TTL of {requested} s is out of bounds: it must be between {min} s and {max} s")]
    TtlOutOfBounds {
        /// The TTL asked for, in seconds.
        requested: u64,
        /// The smallest TTL allowed, in seconds.
        min: u64,
        /// The largest TTL allowed, in seconds.
        max: u64,
    },
    /// The policy configuration is inconsistent.
    #[error("policy configuration: {0}")]
    Config(String),
    /// The risk policy could not be loaded or evaluated.
    #[error("risk policy: {0}")]
    RiskPolicy(String),
}

/// Why a principal may not do an action on a target.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The principal's role never permits the action.
    #[error("{a} {role} token may not {action}{hint}", a = article(*role), hint = role_hint(*role))]
    Role {
        /// The principal's role.
        role: Role,
        /// What it tried.
        action: Action,
    },
    /// The name lies in another team's subtree.
    #[error("team {team} may not write {name}: it belongs to team {owner}")]
    OtherTeam {
        /// The principal's team.
        team: Label,
        /// The name it tried to write.
        name: String,
        /// The team that owns the name.
        owner: Label,
    },
    /// The name is the platform's (an apex, an environment node, a nameserver,
    /// an undelegated team zone, ...).
    #[error("team {team} may not write {name}: it belongs to the platform, not to a team subtree")]
    Platform {
        /// The principal's team.
        team: Label,
        /// The name it tried to write.
        name: String,
    },
    /// The name is outside every platform zone.
    #[error("team {team} may not write {name}: it is outside the platform zones")]
    Unmanaged {
        /// The principal's team.
        team: Label,
        /// The name it tried to write.
        name: String,
    },
    /// The name is not inside the zone the write goes to.
    #[error("{name} is not inside zone {zone}")]
    NotInZone {
        /// The name.
        name: String,
        /// The zone's apex.
        zone: String,
    },
    /// The target is another team.
    #[error("team {team} may not {action} of team {target}")]
    OtherTeamTarget {
        /// The principal's team.
        team: Label,
        /// What it tried.
        action: Action,
        /// The team it tried it on.
        target: Label,
    },
    /// A token may only be granted a role that its granter could grant.
    #[error("{a} {role} token may not grant the {granted} role", a = article(*role))]
    Escalation {
        /// The granter's role.
        role: Role,
        /// The role it tried to grant.
        granted: Role,
    },
    /// The action was asked about the wrong kind of target (a caller's bug).
    #[error("{action} does not apply to this target")]
    WrongTarget {
        /// The action.
        action: Action,
    },
}

/// "a" or "an", before a role's name.
fn article(role: Role) -> &'static str {
    match role {
        Role::Admin | Role::Owner => "an",
        Role::Member | Role::Ci => "a",
    }
}

/// What a role may do, appended to [`Denial::Role`] messages.
fn role_hint(role: Role) -> &'static str {
    match role {
        Role::Ci => " (ci tokens may only create and delete previews)",
        Role::Member => " (members may write records, apps and previews of their team)",
        Role::Owner => " (that is for platform admins)",
        Role::Admin => "",
    }
}

impl From<Denial> for Error {
    fn from(denial: Denial) -> Self {
        Error::Denied(denial)
    }
}
