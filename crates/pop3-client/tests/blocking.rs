//! The blocking client over loopback, against the demo server (plain and
//! implicit TLS) and against servers that misbehave.
#![cfg(feature = "blocking")]

mod common;

use std::io;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{ONE, TWO, closed_port, demo_server, doe, mute_server};
use net_std::{Conn, Server, ServerOptions};
use pop3_client::blocking::{ConnectOptions, Login, LoginPolicy, Pop3Client, Pop3Error, Retrieved};
use pop3_client::client::{Request, Response};
use pop3_client::session::SessionError;

/// The demo server on a loopback port, for as many clients as come.
fn demo() -> u16 {
    let server = Server::bind("127.0.0.1:0", ServerOptions::default()).unwrap();
    let port = server.local_addr().unwrap().port();
    thread::spawn(move || {
        server.serve(|conn: &mut Conn<TcpStream>, _: &net_std::ConnInfo| {
            let _ = conn.run(&mut demo_server(), |_, _| {});
        })
    });
    port
}

#[test]
fn a_whole_session() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).unwrap();
    assert!(pop.greeting().apop_timestamp.is_some());
    pop.login(Login::SaslPlain, "john", doe()).unwrap();
    assert!(pop.capabilities().unwrap().pipelining());
    assert!(pop.machine().is_pipelining());
    assert_eq!(pop.stat().unwrap(), (2, 46));
    assert_eq!(pop.list().unwrap(), [(1, 22), (2, 24)]);
    assert_eq!(pop.uidl().unwrap().len(), 2);
    assert_eq!(
        pop.request(Request::List(Some(1))).unwrap(),
        Response::Scan(1, 22)
    );

    let mut one = Vec::new();
    assert_eq!(pop.retr(1, &mut one).unwrap(), 22);
    assert_eq!(one, ONE.as_bytes());
    let mut top = Vec::new();
    pop.top(2, 0, &mut top).unwrap();
    assert_eq!(top, b"Subject: two\r\n\r\n");
    let mut both = [Vec::new(), Vec::new()];
    let mut ends = Vec::new();
    pop.retr_many(&[2, 1], |part| {
        match part {
            Retrieved::Data { number, chunk } => {
                both[number as usize - 1].extend_from_slice(&chunk);
            }
            Retrieved::End { number, .. } => ends.push(number),
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(both, [ONE.as_bytes(), TWO.as_bytes()]);
    assert_eq!(ends, [2, 1]);

    pop.dele(1).unwrap();
    pop.noop().unwrap();
    pop.rset().unwrap();
    pop.quit().unwrap();
}

#[test]
fn the_strongest_login_is_scram_and_plain_text_needs_permission() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).unwrap();
    // No CAPA yet: strongest_login asks for it.
    assert!(pop.machine().capabilities().is_none());
    let login = pop.strongest_login(LoginPolicy::default()).unwrap();
    assert_eq!(login, Some(Login::SaslScramSha256));
    pop.login(login.unwrap(), "john", doe()).unwrap();
    assert_eq!(pop.stat().unwrap(), (2, 46));
    pop.quit().unwrap();
    // With a token over plain text: refused unless allowed.
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).unwrap();
    let mut policy = LoginPolicy::default();
    policy.bearer_token = true;
    assert_eq!(pop.strongest_login(policy).unwrap(), None);
    policy.allow_plaintext = true;
    let login = pop.strongest_login(policy).unwrap();
    assert_eq!(login, Some(Login::SaslOAuthBearer));
    // The demo server takes the password as the token.
    pop.login(login.unwrap(), "john", doe()).unwrap();
    pop.quit().unwrap();
}

#[test]
fn a_refused_command_is_the_servers_error() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).unwrap();
    let error = pop
        .login(
            Login::UserPass,
            "john",
            lineproto::Secret::new(b"nope".to_vec()),
        )
        .unwrap_err();
    let refused = error.server_error().expect("a -ERR");
    assert_eq!(refused.line(), "-ERR [AUTH] Authentication failed.");
    // The session goes on.
    pop.login(Login::Apop, "john", doe()).unwrap();
    let error = pop.retr(9, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(error, Pop3Error::Session(SessionError::Server(_))),
        "{error}"
    );
    pop.quit().unwrap();
}

#[test]
fn a_refused_greeting_is_reported_at_connect() {
    let port = mute_server("-ERR [SYS/TEMP] not today\r\n");
    let error = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).unwrap_err();
    assert!(
        matches!(error, Pop3Error::Protocol(pop3_client::Error::Refused(_))),
        "{error}"
    );
    assert_eq!(
        error.server_error().map(|e| e.line()),
        Some("-ERR [SYS/TEMP] not today".into())
    );
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let error =
        Pop3Client::connect("127.0.0.1", closed_port(), &ConnectOptions::default()).unwrap_err();
    assert!(matches!(error, Pop3Error::Connect(_)), "{error}");
    assert_eq!(error.to_string(), "could not connect");
}

#[test]
fn a_silent_server_runs_into_the_response_timeout() {
    let port = mute_server("+OK hello\r\n");
    let mut options = ConnectOptions::default();
    options.machine.response_timeout = Some(Duration::from_millis(200));
    let mut pop = Pop3Client::connect("127.0.0.1", port, &options).unwrap();
    let started = Instant::now();
    let error = pop.stat().unwrap_err();
    assert!(
        matches!(
            error,
            Pop3Error::Protocol(pop3_client::Error::ResponseTimeout { .. })
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_failing_writer_stops_the_retrieval() {
    struct Broken;
    impl io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default()).unwrap();
    pop.login(Login::UserPass, "john", doe()).unwrap();
    let error = pop.retr(1, &mut Broken).unwrap_err();
    assert!(matches!(error, Pop3Error::Output(_)), "{error}");
}

#[cfg(feature = "tls")]
mod tls {
    use std::io::{self, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    use std::time::{Duration, Instant};

    use net_std::{Conn, ReadTimeout};
    use pop3_client::blocking::{ConnectOptions, Login, Pop3Client, Pop3Error, Security};
    use pop3_client::session::SessionError;
    use pop3_client::tls::{Trust, rustls};

    use super::common::{cert_path, demo_server, doe, mute_server, server_tls_config};

    /// The server side of TLS, with the socket's read timeout reachable.
    #[derive(Debug)]
    struct ServerTls(rustls::StreamOwned<rustls::ServerConnection, TcpStream>);

    impl Read for ServerTls {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for ServerTls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }

    impl ReadTimeout for ServerTls {
        fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.0.sock.set_read_timeout(timeout)
        }
    }

    /// The demo server behind implicit TLS, for one client.
    fn demo_over_tls() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let connection = rustls::ServerConnection::new(server_tls_config()).unwrap();
            let mut conn = Conn::new(ServerTls(rustls::StreamOwned::new(connection, socket)));
            let _ = conn.run(&mut demo_server(), |_, _| {});
            conn.get_mut().0.conn.send_close_notify();
            let _ = conn.get_mut().0.flush();
        });
        port
    }

    fn options(security: Security, ca: &str) -> ConnectOptions {
        let mut options = ConnectOptions::default();
        options.security = security;
        options.trust = Trust::CaFile(cert_path(ca));
        options
    }

    #[test]
    fn implicit_tls_with_a_ca_file() {
        let port = demo_over_tls();
        let options = options(Security::Implicit, "ca.pem");
        let mut pop = Pop3Client::connect("localhost", port, &options).unwrap();
        pop.login(Login::UserPass, "john", doe()).unwrap();
        assert_eq!(pop.stat().unwrap(), (2, 46));
        pop.quit().unwrap();
    }

    #[test]
    fn a_certificate_the_ca_file_does_not_vouch_for_is_refused() {
        let port = demo_over_tls();
        // The server's own certificate is no CA.
        let options = options(Security::Implicit, "leaf.pem");
        let error = Pop3Client::connect("localhost", port, &options).unwrap_err();
        assert!(matches!(error, Pop3Error::Tls(_)), "{error}");
    }

    #[test]
    fn an_unreadable_ca_file_fails_before_connecting() {
        let options = options(Security::Implicit, "missing.pem");
        let error = Pop3Client::connect("localhost", 1, &options).unwrap_err();
        assert!(matches!(error, Pop3Error::Trust(_)), "{error}");
    }

    #[test]
    fn stls_that_is_not_offered_is_refused_not_skipped() {
        let port = super::demo();
        let options = options(Security::StartTls, "ca.pem");
        let error = Pop3Client::connect("localhost", port, &options).unwrap_err();
        assert!(
            matches!(error, Pop3Error::Session(SessionError::StartTlsUnavailable)),
            "{error}"
        );
    }

    #[test]
    fn a_server_that_never_answers_the_hello_times_out() {
        let port = mute_server("");
        let mut options = options(Security::Implicit, "ca.pem");
        options.machine.response_timeout = Some(Duration::from_millis(200));
        let started = Instant::now();
        let error = Pop3Client::connect("localhost", port, &options).unwrap_err();
        assert!(matches!(error, Pop3Error::Tls(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
