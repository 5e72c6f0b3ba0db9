//! Drives [`lineproto`] machines over `std::net`: the only crate of the
//! workspace that touches a socket.
//!
//! * [`Conn`] runs any [`Machine`](lineproto::Machine) over any
//!   `Read + Write` stream: it writes each `Transmit`, reads when the machine
//!   needs input, and hands events to the caller.
//! * [`Server`] accepts TCP connections and serves each on its own thread,
//!   with a connection limit, idle and write timeouts, a graceful close, a
//!   [`ShutdownHandle`], and [`Server::serve_one`] for the article's
//!   serve-one-then-exit behaviour.
//! * [`connect`] opens a client connection with connect, read and write
//!   timeouts.
//! * With the `tls` feature, `tls` adds TLS through rustls (ring
//!   provider), client and server side, for implicit TLS and a STARTTLS
//!   switch in any protocol, a server handshake deadline
//!   (`tls::accept_until`), and `tls::trust` for the client's trust
//!   settings (a CA file, a certificate pinned by its SHA-256
//!   fingerprint).
//!
//! This crate knows no protocol: it depends on [`lineproto`] for the
//! contract and on nothing that parses a protocol. Protocol crates build
//! their conveniences on top of it (the blocking POP3 client is
//! `pop3_client::blocking`).
//!
//! Blocking threads are the plainest way to serve line protocols: a session
//! costs a parked thread with a small stack, and a thousand of them fit
//! easily in memory. The machines do no I/O, so an async adapter can drive
//! the same machines without changing them.
//!
//! Choose `net-tokio` instead when many sessions are busy at once: each
//! line a thread waits for costs a context switch here, where a tokio
//! worker takes several ready sockets per wakeup. Measured on 2 cores with
//! 128 sessions at 20,000 round trips a second in all, the session server
//! needed 1.7–1.9 times the CPU per round trip of a minimal tokio server
//! on this crate (a minimal thread-per-connection server needs 1.4–1.7
//! times: the context switches), and 1.1 times on `net-tokio`
//! (`docs/benchmarks.md`, "Server CPU per round trip").
//!
//! ```
//! use net_std::{ClientOptions, Server, ServerOptions, connect};
//! use session_proto::{client, server};
//!
//! let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
//! let addr = server.local_addr()?;
//! let stop = server.shutdown_handle();
//! let serving = std::thread::spawn(move || {
//!     server.serve(|conn, _info| {
//!         let _ = conn.run(&mut server::Server::new(server::Options::default()), |_, _| {});
//!     })
//! });
//!
//! let mut conn = connect(addr, &ClientOptions::default())?;
//! let mut session = client::Client::new(client::Options::default());
//! session.send("Look Ma...all backwards")?;
//! session.end();
//! let mut replies = Vec::new();
//! conn.run(&mut session, |_, event| {
//!     if let client::Event::Reply(reply) = event {
//!         replies.push(reply);
//!     }
//! })?;
//! assert_eq!(replies, ["sdrawkcab lla...aM kooL"]);
//!
//! stop.shutdown();
//! serving.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod conn;
mod server;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

pub use client::{ClientOptions, connect};
pub use conn::{Conn, DriveError, READ_SIZE, ReadTimeout};
pub use server::{ConnInfo, Server, ServerOptions, ServerStats, ShutdownHandle};

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
