//! The reference stack for lego: Knot DNS serving [`ZONE`] with a TSIG key
//! that may UPDATE it, and Pebble validating dns-01 by asking that Knot
//! (`-dnsserver`). Both run on free loopback ports and are killed on drop.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use data_encoding::BASE64;
use hickory_proto::rr::RecordType;
use nameplate_tests::dns::{self, rcode};
use nameplate_tests::tools::openssl;
use nameplate_tests::{Summary, free_port};
use rand::RngCore;
use serde_json::json;

use crate::setup::ZONE;

/// How long Knot and Pebble get to start answering.
const READY_DEADLINE: Duration = Duration::from_secs(20);
/// The name of Knot's TSIG key.
const KEY_NAME: &str = "lego-knot.";

/// A child process killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Knot DNS serving [`ZONE`] on loopback, UPDATE allowed with one TSIG key.
pub(crate) struct Knot {
    _child: Guard,
    addr: SocketAddr,
    key: (String, String),
}

impl Knot {
    /// Writes the zone and config under `dir` and starts `knotd`.
    pub(crate) fn start(dir: &Path) -> Result<Self> {
        let dir = dir.join("knot");
        fs::create_dir_all(&dir)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let key = (KEY_NAME.to_owned(), BASE64.encode(&secret));
        fs::write(dir.join("zone"), zone_file())?;
        fs::write(dir.join("knot.conf"), config(&dir, addr, &key))?;
        let log = File::create(dir.join("log"))?;
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning knotd (apt-get install knot)")?;
        let knot = Self { _child: Guard(child), addr, key };
        wait_for_soa(addr)
            .with_context(|| format!("knotd log:\n{}", fs::read_to_string(dir.join("log")).unwrap_or_default()))?;
        Ok(knot)
    }

    /// Its DNS address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TSIG key that may UPDATE [`ZONE`]: `(name, base64 secret)`, hmac-sha256.
    pub(crate) fn key(&self) -> &(String, String) {
        &self.key
    }
}

fn zone_file() -> String {
    format!(
        "$ORIGIN {ZONE}.\n$TTL 60\n\
         @ SOA ns1 hostmaster 1 3600 600 604800 60\n\
         @ NS ns1\n\
         ns1 A 127.0.0.1\n"
    )
}

fn config(dir: &Path, addr: SocketAddr, key: &(String, String)) -> String {
    let dir = dir.display();
    format!(
        "server:\n    rundir: \"{dir}\"\n    listen: {ip}@{port}\n    udp-workers: 2\n    tcp-workers: 1\n    background-workers: 1\n\
         database:\n    storage: \"{dir}\"\n\
         log:\n  - target: stderr\n    any: error\n\
         key:\n  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\n\
         acl:\n  - id: lego_update\n    key: {name}\n    action: update\n\
         zone:\n  - domain: {ZONE}\n    file: \"{dir}/zone\"\n    acl: lego_update\n    zonefile-sync: -1\n",
        ip = addr.ip(),
        port = addr.port(),
        name = key.0,
        secret = key.1,
    )
}

/// Waits until `addr` answers [`ZONE`] SOA with NOERROR and the record.
fn wait_for_soa(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Ok(msg) = dns::ask(addr, ZONE, RecordType::SOA) {
            let summary = Summary::of(&msg);
            if summary.rcode == rcode::NOERROR && !summary.answer.is_empty() {
                return Ok(());
            }
        }
        ensure!(Instant::now() < deadline, "{addr} does not answer {ZONE} SOA");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Pebble on loopback with a throwaway TLS certificate, resolving through
/// a DNS server of the caller's.
pub(crate) struct Pebble {
    _child: Guard,
    directory: String,
    cert: PathBuf,
}

impl Pebble {
    /// Starts Pebble in `dir`, asking `dns` for dns-01 records: no
    /// validation sleep (`PEBBLE_VA_NOSLEEP`), no rejected nonces.
    pub(crate) fn start(dir: &Path, dns: SocketAddr) -> Result<Self> {
        let dir = dir.join("pebble");
        fs::create_dir_all(&dir)?;
        let (cert, key) = (dir.join("pebble.crt"), dir.join("pebble.key"));
        let path = |p: &Path| p.to_str().map(str::to_owned).context("non-UTF-8 path");
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
            &path(&key)?,
            "-out",
            &path(&cert)?,
        ])?;
        ensure!(made.ok(), "openssl could not make Pebble's certificate: {}", made.text());
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let config = json!({"pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": format!("127.0.0.1:{}", free_port()?),
            "certificate": cert, "privateKey": key,
            "httpPort": free_port()?, "tlsPort": free_port()?,
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        let config_path = dir.join("pebble.json");
        fs::write(&config_path, config.to_string())?;
        let log = File::create(dir.join("pebble.log"))?;
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning pebble (apt-get install pebble)")?;
        let pebble = Self { _child: Guard(child), directory: format!("https://{listen}/dir"), cert };
        wait_for_listener(listen)?;
        Ok(pebble)
    }

    /// The ACME directory URL.
    pub(crate) fn directory(&self) -> &str {
        &self.directory
    }

    /// Pebble's TLS certificate, for `LEGO_CA_CERTIFICATES`.
    pub(crate) fn cert(&self) -> &Path {
        &self.cert
    }
}

/// Waits until something accepts TCP connections at `addr`.
fn wait_for_listener(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + READY_DEADLINE;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens at {addr}");
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
