//! The async client over loopback, against the demo server (plain and
//! implicit TLS) and against servers that misbehave: the same behaviour as
//! the blocking client, since both are the same session.
#![cfg(feature = "tokio")]

mod common;

use std::io;
use std::time::Duration;

use common::{ONE, TWO, closed_port, demo_server, doe, mute_server};
use net_tokio::{Server, ServerOptions};
use pop3_client::session::SessionError;
use pop3_client::tokio::{ConnectOptions, Login, LoginPolicy, Pop3Client, Pop3Error, Retrieved};

/// The demo server on a loopback port, for as many clients as come.
fn demo() -> u16 {
    let server = Server::bind("127.0.0.1:0", ServerOptions::default()).unwrap();
    let port = server.local_addr().port();
    tokio::spawn(server.serve(|mut conn, _info| async move {
        let _ = conn.run(&mut demo_server(), |_, _| {}).await;
    }));
    port
}

/// Every future of the client can move between threads.
#[allow(dead_code)]
fn futures_are_send(pop: &mut Pop3Client, out: &mut Vec<u8>) {
    fn send<T: Send>(_: T) {}
    send(Pop3Client::connect(
        "localhost",
        110,
        &ConnectOptions::default(),
    ));
    send(pop.stat());
    send(pop.retr(1, out));
    send(pop.retr_many(&[1], |_| Ok(())));
    send(pop.login(Login::SaslScramSha256, "u", doe()));
    send(pop.strongest_login(LoginPolicy::default()));
}

#[tokio::test]
async fn the_strongest_login_is_scram() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default())
        .await
        .unwrap();
    let login = pop.strongest_login(LoginPolicy::default()).await.unwrap();
    assert_eq!(login, Some(Login::SaslScramSha256));
    pop.login(login.unwrap(), "john", doe()).await.unwrap();
    assert_eq!(pop.stat().await.unwrap(), (2, 46));
    pop.quit().await.unwrap();
}

#[tokio::test]
async fn a_whole_session() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default())
        .await
        .unwrap();
    assert!(pop.greeting().apop_timestamp.is_some());
    pop.login(Login::SaslLogin, "john", doe()).await.unwrap();
    assert!(pop.capabilities().await.unwrap().pipelining());
    assert!(pop.machine().is_pipelining());
    assert_eq!(pop.stat().await.unwrap(), (2, 46));
    assert_eq!(pop.list().await.unwrap(), [(1, 22), (2, 24)]);
    assert_eq!(pop.uidl().await.unwrap().len(), 2);

    let mut one = Vec::new();
    assert_eq!(pop.retr(1, &mut one).await.unwrap(), 22);
    assert_eq!(one, ONE.as_bytes());
    let mut top = Vec::new();
    pop.top(2, 0, &mut top).await.unwrap();
    assert_eq!(top, b"Subject: two\r\n\r\n");
    let mut both = [Vec::new(), Vec::new()];
    pop.retr_many(&[1, 2], |part| {
        if let Retrieved::Data { number, chunk } = part {
            both[number as usize - 1].extend_from_slice(&chunk);
        }
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(both, [ONE.as_bytes(), TWO.as_bytes()]);

    pop.dele(1).await.unwrap();
    pop.noop().await.unwrap();
    pop.rset().await.unwrap();
    pop.quit().await.unwrap();
}

#[tokio::test]
async fn a_refused_command_is_the_servers_error() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default())
        .await
        .unwrap();
    let error = pop
        .login(
            Login::UserPass,
            "john",
            lineproto::Secret::new(b"nope".to_vec()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.server_error().map(|e| e.line()),
        Some("-ERR [AUTH] Authentication failed.".into())
    );
    pop.login(Login::UserPass, "john", doe()).await.unwrap();
    let error = pop.dele(9).await.unwrap_err();
    assert!(
        matches!(error, Pop3Error::Session(SessionError::Server(_))),
        "{error}"
    );
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let error = Pop3Client::connect("127.0.0.1", closed_port(), &ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Pop3Error::Connect(_)), "{error}");
}

#[tokio::test]
async fn a_silent_server_runs_into_the_response_timeout() {
    let port = mute_server("+OK hello\r\n");
    let mut options = ConnectOptions::default();
    options.machine.response_timeout = Some(Duration::from_millis(200));
    let mut pop = Pop3Client::connect("127.0.0.1", port, &options)
        .await
        .unwrap();
    let error = tokio::time::timeout(Duration::from_secs(5), pop.stat())
        .await
        .expect("the machine's deadline ends it")
        .unwrap_err();
    assert!(
        matches!(
            error,
            Pop3Error::Protocol(pop3_client::Error::ResponseTimeout { .. })
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_failing_callback_stops_the_retrieval() {
    let port = demo();
    let mut pop = Pop3Client::connect("127.0.0.1", port, &ConnectOptions::default())
        .await
        .unwrap();
    pop.login(Login::UserPass, "john", doe()).await.unwrap();
    let error = pop
        .retr_many(&[1, 2], |_| Err(io::Error::other("disk full")))
        .await
        .unwrap_err();
    assert!(matches!(error, Pop3Error::Output(_)), "{error}");
}

#[cfg(feature = "tls")]
mod tls {
    use std::time::Duration;

    use net_tokio::{Server, ServerOptions};
    use pop3_client::session::SessionError;
    use pop3_client::tls::Trust;
    use pop3_client::tokio::{ConnectOptions, Login, Pop3Client, Pop3Error, Security};

    use super::common::{cert_path, demo_server, doe, mute_server, server_tls_config};

    /// The demo server behind implicit TLS.
    fn demo_over_tls() -> u16 {
        let server = Server::bind("127.0.0.1:0", ServerOptions::default()).unwrap();
        let port = server.local_addr().port();
        tokio::spawn(server.serve(|conn, _info| async move {
            let Ok(mut conn) = net_tokio::tls::accept(conn, server_tls_config()).await else {
                return;
            };
            let _ = conn.run(&mut demo_server(), |_, _| {}).await;
            let _ = conn.close(Duration::from_secs(1)).await;
        }));
        port
    }

    fn options(security: Security, ca: &str) -> ConnectOptions {
        let mut options = ConnectOptions::default();
        options.security = security;
        options.trust = Trust::CaFile(cert_path(ca));
        options
    }

    #[tokio::test]
    async fn implicit_tls_with_a_ca_file() {
        let port = demo_over_tls();
        let options = options(Security::Implicit, "ca.pem");
        let mut pop = Pop3Client::connect("localhost", port, &options)
            .await
            .unwrap();
        pop.login(Login::Apop, "john", doe()).await.unwrap();
        assert_eq!(pop.stat().await.unwrap(), (2, 46));
        pop.quit().await.unwrap();
    }

    #[tokio::test]
    async fn a_certificate_the_ca_file_does_not_vouch_for_is_refused() {
        let port = demo_over_tls();
        let options = options(Security::Implicit, "leaf.pem");
        let error = Pop3Client::connect("localhost", port, &options)
            .await
            .unwrap_err();
        assert!(matches!(error, Pop3Error::Tls(_)), "{error}");
    }

    #[tokio::test]
    async fn stls_that_is_not_offered_is_refused_not_skipped() {
        let port = super::demo();
        let options = options(Security::StartTls, "ca.pem");
        let error = Pop3Client::connect("localhost", port, &options)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Pop3Error::Session(SessionError::StartTlsUnavailable)),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_the_hello_times_out() {
        let port = mute_server("");
        let mut options = options(Security::Implicit, "ca.pem");
        options.machine.response_timeout = Some(Duration::from_millis(200));
        let error = tokio::time::timeout(
            Duration::from_secs(5),
            Pop3Client::connect("localhost", port, &options),
        )
        .await
        .expect("the handshake is bounded")
        .unwrap_err();
        assert!(matches!(error, Pop3Error::Tls(_)), "{error}");
    }
}
