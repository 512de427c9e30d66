//! lego (Debian) against nameplate's own ACME server: an account bound to
//! team hr by External Account Binding (the key from the API), a
//! certificate for `timesheet.hr.prod.apps.company.com` and
//! `*.hr.prod.apps.company.com`, first pre-authorized (no challenge), then
//! with pre-authorization off through dns-01, which lego publishes with its
//! `rfc2136` provider and a TSIG key of hr's and the CA checks in-process.
//! Every chain verifies with `openssl verify` against `/ca/root.pem`, and
//! the intermediate carries its name constraints.

use std::path::{Path, PathBuf};

use nameplate_tests::Server;
use nameplate_tests::api::{Api, eab_key, served_root, start_with_team_https, tsig_key};
use nameplate_tests::server::run;
use nameplate_tests::tools::{
    CLIENT_DEADLINE, assert_chain_verifies, lego_files, lego_rfc2136, lego_with_nameplate, openssl,
};

const NAME: &str = "timesheet.hr.prod.apps.company.com";
const WILDCARD: &str = "*.hr.prod.apps.company.com";

/// nameplate with team hr, its EAB key and a TSIG key of hr's.
struct Setup {
    server: Server,
    admin: Api,
    eab: (String, String),
    tsig: (String, String),
}

fn setup(dir: &Path, extra_config: &str) -> Setup {
    let (server, admin) = start_with_team_https(dir, extra_config, "hr");
    let eab = eab_key(&admin, "hr");
    let tsig = tsig_key(&admin, "hr", "hr-lego", "hmac-sha256");
    Setup { server, admin, eab, tsig }
}

/// `lego run` for both names against nameplate's directory; returns the
/// state directory (its `--path`), panicking with lego's output on failure.
fn lego(dir: &Path, setup: &Setup) -> PathBuf {
    let mut cmd = lego_rfc2136(&dir.join("lego"), setup.server.addr(), &setup.tsig);
    lego_with_nameplate(&mut cmd, &setup.server, &setup.eab).args(["-d", NAME, "-d", WILDCARD, "run"]);
    let out = run(&mut cmd, CLIENT_DEADLINE).expect("lego runs (apt-get install lego)");
    assert!(out.ok(), "lego failed:\n{}\nnameplate:\n{}", out.text(), setup.server.log_tail());
    dir.join("lego")
}

/// The issued chain verifies against the root served at `/ca/root.pem`,
/// names both identifiers, and its intermediate is name-constrained.
fn check_certificate(dir: &Path, lego_dir: &Path, setup: &Setup) {
    let root = served_root(&setup.admin, dir);
    let (leaf, issuer) = lego_files(lego_dir, NAME);
    assert_chain_verifies(&root, &issuer, &leaf);
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let sans = openssl(&["x509", "-noout", "-ext", "subjectAltName", "-in", &path(&leaf)]).expect("openssl").stdout;
    assert!(sans.contains(&format!("DNS:{NAME}")) && sans.contains(&format!("DNS:{WILDCARD}")), "{sans}");
    let text = openssl(&["x509", "-noout", "-text", "-in", &path(&issuer)]).expect("openssl").stdout;
    assert!(text.contains("Permitted:") && text.contains("DNS:apps.company.com"), "{text}");
}

#[test]
fn lego_gets_a_pre_authorized_certificate_with_eab() {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = setup(dir.path(), "");
    let lego_dir = lego(dir.path(), &setup);
    check_certificate(dir.path(), &lego_dir, &setup);
    // Pre-authorized: lego had nothing to publish.
    let audit = setup.admin.get("/api/v1/audit?team=hr").expect("audit").body.to_string();
    assert!(!audit.contains("dns.update"), "no challenge record was written: {audit}");
}

#[test]
fn lego_passes_dns01_through_its_rfc2136_provider_checked_in_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = setup(dir.path(), "[acme]\npre_authorize = false\n");
    let lego_dir = lego(dir.path(), &setup);
    check_certificate(dir.path(), &lego_dir, &setup);
    // lego published the two challenge records with hr's key, and removed them.
    let audit = setup.admin.get("/api/v1/audit?team=hr").expect("audit").body.clone();
    let updates = audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == "dns.update");
    assert!(updates.count() >= 4, "two records added and removed: {audit}");
}
