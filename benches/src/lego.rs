//! lego's end-to-end issuance time, one `lego run` per round and target,
//! alternating: nameplate with dns-01 (lego's rfc2136 provider writes the
//! TXT record through nameplate's UPDATE with a TSIG key of the team; the
//! CA checks it in-process), nameplate with pre-authorization (no
//! challenge), and Pebble validating against Knot DNS (the same provider
//! updating Knot). Each run is a fresh lego account (nameplate's with a
//! fresh EAB key, made before the clock starts) for one name in [`ZONE`].

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use nameplate_tests::acme_peers::{Knot, Pebble};
use nameplate_tests::server::CmdOutput;
use nameplate_tests::tools::{lego_files, lego_rfc2136, lego_with_nameplate};
use rand::RngCore;

use crate::setup::{TEAM, Target, ZONE, non_empty};

/// One thing lego runs against.
enum Arm {
    /// nameplate's ACME server, with lego's rfc2136 provider on its UPDATE.
    Nameplate { label: &'static str, target: Target, tsig: (String, String) },
    /// Pebble, with lego's rfc2136 provider on Knot.
    Pebble { pebble: Pebble, knot: Knot },
}

impl Arm {
    fn label(&self) -> &'static str {
        match self {
            Self::Nameplate { label, .. } => label,
            Self::Pebble { .. } => "pebble+knot",
        }
    }

    /// One `lego run` for `name` with its state in `path`: how long it took.
    fn issue(&self, path: &Path, name: &str, opts: &LegoOpts) -> Result<Duration> {
        let mut cmd = match self {
            Self::Nameplate { target, tsig, .. } => {
                let (kid, hmac) = target.eab()?;
                let mut cmd = lego_rfc2136(path, target.server().addr(), tsig);
                lego_with_nameplate(&mut cmd, target.server(), &(kid, hmac));
                cmd
            }
            Self::Pebble { pebble, knot } => {
                let mut cmd = lego_rfc2136(path, knot.addr(), knot.key());
                cmd.args(["--server", pebble.directory()]).env("LEGO_CA_CERTIFICATES", pebble.cert());
                cmd
            }
        };
        // lego sleeps one polling interval (default 2 s) before its
        // propagation check, even with the check disabled.
        cmd.args(["-d", name, "run"]).env("RFC2136_POLLING_INTERVAL", opts.polling_interval.to_string());
        // `output()` waits for the exit itself, so the time is exact (the
        // harness's `run` polls every 10 ms); lego has timeouts of its own.
        let began = Instant::now();
        let out = cmd.stdin(Stdio::null()).output().context("running lego (apt-get install lego)")?;
        let took = began.elapsed();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let out = CmdOutput { status: out.status, stdout: text(&out.stdout), stderr: text(&out.stderr) };
        if opts.show_output {
            eprintln!("---- lego against {} ----\n{}", self.label(), out.text());
        }
        ensure!(out.ok(), "lego against {} failed:\n{}", self.label(), out.text());
        let (cert, _) = lego_files(path, name);
        ensure!(non_empty(&cert), "lego against {} wrote no {}", self.label(), cert.display());
        Ok(took)
    }
}

/// How lego is run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LegoOpts {
    /// Rounds, each one run against every target.
    pub(crate) rounds: usize,
    /// `RFC2136_POLLING_INTERVAL`, seconds.
    pub(crate) polling_interval: u64,
    /// Print each run's output on stderr.
    pub(crate) show_output: bool,
}

/// Runs `opts.rounds` rounds and prints each and the medians.
pub(crate) fn compare(opts: &LegoOpts) -> Result<()> {
    let rounds = opts.rounds;
    let dir = tempfile::Builder::new().prefix("ca-load-lego-").tempdir()?;
    let arms = start_arms(dir.path())?;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); arms.len()];
    for round in 0..rounds {
        let mut line = format!("round {}/{rounds}:", round + 1);
        // Rotate who goes first, so drift within a round hits all alike.
        for k in 0..arms.len() {
            let a = (round + k) % arms.len();
            let path = dir.path().join(format!("lego-{round}-{a}"));
            let name = format!("lego{round}.{ZONE}");
            let took = arms[a].issue(&path, &name, opts).with_context(|| format!("round {}", round + 1))?;
            times[a].push(took);
            line.push_str(&format!(" {} {:.3}s", arms[a].label(), took.as_secs_f64()));
        }
        println!("{line}");
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    let mut line = format!("lego median of {rounds} (min-max):");
    for ((arm, m), t) in arms.iter().zip(&medians).zip(&times) {
        // median() sorted them.
        let (lo, hi) = (t.first().copied().unwrap_or_default(), t.last().copied().unwrap_or_default());
        line.push_str(&format!(
            " {} {:.3}s ({:.3}-{:.3})",
            arm.label(),
            m.as_secs_f64(),
            lo.as_secs_f64(),
            hi.as_secs_f64()
        ));
    }
    println!("{line}");
    if let (Some(np), Some(pebble)) = (medians.first(), medians.last()) {
        println!("lego pebble+knot / nameplate-dns01: {:.2}", pebble.as_secs_f64() / np.as_secs_f64().max(1e-9));
    }
    Ok(())
}

/// nameplate with dns-01, nameplate pre-authorized, then Pebble on Knot.
fn start_arms(dir: &Path) -> Result<Vec<Arm>> {
    let nameplate = |label, config| -> Result<Arm> {
        let target = Target::start(config)?;
        let tsig = target.tsig(&format!("{TEAM}-lego."))?;
        Ok(Arm::Nameplate { label, target, tsig })
    };
    let dns01 = nameplate("nameplate-dns01", "[acme]\npre_authorize = false\n")?;
    let preauth = nameplate("nameplate-preauth", "")?;
    let knot = Knot::start(&dir.join("knot"), ZONE, &knot_zone(), &random_key())?;
    let pebble = Pebble::start(dir, knot.addr())?;
    Ok(vec![dns01, preauth, Arm::Pebble { pebble, knot }])
}

/// [`ZONE`] as Knot serves it for Pebble: its apex and nameserver only.
fn knot_zone() -> String {
    format!("$ORIGIN {ZONE}.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 604800 60\n@ NS ns1\nns1 A 127.0.0.1\n")
}

/// A fresh TSIG key for lego's UPDATEs at Knot: `(name, base64 secret)`.
fn random_key() -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    ("lego-knot.".to_owned(), data_encoding::BASE64.encode(&secret))
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &mut [Duration]) -> Duration {
    values.sort_unstable();
    match values.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = |v: &[u64]| v.iter().map(|&x| Duration::from_secs(x)).collect::<Vec<_>>();
        assert_eq!(median(&mut s(&[3, 1, 2])), Duration::from_secs(2));
        assert_eq!(median(&mut s(&[4, 1, 3, 2])), Duration::from_millis(2500));
    }
}
