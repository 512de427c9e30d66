//! The ACME (RFC 8555) HTTP edge's cryptographic pieces; the CA logic is
//! in `ca::acme`, and the routes are in `routes/acme/`. [`AcmeEdge`] is the
//! state those routes hold (set with `Config::with_acme`): the `ca::acme`
//! facade, the running CA, the nonces, the base URL and the issued chains,
//! with the `Signer` over `ca::pki`, [`TcpFetch`] for http-01 and
//! [`DelegatedDns`] for names under an external delegation.
//!
//! A POST to an ACME resource goes through, in order:
//!
//! 1. [`check_content_type`]: `application/jose+json`, else `malformed`.
//! 2. [`Unverified::parse`]: the flattened JWS and its protected header
//!    (`alg`, exactly one of `jwk`/`kid`, `nonce`, `url`), strict base64url.
//! 3. [`redeem_nonce`] against the process's [`Nonces`]: `badNonce` unless
//!    the nonce was issued here and not used before.
//! 4. [`check_url`]: the header's `url` must be the URL requested
//!    (`unauthorized`, RFC 8555 §6.4).
//! 5. Key lookup: for a `kid` request the caller loads the account's stored
//!    [`PublicJwk`] (from [`PublicJwk::canonical_json`], via
//!    [`PublicJwk::from_json`]) and calls [`Unverified::verify`]; a `jwk`
//!    request (newAccount) calls [`Unverified::verify_embedded`].
//! 6. The [`VerifiedRequest`] carries the decoded payload (empty for
//!    POST-as-GET) and the key. newAccount then checks any
//!    `externalAccountBinding` with [`verify_eab`] and stores the key's
//!    canonical JSON and [`PublicJwk::thumbprint`].
//!
//! Every refusal is a `ca::acme::Problem`; [`AcmeProblem`] turns it into
//! the HTTP response, with the status from [`status`], in one place.

mod eab;
mod edge;
mod external_dns;
#[cfg(test)]
mod interop;
mod jwk;
mod jws;
mod nonce;
mod problem;
#[cfg(test)]
pub(crate) mod testkeys;

use ca::acme::{Problem, ProblemType};

pub use eab::{VerifiedEab, verify_eab};
pub use edge::{AcmeEdge, EdgeError, TcpFetch};
pub(crate) use edge::{serial_key, strip_leading_zeros};
pub use external_dns::DelegatedDns;
pub use jwk::{Alg, EcCurve, MAX_RSA_BITS, MIN_RSA_BITS, PublicJwk};
pub use jws::{ProtectedHeader, Signer, Unverified, VerifiedRequest};
pub use nonce::{DEFAULT_CAPACITY as DEFAULT_NONCE_CAPACITY, Nonces};
pub(crate) use problem::document as problem_document;
pub use problem::{AcmeProblem, JOSE_CONTENT_TYPE, PROBLEM_CONTENT_TYPE, check_content_type, status};

/// Fails with `unauthorized` unless the header's `url` is `expected_url`,
/// the absolute URL the request was sent to (RFC 8555 §6.4).
pub fn check_url(header: &ProtectedHeader, expected_url: &str) -> Result<(), Problem> {
    if header.url == expected_url {
        return Ok(());
    }
    Err(Problem::new(ProblemType::Unauthorized, format!("the JWS url does not match the request URL {expected_url}")))
}

/// Redeems the header's nonce: `badNonce` if it is missing, unknown or used.
pub fn redeem_nonce(header: &ProtectedHeader, nonces: &Nonces) -> Result<(), Problem> {
    let nonce = header.nonce.as_deref().ok_or_else(|| bad_nonce("the JWS has no nonce"))?;
    if nonces.redeem(nonce) {
        return Ok(());
    }
    Err(bad_nonce("the nonce is unknown, expired or already used"))
}

fn bad_nonce(detail: &str) -> Problem {
    Problem::new(ProblemType::BadNonce, detail)
}

pub(crate) fn malformed(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::Malformed, detail)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::testkeys::{TestKey, jws};
    use super::*;

    const URL: &str = "https://ca.test/acme/new-account";

    fn parsed(nonce: Option<&str>) -> Unverified {
        let key = TestKey::ed25519();
        let mut header = json!({"alg": "EdDSA", "jwk": key.jwk(), "url": URL});
        if let Some(nonce) = nonce {
            header["nonce"] = json!(nonce);
        }
        Unverified::parse(&jws(&key, &header, b"{}")).unwrap()
    }

    #[test]
    fn url_must_match() {
        let request = parsed(None);
        assert!(check_url(request.header(), URL).is_ok());
        let err = check_url(request.header(), "https://ca.test/acme/new-order").unwrap_err();
        assert_eq!(err.kind, ProblemType::Unauthorized);
    }

    #[test]
    fn the_nonce_flow() {
        let nonces = Nonces::default();
        let nonce = nonces.issue().unwrap();
        let request = parsed(Some(&nonce));
        assert!(redeem_nonce(request.header(), &nonces).is_ok());
        assert_eq!(redeem_nonce(request.header(), &nonces).unwrap_err().kind, ProblemType::BadNonce);
        assert_eq!(redeem_nonce(parsed(None).header(), &nonces).unwrap_err().kind, ProblemType::BadNonce);
    }
}
