//! The daemon's TLS identity, shared by RESTCONF and gNMI: the certificate and key given on the
//! command line, or a self-signed pair generated into the data dir on first start (mode 0600)
//! and reused afterwards, so clients can pin it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("generating the self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A certificate chain and its private key, as PEM text.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_private(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

impl TlsIdentity {
    /// The given pair, else `tls-cert.pem`/`tls-key.pem` in the data dir, generated when absent.
    pub fn load_or_generate(
        data_dir: &Path,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Self, TlsError> {
        let (cert_path, key_path) = match (cert, key) {
            (Some(c), Some(k)) => (c.to_owned(), k.to_owned()),
            (None, None) => {
                let (c, k) = (data_dir.join("tls-cert.pem"), data_dir.join("tls-key.pem"));
                if !c.exists() || !k.exists() {
                    Self::generate(&c, &k)?;
                    tracing::info!(cert = %c.display(), "generated a self-signed TLS certificate");
                }
                (c, k)
            }
            _ => {
                return Err(TlsError::Config(
                    "--tls-cert and --tls-key go together".into(),
                ))
            }
        };
        let id = TlsIdentity {
            cert_pem: read(&cert_path)?,
            key_pem: read(&key_path)?,
            cert_path: cert_path.clone(),
        };
        // Parse now, so a bad file stops the daemon at start rather than at the first client.
        id.certs()?;
        id.key()?;
        Ok(id)
    }

    fn generate(cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
        let host = hostname();
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !host.is_empty() && !names.contains(&host) {
            names.push(host);
        }
        let pair = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        write_private(key_path, &pair.signing_key.serialize_pem(), 0o600)?;
        write_private(cert_path, &pair.cert.pem(), 0o644)
    }

    pub fn certs(&self) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem {
                path: self.cert_path.clone(),
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Pem {
                path: self.cert_path.clone(),
                message: "no certificate in the file".into(),
            });
        }
        Ok(certs)
    }

    pub fn key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| TlsError::Pem {
            path: self.cert_path.with_file_name("(key)"),
            message: e.to_string(),
        })
    }

    /// A rustls server configuration offering the given ALPN protocols (e.g. `h2`,
    /// `http/1.1`).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.certs()?, self.key()?)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsIdentity::load_or_generate(dir.path(), None, None).unwrap();
        let b = TlsIdentity::load_or_generate(dir.path(), None, None).unwrap();
        assert_eq!(a.cert_pem, b.cert_pem);
        a.server_config(&[b"h2"]).unwrap();
        let meta = std::fs::metadata(dir.path().join("tls-key.pem")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn refuses_a_bad_certificate_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c.pem");
        let k = dir.path().join("k.pem");
        std::fs::write(&c, "not pem").unwrap();
        std::fs::write(&k, "not pem").unwrap();
        let e = TlsIdentity::load_or_generate(dir.path(), Some(&c), Some(&k)).unwrap_err();
        assert!(e.to_string().contains("c.pem"), "{e}");
    }
}
