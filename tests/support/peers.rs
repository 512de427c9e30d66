//! Knot DNS and NSD on loopback, started with `shared/bench/peers.sh`, as the
//! reference for differential tests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hickory_proto::rr::RecordType;
use tempfile::TempDir;

use crate::dns;
use crate::paths::{free_port, shared_dir};

/// How long Knot and NSD get to answer their first SOA query after peers.sh returns.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Knot and NSD serving one zone file, each on its own free port and in its
/// own directory; both are stopped (`peers.sh stop DIR`) on drop.
#[derive(Debug)]
pub struct Peers {
    dir: TempDir,
    knot: SocketAddr,
    nsd: SocketAddr,
}

impl Peers {
    /// Runs `peers.sh start ZONE_FILE DIR` with unique `KNOT_PORT`,
    /// `NSD_PORT` and `DIR`, then waits until both answer `origin` SOA.
    pub fn start(zone_file: &Path, origin: &str) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("nameplate-peers-").tempdir()?;
        let (knot_port, nsd_port) = (free_port()?, free_port()?);
        let out = Command::new("bash")
            .arg(shared_dir().join("bench").join("peers.sh"))
            .arg("start")
            .arg(zone_file)
            .arg(dir.path())
            .env("KNOT_PORT", knot_port.to_string())
            .env("NSD_PORT", nsd_port.to_string())
            .stdin(Stdio::null())
            .output()
            .context("running peers.sh start")?;
        let peers = Self {
            dir,
            knot: SocketAddr::from(([127, 0, 0, 1], knot_port)),
            nsd: SocketAddr::from(([127, 0, 0, 1], nsd_port)),
        };
        if !out.status.success() {
            bail!(
                "peers.sh start failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for (who, addr) in [("knot", peers.knot), ("nsd", peers.nsd)] {
            wait_ready(addr, origin).with_context(|| format!("{who} on {addr}; logs:\n{}", peers.logs()))?;
        }
        Ok(peers)
    }

    /// Knot's DNS address.
    pub fn knot(&self) -> SocketAddr {
        self.knot
    }

    /// NSD's DNS address.
    pub fn nsd(&self) -> SocketAddr {
        self.nsd
    }

    /// The logs both servers wrote, for error messages.
    pub fn logs(&self) -> String {
        ["knot/log", "nsd/log", "nsd/nsd.log"]
            .iter()
            .map(|f| format!("== {f}\n{}", std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()))
            .collect()
    }
}

fn wait_ready(addr: SocketAddr, origin: &str) -> Result<()> {
    let bytes = dns::encode(&dns::query(origin, RecordType::SOA)?)?;
    let deadline = Instant::now() + READY_DEADLINE;
    while Instant::now() < deadline {
        if dns::send_udp(addr, &bytes, Duration::from_millis(500))?.is_some() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
    bail!("no answer to {origin} SOA within {READY_DEADLINE:?}")
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(shared_dir().join("bench").join("peers.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        // Let both exit before the directory under them is removed.
        thread::sleep(Duration::from_millis(200));
    }
}
