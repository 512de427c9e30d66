//! RFC 7515 flattened JSON serialization as ACME uses it (RFC 8555 §6.2):
//! `{"protected", "payload", "signature"}`, each base64url without padding,
//! with no unprotected header and exactly one signature.
//!
//! [`Unverified::parse`] decodes the envelope and the protected header; the
//! caller then redeems the nonce, checks the URL and, for a `kid` request,
//! looks the account key up before [`Unverified::verify`]. A `jwk` request
//! (newAccount, revokeCert by certificate key) uses
//! [`Unverified::verify_embedded`].

use ca::acme::Problem;
use data_encoding::BASE64URL_NOPAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::jwk::{Alg, PublicJwk};
use super::malformed;

/// Who signed a request: a new key, or an existing account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signer {
    /// The header embeds the key (`jwk`).
    Jwk(PublicJwk),
    /// The header names an account URL (`kid`).
    Kid(String),
}

/// The decoded protected header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedHeader {
    /// The signature algorithm.
    pub alg: Alg,
    /// Exactly one of `jwk` and `kid`.
    pub signer: Signer,
    /// The anti-replay nonce, if sent (the caller answers a missing one with
    /// `badNonce`; see [`super::redeem_nonce`]).
    pub nonce: Option<String>,
    /// The URL the client meant to reach (RFC 8555 §6.4).
    pub url: String,
}

impl ProtectedHeader {
    /// The account URL of a `kid` request.
    pub fn kid(&self) -> Option<&str> {
        match &self.signer {
            Signer::Kid(kid) => Some(kid),
            Signer::Jwk(_) => None,
        }
    }
}

/// A parsed request whose signature is not yet checked.
#[derive(Debug)]
pub struct Unverified {
    header: ProtectedHeader,
    parts: Parts,
}

/// A request whose signature checked out against `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The protected header.
    pub header: ProtectedHeader,
    /// The decoded payload; empty for POST-as-GET.
    pub payload: Vec<u8>,
    /// The key that signed it (embedded, or the account's stored key).
    pub key: PublicJwk,
}

impl Unverified {
    /// Parses a request body. Bad JSON, base64 with padding or other
    /// characters, unknown envelope members, both or neither of `jwk` and
    /// `kid`, or a missing `url` are `malformed`; an unsupported `alg`, or
    /// one that does not fit the embedded key, is `badSignatureAlgorithm`.
    pub fn parse(body: &[u8]) -> Result<Self, Problem> {
        let envelope: Flattened =
            serde_json::from_slice(body).map_err(|e| malformed(format!("the body is not a flattened JWS: {e}")))?;
        let parts = Parts::decode(envelope)?;
        let header = parse_header(&parts.protected)?;
        Ok(Self { header, parts })
    }

    /// Parses a JWS nested in a payload, given as a JSON value: the inner
    /// JWS of keyChange (RFC 8555 §7.3.5), which must then embed the new key
    /// (verify it with [`Unverified::verify_embedded`]), carry no nonce and
    /// name the outer URL; those two checks are the caller's.
    pub fn from_value(value: &Value) -> Result<Self, Problem> {
        let parts = Parts::from_value(value)?;
        let header = parse_header(&parts.protected)?;
        Ok(Self { header, parts })
    }

    /// The protected header, to redeem the nonce, check the URL and find the account.
    pub fn header(&self) -> &ProtectedHeader {
        &self.header
    }

    /// Verifies a `kid` request with the account's stored `key`.
    pub fn verify(self, key: &PublicJwk) -> Result<VerifiedRequest, Problem> {
        if !matches!(self.header.signer, Signer::Kid(_)) {
            return Err(malformed("this request must be signed by an account (kid), not an embedded jwk"));
        }
        self.finish(key.clone())
    }

    /// Verifies a `jwk` request with the key it embeds.
    pub fn verify_embedded(self) -> Result<VerifiedRequest, Problem> {
        let Signer::Jwk(key) = self.header.signer.clone() else {
            return Err(malformed("this request must embed its key (jwk), not name an account (kid)"));
        };
        self.finish(key)
    }

    fn finish(self, key: PublicJwk) -> Result<VerifiedRequest, Problem> {
        key.verify(self.header.alg, &self.parts.signing_input, &self.parts.signature)?;
        Ok(VerifiedRequest { header: self.header, payload: self.parts.payload, key })
    }
}

impl VerifiedRequest {
    /// Whether this is a POST-as-GET (RFC 8555 §6.3): the payload is empty.
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }

    /// The payload as JSON of type `T`; anything else is `malformed`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        serde_json::from_slice(&self.payload).map_err(|e| malformed(format!("the payload is invalid: {e}")))
    }
}

/// The envelope as sent. Unknown members (an unprotected `header`, a
/// `signatures` array) are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Flattened {
    protected: String,
    payload: String,
    signature: String,
}

/// A decoded envelope.
#[derive(Debug)]
pub(crate) struct Parts {
    /// The decoded protected header (JSON bytes).
    pub(crate) protected: Vec<u8>,
    /// `protected_b64 "." payload_b64`, what was signed.
    pub(crate) signing_input: Vec<u8>,
    /// The decoded payload.
    pub(crate) payload: Vec<u8>,
    /// The decoded signature.
    pub(crate) signature: Vec<u8>,
}

impl Parts {
    /// Decodes an envelope given as a JSON value (the EAB inside a payload).
    pub(crate) fn from_value(value: &Value) -> Result<Self, Problem> {
        let envelope = Flattened::deserialize(value).map_err(|e| malformed(format!("not a flattened JWS: {e}")))?;
        Self::decode(envelope)
    }

    fn decode(envelope: Flattened) -> Result<Self, Problem> {
        let signing_input = format!("{}.{}", envelope.protected, envelope.payload).into_bytes();
        Ok(Self {
            protected: unbase64("protected", &envelope.protected)?,
            payload: unbase64("payload", &envelope.payload)?,
            signature: unbase64("signature", &envelope.signature)?,
            signing_input,
        })
    }
}

/// Strict base64url: no padding, no whitespace, no non-zero trailing bits.
pub(crate) fn unbase64(member: &str, text: &str) -> Result<Vec<u8>, Problem> {
    BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| malformed(format!("{member:?} is not base64url without padding")))
}

/// The protected header members ACME uses. Duplicate members are refused
/// by serde; `crit` is refused because no extension is understood.
#[derive(Deserialize)]
pub(crate) struct RawHeader {
    pub(crate) alg: String,
    pub(crate) jwk: Option<Value>,
    pub(crate) kid: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) crit: Option<Value>,
}

impl RawHeader {
    /// Parses the decoded protected header JSON.
    pub(crate) fn parse(protected: &[u8]) -> Result<Self, Problem> {
        let raw: Self = serde_json::from_slice(protected)
            .map_err(|e| malformed(format!("the protected header is invalid: {e}")))?;
        if raw.crit.is_some() {
            return Err(malformed("no critical header extensions are supported"));
        }
        Ok(raw)
    }
}

fn parse_header(protected: &[u8]) -> Result<ProtectedHeader, Problem> {
    let raw = RawHeader::parse(protected)?;
    let alg = Alg::from_name(&raw.alg)?;
    let url = raw.url.ok_or_else(|| malformed("the protected header has no url"))?;
    let signer = match (raw.jwk, raw.kid) {
        (Some(jwk), None) => Signer::Jwk(PublicJwk::from_value(&jwk)?),
        (None, Some(kid)) => Signer::Kid(kid),
        _ => return Err(malformed("the protected header must have exactly one of jwk and kid")),
    };
    if let Signer::Jwk(key) = &signer {
        key.check_alg(alg)?;
    }
    Ok(ProtectedHeader { alg, signer, nonce: raw.nonce, url })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ca::acme::ProblemType;
    use serde_json::json;

    use super::super::testkeys::{TestKey, jws};
    use super::*;

    const URL: &str = "https://ca.test/acme/new-order";

    fn header(key: &TestKey) -> Value {
        json!({"alg": key.alg(), "jwk": key.jwk(), "nonce": "n1", "url": URL})
    }

    #[test]
    fn every_algorithm_verifies_with_an_embedded_key() {
        for key in TestKey::all() {
            let body = jws(&key, &header(&key), br#"{"a":1}"#);
            let request = Unverified::parse(&body).unwrap().verify_embedded().unwrap();
            assert_eq!(request.payload, br#"{"a":1}"#, "{}", key.alg());
            assert_eq!(request.key, PublicJwk::from_value(&key.jwk()).unwrap());
            assert_eq!(request.header.url, URL);
            assert_eq!(request.header.nonce.as_deref(), Some("n1"));
        }
    }

    #[test]
    fn kid_request_verifies_with_the_stored_key() {
        let key = TestKey::es256();
        let hdr = json!({"alg": "ES256", "kid": "https://ca.test/acme/acct/1", "nonce": "n", "url": URL});
        let unverified = Unverified::parse(&jws(&key, &hdr, b"")).unwrap();
        assert_eq!(unverified.header().kid(), Some("https://ca.test/acme/acct/1"));
        let request = unverified.verify(&PublicJwk::from_value(&key.jwk()).unwrap()).unwrap();
        assert!(request.is_post_as_get());
    }

    #[test]
    fn kid_request_fails_with_another_accounts_key() {
        let hdr = json!({"alg": "ES256", "kid": "https://ca.test/acme/acct/1", "url": URL});
        let body = jws(&TestKey::es256(), &hdr, b"{}");
        let other = PublicJwk::from_value(&TestKey::es256().jwk()).unwrap();
        assert_eq!(Unverified::parse(&body).unwrap().verify(&other).unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn flipped_signature_byte_fails() {
        for key in TestKey::all() {
            let body = jws(&key, &header(&key), b"{}");
            let mut envelope: Value = serde_json::from_slice(&body).unwrap();
            let mut sig = unbase64("s", envelope["signature"].as_str().unwrap()).unwrap();
            sig[5] ^= 1;
            envelope["signature"] = json!(BASE64URL_NOPAD.encode(&sig));
            let parsed = Unverified::parse(envelope.to_string().as_bytes()).unwrap();
            assert_eq!(parsed.verify_embedded().unwrap_err().kind, ProblemType::Malformed, "{}", key.alg());
        }
    }

    #[test]
    fn changed_payload_fails() {
        let key = TestKey::ed25519();
        let mut envelope: Value = serde_json::from_slice(&jws(&key, &header(&key), b"{}")).unwrap();
        envelope["payload"] = json!(BASE64URL_NOPAD.encode(b"{ }"));
        let parsed = Unverified::parse(envelope.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.verify_embedded().unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn alg_key_mismatch_is_bad_signature_algorithm() {
        let key = TestKey::es384();
        let hdr = json!({"alg": "ES256", "jwk": key.jwk(), "url": URL});
        assert_eq!(Unverified::parse(&jws(&key, &hdr, b"")).unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
        let kid = json!({"alg": "RS256", "kid": "acct", "url": URL});
        let parsed = Unverified::parse(&jws(&key, &kid, b"")).unwrap();
        let stored = PublicJwk::from_value(&key.jwk()).unwrap();
        assert_eq!(parsed.verify(&stored).unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
    }

    #[test]
    fn none_and_mac_algorithms_are_refused() {
        let key = TestKey::es256();
        for alg in ["none", "HS256"] {
            let hdr = json!({"alg": alg, "jwk": key.jwk(), "url": URL});
            let err = Unverified::parse(&jws(&key, &hdr, b"")).unwrap_err();
            assert_eq!(err.kind, ProblemType::BadSignatureAlgorithm, "{alg}");
        }
    }

    #[test]
    fn both_or_neither_jwk_and_kid_are_malformed() {
        let key = TestKey::es256();
        let both = json!({"alg": "ES256", "jwk": key.jwk(), "kid": "acct", "url": URL});
        let neither = json!({"alg": "ES256", "url": URL});
        for hdr in [both, neither] {
            assert_eq!(Unverified::parse(&jws(&key, &hdr, b"")).unwrap_err().kind, ProblemType::Malformed);
        }
    }

    #[test]
    fn missing_url_and_crit_are_malformed() {
        let key = TestKey::es256();
        let no_url = json!({"alg": "ES256", "jwk": key.jwk()});
        let crit = json!({"alg": "ES256", "jwk": key.jwk(), "url": URL, "crit": ["b64"], "b64": false});
        for hdr in [no_url, crit] {
            assert_eq!(Unverified::parse(&jws(&key, &hdr, b"")).unwrap_err().kind, ProblemType::Malformed);
        }
    }

    #[test]
    fn padding_and_foreign_characters_are_malformed() {
        let key = TestKey::es256();
        let body = jws(&key, &header(&key), b"{}");
        let envelope: Value = serde_json::from_slice(&body).unwrap();
        let protected = envelope["protected"].as_str().unwrap();
        let rest = &protected[1..];
        let bad = [
            format!("{protected}="),
            format!("{protected}=="),
            format!("+{rest}"),
            format!("/{rest}"),
            format!(" {protected}"),
        ];
        for bad in bad {
            let mut copy = envelope.clone();
            copy["protected"] = json!(bad);
            let err = Unverified::parse(copy.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.kind, ProblemType::Malformed, "{bad}");
        }
    }

    #[test]
    fn unprotected_header_and_garbage_are_malformed() {
        let key = TestKey::es256();
        let mut envelope: Value = serde_json::from_slice(&jws(&key, &header(&key), b"{}")).unwrap();
        envelope["header"] = json!({"kid": "x"});
        assert_eq!(Unverified::parse(envelope.to_string().as_bytes()).unwrap_err().kind, ProblemType::Malformed);
        assert_eq!(Unverified::parse(b"not json").unwrap_err().kind, ProblemType::Malformed);
        envelope.as_object_mut().unwrap().remove("header");
        envelope.as_object_mut().unwrap().remove("signature");
        assert_eq!(Unverified::parse(envelope.to_string().as_bytes()).unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn short_rsa_key_is_bad_public_key() {
        let key = TestKey::rs256();
        let mut jwk = key.jwk();
        jwk["n"] = json!(BASE64URL_NOPAD.encode(&[0xC5; 128]));
        let hdr = json!({"alg": "RS256", "jwk": jwk, "url": URL});
        assert_eq!(Unverified::parse(&jws(&key, &hdr, b"")).unwrap_err().kind, ProblemType::BadPublicKey);
    }

    #[test]
    fn a_nested_key_change_jws_verifies() {
        let (old_key, new_key) = (TestKey::es256(), TestKey::ed25519());
        let inner_header = json!({"alg": "EdDSA", "jwk": new_key.jwk(), "url": URL});
        let inner_payload = json!({"account": "https://ca.test/acme/acct/1", "oldKey": old_key.jwk()});
        let inner: Value =
            serde_json::from_slice(&jws(&new_key, &inner_header, inner_payload.to_string().as_bytes())).unwrap();
        let outer_header = json!({"alg": "ES256", "kid": "https://ca.test/acme/acct/1", "nonce": "n", "url": URL});
        let outer = Unverified::parse(&jws(&old_key, &outer_header, inner.to_string().as_bytes())).unwrap();
        let outer = outer.verify(&PublicJwk::from_value(&old_key.jwk()).unwrap()).unwrap();
        let nested = Unverified::from_value(&outer.json::<Value>().unwrap()).unwrap();
        assert_eq!(nested.header().nonce, None);
        let inner = nested.verify_embedded().unwrap();
        assert_eq!(inner.key, PublicJwk::from_value(&new_key.jwk()).unwrap());
        assert_eq!(inner.json::<Value>().unwrap()["oldKey"], old_key.jwk());
        assert_eq!(Unverified::from_value(&json!({"protected": "e30"})).unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn payload_json_is_decoded() {
        let key = TestKey::ed25519();
        let request = Unverified::parse(&jws(&key, &header(&key), br#"{"n":7}"#)).unwrap().verify_embedded().unwrap();
        assert_eq!(request.json::<Value>().unwrap()["n"], 7);
        assert_eq!(request.json::<u32>().unwrap_err().kind, ProblemType::Malformed);
    }
}
