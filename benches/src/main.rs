//! `ca-load`: throughput and latency of nameplate's CA, against the real
//! binary (`NAMEPLATE_BIN`) started with the tests' harness. See
//! `benches/README.md` (`ca.sh`) for what each figure includes.
//!
//! ```text
//! NAMEPLATE_BIN=target/release/nameplate ca-load --concurrency 16 --secs 10 \
//!     acme-preauth acme-dns01 direct-csr direct-keygen
//! NAMEPLATE_BIN=target/release/nameplate ca-load --rounds 5 lego
//! ```
//!
//! Every mode gets a fresh server and data directory. Each measured mode
//! runs `--warmup` untimed jobs first, then jobs until `--count` have
//! started (`--acme-count`, `--direct-count`) or `--secs` have passed, and prints one line: successful jobs,
//! seconds, jobs per second, p50 and p99 latency, errors.

mod acme;
mod csr;
mod direct;
mod lego;
mod load;
mod setup;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use tokio::runtime::Runtime;

use crate::acme::{Authz, Orders};
use crate::direct::Direct;
use crate::lego::LegoOpts;
use crate::load::{Line, Outcome, Plan};
use crate::setup::{Target, ZONE};

/// Measures nameplate's CA: ACME orders/s, direct issuance certs/s, lego end to end.
#[derive(Debug, Parser)]
#[command(name = "ca-load")]
struct Args {
    /// What to measure, in this order.
    #[arg(required = true, value_enum)]
    modes: Vec<Mode>,
    /// Jobs in flight at once (orders or certificate requests).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The most orders per ACME mode (a CSR is made for each before the clock starts).
    #[arg(long, default_value_t = 30_000)]
    acme_count: u64,
    /// The most certificates per direct mode.
    #[arg(long, default_value_t = 1_000_000)]
    direct_count: u64,
    /// Start no job after this many seconds; 0: only the counts stop a run.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Untimed jobs before each measurement.
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// Distinct names (and CSRs) the direct modes use in turn.
    #[arg(long, default_value_t = 1000)]
    direct_pool: usize,
    /// lego rounds (each: one run against every target).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// lego's RFC2136_POLLING_INTERVAL in seconds: lego sleeps this long
    /// before its (disabled) propagation check; lego's own default is 2.
    #[arg(long, default_value_t = 0)]
    lego_polling_interval: u64,
    /// Print every lego run's output on stderr.
    #[arg(long)]
    lego_output: bool,
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// ACME orders with pre-authorized names.
    #[value(name = "acme-preauth")]
    AcmePreauth,
    /// ACME orders through dns-01, the TXT record published with the API.
    #[value(name = "acme-dns01")]
    AcmeDns01,
    /// `POST /api/v1/certs` with a CSR.
    #[value(name = "direct-csr")]
    DirectCsr,
    /// `POST /api/v1/certs`, the CA generating a P-256 key.
    #[value(name = "direct-keygen")]
    DirectKeygen,
    /// lego end to end: nameplate (dns-01, pre-authorized) against Pebble on Knot.
    #[value(name = "lego")]
    Lego,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::AcmePreauth => "acme-preauth",
            Self::AcmeDns01 => "acme-dns01",
            Self::DirectCsr => "direct-csr",
            Self::DirectKeygen => "direct-keygen",
            Self::Lego => "lego",
        }
    }
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ca-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    nameplate_tests::nameplate_bin().context("the binary to measure")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    println!(
        "# ca-load concurrency={} acme_count={} direct_count={} secs={} warmup={} direct_pool={} rounds={} \
         lego_polling_interval={}",
        args.concurrency,
        args.acme_count,
        args.direct_count,
        args.secs,
        args.warmup,
        args.direct_pool,
        args.rounds,
        args.lego_polling_interval
    );
    for &mode in &args.modes {
        let outcome = match mode {
            Mode::AcmePreauth => acme_orders(&runtime, args, Authz::PreAuthorized)?,
            Mode::AcmeDns01 => acme_orders(&runtime, args, Authz::Dns01)?,
            Mode::DirectCsr => direct_certs(&runtime, args, true)?,
            Mode::DirectKeygen => direct_certs(&runtime, args, false)?,
            Mode::Lego => {
                let opts = LegoOpts {
                    rounds: args.rounds,
                    polling_interval: args.lego_polling_interval,
                    show_output: args.lego_output,
                };
                lego::compare(&opts)?;
                continue;
            }
        };
        println!("{}", Line { mode: mode.label(), outcome: &outcome });
    }
    Ok(())
}

/// The measured run's plan: at most `count` jobs.
fn plan(args: &Args, count: u64) -> Plan {
    let secs = (args.secs > 0.0).then(|| Duration::from_secs_f64(args.secs));
    Plan { count, secs, concurrency: args.concurrency }
}

/// `<prefix><i>.<ZONE>` for `i` in `0..n`.
fn names(prefix: &str, n: u64) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}.{ZONE}")).collect()
}

/// Complete orders per second, one account, one new name per order.
fn acme_orders(runtime: &Runtime, args: &Args, authz: Authz) -> Result<Outcome> {
    let config = match authz {
        Authz::PreAuthorized => "",
        Authz::Dns01 => "[acme]\npre_authorize = false\n",
    };
    let target = Target::start(config)?;
    let all: Vec<String> = [names("w", args.warmup), names("n", args.acme_count)].concat();
    let csrs = csr::make_all(&all)?;
    let work: Arc<Vec<(String, Vec<u8>)>> = Arc::new(all.into_iter().zip(csrs).map(|(n, c)| (n, c.der)).collect());
    let eab = target.eab_raw()?;
    runtime.block_on(async {
        let orders = Arc::new(Orders::new(&target, eab, authz).await?);
        let job = |offset: u64| {
            let (orders, work) = (Arc::clone(&orders), Arc::clone(&work));
            move |i: u64| {
                let (orders, work) = (Arc::clone(&orders), Arc::clone(&work));
                async move {
                    let (name, der) = &work[usize::try_from(offset + i)?];
                    orders.complete(name, der).await
                }
            }
        };
        warm_up(args, job(0)).await?;
        load::run(plan(args, args.acme_count), job(args.warmup)).await
    })
}

/// Certificates per second from `POST /api/v1/certs`.
fn direct_certs(runtime: &Runtime, args: &Args, with_csr: bool) -> Result<Outcome> {
    let target = Target::start("")?;
    let pool = names("d", u64::try_from(args.direct_pool.max(1))?);
    let csrs = if with_csr { Some(csr::make_all(&pool)?) } else { None };
    let direct = Arc::new(Direct::new(&target, &pool, csrs.as_deref())?);
    runtime.block_on(async {
        let job = || {
            let direct = Arc::clone(&direct);
            move |i: u64| {
                let direct = Arc::clone(&direct);
                async move { direct.issue(i).await }
            }
        };
        warm_up(args, job()).await?;
        load::run(plan(args, args.direct_count), job()).await
    })
}

/// Runs `--warmup` jobs untimed; any error stops the benchmark.
async fn warm_up<F, Fut>(args: &Args, job: F) -> Result<()>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let warm = load::run(Plan { count: args.warmup, secs: None, concurrency: args.concurrency }, job).await?;
    if warm.errors > 0 {
        bail!("{} of {} warm-up jobs failed: {}", warm.errors, args.warmup, warm.first_errors.join("; "));
    }
    Ok(())
}
