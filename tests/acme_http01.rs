//! http-01 end to end: nameplate with pre-authorization off and
//! `[acme] http01_port` set to a free port, an A record for
//! `web.hr.prod.apps.company.com` published through the API, and lego
//! (EAB from the API) answering the challenge with its built-in HTTP
//! server on that port. The CA fetches from the address in the zone data;
//! the chain verifies. A wildcard cannot be had through http-01 (its
//! authorization offers dns-01 only, RFC 8555 §7.1.3), so lego finds no
//! challenge it can solve and gets no certificate.
//!
//! The A record is this host's non-loopback IPv4 address, not 127.0.0.1:
//! the CA refuses to fetch from loopback addresses (it must not probe its
//! own host), so a record of 127.0.0.1 fails by design.

use std::net::IpAddr;
use std::path::Path;

use nameplate_tests::api::{Api, eab_key, served_root, start_with_team_https};
use nameplate_tests::server::{CmdOutput, run};
use nameplate_tests::tools::{CLIENT_DEADLINE, assert_chain_verifies, lego_files, lego_http01, lego_with_nameplate};
use nameplate_tests::{Server, free_port, host_address};
use serde_json::json;

const NAME: &str = "web.hr.prod.apps.company.com";
const WILDCARD: &str = "*.hr.prod.apps.company.com";
const RRSETS: &str = "/api/v1/zones/apps.company.com/rrsets";

/// nameplate with team hr, pre-authorization off and http-01 fetched from
/// `http01_port`; `NAME` has an A record of `address`.
fn setup(dir: &Path, http01_port: u16, address: IpAddr) -> (Server, Api) {
    let config = format!("[acme]\npre_authorize = false\nhttp01_port = {http01_port}\n");
    let (server, admin) = start_with_team_https(dir, &config, "hr");
    let records = json!({"rrsets": [{"name": NAME, "type": "A", "ttl": 60, "changetype": "REPLACE",
        "records": [{"content": address.to_string()}]}]});
    admin.patch(RRSETS, &records).expect("publish the A record").expect_status(204).expect("204");
    (server, admin)
}

/// `lego --http --http.port :PORT` for `names` against nameplate's
/// directory, with a fresh EAB key of hr's, state in `path`.
fn lego_http(path: &Path, server: &Server, admin: &Api, port: u16, names: &[&str]) -> CmdOutput {
    let mut cmd = lego_http01(path, port);
    lego_with_nameplate(&mut cmd, server, &eab_key(admin, "hr"));
    for name in names {
        cmd.args(["-d", name]);
    }
    cmd.arg("run");
    run(&mut cmd, CLIENT_DEADLINE).expect("lego runs (apt-get install lego)")
}

#[test]
fn lego_gets_a_certificate_through_http01_from_the_address_in_the_zone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port().expect("port");
    let (server, admin) = setup(dir.path(), port, host_address());
    let lego_dir = dir.path().join("lego");
    let out = lego_http(&lego_dir, &server, &admin, port, &[NAME]);
    assert!(out.ok(), "lego failed:\n{}\nnameplate:\n{}", out.text(), server.log_tail());
    let root = served_root(&admin, dir.path());
    let (leaf, issuer) = lego_files(&lego_dir, NAME);
    assert_chain_verifies(&root, &issuer, &leaf);
}

#[test]
fn a_wildcard_cannot_be_validated_through_http01() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port().expect("port");
    let (server, admin) = setup(dir.path(), port, host_address());
    let lego_dir = dir.path().join("lego");
    let out = lego_http(&lego_dir, &server, &admin, port, &[WILDCARD]);
    let text = out.text();
    assert!(!out.ok(), "lego got a wildcard through http-01:\n{text}");
    assert!(text.contains("could not determine solvers"), "lego found no http-01 challenge to solve:\n{text}");
    assert!(!lego_files(&lego_dir, WILDCARD).0.exists(), "no certificate");
}
