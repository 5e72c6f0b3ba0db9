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
//! The password is read from the terminal without echo. For scripts, it
//! can come from the `AUTH_PASSWORD` environment variable, never from the
//! command line, where other users could read it.

mod support;

use std::error::Error;
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lineproto::Secret;
use net_std::{ClientOptions, Conn, ReadTimeout, connect};
use passwd_auth::WireCode;
use passwd_auth::exchange::Client;
use tls_trust::{Fingerprint, Trust, UntrustedCertificate};

/// Checks a user name and password with an auth server.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:1234")]
    connect: String,
    /// The user name (asked for when missing).
    #[arg(long)]
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

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(WireCode::Accepted) => {
            println!("Authenticated: the user name and password are right.");
            ExitCode::SUCCESS
        }
        Ok(WireCode::Rejected) => {
            println!("Refused: wrong password, or the account may not log in.");
            ExitCode::from(1)
        }
        Ok(WireCode::UnknownUser) => {
            println!("Refused: there is no such user.");
            ExitCode::from(1)
        }
        Err(error) => {
            match UntrustedCertificate::find(&*error) {
                Some(untrusted) => {
                    eprintln!(
                        "auth_client: the server's certificate is not trusted: {}",
                        untrusted.reason()
                    );
                    eprintln!(
                        "auth_client: its SHA-256 fingerprint is {}; if the server's operator \
                         confirms it, connect with --fingerprint {0}",
                        untrusted.fingerprint()
                    );
                }
                None => eprintln!("auth_client: {}", support::chain(&*error)),
            }
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<WireCode, Box<dyn Error>> {
    // Before any prompt: a bad CA file is reported at once.
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

    let user = match &args.user {
        Some(user) => user.clone(),
        None => {
            print!("User: ");
            std::io::stdout().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let password = match std::env::var("AUTH_PASSWORD") {
        Ok(password) => password,
        Err(_) => rpassword::prompt_password("Password: ")?,
    };
    let reply_timeout = Duration::from_secs(args.timeout);
    let client = Client::new(user.as_bytes(), Secret::new(password.into_bytes()))?
        .reply_timeout(Some(reply_timeout));

    let options = ClientOptions::default();
    let conn = connect(&args.connect, &options)
        .map_err(|e| format!("could not connect to {}: {e}", args.connect))?;
    match tls {
        None => ask(conn, client),
        Some((config, server_name)) => {
            let socket = conn.into_inner();
            // Bounds the handshake; the new `Conn` then sets its own.
            socket.set_read_timeout(Some(reply_timeout))?;
            let stream = net_std::tls::connect(socket, &server_name, config)?;
            ask(Conn::new(stream), client)
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
