//! lego (Debian) against nameplate's own ACME server: an account bound to
//! team hr by External Account Binding (the key from the API), a
//! certificate for `timesheet.hr.prod.apps.company.com` and
//! `*.hr.prod.apps.company.com`, first pre-authorized (no challenge), then
//! with pre-authorization off through dns-01, which lego publishes with its
//! `rfc2136` provider and a TSIG key of hr's and the CA checks in-process.
//! Every chain verifies with `openssl verify` against `/ca/root.pem`, and
//! the intermediate carries its name constraints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nameplate_tests::Server;
use nameplate_tests::api::{Api, admin_token};
use serde_json::json;

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
    let config = dir.join("nameplate.toml");
    fs::write(&config, extra_config).expect("config");
    let data = dir.join("data");
    let args = ["--config", config.to_str().expect("utf-8")];
    let server = Server::start_with_args(&data, "apps.company.com.", &args).expect("start nameplate");
    let admin = Api::connect(server.http_addr()).expect("api").with_token(&admin_token(&data).expect("token"));
    admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("201");
    let eab = admin.post("/api/v1/teams/hr/eab", &json!({})).expect("eab");
    eab.expect_status(201).expect("201");
    let key = admin.post("/api/v1/teams/hr/tsig-keys", &json!({"name": "hr-lego", "algorithm": "hmac-sha256"}));
    let key = key.expect("tsig key");
    key.expect_status(201).expect("201");
    Setup {
        eab: (eab.str("key_id").expect("key_id"), eab.str("hmac_key").expect("hmac_key")),
        tsig: (key.str("name").expect("name"), key.str("secret").expect("secret")),
        server,
        admin,
    }
}

/// `lego run` for both names against nameplate's directory; returns the
/// certificate files' directory, panicking with lego's output on failure.
fn lego(dir: &Path, setup: &Setup) -> PathBuf {
    let dns = setup.server.addr().to_string();
    let directory = format!("http://{}/acme/directory", setup.server.http_addr());
    let out = Command::new("timeout")
        .args(["300", "lego", "--server", &directory, "--email", "ci@hr.example", "--accept-tos"])
        // `=`: a base64url value may start with '-', which would read as a flag.
        .args(["--eab", &format!("--kid={}", setup.eab.0), &format!("--hmac={}", setup.eab.1)])
        .arg("--path")
        .arg(dir.join("lego"))
        .args(["--dns", "rfc2136", "--dns.resolvers", &dns, "--dns.disable-cp"])
        .args(["-d", NAME, "-d", WILDCARD, "run"])
        .env("RFC2136_NAMESERVER", &dns)
        .env("RFC2136_TSIG_KEY", &setup.tsig.0)
        .env("RFC2136_TSIG_SECRET", &setup.tsig.1)
        .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
        .env("RFC2136_SEQUENCE_INTERVAL", "1")
        .output()
        .expect("lego runs (apt-get install lego)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "lego failed:\n{text}\nnameplate:\n{}", setup.server.log_tail());
    dir.join("lego/certificates")
}

/// Runs openssl with `args`; returns (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().expect("openssl runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The issued chain verifies against the root served at `/ca/root.pem`,
/// names both identifiers, and its intermediate is name-constrained.
fn check_certificate(dir: &Path, certs: &Path, setup: &Setup) {
    let root = setup.admin.get("/ca/root.pem").expect("root");
    let root_path = dir.join("root.pem");
    fs::write(&root_path, root.body.as_str().expect("the root as text")).expect("root file");
    let leaf = certs.join(format!("{NAME}.crt"));
    let issuer = certs.join(format!("{NAME}.issuer.crt"));
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let (ok, out) = openssl(&["verify", "-CAfile", &path(&root_path), "-untrusted", &path(&issuer), &path(&leaf)]);
    assert!(ok && out.contains(": OK"), "{out}");
    let (_, text) = openssl(&["x509", "-noout", "-ext", "subjectAltName", "-in", &path(&leaf)]);
    assert!(text.contains(&format!("DNS:{NAME}")) && text.contains(&format!("DNS:{WILDCARD}")), "{text}");
    let (_, text) = openssl(&["x509", "-noout", "-text", "-in", &path(&issuer)]);
    assert!(text.contains("Permitted:") && text.contains("DNS:apps.company.com"), "{text}");
}

#[test]
fn lego_gets_a_pre_authorized_certificate_with_eab() {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = setup(dir.path(), "");
    let certs = lego(dir.path(), &setup);
    check_certificate(dir.path(), &certs, &setup);
    // Pre-authorized: lego had nothing to publish.
    let audit = setup.admin.get("/api/v1/audit?team=hr").expect("audit").body.to_string();
    assert!(!audit.contains("dns.update"), "no challenge record was written: {audit}");
}

#[test]
fn lego_passes_dns01_through_its_rfc2136_provider_checked_in_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = setup(dir.path(), "[acme]\npre_authorize = false\n");
    let certs = lego(dir.path(), &setup);
    check_certificate(dir.path(), &certs, &setup);
    // lego published the two challenge records with hr's key, and removed them.
    let audit = setup.admin.get("/api/v1/audit?team=hr").expect("audit").body.clone();
    let updates = audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == "dns.update");
    assert!(updates.count() >= 4, "two records added and removed: {audit}");
}
