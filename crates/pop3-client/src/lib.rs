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
//!   AUTH with any SASL mechanism, CAPA, STLS (hand-over to TLS), UTF8,
//!   STAT, LIST, UIDL, RETR and TOP (streamed), DELE, NOOP, RSET and QUIT.
//!   Requests are queued with handles and answered in order. When the
//!   server advertises PIPELINING, they are pipelined in a bounded window.
//! * **SASL** ([`sasl`]). Mechanisms as Sans-IO values behind the
//!   object-safe [`sasl::Mechanism`] trait: SCRAM-SHA-256 and SCRAM-SHA-1
//!   (the server proves itself too), CRAM-MD5, PLAIN, LOGIN, XOAUTH2,
//!   OAUTHBEARER, or the application's own.
//!   [`session::Login::strongest`] picks the strongest both sides offer,
//!   and never one that sends a password in clear without TLS unless
//!   allowed.
//!
//! [`server::Server`] serves an in-memory [`server::Mailbox`]. It powers the
//! `pop3_count` demo mailbox and the client/server tests that need no
//! sockets.
//!
//! On top of the machine, [`session::Session`] is what a convenience client
//! is, short of moving bytes: it starts one operation at a time (a login,
//! STAT, a batch of RETRs) and folds the machine's events into that
//! operation's result, still without I/O. Two thin drivers over it come
//! with features:
//!
//! # Features
//!
//! None is on by default: the machines need no I/O crate.
//!
//! * **`blocking`**: `blocking::Pop3Client`, a blocking client over
//!   `net-std` (`Pop3Client::connect(host, port, &options)?.stat()?`).
//! * **`tokio`**: `tokio::Pop3Client`, the same client over `net-tokio`,
//!   with `async` methods.
//! * **`getrandom`**: [`sasl::client_nonce`], SCRAM's client nonce from
//!   the operating system, which [`session::Session::login`] needs for
//!   SCRAM. The two clients turn it on.
//! * **`tls`**: implicit TLS and STLS for both (rustls on the ring
//!   provider, through the adapters' own `tls` features), and `tls::Trust`
//!   (from the `tls-trust` crate), which decides whom to trust: the
//!   system's CA certificates, a CA file, a certificate pinned by its
//!   SHA-256 fingerprint, or a rustls configuration of the caller's.
//!
//! The two clients share their options, errors and every decision
//! (`connect::ConnectOptions`, `connect::Pop3Error`, the [`session`]); they
//! differ only in how bytes move.
//!
//! Neither machine reads a clock: time is what the driver hands to each
//! drain. The client gives up on a server that takes too long over a
//! response ([`Options::response_timeout`](client::Options::response_timeout),
//! 60 s by default) or a session that lasts too long
//! ([`Options::session_timeout`](client::Options::session_timeout)), and
//! reports when LOGIN-DELAY allows the next login
//! ([`Client::next_login_allowed`](client::Client::next_login_allowed)). The
//! server logs out a client idle for 10 minutes
//! ([`server::Options::idle_timeout`](server::Options::idle_timeout)).
//! Tests run all of it on virtual time.
//!
//! ```
//! use lineproto::Secret;
//! use lineproto::testing::Pair;
//! use pop3_client::client::{Client, Credentials, Event, Options, Request, Requested, Response};
//! use pop3_client::server::{self, Mailbox, Server};
//!
//! let messages = (1..=72).map(|i| format!("Subject: {i}\r\n\r\nbody\r\n").into()).collect();
//! let server = Server::new(Mailbox::new("john", "doe", messages), server::Options::default());
//! let mut client = Client::new(Options::default());
//! client.send(Request::Login(Credentials::UserPass { user: "john".into(), password: Secret::new(b"doe".to_vec()) }));
//! client.send(Request::Stat);
//! client.send(Request::Quit);
//! let outcome = Pair::new(client, server).run();
//! let count = outcome.client_events.iter().find_map(|event| match event {
//!     // Each answer names its request: no table of handles needed.
//!     Event::Response { requested: Requested::Stat, response: Response::Stat { count, .. }, .. } => Some(*count),
//!     _ => None,
//! });
//! assert_eq!(count, Some(72));
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::time::Duration;

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod body;
pub mod client;
mod codec;
#[cfg(any(feature = "blocking", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "blocking", feature = "tokio"))))]
pub mod connect;
pub mod sasl;
pub mod server;
pub mod session;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

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
    /// The server took too long over a response (the greeting included):
    /// it was not complete within
    /// [`response_timeout`](client::Options::response_timeout) of when the
    /// client started waiting for it or, while a message streams in, no
    /// complete line of it arrived for that long.
    #[error("timed out after {timeout:?} waiting for the {command} response")]
    ResponseTimeout {
        /// The command whose response was awaited (`greeting` for the
        /// greeting).
        command: &'static str,
        /// The configured response timeout.
        timeout: Duration,
    },
    /// The session was not over within
    /// [`session_timeout`](client::Options::session_timeout) of its start.
    #[error("session not over within {timeout:?}")]
    SessionTimeout {
        /// The configured session timeout.
        timeout: Duration,
    },
    /// A SASL exchange failed on the client's side: the mechanism refused
    /// to start (the request is then [`NotSent`](client::Response::NotSent)),
    /// or the server said `+OK` to an exchange the mechanism could not
    /// accept, such as SCRAM without the server's signature, or after the
    /// client cancelled. Logged in to a server that did not prove itself,
    /// the client ends the session.
    #[error("sasl authentication failed")]
    Sasl(#[source] sasl::Error),
    /// The server machine: the client sent no command for
    /// [`idle_timeout`](server::Options::idle_timeout).
    #[error("client sent no command for {timeout:?}")]
    IdleTimeout {
        /// The configured idle timeout.
        timeout: Duration,
    },
}

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
