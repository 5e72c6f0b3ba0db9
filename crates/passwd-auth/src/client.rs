//! The client side of the auth exchange: one `user:password` line out, one
//! code in.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::{Machine, Output, Secret};
use zeroize::Zeroizing;

use crate::WireCode;

/// Settings of a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use passwd_auth::client::Options;
///
/// let mut options = Options::default();
/// options.reply_timeout = Some(Duration::from_secs(5));
/// assert_eq!(Options::default().reply_timeout, Some(Duration::from_secs(30)));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long the server may take to answer and close, from the start of
    /// the exchange; then it ends with [`Error::ReplyTimeout`]. `None`
    /// waits forever. Default: 30 s, well above a server's failure delay.
    pub reply_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            reply_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// Why a request could not be made, or the exchange ended without a code.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The user name contained `:`, CR, LF or NUL.
    #[error("user name contains ':', a line break or NUL")]
    InvalidUserName,
    /// The password contained CR, LF or NUL.
    #[error("password contains a line break or NUL")]
    InvalidPassword,
    /// The server's reply was not `1`, `0` or `-1`.
    #[error("server reply is not 1, 0 or -1")]
    UnexpectedReply,
    /// The server's code did not arrive within
    /// [`reply_timeout`](Options::reply_timeout).
    #[error("no reply within {timeout:?}")]
    ReplyTimeout {
        /// The deadline, from the start of the exchange.
        timeout: Duration,
    },
}

/// Sends one `user:password` line and reads the code.
///
/// ```
/// use lineproto::Secret;
/// use lineproto::testing::{transcript, Step};
/// use passwd_auth::WireCode;
/// use passwd_auth::client::{Client, Options};
///
/// let client = Client::new(b"john", Secret::new(b"doe".to_vec()), Options::default())?;
/// let steps = transcript(client, [b"1"], true);
/// assert_eq!(steps[0], Step::Transmit("john:doe\n".into()));
/// assert_eq!(steps[1], Step::Event(WireCode::Accepted));
/// # Ok::<(), passwd_auth::client::Error>(())
/// ```
pub struct Client {
    request: Option<Bytes>,
    reply: Vec<u8>,
    eof: bool,
    done: Option<Result<(), Error>>,
    options: Options,
    /// When the code must be in (`Some(None)`: never); set at the first
    /// drain.
    deadline: Option<Option<Instant>>,
}

impl Client {
    /// Prepares the request. The user name must not contain `:`, and
    /// neither part may contain CR, LF or NUL (they would end or corrupt
    /// the line).
    pub fn new(user: &[u8], password: Secret<Vec<u8>>, options: Options) -> Result<Self, Error> {
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
            options,
            deadline: None,
        })
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
        let timeout = self.options.reply_timeout;
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
            .field("options", &self.options)
            .finish()
    }
}
