//! The web clients' pages, over loopback HTTP, for both variants: the form,
//! a reply, and every error page.

mod common;

use common::{Process, free_port, start_example};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

const VARIANTS: [&str; 2] = ["web_client", "web_client_socket"];
const GREETING: &[u8] = b"Roll up, roll up, to the greatest show on earth!\n? ";

/// A web client variant talking to `session` (an address), with a 1 s timeout.
fn web(variant: &str, session: &str) -> (Process, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let process = start_example(
        variant,
        &["--listen", &addr, "--connect", session, "--timeout", "1"],
        "Serving the form",
    );
    (process, format!("http://{addr}/"))
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
                .contains("Server said: <b>dröwssäp</b>"),
            "{variant}"
        );
        let (status, page) = post(&url, ">tpircs/<)1(trela>tpircs<");
        assert_eq!(status, 200);
        assert!(
            page.contains("Server said: <b>&lt;script&gt;alert(1)&lt;/script&gt;</b>"),
            "{variant}: {page}"
        );
        assert!(!page.contains("<script>"), "{variant}");
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
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
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
