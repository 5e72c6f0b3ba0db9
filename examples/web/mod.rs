//! What the two web clients share: the page, the HTTP side, and the mapping
//! from session errors to pages. The examples differ only in how they talk
//! to the session server, which each passes in as `ask`.
//!
//! The HTTP side is axum's router on hyper's HTTP/1 server, on tokio: each
//! connection is a task, so a browser that is slow to send its request
//! holds one task and no thread. The time a request may take to arrive is
//! bounded (hyper's header read timeout, then a deadline on reading the
//! body), and so is its size. axum's `serve` has no header timeout, which
//! is why the accept loop here hands each connection to hyper itself.

#![allow(dead_code)] // each example uses a different part

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Flags both web clients take.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WebArgs {
    /// Address the web page is served on (IP:PORT).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub(crate) listen: SocketAddr,
    /// Address of the session server (`cargo run --example session_server`).
    #[arg(long, default_value = "127.0.0.1:1234", value_name = "HOST:PORT", value_parser = crate::cli::host_port)]
    pub(crate) connect: String,
    /// Seconds to wait for the session server to accept and to answer.
    #[arg(long, default_value_t = 5)]
    pub(crate) timeout: u64,
    /// Exchanges with the session server at once; further forms wait their
    /// turn, for up to --timeout seconds.
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
    /// Seconds a browser has to send a whole request: the first half for
    /// the headers, the second for the body. Then the connection is closed
    /// (with a 408 page if the headers had arrived).
    #[arg(long, default_value_t = 10)]
    pub(crate) request_timeout: u64,
}

impl WebArgs {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// How long the headers, and then the body, of a request may take.
    fn request_half_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout.max(1)) / 2
    }
}

/// The largest request body read (a form holding a maximal message,
/// percent-encoded, fits easily).
const MAX_BODY_LEN: u64 = 64 * 1024;

/// How much of an oversized body is read and thrown away before the 413
/// page, so that the browser, still sending, reads the page instead of a
/// reset connection. A body declared larger is refused without reading.
const MAX_DISCARD_LEN: u64 = 1024 * 1024;

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

/// One exchange with the session server, boxed so both examples' `ask`
/// fit one type.
type Exchange = Pin<Box<dyn Future<Output = Result<String, AskError>> + Send>>;
type AskFn = Arc<dyn Fn(String, Arc<WebArgs>) -> Exchange + Send + Sync>;

/// The exit status table of both web clients, for their `--help`.
pub(crate) const EXIT_STATUS: &str = "\
Exit status:
  0  stopped by SIGINT or SIGTERM: it stops accepting, answers the forms in
     progress (10 s at most; a second signal stops it at once) and exits
  2  a usage or local error: a bad flag, an address it cannot listen on";

/// How long forms in progress may take to be answered after a signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A web client's `main`: serves until a signal (exit status 0); exit status 2,
/// with the reason in words prefixed by `program`, if it cannot listen.
/// `ask` sends one message to the session server and returns its reply.
pub(crate) fn run<F, Fut>(program: &str, args: WebArgs, ask: F) -> std::process::ExitCode
where
    F: Fn(String, Arc<WebArgs>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, AskError>> + Send + 'static,
{
    let ask: AskFn = Arc::new(move |message, args| Box::pin(ask(message, args)));
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            format!(
                "cannot start the tokio runtime: {}",
                crate::cli::chain(&error)
            )
        })
        .and_then(|runtime| runtime.block_on(serve(args, ask)));
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => crate::cli::fail(program, error),
    }
}

/// What every request handler shares.
#[derive(Clone)]
struct App {
    args: Arc<WebArgs>,
    ask: AskFn,
    /// One permit per exchange with the session server (`--workers`).
    exchanges: Arc<Semaphore>,
}

/// Serves the page until SIGINT or SIGTERM, then lets the requests in
/// progress finish.
async fn serve(args: WebArgs, ask: AskFn) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let cannot_watch =
        |error: std::io::Error| format!("cannot watch for signals: {}", crate::cli::chain(&error));
    let mut interrupt = signal(SignalKind::interrupt()).map_err(cannot_watch)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(cannot_watch)?;
    let cannot_listen = |error: std::io::Error| {
        format!(
            "cannot listen on {}: {}",
            args.listen,
            crate::cli::chain(&error)
        )
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(cannot_listen)?;
    let local = listener.local_addr().map_err(cannot_listen)?;
    println!("Serving the form on http://{local}/");
    let header_timeout = args.request_half_timeout();
    let app = App {
        exchanges: Arc::new(Semaphore::new(args.workers.max(1))),
        args: Arc::new(args),
        ask,
    };
    let router = Router::new()
        .route(
            "/",
            // `get` answers HEAD too, with the headers and no body.
            get(show_form).post(send_form).fallback(wrong_method),
        )
        .fallback(not_found)
        .with_state(app);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: wait for some to be freed
                // rather than spin.
                eprintln!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // Also how long an idle keep-alive connection is kept.
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        // Watched, so that a signal closes it once its request in progress
        // (if any) is answered.
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A browser that went away or was too slow: nothing to tell.
            let _ = connection.await;
        });
    }
    // No new connections from here on; idle keep-alive ones are closed,
    // busy ones after their response.
    drop(listener);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

async fn show_form() -> Response {
    html(StatusCode::OK, page(None))
}

async fn send_form(State(app): State<App>, body: Body) -> Response {
    // The headers are in; the body gets the other half of the time.
    let deadline = Instant::now() + app.args.request_half_timeout();
    let message = match read_body(body, deadline).await {
        Ok(body) => form_message(&body),
        Err(refused) => Err(refused),
    };
    match message {
        Ok(message) => answer(message, &app).await,
        Err(Refused { status, text }) => {
            let mut response = html(status, page(Some(&Notice::Error(text))));
            if status != StatusCode::BAD_REQUEST {
                // The rest of the body may still be on its way.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

async fn wrong_method() -> Response {
    let mut response = html(
        StatusCode::METHOD_NOT_ALLOWED,
        page(Some(&Notice::Error(
            "Only GET and POST are supported here.".into(),
        ))),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    response
}

async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        page(Some(&Notice::Error(
            "There is nothing at this address.".into(),
        ))),
    )
}

/// A page with the headers every response carries.
fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Defence in depth: even if escaping failed, no script would run.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page,
    )
        .into_response()
}

/// Why a form was not taken: the status and the page's text.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    text: String,
}

impl Refused {
    fn new(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
        }
    }
}

/// Reads a request body by `deadline`, keeping at most [`MAX_BODY_LEN`]
/// bytes.
async fn read_body(mut body: Body, deadline: Instant) -> Result<Vec<u8>, Refused> {
    let too_large = || {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The form is larger than {MAX_BODY_LEN} bytes."),
        )
    };
    // The declared Content-Length, if there is one.
    if body.size_hint().lower() > MAX_DISCARD_LEN {
        return Err(too_large());
    }
    let mut kept = Vec::new();
    let mut received: u64 = 0;
    let reading = async {
        while let Some(frame) = body.frame().await {
            // Trailers, if any, are not data.
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            received += data.len() as u64;
            if received > MAX_DISCARD_LEN {
                break;
            }
            if received <= MAX_BODY_LEN {
                kept.extend_from_slice(&data);
            }
        }
        Ok::<(), axum::Error>(())
    };
    let read = tokio::time::timeout_at(deadline, reading).await;
    if received > MAX_BODY_LEN {
        return Err(too_large());
    }
    match read {
        Ok(Ok(())) => Ok(kept),
        Ok(Err(error)) => Err(Refused::new(
            StatusCode::BAD_REQUEST,
            format!("Could not read the form: {error}."),
        )),
        Err(_elapsed) => Err(Refused::new(
            StatusCode::REQUEST_TIMEOUT,
            "The form took too long to arrive.",
        )),
    }
}

/// The form's `message` field.
fn form_message(body: &[u8]) -> Result<String, Refused> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "message")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| Refused::new(StatusCode::BAD_REQUEST, "The form has no message field."))
}

/// Asks the session server and renders the outcome.
async fn answer(message: String, app: &App) -> Response {
    // Empty as the session server sees it (PHP's trim: a form feed or a
    // Unicode space is text it answers), so the server sends no reply to
    // wait for.
    if reverse_proto::trim(message.as_bytes()).is_empty() {
        return html(
            StatusCode::BAD_REQUEST,
            page(Some(&Notice::Hint(
                "Type some text first, then press Send.".into(),
            ))),
        );
    }
    let timeout = app.args.timeout();
    // Wait for a turn no longer than the session server may take to answer.
    let Ok(Ok(_permit)) = tokio::time::timeout(timeout, app.exchanges.acquire()).await else {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            page(Some(&Notice::Error(
                "Error: too many forms at once; please try again".into(),
            ))),
        );
    };
    // The asks bound each step (connect, write, each wait for a line) by
    // `timeout`; this bounds the whole exchange, whatever the server does.
    let exchange = (app.ask)(message, Arc::clone(&app.args));
    let outcome = tokio::time::timeout(timeout * 4, exchange)
        .await
        .unwrap_or(Err(AskError::TimedOut));
    match outcome {
        Ok(reply) => html(StatusCode::OK, page(Some(&Notice::Reply(reply)))),
        Err(AskError::Unreachable(_)) => html(
            StatusCode::BAD_GATEWAY,
            page(Some(&Notice::Error(
                "Error: could not open socket connection".into(),
            ))),
        ),
        Err(AskError::TimedOut) => html(
            StatusCode::GATEWAY_TIMEOUT,
            page(Some(&Notice::Error(
                "Error: the session server did not answer in time".into(),
            ))),
        ),
        Err(AskError::Refused(reason)) => html(
            StatusCode::BAD_REQUEST,
            page(Some(&Notice::Error(refusal(&reason)))),
        ),
        Err(AskError::Failed(reason)) => html(
            StatusCode::BAD_GATEWAY,
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

/// The whole page: the article's form, with a notice above it. Replies and
/// hints are a `status` region and errors an `alert`, so a screen reader
/// reads out what came back.
fn page(notice: Option<&Notice>) -> String {
    let notice = match notice {
        None => String::new(),
        Some(Notice::Reply(reply)) => format!(
            "<p class=\"reply\" role=\"status\">Server said: <b>{}</b></p>\n",
            escape_html(reply)
        ),
        Some(Notice::Hint(text)) => format!(
            "<p class=\"hint\" role=\"status\">{}</p>\n",
            escape_html(text)
        ),
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
h1 {{ font-size: 1.5rem; margin: 0 0 1rem; }}
input[type=text] {{ font-size: 1rem; padding: .4rem; width: 100%; box-sizing: border-box; margin: .3rem 0; }}
input[type=submit] {{ font-size: 1rem; padding: .4rem 1.2rem; }}
.reply b {{ overflow-wrap: anywhere; }}
.hint {{ color: #555; }}
.error {{ color: #a00; }}
</style>
</head>
<body>
<main>
<h1>Backwards</h1>
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
