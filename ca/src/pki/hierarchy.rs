//! The root and the per-region intermediates, created at first start and
//! reloaded afterwards.
//!
//! Files in the data directory: `root.crt.pem`, `root.key.pem` (unless the
//! operator supplies the root) and `intermediate-<region>.{crt,key}.pem`.
//! A region added later gets a new intermediate signed by the existing root.
//! On reload the permitted subtrees are read back from the intermediate
//! itself, since that is what relying parties enforce.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose,
    NameConstraints, SerialNumber,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::Error;
use super::keys::{generate_p256, load_key, read_string, write_public, write_secret};
use super::service::ServiceIssuer;
use super::store::random_serial;

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
/// Validity of a generated root.
const ROOT_VALIDITY: Duration = YEAR.saturating_mul(10);
/// Validity of a generated intermediate.
const INTERMEDIATE_VALIDITY: Duration = YEAR.saturating_mul(3);
/// Backdating of CA certificates, for clock skew.
const CA_BACKDATE: Duration = Duration::from_secs(3600);

/// What the hierarchy should look like.
#[derive(Debug, Clone)]
pub struct HierarchySpec {
    /// The CA's name, used in subjects, e.g. `nameplate`.
    pub ca_name: String,
    /// One entry per region; the caller passes a single `default` region
    /// when none is configured.
    pub regions: Vec<RegionSpec>,
    /// Operator-supplied root: (certificate PEM path, PKCS#8 key PEM path).
    pub root: Option<(PathBuf, PathBuf)>,
    /// Base URL of the CRLs, e.g. `https://localhost:8443`; leaves point at
    /// `{crl_base_url}/ca/crl/{region}.crl`.
    pub crl_base_url: String,
    /// The longest leaf lifetime any issuer accepts.
    pub max_lifetime: Duration,
    /// The names of nameplate's own HTTPS listener (DNS names and IP
    /// addresses); when not empty, a [`ServiceIssuer`] for them is made at
    /// every start.
    pub service_names: Vec<String>,
}

/// One region and the DNS subtrees its intermediate may sign for.
#[derive(Debug, Clone)]
pub struct RegionSpec {
    /// Region name: ASCII letters, digits, `-` and `_`.
    pub name: String,
    /// Permitted DNS subtrees, e.g. `["apps.company.com", "eu-apps.company.com"]`.
    pub permitted: Vec<String>,
}

/// The loaded hierarchy: the root certificate and one issuer per region.
#[derive(Debug)]
pub struct Hierarchy {
    root_pem: String,
    root_der: Vec<u8>,
    issuers: BTreeMap<String, Issuer>,
    service: Option<ServiceIssuer>,
}

/// An intermediate with its key loaded, ready to sign leaves and CRLs.
pub struct Issuer {
    pub(crate) region: String,
    pub(crate) permitted: Vec<String>,
    pub(crate) signer: rcgen::Issuer<'static, KeyPair>,
    pub(crate) key_id: Vec<u8>,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) cert_pem: String,
    pub(crate) crl_url: String,
    pub(crate) max_lifetime: Duration,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("region", &self.region)
            .field("permitted", &self.permitted)
            .finish_non_exhaustive()
    }
}

/// A CA certificate read from or written to disk.
struct CaCert {
    pem: String,
    der: Vec<u8>,
    key: KeyPair,
}

impl Hierarchy {
    /// Creates the root and intermediates that do not exist yet in `dir`
    /// and loads all of them.
    pub fn load_or_create(dir: &Path, spec: &HierarchySpec, now: SystemTime) -> Result<Hierarchy, Error> {
        validate(spec)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let root = load_or_create_root(dir, spec, now)?;
        let signer = rcgen::Issuer::from_ca_cert_der(&root.der.clone().into(), root.key)?;
        let mut issuers = BTreeMap::new();
        for region in &spec.regions {
            let issuer = load_or_create_issuer(dir, spec, region, (&signer, &root.der), now)?;
            issuers.insert(region.name.clone(), issuer);
        }
        let service = match spec.service_names.as_slice() {
            [] => None,
            names => Some(ServiceIssuer::new(&spec.ca_name, names, &signer, now)?),
        };
        Ok(Hierarchy { root_pem: root.pem, root_der: root.der, issuers, service })
    }

    /// The root certificate, PEM (served at `/ca/root.pem`).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The chain file of a region (served at `/ca/chain/{region}.pem`): the
    /// intermediate's PEM, to be used with the root as trust anchor.
    pub fn chain_pem(&self, region: &str) -> Option<&str> {
        self.issuers.get(region).map(|i| i.cert_pem.as_str())
    }

    /// The issuer of a region.
    pub fn issuer(&self, region: &str) -> Option<&Issuer> {
        self.issuers.get(region)
    }

    /// The issuer of nameplate's own HTTPS certificate, when
    /// [`HierarchySpec::service_names`] named any.
    pub fn service(&self) -> Option<&ServiceIssuer> {
        self.service.as_ref()
    }

    /// The configured region names, sorted.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.issuers.keys().map(String::as_str)
    }
}

impl Issuer {
    /// The region this intermediate serves.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The DNS subtrees this intermediate's name constraints permit.
    pub fn permitted(&self) -> &[String] {
        &self.permitted
    }

    /// The intermediate certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The intermediate certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The URL of this issuer's CRL, as written into every leaf.
    pub fn crl_url(&self) -> &str {
        &self.crl_url
    }

    /// The intermediate's subject key identifier (its leaves' AKI keyIdentifier).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The longest leaf lifetime this issuer accepts.
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }
}

fn validate(spec: &HierarchySpec) -> Result<(), Error> {
    if spec.regions.is_empty() {
        return Err(Error::Spec("no regions".into()));
    }
    for region in &spec.regions {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if region.name.is_empty() || !region.name.chars().all(ok_char) {
            return Err(Error::Spec(format!("bad region name {:?}", region.name)));
        }
        if region.permitted.is_empty() {
            return Err(Error::Spec(format!("region {} permits nothing", region.name)));
        }
    }
    Ok(())
}

fn load_or_create_root(dir: &Path, spec: &HierarchySpec, now: SystemTime) -> Result<CaCert, Error> {
    if let Some((cert, key)) = &spec.root {
        return load_ca(cert, key);
    }
    let (cert, key) = (dir.join("root.crt.pem"), dir.join("root.key.pem"));
    if cert.exists() {
        return load_ca(&cert, &key);
    }
    let params = root_params(&spec.ca_name, now)?;
    let key_pair = generate_p256()?;
    let made = params.self_signed(&key_pair)?;
    store_ca(&cert, &key, made.pem(), made.der().to_vec(), key_pair)
}

fn load_or_create_issuer(
    dir: &Path,
    spec: &HierarchySpec,
    region: &RegionSpec,
    (root, root_der): (&rcgen::Issuer<'_, KeyPair>, &[u8]),
    now: SystemTime,
) -> Result<Issuer, Error> {
    let cert = dir.join(format!("intermediate-{}.crt.pem", region.name));
    let key = dir.join(format!("intermediate-{}.key.pem", region.name));
    let ca = if cert.exists() {
        let ca = load_ca(&cert, &key)?;
        check_signed_by(&ca.der, root_der, &cert)?;
        ca
    } else {
        let params = intermediate_params(&spec.ca_name, region, now)?;
        let key_pair = generate_p256()?;
        let made = params.signed_by(&key_pair, root)?;
        store_ca(&cert, &key, made.pem(), made.der().to_vec(), key_pair)?
    };
    make_issuer(spec, region, ca, &cert)
}

fn make_issuer(spec: &HierarchySpec, region: &RegionSpec, ca: CaCert, path: &Path) -> Result<Issuer, Error> {
    let (permitted, key_id) = read_constraints_and_ski(&ca.der, path)?;
    if permitted != region.permitted {
        tracing::warn!(region = %region.name, ?permitted, "intermediate constraints differ from config; the certificate's apply");
    }
    let signer = rcgen::Issuer::from_ca_cert_der(&ca.der.clone().into(), ca.key)?;
    Ok(Issuer {
        region: region.name.clone(),
        permitted,
        signer,
        key_id,
        cert_der: ca.der,
        cert_pem: ca.pem,
        crl_url: format!("{}/ca/crl/{}.crl", spec.crl_base_url.trim_end_matches('/'), region.name),
        max_lifetime: spec.max_lifetime,
    })
}

fn root_params(ca_name: &str, now: SystemTime) -> Result<CertificateParams, Error> {
    let mut params = ca_params(ca_name, &format!("{ca_name} Root CA"), now, ROOT_VALIDITY)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    Ok(params)
}

fn intermediate_params(ca_name: &str, region: &RegionSpec, now: SystemTime) -> Result<CertificateParams, Error> {
    let cn = format!("{ca_name} {} Intermediate CA", region.name);
    let mut params = ca_params(ca_name, &cn, now, INTERMEDIATE_VALIDITY)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.use_authority_key_identifier_extension = true;
    let permitted = region.permitted.iter().map(|d| GeneralSubtree::DnsName(d.to_ascii_lowercase()));
    params.name_constraints =
        Some(NameConstraints { permitted_subtrees: permitted.collect(), excluded_subtrees: Vec::new() });
    Ok(params)
}

fn ca_params(org: &str, cn: &str, now: SystemTime, validity: Duration) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = (now - CA_BACKDATE).into();
    params.not_after = (now + validity).into();
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    Ok(params)
}

fn store_ca(cert: &Path, key: &Path, pem: String, der: Vec<u8>, key_pair: KeyPair) -> Result<CaCert, Error> {
    write_secret(key, &key_pair.serialize_pem())?;
    write_public(cert, &pem)?;
    Ok(CaCert { pem, der, key: key_pair })
}

fn load_ca(cert: &Path, key: &Path) -> Result<CaCert, Error> {
    let pem = read_string(cert)?;
    let der = pem_to_der(&pem).ok_or_else(|| Error::BadStoredCert(cert.to_path_buf()))?;
    let key_pair = load_key(key)?;
    let (_, parsed) = X509Certificate::from_der(&der).map_err(|_| Error::BadStoredCert(cert.to_path_buf()))?;
    if parsed.public_key().subject_public_key.data.as_ref() != key_pair.public_key_raw() {
        return Err(Error::KeyMismatch(cert.to_path_buf()));
    }
    Ok(CaCert { pem, der, key: key_pair })
}

fn check_signed_by(der: &[u8], root_der: &[u8], path: &Path) -> Result<(), Error> {
    let bad = || Error::BadStoredCert(path.to_path_buf());
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| bad())?;
    let (_, root) = X509Certificate::from_der(root_der).map_err(|_| bad())?;
    cert.verify_signature(Some(root.public_key())).map_err(|_| Error::NotSignedByRoot(path.to_path_buf()))
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    (parsed.label == "CERTIFICATE").then_some(parsed.contents)
}

fn read_constraints_and_ski(der: &[u8], path: &Path) -> Result<(Vec<String>, Vec<u8>), Error> {
    let bad = || Error::BadStoredCert(path.to_path_buf());
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| bad())?;
    let (mut permitted, mut ski) = (Vec::new(), None);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::NameConstraints(nc) => {
                let subtrees = nc.permitted_subtrees.iter().flatten();
                permitted.extend(subtrees.filter_map(|s| match s.base {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                }));
            }
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            _ => {}
        }
    }
    Ok((permitted, ski.ok_or_else(bad)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::testutil::{fixture, openssl, region, s, spec, x509_text};
    use super::*;

    #[test]
    fn reload_gives_same_certs_and_keys_are_0600() {
        let fx = fixture();
        let dir = fx.dir.path().join("ca");
        let again = Hierarchy::load_or_create(&dir, &spec(), SystemTime::now()).unwrap();
        assert_eq!(again.root_der(), fx.hierarchy.root_der());
        assert_eq!(again.chain_pem("eu"), fx.hierarchy.chain_pem("eu"));
        for key in ["root.key.pem", "intermediate-default.key.pem", "intermediate-eu.key.pem"] {
            let mode = std::fs::metadata(dir.join(key)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        assert_eq!(again.regions().collect::<Vec<_>>(), ["default", "eu"]);
    }

    #[test]
    fn region_added_later_is_signed_by_the_same_root() {
        let fx = fixture();
        let mut more = spec();
        more.regions.push(region("us", &["us-apps.company.com"]));
        let dir = fx.dir.path().join("ca");
        let h = Hierarchy::load_or_create(&dir, &more, SystemTime::now()).unwrap();
        assert_eq!(h.root_der(), fx.hierarchy.root_der());
        let root = fx.write("r.pem", fx.hierarchy.root_pem());
        let inter = fx.write("us.pem", h.chain_pem("us").unwrap());
        let (ok, text) = openssl(&["verify", "-CAfile", s(&root), s(&inter)]);
        assert!(ok && text.contains("OK"), "{text}");
        assert_eq!(h.issuer("us").unwrap().permitted(), ["us-apps.company.com"]);
    }

    #[test]
    fn intermediate_has_critical_name_constraints_and_pathlen_0() {
        let fx = fixture();
        let text = x509_text(&fx, fx.hierarchy.chain_pem("eu").unwrap());
        assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
        assert!(text.contains("Permitted:"), "{text}");
        assert!(text.contains("DNS:apps.company.com"), "{text}");
        assert!(text.contains("DNS:eu-apps.company.com"), "{text}");
        assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
        assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
        let root = x509_text(&fx, fx.hierarchy.root_pem());
        assert!(root.contains("CA:TRUE") && !root.contains("Name Constraints"), "{root}");
    }

    #[test]
    fn operator_supplied_root_is_used() {
        let fx = fixture();
        let dir = fx.dir.path().join("ca");
        let mut op = spec();
        op.root = Some((dir.join("root.crt.pem"), dir.join("root.key.pem")));
        let other = fx.dir.path().join("other");
        let h = Hierarchy::load_or_create(&other, &op, SystemTime::now()).unwrap();
        assert_eq!(h.root_der(), fx.hierarchy.root_der());
        assert!(!other.join("root.key.pem").exists());
        assert_ne!(h.chain_pem("default"), fx.hierarchy.chain_pem("default"));
    }

    #[test]
    fn mismatched_key_is_refused() {
        let fx = fixture();
        let dir = fx.dir.path().join("ca");
        std::fs::copy(dir.join("root.key.pem"), dir.join("intermediate-eu.key.pem")).unwrap();
        let err = Hierarchy::load_or_create(&dir, &spec(), SystemTime::now()).unwrap_err();
        assert!(matches!(err, Error::KeyMismatch(_)), "{err}");
    }

    #[test]
    fn intermediate_of_another_root_is_refused() {
        let fx = fixture();
        let dir = fx.dir.path().join("ca");
        std::fs::remove_file(dir.join("root.crt.pem")).unwrap();
        let err = Hierarchy::load_or_create(&dir, &spec(), SystemTime::now()).unwrap_err();
        assert!(matches!(err, Error::NotSignedByRoot(_)), "{err}");
    }

    #[test]
    fn bad_specs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut none = spec();
        none.regions.clear();
        let mut slash = spec();
        slash.regions[0].name = "../x".into();
        let mut empty = spec();
        empty.regions[1].permitted.clear();
        for bad in [none, slash, empty] {
            let err = Hierarchy::load_or_create(dir.path(), &bad, SystemTime::now()).unwrap_err();
            assert!(matches!(err, Error::Spec(_)), "{err}");
        }
    }
}
