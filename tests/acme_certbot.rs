//! certbot (Debian, with `python3-certbot-dns-rfc2136`) against nameplate's
//! ACME server: an account bound to team hr by External Account Binding
//! issues `timesheet.hr.prod.apps.company.com` and its wildcard through
//! dns-01 (pre-authorization off, so certbot's rfc2136 plugin publishes the
//! records with hr's TSIG key and the CA checks them in-process), renews
//! it, and revokes it; the CRL then lists the revoked serial.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nameplate_tests::Server;
use nameplate_tests::api::{Api, admin_token};
use serde_json::json;

const NAME: &str = "timesheet.hr.prod.apps.company.com";

/// certbot with its directories under `dir` and nameplate's ACME directory.
struct Certbot {
    dir: PathBuf,
    directory: String,
}

impl Certbot {
    /// Runs `certbot SUBCOMMAND --non-interactive ARGS...`; returns its output,
    /// panicking with it (and nameplate's log) when certbot fails.
    fn run(&self, server: &Server, subcommand: &str, args: &[&str]) -> String {
        let dir = |name: &str| self.dir.join(name).to_str().expect("utf-8").to_owned();
        let out = Command::new("timeout")
            .args(["300", "certbot", subcommand, "--non-interactive", "--server", &self.directory])
            .args(["--config-dir", &dir("etc"), "--work-dir", &dir("work"), "--logs-dir", &dir("logs")])
            .args(args)
            .output()
            .expect("certbot runs (apt-get install certbot python3-certbot-dns-rfc2136)");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "certbot {subcommand} failed:\n{text}\nnameplate:\n{}", server.log_tail());
        text
    }

    /// The certificate file `file` (cert.pem, chain.pem, ...) of the lineage.
    fn live(&self, file: &str) -> PathBuf {
        self.dir.join(format!("etc/live/{NAME}/{file}"))
    }
}

/// certbot's rfc2136 credentials for `key` = (name, secret), mode 0600.
fn credentials(dir: &Path, server: &Server, key: (&str, &str)) -> PathBuf {
    let path = dir.join("rfc2136.ini");
    let text = format!(
        "dns_rfc2136_server = {}\ndns_rfc2136_port = {}\ndns_rfc2136_name = {}\ndns_rfc2136_secret = {}\n\
         dns_rfc2136_algorithm = HMAC-SHA256\n",
        server.addr().ip(),
        server.addr().port(),
        key.0,
        key.1
    );
    fs::write(&path, text).expect("credentials");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// The serial of the certificate at `path`, as openssl prints it (hex).
fn serial(path: &Path) -> String {
    let out = Command::new("openssl").args(["x509", "-noout", "-serial", "-in"]).arg(path).output().expect("openssl");
    String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("serial=").to_owned()
}

/// Runs openssl with `args`; returns (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().expect("openssl runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn certbot_issues_renews_and_revokes_with_eab_and_dns01_over_rfc2136() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("nameplate.toml");
    fs::write(&config, "[acme]\npre_authorize = false\n").expect("config");
    let data = dir.path().join("data");
    let args = ["--config", config.to_str().expect("utf-8")];
    let server = Server::start_with_args(&data, "apps.company.com.", &args).expect("start nameplate");
    let admin = Api::connect(server.http_addr()).expect("api").with_token(&admin_token(&data).expect("token"));
    admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("201");
    let eab = admin.post("/api/v1/teams/hr/eab", &json!({})).expect("eab");
    eab.expect_status(201).expect("201");
    let key = admin.post("/api/v1/teams/hr/tsig-keys", &json!({"name": "hr-certbot", "algorithm": "hmac-sha256"}));
    let key = key.expect("tsig key");
    key.expect_status(201).expect("201");
    let (key_name, secret) = (key.str("name").expect("name"), key.str("secret").expect("secret"));
    let ini = credentials(dir.path(), &server, (&key_name, &secret));
    let certbot =
        Certbot { dir: dir.path().to_path_buf(), directory: format!("http://{}/acme/directory", server.http_addr()) };

    let (kid, hmac) = (eab.str("key_id").expect("key_id"), eab.str("hmac_key").expect("hmac_key"));
    let ini = ini.to_str().expect("utf-8");
    certbot.run(
        &server,
        "certonly",
        &[
            "--agree-tos",
            "-m",
            "hr@company.com",
            // `=`: a base64url value may start with '-', which would read as a flag.
            &format!("--eab-kid={kid}"),
            &format!("--eab-hmac-key={hmac}"),
            "--dns-rfc2136",
            "--dns-rfc2136-credentials",
            ini,
            "--dns-rfc2136-propagation-seconds",
            "1",
            "-d",
            NAME,
            "-d",
            "*.hr.prod.apps.company.com",
        ],
    );
    let root = admin.get("/ca/root.pem").expect("root");
    let root_path = dir.path().join("root.pem");
    fs::write(&root_path, root.body.as_str().expect("the root as text")).expect("root file");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let verify = |cert: &Path| {
        openssl(&["verify", "-CAfile", &path(&root_path), "-untrusted", &path(&certbot.live("chain.pem")), &path(cert)])
    };
    let (ok, out) = verify(&certbot.live("cert.pem"));
    assert!(ok && out.contains(": OK"), "{out}");
    let first = serial(&certbot.live("cert.pem"));

    certbot.run(&server, "renew", &["--force-renewal", "--no-random-sleep-on-renew"]);
    let renewed = serial(&certbot.live("cert.pem"));
    assert_ne!(renewed, first, "renewal issued a new certificate");
    let (ok, out) = verify(&certbot.live("cert.pem"));
    assert!(ok && out.contains(": OK"), "{out}");

    let cert = path(&certbot.live("cert.pem"));
    certbot.run(&server, "revoke", &["--cert-path", &cert, "--reason", "keycompromise", "--no-delete-after-revoke"]);
    let crl = reqwest::blocking::get(format!("http://{}/ca/crl/default.crl", server.http_addr())).expect("crl");
    let crl_path = dir.path().join("default.crl");
    fs::write(&crl_path, crl.bytes().expect("crl body")).expect("crl file");
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-noout", "-text", "-in", &path(&crl_path)]);
    assert!(ok && text.contains(&renewed) && text.contains("Key Compromise"), "the CRL lists {renewed}: {text}");
    assert!(!text.contains(&first), "the first certificate was not revoked: {text}");
}
