//! TLS for any protocol, through rustls on the ring provider.
//!
//! [`connect`] takes a plain byte stream, completes the client handshake
//! on it, and returns a [`TlsStream`] that a [`Conn`](crate::Conn) can
//! drive. One shape covers both ways of starting TLS:
//!
//! * implicit TLS: take the stream out of a fresh connection
//!   ([`crate::connect`], then [`Conn::into_inner`](crate::Conn::into_inner)),
//!   hand it to [`connect`], and wrap the result in a new `Conn`;
//! * STARTTLS: drive the plain `Conn` until the protocol says to switch
//!   (its machine's event), then do the same with that `Conn`'s stream and
//!   go on driving the machine over the new `Conn`.
//!
//! A `Conn` hands every byte it reads to the machine at once and keeps no
//! read-ahead, so nothing the peer sent in plain text before the switch is
//! carried into the TLS stream by the driver; whatever the machine itself
//! had buffered is for the machine to discard (anything else allows
//! STARTTLS command injection).
//!
//! The handshake is bounded by the stream's own timeouts, as they are when
//! it is handed in. [`crate::connect`] sets a write timeout but no read
//! timeout, and a `Conn` leaves whatever its last drive set, so set a read
//! timeout first, or a server that never answers holds the call forever.
//! After the handshake the new `Conn` manages the read timeout again.
//!
//! Certificates, trust roots and ALPN are the caller's, in the rustls
//! [`ClientConfig`]; build it with the ring provider
//! (`rustls::crypto::ring::default_provider()`), the one this crate
//! enables. [`rustls`] is re-exported so that the versions match. The
//! names mirror `net_tokio::tls`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{InvalidDnsNameError, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::ReadTimeout;

pub use rustls;

/// Why starting TLS failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server name is neither a DNS name nor an IP address.
    #[error("invalid server name")]
    InvalidServerName(#[source] InvalidDnsNameError),
    /// The configuration cannot be used with this server name (for
    /// example, it enables no protocol version).
    #[error("unusable tls configuration")]
    Config(#[source] rustls::Error),
    /// The handshake failed: an I/O error (a read or write timeout shows as
    /// an error of kind `WouldBlock` or `TimedOut`), or a TLS error (a
    /// certificate that does not verify, no common protocol version)
    /// wrapped in an `io::Error` of kind `InvalidData`.
    #[error("tls handshake failed")]
    Handshake(#[source] io::Error),
}

/// The client side of a TLS connection over the stream `S`: `Read + Write`
/// in plain text, and [`ReadTimeout`] forwarded to the stream under it, so
/// a [`Conn`](crate::Conn) drives a machine over it exactly as over the
/// bare socket.
#[derive(Debug)]
pub struct TlsStream<S: Read + Write = TcpStream> {
    inner: StreamOwned<ClientConnection, S>,
}

impl<S: Read + Write> TlsStream<S> {
    /// The stream under the TLS layer. Reading from or writing to it
    /// directly corrupts the TLS session; setting its timeouts is fine.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// The stream under the TLS layer, mutably; see
    /// [`get_ref`](Self::get_ref).
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut()
    }

    /// The rustls connection: the negotiated protocol version, cipher
    /// suite, ALPN protocol and the server's certificates.
    pub fn connection(&self) -> &ClientConnection {
        &self.inner.conn
    }

    /// Queues a `close_notify` alert and writes it out, telling the peer
    /// that no more data follows (rather than a truncation attack). Nothing
    /// may be written after it.
    pub fn send_close_notify(&mut self) -> io::Result<()> {
        self.inner.conn.send_close_notify();
        self.inner.flush()
    }

    /// Takes the TLS layer apart: the rustls connection and the stream.
    pub fn into_parts(self) -> (ClientConnection, S) {
        self.inner.into_parts()
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Read + Write + ReadTimeout> ReadTimeout for TlsStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A record split by the timeout stays buffered in rustls, and the
        // next read goes on from there.
        self.inner.sock.set_read_timeout(timeout)
    }
}

/// Starts TLS as a client over `stream`, verifying the server as
/// `server_name` (a DNS name or an IP address) with `config`, and completes
/// the handshake, so that a certificate problem is reported here rather
/// than at the first read.
///
/// The handshake blocks for as long as the stream's timeouts allow (see
/// the [module docs](self)).
///
/// A TLS server on a loopback port, and a client that speaks to it:
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use net_std::tls::{self, rustls};
/// use rustls::pki_types::pem::PemObject;
/// use rustls::pki_types::{CertificateDer, PrivateKeyDer};
///
/// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs");
/// # let pem = |name: &str| std::fs::read(format!("{dir}/{name}")).unwrap();
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// // A server with a certificate for localhost, signed by a test CA.
/// let chain = vec![CertificateDer::from_pem_slice(&pem("leaf.pem"))?];
/// let key = PrivateKeyDer::from_pem_slice(&pem("leaf.key"))?;
/// let server_config = Arc::new(
///     rustls::ServerConfig::builder_with_provider(provider.clone())
///         .with_safe_default_protocol_versions()?
///         .with_no_client_auth()
///         .with_single_cert(chain, key)?,
/// );
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// std::thread::spawn(move || -> std::io::Result<()> {
///     let (socket, _) = listener.accept()?;
///     let connection = rustls::ServerConnection::new(server_config).map_err(std::io::Error::other)?;
///     let mut tls = rustls::StreamOwned::new(connection, socket);
///     tls.write_all(b"hello over tls\n")?;
///     tls.conn.send_close_notify();
///     tls.flush()
/// });
///
/// // The client trusts that CA alone.
/// let mut roots = rustls::RootCertStore::empty();
/// roots.add(CertificateDer::from_pem_slice(&pem("ca.pem"))?)?;
/// let config = Arc::new(
///     rustls::ClientConfig::builder_with_provider(provider)
///         .with_safe_default_protocol_versions()?
///         .with_root_certificates(roots)
///         .with_no_client_auth(),
/// );
/// let socket = TcpStream::connect(addr)?;
/// // Bounds the handshake, and every read until a `Conn` takes over.
/// socket.set_read_timeout(Some(Duration::from_secs(10)))?;
/// let mut stream = tls::connect(socket, "localhost", config)?;
/// let mut greeting = String::new();
/// stream.read_to_string(&mut greeting)?;
/// assert_eq!(greeting, "hello over tls\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Wrapped in a [`Conn`](crate::Conn), the stream drives any machine:
/// `Conn::new(tls::connect(conn.into_inner(), host, config)?)`.
pub fn connect<S: Read + Write>(
    mut stream: S,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<S>, TlsError> {
    let server_name =
        ServerName::try_from(server_name.to_owned()).map_err(TlsError::InvalidServerName)?;
    let mut connection = ClientConnection::new(config, server_name).map_err(TlsError::Config)?;
    while connection.is_handshaking() {
        let moved = connection
            .complete_io(&mut stream)
            .map_err(TlsError::Handshake)?;
        // A stream that takes and gives nothing (a write of zero bytes)
        // would have this loop spin forever.
        if moved == (0, 0) {
            return Err(TlsError::Handshake(io::ErrorKind::WriteZero.into()));
        }
    }
    Ok(TlsStream {
        inner: StreamOwned::new(connection, stream),
    })
}
