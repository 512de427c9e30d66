//! Pure policy decisions for nameplate over zones' names: no sockets, files
//! or clocks (the caller passes the time and the policy text).
//!
//! - [`Scheme`]: the naming scheme. Checks labels, team and app names; builds
//!   and parses `app.team.env.<zone>` and `pr-N.app.team.preview.<zone>`
//!   names across region-split platform zones; gives team zones.
//! - [`Scheme::owner`] and [`Scheme::authorize`]: which team owns a name and
//!   whether a [`Principal`] may do an [`Action`] there (the RBAC table is in
//!   the [`access`] module).
//! - [`Quotas`]: per-team limits on apps, previews, records and hosted zones.
//! - [`PreviewConfig`]: preview TTL bounds and expiry.
//! - [`RiskGate`]: the Rego risk gate ([`DEFAULT_POLICY`]) that sends an app
//!   [`Registration`] to [`Gate::Auto`], [`Gate::Annotated`] or [`Gate::Review`],
//!   failing closed.
//! - [`CertConfig`]: certificate issuance rules (names, lifetimes per env
//!   and profile, key types, wildcards), deciding a [`CertDecision`].
//! - [`PolicyConfig`]: the `[policy]` configuration table, and [`Policy`], all
//!   of the above built from it.

pub mod access;
mod certs;
mod config;
mod error;
mod label;
mod preview;
mod quota;
mod risk;
mod scheme;

pub use access::{Action, Owner, Principal, Role, Target};
pub use certs::{CertConfig, CertDecision, CertError, CertKeyType, CertRequest, Profile};
pub use config::{Policy, PolicyConfig, PolicySource, RiskConfig};
pub use error::{Denial, Error};
pub use label::{Label, MAX_LABEL_LEN};
pub use preview::PreviewConfig;
pub use quota::{QuotaConfig, QuotaKind, QuotaOverride, Quotas, Usage, UsageDelta};
pub use risk::{
    DEFAULT_POLICY, DataClass, EVAL_TIME_LIMIT, Exposure, Finding, GATE_RULE, Gate, Registration, RiskGate,
};
pub use scheme::{AppName, NameKind, PlatformZone, Scheme, SchemeConfig, ZoneConfig};
