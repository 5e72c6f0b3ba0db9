//! TLS for any protocol, through rustls on the ring provider.
//!
//! [`connect`] takes a plain byte stream, completes the client handshake
//! on it, and returns a [`TlsStream`] that a [`Conn`] can
//! drive; [`accept`] does the same for the server side, returning a
//! [`ServerTlsStream`]. One shape covers both ways of starting TLS:
//!
//! * implicit TLS: take the stream out of a fresh connection
//!   ([`crate::connect`], then [`Conn::into_inner`]),
//!   hand it to [`connect`] or [`accept`], and wrap the result in a new
//!   `Conn`; in a [`Server`](crate::Server) handler, hand the handler's
//!   `Conn` to [`accept_until`], which returns the new `Conn`;
//! * STARTTLS: drive the plain `Conn` until the protocol says to switch
//!   (its machine's event), then do the same with that `Conn`'s stream and
//!   go on driving the machine over the new `Conn`.
//!
//! A `Conn` hands every byte it reads to the machine at once and keeps no
//! read-ahead, so nothing the peer sent in plain text before the switch is
//! carried into the TLS stream by the driver; whatever the machine itself
//! had buffered is for the machine to discard (anything else allows
//! STARTTLS command injection). The one exception is
//! [`accept_until`]'s: the bytes a [`Server`](crate::Server) read after a
//! PROXY header, which no machine has had yet, are the start of the
//! client's handshake.
//!
//! The handshake is bounded by the stream's own timeouts, as they are when
//! it is handed in. [`crate::connect`] sets a write timeout but no read
//! timeout, and a `Conn` leaves whatever its last drive set, so set a read
//! timeout first, or a server that never answers holds the call forever.
//! A server needs more than that: a read timeout bounds each read, and a
//! client that sends a byte at a time would hold its connection slot for
//! as long as it likes, so it gives the whole handshake a deadline with
//! [`accept_until`]. After the handshake the new `Conn` manages the read
//! timeout again.
//!
//! Certificates, trust roots and ALPN are the caller's, in the rustls
//! [`ClientConfig`] and [`ServerConfig`]; build them with the ring provider
//! (`rustls::crypto::ring::default_provider()`), the one this crate
//! enables. [`rustls`] is re-exported so that the versions match. For the
//! client side, [`trust`] builds the usual configurations: a CA file (which
//! may hold a server's own self-signed certificate), one certificate pinned
//! by its SHA-256 fingerprint, and a rejected certificate's fingerprint
//! found in the handshake's error. The names mirror `net_tokio::tls`.
//!
//! A server with a self-signed certificate, and a client that pins it:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use net_std::tls::{self, rustls, trust};
//! use rustls::pki_types::pem::PemObject;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//!
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs");
//! # let pem = |name: &str| std::fs::read(format!("{dir}/{name}")).unwrap();
//! let cert = CertificateDer::from_pem_slice(&pem("selfsigned.pem"))?;
//! let key = PrivateKeyDer::from_pem_slice(&pem("selfsigned.key"))?;
//! // What `openssl x509 -noout -fingerprint -sha256` prints for it.
//! let fingerprint = trust::Fingerprint::of(&cert);
//! let provider = Arc::new(rustls::crypto::ring::default_provider());
//! let server_config = Arc::new(
//!     rustls::ServerConfig::builder_with_provider(provider)
//!         .with_safe_default_protocol_versions()?
//!         .with_no_client_auth()
//!         .with_single_cert(vec![cert], key)?,
//! );
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! std::thread::spawn(move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let (socket, _) = listener.accept()?;
//!     socket.set_read_timeout(Some(Duration::from_secs(10)))?;
//!     let mut stream = tls::accept(socket, server_config)?;
//!     stream.write_all(b"hello over tls\n")?;
//!     stream.send_close_notify()?;
//!     Ok(())
//! });
//!
//! let config = Arc::new(trust::client_config_pinned(fingerprint)?);
//! let socket = TcpStream::connect(addr)?;
//! socket.set_read_timeout(Some(Duration::from_secs(10)))?;
//! let mut stream = tls::connect(socket, "localhost", config)?;
//! let mut greeting = String::new();
//! stream.read_to_string(&mut greeting)?;
//! assert_eq!(greeting, "hello over tls\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{InvalidDnsNameError, ServerName};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, ServerConfig, ServerConnection, StreamOwned,
};

use crate::{Conn, ReadTimeout};

pub use rustls;
/// Whom a client trusts: certificate pinning by SHA-256 fingerprint, CA
/// files, and the fingerprint of a rejected certificate (the `tls-trust`
/// crate, shared with `net_tokio::tls::trust`).
#[doc(inline)]
pub use tls_trust as trust;

/// Why starting TLS failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server name is neither a DNS name nor an IP address.
    #[error("invalid server name")]
    InvalidServerName(#[source] InvalidDnsNameError),
    /// The configuration cannot be used (for example, it enables no
    /// protocol version, or none for this server name).
    #[error("unusable tls configuration")]
    Config(#[source] rustls::Error),
    /// The handshake failed: an I/O error (a read or write timeout shows as
    /// an error of kind `WouldBlock` or `TimedOut`, and so does the
    /// deadline of [`accept_until`]), or a TLS error (a certificate that
    /// does not verify, no common protocol version) wrapped in an
    /// `io::Error` of kind `InvalidData`. A certificate that does not
    /// verify with a [`trust`] configuration names its fingerprint
    /// ([`trust::UntrustedCertificate::find`]).
    #[error("tls handshake failed")]
    Handshake(#[source] io::Error),
}

/// The client side of a TLS connection over the stream `S`: `Read + Write`
/// in plain text, and [`ReadTimeout`] forwarded to the stream under it, so
/// a [`Conn`] drives a machine over it exactly as over the
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

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        self.inner.sock.set_nonblocking(nonblocking)
    }
}

/// The server side of a TLS connection over the stream `S`, made by
/// [`accept`] or [`accept_until`]: like [`TlsStream`], `Read + Write` in
/// plain text and [`ReadTimeout`] forwarded to the stream under it.
#[derive(Debug)]
pub struct ServerTlsStream<S: Read + Write = TcpStream> {
    inner: StreamOwned<ServerConnection, S>,
}

impl<S: Read + Write> ServerTlsStream<S> {
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
    /// suite, ALPN protocol, the name the client asked for (SNI) and its
    /// certificates, if client authentication is configured.
    pub fn connection(&self) -> &ServerConnection {
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
    pub fn into_parts(self) -> (ServerConnection, S) {
        self.inner.into_parts()
    }
}

impl<S: Read + Write> Read for ServerTlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: Read + Write> Write for ServerTlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Read + Write + ReadTimeout> ReadTimeout for ServerTlsStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.sock.set_read_timeout(timeout)
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        self.inner.sock.set_nonblocking(nonblocking)
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
/// Wrapped in a [`Conn`], the stream drives any machine:
/// `Conn::new(tls::connect(conn.into_inner(), host, config)?)`.
pub fn connect<S: Read + Write>(
    mut stream: S,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<S>, TlsError> {
    let server_name =
        ServerName::try_from(server_name.to_owned()).map_err(TlsError::InvalidServerName)?;
    let mut connection = ClientConnection::new(config, server_name).map_err(TlsError::Config)?;
    handshake(&mut connection, &mut stream)?;
    Ok(TlsStream {
        inner: StreamOwned::new(connection, stream),
    })
}

/// Accepts TLS as a server over `stream` with `config`, and completes the
/// handshake, so that a client that fails it is reported here rather than
/// at the first read.
///
/// The handshake blocks for as long as the stream's timeouts allow; a
/// server should rather use [`accept_until`] (see the
/// [module docs](self)).
pub fn accept<S: Read + Write>(
    mut stream: S,
    config: Arc<ServerConfig>,
) -> Result<ServerTlsStream<S>, TlsError> {
    let mut connection = ServerConnection::new(config).map_err(TlsError::Config)?;
    handshake(&mut connection, &mut stream)?;
    Ok(ServerTlsStream {
        inner: StreamOwned::new(connection, stream),
    })
}

/// Accepts TLS as a server over the stream of `conn` (a
/// [`Server`](crate::Server) handler's), with the whole handshake bounded
/// by `deadline`, and returns a new [`Conn`] over the TLS stream, which
/// borrows `conn`'s stream. The server can cut the new `Conn` as it can
/// `conn`: when its grace period ends, a drive over it ends with
/// [`DriveError::Cut`](crate::DriveError::Cut), not with the TLS error of
/// a stream closed without a `close_notify`.
///
/// Before each read the stream's read timeout is set to the time left, so
/// a client that trickles its handshake cannot hold the connection past
/// the deadline. (Each write is bounded by the stream's write timeout,
/// which `Server` sets.) Bytes `conn` received that its machine has not
/// had, those after a PROXY header, are the start of the handshake. The
/// stream's read timeout is left as the last read set it; the new `Conn`
/// sets its own.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use net_std::{Server, ServerOptions, tls};
///
/// # fn example(config: Arc<tls::rustls::ServerConfig>) -> std::io::Result<()> {
/// let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
/// server.serve(move |conn, _info| {
///     let deadline = Instant::now() + Duration::from_secs(10);
///     let Ok(mut conn) = tls::accept_until(conn, Arc::clone(&config), deadline) else {
///         return;
///     };
///     // ... drive a machine over `conn` ...
///     let _ = conn.get_mut().send_close_notify();
/// })
/// # }
/// ```
pub fn accept_until<S: Read + Write + ReadTimeout>(
    conn: &mut Conn<S>,
    config: Arc<ServerConfig>,
    deadline: Instant,
) -> Result<Conn<ServerTlsStream<&mut S>>, TlsError> {
    let mut connection = ServerConnection::new(config).map_err(TlsError::Config)?;
    let cut = conn.cut_watched();
    let early = conn.take_received();
    let mut unread = &early[..];
    while !unread.is_empty() {
        // At most a PROXY header's worth, which rustls always has room for.
        match connection.read_tls(&mut unread) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => return Err(TlsError::Handshake(error)),
        }
    }
    if !early.is_empty() {
        connection.process_new_packets().map_err(|error| {
            TlsError::Handshake(io::Error::new(io::ErrorKind::InvalidData, error))
        })?;
    }
    let stream = conn.get_mut();
    handshake(
        &mut connection,
        &mut Until {
            stream: &mut *stream,
            deadline,
        },
    )?;
    let mut tls = Conn::new(ServerTlsStream {
        inner: StreamOwned::new(connection, stream),
    });
    if let Some(cut) = cut {
        tls.watch_cut(cut);
    }
    Ok(tls)
}

/// Runs the handshake to its end over `stream`.
fn handshake<D>(
    connection: &mut ConnectionCommon<D>,
    stream: &mut (impl Read + Write),
) -> Result<(), TlsError> {
    while connection.is_handshaking() {
        let moved = connection
            .complete_io(stream)
            .map_err(TlsError::Handshake)?;
        // A stream that takes and gives nothing (a write of zero bytes)
        // would have this loop spin forever.
        if moved == (0, 0) {
            return Err(TlsError::Handshake(io::ErrorKind::WriteZero.into()));
        }
    }
    Ok(())
}

/// A stream whose reads all end by a deadline: rustls reads as often as
/// the handshake needs, and a timeout set once would bound each read, not
/// the handshake.
struct Until<'a, S> {
    stream: &'a mut S,
    deadline: Instant,
}

impl<S: Read + ReadTimeout> Read for Until<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl<S: Write> Write for Until<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
