//! The article's looping server ("Looping The Loop"): a banner, a `? `
//! prompt, the reversal of each line, `END` to leave. Unlike the original it
//! serves many sessions at once, drops idle ones, and answers an overlong
//! line with an error instead of growing without bound.
//!
//! ```text
//! cargo run --example session_server
//! telnet 127.0.0.1 1234
//! ```

mod support;

use clap::Parser;
use reverse_proto::Mode;
use session_proto::ReverseLines;
use session_proto::server::{Event, Options, Server};
use support::{ListenArgs, printable};

/// Reverses every line of a session until END.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// Reverse byte by byte, exactly as PHP's strrev, instead of by character.
    #[arg(long)]
    bytes: bool,
    /// The longest line accepted, in bytes.
    #[arg(long, default_value_t = 8192)]
    max_line_len: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut options = Options::default();
    options.max_line_len = args.max_line_len;
    let handler = ReverseLines {
        mode: if args.bytes {
            Mode::Bytes
        } else {
            Mode::Graphemes
        },
    };
    support::serve(&args.listen, move |conn| {
        let mut session = Server::with_handler(options.clone(), handler);
        let result = conn.run(&mut session, |_, event| match event {
            Event::Received(input) => println!("Received input: {}", printable(&input)),
            Event::Sent(output) => println!("Sent output: {}", printable(&output)),
            Event::LineTooLong { limit } => {
                println!("Refused input: line longer than {limit} bytes")
            }
        });
        if let Err(error) = result {
            println!("Session ended: {error}");
        }
    })
}
