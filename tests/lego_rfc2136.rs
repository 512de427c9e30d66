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

use nameplate_tests::api::{Api, admin_token, ask};
use nameplate_tests::dns::rcode;
use nameplate_tests::{Server, free_port};
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
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=pebble", "-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(made.success(), "openssl made Pebble's certificate");
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
/// nameplate and the TSIG key `(name, secret)`; returns lego's output.
fn lego(dir: &Path, pebble: &Pebble, dns: SocketAddr, key: (&str, &str)) -> String {
    let out = Command::new("timeout")
        .args(["300", "lego", "--server", &pebble.directory, "--email", "ci@hr.example", "--accept-tos"])
        .arg("--path")
        .arg(dir.join("lego"))
        .args(["--dns", "rfc2136", "--dns.resolvers", &dns.to_string(), "--dns.disable-cp"])
        .args(["-d", NAME, "-d", WILDCARD, "run"])
        .env("LEGO_CA_CERTIFICATES", dir.join("pebble.crt"))
        .env("RFC2136_NAMESERVER", dns.to_string())
        .env("RFC2136_TSIG_KEY", key.0)
        .env("RFC2136_TSIG_SECRET", key.1)
        .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
        .env("RFC2136_SEQUENCE_INTERVAL", "1")
        .output()
        .expect("lego runs (apt-get install lego)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "lego failed:\n{text}");
    text
}

/// The subjectAltName extension of the certificate at `path`, as openssl prints it.
fn subject_alt_names(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(path)
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lego_rfc2136_presents_and_cleans_up_dns01_records_in_nameplate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data, "apps.company.com.").expect("start nameplate");
    let admin = Api::connect(server.http_addr()).expect("api").with_token(&admin_token(&data).expect("token"));
    admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("201");
    let key = admin.post("/api/v1/teams/hr/tsig-keys", &json!({"name": "hr-lego", "algorithm": "hmac-sha256"}));
    let key = key.expect("key");
    key.expect_status(201).expect("201");
    let (key_name, secret) = (key.str("name").expect("name"), key.str("secret").expect("secret"));

    let pebble = Pebble::start(dir.path(), server.addr());
    let output = lego(dir.path(), &pebble, server.addr(), (&key_name, &secret));

    let cert = dir.path().join(format!("lego/certificates/{NAME}.crt"));
    let sans = subject_alt_names(&cert);
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
    assert!(updates.iter().all(|e| e["who"] == json!({"tsig_key": key_name, "team": "hr"})), "{audit}");
}
