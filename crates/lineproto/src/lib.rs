//! The shared core of the workspace's Sans-IO protocol machines.
//!
//! * [`Machine`] and [`Output`]: the contract every protocol machine
//!   implements. A machine is fed bytes with [`Machine::handle_input`] and
//!   drained, at a time the driver hands in, with [`Machine::poll_output`]
//!   until [`Output::Wait`] (which carries the machine's next deadline) or
//!   [`Output::Done`]; it never does I/O and never reads a clock.
//! * [`LineBuffer`]: LF/CRLF line framing with a length limit, built on
//!   `memchr`, that never rescans a byte and recovers after an overlong line.
//! * [`Secret`]: a wrapper whose `Debug` output is redacted and whose memory
//!   is zeroed on drop.
//! * [`testing`]: drivers for tests on virtual time: feed a machine chunks
//!   (at given times), or run a client machine against a server machine
//!   with no sockets.
//!
//! This crate does no I/O. Drivers live in other crates (`net-std` drives any
//! machine over `std::io::Read + Write`), so a protocol crate depends on this
//! one alone and any runtime can drive it.
//!
//! ```
//! use lineproto::LineBuffer;
//!
//! let mut lines = LineBuffer::new(1024);
//! lines.extend(b"USER john\r\nPASS ");
//! assert_eq!(lines.next_line().unwrap().unwrap(), "USER john");
//! assert!(lines.next_line().is_none());
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod line_buffer;
mod machine;
#[cfg(feature = "proxy")]
#[cfg_attr(docsrs, doc(cfg(feature = "proxy")))]
pub mod proxy;
mod secret;
pub mod testing;

pub use line_buffer::LineBuffer;
pub use machine::{Machine, Output, earliest};
pub use secret::Secret;

/// Errors of the core crate: line framing's one failure. Exhaustive on
/// purpose, so protocol crates map it without a catch-all arm that no
/// input could reach; a new kind of framing failure would be a breaking
/// change, as it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A line's content was longer than the configured limit.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded, in bytes, terminator not counted.
        limit: usize,
    },
}

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
