//! The server side of the auth exchange: one `user:password` line in, one
//! code out.
//!
//! Two servers read and answer the same way, byte for byte, and differ in
//! who verifies the password:
//!
//! * [`Server`] calls a [`Verifier`] inside `poll_output`. Simple, and
//!   right for a driver with a thread per connection.
//! * [`DeferredServer`] hands the attempt to the application as
//!   [`DeferredEvent::Attempt`] and waits until the application calls
//!   [`DeferredServer::judge`]. An async driver runs the costly
//!   verification off its workers (a blocking pool), and can bound how many
//!   run at once with a [`VerifyBudget`](crate::VerifyBudget).

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::{Machine, Output, Secret};
use zeroize::{Zeroize, Zeroizing};

use crate::{Outcome, WireCode};

/// Why a server's exchange ended without a code.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request line did not arrive within
    /// [`request_timeout`](Options::request_timeout) of the start of the
    /// exchange.
    #[error("request not complete within {timeout:?}")]
    RequestTimeout {
        /// The deadline, from the start of the exchange.
        timeout: Duration,
    },
    /// A [`DeferredServer`]'s application gave no verdict within
    /// [`judge_timeout`](Options::judge_timeout) of the request.
    #[error("no verdict within {timeout:?} of the request")]
    JudgeTimeout {
        /// The deadline, from receipt of the request.
        timeout: Duration,
    },
}

/// [`DeferredServer::judge`] was called with no attempt waiting for a
/// verdict: a bug in the application, not something a peer can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no attempt is waiting for a verdict")]
pub struct NoAttemptPending;

/// Judges one attempt: gets the user name and the password, returns the
/// outcome. Any `FnMut(&[u8], &[u8]) -> Outcome` closure is a verifier; it
/// typically calls [`Authenticator::authenticate`](crate::Authenticator::authenticate)
/// with today's date.
///
/// ```
/// use passwd_auth::Outcome;
/// use passwd_auth::server::Verifier;
///
/// struct OnlyJohn;
///
/// impl Verifier for OnlyJohn {
///     fn verify(&mut self, user: &[u8], password: &[u8]) -> Outcome {
///         match (user, password) {
///             (b"john", b"doe") => Outcome::Authenticated,
///             (b"john", _) => Outcome::WrongPassword,
///             _ => Outcome::UnknownUser,
///         }
///     }
/// }
///
/// assert_eq!(OnlyJohn.verify(b"john", b"doe"), Outcome::Authenticated);
/// ```
pub trait Verifier {
    /// Judges `user` and `password`.
    fn verify(&mut self, user: &[u8], password: &[u8]) -> Outcome;
}

impl<F: FnMut(&[u8], &[u8]) -> Outcome> Verifier for F {
    fn verify(&mut self, user: &[u8], password: &[u8]) -> Outcome {
        self(user, password)
    }
}

/// Settings of a [`Server`] or a [`DeferredServer`].
///
/// ```
/// use std::time::Duration;
/// use passwd_auth::server::Options;
///
/// let mut options = Options::default();
/// options.failure_delay = Duration::from_secs(2);
/// options.judge_timeout = Duration::from_secs(5);
/// assert_eq!(options.request_timeout, Some(Duration::from_secs(10)));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The longest request line, terminator not counted. Default: 1024, the
    /// article's read size (a user name plus a 511-byte password fit); at
    /// most 64 KiB.
    pub max_line_len: usize,
    /// Answer `0` for an unknown user instead of the article's `-1`, so
    /// the reply does not tell whether the user exists. Default: no.
    pub uniform_unknown_user: bool,
    /// How long the whole request line may take to arrive, from the start
    /// of the exchange (not per read). Then the exchange ends with
    /// [`Error::RequestTimeout`] and no code. `None` waits forever.
    /// Default: 10 s.
    pub request_timeout: Option<Duration>,
    /// How long every code but `1` is held, counted from receipt of the
    /// request (the drain at which the line was complete; [`Server`]
    /// judges at that drain too). The machine holds it on its own timer,
    /// so a thousand delayed failures cost no thread each. An application
    /// can lengthen one reply's delay with [`Server::delay_reply`] (to add
    /// jitter, say). Default: none.
    pub failure_delay: Duration,
    /// [`DeferredServer`] only: how long the application may take to call
    /// [`DeferredServer::judge`], from receipt of the request. Then the
    /// exchange ends with [`Error::JudgeTimeout`] and no code, so that an
    /// application that never answers cannot hold a connection open.
    /// Keep it above the longest verification plus the longest wait for a
    /// turn in a [`VerifyBudget`](crate::VerifyBudget)'s queue. [`Server`]
    /// ignores it. Default: 30 s.
    pub judge_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_line_len: 1024,
            uniform_unknown_user: false,
            request_timeout: Some(Duration::from_secs(10)),
            failure_delay: Duration::ZERO,
            judge_timeout: Duration::from_secs(30),
        }
    }
}

/// What the server tells its application.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use passwd_auth::server::{Event, Options, Server};
/// use passwd_auth::{Outcome, WireCode};
///
/// let server = Server::new(Options::default(), |_: &[u8], _: &[u8]| Outcome::WrongPassword);
/// let steps = transcript(server, [b"john:guess\n"], false);
/// let Step::Event(Event::Verdict { user, outcome, code }) = &steps[0] else { unreachable!() };
/// assert_eq!((&user[..], outcome, *code), (&b"john"[..], &Outcome::WrongPassword, WireCode::Rejected));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An attempt was judged; the code goes out next, once any delay has
    /// run out ([`Options::failure_delay`], [`Server::delay_reply`]).
    Verdict {
        /// The user name as sent (bytes; not necessarily UTF-8).
        user: Bytes,
        /// The verdict.
        outcome: Outcome,
        /// What is about to be sent.
        code: WireCode,
    },
}

/// What a [`DeferredServer`] tells its application.
///
/// `Debug` never shows the password: it is a [`Secret`].
///
/// ```
/// use lineproto::Secret;
/// use passwd_auth::server::DeferredEvent;
///
/// let attempt = DeferredEvent::Attempt {
///     user: "john".into(),
///     password: Secret::new(b"hunter2".to_vec()),
/// };
/// let shown = format!("{attempt:?}");
/// assert!(shown.contains("john") && !shown.contains("hunter2"));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeferredEvent {
    /// A well-formed request arrived: verify it (off the driver's workers,
    /// if verification is costly) and call [`DeferredServer::judge`]
    /// within [`Options::judge_timeout`]. A malformed request never comes
    /// as an attempt: the server judges it
    /// [`MalformedRequest`](Outcome::MalformedRequest) itself.
    Attempt {
        /// The user name as sent (bytes; not necessarily UTF-8).
        user: Bytes,
        /// The password as sent: the server's only copy (its request
        /// buffer is zeroed as this is made), zeroed when dropped.
        password: Secret<Vec<u8>>,
    },
    /// The attempt was judged; the code goes out next, once any delay has
    /// run out ([`Options::failure_delay`], [`DeferredServer::delay_reply`]).
    Verdict {
        /// The user name as sent.
        user: Bytes,
        /// The verdict.
        outcome: Outcome,
        /// What is about to be sent.
        code: WireCode,
    },
}

/// A verdict about to be reported, before it becomes a server's event.
struct Verdict {
    user: Bytes,
    outcome: Outcome,
    code: WireCode,
}

/// What reading the request found at a drain.
enum Read {
    /// Not complete yet: wait for the peer until this deadline.
    Wait(Option<Instant>),
    /// Complete: the user name is `..colon` of the buffer and the password
    /// `colon + 1..end`; `None` if the request is malformed.
    Request(Option<(usize, usize)>),
    /// No request will come (end of input first, or the deadline passed).
    Over,
}

/// What is left to report and send once the request is read.
enum Reply {
    /// Nothing decided yet.
    Undecided,
    /// The verdict's event, then its code.
    Verdict(Verdict),
    /// The code, once held long enough.
    Code(WireCode),
    /// Nothing: the exchange is over.
    Done,
}

/// What both servers share: the request buffer and its parsing, the
/// request deadline, the failure hold and the reply. Only who judges the
/// request differs between them.
struct Exchange {
    options: Options,
    /// Capacity fixed at creation: it never reallocates, so no stray copy
    /// of a password is left in freed memory.
    request: Zeroizing<Vec<u8>>,
    /// How much of `request` is known to hold no LF.
    scanned: usize,
    /// More than the limit arrived without a LF.
    overflowed: bool,
    eof: bool,
    /// When the request must be complete (`Some(None)`: never); set at the
    /// first drain.
    deadline: Option<Option<Instant>>,
    /// The drain at which the request line was complete: holds count from
    /// here.
    received_at: Option<Instant>,
    /// The code is not sent before this.
    hold_until: Option<Instant>,
    reply: Reply,
    result: Result<(), Error>,
}

impl Exchange {
    fn new(options: Options) -> Self {
        // The limit, a CR and a LF; the buffer is allocated once and never
        // grows, so the limit is capped at 64 KiB.
        let mut options = options;
        options.max_line_len = options.max_line_len.min(64 * 1024);
        let capacity = options.max_line_len + 2;
        Self {
            request: Zeroizing::new(Vec::with_capacity(capacity)),
            options,
            scanned: 0,
            overflowed: false,
            eof: false,
            deadline: None,
            received_at: None,
            hold_until: None,
            reply: Reply::Undecided,
            result: Ok(()),
        }
    }

    /// Whether the request is still being read.
    fn reading(&self) -> bool {
        self.received_at.is_none() && matches!(self.reply, Reply::Undecided)
    }

    fn handle_input(&mut self, bytes: &[u8]) {
        if !self.reading() || self.overflowed {
            return;
        }
        let room = self.request.capacity() - self.request.len();
        if bytes.len() > room {
            // Keep what fits (a LF in it still ends the line in time),
            // and remember that more came.
            self.request.extend_from_slice(&bytes[..room]);
            if memchr::memchr(b'\n', &self.request[self.scanned..]).is_none() {
                self.overflowed = true;
            }
        } else {
            self.request.extend_from_slice(bytes);
        }
    }

    /// The request line without its terminator, once complete.
    fn complete_line(&mut self) -> Option<Result<usize, ()>> {
        if self.overflowed {
            return Some(Err(()));
        }
        if let Some(offset) = memchr::memchr(b'\n', &self.request[self.scanned..]) {
            let newline = self.scanned + offset;
            let end = if newline > 0 && self.request[newline - 1] == b'\r' {
                newline - 1
            } else {
                newline
            };
            return Some(if end > self.options.max_line_len {
                Err(())
            } else {
                Ok(end)
            });
        }
        self.scanned = self.request.len();
        if self.eof && !self.request.is_empty() {
            let end = self.request.len();
            return Some(if end > self.options.max_line_len {
                Err(())
            } else {
                Ok(end)
            });
        }
        None
    }

    /// Reads the request as of `now`; call only while [`reading`](Self::reading).
    fn read(&mut self, now: Instant) -> Read {
        let timeout = self.options.request_timeout;
        let deadline = *self
            .deadline
            .get_or_insert_with(|| timeout.and_then(|timeout| now.checked_add(timeout)));
        match self.complete_line() {
            Some(line) => {
                self.received_at = Some(now);
                Read::Request(line.ok().and_then(|end| {
                    memchr::memchr(b':', &self.request[..end]).map(|colon| (colon, end))
                }))
            }
            None if self.eof => {
                self.reply = Reply::Done;
                Read::Over
            }
            None => match (deadline, timeout) {
                (Some(deadline), Some(timeout)) if now >= deadline => {
                    self.fail(Error::RequestTimeout { timeout });
                    Read::Over
                }
                _ => Read::Wait(deadline),
            },
        }
    }

    /// Ends the exchange with `error` and no code.
    fn fail(&mut self, error: Error) {
        self.request.zeroize();
        self.result = Err(error);
        self.reply = Reply::Done;
    }

    /// Records the verdict on the received request: its event and code come
    /// next, a refusal held until receipt plus the failure delay.
    fn decide(&mut self, user: Bytes, outcome: Outcome) {
        // The password is needed no longer: zero it now rather than when
        // the machine is dropped, after any delay.
        self.request.zeroize();
        let code = outcome.wire_code(self.options.uniform_unknown_user);
        if code != WireCode::Accepted && !self.options.failure_delay.is_zero() {
            self.hold(self.options.failure_delay);
        }
        self.reply = Reply::Verdict(Verdict {
            user,
            outcome,
            code,
        });
    }

    /// Holds the code until `delay` after receipt, or longer if already
    /// held longer; once the code is sent (or the exchange is over without
    /// one) it does nothing.
    fn hold(&mut self, delay: Duration) {
        let Some(until) = self.received_at.and_then(|at| at.checked_add(delay)) else {
            return;
        };
        if !matches!(self.reply, Reply::Done) {
            self.hold_until = Some(self.hold_until.map_or(until, |held| held.max(until)));
        }
    }

    /// The verdict's event, the code once held long enough, then `Done`.
    fn poll_reply(&mut self, now: Instant) -> Output<Verdict, Error> {
        match std::mem::replace(&mut self.reply, Reply::Done) {
            Reply::Verdict(verdict) => {
                self.reply = Reply::Code(verdict.code);
                Output::Event(verdict)
            }
            Reply::Code(code) => match self.hold_until {
                Some(until) if now < until => {
                    self.reply = Reply::Code(code);
                    Output::Wait {
                        deadline: Some(until),
                    }
                }
                _ => Output::Transmit(Bytes::from_static(code.as_str().as_bytes())),
            },
            // Not reached: both servers decide before polling the reply.
            // Waiting with no timer is the harmless answer if it were.
            Reply::Undecided => {
                self.reply = Reply::Undecided;
                Output::Wait { deadline: None }
            }
            Reply::Done => Output::Done(self.result.clone()),
        }
    }

    /// The fields both servers show in `Debug`: never the request's bytes.
    fn debug_fields(&self, f: &mut fmt::DebugStruct<'_, '_>, received: &str) {
        f.field("options", &self.options)
            .field("request", &Secret::new(Vec::<u8>::new()))
            .field("buffered", &self.request.len())
            .field("overflowed", &self.overflowed)
            .field("eof", &self.eof)
            .field(received, &self.received_at)
            .field("hold_until", &self.hold_until);
    }
}

/// Turns a verdict into the event of one server or the other, and leaves
/// the other outputs as they are.
fn map_verdict<E>(
    output: Output<Verdict, Error>,
    event: impl FnOnce(Verdict) -> E,
) -> Output<E, Error> {
    match output {
        Output::Event(verdict) => Output::Event(event(verdict)),
        Output::Transmit(bytes) => Output::Transmit(bytes),
        Output::Wait { deadline } => Output::Wait { deadline },
        Output::Done(result) => Output::Done(result),
    }
}

/// Reads one `user:password` line, answers the code, and closes.
///
/// The line ends at the first LF (a CR before it is dropped too), or at end
/// of input. It is split at the *first* `:`; nothing else is stripped, since
/// passwords may contain `:` and spaces. The answer is `1`, `0` or `-1`
/// with no line end, as the article's server writes it. A request without a
/// `:` or over the limit is answered `0`. A peer that sends nothing gets
/// nothing.
///
/// The request is held in a buffer of fixed capacity that is zeroed when
/// the machine is dropped, and the password reaches the verifier as a
/// borrowed slice of it: no copy of the password is left behind.
///
/// The verifier runs inside `poll_output`, on the driver's thread. Under an
/// async driver, or to bound how many verifications run at once, use a
/// [`DeferredServer`] instead.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use passwd_auth::server::{Event, Options, Server};
/// use passwd_auth::{Outcome, WireCode};
///
/// let verifier = |user: &[u8], password: &[u8]| match (user, password) {
///     (b"john", b"doe: with spaces ") => Outcome::Authenticated,
///     (b"john", _) => Outcome::WrongPassword,
///     _ => Outcome::UnknownUser,
/// };
/// let steps = transcript(Server::new(Options::default(), verifier), [b"john:doe: with spaces \r\n"], false);
/// assert_eq!(steps, [
///     Step::Event(Event::Verdict { user: "john".into(), outcome: Outcome::Authenticated, code: WireCode::Accepted }),
///     Step::Transmit("1".into()),
///     Step::Done(Ok(())),
/// ]);
/// ```
pub struct Server<V> {
    /// The same machine, judged at once: one exchange, two drivers of it.
    inner: DeferredServer,
    verifier: V,
}

impl<V: Verifier> Server<V> {
    /// Creates a server that judges the attempt with `verifier`.
    ///
    /// ```
    /// use passwd_auth::Outcome;
    /// use passwd_auth::server::{Options, Server};
    ///
    /// let server = Server::new(Options::default(), |_: &[u8], _: &[u8]| Outcome::UnknownUser);
    /// assert!(format!("{server:?}").starts_with("Server"));
    /// ```
    pub fn new(options: Options, verifier: V) -> Self {
        Self {
            inner: DeferredServer::new(options),
            verifier,
        }
    }

    /// Holds the code until `delay` after the request was received and
    /// judged (the same drain, for this server), or longer, if
    /// [`Options::failure_delay`] already asks for more. Call it on the
    /// [`Event::Verdict`], before draining again; once the code is sent it
    /// does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lineproto::{Machine, Output, testing::epoch};
    /// use passwd_auth::Outcome;
    /// use passwd_auth::server::{Options, Server};
    ///
    /// let mut server = Server::new(Options::default(), |_: &[u8], _: &[u8]| Outcome::WrongPassword);
    /// server.handle_input(b"john:guess\n");
    /// let received = epoch();
    /// assert!(matches!(server.poll_output(received), Output::Event(_)));
    /// server.delay_reply(Duration::from_secs(2)); // jitter, say
    /// assert_eq!(
    ///     server.poll_output(received),
    ///     Output::Wait { deadline: Some(received + Duration::from_secs(2)) },
    /// );
    /// ```
    pub fn delay_reply(&mut self, delay: Duration) {
        self.inner.delay_reply(delay);
    }
}

impl<V: Verifier> Machine for Server<V> {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.inner.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.inner.handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        loop {
            return match self.inner.poll_output(now) {
                Output::Event(DeferredEvent::Attempt { user, password }) => {
                    let outcome = self.verifier.verify(&user, password.expose());
                    // The inner machine waits for exactly this verdict, so
                    // `judge` cannot refuse it; it is reported, held and sent
                    // in this same drain, receipt being now.
                    let _ = self.inner.judge(outcome);
                    continue;
                }
                Output::Event(DeferredEvent::Verdict {
                    user,
                    outcome,
                    code,
                }) => Output::Event(Event::Verdict {
                    user,
                    outcome,
                    code,
                }),
                Output::Transmit(bytes) => Output::Transmit(bytes),
                Output::Wait { deadline } => Output::Wait { deadline },
                Output::Done(result) => Output::Done(result),
            };
        }
    }
}

impl<V> fmt::Debug for Server<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("exchange", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The attempt a [`DeferredServer`] waits to have judged.
struct Awaiting {
    user: Bytes,
    /// Receipt plus [`Options::judge_timeout`] (`None`: past what an
    /// `Instant` can hold, so never).
    deadline: Option<Instant>,
}

/// Reads one `user:password` line, lets the application judge it, answers
/// the code, and closes: [`Server`] with the verification taken out of
/// `poll_output`.
///
/// Once the request line is complete, the machine emits
/// [`DeferredEvent::Attempt`] with the user name and a copy of the password
/// (a [`Secret`], zeroed when dropped; the request buffer is zeroed right
/// after the copy), and waits. The application verifies wherever it likes
/// (a blocking pool, under a [`VerifyBudget`](crate::VerifyBudget)), calls
/// [`judge`](Self::judge) with the outcome and drains again: the machine
/// emits [`DeferredEvent::Verdict`] and sends the code, exactly the bytes a
/// [`Server`] sends for the same outcome. A malformed request is judged by
/// the machine at once, with no attempt event.
///
/// # Timing
///
/// * A refusal is held until *receipt* plus [`Options::failure_delay`]
///   (and [`delay_reply`](Self::delay_reply)), receipt being the drain at
///   which the line was complete; not from the verdict. So the time a
///   verification and its wait in a queue take does not show in when the
///   refusal leaves, as long as the delay covers them; a verdict that comes
///   later than the delay is sent at once.
/// * If [`Options::judge_timeout`] passes after receipt with no verdict,
///   the exchange ends with [`Error::JudgeTimeout`]: no code, no verdict
///   event, the connection closes. The machine has no verdict, and a code
///   would claim one (`0` even says the user exists, unless
///   [`uniform_unknown_user`](Options::uniform_unknown_user)); closing
///   refuses all the same, since a client that gets no code is not let in.
///   The timeout is the backstop against an application that never
///   answers. An overloaded application should refuse explicitly, before
///   it: judge [`Outcome::Overloaded`] (a held `0`) when its budget's
///   queue is full or a queued attempt waited too long.
/// * As everywhere in the contract, the deadline has passed once a drain's
///   `now` reaches it: a verdict handed in before that drain counts.
///
/// # Why a type of its own
///
/// A `Server<Deferred>` would have to share [`Event`], and an `Attempt`
/// variant there would break every `let Event::Verdict { .. } = event` of
/// the synchronous users, who never see one. A type of its own keeps
/// [`Server`] unchanged, and `judge` exists only where it means something.
///
/// ```
/// use std::time::Duration;
/// use lineproto::{Machine, Output, testing::epoch};
/// use passwd_auth::server::{DeferredEvent, DeferredServer, Options};
/// use passwd_auth::{Outcome, WireCode};
///
/// let mut options = Options::default();
/// options.failure_delay = Duration::from_secs(2);
/// let mut server = DeferredServer::new(options);
/// let start = epoch();
/// assert!(matches!(server.poll_output(start), Output::Wait { .. }));
///
/// server.handle_input(b"john:guess\n");
/// let received = start + Duration::from_secs(1);
/// let Output::Event(DeferredEvent::Attempt { user, password }) = server.poll_output(received) else {
///     panic!("an attempt comes first");
/// };
/// assert_eq!((&user[..], &password.expose()[..]), (&b"john"[..], &b"guess"[..]));
/// // The verification runs elsewhere; meanwhile the machine waits for it.
/// assert_eq!(
///     server.poll_output(received),
///     Output::Wait { deadline: Some(received + Duration::from_secs(30)) },
/// );
/// drop(password);
///
/// // Judged 1.5 s later: the refusal still leaves at receipt + 2 s.
/// server.judge(Outcome::WrongPassword)?;
/// let judged = received + Duration::from_millis(1_500);
/// assert!(matches!(
///     server.poll_output(judged),
///     Output::Event(DeferredEvent::Verdict { code: WireCode::Rejected, .. })
/// ));
/// assert_eq!(server.poll_output(judged), Output::Wait { deadline: Some(received + Duration::from_secs(2)) });
/// assert_eq!(server.poll_output(received + Duration::from_secs(2)), Output::Transmit("0".into()));
/// assert_eq!(server.poll_output(received + Duration::from_secs(2)), Output::Done(Ok(())));
/// # Ok::<(), passwd_auth::server::NoAttemptPending>(())
/// ```
pub struct DeferredServer {
    exchange: Exchange,
    /// Set from the attempt's event until [`judge`](Self::judge) or the
    /// judge timeout.
    awaiting: Option<Awaiting>,
}

impl DeferredServer {
    /// Creates a server that lets its application judge the attempt.
    ///
    /// ```
    /// use lineproto::testing::{transcript, Step};
    /// use passwd_auth::server::{DeferredEvent, DeferredServer, Options};
    ///
    /// let steps = transcript(DeferredServer::new(Options::default()), [b"john:doe\n"], false);
    /// assert!(matches!(&steps[..], [Step::Event(DeferredEvent::Attempt { .. })]));
    /// ```
    pub fn new(options: Options) -> Self {
        Self {
            exchange: Exchange::new(options),
            awaiting: None,
        }
    }

    /// Hands in the verdict on the attempt of the last
    /// [`DeferredEvent::Attempt`]; drain again to have it reported and
    /// sent. [`NoAttemptPending`] if no attempt waits for one: none
    /// was emitted yet, it was judged already, or the judge timeout ended
    /// the exchange (then the verdict is dropped; nothing is sent).
    ///
    /// ```
    /// use lineproto::{Machine, Output, testing::epoch};
    /// use passwd_auth::server::{DeferredEvent, DeferredServer, NoAttemptPending, Options};
    /// use passwd_auth::Outcome;
    ///
    /// let mut server = DeferredServer::new(Options::default());
    /// assert_eq!(server.judge(Outcome::Authenticated), Err(NoAttemptPending));
    /// server.handle_input(b"john:doe\n");
    /// assert!(matches!(server.poll_output(epoch()), Output::Event(DeferredEvent::Attempt { .. })));
    /// assert_eq!(server.judge(Outcome::Authenticated), Ok(()));
    /// assert!(matches!(server.poll_output(epoch()), Output::Event(DeferredEvent::Verdict { .. })));
    /// assert_eq!(server.poll_output(epoch()), Output::Transmit("1".into()));
    /// ```
    pub fn judge(&mut self, outcome: Outcome) -> Result<(), NoAttemptPending> {
        let awaiting = self.awaiting.take().ok_or(NoAttemptPending)?;
        self.exchange.decide(awaiting.user, outcome);
        Ok(())
    }

    /// Holds the code until `delay` after the request was received (not
    /// judged), or longer, if [`Options::failure_delay`] already asks for
    /// more. Call it on the [`DeferredEvent::Verdict`] (or earlier, on the
    /// attempt, to hold whatever the verdict), before draining again; once
    /// the code is sent it does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lineproto::{Machine, Output, testing::epoch};
    /// use passwd_auth::Outcome;
    /// use passwd_auth::server::{DeferredServer, Options};
    ///
    /// let mut server = DeferredServer::new(Options::default());
    /// server.handle_input(b"john:guess\n");
    /// let received = epoch();
    /// let _attempt = server.poll_output(received);
    /// server.judge(Outcome::WrongPassword)?;
    /// let _verdict = server.poll_output(received + Duration::from_secs(1));
    /// server.delay_reply(Duration::from_secs(2)); // counted from receipt
    /// assert_eq!(
    ///     server.poll_output(received + Duration::from_secs(1)),
    ///     Output::Wait { deadline: Some(received + Duration::from_secs(2)) },
    /// );
    /// # Ok::<(), passwd_auth::server::NoAttemptPending>(())
    /// ```
    pub fn delay_reply(&mut self, delay: Duration) {
        self.exchange.hold(delay);
    }
}

impl Machine for DeferredServer {
    type Event = DeferredEvent;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.exchange.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.exchange.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<DeferredEvent, Error> {
        if self.exchange.reading() {
            match self.exchange.read(now) {
                Read::Wait(deadline) => return Output::Wait { deadline },
                Read::Over => {}
                Read::Request(None) => self
                    .exchange
                    .decide(Bytes::new(), Outcome::MalformedRequest),
                Read::Request(Some((colon, end))) => {
                    let line = &self.exchange.request[..end];
                    let user = Bytes::copy_from_slice(&line[..colon]);
                    // The event's copy is the only one left once the buffer
                    // is zeroed: a long verification keeps no second copy.
                    let password = Secret::new(line[colon + 1..].to_vec());
                    self.exchange.request.zeroize();
                    self.awaiting = Some(Awaiting {
                        user: user.clone(),
                        deadline: now.checked_add(self.exchange.options.judge_timeout),
                    });
                    return Output::Event(DeferredEvent::Attempt { user, password });
                }
            }
        }
        if let Some(awaiting) = &self.awaiting {
            match awaiting.deadline {
                Some(deadline) if now >= deadline => {
                    self.awaiting = None;
                    let timeout = self.exchange.options.judge_timeout;
                    self.exchange.fail(Error::JudgeTimeout { timeout });
                }
                deadline => return Output::Wait { deadline },
            }
        }
        map_verdict(self.exchange.poll_reply(now), |verdict| {
            DeferredEvent::Verdict {
                user: verdict.user,
                outcome: verdict.outcome,
                code: verdict.code,
            }
        })
    }
}

impl fmt::Debug for DeferredServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("DeferredServer");
        self.exchange.debug_fields(&mut f, "received_at");
        f.field(
            "judge_deadline",
            &self.awaiting.as_ref().map(|awaiting| awaiting.deadline),
        )
        .finish()
    }
}

#[cfg(test)]
mod tests {
    use lineproto::testing::epoch;

    use super::*;

    #[test]
    fn the_request_buffer_is_emptied_as_the_attempt_is_copied_out() {
        let mut server = DeferredServer::new(Options::default());
        server.handle_input(b"john:doe\n");
        let attempt = server.poll_output(epoch());
        assert!(matches!(
            attempt,
            Output::Event(DeferredEvent::Attempt { .. })
        ));
        assert!(server.exchange.request.is_empty());
        // Input after the request is not kept either.
        server.handle_input(b"more:secrets\n");
        assert!(server.exchange.request.is_empty());
    }

    #[test]
    fn a_timed_out_request_leaves_nothing_in_the_buffer() {
        let mut server = DeferredServer::new(Options::default());
        let _ = server.poll_output(epoch());
        server.handle_input(b"john:do");
        let later = epoch() + Duration::from_secs(10);
        assert_eq!(
            server.poll_output(later),
            Output::Done(Err(Error::RequestTimeout {
                timeout: Duration::from_secs(10)
            }))
        );
        assert!(server.exchange.request.is_empty());
    }
}
