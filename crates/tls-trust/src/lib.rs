//! Whom a rustls client trusts, decided in one place for every client of
//! the workspace (the adapters `net-std` and `net-tokio` re-export it as
//! `tls::trust`, `pop3-client` as `tls`).
//!
//! * [`Fingerprint`]: a certificate's SHA-256 digest, parsed as
//!   `openssl x509 -noout -fingerprint -sha256` prints it.
//! * [`PinnedCertVerifier`] and [`client_config_pinned`]: trust exactly one
//!   certificate by its fingerprint, still verifying the handshake
//!   signature with its key.
//! * [`client_config_with_ca_file`]: trust the certificates of a PEM file,
//!   including a server's own self-signed `CA:TRUE` certificate.
//! * `client_config_with_system_roots` (feature `system-roots`): the
//!   operating system's CA certificates.
//! * [`Trust`]: the choice among those, as a value a client's options
//!   carry.
//! * [`UntrustedCertificate`]: every verifier here reports a rejected
//!   certificate with its fingerprint, so a command-line client can print
//!   it for the user to check and pin.
//!
//! The configurations use rustls's ring provider. [`rustls`] is
//! re-exported so that the versions match.
//!
//! A server with a self-signed certificate, a client that pins it, and one
//! that pins another and learns the server's fingerprint from the error:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::sync::Arc;
//! use tls_trust::{Fingerprint, UntrustedCertificate, client_config_pinned, rustls};
//! use rustls::pki_types::pem::PemObject;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//!
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs");
//! # let pem = |name: &str| std::fs::read(format!("{dir}/{name}")).unwrap();
//! let cert = CertificateDer::from_pem_slice(&pem("selfsigned.pem"))?;
//! let key = PrivateKeyDer::from_pem_slice(&pem("selfsigned.key"))?;
//! let fingerprint = Fingerprint::of(&cert);
//! let server_config = Arc::new(
//!     rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
//!         .with_safe_default_protocol_versions()?
//!         .with_no_client_auth()
//!         .with_single_cert(vec![cert], key)?,
//! );
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! std::thread::spawn(move || {
//!     for socket in listener.incoming().flatten() {
//!         let connection = rustls::ServerConnection::new(Arc::clone(&server_config)).unwrap();
//!         let mut tls = rustls::StreamOwned::new(connection, socket);
//!         let _ = tls.write_all(b"hello\n");
//!         tls.conn.send_close_notify();
//!         let _ = tls.flush();
//!     }
//! });
//!
//! let talk = |config: rustls::ClientConfig| -> std::io::Result<String> {
//!     let name = "localhost".try_into().unwrap();
//!     let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
//!     let mut tls = rustls::StreamOwned::new(connection, TcpStream::connect(addr)?);
//!     let mut text = String::new();
//!     tls.read_to_string(&mut text)?;
//!     Ok(text)
//! };
//! assert_eq!(talk(client_config_pinned(fingerprint)?)?, "hello\n");
//!
//! let other = Fingerprint::of(b"another certificate");
//! let error = talk(client_config_pinned(other)?).unwrap_err();
//! let untrusted = UntrustedCertificate::find(&error).expect("a rejected certificate");
//! assert_eq!(untrusted.fingerprint(), fingerprint);
//! assert_eq!(untrusted.reason().to_string(), "it is not the pinned certificate");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod fingerprint;
mod trust;
mod verify;

pub use fingerprint::{Fingerprint, FingerprintError};
#[cfg(feature = "system-roots")]
#[cfg_attr(docsrs, doc(cfg(feature = "system-roots")))]
pub use trust::client_config_with_system_roots;
pub use trust::{Trust, TrustError, client_config_pinned, client_config_with_ca_file};
pub use verify::{PinnedCertVerifier, Rejection, UntrustedCertificate};

pub use rustls;

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
