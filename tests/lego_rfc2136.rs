//! lego's `rfc2136` DNS provider against nameplate's UPDATE: lego (Debian)
//! orders a certificate for `timesheet.hr.prod.apps.company.com` and
//! `*.hr.prod.apps.company.com` from Pebble (Debian), publishes each dns-01
//! TXT record in nameplate with a TSIG key of team hr minted through the
//! API, and removes it afterwards. Pebble validates by asking nameplate
//! itself (`-dnsserver`), so a certificate proves the records were served.
//!
//! Full issuance from nameplate's own CA is a separate test; here Pebble is
//! only the ACME server that drives the provider.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nameplate_tests::api::{ask, start_with_team, tsig_key};
use nameplate_tests::dns::rcode;
use nameplate_tests::free_port;
use nameplate_tests::server::{CmdOutput, run};
use nameplate_tests::tools::{CLIENT_DEADLINE, lego_rfc2136, openssl};
use serde_json::json;

const NAME: &str = "timesheet.hr.prod.apps.company.com";
const WILDCARD: &str = "*.hr.prod.apps.company.com";

/// Pebble on loopback with a throwaway TLS certificate; killed on drop.
struct Pebble {
    child: Child,
    directory: String,
}

impl Pebble {
    /// Starts Pebble in `dir`, resolving through `dns`.
    fn start(dir: &Path, dns: SocketAddr) -> Self {
        let (cert, key) = (dir.join("pebble.crt"), dir.join("pebble.key"));
        let (cert_path, key_path) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
        let made = openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=pebble",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key_path,
            "-out",
            cert_path,
        ]);
        assert!(made.as_ref().is_ok_and(CmdOutput::ok), "openssl made Pebble's certificate: {made:?}");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port().expect("port")));
        let config = json!({"pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": format!("127.0.0.1:{}", free_port().expect("port")),
            "certificate": cert, "privateKey": key,
            "httpPort": free_port().expect("port"), "tlsPort": free_port().expect("port"),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        let config_path = dir.join("pebble.json");
        fs::write(&config_path, config.to_string()).expect("pebble config");
        let log = fs::File::create(dir.join("pebble.log")).expect("pebble log");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn pebble (apt-get install pebble)");
        wait_for_listener(listen);
        Self { child, directory: format!("https://{listen}/dir") }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 10 s) until something accepts TCP connections at `addr`.
fn wait_for_listener(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens at {addr}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `lego run` for both names with the rfc2136 provider pointed at
/// nameplate and the TSIG key `key`; returns lego's output.
fn lego(dir: &Path, pebble: &Pebble, dns: SocketAddr, key: &(String, String)) -> String {
    let mut cmd = lego_rfc2136(&dir.join("lego"), dns, key);
    cmd.args(["--server", &pebble.directory, "-d", NAME, "-d", WILDCARD, "run"])
        .env("LEGO_CA_CERTIFICATES", dir.join("pebble.crt"));
    let out = run(&mut cmd, CLIENT_DEADLINE).expect("lego runs (apt-get install lego)");
    assert!(out.ok(), "lego failed:\n{}", out.text());
    out.text()
}

#[test]
fn lego_rfc2136_presents_and_cleans_up_dns01_records_in_nameplate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, admin) = start_with_team(dir.path(), "", "hr");
    let key = tsig_key(&admin, "hr", "hr-lego", "hmac-sha256");

    let pebble = Pebble::start(dir.path(), server.addr());
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
