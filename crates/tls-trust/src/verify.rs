//! The server certificate verifiers, and the error that names a rejected
//! certificate's fingerprint.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};

use crate::Fingerprint;

/// A server certificate that was not trusted, and its fingerprint: what a
/// command-line client prints so that its user can check it and pin it.
///
/// The verifiers of this crate report every certificate failure as one,
/// inside rustls's `Error::InvalidCertificate(CertificateError::Other(..))`;
/// [`UntrustedCertificate::find`] digs it out of whatever error the
/// handshake's failure ends up in.
#[derive(Debug, Clone, thiserror::Error)]
#[error("untrusted server certificate (sha-256 fingerprint {fingerprint})")]
pub struct UntrustedCertificate {
    fingerprint: Fingerprint,
    #[source]
    reason: Rejection,
}

/// Why a server certificate was not trusted.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum Rejection {
    /// It is not the pinned certificate.
    #[error("it is not the pinned certificate")]
    NotPinned,
    /// No CA certificate trusted here signed it (a self-signed
    /// certificate, or one from another CA).
    #[error("no trusted CA certificate signed it")]
    UnknownIssuer,
    /// It is a CA certificate (basicConstraints CA:TRUE, which
    /// `openssl req -x509` writes by default), and not the one in the CA
    /// file: WebPKI refuses a CA certificate as a server's own before it
    /// looks for an issuer.
    #[error(
        "it is a CA certificate (CA:TRUE, as a self-signed one made by `openssl req -x509` is), \
         trusted as a server's only when it is the certificate in the CA file"
    )]
    CaUsedAsEndEntity,
    /// It does not verify for another reason, rustls's (expired, not
    /// valid for the server name, ...).
    #[error(transparent)]
    Invalid(Error),
}

impl UntrustedCertificate {
    /// The rejected certificate's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Why it was rejected.
    pub fn reason(&self) -> &Rejection {
        &self.reason
    }

    /// Finds the rejected certificate in a failed handshake's error: in
    /// `error` itself, in its [`source`](StdError::source) chain, or in a
    /// rustls error carried by an `io::Error` on the way (as the adapters'
    /// `TlsError::Handshake` carries it).
    ///
    /// ```
    /// use std::error::Error;
    /// use tls_trust::UntrustedCertificate;
    ///
    /// fn explain(error: &(dyn Error + 'static)) -> String {
    ///     match UntrustedCertificate::find(error) {
    ///         Some(untrusted) => format!(
    ///             "the server's certificate is not trusted ({}); its SHA-256 fingerprint is {}",
    ///             untrusted.reason(),
    ///             untrusted.fingerprint(),
    ///         ),
    ///         None => error.to_string(),
    ///     }
    /// }
    /// let other = std::io::Error::other("connection refused");
    /// assert_eq!(explain(&other), "connection refused");
    /// ```
    pub fn find<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a Self> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<Self>() {
                return Some(found);
            }
            if let Some(Error::InvalidCertificate(CertificateError::Other(other))) =
                error.downcast_ref::<Error>()
            {
                return other.0.downcast_ref::<Self>();
            }
            // An `io::Error`'s `source` skips the error it wraps, which is
            // where a handshake's rustls error is.
            if let Some(inner) = error
                .downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
            {
                if let Some(found) = Self::find(inner) {
                    return Some(found);
                }
            }
            next = error.source();
        }
        None
    }

    /// The rustls error a verifier returns for `end_entity`.
    fn error(end_entity: &CertificateDer<'_>, reason: Rejection) -> Error {
        let untrusted = Self {
            fingerprint: Fingerprint::of(end_entity),
            reason,
        };
        // A certificate error, so that rustls still tells the server so
        // (with a `certificate_unknown` alert).
        Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(untrusted))))
    }
}

/// Trusts exactly one server certificate, the one with this SHA-256
/// fingerprint, as SSH trusts a known host key.
///
/// What it checks:
///
/// * the end-entity certificate's SHA-256 digest equals the pin (in
///   constant time);
/// * the handshake's signature verifies with that certificate's key, with
///   the ring provider's algorithms, so the server holds the certificate's
///   private key.
///
/// What it does not: the issuer (there is none to trust), the validity
/// dates, or the server name. The pin names the certificate itself, so a
/// self-signed certificate for any name, even an expired one, is trusted
/// as long as it is that certificate: replacing it means pinning anew.
/// The intermediates a server sends are ignored.
///
/// ```
/// use std::sync::Arc;
/// use tls_trust::{Fingerprint, PinnedCertVerifier};
/// use tls_trust::rustls;
///
/// let pin: Fingerprint = "73:EB:49:89:D8:37:5B:B5:F3:D0:B6:B7:6E:C4:AE:4C:\
///                         D7:77:60:93:A0:EA:C2:70:A4:02:2E:29:53:CF:F8:01".parse()?;
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let config = rustls::ClientConfig::builder_with_provider(provider)
///     .with_safe_default_protocol_versions()?
///     .dangerous()
///     .with_custom_certificate_verifier(Arc::new(PinnedCertVerifier::new(pin)))
///     .with_no_client_auth();
/// # let _ = config;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`client_config_pinned`](crate::client_config_pinned) builds that
/// configuration.
#[derive(Debug, Clone)]
pub struct PinnedCertVerifier {
    pin: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCertVerifier {
    /// Trusts the certificate with this fingerprint, verifying handshake
    /// signatures with the ring provider's algorithms.
    pub fn new(pin: Fingerprint) -> Self {
        Self::with_algorithms(
            pin,
            rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    /// Trusts the certificate with this fingerprint, verifying handshake
    /// signatures with `algorithms` (another provider's
    /// `signature_verification_algorithms`).
    pub fn with_algorithms(pin: Fingerprint, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self { pin, algorithms }
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.pin.matches(end_entity) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(UntrustedCertificate::error(
                end_entity,
                Rejection::NotPinned,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// WebPKI verification against a set of roots, where a root that is the
/// very certificate the server presents, and that WebPKI refuses only
/// because it is marked as a CA, is trusted as a pin of itself; and a
/// rejected certificate is reported with its fingerprint.
///
/// The exception is for the certificate `openssl req -x509` makes: self-
/// signed and marked `CA:TRUE`, it is both the server's certificate and
/// the only thing a client can put in its CA file, and WebPKI refuses a CA
/// certificate as an end entity (`CaUsedAsEndEntity`). Any other
/// certificate in the file is a trust anchor and nothing more: the
/// server's own CA-signed certificate in the file does not verify it.
#[derive(Debug)]
pub(crate) struct AnchorsVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The roots given as whole certificates (a CA file's), to recognise
    /// the server's own.
    certificates: Vec<CertificateDer<'static>>,
}

impl AnchorsVerifier {
    pub(crate) fn new(
        webpki: Arc<WebPkiServerVerifier>,
        certificates: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self {
            webpki,
            certificates,
        }
    }
}

/// Whether WebPKI refused a certificate for being a CA's.
fn is_ca_used_as_end_entity(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidCertificate(CertificateError::Other(other))
            if matches!(other.0.downcast_ref(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

impl ServerCertVerifier for AnchorsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let result = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(error)
                if is_ca_used_as_end_entity(&error)
                    && self.certificates.iter().any(|c| c == end_entity) =>
            {
                // Trusted as itself: its name still has to match, and the
                // handshake signature is still checked with its key (below);
                // its dates are not checked, as for a pin.
                ParsedCertificate::try_from(end_entity)
                    .and_then(|parsed| rustls::client::verify_server_name(&parsed, server_name))
                    .map(|()| ServerCertVerified::assertion())
            }
            result => result,
        };
        result.map_err(|error| {
            let reason = match &error {
                Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    Rejection::UnknownIssuer
                }
                Error::InvalidCertificate(_) if is_ca_used_as_end_entity(&error) => {
                    Rejection::CaUsedAsEndEntity
                }
                Error::InvalidCertificate(_) => Rejection::Invalid(error),
                _ => return error,
            };
            UntrustedCertificate::error(end_entity, reason)
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}
