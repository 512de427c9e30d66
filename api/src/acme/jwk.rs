//! Account keys: the JWKs (RFC 7517/7518) ACME accepts, the signature
//! algorithms that go with them, their RFC 7638 thumbprint and their
//! canonical JSON for storage.
//!
//! Accepted: EC P-256 with ES256, EC P-384 with ES384, RSA (modulus of
//! 2048 to 8192 bits, as ring verifies) with RS256, and OKP Ed25519 with
//! EdDSA. A key is parsed once, here, into [`PublicJwk`]; every later use
//! (verification, thumbprint, storage) works on that value.

use ca::acme::{Problem, ProblemType};
use data_encoding::BASE64URL_NOPAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde::Deserialize;
use serde_json::Value;

use super::{b64, malformed};

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (ring's limit).
pub const MAX_RSA_BITS: usize = 8192;

/// A JWS signature algorithm ACME accounts may use (RFC 8555 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Alg {
    /// ECDSA P-256 with SHA-256; the signature is the 64-byte `r || s`.
    Es256,
    /// ECDSA P-384 with SHA-384; the signature is the 96-byte `r || s`.
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// Ed25519 (RFC 8037); Ed448 is not supported.
    EdDsa,
}

impl Alg {
    /// The algorithm named `name` in a JWS header. `none`, the MAC
    /// algorithms (`HS*`) and anything unsupported are `badSignatureAlgorithm`.
    pub fn from_name(name: &str) -> Result<Self, Problem> {
        match name {
            "ES256" => Ok(Self::Es256),
            "ES384" => Ok(Self::Es384),
            "RS256" => Ok(Self::Rs256),
            "EdDSA" => Ok(Self::EdDsa),
            "none" => Err(bad_alg("the \"none\" algorithm is not allowed")),
            mac if mac.starts_with("HS") => Err(bad_alg("MAC algorithms are not allowed for account keys")),
            other => Err(bad_alg(format!("algorithm {other:?} is not supported; use ES256, ES384, RS256 or EdDSA"))),
        }
    }

    /// The name as written in a JWS header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }
}

/// An elliptic curve for `kty: EC` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256, used with ES256.
    P256,
    /// NIST P-384, used with ES384.
    P384,
}

impl EcCurve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

/// A parsed account public key. Byte fields hold the decoded base64url
/// members exactly as the client sent them (no leading zeros, which are
/// refused), so re-encoding them gives the client's own thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicJwk {
    /// `kty: EC`: an uncompressed point.
    Ec {
        /// The curve.
        curve: EcCurve,
        /// The x coordinate, big-endian, curve-sized.
        x: Vec<u8>,
        /// The y coordinate, big-endian, curve-sized.
        y: Vec<u8>,
    },
    /// `kty: RSA`.
    Rsa {
        /// The modulus, big-endian.
        n: Vec<u8>,
        /// The public exponent, big-endian.
        e: Vec<u8>,
    },
    /// `kty: OKP`, `crv: Ed25519`: the 32-byte public key.
    Ed25519 {
        /// The public key.
        x: Vec<u8>,
    },
}

/// The members of a JWK that matter here; others (`alg`, `kid`, `use`) are ignored.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<Value>,
}

impl PublicJwk {
    /// Parses a JWK given as a JSON value (the `jwk` header member).
    pub fn from_value(value: &Value) -> Result<Self, Problem> {
        let raw = RawJwk::deserialize(value).map_err(|e| malformed(format!("the JWK is invalid: {e}")))?;
        Self::from_raw(raw)
    }

    /// Parses a JWK from JSON text (e.g. [`PublicJwk::canonical_json`] as stored).
    pub fn from_json(json: &str) -> Result<Self, Problem> {
        let value: Value = serde_json::from_str(json).map_err(|e| malformed(format!("the JWK is not JSON: {e}")))?;
        Self::from_value(&value)
    }

    fn from_raw(raw: RawJwk) -> Result<Self, Problem> {
        if raw.d.is_some() {
            return Err(malformed("the JWK contains a private key"));
        }
        match raw.kty.as_str() {
            "EC" => Self::ec(&raw),
            "RSA" => Self::rsa(&raw),
            "OKP" => Self::okp(&raw),
            other => Err(bad_key(format!("key type {other:?} is not supported"))),
        }
    }

    fn ec(raw: &RawJwk) -> Result<Self, Problem> {
        let curve = match raw.crv.as_deref() {
            Some("P-256") => EcCurve::P256,
            Some("P-384") => EcCurve::P384,
            other => return Err(bad_key(format!("EC curve {other:?} is not supported; use P-256 or P-384"))),
        };
        let x = member("x", raw.x.as_deref())?;
        let y = member("y", raw.y.as_deref())?;
        if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
            return Err(bad_key(format!("the coordinates are not {} bytes long", curve.coordinate_len())));
        }
        Ok(Self::Ec { curve, x, y })
    }

    fn rsa(raw: &RawJwk) -> Result<Self, Problem> {
        let n = member("n", raw.n.as_deref())?;
        let e = member("e", raw.e.as_deref())?;
        if n.first() == Some(&0) || e.first() == Some(&0) {
            return Err(malformed("RSA members must not have leading zero bytes"));
        }
        let bits = bit_len(&n);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(bad_key(format!(
                "the RSA modulus has {bits} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted"
            )));
        }
        if e.len() > 4 || e.last().is_none_or(|last| last & 1 == 0) || bit_len(&e) < 2 {
            return Err(bad_key("the RSA public exponent is not an odd number from 3 to 2^32"));
        }
        Ok(Self::Rsa { n, e })
    }

    fn okp(raw: &RawJwk) -> Result<Self, Problem> {
        match raw.crv.as_deref() {
            Some("Ed25519") => {}
            Some("Ed448") => return Err(bad_alg("Ed448 is not supported; use Ed25519")),
            other => return Err(bad_key(format!("OKP curve {other:?} is not supported"))),
        }
        let x = member("x", raw.x.as_deref())?;
        if x.len() != 32 {
            return Err(bad_key("an Ed25519 key is 32 bytes long"));
        }
        Ok(Self::Ed25519 { x })
    }

    /// The JWK with only its required members, in lexicographic order and
    /// without whitespace (RFC 7638 §3.2): the form to store and to hash.
    pub fn canonical_json(&self) -> String {
        // Every value is base64url or a fixed name, so nothing needs escaping.
        match self {
            Self::Ec { curve, x, y } => {
                format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, curve.name(), b64(x), b64(y))
            }
            Self::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n)),
            Self::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x)),
        }
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)). This is
    /// the key authorization suffix (RFC 8555 §8.1).
    pub fn thumbprint(&self) -> String {
        b64(ring::digest::digest(&ring::digest::SHA256, self.canonical_json().as_bytes()).as_ref())
    }

    /// Fails with `badSignatureAlgorithm` unless `alg` is the algorithm for this key.
    pub fn check_alg(&self, alg: Alg) -> Result<(), Problem> {
        let expected = match self {
            Self::Ec { curve: EcCurve::P256, .. } => Alg::Es256,
            Self::Ec { curve: EcCurve::P384, .. } => Alg::Es384,
            Self::Rsa { .. } => Alg::Rs256,
            Self::Ed25519 { .. } => Alg::EdDsa,
        };
        if alg == expected {
            return Ok(());
        }
        Err(bad_alg(format!("algorithm {} does not match the key, which needs {}", alg.name(), expected.name())))
    }

    /// Checks `signature` over `message` with this key and `alg`: a wrong
    /// algorithm is `badSignatureAlgorithm`, a bad signature `malformed`
    /// (as Boulder answers).
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<(), Problem> {
        self.check_alg(alg)?;
        let verified = match self {
            Self::Ec { curve, x, y } => verify_ec(*curve, x, y, message, signature)?,
            Self::Rsa { n, e } => {
                RsaPublicKeyComponents { n, e }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
            }
            Self::Ed25519 { x } => UnparsedPublicKey::new(&signature::ED25519, x).verify(message, signature),
        };
        verified.map_err(|_| malformed("the JWS signature is invalid"))
    }
}

fn verify_ec(
    curve: EcCurve,
    x: &[u8],
    y: &[u8],
    message: &[u8],
    sig: &[u8],
) -> Result<Result<(), ring::error::Unspecified>, Problem> {
    let algorithm: &dyn VerificationAlgorithm = match curve {
        EcCurve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        EcCurve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
    };
    if sig.len() != 2 * curve.coordinate_len() {
        return Err(malformed(format!("an {} signature is {} bytes long", curve.name(), 2 * curve.coordinate_len())));
    }
    let point = [&[4u8][..], x, y].concat();
    Ok(UnparsedPublicKey::new(algorithm, point).verify(message, sig))
}

fn member(name: &str, value: Option<&str>) -> Result<Vec<u8>, Problem> {
    let value = value.ok_or_else(|| malformed(format!("the JWK has no {name:?} member")))?;
    BASE64URL_NOPAD.decode(value.as_bytes()).map_err(|_| malformed(format!("JWK member {name:?} is not base64url")))
}

/// The length in bits of a big-endian number without leading zero bytes.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn bad_alg(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadSignatureAlgorithm, detail)
}

fn bad_key(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadPublicKey, detail)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The RSA key of RFC 7638 §3.1.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
        let key = PublicJwk::from_value(&jwk).unwrap();
        assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn canonical_json_round_trips_and_drops_extra_members() {
        let jwk = json!({"kid": "k", "kty": "RSA", "n": RFC7638_N, "e": "AQAB"});
        let key = PublicJwk::from_value(&jwk).unwrap();
        let stored = key.canonical_json();
        assert_eq!(stored, format!(r#"{{"e":"AQAB","kty":"RSA","n":"{RFC7638_N}"}}"#));
        assert_eq!(PublicJwk::from_json(&stored).unwrap(), key);
    }

    #[test]
    fn short_rsa_modulus_is_bad_public_key() {
        let n = b64(&[0xC5; 128]); // 1024 bits
        let err = PublicJwk::from_value(&json!({"kty": "RSA", "n": n, "e": "AQAB"})).unwrap_err();
        assert_eq!(err.kind, ProblemType::BadPublicKey);
    }

    #[test]
    fn even_rsa_exponent_is_bad_public_key() {
        let err = PublicJwk::from_value(&json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAA"})).unwrap_err();
        assert_eq!(err.kind, ProblemType::BadPublicKey);
    }

    #[test]
    fn ed448_is_bad_signature_algorithm() {
        let err = PublicJwk::from_value(&json!({"kty": "OKP", "crv": "Ed448", "x": b64(&[1; 57])})).unwrap_err();
        assert_eq!(err.kind, ProblemType::BadSignatureAlgorithm);
    }

    #[test]
    fn unsupported_curve_and_type_are_bad_public_key() {
        let p521 = json!({"kty": "EC", "crv": "P-521", "x": b64(&[1; 66]), "y": b64(&[1; 66])});
        assert_eq!(PublicJwk::from_value(&p521).unwrap_err().kind, ProblemType::BadPublicKey);
        let oct = json!({"kty": "oct", "k": "AAAA"});
        assert_eq!(PublicJwk::from_value(&oct).unwrap_err().kind, ProblemType::BadPublicKey);
    }

    #[test]
    fn wrong_coordinate_length_is_bad_public_key() {
        let short = json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[1; 32])});
        assert_eq!(PublicJwk::from_value(&short).unwrap_err().kind, ProblemType::BadPublicKey);
    }

    #[test]
    fn private_key_is_refused() {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32]), "d": b64(&[2; 32])});
        assert_eq!(PublicJwk::from_value(&jwk).unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn alg_names() {
        assert_eq!(Alg::from_name("none").unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
        assert_eq!(Alg::from_name("HS256").unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
        assert_eq!(Alg::from_name("PS256").unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
        for alg in [Alg::Es256, Alg::Es384, Alg::Rs256, Alg::EdDsa] {
            assert_eq!(Alg::from_name(alg.name()).unwrap(), alg);
        }
    }

    #[test]
    fn check_alg_pairs_key_and_algorithm() {
        let ed = PublicJwk::Ed25519 { x: vec![1; 32] };
        assert!(ed.check_alg(Alg::EdDsa).is_ok());
        assert_eq!(ed.check_alg(Alg::Es256).unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
        let p384 = PublicJwk::Ec { curve: EcCurve::P384, x: vec![1; 48], y: vec![1; 48] };
        assert_eq!(p384.check_alg(Alg::Es256).unwrap_err().kind, ProblemType::BadSignatureAlgorithm);
    }
}
