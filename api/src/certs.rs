//! Direct issuance and revocation as the API does them, with the running
//! [`ca::issuance::Ca`].
//!
//! Every issuance is recorded in the catalog with its audit note, in one
//! flushed transaction after the CA has recorded the certificate. When the
//! CA keeps its records in the zone store's database (as the server opens
//! it, [`Ca::open_in`]), that one flush makes both durable; otherwise the
//! CA's record is flushed first. Both are awaited without parking a
//! thread, so that an async worker issues inline:
//!
//! ```text
//! cert/<serial hex>                          -> JSON CertEntry
//! certname/<name, labels reversed>/<serial>  -> serial (one per name)
//! ```
//!
//! The reversed names (`com.company.apps.preview.hr.web.pr-1`) let
//! [`revoke_below`] find every certificate at or below a preview's name
//! with one prefix scan. If the catalog write fails after signing, the
//! certificate is revoked (`superseded`) so that no unaudited certificate
//! stays valid.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use ca::issuance::{Ca, IssueError, Issued, KeyRequest};
use ca::pki::RevocationReason;
use data_encoding::BASE64;
use policy::{CertDecision, CertError};
use serde::{Deserialize, Serialize};
use zones::{Store, Transaction};

use crate::ApiError;
use crate::audit::Audit;
use crate::previews_catalog::unix_ms;

/// A certificate as the catalog records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CertEntry {
    /// Serial, lowercase hex.
    pub(crate) serial: String,
    /// The team it was issued to.
    pub(crate) team: String,
    /// Its names.
    pub(crate) names: Vec<String>,
    /// The region whose intermediate signed it.
    pub(crate) region: String,
    /// End of validity, ms since the Unix epoch.
    pub(crate) not_after_ms: u64,
    /// Whether it has been revoked through the API.
    #[serde(default)]
    pub(crate) revoked: bool,
}

/// Issues for `decision` and records it with `audit` (see the module docs).
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
        // The catalog's flush covers the CA's record only on one database.
        ca.store().flush_async().await.map_err(IssueError::from)?;
    }
    let entry = CertEntry {
        serial: issued.cert.serial_hex.clone(),
        team: decision.team().to_string(),
        names: decision.names().to_vec(),
        region: issued.region.clone(),
        not_after_ms: unix_ms(issued.cert.not_after),
        revoked: false,
    };
    let why = serde_json::json!({"serial": entry.serial, "names": entry.names, "not_after_ms": entry.not_after_ms});
    let recorded = async {
        let tx = audit.why(why).transaction(record(&entry)?)?;
        Ok::<_, ApiError>(store.apply_catalog(tx, now).await?)
    };
    let recorded = recorded.await;
    if let Err(e) = recorded {
        tracing::error!(serial = %entry.serial, error = %e, "recording an issued certificate failed; revoking it");
        // Blocks this worker for a flush, on a path only a failing disk takes.
        ca.revoke(&entry.serial, RevocationReason::Superseded, now)?;
        return Err(e);
    }
    Ok(issued)
}

/// The catalog writes of an issued certificate.
fn record(entry: &CertEntry) -> Result<Transaction, ApiError> {
    let mut tx = Transaction::new();
    tx.catalog_put(&entry_key(&entry.serial), serde_json::to_vec(entry)?);
    for name in &entry.names {
        tx.catalog_put(&name_key(name, &entry.serial), entry.serial.clone().into_bytes());
    }
    Ok(tx)
}

/// The catalog entry of a serial.
pub(crate) fn get(store: &Store, serial: &str) -> Result<Option<CertEntry>, ApiError> {
    match store.catalog_get(&entry_key(serial))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Revokes `entry` at the CA and marks it in the catalog, audited.
pub(crate) fn revoke(
    ca: &Ca,
    store: &Store,
    entry: CertEntry,
    reason: RevocationReason,
    audit: Audit,
    now: SystemTime,
) -> Result<(), ApiError> {
    match ca.revoke(&entry.serial, reason, now) {
        Ok(_) | Err(IssueError::Pki(ca::pki::Error::AlreadyRevoked(_))) => {}
        Err(e) => return Err(e.into()),
    }
    let mut tx = Transaction::new();
    let entry = CertEntry { revoked: true, ..entry };
    tx.catalog_put(&entry_key(&entry.serial), serde_json::to_vec(&entry)?);
    audit.why_also("reason", format!("{reason:?}").into()).commit(store, tx, now)?;
    Ok(())
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

/// Revokes (cessationOfOperation) every unrevoked certificate with a name at
/// or below `name` (a preview that expired or was deleted); returns the
/// serials. `audit` is the note for each: its target becomes the serial, and
/// its reason names the preview beside the revocation reason.
fn revoke_below(ca: &Ca, store: &Store, name: &str, audit: &Audit, now: SystemTime) -> Result<Vec<String>, ApiError> {
    let mut serials = BTreeSet::new();
    for prefix in subtree_prefixes(name) {
        for (_, serial) in store.catalog_scan(&prefix)? {
            serials.insert(String::from_utf8_lossy(&serial).into_owned());
        }
    }
    let mut revoked = Vec::new();
    for serial in serials {
        let Some(entry) = get(store, &serial)?.filter(|e| !e.revoked) else { continue };
        let audit = audit.clone().target(&serial).why_also("preview", name.into());
        revoke(ca, store, entry, RevocationReason::CessationOfOperation, audit, now)?;
        revoked.push(serial);
    }
    Ok(revoked)
}

fn entry_key(serial: &str) -> Vec<u8> {
    format!("cert/{}", serial.to_ascii_lowercase()).into_bytes()
}

fn name_key(name: &str, serial: &str) -> Vec<u8> {
    format!("{}/{serial}", names_prefix(name)).into_bytes()
}

/// The prefixes of the [`name_key`]s of `name` itself and of every name
/// below it.
fn subtree_prefixes(name: &str) -> [Vec<u8>; 2] {
    let prefix = names_prefix(name);
    [format!("{prefix}/").into_bytes(), format!("{prefix}.").into_bytes()]
}

/// `certname/<name, labels reversed>`.
fn names_prefix(name: &str) -> String {
    format!("certname/{}", reversed(name))
}

/// `a.b.c` -> `c.b.a`, lowercase.
fn reversed(name: &str) -> String {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    lower.rsplit('.').collect::<Vec<_>>().join(".")
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
    fn names_reverse_for_subtree_scans() {
        assert_eq!(reversed("pr-1.web.hr.preview.apps.company.com."), "com.company.apps.preview.hr.web.pr-1");
        assert_eq!(reversed("*.x.Apps.com"), "com.apps.x.*");
        assert_eq!(name_key("a.b", "ff"), b"certname/b.a/ff".to_vec());
    }

    #[test]
    fn a_subtree_scan_finds_the_name_and_below_but_not_siblings() {
        let preview = "pr-7.web.hr.preview.apps.company.com";
        let found = |name: &str| subtree_prefixes(preview).iter().any(|p| name_key(name, "ff").starts_with(p));
        assert!(found(preview));
        assert!(found("*.pr-7.web.hr.preview.apps.company.com"));
        assert!(found("a.b.PR-7.web.hr.preview.apps.company.com."));
        assert!(!found("pr-70.web.hr.preview.apps.company.com"));
        assert!(!found("web.hr.preview.apps.company.com"));
    }

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
