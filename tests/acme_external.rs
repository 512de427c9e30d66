//! dns-01 for a name in an *external* team zone: team hr's owner delegates
//! `hr.apps.company.com` through the API to hr's own nameserver, a Knot
//! DNS on loopback serving the zone, and nameplate's CA checks the
//! challenge by asking that Knot directly (`[acme] external_dns_port` is
//! Knot's port, since the glue carries only an address).
//!
//! - lego (EAB from the API) publishes the TXT record at Knot with its
//!   `rfc2136` provider and a TSIG key Knot accepts; the certificate's
//!   chain verifies, and nameplate never held the record. The same works
//!   when the delegation's nameserver has no glue, being named in another
//!   zone served here (team ops'), whose address record the CA reads.
//! - With 30 stale TXT records at the name, Knot truncates its UDP answer
//!   (with no records in it), so the CA must ask again over TCP; lego's
//!   `exec` provider adds the record with `nsupdate`, keeping the others.
//! - http-01: Knot's zone gives `www` this host's address, which only Knot
//!   knows (nameplate holds the delegation alone), and the CA fetches
//!   lego's answer from there.
//! - With nothing published at Knot (lego's `exec` provider running
//!   `/bin/true`), the order fails `unauthorized`; with Knot stopped, it
//!   fails with a `dns` problem naming Knot's address. No certificate.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hickory_proto::rr::RecordType;
use nameplate_tests::acme_peers::Knot;
use nameplate_tests::api::{Api, eab_key, mint, served_root, start_with_team_https};
use nameplate_tests::server::{CmdOutput, run};
use nameplate_tests::tools::{
    CLIENT_DEADLINE, assert_chain_verifies, lego, lego_files, lego_http01, lego_rfc2136, lego_with_nameplate,
};
use nameplate_tests::{Server, dns, free_port, host_address};
use serde_json::json;

const ZONE: &str = "hr.apps.company.com";
const NAME: &str = "www.hr.apps.company.com";
/// The TSIG key Knot accepts UPDATEs of hr's zone with.
const KEY: &str = "hr-knot";
/// Its secret (32 bytes, base64).
const SECRET: &str = "aHItb3duLWtub3Qtc2VjcmV0LWZvci10aGUtdGVzdHM=";

/// `www`'s address where no test fetches from it (TEST-NET-1).
const NO_HTTP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80));

/// hr's zone as Knot serves it: its nameserver is Knot itself, and `www`
/// has the address `www`. With `filler`, the challenge name holds 30 stale
/// TXT records, too many for a UDP answer (EDNS 1232): Knot's UDP answer is
/// truncated and carries no records, so the CA has to ask again over TCP.
fn zone_file(filler: bool, www: IpAddr) -> String {
    let mut text = format!(
        "$ORIGIN {ZONE}.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 30\n@ NS ns1\nns1 A 127.0.0.1\nwww A {www}\n"
    );
    if filler {
        for i in 10..40 {
            text.push_str(&format!("_acme-challenge.www TXT \"stale-{i}-{}\"\n", "x".repeat(31)));
        }
    }
    text
}

/// hr's own nameserver: Knot on loopback with hr's zone (see
/// [`zone_file`]), accepting UPDATEs signed with `KEY`.
fn knot(dir: &Path, filler: bool, www: IpAddr) -> Knot {
    let key = (KEY.to_owned(), SECRET.to_owned());
    Knot::start(dir, ZONE, &zone_file(filler, www), &key).expect("knotd starts (apt-get install knot)")
}

/// A nameserver outside hr's zone, so without glue: its address is in
/// team ops' zone, served here ([`serve_unglued_ns`]).
const UNGLUED_NS: &str = "ns.ops.apps.company.com";

/// nameplate (pre-authorization off, delegated nameservers asked on
/// `knot.port()`, http-01 fetched from `http01_port` when given) with team
/// hr, whose owner has delegated hr's zone to `ns1.hr.apps.company.com` =
/// 127.0.0.1 through the API.
fn setup(dir: &Path, knot: SocketAddr, http01_port: Option<u16>) -> (Server, Api) {
    let glued = json!([{"name": format!("ns1.{ZONE}"), "addresses": ["127.0.0.1"]}]);
    setup_with(dir, knot, http01_port, glued)
}

/// [`setup`], with hr's zone delegated to `nameservers` (the API's form).
fn setup_with(dir: &Path, knot: SocketAddr, http01_port: Option<u16>, nameservers: serde_json::Value) -> (Server, Api) {
    let mut config = format!("[acme]\npre_authorize = false\nexternal_dns_port = {}\n", knot.port());
    if let Some(port) = http01_port {
        config.push_str(&format!("http01_port = {port}\n"));
    }
    let (server, admin) = start_with_team_https(dir, &config, "hr");
    let owner = admin.with_token(&mint(&admin, "hr", "owner"));
    let zone = json!({"name": ZONE, "team": "hr", "kind": "external", "nameservers": nameservers});
    owner.post("/api/v1/zones", &zone).expect("delegate hr").expect_status(201).expect("201");
    (server, admin)
}

/// The lego command's common part: nameplate's directory and a fresh EAB
/// key of hr's (single use, so each account gets its own).
fn with_acme(mut cmd: Command, server: &Server, admin: &Api) -> Command {
    lego_with_nameplate(&mut cmd, server, &eab_key(admin, "hr")).args(["-d", NAME, "run"]);
    cmd
}

/// `lego` with its `exec` DNS provider: it runs `program present FQDN
/// VALUE` (and `cleanup ...`), then asks the CA to validate.
fn lego_exec(path: &Path, resolver: SocketAddr, program: &Path) -> Command {
    let mut cmd = lego(path);
    cmd.args(["--dns", "exec", "--dns.disable-cp", "--dns.resolvers", &resolver.to_string()])
        .env("EXEC_PATH", program)
        .env("LEGO_DISABLE_CNAME_SUPPORT", "true");
    cmd
}

/// An `exec` program for lego that adds the TXT record at Knot with
/// `nsupdate` (`update add`, so the records already there stay, unlike
/// lego's `rfc2136` provider, which replaces the RRset) and ignores
/// `cleanup`.
fn nsupdate_script(dir: &Path, knot: SocketAddr) -> PathBuf {
    let path = dir.join("present.sh");
    let (ip, port) = (knot.ip(), knot.port());
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = present ] || exit 0\n\
         printf 'server {ip} {port}\\nzone {ZONE}\\nupdate add %s 60 TXT \"%s\"\\nsend\\n' \"$2\" \"$3\" \
         | nsupdate -t 5 -y hmac-sha256:{KEY}:{SECRET}\n"
    );
    fs::write(&path, script).expect("write the exec program");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn run_lego(cmd: &mut Command) -> CmdOutput {
    run(cmd, CLIENT_DEADLINE).expect("lego runs (apt-get install lego)")
}

/// Panics unless lego's certificate for `NAME` in `lego_dir` verifies
/// against nameplate's root, and nameplate's zone data never took an
/// UPDATE (the record went to Knot only).
fn check_issued(dir: &Path, lego_dir: &Path, admin: &Api) {
    let (leaf, issuer) = lego_files(lego_dir, NAME);
    assert_chain_verifies(&served_root(admin, dir), &issuer, &leaf);
    let audit = admin.get("/api/v1/audit?team=hr").expect("audit").body.to_string();
    assert!(!audit.contains("dns.update"), "nameplate took no UPDATE: {audit}");
}

#[test]
fn lego_gets_a_certificate_through_dns01_answered_by_the_teams_knot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knot = knot(&dir.path().join("knot"), false, NO_HTTP);
    let (server, admin) = setup(dir.path(), knot.addr(), None);
    let lego_dir = dir.path().join("lego");
    let cmd = lego_rfc2136(&lego_dir, knot.addr(), &(KEY.to_owned(), SECRET.to_owned()));
    let out = run_lego(&mut with_acme(cmd, &server, &admin));
    assert!(out.ok(), "lego failed:\n{}\nnameplate:\n{}\nknot:\n{}", out.text(), server.log_tail(), knot.log());
    check_issued(dir.path(), &lego_dir, &admin);
    assert!(knot.log().contains("DDNS, processing"), "Knot took lego's UPDATE:\n{}", knot.log());
}

/// Team ops, its hosted zone and [`UNGLUED_NS`] = 127.0.0.1 in it.
fn serve_unglued_ns(admin: &Api) {
    admin.post("/api/v1/teams", &json!({"name": "ops"})).expect("team ops").expect_status(201).expect("201");
    let zone = json!({"name": "ops.apps.company.com", "team": "ops", "kind": "hosted"});
    admin.post("/api/v1/zones", &zone).expect("ops' zone").expect_status(201).expect("201");
    let address = json!({"rrsets": [{"name": format!("{UNGLUED_NS}."), "type": "A", "ttl": 60,
        "changetype": "REPLACE", "records": [{"content": "127.0.0.1"}]}]});
    let written = admin.patch("/api/v1/zones/ops.apps.company.com/rrsets", &address).expect("PATCH rrsets");
    written.expect_status(204).expect("the nameserver's address is in ops' zone");
}

#[test]
fn a_nameserver_without_glue_is_found_in_the_zones_served_here() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knot = knot(&dir.path().join("knot"), false, NO_HTTP);
    let (server, admin) = setup_with(dir.path(), knot.addr(), None, json!([{"name": UNGLUED_NS}]));
    serve_unglued_ns(&admin);
    let referral = dns::ask(server.addr(), NAME, RecordType::A).expect("nameplate answers");
    let delegated_to: Vec<String> = referral.authorities.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(delegated_to, [format!("{UNGLUED_NS}.")], "the referral names the unglued nameserver: {referral:?}");
    assert!(referral.additionals.iter().all(|r| r.record_type() != RecordType::A), "no glue: {referral:?}");
    let lego_dir = dir.path().join("lego");
    let cmd = lego_rfc2136(&lego_dir, knot.addr(), &(KEY.to_owned(), SECRET.to_owned()));
    let out = run_lego(&mut with_acme(cmd, &server, &admin));
    assert!(out.ok(), "lego failed:\n{}\nnameplate:\n{}\nknot:\n{}", out.text(), server.log_tail(), knot.log());
    check_issued(dir.path(), &lego_dir, &admin);
}

#[test]
fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knot = knot(&dir.path().join("knot"), true, NO_HTTP);
    let (server, admin) = setup(dir.path(), knot.addr(), None);
    let udp = dns::ask(knot.addr(), &format!("_acme-challenge.{NAME}"), RecordType::TXT).expect("Knot answers");
    assert!(udp.metadata.truncation && udp.answers.is_empty(), "Knot truncates the TXT answer over UDP: {udp:?}");
    let lego_dir = dir.path().join("lego");
    let cmd = lego_exec(&lego_dir, server.addr(), &nsupdate_script(dir.path(), knot.addr()));
    let out = run_lego(&mut with_acme(cmd, &server, &admin));
    assert!(out.ok(), "lego failed:\n{}\nnameplate:\n{}\nknot:\n{}", out.text(), server.log_tail(), knot.log());
    check_issued(dir.path(), &lego_dir, &admin);
}

#[test]
fn lego_gets_a_certificate_through_http01_from_the_address_at_the_teams_knot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knot = knot(&dir.path().join("knot"), false, host_address());
    let port = free_port().expect("port");
    let (server, admin) = setup(dir.path(), knot.addr(), Some(port));
    let here = dns::ask(server.addr(), NAME, RecordType::A).expect("nameplate answers");
    assert!(here.answers.is_empty(), "nameplate holds no address for {NAME}, only the delegation: {here:?}");
    let lego_dir = dir.path().join("lego");
    let out = run_lego(&mut with_acme(lego_http01(&lego_dir, port), &server, &admin));
    assert!(out.ok(), "lego failed:\n{}\nnameplate:\n{}\nknot:\n{}", out.text(), server.log_tail(), knot.log());
    check_issued(dir.path(), &lego_dir, &admin);
}

/// lego publishing nothing fails with `problem` (an ACME error type) in
/// its output and leaves no certificate; returns lego's output.
fn order_fails(dir: &Path, server: &Server, admin: &Api, problem: &str) -> String {
    let lego_dir = dir.join(format!("lego-{problem}"));
    let nothing = lego_exec(&lego_dir, server.addr(), Path::new("/bin/true"));
    let out = run_lego(&mut with_acme(nothing, server, admin));
    let text = out.text();
    assert!(!out.ok(), "lego succeeded without a record:\n{text}");
    assert!(text.contains(&format!("urn:ietf:params:acme:error:{problem}")), "not {problem}:\n{text}");
    assert!(!lego_dir.join(format!("certificates/{NAME}.crt")).exists(), "no certificate");
    text
}

#[test]
fn without_the_record_at_knot_the_order_fails_unauthorized() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knot = knot(&dir.path().join("knot"), false, NO_HTTP);
    let (server, admin) = setup(dir.path(), knot.addr(), None);
    let text = order_fails(dir.path(), &server, &admin, "unauthorized");
    assert!(text.contains(&format!("_acme-challenge.{NAME}")), "{text}");
}

#[test]
fn with_knot_stopped_the_order_fails_with_a_dns_problem_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knot = knot(&dir.path().join("knot"), false, NO_HTTP);
    let addr = knot.addr();
    let (server, admin) = setup(dir.path(), addr, None);
    drop(knot);
    let text = order_fails(dir.path(), &server, &admin, "dns");
    assert!(text.contains(&addr.to_string()), "the problem names Knot's address {addr}:\n{text}");
}
