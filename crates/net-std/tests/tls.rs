//! TLS over loopback: implicit TLS and a STARTTLS switch, each driving the
//! session machines over a `Conn` on both sides, the machine's deadline
//! reaching the socket under TLS, the server's handshake deadline, a pinned
//! certificate, and the handshake's errors.
#![cfg(feature = "tls")]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use net_std::tls::rustls::pki_types::pem::PemObject;
use net_std::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use net_std::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use net_std::tls::{self, TlsError, trust};
use net_std::{ClientOptions, Conn, DriveError, ReadTimeout, Server, ServerOptions, connect};
use session_proto::{client as session_client, server as session_server};

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

fn accept(socket: TcpStream) -> Result<tls::ServerTlsStream, TlsError> {
    tls::accept(socket, server_config())
}

/// Serves one session over TLS (after `before_tls` on the plain socket),
/// then tells the client the session is over with a `close_notify`.
fn serve_one(before_tls: fn(&mut TcpStream)) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        before_tls(&mut socket);
        let mut conn = Conn::new(accept(socket).unwrap());
        let mut server = session_server::Server::new(session_server::Options::default());
        conn.run(&mut server, |_, _| {}).unwrap();
        conn.get_mut().send_close_notify().unwrap();
    });
    (port, serving)
}

/// Runs a session client over `conn`: one line, its reply, END.
fn one_line<S: Read + Write + ReadTimeout>(conn: &mut Conn<S>) -> Vec<String> {
    let mut client = session_client::Client::new(session_client::Options::default());
    client.send("jack frost").unwrap();
    client.end();
    let mut replies = Vec::new();
    conn.run(&mut client, |_, event| {
        if let session_client::Event::Reply(reply) = event {
            replies.push(String::from_utf8_lossy(&reply).into_owned());
        }
    })
    .unwrap();
    replies
}

#[test]
fn implicit_tls_drives_a_machine() {
    let (port, serving) = serve_one(|_| {});
    let socket = connect(("127.0.0.1", port), &ClientOptions::default())
        .unwrap()
        .into_inner();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stream = tls::connect(socket, "localhost", client_config()).unwrap();
    assert!(stream.connection().protocol_version().is_some());
    let mut conn = Conn::new(stream);
    assert_eq!(one_line(&mut conn), ["tsorf kcaj"]);
    serving.join().unwrap();
}

#[test]
fn starttls_switches_the_stream_of_a_conn() {
    // The plain-text part: the client says STARTTLS, the server says OK.
    let (port, serving) = serve_one(|socket| {
        let mut line = Vec::new();
        let mut byte = [0];
        // Byte by byte: nothing after the LF (the client's TLS hello) may
        // be read here.
        while line.last() != Some(&b'\n') {
            assert_eq!(socket.read(&mut byte).unwrap(), 1);
            line.push(byte[0]);
        }
        assert_eq!(line, b"STARTTLS\n");
        socket.write_all(b"OK\n").unwrap();
    });
    let mut conn = connect(("127.0.0.1", port), &ClientOptions::default()).unwrap();
    conn.get_mut().write_all(b"STARTTLS\n").unwrap();
    let mut ok = [0; 3];
    conn.get_mut().read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"OK\n");

    let socket = conn.into_inner();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut conn = Conn::new(tls::connect(socket, "localhost", client_config()).unwrap());
    assert_eq!(one_line(&mut conn), ["tsorf kcaj"]);
    serving.join().unwrap();
}

#[test]
fn the_machines_deadline_reaches_the_socket_under_tls() {
    // A server that completes the handshake, then says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let mut tls = accept(socket).unwrap();
        // Until the client gives up and closes.
        let _ = tls.read(&mut [0; 64]);
    });
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut stream = tls::connect(socket, "localhost", client_config()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert_eq!(
        stream.get_ref().read_timeout().unwrap(),
        Some(Duration::from_secs(2))
    );

    let mut options = session_client::Options::default();
    options.reply_timeout = Some(Duration::from_millis(200));
    let mut client = session_client::Client::new(options);
    client.send("anyone?").unwrap();
    let started = Instant::now();
    let mut conn = Conn::new(stream);
    let error = conn.run(&mut client, |_, _| {}).unwrap_err();
    assert!(
        matches!(
            error,
            DriveError::Protocol(session_proto::Error::ReplyTimeout { .. })
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(conn);
    silent.join().unwrap();
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        accept(socket).is_err()
    });
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let error = tls::connect(socket, "example.org", client_config()).unwrap_err();
    assert!(matches!(error, TlsError::Handshake(_)), "{error:?}");
    assert_eq!(error.to_string(), "tls handshake failed");
    assert!(accepting.join().unwrap(), "the server saw the failure too");
}

#[test]
fn an_invalid_server_name_is_an_error() {
    let error =
        tls::connect(io::Cursor::new(Vec::new()), "not a name!", client_config()).unwrap_err();
    assert!(matches!(error, TlsError::InvalidServerName(_)), "{error:?}");
}

#[test]
fn a_server_that_closes_during_the_handshake_is_an_error() {
    // Reads see end of input at once.
    let error =
        tls::connect(io::Cursor::new(Vec::new()), "localhost", client_config()).unwrap_err();
    let TlsError::Handshake(error) = error else {
        panic!("{error:?}")
    };
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_silent_server_times_the_handshake_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let error = tls::connect(socket, "localhost", client_config()).unwrap_err();
    let TlsError::Handshake(error) = error else {
        panic!("{error:?}")
    };
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error:?}"
    );
    drop(listener);
}

/// A client that trickles its handshake a byte at a time, each within the
/// socket's read timeout, is cut at the handshake's deadline.
#[test]
fn accept_until_cuts_a_trickled_handshake_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let started = Instant::now();
        let deadline = started + Duration::from_millis(600);
        let mut conn = Conn::new(socket);
        let result = tls::accept_until(&mut conn, server_config(), deadline);
        (result.map(drop), started.elapsed())
    });
    // A real ClientHello, one byte every 100 ms.
    let mut hello = Vec::new();
    let name = "localhost".try_into().unwrap();
    let mut client = rustls::ClientConnection::new(client_config(), name).unwrap();
    client.write_tls(&mut hello).unwrap();
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for byte in hello {
        if socket.write_all(&[byte]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
        if accepting.is_finished() {
            break;
        }
    }
    let (result, elapsed) = accepting.join().unwrap();
    let Err(TlsError::Handshake(error)) = result else {
        panic!("{result:?}")
    };
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error:?}"
    );
    assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

/// Through a `Server` that trusts a PROXY header from the client's
/// address: the header and the ClientHello come in one write, and the
/// bytes the server read past the header start the handshake.
#[test]
fn accept_until_serves_a_server_handlers_conn_after_a_proxy_header() {
    let mut options = ServerOptions::default();
    options.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let port = server.local_addr().unwrap().port();
    let stop = server.shutdown_handle();
    let (peers, peer) = std::sync::mpsc::channel();
    let serving = thread::spawn(move || {
        server.serve_one(|conn, info| {
            peers.send(info.peer_addr).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut tls = tls::accept_until(conn, server_config(), deadline).unwrap();
            let mut server = session_server::Server::new(session_server::Options::default());
            tls.run(&mut server, |_, _| {}).unwrap();
            tls.get_mut().send_close_notify().unwrap();
        })
    });

    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = "localhost".try_into().unwrap();
    let mut client = rustls::ClientConnection::new(client_config(), name).unwrap();
    let mut first = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 1234\r\n".to_vec();
    client.write_tls(&mut first).unwrap();
    socket.write_all(&first).unwrap();
    let mut stream = rustls::StreamOwned::new(client, socket);
    let mut conn = Conn::new(TlsStream(&mut stream));
    assert_eq!(one_line(&mut conn), ["tsorf kcaj"]);
    assert_eq!(peer.recv().unwrap(), "192.0.2.7:40000".parse().unwrap());
    serving.join().unwrap().unwrap();
    drop(stop);
}

/// A client TLS stream made by hand (the ClientHello was sent with the
/// PROXY header), with the socket's read timeout reachable.
struct TlsStream<'a>(&'a mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl Read for TlsStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl ReadTimeout for TlsStream<'_> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.sock.set_read_timeout(timeout)
    }
}

/// Serves one TLS session with the self-signed certificate.
fn serve_selfsigned() -> (u16, thread::JoinHandle<()>) {
    let cert = CertificateDer::from_pem_slice(include_bytes!("certs/selfsigned.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("certs/selfsigned.key")).unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let Ok(stream) = tls::accept(socket, Arc::new(config)) else {
            return;
        };
        let mut conn = Conn::new(stream);
        let mut server = session_server::Server::new(session_server::Options::default());
        let _ = conn.run(&mut server, |_, _| {});
        let _ = conn.get_mut().send_close_notify();
    });
    (port, serving)
}

#[test]
fn a_pinned_certificate_is_trusted_and_another_is_named_by_its_fingerprint() {
    let cert = CertificateDer::from_pem_slice(include_bytes!("certs/selfsigned.pem")).unwrap();
    let fingerprint = trust::Fingerprint::of(&cert);

    let (port, serving) = serve_selfsigned();
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let config = Arc::new(trust::client_config_pinned(fingerprint).unwrap());
    let mut conn = Conn::new(tls::connect(socket, "localhost", config).unwrap());
    assert_eq!(one_line(&mut conn), ["tsorf kcaj"]);
    serving.join().unwrap();

    let (port, serving) = serve_selfsigned();
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let leaf = CertificateDer::from_pem_slice(LEAF.as_bytes()).unwrap();
    let config = Arc::new(trust::client_config_pinned(trust::Fingerprint::of(&leaf)).unwrap());
    let error = tls::connect(socket, "localhost", config).unwrap_err();
    let untrusted = trust::UntrustedCertificate::find(&error).expect("the fingerprint");
    assert_eq!(untrusted.fingerprint(), fingerprint);
    serving.join().unwrap();
}

/// A TLS session still open when the server's grace period ends is cut
/// like a plain one: the drive over `accept_until`'s `Conn` ends with
/// `DriveError::Cut`, and the half line is not served.
#[test]
fn a_tls_session_cut_at_the_end_of_the_grace_period_ends_with_cut() {
    let mut options = ServerOptions::default();
    options.shutdown_grace = Duration::from_millis(50);
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let port = server.local_addr().unwrap().port();
    let stop = server.shutdown_handle();
    let (results, ended) = std::sync::mpsc::channel();
    let serving = thread::spawn(move || {
        server.serve(move |conn, _info| {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut tls = tls::accept_until(conn, server_config(), deadline).unwrap();
            let mut lines = Vec::new();
            let mut server = session_server::Server::new(session_server::Options::default());
            let result = tls.run(&mut server, |_, event| {
                if let session_server::Event::Received(line) = event {
                    lines.push(line);
                }
            });
            let _ = results.send((matches!(result, Err(DriveError::Cut)), lines));
        })
    });
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut client = tls::connect(socket, "localhost", client_config()).unwrap();
    client.write_all(b"half a li").unwrap();
    client.flush().unwrap();
    // The banner has come, so the session is being driven.
    let mut banner = [0u8; 8];
    client.read_exact(&mut banner).unwrap();
    stop.shutdown();
    let (cut, lines) = ended.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(cut, "the drive did not end with Cut");
    assert!(lines.is_empty(), "{lines:?}");
    serving.join().unwrap().unwrap();
}
