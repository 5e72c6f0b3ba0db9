//! The POP3 client machine: AUTHORIZATION, TRANSACTION and UPDATE, with
//! queued requests answered in order and pipelining when the server allows.
//!
//! Split by concern: [`Request`] and [`Requested`] (what is asked, and the
//! one table of facts about each command) in `request`, [`Response`] and
//! [`Event`] (what comes back) in `response`, turning requests into
//! command lines in `send`, and reading replies in `receive`. This module
//! holds the machine's state, its time and its end.

mod receive;
mod request;
mod response;
mod send;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{Machine, Output, Secret};

pub use request::{Credentials, Request, Requested};
pub use response::{Event, Response, ServerError};

use crate::Error;
use crate::body::MultiLineDecoder;
use crate::codec::{Capabilities, Greeting, StatusLine};
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
///
/// A handle belongs to the client that made it: handles of two clients
/// never compare equal, so an answer cannot be matched to another
/// session's request by mistake.
///
/// ```
/// use pop3_client::client::{Client, Options, Request};
///
/// let mut first = Client::new(Options::default());
/// let mut second = Client::new(Options::default());
/// assert_ne!(first.send(Request::Stat), second.send(Request::Stat));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    client: u64,
    sequence: u64,
}

impl Handle {
    /// The request's place among its client's requests, from 0: what two
    /// runs of the same requests have in common.
    ///
    /// ```
    /// use pop3_client::client::{Client, Options, Request};
    ///
    /// let mut client = Client::new(Options::default());
    /// client.send(Request::Capa);
    /// assert_eq!(client.send(Request::Stat).sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

/// Numbers the clients of this process, for their handles.
static NEXT_CLIENT: AtomicU64 = AtomicU64::new(0);

/// A sent command: what it asked and how far its answer has come.
#[derive(Debug)]
struct InFlight {
    handle: Handle,
    requested: Requested,
    stage: Stage,
}

impl InFlight {
    /// The command whose reply is awaited, for errors: a login's step may
    /// be later than its first command.
    fn command(&self) -> &'static str {
        match self.stage {
            Stage::User(_) => "USER",
            Stage::Pass => "PASS",
            _ => self.requested.command(),
        }
    }
}

/// Where the answer to a sent command stands.
#[derive(Debug)]
enum Stage {
    /// Waiting for the status line.
    Reply,
    /// USER was sent; PASS follows on `+OK`.
    User(Secret<Vec<u8>>),
    /// PASS was sent: `+OK` means logged in.
    Pass,
    /// AUTH: challenges until `+OK` or `-ERR`.
    Auth(Box<Exchange>),
    /// `+OK` came; the listing is collected, to be parsed at its end.
    Listing {
        decoder: MultiLineDecoder,
        data: Vec<u8>,
    },
    /// `+OK` came; the message streams out as it arrives.
    Message {
        decoder: MultiLineDecoder,
        status: StatusLine,
        octets: u64,
    },
}

/// A SASL exchange in progress.
#[derive(Debug)]
struct Exchange {
    mechanism: Box<dyn Mechanism>,
    /// The initial response, base64, when it did not fit the AUTH line:
    /// it answers the server's first (empty) challenge.
    held: Option<Secret<Vec<u8>>>,
    /// The mechanism failed on a challenge and `*` went out; the server's
    /// `-ERR` is the answer, with this error.
    cancelled: Option<sasl::Error>,
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
/// each gets exactly one [`Event::Response`] with that handle, in order,
/// naming what was [`Requested`]. Nothing is sent before the greeting.
/// When the server's last CAPA listed PIPELINING, transaction commands
/// (STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET, QUIT) go out without
/// waiting, at most [`pipeline_window`](Options::pipeline_window) at a
/// time. Everything else waits for the reply before it.
///
/// RETR and TOP stream: [`Event::MessageData`] chunks as the message
/// arrives, then its one [`Response::Message`]. A 50 MB message never has
/// to be in memory.
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
/// use pop3_client::client::{Client, Credentials, Event, Options, Request, Requested, Response};
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
///     requested: Requested::Stat,
///     response: Response::Stat { count: 1, octets: 23 },
/// }));
/// ```
#[derive(Debug)]
pub struct Client {
    options: Options,
    /// This client's number, in each of its handles.
    id: u64,
    input: BytesMut,
    eof: bool,
    phase: Phase,
    greeting: Option<Greeting>,
    capabilities: Option<Capabilities>,
    queue: VecDeque<(Handle, Requested, Request)>,
    in_flight: VecDeque<InFlight>,
    /// Bytes to send. Commands that carry a secret (PASS, APOP, AUTH) stay
    /// in their own buffers, which are zeroed when dropped; others are
    /// merged so that a pipelined burst is one write.
    outbox: VecDeque<Bytes>,
    events: VecDeque<Event>,
    next_sequence: u64,
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
            id: NEXT_CLIENT.fetch_add(1, Ordering::Relaxed),
            input: BytesMut::new(),
            eof: false,
            phase: Phase::Greeting,
            greeting: None,
            capabilities: None,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            next_sequence: 0,
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
        let handle = Handle {
            client: self.id,
            sequence: self.next_sequence,
        };
        self.next_sequence += 1;
        let requested = request.requested();
        if self.phase == Phase::Over {
            self.respond(handle, requested, Response::NotSent(Error::SessionEnded));
        } else {
            self.queue.push_back((handle, requested, request));
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

    fn respond(&mut self, handle: Handle, requested: Requested, response: Response) {
        self.events.push_back(Event::Response {
            handle,
            requested,
            response,
        });
    }

    /// Answers a sent command, which is no longer in flight.
    fn answer(&mut self, flight: InFlight, response: Response) {
        self.respond(flight.handle, flight.requested, response);
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
        let reason = self.failure.clone().unwrap_or(Error::SessionEnded);
        while let Some(flight) = self.in_flight.pop_front() {
            self.answer(flight, Response::Unanswered(reason.clone()));
        }
        while let Some((handle, requested, _)) = self.queue.pop_front() {
            self.respond(handle, requested, Response::NotSent(Error::SessionEnded));
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
            (Phase::Session, Some(flight)) => flight.command(),
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
