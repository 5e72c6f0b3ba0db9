//! The server and the client connector on loopback (127.0.0.1), with
//! timeouts on tokio's paused clock.

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Ask, EchoEvent, EchoLine};
use net_tokio::{ClientOptions, Server, ServerOptions, ServerStats, ShutdownHandle, connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

fn options() -> ServerOptions {
    let mut options = ServerOptions::default();
    options.close_linger = Duration::from_millis(100);
    options
}

/// Starts an echo server whose machines have `request_timeout`.
fn start(
    options: ServerOptions,
    request_timeout: Option<Duration>,
) -> (SocketAddr, ShutdownHandle, JoinHandle<io::Result<()>>) {
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(move |mut conn, _info| async move {
        let mut echo = EchoLine::new(request_timeout);
        let _ = conn.run(&mut echo, |_, _| {}).await;
    }));
    (addr, handle, serving)
}

/// Sends a line and reads the echo.
async fn ping(stream: &mut TcpStream, line: &str) {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    let mut reply = vec![0; line.len() + 1];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, format!("{line}\n").as_bytes());
}

/// Waits (in small steps of the clock) until `check` holds.
async fn until(handle: &ShutdownHandle, check: impl Fn(ServerStats) -> bool) {
    for _ in 0..1000 {
        if check(handle.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never reached; stats: {:?}", handle.stats());
}

/// Reads what is left: the bytes and whether the connection ended with
/// end of input (rather than a reset).
async fn read_rest(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest).await {
        Ok(_) => (rest, true),
        Err(error) if error.kind() == io::ErrorKind::ConnectionReset => (rest, false),
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_drip_is_cut_at_the_request_deadline_while_others_are_served() {
    let (addr, handle, serving) = start(options(), Some(Duration::from_secs(5)));
    let start = Instant::now();

    // One byte a second, never a whole line.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let (mut slow_read, mut slow_write) = slow.split();
    let drip = async {
        for _ in 0..20 {
            if slow_write.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let cut = async {
        let mut reply = Vec::new();
        let _ = slow_read.read_to_end(&mut reply).await;
        (reply, start.elapsed())
    };
    let other = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut fast = TcpStream::connect(addr).await.unwrap();
        ping(&mut fast, "hello").await;
        ping(&mut fast, "again").await;
        start.elapsed()
    };
    let ((reply, cut_at), served_at, ()) = tokio::join!(cut, other, drip);

    assert_eq!(reply, b"timeout\n");
    assert!(cut_at >= Duration::from_secs(5), "{cut_at:?}");
    assert!(cut_at < Duration::from_secs(6), "{cut_at:?}");
    assert!(served_at < Duration::from_secs(3), "{served_at:?}");
    handle.shutdown();
    serving.await.unwrap().unwrap();
    assert_eq!(handle.stats().accepted, 2);
}

#[tokio::test(start_paused = true)]
async fn the_per_peer_cap_refuses_one_connection_too_many_and_counts_it() {
    let mut options = options();
    options.max_per_peer = 2;
    let (addr, handle, serving) = start(options, None);

    let mut first = TcpStream::connect(addr).await.unwrap();
    ping(&mut first, "one").await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    ping(&mut second, "two").await;

    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third.write_all(b"three\n").await;
    let (rest, _) = read_rest(&mut third).await;
    assert!(rest.is_empty(), "closed without a reply");
    until(&handle, |stats| stats.refused_over_peer_cap == 1).await;
    assert_eq!(
        (handle.stats().accepted, handle.stats().open),
        (2, 2),
        "the refused one is neither accepted nor open"
    );

    // A freed slot is usable again, and the counts go back to zero.
    drop(first);
    until(&handle, |stats| stats.open == 1).await;
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    ping(&mut fourth, "four").await;
    drop((second, fourth));
    until(&handle, |stats| stats.open == 0).await;
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    ping(&mut fifth, "five").await;
    let mut sixth = TcpStream::connect(addr).await.unwrap();
    ping(&mut sixth, "six").await;

    handle.shutdown();
    drop((fifth, sixth));
    serving.await.unwrap().unwrap();
    assert_eq!(handle.stats().refused_over_peer_cap, 1);
    assert_eq!(handle.stats().accepted, 5);
}

#[tokio::test(start_paused = true)]
async fn max_connections_holds_and_the_backlog_waits() {
    let mut options = options();
    options.max_connections = 2;
    options.max_per_peer = 0;
    let (addr, handle, serving) = start(options, None);

    let mut first = TcpStream::connect(addr).await.unwrap();
    ping(&mut first, "one").await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    ping(&mut second, "two").await;

    // Connected (the kernel's backlog), but not served.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(b"three\n").await.unwrap();
    let mut reply = [0; 6];
    let waited = tokio::time::timeout(Duration::from_secs(5), third.read_exact(&mut reply)).await;
    assert!(waited.is_err(), "served while two were open");
    assert_eq!(handle.stats().accepted, 2);
    assert_eq!(handle.stats().open, 2);

    // A slot frees up: the waiting connection is served.
    drop(first);
    third.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"three\n");
    assert_eq!(handle.stats().accepted, 3);
    assert!(handle.stats().open <= 2);

    handle.shutdown();
    drop((second, third));
    serving.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_accepting_and_lets_open_sessions_finish() {
    let mut options = options();
    options.shutdown_grace = Duration::from_secs(10);
    let (addr, handle, serving) = start(options, None);

    let mut open = TcpStream::connect(addr).await.unwrap();
    ping(&mut open, "before").await;

    let start = Instant::now();
    handle.shutdown();
    handle.shutdown(); // idempotent
    assert!(handle.is_shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The listener is closed: new connections are refused.
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "accepted after shutdown");

    // The open session goes on, and ends on its own.
    ping(&mut open, "after").await;
    open.write_all(b"quit\n").await.unwrap();
    let (rest, clean) = read_rest(&mut open).await;
    assert_eq!(rest, b"bye\n");
    assert!(clean);
    serving.await.unwrap().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(handle.stats().open, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drops_sessions_still_open_after_the_grace() {
    let mut options = options();
    options.shutdown_grace = Duration::from_secs(3);
    let (addr, handle, serving) = start(options, None);

    let mut idle = TcpStream::connect(addr).await.unwrap();
    ping(&mut idle, "hello").await;
    let start = Instant::now();
    handle.shutdown();
    serving.await.unwrap().unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(3), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    let (rest, _) = read_rest(&mut idle).await;
    assert!(rest.is_empty());
    assert_eq!(handle.stats().open, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_now_drops_open_sessions_without_a_grace_period() {
    let mut options = options();
    options.shutdown_grace = Duration::from_secs(3600);
    let (addr, handle, serving) = start(options, None);

    let mut idle = TcpStream::connect(addr).await.unwrap();
    ping(&mut idle, "hello").await;
    let start = Instant::now();
    handle.shutdown();
    // The grace period has begun; a second request ends it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    handle.shutdown_now();
    serving.await.unwrap().unwrap();
    let waited = start.elapsed();
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    let (rest, _) = read_rest(&mut idle).await;
    assert!(rest.is_empty());
    assert_eq!(handle.stats().open, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_now_ends_serve_ones_grace_period() {
    let mut options = options();
    options.shutdown_grace = Duration::from_secs(3600);
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let serving = tokio::spawn(server.serve_one(move |mut conn, _info| async move {
        let mut echo = EchoLine::new(None);
        let _ = conn.run(&mut echo, |_, _| {}).await;
    }));
    let mut idle = TcpStream::connect(addr).await.unwrap();
    ping(&mut idle, "hello").await;
    let start = Instant::now();
    handle.shutdown_now();
    serving.await.unwrap().unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_serve_ones_wait_for_a_proxy_header() {
    let mut options = options();
    options.shutdown_grace = Duration::from_secs(1);
    options.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    options.proxy_header_timeout = Duration::from_secs(3600);
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let serving = tokio::spawn(server.serve_one(move |mut conn, _info| async move {
        let mut echo = EchoLine::new(None);
        let _ = conn.run(&mut echo, |_, _| {}).await;
    }));
    let mut balancer = TcpStream::connect(addr).await.unwrap();
    balancer.write_all(b"PROXY TCP4 ").await.unwrap();
    // Let the server accept it and start waiting for the rest of the
    // header (its `accepted` counts only after the header): the runtime
    // polls its sockets at least once in this many turns.
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
    let start = Instant::now();
    handle.shutdown();
    serving.await.unwrap().unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn a_handler_can_watch_for_shutdown() {
    let server = Server::bind("127.0.0.1:0", options()).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let watcher = handle.clone();
    let serving = tokio::spawn(server.serve(move |mut conn, _info| {
        let watcher = watcher.clone();
        async move {
            let mut echo = EchoLine::new(None);
            loop {
                // `next_event` is cancel-safe, so racing it loses nothing.
                tokio::select! {
                    event = conn.next_event(&mut echo) => match event {
                        Ok(Some(EchoEvent::Echoed(_))) => {}
                        _ => return,
                    },
                    () = watcher.wait() => {
                        let _ = conn.get_mut().write_all(b"shutting down\n").await;
                        return;
                    }
                }
            }
        }
    }));
    let mut client = TcpStream::connect(addr).await.unwrap();
    ping(&mut client, "hi").await;
    handle.shutdown();
    let (rest, _) = read_rest(&mut client).await;
    assert_eq!(rest, b"shutting down\n");
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_one_serves_exactly_one_connection() {
    let server = Server::bind("127.0.0.1:0", options()).unwrap();
    let addr = server.local_addr();
    let serving = tokio::spawn(server.serve_one(|mut conn, info| async move {
        assert_eq!(info.id, 0);
        let _ = conn.run(&mut EchoLine::new(None), |_, _| {}).await;
    }));
    let mut conn = connect(addr, &ClientOptions::default()).await.unwrap();
    let mut ask = Ask::new(&["one", "two"]);
    assert_eq!(conn.next_event(&mut ask).await.unwrap().unwrap(), "one");
    assert_eq!(conn.next_event(&mut ask).await.unwrap().unwrap(), "two");
    conn.close(Duration::from_secs(1)).await.unwrap();
    serving.await.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn serve_one_returns_when_shut_down_before_a_connection() {
    let server = Server::bind("127.0.0.1:0", options()).unwrap();
    let handle = server.shutdown_handle();
    handle.shutdown();
    server
        .serve_one(|_conn, _info| async { panic!("no connection expected") })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_server_runs_on_a_listener_from_elsewhere() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::from_listener(listener, options()).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(|mut conn, info| async move {
        assert!(info.peer_addr.ip().is_loopback());
        let _ = conn.run(&mut EchoLine::new(None), |_, _| {}).await;
    }));
    let mut client = TcpStream::connect(addr).await.unwrap();
    ping(&mut client, "systemd").await;
    drop(client);
    handle.shutdown();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_reply_survives_unread_input_thanks_to_the_linger() {
    // The server answers the first line and ends while more input is
    // still unread; closing at once would reset the connection.
    let (addr, handle, serving) = start(options(), None);
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"quit\nmore\nand more\n").await.unwrap();
    let (rest, clean) = read_rest(&mut client).await;
    assert_eq!(rest, b"bye\n");
    assert!(clean, "reset instead of a clean close");
    handle.shutdown();
    serving.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn connect_fails_cleanly_when_nothing_listens() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = connect(addr, &ClientOptions::default()).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
}

/// An echo server whose handler records each connection's `ConnInfo`.
fn recording(
    options: ServerOptions,
) -> (
    SocketAddr,
    ShutdownHandle,
    tokio::sync::mpsc::UnboundedReceiver<net_tokio::ConnInfo>,
) {
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let (sender, infos) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(server.serve(move |mut conn, info| {
        let _ = sender.send(info);
        async move {
            let _ = conn.run(&mut EchoLine::new(None), |_, _| {}).await;
        }
    }));
    (addr, handle, infos)
}

fn trusting_localhost() -> ServerOptions {
    let mut options = options();
    options.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    options
}

/// Sends `bytes`, half-closes, and reads everything back.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    reply
}

#[tokio::test]
async fn a_trusted_balancers_proxy_header_names_the_client() {
    let (addr, _handle, mut infos) = recording(trusting_localhost());
    let reply = exchange(
        addr,
        b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 1234\r\njack\n",
    )
    .await;
    assert_eq!(reply, b"jack\n");
    let info = infos.recv().await.unwrap();
    assert_eq!(info.peer_addr, "192.0.2.7:51000".parse().unwrap());
    assert_eq!(
        info.proxy_addr.map(|addr| addr.ip()),
        Some("127.0.0.1".parse().unwrap())
    );
}

#[tokio::test(start_paused = true)]
async fn a_trusted_balancer_without_a_header_is_refused_at_the_timeout() {
    let (addr, handle, mut infos) = recording(trusting_localhost());
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A partial header, then silence: cut at the 5 s header timeout.
    stream.write_all(b"PROXY TCP4 192.0.2.7").await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(rest.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(5));
    until(&handle, |stats| stats.refused_proxy_header == 1).await;
    assert!(infos.try_recv().is_err());
}

#[tokio::test]
async fn an_untrusted_peer_cannot_claim_an_address() {
    let mut options = options();
    options.trusted_proxies = vec!["127.0.0.9".parse().unwrap()];
    let (addr, _handle, mut infos) = recording(options);
    let header = b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 1234\r\n";
    // Echoed as a line (the echo machine drops the CR).
    assert_eq!(
        exchange(addr, header).await,
        b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 1234\n"
    );
    let info = infos.recv().await.unwrap();
    assert_eq!(
        info.peer_addr.ip(),
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(info.proxy_addr, None);
}

#[tokio::test]
async fn the_per_peer_cap_counts_the_client_behind_the_balancer() {
    let mut options = trusting_localhost();
    options.max_per_peer = 1;
    let (addr, handle, _infos) = recording(options);
    let through = |client: &'static str| async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(format!("PROXY TCP4 {client} 198.51.100.1 51000 1234\r\nhi\n").as_bytes())
            .await
            .unwrap();
        let mut echo = [0u8; 3];
        let served = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut echo))
            .await
            .is_ok_and(|read| read.is_ok());
        (stream, served)
    };
    let (_first, served) = through("192.0.2.7").await;
    assert!(served);
    let (_second, served) = through("192.0.2.7").await;
    assert!(!served, "the same client got a second connection");
    let (_other, served) = through("192.0.2.8").await;
    assert!(
        served,
        "another client behind the same balancer was refused"
    );
    assert_eq!(handle.stats().refused_over_peer_cap, 1);
}
