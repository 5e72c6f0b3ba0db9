//! What the tests of the blocking and async clients share: the demo
//! mailbox, raw servers for what the demo server does not do, and the test
//! certificates.
#![allow(dead_code, unreachable_pub)] // each test file takes what it needs

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;

use bytes::Bytes;
use lineproto::Secret;
use pop3_client::client::{Event, Requested, Response};
use pop3_client::server::{self, Mailbox, Server};
#[cfg(feature = "tls")]
use pop3_client::tls::rustls;

pub const ONE: &str = "Subject: one\r\n\r\n.dot\r\n";
pub const TWO: &str = "Subject: two\r\n\r\nsecond\r\n";

/// The demo server for `john` / `doe`, with messages [`ONE`] and [`TWO`].
pub fn demo_server() -> Server {
    let messages = [ONE, TWO].iter().map(|m| Bytes::from(*m)).collect();
    Server::new(
        Mailbox::new("john", "doe", messages),
        server::Options::default(),
    )
}

pub fn doe() -> Secret<Vec<u8>> {
    Secret::new(b"doe".to_vec())
}

/// A server on a loopback port that sends `greeting` to one client, then
/// reads until the client leaves, answering nothing. Returns the port.
pub fn mute_server(greeting: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let _ = socket.write_all(greeting.as_bytes());
        let mut sink = [0; 1024];
        while matches!(socket.read(&mut sink), Ok(1..)) {}
    });
    port
}

/// A loopback port where nothing listens.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn cert_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(name)
}

#[cfg(feature = "tls")]
pub fn server_tls_config() -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = vec![CertificateDer::from_pem_file(cert_path("leaf.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(cert_path("leaf.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    std::sync::Arc::new(config)
}

/// An event as two runs of the same requests must agree on it: its
/// handle's client number left out (two clients never share a handle),
/// the request's sequence number kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Greeting(pop3_client::Greeting),
    Response(u64, Requested, Response),
    Data(u64, u32, Bytes),
    Other(String),
}

pub fn seen(event: Event) -> Seen {
    match event {
        Event::Greeting(greeting) => Seen::Greeting(greeting),
        Event::Response {
            handle,
            requested,
            response,
        } => Seen::Response(handle.sequence(), requested, response),
        Event::MessageData {
            handle,
            message,
            chunk,
        } => Seen::Data(handle.sequence(), message, chunk),
        // Kinds of event added later.
        other => Seen::Other(format!("{other:?}")),
    }
}
