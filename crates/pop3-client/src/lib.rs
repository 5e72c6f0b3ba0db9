//! A Sans-IO POP3 client, complete and streaming, and a small POP3 server
//! machine to test it against.
//!
//! The crate has two layers:
//!
//! * **Codec** ([`StatusLine`], [`Greeting`], [`Capabilities`],
//!   [`Command`], [`MultiLineDecoder`], the listing parsers). These are
//!   status lines with extended response codes (RFC 2449, 3206, 6856),
//!   greetings with their APOP timestamp, CAPA lists, and LIST/UIDL lines.
//!   Multi-line responses are dot-unstuffed as a stream, and their end is
//!   found across any chunking, bare-LF servers included. Commands refuse
//!   CR, LF and NUL in arguments, so no command can be injected.
//! * **Flow** ([`client::Client`]). This is the session through
//!   AUTHORIZATION, TRANSACTION and UPDATE. It covers USER/PASS, APOP,
//!   AUTH PLAIN and LOGIN, CAPA, STLS (hand-over to TLS), UTF8, STAT, LIST,
//!   UIDL, RETR and TOP (streamed), DELE, NOOP, RSET and QUIT. Requests
//!   are queued with handles and answered in order. When the server
//!   advertises PIPELINING, they are pipelined in a bounded window.
//!
//! [`server::Server`] serves an in-memory [`server::Mailbox`]. It powers the
//! `pop3_count` demo mailbox and the client/server tests that need no
//! sockets.
//!
//! ```
//! use lineproto::Secret;
//! use lineproto::testing::Pair;
//! use pop3_client::client::{Client, Event, Options, Request, Response};
//! use pop3_client::server::{Mailbox, Server, ServerOptions};
//!
//! let messages = (1..=72).map(|i| format!("Subject: {i}\r\n\r\nbody\r\n").into()).collect();
//! let server = Server::new(Mailbox::new("john", "doe", messages), ServerOptions::default());
//! let mut client = Client::new(Options::default());
//! client.send(Request::UserPass { user: "john".into(), password: Secret::new(b"doe".to_vec()) });
//! let stat = client.send(Request::Stat);
//! client.send(Request::Quit);
//! let outcome = Pair::new(client, server).run();
//! let count = outcome.client_events.iter().find_map(|event| match event {
//!     Event::Response { handle, response: Response::Stat { count, .. } } if *handle == stat => Some(*count),
//!     _ => None,
//! });
//! assert_eq!(count, Some(72));
//! ```
#![forbid(unsafe_code)]

mod body;
pub mod client;
mod codec;
pub mod server;

pub use body::{Decoded, MultiLineDecoder};
pub use client::{Handle, Request, Response, ServerError};
pub use codec::{
    Capabilities, Capability, Command, Greeting, MAX_COMMAND_LEN, ResponseCode, Status, StatusLine,
    apop_digest, apop_timestamp, parse_scan_listing, parse_stat, parse_unique_id_listing,
};

/// Errors of the POP3 client and server machines. None carries a password.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Something from the server did not parse.
    #[error("malformed {what} from the server")]
    Malformed {
        /// What did not parse.
        what: &'static str,
    },
    /// A command argument held CR, LF or NUL; it would have let the rest be
    /// read as another command.
    #[error("command argument contains CR, LF or NUL")]
    ForbiddenByte,
    /// A command line would exceed the 255 octets RFC 2449 allows.
    #[error("command longer than {limit} octets")]
    CommandTooLong {
        /// The limit, CRLF included.
        limit: usize,
    },
    /// A status line exceeded the configured limit.
    #[error("server line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A LIST, UIDL or CAPA listing exceeded the configured limit.
    #[error("server listing longer than {limit} bytes")]
    ListingTooLong {
        /// The limit.
        limit: usize,
    },
    /// The server refused the session (a `-ERR` greeting).
    #[error("server refused the session: {0}")]
    Refused(ServerError),
    /// The server closed the connection before the session ended.
    #[error("server closed the connection unexpectedly")]
    UnexpectedEof,
    /// The server sent data when no reply was due.
    #[error("server sent data that answers no command")]
    UnexpectedData,
    /// APOP was requested but the greeting had no timestamp.
    #[error("APOP needs a timestamp in the greeting, and there is none")]
    NoApopTimestamp,
    /// The session ended before this request was sent or answered.
    #[error("the session ended before this request was answered")]
    SessionEnded,
    /// The server refused STLS; the session was ended so that nothing meant
    /// for TLS goes out in clear.
    #[error("the server refused STLS: {0}")]
    StartTlsRefused(ServerError),
}
