//! What the server answered: [`Response`], and the [`Event`]s that carry
//! responses and message data to the application.

use bytes::Bytes;

use super::{Handle, Requested};
use crate::codec::{Capabilities, Greeting, ResponseCode, StatusLine};
use crate::{Error, sasl};

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
    pub(crate) fn from_line(command: &'static str, line: StatusLine) -> Self {
        Self {
            command,
            code: line.code,
            text: line.text,
        }
    }

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

/// The answer to one request: each request gets exactly one.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+OK` to a command with nothing more to report (login, DELE, NOOP,
    /// RSET, UTF8, `LANG tag`, QUIT).
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
    /// A message (RETR) or an excerpt (TOP) arrived whole. Its bytes came
    /// before, as [`Event::MessageData`].
    Message {
        /// The server's `+OK` line.
        status: StatusLine,
        /// How many bytes the data events held in all: the message as
        /// delivered, dot-unstuffed, with the server's line ends. For RETR
        /// this is what LIST should have said of it.
        octets: u64,
    },
    /// `+OK` to STLS: upgrade the transport now, then call
    /// [`Client::tls_established`](super::Client::tls_established).
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
    /// Sent, but the session ended (with this error) before the answer
    /// came. For a RETR or TOP cut short, the data events before it hold
    /// part of the message only.
    Unanswered(Error),
}

/// What the client tells its application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's greeting (a `-ERR` greeting also ends the session).
    Greeting(Greeting),
    /// The one answer to the request with this handle.
    Response {
        /// The request's handle.
        handle: Handle,
        /// What the request asked.
        requested: Requested,
        /// The answer.
        response: Response,
    },
    /// A piece of the message being retrieved, dot-unstuffed, with its
    /// line ends as the server sent them. The pieces of one request come
    /// before its [`Response`].
    MessageData {
        /// The RETR or TOP request's handle.
        handle: Handle,
        /// The message number.
        message: u32,
        /// The bytes; concatenated, the pieces are the message.
        chunk: Bytes,
    },
}
