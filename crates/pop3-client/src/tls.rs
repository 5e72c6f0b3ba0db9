//! Whom a convenience client trusts over TLS: [`Trust`], the value
//! [`ConnectOptions::trust`](crate::connect::ConnectOptions::trust)
//! carries, from the `tls-trust` crate (the one place where the workspace
//! builds its rustls client configurations).
//!
//! The TLS itself is the adapters' (`net_std::tls`, `net_tokio::tls`):
//! this module only decides which certificates verify a server: the
//! system's CA certificates (the default), a CA file, one certificate
//! pinned by its SHA-256 fingerprint, or a rustls configuration of the
//! caller's. A certificate that does not verify is reported with its
//! fingerprint ([`UntrustedCertificate::find`]). [`rustls`] is re-exported
//! so that a [`Trust::Config`] of the caller's has the version the adapters
//! use.
//!
//! ```
//! use pop3_client::tls::{Trust, TrustError};
//!
//! // The CA file decides alone; one that does not exist is an error.
//! let error = Trust::CaFile("/nonexistent/ca.pem".into()).client_config().unwrap_err();
//! assert!(matches!(error, TrustError::CaFile { .. }));
//! assert_eq!(error.to_string(), "cannot read the CA file /nonexistent/ca.pem");
//! ```

pub use tls_trust::{
    Fingerprint, FingerprintError, PinnedCertVerifier, Rejection, Trust, TrustError,
    UntrustedCertificate, rustls,
};
