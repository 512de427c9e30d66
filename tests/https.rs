//! The HTTPS listener of the real binary: every endpoint over TLS with a
//! certificate the built-in CA issued to nameplate itself, for `localhost`
//! and `127.0.0.1`, verified by clients that trust only `/ca/root.pem`, and
//! renewed before it expires.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nameplate_tests::Server;
use nameplate_tests::api::{PLATFORM_ORIGIN, https_client};
use nameplate_tests::server::run_with_input;
use nameplate_tests::tools::openssl;

/// How long a renewal due after 40 s may take to show.
const RENEWAL_DEADLINE: Duration = Duration::from_secs(120);

/// The leaf the listener at `server` presents for `name`, as openssl
/// verifies it against the root alone: (PEM, `s_client` output).
fn presented_leaf(server: &Server, name: &str, verify: &[&str]) -> (String, String) {
    let connect = format!("127.0.0.1:{}", server.https_addr().port());
    let root = server.root_pem();
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["s_client", "-connect", &connect, "-servername", name, "-CAfile", root.to_str().expect("utf-8")])
        .args(verify)
        .args(["-verify_return_error", "-showcerts"]);
    let out = run_with_input(&mut cmd, Some(""), Duration::from_secs(30)).expect("openssl s_client");
    let text = out.text();
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap_or_else(|| panic!("no certificate: {text}"));
    let end = text[begin..].find("-----END CERTIFICATE-----").expect("PEM end") + begin + 25;
    (format!("{}\n", &text[begin..end]), text)
}

/// `openssl x509 -noout ARGS` of `pem`.
fn x509(dir: &Path, pem: &str, args: &[&str]) -> String {
    let file = dir.join("leaf.pem");
    fs::write(&file, pem).expect("leaf file");
    let mut all = vec!["x509", "-noout", "-in", file.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let out = openssl(&all).expect("openssl x509");
    assert!(out.ok(), "{}", out.text());
    out.stdout
}

#[test]
fn every_endpoint_is_served_over_tls_with_the_cas_own_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_https(&dir.path().join("data"), PLATFORM_ORIGIN, &[]).expect("start");
    let client = https_client(&server.root_pem()).expect("client");
    let by_ip = format!("https://127.0.0.1:{}", server.https_addr().port());
    for base in [server.base_url(), by_ip] {
        let health = client.get(format!("{base}/healthz")).send().expect("healthz over TLS");
        assert_eq!(health.status(), 200, "{base}");
        let directory: serde_json::Value =
            client.get(format!("{base}/acme/directory")).send().expect("directory").json().expect("JSON");
        assert_eq!(directory["newNonce"], format!("{}/acme/new-nonce", server.base_url()), "{base}");
        let root = client.get(format!("{base}/ca/root.pem")).send().expect("root").text().expect("PEM");
        assert_eq!(root, fs::read_to_string(server.root_pem()).expect("root file"), "{base}");
    }

    // The leaf names exactly the configured names and serves TLS only.
    let (leaf, text) = presented_leaf(&server, "localhost", &["-verify_hostname", "localhost"]);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    let sans = x509(dir.path(), &leaf, &["-ext", "subjectAltName,extendedKeyUsage"]);
    assert!(sans.contains("DNS:localhost") && sans.contains("IP Address:127.0.0.1"), "{sans}");
    assert!(sans.contains("TLS Web Server Authentication"), "{sans}");
    let (_, text) = presented_leaf(&server, "127.0.0.1", &["-verify_ip", "127.0.0.1"]);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(text.contains("Service CA"), "issued by the service issuer: {text}");
    let plain = reqwest::blocking::get(format!("http://127.0.0.1:{}/healthz", server.https_addr().port()));
    assert!(!matches!(plain, Ok(r) if r.status().is_success()), "no plain HTTP on the TLS port");
}

#[test]
fn a_client_that_does_not_trust_the_root_or_asks_another_name_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_https(&dir.path().join("data"), PLATFORM_ORIGIN, &[]).expect("start");
    let untrusting = reqwest::blocking::Client::new();
    let error = untrusting.get(format!("{}/healthz", server.base_url())).send().expect_err("unknown issuer");
    assert!(format!("{error:?}").to_lowercase().contains("certificate"), "{error:?}");
    let port = server.https_addr().port();
    let other = reqwest::blocking::Client::builder()
        .resolve("other.example", ([127, 0, 0, 1], port).into())
        .add_root_certificate(
            reqwest::Certificate::from_pem(&fs::read(server.root_pem()).expect("root")).expect("root PEM"),
        )
        .build()
        .expect("client");
    let error = other.get(format!("https://other.example:{port}/healthz")).send().expect_err("name mismatch");
    assert!(format!("{error:?}").to_lowercase().contains("certificate"), "{error:?}");
}

#[test]
fn the_listener_renews_its_certificate_before_it_expires() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("nameplate.toml");
    fs::write(&config, "[https]\nlifetime_seconds = 60\n").expect("config");
    let args = ["--config", config.to_str().expect("utf-8")];
    let server = Server::start_https(&dir.path().join("data"), PLATFORM_ORIGIN, &args).expect("start");
    let serial = |pem: &str| x509(dir.path(), pem, &["-serial", "-enddate"]);
    let first = serial(&presented_leaf(&server, "localhost", &[]).0);
    let until = Instant::now() + RENEWAL_DEADLINE;
    let renewed = loop {
        let (pem, text) = presented_leaf(&server, "localhost", &["-verify_hostname", "localhost"]);
        assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        let now = serial(&pem);
        if now != first {
            break now;
        }
        assert!(Instant::now() < until, "still {first} after {RENEWAL_DEADLINE:?}: {}", server.log_tail());
        thread::sleep(Duration::from_secs(2));
    };
    assert!(server.log_tail().contains("renewed the HTTPS certificate"), "{renewed}");
}
