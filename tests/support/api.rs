//! The HTTP API under test: a blocking reqwest client with the bearer token
//! of one principal, replies reduced to status + problem fields, and the
//! admin token the first start writes to `<data-dir>/admin.token`.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::server::READY_DEADLINE;

/// How long one API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The file `nameplate serve` writes the first admin token to.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The admin token in `<data_dir>/admin.token`.
pub fn admin_token(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// The permission bits of `<data_dir>/admin.token` (e.g. `0o600`).
#[cfg(unix)]
pub fn admin_token_mode(data_dir: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    Ok(fs::metadata(&path).with_context(|| format!("stat {}", path.display()))?.permissions().mode() & 0o777)
}

/// A reply: status, the headers the tests look at, and the body as JSON
/// (or as a JSON string when it is not JSON).
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The Content-Type header, or "".
    pub content_type: String,
    /// The WWW-Authenticate header, if any.
    pub www_authenticate: Option<String>,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// Errors unless this is an RFC 9457 problem with `status` and type
    /// `urn:nameplate:problem:<kind>` and a non-empty detail.
    pub fn expect_problem(&self, status: u16, kind: &str) -> Result<()> {
        let want = format!("urn:nameplate:problem:{kind}");
        ensure!(self.status == status, "status {} (want {status}): {}", self.status, self.body);
        ensure!(self.content_type == "application/problem+json", "content type {:?}", self.content_type);
        ensure!(self.body["type"] == want.as_str(), "type {} (want {want})", self.body["type"]);
        ensure!(self.body["status"] == status, "body status {}", self.body["status"]);
        ensure!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "no detail: {}", self.body);
        Ok(())
    }

    /// Errors unless the status is `status`.
    pub fn expect_status(&self, status: u16) -> Result<&Self> {
        ensure!(self.status == status, "status {} (want {status}): {}", self.status, self.body);
        Ok(self)
    }

    /// The body as text (PEM files and other non-JSON bodies).
    pub fn text(&self) -> Result<String> {
        self.body.as_str().map(str::to_owned).with_context(|| format!("not a text body: {}", self.body))
    }

    /// The string field `field` of the body.
    pub fn str(&self, field: &str) -> Result<String> {
        self.body[field].as_str().map(str::to_owned).with_context(|| format!("no string {field:?} in {}", self.body))
    }
}

/// A client of one server's API, acting with one bearer token (or none).
#[derive(Clone, Debug)]
pub struct Api {
    base: String,
    token: Option<String>,
    client: Client,
}

impl Api {
    /// A client of the API at `addr` with no token; waits until `/healthz`
    /// answers 200.
    pub fn connect(addr: SocketAddr) -> Result<Self> {
        let client = Client::builder().timeout(REQUEST_TIMEOUT).build().context("building the HTTP client")?;
        let api = Self { base: format!("http://{addr}"), token: None, client };
        api.wait_healthy()?;
        Ok(api)
    }

    /// The same client acting with `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_owned()), ..self.clone() }
    }

    fn wait_healthy(&self) -> Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let last = match self.client.get(format!("{}/healthz", self.base)).send() {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => format!("status {}", r.status()),
                Err(e) => format!("{e}"),
            };
            if Instant::now() > deadline {
                bail!("{}/healthz not ready within {READY_DEADLINE:?} (last: {last})", self.base);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Reply> {
        self.send(self.client.get(self.url(path)))
    }

    /// `POST path` with `body` as JSON.
    pub fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.post_raw(path, "application/json", &body.to_string())
    }

    /// `POST path` with a raw body and content type (for malformed input).
    pub fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Result<Reply> {
        self.send(self.client.post(self.url(path)).header(CONTENT_TYPE, content_type).body(body.to_owned()))
    }

    /// `PATCH path` with `body` as JSON.
    pub fn patch(&self, path: &str, body: &Value) -> Result<Reply> {
        let request = self.client.patch(self.url(path)).header(CONTENT_TYPE, "application/json");
        self.send(request.body(body.to_string()))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Reply> {
        self.send(self.client.delete(self.url(path)))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn send(&self, request: RequestBuilder) -> Result<Reply> {
        let request = match &self.token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        };
        let response = request.send().context("API request")?;
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (content_type, www_authenticate) = (header(CONTENT_TYPE).unwrap_or_default(), header(WWW_AUTHENTICATE));
        let status = response.status().as_u16();
        let text = response.text().context("reading the API response")?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { status, content_type, www_authenticate, body })
    }
}

/// Runs `nameplate admin token create --team TEAM --role ROLE --data-dir
/// DATA_DIR` and returns its output whatever the exit status.
pub fn try_token_create(data_dir: &Path, team: &str, role: &str) -> Result<crate::server::CmdOutput> {
    let mut cmd = crate::server::nameplate_cmd(&["admin", "token", "create", "--team", team, "--role", role])?;
    cmd.arg("--data-dir").arg(data_dir);
    crate::server::run(&mut cmd, crate::server::CLI_DEADLINE)
}

/// The platform zone the API tests run against (the embedded default).
pub const PLATFORM_ORIGIN: &str = "apps.company.com.";

/// Starts nameplate on `data` with the default platform zone and returns it
/// with an unauthenticated API client; panics (failing the test) if it
/// does not come up.
pub fn start(data: &Path) -> (crate::Server, Api) {
    let server = crate::Server::start(data, PLATFORM_ORIGIN).expect("start nameplate");
    let api = Api::connect(server.http_addr()).expect("nameplate's API is up");
    (server, api)
}

/// Writes the root `api`'s server serves at `/ca/root.pem` to
/// `<dir>/root.pem` and returns that path, for `openssl verify`.
pub fn served_root(api: &Api, dir: &Path) -> PathBuf {
    let path = dir.join("root.pem");
    fs::write(&path, api.get("/ca/root.pem").expect("GET /ca/root.pem").text().expect("PEM")).expect("root file");
    path
}

/// A blocking HTTP client that trusts only the CA root at `root` (PEM),
/// for nameplate's HTTPS listener and the URLs its certificates name.
pub fn https_client(root: &Path) -> Result<Client> {
    let pem = fs::read(root).with_context(|| format!("reading {}", root.display()))?;
    let anchor = reqwest::Certificate::from_pem(&pem).context("the root does not parse")?;
    let client = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(anchor)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    Ok(client)
}

/// Starts nameplate in `dir` (data in `dir/data`) with `config` laid over
/// the embedded default, and team `team` created; returns the server and
/// an admin client. Panics (failing the test) if any of it fails.
pub fn start_with_team(dir: &Path, config: &str, team: &str) -> (crate::Server, Api) {
    start_team(dir, config, team, crate::Server::start_with_args)
}

/// As [`start_with_team`], with the CA's and ACME's URLs on the HTTPS
/// listener (see [`crate::Server::start_https`]).
pub fn start_with_team_https(dir: &Path, config: &str, team: &str) -> (crate::Server, Api) {
    start_team(dir, config, team, crate::Server::start_https)
}

fn start_team(
    dir: &Path,
    config: &str,
    team: &str,
    start: fn(&Path, &str, &[&str]) -> Result<crate::Server>,
) -> (crate::Server, Api) {
    let path = dir.join("nameplate.toml");
    fs::write(&path, config).expect("write the config overlay");
    let data = dir.join("data");
    let args = ["--config", path.to_str().expect("utf-8 path")];
    let server = start(&data, PLATFORM_ORIGIN, &args).expect("start nameplate");
    let api = Api::connect(server.http_addr()).expect("nameplate's API is up");
    let admin = api.with_token(&admin_token(&data).expect("admin token"));
    let made = admin.post("/api/v1/teams", &serde_json::json!({"name": team})).expect("team");
    made.expect_status(201).expect("team made");
    (server, admin)
}

/// Asks `server` for `qtype` at `qname` over UDP and summarizes the answer;
/// panics if no answer comes.
pub fn ask(server: &crate::Server, qname: &str, qtype: hickory_proto::rr::RecordType) -> crate::Summary {
    crate::Summary::of(&crate::dns::ask(server.addr(), qname, qtype).expect("a DNS answer"))
}

/// Mints a token of `role` for `team` with `admin`'s client and returns it;
/// panics unless the API answers 201.
pub fn mint(admin: &Api, team: &str, role: &str) -> String {
    let minted = admin.post(&format!("/api/v1/teams/{team}/tokens"), &serde_json::json!({"role": role})).expect("mint");
    minted.expect_status(201).expect("token minted");
    minted.str("token").expect("the token in the reply")
}

/// Makes an External Account Binding key for `team` with `api`'s client
/// and returns `(key_id, hmac_key)`; panics unless the API answers 201.
pub fn eab_key(api: &Api, team: &str) -> (String, String) {
    let made = api.post(&format!("/api/v1/teams/{team}/eab"), &serde_json::json!({})).expect("eab");
    made.expect_status(201).expect("EAB key made");
    (made.str("key_id").expect("key_id"), made.str("hmac_key").expect("hmac_key"))
}

/// Makes the TSIG key `name` (`algorithm`) for `team` with `api`'s client
/// and returns `(name, secret)` as the API spells them; panics unless the
/// API answers 201.
pub fn tsig_key(api: &Api, team: &str, name: &str, algorithm: &str) -> (String, String) {
    let body = serde_json::json!({"name": name, "algorithm": algorithm});
    let made = api.post(&format!("/api/v1/teams/{team}/tsig-keys"), &body).expect("tsig key");
    made.expect_status(201).expect("TSIG key made");
    (made.str("name").expect("name"), made.str("secret").expect("secret"))
}
