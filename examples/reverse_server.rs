//! The article's first server ("Going Backwards"): reads one line, answers
//! with its reversal, closes. Unlike the original it serves many clients at
//! once and keeps running (`--once` restores the original behaviour).
//!
//! ```text
//! cargo run --example reverse_server
//! printf 'jack and the beanstalk\r\n' | nc 127.0.0.1 1234
//! ```

mod cli;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use reverse_proto::Mode;
use reverse_proto::server::{Event, Options, Server};
use support::{ListenArgs, Service, say_peer};

const EXIT_STATUS: &str = "\
Exit status:
  0  stopped after --once, or by SIGINT or SIGTERM
  2  a usage or local error: a bad flag, an address it cannot listen on";

/// Reverses one line per connection, then closes: the article's first
/// server.
#[derive(Debug, Parser)]
#[command(name = "reverse_server", version, after_help = EXIT_STATUS)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// Reverse byte by byte, exactly as PHP's strrev, instead of by character.
    #[arg(long)]
    bytes: bool,
    /// Seconds a client has to send its whole request line (0: no limit).
    #[arg(long, default_value_t = 10)]
    request_timeout: u64,
}

struct Reverse(Options);

impl Service for Reverse {
    type Machine = Server;

    fn start(&self, _peer: SocketAddr) -> Option<Server> {
        Some(Server::new(self.0.clone()))
    }

    fn on_event(&self, _server: &mut Server, event: Event) {
        match event {
            Event::Received(input) => say_peer("Received input: ", &input),
            Event::Sent(output) => say_peer("Sent output: ", &output),
            // Kinds of event added to the machine later: nothing to print.
            _ => {}
        }
    }
}

fn main() -> std::process::ExitCode {
    let args: Args = cli::parse();
    let mut options = Options::default();
    options.mode = if args.bytes {
        Mode::Bytes
    } else {
        Mode::Graphemes
    };
    options.request_timeout =
        (args.request_timeout > 0).then(|| Duration::from_secs(args.request_timeout));
    support::exit_status(
        "reverse_server",
        support::serve(&args.listen, Reverse(options)),
    )
}
