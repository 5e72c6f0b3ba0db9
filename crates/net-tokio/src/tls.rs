//! TLS for any protocol, through tokio-rustls on the ring provider.
//!
//! Each function takes a [`Conn`] and returns a new `Conn` over the TLS
//! stream, keeping its write timeout, so one shape covers:
//!
//! * implicit TLS: [`connect`] right after [`crate::connect`], or
//!   [`accept`] first thing in a [`Server`](crate::Server) handler;
//! * STARTTLS: drive the plain `Conn` until the protocol says to switch
//!   (its machine's event), then hand the same `Conn` to [`connect`] or
//!   [`accept`] and go on driving with the new one.
//!
//! A `Conn` holds no read-ahead buffer, so nothing the peer sent in plain
//! text before the switch is carried into the TLS stream by the driver;
//! whatever the machine itself had buffered is for the machine to discard
//! (anything else allows STARTTLS command injection). The one exception is
//! [`accept`]'s: the bytes a [`Server`](crate::Server) read after a PROXY
//! header, which no machine has had yet, are the start of the client's
//! handshake.
//!
//! The handshake has no timeout of its own; bound it with
//! `tokio::time::timeout`, as a server must, or a peer that never
//! completes it holds its connection slot:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use net_tokio::{Server, ServerOptions, tls};
//!
//! # async fn example(config: Arc<tls::rustls::ServerConfig>) -> std::io::Result<()> {
//! let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
//! server
//!     .serve(move |conn, _info| {
//!         let config = Arc::clone(&config);
//!         async move {
//!             let handshake = tls::accept(conn, config);
//!             let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(10), handshake).await
//!             else {
//!                 return;
//!             };
//!             // ... drive a machine over `conn` ...
//!             # drop(conn);
//!         }
//!     })
//!     .await
//! # }
//! ```
//!
//! Certificates, trust roots and ALPN are the caller's, in the rustls
//! [`ClientConfig`] and [`ServerConfig`]; build them with the ring provider
//! (`rustls::crypto::ring::default_provider()`), the one this crate
//! enables. [`rustls`] is re-exported so that the versions match. For the
//! client side, [`trust`] builds the usual configurations: a CA file (which
//! may hold a server's own self-signed certificate), one certificate pinned
//! by its SHA-256 fingerprint, and a rejected certificate's fingerprint
//! found in the handshake's error:
//!
//! ```
//! use std::sync::Arc;
//! use net_tokio::Conn;
//! use net_tokio::tls::{self, rustls, trust};
//! use rustls::pki_types::pem::PemObject;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs");
//! # let pem = |name: &str| std::fs::read(format!("{dir}/{name}")).unwrap();
//! let cert = CertificateDer::from_pem_slice(&pem("selfsigned.pem"))?;
//! let key = PrivateKeyDer::from_pem_slice(&pem("selfsigned.key"))?;
//! // What `openssl x509 -noout -fingerprint -sha256` prints for it.
//! let fingerprint = trust::Fingerprint::of(&cert);
//! let server_config = Arc::new(
//!     rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
//!         .with_safe_default_protocol_versions()?
//!         .with_no_client_auth()
//!         .with_single_cert(vec![cert], key)?,
//! );
//! // A pipe stands in for a socket.
//! let (client, server) = tokio::io::duplex(16 * 1024);
//! let accepting = tokio::spawn(tls::accept(Conn::new(server), server_config));
//!
//! // Pinned to another certificate, the client learns the server's.
//! let other = trust::Fingerprint::of(b"another certificate");
//! let config = Arc::new(trust::client_config_pinned(other)?);
//! let error = tls::connect(Conn::new(client), "localhost", config).await.unwrap_err();
//! let untrusted = trust::UntrustedCertificate::find(&error).expect("a rejected certificate");
//! assert_eq!(untrusted.fingerprint(), fingerprint);
//! assert!(accepting.await?.is_err());
//! # Ok(())
//! # }
//! ```

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::{InvalidDnsNameError, ServerName};
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::Conn;
use crate::conn::DropHook;

/// Whom a client trusts: certificate pinning by SHA-256 fingerprint, CA
/// files, and the fingerprint of a rejected certificate (the `tls-trust`
/// crate, shared with `net_std::tls::trust`).
#[doc(inline)]
pub use tls_trust as trust;
pub use tokio_rustls::rustls;

/// The client side of a TLS stream over `S`.
pub type ClientTlsStream<S> = tokio_rustls::client::TlsStream<S>;

/// The server side of a TLS stream over `S`.
pub type ServerTlsStream<S> = tokio_rustls::server::TlsStream<S>;

/// Why starting TLS failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server name is neither a DNS name nor an IP address.
    #[error("invalid server name")]
    InvalidServerName(#[source] InvalidDnsNameError),
    /// Writing what the `Conn` still had unsent, before the handshake,
    /// failed.
    #[error("i/o error before the handshake")]
    Io(#[source] io::Error),
    /// The handshake failed: an I/O error, or a TLS error (a certificate
    /// that does not verify, no common protocol version) wrapped in an
    /// `io::Error` of kind `InvalidData`. A certificate that does not
    /// verify with a [`trust`] configuration names its fingerprint
    /// ([`trust::UntrustedCertificate::find`]).
    #[error("tls handshake failed")]
    Handshake(#[source] io::Error),
}

/// Starts TLS as a client over `conn`'s stream, verifying the server as
/// `server_name` (a DNS name or an IP address) with `config`.
///
/// Unsent bytes of `conn` are written first. The new `Conn` keeps `conn`'s
/// write timeout.
pub async fn connect<S>(
    mut conn: Conn<S>,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> Result<Conn<ClientTlsStream<S>>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let server_name =
        ServerName::try_from(server_name.to_owned()).map_err(TlsError::InvalidServerName)?;
    conn.flush().await.map_err(TlsError::Io)?;
    let (stream, write_timeout, hook) = conn.into_parts();
    match TlsConnector::from(config)
        .connect(server_name, stream)
        .into_fallible()
        .await
    {
        Ok(tls) => Ok(Conn::with_drop_hook(
            tls,
            write_timeout,
            hook.map(|hook| unwrap_on_drop(hook, |tls: ClientTlsStream<S>| tls.into_inner().0)),
        )),
        Err((error, stream)) => {
            if let Some(hook) = hook {
                hook(stream);
            }
            Err(TlsError::Handshake(error))
        }
    }
}

/// Accepts TLS as a server over `conn`'s stream, with `config`.
///
/// Unsent bytes of `conn` are written first. Bytes `conn` received that
/// its machine has not had, those a [`Server`](crate::Server) read after a
/// PROXY header, are the start of the handshake. The new `Conn` keeps
/// `conn`'s write timeout, and a connection served by `Server` is still
/// closed gracefully at the TCP level when the new `Conn` is dropped (call
/// [`Conn::close`] to send a TLS `close_notify` first).
pub async fn accept<S>(
    mut conn: Conn<S>,
    config: Arc<ServerConfig>,
) -> Result<Conn<ServerTlsStream<S>>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    conn.flush().await.map_err(TlsError::Io)?;
    let early = conn.take_received();
    let (stream, write_timeout, hook) = conn.into_parts();
    match TlsAcceptor::from(config)
        .accept_with(stream, |connection| read_early(connection, &early))
        .into_fallible()
        .await
    {
        Ok(tls) => Ok(Conn::with_drop_hook(
            tls,
            write_timeout,
            hook.map(|hook| unwrap_on_drop(hook, |tls: ServerTlsStream<S>| tls.into_inner().0)),
        )),
        Err((error, stream)) => {
            if let Some(hook) = hook {
                hook(stream);
            }
            Err(TlsError::Handshake(error))
        }
    }
}

/// Hands `connection` the handshake bytes read before it existed. An
/// error stays with rustls: the handshake sends its alert, and fails at
/// its next read.
fn read_early(connection: &mut rustls::ServerConnection, early: &[u8]) {
    let mut unread = early;
    // At most a PROXY header's worth, which rustls always has room for.
    while !unread.is_empty() {
        if !matches!(connection.read_tls(&mut unread), Ok(read) if read > 0) {
            return;
        }
    }
    if !early.is_empty() {
        let _ = connection.process_new_packets();
    }
}

/// A drop hook for the TLS stream that hands the plain stream under it to
/// the plain stream's hook.
fn unwrap_on_drop<S: 'static, T>(
    hook: DropHook<S>,
    unwrap: impl FnOnce(T) -> S + Send + Sync + 'static,
) -> DropHook<T> {
    Box::new(move |tls| hook(unwrap(tls)))
}
