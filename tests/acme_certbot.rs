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
use nameplate_tests::api::{eab_key, https_client, served_root, start_with_team_https, tsig_key};
use nameplate_tests::server::run;
use nameplate_tests::tools::{CLIENT_DEADLINE, assert_chain_verifies, openssl};

const NAME: &str = "timesheet.hr.prod.apps.company.com";

/// certbot with its directories under `dir`, nameplate's ACME directory
/// on its HTTPS listener and the CA's root as the one trust anchor.
struct Certbot {
    dir: PathBuf,
    directory: String,
    root: PathBuf,
}

impl Certbot {
    /// Runs `certbot SUBCOMMAND --non-interactive ARGS...`, panicking with
    /// its output (and nameplate's log) when certbot fails.
    fn run(&self, server: &Server, subcommand: &str, args: &[&str]) {
        let dir = |name: &str| self.dir.join(name).to_str().expect("utf-8").to_owned();
        let mut cmd = Command::new("certbot");
        cmd.env("REQUESTS_CA_BUNDLE", &self.root)
            .args([subcommand, "--non-interactive", "--server", &self.directory])
            .args(["--config-dir", &dir("etc"), "--work-dir", &dir("work"), "--logs-dir", &dir("logs")])
            .args(args);
        let out =
            run(&mut cmd, CLIENT_DEADLINE).expect("certbot runs (apt-get install certbot python3-certbot-dns-rfc2136)");
        assert!(out.ok(), "certbot {subcommand} failed:\n{}\nnameplate:\n{}", out.text(), server.log_tail());
    }

    /// The certificate file `file` (cert.pem, chain.pem, ...) of the lineage.
    fn live(&self, file: &str) -> PathBuf {
        self.dir.join(format!("etc/live/{NAME}/{file}"))
    }
}

/// certbot's rfc2136 credentials for `key` = (name, secret), mode 0600.
fn credentials(dir: &Path, server: &Server, key: &(String, String)) -> PathBuf {
    let path = dir.join("rfc2136.ini");
    let (ip, port) = (server.addr().ip(), server.addr().port());
    let text = format!(
        "dns_rfc2136_server = {ip}\ndns_rfc2136_port = {port}\ndns_rfc2136_name = {}\ndns_rfc2136_secret = {}\n\
         dns_rfc2136_algorithm = HMAC-SHA256\n",
        key.0, key.1
    );
    fs::write(&path, text).expect("credentials");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

/// The serial of the certificate at `cert`, as openssl prints it (hex).
fn serial(cert: &Path) -> String {
    let out = openssl(&["x509", "-noout", "-serial", "-in", &path(cert)]).expect("openssl");
    out.stdout.trim().trim_start_matches("serial=").to_owned()
}

#[test]
fn certbot_issues_renews_and_revokes_with_eab_and_dns01_over_rfc2136() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, admin) = start_with_team_https(dir.path(), "[acme]\npre_authorize = false\n", "hr");
    let (kid, hmac) = eab_key(&admin, "hr");
    let ini = credentials(dir.path(), &server, &tsig_key(&admin, "hr", "hr-certbot", "hmac-sha256"));
    let directory = format!("{}/acme/directory", server.base_url());
    let certbot = Certbot { dir: dir.path().to_path_buf(), directory, root: server.root_pem() };

    let ini = path(&ini);
    let issue = [
        "--agree-tos",
        "-m",
        "hr@company.com",
        // `=`: a base64url value may start with '-', which would read as a flag.
        &format!("--eab-kid={kid}"),
        &format!("--eab-hmac-key={hmac}"),
        "--dns-rfc2136",
        "--dns-rfc2136-credentials",
        &ini,
        "--dns-rfc2136-propagation-seconds",
        "1",
        "-d",
        NAME,
        "-d",
        "*.hr.prod.apps.company.com",
    ];
    certbot.run(&server, "certonly", &issue);
    let root = served_root(&admin, dir.path());
    assert_chain_verifies(&root, &certbot.live("chain.pem"), &certbot.live("cert.pem"));
    let first = serial(&certbot.live("cert.pem"));

    certbot.run(&server, "renew", &["--force-renewal", "--no-random-sleep-on-renew"]);
    let renewed = serial(&certbot.live("cert.pem"));
    assert_ne!(renewed, first, "renewal issued a new certificate");
    assert_chain_verifies(&root, &certbot.live("chain.pem"), &certbot.live("cert.pem"));

    let cert = path(&certbot.live("cert.pem"));
    certbot.run(&server, "revoke", &["--cert-path", &cert, "--reason", "keycompromise", "--no-delete-after-revoke"]);
    // The CRL where the leaf says, over TLS to nameplate's own listener.
    let points = openssl(&["x509", "-noout", "-ext", "crlDistributionPoints", "-in", &cert]).expect("openssl").stdout;
    let url = format!("{}/ca/crl/default.crl", server.base_url());
    assert!(points.contains(&format!("URI:{url}")), "the leaf names {url}: {points}");
    let crl = https_client(&server.root_pem()).expect("client").get(&url).send().expect("crl");
    assert_eq!(crl.status(), 200);
    let crl_path = dir.path().join("default.crl");
    fs::write(&crl_path, crl.bytes().expect("crl body")).expect("crl file");
    let out = openssl(&["crl", "-inform", "DER", "-noout", "-text", "-in", &path(&crl_path)]).expect("openssl");
    let text = out.text();
    assert!(out.ok() && text.contains(&renewed) && text.contains("Key Compromise"), "the CRL lists {renewed}: {text}");
    assert!(!text.contains(&first), "the first certificate was not revoked: {text}");
}
