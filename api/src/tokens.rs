//! API tokens: minting, lookup, revocation, and the first-start admin token.
//!
//! A token is `np_` followed by 256 random bits (ring's `SystemRandom`) in
//! unpadded base64url. It is shown once, when minted; the catalog keeps only
//! its SHA-256 hash:
//!
//! ```text
//! token/<sha256(token) hex>  -> JSON TokenRecord {id, team, role, description, created_at, revoked}
//! token-id/<id>              -> <sha256(token) hex>   (so a token can be revoked by id)
//! ```
//!
//! Revoking sets `revoked` and keeps the record, so the id stays known for
//! audit. Ids are 64 random bits in hex and safe to log; tokens never are.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zones::{Store, Transaction};

use crate::audit::Audit;
use crate::{ApiError, PLATFORM_TEAM, Role, rfc3339, teams};

/// The file in the data directory that receives the first admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// A token as stored: everything but the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// The token's public id.
    pub id: String,
    /// The team it acts for.
    pub team: String,
    /// What it may do.
    pub role: Role,
    /// Free text from whoever minted it.
    pub description: String,
    /// When it was minted (RFC 3339).
    pub created_at: String,
    /// Whether it has been revoked.
    pub revoked: bool,
}

/// A freshly minted token: the only time its text is known. Its `Debug`
/// shows the id only, so it cannot reach a log by accident.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Issued {
    /// The token's public id.
    pub id: String,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("id", &self.id).field("token", &"<redacted>").finish()
    }
}

/// The longest accepted token description, in bytes.
const MAX_DESCRIPTION: usize = 256;

/// The catalog key of the token with hash `hash`.
fn token_key(hash: &str) -> Vec<u8> {
    format!("token/{hash}").into_bytes()
}

/// The catalog key mapping token `id` to its hash.
fn id_key(id: &str) -> Vec<u8> {
    format!("token-id/{id}").into_bytes()
}

/// The hex SHA-256 of `token`.
pub fn hash(token: &str) -> String {
    HEXLOWER.encode(digest(&SHA256, token.as_bytes()).as_ref())
}

/// The stored record of `token`, revoked or not.
pub(crate) fn lookup(store: &Store, token: &str) -> Result<Option<TokenRecord>, ApiError> {
    match store.catalog_get(&token_key(&hash(token)))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Mints a token for `team` (which must exist) with `role`, durable before
/// it returns, audited as made by the command line (`nameplate admin token
/// create`). Only the platform team may hold `admin` tokens.
pub fn issue_token(
    store: &Store,
    now: SystemTime,
    team: &str,
    role: Role,
    description: &str,
) -> Result<Issued, ApiError> {
    mint(store, now, team, role, description, Audit::system("cli", team, "token.create", ""))
}

/// Mints a token as [`issue_token`] does, with `audit` as the audit note
/// (its target becomes the new token's id).
pub(crate) fn mint(
    store: &Store,
    now: SystemTime,
    team: &str,
    role: Role,
    description: &str,
    audit: Audit,
) -> Result<Issued, ApiError> {
    if role == Role::Admin && team != PLATFORM_TEAM {
        return Err(ApiError::InvalidRequest(format!("admin tokens belong to team {PLATFORM_TEAM}, not {team}")));
    }
    if description.len() > MAX_DESCRIPTION {
        return Err(ApiError::InvalidRequest(format!("description is longer than {MAX_DESCRIPTION} bytes")));
    }
    if teams::get(store, team)?.is_none() {
        return Err(ApiError::NotFound(format!("no team {team}")));
    }
    let mut tx = Transaction::new();
    let issued = stage_token(&mut tx, now, team, role, description)?;
    audit.target(&issued.id).why(serde_json::json!({ "role": role })).commit(store, tx, now)?;
    Ok(issued)
}

/// Adds a new token's two catalog entries to `tx`.
fn stage_token(
    tx: &mut Transaction,
    now: SystemTime,
    team: &str,
    role: Role,
    description: &str,
) -> Result<Issued, ApiError> {
    let rng = SystemRandom::new();
    let token = format!("np_{}", BASE64URL_NOPAD.encode(&random::<32>(&rng)?));
    let id = HEXLOWER.encode(&random::<8>(&rng)?);
    let record = TokenRecord {
        id: id.clone(),
        team: team.to_owned(),
        role,
        description: description.to_owned(),
        created_at: rfc3339(now),
        revoked: false,
    };
    let hash = hash(&token);
    tx.catalog_put(&token_key(&hash), serde_json::to_vec(&record)?).catalog_put(&id_key(&id), hash.into_bytes());
    Ok(Issued { id, token })
}

pub(crate) fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes).map_err(|_| ApiError::Internal("the system RNG failed".to_owned()))?;
    Ok(bytes)
}

/// Revokes token `id` of `team`; revoking a revoked token succeeds. A token
/// of another team is reported as not found.
pub(crate) fn revoke(store: &Store, now: SystemTime, team: &str, id: &str, audit: Audit) -> Result<(), ApiError> {
    let not_found = || ApiError::NotFound(format!("team {team} has no token {id}"));
    let hash = store.catalog_get(&id_key(id))?.ok_or_else(not_found)?;
    let key = [b"token/".as_slice(), &hash].concat();
    let bytes = store.catalog_get(&key)?.ok_or_else(not_found)?;
    let mut record: TokenRecord = serde_json::from_slice(&bytes)?;
    if record.team != team {
        return Err(not_found());
    }
    if record.revoked {
        return Ok(());
    }
    record.revoked = true;
    let mut tx = Transaction::new();
    tx.catalog_put(&key, serde_json::to_vec(&record)?);
    audit.commit(store, tx, now)?;
    Ok(())
}

/// Whether an unrevoked platform admin token exists.
fn admin_exists(store: &Store) -> Result<bool, ApiError> {
    for (_, bytes) in store.catalog_scan(b"token/")? {
        let record: TokenRecord = serde_json::from_slice(&bytes)?;
        if record.role == Role::Admin && record.team == PLATFORM_TEAM && !record.revoked {
            return Ok(true);
        }
    }
    Ok(false)
}

/// On first start (no unrevoked platform admin token in the catalog):
/// creates team `platform` if needed and an admin token for it, writes the
/// token to `<data_dir>/admin.token` (created with mode 0600) and returns it
/// for the caller to print once. Returns `None` when an admin token exists.
///
/// The file is written before the catalog, so a token that reached the
/// catalog is always in the file.
pub fn ensure_admin_token(store: &Store, data_dir: &Path, now: SystemTime) -> Result<Option<String>, ApiError> {
    if admin_exists(store)? {
        return Ok(None);
    }
    let mut tx = Transaction::new();
    if teams::get(store, PLATFORM_TEAM)?.is_none() {
        teams::stage(&mut tx, &teams::TeamRecord::new(PLATFORM_TEAM, None, now))?;
    }
    let issued = stage_token(&mut tx, now, PLATFORM_TEAM, Role::Admin, "first-start platform admin")?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    write_secret(&path, &issued.token).map_err(|e| ApiError::Internal(format!("writing {}: {e}", path.display())))?;
    Audit::system("bootstrap", PLATFORM_TEAM, "token.create", &issued.id).commit(store, tx, now)?;
    tracing::info!(id = %issued.id, file = %path.display(), "created the platform admin token");
    Ok(Some(issued.token))
}

/// Writes `secret` and a newline to a new file at `path` that only the owner
/// can read (mode 0600 from the moment it exists), replacing any old file.
fn write_secret(path: &Path, secret: &str) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(format!("{secret}\n").as_bytes())?;
    file.sync_all()
}
