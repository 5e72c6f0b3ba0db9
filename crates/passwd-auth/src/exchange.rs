//! The auth server's exchange: one `user:password` line in, one code out.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::{Machine, Output, Secret};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Outcome, WireCode};

/// Judges one attempt: gets the user name and the password, returns the
/// outcome. Any `FnMut(&[u8], &[u8]) -> Outcome` closure is a verifier; it
/// typically calls [`Authenticator::authenticate`](crate::Authenticator::authenticate)
/// with today's date.
pub trait Verifier {
    /// Judges `user` and `password`.
    fn verify(&mut self, user: &[u8], password: &[u8]) -> Outcome;
}

impl<F: FnMut(&[u8], &[u8]) -> Outcome> Verifier for F {
    fn verify(&mut self, user: &[u8], password: &[u8]) -> Outcome {
        self(user, password)
    }
}

/// Settings of a [`Server`].
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
    /// How long every code but `1` is held, counted from when the request
    /// was judged. The machine holds it on its own timer, so a thousand
    /// delayed failures cost no thread each. An application can lengthen
    /// one reply's delay with [`Server::delay_reply`] (to add jitter, say).
    /// Default: none.
    pub failure_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_line_len: 1024,
            uniform_unknown_user: false,
            request_timeout: Some(Duration::from_secs(10)),
            failure_delay: Duration::ZERO,
        }
    }
}

/// What the server tells its application.
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
/// ```
/// use lineproto::testing::{transcript, Step};
/// use passwd_auth::exchange::{Event, Options, Server};
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
    options: Options,
    verifier: V,
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
    /// When the request was judged.
    judged_at: Option<Instant>,
    /// The code is not sent before this.
    hold_until: Option<Instant>,
    pending: Option<VecDeque<Output<Event, Error>>>,
    outcome: Result<(), Error>,
}

impl<V: Verifier> Server<V> {
    /// Creates a server that judges the attempt with `verifier`.
    pub fn new(options: Options, verifier: V) -> Self {
        // The limit, a CR and a LF; the buffer is allocated once and never
        // grows, so the limit is capped at 64 KiB.
        let mut options = options;
        options.max_line_len = options.max_line_len.min(64 * 1024);
        let capacity = options.max_line_len + 2;
        Self {
            request: Zeroizing::new(Vec::with_capacity(capacity)),
            options,
            verifier,
            scanned: 0,
            overflowed: false,
            eof: false,
            deadline: None,
            judged_at: None,
            hold_until: None,
            pending: None,
            outcome: Ok(()),
        }
    }

    /// Holds the code until `delay` after the request was judged (or
    /// longer, if [`Options::failure_delay`] already asks for more). Call
    /// it on the [`Event::Verdict`], before draining again; once the code is
    /// sent it does nothing.
    pub fn delay_reply(&mut self, delay: Duration) {
        let Some(until) = self.judged_at.and_then(|at| at.checked_add(delay)) else {
            return;
        };
        if self.code_pending() {
            self.hold_until = Some(self.hold_until.map_or(until, |held| held.max(until)));
        }
    }

    fn code_pending(&self) -> bool {
        self.pending.as_ref().is_some_and(|pending| {
            pending
                .iter()
                .any(|output| matches!(output, Output::Transmit(_)))
        })
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

    fn judge(&mut self, line: Result<usize, ()>) -> VecDeque<Output<Event, Error>> {
        let (user, outcome) = match line {
            Ok(end) => {
                let line = &self.request[..end];
                match memchr::memchr(b':', line) {
                    Some(colon) => {
                        let (user, password) = (&line[..colon], &line[colon + 1..]);
                        (
                            Bytes::copy_from_slice(user),
                            self.verifier.verify(user, password),
                        )
                    }
                    None => (Bytes::new(), Outcome::MalformedRequest),
                }
            }
            Err(()) => (Bytes::new(), Outcome::MalformedRequest),
        };
        let code = outcome.wire_code(self.options.uniform_unknown_user);
        VecDeque::from([
            Output::Event(Event::Verdict {
                user,
                outcome,
                code,
            }),
            Output::Transmit(Bytes::from_static(code.as_str().as_bytes())),
        ])
    }
}

impl<V: Verifier> Machine for Server<V> {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        if self.pending.is_some() || self.overflowed {
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

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        if self.pending.is_none() {
            let timeout = self.options.request_timeout;
            let deadline = *self
                .deadline
                .get_or_insert_with(|| timeout.and_then(|timeout| now.checked_add(timeout)));
            match self.complete_line() {
                Some(line) => {
                    let judged = self.judge(line);
                    // The password is needed no longer: zero it now rather
                    // than when the machine is dropped, after any delay.
                    self.request.zeroize();
                    self.judged_at = Some(now);
                    let accepted = judged.iter().any(|output| {
                        matches!(
                            output,
                            Output::Event(Event::Verdict {
                                code: WireCode::Accepted,
                                ..
                            })
                        )
                    });
                    if !accepted && !self.options.failure_delay.is_zero() {
                        self.hold_until = now.checked_add(self.options.failure_delay);
                    }
                    self.pending = Some(judged);
                }
                None if self.eof => self.pending = Some(VecDeque::new()),
                None => match (deadline, timeout) {
                    (Some(deadline), Some(timeout)) if now >= deadline => {
                        self.outcome = Err(Error::RequestTimeout { timeout });
                        self.pending = Some(VecDeque::new());
                    }
                    _ => return Output::Wait { deadline },
                },
            }
        }
        let pending = self.pending.get_or_insert_with(VecDeque::new);
        if let (Some(Output::Transmit(_)), Some(until)) = (pending.front(), self.hold_until) {
            if now < until {
                return Output::Wait {
                    deadline: Some(until),
                };
            }
        }
        pending
            .pop_front()
            .unwrap_or_else(|| Output::Done(self.outcome.clone()))
    }
}

impl<V> fmt::Debug for Server<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.options)
            .field("request", &Secret::new(Vec::<u8>::new()))
            .field("buffered", &self.request.len())
            .field("overflowed", &self.overflowed)
            .field("eof", &self.eof)
            .field("judged_at", &self.judged_at)
            .field("hold_until", &self.hold_until)
            .finish()
    }
}

/// Sends one `user:password` line and reads the code.
///
/// ```
/// use lineproto::Secret;
/// use lineproto::testing::{transcript, Step};
/// use passwd_auth::WireCode;
/// use passwd_auth::exchange::Client;
///
/// let client = Client::new(b"john", Secret::new(b"doe".to_vec()))?;
/// let steps = transcript(client, [b"1"], true);
/// assert_eq!(steps[0], Step::Transmit("john:doe\n".into()));
/// assert_eq!(steps[1], Step::Event(WireCode::Accepted));
/// # Ok::<(), passwd_auth::Error>(())
/// ```
pub struct Client {
    request: Option<Bytes>,
    reply: Vec<u8>,
    eof: bool,
    done: Option<Result<(), Error>>,
    reply_timeout: Option<Duration>,
    /// When the code must be in (`Some(None)`: never); set at the first
    /// drain.
    deadline: Option<Option<Instant>>,
}

impl Client {
    /// Prepares the request. The user name must not contain `:`, and
    /// neither part may contain CR, LF or NUL (they would end or corrupt
    /// the line).
    pub fn new(user: &[u8], password: Secret<Vec<u8>>) -> Result<Self, Error> {
        let bad = |part: &[u8]| part.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
        if user.contains(&b':') || bad(user) {
            return Err(Error::InvalidUserName);
        }
        if bad(password.expose()) {
            return Err(Error::InvalidPassword);
        }
        let mut line = Zeroizing::new(Vec::with_capacity(user.len() + password.expose().len() + 2));
        line.extend_from_slice(user);
        line.extend_from_slice(b":");
        line.extend_from_slice(password.expose());
        line.extend_from_slice(b"\n");
        Ok(Self {
            // The request holds the password: its memory is zeroed when the
            // last reference to the transmitted bytes is dropped.
            request: Some(Bytes::from_owner(line)),
            reply: Vec::new(),
            eof: false,
            done: None,
            reply_timeout: Some(Duration::from_secs(30)),
            deadline: None,
        })
    }

    /// Sets how long the server may take to answer and close, from the
    /// start of the exchange; then it ends with [`Error::ReplyTimeout`].
    /// `None` waits forever. Default: 30 s, well above a server's failure
    /// delay.
    pub fn reply_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.reply_timeout = timeout;
        self
    }
}

impl Machine for Client {
    type Event = WireCode;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        // A code is at most 2 bytes; keep a little more to tell garbage apart.
        let room = 8usize.saturating_sub(self.reply.len());
        self.reply
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<WireCode, Error> {
        if let Some(done) = &self.done {
            return Output::Done(done.clone());
        }
        let timeout = self.reply_timeout;
        let deadline = *self
            .deadline
            .get_or_insert_with(|| timeout.and_then(|timeout| now.checked_add(timeout)));
        if let Some(request) = self.request.take() {
            return Output::Transmit(request);
        }
        if !self.eof {
            return match (deadline, timeout) {
                (Some(deadline), Some(timeout)) if now >= deadline => {
                    self.done = Some(Err(Error::ReplyTimeout { timeout }));
                    self.poll_output(now)
                }
                _ => Output::Wait { deadline },
            };
        }
        // The server sends the bare code and closes; tolerate a line end.
        let reply = self.reply.strip_suffix(b"\n").unwrap_or(&self.reply);
        let reply = reply.strip_suffix(b"\r").unwrap_or(reply);
        match WireCode::parse(reply) {
            Some(code) => {
                self.done = Some(Ok(()));
                Output::Event(code)
            }
            None => {
                self.done = Some(Err(Error::UnexpectedReply));
                self.poll_output(now)
            }
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("request", &self.request.as_ref().map(|_| "<redacted>"))
            .field("reply", &self.reply)
            .field("eof", &self.eof)
            .field("done", &self.done)
            .field("reply_timeout", &self.reply_timeout)
            .finish()
    }
}
