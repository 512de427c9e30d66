//! Outside tools and zone files: `dig`/`kdig` as real clients, the zone
//! generator, and master-file parsing into comparable RRsets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::txt::Parser;

use crate::dns::{rr_text, type_name};
use crate::paths::shared_dir;
use crate::server::{CmdOutput, Server, run, run_with_input};

/// How long `dig`, `kdig`, openssl, nsupdate or the generator may run.
const TOOL_DEADLINE: Duration = Duration::from_secs(60);

/// How long an ACME client (lego, certbot) may take for one command.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(300);

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

/// Runs `openssl ARGS...` and returns what it printed and how it exited.
pub fn openssl(args: &[&str]) -> Result<CmdOutput> {
    run(Command::new("openssl").args(args), TOOL_DEADLINE)
}

/// Panics unless `openssl verify` accepts `leaf` against the trust anchor
/// `root` with the intermediates in `chain`.
pub fn assert_chain_verifies(root: &Path, chain: &Path, leaf: &Path) {
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let out = openssl(&["verify", "-CAfile", &path(root), "-untrusted", &path(chain), &path(leaf)]).expect("openssl");
    assert!(out.ok() && out.stdout.contains(": OK"), "{} does not verify: {}", leaf.display(), out.text());
}

/// The certificate and issuer files lego (run with `--path path`) writes
/// for `name`: `(leaf, issuer)`, a wildcard's `*` written as `_`.
pub fn lego_files(path: &Path, name: &str) -> (PathBuf, PathBuf) {
    let file = name.replace('*', "_");
    let certs = path.join("certificates");
    (certs.join(format!("{file}.crt")), certs.join(format!("{file}.issuer.crt")))
}

/// A `lego` command (Debian's lego) keeping its state in `path`, terms
/// accepted; the caller adds the CA, a solver, the names and `run`.
pub fn lego(path: &Path) -> Command {
    let mut cmd = Command::new("lego");
    cmd.args(["--email", "ci@hr.example", "--accept-tos"]).arg("--path").arg(path);
    cmd
}

/// A [`lego`] command that solves http-01 itself, serving the challenge on
/// `port` of every address.
pub fn lego_http01(path: &Path, port: u16) -> Command {
    let mut cmd = lego(path);
    cmd.args(["--http", "--http.port", &format!(":{port}")]);
    cmd
}

/// Points `cmd` ([`lego`]) at the ACME directory of `server` (started with
/// [`Server::start_https`]) over TLS, trusting only its root, with the EAB
/// key `eab` = (key id, HMAC key).
pub fn lego_with_nameplate<'a>(cmd: &'a mut Command, server: &Server, eab: &(String, String)) -> &'a mut Command {
    cmd.args(["--server", &format!("{}/acme/directory", server.base_url())])
        .env("LEGO_CA_CERTIFICATES", server.root_pem())
        // `=`: a base64url value may start with '-', which would read as a flag.
        .args(["--eab", &format!("--kid={}", eab.0), &format!("--hmac={}", eab.1)])
}

/// A [`lego`] command whose dns-01 records go to the DNS server at `dns`
/// through lego's `rfc2136` provider with the TSIG key `key` = (name,
/// secret), hmac-sha256. Propagation checks are off: `dns` is the only
/// nameserver.
pub fn lego_rfc2136(path: &Path, dns: SocketAddr, key: &(String, String)) -> Command {
    let dns = dns.to_string();
    let mut cmd = lego(path);
    cmd.args(["--dns", "rfc2136", "--dns.resolvers", &dns, "--dns.disable-cp"])
        .env("RFC2136_NAMESERVER", &dns)
        .env("RFC2136_TSIG_KEY", &key.0)
        .env("RFC2136_TSIG_SECRET", &key.1)
        .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
        .env("RFC2136_SEQUENCE_INTERVAL", "1");
    cmd
}

/// Runs `tool` (`nsupdate` or `knsupdate`) against `server` with the TSIG
/// key `key` (`alg:name:secret`), over TCP when `tcp`, sending one update
/// of `zone` made of `lines`.
pub fn update_tool(
    tool: &str,
    server: SocketAddr,
    key: &str,
    tcp: bool,
    zone: &str,
    lines: &[impl AsRef<str>],
) -> Result<CmdOutput> {
    let mut script = format!("server {} {}\nzone {zone}\n", server.ip(), server.port());
    for line in lines {
        script.push_str(line.as_ref());
        script.push('\n');
    }
    script.push_str("send\n");
    let mut cmd = Command::new(tool);
    cmd.args(["-t", "5", "-y", key]);
    if tcp {
        cmd.arg("-v");
    }
    run_with_input(&mut cmd, Some(&script), TOOL_DEADLINE)
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
