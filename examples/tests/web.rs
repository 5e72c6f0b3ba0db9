//! The web clients' pages, over loopback HTTP, for both variants: the form,
//! a reply, every error page, the methods and sizes refused, and browsers
//! too slow to send their request.

mod common;

use common::{Process, free_port, start_example};

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const VARIANTS: [&str; 2] = ["web_client", "web_client_socket"];
const GREETING: &[u8] = b"Roll up, roll up, to the greatest show on earth!\n? ";

/// A web client variant talking to `session` (an address), with a 1 s timeout.
fn web(variant: &str, session: &str) -> (Process, String) {
    web_with(variant, session, &[])
}

/// Like [`web`], with more flags.
fn web_with(variant: &str, session: &str, flags: &[&str]) -> (Process, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--listen", &addr, "--connect", session, "--timeout", "1"];
    args.extend_from_slice(flags);
    let process = start_example(variant, &args, "Serving the form");
    (process, format!("http://{addr}/"))
}

/// The `host:port` of a web client's URL.
fn addr_of(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}

/// Sends `request` as it is over a new connection and reads the response
/// until the server closes (so the request should say `Connection: close`).
/// Returns the response and how long it took.
fn raw(url: &str, request: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr_of(url)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    (String::from_utf8(response).unwrap(), started.elapsed())
}

/// A response's head (status line and headers, lower-cased) and body.
fn split_response(response: &str) -> (String, &str) {
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole head");
    (head.to_ascii_lowercase(), body)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Posts the form with `message`; returns the status and the page.
fn post(url: &str, message: &str) -> (u16, String) {
    let mut response = agent()
        .post(url)
        .send_form([("message", message), ("submit", "Send")])
        .expect("post");
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().expect("body"),
    )
}

#[test]
fn the_page_is_the_articles_form_as_valid_html5() {
    for variant in VARIANTS {
        let (_web, url) = web(variant, "127.0.0.1:9");
        let mut response = agent().get(&url).call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "text/html; charset=utf-8");
        let page = response.body_mut().read_to_string().unwrap();
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(page.contains("<meta charset=\"utf-8\">"));
        assert!(page.contains("<meta name=\"viewport\""));
        assert!(page.contains("Enter some text:"));
        assert!(page.contains("name=\"message\""));
        assert!(page.contains("value=\"Send\""));
        assert!(page.contains("<h1>Backwards</h1>"));
        assert!(!page.contains("Server said"));
    }
}

#[test]
fn a_reply_is_shown_escaped() {
    let session_addr = format!("127.0.0.1:{}", free_port());
    let _session = start_example(
        "session_server",
        &["--listen", &session_addr],
        "Waiting for connections...",
    );
    for variant in VARIANTS {
        let (_web, url) = web(variant, &session_addr);
        assert!(
            post(&url, "pässwörd")
                .1
                .contains("<p class=\"reply\" role=\"status\">Server said: <b>dröwssäp</b></p>"),
            "{variant}"
        );
        let (status, page) = post(&url, ">tpircs/<)1(trela>tpircs<");
        assert_eq!(status, 200);
        assert!(
            page.contains("Server said: <b>&lt;script&gt;alert(1)&lt;/script&gt;</b>"),
            "{variant}: {page}"
        );
        assert!(!page.contains("<script>"), "{variant}");
        // Text to the session server, which trims as PHP does: a Unicode
        // space or a form feed is a line it answers, not an empty one.
        for text in ["\u{2003}", "\u{a0}x", "\u{c}"] {
            let (status, page) = post(&url, text);
            assert_eq!(status, 200, "{variant}: {text:?}");
            let reversed: String = text.chars().rev().collect();
            assert!(
                page.contains(&format!("Server said: <b>{reversed}</b>")),
                "{variant}: {text:?}: {page}"
            );
        }
    }
}

#[test]
fn unreachable_session_server_is_a_502_page() {
    let closed = format!("127.0.0.1:{}", free_port());
    for variant in VARIANTS {
        let (_web, url) = web(variant, &closed);
        let (status, page) = post(&url, "hello");
        assert_eq!(status, 502, "{variant}");
        assert!(
            page.contains("Error: could not open socket connection"),
            "{variant}"
        );
        assert!(
            page.contains("Enter some text:"),
            "{variant}: the form comes back"
        );
    }
}

/// A fake session server that greets and then never answers; it reports
/// what it received.
fn silent_server() -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let sender = sender.clone();
            std::thread::spawn(move || {
                let _ = stream.write_all(GREETING);
                stream
                    .set_read_timeout(Some(Duration::from_secs(3)))
                    .unwrap();
                let mut got = vec![0; 1024];
                let read = stream.read(&mut got).unwrap_or(0);
                got.truncate(read);
                let _ = sender.send(got);
                // Hold the connection, silent, past the client's timeout.
                std::thread::sleep(Duration::from_secs(3));
            });
        }
    });
    (addr, received)
}

#[test]
fn no_reply_in_time_is_a_504_page() {
    let (silent, received) = silent_server();
    for variant in VARIANTS {
        let (_web, url) = web(variant, &silent);
        let (status, page) = post(&url, "hello");
        assert_eq!(status, 504, "{variant}");
        assert!(page.contains("did not answer in time"), "{variant}");
        // What the client sent: the message and a LF, after the banner.
        assert_eq!(
            received.recv_timeout(Duration::from_secs(5)).unwrap(),
            b"hello\n"
        );
    }
}

/// SIGTERM stops accepting, lets the form in progress be answered, and
/// exits 0.
#[test]
fn sigterm_answers_the_form_in_progress_then_exits_zero() {
    let (silent, _received) = silent_server();
    for variant in VARIANTS {
        let (mut web, url) = web(variant, &silent);
        // Answered with a 504 once the 1 s --timeout runs out.
        let posting = {
            let url = url.clone();
            std::thread::spawn(move || post(&url, "hello"))
        };
        std::thread::sleep(Duration::from_millis(300));
        web.terminate();
        let (status, page) = posting.join().unwrap();
        assert_eq!(status, 504, "{variant}");
        assert!(page.contains("did not answer in time"), "{variant}");
        let exited = web.wait_exit(Duration::from_secs(10));
        assert_eq!(exited.and_then(|s| s.code()), Some(0), "{variant}");
        assert!(TcpStream::connect(addr_of(&url)).is_err(), "{variant}");
    }
}

/// A listener that counts the connections it gets.
fn counting_server() -> (String, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    (listener.local_addr().unwrap().to_string(), listener)
}

#[test]
fn bad_messages_get_a_clear_page_and_nothing_is_sent() {
    let (addr, listener) = counting_server();
    for variant in VARIANTS {
        let (_web, url) = web(variant, &addr);

        let (status, page) = post(&url, "");
        assert_eq!(status, 400);
        assert!(page.contains("Type some text first"), "{variant}");
        let (status, page) = post(&url, "   ");
        assert_eq!(status, 400);
        assert!(page.contains("Type some text first"), "{variant}");

        let (status, page) = post(&url, "two\r\nlines");
        assert_eq!(status, 400);
        assert!(page.contains("line break"), "{variant}: {page}");

        let (status, page) = post(&url, &"x".repeat(8193));
        assert_eq!(status, 400);
        assert!(page.contains("longer than 8192 bytes"), "{variant}: {page}");

        let (status, page) = post(&url, "END");
        assert_eq!(status, 400);
        assert!(page.contains("END ends a session"), "{variant}");
    }
    // None of these reached the session server.
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == ErrorKind::WouldBlock)
    );
}

#[test]
fn other_paths_methods_and_huge_forms_are_refused() {
    for variant in VARIANTS {
        let (_web, url) = web(variant, "127.0.0.1:9");
        let status = agent()
            .get(format!("{url}nothing-here"))
            .call()
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 404, "{variant}");
        let status = agent().put(&url).send("x").unwrap().status().as_u16();
        assert_eq!(status, 405, "{variant}");
        let (status, page) = post(&url, &"y".repeat(70 * 1024));
        assert_eq!(status, 413, "{variant}");
        assert!(page.contains("larger than"), "{variant}");
    }
}

#[test]
fn head_is_answered_as_get_without_a_body() {
    for variant in VARIANTS {
        let (_web, url) = web(variant, "127.0.0.1:9");
        let (get, _) = raw(
            &url,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let (head, _) = raw(
            &url,
            "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let (get_head, get_body) = split_response(&get);
        let (head_head, head_body) = split_response(&head);
        assert!(
            head_head.starts_with("http/1.1 200 ok\r\n"),
            "{variant}: {head}"
        );
        assert_eq!(head_body, "", "{variant}: HEAD has no body");
        assert!(
            head_head.contains("content-type: text/html; charset=utf-8\r\n"),
            "{variant}"
        );
        // The same length as the page a GET gets.
        let length = format!("content-length: {}\r\n", get_body.len());
        assert!(get_head.contains(&length), "{variant}: {get_head}");
        assert!(head_head.contains(&length), "{variant}: {head_head}");
    }
}

#[test]
fn other_methods_get_405_with_an_allow_header() {
    for variant in VARIANTS {
        let (_web, url) = web(variant, "127.0.0.1:9");
        for method in ["PUT", "DELETE", "OPTIONS", "PATCH"] {
            let (response, _) = raw(
                &url,
                &format!(
                    "{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            );
            let (head, body) = split_response(&response);
            assert!(
                head.starts_with("http/1.1 405 "),
                "{variant} {method}: {head}"
            );
            assert!(
                head.contains("\r\nallow: get, head, post\r\n"),
                "{variant} {method}: {head}"
            );
            assert!(
                body.contains("Only GET and POST are supported here."),
                "{variant} {method}"
            );
        }
    }
}

#[test]
fn a_query_string_is_ignored() {
    for variant in VARIANTS {
        let (_web, url) = web(variant, "127.0.0.1:9");
        let mut response = agent().get(format!("{url}?x=1&message=hi")).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{variant}");
        let page = response.body_mut().read_to_string().unwrap();
        assert!(page.contains("Enter some text:"), "{variant}");
        assert!(!page.contains("Server said"), "{variant}");
        // A form posted to `/?x=1` is a form posted to `/`: here it reaches
        // for the (closed) session server.
        let (status, page) = post(&format!("{url}?x=1"), "hello");
        assert_eq!(status, 502, "{variant}");
        assert!(
            page.contains("could not open socket connection"),
            "{variant}"
        );
    }
}

#[test]
fn a_body_declared_too_large_is_refused_unread() {
    for variant in VARIANTS {
        let (_web, url) = web(variant, "127.0.0.1:9");
        // Nothing of the body is sent: the answer comes from the headers.
        let (response, took) = raw(
            &url,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 5000000\r\n\r\n",
        );
        let (head, body) = split_response(&response);
        assert!(head.starts_with("http/1.1 413 "), "{variant}: {head}");
        assert!(
            head.contains("\r\nconnection: close\r\n"),
            "{variant}: {head}"
        );
        assert!(
            body.contains("The form is larger than 65536 bytes."),
            "{variant}"
        );
        assert!(took < Duration::from_secs(2), "{variant}: took {took:?}");
    }
}

/// The headers of a form post of 60,000 bytes and its first 9 bytes, and
/// then nothing: a browser on a very slow link, or someone trying to tie
/// the server up.
const SLOW_POST: &str = "POST / HTTP/1.1\r\nHost: x\r\n\
    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\nmessage=x";

/// Opens a connection and sends `start` of a request, leaving it unfinished.
fn start_slow(url: &str, start: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr_of(url)).unwrap();
    stream.write_all(start.as_bytes()).unwrap();
    stream
}

/// Whether the server has said nothing on `stream` and not closed it.
fn still_waiting(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let waiting = matches!(
        (&*stream).read(&mut [0; 1]),
        Err(error) if error.kind() == ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).unwrap();
    waiting
}

#[test]
fn ten_slow_bodies_do_not_delay_the_page() {
    for variant in VARIANTS {
        // The default request timeout (10 s): the slow posts are still
        // being waited for while the page is fetched.
        let (_web, url) = web(variant, "127.0.0.1:9");
        let slow: Vec<TcpStream> = (0..10).map(|_| start_slow(&url, SLOW_POST)).collect();
        // Let the server take them all in.
        std::thread::sleep(Duration::from_millis(200));
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let (response, took) = raw(
                &url,
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
            assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{variant}");
            assert!(response.contains("Enter some text:"), "{variant}");
            slowest = slowest.max(took);
        }
        println!("{variant}: slowest GET / of 5 with 10 slow posts open: {slowest:?}");
        assert!(
            slowest < Duration::from_secs(1),
            "{variant}: GET / took {slowest:?}"
        );
        // The GETs were served while all 10 posts were still open.
        for stream in &slow {
            assert!(
                still_waiting(stream),
                "{variant}: a slow post was answered early"
            );
        }
    }
}

/// Reads what the server sends on `stream` until it closes; `None` if it
/// has not closed within `limit`. A reset counts as closed.
fn read_until_closed(mut stream: TcpStream, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(read) => got.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(error) => panic!("read: {error}"),
        }
    }
}

#[test]
fn a_request_too_slow_to_arrive_is_cut_off() {
    for variant in VARIANTS {
        // 2 s for a request: 1 for the headers, then 1 for the body.
        let (_web, url) = web_with(variant, "127.0.0.1:9", &["--request-timeout", "2"]);
        let started = Instant::now();
        let slow_body = start_slow(&url, SLOW_POST);
        let slow_head = start_slow(&url, "POST / HTTP/1.1\r\nHost: x\r\nContent-Le");
        let silent = TcpStream::connect(addr_of(&url)).unwrap();

        let answer = read_until_closed(slow_body, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{variant}: a slow body held its connection"));
        let (head, body) = split_response(&answer);
        assert!(head.starts_with("http/1.1 408 "), "{variant}: {head}");
        assert!(
            head.contains("\r\nconnection: close\r\n"),
            "{variant}: {head}"
        );
        assert!(
            body.contains("The form took too long to arrive."),
            "{variant}"
        );

        // Without whole headers there is nothing to answer: the connection
        // is closed.
        let answer = read_until_closed(slow_head, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{variant}: slow headers held their connection"));
        assert_eq!(answer, "", "{variant}");
        let answer = read_until_closed(silent, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{variant}: a silent connection was kept"));
        assert_eq!(answer, "", "{variant}");

        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(4),
            "{variant}: cut off after {took:?}"
        );
    }
}
