//! External Account Binding (RFC 8555 §7.3.4): the newAccount payload's
//! `externalAccountBinding` is a flattened JWS whose protected header is
//! `{alg: HS256|HS384|HS512, kid: <EAB key id>, url: <the newAccount URL>}`
//! (no `nonce`, no `jwk`), whose payload is the account key being
//! registered, and whose MAC is made with the EAB key the operator issued.
//!
//! Answers: a bad envelope or header is `malformed`; a non-HMAC `alg`
//! `badSignatureAlgorithm`; a wrong `url`, an unknown key id, a bad MAC, or
//! a payload key other than the outer JWS's `unauthorized` (each a failed
//! binding rather than a malformed message).

use ca::acme::{Problem, ProblemType};
use ring::hmac;
use serde_json::Value;

use super::jwk::PublicJwk;
use super::jws::{Parts, RawHeader};
use super::malformed;

/// A binding whose MAC checked out: the account belongs to whoever holds
/// the EAB key `key_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEab {
    /// The EAB key id (the inner `kid`).
    pub key_id: String,
}

/// Verifies `binding` (the payload's `externalAccountBinding` value) for a
/// newAccount request made to `outer_url` with `outer_key`; `lookup` gives
/// the MAC key for an EAB key id, or `None` if there is no such key.
pub fn verify_eab(
    binding: &Value,
    outer_url: &str,
    outer_key: &PublicJwk,
    lookup: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> Result<VerifiedEab, Problem> {
    let parts = Parts::from_value(binding)?;
    let (algorithm, key_id) = check_header(&parts.protected, outer_url)?;
    let secret = lookup(&key_id).ok_or_else(|| unauthorized("the external account key id is unknown"))?;
    hmac::verify(&hmac::Key::new(algorithm, &secret), &parts.signing_input, &parts.signature)
        .map_err(|_| unauthorized("the external account binding MAC is invalid"))?;
    check_payload(&parts.payload, outer_key)?;
    Ok(VerifiedEab { key_id })
}

/// The MAC algorithm and key id of a valid EAB protected header.
fn check_header(protected: &[u8], outer_url: &str) -> Result<(hmac::Algorithm, String), Problem> {
    let raw = RawHeader::parse(protected)?;
    let algorithm = mac_algorithm(&raw.alg)?;
    if raw.nonce.is_some() || raw.jwk.is_some() {
        return Err(malformed("the external account binding must not carry a nonce or a jwk"));
    }
    let key_id = raw.kid.ok_or_else(|| malformed("the external account binding has no kid"))?;
    let url = raw.url.ok_or_else(|| malformed("the external account binding has no url"))?;
    if url != outer_url {
        return Err(unauthorized("the external account binding url differs from the request url"));
    }
    Ok((algorithm, key_id))
}

fn mac_algorithm(alg: &str) -> Result<hmac::Algorithm, Problem> {
    match alg {
        "HS256" => Ok(hmac::HMAC_SHA256),
        "HS384" => Ok(hmac::HMAC_SHA384),
        "HS512" => Ok(hmac::HMAC_SHA512),
        other => Err(Problem::new(
            ProblemType::BadSignatureAlgorithm,
            format!("external account binding algorithm {other:?} is not supported; use HS256"),
        )),
    }
}

fn check_payload(payload: &[u8], outer_key: &PublicJwk) -> Result<(), Problem> {
    let text = std::str::from_utf8(payload).map_err(|_| malformed("the binding payload is not a JWK"))?;
    if PublicJwk::from_json(text)? != *outer_key {
        return Err(unauthorized("the external account binding is for a different key"));
    }
    Ok(())
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(ProblemType::Unauthorized, detail)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::super::testkeys::{TestKey, b64};
    use super::*;

    const URL: &str = "https://ca.test/acme/new-account";
    const SECRET: &[u8] = b"an eab mac key of 32 bytes......";

    fn binding(header: &Value, payload: &Value, secret: &[u8]) -> Value {
        binding_with(hmac::HMAC_SHA256, header, payload, secret)
    }

    /// A binding MACed with `algorithm`.
    fn binding_with(algorithm: hmac::Algorithm, header: &Value, payload: &Value, secret: &[u8]) -> Value {
        let protected = b64(header.to_string().as_bytes());
        let payload = b64(payload.to_string().as_bytes());
        let key = hmac::Key::new(algorithm, secret);
        let mac = hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
        json!({"protected": protected, "payload": payload, "signature": b64(mac.as_ref())})
    }

    fn lookup(kid: &str) -> Option<Vec<u8>> {
        (kid == "kid-1").then(|| SECRET.to_vec())
    }

    fn setup() -> (Value, PublicJwk) {
        let jwk = TestKey::es256().jwk();
        let key = PublicJwk::from_value(&jwk).unwrap();
        (jwk, key)
    }

    fn good_header() -> Value {
        json!({"alg": "HS256", "kid": "kid-1", "url": URL})
    }

    fn kind(result: Result<VerifiedEab, Problem>) -> ProblemType {
        result.unwrap_err().kind
    }

    #[test]
    fn a_good_binding_verifies() {
        let (jwk, key) = setup();
        let eab = binding(&good_header(), &jwk, SECRET);
        assert_eq!(verify_eab(&eab, URL, &key, lookup).unwrap(), VerifiedEab { key_id: "kid-1".into() });
    }

    #[test]
    fn hs512_is_accepted() {
        let (jwk, key) = setup();
        let header = json!({"alg": "HS512", "kid": "kid-1", "url": URL});
        let eab = binding_with(hmac::HMAC_SHA512, &header, &jwk, SECRET);
        assert_eq!(verify_eab(&eab, URL, &key, lookup).unwrap(), VerifiedEab { key_id: "kid-1".into() });
        let mislabelled = binding_with(hmac::HMAC_SHA256, &header, &jwk, SECRET);
        assert_eq!(kind(verify_eab(&mislabelled, URL, &key, lookup)), ProblemType::Unauthorized);
    }

    #[test]
    fn unknown_kid_is_unauthorized() {
        let (jwk, key) = setup();
        let eab = binding(&json!({"alg": "HS256", "kid": "kid-2", "url": URL}), &jwk, SECRET);
        assert_eq!(kind(verify_eab(&eab, URL, &key, lookup)), ProblemType::Unauthorized);
    }

    #[test]
    fn wrong_mac_is_unauthorized() {
        let (jwk, key) = setup();
        let eab = binding(&good_header(), &jwk, b"another key");
        assert_eq!(kind(verify_eab(&eab, URL, &key, lookup)), ProblemType::Unauthorized);
    }

    #[test]
    fn a_binding_for_another_key_is_unauthorized() {
        let (_, key) = setup();
        let other = TestKey::es256().jwk();
        let eab = binding(&good_header(), &other, SECRET);
        assert_eq!(kind(verify_eab(&eab, URL, &key, lookup)), ProblemType::Unauthorized);
    }

    #[test]
    fn url_mismatch_is_unauthorized() {
        let (jwk, key) = setup();
        let eab = binding(&good_header(), &jwk, SECRET);
        let result = verify_eab(&eab, "https://ca.test/acme/new-order", &key, lookup);
        assert_eq!(kind(result), ProblemType::Unauthorized);
    }

    #[test]
    fn nonce_or_jwk_in_the_binding_is_malformed() {
        let (jwk, key) = setup();
        let with_nonce = json!({"alg": "HS256", "kid": "kid-1", "url": URL, "nonce": "abc"});
        let with_jwk = json!({"alg": "HS256", "kid": "kid-1", "url": URL, "jwk": jwk});
        for header in [with_nonce, with_jwk] {
            let eab = binding(&header, &jwk, SECRET);
            assert_eq!(kind(verify_eab(&eab, URL, &key, lookup)), ProblemType::Malformed);
        }
    }

    #[test]
    fn non_mac_algorithm_is_bad_signature_algorithm() {
        let (jwk, key) = setup();
        let eab = binding(&json!({"alg": "ES256", "kid": "kid-1", "url": URL}), &jwk, SECRET);
        assert_eq!(kind(verify_eab(&eab, URL, &key, lookup)), ProblemType::BadSignatureAlgorithm);
    }

    #[test]
    fn missing_kid_and_garbage_are_malformed() {
        let (jwk, key) = setup();
        let eab = binding(&json!({"alg": "HS256", "url": URL}), &jwk, SECRET);
        assert_eq!(kind(verify_eab(&eab, URL, &key, lookup)), ProblemType::Malformed);
        assert_eq!(kind(verify_eab(&json!("eab"), URL, &key, lookup)), ProblemType::Malformed);
    }
}
