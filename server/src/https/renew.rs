//! Renewing the listener's own certificate before it expires.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{CertSlot, Validity};

/// Issues a fresh certificate chain (leaf first) and key for the listener.
/// It runs on a blocking thread, so it may sign and write to the store.
pub type Issue = Arc<dyn Fn() -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> + Send + Sync>;

/// The wait before the first retry of a failed renewal; it doubles on each
/// further failure up to [`RETRY_CAP`].
pub const RETRY_FIRST: Duration = Duration::from_secs(60);

/// The longest wait between two renewal attempts after failures.
pub const RETRY_CAP: Duration = Duration::from_secs(60 * 60);

/// The longest single sleep. Sleeping is measured on the monotonic clock,
/// so waking up now and then re-reads the wall clock after a suspend or a
/// clock step.
const MAX_NAP: Duration = Duration::from_secs(10 * 60);

/// When to renew a certificate valid from `not_before` to `not_after`: once
/// two thirds of its lifetime have passed. A period that ends before it
/// begins renews at `not_before`.
pub fn renew_at(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    let lifetime = not_after.duration_since(not_before).unwrap_or(Duration::ZERO);
    not_before.checked_add(lifetime / 3 * 2).unwrap_or(not_after)
}

/// Renews the certificate in `slot` with `issue` whenever [`renew_at`] of
/// the current one has come, until `shutdown` completes. A failed issuance
/// (or one whose certificate is itself already due) is logged as a warning
/// and retried after [`RETRY_FIRST`], doubling up to [`RETRY_CAP`]; the
/// slot keeps its certificate meanwhile.
pub async fn renew_loop(slot: Arc<CertSlot>, issue: Issue, shutdown: impl Future) {
    let mut shutdown = pin!(shutdown);
    let mut next = due(slot.validity());
    let mut failures = 0;
    loop {
        if let Some(wait) = nap(SystemTime::now(), next) {
            tokio::select! {
                _ = &mut shutdown => return,
                () = tokio::time::sleep(wait) => continue,
            }
        }
        match renew_once(&slot, &issue).await {
            Ok(validity) => {
                failures = 0;
                next = due(validity);
                tracing::info!(not_after = ?validity.not_after, "renewed the HTTPS certificate");
            }
            Err(error) => {
                failures += 1;
                let wait = backoff(failures);
                next = SystemTime::now() + wait;
                tracing::warn!(error = %format!("{error:#}"), ?wait, "renewing the HTTPS certificate failed");
            }
        }
    }
}

fn due(validity: Validity) -> SystemTime {
    renew_at(validity.not_before, validity.not_after)
}

/// How long to sleep at `now` before `next`, at most [`MAX_NAP`]; `None`
/// when `next` has come.
fn nap(now: SystemTime, next: SystemTime) -> Option<Duration> {
    let wait = next.duration_since(now).ok().filter(|wait| !wait.is_zero())?;
    Some(wait.min(MAX_NAP))
}

/// The wait after the `failures`-th failure in a row (counted from 1).
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_CAP)
}

/// Issues, loads into the slot, and returns the new validity.
async fn renew_once(slot: &CertSlot, issue: &Issue) -> anyhow::Result<Validity> {
    let issue = issue.clone();
    let (chain, key) = tokio::task::spawn_blocking(move || issue()).await??;
    let candidate = CertSlot::new(chain, key)?;
    let validity = candidate.validity();
    if nap(SystemTime::now(), due(validity)).is_none() {
        anyhow::bail!("the issued certificate is already due for renewal (not after {:?})", validity.not_after);
    }
    slot.adopt(candidate);
    Ok(validity)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::https::test_pki::TestCa;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(days: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + DAY * 20_000 + DAY * days
    }

    #[test]
    fn renewal_comes_after_two_thirds_of_the_lifetime() {
        assert_eq!(renew_at(at(0), at(90)), at(60));
        assert_eq!(renew_at(at(10), at(16)), at(14));
        let start = at(0);
        let hour = Duration::from_secs(3600);
        assert_eq!(renew_at(start, start + hour), start + Duration::from_secs(2400));
    }

    #[test]
    fn a_backwards_or_empty_period_renews_at_its_start() {
        assert_eq!(renew_at(at(5), at(5)), at(5));
        assert_eq!(renew_at(at(5), at(1)), at(5));
    }

    #[test]
    fn backoff_doubles_from_a_minute_up_to_the_cap() {
        let minutes: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX), RETRY_CAP);
    }

    #[test]
    fn nap_waits_until_next_in_bounded_steps() {
        assert_eq!(nap(at(0), at(0) + Duration::from_secs(5)), Some(Duration::from_secs(5)));
        assert_eq!(nap(at(0), at(30)), Some(MAX_NAP));
        assert_eq!(nap(at(1), at(1)), None);
        assert_eq!(nap(at(2), at(1)), None);
    }

    fn issuer(ca: Arc<TestCa>, calls: Arc<AtomicUsize>) -> Issue {
        Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(ca.leaf_valid(&["localhost"], (2020, 1, 1), (2999, 1, 1)))
        })
    }

    #[tokio::test]
    async fn a_due_certificate_is_replaced() {
        let ca = Arc::new(TestCa::new());
        let (chain, key) = ca.leaf_valid(&["localhost"], (2020, 1, 1), (2021, 1, 1));
        let slot = Arc::new(CertSlot::new(chain.clone(), key).unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(renew_loop(slot.clone(), issuer(ca, calls.clone()), stopped));
        while slot.certified_key().cert == chain {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(()).unwrap();
        task.await.unwrap();
        let year_2999 = SystemTime::UNIX_EPOCH + Duration::from_secs(32_472_144_000);
        assert_eq!(slot.not_after(), year_2999);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the new certificate is not due for centuries");
    }

    #[tokio::test]
    async fn a_failed_issuance_keeps_the_certificate() {
        let ca = TestCa::new();
        let (chain, key) = ca.leaf_valid(&["localhost"], (2020, 1, 1), (2021, 1, 1));
        let slot = Arc::new(CertSlot::new(chain.clone(), key).unwrap());
        let (called, mut was_called) = tokio::sync::mpsc::unbounded_channel();
        let issue: Issue = Arc::new(move || {
            let _ = called.send(());
            anyhow::bail!("the CA is down")
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(renew_loop(slot.clone(), issue, stopped));
        was_called.recv().await.unwrap();
        stop.send(()).unwrap();
        task.await.unwrap();
        assert_eq!(slot.certified_key().cert, chain);
    }

    #[tokio::test]
    async fn an_issued_certificate_that_is_already_due_is_refused() {
        let ca = TestCa::new();
        let (chain, key) = ca.leaf_valid(&["localhost"], (2020, 1, 1), (2021, 1, 1));
        let slot = CertSlot::new(chain.clone(), key).unwrap();
        let stale = ca.leaf_valid(&["localhost"], (2020, 1, 1), (2022, 1, 1));
        let issue: Issue = Arc::new(move || Ok((stale.0.clone(), stale.1.clone_key())));
        assert!(renew_once(&slot, &issue).await.is_err());
        assert_eq!(slot.certified_key().cert, chain);
    }
}
