//! The preview reaper: removes expired previews' records and catalog entries.
//!
//! [`spawn_reaper`] wakes every [`REAP_INTERVAL`] and asks the injected
//! clock for the time; [`expired`] is the pure decision. Each expired
//! preview is removed in one transaction whose change set has the reason
//! `expired` (so the journal says why the records went).

use std::time::{Duration, SystemTime};

use ca::issuance::Ca;
use zones::{Store, Transaction};

use crate::audit::Audit;
use crate::certs;
use crate::previews_catalog::{self, PreviewRecord};
use crate::{ApiError, AppState};

/// How often the reaper wakes.
pub const REAP_INTERVAL: Duration = Duration::from_millis(250);

/// The author the reaper writes into change sets.
const REAPER: &str = "reaper";

/// The previews of `entries` that have expired at `now` (expiry at or
/// before `now`).
pub(crate) fn expired(entries: &[PreviewRecord], now: SystemTime) -> Vec<&PreviewRecord> {
    entries.iter().filter(|p| p.expiry() <= now).collect()
}

/// Removes every preview expired at `now`; returns their names. A preview
/// that cannot be removed is logged and retried on the next pass, without
/// holding up the others.
#[cfg(test)]
pub(crate) fn reap(store: &Store, policy: &policy::Policy, now: SystemTime) -> Result<Vec<String>, ApiError> {
    reap_with(store, policy, None, now)
}

/// [`reap`], also revoking (cessationOfOperation) the certificates `ca`
/// issued for each removed preview's names.
pub(crate) fn reap_with(
    store: &Store,
    policy: &policy::Policy,
    ca: Option<&Ca>,
    now: SystemTime,
) -> Result<Vec<String>, ApiError> {
    let entries = previews_catalog::list(store)?;
    let mut reaped = Vec::new();
    for preview in expired(&entries, now) {
        match remove(store, policy, preview, now) {
            Ok(()) => {
                if let Some(ca) = ca {
                    let audit = Audit::system(REAPER, &preview.team, "cert.revoke", &preview.fqdn);
                    certs::revoke_preview(ca, store, &preview.fqdn, &audit, now);
                }
                reaped.push(preview.fqdn.clone());
            }
            Err(error) => tracing::error!(preview = %preview.fqdn, %error, "could not remove an expired preview"),
        }
    }
    Ok(reaped)
}

/// Removes `preview`'s RRset and catalog entry in one transaction, journaled
/// with the reason `expired`.
fn remove(store: &Store, policy: &policy::Policy, preview: &PreviewRecord, now: SystemTime) -> Result<(), ApiError> {
    let mut tx = Transaction::new();
    previews_catalog::stage_remove(&mut tx, policy, preview, REAPER, "expired")?;
    let audit = Audit::system(REAPER, &preview.team, "preview.expire", &preview.fqdn);
    audit.why(serde_json::json!({ "expires_at": preview.expires_at })).commit(store, tx, now)?;
    Ok(())
}

/// Starts the reaper on the current tokio runtime.
pub fn spawn_reaper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REAP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let policy = state.config.policy.clone();
            let ca = state.config.ca.clone();
            match state.write(move |store, now| reap_with(store, &policy, ca.as_deref(), now)).await {
                Ok(reaped) => {
                    for fqdn in reaped {
                        tracing::info!(preview = %fqdn, "preview expired and removed");
                    }
                }
                Err(error) => tracing::error!(%error, "the preview reaper failed"),
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::apps_catalog::AppTarget;

    fn preview(pr: u32, expires_at_ms: u64) -> PreviewRecord {
        PreviewRecord {
            fqdn: format!("pr-{pr}.web.hr.preview.apps.company.com"),
            app: "web.hr.prod.apps.company.com".into(),
            team: "hr".into(),
            pr,
            target: AppTarget::Cname("lb.company.com".into()),
            created_by: "test".into(),
            created_at: "2023-11-14T22:13:20Z".into(),
            expires_at: "2023-11-14T22:13:22Z".into(),
            expires_at_ms,
        }
    }

    #[test]
    fn only_previews_at_or_past_their_expiry_are_reaped() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_002_000);
        let entries = [preview(1, 1_700_000_001_999), preview(2, 1_700_000_002_000), preview(3, 1_700_000_002_001)];
        let prs: Vec<u32> = expired(&entries, now).iter().map(|p| p.pr).collect();
        assert_eq!(prs, [1, 2]);
        assert!(expired(&entries, UNIX_EPOCH).is_empty());
        assert!(expired(&[], now).is_empty());
    }
}
