//! The article's first server ("Going Backwards"): reads one line, answers
//! with its reversal, closes. Unlike the original it serves many clients at
//! once and keeps running (`--once` restores the original behaviour).
//!
//! ```text
//! cargo run --example reverse_server
//! printf 'jack and the beanstalk\r\n' | nc 127.0.0.1 1234
//! ```

mod support;

use clap::Parser;
use reverse_proto::Mode;
use reverse_proto::server::{Event, Options, Server};
use support::{ListenArgs, printable};

/// Reverses one line per connection.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// Reverse byte by byte, exactly as PHP's strrev, instead of by character.
    #[arg(long)]
    bytes: bool,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut options = Options::default();
    options.mode = if args.bytes {
        Mode::Bytes
    } else {
        Mode::Graphemes
    };
    support::serve(&args.listen, move |conn| {
        let result = conn.run(&mut Server::new(options.clone()), |_, event| match event {
            Event::Received(input) => println!("Received input: {}", printable(&input)),
            Event::Sent(output) => println!("Sent output: {}", printable(&output)),
        });
        if let Err(error) = result {
            println!("Connection failed: {error}");
        }
    })
}
