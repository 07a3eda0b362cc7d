//! Local users: password hashing (Argon2id, PHC strings as the config stores them) and the
//! first-start `admin` account.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use netloom_store::DatastoreId;
use netloom_yang::{DataPath, Edit, EditOp};
use rand::distr::{Alphanumeric, SampleString};

use crate::engine::{system_principal, Engine};
use crate::error::Error;

pub fn hash_password(password: &str) -> Result<String, Error> {
    netloom_northbound::auth::hash_password(password).map_err(Error::Refused)
}

pub use netloom_northbound::auth::verify_password;

/// On a fresh database: create `admin` (password from `env_password`, else random and written
/// to `<data_dir>/admin-password`, mode 0600), and save the result as startup too. Returns the
/// password file when one was written.
pub fn bootstrap_admin(
    engine: &mut Engine,
    data_dir: &Path,
    env_password: Option<String>,
) -> Result<Option<PathBuf>, Error> {
    if !engine.is_fresh() {
        return Ok(None);
    }
    let (password, file) = match env_password {
        Some(p) if !p.is_empty() => (p, None),
        _ => {
            let p = Alphanumeric.sample_string(&mut rand::rng(), 24);
            (p, Some(data_dir.join("admin-password")))
        }
    };
    let hash = hash_password(&password)?;
    let edit = Edit {
        op: EditOp::Merge,
        path: DataPath::parse_xpath("/netloom-host:system/user[name='admin']")?,
        value: Some(serde_json::json!({"name": "admin", "password": hash, "role": "admin"})),
    };
    let who = system_principal();
    engine.edit(
        &who,
        DatastoreId::Running,
        &[edit],
        Some("initial configuration".into()),
    )?;
    engine.copy(&who, DatastoreId::Running, DatastoreId::Startup)?;
    if let Some(f) = &file {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(f)
            .map_err(|e| Error::Refused(format!("writing {}: {e}", f.display())))?;
        writeln!(out, "{password}")
            .map_err(|e| Error::Refused(format!("writing {}: {e}", f.display())))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_fit_the_schema_pattern() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "s3cret"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("garbage", "s3cret"));
    }
}
