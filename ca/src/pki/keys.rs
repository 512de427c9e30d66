//! Key generation and the files of keys and certificates.
//!
//! Files are written to a temporary sibling, fsynced, renamed into place and
//! the directory fsynced, so a crash leaves either the old or the new file.
//! Private keys are created with mode 0600 from the start.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};

use super::Error;

/// Generates a fresh ECDSA P-256 key pair.
pub(crate) fn generate_p256() -> Result<KeyPair, Error> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

/// Writes a private key PEM with mode 0600.
pub(crate) fn write_secret(path: &Path, pem: &str) -> Result<(), Error> {
    write_atomic(path, pem.as_bytes(), 0o600)
}

/// Writes a certificate PEM with mode 0644.
pub(crate) fn write_public(path: &Path, pem: &str) -> Result<(), Error> {
    write_atomic(path, pem.as_bytes(), 0o644)
}

/// Loads a PKCS#8 private key PEM.
pub(crate) fn load_key(path: &Path) -> Result<KeyPair, Error> {
    Ok(KeyPair::from_pem(&read_string(path)?)?)
}

/// Reads a whole text file.
pub(crate) fn read_string(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let io = |e| Error::io(path, e);
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    file.write_all(data).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn secret_is_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = generate_p256().unwrap();
        write_secret(&path, &key.serialize_pem()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = load_key(&path).unwrap();
        assert_eq!(back.public_key_raw(), key.public_key_raw());
    }

    #[test]
    fn rewrite_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pem");
        write_public(&path, "one").unwrap();
        write_public(&path, "two").unwrap();
        assert_eq!(read_string(&path).unwrap(), "two");
        assert!(!path.with_extension("tmp").exists());
    }
}
