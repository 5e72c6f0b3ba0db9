//! A client for the reverse server: sends its arguments as one line and
//! prints the reply.
//!
//! ```text
//! cargo run --example reverse_client -- --connect 127.0.0.1:1234 jack and the beanstalk
//! ```

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use net_std::{ClientOptions, connect};
use reverse_proto::client::{Client, Event, Options};

const EXIT_STATUS: &str = "\
Exit status:
  0  the reply was printed
  2  a usage or local error (a bad flag, TEXT that is not one line), or the
     server could not be reached or sent no reply";

/// Sends TEXT to a reverse server and prints its reply.
#[derive(Debug, Parser)]
#[command(name = "reverse_client", version, after_help = EXIT_STATUS)]
struct Args {
    /// The server's address (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:1234", value_name = "HOST:PORT", value_parser = cli::host_port)]
    connect: String,
    /// Seconds to wait for the connection and for the reply.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// The text to reverse; several words are joined with spaces.
    #[arg(required = true)]
    text: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = cli::parse();
    match run(&args) {
        Ok(reply) => {
            println!("{reply}");
            ExitCode::SUCCESS
        }
        Err(error) => cli::fail("reverse_client", cli::chain(&*error)),
    }
}

fn run(args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    let mut options = ClientOptions::default();
    options.connect_timeout = Duration::from_secs(args.timeout);
    let mut machine_options = Options::default();
    machine_options.reply_timeout = Some(Duration::from_secs(args.timeout));
    let mut client = Client::new(args.text.join(" "), machine_options)?;
    let mut conn = connect(&args.connect, &options).map_err(|error| {
        format!(
            "could not connect to {}: {}",
            args.connect,
            cli::chain(&error)
        )
    })?;
    let mut reply = None;
    conn.run(&mut client, |_, event| {
        if let Event::Reply(text) = event {
            reply = Some(text);
        }
    })?;
    let reply = reply.ok_or("the server sent no reply")?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
