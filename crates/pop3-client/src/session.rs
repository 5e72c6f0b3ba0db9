//! What a POP3 convenience client is, short of moving bytes: a
//! [`Session`] around the [`Client`] machine that starts one operation at a
//! time (STAT, a login, a batch of RETRs) and folds the machine's events
//! into that operation's result.
//!
//! The blocking client (`blocking`, over `net-std`) and the async one
//! (`tokio`, over `net-tokio`) are both this module plus a loop that moves
//! bytes. Any other driver can be the same: start an operation, then
//! [`poll`](Pending::poll) it; on [`Step::Drive`], drive the session (it is
//! the [`Machine`]) to its next event and [`handle`](Pending::handle) what
//! came back; pass [`Step::Part`] on to the application; stop at
//! [`Step::Done`]. Nothing here reads a socket or a clock.
//!
//! ```
//! use std::time::Instant;
//! use lineproto::{Machine, Output, Secret};
//! use pop3_client::client::{Event, Options};
//! use pop3_client::server::{self, Mailbox, Server};
//! use pop3_client::session::{Login, Pending, Retrieved, Session, SessionError, Step};
//!
//! /// The smallest driver: the session's bytes go straight to the demo
//! /// server machine, and the server's straight back.
//! fn next_event(session: &mut Session, server: &mut Server) -> Result<Option<Event>, pop3_client::Error> {
//!     let now = Instant::now();
//!     loop {
//!         match session.poll_output(now) {
//!             Output::Transmit(bytes) => server.handle_input(&bytes),
//!             Output::Event(event) => return Ok(Some(event)),
//!             Output::Done(result) => return result.map(|()| None),
//!             Output::Wait { .. } => loop {
//!                 match server.poll_output(now) {
//!                     Output::Transmit(bytes) => session.handle_input(&bytes),
//!                     Output::Event(_) => {}
//!                     Output::Wait { .. } => break,
//!                     Output::Done(_) => {
//!                         session.handle_eof();
//!                         break;
//!                     }
//!                 }
//!             },
//!         }
//!     }
//! }
//!
//! /// Runs one operation to its end; message parts go to `on_part`.
//! fn run<T>(
//!     session: &mut Session,
//!     server: &mut Server,
//!     mut pending: Pending<T>,
//!     mut on_part: impl FnMut(Retrieved),
//! ) -> Result<T, Box<dyn std::error::Error>> {
//!     loop {
//!         match pending.poll()? {
//!             Step::Drive => pending.handle(next_event(session, server)?),
//!             Step::Part(part) => on_part(part),
//!             Step::Done(value) => return Ok(value),
//!         }
//!     }
//! }
//!
//! let messages = vec!["Subject: one\r\n\r\n1\r\n".into(), "Subject: two\r\n\r\n.2\r\n".into()];
//! let mut server = Server::new(Mailbox::new("john", "doe", messages), server::Options::default());
//! let mut session = Session::new(Options::default());
//!
//! let greeting = session.read_greeting();
//! let greeting = run(&mut session, &mut server, greeting, |_| {})?;
//! assert!(greeting.apop_timestamp.is_some());
//! let login = session.login(Login::Apop, "john", Secret::new(b"doe".to_vec()));
//! run(&mut session, &mut server, login, |_| {})?;
//! let stat = session.stat();
//! assert_eq!(run(&mut session, &mut server, stat, |_| {})?, (2, 39));
//!
//! let mut second = Vec::new();
//! let retr = session.retr_many([2]);
//! run(&mut session, &mut server, retr, |part| {
//!     if let Retrieved::Data { chunk, .. } = part {
//!         second.extend_from_slice(&chunk);
//!     }
//! })?;
//! assert_eq!(second, b"Subject: two\r\n\r\n.2\r\n");
//!
//! // A -ERR is the operation's error; the session goes on.
//! let dele = session.dele(3);
//! let error = run(&mut session, &mut server, dele, |_| {}).unwrap_err();
//! assert!(matches!(error.downcast_ref(), Some(SessionError::Server(_))));
//! let quit = session.quit();
//! run(&mut session, &mut server, quit, |_| {})?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use lineproto::{Machine, Output, Secret};

use crate::Error;
use crate::client::{
    Client, Credentials, Event, Handle, Options, Request, Requested, Response, ServerError,
};
use crate::codec::{Capabilities, Greeting, Status, is_unique_id};
use crate::sasl::{self, ScramHash};

/// How to log in: USER/PASS, APOP, or one of the shipped SASL mechanisms
/// of [`sasl`]. What [`Session::login`] takes with a user name and a
/// secret (a password, or an OAuth 2.0 token for the two token
/// mechanisms); [`strongest`](Self::strongest) picks one from what the
/// server offers. An application's own mechanism goes through
/// [`Session::login_with`] instead.
///
/// ```
/// use pop3_client::{Capabilities, Greeting};
/// use pop3_client::session::{Login, LoginPolicy};
///
/// let greeting = Greeting::parse(b"+OK ready <1.2@host>")?;
/// let caps = Capabilities::parse([&b"SASL PLAIN CRAM-MD5 SCRAM-SHA-1"[..], b"USER"])?;
/// let policy = LoginPolicy::default();
/// assert_eq!(Login::strongest(Some(&caps), Some(&greeting), policy), Some(Login::SaslScramSha1));
/// // Without SASL, APOP beats sending the password; and PLAIN or USER
/// // only over TLS or when plain text is allowed.
/// let caps = Capabilities::parse([&b"SASL PLAIN"[..], b"USER"])?;
/// assert_eq!(Login::strongest(Some(&caps), Some(&greeting), policy), Some(Login::Apop));
/// let plain = Greeting::parse(b"+OK ready")?;
/// assert_eq!(Login::strongest(Some(&caps), Some(&plain), policy), None);
/// let mut tls = policy;
/// tls.tls = true;
/// assert_eq!(Login::strongest(Some(&caps), Some(&plain), tls), Some(Login::SaslPlain));
/// assert_eq!(Login::from_name("scram-sha-256"), Some(Login::SaslScramSha256));
/// # Ok::<(), pop3_client::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Login {
    /// `USER` and `PASS`: the password crosses the connection as it is.
    #[default]
    UserPass,
    /// `APOP` (MD5 of the greeting's timestamp and the secret): nothing
    /// replayable crosses the connection, but the digest can be attacked
    /// offline, and the server stores the password itself.
    Apop,
    /// `AUTH PLAIN` ([`sasl::Plain`]): the password as it is.
    SaslPlain,
    /// `AUTH LOGIN` ([`sasl::Login`]): the password as it is.
    SaslLogin,
    /// `AUTH CRAM-MD5` ([`sasl::CramMd5`]): like APOP, HMAC-MD5 of the
    /// server's challenge.
    SaslCramMd5,
    /// `AUTH SCRAM-SHA-1` ([`sasl::Scram::sha1`]): a salted proof, and the
    /// server proves it knows the password too.
    SaslScramSha1,
    /// `AUTH SCRAM-SHA-256` ([`sasl::Scram::sha256`]): the same with
    /// SHA-256. The strongest.
    SaslScramSha256,
    /// `AUTH XOAUTH2` ([`sasl::XOAuth2`]) with an OAuth 2.0 token.
    SaslXOAuth2,
    /// `AUTH OAUTHBEARER` ([`sasl::OAuthBearer`], RFC 7628) with an OAuth
    /// 2.0 token.
    SaslOAuthBearer,
}

/// What [`Login::strongest`] may choose.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginPolicy {
    /// The connection is TLS (implicit, or after STLS), so a method that
    /// sends the secret as it is ([`Login::sends_secret`]) is allowed.
    /// Default: no.
    pub tls: bool,
    /// Allow such a method without TLS too: the password or token can then
    /// be read by anyone on the path. Default: no.
    pub allow_plaintext: bool,
    /// The secret is an OAuth 2.0 access token, not a password: only
    /// OAUTHBEARER and XOAUTH2 take one. Default: a password.
    pub bearer_token: bool,
}

impl LoginPolicy {
    /// Whether `login` may be used: it takes the kind of secret the user
    /// has, and it does not send it as it is unless over TLS or allowed.
    pub fn permits(self, login: Login) -> bool {
        login.uses_token() == self.bearer_token
            && (!login.sends_secret() || self.tls || self.allow_plaintext)
    }
}

impl Login {
    /// Every method, strongest first: SCRAM-SHA-256, SCRAM-SHA-1,
    /// CRAM-MD5, APOP, then those that send the password as it is (PLAIN,
    /// LOGIN, USER), then the token mechanisms (OAUTHBEARER, XOAUTH2).
    pub const ALL: [Self; 9] = [
        Self::SaslScramSha256,
        Self::SaslScramSha1,
        Self::SaslCramMd5,
        Self::Apop,
        Self::SaslPlain,
        Self::SaslLogin,
        Self::UserPass,
        Self::SaslOAuthBearer,
        Self::SaslXOAuth2,
    ];

    /// The name a user types to choose it: the SASL mechanism's name
    /// (`SCRAM-SHA-256`), `USER` or `APOP`.
    pub fn name(self) -> &'static str {
        match self {
            Self::UserPass => "USER",
            Self::Apop => "APOP",
            Self::SaslPlain => "PLAIN",
            Self::SaslLogin => "LOGIN",
            Self::SaslCramMd5 => "CRAM-MD5",
            Self::SaslScramSha1 => "SCRAM-SHA-1",
            Self::SaslScramSha256 => "SCRAM-SHA-256",
            Self::SaslXOAuth2 => "XOAUTH2",
            Self::SaslOAuthBearer => "OAUTHBEARER",
        }
    }

    /// The method with this [`name`](Self::name), in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|login| login.name().eq_ignore_ascii_case(name))
    }

    /// Whether the secret crosses the connection as it is, for anyone who
    /// can read the connection to reuse: USER/PASS, PLAIN, LOGIN, and the
    /// two token mechanisms.
    pub fn sends_secret(self) -> bool {
        matches!(
            self,
            Self::UserPass
                | Self::SaslPlain
                | Self::SaslLogin
                | Self::SaslXOAuth2
                | Self::SaslOAuthBearer
        )
    }

    /// Whether the secret is an OAuth 2.0 access token rather than a
    /// password (XOAUTH2, OAUTHBEARER).
    pub fn uses_token(self) -> bool {
        matches!(self, Self::SaslXOAuth2 | Self::SaslOAuthBearer)
    }

    /// Whether the server offers it: a SASL mechanism listed in CAPA's
    /// `SASL` line, APOP when the greeting has a timestamp, USER when CAPA
    /// lists `USER` (or when there is no CAPA answer: RFC 1939 servers
    /// know no CAPA, and take USER).
    pub fn offered(self, capabilities: Option<&Capabilities>, greeting: Option<&Greeting>) -> bool {
        match self {
            Self::UserPass => capabilities.is_none_or(|caps| caps.has(b"USER")),
            Self::Apop => greeting.is_some_and(|greeting| greeting.apop_timestamp.is_some()),
            sasl => capabilities.is_some_and(|caps| caps.sasl_mechanism(sasl.name().as_bytes())),
        }
    }

    /// The strongest method both sides offer that `policy` permits, in
    /// the order of [`ALL`](Self::ALL), or `None`. The capabilities are
    /// those of a CAPA sent before logging in (after STLS, when TLS
    /// started that way); `None` if the server knows no CAPA.
    ///
    /// Without TLS and without
    /// [`allow_plaintext`](LoginPolicy::allow_plaintext), a method that
    /// sends the secret as it is is never chosen: a server offering only
    /// those gets `None`, and the caller says so rather than send a
    /// password in clear.
    pub fn strongest(
        capabilities: Option<&Capabilities>,
        greeting: Option<&Greeting>,
        policy: LoginPolicy,
    ) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|&login| policy.permits(login) && login.offered(capabilities, greeting))
    }

    /// The request this method makes for `user` with `secret` (a password,
    /// or a token for [`uses_token`](Self::uses_token) methods). SCRAM
    /// draws its client nonce from [`sasl::client_nonce`].
    fn credentials(self, user: &str, secret: Secret<Vec<u8>>) -> Result<Credentials, sasl::Error> {
        let bytes = || Bytes::copy_from_slice(user.as_bytes());
        let scram = |hash, secret| -> Result<Credentials, sasl::Error> {
            let nonce = sasl::client_nonce()?;
            Ok(Credentials::Sasl(Box::new(sasl::Scram::new(
                hash, user, secret, &nonce,
            ))))
        };
        Ok(match self {
            Self::UserPass => Credentials::UserPass {
                user: bytes(),
                password: secret,
            },
            Self::Apop => Credentials::Apop {
                user: bytes(),
                password: secret,
            },
            Self::SaslPlain => Credentials::Sasl(Box::new(sasl::Plain::new(user, secret))),
            Self::SaslLogin => Credentials::Sasl(Box::new(sasl::Login::new(user, secret))),
            Self::SaslCramMd5 => Credentials::Sasl(Box::new(sasl::CramMd5::new(user, secret))),
            Self::SaslScramSha1 => return scram(ScramHash::Sha1, secret),
            Self::SaslScramSha256 => return scram(ScramHash::Sha256, secret),
            Self::SaslXOAuth2 => Credentials::Sasl(Box::new(sasl::XOAuth2::new(user, secret))),
            Self::SaslOAuthBearer => {
                Credentials::Sasl(Box::new(sasl::OAuthBearer::new(user, secret)))
            }
        })
    }

    /// The command it starts with, for errors.
    fn command(self) -> &'static str {
        match self {
            Self::UserPass => "USER",
            Self::Apop => "APOP",
            sasl => sasl::auth_command(sasl.name()),
        }
    }
}

impl std::fmt::Display for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A piece of a message being retrieved (RETR or TOP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retrieved {
    /// The next bytes of message `number`, dot-unstuffed, with the line
    /// ends the server sent.
    Data {
        /// The message number.
        number: u32,
        /// The bytes; concatenated, the pieces are the message.
        chunk: Bytes,
    },
    /// Message `number` is complete.
    End {
        /// The message number.
        number: u32,
        /// Its size as delivered: the bytes of its [`Data`](Self::Data)
        /// parts in all (dot-unstuffed, the server's line ends), for a check
        /// against what LIST said.
        octets: u64,
    },
}

/// Why an operation of a [`Session`] failed, short of the connection or
/// the machine failing (which the driver reports).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The server answered `-ERR`.
    #[error(transparent)]
    Server(ServerError),
    /// The client refused to send the request (an argument with a line
    /// break, APOP without a timestamp in the greeting), or the session had
    /// already ended.
    #[error("{command} not sent")]
    NotSent {
        /// The command.
        command: &'static str,
        /// Why.
        #[source]
        error: Error,
    },
    /// The SASL mechanism failed on a challenge (a wrong server
    /// signature, an iteration count over the limit, a challenge that does
    /// not parse), so the client cancelled the exchange; the server
    /// answered `reply`.
    #[error("{command} cancelled by the client")]
    AuthCancelled {
        /// The command (`AUTH SCRAM-SHA-256`).
        command: &'static str,
        /// Why the mechanism gave up.
        #[source]
        error: sasl::Error,
        /// The server's `-ERR` to the cancellation (boxed: it is large, and
        /// rare).
        reply: Box<ServerError>,
    },
    /// STLS was asked for and the server's last CAPA did not offer it; no
    /// silent fall-back to plain text.
    #[error("the server does not offer STLS")]
    StartTlsUnavailable,
    /// The session ended cleanly before the operation was answered (after
    /// QUIT, say).
    #[error("the session ended before {command} was answered")]
    Ended {
        /// The command.
        command: &'static str,
    },
    /// An answer that does not fit the request. The machine answers each
    /// request in kind, so this is a bug, reported rather than panicking.
    #[error("unexpected answer to {command}")]
    Unexpected {
        /// The command.
        command: &'static str,
    },
}

/// A POP3 session for a convenience client: the [`Client`] machine (which
/// it drives as a [`Machine`]: hand the session itself to the driver), and
/// one constructor per operation, each queueing the operation's requests
/// and returning the [`Pending`] that folds their answers.
///
/// Operations may be started while others are unfinished (the machine
/// answers them in order), but a driver that runs one at a time, as the
/// blocking and async clients do, never needs to. An operation abandoned
/// halfway (its `Pending` dropped after an error) leaves its answers to
/// arrive later; they are ignored by the operations after it.
///
/// See the [module docs](self) for a complete driver.
#[derive(Debug)]
pub struct Session {
    client: Client,
}

impl Session {
    /// A session waiting for the greeting.
    pub fn new(options: Options) -> Self {
        Self {
            client: Client::new(options),
        }
    }

    /// The machine: its capabilities, greeting, pipelining, LOGIN-DELAY.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The machine, mutably: to queue requests of its own.
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The server's greeting, once it has arrived.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.client.greeting()
    }

    /// Tells the machine the transport is now TLS, after a successful
    /// [`stls`](Self::stls); see [`Client::tls_established`]. Send CAPA
    /// again afterwards: the capabilities are forgotten.
    pub fn tls_established(&mut self) {
        self.client.tls_established();
    }

    /// Waits for the greeting. A `-ERR` greeting ends the session with
    /// [`Error::Refused`], which the driver reports (this operation is
    /// never done with it).
    pub fn read_greeting(&mut self) -> Pending<Greeting> {
        let mut pending = Pending::new("greeting", Until::Greeting, Converter::Greeting(Some));
        match self.client.greeting() {
            Some(greeting) if greeting.line.status == Status::Err => pending.failing = true,
            Some(greeting) => pending.done = Some(greeting.clone()),
            None => {}
        }
        pending
    }

    /// `CAPA`: the server's capabilities (the machine keeps them too, and
    /// pipelines from then on if they list PIPELINING).
    pub fn capa(&mut self) -> Pending<Capabilities> {
        self.one(Request::Capa, |response| match response {
            Response::Capabilities(capabilities) => Some(capabilities),
            _ => None,
        })
    }

    /// Logs in as `user` with `method` and `secret`: the password, or the
    /// OAuth 2.0 token for XOAUTH2 and OAUTHBEARER
    /// ([`Login::uses_token`]).
    ///
    /// SCRAM needs a random client nonce: it is drawn from the operating
    /// system with the `getrandom` feature (which the `blocking` and
    /// `tokio` features turn on). Without it, SCRAM fails with
    /// [`SessionError::NotSent`] and [`sasl::Error::NoRandomSource`]:
    /// build the mechanism with a nonce of your own and use
    /// [`login_with`](Self::login_with).
    pub fn login(&mut self, method: Login, user: &str, secret: Secret<Vec<u8>>) -> Pending<()> {
        match method.credentials(user, secret) {
            Ok(credentials) => self.login_with(credentials),
            Err(error) => {
                let command = method.command();
                let mut pending =
                    Pending::new(command, Until::Answers, Converter::Response(|_| None));
                pending.failure = Some(SessionError::NotSent {
                    command,
                    error: Error::Sasl(error),
                });
                pending
            }
        }
    }

    /// Logs in with `credentials`: an application's own SASL mechanism
    /// ([`Credentials::Sasl`]), or one built by hand.
    pub fn login_with(&mut self, credentials: Credentials) -> Pending<()> {
        self.one(Request::Login(credentials), ok)
    }

    /// `STLS`, only if the last CAPA offered it (otherwise the `Pending`
    /// fails with [`SessionError::StartTlsUnavailable`] and nothing is
    /// sent). When it is done, the driver starts TLS on the transport and
    /// calls [`tls_established`](Self::tls_established).
    pub fn stls(&mut self) -> Pending<()> {
        if !self.client.capabilities().is_some_and(Capabilities::stls) {
            let mut pending = Pending::new("STLS", Until::Answers, Converter::Response(|_| None));
            pending.failure = Some(SessionError::StartTlsUnavailable);
            return pending;
        }
        self.one(Request::Stls, |response| match response {
            Response::StartTls => Some(()),
            _ => None,
        })
    }

    /// `STAT`: the message count and their total size in octets.
    pub fn stat(&mut self) -> Pending<(u32, u64)> {
        self.one(Request::Stat, |response| match response {
            Response::Stat { count, octets } => Some((count, octets)),
            _ => None,
        })
    }

    /// `LIST`: every message's number and size.
    pub fn list(&mut self) -> Pending<Vec<(u32, u64)>> {
        self.one(Request::List(None), |response| match response {
            Response::Listing(listing) => Some(listing),
            _ => None,
        })
    }

    /// `UIDL`: every message's number and unique id, as the server sent
    /// it: an id that breaks RFC 1939's rule is handed on whole (see
    /// [`Response::UniqueIds`]). Before relying on the ids, to skip what
    /// was fetched before or to delete, sort them out with
    /// [`check_unique_ids`].
    pub fn uidl(&mut self) -> Pending<Vec<(u32, Bytes)>> {
        self.one(Request::Uidl(None), |response| match response {
            Response::UniqueIds(ids) => Some(ids),
            _ => None,
        })
    }

    /// `RETR` for each of `numbers`, pipelined when the server allows: each
    /// message streams out as [`Retrieved::Data`] parts, then
    /// [`Retrieved::End`], in the order given.
    ///
    /// A `-ERR` to one of them does not stop the others: every message the
    /// server sends is handed out, and then the operation fails with the
    /// first `-ERR` ([`SessionError::Server`]). The messages refused are
    /// the ones without a [`Retrieved::End`].
    pub fn retr_many(&mut self, numbers: impl IntoIterator<Item = u32>) -> Pending<()> {
        let mut pending = Pending::new("RETR", Until::Answers, Converter::Response(|_| Some(())));
        pending.past_refusals = true;
        for number in numbers {
            let handle = self.client.send(Request::Retr(number));
            pending.awaited.push_back(handle);
        }
        if pending.awaited.is_empty() {
            pending.done = Some(());
        }
        pending
    }

    /// `RETR` of one message; see [`retr_many`](Self::retr_many).
    pub fn retr(&mut self, number: u32) -> Pending<()> {
        self.retr_many([number])
    }

    /// `TOP`: the headers and the first `lines` body lines of message
    /// `number`, streamed as for [`retr`](Self::retr).
    pub fn top(&mut self, number: u32, lines: u32) -> Pending<()> {
        let mut pending = Pending::new("TOP", Until::Answers, Converter::Response(|_| Some(())));
        let handle = self.client.send(Request::Top {
            message: number,
            lines,
        });
        pending.awaited.push_back(handle);
        pending
    }

    /// `DELE`: marks message `number` for deletion at QUIT.
    pub fn dele(&mut self, number: u32) -> Pending<()> {
        self.one(Request::Dele(number), ok)
    }

    /// `NOOP`.
    pub fn noop(&mut self) -> Pending<()> {
        self.one(Request::Noop, ok)
    }

    /// `RSET`: unmarks every deletion.
    pub fn rset(&mut self) -> Pending<()> {
        self.one(Request::Rset, ok)
    }

    /// `QUIT`: done once the answer is in and the session has ended, so
    /// that deletions have taken effect.
    pub fn quit(&mut self) -> Pending<()> {
        let mut pending = self.one(Request::Quit, ok);
        pending.until = Until::End;
        pending
    }

    /// Any other request (`LIST n`, `UIDL n`, `LANG`, `UTF8`): done with the
    /// machine's [`Response`]. A RETR or TOP sent this way streams its
    /// message as parts and is done with [`Response::Message`].
    pub fn request(&mut self, request: Request) -> Pending<Response> {
        self.one(request, Some)
    }

    fn one<T>(&mut self, request: Request, convert: fn(Response) -> Option<T>) -> Pending<T> {
        let command = request.requested().command();
        let mut pending = Pending::new(command, Until::Answers, Converter::Response(convert));
        let handle = self.client.send(request);
        pending.awaited.push_back(handle);
        pending
    }
}

impl Machine for Session {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.client.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.client.handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        self.client.poll_output(now)
    }
}

/// What a UIDL listing says of one message, the listing taken as a whole
/// (see [`check_unique_ids`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedId {
    /// A unique id as RFC 1939 has it (1 to 70 characters from 0x21 to
    /// 0x7E), listed for this message only: it tells this message apart
    /// from every other, in this session and the next.
    Unique(Bytes),
    /// A well-formed id that the listing gives to other messages too. It
    /// does not say which of them is which, so it identifies none: fetch
    /// them all, delete none of them.
    Shared(Bytes),
    /// Not a unique id as RFC 1939 has it, as sent: a space inside
    /// (`1 abc def`), a byte outside 0x21 to 0x7E, none at all, or more
    /// than 70. The server broke the protocol for this message; nothing
    /// about it can be relied on.
    Invalid(Bytes),
}

impl ListedId {
    /// The id, as sent.
    pub fn as_bytes(&self) -> &Bytes {
        match self {
            Self::Unique(id) | Self::Shared(id) | Self::Invalid(id) => id,
        }
    }
}

/// Sorts out a UIDL listing ([`Session::uidl`], [`Response::UniqueIds`]),
/// message by message, in the listing's order: which ids can be relied on
/// to skip what was fetched before and to delete, which are shared by
/// several messages, and which break RFC 1939's rule. A bad id is an error
/// for its own message only.
///
/// ```
/// use bytes::Bytes;
/// use pop3_client::session::{ListedId, check_unique_ids};
///
/// let listing = [
///     (1, Bytes::from_static(b"abc def")),
///     (2, Bytes::from_static(b"same")),
///     (3, Bytes::from_static(b"same")),
///     (4, Bytes::from_static(b"QhdPYR:00WBw1Ph7x7")),
/// ];
/// assert_eq!(
///     check_unique_ids(&listing),
///     [
///         (1, ListedId::Invalid("abc def".into())),
///         (2, ListedId::Shared("same".into())),
///         (3, ListedId::Shared("same".into())),
///         (4, ListedId::Unique("QhdPYR:00WBw1Ph7x7".into())),
///     ]
/// );
/// ```
pub fn check_unique_ids(listing: &[(u32, Bytes)]) -> Vec<(u32, ListedId)> {
    let mut listed: HashMap<&[u8], usize> = HashMap::with_capacity(listing.len());
    for (_, id) in listing {
        *listed.entry(&id[..]).or_default() += 1;
    }
    listing
        .iter()
        .map(|(number, id)| {
            let checked = if !is_unique_id(id) {
                ListedId::Invalid(id.clone())
            } else if listed[&id[..]] > 1 {
                ListedId::Shared(id.clone())
            } else {
                ListedId::Unique(id.clone())
            };
            (*number, checked)
        })
        .collect()
}

/// `+OK` with nothing more to report.
fn ok(response: Response) -> Option<()> {
    matches!(response, Response::Ok(_)).then_some(())
}

/// What ends an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The greeting.
    Greeting,
    /// The answers to every awaited request.
    Answers,
    /// The answers, then the end of the session (QUIT).
    End,
}

/// Makes an operation's result from what completes it.
#[derive(Debug)]
enum Converter<T> {
    Greeting(fn(Greeting) -> Option<T>),
    Response(fn(Response) -> Option<T>),
}

/// What the driver does next for a [`Pending`] operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Drive the session to its next event (or its end) and hand the
    /// result to [`Pending::handle`].
    Drive,
    /// A piece of a message, for the application.
    Part(Retrieved),
    /// The operation is complete.
    Done(T),
}

/// An operation in progress: folds the machine's events into its result.
///
/// Started by one of [`Session`]'s methods. [`poll`](Self::poll) says what
/// to do next; [`handle`](Self::handle) takes what driving produced. It
/// holds no reference to the session, so the driver can lend the session to
/// its connection while the operation is pending.
#[must_use = "an operation does nothing unless driven to its end"]
#[derive(Debug)]
pub struct Pending<T> {
    command: &'static str,
    until: Until,
    convert: Converter<T>,
    /// The requests still awaited, in the order their answers come.
    awaited: VecDeque<Handle>,
    /// Message parts not yet handed out.
    parts: VecDeque<Retrieved>,
    /// The result, once complete (for QUIT, once answered: it is handed
    /// out at the end of the session).
    done: Option<T>,
    failure: Option<SessionError>,
    /// The machine failed (a request went unanswered); its error comes
    /// from the driver next, and nothing else counts.
    failing: bool,
    /// A `-ERR` fails the operation only once every request is answered
    /// (a batch of RETRs), with the first of them, kept here.
    past_refusals: bool,
    refused: Option<ServerError>,
    /// The result was handed out.
    finished: bool,
}

impl<T> Pending<T> {
    fn new(command: &'static str, until: Until, convert: Converter<T>) -> Self {
        Self {
            command,
            until,
            convert,
            awaited: VecDeque::new(),
            parts: VecDeque::new(),
            done: None,
            failure: None,
            failing: false,
            past_refusals: false,
            refused: None,
            finished: false,
        }
    }

    /// What to do next: drive, pass on a part, or take the result. An
    /// error ends the operation (later polls repeat it).
    ///
    /// Message parts come out before the operation's end or its error, in
    /// the order they arrived.
    pub fn poll(&mut self) -> Result<Step<T>, SessionError> {
        if let Some(part) = self.parts.pop_front() {
            return Ok(Step::Part(part));
        }
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        if self.finished {
            // Polled after `Done`: there is nothing more to wait for.
            return Err(SessionError::Ended {
                command: self.command,
            });
        }
        let complete = match self.until {
            Until::Greeting | Until::Answers => self.done.is_some(),
            // The result is held until the session has ended.
            Until::End => false,
        };
        match self.done.take() {
            Some(value) if complete => {
                self.finished = true;
                Ok(Step::Done(value))
            }
            value => {
                self.done = value;
                Ok(Step::Drive)
            }
        }
    }

    /// Takes the outcome of driving the session: `Some(event)` for an
    /// event, `None` when the session ended cleanly. (A driver's error is
    /// the driver's to report; the operation is then over.)
    pub fn handle(&mut self, event: Option<Event>) {
        if self.failure.is_some() || self.finished {
            return;
        }
        match event {
            None => self.on_end(),
            Some(Event::Greeting(greeting)) => {
                if let Converter::Greeting(convert) = self.convert {
                    if greeting.line.status == Status::Err {
                        // The machine ends the session with `Refused`,
                        // which the driver reports next.
                        self.failing = true;
                    } else {
                        self.done = convert(greeting);
                    }
                }
            }
            Some(Event::MessageData {
                handle,
                message,
                chunk,
            }) => {
                if self.awaited.front() == Some(&handle) && !self.failing {
                    self.parts.push_back(Retrieved::Data {
                        number: message,
                        chunk,
                    });
                }
            }
            Some(Event::Response {
                handle,
                requested,
                response,
            }) => {
                if self.failing || self.awaited.front() != Some(&handle) {
                    // Not ours: an answer to an operation abandoned earlier.
                    return;
                }
                self.on_response(&requested, response);
            }
        }
    }

    fn on_end(&mut self) {
        if self.until == Until::End && self.done.is_some() {
            // QUIT was answered and the session is over: done.
            self.until = Until::Answers;
        } else {
            self.failure = Some(SessionError::Ended {
                command: self.command,
            });
        }
    }

    fn on_response(&mut self, requested: &Requested, response: Response) {
        match response {
            // Its data came before it.
            Response::Message { octets, .. } => {
                self.awaited.pop_front();
                let number = requested.message().unwrap_or_default();
                self.parts.push_back(Retrieved::End { number, octets });
                if self.awaited.is_empty() {
                    self.finish_with(response);
                }
            }
            Response::Rejected(error) if self.past_refusals => {
                self.awaited.pop_front();
                // The first refusal fails the batch, once it is all in.
                let first = self.refused.get_or_insert(error).clone();
                if self.awaited.is_empty() {
                    self.failure = Some(SessionError::Server(first));
                }
            }
            Response::Rejected(error) => self.failure = Some(SessionError::Server(error)),
            Response::AuthCancelled { error, reply } => {
                self.failure = Some(SessionError::AuthCancelled {
                    command: self.command,
                    error,
                    reply: Box::new(reply),
                });
            }
            // The session is over, perhaps failed: the driver reports how.
            Response::NotSent(Error::SessionEnded) => self.failing = true,
            Response::NotSent(error) => {
                self.failure = Some(SessionError::NotSent {
                    command: self.command,
                    error,
                });
            }
            // The machine failed; the driver reports its error next.
            Response::Unanswered(_) => self.failing = true,
            response => {
                self.awaited.pop_front();
                if self.awaited.is_empty() {
                    self.finish_with(response);
                } else {
                    self.unexpected();
                }
            }
        }
    }

    fn finish_with(&mut self, response: Response) {
        if let Some(refused) = self.refused.take() {
            self.failure = Some(SessionError::Server(refused));
            return;
        }
        self.done = match self.convert {
            Converter::Response(convert) => convert(response),
            Converter::Greeting(_) => None,
        };
        if self.done.is_none() {
            self.unexpected();
        }
    }

    fn unexpected(&mut self) {
        self.failure = Some(SessionError::Unexpected {
            command: self.command,
        });
    }
}
