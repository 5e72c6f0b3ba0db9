//! A blocking POP3 client: the [`Session`] driven over `net-std`, with
//! implicit TLS or STLS when the `tls` feature is on.
//!
//! Everything but moving bytes is the [`Session`]'s, shared with the async
//! client of the `tokio` feature.

use std::fmt;
use std::io::{self, Read, Write};
#[cfg(feature = "tls")]
use std::sync::Arc;

use bytes::Bytes;
use lineproto::Secret;
use net_std::{Conn, ReadTimeout};

use crate::client::{Client, Credentials, Request, Response};
use crate::codec::{Capabilities, Greeting};
use crate::session::{Pending, Session, SessionError, Step};

pub use crate::connect::{ConnectOptions, Pop3Error, Security};
pub use crate::session::{Login, LoginPolicy, Retrieved};

/// The byte stream under the session: TCP, or TLS over TCP.
trait Stream: Read + Write + ReadTimeout + Send + fmt::Debug {}

impl<T: Read + Write + ReadTimeout + Send + fmt::Debug> Stream for T {}

type Connection = Conn<Box<dyn Stream>>;

/// A blocking POP3 session.
///
/// Each method sends its request and waits for the answer.
/// [`retr_many`](Self::retr_many) queues many RETRs at once, and the
/// machine pipelines them when the server allows it. Messages stream into
/// the caller's writer or callback and are never held whole.
///
/// ```
/// use lineproto::Secret;
/// use net_std::{Server, ServerOptions};
/// use pop3_client::blocking::{ConnectOptions, Login, Pop3Client};
/// use pop3_client::server::{Mailbox, Server as Pop3Server, Options as Pop3ServerOptions};
///
/// // The demo server on a free port.
/// let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle();
/// std::thread::spawn(move || server.serve(|conn, _info| {
///     let mailbox = Mailbox::new("john", "doe", vec!["Subject: hi\r\n\r\nHello\r\n".into()]);
///     let _ = conn.run(&mut Pop3Server::new(mailbox, Pop3ServerOptions::default()), |_, _| {});
/// }));
///
/// let mut pop = Pop3Client::connect("127.0.0.1", addr.port(), &ConnectOptions::default())?;
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
    conn: Connection,
    session: Session,
    greeting: Greeting,
    /// The connection is TLS (implicit, or after STLS).
    tls: bool,
}

impl Pop3Client {
    /// Connects to `host` on `port`, reads the greeting, and (for
    /// [`Security::StartTls`]) upgrades to TLS and asks for the
    /// capabilities again. With TLS, the server's certificate must be valid
    /// for `host`.
    pub fn connect(host: &str, port: u16, options: &ConnectOptions) -> Result<Self, Pop3Error> {
        #[cfg(feature = "tls")]
        let tls = match options.security {
            Security::None => None,
            // Before connecting: a bad CA file fails without a connection.
            Security::Implicit | Security::StartTls => {
                Some(options.trust.client_config().map_err(Pop3Error::Trust)?)
            }
        };
        let mut net = net_std::ClientOptions::default();
        net.connect_timeout = options.connect_timeout;
        net.write_timeout = options.write_timeout;
        let socket = net_std::connect((host, port), &net)
            .map_err(Pop3Error::Connect)?
            .into_inner();
        #[allow(unused_mut)] // reassigned only with TLS
        let mut stream: Box<dyn Stream> = Box::new(socket);
        #[cfg(feature = "tls")]
        if let (Security::Implicit, Some(config)) = (options.security, &tls) {
            stream = start_tls(stream, host, config, options)?;
        }
        let mut conn = Conn::new(stream);
        let mut session = Session::new(options.machine.clone());
        let greeting = session.read_greeting();
        let greeting = drive(&mut conn, &mut session, greeting, ignore)?;
        #[cfg(feature = "tls")]
        if let (Security::StartTls, Some(config)) = (options.security, &tls) {
            // RFC 2595 section 4: CAPA, STLS, the handshake, CAPA again.
            let capa = session.capa();
            drive(&mut conn, &mut session, capa, ignore)?;
            let stls = session.stls();
            drive(&mut conn, &mut session, stls, ignore)?;
            conn = Conn::new(start_tls(conn.into_inner(), host, config, options)?);
            session.tls_established();
            let capa = session.capa();
            drive(&mut conn, &mut session, capa, ignore)?;
        }
        Ok(Self {
            conn,
            session,
            greeting,
            tls: options.security != Security::None,
        })
    }

    /// The server's greeting.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// The machine: its capabilities, pipelining, LOGIN-DELAY.
    pub fn machine(&self) -> &Client {
        self.session.client()
    }

    /// Runs an operation of the session to its end.
    fn run<T>(
        &mut self,
        pending: Pending<T>,
        on_part: impl FnMut(Retrieved) -> io::Result<()>,
    ) -> Result<T, Pop3Error> {
        drive(&mut self.conn, &mut self.session, pending, on_part)
    }

    /// `CAPA`: the server's capabilities. Send it after logging in to let
    /// the machine pipeline (and to see per-user values).
    pub fn capabilities(&mut self) -> Result<Capabilities, Pop3Error> {
        let pending = self.session.capa();
        self.run(pending, ignore)
    }

    /// Logs in as `user` with `method` and `secret`: the password, or the
    /// OAuth 2.0 token for XOAUTH2 and OAUTHBEARER. SCRAM's client nonce
    /// is drawn from the operating system's random source. See
    /// [`strongest_login`](Self::strongest_login) to choose the method.
    pub fn login(
        &mut self,
        method: Login,
        user: &str,
        password: Secret<Vec<u8>>,
    ) -> Result<(), Pop3Error> {
        let pending = self.session.login(method, user, password);
        self.run(pending, ignore)
    }

    /// Logs in with `credentials`: an application's own SASL mechanism
    /// ([`Credentials::Sasl`]), or one built by hand.
    pub fn login_with(&mut self, credentials: Credentials) -> Result<(), Pop3Error> {
        let pending = self.session.login_with(credentials);
        self.run(pending, ignore)
    }

    /// The strongest way to log in that both sides offer and `policy`
    /// permits ([`Login::strongest`]), or `None`: the capabilities of the
    /// last CAPA, asked for now if there are none (a server that refuses
    /// CAPA is taken for an RFC 1939 one: USER and, with a timestamp in
    /// the greeting, APOP), and the greeting's APOP timestamp.
    /// [`LoginPolicy::tls`] is set when this connection is TLS; without
    /// TLS, a method that sends the password as it is is chosen only with
    /// [`LoginPolicy::allow_plaintext`].
    pub fn strongest_login(&mut self, mut policy: LoginPolicy) -> Result<Option<Login>, Pop3Error> {
        policy.tls |= self.tls;
        if self.session.client().capabilities().is_none() {
            match self.capabilities() {
                Ok(_) | Err(Pop3Error::Session(SessionError::Server(_))) => {}
                Err(error) => return Err(error),
            }
        }
        let capabilities = self.session.client().capabilities();
        Ok(Login::strongest(capabilities, Some(&self.greeting), policy))
    }

    /// `STAT`: the message count and total size.
    pub fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        let pending = self.session.stat();
        self.run(pending, ignore)
    }

    /// `LIST`: every message's number and size.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        let pending = self.session.list();
        self.run(pending, ignore)
    }

    /// `UIDL`: every message's number and unique id.
    pub fn uidl(&mut self) -> Result<Vec<(u32, Bytes)>, Pop3Error> {
        let pending = self.session.uidl();
        self.run(pending, ignore)
    }

    /// `RETR`: writes message `number` into `out`, dot-unstuffed, as it
    /// streams in; returns how many bytes were written.
    pub fn retr(&mut self, number: u32, out: &mut impl Write) -> Result<u64, Pop3Error> {
        let pending = self.session.retr(number);
        let mut written = 0;
        self.run(pending, |part| write_part(part, out, &mut written))?;
        Ok(written)
    }

    /// `TOP`: writes the headers and the first `lines` body lines of
    /// message `number` into `out`.
    pub fn top(&mut self, number: u32, lines: u32, out: &mut impl Write) -> Result<(), Pop3Error> {
        let pending = self.session.top(number, lines);
        self.run(pending, |part| write_part(part, out, &mut 0))
    }

    /// Retrieves many messages, pipelined when the server allows.
    /// `on_part` gets each message's pieces in order ([`Retrieved::Data`]),
    /// then [`Retrieved::End`] when the message is complete; an error it
    /// returns stops the retrieval.
    pub fn retr_many(
        &mut self,
        numbers: &[u32],
        on_part: impl FnMut(Retrieved) -> io::Result<()>,
    ) -> Result<(), Pop3Error> {
        let pending = self.session.retr_many(numbers.iter().copied());
        self.run(pending, on_part)
    }

    /// `DELE`: marks message `number` for deletion at QUIT.
    pub fn dele(&mut self, number: u32) -> Result<(), Pop3Error> {
        let pending = self.session.dele(number);
        self.run(pending, ignore)
    }

    /// `NOOP`.
    pub fn noop(&mut self) -> Result<(), Pop3Error> {
        let pending = self.session.noop();
        self.run(pending, ignore)
    }

    /// `RSET`: unmarks every deletion.
    pub fn rset(&mut self) -> Result<(), Pop3Error> {
        let pending = self.session.rset();
        self.run(pending, ignore)
    }

    /// Any other request (`LIST n`, `UIDL n`, `LANG`, `UTF8`); see
    /// [`Session::request`].
    pub fn request(&mut self, request: Request) -> Result<Response, Pop3Error> {
        let pending = self.session.request(request);
        self.run(pending, ignore)
    }

    /// `QUIT`: ends the session; deletions take effect now.
    pub fn quit(mut self) -> Result<(), Pop3Error> {
        let pending = self.session.quit();
        self.run(pending, ignore)
    }
}

/// The loop every operation runs: the only place bytes move.
fn drive<T>(
    conn: &mut Connection,
    session: &mut Session,
    mut pending: Pending<T>,
    mut on_part: impl FnMut(Retrieved) -> io::Result<()>,
) -> Result<T, Pop3Error> {
    loop {
        match pending.poll()? {
            Step::Drive => pending.handle(conn.next_event(session)?),
            Step::Part(part) => on_part(part).map_err(Pop3Error::Output)?,
            Step::Done(value) => return Ok(value),
        }
    }
}

/// For operations that stream nothing.
fn ignore(_: Retrieved) -> io::Result<()> {
    Ok(())
}

fn write_part(part: Retrieved, out: &mut impl Write, written: &mut u64) -> io::Result<()> {
    match part {
        Retrieved::Data { chunk, .. } => {
            out.write_all(&chunk)?;
            *written += chunk.len() as u64;
            Ok(())
        }
        Retrieved::End { .. } => out.flush(),
    }
}

/// The TLS handshake over `stream`, bounded like a response: the
/// handshake is the server's answer to the client's hello.
#[cfg(feature = "tls")]
fn start_tls(
    mut stream: Box<dyn Stream>,
    host: &str,
    config: &Arc<rustls::ClientConfig>,
    options: &ConnectOptions,
) -> Result<Box<dyn Stream>, Pop3Error> {
    let timeout = options
        .machine
        .response_timeout
        .filter(|timeout| !timeout.is_zero());
    stream.set_read_timeout(timeout).map_err(Pop3Error::Io)?;
    let tls = net_std::tls::connect(stream, host, Arc::clone(config))
        .map_err(|error| Pop3Error::Tls(Box::new(error)))?;
    Ok(Box::new(tls))
}
