//! The article's looping server ("Looping The Loop"): a banner, a `? `
//! prompt, the reversal of each line, `END` to leave. Unlike the original it
//! serves many sessions at once, drops idle ones, and answers an overlong
//! line with an error instead of growing without bound.
//!
//! ```text
//! cargo run --example session_server
//! telnet 127.0.0.1 1234
//! ```

mod cli;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use reverse_proto::Mode;
use session_proto::ReverseLines;
use session_proto::server::{Event, Options, Server};
use support::{ListenArgs, Service, say, say_peer};

const EXIT_STATUS: &str = "\
Exit status:
  0  stopped after --once, or by SIGINT or SIGTERM
  2  a usage or local error: a bad flag, an address it cannot listen on";

/// Reverses every line of a session until END: the article's looping
/// server, with its banner, `? ` prompt and debug lines.
#[derive(Debug, Parser)]
#[command(name = "session_server", version, after_help = EXIT_STATUS)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// Reverse byte by byte, exactly as PHP's strrev, instead of by character.
    #[arg(long)]
    bytes: bool,
    /// The longest line accepted, in bytes.
    #[arg(long, default_value_t = 8192)]
    max_line_len: usize,
    /// Seconds a session may stay silent between lines (0: forever).
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Seconds one line may take from its first byte to its end (0: no limit).
    #[arg(long, default_value_t = 30)]
    line_timeout: u64,
}

struct Session {
    options: Options,
    handler: ReverseLines,
}

impl Service for Session {
    type Machine = Server;

    fn start(&self, _peer: SocketAddr) -> Option<Server> {
        Some(Server::with_handler(self.options.clone(), self.handler))
    }

    fn on_event(&self, _server: &mut Server, event: Event) {
        match event {
            Event::Received(input) => say_peer("Received input: ", &input),
            Event::Sent(output) => say_peer("Sent output: ", &output),
            Event::LineTooLong { limit } => {
                say!("Refused input: line longer than {limit} bytes")
            }
            // Kinds of event added to the machine later: nothing to print.
            _ => {}
        }
    }

    fn on_end(&self, _server: &Server, result: Result<(), String>) {
        if let Err(error) = result {
            say!("Session ended: {error}");
        }
    }
}

fn seconds(value: u64) -> Option<Duration> {
    (value > 0).then(|| Duration::from_secs(value))
}

fn main() -> std::process::ExitCode {
    let args: Args = cli::parse();
    let mut options = Options::default();
    options.max_line_len = args.max_line_len;
    options.idle_timeout = seconds(args.idle_timeout);
    options.line_timeout = seconds(args.line_timeout);
    let handler = ReverseLines {
        mode: if args.bytes {
            Mode::Bytes
        } else {
            Mode::Graphemes
        },
    };
    support::exit_status(
        "session_server",
        support::serve(&args.listen, Session { options, handler }),
    )
}
