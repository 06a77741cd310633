//! The cache directory: the account's credentials and each certificate with its key, written
//! whole (under a hidden name, then renamed into place) and readable by the owner only.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use serde_json::Value;

use super::AcmeError;

/// The account's file in the cache directory (not a certificate: the store does not read it).
const ACCOUNT_FILE: &str = "acme-account.json";
/// The names held and how their orders went.
const ATTEMPTS_FILE: &str = "acme-attempts.json";

/// The cache directory of an [`Acme`](super::Acme) client.
#[derive(Debug, Clone)]
pub(super) struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache at `dir`, created (owner only) if missing.
    pub(super) fn open(dir: &Path) -> Result<Self, AcmeError> {
        let error = |error| AcmeError::cache(dir, error);
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(error)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the certificate for `name` lives.
    pub(super) fn certificate_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }

    /// The account's credentials saved for `directory`, if any were (credentials saved for
    /// another directory are not returned: that server does not know the account).
    pub(super) fn account(&self, directory: &str) -> Result<Option<Value>, AcmeError> {
        let path = self.dir.join(ACCOUNT_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(AcmeError::cache(path, error)),
        };
        let saved: Value = serde_json::from_slice(&bytes)
            .map_err(|e| AcmeError::cache(&path, io::Error::new(io::ErrorKind::InvalidData, e)))?;
        if saved.get("directory").and_then(Value::as_str) != Some(directory) {
            return Ok(None);
        }
        Ok(saved.get("credentials").cloned())
    }

    /// Saves the account's `credentials` for `directory`.
    pub(super) fn save_account(
        &self,
        directory: &str,
        credentials: Value,
    ) -> Result<(), AcmeError> {
        let saved = serde_json::json!({ "directory": directory, "credentials": credentials });
        let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| {
            AcmeError::cache(
                self.dir.join(ACCOUNT_FILE),
                io::Error::new(io::ErrorKind::InvalidData, e),
            )
        })?;
        self.write(ACCOUNT_FILE, &bytes)
    }

    /// The record of attempts saved by [`save_attempts`](Self::save_attempts), if any.
    pub(super) fn attempts(&self) -> Result<Option<Value>, AcmeError> {
        let path = self.dir.join(ATTEMPTS_FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(AcmeError::cache(path, error)),
        }
    }

    /// Saves the record of attempts.
    pub(super) fn save_attempts(&self, saved: &Value) -> Result<(), AcmeError> {
        let bytes = serde_json::to_vec_pretty(saved).map_err(|e| {
            AcmeError::cache(
                self.dir.join(ATTEMPTS_FILE),
                io::Error::new(io::ErrorKind::InvalidData, e),
            )
        })?;
        self.write(ATTEMPTS_FILE, &bytes)
    }

    /// Saves the certificate chain and key for `name`, returning the file's path.
    pub(super) fn save_certificate(
        &self,
        name: &str,
        chain_pem: &str,
        key_pem: &str,
    ) -> Result<PathBuf, AcmeError> {
        let file = format!("{name}.pem");
        let mut contents = String::with_capacity(chain_pem.len() + key_pem.len() + 1);
        contents.push_str(chain_pem);
        if !chain_pem.ends_with('\n') {
            contents.push('\n');
        }
        contents.push_str(key_pem);
        self.write(&file, contents.as_bytes())?;
        Ok(self.dir.join(file))
    }

    /// Saves `pem` (a chain and its key, checked already) as the certificate for `name`,
    /// returning the file's path.
    pub(super) fn save_pem(&self, name: &str, pem: &[u8]) -> Result<PathBuf, AcmeError> {
        let file = format!("{name}.pem");
        self.write(&file, pem)?;
        Ok(self.dir.join(file))
    }

    /// Writes `file` whole: under a hidden name, owner only, synced, then renamed into place.
    fn write(&self, file: &str, bytes: &[u8]) -> Result<(), AcmeError> {
        let hidden = self.dir.join(format!(".{file}.new"));
        let path = self.dir.join(file);
        let error = |error| AcmeError::cache(&path, error);
        // A file left by a crash may have other permissions: start afresh.
        match fs::remove_file(&hidden) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(error(e)),
            _ => {}
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&hidden).map_err(error)?;
        io::Write::write_all(&mut out, bytes).map_err(error)?;
        out.sync_all().map_err(error)?;
        drop(out);
        fs::rename(&hidden, &path).map_err(error)
    }
}
