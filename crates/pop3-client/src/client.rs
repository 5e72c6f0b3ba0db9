//! The POP3 client machine: AUTHORIZATION, TRANSACTION and UPDATE, with
//! queued requests answered in order and pipelining when the server allows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{Machine, Output, Secret};

use crate::Error;
use crate::body::{Decoded, MultiLineDecoder};
use crate::codec::{
    Capabilities, Command, Greeting, MAX_COMMAND_LEN, ResponseCode, StatusLine, apop_digest,
    base64, parse_scan_listing, parse_stat, split_unique_id_listing, unbase64,
};
use crate::sasl::{self, Mechanism};

/// Settings of a [`Client`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The longest status line accepted, line end not counted. RFC 1939
    /// allows 512 octets; the default, 8 KiB, tolerates servers that go
    /// over. Message lines are not limited: they are streamed.
    pub max_line_len: usize,
    /// The most bytes of a LIST, UIDL or CAPA listing held in memory.
    /// Default: 64 MiB (a UIDL listing of a million messages).
    pub max_listing_len: usize,
    /// Send commands without waiting for replies when the server
    /// advertises PIPELINING. Default: yes.
    pub pipelining: bool,
    /// The most commands in flight when pipelining. Default: 32. Bounded so
    /// that what is written never fills the socket buffers while the
    /// server's replies are not being read, which could deadlock both sides.
    pub pipeline_window: usize,
    /// How long the server may take over one response. Default: 60 s.
    /// `None` waits forever.
    ///
    /// The clock starts when the client starts waiting for the response:
    /// at the start of the session for the greeting, when the command is
    /// sent, or, for a pipelined command, when the response before it is
    /// complete. Greetings, status lines, SASL challenges and listings
    /// (LIST, UIDL, CAPA, LANG) must then be complete within the timeout,
    /// however the bytes trickle in: a server that sends one byte every
    /// second is not kept alive by it. A message (RETR, TOP) may take as
    /// long as it needs, as long as no stretch of the timeout passes without
    /// a complete line of it: a large message on a slow link completes,
    /// while a server that stalls, or trickles bytes without line ends, is
    /// cut off. A LIST or UIDL of a huge maildrop over a slow link may need
    /// a longer timeout.
    ///
    /// When it runs out, the session ends with [`Error::ResponseTimeout`]
    /// and every request without its answer gets one
    /// ([`Response::Unanswered`] or [`Response::NotSent`]).
    pub response_timeout: Option<Duration>,
    /// How long the whole session may last, from the first drain. Default:
    /// `None` (no limit). When it runs out, even between commands, the
    /// session ends with [`Error::SessionTimeout`] and unanswered requests
    /// are answered as for a response timeout. No QUIT is sent, so no
    /// deletion takes effect.
    pub session_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_line_len: 8 * 1024,
            max_listing_len: 64 << 20,
            pipelining: true,
            pipeline_window: 32,
            response_timeout: Some(Duration::from_secs(60)),
            session_timeout: None,
        }
    }
}

/// Identifies a queued request; its response carries the same handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(u64);

/// What the application asks of the server.
///
/// Not `Clone`: a login's SASL mechanism is an exchange in progress.
#[non_exhaustive]
#[derive(Debug)]
pub enum Request {
    /// `CAPA`: the server's capabilities.
    Capa,
    /// `STLS`: switch to TLS (RFC 2595). On success the driver must
    /// upgrade the transport and call [`Client::tls_established`].
    Stls,
    /// Log in: USER/PASS, APOP, or AUTH with a SASL mechanism. `+OK` is
    /// [`Response::Ok`], `-ERR` [`Response::Rejected`]; a mechanism that
    /// gave up on a challenge is [`Response::AuthCancelled`].
    Login(Credentials),
    /// `UTF8` (RFC 6856).
    Utf8,
    /// `LANG`: the languages the server speaks ([`Response::Languages`]);
    /// `LANG tag`: answer in that language from now on (RFC 6856).
    Lang(Option<Bytes>),
    /// `STAT`
    Stat,
    /// `LIST`, or `LIST n` for one message.
    List(Option<u32>),
    /// `UIDL`, or `UIDL n` for one message.
    Uidl(Option<u32>),
    /// `RETR n`: the message streams out as [`Event::MessageData`].
    Retr(u32),
    /// `TOP n lines`: the headers and the first lines of the body, streamed.
    Top {
        /// The message number.
        message: u32,
        /// How many body lines.
        lines: u32,
    },
    /// `DELE n`
    Dele(u32),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `QUIT`: ends the session; in TRANSACTION, deletions take effect.
    Quit,
}

/// How to log in, and as whom: the payload of [`Request::Login`].
///
/// [`session::Login`](crate::session::Login) names the shipped choices
/// and picks the strongest the server offers; this is what it builds.
#[non_exhaustive]
#[derive(Debug)]
pub enum Credentials {
    /// `USER` then `PASS` (RFC 1939): the password crosses the connection
    /// as it is.
    UserPass {
        /// The user name.
        user: Bytes,
        /// The password.
        password: Secret<Vec<u8>>,
    },
    /// `APOP` (RFC 1939): MD5 of the greeting's timestamp and the secret.
    /// Refused with [`Error::NoApopTimestamp`] when the greeting has none.
    Apop {
        /// The user name.
        user: Bytes,
        /// The shared secret.
        password: Secret<Vec<u8>>,
    },
    /// `AUTH` with a SASL mechanism (RFC 5034): a shipped one from
    /// [`sasl`], or the application's own.
    ///
    /// The initial response goes on the `AUTH` line when the line stays
    /// within 255 octets (an empty one as `=`); otherwise `AUTH` goes
    /// alone and the response answers the server's empty challenge.
    /// Challenges and responses are base64 on the wire and decoded bytes
    /// for the mechanism. When the mechanism fails on a challenge (a
    /// malformed one, a wrong server signature), the client sends `*`
    /// and the answer is [`Response::AuthCancelled`] with the mechanism's
    /// error and the server's `-ERR`. A `+OK` the mechanism does not
    /// accept ([`Mechanism::finish`]) ends the session with
    /// [`Error::Sasl`].
    Sasl(Box<dyn Mechanism>),
}

impl Request {
    /// Whether the request may be sent while others are in flight, when
    /// the server allows pipelining. Authentication and STLS change the
    /// session's state, so they always wait for everything before them.
    fn pipelinable(&self) -> bool {
        matches!(
            self,
            Self::Stat
                | Self::List(_)
                | Self::Uidl(_)
                | Self::Retr(_)
                | Self::Top { .. }
                | Self::Dele(_)
                | Self::Noop
                | Self::Rset
                | Self::Quit
        )
    }
}

/// A `-ERR` answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The command that was refused.
    pub command: &'static str,
    /// The extended response code, if the server sent one.
    pub code: Option<ResponseCode>,
    /// The server's text.
    pub text: Bytes,
}

impl ServerError {
    fn from_line(command: &'static str, line: StatusLine) -> Self {
        Self {
            command,
            code: line.code,
            text: line.text,
        }
    }
}

impl ServerError {
    /// The server's line as it was sent: `-ERR [CODE] text`.
    ///
    /// ```
    /// use pop3_client::{ResponseCode, ServerError};
    ///
    /// let error = ServerError { command: "PASS", code: Some(ResponseCode::Auth), text: "Authentication failed.".into() };
    /// assert_eq!(error.line(), "-ERR [AUTH] Authentication failed.");
    /// ```
    pub fn line(&self) -> String {
        let mut line = String::from("-ERR");
        if let Some(code) = &self.code {
            line.push_str(" [");
            line.push_str(&String::from_utf8_lossy(code.as_bytes()));
            line.push(']');
        }
        if !self.text.is_empty() {
            line.push(' ');
            line.push_str(&String::from_utf8_lossy(&self.text));
        }
        line
    }
}

impl core::fmt::Display for ServerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} refused: {}", self.command, self.line())
    }
}

impl std::error::Error for ServerError {}

/// The answer to one request.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+OK` to a command with nothing more to report (login, DELE, NOOP,
    /// RSET, UTF8, QUIT).
    Ok(StatusLine),
    /// The answer to STAT.
    Stat {
        /// Messages in the maildrop (not counting deleted ones).
        count: u32,
        /// Their total size in octets.
        octets: u64,
    },
    /// The answer to LIST: message numbers and sizes.
    Listing(Vec<(u32, u64)>),
    /// The answer to `LIST n`.
    Scan(u32, u64),
    /// The answer to UIDL: message numbers and unique ids. Each id is
    /// what follows its number, as sent: one that breaks RFC 1939's rule
    /// (`1 abc def`, a byte outside 0x21 to 0x7E) is handed on whole, never
    /// cut short, and fails no other message.
    /// [`check_unique_ids`](crate::session::check_unique_ids) sorts them out.
    UniqueIds(Vec<(u32, Bytes)>),
    /// The answer to `UIDL n`, the id as sent (see [`UniqueIds`](Self::UniqueIds)).
    UniqueId(u32, Bytes),
    /// The answer to CAPA.
    Capabilities(Capabilities),
    /// The answer to `LANG`: language tags and their descriptions.
    Languages(Vec<(Bytes, Bytes)>),
    /// `+OK` to RETR or TOP; [`Event::MessageData`] chunks follow, then
    /// [`MessageEnd`](Self::MessageEnd).
    MessageStart(StatusLine),
    /// The message (or TOP excerpt) is complete.
    MessageEnd,
    /// `+OK` to STLS: upgrade the transport now, then call
    /// [`Client::tls_established`].
    StartTls,
    /// `-ERR`.
    Rejected(ServerError),
    /// The SASL mechanism failed on a challenge, so the client cancelled
    /// the exchange (`*`), and the server answered `-ERR` as it must.
    AuthCancelled {
        /// Why the mechanism gave up.
        error: sasl::Error,
        /// The server's answer to the cancellation.
        reply: ServerError,
    },
    /// Not sent: refused by the client before it reached the wire (an
    /// argument with a line break, APOP without a timestamp, ...), or still
    /// queued when the session ended.
    NotSent(Error),
    /// Sent, but the session ended (with this error) before the answer came.
    Unanswered(Error),
}

/// What the client tells its application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's greeting (a `-ERR` greeting also ends the session).
    Greeting(Greeting),
    /// The answer to the request with this handle.
    Response {
        /// The request's handle.
        handle: Handle,
        /// The answer.
        response: Response,
    },
    /// A piece of the message being retrieved, dot-unstuffed, with its
    /// line ends as the server sent them.
    MessageData {
        /// The RETR or TOP request's handle.
        handle: Handle,
        /// The bytes; concatenated, the pieces are the message.
        chunk: Bytes,
    },
}

/// What a sent command waits for.
#[derive(Debug)]
enum Awaiting {
    Capa,
    /// `LANG` without a tag: a listing follows.
    Languages,
    Stls,
    /// USER was sent; PASS follows on `+OK`.
    User(Secret<Vec<u8>>),
    /// A login command (PASS, APOP, AUTH): `+OK` means logged in.
    Login(&'static str),
    /// A command that changes the session's settings (UTF8, `LANG tag`):
    /// never pipelined, and not a login.
    Setting(&'static str),
    /// AUTH: challenges until `+OK` or `-ERR`.
    Auth(Box<Exchange>),
    Simple(&'static str),
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Message(&'static str),
    Quit,
}

impl Awaiting {
    /// The command whose reply this is, for errors.
    fn command(&self) -> &'static str {
        match self {
            Self::Capa => "CAPA",
            Self::Languages => "LANG",
            Self::Stls => "STLS",
            Self::User(_) => "USER",
            Self::Login(name) | Self::Setting(name) | Self::Simple(name) | Self::Message(name) => {
                name
            }
            Self::Auth(exchange) => exchange.command,
            Self::Stat => "STAT",
            Self::List(_) => "LIST",
            Self::Uidl(_) => "UIDL",
            Self::Quit => "QUIT",
        }
    }

    /// Whether this waits on a step of a login, the commands a
    /// `[LOGIN-DELAY]` refusal can answer (RFC 2449 section 8.1.2).
    fn is_login(&self) -> bool {
        matches!(self, Self::User(_) | Self::Login(_) | Self::Auth(_))
    }
}

/// A SASL exchange in progress.
#[derive(Debug)]
struct Exchange {
    mechanism: Box<dyn Mechanism>,
    /// `AUTH` and the mechanism's name, for errors.
    command: &'static str,
    /// The initial response, base64, when it did not fit the AUTH line:
    /// it answers the server's first (empty) challenge.
    held: Option<Secret<Vec<u8>>>,
    /// The mechanism failed on a challenge and `*` went out; the server's
    /// `-ERR` is the answer, with this error.
    cancelled: Option<sasl::Error>,
}

/// A multi-line response being read.
#[derive(Debug)]
enum Body {
    /// A listing, collected and parsed at its end.
    Listing { kind: Awaiting, data: Vec<u8> },
    /// A message, streamed out.
    Message,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the greeting.
    Greeting,
    /// Talking.
    Session,
    /// `+OK` to STLS arrived; waiting for the driver's TLS handshake.
    TlsPending,
    /// QUIT was answered or the session failed.
    Over,
}

/// A Sans-IO POP3 client.
///
/// Queue requests with [`send`](Self::send): each returns a [`Handle`], and
/// each gets exactly one [`Event::Response`] with that handle, in order.
/// Nothing is sent before the greeting. When the server's last CAPA listed
/// PIPELINING, transaction commands (STAT, LIST, UIDL, RETR, TOP, DELE,
/// NOOP, RSET, QUIT) go out without waiting, at most
/// [`pipeline_window`](Options::pipeline_window) at a time. Everything else
/// waits for the reply before it.
///
/// RETR and TOP stream: [`Response::MessageStart`], then
/// [`Event::MessageData`] chunks, then [`Response::MessageEnd`]. A 50 MB
/// message never has to be in memory.
///
/// The session ends (`Done(Ok)`) when QUIT is answered. It ends with an
/// error if the server closes first, sends something that is not POP3,
/// greets with `-ERR`, or runs out of time.
///
/// # Time
///
/// The client never reads a clock: time is the `now` of each drain. It owns
/// two deadlines, [`response_timeout`](Options::response_timeout) and
/// [`session_timeout`](Options::session_timeout), and reports the earlier
/// in [`Output::Wait`]. It also reports, as data, when the server's
/// LOGIN-DELAY allows the next login: see
/// [`next_login_allowed`](Self::next_login_allowed). It never waits for it.
///
/// ```
/// use lineproto::Secret;
/// use lineproto::testing::Pair;
/// use pop3_client::client::{Client, Credentials, Event, Options, Request, Response};
/// use pop3_client::server::{self, Mailbox, Server};
///
/// let mailbox = Mailbox::new("john", "doe", vec!["Subject: hi\r\n\r\nHello!\r\n".into()]);
/// let server = Server::new(mailbox, server::Options::default());
///
/// let mut client = Client::new(Options::default());
/// client.send(Request::Login(Credentials::UserPass { user: "john".into(), password: Secret::new(b"doe".to_vec()) }));
/// let stat = client.send(Request::Stat);
/// client.send(Request::Quit);
///
/// let outcome = Pair::new(client, server).run();
/// assert_eq!(outcome.client_result, Some(Ok(())));
/// assert!(outcome.client_events.contains(&Event::Response {
///     handle: stat,
///     response: Response::Stat { count: 1, octets: 23 },
/// }));
/// ```
#[derive(Debug)]
pub struct Client {
    options: Options,
    input: BytesMut,
    eof: bool,
    phase: Phase,
    greeting: Option<Greeting>,
    capabilities: Option<Capabilities>,
    queue: VecDeque<(Handle, Request)>,
    in_flight: VecDeque<(Handle, Awaiting)>,
    body: Option<(MultiLineDecoder, Body)>,
    /// Bytes to send. Commands that carry a secret (PASS, APOP, AUTH) stay
    /// in their own buffers, which are zeroed when dropped; others are
    /// merged so that a pipelined burst is one write.
    outbox: VecDeque<Bytes>,
    events: VecDeque<Event>,
    next_handle: u64,
    quit_answered: bool,
    /// The pipeline window filled up and has not yet drained to half.
    window_full: bool,
    /// The outbox's last buffer holds a secret (and must not be merged).
    last_out_secret: bool,
    failure: Option<Error>,
    /// The first drain's `now`: when the session began.
    started: Option<Instant>,
    /// When the response being awaited started counting against the
    /// response timeout. `None` while nothing is awaited, and right after a
    /// response completed or a message line arrived: the next wait then
    /// starts it at that drain's `now`.
    awaited_since: Option<Instant>,
    /// When the last login succeeded, or was refused with `[LOGIN-DELAY]`:
    /// where the server's login delay counts from.
    login_delay_from: Option<Instant>,
}

impl Client {
    /// Creates a client waiting for the greeting.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            input: BytesMut::new(),
            eof: false,
            phase: Phase::Greeting,
            greeting: None,
            capabilities: None,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            body: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            next_handle: 0,
            quit_answered: false,
            window_full: false,
            last_out_secret: false,
            failure: None,
            started: None,
            awaited_since: None,
            login_delay_from: None,
        }
    }

    /// Queues a request; its response will carry the returned handle.
    /// After the session ended, it is answered `NotSent` at once.
    pub fn send(&mut self, request: Request) -> Handle {
        let handle = Handle(self.next_handle);
        self.next_handle += 1;
        if self.phase == Phase::Over {
            self.respond(handle, Response::NotSent(Error::SessionEnded));
        } else {
            self.queue.push_back((handle, request));
        }
        handle
    }

    /// The greeting, once it has arrived.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last CAPA answer, if any (forgotten after
    /// STLS, as RFC 2595 requires).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// Whether pipelining is in use now.
    pub fn is_pipelining(&self) -> bool {
        self.options.pipelining
            && self
                .capabilities
                .as_ref()
                .is_some_and(Capabilities::pipelining)
    }

    /// How many commands are sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The earliest time a new login to this server may be tried, as the
    /// server's LOGIN-DELAY (RFC 2449 section 6.5) has it, or `None` if no
    /// delay is known.
    ///
    /// RFC 2449 counts the delay from the `+OK` to a PASS, APOP or AUTH
    /// command, so this is the `now` of the drain that read the last
    /// successful login, plus the `LOGIN-DELAY` of the last CAPA (send CAPA
    /// after the login: a value listed before it, tagged `USER`, may differ
    /// per user). A login refused with `[LOGIN-DELAY]` means the previous
    /// one, in another session, was too recent; it counts from the refusal,
    /// which gives a time by which that delay has certainly run out. `None`
    /// until a login has succeeded or been refused that way, and while the
    /// capabilities hold no LOGIN-DELAY (they are forgotten at STLS). The
    /// client only reports this; waiting is up to the application.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lineproto::Secret;
    /// use lineproto::testing::{epoch, timed_transcript};
    /// use pop3_client::client::{Client, Credentials, Options, Request};
    ///
    /// let mut client = Client::new(Options::default());
    /// client.send(Request::Capa);
    /// client.send(Request::Login(Credentials::UserPass { user: "john".into(), password: Secret::new(b"doe".to_vec()) }));
    /// let server = [
    ///     (Duration::ZERO, "+OK ready\r\n+OK\r\nLOGIN-DELAY 900\r\n.\r\n"),
    ///     (Duration::from_secs(1), "+OK\r\n"),
    ///     // Logged in 5 s into the session.
    ///     (Duration::from_secs(5), "+OK logged in\r\n"),
    /// ];
    /// timed_transcript(&mut client, server);
    /// assert_eq!(client.next_login_allowed(), Some(epoch() + Duration::from_secs(905)));
    /// ```
    pub fn next_login_allowed(&self) -> Option<Instant> {
        let delay = self.capabilities.as_ref()?.login_delay()?;
        self.login_delay_from?.checked_add(delay)
    }

    /// Tells the client the transport is now TLS, after
    /// [`Response::StartTls`]. Bytes received before the switch are thrown
    /// away: a man in the middle could have appended them to the plaintext
    /// `+OK` to have them read as if they came over TLS. The capabilities
    /// are forgotten; send CAPA again.
    pub fn tls_established(&mut self) {
        if self.phase == Phase::TlsPending {
            self.input.clear();
            self.capabilities = None;
            self.phase = Phase::Session;
        }
    }

    fn respond(&mut self, handle: Handle, response: Response) {
        self.events.push_back(Event::Response { handle, response });
    }

    fn fail(&mut self, error: Error) {
        if self.failure.is_none() {
            self.failure = Some(error);
        }
        self.finish();
    }

    /// Ends the session. Every request still without an answer gets one:
    /// `Unanswered` if it was sent, `NotSent` if it was not.
    fn finish(&mut self) {
        self.phase = Phase::Over;
        self.body = None;
        let reason = self.failure.clone().unwrap_or(Error::SessionEnded);
        while let Some((handle, _)) = self.in_flight.pop_front() {
            self.respond(handle, Response::Unanswered(reason.clone()));
        }
        while let Some((handle, _)) = self.queue.pop_front() {
            self.respond(handle, Response::NotSent(Error::SessionEnded));
        }
    }

    /// The deadline to wait on, or the timeout error if it has passed.
    fn next_deadline(&mut self, now: Instant, started: Instant) -> Result<Option<Instant>, Error> {
        let response = self.response_deadline(now);
        let session = self.options.session_timeout.and_then(|timeout| {
            // An overflowing deadline is one that never comes.
            Some((
                started.checked_add(timeout)?,
                Error::SessionTimeout { timeout },
            ))
        });
        // The deadline that comes first decides, and names the error.
        let first = match (response, session) {
            (Some(response), Some(session)) if session.0 < response.0 => Some(session),
            (response, session) => response.or(session),
        };
        match first {
            Some((deadline, error)) if now >= deadline => Err(error),
            Some((deadline, _)) => Ok(Some(deadline)),
            None => Ok(None),
        }
    }

    /// When the response being awaited must be complete (or make progress),
    /// and the error if it is not; starts its clock at `now` if it is not
    /// running yet.
    fn response_deadline(&mut self, now: Instant) -> Option<(Instant, Error)> {
        let command = match (self.phase, self.in_flight.front()) {
            (Phase::Greeting, _) => "greeting",
            (Phase::Session, Some((_, awaiting))) => awaiting.command(),
            _ => {
                self.awaited_since = None;
                return None;
            }
        };
        let since = *self.awaited_since.get_or_insert(now);
        let timeout = self.options.response_timeout?;
        Some((
            since.checked_add(timeout)?,
            Error::ResponseTimeout { command, timeout },
        ))
    }

    /// Appends a command line to the outbox (see the field's comment).
    fn queue_line(&mut self, line: Bytes, secret: bool) {
        if !secret {
            if let Some(last) = self.outbox.back_mut().filter(|_| !self.last_out_secret) {
                let mut merged = BytesMut::with_capacity(last.len() + line.len());
                merged.extend_from_slice(last);
                merged.extend_from_slice(&line);
                *last = merged.freeze();
                return;
            }
        }
        self.outbox.push_back(line);
        self.last_out_secret = secret;
    }

    /// Sends queued requests as far as the rules allow.
    fn pump(&mut self) {
        while self.phase == Phase::Session {
            let Some((_, request)) = self.queue.front() else {
                return;
            };
            let busy = !self.in_flight.is_empty();
            let window = self.options.pipeline_window.max(1);
            if self.in_flight.len() >= window {
                self.window_full = true;
            } else if self.in_flight.len() <= window / 2 {
                self.window_full = false;
            }
            if busy {
                // Refill a full window only once half of it is answered:
                // one write of many commands instead of one per reply.
                let window_open = !self.window_full;
                let all_pipelinable = self.in_flight.iter().all(|(_, a)| {
                    matches!(
                        a,
                        Awaiting::Simple(_)
                            | Awaiting::Stat
                            | Awaiting::List(_)
                            | Awaiting::Uidl(_)
                            | Awaiting::Message(_)
                    )
                });
                if !(self.is_pipelining()
                    && request.pipelinable()
                    && all_pipelinable
                    && window_open)
                {
                    return;
                }
            }
            if self
                .in_flight
                .iter()
                .any(|(_, a)| matches!(a, Awaiting::Quit))
            {
                return;
            }
            let Some((handle, request)) = self.queue.pop_front() else {
                return;
            };
            match self.command_for(request) {
                Ok((command, awaiting)) => match command.encode() {
                    Ok(line) => {
                        let secret = carries_secret(&command);
                        self.queue_line(line, secret);
                        self.in_flight.push_back((handle, awaiting));
                    }
                    Err(error) => self.respond(handle, Response::NotSent(error)),
                },
                Err(error) => self.respond(handle, Response::NotSent(error)),
            }
        }
    }

    /// The first command of a request, and what it waits for.
    fn command_for(&self, request: Request) -> Result<(Command, Awaiting), Error> {
        Ok(match request {
            Request::Capa => (Command::Capa, Awaiting::Capa),
            Request::Stls => (Command::Stls, Awaiting::Stls),
            Request::Login(Credentials::UserPass { user, password }) => {
                // Check PASS before USER goes out, so a bad password cannot
                // fail the session halfway through the request.
                Command::Pass(password.clone()).encode()?;
                (Command::User(user), Awaiting::User(password))
            }
            Request::Login(Credentials::Sasl(mechanism)) => auth(mechanism)?,
            Request::Login(Credentials::Apop { user, password }) => {
                let timestamp = self
                    .greeting
                    .as_ref()
                    .and_then(|g| g.apop_timestamp.as_ref())
                    .ok_or(Error::NoApopTimestamp)?;
                let digest = apop_digest(timestamp, password.expose());
                (
                    Command::Apop {
                        user,
                        digest: Secret::new(digest),
                    },
                    Awaiting::Login("APOP"),
                )
            }
            Request::Utf8 => (Command::Utf8, Awaiting::Setting("UTF8")),
            Request::Lang(None) => (Command::Lang(None), Awaiting::Languages),
            Request::Lang(Some(tag)) => (Command::Lang(Some(tag)), Awaiting::Setting("LANG")),
            Request::Stat => (Command::Stat, Awaiting::Stat),
            Request::List(n) => (Command::List(n), Awaiting::List(n)),
            Request::Uidl(n) => (Command::Uidl(n), Awaiting::Uidl(n)),
            Request::Retr(n) => (Command::Retr(n), Awaiting::Message("RETR")),
            Request::Top { message, lines } => {
                (Command::Top(message, lines), Awaiting::Message("TOP"))
            }
            Request::Dele(n) => (Command::Dele(n), Awaiting::Simple("DELE")),
            Request::Noop => (Command::Noop, Awaiting::Simple("NOOP")),
            Request::Rset => (Command::Rset, Awaiting::Simple("RSET")),
            Request::Quit => (Command::Quit, Awaiting::Quit),
        })
    }

    /// Takes one line (without its line end) from the input, if complete.
    fn take_line(&mut self) -> Result<Option<Bytes>, Error> {
        let limit = self.options.max_line_len;
        let search = &self.input[..self.input.len().min(limit.saturating_add(2))];
        match memchr::memchr(b'\n', search) {
            Some(newline) => {
                let mut line = self.input.split_to(newline + 1);
                line.truncate(newline);
                if line.last() == Some(&b'\r') {
                    line.truncate(newline - 1);
                }
                if line.len() > limit {
                    return Err(Error::LineTooLong { limit });
                }
                Ok(Some(line.freeze()))
            }
            None if self.input.len() > limit.saturating_add(1) => Err(Error::LineTooLong { limit }),
            None => Ok(None),
        }
    }

    /// Decodes what the input holds, as of `now`; returns whether anything
    /// happened.
    fn read(&mut self, now: Instant) -> Result<bool, Error> {
        if let Some((decoder, body)) = &mut self.body {
            return match decoder.decode(&mut self.input) {
                Decoded::NeedMore => Ok(false),
                Decoded::Data(chunk) => {
                    match body {
                        Body::Message => {
                            let handle = self
                                .in_flight
                                .front()
                                .map(|(h, _)| *h)
                                .ok_or(Error::UnexpectedData)?;
                            // A complete line is progress: the response
                            // timeout starts again (see the option).
                            if memchr::memrchr(b'\n', &chunk).is_some() {
                                self.awaited_since = None;
                            }
                            self.events.push_back(Event::MessageData { handle, chunk });
                        }
                        Body::Listing { data, .. } => {
                            if data.len() + chunk.len() > self.options.max_listing_len {
                                return Err(Error::ListingTooLong {
                                    limit: self.options.max_listing_len,
                                });
                            }
                            data.extend_from_slice(&chunk);
                        }
                    }
                    Ok(true)
                }
                Decoded::End => {
                    let Some((_, body)) = self.body.take() else {
                        return Ok(true);
                    };
                    let (handle, _) = self.in_flight.pop_front().ok_or(Error::UnexpectedData)?;
                    self.awaited_since = None;
                    let response = match body {
                        Body::Message => Response::MessageEnd,
                        Body::Listing { kind, data } => match listing(kind, &data) {
                            Ok(response) => response,
                            Err(error) => {
                                self.respond(handle, Response::Unanswered(error.clone()));
                                return Err(error);
                            }
                        },
                    };
                    if let Response::Capabilities(caps) = &response {
                        self.capabilities = Some(caps.clone());
                    }
                    self.respond(handle, response);
                    Ok(true)
                }
            };
        }
        let Some(line) = self.take_line()? else {
            return Ok(false);
        };
        if self.phase == Phase::Greeting {
            let greeting = Greeting::parse(&line)?;
            let refused = !greeting.line.is_ok();
            self.greeting = Some(greeting.clone());
            self.awaited_since = None;
            self.events.push_back(Event::Greeting(greeting.clone()));
            if refused {
                self.fail(Error::Refused(ServerError::from_line(
                    "greeting",
                    greeting.line,
                )));
            } else {
                self.phase = Phase::Session;
            }
            return Ok(true);
        }
        let Some((handle, awaiting)) = self.in_flight.pop_front() else {
            return Err(Error::UnexpectedData);
        };
        if let Err(error) = self.on_reply(handle, awaiting, &line, now) {
            self.respond(handle, Response::Unanswered(error.clone()));
            return Err(error);
        }
        // A reply line completes a response, except the `+OK` that opens a
        // listing: a listing must be complete within one timeout.
        if !matches!(self.body, Some((_, Body::Listing { .. }))) {
            self.awaited_since = None;
        }
        Ok(true)
    }

    /// Handles the reply line to the oldest command in flight, read at `now`.
    fn on_reply(
        &mut self,
        handle: Handle,
        awaiting: Awaiting,
        line: &[u8],
        now: Instant,
    ) -> Result<(), Error> {
        // SASL challenges: `+ base64`.
        if line.starts_with(b"+ ") || line == b"+" {
            return self.on_challenge(handle, awaiting, line.get(2..).unwrap_or_default());
        }
        let status = StatusLine::parse(line)?;
        if !status.is_ok() {
            let command = awaiting.command();
            if awaiting.is_login() && status.code == Some(ResponseCode::LoginDelay) {
                self.login_delay_from = Some(now);
            }
            if matches!(awaiting, Awaiting::Quit) {
                self.quit_answered = true;
            }
            let refused_tls = matches!(awaiting, Awaiting::Stls);
            let error = ServerError::from_line(command, status);
            if let Awaiting::Auth(exchange) = awaiting {
                if let Some(cancelled) = exchange.cancelled {
                    self.respond(
                        handle,
                        Response::AuthCancelled {
                            error: cancelled,
                            reply: error,
                        },
                    );
                    return Ok(());
                }
            }
            self.respond(handle, Response::Rejected(error.clone()));
            if refused_tls {
                // Commands queued behind STLS (a login, typically) were meant
                // to go over TLS: never send them in clear.
                self.fail(Error::StartTlsRefused(error));
            }
            return Ok(());
        }
        match awaiting {
            Awaiting::User(password) => {
                // PASS goes out at once; the request's answer is PASS's.
                let line = Command::Pass(password).encode()?;
                self.queue_line(line, true);
                self.in_flight.push_front((handle, Awaiting::Login("PASS")));
            }
            Awaiting::Stls => {
                self.phase = Phase::TlsPending;
                // Anything already buffered came in plaintext after the
                // +OK: never read it as TLS-protected data.
                self.input.clear();
                self.respond(handle, Response::StartTls);
            }
            Awaiting::Auth(mut exchange) => {
                if let Some(error) = exchange.cancelled {
                    // The server let the client in after `*`: nothing
                    // the mechanism checked can be trusted.
                    return Err(Error::Sasl(error));
                }
                // A server that did not prove itself (SCRAM) is not one to
                // go on talking to.
                exchange.mechanism.finish().map_err(Error::Sasl)?;
                self.login_delay_from = Some(now);
                self.respond(handle, Response::Ok(status));
            }
            Awaiting::Login(_) => {
                self.login_delay_from = Some(now);
                self.respond(handle, Response::Ok(status));
            }
            Awaiting::Setting(_) | Awaiting::Simple(_) => {
                self.respond(handle, Response::Ok(status))
            }
            Awaiting::Stat => {
                let (count, octets) = parse_stat(&status.text)?;
                self.respond(handle, Response::Stat { count, octets });
            }
            Awaiting::List(Some(_)) => {
                let (n, size) = parse_scan_listing(&status.text)?;
                self.respond(handle, Response::Scan(n, size));
            }
            Awaiting::Uidl(Some(_)) => {
                let (n, id) = split_unique_id_listing(&status.text)?;
                self.respond(handle, Response::UniqueId(n, id));
            }
            kind @ (Awaiting::Capa
            | Awaiting::Languages
            | Awaiting::List(None)
            | Awaiting::Uidl(None)) => {
                self.in_flight
                    .push_front((handle, Awaiting::Simple(kind.command())));
                self.body = Some((
                    MultiLineDecoder::default(),
                    Body::Listing {
                        kind,
                        data: Vec::new(),
                    },
                ));
            }
            Awaiting::Message(name) => {
                self.in_flight.push_front((handle, Awaiting::Simple(name)));
                self.body = Some((MultiLineDecoder::default(), Body::Message));
                self.respond(handle, Response::MessageStart(status));
            }
            Awaiting::Quit => {
                self.quit_answered = true;
                self.respond(handle, Response::Ok(status));
            }
        }
        Ok(())
    }

    /// Answers a SASL challenge (`+ base64`).
    fn on_challenge(
        &mut self,
        handle: Handle,
        awaiting: Awaiting,
        challenge: &[u8],
    ) -> Result<(), Error> {
        let Awaiting::Auth(mut exchange) = awaiting else {
            return Err(Error::Malformed {
                what: "unexpected continuation",
            });
        };
        if exchange.cancelled.is_some() {
            // RFC 5034: `*` is answered with -ERR, nothing else.
            return Err(Error::Malformed {
                what: "SASL challenge after cancellation",
            });
        }
        let line = match exchange.held.take() {
            // The initial response that did not fit the AUTH line answers
            // the first challenge, which carries nothing.
            Some(initial) => initial,
            None => {
                let answer = match unbase64(challenge) {
                    Some(decoded) => exchange.mechanism.step(&decoded),
                    None => Err(sasl::Error::MalformedChallenge {
                        what: "base64 challenge",
                    }),
                };
                match answer {
                    Ok(response) => Secret::new(base64(response.expose()).to_vec()),
                    Err(error) => {
                        exchange.cancelled = Some(error);
                        Secret::new(b"*".to_vec())
                    }
                }
            }
        };
        let line = Command::SaslResponse(line).encode()?;
        self.queue_line(line, true);
        self.in_flight
            .push_front((handle, Awaiting::Auth(exchange)));
        Ok(())
    }
}

/// The AUTH command for a mechanism, and what it waits for.
fn auth(mut mechanism: Box<dyn Mechanism>) -> Result<(Command, Awaiting), Error> {
    let name = mechanism.name().to_owned();
    if !sasl::is_mechanism_name(&name) {
        return Err(Error::Sasl(sasl::Error::InvalidName));
    }
    let initial = mechanism
        .initial_response()
        .map_err(Error::Sasl)?
        .map(|initial| match initial.expose().is_empty() {
            // RFC 5034: an empty initial response is sent as `=`.
            true => Secret::new(b"=".to_vec()),
            false => Secret::new(base64(initial.expose()).to_vec()),
        });
    // RFC 5034: the initial response must fit the 255-octet command line;
    // one that does not answers the server's empty challenge. Sending it
    // anyway is what makes Office 365 answer `-ERR Protocol error`.
    let fits = |initial: &Secret<Vec<u8>>| {
        "AUTH ".len() + name.len() + 1 + initial.expose().len() + 2 <= MAX_COMMAND_LEN
    };
    let (initial, held) = match initial {
        Some(initial) if fits(&initial) => (Some(initial), None),
        held => (None, held),
    };
    let exchange = Exchange {
        command: sasl::auth_command(&name),
        mechanism,
        held,
        cancelled: None,
    };
    Ok((
        Command::Auth {
            mechanism: name,
            initial,
        },
        Awaiting::Auth(Box::new(exchange)),
    ))
}

/// Parses a collected listing.
fn listing(kind: Awaiting, data: &[u8]) -> Result<Response, Error> {
    let lines = data
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty());
    Ok(match kind {
        Awaiting::Capa => Response::Capabilities(Capabilities::parse(lines)?),
        // `tag SP description`, e.g. `en English`.
        Awaiting::Languages => Response::Languages(
            lines
                .map(|line| match memchr::memchr(b' ', line) {
                    Some(space) => (
                        Bytes::copy_from_slice(&line[..space]),
                        Bytes::copy_from_slice(&line[space + 1..]),
                    ),
                    None => (Bytes::copy_from_slice(line), Bytes::new()),
                })
                .collect(),
        ),
        Awaiting::List(_) => {
            Response::Listing(lines.map(parse_scan_listing).collect::<Result<_, _>>()?)
        }
        _ => Response::UniqueIds(
            lines
                .map(split_unique_id_listing)
                .collect::<Result<_, _>>()?,
        ),
    })
}

impl Machine for Client {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        // Before the TLS switch, and after the end, input is not read.
        if matches!(self.phase, Phase::Greeting | Phase::Session) {
            self.input.extend_from_slice(bytes);
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        let started = *self.started.get_or_insert(now);
        loop {
            if let Some(bytes) = self.outbox.pop_front() {
                return Output::Transmit(bytes);
            }
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            match self.phase {
                Phase::Over => return Output::Done(self.failure.clone().map_or(Ok(()), Err)),
                Phase::TlsPending if self.eof => {
                    self.fail(Error::UnexpectedEof);
                    continue;
                }
                // Waiting for the driver's handshake: only the session
                // deadline runs.
                Phase::TlsPending => {}
                Phase::Greeting | Phase::Session => {
                    if self.quit_answered && self.in_flight.is_empty() {
                        self.finish();
                        continue;
                    }
                    self.pump();
                    if !self.outbox.is_empty() || !self.events.is_empty() {
                        continue;
                    }
                    match self.read(now) {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(error) => {
                            self.fail(error);
                            continue;
                        }
                    }
                    if self.eof {
                        self.fail(Error::UnexpectedEof);
                        continue;
                    }
                }
            }
            // Drained. Deadlines are looked at only now, after everything
            // that had arrived was read: a response that is complete by
            // this drain's `now` counts as in time.
            match self.next_deadline(now, started) {
                Ok(deadline) => return Output::Wait { deadline },
                Err(error) => self.fail(error),
            }
        }
    }
}

/// Whether a command line holds a secret (or something crackable offline).
fn carries_secret(command: &Command) -> bool {
    matches!(
        command,
        Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } | Command::SaslResponse(_)
    )
}
