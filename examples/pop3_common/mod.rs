//! What pop3_count and pop3_fetch share: the connection flags, the
//! password, the built-in demo server, and opening a logged-in session.

#![allow(dead_code)] // each example uses a different part

use std::time::Duration;

use lineproto::Secret;
use net_std::pop3::{Login, Pop3Client, Pop3Error, Pop3Options, Security};
use net_std::{Server, ServerOptions};
use pop3_client::server::{Mailbox, Server as Pop3Server, ServerOptions as Pop3ServerOptions};

/// How to reach and log in to the mailbox.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectArgs {
    /// The POP3 server (without it, a built-in demo mailbox is used).
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// The port (default 110, or 995 with --tls).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// The user name (default: $USER).
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Implicit TLS (POP3S).
    #[arg(long, conflicts_with = "starttls")]
    pub(crate) tls: bool,
    /// Upgrade to TLS with STLS before logging in.
    #[arg(long)]
    pub(crate) starttls: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long)]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// Log in with APOP.
    #[arg(long, conflicts_with = "sasl_plain")]
    pub(crate) apop: bool,
    /// Log in with AUTH PLAIN.
    #[arg(long)]
    pub(crate) sasl_plain: bool,
    /// Seconds to wait for the server.
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
}

/// The demo mailbox's size, as in the article's transcript.
pub(crate) const DEMO_MESSAGES: usize = 72;

/// Connects and logs in; with no `--host`, to a demo server started here.
pub(crate) fn open(args: &ConnectArgs, program: &str) -> Result<Pop3Client, Pop3Error> {
    let mut options = Pop3Options::default();
    options.net.connect_timeout = Duration::from_secs(args.timeout);
    options.machine.response_timeout = Some(Duration::from_secs(args.timeout));
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
                .ok_or(Pop3Error::Unexpected("a user name: pass --user"))?;
            (host.clone(), port, user, password()?)
        }
        None => {
            let port = start_demo_server().map_err(Pop3Error::Connect)?;
            eprintln!(
                "{program}: no --host given, so using the built-in demo mailbox \
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
    Ok(pop)
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
        .map(|n| {
            format!("From: demo@pop3.demo.invalid\r\nSubject: Demo message {n}\r\n\r\nHello from message {n}.\r\n")
                .into()
        })
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
