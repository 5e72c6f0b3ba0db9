//! An async POP3 client: the [`Session`] driven over `net-tokio`, with
//! implicit TLS or STLS when the `tls` feature is on.
//!
//! The same operations as the blocking client, with the same options and
//! errors: everything but moving bytes is the [`Session`]'s. Any tokio
//! runtime with I/O and time enabled will do; every future is `Send`.

use std::fmt;
use std::io;
#[cfg(feature = "tls")]
use std::sync::Arc;

use ::tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use bytes::Bytes;
use lineproto::Secret;
use net_tokio::Conn;

use crate::client::{Client, Credentials, Request, Response};
use crate::codec::{Capabilities, Greeting};
use crate::session::{Pending, Session, SessionError, Step};

pub use crate::connect::{ConnectOptions, Pop3Error, Security};
pub use crate::session::{Login, LoginPolicy, Retrieved};

/// The byte stream under the session: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Stream for T {}

type Connection = Conn<Box<dyn Stream>>;

/// A `Conn` over any stream, as one over a boxed stream.
fn boxed<S: Stream + 'static>(conn: Conn<S>) -> Connection {
    let write_timeout = conn.write_timeout();
    let mut boxed = Conn::new(Box::new(conn.into_inner()) as Box<dyn Stream>);
    boxed.set_write_timeout(write_timeout);
    boxed
}

/// An async POP3 session.
///
/// Each method sends its request and completes with the answer.
/// [`retr_many`](Self::retr_many) queues many RETRs at once, and the
/// machine pipelines them when the server allows it. Messages stream into
/// the caller's writer or callback and are never held whole.
///
/// ```
/// use lineproto::Secret;
/// use net_tokio::{Server, ServerOptions};
/// use pop3_client::server::{Mailbox, Server as Pop3Server, Options as Pop3ServerOptions};
/// use pop3_client::tokio::{ConnectOptions, Login, Pop3Client};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
///     // The demo server on a free port.
///     let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
///     let port = server.local_addr().port();
///     let stop = server.shutdown_handle();
///     tokio::spawn(server.serve(|mut conn, _info| async move {
///         let mailbox = Mailbox::new("john", "doe", vec!["Subject: hi\r\n\r\nHello\r\n".into()]);
///         let mut pop3 = Pop3Server::new(mailbox, Pop3ServerOptions::default());
///         let _ = conn.run(&mut pop3, |_, _| {}).await;
///     }));
///
///     let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).await?;
///     pop.login(Login::Apop, "john", Secret::new(b"doe".to_vec())).await?;
///     assert_eq!(pop.stat().await?, (1, 22));
///     let mut message = Vec::new();
///     pop.retr(1, &mut message).await?;
///     assert_eq!(message, b"Subject: hi\r\n\r\nHello\r\n");
///     pop.quit().await?;
///     stop.shutdown();
///     Ok(())
/// })
/// # }
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
    pub async fn connect(
        host: &str,
        port: u16,
        options: &ConnectOptions,
    ) -> Result<Self, Pop3Error> {
        #[cfg(feature = "tls")]
        let tls = match options.security {
            Security::None => None,
            // Before connecting: a bad CA file fails without a connection.
            Security::Implicit | Security::StartTls => {
                Some(options.trust.client_config().map_err(Pop3Error::Trust)?)
            }
        };
        let mut net = net_tokio::ClientOptions::default();
        net.connect_timeout = options.connect_timeout;
        net.write_timeout = options.write_timeout;
        let plain = net_tokio::connect((host, port), &net)
            .await
            .map_err(Pop3Error::Connect)?;
        let mut conn = boxed(plain);
        #[cfg(feature = "tls")]
        if let (Security::Implicit, Some(config)) = (options.security, &tls) {
            conn = start_tls(conn, host, config, options).await?;
        }
        let mut session = Session::new(options.machine.clone());
        let greeting = session.read_greeting();
        let greeting = run(&mut conn, &mut session, greeting).await?;
        #[cfg(feature = "tls")]
        if let (Security::StartTls, Some(config)) = (options.security, &tls) {
            // RFC 2595 section 4: CAPA, STLS, the handshake, CAPA again.
            let capa = session.capa();
            run(&mut conn, &mut session, capa).await?;
            let stls = session.stls();
            run(&mut conn, &mut session, stls).await?;
            conn = start_tls(conn, host, config, options).await?;
            session.tls_established();
            let capa = session.capa();
            run(&mut conn, &mut session, capa).await?;
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

    /// Runs an operation of the session that streams nothing to its end.
    async fn run<T>(&mut self, pending: Pending<T>) -> Result<T, Pop3Error> {
        run(&mut self.conn, &mut self.session, pending).await
    }

    /// Runs an operation that streams a message into `out`; returns how
    /// many bytes were written.
    async fn write_out<W>(
        &mut self,
        mut pending: Pending<()>,
        out: &mut W,
    ) -> Result<u64, Pop3Error>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut written = 0;
        loop {
            match next(&mut self.conn, &mut self.session, &mut pending).await? {
                Next::Part(Retrieved::Data { chunk, .. }) => {
                    out.write_all(&chunk).await.map_err(Pop3Error::Output)?;
                    written += chunk.len() as u64;
                }
                Next::Part(Retrieved::End { .. }) => {
                    out.flush().await.map_err(Pop3Error::Output)?;
                }
                Next::Done(()) => return Ok(written),
            }
        }
    }

    /// `CAPA`: the server's capabilities. Send it after logging in to let
    /// the machine pipeline (and to see per-user values).
    pub async fn capabilities(&mut self) -> Result<Capabilities, Pop3Error> {
        let pending = self.session.capa();
        self.run(pending).await
    }

    /// Logs in as `user` with `method` and `secret`: the password, or the
    /// OAuth 2.0 token for XOAUTH2 and OAUTHBEARER. SCRAM's client nonce
    /// is drawn from the operating system's random source. See
    /// [`strongest_login`](Self::strongest_login) to choose the method.
    pub async fn login(
        &mut self,
        method: Login,
        user: &str,
        password: Secret<Vec<u8>>,
    ) -> Result<(), Pop3Error> {
        let pending = self.session.login(method, user, password);
        self.run(pending).await
    }

    /// Logs in with `credentials`: an application's own SASL mechanism
    /// ([`Credentials::Sasl`]), or one built by hand.
    pub async fn login_with(&mut self, credentials: Credentials) -> Result<(), Pop3Error> {
        let pending = self.session.login_with(credentials);
        self.run(pending).await
    }

    /// The strongest way to log in that both sides offer and `policy`
    /// permits ([`Login::strongest`]), or `None`: the capabilities of the
    /// last CAPA, asked for now if there are none (a server that refuses
    /// CAPA is taken for an RFC 1939 one: USER and, with a timestamp in
    /// the greeting, APOP), and the greeting's APOP timestamp.
    /// [`LoginPolicy::tls`] is set when this connection is TLS; without
    /// TLS, a method that sends the password as it is is chosen only with
    /// [`LoginPolicy::allow_plaintext`].
    pub async fn strongest_login(
        &mut self,
        mut policy: LoginPolicy,
    ) -> Result<Option<Login>, Pop3Error> {
        policy.tls |= self.tls;
        if self.session.client().capabilities().is_none() {
            match self.capabilities().await {
                Ok(_) | Err(Pop3Error::Session(SessionError::Server(_))) => {}
                Err(error) => return Err(error),
            }
        }
        let capabilities = self.session.client().capabilities();
        Ok(Login::strongest(capabilities, Some(&self.greeting), policy))
    }

    /// `STAT`: the message count and total size.
    pub async fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        let pending = self.session.stat();
        self.run(pending).await
    }

    /// `LIST`: every message's number and size.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        let pending = self.session.list();
        self.run(pending).await
    }

    /// `UIDL`: every message's number and unique id.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, Bytes)>, Pop3Error> {
        let pending = self.session.uidl();
        self.run(pending).await
    }

    /// `RETR`: writes message `number` into `out`, dot-unstuffed, as it
    /// streams in; returns how many bytes were written.
    pub async fn retr<W>(&mut self, number: u32, out: &mut W) -> Result<u64, Pop3Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let pending = self.session.retr(number);
        self.write_out(pending, out).await
    }

    /// `TOP`: writes the headers and the first `lines` body lines of
    /// message `number` into `out`.
    pub async fn top<W>(&mut self, number: u32, lines: u32, out: &mut W) -> Result<(), Pop3Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let pending = self.session.top(number, lines);
        self.write_out(pending, out).await.map(drop)
    }

    /// Retrieves many messages, pipelined when the server allows.
    /// `on_part` gets each message's pieces in order ([`Retrieved::Data`]),
    /// then [`Retrieved::End`] when the message is complete; an error it
    /// returns stops the retrieval.
    pub async fn retr_many(
        &mut self,
        numbers: &[u32],
        mut on_part: impl FnMut(Retrieved) -> io::Result<()> + Send,
    ) -> Result<(), Pop3Error> {
        let mut pending = self.session.retr_many(numbers.iter().copied());
        loop {
            match next(&mut self.conn, &mut self.session, &mut pending).await? {
                Next::Part(part) => on_part(part).map_err(Pop3Error::Output)?,
                Next::Done(()) => return Ok(()),
            }
        }
    }

    /// `DELE`: marks message `number` for deletion at QUIT.
    pub async fn dele(&mut self, number: u32) -> Result<(), Pop3Error> {
        let pending = self.session.dele(number);
        self.run(pending).await
    }

    /// `NOOP`.
    pub async fn noop(&mut self) -> Result<(), Pop3Error> {
        let pending = self.session.noop();
        self.run(pending).await
    }

    /// `RSET`: unmarks every deletion.
    pub async fn rset(&mut self) -> Result<(), Pop3Error> {
        let pending = self.session.rset();
        self.run(pending).await
    }

    /// Any other request (`LIST n`, `UIDL n`, `LANG`, `UTF8`); see
    /// [`Session::request`].
    pub async fn request(&mut self, request: Request) -> Result<Response, Pop3Error> {
        let pending = self.session.request(request);
        self.run(pending).await
    }

    /// `QUIT`: ends the session; deletions take effect now.
    pub async fn quit(mut self) -> Result<(), Pop3Error> {
        let pending = self.session.quit();
        self.run(pending).await
    }
}

/// What an operation has next for the application.
enum Next<T> {
    Part(Retrieved),
    Done(T),
}

/// Drives until the operation has a part or its result: the only place
/// bytes move. The blocking client's loop, with `.await`; the parts are
/// handed back rather than to a callback so that the caller can `.await`
/// on them (an async callback would make the futures lose `Send`).
async fn next<T>(
    conn: &mut Connection,
    session: &mut Session,
    pending: &mut Pending<T>,
) -> Result<Next<T>, Pop3Error> {
    loop {
        match pending.poll()? {
            Step::Drive => pending.handle(conn.next_event(session).await?),
            Step::Part(part) => return Ok(Next::Part(part)),
            Step::Done(value) => return Ok(Next::Done(value)),
        }
    }
}

/// Runs an operation that streams nothing to its end.
async fn run<T>(
    conn: &mut Connection,
    session: &mut Session,
    mut pending: Pending<T>,
) -> Result<T, Pop3Error> {
    loop {
        if let Next::Done(value) = next(conn, session, &mut pending).await? {
            return Ok(value);
        }
    }
}

/// The TLS handshake over `conn`'s stream, bounded like a response: the
/// handshake is the server's answer to the client's hello.
#[cfg(feature = "tls")]
async fn start_tls(
    conn: Connection,
    host: &str,
    config: &Arc<rustls::ClientConfig>,
    options: &ConnectOptions,
) -> Result<Connection, Pop3Error> {
    let handshake = net_tokio::tls::connect(conn, host, Arc::clone(config));
    let tls = match options.machine.response_timeout {
        Some(timeout) => ::tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|elapsed| Pop3Error::Tls(Box::new(elapsed)))?,
        None => handshake.await,
    }
    .map_err(|error| Pop3Error::Tls(Box::new(error)))?;
    Ok(boxed(tls))
}
