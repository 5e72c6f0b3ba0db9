//! What the two web clients share: the page, the HTTP side (tiny_http), and
//! the mapping from session errors to pages. The examples differ only in how
//! they talk to the session server, which each passes in as `ask`.

#![allow(dead_code)] // each example uses a different part

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

/// Flags both web clients take.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WebArgs {
    /// Address the web page is served on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Address of the session server (`cargo run --example session_server`).
    #[arg(long, default_value = "127.0.0.1:1234")]
    pub(crate) connect: String,
    /// Seconds to wait for the session server to accept and to answer.
    #[arg(long, default_value_t = 5)]
    pub(crate) timeout: u64,
    /// Requests served at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
}

impl WebArgs {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }
}

/// The largest request body read (a form holding a maximal message,
/// percent-encoded, fits easily).
const MAX_BODY_LEN: u64 = 64 * 1024;

/// Why asking the session server failed, as far as the page is concerned.
#[derive(Debug)]
pub(crate) enum AskError {
    /// Could not connect (the article's "could not open socket connection").
    Unreachable(std::io::Error),
    /// Connected, but no reply came in time.
    TimedOut,
    /// The message cannot be sent as one line (the client refused it).
    Refused(session_proto::Error),
    /// The server broke the protocol or the connection failed midway.
    Failed(String),
}

/// A web client's `main`: serves until the process ends; exit status 2,
/// with the reason prefixed by `program`, if it cannot listen.
pub(crate) fn run(
    program: &str,
    args: WebArgs,
    ask: fn(&str, &WebArgs) -> Result<String, AskError>,
) -> std::process::ExitCode {
    let listen = args.listen.clone();
    match serve(args, ask) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: cannot serve on {listen}: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Serves the page until the process ends. `ask` sends one message to the
/// session server and returns its reply.
pub(crate) fn serve(
    args: WebArgs,
    ask: fn(&str, &WebArgs) -> Result<String, AskError>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = Arc::new(Server::http(&args.listen)?);
    println!("Serving the form on http://{}/", server.server_addr());
    let args = Arc::new(args);
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|_| {
            let server = Arc::clone(&server);
            let args = Arc::clone(&args);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    respond(request, &args, ask);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

/// Handles one request and sends the response.
fn respond(
    mut request: Request,
    args: &WebArgs,
    ask: fn(&str, &WebArgs) -> Result<String, AskError>,
) {
    let (status, body) = match (request.method(), request.url()) {
        (Method::Get, "/") => (200, page(None)),
        (Method::Post, "/") => match read_message(&mut request) {
            Ok(message) => answer(&message, args, ask),
            Err((status, text)) => (status, page(Some(&Notice::Error(text)))),
        },
        (_, "/") => (
            405,
            page(Some(&Notice::Error(
                "Only GET and POST are supported here.".into(),
            ))),
        ),
        _ => (
            404,
            page(Some(&Notice::Error(
                "There is nothing at this address.".into(),
            ))),
        ),
    };
    let response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", "text/html; charset=utf-8"))
        // Defence in depth: even if escaping failed, no script would run.
        .with_header(header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .with_header(header("X-Content-Type-Options", "nosniff"));
    // The browser may have gone away; there is no one left to tell.
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

/// Reads the form's `message` field from a POST body.
fn read_message(request: &mut Request) -> Result<String, (u16, String)> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_LEN + 1)
        .read_to_end(&mut body)
        .map_err(|error| (400, format!("Could not read the form: {error}.")))?;
    if body.len() as u64 > MAX_BODY_LEN {
        return Err((
            413,
            format!("The form is larger than {MAX_BODY_LEN} bytes."),
        ));
    }
    form_urlencoded::parse(&body)
        .find(|(name, _)| name == "message")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| (400, "The form has no message field.".into()))
}

/// Asks the session server and renders the outcome.
fn answer(
    message: &str,
    args: &WebArgs,
    ask: fn(&str, &WebArgs) -> Result<String, AskError>,
) -> (u16, String) {
    if message.trim().is_empty() {
        return (
            400,
            page(Some(&Notice::Hint(
                "Type some text first, then press Send.".into(),
            ))),
        );
    }
    match ask(message, args) {
        Ok(reply) => (200, page(Some(&Notice::Reply(reply)))),
        Err(AskError::Unreachable(_)) => (
            502,
            page(Some(&Notice::Error(
                "Error: could not open socket connection".into(),
            ))),
        ),
        Err(AskError::TimedOut) => (
            504,
            page(Some(&Notice::Error(
                "Error: the session server did not answer in time".into(),
            ))),
        ),
        Err(AskError::Refused(reason)) => (400, page(Some(&Notice::Error(refusal(&reason))))),
        Err(AskError::Failed(reason)) => (
            502,
            page(Some(&Notice::Error(format!(
                "Error: the session server failed: {reason}"
            )))),
        ),
    }
}

/// Says in words why a message was not sent.
fn refusal(reason: &session_proto::Error) -> String {
    match reason {
        session_proto::Error::LineContainsNewline => {
            "Your text has a line break in it. The server answers one line at a time, \
             so nothing was sent: please send one line."
                .into()
        }
        session_proto::Error::LineTooLong { limit } => {
            format!(
                "Your text is longer than {limit} bytes, the most the server accepts in one line; nothing was sent."
            )
        }
        session_proto::Error::LineIsEndCommand => {
            "END ends a session and has no answer; nothing was sent.".into()
        }
        session_proto::Error::BlankLine => "Type some text first, then press Send.".into(),
        other => format!("The text could not be sent: {other}."),
    }
}

/// What the page says above the form.
#[derive(Debug)]
enum Notice {
    Reply(String),
    Hint(String),
    Error(String),
}

/// The whole page: the article's form, with a notice above it.
fn page(notice: Option<&Notice>) -> String {
    let notice = match notice {
        None => String::new(),
        Some(Notice::Reply(reply)) => format!(
            "<p class=\"reply\">Server said: <b>{}</b></p>\n",
            escape_html(reply)
        ),
        Some(Notice::Hint(text)) => format!("<p class=\"hint\">{}</p>\n", escape_html(text)),
        Some(Notice::Error(text)) => format!(
            "<p class=\"error\" role=\"alert\">{}</p>\n",
            escape_html(text)
        ),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backwards</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; padding: 1.5rem; line-height: 1.5; }}
main {{ max-width: 32rem; margin: 0 auto; }}
input[type=text] {{ font-size: 1rem; padding: .4rem; width: 100%; box-sizing: border-box; margin: .3rem 0; }}
input[type=submit] {{ font-size: 1rem; padding: .4rem 1.2rem; }}
.reply b {{ overflow-wrap: anywhere; }}
.hint {{ color: #555; }}
.error {{ color: #a00; }}
</style>
</head>
<body>
<main>
{notice}<form method="post" action="/">
<label for="message">Enter some text:</label><br>
<input type="text" id="message" name="message" size="15" autofocus><input type="submit" name="submit" value="Send">
</form>
</main>
</body>
</html>
"#
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
