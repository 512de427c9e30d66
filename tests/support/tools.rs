//! Outside tools and zone files: `dig`/`kdig` as real clients, the zone
//! generator, and master-file parsing into comparable RRsets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::txt::Parser;

use crate::dns::{rr_text, type_name};
use crate::paths::shared_dir;
use crate::server::{CmdOutput, run};

/// How long `dig`, `kdig` or the generator may run.
const TOOL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `dig @ADDR -p PORT +norecurse +time=2 +tries=2 ARGS...` and returns
/// its stdout; fails on a non-zero exit.
pub fn dig(server: SocketAddr, args: &[&str]) -> Result<String> {
    client("dig", server, &["+norecurse", "+time=2", "+tries=2"], args)
}

/// Runs `kdig @ADDR -p PORT +norecurse +timeout=2 +retry=1 ARGS...` and
/// returns its stdout; fails on a non-zero exit.
pub fn kdig(server: SocketAddr, args: &[&str]) -> Result<String> {
    client("kdig", server, &["+norecurse", "+timeout=2", "+retry=1"], args)
}

fn client(tool: &str, server: SocketAddr, base: &[&str], args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(tool);
    cmd.arg(format!("@{}", server.ip())).args(["-p", &server.port().to_string()]).args(base).args(args);
    let CmdOutput { status, stdout, stderr } = run(&mut cmd, TOOL_DEADLINE)?;
    if !status.success() {
        bail!("{tool} {args:?} failed ({status}):\n{stdout}{stderr}");
    }
    Ok(stdout)
}

/// Runs `python3 shared/bench/genzone.py OUTDIR --apps APPS` and returns the
/// path of the generated `apps.company.com.zone`.
pub fn genzone(outdir: &Path, apps: usize) -> Result<PathBuf> {
    let script = shared_dir().join("bench").join("genzone.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(outdir).args(["--apps", &apps.to_string()]);
    let out = run(&mut cmd, TOOL_DEADLINE)?;
    if !out.status.success() {
        bail!("{} failed ({}):\n{}", script.display(), out.status, out.stderr);
    }
    Ok(outdir.join("apps.company.com.zone"))
}

/// One RRset in comparable form: its TTL and its RDATA texts, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrsetText {
    /// The TTL (the smallest, should the records disagree).
    pub ttl: u32,
    /// Each record's RDATA as text (names lowercased), sorted.
    pub rdata: Vec<String>,
}

/// A zone's RRsets keyed by (lowercased owner, type), from a master file.
pub type ZoneRrsets = BTreeMap<(String, RecordType), RrsetText>;

/// Parses master-file `text` with hickory's zone parser (origin `origin`
/// unless the text sets `$ORIGIN`) into comparable RRsets.
pub fn parse_zone(text: &str, origin: &str) -> Result<ZoneRrsets> {
    let origin = Name::from_ascii(origin).with_context(|| format!("bad origin {origin}"))?;
    let (_, sets) = Parser::new(text, None, Some(origin)).parse().context("parsing master file")?;
    let mut out = ZoneRrsets::new();
    for (key, set) in sets {
        let owner = key.name.to_string().to_ascii_lowercase();
        let records: Vec<_> = set.records_without_rrsigs().collect();
        let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(set.ttl());
        let mut rdata: Vec<String> =
            records.iter().map(|r| rr_text(r).splitn(4, ' ').nth(3).unwrap_or_default().to_string()).collect();
        rdata.sort();
        out.insert((owner, key.record_type), RrsetText { ttl, rdata });
    }
    Ok(out)
}

/// The differences between two parsed zones, one line each (empty if equal).
pub fn diff_zones(want: &ZoneRrsets, got: &ZoneRrsets) -> Vec<String> {
    let mut out = Vec::new();
    for ((owner, rtype), set) in want {
        match got.get(&(owner.clone(), *rtype)) {
            None => out.push(format!("missing {owner} {} {set:?}", type_name(*rtype))),
            Some(other) if other != set => {
                out.push(format!("differs {owner} {}: want {set:?}, got {other:?}", type_name(*rtype)))
            }
            Some(_) => {}
        }
    }
    for ((owner, rtype), set) in got {
        if !want.contains_key(&(owner.clone(), *rtype)) {
            out.push(format!("extra {owner} {} {set:?}", type_name(*rtype)));
        }
    }
    out
}
