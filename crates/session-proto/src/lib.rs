//! Sans-IO machines for the article's looping session.
//!
//! On connect the [server](server::Server) sends a banner and the prompt
//! `? `. Each line it receives is trimmed; an empty line gets no answer,
//! `END` closes the session, and any other line gets the line handler's
//! reply (by default its reversal), a LF and the prompt again:
//!
//! ```text
//! S: Roll up, roll up, to the greatest show on earth!\n?
//! C: Look Ma...all backwards\r\n
//! S: sdrawkcab lla...aM kooL\n?
//! C: END\r\n
//! S: (closes)
//! ```
//!
//! The [client](client::Client) is the other side, as the article's web
//! clients use it. A client and a server machine can talk with no socket:
//!
//! ```
//! use lineproto::testing::Pair;
//! use session_proto::{client, server};
//!
//! let mut client = client::Client::new(client::Options::default());
//! client.send("Look Ma...all backwards")?;
//! client.send("jack frost")?;
//! client.end();
//! let server = server::Server::new(server::Options::default());
//! let outcome = Pair::new(client, server).run();
//! assert_eq!(outcome.client_events[1..], [
//!     client::Event::Reply("sdrawkcab lla...aM kooL".into()),
//!     client::Event::Reply("tsorf kcaj".into()),
//! ]);
//! assert_eq!(outcome.client_result, Some(Ok(())));
//! # Ok::<(), session_proto::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod client;
pub mod server;
mod telnet;

pub use client::Client;
pub use server::{LineHandler, ReverseLines, Server};
pub use telnet::{TelnetFilter, strip_telnet_commands};

/// Errors of the session machines.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A line to send contained a CR or LF, which would make it two lines.
    #[error("line contains a line break")]
    LineContainsNewline,
    /// A line to send was empty after trimming; the server would not answer it.
    #[error("line is blank; the server does not answer blank lines")]
    BlankLine,
    /// A line to send was the end command; use `Client::end` to end the session.
    #[error("line is the end command")]
    LineIsEndCommand,
    /// A line sent or received was longer than the limit.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A line was queued after the session was ended.
    #[error("session already ended")]
    SessionEnded,
    /// A line from the server did not start with the prompt.
    #[error("server line does not start with the prompt")]
    MissingPrompt,
    /// The server sent a reply nobody asked for.
    #[error("server sent a reply to no line")]
    UnexpectedReply,
    /// The peer sent no line within the idle timeout.
    #[error("no line within {timeout:?}")]
    IdleTimeout {
        /// The idle timeout.
        timeout: std::time::Duration,
    },
    /// A line was started but not finished within the line timeout.
    #[error("line not complete within {timeout:?}")]
    LineTimeout {
        /// The line timeout.
        timeout: std::time::Duration,
    },
    /// The server did not send the banner or a reply it owed in time.
    #[error("no answer from the server within {timeout:?}")]
    ReplyTimeout {
        /// The reply timeout.
        timeout: std::time::Duration,
    },
    /// The server closed the connection before its banner.
    #[error("server closed the connection before its banner")]
    ClosedBeforeBanner,
    /// The server closed the connection with replies still owed.
    #[error("server closed the connection with {missing} replies missing")]
    ClosedBeforeReply {
        /// How many replies did not arrive.
        missing: usize,
    },
}

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
