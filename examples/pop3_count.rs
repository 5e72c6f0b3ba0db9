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

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lineproto::Secret;
use net_std::pop3::{Login, Pop3Client, Pop3Error, Pop3Options, Security};
use net_std::{Server, ServerOptions};
use pop3_client::server::{Mailbox, Server as Pop3Server, ServerOptions as Pop3ServerOptions};

/// Counts the messages in a POP3 mailbox.
#[derive(Debug, Parser)]
struct Args {
    /// The POP3 server (without it, a built-in demo mailbox is counted).
    #[arg(long)]
    host: Option<String>,
    /// The port (default 110, or 995 with --tls).
    #[arg(long)]
    port: Option<u16>,
    /// The user name (default: $USER).
    #[arg(long)]
    user: Option<String>,
    /// Implicit TLS (POP3S).
    #[arg(long, conflicts_with = "starttls")]
    tls: bool,
    /// Upgrade to TLS with STLS before logging in.
    #[arg(long)]
    starttls: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
    /// Log in with APOP.
    #[arg(long, conflicts_with = "sasl_plain")]
    apop: bool,
    /// Log in with AUTH PLAIN.
    #[arg(long)]
    sasl_plain: bool,
    /// Seconds to wait for the server.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// The demo mailbox's size, as in the article's transcript.
const DEMO_MESSAGES: usize = 72;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
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

fn run(args: &Args) -> Result<u32, Pop3Error> {
    let mut options = Pop3Options::default();
    options.net.connect_timeout = Duration::from_secs(args.timeout);
    options.net.read_timeout = Some(Duration::from_secs(args.timeout));
    options.security = match (args.tls, args.starttls) {
        (true, _) => Security::Implicit,
        (_, true) => Security::StartTls,
        _ => Security::None,
    };
    options.ca_file = args.ca_file.clone();
    let login = if args.apop {
        Login::Apop
    } else if args.sasl_plain {
        Login::SaslPlain
    } else {
        Login::UserPass
    };

    let (host, port, user, password) = match &args.host {
        Some(host) => {
            let port = args.port.unwrap_or(if args.tls { 995 } else { 110 });
            let user = args
                .user
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .ok_or_else(|| Pop3Error::Unexpected("a user name: pass --user"))?;
            (host.clone(), port, user, password()?)
        }
        None => {
            let port = start_demo_server().map_err(Pop3Error::Connect)?;
            eprintln!(
                "pop3_count: no --host given, so counting the built-in demo mailbox \
                 ({DEMO_MESSAGES} messages) on 127.0.0.1:{port}"
            );
            (
                "127.0.0.1".to_owned(),
                port,
                "demo".to_owned(),
                Secret::new(b"demo".to_vec()),
            )
        }
    };

    let mut pop = Pop3Client::connect(&host, port, &options)?;
    pop.login(login, &user, password)?;
    let (count, _octets) = pop.stat()?;
    pop.quit()?;
    Ok(count)
}

/// The password: from `POP3_PASSWORD`, or asked for without echo.
fn password() -> Result<Secret<Vec<u8>>, Pop3Error> {
    if let Ok(password) = std::env::var("POP3_PASSWORD") {
        return Ok(Secret::new(password.into_bytes()));
    }
    let typed = rpassword::prompt_password("POP3 password: ").map_err(Pop3Error::Output)?;
    Ok(Secret::new(typed.into_bytes()))
}

/// Starts the demo POP3 server on a free loopback port, on a thread of its
/// own that ends with the process.
fn start_demo_server() -> std::io::Result<u16> {
    let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
    let port = server.local_addr()?.port();
    let messages: Vec<bytes::Bytes> = (1..=DEMO_MESSAGES)
        .map(|n| format!("From: demo@pop3.demo.invalid\r\nSubject: Demo message {n}\r\n\r\nHello from message {n}.\r\n").into())
        .collect();
    let mailbox = Mailbox::new("demo", "demo", messages);
    std::thread::spawn(move || {
        server.serve(move |conn| {
            let mut session = Pop3Server::new(mailbox.clone(), Pop3ServerOptions::default());
            let _ = conn.run(&mut session, |_, _| {});
        })
    });
    Ok(port)
}
