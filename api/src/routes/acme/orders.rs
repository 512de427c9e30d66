//! newOrder, orders, finalize, authorizations and challenges (RFC 8555
//! §7.4, §7.5).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use ca::acme::order::StoredOrder;
use ca::acme::types::{AuthzId, ChallengeType, OrderId};
use ca::acme::{IssueSeams, NewOrder, ProblemType, Resolver, SchemePolicy, Validators};
use ca::pki::{CheckedCsr, CsrError};
use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Failure, Id, KeyMode, Post, RawPost, Reply, problem, views};
use crate::acme::TcpFetch;

/// Seconds a client should wait before polling a processing order.
const RETRY_AFTER_SECS: u64 = 1;

/// One identifier of a newOrder payload.
#[derive(Debug, Deserialize)]
struct RawIdentifier {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// The newOrder payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrderBody {
    identifiers: Vec<RawIdentifier>,
    not_before: Option<Value>,
    not_after: Option<Value>,
    profile: Option<String>,
    replaces: Option<String>,
}

/// `POST /acme/new-order`: 201 with the order and its `Location`.
pub(crate) async fn new_order(req: RawPost) -> Response {
    req.run(KeyMode::Kid, create).await
}

fn create(ctx: &Ctx, post: Post) -> Result<Reply, Failure> {
    let body: NewOrderBody = post.req.json()?;
    let request = NewOrder {
        identifiers: body.identifiers.into_iter().map(|i| (i.kind, i.value)).collect(),
        not_before: body.not_before.is_some(),
        not_after: body.not_after.is_some(),
        profile: body.profile,
        replaces: body.replaces,
    };
    let zones = ctx.zones();
    let order = ctx.edge.acme().new_order(post.account_id()?, request, &name_policy(ctx, &zones), ctx.now)?;
    Ok(order_reply(ctx, &order).status(StatusCode::CREATED))
}

fn order_reply(ctx: &Ctx, order: &StoredOrder) -> Reply {
    let reply =
        Reply::json(views::order(&ctx.edge, order)).location(views::order_url(&ctx.edge, order.core().id.as_str()));
    match order {
        StoredOrder::Processing(_) => reply.retry_after(RETRY_AFTER_SECS),
        _ => reply,
    }
}

/// `POST /acme/order/{id}` (POST-as-GET).
pub(crate) async fn order(Path(id): Id, req: RawPost) -> Response {
    req.run(KeyMode::Kid, move |ctx, post| {
        let order = ctx.edge.acme().order(&OrderId(id), post.account_id()?, ctx.now)?;
        Ok(order_reply(ctx, &order))
    })
    .await
}

/// The finalize payload.
#[derive(Debug, Deserialize)]
struct FinalizeBody {
    csr: String,
}

/// `POST /acme/order/{id}/finalize`: the order, valid once signed.
pub(crate) async fn finalize(Path(id): Id, req: RawPost) -> Response {
    req.run(KeyMode::Kid, move |ctx, post| sign(ctx, &post, &id)).await
}

fn sign(ctx: &Ctx, post: &Post, id: &str) -> Result<Reply, Failure> {
    let body: FinalizeBody = post.req.json()?;
    let der = data_encoding::BASE64URL_NOPAD
        .decode(body.csr.as_bytes())
        .map_err(|_| problem(ProblemType::BadCsr, "the csr is not unpadded base64url"))?;
    let csr = CheckedCsr::parse(&der).map_err(csr_problem)?;
    let key_type = ca::issuance::policy_key_type(csr.key_kind());
    ctx.state.config.policy.certs.check_key(key_type).map_err(|e| problem(ProblemType::BadPublicKey, e.to_string()))?;
    let zones = ctx.zones();
    let names = name_policy(ctx, &zones);
    let external = ctx.edge.delegated_dns(&*zones);
    let caa = Resolver { view: &*zones, external: &external };
    let signer = ctx.edge.signer(&csr, ctx.now);
    let seams = IssueSeams { caa: &caa, names: &names, signer: &signer };
    let order = ctx.edge.acme().finalize(&OrderId(id.to_owned()), post.account_id()?, csr.names(), seams, ctx.now)?;
    Ok(order_reply(ctx, &order))
}

/// Who may order which names, and their certificates' lifetimes, by the
/// API's policy over the zones served now.
fn name_policy<'a>(ctx: &'a Ctx, zones: &'a zones::ZoneSet) -> SchemePolicy<'a> {
    let policy = &ctx.state.config.policy;
    SchemePolicy { scheme: &policy.scheme, zones, certs: &policy.certs }
}

/// `badPublicKey` for a key we do not certify, `badCSR` otherwise.
fn csr_problem(error: CsrError) -> Failure {
    let kind = match error {
        CsrError::WeakKey(_) | CsrError::UnsupportedKey(_) => ProblemType::BadPublicKey,
        _ => ProblemType::BadCsr,
    };
    problem(kind, error.to_string())
}

/// An authorization update (§7.5.2).
#[derive(Debug, Deserialize)]
struct AuthzUpdate {
    status: String,
}

/// `POST /acme/authz/{id}`: POST-as-GET, or `{"status":"deactivated"}`.
pub(crate) async fn authz(Path(id): Id, req: RawPost) -> Response {
    req.run(KeyMode::Kid, move |ctx, post| {
        let id = AuthzId(id);
        let acme = ctx.edge.acme();
        let authz = if post.req.is_post_as_get() {
            acme.authorization(&id, post.account_id()?, ctx.now)?
        } else {
            let update: AuthzUpdate = post.req.json()?;
            if update.status != "deactivated" {
                return Err(problem(ProblemType::Malformed, "only {\"status\":\"deactivated\"} may be posted"));
            }
            acme.deactivate_authz(&id, post.account_id()?, ctx.now)?
        };
        Ok(Reply::json(views::authz(&ctx.edge, &authz)))
    })
    .await
}

/// `POST /acme/chall/{authz}/{type}`: `{}` validates now; POST-as-GET reads.
pub(crate) async fn challenge(Path((authz, kind)): Path<(String, String)>, req: RawPost) -> Response {
    req.run(KeyMode::Kid, move |ctx, post| respond(ctx, &post, AuthzId(authz), &kind)).await
}

fn respond(ctx: &Ctx, post: &Post, id: AuthzId, kind: &str) -> Result<Reply, Failure> {
    let kind = match kind {
        "dns-01" => ChallengeType::Dns01,
        "http-01" => ChallengeType::Http01,
        _ => return Err(Failure::NotFound),
    };
    let acme = ctx.edge.acme();
    let account = post.account_id()?;
    let authz = if post.req.is_post_as_get() {
        acme.authorization(&id, account, ctx.now)?
    } else {
        let zones = ctx.zones();
        let external = ctx.edge.delegated_dns(&*zones);
        let validators = Validators { dns: Resolver { view: &*zones, external: &external }, http: &TcpFetch };
        acme.respond_challenge(&id, kind, account, validators, ctx.now)?
    };
    let challenge = authz.core().challenges.iter().find(|c| c.kind == kind).ok_or(Failure::NotFound)?;
    let up = views::authz_url(&ctx.edge, id.as_str());
    Ok(Reply::json(views::challenge(&ctx.edge, &id, challenge)).up(up))
}
