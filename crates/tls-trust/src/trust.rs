//! Client configurations: which certificates verify a server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{self, PemObject};
use rustls::{ClientConfig, RootCertStore};

use crate::verify::AnchorsVerifier;
use crate::{Fingerprint, PinnedCertVerifier};

/// Which certificates verify the server.
///
/// ```
/// use tls_trust::{Trust, TrustError};
///
/// // The CA file decides alone; one that does not exist is an error.
/// let error = Trust::CaFile("/nonexistent/ca.pem".into()).client_config().unwrap_err();
/// assert!(matches!(error, TrustError::CaFile { .. }));
/// assert_eq!(error.to_string(), "cannot read the CA file /nonexistent/ca.pem");
///
/// // A pin needs no file.
/// let pin = "73eb4989d8375bb5f3d0b6b76ec4ae4cd7776093a0eac270a4022e2953cff801".parse()?;
/// let config = Trust::Pinned(pin).client_config()?;
/// # let _ = config;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
#[cfg_attr(feature = "system-roots", derive(Default))]
pub enum Trust {
    /// The operating system's CA certificates (through
    /// rustls-native-certs); those rustls cannot use are skipped. The
    /// default. Needs the `system-roots` feature.
    #[cfg(feature = "system-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "system-roots")))]
    #[default]
    System,
    /// Only the CA certificates in this PEM file (`--ca-file`), not the
    /// system's; see [`client_config_with_ca_file`].
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint
    /// (`--fingerprint`); see [`PinnedCertVerifier`].
    Pinned(Fingerprint),
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
    /// rustls refused to build a verifier from the certificates.
    #[error("cannot build the certificate verifier")]
    Verifier(#[source] VerifierBuilderError),
}

impl Trust {
    /// The rustls client configuration on the ring provider, verifying
    /// servers this way.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TrustError> {
        let config = match self {
            Self::Config(config) => return Ok(Arc::clone(config)),
            Self::CaFile(path) => client_config_with_ca_file(path)?,
            Self::Pinned(pin) => client_config_pinned(*pin)?,
            #[cfg(feature = "system-roots")]
            Self::System => client_config_with_system_roots()?,
        };
        Ok(Arc::new(config))
    }
}

/// A client configuration on the ring provider that trusts exactly the
/// certificate with this fingerprint (see [`PinnedCertVerifier`] for what
/// is checked). A rejected certificate's fingerprint is in the handshake's
/// error ([`UntrustedCertificate`](crate::UntrustedCertificate)).
///
/// ```
/// let pin = "BF:69:23:39:9E:9B:A2:0E:87:58:BD:9B:B6:31:D1:5D:\
///            E5:30:08:E8:4F:3F:D1:8E:47:02:28:25:CA:AC:6E:3C".parse()?;
/// let mut config = tls_trust::client_config_pinned(pin)?;
/// // Still the caller's to adjust before use.
/// config.alpn_protocols = vec![b"auth".to_vec()];
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_config_pinned(pin: Fingerprint) -> Result<ClientConfig, TrustError> {
    let provider = ring_provider();
    let verifier =
        PinnedCertVerifier::with_algorithms(pin, provider.signature_verification_algorithms);
    with_verifier(provider, Arc::new(verifier))
}

/// A client configuration on the ring provider that trusts the
/// certificates in a PEM file, and no other.
///
/// Each certificate is a trust anchor for WebPKI verification (issuer
/// chain, validity dates, server name). One exception: the self-signed
/// certificate that `openssl req -x509` makes is marked `CA:TRUE`, which
/// WebPKI refuses as a server's own (`CaUsedAsEndEntity`); when the server
/// presents a certificate so refused that is in the file byte for byte, it
/// is trusted as a pin of itself. For it the server name is still checked,
/// and the handshake signature against its key, but not its validity
/// dates. (A CA-signed certificate of the server's in the file is no such
/// exception: it verifies nothing without its issuer.)
///
/// ```
/// let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs/selfsigned.pem");
/// let config = tls_trust::client_config_with_ca_file(ca)?;
/// # let _ = config;
/// # Ok::<(), tls_trust::TrustError>(())
/// ```
pub fn client_config_with_ca_file(path: impl AsRef<Path>) -> Result<ClientConfig, TrustError> {
    let path = path.as_ref();
    let ca_file_error = |error| TrustError::CaFile {
        path: path.to_owned(),
        error,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(ca_file_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(ca_file_error)?;
    let mut roots = RootCertStore::empty();
    for certificate in &certificates {
        roots
            .add(certificate.clone())
            .map_err(|error| TrustError::Certificate {
                path: path.to_owned(),
                error,
            })?;
    }
    with_roots(roots, certificates)
}

/// A client configuration on the ring provider that trusts the operating
/// system's CA certificates (through rustls-native-certs; those rustls
/// cannot use are skipped). Needs the `system-roots` feature.
///
/// ```
/// match tls_trust::client_config_with_system_roots() {
///     Ok(config) => drop(config),
///     // A system without CA certificates (a bare container).
///     Err(tls_trust::TrustError::NoRoots) => {}
///     Err(other) => panic!("{other}"),
/// }
/// ```
#[cfg(feature = "system-roots")]
pub fn client_config_with_system_roots() -> Result<ClientConfig, TrustError> {
    let mut roots = RootCertStore::empty();
    // Errors reading some of the system's files are not fatal while others
    // give certificates; none at all is.
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    with_roots(roots, Vec::new())
}

fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// WebPKI verification against `roots`, where any of `certificates` is
/// also trusted as itself.
fn with_roots(
    roots: RootCertStore,
    certificates: Vec<CertificateDer<'static>>,
) -> Result<ClientConfig, TrustError> {
    if roots.is_empty() {
        return Err(TrustError::NoRoots);
    }
    let provider = ring_provider();
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(TrustError::Verifier)?;
    with_verifier(
        provider,
        Arc::new(AnchorsVerifier::new(webpki, certificates)),
    )
}

fn with_verifier(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<ClientConfig, TrustError> {
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TrustError::Config)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}
