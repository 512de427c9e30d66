//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` attributes as the route table registers them (so a
//! route cannot be missing from it), and served at
//! `GET /api/v1/openapi.json`.
//!
//! [`Conventions`] adds what every route shares once instead of on each
//! handler: the bearer security scheme, and on every `/api/v1` operation a
//! `default` response that is an RFC 9457 problem document ([`Problem`]).

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::problem::{PROBLEM_JSON, Problem};

/// The document's fixed parts: info, tags and [`Conventions`].
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "nameplate", description = "Self-service DNS names for an enterprise's apps: teams, tokens, \
        zone delegation, records, apps behind a risk gate, previews and the audit log."),
    tags(
        (name = "teams", description = "Teams and their quotas"),
        (name = "tokens", description = "Bearer tokens of a team"),
        (name = "zones", description = "Team zone delegation and records"),
        (name = "apps", description = "Apps registered under the naming scheme"),
        (name = "previews", description = "Short-lived preview names of an app"),
        (name = "reviews", description = "Registrations the risk gate held"),
        (name = "audit", description = "Every change: who, what, when, why"),
        (name = "certs", description = "Direct certificate issuance and the CA's root, chains and CRLs"),
        (name = "acme-dns", description = "acme-dns's /register and /update, for cert-manager's and lego's \
            acme-dns clients; errors in acme-dns's format"),
        (name = "operations", description = "Health, metrics and this document")
    )
)]
pub(super) struct ApiDoc;

/// Adds the bearer scheme, and the problem `default` response to every
/// operation under `/api/v1` of the finished document (the router adds the
/// operations after [`ApiDoc`] is built, so this runs on the result). The
/// routes at the root answer in their own formats (`/healthz` text,
/// acme-dns's `/register` and `/update` their `{"error"}` JSON).
pub(super) struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = Http::builder().scheme(HttpAuthScheme::Bearer).description(Some("np_<token>")).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.schemas.insert(Problem::name().into_owned(), Problem::schema());
        let problem = ResponseBuilder::new()
            .description("An RFC 9457 problem document (urn:nameplate:problem:*)")
            .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(RefOr::Ref(reference("Problem")))).build())
            .build();
        let management = doc.paths.paths.iter_mut().filter(|(path, _)| path.starts_with("/api/v1/"));
        for (_, item) in management {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.entry("default".to_owned()).or_insert_with(|| problem.clone().into());
            }
        }
    }
}

fn reference(name: &str) -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use axum::http::{Method, StatusCode};

    use crate::routes::tests::fixture;

    /// Every route of the management API, as (method, path).
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("post", "/api/v1/teams"),
        ("get", "/api/v1/teams"),
        ("get", "/api/v1/teams/{team}"),
        ("post", "/api/v1/teams/{team}/tokens"),
        ("delete", "/api/v1/teams/{team}/tokens/{id}"),
        ("post", "/api/v1/teams/{team}/tsig-keys"),
        ("get", "/api/v1/teams/{team}/tsig-keys"),
        ("delete", "/api/v1/teams/{team}/tsig-keys/{name}"),
        ("get", "/api/v1/zones"),
        ("post", "/api/v1/zones"),
        ("get", "/api/v1/zones/{zone}"),
        ("delete", "/api/v1/zones/{zone}"),
        ("get", "/api/v1/zones/{zone}/rrsets"),
        ("patch", "/api/v1/zones/{zone}/rrsets"),
        ("post", "/api/v1/apps"),
        ("get", "/api/v1/apps"),
        ("get", "/api/v1/apps/{fqdn}"),
        ("delete", "/api/v1/apps/{fqdn}"),
        ("post", "/api/v1/apps/{fqdn}/previews"),
        ("delete", "/api/v1/apps/{fqdn}/previews/{pr}"),
        ("get", "/api/v1/reviews"),
        ("post", "/api/v1/reviews/{id}"),
        ("get", "/api/v1/audit"),
        ("post", "/api/v1/certs"),
        ("post", "/api/v1/certs/{serial}/revoke"),
        ("get", "/ca/root.pem"),
        ("get", "/ca/chain/{file}"),
        ("get", "/ca/crl/{file}"),
        ("post", "/api/v1/teams/{team}/eab"),
        ("post", "/register"),
        ("post", "/update"),
    ];

    #[tokio::test]
    async fn the_document_describes_every_route_and_the_router_serves_every_documented_one() {
        let f = fixture();
        let reply = f.call(Method::GET, "/api/v1/openapi.json", None, None).await;
        assert_eq!((reply.status, reply.content_type.as_str()), (StatusCode::OK, "application/json"));
        let doc = reply.body;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
        let mut documented = Vec::new();
        let mut operation_ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                documented.push((method.clone(), path.clone()));
                assert!(operation_ids.insert(operation["operationId"].to_string()), "{method} {path}: id taken");
                let problem = &operation["responses"]["default"]["content"]["application/problem+json"];
                if path.starts_with("/api/v1/") {
                    assert_eq!(problem["schema"]["$ref"], "#/components/schemas/Problem", "{method} {path}");
                } else {
                    assert!(operation["responses"]["default"].is_null(), "{method} {path}: its own error format");
                }
                // The router answers the documented route (not the 404/405 fallbacks).
                let concrete = path.replace('{', "x").replace('}', "");
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let answer = f.call(method.clone(), &concrete, None, Some("{}")).await;
                assert!(
                    answer.body["type"] != "urn:nameplate:problem:not-found"
                        || answer.body["detail"] != "no such resource",
                    "{method} {path} is documented but not routed"
                );
                assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
        let mut expected: Vec<(String, String)> =
            ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        expected.sort();
        documented.sort();
        assert_eq!(documented, expected);
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["Problem", "NewApp", "AppRecord", "Entry", "RRsetPatch", "NewZone", "TeamRecord", "Credentials"] {
            assert!(schemas.contains_key(name), "schema {name} missing: {:?}", schemas.keys().collect::<Vec<_>>());
        }
        assert_eq!(schemas["NewApp"]["properties"]["target"]["$ref"], "#/components/schemas/AppTarget");
        assert_eq!(schemas["AppTarget"]["oneOf"].as_array().map(Vec::len), Some(3), "a, aaaa or cname");
    }
}
