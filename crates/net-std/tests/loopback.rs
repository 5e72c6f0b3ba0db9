//! The adapter over real TCP on 127.0.0.1, with the workspace's machines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use net_std::{ClientOptions, DriveError, Server, ServerOptions, ShutdownHandle, connect};
use reverse_proto::{client as reverse_client, server as reverse_server};
use session_proto::{client as session_client, server as session_server};

const GREETING: &str = "Roll up, roll up, to the greatest show on earth!\n? ";

/// A running server; shut down and joined on drop.
struct Running {
    addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("server thread panicked")
                .expect("serve failed");
        }
    }
}

fn start(
    options: ServerOptions,
    handler: impl Fn(&mut net_std::Conn<TcpStream>, &net_std::ConnInfo) + Send + Sync + 'static,
) -> Running {
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.shutdown_handle();
    let thread = thread::spawn(move || server.serve(handler));
    Running {
        addr,
        stop,
        thread: Some(thread),
    }
}

fn reverse_server(options: ServerOptions) -> Running {
    start(options, |conn, _| {
        let _ = conn.run(
            &mut reverse_server::Server::new(reverse_server::Options::default()),
            |_, _| {},
        );
    })
}

fn session_server(options: ServerOptions) -> Running {
    start(options, |conn, _| {
        let _ = conn.run(
            &mut session_server::Server::new(session_server::Options::default()),
            |_, _| {},
        );
    })
}

fn reverse_over_tcp(addr: SocketAddr, text: &str) -> String {
    let mut conn = connect(addr, &ClientOptions::default()).unwrap();
    let mut client =
        reverse_client::Client::new(text.to_owned(), reverse_client::Options::default()).unwrap();
    let mut reply = None;
    conn.run(&mut client, |_, event| {
        if let reverse_client::Event::Reply(r) = event {
            reply = Some(r);
        }
    })
    .unwrap();
    String::from_utf8(reply.expect("a reply").to_vec()).unwrap()
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn two_hundred_concurrent_reverse_clients_all_get_their_reply() {
    let server = reverse_server(ServerOptions::default());
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let addr = server.addr;
            thread::spawn(move || {
                let text = format!("client {i} says pässwörd 👍🏽");
                let reply = reverse_over_tcp(addr, &text);
                let expected =
                    reverse_proto::reverse(text.as_bytes(), reverse_proto::Mode::Graphemes);
                assert_eq!(reply.as_bytes(), expected);
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}

#[test]
fn two_hundred_concurrent_sessions_all_get_their_replies() {
    let server = session_server(ServerOptions::default());
    // Every session is open at once before any of them ends.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
    let sessions: Vec<_> = (0..200)
        .map(|i| {
            let addr = server.addr;
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                assert_eq!(
                    read_exactly(&mut stream, GREETING.len()),
                    GREETING.as_bytes()
                );
                barrier.wait();
                for round in 0..3 {
                    stream
                        .write_all(format!("session {i} round {round}\r\n").as_bytes())
                        .unwrap();
                    let expected = format!(
                        "{round} dnuor {} noisses\n? ",
                        i.to_string().chars().rev().collect::<String>()
                    );
                    assert_eq!(
                        String::from_utf8(read_exactly(&mut stream, expected.len())).unwrap(),
                        expected
                    );
                }
                stream.write_all(b"END\r\n").unwrap();
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).unwrap();
                assert!(rest.is_empty());
            })
        })
        .collect();
    for session in sessions {
        session.join().unwrap();
    }
}

/// A client dripping one byte every 50 ms never completes a request: the
/// machine's whole-request deadline (here 500 ms) cuts it, however often it
/// sends, while twenty others are served meanwhile.
#[test]
fn a_slow_drip_client_is_cut_at_the_request_deadline_while_others_are_served() {
    let server = start(ServerOptions::default(), |conn, _| {
        let mut options = reverse_server::Options::default();
        options.request_timeout = Some(Duration::from_millis(500));
        let _ = conn.run(&mut reverse_server::Server::new(options), |_, _| {});
    });

    let started = Instant::now();
    let mut drip = TcpStream::connect(server.addr).unwrap();
    let dripper = thread::spawn(move || {
        let mut sent = 0;
        // Bounded: 100 bytes, 5 s at most.
        for _ in 0..100 {
            if drip.write_all(b"a").is_err() {
                break;
            }
            sent += 1;
            thread::sleep(Duration::from_millis(50));
        }
        (drip, sent)
    });
    for i in 0..20 {
        assert_eq!(
            reverse_over_tcp(server.addr, &format!("ab{i}")),
            format!("{}ba", i.to_string().chars().rev().collect::<String>())
        );
    }
    let (mut drip, sent) = dripper.join().unwrap();
    drip.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    // Cut with no reply (a reset is as good as a close here).
    let _ = drip.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the drip got a reply: {rest:?}");
    // It kept sending until the write failed, well before its 100 bytes.
    assert!(sent < 60, "still accepted after {sent} bytes");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_per_peer_cap_refuses_the_extra_connection_and_counts_it() {
    let mut options = ServerOptions::default();
    options.max_per_peer = 2;
    let server = session_server(options);
    let greeted = |stream: &mut TcpStream| {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut banner = vec![0; GREETING.len()];
        stream.read_exact(&mut banner).map(|()| banner)
    };
    let mut first = TcpStream::connect(server.addr).unwrap();
    let mut second = TcpStream::connect(server.addr).unwrap();
    assert_eq!(greeted(&mut first).unwrap(), GREETING.as_bytes());
    assert_eq!(greeted(&mut second).unwrap(), GREETING.as_bytes());
    // The third from the same address is closed without a banner.
    let mut third = TcpStream::connect(server.addr).unwrap();
    assert!(greeted(&mut third).is_err());
    assert_eq!(server.stop.stats().refused_over_peer_cap, 1);
    // Another address is served meanwhile.
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    other
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .unwrap();
    other.connect(&server.addr.into()).unwrap();
    let mut other: TcpStream = other.into();
    assert_eq!(greeted(&mut other).unwrap(), GREETING.as_bytes());
    // When one of the two ends, the address may connect again.
    first.write_all(b"END\n").unwrap();
    let mut rest = Vec::new();
    first.read_to_end(&mut rest).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stop.stats().open > 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let mut fourth = TcpStream::connect(server.addr).unwrap();
    assert_eq!(greeted(&mut fourth).unwrap(), GREETING.as_bytes());
    drop(second);
}

#[test]
fn shutdown_lets_an_open_session_finish_within_the_grace_period() {
    let server = session_server(ServerOptions::default());
    let mut open = TcpStream::connect(server.addr).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut banner = vec![0; GREETING.len()];
    open.read_exact(&mut banner).unwrap();
    server.stop.shutdown();
    // No new connections...
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_ok()
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(20));
    }
    // ...but the open session still gets its answers.
    open.write_all(b"abc\nEND\n").unwrap();
    let mut rest = String::new();
    open.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "cba\n? ");
}

#[test]
fn a_megabyte_line_gets_one_error_and_the_session_goes_on() {
    let server = session_server(ServerOptions::default());
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(
        read_exactly(&mut stream, GREETING.len()),
        GREETING.as_bytes()
    );
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..16 {
                stream.write_all(&chunk).unwrap();
            }
            stream.write_all(b"\r\njack frost\r\nEND\r\n").unwrap();
        })
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "error: line longer than 8192 bytes, ignored\n");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "? tsorf kcaj\n");
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "? ");
    writer.join().unwrap();
}

#[test]
fn a_megabyte_request_to_the_reverse_server_is_cut_and_the_reply_survives_the_close() {
    let server = reverse_server(ServerOptions::default());
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        thread::spawn(move || {
            let mut data = vec![b'a'; 1 << 20];
            data[0] = b'z';
            // The server stops reading after 1024 bytes; the rest is drained
            // at close or refused, which is fine either way.
            let _ = stream.write_all(&data);
        })
    };
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let mut expected = vec![b'a'; 1023];
    expected.push(b'z');
    expected.push(b'\n');
    assert_eq!(reply, expected);
    writer.join().unwrap();
}

#[test]
fn the_server_keeps_serving_after_a_flood() {
    let server = session_server(ServerOptions::default());
    {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        let _ = stream.write_all(&vec![b'x'; 1 << 20]);
    }
    assert_eq!(reverse_via_session(server.addr, "still here"), "ereh llits");
}

fn reverse_via_session(addr: SocketAddr, text: &str) -> String {
    let mut conn = connect(addr, &ClientOptions::default()).unwrap();
    let mut client = session_client::Client::new(session_client::Options::default());
    client.send(text).unwrap();
    client.end();
    let mut reply = String::new();
    conn.run(&mut client, |_, event| {
        if let session_client::Event::Reply(r) = event {
            reply = String::from_utf8(r.to_vec()).unwrap();
        }
    })
    .unwrap();
    reply
}

#[test]
fn connection_limit_holds_new_clients_until_a_slot_frees() {
    let mut options = ServerOptions::default();
    options.max_connections = 1;
    let server = session_server(options);
    let mut first = TcpStream::connect(server.addr).unwrap();
    assert_eq!(
        read_exactly(&mut first, GREETING.len()),
        GREETING.as_bytes()
    );

    let mut second = TcpStream::connect(server.addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let waiting = second.read(&mut byte).unwrap_err();
    assert!(matches!(
        waiting.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));

    first.write_all(b"END\n").unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        read_exactly(&mut second, GREETING.len()),
        GREETING.as_bytes()
    );
}

#[test]
fn shutdown_closes_open_sessions_and_serve_returns() {
    let server = session_server(ServerOptions::default());
    let mut open = TcpStream::connect(server.addr).unwrap();
    assert_eq!(read_exactly(&mut open, GREETING.len()), GREETING.as_bytes());
    let addr = server.addr;
    drop(server); // shuts down and joins: would hang if the session stayed open
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let _ = open.read_to_end(&mut rest);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn serve_one_serves_a_single_client_then_returns() {
    let server = Server::bind("127.0.0.1:0", ServerOptions::default()).unwrap();
    let addr = server.local_addr().unwrap();
    let serving = thread::spawn(move || {
        server.serve_one(|conn, _| {
            let _ = conn.run(
                &mut reverse_server::Server::new(reverse_server::Options::default()),
                |_, _| {},
            );
        })
    });
    assert_eq!(reverse_over_tcp(addr, "once"), "ecno");
    serving.join().unwrap().unwrap();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn a_client_machine_deadline_ends_the_drive_against_a_mute_server() {
    // A listener that accepts (in the backlog) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut conn = connect(listener.local_addr().unwrap(), &ClientOptions::default()).unwrap();
    let mut options = session_client::Options::default();
    options.reply_timeout = Some(Duration::from_millis(200));
    let mut client = session_client::Client::new(options);
    client.send("hello").unwrap();
    let started = Instant::now();
    let error = conn.run(&mut client, |_, _| {}).unwrap_err();
    assert!(
        matches!(
            error,
            DriveError::Protocol(session_proto::Error::ReplyTimeout { .. })
        ),
        "{error:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(190));
}

#[test]
fn connect_reports_a_closed_port() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    assert!(connect(("127.0.0.1", port), &ClientOptions::default()).is_err());
}

/// A server whose handler records each connection's `ConnInfo` and reverses
/// one line.
fn recording_server(
    options: ServerOptions,
) -> (Running, std::sync::mpsc::Receiver<net_std::ConnInfo>) {
    let (sender, infos) = std::sync::mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    let server = start(options, move |conn, info| {
        let _ = sender.lock().unwrap().send(info.clone());
        let _ = conn.run(
            &mut reverse_server::Server::new(reverse_server::Options::default()),
            |_, _| {},
        );
    });
    (server, infos)
}

fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply
}

fn trusting_localhost() -> ServerOptions {
    let mut options = ServerOptions::default();
    options.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    options.proxy_header_timeout = Duration::from_secs(2);
    options
}

#[test]
fn a_trusted_balancers_proxy_header_names_the_client() {
    let (server, infos) = recording_server(trusting_localhost());
    let reply = exchange(
        server.addr,
        b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 1234\r\njack\n",
    );
    assert_eq!(reply, b"kcaj\n");
    let info = infos.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(info.peer_addr, "192.0.2.7:51000".parse().unwrap());
    assert_eq!(
        info.proxy_addr.map(|addr| addr.ip()),
        Some("127.0.0.1".parse().unwrap())
    );
}

#[test]
fn a_trusted_balancer_without_a_header_is_refused_and_counted() {
    let (server, infos) = recording_server(trusting_localhost());
    assert_eq!(exchange(server.addr, b"jack\n"), b"");
    assert!(infos.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(server.stop.stats().refused_proxy_header, 1);
}

#[test]
fn an_untrusted_peer_cannot_claim_an_address() {
    let mut options = ServerOptions::default();
    options.trusted_proxies = vec!["127.0.0.9".parse().unwrap()];
    let (server, infos) = recording_server(options);
    // The header is just the request's text here.
    let reply = exchange(
        server.addr,
        b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 1234\r\n",
    );
    assert_eq!(reply, b"4321 00015 1.001.15.891 7.2.0.291 4PCT YXORP\n");
    let info = infos.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        info.peer_addr.ip(),
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(info.proxy_addr, None);
}

#[test]
fn the_per_peer_cap_counts_the_client_behind_the_balancer() {
    let mut options = trusting_localhost();
    options.max_per_peer = 1;
    let server = start(options, |conn, _| {
        let _ = conn.run(
            &mut session_server::Server::new(session_server::Options::default()),
            |_, _| {},
        );
    });
    let through = |client: &str| {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(format!("PROXY TCP4 {client} 198.51.100.1 51000 1234\r\n").as_bytes())
            .unwrap();
        let mut banner = vec![0; GREETING.len()];
        let greeted = stream.read_exact(&mut banner).is_ok();
        (stream, greeted)
    };
    let (_first, greeted) = through("192.0.2.7");
    assert!(greeted);
    let (_second, greeted) = through("192.0.2.7");
    assert!(!greeted, "the same client got a second connection");
    let (_other, greeted) = through("192.0.2.8");
    assert!(
        greeted,
        "another client behind the same balancer was refused"
    );
    assert_eq!(server.stop.stats().refused_over_peer_cap, 1);
}

/// Waits for input until a deadline a few milliseconds away (inside the
/// last stretch `Conn` sleeps instead of blocking on the socket), then
/// reports what it got.
struct ShortWait {
    deadline: Option<Instant>,
    wait: Duration,
    got: Vec<u8>,
    reported: bool,
}

impl lineproto::Machine for ShortWait {
    type Event = Vec<u8>;
    type Error = lineproto::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.got.extend_from_slice(bytes);
    }

    fn handle_eof(&mut self) {}

    fn poll_output(&mut self, now: Instant) -> lineproto::Output<Vec<u8>, lineproto::Error> {
        let deadline = *self.deadline.get_or_insert(now + self.wait);
        if self.reported {
            lineproto::Output::Done(Ok(()))
        } else if !self.got.is_empty() || now >= deadline {
            self.reported = true;
            lineproto::Output::Event(std::mem::take(&mut self.got))
        } else {
            lineproto::Output::Wait {
                deadline: Some(deadline),
            }
        }
    }
}

#[test]
fn bytes_that_arrive_in_the_last_stretch_before_a_deadline_are_read_not_lost() {
    let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    theirs.write_all(b"just in time").unwrap();
    let mut conn = net_std::Conn::new(ours);
    let mut machine = ShortWait {
        deadline: None,
        wait: Duration::from_millis(5),
        got: Vec::new(),
        reported: false,
    };
    let event = conn.next_event(&mut machine).unwrap();
    assert_eq!(event.as_deref(), Some(&b"just in time"[..]));
    // Nothing waiting: the deadline passes and the machine says so. The
    // stream is left blocking: std cannot ask for the mode, so a read with
    // nothing to read must wait out its timeout rather than fail at once
    // (a lower bound only, which a busy machine cannot break).
    let mut machine = ShortWait {
        deadline: None,
        wait: Duration::from_millis(5),
        got: Vec::new(),
        reported: false,
    };
    assert_eq!(conn.next_event(&mut machine).unwrap(), Some(Vec::new()));
    let mut stream = conn.into_inner();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    assert!(stream.read(&mut [0u8; 4]).is_err());
    assert!(
        started.elapsed() >= Duration::from_millis(40),
        "the stream was left non-blocking"
    );
}

/// Counts the reads made on the stream it wraps.
struct CountingReads<S> {
    stream: S,
    reads: usize,
}

impl<S: Read> Read for CountingReads<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        self.stream.read(buf)
    }
}

impl<S: Write> Write for CountingReads<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

impl<S: net_std::ReadTimeout> net_std::ReadTimeout for CountingReads<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> std::io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }
}

/// Like an auth exchange's failure reply: once the peer has ended its
/// input, holds a reply back for `hold` (or waits with no deadline at
/// all), then sends it and ends.
struct HoldsAfterEof {
    hold: Option<Duration>,
    received: Vec<u8>,
    eofs: usize,
    reply_at: Option<Instant>,
    replied: bool,
}

impl HoldsAfterEof {
    fn new(hold: Option<Duration>) -> Self {
        Self {
            hold,
            received: Vec::new(),
            eofs: 0,
            reply_at: None,
            replied: false,
        }
    }
}

impl lineproto::Machine for HoldsAfterEof {
    type Event = Vec<u8>;
    type Error = lineproto::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.received.extend_from_slice(bytes);
    }

    fn handle_eof(&mut self) {
        self.eofs += 1;
    }

    fn poll_output(&mut self, now: Instant) -> lineproto::Output<Vec<u8>, lineproto::Error> {
        if self.replied {
            return lineproto::Output::Done(Ok(()));
        }
        if self.eofs == 0 {
            return lineproto::Output::Wait { deadline: None };
        }
        let Some(hold) = self.hold else {
            return lineproto::Output::Wait { deadline: None };
        };
        let reply_at = *self.reply_at.get_or_insert(now + hold);
        if now < reply_at {
            return lineproto::Output::Wait {
                deadline: Some(reply_at),
            };
        }
        self.replied = true;
        lineproto::Output::Transmit(bytes::Bytes::from_static(b"late\n"))
    }
}

#[test]
fn a_reply_held_after_the_end_of_input_is_slept_for_not_read_for() {
    let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    theirs.write_all(b"user:wrong\n").unwrap();
    theirs.shutdown(std::net::Shutdown::Write).unwrap();
    let mut conn = net_std::Conn::new(CountingReads {
        stream: ours,
        reads: 0,
    });
    let mut machine = HoldsAfterEof::new(Some(Duration::from_millis(30)));
    conn.run(&mut machine, |_, _| {}).unwrap();
    // The request, then its end: read once each, and the machine told of
    // the end once, however long it holds its reply (this drive used to
    // read the end of input again and again, a core's worth of CPU).
    assert_eq!(conn.get_ref().reads, 2);
    assert_eq!(machine.eofs, 1);
    assert_eq!(machine.received, b"user:wrong\n");
    drop(conn);
    let mut reply = Vec::new();
    theirs.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"late\n");
}

#[test]
fn a_machine_that_waits_for_input_after_the_end_of_input_ends_the_drive() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    theirs.shutdown(std::net::Shutdown::Write).unwrap();
    let mut conn = net_std::Conn::new(ours);
    let mut machine = HoldsAfterEof::new(None);
    match conn.run(&mut machine, |_, _| {}) {
        Err(DriveError::Io(error)) => {
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof)
        }
        other => panic!("expected an unexpected end of input, got {other:?}"),
    }
    assert_eq!(machine.eofs, 1);
}

/// Waits until `stop`'s server has `open` connections (bounded: 5 s).
fn wait_for_open(stop: &ShutdownHandle, open: usize) {
    let give_up = Instant::now() + Duration::from_secs(5);
    while stop.stats().open != open {
        assert!(Instant::now() < give_up, "never {open} open");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `serve` to the end on another thread, failing the test if it takes
/// more than 10 s.
fn join_within_ten_seconds(running: Running) {
    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || {
        drop(running);
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("serve did not return after the grace period");
}

#[test]
fn a_connection_cut_at_the_end_of_the_grace_period_is_not_taken_for_the_peers_end_of_input() {
    let (results, ended) = std::sync::mpsc::channel();
    let mut options = ServerOptions::default();
    options.shutdown_grace = Duration::from_millis(50);
    let server = start(options, move |conn, _| {
        let mut events = Vec::new();
        let result = conn.run(
            &mut reverse_server::Server::new(reverse_server::Options::default()),
            |_, event| events.push(event),
        );
        let _ = results.send((result.map_err(|error| error.to_string()), events));
    });
    let mut client = TcpStream::connect(server.addr).unwrap();
    client.write_all(b"half a li").unwrap();
    wait_for_open(&server.stop, 1);
    // The request has reached the server before the cut.
    thread::sleep(Duration::from_millis(20));
    server.stop.shutdown();
    join_within_ten_seconds(server);
    let (result, events) = ended.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(result, Err("cut by the server's shutdown".to_owned()));
    assert!(events.is_empty(), "the half line was served: {events:?}");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply);
    assert_eq!(reply, b"", "a reply was made of the half line");
}

#[test]
fn a_reply_held_far_into_the_future_is_cut_at_the_end_of_the_grace_period() {
    let (results, ended) = std::sync::mpsc::channel();
    let mut options = ServerOptions::default();
    options.shutdown_grace = Duration::from_millis(50);
    let server = start(options, move |conn, _| {
        let mut machine = HoldsAfterEof::new(Some(Duration::from_secs(24 * 3600)));
        let result = conn.run(&mut machine, |_, _| {});
        let _ = results.send(matches!(result, Err(DriveError::Cut)));
    });
    let client = TcpStream::connect(server.addr).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    wait_for_open(&server.stop, 1);
    thread::sleep(Duration::from_millis(20));
    server.stop.shutdown();
    join_within_ten_seconds(server);
    assert!(ended.recv_timeout(Duration::from_secs(5)).unwrap());
}

#[test]
fn a_grace_period_too_long_for_the_clock_never_ends_and_panics_nothing() {
    let mut options = ServerOptions::default();
    options.shutdown_grace = Duration::MAX;
    let server = reverse_server(options);
    let mut open = TcpStream::connect(server.addr).unwrap();
    wait_for_open(&server.stop, 1);
    server.stop.shutdown();
    // Not cut: the request is still served after the shutdown.
    open.write_all(b"still served\n").unwrap();
    let mut reply = String::new();
    open.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "devres llits\n");
    join_within_ten_seconds(server);
}

#[test]
fn serve_one_refuses_later_clients_and_cuts_its_own_at_the_end_of_the_grace_period() {
    let mut options = ServerOptions::default();
    options.shutdown_grace = Duration::from_millis(50);
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.shutdown_handle();
    let (results, ended) = std::sync::mpsc::channel();
    let serving = thread::spawn(move || {
        server.serve_one(|conn, _| {
            let result = conn.run(
                &mut reverse_server::Server::new(reverse_server::Options::default()),
                |_, _| {},
            );
            let _ = results.send(matches!(result, Err(DriveError::Cut)));
        })
    });
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"never ended").unwrap();
    wait_for_open(&stop, 1);
    // The listener closed with the first connection: no backlog to wait in.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    stop.shutdown();
    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(serving.join().map(|served| served.is_ok()));
    });
    let served = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("serve_one did not return after the grace period");
    assert_eq!(served.ok(), Some(true));
    assert!(ended.recv_timeout(Duration::from_secs(5)).unwrap());
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    let _ = first.read_to_end(&mut reply);
    assert_eq!(reply, b"");
}
