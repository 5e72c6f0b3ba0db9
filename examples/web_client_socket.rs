//! The article's "Different Strokes" client: the same page as `web_client`,
//! but the low-level way (as with PHP's `socket_create` and
//! `socket_connect`). It opens a raw `std::net::TcpStream` and drives the
//! session client machine by hand: write what it transmits, read when it
//! needs input, and stop when it is done.
//!
//! That loop is all the I/O there is. Framing, the prompt, the order of
//! banner, line, reply and `END`, and every protocol check stay in the
//! machine. The article's version read "whatever one `socket_read` of 1024
//! bytes returned" and cut the prompt off by position.
//!
//! The page is served on tokio (see `web/mod.rs`); this blocking loop runs
//! on tokio's blocking threads, as many at once as `--workers` allows.
//!
//! ```text
//! cargo run --example session_server &
//! cargo run --example web_client_socket
//! # open http://127.0.0.1:8080/
//! ```

mod cli;
mod web;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use lineproto::{Machine, Output};
use session_proto::client::{Client, Event, Options};
use web::{AskError, WebArgs};

/// Serves the same web form as web_client, the low-level way: a raw
/// TcpStream, with the session client machine driven by hand in a loop of
/// its own (the article's `socket_create` and `socket_connect` client).
/// web_client does the same through net-tokio's connection driver.
#[derive(Debug, Parser)]
#[command(name = "web_client_socket", version, after_help = web::EXIT_STATUS)]
struct Args {
    #[command(flatten)]
    web: WebArgs,
}

fn main() -> std::process::ExitCode {
    let args: Args = cli::parse();
    web::run("web_client_socket", args.web, ask_off_thread)
}

/// Runs the blocking exchange where blocking is allowed: on one of tokio's
/// blocking threads, not on a task that serves pages.
async fn ask_off_thread(message: String, args: Arc<WebArgs>) -> Result<String, AskError> {
    tokio::task::spawn_blocking(move || ask(&message, &args))
        .await
        .unwrap_or_else(|_| Err(AskError::Failed("the exchange panicked".into())))
}

/// Banner, message, one reply, END, over a socket driven by hand.
fn ask(message: &str, args: &WebArgs) -> Result<String, AskError> {
    let mut machine_options = Options::default();
    machine_options.reply_timeout = Some(args.timeout());
    let mut session = Client::new(machine_options);
    session.send(message).map_err(AskError::Refused)?;
    session.end();

    // socket_create + socket_connect, with a time limit.
    let addr = args
        .connect
        .to_socket_addrs()
        .map_err(AskError::Unreachable)?
        .next()
        .ok_or_else(|| AskError::Unreachable(ErrorKind::NotFound.into()))?;
    let mut socket =
        TcpStream::connect_timeout(&addr, args.timeout()).map_err(AskError::Unreachable)?;
    let io_failed = |error: std::io::Error| match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => AskError::TimedOut,
        _ => AskError::Failed(error.to_string()),
    };
    socket
        .set_write_timeout(Some(args.timeout()))
        .map_err(io_failed)?;

    // The machine's driver loop, by hand: the clock is read here, and each
    // read waits no longer than the machine's deadline.
    let mut buffer = [0u8; 1024];
    let mut reply = None;
    loop {
        match session.poll_output(Instant::now()) {
            Output::Transmit(bytes) => socket.write_all(&bytes).map_err(io_failed)?,
            Output::Event(Event::Reply(text)) => reply = Some(text),
            // The banner, and kinds of event added later: not shown.
            Output::Event(_) => {}
            Output::Wait { deadline } => {
                let left =
                    deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
                if left.is_some_and(|left| left.is_zero()) {
                    continue; // the deadline is here: drain again
                }
                socket.set_read_timeout(left).map_err(io_failed)?;
                match socket.read(&mut buffer) {
                    Ok(0) => session.handle_eof(),
                    Ok(read) => session.handle_input(&buffer[..read]),
                    Err(error)
                        if matches!(
                            error.kind(),
                            ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                        ) => {}
                    Err(error) => return Err(io_failed(error)),
                }
            }
            Output::Done(Ok(())) => break,
            Output::Done(Err(session_proto::Error::ReplyTimeout { .. })) => {
                return Err(AskError::TimedOut);
            }
            Output::Done(Err(error)) => return Err(AskError::Failed(error.to_string())),
        }
    }
    let reply = reply.ok_or_else(|| AskError::Failed("no reply".into()))?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
