//! The article's POP3 client ("POP Goes The Weasel"): logs in, asks STAT,
//! and prints `N messages in mailbox`.
//!
//! With no arguments it starts a built-in demo POP3 server on a free
//! loopback port, with 72 messages, and counts those. With `--host` it
//! counts a real mailbox. It can use implicit TLS (`--tls`, port 995) or
//! STLS (`--starttls`), and log in with USER/PASS, `--apop` or
//! `--sasl-plain`. The password comes from `POP3_PASSWORD` or a prompt that
//! does not echo, never from the command line. On `-ERR` it prints
//! `Server said: ...` and exits with 1, as the article's `die` did.
//!
//! ```text
//! cargo run --example pop3_count
//! POP3_PASSWORD=... cargo run --example pop3_count -- --host mail.example.org --tls --user john
//! ```

mod pop3_common;

use std::process::ExitCode;

use clap::Parser;
use net_std::pop3::Pop3Error;
use pop3_common::ConnectArgs;

/// Counts the messages in a POP3 mailbox.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match count(&args.connect) {
        Ok(count) => {
            println!("{count} messages in mailbox");
            ExitCode::SUCCESS
        }
        Err(Pop3Error::Server(error)) => {
            println!("Server said: {}", error.line());
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("pop3_count: {error}");
            ExitCode::from(2)
        }
    }
}

fn count(args: &ConnectArgs) -> Result<u32, Pop3Error> {
    let mut pop = pop3_common::open(args, "pop3_count")?;
    let (count, _octets) = pop.stat()?;
    pop.quit()?;
    Ok(count)
}
