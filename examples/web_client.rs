//! The article's "On Web-bed Feet" client: a web page with a form whose
//! text goes to the session server, the high-level way (as with PHP's
//! `fsockopen`): `net_tokio::connect` opens the connection with timeouts and
//! `Conn::run` drives the session client machine, on the same tokio runtime
//! that serves the page.
//!
//! ```text
//! cargo run --example session_server &
//! cargo run --example web_client
//! # open http://127.0.0.1:8080/
//! ```

mod cli;
mod web;

use std::sync::Arc;

use clap::Parser;
use net_tokio::{ClientOptions, DriveError, connect};
use session_proto::client::{Client, Event, Options};
use web::{AskError, WebArgs};

/// Serves a web form that sends its text to the session server and shows
/// the reply, the high-level way: net-tokio's `connect` and connection
/// driver run the session client machine (the article's `fsockopen`
/// client). web_client_socket serves the same page the low-level way.
#[derive(Debug, Parser)]
#[command(name = "web_client", version, after_help = web::EXIT_STATUS)]
struct Args {
    #[command(flatten)]
    web: WebArgs,
}

fn main() -> std::process::ExitCode {
    let args: Args = cli::parse();
    web::run("web_client", args.web, ask)
}

/// Banner, message, one reply, END: the whole session.
async fn ask(message: String, args: Arc<WebArgs>) -> Result<String, AskError> {
    let mut machine_options = Options::default();
    machine_options.reply_timeout = Some(args.timeout());
    let mut session = Client::new(machine_options);
    // Refused messages (line breaks, too long) never reach the server.
    session.send(&message).map_err(AskError::Refused)?;
    session.end();

    let mut options = ClientOptions::default();
    options.connect_timeout = args.timeout();
    options.write_timeout = Some(args.timeout());
    let mut conn = connect(&args.connect, &options)
        .await
        .map_err(AskError::Unreachable)?;

    let mut reply = None;
    conn.run(&mut session, |_, event| {
        if let Event::Reply(text) = event {
            reply = Some(text);
        }
    })
    .await
    .map_err(|error| match error {
        DriveError::TimedOut | DriveError::Protocol(session_proto::Error::ReplyTimeout { .. }) => {
            AskError::TimedOut
        }
        // The protocol error itself, as web_client_socket shows it, not
        // the adapter's "protocol error" around it.
        DriveError::Protocol(error) => AskError::Failed(error.to_string()),
        other => AskError::Failed(cli::chain(&other)),
    })?;
    let reply = reply.ok_or_else(|| AskError::Failed("no reply".into()))?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
