//! Who may do what where: roles, ownership of name subtrees, and the one
//! authorization check, [`Scheme::authorize`].
//!
//! ## Ownership
//!
//! A team owns, in every platform zone `Z`:
//!
//! - every name at or below `team.env.Z` for each environment `env` (its
//!   endpoints, previews and their `_acme-challenge` names), and
//! - its team zone `team.Z` and everything in it, but only for writes into
//!   that zone itself, i.e. once the team has delegated it as a hosted zone.
//!   The delegation (the NS cut and glue in `Z`) is the [`Action::DelegateZone`]
//!   action on the name `team.Z`.
//!
//! Everything else in a platform zone (the apex, `env.Z`, nameservers,
//! undelegated team zones) belongs to the platform; names outside every
//! platform zone are unmanaged. Only admins write those.
//!
//! ## Roles
//!
//! | action | admin | owner | member | ci |
//! | --- | --- | --- | --- | --- |
//! | [`WriteRecords`](Action::WriteRecords) | anywhere | own subtrees | own subtrees | no |
//! | [`RegisterApp`](Action::RegisterApp) (and decommission) | anywhere | own team | own team | no |
//! | [`CreatePreview`](Action::CreatePreview) | any team | own team | own team | own team |
//! | [`DeletePreview`](Action::DeletePreview) | any team | own team | own team | own team |
//! | [`DelegateZone`](Action::DelegateZone) (and remove it) | any team | own team zone | no | no |
//! | [`ManageTokens`](Action::ManageTokens) | any team, any role | own team, roles owner, member, ci | no | no |
//! | [`ManageTeam`](Action::ManageTeam) (create, quotas, delete) | yes | no | no | no |
//! | [`Review`](Action::Review) (approve or deny gated apps) | yes | no | no | no |
//!
//! Shape comes before ownership: `RegisterApp` needs a stable app name,
//! preview actions need a preview name and `DelegateZone` a team zone name,
//! for every role, since the names are the scheme's and not the caller's.

use std::fmt;

use serde::{Deserialize, Serialize};
use zones::Name;

use crate::scheme::{normalize, relative_labels};
use crate::{Denial, Error, Label, NameKind, Scheme};

/// A principal's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Platform admin: may do anything anywhere.
    Admin,
    /// Team owner: everything within the team, including tokens and delegation.
    Owner,
    /// Team member: records, apps and previews of the team.
    Member,
    /// CI pipeline: previews of the team only.
    Ci,
}

/// Who asks: a role within a team (admins belong to the platform team).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// The role.
    pub role: Role,
    /// The team.
    pub team: Label,
}

/// What a principal wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Change records at a name.
    WriteRecords,
    /// Register or decommission a stable app.
    RegisterApp,
    /// Create a preview.
    CreatePreview,
    /// Delete a preview before it expires.
    DeletePreview,
    /// Delegate a team zone (hosted or external) or remove the delegation.
    DelegateZone,
    /// Create, change or delete teams and their quotas.
    ManageTeam,
    /// Create or revoke a team's tokens.
    ManageTokens,
    /// Approve or deny registrations that a risk gate sent to review.
    Review,
}

/// What an action is done to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A name, written into the zone with apex `zone`.
    Name {
        /// The owner name written.
        name: &'a Name,
        /// The apex of the zone the write goes to.
        zone: &'a Name,
    },
    /// A team (tokens, the team itself).
    Team(&'a Label),
    /// The platform as a whole (creating teams, reviews).
    Platform,
}

/// Who owns a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A team, through one of its env subtrees or its hosted team zone.
    Team(Label),
    /// The platform: inside a platform zone but in no team's subtree.
    Platform,
    /// Outside every platform zone.
    Unmanaged,
}

impl Role {
    /// Whether the role ever permits `action` (ownership is checked apart).
    pub fn permits(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::Owner => !matches!(action, ManageTeam | Review),
            Role::Member => matches!(action, WriteRecords | RegisterApp | CreatePreview | DeletePreview),
            Role::Ci => matches!(action, CreatePreview | DeletePreview),
        }
    }
}

impl Scheme {
    /// Who owns `name` when it is written into the zone with apex `zone`
    /// (see the module documentation).
    pub fn owner(&self, name: &Name, zone: &Name) -> Owner {
        let (name, zone) = (normalize(name), normalize(zone));
        let Some(platform) = self.zone_containing(&name) else {
            return Owner::Unmanaged;
        };
        let labels = relative_labels(&name, platform.apex()).unwrap_or_default();
        let team = |label: &str| self.team(label).ok();
        match labels[..] {
            [.., team_label, env] if self.env(env).is_ok() => team(team_label).map_or(Owner::Platform, Owner::Team),
            [.., top] => match team(top) {
                Some(team) if self.team_zone_apex(&team, platform.apex()).as_ref() == Some(&zone) => Owner::Team(team),
                _ => Owner::Platform,
            },
            [] => Owner::Platform,
        }
    }

    /// Decides whether `who` may do `action` to `target`: `Ok` or a
    /// [`Error::Denied`] that says why (or [`Error::NotInScheme`] when the
    /// name has the wrong shape for the action).
    pub fn authorize(&self, who: &Principal, action: Action, target: Target<'_>) -> Result<(), Error> {
        if !who.role.permits(action) {
            return Err(Denial::Role { role: who.role, action }.into());
        }
        match (action, target) {
            (Action::ManageTeam | Action::Review, _) => Ok(()), // admin only, checked above
            (Action::ManageTokens, Target::Team(team)) => check_team(who, action, team),
            (Action::ManageTokens, _) => Err(Denial::WrongTarget { action }.into()),
            (_, Target::Name { name, zone }) => self.authorize_name(who, action, name, zone),
            (_, _) => Err(Denial::WrongTarget { action }.into()),
        }
    }

    /// Decides whether `who` may create a token with role `role` for `team`:
    /// [`Action::ManageTokens`] on the team, and only admins grant admin.
    pub fn authorize_grant(&self, who: &Principal, team: &Label, role: Role) -> Result<(), Error> {
        self.authorize(who, Action::ManageTokens, Target::Team(team))?;
        if role == Role::Admin && who.role != Role::Admin {
            return Err(Denial::Escalation { role: who.role, granted: role }.into());
        }
        Ok(())
    }

    fn authorize_name(&self, who: &Principal, action: Action, name: &Name, zone: &Name) -> Result<(), Error> {
        let (name, zone) = (normalize(name), normalize(zone));
        if !zone.zone_of(&name) {
            return Err(Denial::NotInZone { name: name.to_ascii(), zone: zone.to_ascii() }.into());
        }
        self.check_shape(action, &name, &zone)?;
        if who.role == Role::Admin {
            return Ok(());
        }
        let owner = match action {
            Action::DelegateZone => self.owner(&name, &name), // the zone it delegates is its own
            _ => self.owner(&name, &zone),
        };
        let team = who.team.clone();
        match owner {
            Owner::Team(owner) if owner == who.team => Ok(()),
            Owner::Team(owner) => Err(Denial::OtherTeam { team, name: name.to_ascii(), owner }.into()),
            Owner::Platform => Err(Denial::Platform { team, name: name.to_ascii() }.into()),
            Owner::Unmanaged => Err(Denial::Unmanaged { team, name: name.to_ascii() }.into()),
        }
    }

    /// Checks that `name` has the shape `action` needs.
    fn check_shape(&self, action: Action, name: &Name, zone: &Name) -> Result<(), Error> {
        let not = |why: &str| Error::NotInScheme { name: name.to_ascii(), why: why.to_owned() };
        match action {
            Action::RegisterApp => match self.parse(name)?.kind() {
                NameKind::Stable => Ok(()),
                NameKind::Preview { .. } => Err(not("an app's name is app.team.env.<zone>, not a preview")),
            },
            Action::CreatePreview | Action::DeletePreview => match self.parse(name)?.kind() {
                NameKind::Preview { .. } => Ok(()),
                NameKind::Stable => Err(not("a preview's name is pr-N.app.team.preview.<zone>")),
            },
            Action::DelegateZone => match self.zone_containing(name) {
                Some(p) if p.apex() == zone && self.delegable(name, zone) => Ok(()),
                _ => Err(not("only a team zone team.<platform zone> is delegated, into its platform zone")),
            },
            _ => Ok(()),
        }
    }

    /// Whether `name` is `team.<zone>` for a valid team name.
    fn delegable(&self, name: &Name, zone: &Name) -> bool {
        matches!(relative_labels(name, zone).as_deref(), Some([team]) if self.team(team).is_ok())
    }

    fn team_zone_apex(&self, team: &Label, platform: &Name) -> Option<Name> {
        Name::from_ascii(format!("{team}.{}", platform.to_ascii())).ok()
    }
}

/// Checks that a team-scoped action is on the principal's own team.
fn check_team(who: &Principal, action: Action, team: &Label) -> Result<(), Error> {
    if who.role == Role::Admin || *team == who.team {
        return Ok(());
    }
    Err(Denial::OtherTeamTarget { team: who.team.clone(), action, target: team.clone() }.into())
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Owner => "owner",
            Role::Member => "member",
            Role::Ci => "ci",
        })
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            "member" => Ok(Role::Member),
            "ci" => Ok(Role::Ci),
            _ => Err(format!("unknown role {text:?}: expected admin, owner, member or ci")),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::WriteRecords => "write records",
            Action::RegisterApp => "register or decommission apps",
            Action::CreatePreview => "create previews",
            Action::DeletePreview => "delete previews",
            Action::DelegateZone => "delegate zones",
            Action::ManageTeam => "manage teams",
            Action::ManageTokens => "manage the tokens",
            Action::Review => "review registrations",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;
    use crate::scheme::tests::{name, split};

    #[test]
    fn roles_parse_what_they_display() {
        for role in [Role::Admin, Role::Owner, Role::Member, Role::Ci] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }

    const ROLES: [Role; 4] = [Role::Admin, Role::Owner, Role::Member, Role::Ci];

    fn who(role: Role, team: &str) -> Principal {
        Principal { role, team: Label::new(team).unwrap() }
    }

    fn label(s: &str) -> Label {
        Label::new(s).unwrap()
    }

    /// Asks about `name` written into `zone` by `role` of team hr.
    fn ask(role: Role, action: Action, owner: &str, zone: &str) -> Result<(), Error> {
        split().authorize(&who(role, "hr"), action, Target::Name { name: &name(owner), zone: &name(zone) })
    }

    #[test]
    fn ownership_follows_env_subtrees_in_every_zone_and_hosted_team_zones() {
        let scheme = split();
        let owner = |n: &str, z: &str| scheme.owner(&name(n), &name(z));
        let hr = Owner::Team(label("hr"));
        assert_eq!(owner("hr.prod.apps.company.com", "apps.company.com"), hr);
        assert_eq!(owner("x.hr.dev.eu-apps.company.com", "eu-apps.company.com"), hr);
        assert_eq!(owner("_acme-challenge.x.hr.prod.apps.company.com", "apps.company.com"), hr);
        assert_eq!(owner("*.hr.staging.us-apps.company.com", "us-apps.company.com"), hr);
        assert_eq!(owner("Pr-1.X.HR.preview.ap.apps.company.com", "ap.apps.company.com"), hr);
        assert_eq!(owner("hr.apps.company.com", "hr.apps.company.com"), hr, "its hosted zone's apex");
        assert_eq!(owner("www.hr.apps.company.com", "hr.apps.company.com"), hr);
        assert_eq!(owner("x.prod.hr.apps.company.com", "hr.apps.company.com"), Owner::Team(label("hr")));
        assert_eq!(owner("www.hr.apps.company.com", "apps.company.com"), Owner::Platform, "not delegated");
        assert_eq!(owner("hr.apps.company.com", "apps.company.com"), Owner::Platform);
        for platform in
            ["apps.company.com", "prod.apps.company.com", "ns1.apps.company.com", "www.prod.apps.company.com"]
        {
            assert_eq!(owner(platform, "apps.company.com"), Owner::Platform, "{platform}");
        }
        assert_eq!(owner("prod.ap.apps.company.com", "apps.company.com"), Owner::Platform);
        assert_eq!(owner("a.b.prod.example.com", "example.com"), Owner::Unmanaged);
    }

    #[test]
    fn the_role_table() {
        use Action::*;
        let table = [
            (WriteRecords, [true, true, true, false]),
            (RegisterApp, [true, true, true, false]),
            (CreatePreview, [true, true, true, true]),
            (DeletePreview, [true, true, true, true]),
            (DelegateZone, [true, true, false, false]),
            (ManageTokens, [true, true, false, false]),
            (ManageTeam, [true, false, false, false]),
            (Review, [true, false, false, false]),
        ];
        for (action, allowed) in table {
            for (role, allowed) in ROLES.into_iter().zip(allowed) {
                assert_eq!(role.permits(action), allowed, "{role} {action}");
            }
        }
    }

    #[test]
    fn the_matrix_of_roles_names_and_actions() {
        use Action::*;
        const Z: &str = "apps.company.com";
        let stable_own = "timesheet.hr.prod.apps.company.com";
        let stable_other = "ledger.fin.prod.apps.company.com";
        let preview_own = "pr-42.timesheet.hr.preview.eu-apps.company.com";
        let preview_other = "pr-42.ledger.fin.preview.apps.company.com";
        let platform = "ns1.apps.company.com";
        // (action, name, zone, [admin, owner, member, ci] allowed)
        let cases = [
            (WriteRecords, stable_own, Z, [true, true, true, false]),
            (WriteRecords, "_acme-challenge.timesheet.hr.prod.apps.company.com", Z, [true, true, true, false]),
            (WriteRecords, stable_other, Z, [true, false, false, false]),
            (WriteRecords, platform, Z, [true, false, false, false]),
            (WriteRecords, "prod.apps.company.com", Z, [true, false, false, false]),
            (WriteRecords, "www.hr.apps.company.com", "hr.apps.company.com", [true, true, true, false]),
            (WriteRecords, "www.fin.apps.company.com", "fin.apps.company.com", [true, false, false, false]),
            (WriteRecords, "www.hr.apps.company.com", Z, [true, false, false, false]),
            (WriteRecords, "www.example.com", "example.com", [true, false, false, false]),
            (RegisterApp, stable_own, Z, [true, true, true, false]),
            (RegisterApp, stable_other, Z, [true, false, false, false]),
            (CreatePreview, preview_own, "eu-apps.company.com", [true, true, true, true]),
            (DeletePreview, preview_own, "eu-apps.company.com", [true, true, true, true]),
            (CreatePreview, preview_other, Z, [true, false, false, false]),
            (DeletePreview, preview_other, Z, [true, false, false, false]),
            (DelegateZone, "hr.apps.company.com", Z, [true, true, false, false]),
            (DelegateZone, "hr.us-apps.company.com", "us-apps.company.com", [true, true, false, false]),
            (DelegateZone, "fin.apps.company.com", Z, [true, false, false, false]),
        ];
        for (action, owner, zone, allowed) in cases {
            for (role, allowed) in ROLES.into_iter().zip(allowed) {
                let result = ask(role, action, owner, zone);
                assert_eq!(result.is_ok(), allowed, "{role} {action} {owner} in {zone}: {result:?}");
                if let Err(err) = result {
                    assert!(matches!(err, Error::Denied(_)), "{role} {action} {owner}: {err:?}");
                }
            }
        }
    }

    #[test]
    fn denials_say_why() {
        let msg = |r: Result<(), Error>| r.unwrap_err().to_string();
        assert_eq!(
            msg(ask(Role::Ci, Action::WriteRecords, "a.hr.prod.apps.company.com", "apps.company.com")),
            "a ci token may not write records (ci tokens may only create and delete previews)"
        );
        assert_eq!(
            msg(ask(Role::Owner, Action::WriteRecords, "a.fin.prod.apps.company.com", "apps.company.com")),
            "team hr may not write a.fin.prod.apps.company.com.: it belongs to team fin"
        );
        assert_eq!(
            msg(ask(Role::Member, Action::WriteRecords, "prod.apps.company.com", "apps.company.com")),
            "team hr may not write prod.apps.company.com.: it belongs to the platform, not to a team subtree"
        );
        assert_eq!(
            msg(ask(Role::Owner, Action::WriteRecords, "a.example.com", "example.com")),
            "team hr may not write a.example.com.: it is outside the platform zones"
        );
        assert_eq!(
            msg(ask(Role::Admin, Action::WriteRecords, "a.example.com", "apps.company.com")),
            "a.example.com. is not inside zone apps.company.com."
        );
        assert_eq!(
            msg(ask(Role::Member, Action::DelegateZone, "hr.apps.company.com", "apps.company.com")),
            "a member token may not delegate zones (members may write records, apps and previews of their team)"
        );
    }

    #[test]
    fn actions_need_names_of_their_shape_even_for_admins() {
        for role in ROLES {
            let preview_as_app =
                ask(role, Action::RegisterApp, "pr-1.a.hr.preview.apps.company.com", "apps.company.com");
            let app_as_preview = ask(role, Action::CreatePreview, "a.hr.preview.apps.company.com", "apps.company.com");
            let garbage = ask(role, Action::DeletePreview, "x.y.apps.company.com", "apps.company.com");
            let sub_zone = ask(role, Action::DelegateZone, "x.hr.apps.company.com", "apps.company.com");
            let env_zone = ask(role, Action::DelegateZone, "prod.apps.company.com", "apps.company.com");
            let wrong_parent = ask(role, Action::DelegateZone, "hr.ap.apps.company.com", "apps.company.com");
            for (what, result) in [
                ("preview as app", preview_as_app),
                ("app as preview", app_as_preview),
                ("garbage", garbage),
                ("sub zone", sub_zone),
                ("env zone", env_zone),
                ("wrong parent", wrong_parent),
            ] {
                let role_denied = matches!(result, Err(Error::Denied(Denial::Role { .. })));
                assert!(role_denied || matches!(result, Err(Error::NotInScheme { .. })), "{role} {what}: {result:?}");
            }
        }
    }

    #[test]
    fn tokens_and_teams() {
        let scheme = split();
        let (hr, fin) = (label("hr"), label("fin"));
        let tokens = |role, team| scheme.authorize(&who(role, "hr"), Action::ManageTokens, Target::Team(team));
        assert!(tokens(Role::Admin, &fin).is_ok());
        assert!(tokens(Role::Owner, &hr).is_ok());
        assert_eq!(tokens(Role::Owner, &fin).unwrap_err().to_string(), "team hr may not manage the tokens of team fin");
        assert!(matches!(tokens(Role::Member, &hr), Err(Error::Denied(Denial::Role { .. }))));
        assert!(matches!(tokens(Role::Ci, &hr), Err(Error::Denied(Denial::Role { .. }))));
        let grant = |role, granted| scheme.authorize_grant(&who(role, "hr"), &hr, granted);
        assert!(grant(Role::Admin, Role::Admin).is_ok());
        for granted in [Role::Owner, Role::Member, Role::Ci] {
            assert!(grant(Role::Owner, granted).is_ok(), "{granted}");
        }
        assert_eq!(
            grant(Role::Owner, Role::Admin).unwrap_err().to_string(),
            "an owner token may not grant the admin role"
        );
        for role in [Role::Owner, Role::Member, Role::Ci] {
            assert!(scheme.authorize(&who(role, "hr"), Action::ManageTeam, Target::Team(&hr)).is_err());
            assert!(scheme.authorize(&who(role, "hr"), Action::Review, Target::Platform).is_err());
        }
        assert!(scheme.authorize(&who(Role::Admin, "platform"), Action::Review, Target::Platform).is_ok());
        let misuse = scheme.authorize(&who(Role::Owner, "hr"), Action::WriteRecords, Target::Team(&hr));
        assert!(matches!(misuse, Err(Error::Denied(Denial::WrongTarget { .. }))));
        let misuse = scheme.authorize(&who(Role::Admin, "hr"), Action::ManageTokens, Target::Platform);
        assert!(matches!(misuse, Err(Error::Denied(Denial::WrongTarget { .. }))));
    }

    #[test]
    fn principals_and_actions_serialize_in_lowercase() {
        let json = serde_json::to_string(&who(Role::Ci, "hr")).unwrap();
        assert_eq!(json, r#"{"role":"ci","team":"hr"}"#);
        assert_eq!(serde_json::to_string(&Action::WriteRecords).unwrap(), r#""write_records""#);
        assert!(serde_json::from_str::<Principal>(r#"{"role":"root","team":"hr"}"#).is_err());
    }
}
