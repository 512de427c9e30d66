//! `/api/v1/certs`: direct issuance (Vault `pki/issue` style, for sandbox
//! runtimes and CI) and revocation by the owning team.
//!
//! Who may issue: every name must be one the token may write records at
//! (admins, owners and members, in the team's own subtrees; the record
//! API's decision); `ci` tokens only for their team's preview names. The
//! policy decides lifetime, key types and wildcards (`policy::CertConfig`),
//! the CA re-checks names, key and CAA before it signs.

use axum::extract::State;
use axum::http::StatusCode;
use ca::issuance::{Ca, KeyRequest, team_of};
use ca::pki::{KeyType, RevocationReason};
use policy::{CertKeyType, CertRequest, Profile};
use serde::{Deserialize, Serialize};
use zones::Name;

use crate::audit::Audit;
use crate::auth::Principal;
use crate::certs;
use crate::extract::{Json, Path};
use crate::zones_catalog::parse_name;
use crate::{ApiError, AppState, rfc3339};

/// The body of `POST /api/v1/certs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCert {
    /// DNS names (SANs), e.g. `web.hr.dev.apps.company.com`; `*.` allowed
    /// as the leftmost label if policy allows wildcards.
    names: Vec<String>,
    /// A PKCS#10 request (PEM) naming exactly `names`; without it the CA
    /// generates the key and returns it.
    #[serde(default)]
    csr_pem: Option<String>,
    /// The key to generate when there is no CSR (default `p256`).
    #[serde(default)]
    key_type: Option<NewKeyType>,
    /// A shorter lifetime than the policy's, in seconds (minimum 300).
    #[serde(default)]
    ttl_seconds: Option<u64>,
    /// `default` (the lifetime of the names' environment) or `shortlived`.
    #[serde(default)]
    profile: Profile,
    /// Also allow TLS client authentication (mTLS).
    #[serde(default)]
    client_auth: bool,
}

/// A key type the CA generates.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NewKeyType {
    /// ECDSA P-256.
    #[default]
    P256,
    /// ECDSA P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

/// An issued certificate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct IssuedCertView {
    /// The leaf, PEM.
    certificate_pem: String,
    /// The leaf then its intermediate, PEM.
    chain_pem: String,
    /// The generated private key (PKCS#8 PEM), only when there was no CSR.
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_pem: Option<String>,
    /// Serial, lowercase hex.
    serial: String,
    /// End of validity (RFC 3339).
    not_after: String,
}

/// The body of `POST /api/v1/certs/{serial}/revoke`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeCert {
    /// RFC 5280 reason code: 0 (default), 1, 3, 4, 5 or 9.
    #[serde(default)]
    reason: Option<u8>,
}

/// `POST /api/v1/certs` (admins, owners and members for names they may
/// write; ci for its team's previews): 201 with the certificate.
#[utoipa::path(operation_id = "certs_issue", post, path = "/api/v1/certs", tag = "certs", request_body = NewCert, responses((status = 201, description = "the certificate, its chain and (when generated) its key", body = IssuedCertView)), security(("bearer" = [])))]
pub(crate) async fn issue(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<NewCert>,
) -> Result<(StatusCode, axum::Json<IssuedCertView>), ApiError> {
    let ca = authority(&state)?;
    let policy = &state.config.policy;
    let key = key_request(policy, &body)?;
    let principal = who.policy()?;
    // Inline on this worker, not under the API's write lock: the decision
    // reads one snapshot (in memory), the signing takes tens of
    // microseconds, and the flushes are awaited without parking a thread,
    // shared with the concurrent issuances.
    let now = state.clock.now();
    let pairs = name_pairs(policy, &state.store.snapshot(), &body.names)?;
    let req = CertRequest {
        names: &pairs,
        profile: body.profile,
        ttl_seconds: body.ttl_seconds,
        client_auth: body.client_auth,
    };
    let decision = policy.certs.decide(&policy.scheme, &principal, &req)?;
    let audit = Audit::by(&who, &who.team, "cert.issue", decision.names().join(","));
    let issued = certs::issue(&ca, &state.store, &decision, key, audit, now).await?;
    tracing::info!(serial = %issued.cert.serial_hex, by = %who.token_id, "certificate issued");
    let view = IssuedCertView {
        certificate_pem: issued.cert.pem,
        chain_pem: issued.cert.chain_pem,
        private_key_pem: issued.private_key_pem,
        serial: issued.cert.serial_hex,
        not_after: rfc3339(issued.cert.not_after),
    };
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// `POST /api/v1/certs/{serial}/revoke` (admin, or an owner or member of
/// the team it was issued to): 204; the region's CRL lists it from now on;
/// 409 when it is revoked already.
#[utoipa::path(operation_id = "certs_revoke", post, path = "/api/v1/certs/{serial}/revoke", tag = "certs", params(("serial" = String, Path, description = "the serial, hex")), request_body = RevokeCert, responses((status = 204, description = "revoked")), security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path(serial): Path<String>,
    Json(body): Json<RevokeCert>,
) -> Result<StatusCode, ApiError> {
    let ca = authority(&state)?;
    let reason = RevocationReason::from_code(body.reason.unwrap_or(0))
        .ok_or_else(|| ApiError::InvalidRequest("reason must be one of 0, 1, 3, 4, 5, 9".to_owned()))?;
    let by = who.clone();
    let serial = serial.to_ascii_lowercase();
    state
        .write(move |store, now| {
            let unknown = || ApiError::NotFound(format!("no certificate {serial}"));
            let record = certs::get(&ca, &serial)?.ok_or_else(unknown)?;
            let team = team_of(&record);
            if !by.is_admin() && (by.team != team || by.role == crate::Role::Ci) {
                return Err(ApiError::Forbidden(format!("certificate {serial} is not team {}'s to revoke", by.team)));
            }
            if record.revoked.is_some() {
                return Err(ApiError::Conflict(format!("certificate {serial} is already revoked")));
            }
            let audit = Audit::by(&by, team, "cert.revoke", &serial);
            certs::revoke(&ca, store, &record, reason, audit, now)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The CA, or 404 when the server runs without one.
pub(super) fn authority(state: &AppState) -> Result<std::sync::Arc<Ca>, ApiError> {
    state.config.ca.clone().ok_or_else(|| ApiError::NotFound("this server has no certificate authority".to_owned()))
}

/// The key to certify; a generated key's type is checked against policy
/// here (the CA checks it again, and a CSR's key).
fn key_request(policy: &policy::Policy, body: &NewCert) -> Result<KeyRequest, ApiError> {
    match (&body.csr_pem, body.key_type) {
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest("give csr_pem or key_type, not both".to_owned())),
        (Some(pem), None) => Ok(KeyRequest::Csr(certs::csr_der(pem)?)),
        (None, kind) => {
            let (key, allowed) = match kind.unwrap_or_default() {
                NewKeyType::P256 => (KeyType::P256, CertKeyType::P256),
                NewKeyType::P384 => (KeyType::P384, CertKeyType::P384),
                NewKeyType::Ed25519 => (KeyType::Ed25519, CertKeyType::Ed25519),
            };
            policy.certs.check_key(allowed)?;
            Ok(KeyRequest::Generate(key))
        }
    }
}

/// Each name with the apex of the zone it lives in: the closest zone served
/// here, else its platform zone.
fn name_pairs(
    policy: &policy::Policy,
    zones: &zones::ZoneSet,
    names: &[String],
) -> Result<Vec<(Name, Name)>, ApiError> {
    names
        .iter()
        .map(|text| {
            let name = parse_name("name", text)?;
            let served = zones.closest_zone(&name).map(|z| z.apex().clone());
            let platform = policy.scheme.zone_containing(&name).map(|z| z.apex().clone());
            let zone = served.or(platform).unwrap_or_else(|| name.clone());
            Ok((name, zone))
        })
        .collect()
}
