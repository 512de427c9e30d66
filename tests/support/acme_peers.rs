//! The other side of the ACME tests and benchmarks, on free loopback
//! ports and killed on drop: Knot DNS serving one zone that a TSIG key may
//! UPDATE (a team's own nameserver, or the DNS behind Pebble), and Pebble
//! (Debian's test ACME server) validating dns-01 by asking a DNS server of
//! the caller's (`-dnsserver`).

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hickory_proto::rr::RecordType;
use serde_json::json;

use crate::dns::{self, rcode};
use crate::tools::openssl;
use crate::{Summary, free_port};

/// How long Knot and Pebble get to start answering.
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Knot DNS serving one zone on loopback, UPDATE allowed with one TSIG key
/// (hmac-sha256), logging at level info to `<dir>/log`.
#[derive(Debug)]
pub struct Knot {
    _child: Guard,
    addr: SocketAddr,
    key: (String, String),
    log: PathBuf,
}

impl Knot {
    /// Writes `zone_text` (the master file of `apex`) and a config under
    /// `dir`, starts `knotd` and waits until it answers `apex` SOA. `key`
    /// is `(name, base64 secret)`.
    pub fn start(dir: &Path, apex: &str, zone_text: &str, key: &(String, String)) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        fs::write(dir.join("zone"), zone_text)?;
        fs::write(dir.join("knot.conf"), config(dir, addr, apex, key))?;
        let log = dir.join("log");
        let out = File::create(&log)?;
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawning knotd (apt-get install knot)")?;
        let knot = Self { _child: Guard(child), addr, key: key.clone(), log };
        wait_for_soa(addr, apex).with_context(|| format!("knotd log:\n{}", knot.log()))?;
        Ok(knot)
    }

    /// Its DNS address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TSIG key that may UPDATE the zone: `(name, base64 secret)`.
    pub fn key(&self) -> &(String, String) {
        &self.key
    }

    /// What knotd has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn config(dir: &Path, addr: SocketAddr, apex: &str, key: &(String, String)) -> String {
    let dir = dir.display();
    format!(
        "server:\n    rundir: \"{dir}\"\n    listen: {ip}@{port}\n    udp-workers: 2\n    tcp-workers: 1\n    background-workers: 1\n\
         database:\n    storage: \"{dir}\"\n\
         log:\n  - target: stderr\n    any: info\n\
         key:\n  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\n\
         acl:\n  - id: update\n    key: {name}\n    action: update\n\
         zone:\n  - domain: {apex}\n    file: \"{dir}/zone\"\n    acl: update\n    zonefile-sync: -1\n",
        ip = addr.ip(),
        port = addr.port(),
        name = key.0,
        secret = key.1,
    )
}

/// Waits until `addr` answers `apex` SOA with NOERROR and the record.
fn wait_for_soa(addr: SocketAddr, apex: &str) -> Result<()> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Ok(msg) = dns::ask(addr, apex, RecordType::SOA) {
            let summary = Summary::of(&msg);
            if summary.rcode == rcode::NOERROR && !summary.answer.is_empty() {
                return Ok(());
            }
        }
        ensure!(Instant::now() < deadline, "{addr} does not answer {apex} SOA");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Pebble on loopback with a throwaway TLS certificate, resolving through
/// a DNS server of the caller's.
#[derive(Debug)]
pub struct Pebble {
    _child: Guard,
    directory: String,
    cert: PathBuf,
}

impl Pebble {
    /// Starts Pebble in `dir`, asking `dns` for dns-01 records: no
    /// validation sleep (`PEBBLE_VA_NOSLEEP`), no rejected nonces.
    pub fn start(dir: &Path, dns: SocketAddr) -> Result<Self> {
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
    pub fn directory(&self) -> &str {
        &self.directory
    }

    /// Pebble's TLS certificate, for `LEGO_CA_CERTIFICATES`.
    pub fn cert(&self) -> &Path {
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
