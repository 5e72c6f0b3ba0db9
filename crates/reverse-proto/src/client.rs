//! The client side of the one-shot reversal exchange.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{LineBuffer, Machine, Output};

use crate::Error;

/// Settings of a [`Client`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The longest reply accepted, LF not counted. Default: 64 KiB, far
    /// above what a server with the default 1024-byte request limit sends.
    pub max_reply_len: usize,
    /// How long the reply may take, from the start of the exchange to its
    /// LF, however the server spreads it out. When it runs out, the
    /// exchange ends with [`Error::ReplyTimeout`]. `None` waits forever.
    /// Default: 30 s.
    pub reply_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_reply_len: 64 * 1024,
            reply_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What the client tells its application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's reply, without its LF.
    Reply(Bytes),
}

/// Sends one request line and reads the one-line reply.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use reverse_proto::client::{Client, Event, Options};
///
/// let client = Client::new("jack frost", Options::default())?;
/// let steps = transcript(client, [b"tsorf kcaj\n"], false);
/// assert_eq!(steps, [
///     Step::Transmit("jack frost\n".into()),
///     Step::Event(Event::Reply("tsorf kcaj".into())),
///     Step::Done(Ok(())),
/// ]);
/// # Ok::<(), reverse_proto::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    request: Option<Bytes>,
    reply: LineBuffer,
    reply_timeout: Option<Duration>,
    /// When the reply must be in (`Some(None)`: never); set at the first
    /// drain.
    deadline: Option<Option<Instant>>,
    eof: bool,
    done: Option<Result<(), Error>>,
}

impl Client {
    /// Prepares a request. It must not contain a LF: the server reads up to
    /// the first one, so the rest would be lost.
    pub fn new(request: impl Into<Bytes>, options: Options) -> Result<Self, Error> {
        let request = request.into();
        if memchr::memchr(b'\n', &request).is_some() {
            return Err(Error::RequestContainsNewline);
        }
        let mut line = BytesMut::with_capacity(request.len() + 1);
        line.extend_from_slice(&request);
        line.extend_from_slice(b"\n");
        Ok(Self {
            request: Some(line.freeze()),
            reply: LineBuffer::new(options.max_reply_len),
            reply_timeout: options.reply_timeout,
            deadline: None,
            eof: false,
            done: None,
        })
    }
}

impl Machine for Client {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        if self.done.is_none() {
            self.reply.extend(bytes);
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
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
        let result = match self.reply.next_line() {
            Some(Ok(reply)) => Ok(reply),
            Some(Err(error)) => Err(error),
            // A server that closes right after its reply without a LF still
            // answered: the unterminated tail is the reply.
            None if self.eof => match self.reply.finish() {
                Some(tail) => tail,
                None => {
                    self.done = Some(Err(Error::ClosedBeforeReply));
                    return self.poll_output(now);
                }
            },
            None => match (deadline, timeout) {
                (Some(deadline), Some(timeout)) if now >= deadline => {
                    self.done = Some(Err(Error::ReplyTimeout { timeout }));
                    return self.poll_output(now);
                }
                _ => return Output::Wait { deadline },
            },
        };
        match result {
            Ok(reply) => {
                self.done = Some(Ok(()));
                Output::Event(Event::Reply(reply))
            }
            Err(error) => {
                self.done = Some(Err(match error {
                    lineproto::Error::LineTooLong { limit } => Error::ReplyTooLong { limit },
                }));
                self.poll_output(now)
            }
        }
    }
}
