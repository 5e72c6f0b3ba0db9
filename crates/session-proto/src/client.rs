//! The client side of the session, as the article's web clients use it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{LineBuffer, Machine, Output};
use reverse_proto::trim;

use crate::Error;

/// Settings of a [`Client`]; they must match the server's.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The prompt the server sends after the banner and each reply.
    /// Default: `? `.
    pub prompt: Bytes,
    /// The line that ends the session. Default: `END`.
    pub end_command: Bytes,
    /// The longest line sent or received, terminator not counted.
    /// Default: 8 KiB, the server's default limit.
    pub max_line_len: usize,
    /// How long the server may take to send something it owes (the banner,
    /// a reply, or its close after the end command), counted from when the
    /// wait began or the server's last line. Then the session ends with
    /// [`Error::ReplyTimeout`]. While nothing is owed no timer runs: the
    /// application decides how long to keep a session open. `None` waits
    /// forever. Default: 30 s.
    pub reply_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            prompt: Bytes::from_static(b"? "),
            end_command: Bytes::from_static(b"END"),
            max_line_len: 8 * 1024,
            reply_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What the client tells its application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's banner line, without its LF.
    Banner(Bytes),
    /// The reply to the oldest line still waiting for one, without the
    /// prompt before it or the LF after it.
    Reply(Bytes),
}

/// A session client: reads the banner, sends lines, reads one reply per
/// line, and ends the session.
///
/// Queue lines with [`send`](Self::send) and the end of the session with
/// [`end`](Self::end), before or during the exchange. Lines go out once the
/// banner has arrived (several may be in flight; the server answers them in
/// order), and the end command once every reply is in, which is the
/// article's order: banner, line, reply, `END`. Replies come back as events
/// in the order the lines were sent. The session is `Done`
/// when the server closes after the end command; it fails if the server
/// closes while a reply is still owed. A reply is a whole line: one cut off
/// by the connection closing does not count.
///
/// [`send`](Self::send) refuses lines the server would not answer with one
/// reply line: lines with a CR or LF inside, lines that trim to nothing (no
/// answer at all), the end command itself, and lines over the limit.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use session_proto::client::{Client, Event, Options};
///
/// let mut client = Client::new(Options::default());
/// client.send("jack frost")?;
/// client.end();
/// let from_server: [&[u8]; 2] = [b"Roll up, roll up, to the greatest show on earth!\n? ", b"tsorf kcaj\n? "];
/// let steps = transcript(client, from_server, true);
/// assert_eq!(steps, [
///     Step::Event(Event::Banner("Roll up, roll up, to the greatest show on earth!".into())),
///     Step::Transmit("jack frost\n".into()),
///     Step::Event(Event::Reply("tsorf kcaj".into())),
///     Step::Transmit("END\n".into()),
///     Step::Done(Ok(())),
/// ]);
/// # Ok::<(), session_proto::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    options: Options,
    lines: LineBuffer,
    /// Lines queued by `send`, held until the banner has arrived.
    outbox: BytesMut,
    banner_seen: bool,
    /// Lines sent (or queued) whose reply has not arrived.
    replies_owed: usize,
    /// `end` was called: the end command goes out once no reply is owed.
    ended: bool,
    end_sent: bool,
    eof: bool,
    events: VecDeque<Event>,
    done: Option<Result<(), Error>>,
    /// Since when the server owes something, if it does.
    owed_since: Option<Instant>,
}

impl Client {
    /// Creates a client that has sent nothing yet.
    pub fn new(options: Options) -> Self {
        Self {
            // The prompt precedes each reply on the same line.
            lines: LineBuffer::new(options.max_line_len.saturating_add(options.prompt.len())),
            options,
            outbox: BytesMut::new(),
            banner_seen: false,
            replies_owed: 0,
            ended: false,
            end_sent: false,
            eof: false,
            events: VecDeque::new(),
            done: None,
            owed_since: None,
        }
    }

    /// Queues a line for the server; a LF is added. A 255 byte is sent as
    /// telnet's `IAC IAC`, so the server reads it back as itself rather than
    /// as the start of a telnet command.
    pub fn send(&mut self, line: impl AsRef<[u8]>) -> Result<(), Error> {
        let line = line.as_ref();
        if self.ended || self.done.is_some() {
            return Err(Error::SessionEnded);
        }
        if memchr::memchr2(b'\n', b'\r', line).is_some() {
            return Err(Error::LineContainsNewline);
        }
        if line.len() > self.options.max_line_len {
            return Err(Error::LineTooLong {
                limit: self.options.max_line_len,
            });
        }
        let trimmed = trim(line);
        if trimmed.is_empty() {
            return Err(Error::BlankLine);
        }
        if trimmed == self.options.end_command {
            return Err(Error::LineIsEndCommand);
        }
        for run in line.split_inclusive(|&byte| byte == 0xff) {
            self.outbox.extend_from_slice(run);
            if run.last() == Some(&0xff) {
                self.outbox.extend_from_slice(&[0xff]);
            }
        }
        self.outbox.extend_from_slice(b"\n");
        self.replies_owed += 1;
        Ok(())
    }

    /// Queues the end command; nothing can be sent after it. Does nothing
    /// once the session is over.
    pub fn end(&mut self) {
        if self.done.is_none() {
            self.ended = true;
        }
    }

    /// How many sent lines still wait for their reply.
    pub fn replies_owed(&self) -> usize {
        self.replies_owed
    }

    fn on_line(&mut self, line: Bytes) -> Result<(), Error> {
        if !self.banner_seen {
            self.banner_seen = true;
            self.events.push_back(Event::Banner(line));
            return Ok(());
        }
        if !line.starts_with(&self.options.prompt) {
            return Err(Error::MissingPrompt);
        }
        if self.replies_owed == 0 {
            return Err(Error::UnexpectedReply);
        }
        self.replies_owed -= 1;
        let reply = line.slice(self.options.prompt.len()..);
        self.events.push_back(Event::Reply(reply));
        Ok(())
    }

    /// What end of input means, once every complete line has been read.
    /// The server ends every reply with a LF, so an unterminated tail (the
    /// prompt after the last reply, or a reply cut short) is never a reply.
    fn on_eof(&mut self) -> Result<(), Error> {
        let _ = self.lines.finish();
        if !self.banner_seen {
            return Err(Error::ClosedBeforeBanner);
        }
        if self.replies_owed > 0 {
            return Err(Error::ClosedBeforeReply {
                missing: self.replies_owed,
            });
        }
        Ok(())
    }

    fn framing(&self, error: lineproto::Error) -> Error {
        match error {
            lineproto::Error::LineTooLong { .. } => Error::LineTooLong {
                limit: self.options.max_line_len,
            },
        }
    }
}

impl Machine for Client {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        if self.done.is_none() {
            self.lines.extend(bytes);
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if let Some(done) = &self.done {
                return Output::Done(done.clone());
            }
            if self.banner_seen && !self.outbox.is_empty() {
                return Output::Transmit(self.outbox.split().freeze());
            }
            if self.banner_seen && self.ended && !self.end_sent && self.replies_owed == 0 {
                self.end_sent = true;
                let mut end = BytesMut::with_capacity(self.options.end_command.len() + 1);
                end.extend_from_slice(&self.options.end_command);
                end.extend_from_slice(b"\n");
                return Output::Transmit(end.freeze());
            }
            let step = match self.lines.next_line() {
                Some(Ok(line)) => {
                    // Each line from the server restarts the reply timer.
                    self.owed_since = None;
                    self.on_line(line)
                }
                Some(Err(error)) => Err(self.framing(error)),
                None if self.eof => {
                    let result = self.on_eof();
                    self.done = Some(result);
                    continue;
                }
                None => match self.reply_timer(now) {
                    Ok(deadline) => return Output::Wait { deadline },
                    Err(error) => Err(error),
                },
            };
            if let Err(error) = step {
                self.done = Some(Err(error));
            }
        }
    }
}

impl Client {
    /// Whether the server owes the banner, a reply, or its close.
    fn server_owes(&self) -> bool {
        !self.banner_seen || self.replies_owed > 0 || self.end_sent
    }

    /// The reply deadline to wait on, or the error once it has passed.
    fn reply_timer(&mut self, now: Instant) -> Result<Option<Instant>, Error> {
        if !self.server_owes() {
            self.owed_since = None;
            return Ok(None);
        }
        let since = *self.owed_since.get_or_insert(now);
        let Some(timeout) = self.options.reply_timeout else {
            return Ok(None);
        };
        match since.checked_add(timeout) {
            Some(deadline) if now >= deadline => Err(Error::ReplyTimeout { timeout }),
            deadline => Ok(deadline),
        }
    }
}
