//! A blocking POP3 client: the `pop3-client` machine driven over a TCP
//! stream, with implicit TLS or STLS when the `tls` feature is on.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lineproto::Secret;
use pop3_client::client::{Client, Event, Options, Request, Response};
use pop3_client::{Capabilities, Greeting, ServerError};

use crate::{ClientOptions, Conn, DriveError, connect};

/// How the connection is protected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Security {
    /// Plain text (port 110). The password crosses the network readable.
    #[default]
    None,
    /// TLS from the first byte (port 995, RFC 8314's recommendation).
    /// Needs the `tls` feature.
    Implicit,
    /// Plain text, then `STLS` before logging in (RFC 2595). Refused if
    /// the server does not offer it: no silent fall-back to plain text.
    /// Needs the `tls` feature.
    StartTls,
}

/// How to log in.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Login {
    /// `USER` and `PASS`.
    #[default]
    UserPass,
    /// `APOP` (MD5 of the greeting's timestamp and the secret).
    Apop,
    /// `AUTH PLAIN`.
    SaslPlain,
    /// `AUTH LOGIN`.
    SaslLogin,
}

/// Settings of [`Pop3Client::connect`].
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Pop3Options {
    /// Connect and write timeouts. How long to wait for each response is
    /// the machine's [`response_timeout`](Options::response_timeout).
    pub net: ClientOptions,
    /// Plain text, implicit TLS or STLS.
    pub security: Security,
    /// Trust the CA certificates in this PEM file instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The machine's limits and pipelining.
    pub machine: Options,
}

/// Why a POP3 operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    /// The TCP connection could not be opened.
    #[error("could not connect: {0}")]
    Connect(#[source] io::Error),
    /// Reading, writing, a timeout, or a protocol error.
    #[error(transparent)]
    Drive(#[from] DriveError<pop3_client::Error>),
    /// The server answered `-ERR`.
    #[error("Server said: {}", .0.line())]
    Server(ServerError),
    /// The client refused to send the request.
    #[error("request not sent: {0}")]
    NotSent(#[source] pop3_client::Error),
    /// STLS was required and the server does not offer it.
    #[error("the server does not offer STLS")]
    StartTlsUnavailable,
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The session ended, or an answer did not fit the request.
    #[error("unexpected answer to {0}")]
    Unexpected(&'static str),
    /// Writing a message out failed.
    #[error("writing the message failed: {0}")]
    Output(#[source] io::Error),
}

/// A piece of a message from [`Pop3Client::retr_many`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrieved<'a> {
    /// The next bytes of message `number`.
    Data {
        /// The message number.
        number: u32,
        /// The bytes, dot-unstuffed.
        chunk: &'a [u8],
    },
    /// Message `number` is complete.
    End {
        /// The message number.
        number: u32,
    },
}

/// The byte stream under the session: plain TCP or TLS over TCP.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Between the two, during STLS.
    Switching,
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.read(buf),
            Self::Switching => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl crate::ReadTimeout for Transport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.get_ref().set_read_timeout(timeout),
            Self::Switching => Ok(()),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.write(buf),
            Self::Switching => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.flush(),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.flush(),
            Self::Switching => Ok(()),
        }
    }
}

/// A blocking POP3 session.
///
/// Each method sends one request and waits for its answer.
/// [`retr_many`](Self::retr_many) queues many RETRs at once, and the
/// machine pipelines them when the server allows it. Messages stream into
/// the caller's writer and are never held whole.
///
/// ```
/// use lineproto::Secret;
/// use net_std::pop3::{Login, Pop3Client, Pop3Options};
/// use net_std::{Server, ServerOptions};
/// use pop3_client::server::{Mailbox, Server as Pop3Server, ServerOptions as Pop3ServerOptions};
///
/// // A demo server on a free port.
/// let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle();
/// std::thread::spawn(move || server.serve(|conn| {
///     let mailbox = Mailbox::new("john", "doe", vec!["Subject: hi\r\n\r\nHello\r\n".into()]);
///     let _ = conn.run(&mut Pop3Server::new(mailbox, Pop3ServerOptions::default()), |_, _| {});
/// }));
///
/// let mut pop = Pop3Client::connect("127.0.0.1", addr.port(), &Pop3Options::default())?;
/// pop.login(Login::Apop, "john", Secret::new(b"doe".to_vec()))?;
/// assert_eq!(pop.stat()?, (1, 22));
/// let mut message = Vec::new();
/// pop.retr(1, &mut message)?;
/// assert_eq!(message, b"Subject: hi\r\n\r\nHello\r\n");
/// pop.quit()?;
/// stop.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pop3Client {
    conn: Conn<Transport>,
    machine: Client,
    greeting: Greeting,
    #[cfg(feature = "tls")]
    tls: Option<(
        std::sync::Arc<rustls::ClientConfig>,
        rustls_pki_types::ServerName<'static>,
    )>,
}

impl Pop3Client {
    /// Connects, reads the greeting, and (for [`Security::StartTls`])
    /// upgrades to TLS and asks for the capabilities again.
    pub fn connect(host: &str, port: u16, options: &Pop3Options) -> Result<Self, Pop3Error> {
        let stream = connect((host, port), &options.net)
            .map_err(Pop3Error::Connect)?
            .into_inner();
        #[cfg(feature = "tls")]
        let tls = match options.security {
            Security::None => None,
            Security::Implicit | Security::StartTls => Some(tls_config(host, options)?),
        };
        #[cfg(not(feature = "tls"))]
        if options.security != Security::None {
            return Err(Pop3Error::Tls(
                "this build has no TLS (enable the `tls` feature)".into(),
            ));
        }
        let mut transport = Transport::Plain(stream);
        #[cfg(feature = "tls")]
        if options.security == Security::Implicit {
            if let Some((config, name)) = &tls {
                transport = wrap_tls(transport, config, name)?;
            }
        }
        let mut conn = Conn::new(transport);
        let mut machine = Client::new(options.machine.clone());
        let greeting = loop {
            match conn.next_event(&mut machine) {
                Ok(Some(Event::Greeting(greeting))) => break greeting,
                Ok(Some(_)) => {}
                Ok(None) => return Err(Pop3Error::Unexpected("the greeting")),
                Err(DriveError::Protocol(pop3_client::Error::Refused(error))) => {
                    return Err(Pop3Error::Server(error));
                }
                Err(error) => return Err(error.into()),
            }
        };
        let mut client = Self {
            conn,
            machine,
            greeting,
            #[cfg(feature = "tls")]
            tls,
        };
        if options.security == Security::StartTls {
            client.start_tls()?;
        }
        Ok(client)
    }

    /// The server's greeting.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// The underlying machine (for its capabilities and state).
    pub fn machine(&self) -> &Client {
        &self.machine
    }

    /// STLS, the TLS handshake, then CAPA again (RFC 2595 section 4).
    #[cfg(feature = "tls")]
    fn start_tls(&mut self) -> Result<(), Pop3Error> {
        let caps = self.capabilities()?;
        if !caps.stls() {
            return Err(Pop3Error::StartTlsUnavailable);
        }
        match self.execute(Request::Stls, |_| Ok(()))? {
            Response::StartTls => {}
            _ => return Err(Pop3Error::Unexpected("STLS")),
        }
        let (config, name) = self
            .tls
            .clone()
            .ok_or_else(|| Pop3Error::Tls("no TLS settings".into()))?;
        let plain = std::mem::replace(self.conn.get_mut(), Transport::Switching);
        *self.conn.get_mut() = wrap_tls(plain, &config, &name)?;
        self.machine.tls_established();
        self.capabilities()?;
        Ok(())
    }

    #[cfg(not(feature = "tls"))]
    fn start_tls(&mut self) -> Result<(), Pop3Error> {
        Err(Pop3Error::Tls(
            "this build has no TLS (enable the `tls` feature)".into(),
        ))
    }

    /// Sends `request` and drives until its answer; message data goes to `sink`.
    fn execute(
        &mut self,
        request: Request,
        mut sink: impl FnMut(Bytes) -> io::Result<()>,
    ) -> Result<Response, Pop3Error> {
        let handle = self.machine.send(request);
        loop {
            match self.conn.next_event(&mut self.machine)? {
                Some(Event::MessageData { handle: h, chunk }) if h == handle => {
                    sink(chunk).map_err(Pop3Error::Output)?;
                }
                Some(Event::Response {
                    handle: h,
                    response,
                }) if h == handle => {
                    return match response {
                        Response::MessageStart(_) => continue,
                        Response::Rejected(error) => Err(Pop3Error::Server(error)),
                        Response::NotSent(error) => Err(Pop3Error::NotSent(error)),
                        Response::Unanswered(error) => Err(DriveError::Protocol(error).into()),
                        other => Ok(other),
                    };
                }
                Some(_) => {}
                None => return Err(Pop3Error::Unexpected("a request after the session ended")),
            }
        }
    }

    /// CAPA.
    pub fn capabilities(&mut self) -> Result<Capabilities, Pop3Error> {
        match self.execute(Request::Capa, |_| Ok(()))? {
            Response::Capabilities(caps) => Ok(caps),
            _ => Err(Pop3Error::Unexpected("CAPA")),
        }
    }

    /// Logs in with `method`.
    pub fn login(
        &mut self,
        method: Login,
        user: &str,
        password: Secret<Vec<u8>>,
    ) -> Result<(), Pop3Error> {
        let user = Bytes::copy_from_slice(user.as_bytes());
        let request = match method {
            Login::UserPass => Request::UserPass { user, password },
            Login::Apop => Request::Apop { user, password },
            Login::SaslPlain => Request::AuthPlain { user, password },
            Login::SaslLogin => Request::AuthLogin { user, password },
        };
        self.execute(request, |_| Ok(())).map(drop)
    }

    /// STAT: the message count and total size.
    pub fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        match self.execute(Request::Stat, |_| Ok(()))? {
            Response::Stat { count, octets } => Ok((count, octets)),
            _ => Err(Pop3Error::Unexpected("STAT")),
        }
    }

    /// LIST: every message's number and size.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        match self.execute(Request::List(None), |_| Ok(()))? {
            Response::Listing(listing) => Ok(listing),
            _ => Err(Pop3Error::Unexpected("LIST")),
        }
    }

    /// UIDL: every message's number and unique id.
    pub fn uidl(&mut self) -> Result<Vec<(u32, Bytes)>, Pop3Error> {
        match self.execute(Request::Uidl(None), |_| Ok(()))? {
            Response::UniqueIds(ids) => Ok(ids),
            _ => Err(Pop3Error::Unexpected("UIDL")),
        }
    }

    /// RETR: writes message `number` into `out`, unstuffed, as it streams
    /// in; returns how many bytes were written.
    pub fn retr(&mut self, number: u32, out: &mut impl Write) -> Result<u64, Pop3Error> {
        let mut written = 0u64;
        self.execute(Request::Retr(number), |chunk| {
            written += chunk.len() as u64;
            out.write_all(&chunk)
        })?;
        Ok(written)
    }

    /// TOP: the headers and the first `lines` body lines of `number`.
    pub fn top(&mut self, number: u32, lines: u32, out: &mut impl Write) -> Result<(), Pop3Error> {
        self.execute(
            Request::Top {
                message: number,
                lines,
            },
            |chunk| out.write_all(&chunk),
        )
        .map(drop)
    }

    /// Retrieves many messages, pipelined when the server allows. `on_part`
    /// gets each message's pieces in order ([`Retrieved::Data`]), then
    /// [`Retrieved::End`] when the message is complete; an error it returns
    /// stops the retrieval.
    pub fn retr_many(
        &mut self,
        numbers: &[u32],
        mut on_part: impl FnMut(Retrieved<'_>) -> io::Result<()>,
    ) -> Result<(), Pop3Error> {
        let mut pending: std::collections::HashMap<_, u32> = numbers
            .iter()
            .map(|&n| (self.machine.send(Request::Retr(n)), n))
            .collect();
        while !pending.is_empty() {
            match self.conn.next_event(&mut self.machine)? {
                Some(Event::MessageData { handle, chunk }) => {
                    if let Some(&number) = pending.get(&handle) {
                        on_part(Retrieved::Data {
                            number,
                            chunk: &chunk,
                        })
                        .map_err(Pop3Error::Output)?;
                    }
                }
                Some(Event::Response { handle, response }) => match response {
                    Response::MessageStart(_) => {}
                    Response::MessageEnd => {
                        if let Some(number) = pending.remove(&handle) {
                            on_part(Retrieved::End { number }).map_err(Pop3Error::Output)?;
                        }
                    }
                    Response::Rejected(error) => return Err(Pop3Error::Server(error)),
                    Response::NotSent(error) => return Err(Pop3Error::NotSent(error)),
                    Response::Unanswered(error) => return Err(DriveError::Protocol(error).into()),
                    _ => {}
                },
                Some(Event::Greeting(_)) => {}
                None => return Err(Pop3Error::Unexpected("RETR")),
            }
        }
        Ok(())
    }

    /// DELE: marks message `number` for deletion at QUIT.
    pub fn dele(&mut self, number: u32) -> Result<(), Pop3Error> {
        self.execute(Request::Dele(number), |_| Ok(())).map(drop)
    }

    /// NOOP.
    pub fn noop(&mut self) -> Result<(), Pop3Error> {
        self.execute(Request::Noop, |_| Ok(())).map(drop)
    }

    /// RSET: unmarks every deletion.
    pub fn rset(&mut self) -> Result<(), Pop3Error> {
        self.execute(Request::Rset, |_| Ok(())).map(drop)
    }

    /// QUIT: ends the session; deletions take effect now.
    pub fn quit(mut self) -> Result<(), Pop3Error> {
        self.execute(Request::Quit, |_| Ok(()))?;
        // Let the machine see the end (and the server close).
        while self.conn.next_event(&mut self.machine)?.is_some() {}
        Ok(())
    }
}

#[cfg(feature = "tls")]
type TlsSettings = (
    std::sync::Arc<rustls::ClientConfig>,
    rustls_pki_types::ServerName<'static>,
);

/// The TLS configuration: certificates verified against the system's CAs,
/// or only against `ca_file` when given.
#[cfg(feature = "tls")]
fn tls_config(host: &str, options: &Pop3Options) -> Result<TlsSettings, Pop3Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    match &options.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| Pop3Error::Tls(format!("cannot read {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    Pop3Error::Tls(format!("bad certificate in {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| Pop3Error::Tls(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot use is skipped, not fatal.
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(Pop3Error::Tls("no trusted CA certificates".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Pop3Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Pop3Error::Tls(format!("{host}: {e}")))?;
    Ok((std::sync::Arc::new(config), name))
}

/// Wraps a plain transport in TLS and completes the handshake, so that a
/// certificate problem is reported here and not at the first command.
#[cfg(feature = "tls")]
fn wrap_tls(
    transport: Transport,
    config: &std::sync::Arc<rustls::ClientConfig>,
    name: &rustls_pki_types::ServerName<'static>,
) -> Result<Transport, Pop3Error> {
    let Transport::Plain(mut stream) = transport else {
        return Err(Pop3Error::Tls("TLS is already active".into()));
    };
    let mut connection = rustls::ClientConnection::new(std::sync::Arc::clone(config), name.clone())
        .map_err(|e| Pop3Error::Tls(e.to_string()))?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut stream)
            .map_err(|e| Pop3Error::Tls(e.to_string()))?;
    }
    Ok(Transport::Tls(Box::new(rustls::StreamOwned::new(
        connection, stream,
    ))))
}
