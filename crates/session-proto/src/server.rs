//! The server side of the session: banner, prompt, one reply per line.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{LineBuffer, Machine, Output};
use reverse_proto::{Mode, reverse, reverse_into, trim};

use crate::{Error, TelnetFilter};

/// Settings of a [`Server`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Sent once on connect, before the first prompt. Default: the
    /// article's `Roll up, roll up, to the greatest show on earth!\n`.
    pub banner: Bytes,
    /// Sent after the banner and after every reply. Default: `? `.
    pub prompt: Bytes,
    /// A line that, once trimmed, equals this ends the session. Default: `END`.
    pub end_command: Bytes,
    /// The longest line accepted, terminator not counted. Default: 8 KiB.
    pub max_line_len: usize,
    /// How long the peer may stay silent, with no partial line buffered,
    /// after the banner or a reply. Then the session ends with
    /// [`Error::IdleTimeout`]. Telnet negotiation does not count as input.
    /// `None` waits forever. Default: 60 s.
    pub idle_timeout: Option<Duration>,
    /// How long a line may take from its first byte to its end, however
    /// the peer spreads it out. Then the session ends with
    /// [`Error::LineTimeout`]. `None`: no limit. Default: 30 s.
    pub line_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            banner: Bytes::from_static(b"Roll up, roll up, to the greatest show on earth!\n"),
            prompt: Bytes::from_static(b"? "),
            end_command: Bytes::from_static(b"END"),
            max_line_len: 8 * 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            line_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What the server tells its application: the article's debug lines, and
/// the one thing the article could not do, refusing an overlong line.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line arrived, trimmed and cleaned of telnet commands
    /// (`Received input: ...`). This includes the end command.
    Received(Bytes),
    /// The handler's reply was sent (`Sent output: ...`), without the LF
    /// and prompt that followed it. It shares its memory with the bytes
    /// sent, and with neighbouring short replies (a buffer of 512 bytes):
    /// keeping many of these events keeps those buffers.
    Sent(Bytes),
    /// A line longer than the limit was thrown away and the peer was told
    /// so; the session goes on.
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// Computes the reply to each line of a session.
///
/// The line is trimmed as PHP's `trim` does and cleaned of telnet commands;
/// it is never empty and never the end command. Any
/// `FnMut(&[u8]) -> Vec<u8>` closure is a handler.
pub trait LineHandler {
    /// Returns the reply to `line`, without a line terminator.
    fn handle_line(&mut self, line: &[u8]) -> Vec<u8>;

    /// Appends the reply to `line` to `reply`, without a line terminator.
    /// The server calls this one, with `reply` empty, in a buffer it reuses
    /// for every line. The default appends what
    /// [`handle_line`](Self::handle_line) returns; a handler that can write
    /// in place overrides it to save an allocation per line, and must then
    /// write what `handle_line` would return.
    ///
    /// ```
    /// use session_proto::{LineHandler, ReverseLines};
    ///
    /// let mut reply = Vec::new();
    /// ReverseLines::default().write_reply(b"jack frost", &mut reply);
    /// assert_eq!(reply, b"tsorf kcaj");
    /// ```
    fn write_reply(&mut self, line: &[u8], reply: &mut Vec<u8>) {
        reply.extend_from_slice(&self.handle_line(line));
    }
}

impl<F: FnMut(&[u8]) -> Vec<u8>> LineHandler for F {
    fn handle_line(&mut self, line: &[u8]) -> Vec<u8> {
        self(line)
    }
}

/// The article's handler: answers each line with its reversal.
///
/// ```
/// use session_proto::{LineHandler, ReverseLines};
///
/// assert_eq!(ReverseLines::default().handle_line(b"jack frost"), b"tsorf kcaj");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReverseLines {
    /// By grapheme cluster (the default) or byte by byte, as PHP's `strrev`.
    pub mode: Mode,
}

impl LineHandler for ReverseLines {
    fn handle_line(&mut self, line: &[u8]) -> Vec<u8> {
        reverse(line, self.mode)
    }

    fn write_reply(&mut self, line: &[u8], reply: &mut Vec<u8>) {
        reverse_into(line, self.mode, reply);
    }
}

/// The session server: sends the banner and a prompt, then answers each
/// line until the end command or end of input.
///
/// Per line, after trimming: an empty line gets no answer (not even a
/// prompt, as in the article); the end command closes the session; any other
/// line gets the handler's reply, a LF and the prompt. A line over the limit
/// gets one error line and a prompt, and the session goes on. Telnet
/// commands are removed from the stream before it is cut into lines (see
/// [`TelnetFilter`]), and the limit counts what is left.
///
/// Two timers guard the session: the [idle timeout](Options::idle_timeout)
/// runs while nothing is buffered, from the banner or the last line on; the
/// [line timeout](Options::line_timeout) runs from the first byte of a line
/// to its end. Either ends the session with an error and no further output.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use session_proto::server::{Event, Options, Server};
///
/// let steps = transcript(Server::new(Options::default()), [b"jack frost\r\nEND\r\n"], false);
/// assert_eq!(steps, [
///     Step::Transmit("Roll up, roll up, to the greatest show on earth!\n? ".into()),
///     Step::Event(Event::Received("jack frost".into())),
///     Step::Transmit("tsorf kcaj\n? ".into()),
///     Step::Event(Event::Sent("tsorf kcaj".into())),
///     Step::Event(Event::Received("END".into())),
///     Step::Done(Ok(())),
/// ]);
/// ```
///
/// Any closure can answer instead of the reversal:
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use session_proto::server::{Options, Server};
///
/// let shout = Server::with_handler(Options::default(), |line: &[u8]| line.to_ascii_uppercase());
/// let steps = transcript(shout, [b"hi\n"], false);
/// assert_eq!(steps[2], Step::Transmit("HI\n? ".into()));
/// ```
pub struct Server<H = ReverseLines> {
    options: Options,
    handler: H,
    telnet: TelnetFilter,
    lines: LineBuffer,
    queue: VecDeque<Output<Event, Error>>,
    /// The handler's reply to the line at hand, reused from line to line.
    reply: Vec<u8>,
    /// Where replies are put together with their prompt: each one is split
    /// off as a `Transmit`, and once the driver and the event have let go
    /// of it the space is used again. With a handler that writes in place
    /// (as `ReverseLines` does for ASCII lines), a session allocates
    /// nothing per line.
    out: BytesMut,
    greeted: bool,
    eof: bool,
    /// The end command arrived or input ended: `Done` once the queue is empty.
    ending: bool,
    /// Why the session failed, if it did; `Done` repeats it.
    failure: Option<Error>,
    /// When the last line was handled (or the banner sent).
    idle_since: Option<Instant>,
    /// When the first byte of the line in progress was seen.
    line_since: Option<Instant>,
}

/// What a session keeps, from one line to the next, of each of its two
/// reply buffers (the handler's reply, and the reply put together with its
/// prompt). A reply longer than half of it gets buffers of its own, gone
/// with it, so a session never holds more than about twice this for
/// replies, whatever it once answered.
const KEPT_BUFFER: usize = 512;

impl Server<ReverseLines> {
    /// Creates the article's reversing session server.
    pub fn new(options: Options) -> Self {
        Self::with_handler(options, ReverseLines::default())
    }
}

impl<H: LineHandler> Server<H> {
    /// Creates a session server that answers lines with `handler`.
    pub fn with_handler(options: Options, handler: H) -> Self {
        Self {
            lines: LineBuffer::new(options.max_line_len),
            options,
            handler,
            telnet: TelnetFilter::default(),
            queue: VecDeque::new(),
            reply: Vec::new(),
            out: BytesMut::new(),
            greeted: false,
            eof: false,
            ending: false,
            failure: None,
            idle_since: None,
            line_since: None,
        }
    }

    /// The line handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Queues what one complete line calls for.
    fn on_line(&mut self, line: Bytes) {
        // The event shares the line's buffer: no copy on every round trip.
        let received = line.slice_ref(trim(&line));
        let line = &received[..];
        if line.is_empty() {
            return;
        }
        if line == self.options.end_command {
            self.queue
                .push_back(Output::Event(Event::Received(received)));
            self.ending = true;
            return;
        }
        let mut reply = std::mem::take(&mut self.reply);
        reply.clear();
        self.handler.write_reply(line, &mut reply);
        let transmit = self.with_prompt(&reply);
        // The event is the reply's part of the transmit: no copy.
        let sent = transmit.slice(..reply.len());
        // A long reply is not worth its memory for the rest of the session.
        if reply.capacity() <= KEPT_BUFFER {
            self.reply = reply;
        }
        self.queue
            .push_back(Output::Event(Event::Received(received)));
        self.queue.push_back(Output::Transmit(transmit));
        self.queue.push_back(Output::Event(Event::Sent(sent)));
    }

    fn on_overlong_line(&mut self, limit: usize) {
        let message = format!("error: line longer than {limit} bytes, ignored");
        self.queue
            .push_back(Output::Event(Event::LineTooLong { limit }));
        let transmit = self.with_prompt(message.as_bytes());
        self.queue.push_back(Output::Transmit(transmit));
    }

    /// `text`, a LF and the prompt, in one buffer so they go out in one write.
    fn with_prompt(&mut self, text: &[u8]) -> Bytes {
        let len = text.len() + 1 + self.options.prompt.len();
        let mut own;
        let out = if len > KEPT_BUFFER / 2 {
            // A buffer of its own, gone with it: the kept one stays small.
            own = BytesMut::with_capacity(len);
            &mut own
        } else {
            // Room for two replies or more: the space is taken back (by
            // `reserve`) only when it runs out, and only if nothing holds
            // it any more; otherwise `reserve` takes new space of that size.
            if self.out.capacity() < len {
                self.out.reserve(KEPT_BUFFER);
            }
            &mut self.out
        };
        out.extend_from_slice(text);
        out.extend_from_slice(b"\n");
        out.extend_from_slice(&self.options.prompt);
        out.split().freeze()
    }
}

impl<H: LineHandler> Machine for Server<H> {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        if !self.ending {
            // Telnet commands go before framing: a subnegotiation can hold
            // a LF byte that must not end a line.
            let lines = &mut self.lines;
            self.telnet.filter(bytes, |data| lines.extend(data));
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        if !self.greeted {
            self.greeted = true;
            self.idle_since = Some(now);
            let mut greeting = BytesMut::from(&self.options.banner[..]);
            greeting.extend_from_slice(&self.options.prompt);
            return Output::Transmit(greeting.freeze());
        }
        loop {
            if let Some(output) = self.queue.pop_front() {
                return output;
            }
            if self.ending {
                return Output::Done(self.failure.clone().map_or(Ok(()), Err));
            }
            let line = match self.lines.next_line() {
                Some(line) => line,
                // The peer half-closed: its last, unterminated line still
                // counts, and it can still read the answer.
                None if self.eof => {
                    self.ending = true;
                    match self.lines.finish() {
                        Some(line) => line,
                        None => continue,
                    }
                }
                None => match self.timer(now) {
                    Ok(deadline) => return Output::Wait { deadline },
                    Err(timeout) => {
                        self.ending = true;
                        self.failure = Some(timeout);
                        continue;
                    }
                },
            };
            self.idle_since = Some(now);
            self.line_since = None;
            match line {
                Ok(line) => self.on_line(line),
                Err(lineproto::Error::LineTooLong { limit }) => self.on_overlong_line(limit),
            }
        }
    }
}

impl<H> Server<H> {
    /// The deadline to wait on now, or the error if it has passed: the line
    /// timer while part of a line is buffered, the idle timer otherwise.
    fn timer(&mut self, now: Instant) -> Result<Option<Instant>, Error> {
        let after = |since: Option<Instant>, timeout: Option<Duration>| {
            since
                .zip(timeout)
                .and_then(|(since, timeout)| since.checked_add(timeout))
        };
        let (deadline, error) = if self.lines.buffered_len() > 0 {
            let since = *self.line_since.get_or_insert(now);
            let timeout = self.options.line_timeout;
            (
                after(Some(since), timeout),
                timeout.map(|timeout| Error::LineTimeout { timeout }),
            )
        } else {
            self.line_since = None;
            let timeout = self.options.idle_timeout;
            (
                after(self.idle_since, timeout),
                timeout.map(|timeout| Error::IdleTimeout { timeout }),
            )
        };
        match (deadline, error) {
            (Some(deadline), Some(error)) if now >= deadline => Err(error),
            _ => Ok(deadline),
        }
    }
}

impl<H> fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.options)
            .field("handler", &std::any::type_name::<H>())
            .field("lines", &self.lines)
            .field("queued", &self.queue.len())
            .field("greeted", &self.greeted)
            .field("eof", &self.eof)
            .field("ending", &self.ending)
            .field("failure", &self.failure)
            .field("idle_since", &self.idle_since)
            .field("line_since", &self.line_since)
            .finish()
    }
}
