//! The closed-loop driver: `concurrency` tasks, each running one job after
//! another until `count` jobs have started or `secs` have passed, whichever
//! comes first, with every job's latency recorded.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

/// How many distinct error messages a report keeps.
const KEPT_ERRORS: usize = 5;

/// How much work to do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// The most jobs to start (job indices are `0..count`).
    pub(crate) count: u64,
    /// Start no job after this long; `None`: no time limit.
    pub(crate) secs: Option<Duration>,
    /// Jobs in flight at once.
    pub(crate) concurrency: usize,
}

/// What a run did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Jobs that succeeded.
    pub(crate) ok: u64,
    /// Jobs that failed.
    pub(crate) errors: u64,
    /// The first few distinct error messages.
    pub(crate) first_errors: Vec<String>,
    /// From the first job's start to the last job's end.
    pub(crate) elapsed: Duration,
    /// The latency of every successful job, sorted.
    pub(crate) latencies: Vec<Duration>,
}

/// One task's tally.
#[derive(Default)]
struct Tally {
    ok: Vec<Duration>,
    errors: u64,
    first_errors: Vec<String>,
}

/// Runs `job(i)` for `i` in `0..plan.count` (or fewer, see [`Plan::secs`])
/// with `plan.concurrency` jobs in flight, and measures them.
pub(crate) async fn run<F, Fut>(plan: Plan, job: F) -> Result<Outcome>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = plan.secs.map(|s| start + s);
    let mut tasks = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency.max(1) {
        let (job, next) = (Arc::clone(&job), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= plan.count || stop.is_some_and(|s| Instant::now() >= s) {
                    return tally;
                }
                let began = Instant::now();
                match job(i).await {
                    Ok(()) => tally.ok.push(began.elapsed()),
                    Err(e) => tally.error(format!("{e:#}")),
                }
            }
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.ok.extend(tally.ok);
        all.errors += tally.errors;
        for e in tally.first_errors {
            all.keep(e);
        }
    }
    let elapsed = start.elapsed();
    all.ok.sort_unstable();
    let ok = u64::try_from(all.ok.len())?;
    Ok(Outcome { ok, errors: all.errors, first_errors: all.first_errors, elapsed, latencies: all.ok })
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.keep(message);
    }

    fn keep(&mut self, message: String) {
        if self.first_errors.len() < KEPT_ERRORS && !self.first_errors.contains(&message) {
            self.first_errors.push(message);
        }
    }
}

impl Outcome {
    /// Successful jobs per second of wall time.
    pub(crate) fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.ok as f64 / secs } else { 0.0 }
    }

    /// The `p`th percentile latency (nearest rank), or zero with no data.
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

/// The `p`th percentile (0 < p <= 100, nearest rank) of sorted `values`.
pub(crate) fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// One report line: `MODE ok=.. secs=.. rate=../s p50=..ms p99=..ms errors=..`.
pub(crate) struct Line<'a> {
    /// The mode measured.
    pub(crate) mode: &'a str,
    /// What happened.
    pub(crate) outcome: &'a Outcome,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.outcome;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{:<14} ok={} secs={:.2} rate={:.1}/s p50={:.2}ms p99={:.2}ms errors={}",
            self.mode,
            o.ok,
            o.elapsed.as_secs_f64(),
            o.rate(),
            ms(o.percentile(50.0)),
            ms(o.percentile(99.0)),
            o.errors
        )?;
        for e in &o.first_errors {
            write!(f, "\n  error: {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&ms(&[7]), 99.0), Duration::from_millis(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[tokio::test]
    async fn runs_count_jobs_and_counts_errors() {
        let plan = Plan { count: 10, secs: None, concurrency: 3 };
        let out =
            run(plan, |i| async move { if i % 5 == 0 { anyhow::bail!("job {i}") } else { Ok(()) } }).await.unwrap();
        assert_eq!((out.ok, out.errors, out.latencies.len()), (8, 2, 8));
        assert_eq!(out.first_errors.len(), 2);
    }
}
