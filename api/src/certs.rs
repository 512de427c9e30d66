//! Direct issuance and revocation as the API does them, with the running
//! [`ca::issuance::Ca`].
//!
//! The CA records every certificate it signs, with an index of its names
//! ([`ca::pki::CertStore`]), for direct issuance and ACME alike; the API
//! keeps no copy. Every direct issuance is audited in one flushed
//! transaction (the note alone, [`zones::Transaction::event`]) after the CA
//! has recorded the certificate. When the CA keeps its records in the zone
//! store's database (as the server opens it, [`Ca::open_in`]), that one
//! flush makes both durable; otherwise the CA's record is flushed first.
//! Both are awaited without parking a thread, so that an async worker
//! issues inline. If the audit write fails after signing, the certificate
//! is revoked (`superseded`) so that no unaudited certificate stays valid.

use std::sync::Arc;
use std::time::SystemTime;

use ca::issuance::{Ca, IssueError, Issued, KeyRequest};
use ca::pki::{CertRecord, RevocationReason};
use data_encoding::BASE64;
use policy::{CertDecision, CertError};
use zones::Store;

use crate::ApiError;
use crate::audit::Audit;
use crate::previews_catalog::unix_ms;

/// Issues for `decision` and audits it with `audit` (see the module docs).
pub(crate) async fn issue(
    ca: &Ca,
    store: &Store,
    decision: &CertDecision,
    key: KeyRequest,
    audit: Audit,
    now: SystemTime,
) -> Result<Issued, ApiError> {
    let issued = ca.issue_recorded(decision, key, &*store.snapshot(), now).await?;
    if !Arc::ptr_eq(ca.database(), store.database()) {
        // The audit's flush covers the CA's record only on one database.
        ca.store().flush_async().await.map_err(IssueError::from)?;
    }
    let serial = &issued.cert.serial_hex;
    let not_after_ms = unix_ms(issued.cert.not_after);
    let why = serde_json::json!({"serial": serial, "names": decision.names(), "not_after_ms": not_after_ms});
    let audited = async { Ok::<_, ApiError>(store.apply_catalog(audit.why(why).event()?, now).await?) };
    if let Err(e) = audited.await {
        tracing::error!(%serial, error = %e, "auditing an issued certificate failed; revoking it");
        // Blocks this worker for a flush, on a path only a failing disk takes.
        ca.revoke(serial, RevocationReason::Superseded, now)?;
        return Err(e);
    }
    Ok(issued)
}

/// The CA's record of a serial (hex), if it issued one.
pub(crate) fn get(ca: &Ca, serial: &str) -> Result<Option<CertRecord>, ApiError> {
    Ok(ca.store().get(serial).map_err(IssueError::from)?)
}

/// Revokes `record` at the CA (already revoked is no error here) and
/// audits it with the reason beside `audit`'s.
pub(crate) fn revoke(
    ca: &Ca,
    store: &Store,
    record: &CertRecord,
    reason: RevocationReason,
    audit: Audit,
    now: SystemTime,
) -> Result<(), ApiError> {
    match ca.revoke(&record.serial, reason, now) {
        Ok(_) | Err(IssueError::Pki(ca::pki::Error::AlreadyRevoked(_))) => {}
        Err(e) => return Err(e.into()),
    }
    audit.why_also("reason", format!("{reason:?}").into()).record(store, now)
}

/// Revokes the certificates of a removed preview with `audit` (a
/// `cert.revoke` note) for each. A failure is logged, not returned: the
/// preview is gone either way, and its certificates expire on their own.
pub(crate) fn revoke_preview(ca: &Ca, store: &Store, fqdn: &str, audit: &Audit, now: SystemTime) {
    match revoke_below(ca, store, fqdn, audit, now) {
        Ok(serials) if !serials.is_empty() => tracing::info!(preview = %fqdn, ?serials, "certificates revoked"),
        Ok(_) => {}
        Err(error) => tracing::error!(preview = %fqdn, %error, "could not revoke a preview's certificates"),
    }
}

/// Revokes (cessationOfOperation) every unrevoked certificate, issued
/// directly or through ACME, with a name at or below `name` (a preview that
/// expired or was deleted); returns the serials. `audit` is the note for
/// each: its target becomes the serial, and its reason names the preview
/// beside the revocation reason.
fn revoke_below(ca: &Ca, store: &Store, name: &str, audit: &Audit, now: SystemTime) -> Result<Vec<String>, ApiError> {
    let serials = ca.store().serials_at_or_below(name).map_err(IssueError::from)?;
    let mut revoked = Vec::new();
    for serial in serials {
        let Some(record) = get(ca, &serial)?.filter(|r| r.revoked.is_none()) else { continue };
        let audit = audit.clone().target(&serial).why_also("preview", name.into());
        revoke(ca, store, &record, RevocationReason::CessationOfOperation, audit, now)?;
        revoked.push(serial);
    }
    Ok(revoked)
}

/// The DER inside a `CERTIFICATE REQUEST` PEM block.
pub(crate) fn csr_der(pem: &str) -> Result<Vec<u8>, ApiError> {
    let bad = |why: &str| ApiError::InvalidRequest(format!("csr_pem is not a PEM certificate request: {why}"));
    let lines: Vec<&str> = pem.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else { return Err(bad("it is empty")) };
    let labels = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];
    let begins = labels.iter().any(|l| *first == format!("-----BEGIN {l}-----"));
    let ends = labels.iter().any(|l| *last == format!("-----END {l}-----"));
    if !begins || !ends || lines.len() < 3 {
        return Err(bad("expected one BEGIN/END CERTIFICATE REQUEST block"));
    }
    let body: String = lines[1..lines.len() - 1].concat();
    BASE64.decode(body.as_bytes()).map_err(|_| bad("its body is not base64"))
}

impl From<CertError> for ApiError {
    /// Ownership denials are 403 (via the policy error); the rest is the
    /// request's fault (400), except an unusable configuration.
    fn from(e: CertError) -> Self {
        match e {
            CertError::Policy(p) => p.into(),
            CertError::Config(_) => ApiError::Internal(e.to_string()),
            _ => ApiError::InvalidRequest(e.to_string()),
        }
    }
}

impl From<IssueError> for ApiError {
    /// The CA's refusals are 400 (403 for CAA); its failures stay in the log.
    fn from(e: IssueError) -> Self {
        use ca::pki::Error as P;
        match e {
            IssueError::Caa(_) => ApiError::Forbidden(e.to_string()),
            IssueError::Csr(_) | IssueError::CsrNames { .. } | IssueError::KeyType(_) | IssueError::NoIssuer(_) => {
                ApiError::InvalidRequest(e.to_string())
            }
            IssueError::UnknownRegion(_) | IssueError::Pki(P::UnknownSerial(_)) => ApiError::NotFound(e.to_string()),
            IssueError::Pki(P::AlreadyRevoked(_)) => ApiError::Conflict(e.to_string()),
            IssueError::Pki(
                P::Csr(_)
                | P::NoNames
                | P::BadName(_)
                | P::OutsideConstraints(_)
                | P::Lifetime(_)
                | P::KeyNotAllowed(_),
            ) => ApiError::InvalidRequest(e.to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    #[test]
    fn csr_pem_is_decoded() {
        let pem = "-----BEGIN CERTIFICATE REQUEST-----\nAAEC\nAw==\n-----END CERTIFICATE REQUEST-----\n";
        assert_eq!(csr_der(pem).unwrap(), vec![0, 1, 2, 3]);
        assert!(matches!(
            csr_der("-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----"),
            Err(ApiError::InvalidRequest(_))
        ));
        assert!(csr_der("").is_err());
    }
}
