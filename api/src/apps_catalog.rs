//! Apps and their reviews in the catalog.
//!
//! ```text
//! app/<fqdn, lowercase, no trailing dot> -> JSON AppRecord
//! review/<id, 64 random bits in hex>     -> JSON ReviewRecord
//! ```
//!
//! An app's entry is written in the same transaction as its records (or,
//! for a registration the risk gate sends to review, with its review and no
//! records). Decommissioned and denied apps keep their entry.

use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::HEXLOWER;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use policy::{DataClass, Exposure, Finding};
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use zones::{Name, Op, RData, RRset, RecordType, Store, Transaction};

use crate::ApiError;
use crate::zones_catalog::parse_name;

/// The TTL of an app's records.
pub(crate) const APP_TTL: u32 = 300;

/// Where an app's name points: `{"a": [...]}`, `{"aaaa": [...]}` or
/// `{"cname": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum AppTarget {
    /// IPv4 addresses.
    A(Vec<Ipv4Addr>),
    /// IPv6 addresses.
    Aaaa(Vec<Ipv6Addr>),
    /// Another name.
    Cname(String),
}

/// The schema of [`AppTarget`]: one of `{"a": [IPv4, ...]}`,
/// `{"aaaa": [IPv6, ...]}` or `{"cname": name}`. (Written by hand: the
/// derive cannot describe the address types inside a variant.)
impl utoipa::PartialSchema for AppTarget {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        let addresses = |format| {
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format))))
                .min_items(Some(1))
        };
        let only = |key: &str, schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            ObjectBuilder::new()
                .property(key, schema)
                .required(key)
                .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .item(only("a", addresses(KnownFormat::Ipv4).into()))
            .item(only("aaaa", addresses(KnownFormat::Ipv6).into()))
            .item(only("cname", ObjectBuilder::new().schema_type(Type::String).into()))
            .into()
    }
}

impl utoipa::ToSchema for AppTarget {}

impl AppTarget {
    /// The record type the target is published as.
    pub(crate) fn rtype(&self) -> RecordType {
        match self {
            AppTarget::A(_) => RecordType::A,
            AppTarget::Aaaa(_) => RecordType::AAAA,
            AppTarget::Cname(_) => RecordType::CNAME,
        }
    }

    /// The RRset at `fqdn` that publishes the target; refuses an empty or
    /// repeated address list and a CNAME that is no domain name.
    pub(crate) fn rrset(&self, fqdn: &Name) -> Result<RRset, ApiError> {
        let mut set = RRset::new(fqdn, self.rtype(), APP_TTL);
        let rdatas: Vec<RData> = match self {
            AppTarget::A(addrs) => addrs.iter().map(|a| RData::A(A(*a))).collect(),
            AppTarget::Aaaa(addrs) => addrs.iter().map(|a| RData::AAAA(AAAA(*a))).collect(),
            AppTarget::Cname(name) => vec![RData::CNAME(CNAME(parse_name("cname target", name)?))],
        };
        if rdatas.is_empty() {
            return Err(ApiError::InvalidRequest("target lists no addresses".to_owned()));
        }
        for rdata in rdatas {
            if !set.insert(rdata) {
                return Err(ApiError::InvalidRequest("target lists an address twice".to_owned()));
            }
        }
        Ok(set)
    }

    /// The number of records the target publishes.
    pub(crate) fn records(&self) -> i64 {
        match self {
            AppTarget::A(a) => a.len() as i64,
            AppTarget::Aaaa(a) => a.len() as i64,
            AppTarget::Cname(_) => 1,
        }
    }
}

/// Where an app is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AppStatus {
    /// Its records are published.
    Live,
    /// It waits for an admin's review; no records.
    Pending,
    /// An admin denied it; no records.
    Denied,
    /// Its team removed it; no records.
    Decommissioned,
}

impl AppStatus {
    /// Whether the app counts against its team's apps quota and blocks a
    /// new registration of its name.
    pub(crate) fn is_active(self) -> bool {
        matches!(self, AppStatus::Live | AppStatus::Pending)
    }
}

/// An app as stored and as `GET /apps` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppRecord {
    /// The app's name, lowercase, without the trailing dot.
    pub(crate) fqdn: String,
    /// The app label.
    pub(crate) name: String,
    /// The owning team.
    pub(crate) team: String,
    /// The environment.
    pub(crate) env: String,
    /// The region, if any.
    pub(crate) region: Option<String>,
    /// Where the name points.
    pub(crate) target: AppTarget,
    /// Who answers for the app (free text, e.g. an e-mail address).
    pub(crate) owner: String,
    /// Who can reach it.
    pub(crate) exposure: Exposure,
    /// The most sensitive data it handles.
    pub(crate) data_class: DataClass,
    /// Capabilities it asked for.
    pub(crate) capabilities: Vec<String>,
    /// The risk gate's decision: `auto`, `annotated` or `review`.
    pub(crate) gate: String,
    /// What the risk gate found.
    pub(crate) findings: Vec<Finding>,
    /// Days to fix the findings in (annotated apps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) remediation_days: Option<u32>,
    /// Live, pending, denied or decommissioned.
    pub(crate) status: AppStatus,
    /// The review of a gated registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) review: Option<String>,
    /// When it was registered (RFC 3339).
    pub(crate) created_at: String,
    /// When its status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) updated_at: Option<String>,
}

impl AppRecord {
    /// The app's name as a DNS name.
    pub(crate) fn name(&self) -> Result<Name, ApiError> {
        parse_name("app", &self.fqdn)
    }

    /// The change that publishes the app's records.
    pub(crate) fn publish(&self) -> Result<Op, ApiError> {
        Ok(Op::ReplaceRRset(self.target.rrset(&self.name()?)?))
    }

    /// The change that withdraws the app's records.
    pub(crate) fn withdraw(&self) -> Result<Op, ApiError> {
        Ok(Op::RemoveRRset(self.name()?, self.target.rtype()))
    }
}

/// Where a review is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReviewStatus {
    /// Waiting for an admin.
    Pending,
    /// Approved: the app went live.
    Approved,
    /// Denied: the app stays unpublished.
    Denied,
    /// The app was decommissioned before a decision.
    Withdrawn,
}

/// A review of a gated registration, as stored and returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewRecord {
    /// The review's id (64 random bits in hex).
    pub(crate) id: String,
    /// The app under review.
    pub(crate) fqdn: String,
    /// The app's team.
    pub(crate) team: String,
    /// Why it needs review.
    pub(crate) findings: Vec<Finding>,
    /// Pending, approved, denied or withdrawn.
    pub(crate) status: ReviewStatus,
    /// Who registered the app (token and team).
    pub(crate) requested_by: String,
    /// When it was opened (RFC 3339).
    pub(crate) created_at: String,
    /// Who decided (token and team).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) decided_by: Option<String>,
    /// When it was decided (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) decided_at: Option<String>,
    /// The reviewer's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
}

fn app_key(fqdn: &str) -> Vec<u8> {
    format!("app/{fqdn}").into_bytes()
}

fn review_key(id: &str) -> Vec<u8> {
    format!("review/{id}").into_bytes()
}

/// A new random review id.
pub(crate) fn new_review_id() -> Result<String, ApiError> {
    Ok(HEXLOWER.encode(&crate::tokens::random::<8>(&SystemRandom::new())?))
}

/// The app at `fqdn` (lowercase, no trailing dot), if any.
pub(crate) fn get(store: &Store, fqdn: &str) -> Result<Option<AppRecord>, ApiError> {
    match store.catalog_get(&app_key(fqdn))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Every app, by name.
pub(crate) fn list(store: &Store) -> Result<Vec<AppRecord>, ApiError> {
    store.catalog_scan(b"app/")?.iter().map(|(_, bytes)| Ok(serde_json::from_slice(bytes)?)).collect()
}

/// Adds `app`'s entry to `tx`.
pub(crate) fn stage(tx: &mut Transaction, app: &AppRecord) -> Result<(), ApiError> {
    tx.catalog_put(&app_key(&app.fqdn), serde_json::to_vec(app)?);
    Ok(())
}

/// The review `id`, if any. Ids are hex; anything else is no review.
pub(crate) fn review(store: &Store, id: &str) -> Result<Option<ReviewRecord>, ApiError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    match store.catalog_get(&review_key(id))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Every review, by id.
pub(crate) fn reviews(store: &Store) -> Result<Vec<ReviewRecord>, ApiError> {
    store.catalog_scan(b"review/")?.iter().map(|(_, bytes)| Ok(serde_json::from_slice(bytes)?)).collect()
}

/// Adds `review`'s entry to `tx`.
pub(crate) fn stage_review(tx: &mut Transaction, review: &ReviewRecord) -> Result<(), ApiError> {
    tx.catalog_put(&review_key(&review.id), serde_json::to_vec(review)?);
    Ok(())
}
