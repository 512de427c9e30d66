//! The `nameplate` binary under test: a guard for `nameplate serve` and
//! wrappers for the `zone import` / `zone export` subcommands.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hickory_proto::rr::RecordType;
use tempfile::TempDir;

use crate::dns::{self, Summary, Transport, rcode};
use crate::paths::{free_port, nameplate_bin};

/// How long `serve` may take to answer its first SOA query.
pub const READY_DEADLINE: Duration = Duration::from_secs(10);
/// How long a `zone` subcommand may run before it counts as hung.
pub const CLI_DEADLINE: Duration = Duration::from_secs(60);
/// How long a stopped server may take to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The largest part of the server log printed when a test fails.
const LOG_TAIL: usize = 32 * 1024;

/// A running `nameplate serve`, listening for DNS and HTTP on free loopback
/// ports.
///
/// The process is stopped on drop; if the test is panicking at that point the
/// server's log (stdout and stderr, kept in a file) is printed.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    http_addr: SocketAddr,
    https_addr: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
    _log_dir: TempDir,
}

impl Server {
    /// Starts `nameplate serve --data-dir DATA_DIR --dns-listen 127.0.0.1:PORT
    /// --https-listen 127.0.0.1:PORT3 --http-listen 127.0.0.1:PORT2
    /// --ca-base-url http://127.0.0.1:PORT2 --workers 2` and waits until it
    /// answers a UDP SOA query for `zone` with NOERROR and the SOA record.
    /// The CA's and ACME's URLs are plain HTTP; [`Server::start_https`] puts
    /// them on the HTTPS listener.
    pub fn start(data_dir: &Path, zone: &str) -> Result<Self> {
        Self::start_with_args(data_dir, zone, &[])
    }

    /// As [`Server::start`], with extra command line arguments after `serve`'s own.
    pub fn start_with_args(data_dir: &Path, zone: &str, extra: &[&str]) -> Result<Self> {
        Self::spawn(data_dir, zone, extra, false)
    }

    /// As [`Server::start_with_args`], but with nameplate's own CA base URL,
    /// `https://localhost:PORT3` ([`Server::base_url`]): ACME clients then
    /// talk TLS to the listener whose certificate the CA issued, trusting
    /// [`Server::root_pem`]. The plain-HTTP listener stays for the API.
    pub fn start_https(data_dir: &Path, zone: &str, extra: &[&str]) -> Result<Self> {
        Self::spawn(data_dir, zone, extra, true)
    }

    fn spawn(data_dir: &Path, zone: &str, extra: &[&str], https_base: bool) -> Result<Self> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let http_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let https_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let plain_base = format!("http://{http_addr}");
        let base: &[&str] = if https_base { &[] } else { &["--ca-base-url", &plain_base] };
        let log_dir = tempfile::Builder::new().prefix("nameplate-log-").tempdir()?;
        let log = log_dir.path().join("serve.log");
        let out = File::create(&log).context("creating the server log")?;
        let child = Command::new(nameplate_bin()?)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--dns-listen")
            .arg(addr.to_string())
            .arg("--http-listen")
            .arg(http_addr.to_string())
            .arg("--https-listen")
            .arg(https_addr.to_string())
            .args(base)
            .args(["--workers", "2"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawning nameplate serve")?;
        let data_dir = data_dir.to_path_buf();
        let mut server = Self { child: Some(child), addr, http_addr, https_addr, data_dir, log, _log_dir: log_dir };
        if let Err(e) = server.wait_ready(zone) {
            let log = server.log_tail();
            server.kill();
            return Err(e.context(format!("nameplate serve did not become ready; its log:\n{log}")));
        }
        Ok(server)
    }

    /// The DNS address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTP API address (see [`crate::api`]; it may start listening a
    /// moment after DNS answers).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The HTTPS address (every HTTP endpoint; it may start listening a
    /// moment after DNS answers).
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// `https://localhost:PORT3`: the HTTPS listener by a name its
    /// certificate carries (the CA base URL under [`Server::start_https`]).
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.https_addr.port())
    }

    /// The CA's root certificate, which the first start writes to
    /// `<data_dir>/ca/root.crt.pem`: the trust anchor for the HTTPS listener.
    pub fn root_pem(&self) -> PathBuf {
        self.data_dir.join("ca/root.crt.pem")
    }

    /// The data directory the server was started on.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's stdout and stderr so far (the last 32 KiB).
    pub fn log_tail(&self) -> String {
        let text = fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        match text.char_indices().rev().nth(LOG_TAIL) {
            Some((cut, _)) => format!("[...]\n{}", &text[cut..]),
            None => text,
        }
    }

    /// Errors unless the process is still running.
    pub fn check_running(&mut self) -> Result<()> {
        let child = self.child.as_mut().context("server already stopped")?;
        if let Some(status) = child.try_wait()? {
            bail!("nameplate serve exited with {status}; its log:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// Stops the server with SIGTERM (SIGKILL after 10 s) and returns how it exited.
    pub fn stop(mut self) -> Result<ExitStatus> {
        self.terminate()
    }

    /// Kills the server with SIGKILL (no chance to flush or answer) and
    /// reaps it; its log stays readable with [`Server::log_tail`].
    pub fn sigkill(&mut self) -> Result<ExitStatus> {
        let mut child = self.child.take().context("server already stopped")?;
        child.kill().context("SIGKILL nameplate serve")?;
        Ok(child.wait()?)
    }

    fn wait_ready(&mut self, zone: &str) -> Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        let query = dns::query(zone, RecordType::SOA)?;
        let bytes = dns::encode(&query)?;
        let mut last = String::from("no response");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("nameplate serve exited early with {status}");
            }
            if let Some(resp) = dns::send_udp(self.addr, &bytes, Duration::from_millis(250))? {
                match dns::parse_response(&resp) {
                    Ok(msg) => {
                        let summary = Summary::of(&msg);
                        let has_soa = msg.answers.iter().any(|r| r.record_type() == RecordType::SOA);
                        if summary.rcode == rcode::NOERROR && has_soa {
                            return Ok(());
                        }
                        last = format!("{summary}");
                    }
                    Err(e) => last = format!("{e:#}"),
                }
            }
            if Instant::now() > deadline {
                bail!("no NOERROR answer to {zone} SOA within {READY_DEADLINE:?} (last: {last})");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn terminate(&mut self) -> Result<ExitStatus> {
        let mut child = self.child.take().context("server already stopped")?;
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        // std only sends SIGKILL; ask politely first so the server can flush and unlock.
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        child.kill()?;
        Ok(child.wait()?)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
        if thread::panicking() {
            eprintln!("---- nameplate serve log ({}) ----\n{}\n---- end of log ----", self.addr, self.log_tail());
        }
    }
}

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct CmdOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl CmdOutput {
    /// Whether it exited with status 0.
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// stdout followed by stderr, as a person reads a terminal.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A `nameplate` command with the given arguments.
pub fn nameplate_cmd(args: &[&str]) -> Result<Command> {
    let mut cmd = Command::new(nameplate_bin()?);
    cmd.args(args);
    Ok(cmd)
}

/// Runs `cmd` to completion, killing it (and failing) if it takes longer
/// than `deadline`.
pub fn run(cmd: &mut Command, deadline: Duration) -> Result<CmdOutput> {
    run_with_input(cmd, None, deadline)
}

/// [`run`] with `input` written to the command's stdin (then closed), or
/// stdin empty when `None`.
pub fn run_with_input(cmd: &mut Command, input: Option<&str>, deadline: Duration) -> Result<CmdOutput> {
    let stdin = if input.is_some() { Stdio::piped() } else { Stdio::null() };
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning {cmd:?}"))?;
    if let (Some(input), Some(mut pipe)) = (input, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).with_context(|| format!("writing to {cmd:?}"))?;
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let until = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {deadline:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let join = |h: thread::JoinHandle<String>| h.join().unwrap_or_default();
    Ok(CmdOutput { status, stdout: join(stdout), stderr: join(stderr) })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `nameplate zone import FILE --data-dir DATA_DIR` and returns its
/// output whatever the exit status.
pub fn try_zone_import(data_dir: &Path, file: &Path) -> Result<CmdOutput> {
    let mut cmd = nameplate_cmd(&["zone", "import"])?;
    cmd.arg(file).arg("--data-dir").arg(data_dir);
    run(&mut cmd, CLI_DEADLINE)
}

/// Runs `nameplate zone export NAME --data-dir DATA_DIR` and returns its
/// output whatever the exit status.
pub fn try_zone_export(data_dir: &Path, zone: &str) -> Result<CmdOutput> {
    let mut cmd = nameplate_cmd(&["zone", "export", zone])?;
    cmd.arg("--data-dir").arg(data_dir);
    run(&mut cmd, CLI_DEADLINE)
}

/// Imports a master file into `data_dir`, failing unless the command succeeds.
pub fn zone_import(data_dir: &Path, file: &Path) -> Result<()> {
    let out = try_zone_import(data_dir, file)?;
    if !out.status.success() {
        bail!("zone import {} failed ({}):\n{}{}", file.display(), out.status, out.stdout, out.stderr);
    }
    Ok(())
}

/// Exports zone `zone` from `data_dir` as master-file text, failing unless
/// the command succeeds.
pub fn zone_export(data_dir: &Path, zone: &str) -> Result<String> {
    let out = try_zone_export(data_dir, zone)?;
    if !out.status.success() {
        bail!("zone export {zone} failed ({}):\n{}", out.status, out.stderr);
    }
    Ok(out.stdout)
}

/// Asks the server over both UDP and TCP and checks that the two answers
/// agree; returns the UDP one.
pub fn ask_both(addr: SocketAddr, qname: &str, qtype: RecordType) -> Result<Summary> {
    let udp = Summary::of(&dns::exchange(addr, &dns::query(qname, qtype)?, Transport::Udp)?);
    let tcp = Summary::of(&dns::exchange(addr, &dns::query(qname, qtype)?, Transport::Tcp)?);
    if udp != tcp {
        bail!("UDP and TCP answers differ for {qname}:\nudp: {udp}\ntcp: {tcp}");
    }
    Ok(udp)
}
