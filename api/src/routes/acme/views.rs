//! The JSON objects of RFC 8555 §7.1: accounts, orders, authorizations
//! and challenges, with absolute URLs.

use ca::acme::authz::{Challenge, ChallengeStatus, StoredAuthz};
use ca::acme::order::StoredOrder;
use ca::acme::types::{Account, AccountStatus, AuthzId};
use serde_json::{Value, json};

use crate::acme::{AcmeEdge, problem_document, serial_key};
use crate::rfc3339;

/// URL of order `id`.
pub(crate) fn order_url(edge: &AcmeEdge, id: &str) -> String {
    edge.url(&format!("/acme/order/{id}"))
}

/// URL of authorization `id`.
pub(crate) fn authz_url(edge: &AcmeEdge, id: &str) -> String {
    edge.url(&format!("/acme/authz/{id}"))
}

/// URL of the `kind` challenge of authorization `authz`.
pub(crate) fn challenge_url(edge: &AcmeEdge, authz: &AuthzId, kind: &str) -> String {
    edge.url(&format!("/acme/chall/{authz}/{kind}"))
}

/// URL of the certificate with serial `serial`.
pub(crate) fn cert_url(edge: &AcmeEdge, serial: &[u8]) -> String {
    edge.url(&format!("/acme/cert/{}", serial_key(serial)))
}

/// An account object (§7.1.2).
pub(crate) fn account(edge: &AcmeEdge, account: &Account) -> Value {
    let status = match account.status {
        AccountStatus::Valid => "valid",
        AccountStatus::Deactivated => "deactivated",
        _ => "revoked",
    };
    json!({
        "status": status,
        "contact": account.contact,
        "orders": edge.url(&format!("/acme/acct/{}/orders", account.id)),
    })
}

/// An order object (§7.1.3).
pub(crate) fn order(edge: &AcmeEdge, order: &StoredOrder) -> Value {
    let core = order.core();
    let identifiers: Vec<Value> =
        core.identifiers.iter().map(|i| json!({"type": "dns", "value": i.as_str()})).collect();
    let authorizations: Vec<String> = core.authzs.iter().map(|a| authz_url(edge, a.as_str())).collect();
    let mut doc = json!({
        "status": order.status(),
        "expires": rfc3339(core.expires),
        "identifiers": identifiers,
        "authorizations": authorizations,
        "finalize": edge.url(&format!("/acme/order/{}/finalize", core.id)),
        "profile": core.profile,
    });
    match order {
        StoredOrder::Valid(valid) => doc["certificate"] = json!(cert_url(edge, &valid.certificate.serial)),
        StoredOrder::Invalid(invalid) => doc["error"] = problem_document(&invalid.error),
        _ => {}
    }
    if let Some(replaces) = &core.replaces {
        doc["replaces"] = json!(replaces);
    }
    doc
}

/// An authorization object (§7.1.4).
pub(crate) fn authz(edge: &AcmeEdge, authz: &StoredAuthz) -> Value {
    let core = authz.core();
    let challenges: Vec<Value> = core.challenges.iter().map(|c| challenge(edge, &core.id, c)).collect();
    let mut doc = json!({
        "identifier": {"type": "dns", "value": core.identifier.as_str()},
        "status": authz.status(),
        "expires": rfc3339(core.expires),
        "challenges": challenges,
    });
    if core.wildcard {
        doc["wildcard"] = json!(true);
    }
    doc
}

/// A challenge object (§8).
pub(crate) fn challenge(edge: &AcmeEdge, authz: &AuthzId, challenge: &Challenge) -> Value {
    let status = match challenge.status {
        ChallengeStatus::Pending => "pending",
        ChallengeStatus::Processing => "processing",
        ChallengeStatus::Valid => "valid",
        _ => "invalid",
    };
    let mut doc = json!({
        "type": challenge.kind.as_str(),
        "url": challenge_url(edge, authz, challenge.kind.as_str()),
        "token": challenge.token,
        "status": status,
    });
    if let Some(at) = challenge.validated {
        doc["validated"] = json!(rfc3339(at));
    }
    if let Some(e) = &challenge.error {
        doc["error"] = problem_document(e);
    }
    doc
}
