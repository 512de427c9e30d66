//! The nameplate under measurement: the real binary (`NAMEPLATE_BIN`) on a
//! fresh data directory, started with the tests' harness (ACME and the API
//! over its HTTPS listener, trusting its root), with team `hr`,
//! the zone `hr.apps.company.com` hosted here and owned by hr, and an owner
//! token of hr's. EAB and TSIG keys are made on demand through the API.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use data_encoding::BASE64URL_NOPAD;
use nameplate_tests::Server;
use nameplate_tests::api::{Api, PLATFORM_ORIGIN, Reply, admin_token};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The team every measurement acts for.
pub(crate) const TEAM: &str = "hr";
/// The team's hosted zone: every name ordered or issued is below it.
pub(crate) const ZONE: &str = "hr.apps.company.com";

/// A running nameplate with team [`TEAM`] owning the hosted zone [`ZONE`].
pub(crate) struct Target {
    server: Server,
    admin: Api,
    owner_token: String,
    _dir: TempDir,
}

impl Target {
    /// Starts nameplate with `config` laid over the embedded default and
    /// sets up the team, its zone and an owner token.
    pub(crate) fn start(config: &str) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ca-load-").tempdir().context("temp dir")?;
        let config_path = dir.path().join("nameplate.toml");
        fs::write(&config_path, config).context("writing the config overlay")?;
        let data = dir.path().join("data");
        let config_arg = config_path.to_str().context("non-UTF-8 temp path")?;
        let server = Server::start_https(&data, PLATFORM_ORIGIN, &["--config", config_arg])?;
        let admin = Api::connect(server.http_addr())?.with_token(&admin_token(&data)?);
        created(admin.post("/api/v1/teams", &json!({"name": TEAM})), "team")?;
        created(admin.post("/api/v1/zones", &json!({"name": ZONE, "team": TEAM, "kind": "hosted"})), "zone")?;
        let owner = created(admin.post(&format!("/api/v1/teams/{TEAM}/tokens"), &json!({"role": "owner"})), "token")?;
        let owner_token = owner.str("token")?;
        Ok(Self { server, admin, owner_token, _dir: dir })
    }

    /// `https://localhost:<port>`, the base of `/acme`, `/api/v1` and `/ca`.
    pub(crate) fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The CA's root (PEM), the HTTPS listener's trust anchor.
    pub(crate) fn root_pem(&self) -> Result<String> {
        fs::read_to_string(self.server.root_pem()).context("reading the CA root")
    }

    /// The ACME directory URL.
    pub(crate) fn directory(&self) -> String {
        format!("{}/acme/directory", self.base_url())
    }

    /// The server (DNS address, log).
    pub(crate) fn server(&self) -> &Server {
        &self.server
    }

    /// The owner token of [`TEAM`].
    pub(crate) fn owner_token(&self) -> &str {
        &self.owner_token
    }

    /// A fresh (single-use) External Account Binding key of [`TEAM`]:
    /// `(key_id, hmac_key)` with the HMAC key as the API spells it
    /// (unpadded base64url).
    pub(crate) fn eab(&self) -> Result<(String, String)> {
        let made = created(self.admin.post(&format!("/api/v1/teams/{TEAM}/eab"), &json!({})), "EAB key")?;
        Ok((made.str("key_id")?, made.str("hmac_key")?))
    }

    /// [`Target::eab`] with the HMAC key decoded, as instant-acme takes it.
    pub(crate) fn eab_raw(&self) -> Result<(String, Vec<u8>)> {
        let (id, hmac) = self.eab()?;
        let key = BASE64URL_NOPAD.decode(hmac.as_bytes()).context("EAB HMAC key is not base64url")?;
        Ok((id, key))
    }

    /// A new hmac-sha256 TSIG key `name` of [`TEAM`]: `(name, secret)`.
    pub(crate) fn tsig(&self, name: &str) -> Result<(String, String)> {
        let body = json!({"name": name, "algorithm": "hmac-sha256"});
        let made = created(self.admin.post(&format!("/api/v1/teams/{TEAM}/tsig-keys"), &body), "TSIG key")?;
        Ok((made.str("name")?, made.str("secret")?))
    }
}

/// The reply if the API answered 201, else an error naming `what`.
fn created(reply: Result<Reply>, what: &str) -> Result<Reply> {
    let reply = reply.with_context(|| format!("creating the {what}"))?;
    reply.expect_status(201).with_context(|| format!("creating the {what}"))?;
    Ok(reply)
}

/// `{"rrsets": [...]}` setting (`Some`) or deleting (`None`) the TXT
/// record of `_acme-challenge.<name>`.
pub(crate) fn challenge_patch(name: &str, value: Option<&str>) -> Value {
    let owner = format!("_acme-challenge.{name}.");
    let rrset = match value {
        Some(v) => json!({"name": owner, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
                          "records": [{"content": format!("\"{v}\"")}]}),
        None => json!({"name": owner, "type": "TXT", "changetype": "DELETE"}),
    };
    json!({"rrsets": [rrset]})
}

/// Whether `path` is an existing non-empty file.
pub(crate) fn non_empty(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
}
