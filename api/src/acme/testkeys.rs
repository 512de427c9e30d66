//! Test-only signing keys and a JWS signer, so the tests verify real
//! signatures made by ring. `testdata/rsa2048.pk8` is a throwaway 2048-bit
//! RSA TEST key (PKCS#8 DER, made with `openssl genpkey`); it protects nothing.

#![allow(clippy::unwrap_used)]

use data_encoding::BASE64URL_NOPAD;
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// The 2048-bit RSA test key.
const RSA_2048_PKCS8: &[u8] = include_bytes!("testdata/rsa2048.pk8");

/// A signing key of one of the supported algorithms.
pub(crate) enum TestKey {
    Es256(EcdsaKeyPair),
    Es384(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl TestKey {
    pub(crate) fn es256() -> Self {
        Self::Es256(ecdsa(&signature::ECDSA_P256_SHA256_FIXED_SIGNING))
    }

    pub(crate) fn es384() -> Self {
        Self::Es384(ecdsa(&signature::ECDSA_P384_SHA384_FIXED_SIGNING))
    }

    pub(crate) fn rs256() -> Self {
        Self::Rs256(RsaKeyPair::from_pkcs8(RSA_2048_PKCS8).unwrap())
    }

    pub(crate) fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    /// One key of every supported algorithm.
    pub(crate) fn all() -> Vec<Self> {
        vec![Self::es256(), Self::es384(), Self::rs256(), Self::ed25519()]
    }

    /// The JWS `alg` for this key.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::Es384(_) => "ES384",
            Self::Rs256(_) => "RS256",
            Self::Ed25519(_) => "EdDSA",
        }
    }

    /// The public key as a JWK, with a member ACME ignores (`use`).
    pub(crate) fn jwk(&self) -> Value {
        match self {
            Self::Es256(key) | Self::Es384(key) => ec_jwk(self.alg(), key.public_key().as_ref()),
            Self::Rs256(key) => {
                let parts = PublicKeyComponents::<Vec<u8>>::from(key.public());
                json!({"kty": "RSA", "n": b64(&parts.n), "e": b64(&parts.e), "use": "sig"})
            }
            Self::Ed25519(key) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref())}),
        }
    }

    /// Signs `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Es256(key) | Self::Es384(key) => key.sign(&rng, message).unwrap().as_ref().to_vec(),
            Self::Rs256(key) => {
                let mut sig = vec![0; key.public().modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig).unwrap();
                sig
            }
            Self::Ed25519(key) => key.sign(message).as_ref().to_vec(),
        }
    }
}

/// A flattened JWS body with protected header `header` over `payload`, signed by `key`.
pub(crate) fn jws(key: &TestKey, header: &Value, payload: &[u8]) -> Vec<u8> {
    let protected = b64(header.to_string().as_bytes());
    let payload = b64(payload);
    let signature = b64(&key.sign(format!("{protected}.{payload}").as_bytes()));
    json!({"protected": protected, "payload": payload, "signature": signature}).to_string().into_bytes()
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

fn ecdsa(alg: &'static signature::EcdsaSigningAlgorithm) -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
}

fn ec_jwk(alg: &str, point: &[u8]) -> Value {
    let crv = if alg == "ES256" { "P-256" } else { "P-384" };
    let half = (point.len() - 1) / 2;
    json!({"kty": "EC", "crv": crv, "x": b64(&point[1..=half]), "y": b64(&point[half + 1..])})
}
