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

/// Steps or events written out with the client's number left out of their
/// handles, to compare two runs of the same requests: two clients never
/// share a handle, but their requests' sequence numbers must agree.
pub fn without_client_numbers<T: std::fmt::Debug>(items: &[T]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            let text = format!("{item:?}");
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(at) = rest.find("client: ") {
                out.push_str(&rest[..at]);
                out.push_str("client: _");
                rest =
                    rest[at + "client: ".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
            }
            out.push_str(rest);
            out
        })
        .collect()
}
