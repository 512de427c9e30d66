//! lego's `rfc2136` DNS provider against nameplate's UPDATE: lego (Debian)
//! orders a certificate for `timesheet.hr.prod.apps.company.com` and
//! `*.hr.prod.apps.company.com` from Pebble (Debian), publishes each dns-01
//! TXT record in nameplate with a TSIG key of team hr minted through the
//! API, and removes it afterwards. Pebble validates by asking nameplate
//! itself (`-dnsserver`), so a certificate proves the records were served.
//!
//! Full issuance from nameplate's own CA is a separate test; here Pebble is
//! only the ACME server that drives the provider.

use std::net::SocketAddr;
use std::path::Path;

use nameplate_tests::acme_peers::Pebble;
use nameplate_tests::api::{ask, start_with_team, tsig_key};
use nameplate_tests::dns::rcode;
use nameplate_tests::server::run;
use nameplate_tests::tools::{CLIENT_DEADLINE, lego_rfc2136, openssl};
use serde_json::json;

const NAME: &str = "timesheet.hr.prod.apps.company.com";
const WILDCARD: &str = "*.hr.prod.apps.company.com";

/// Runs `lego run` for both names with the rfc2136 provider pointed at
/// nameplate and the TSIG key `key`; returns lego's output.
fn lego(dir: &Path, pebble: &Pebble, dns: SocketAddr, key: &(String, String)) -> String {
    let mut cmd = lego_rfc2136(&dir.join("lego"), dns, key);
    cmd.args(["--server", pebble.directory(), "-d", NAME, "-d", WILDCARD, "run"])
        .env("LEGO_CA_CERTIFICATES", pebble.cert());
    let out = run(&mut cmd, CLIENT_DEADLINE).expect("lego runs (apt-get install lego)");
    assert!(out.ok(), "lego failed:\n{}", out.text());
    out.text()
}

#[test]
fn lego_rfc2136_presents_and_cleans_up_dns01_records_in_nameplate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, admin) = start_with_team(dir.path(), "", "hr");
    let key = tsig_key(&admin, "hr", "hr-lego", "hmac-sha256");

    let pebble = Pebble::start(dir.path(), server.addr()).expect("Pebble starts (apt-get install pebble)");
    let output = lego(dir.path(), &pebble, server.addr(), &key);

    let cert = dir.path().join(format!("lego/certificates/{NAME}.crt"));
    let sans = openssl(&["x509", "-noout", "-ext", "subjectAltName", "-in", cert.to_str().expect("utf-8")]);
    let sans = sans.expect("openssl").stdout;
    assert!(sans.contains(&format!("DNS:{NAME}")) && sans.contains(&format!("DNS:{WILDCARD}")), "{sans}\n{output}");

    // Both challenge names were written by the key and removed again.
    let audit = admin.get("/api/v1/audit?team=hr").expect("audit").body.clone();
    let updates: Vec<&serde_json::Value> =
        audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == "dns.update").collect();
    for challenge in [format!("_acme-challenge.{NAME}."), "_acme-challenge.hr.prod.apps.company.com.".to_owned()] {
        let touching =
            |field: &str| updates.iter().filter(|e| e["changes"][0][field].to_string().contains(&challenge)).count();
        assert!(touching("added") >= 1 && touching("removed") >= 1, "{challenge} added and removed: {audit}");
        assert_eq!(ask(&server, &challenge, hickory_proto::rr::RecordType::TXT).rcode, rcode::NXDOMAIN);
    }
    assert!(updates.iter().all(|e| e["who"] == json!({"tsig_key": key.0, "team": "hr"})), "{audit}");
}
