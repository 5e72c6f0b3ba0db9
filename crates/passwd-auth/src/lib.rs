//! Verify passwords as the system does: passwd(5) and shadow(5), every
//! crypt(5) format that libxcrypt writes and a maintained crate verifies,
//! and the account policy pam_unix applies. Plus the article's
//! `user:password` auth exchange, without its holes.
//!
//! * [`PasswdDb`] is built from the *contents* of passwd and shadow files.
//!   Lines are parsed zero-copy as bytes, and accounts are looked up by name
//!   in O(1). [`PasswdLine`] and [`ShadowLine`] parse single lines; shadow
//!   lines that glibc refuses are refused, and their accounts cannot log in.
//! * [`verify`] checks a password against one crypt hash. It covers DES,
//!   BSDi, `$1$`, `$sha1$`, `$5$`, `$6$`, `$2a$`/`$2b$`/`$2y$` and `$y$`.
//!   Every other format is a typed [`HashError::UnsupportedHash`], never a
//!   match. Absurd costs are refused under [`CostLimits`];
//!   [`HashCost`] reads what a hash costs from its shape.
//! * [`Authenticator`] combines the two with a [`Policy`]: lock markers,
//!   empty passwords, the account aging of Linux-PAM 1.6's pam_unix judged
//!   against a `today` handed in, and a dummy verification as costly as the
//!   costliest hash in the database, so that refusals cost at least what
//!   any verification costs. Building one takes milliseconds, whatever the
//!   number of accounts. The verdict is an [`Outcome`], and
//!   [`Outcome::wire_code`] maps it to the article's `1`/`0`/`-1`.
//! * [`server::Server`] and [`client::Client`] are the Sans-IO machines
//!   of the auth server's one-line exchange. [`server::DeferredServer`]
//!   hands the attempt to the application and waits for its verdict, so an
//!   async driver can verify off its workers; [`VerifyBudget`] admits at
//!   most N verifications at once, with a bounded queue.
//!
//! The crate does no I/O and reads no clock:
//!
//! ```
//! use lineproto::testing::{transcript, Step};
//! use passwd_auth::server::{Options, Server};
//! use passwd_auth::{Authenticator, PasswdDb, Policy};
//!
//! let passwd = b"john:x:1000:1000::/home/john:/bin/sh\n";
//! let shadow = b"john:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA:19000:0:99999:7:::\n";
//! let auth = Authenticator::new(PasswdDb::parse(passwd, Some(shadow)), Policy::default());
//! let today = 20_000; // days since 1970-01-01, from the caller's clock
//!
//! let server = Server::new(Options::default(), |user: &[u8], password: &[u8]| {
//!     auth.authenticate(user, password, today)
//! });
//! let steps = transcript(server, [b"john:secret\n"], false);
//! assert_eq!(steps[1], Step::Transmit("1".into()));
//! ```
#![forbid(unsafe_code)]

mod auth;
mod budget;
pub mod client;
mod db;
mod delay;
mod hash;
pub mod server;

/// The hasher of the crate's maps. std's randomly keyed one, except under
/// `cargo fuzz` (`cfg(fuzzing)`), where fixed keys keep a fuzz run with a
/// fixed seed the same on every machine (CI's fuzz step relies on it).
#[cfg(not(fuzzing))]
type MapHasher = std::collections::hash_map::RandomState;
#[cfg(fuzzing)]
type MapHasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

pub use auth::{Authenticator, Outcome, Policy, WireCode};
pub use budget::{VerifyBudget, VerifyPermit, VerifyTicket};
pub use db::{Account, FileKind, PasswdDb, PasswdLine, ShadowInfo, ShadowLine, StoredHash};
pub use delay::FailureDelay;
pub use hash::{CostLimits, HashCost, HashFormat, MAX_PASSWORD_LEN, identify, verify};

/// Why a passwd or shadow line was refused. Neither variant carries the
/// line (it may hold a hash).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// A passwd or shadow line could not be parsed.
    #[error("{file} entry is malformed: {reason}")]
    MalformedEntry {
        /// Which file format.
        file: FileKind,
        /// What is wrong.
        reason: &'static str,
    },
    /// A line of a passwd or shadow file could not be parsed (it was skipped).
    #[error("{file} line {line} is malformed: {reason}")]
    MalformedLine {
        /// Which file.
        file: FileKind,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Why a stored hash cannot be verified, or a password not checked
/// against it. Never a match; no variant carries the hash or the password.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// A stored hash is not a valid crypt string (a lock marker included).
    #[error("stored hash is malformed: {reason}")]
    MalformedHash {
        /// What is wrong.
        reason: &'static str,
    },
    /// A stored hash is in a format no maintained crate verifies (or one
    /// this build leaves out: see [`HashFormat::is_enabled`]).
    #[error("stored hash format is not supported: {format}")]
    UnsupportedHash {
        /// The format's name.
        format: &'static str,
    },
    /// A stored hash asks for more work than the configured ceiling.
    #[error("stored {format:?} hash costs {cost}, over the ceiling of {ceiling}")]
    CostTooHigh {
        /// The format.
        format: HashFormat,
        /// The cost it asks for (rounds, log2 cost, or bytes of memory).
        cost: u64,
        /// The ceiling.
        ceiling: u64,
    },
    /// A password of 512 bytes or more, which libxcrypt refuses too.
    #[error("password longer than {limit} bytes")]
    PasswordTooLong {
        /// The longest accepted, in bytes.
        limit: usize,
    },
}

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
