//! Sans-IO machines for the article's first two servers.
//!
//! * [`server::Server`] and [`client::Client`]: the one-shot reversal
//!   exchange. The client sends a line; the server trims it as PHP's `trim`
//!   does, reverses it, answers with the reversal and a LF, and closes.
//! * [`Announce`]: the fortune server's exchange. On connect the server
//!   sends one text and closes, reading nothing. [`Fortunes`] parses the
//!   `%`-separated fortune file format to pick that text from.
//! * [`reverse`] and [`trim`]: the text operations, usable on their own.
//!   Reversal is by grapheme cluster by default (`👍🏽` stays whole), or byte
//!   by byte exactly as PHP's `strrev`.
//!
//! The machines do no I/O; drive them with `net-std` or any other driver.
//! A client and a server machine can talk to each other with no socket:
//!
//! ```
//! use lineproto::testing::Pair;
//! use reverse_proto::{client, server};
//!
//! let client = client::Client::new("pässwörd 👍🏽", client::Options::default())?;
//! let server = server::Server::new(server::Options::default());
//! let outcome = Pair::new(client, server).chunk_size(3).run();
//! assert_eq!(outcome.client_events, [client::Event::Reply("👍🏽 dröwssäp".into())]);
//! assert_eq!(outcome.server_sent, "👍🏽 dröwssäp\n".as_bytes());
//! # Ok::<(), reverse_proto::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod client;
mod fortune;
pub mod server;
mod text;

pub use client::Client;
pub use fortune::{Announce, Fortunes};
pub use server::Server;
pub use text::{Mode, reverse, reverse_into, trim};

/// Errors of the reversal and fortune exchanges.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A client request contained a LF; the server would cut it there.
    #[error("request contains a line break")]
    RequestContainsNewline,
    /// The server's reply was longer than the client accepts.
    #[error("reply longer than {limit} bytes")]
    ReplyTooLong {
        /// The client's limit, in bytes.
        limit: usize,
    },
    /// The server closed the connection without replying.
    #[error("server closed the connection before replying")]
    ClosedBeforeReply,
    /// The whole request did not arrive within the server's deadline.
    #[error("request not complete within {timeout:?}")]
    RequestTimeout {
        /// The deadline, counted from the start of the exchange.
        timeout: std::time::Duration,
    },
    /// The reply did not arrive within the client's deadline.
    #[error("no reply within {timeout:?}")]
    ReplyTimeout {
        /// The deadline, counted from the start of the exchange.
        timeout: std::time::Duration,
    },
}

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
