//! Whom a convenience client trusts over TLS: the one place where the
//! rustls client configuration of both clients is built.
//!
//! The TLS itself is the adapters' (`net_std::tls`, `net_tokio::tls`):
//! this module only decides which certificates verify a server.
//! [`rustls`] is re-exported so that a [`Trust::Config`] of the caller's
//! has the version the adapters use.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{self, PemObject};
use rustls::{ClientConfig, RootCertStore};

pub use rustls;

/// Which certificates verify the server.
///
/// ```
/// use pop3_client::tls::{Trust, TrustError};
///
/// // The CA file decides alone; one that does not exist is an error.
/// let error = Trust::CaFile("/nonexistent/ca.pem".into()).client_config().unwrap_err();
/// assert!(matches!(error, TrustError::CaFile { .. }));
/// assert_eq!(error.to_string(), "cannot read the CA file /nonexistent/ca.pem");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// The operating system's CA certificates (through
    /// rustls-native-certs). Those rustls cannot use are skipped.
    #[default]
    System,
    /// Only the CA certificates in this PEM file (`--ca-file`), not the
    /// system's.
    CaFile(PathBuf),
    /// A rustls configuration of the caller's: other roots, client
    /// certificates, ALPN. Build it with the ring provider, the one the
    /// adapters enable.
    Config(Arc<ClientConfig>),
}

/// Why no TLS configuration could be built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The CA file could not be read, or is not PEM.
    #[error("cannot read the CA file {}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        error: pem::Error,
    },
    /// A certificate in the CA file cannot be a trust anchor.
    #[error("unusable CA certificate in {}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        error: rustls::Error,
    },
    /// There is no certificate to trust: an empty CA file, or none in the
    /// system's store.
    #[error("no trusted CA certificates")]
    NoRoots,
    /// rustls refused the configuration (the provider supports no safe
    /// protocol version).
    #[error("cannot build the tls configuration")]
    Config(#[source] rustls::Error),
}

impl Trust {
    /// The rustls client configuration on the ring provider, verifying
    /// servers against these certificates.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TrustError> {
        let mut roots = RootCertStore::empty();
        match self {
            Self::Config(config) => return Ok(Arc::clone(config)),
            Self::CaFile(path) => {
                let certs =
                    CertificateDer::pem_file_iter(path).map_err(|error| TrustError::CaFile {
                        path: path.clone(),
                        error,
                    })?;
                for cert in certs {
                    let cert = cert.map_err(|error| TrustError::CaFile {
                        path: path.clone(),
                        error,
                    })?;
                    roots.add(cert).map_err(|error| TrustError::Certificate {
                        path: path.clone(),
                        error,
                    })?;
                }
            }
            Self::System => {
                // Errors reading some of the system's files are not fatal
                // while others give certificates; none at all is.
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        if roots.is_empty() {
            return Err(TrustError::NoRoots);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TrustError::Config)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}
