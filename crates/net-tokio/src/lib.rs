//! Drives [`lineproto`] machines over tokio: the same machines `net-std`
//! drives with threads, served from tasks instead.
//!
//! * [`Conn`] runs any [`Machine`](lineproto::Machine) over any
//!   `AsyncRead + AsyncWrite + Unpin` stream: it writes each `Transmit`,
//!   reads when the machine waits (no longer than its deadline), and hands
//!   events to the caller.
//! * [`Server`] accepts TCP connections and serves each in its own task,
//!   with a connection limit, a per-peer limit, a write timeout, a graceful
//!   close, counters, and a [`ShutdownHandle`] that stops it with a grace
//!   period; [`Server::serve_one`] serves a single client.
//! * [`connect`] opens a client connection with connect and write timeouts.
//! * With the `tls` feature, `tls` adds TLS through tokio-rustls (ring
//!   provider): implicit TLS, STARTTLS and server-side accept, for any
//!   protocol, and `tls::trust` for the client's trust settings (a CA
//!   file, a certificate pinned by its SHA-256 fingerprint).
//!
//! # Example
//!
//! A server that answers each line with the line itself, and a client that
//! talks to it, both driving a machine defined on the spot.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use lineproto::{LineBuffer, Machine, Output};
//! use net_tokio::{ClientOptions, Server, ServerOptions, connect};
//!
//! /// Echoes lines until end of input. (A real server would also set a
//! /// deadline; see the `Conn` docs on time.)
//! #[derive(Debug)]
//! struct Echo { lines: LineBuffer, eof: bool }
//!
//! impl Machine for Echo {
//!     type Event = ();
//!     type Error = lineproto::Error;
//!     fn handle_input(&mut self, bytes: &[u8]) { self.lines.extend(bytes) }
//!     fn handle_eof(&mut self) { self.eof = true }
//!     fn poll_output(&mut self, _now: Instant) -> Output<(), lineproto::Error> {
//!         match self.lines.next_line() {
//!             Some(Ok(line)) => Output::Transmit(Bytes::from([&line[..], b"\n"].concat())),
//!             Some(Err(error)) => Output::Done(Err(error)),
//!             None if self.eof => Output::Done(Ok(())),
//!             None => Output::Wait { deadline: None },
//!         }
//!     }
//! }
//!
//! /// Sends one line and reports the reply.
//! #[derive(Debug)]
//! struct Ask { question: Option<Bytes>, lines: LineBuffer }
//!
//! impl Machine for Ask {
//!     type Event = Bytes;
//!     type Error = lineproto::Error;
//!     fn handle_input(&mut self, bytes: &[u8]) { self.lines.extend(bytes) }
//!     fn handle_eof(&mut self) {}
//!     fn poll_output(&mut self, _now: Instant) -> Output<Bytes, lineproto::Error> {
//!         if let Some(question) = self.question.take() {
//!             return Output::Transmit(question);
//!         }
//!         match self.lines.next_line() {
//!             Some(Ok(reply)) => Output::Event(reply),
//!             Some(Err(error)) => Output::Done(Err(error)),
//!             None => Output::Wait { deadline: None },
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//!     let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
//!     let addr = server.local_addr();
//!     let stop = server.shutdown_handle();
//!     let serving = tokio::spawn(server.serve(|mut conn, _info| async move {
//!         let mut echo = Echo { lines: LineBuffer::new(1024), eof: false };
//!         let _ = conn.run(&mut echo, |_, ()| {}).await;
//!     }));
//!
//!     let mut conn = connect(addr, &ClientOptions::default()).await?;
//!     let mut ask = Ask { question: Some("hello\n".into()), lines: LineBuffer::new(1024) };
//!     let reply = conn.next_event(&mut ask).await?;
//!     assert_eq!(reply.as_deref(), Some(&b"hello"[..]));
//!     drop(conn);
//!
//!     stop.shutdown();
//!     serving.await??;
//!     assert_eq!(stop.stats().accepted, 1);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Design
//!
//! **Time.** A machine owns its deadlines; the driver owns the clock. Each
//! drain's `now` is `tokio::time::Instant::now()`, so a test on a paused
//! clock (`#[tokio::test(start_paused = true)]`) runs a 60-second timeout
//! in no time. On `Wait { deadline: Some(d) }` the read is bounded with
//! `tokio::time::timeout_at(d)`; when it expires, the machine is drained
//! again and decides what the deadline meant. There is deliberately no
//! idle or read timeout in this crate: those are the machine's deadlines.
//! The one timeout here is the write timeout, which no machine can see.
//!
//! **Cancellation.** `Conn::next_event` can be dropped at any `.await`
//! (a losing `select!` branch, a `timeout`) without losing anything: the
//! unwritten part of a `Transmit` is kept inside the `Conn` and written
//! first by the next call (the idea of imap-next's `stream.rs`), input is
//! handed to the machine in the same poll that reads it, and an event is
//! returned in the poll that takes it from the machine.
//!
//! **Memory.** An idle connection holds no read buffer: each read goes
//! into an 8 KiB buffer on the stack of the poll that reads it
//! (`poll_read` over a local array), and the bytes reach
//! `Machine::handle_input` before that poll returns. A `Conn` is the
//! stream plus about a hundred bytes, and a waiting `next_event` future a
//! few hundred more, so an idle connection costs its socket, its task and
//! its machine: about 3 KB each in `tests/idle_memory.rs` (both ends of
//! 9,500 loopback connections in one process took 27 MB), so ten thousand
//! stay far below 100 MB.
//!
//! **Reading while writing.** When a write blocks because the peer is not
//! reading, the `Conn` keeps reading, handing the bytes to the machine
//! (which only stores them), up to [`READ_AHEAD`] bytes until the machine
//! is drained again. Otherwise a peer that sends many requests before
//! reading any replies and a server that stops reading while it writes
//! would wait on each other forever, as imap-next's `stream.rs` explains.
//! The cap keeps memory bounded; a peer that pipelines more than that
//! without reading hits the write timeout.
//!
//! **Serving.** At most `max_connections` connections are open: when all
//! slots are busy the server stops accepting and new connections wait in
//! the kernel's backlog (set with socket2 when binding), as `net-std`
//! does. A per-peer cap closes a peer's connection over the cap as soon as
//! it is accepted and counts it; the per-address counts leave their map
//! when they reach zero. After a handler drops its `Conn`, the server
//! half-closes the socket and reads until the peer closes or the linger
//! runs out, so unread input does not make the kernel reset the connection
//! and destroy the reply; the `Conn` hands its stream back to the server
//! when dropped, so this works even if the handler moved the `Conn`
//! elsewhere. On shutdown the server closes its listener at once, lets
//! open connections finish within the grace period (handlers can watch
//! [`ShutdownHandle::wait`] to say goodbye), and then drops them.
//!
//! **Runtime.** Any tokio runtime with I/O and time enabled
//! (`enable_all()`), current-thread or multi-thread: every future here is
//! `Send` when the machine is. This crate enables only tokio's `rt`, `net`,
//! `time`, `io-util` and `sync` features.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod conn;
mod race;
mod server;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

pub use client::{ClientOptions, connect};
pub use conn::{Conn, DriveError, READ_AHEAD, READ_SIZE};
pub use server::{ConnInfo, Server, ServerOptions, ServerStats, ShutdownHandle};
