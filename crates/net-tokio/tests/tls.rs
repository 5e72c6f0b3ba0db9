//! TLS: implicit TLS through the server and the client connector, a
//! STARTTLS switch in the middle of a session, and a pinned certificate.
#![cfg(feature = "tls")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Ask, EchoLine, TestError};
use lineproto::{LineBuffer, Machine, Output};
use net_tokio::tls::rustls::pki_types::pem::PemObject;
use net_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use net_tokio::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use net_tokio::tls::{self, TlsError, trust};
use net_tokio::{ClientOptions, Conn, Server, ServerOptions, connect};

const CA: &str = include_str!("certs/ca.pem");
const LEAF: &str = include_str!("certs/leaf.pem");
const LEAF_KEY: &str = include_str!("certs/leaf.key");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config() -> Arc<ServerConfig> {
    let chain = vec![CertificateDer::from_pem_slice(LEAF.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(LEAF_KEY.as_bytes()).unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

fn client_config() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(CA.as_bytes()).unwrap())
        .unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn implicit_tls_through_the_server_and_connect() {
    let server = Server::bind("127.0.0.1:0", ServerOptions::default()).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let config = server_config();
    let serving = tokio::spawn(server.serve(move |conn, _info| {
        let config = Arc::clone(&config);
        async move {
            let handshake = tls::accept(conn, config);
            let Ok(Ok(mut conn)) = tokio::time::timeout(Duration::from_secs(10), handshake).await
            else {
                return;
            };
            let _ = conn.run(&mut EchoLine::new(None), |_, _| {}).await;
            let _ = conn.close(Duration::from_secs(1)).await;
        }
    }));

    let conn = connect(addr, &ClientOptions::default()).await.unwrap();
    let mut conn = tls::connect(conn, "localhost", client_config())
        .await
        .unwrap();
    let mut ask = Ask::new(&["secret", "quit"]);
    let mut replies = Vec::new();
    conn.run(&mut ask, |_, reply| replies.push(reply))
        .await
        .unwrap();
    assert_eq!(replies, ["secret", "bye"]);
    drop(conn);

    handle.shutdown();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let (client, server) = tokio::io::duplex(16 * 1024);
    let accepting = tokio::spawn(tls::accept(Conn::new(server), server_config()));
    let error = tls::connect(Conn::new(client), "example.org", client_config())
        .await
        .unwrap_err();
    assert!(matches!(error, TlsError::Handshake(_)), "{error:?}");
    assert_eq!(error.to_string(), "tls handshake failed");
    assert!(accepting.await.unwrap().is_err());
}

#[tokio::test]
async fn a_pinned_certificate_is_trusted_and_another_is_named_by_its_fingerprint() {
    let leaf = trust::Fingerprint::of(&CertificateDer::from_pem_slice(LEAF.as_bytes()).unwrap());
    let (client, server) = tokio::io::duplex(16 * 1024);
    let accepting = tokio::spawn(tls::accept(Conn::new(server), server_config()));
    let config = Arc::new(trust::client_config_pinned(leaf).unwrap());
    // The pin is the certificate itself: the name is not checked.
    let conn = tls::connect(Conn::new(client), "elsewhere.example", config)
        .await
        .unwrap();
    assert!(accepting.await.unwrap().is_ok());
    drop(conn);

    let (client, server) = tokio::io::duplex(16 * 1024);
    let accepting = tokio::spawn(tls::accept(Conn::new(server), server_config()));
    let ca = trust::Fingerprint::of(&CertificateDer::from_pem_slice(CA.as_bytes()).unwrap());
    let config = Arc::new(trust::client_config_pinned(ca).unwrap());
    let error = tls::connect(Conn::new(client), "localhost", config)
        .await
        .unwrap_err();
    let untrusted = trust::UntrustedCertificate::find(&error).expect("the fingerprint");
    assert_eq!(untrusted.fingerprint(), leaf);
    assert!(accepting.await.unwrap().is_err());
}

/// Through a `Server` that trusts a PROXY header from the client's
/// address: the header and the ClientHello come in one write, and the
/// bytes the server read past the header start the handshake.
#[tokio::test]
async fn accept_starts_with_the_bytes_after_a_proxy_header() {
    let mut options = ServerOptions::default();
    options.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr();
    let (peers, peer) = tokio::sync::oneshot::channel();
    let serving = tokio::spawn(server.serve_one(move |conn, info| async move {
        let _ = peers.send(info.peer_addr);
        let handshake = tls::accept(conn, server_config());
        let mut conn = tokio::time::timeout(Duration::from_secs(10), handshake)
            .await
            .unwrap()
            .unwrap();
        let _ = conn.run(&mut EchoLine::new(None), |_, _| {}).await;
        let _ = conn.close(Duration::from_secs(1)).await;
    }));

    // A blocking client writes its first flight by hand, after the header.
    let client = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let name = "localhost".try_into().unwrap();
        let mut client = rustls::ClientConnection::new(client_config(), name).unwrap();
        let mut first = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 1234\r\n".to_vec();
        client.write_tls(&mut first).unwrap();
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket.write_all(&first).unwrap();
        let mut tls = rustls::StreamOwned::new(client, socket);
        tls.write_all(b"secret\nquit\n").unwrap();
        let mut replies = String::new();
        tls.read_to_string(&mut replies).unwrap();
        replies
    });
    assert_eq!(client.await.unwrap(), "secret\nbye\n");
    assert_eq!(peer.await.unwrap(), "192.0.2.7:40000".parse().unwrap());
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_invalid_server_name_is_an_error() {
    let (client, _server) = tokio::io::duplex(64);
    let error = tls::connect(Conn::new(client), "not a name!", client_config())
        .await
        .unwrap_err();
    assert!(matches!(error, TlsError::InvalidServerName(_)), "{error:?}");
}

/// The plain-text part of a STARTTLS protocol: the client sends
/// `STARTTLS`, the server answers `OK`, and both report the switch.
#[derive(Debug)]
struct StartTls {
    client: bool,
    lines: LineBuffer,
    sent: bool,
}

impl StartTls {
    fn new(client: bool) -> Self {
        Self {
            client,
            lines: LineBuffer::new(64),
            sent: false,
        }
    }
}

impl Machine for StartTls {
    type Event = ();
    type Error = TestError;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.lines.extend(bytes);
    }

    fn handle_eof(&mut self) {}

    fn poll_output(&mut self, _now: Instant) -> Output<(), TestError> {
        if self.client && !std::mem::replace(&mut self.sent, true) {
            return Output::Transmit(Bytes::from_static(b"STARTTLS\n"));
        }
        match self.lines.next_line() {
            Some(Ok(line)) if !self.client && &line[..] == b"STARTTLS" => {
                self.sent = true;
                Output::Transmit(Bytes::from_static(b"OK\n"))
            }
            Some(Ok(line)) if self.client && &line[..] == b"OK" => Output::Event(()),
            Some(Ok(_)) => Output::Done(Err(TestError::Truncated)),
            Some(Err(error)) => Output::Done(Err(error.into())),
            // The server's reply is out: switch (the `Conn` has written it).
            None if self.sent && !self.client => Output::Event(()),
            None => Output::Wait { deadline: None },
        }
    }
}

#[tokio::test]
async fn starttls_switches_a_conn_to_tls() {
    let (client, server) = tokio::io::duplex(16 * 1024);
    let serving = tokio::spawn(async move {
        let mut conn = Conn::new(server);
        conn.set_write_timeout(Some(Duration::from_secs(5)));
        let mut plain = StartTls::new(false);
        assert_eq!(conn.next_event(&mut plain).await.unwrap(), Some(()));
        let mut conn = tls::accept(conn, server_config()).await.unwrap();
        assert_eq!(conn.write_timeout(), Some(Duration::from_secs(5)));
        conn.run(&mut EchoLine::new(None), |_, _| {}).await.unwrap();
        // Sends a TLS close_notify, which the client reads as end of input.
        let _ = conn.close(Duration::from_secs(1)).await;
    });

    let mut conn = Conn::new(client);
    let mut plain = StartTls::new(true);
    assert_eq!(conn.next_event(&mut plain).await.unwrap(), Some(()));
    let mut conn = tls::connect(conn, "localhost", client_config())
        .await
        .unwrap();
    let mut ask = Ask::new(&["over tls", "quit"]);
    let mut replies = Vec::new();
    conn.run(&mut ask, |_, reply| replies.push(reply))
        .await
        .unwrap();
    assert_eq!(replies, ["over tls", "bye"]);
    drop(conn);
    serving.await.unwrap();
}
