//! Certificate download, revokeCert (RFC 8555 §7.4.2, §7.6) and ARI
//! renewalInfo (RFC 9773).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use ca::acme::ProblemType;
use ca::issuance::IssueError;
use ca::pki::RevocationReason;
use serde::Deserialize;
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::{Ctx, Failure, Id, KeyMode, Post, RawPost, Reply, blocking, edge, problem};
use crate::AppState;
use crate::acme::{JOSE_CONTENT_TYPE, PublicJwk, serial_key, strip_leading_zeros};
use crate::rfc3339;

/// How long a client should wait before asking for renewal info again (6 h).
const ARI_RETRY_AFTER_SECS: u64 = 6 * 3600;

/// `POST /acme/cert/{id}` (POST-as-GET): leaf and intermediate as
/// `application/pem-certificate-chain`. Like step-ca, any `Accept` and a
/// missing or wrong `Content-Type` are tolerated on this download.
pub(crate) async fn download(Path(id): Id, mut req: RawPost) -> Response {
    req.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JOSE_CONTENT_TYPE));
    req.run(KeyMode::Kid, move |ctx, post| {
        let chain = ctx.edge.chain(&id)?.ok_or(Failure::NotFound)?;
        if chain.account != post.account_id()?.as_str() {
            return Err(problem(ProblemType::Unauthorized, "this certificate belongs to another account"));
        }
        Ok(Reply::pem(chain.chain_pem))
    })
    .await
}

/// The revokeCert payload.
#[derive(Debug, Deserialize)]
struct RevokeBody {
    certificate: String,
    reason: Option<u8>,
}

/// `POST /acme/revoke-cert`: by the issuing account (`kid`) or by the
/// certificate's key (`jwk`); 200 with no body.
pub(crate) async fn revoke(req: RawPost) -> Response {
    req.run(KeyMode::Either, revoke_cert).await
}

fn revoke_cert(ctx: &Ctx, post: Post) -> Result<Reply, Failure> {
    let body: RevokeBody = post.req.json()?;
    let reason = RevocationReason::from_code(body.reason.unwrap_or(0))
        .ok_or_else(|| problem(ProblemType::BadRevocationReason, "this reason code may not be used"))?;
    let der = data_encoding::BASE64URL_NOPAD
        .decode(body.certificate.as_bytes())
        .map_err(|_| problem(ProblemType::Malformed, "the certificate is not unpadded base64url"))?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|_| problem(ProblemType::Malformed, "the certificate is not a DER X.509 certificate"))?;
    let stored = ctx.edge.chain(&serial_key(cert.raw_serial()))?.filter(|c| c.der == der);
    let stored = stored.ok_or_else(|| problem(ProblemType::Malformed, "this certificate was not issued here"))?;
    let allowed = match &post.account {
        Some(account) => stored.account == account.id.as_str(),
        None => key_matches(&post.req.key, &cert),
    };
    if !allowed {
        return Err(problem(ProblemType::Unauthorized, "neither the issuing account nor the certificate's key"));
    }
    match ctx.edge.ca().revoke(&stored.serial_hex, reason, ctx.now) {
        Ok(_) => Ok(Reply::empty()),
        Err(IssueError::Pki(ca::pki::Error::AlreadyRevoked(_))) => {
            Err(problem(ProblemType::AlreadyRevoked, "the certificate is already revoked"))
        }
        Err(e) => Err(Failure::Internal(e.to_string())),
    }
}

/// Whether `jwk` is the certificate's subject public key.
fn key_matches(jwk: &PublicJwk, cert: &X509Certificate<'_>) -> bool {
    let spki = cert.public_key();
    let bits: &[u8] = &spki.subject_public_key.data;
    match jwk {
        PublicJwk::Ec { x, y, .. } => bits.first() == Some(&4) && bits[1..] == [x.as_slice(), y.as_slice()].concat(),
        PublicJwk::Ed25519 { x } => bits == x.as_slice(),
        PublicJwk::Rsa { n, e } => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                strip_leading_zeros(rsa.modulus) == n.as_slice() && strip_leading_zeros(rsa.exponent) == e.as_slice()
            }
            _ => false,
        },
    }
}

/// `GET /acme/renewal-info/{id}` (RFC 9773 §4.2).
pub(crate) async fn renewal_info(State(state): State<AppState>, Path(id): Id) -> Response {
    blocking(move || {
        let (start, end) = edge(&state)?.acme().renewal_info(&id)?;
        let window = json!({"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}});
        Ok(Reply::json(window).retry_after(ARI_RETRY_AFTER_SECS))
    })
    .await
}
