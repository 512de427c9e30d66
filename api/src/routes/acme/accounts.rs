//! newAccount, the account resource, its orders list and keyChange
//! (RFC 8555 §7.3).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use ca::acme::types::Account;
use ca::acme::{NewAccount, ProblemType, VerifiedEab};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, Failure, Id, KeyMode, Post, RawPost, Reply, problem, views};
use crate::acme::{PublicJwk, Unverified, verify_eab};

/// The newAccount payload.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewAccountBody {
    #[serde(default)]
    contact: Vec<String>,
    #[serde(default)]
    only_return_existing: bool,
    #[serde(default)]
    external_account_binding: Option<Value>,
}

/// `POST /acme/new-account`: 201 and `Location` for a new account, 200 for
/// the existing account of this key.
pub(crate) async fn new_account(req: RawPost) -> Response {
    req.run(KeyMode::Jwk, create).await
}

fn create(ctx: &Ctx, post: Post) -> Result<Reply, Failure> {
    let body: NewAccountBody = post.req.json()?;
    let acme = ctx.edge.acme();
    let eab = match &body.external_account_binding {
        Some(binding) => {
            // A store error during the lookup is the server's fault
            // (serverInternal), not an unknown key (unauthorized).
            let mut failed = None;
            let lookup = |kid: &str| acme.eab_key(kid).map_err(|e| failed = Some(e)).ok().flatten().map(|k| k.hmac_key);
            let verified = verify_eab(binding, &ctx.url, &post.req.key, lookup);
            if let Some(error) = failed {
                return Err(error.into());
            }
            Some(VerifiedEab { key_id: verified?.key_id })
        }
        None => None,
    };
    let key = &post.req.key;
    let request = NewAccount {
        jwk: stored_jwk(key)?,
        thumbprint: key.thumbprint(),
        contact: body.contact,
        eab,
        only_return_existing: body.only_return_existing,
    };
    let (account, created) = acme.new_account(request, ctx.now)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(account_reply(ctx, &account).status(status))
}

fn account_reply(ctx: &Ctx, account: &Account) -> Reply {
    Reply::json(views::account(&ctx.edge, account)).location(ctx.edge.acme().account_url(&account.id))
}

/// An account update (§7.3.2, §7.3.6).
#[derive(Debug, Deserialize)]
struct AccountUpdate {
    status: Option<String>,
    contact: Option<Vec<String>>,
}

/// `POST /acme/acct/{id}`: POST-as-GET, a contact update or deactivation.
pub(crate) async fn account(Path(id): Id, req: RawPost) -> Response {
    req.run(KeyMode::Kid, move |ctx, post| update(ctx, &post, &id)).await
}

fn update(ctx: &Ctx, post: &Post, id: &str) -> Result<Reply, Failure> {
    let account = own_account(post, id)?;
    if post.req.is_post_as_get() {
        return Ok(account_reply(ctx, account));
    }
    let change: AccountUpdate = post.req.json()?;
    let acme = ctx.edge.acme();
    let updated = match (change.status.as_deref(), change.contact) {
        (Some("deactivated"), _) => acme.deactivate_account(&account.id)?,
        (Some(other), _) => return Err(problem(ProblemType::Malformed, format!("status {other:?} cannot be set"))),
        (None, Some(contact)) => acme.update_account(&account.id, contact)?,
        (None, None) => account.clone(),
    };
    Ok(account_reply(ctx, &updated))
}

/// The signing account if it is account `id`, else `unauthorized`.
fn own_account<'a>(post: &'a Post, id: &str) -> Result<&'a Account, Failure> {
    let account = post.account()?;
    if account.id.as_str() != id {
        return Err(problem(ProblemType::Unauthorized, "the URL names another account than the signer"));
    }
    Ok(account)
}

/// `POST /acme/acct/{id}/orders` (§7.1.2.1): the account's order URLs.
pub(crate) async fn orders(Path(id): Id, req: RawPost) -> Response {
    req.run(KeyMode::Kid, move |ctx, post| {
        let account = own_account(&post, &id)?;
        let ids = ctx.edge.acme().orders(&account.id)?;
        let urls: Vec<String> = ids.iter().map(|o| views::order_url(&ctx.edge, o.as_str())).collect();
        Ok(Reply::json(json!({"orders": urls})))
    })
    .await
}

/// The inner keyChange payload (§7.3.5).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyChange {
    account: String,
    old_key: Value,
}

/// `POST /acme/key-change`: 200 with the account; 409 and the other
/// account's `Location` when the new key is in use.
pub(crate) async fn key_change(req: RawPost) -> Response {
    req.run(KeyMode::Kid, roll_over).await
}

fn roll_over(ctx: &Ctx, post: Post) -> Result<Reply, Failure> {
    let account = post.account()?;
    let inner = Unverified::from_value(&post.req.json::<Value>()?)?;
    if inner.header().nonce.is_some() || inner.header().url != ctx.url {
        return Err(problem(ProblemType::Malformed, "the inner JWS must have no nonce and the outer url"));
    }
    let inner = inner.verify_embedded()?;
    let change: KeyChange = inner.json()?;
    let acme = ctx.edge.acme();
    if change.account != acme.account_url(&account.id) {
        return Err(problem(ProblemType::Unauthorized, "the inner account is not the signer"));
    }
    if PublicJwk::from_value(&change.old_key)? != post.req.key {
        return Err(problem(ProblemType::Unauthorized, "oldKey is not the account's key"));
    }
    let thumbprint = inner.key.thumbprint();
    if let Some(other) = acme.account_by_key(&thumbprint)? {
        return Err(Failure::Conflict(acme.account_url(&other.id)));
    }
    let updated = acme.key_change(&account.id, stored_jwk(&inner.key)?, thumbprint)?;
    Ok(account_reply(ctx, &updated))
}

/// `key` as the account stores it: its canonical JSON (RFC 7638).
fn stored_jwk(key: &PublicJwk) -> Result<Value, Failure> {
    serde_json::from_str(&key.canonical_json()).map_err(|e| Failure::Internal(e.to_string()))
}
