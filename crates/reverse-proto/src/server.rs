//! The server side of the one-shot reversal exchange.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{Machine, Output};

use crate::{Error, Mode, reverse, trim};

/// Settings of a [`Server`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How the request is reversed. Default: [`Mode::Graphemes`].
    pub mode: Mode,
    /// The most bytes read as the request. Default: 1024, the size of the
    /// article's single `socket_read`.
    pub max_request_len: usize,
    /// How long the whole request may take to arrive, from the start of the
    /// exchange to its end (not per read: a peer dripping one byte at a
    /// time gets no more time than one sending it at once). When it runs
    /// out, the exchange ends with [`Error::RequestTimeout`] and no reply.
    /// `None` waits forever. Default: 10 s.
    pub request_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: Mode::Graphemes,
            max_request_len: 1024,
            request_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// What the server tells its application: the article's two debug lines.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The request, trimmed (`Received input: ...`).
    Received(Bytes),
    /// The reply, without its LF (`Sent output: ...`).
    Sent(Bytes),
}

/// Answers one request with its reversal, then closes.
///
/// The request is the bytes up to the first LF, or the first
/// [`max_request_len`](Options::max_request_len) bytes, or everything before
/// end of input, whichever comes first. It is trimmed as PHP's `trim` does,
/// reversed, and sent back with a LF. A peer that closes without sending a
/// byte gets no reply. Bytes after the request are ignored.
///
/// The article's server did one `socket_read` of 1024 bytes, so what it
/// reversed depended on how TCP happened to split the input; this framing
/// gives the same answer for every split.
///
/// The whole request must arrive within
/// [`request_timeout`](Options::request_timeout) of the first drain.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use reverse_proto::server::{Event, Options, Server};
///
/// let steps = transcript(Server::new(Options::default()), [b"jack and the beanstalk\r\n"], false);
/// assert_eq!(steps, [
///     Step::Event(Event::Received("jack and the beanstalk".into())),
///     Step::Transmit("klatsnaeb eht dna kcaj\n".into()),
///     Step::Event(Event::Sent("klatsnaeb eht dna kcaj".into())),
///     Step::Done(Ok(())),
/// ]);
/// ```
#[derive(Debug)]
pub struct Server {
    options: Options,
    request: BytesMut,
    /// How much of `request` is known to hold no LF.
    scanned: usize,
    /// Whether the peer sent any byte at all (with a zero limit, none is kept).
    received: bool,
    eof: bool,
    /// When the request must be complete (`Some(None)`: never); set at the
    /// first drain.
    deadline: Option<Option<Instant>>,
    /// Set once the request is framed: what is left to hand out before
    /// `Done(outcome)`.
    pending: Option<VecDeque<Output<Event, Error>>>,
    outcome: Result<(), Error>,
}

impl Server {
    /// Creates a server waiting for its request.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            request: BytesMut::new(),
            scanned: 0,
            received: false,
            eof: false,
            deadline: None,
            pending: None,
            outcome: Ok(()),
        }
    }

    /// The request, if it is complete.
    fn framed_request(&mut self) -> Option<Bytes> {
        let limit = self.options.max_request_len;
        if let Some(offset) = memchr::memchr(b'\n', &self.request[self.scanned..]) {
            let newline = self.scanned + offset;
            return Some(self.request.split_to(newline).freeze());
        }
        self.scanned = self.request.len();
        if self.received && (self.request.len() >= limit || self.eof) {
            return Some(self.request.split().freeze());
        }
        None
    }

    fn answer(&self, request: &[u8]) -> VecDeque<Output<Event, Error>> {
        let received = Bytes::copy_from_slice(trim(request));
        let reversed = Bytes::from(reverse(&received, self.options.mode));
        let mut line = BytesMut::with_capacity(reversed.len() + 1);
        line.extend_from_slice(&reversed);
        line.extend_from_slice(b"\n");
        VecDeque::from([
            Output::Event(Event::Received(received)),
            Output::Transmit(line.freeze()),
            Output::Event(Event::Sent(reversed)),
        ])
    }
}

impl Machine for Server {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        if self.pending.is_some() {
            return;
        }
        self.received |= !bytes.is_empty();
        // Nothing past the limit can be part of the request, so it is never stored.
        let room = self
            .options
            .max_request_len
            .saturating_sub(self.request.len());
        self.request
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
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
            match self.framed_request() {
                Some(request) => self.pending = Some(self.answer(&request)),
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
        match pending.pop_front() {
            Some(output) => output,
            None => Output::Done(self.outcome.clone()),
        }
    }
}
