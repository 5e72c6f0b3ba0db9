//! A client for the auth server: asks for a user name and a password (not
//! echoed), sends `user:password`, and prints the verdict in words.
//!
//! ```text
//! cargo run --example auth_client -- --tls --ca-file cert.pem      # the server's certificate
//! cargo run --example auth_client -- --tls --fingerprint AB:CD:...  # or its SHA-256 fingerprint
//! cargo run --example auth_client -- --connect 127.0.0.1:1234      # the article's plain text
//! ```
//!
//! With `--tls` the exchange runs over TLS, and the server's certificate is
//! checked against the system's CA certificates, the CA file given
//! (`--ca-file`, which may be the server's own self-signed certificate), or
//! the one certificate whose SHA-256 fingerprint is given (`--fingerprint`,
//! as `openssl x509 -noout -fingerprint -sha256` prints it). A certificate
//! that does not verify is refused, and its fingerprint printed, so that
//! it can be checked with the server's operator and pinned.
//!
//! The password is read from the terminal without echo, once the server is
//! reached (and, with `--tls`, trusted), so a server that is down is
//! reported before anything is typed. For scripts, it can come from the
//! `AUTH_PASSWORD` environment variable, never from the command line, where
//! other users could read it; with neither a terminal nor `AUTH_PASSWORD`
//! it exits with a clear error instead of waiting.

mod cli;

use std::error::Error;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use lineproto::Secret;
use net_std::tls::TlsStream;
use net_std::tls::rustls::ClientConfig;
use net_std::{ClientOptions, Conn, ReadTimeout, connect};
use passwd_auth::WireCode;
use passwd_auth::client::{self, Client};
use tls_trust::{Fingerprint, Trust, UntrustedCertificate};

const AFTER_HELP: &str = "\
Exit status:
  0  the user name and password are right
  1  the server said no: a wrong password, an account that may not log in,
     or no such user
  2  a usage or local error (a bad flag, a CA file it cannot read, no
     terminal to ask for the password), or the server could not be
     reached, was not trusted, or sent no verdict

Environment:
  AUTH_PASSWORD  the password, for scripts. Without it, the password is
                 asked for on the terminal once the server is reached; it is
                 never taken from the command line, where others could read it.";

/// Checks a user name and password with an auth server, and prints the
/// verdict in words.
#[derive(Debug, Parser)]
#[command(name = "auth_client", version, after_help = AFTER_HELP)]
struct Args {
    /// The server's address (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:1234", value_name = "HOST:PORT", value_parser = cli::host_port)]
    connect: String,
    /// The user name (asked for when missing, or read from stdin when that
    /// is not a terminal).
    #[arg(long, value_parser = user_name)]
    user: Option<String>,
    /// Seconds to wait for the answer (the server waits about 2 s after a
    /// failure before answering).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Speak TLS (the server's --tls-cert), verifying the server with the
    /// system's CA certificates unless --ca-file or --fingerprint says
    /// otherwise.
    #[arg(long)]
    tls: bool,
    /// Trust only the certificates in this PEM file (a CA's, or the
    /// server's own self-signed one).
    #[arg(
        long,
        value_name = "PATH",
        requires = "tls",
        conflicts_with = "fingerprint"
    )]
    ca_file: Option<PathBuf>,
    /// Trust only the server certificate with this SHA-256 fingerprint
    /// (hex, colons optional).
    #[arg(long, value_name = "HEX", requires = "tls")]
    fingerprint: Option<Fingerprint>,
    /// The name the server's certificate must carry (default: the host
    /// part of --connect).
    #[arg(long, value_name = "NAME", requires = "tls")]
    server_name: Option<String>,
}

/// The auth server reads a connection's request line for 10 s at most (its
/// machine's default): a connection opened before a prompt that took longer
/// than this is replaced by a fresh one.
const FRESH_FOR: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Args = cli::parse();
    match run(&args) {
        Ok(WireCode::Accepted) => {
            println!("Authenticated: the user name and password are right.");
            ExitCode::SUCCESS
        }
        Ok(WireCode::Rejected) => {
            println!("Refused: wrong password, or the account may not log in.");
            ExitCode::from(cli::REFUSED)
        }
        Ok(WireCode::UnknownUser) => {
            println!("Refused: there is no such user.");
            ExitCode::from(cli::REFUSED)
        }
        Err(error) => match UntrustedCertificate::find(&*error) {
            Some(untrusted) => {
                eprintln!(
                    "auth_client: the server's certificate is not trusted: {}",
                    untrusted.reason()
                );
                cli::fail(
                    "auth_client",
                    format_args!(
                        "its SHA-256 fingerprint is {}; if the server's operator \
                         confirms it, connect with --fingerprint {0}",
                        untrusted.fingerprint()
                    ),
                )
            }
            None => cli::fail("auth_client", cli::chain(&*error)),
        },
    }
}

/// A user name the request line can carry.
fn user_name(value: &str) -> Result<String, String> {
    if value.contains([':', '\r', '\n', '\0']) {
        return Err("a user name cannot contain ':', a line break or NUL".into());
    }
    Ok(value.to_owned())
}

fn run(args: &Args) -> Result<WireCode, Box<dyn Error>> {
    // Local problems first, before any connection or prompt: a bad CA
    // file, or no way to get the password.
    let tls = if args.tls {
        let trust = match (&args.ca_file, args.fingerprint) {
            (Some(path), _) => Trust::CaFile(path.clone()),
            (None, Some(pin)) => Trust::Pinned(pin),
            (None, None) => Trust::System,
        };
        let server_name = match &args.server_name {
            Some(name) => name.clone(),
            None => host_of(&args.connect),
        };
        Some((trust.client_config()?, server_name))
    } else {
        None
    };
    let password = std::env::var("AUTH_PASSWORD").ok();
    if password.is_none() {
        if let Some(why) = cli::no_terminal("set AUTH_PASSWORD") {
            return Err(why.into());
        }
    }

    // Connected, and the server's certificate checked, before anything is
    // typed: a server that is down or not trusted is reported first.
    let mut connection = Connection::open(args, &tls)?;
    let asking = Instant::now();
    let user = match &args.user {
        Some(user) => user.clone(),
        None => read_user()?,
    };
    let password = match password {
        Some(password) => password,
        None => cli::ask_password("Password: ")?,
    };
    if asking.elapsed() > FRESH_FOR {
        connection = Connection::open(args, &tls)?;
    }
    let mut options = client::Options::default();
    options.reply_timeout = Some(Duration::from_secs(args.timeout));
    let client = Client::new(user.as_bytes(), Secret::new(password.into_bytes()), options)?;
    connection.ask(client)
}

/// The user name, asked for on the terminal, or the first line of stdin
/// when that is not one.
fn read_user() -> Result<String, Box<dyn Error>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        print!("User: ");
        std::io::stdout().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let user = line.trim_end_matches(['\r', '\n']);
    if user.is_empty() {
        return Err("no user name: pass --user".into());
    }
    Ok(user.to_owned())
}

/// An open connection to the server, in plain text or over TLS (boxed: a
/// rustls connection is large).
enum Connection {
    Plain(Conn<TcpStream>),
    Tls(Box<Conn<TlsStream<TcpStream>>>),
}

impl Connection {
    /// Connects, and with `tls` completes the handshake.
    fn open(
        args: &Args,
        tls: &Option<(Arc<ClientConfig>, String)>,
    ) -> Result<Self, Box<dyn Error>> {
        let conn = connect(&args.connect, &ClientOptions::default()).map_err(|error| {
            format!(
                "could not connect to {}: {}",
                args.connect,
                cli::chain(&error)
            )
        })?;
        let Some((config, server_name)) = tls else {
            return Ok(Self::Plain(conn));
        };
        let socket = conn.into_inner();
        // Bounds the handshake; the new `Conn` then sets its own.
        socket.set_read_timeout(Some(Duration::from_secs(args.timeout)))?;
        let stream = net_std::tls::connect(socket, server_name, Arc::clone(config))?;
        Ok(Self::Tls(Box::new(Conn::new(stream))))
    }

    /// Sends the request and waits for the verdict.
    fn ask(self, client: Client) -> Result<WireCode, Box<dyn Error>> {
        match self {
            Self::Plain(conn) => ask(conn, client),
            Self::Tls(conn) => ask(*conn, client),
        }
    }
}

/// Sends the request over `conn` and waits for the verdict.
fn ask<S: Read + Write + ReadTimeout>(
    mut conn: Conn<S>,
    mut client: Client,
) -> Result<WireCode, Box<dyn Error>> {
    let mut verdict = None;
    conn.run(&mut client, |_, code| verdict = Some(code))?;
    Ok(verdict.ok_or("the server sent no verdict")?)
}

/// The host part of HOST:PORT (an IPv6 address without its brackets).
fn host_of(address: &str) -> String {
    match address.parse::<SocketAddr>() {
        Ok(address) => address.ip().to_string(),
        Err(_) => address
            .rsplit_once(':')
            .map_or(address, |(host, _)| host)
            .to_owned(),
    }
}
