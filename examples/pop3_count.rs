//! The article's POP3 client ("POP Goes The Weasel"): logs in, asks STAT,
//! and prints `N messages in mailbox`.
//!
//! With no arguments it starts a built-in demo POP3 server on a free
//! loopback port, with 72 messages, and counts those. With `--host` it
//! counts a real mailbox. It can use implicit TLS (`--tls`, port 995) or
//! STLS (`--starttls`). It logs in with the strongest method both sides
//! offer (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, APOP, then PLAIN, LOGIN or
//! USER/PASS), or the one `--sasl MECH` names; a method that sends the
//! password as it is (PLAIN, LOGIN, USER) is never used without TLS unless
//! `--allow-plaintext` is given. The password comes from `POP3_PASSWORD` or
//! a prompt that does not echo, after the server's greeting, never from the
//! command line. An OAuth 2.0 token (`POP3_TOKEN`, or the first line that
//! `--token-command CMD` prints, CMD run without a shell) logs in with
//! OAUTHBEARER or XOAUTH2 instead.
//! On `-ERR` it prints `Server said: ...` and exits with 1, as the
//! article's `die` did.
//!
//! Over TLS the server's certificate is checked against the system's CA
//! certificates, the CA file given (`--ca-file`, which may be the server's
//! own self-signed certificate, `CA:TRUE` as `openssl req -x509` makes it),
//! or the one certificate whose SHA-256 fingerprint is given
//! (`--fingerprint`, as `openssl x509 -noout -fingerprint -sha256` prints
//! it, colons optional; the handshake signature is still verified). A
//! certificate that does not verify is refused before the password is
//! sent, and its fingerprint printed, ready to be checked with the
//! server's operator and pinned.
//!
//! `--runtime tokio` runs the same session on the async client (net-tokio)
//! instead of the blocking one (net-std, the default).
//!
//! ```text
//! cargo run --example pop3_count
//! cargo run --example pop3_count -- --runtime tokio
//! POP3_PASSWORD=... cargo run --example pop3_count -- --host mail.example.org --tls --user john
//! POP3_PASSWORD=... cargo run --example pop3_count -- --host 192.0.2.1 --starttls --fingerprint AB:CD:...
//! POP3_PASSWORD=... cargo run --example pop3_count -- --host mail.example.org --user john --sasl SCRAM-SHA-256
//! cargo run --example pop3_count -- --host mail.example.org --tls --user john --token-command "oama access john@example.org"
//! ```

mod cli;
mod pop3_common;

use std::process::ExitCode;

use clap::Parser;
use pop3_common::{ConnectArgs, Failure, Runtime};

const AFTER_HELP: &str = concat!(
    "\
Exit status:
  0  the count was printed
  1  the server said no (-ERR, to the login, say): `Server said: ...` on
     stdout
  2  a usage or local error (a bad flag, a CA file it cannot read, no user
     name, no terminal to ask for the password, an unknown --sasl name, a
     --token-command that failed, timed out or printed nothing)",
    pop3_common::shared_help!()
);

/// Counts the messages in a POP3 mailbox: logs in, asks STAT, and prints
/// `N messages in mailbox` (the article's POP3 client).
#[derive(Debug, Parser)]
#[command(name = "pop3_count", version, after_help = AFTER_HELP)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Which client talks to the server.
    #[arg(long, value_enum, default_value_t = Runtime::Std)]
    runtime: Runtime,
}

fn main() -> ExitCode {
    let args: Args = cli::parse();
    match count(&args) {
        Ok(count) => {
            println!("{count} messages in mailbox");
            ExitCode::SUCCESS
        }
        Err(failure) => pop3_common::report("pop3_count", &failure),
    }
}

fn count(args: &Args) -> Result<u32, Failure> {
    let target = pop3_common::target(&args.connect, "pop3_count")?;
    match args.runtime {
        Runtime::Std => {
            let mut pop = pop3_common::open(target)?;
            let (count, _octets) = pop.stat()?;
            pop.quit()?;
            Ok(count)
        }
        Runtime::Tokio => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Failure::Runtime)?
            .block_on(async {
                let mut pop = pop3_common::open_tokio(target).await?;
                let (count, _octets) = pop.stat().await?;
                pop.quit().await?;
                Ok(count)
            }),
    }
}
