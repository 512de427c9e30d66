//! `/ca/*`: the built-in CA's public files, no authentication: the root
//! (`root.pem`, for cert-manager's `caBundle` and trust stores), each
//! region's intermediate (`chain/{region}.pem`) and CRL (`crl/{region}.crl`,
//! DER, cached and rebuilt after each revocation).
//!
//! The router cannot match a parameter with a suffix, so the handlers take
//! the whole last segment and strip `.pem` / `.crl`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::certs::authority;
use crate::extract::Path;
use crate::{ApiError, AppState};

const PEM: &str = "application/x-pem-file";
const CRL: &str = "application/pkix-crl";

/// `GET /ca/root.pem`: the root certificate.
#[utoipa::path(operation_id = "ca_root", get, path = "/ca/root.pem", tag = "certs", responses((status = 200, description = "the root certificate, PEM", body = String, content_type = "application/x-pem-file")))]
pub(crate) async fn root(State(state): State<AppState>) -> Result<Response, ApiError> {
    let ca = authority(&state)?;
    Ok(([(header::CONTENT_TYPE, PEM)], ca.hierarchy().root_pem().to_owned()).into_response())
}

/// `GET /ca/chain/{region}.pem`: the region's intermediate.
#[utoipa::path(operation_id = "ca_chain", get, path = "/ca/chain/{file}", tag = "certs", params(("file" = String, Path, description = "`<region>.pem`, e.g. default.pem")), responses((status = 200, description = "the region's intermediate, PEM", body = String, content_type = "application/x-pem-file")))]
pub(crate) async fn chain(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let ca = authority(&state)?;
    let region = strip(&file, ".pem")?;
    let pem = ca
        .hierarchy()
        .chain_pem(region)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::NotFound(format!("no region {region}")))?;
    Ok(([(header::CONTENT_TYPE, PEM)], pem).into_response())
}

/// `GET /ca/crl/{region}.crl`: the region's CRL, DER.
#[utoipa::path(operation_id = "ca_crl", get, path = "/ca/crl/{file}", tag = "certs", params(("file" = String, Path, description = "`<region>.crl`, e.g. default.crl")), responses((status = 200, description = "the region's CRL, DER", body = Vec<u8>, content_type = "application/pkix-crl")))]
pub(crate) async fn crl(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let ca = authority(&state)?;
    let region = strip(&file, ".crl")?.to_owned();
    let der = state.read(move |_, now| Ok(ca.crl(&region, now)?)).await?;
    Ok(([(header::CONTENT_TYPE, CRL)], der).into_response())
}

fn strip<'a>(file: &'a str, suffix: &str) -> Result<&'a str, ApiError> {
    file.strip_suffix(suffix).filter(|r| !r.is_empty()).ok_or_else(|| ApiError::NotFound(format!("no file {file}")))
}
