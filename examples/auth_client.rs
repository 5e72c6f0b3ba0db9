//! A client for the auth server: asks for a user name and a password (not
//! echoed), sends `user:password`, and prints the verdict in words.
//!
//! ```text
//! cargo run --example auth_client -- --connect 127.0.0.1:1234
//! ```
//!
//! The password is read from the terminal without echo. For scripts, it
//! can come from the `AUTH_PASSWORD` environment variable, never from the
//! command line, where other users could read it.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lineproto::Secret;
use net_std::{ClientOptions, connect};
use passwd_auth::WireCode;
use passwd_auth::exchange::Client;

/// Checks a user name and password with an auth server.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:1234")]
    connect: String,
    /// The user name (asked for when missing).
    #[arg(long)]
    user: Option<String>,
    /// Seconds to wait for the answer (the server waits about 2 s after a
    /// failure before answering).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
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
            eprintln!("auth_client: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<WireCode, Box<dyn std::error::Error>> {
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
    let mut client = Client::new(user.as_bytes(), Secret::new(password.into_bytes()))?
        .reply_timeout(Some(Duration::from_secs(args.timeout)));

    let options = ClientOptions::default();
    let mut conn = connect(&args.connect, &options)
        .map_err(|e| format!("could not connect to {}: {e}", args.connect))?;
    let mut verdict = None;
    conn.run(&mut client, |_, code| verdict = Some(code))?;
    Ok(verdict.ok_or("the server sent no verdict")?)
}
