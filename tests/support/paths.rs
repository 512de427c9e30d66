//! Where things are: the binary under test, the shared directory, free
//! ports, this host's address.

use std::collections::HashSet;
use std::env;
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rand::Rng;

/// Lowest port handed out by [`free_port`].
const PORT_MIN: u16 = 20000;
/// One past the highest port handed out by [`free_port`].
const PORT_MAX: u16 = 40000;

/// Ports already handed out in this process, so parallel tests never share one.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The workspace root: the directory holding the top-level `Cargo.toml`.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The shared directory with the benchmark scripts (`bench/peers.sh`,
/// `bench/genzone.py`): `$NAMEPLATE_SHARED`, else `<repo root>/../shared`.
pub fn shared_dir() -> PathBuf {
    match env::var_os("NAMEPLATE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("..").join("shared"),
    }
}

/// The `nameplate` binary: `$NAMEPLATE_BIN`, else the one next to this test's
/// profile directory (`target/<profile>/nameplate`, where the test executable
/// itself lives in `target/<profile>/deps`).
pub fn nameplate_bin() -> Result<PathBuf> {
    if let Some(bin) = env::var_os("NAMEPLATE_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("NAMEPLATE_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    let exe = env::current_exe().context("locating the test executable")?;
    let profile_dir = exe.parent().and_then(Path::parent).context("test executable is not in target/<profile>/deps")?;
    let beside = profile_dir.join("nameplate");
    if beside.is_file() {
        return Ok(beside);
    }
    let profile = profile_dir.file_name().context("profile directory has no name")?;
    let in_workspace = workspace_root().join("target").join(profile).join("nameplate");
    if in_workspace.is_file() {
        return Ok(in_workspace);
    }
    bail!(
        "nameplate binary not found at {} or {}: build it first \
         (cargo build --release -p nameplate) or set NAMEPLATE_BIN",
        beside.display(),
        in_workspace.display()
    )
}

/// This host's IPv4 address on the interface of its default route: the
/// source address the kernel picks for a datagram to a TEST-NET-3 address
/// (`connect` on UDP sends nothing). For http-01 tests: the CA never
/// fetches from loopback addresses.
pub fn host_address() -> IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("udp socket");
    socket.connect("203.0.113.1:9").expect("this test needs a non-loopback IPv4 route (the CA never fetches loopback)");
    let ip = socket.local_addr().expect("local address").ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "no non-loopback IPv4 address here: {ip}");
    ip
}

/// A loopback port in 20000..40000 that is free for both UDP and TCP right
/// now and has not been handed out before in this process.
pub fn free_port() -> Result<u16> {
    let mut rng = rand::rng();
    let mut taken = TAKEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    for _ in 0..2000 {
        let port = rng.random_range(PORT_MIN..PORT_MAX);
        if taken.contains(&port) {
            continue;
        }
        let udp = UdpSocket::bind(("127.0.0.1", port));
        let tcp = TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            taken.insert(port);
            return Ok(port);
        }
    }
    bail!("no free loopback port found in {PORT_MIN}..{PORT_MAX}")
}
