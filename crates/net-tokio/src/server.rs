//! A TCP server: one task per connection, a connection limit, a per-peer
//! limit, graceful close, and a handle that shuts it down.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;

use crate::Conn;
use crate::conn::{DropHook, close_gracefully};
use crate::race::{Either, race};

/// Settings of a [`Server`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// How many connections are served at once. While that many are open
    /// the server stops accepting, and new connections wait in the listen
    /// backlog until one ends. Zero counts as one. Default: 1024.
    pub max_connections: usize,
    /// How many connections one peer address may have open at once; zero
    /// means no cap. A connection over the cap is closed as soon as it is
    /// accepted and counted in [`ServerStats::refused_over_peer_cap`].
    /// Default: 256.
    pub max_per_peer: usize,
    /// The listen backlog [`Server::bind`] asks for. Default: 1024.
    pub backlog: u32,
    /// How long a write may make no progress before the connection's drive
    /// fails; `None` (or zero) waits forever. See
    /// [`Conn::set_write_timeout`]. Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// After the handler drops its [`Conn`], how long to keep reading (and
    /// discarding) what the peer still sends before closing; see
    /// [`Conn::close`]. Default: 1 s.
    pub close_linger: Duration,
    /// On shutdown, how long open connections may go on before they are
    /// dropped. Default: 10 s.
    pub shutdown_grace: Duration,
    /// Load balancers whose connections start with a PROXY protocol header
    /// (v1 or v2, as HAProxy's `send-proxy` and `send-proxy-v2` write it).
    /// A connection from one of these addresses must send the header
    /// within [`proxy_header_timeout`](Self::proxy_header_timeout) or is
    /// closed; the client it names is then the connection's peer for the
    /// per-peer cap and for [`ConnInfo::peer_addr`]. Connections from other
    /// addresses are served as they are: nobody else can claim an address.
    /// Default: none (the PROXY protocol is off).
    pub trusted_proxies: Vec<IpAddr>,
    /// How long a trusted balancer may take to send the header. Default: 5 s.
    pub proxy_header_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_per_peer: 256,
            backlog: 1024,
            write_timeout: Some(Duration::from_secs(30)),
            close_linger: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            proxy_header_timeout: Duration::from_secs(5),
        }
    }
}

/// What the server knows about a connection it hands to the handler.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client: the socket's peer, or the client a trusted balancer's
    /// PROXY header named.
    pub peer_addr: SocketAddr,
    /// The balancer the connection came through, if it sent a PROXY header.
    pub proxy_addr: Option<SocketAddr>,
    /// A number unique to this connection within its server, counting from
    /// zero in the order connections were accepted.
    pub id: u64,
}

/// Counters of a [`Server`], from [`ShutdownHandle::stats`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerStats {
    /// Connections accepted and given a task of their own, which calls the
    /// handler (those refused over the per-peer cap are not counted here).
    pub accepted: u64,
    /// Connections open now: handed to the handler and not yet closed.
    pub open: usize,
    /// Connections closed at once because their peer address already had
    /// [`ServerOptions::max_per_peer`] open.
    pub refused_over_peer_cap: u64,
    /// Connections from a trusted balancer closed because they sent no
    /// valid PROXY header in time.
    pub refused_proxy_header: u64,
}

/// A TCP server that hands each connection, in its own task, to a handler.
///
/// The handler gets a [`Conn`] (with `TCP_NODELAY` and the write timeout
/// set) and a [`ConnInfo`]; it usually builds a machine and calls
/// [`Conn::run`]. When the handler drops the `Conn`, the server closes the
/// connection gracefully (see [`ServerOptions::close_linger`]). See the
/// [crate docs](crate) for an example.
#[derive(Debug)]
pub struct Server {
    /// Kept as a std listener until `serve`, so that binding needs no
    /// runtime.
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    options: ServerOptions,
    shared: Arc<Shared>,
}

/// Shuts down a [`Server`] and reads its counters. Cloneable and `Send`, so
/// a signal handler, another task or a test can hold it.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    stop: watch::Sender<bool>,
    /// Set with `stop` by [`ShutdownHandle::shutdown_now`]: the grace
    /// period ends at once.
    cut: watch::Sender<bool>,
    next_id: AtomicU64,
    accepted: AtomicU64,
    open: AtomicUsize,
    refused_over_peer_cap: AtomicU64,
    refused_proxy_header: AtomicU64,
    /// Open connections per peer address; an address leaves the map when
    /// its count reaches zero, so the map is bounded by the open
    /// connections.
    peers: Mutex<HashMap<IpAddr, usize>>,
}

impl Shared {
    fn peers(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Every critical section is a single update: a panic cannot leave
        // the map inconsistent.
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        // The sender lives as long as `self`, so this only ends on `true`.
        let _ = stop.wait_for(|stop| *stop).await;
    }

    /// Resolves once the open connections are to be cut without waiting
    /// out the grace period.
    async fn cut_now(&self) {
        let mut cut = self.cut.subscribe();
        let _ = cut.wait_for(|cut| *cut).await;
    }

    /// Resolves when the grace period that began with the shutdown is
    /// over: after `grace`, or at once on `shutdown_now`.
    async fn grace_over(&self, grace: Duration) {
        let _ = tokio::time::timeout(grace, self.cut_now()).await;
    }
}

impl Server {
    /// Binds a listener to the first address `addr` resolves to that can be
    /// bound, with `SO_REUSEADDR` (except on Windows, where it means
    /// something else) and the configured backlog. Use port 0 for an
    /// ephemeral port, and [`local_addr`](Self::local_addr) to learn it.
    /// Needs no runtime; [`serve`](Self::serve) does.
    pub fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        let mut last_error = None;
        for addr in addr.to_socket_addrs()? {
            match listen(addr, options.backlog) {
                Ok(listener) => return Self::from_listener(listener, options),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
        }))
    }

    /// Serves on a listener bound elsewhere: one passed by systemd or
    /// `listenfd`, say. It is switched to non-blocking mode; its backlog is
    /// whatever it was created with.
    pub fn from_listener(
        listener: std::net::TcpListener,
        options: ServerOptions,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            options,
            shared: Arc::new(Shared {
                stop: watch::Sender::new(false),
                cut: watch::Sender::new(false),
                next_id: AtomicU64::new(0),
                accepted: AtomicU64::new(0),
                open: AtomicUsize::new(0),
                refused_over_peer_cap: AtomicU64::new(0),
                refused_proxy_header: AtomicU64::new(0),
                peers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that shuts this server down and reads its counters.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serves connections until shut down, each in its own task
    /// (`tokio::spawn`), at most
    /// [`max_connections`](ServerOptions::max_connections) at once. The
    /// handler is called in that task, so whatever it does before returning
    /// its future does not hold up accepting.
    ///
    /// On shutdown it stops accepting and closes the listener, then waits
    /// for the open connections to end, for at most
    /// [`shutdown_grace`](ServerOptions::shutdown_grace), after which it
    /// drops them; then it returns. Handlers can watch for shutdown with
    /// [`ShutdownHandle::wait`] to wind down early. Transient accept errors
    /// (a peer that left, too many open files) are retried; an error that
    /// makes the listener unusable stops the server the same way and is
    /// returned.
    ///
    /// Must be called within a tokio runtime with time and I/O enabled.
    pub async fn serve<H, F>(self, handler: H) -> io::Result<()>
    where
        H: Fn(Conn<TcpStream>, ConnInfo) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        // Shared with the connection tasks, which call it.
        let handler = Arc::new(handler);
        let Self {
            listener,
            options,
            shared,
            ..
        } = self;
        let options = Arc::new(options);
        let listener = TcpListener::from_std(listener)?;
        let slots = Arc::new(Semaphore::new(
            options.max_connections.clamp(1, Semaphore::MAX_PERMITS),
        ));
        let mut tasks = JoinSet::new();
        let mut slot = None;
        let result = loop {
            // Finished tasks keep their slot in the set until joined.
            while tasks.try_join_next().is_some() {}
            if slot.is_none() {
                // All slots busy: stop accepting; the backlog holds the rest.
                match race(shared.stopped(), Arc::clone(&slots).acquire_owned()).await {
                    Either::Right(Ok(permit)) => slot = Some(permit),
                    Either::Left(()) | Either::Right(Err(_)) => break Ok(()),
                }
            }
            let (stream, peer_addr) = match race(shared.stopped(), listener.accept()).await {
                Either::Left(()) => break Ok(()),
                Either::Right(Ok(accepted)) => accepted,
                Either::Right(Err(error)) => match accept_error(error) {
                    AcceptError::Retry => continue,
                    AcceptError::Backoff => {
                        let pause = tokio::time::sleep(Duration::from_millis(50));
                        match race(shared.stopped(), pause).await {
                            Either::Left(()) => break Ok(()),
                            Either::Right(()) => continue,
                        }
                    }
                    AcceptError::Fatal(error) => break Err(error),
                },
            };
            let slot = slot.take();
            if options
                .trusted_proxies
                .contains(&peer_addr.ip().to_canonical())
            {
                let (shared, options, handler) = (
                    Arc::clone(&shared),
                    Arc::clone(&options),
                    Arc::clone(&handler),
                );
                tasks.spawn(async move {
                    let Some((stream, addrs, early, peer)) =
                        through_proxy(&shared, &options, stream, peer_addr).await
                    else {
                        return;
                    };
                    let (mut conn, info, session) = prepare(&shared, &options, stream, addrs);
                    conn.push_received(early);
                    let handler = move |conn, info| handler(conn, info);
                    connection((peer, slot), session, handler, conn, info).await;
                });
                continue;
            }
            let Ok(peer) = PeerSlot::enter(&shared, peer_addr.ip(), options.max_per_peer) else {
                shared.refused_over_peer_cap.fetch_add(1, Ordering::Relaxed);
                drop(stream);
                continue;
            };
            let (conn, info, session) = prepare(&shared, &options, stream, (peer_addr, None));
            let handler = Arc::clone(&handler);
            let handler = move |conn, info| handler(conn, info);
            tasks.spawn(connection((peer, slot), session, handler, conn, info));
        };
        // Stop accepting at once: connections still in the backlog are
        // refused rather than left waiting.
        drop(listener);
        shared.stop.send_replace(true);
        let finished = {
            let finish = pin!(async { while tasks.join_next().await.is_some() {} });
            let grace_over = pin!(shared.grace_over(options.shutdown_grace));
            matches!(race(finish, grace_over).await, Either::Left(()))
        };
        if !finished {
            tasks.shutdown().await;
        }
        result
    }

    /// Serves exactly one connection in the calling task, then returns: for
    /// servers that exit after their first client. Returns without serving
    /// if shut down before a connection arrives; on shutdown during the
    /// connection, it is given [`shutdown_grace`](ServerOptions::shutdown_grace)
    /// to finish.
    pub async fn serve_one<H, F>(self, handler: H) -> io::Result<()>
    where
        H: FnOnce(Conn<TcpStream>, ConnInfo) -> F,
        F: Future<Output = ()>,
    {
        let Self {
            listener,
            options,
            shared,
            ..
        } = self;
        let listener = TcpListener::from_std(listener)?;
        let (stream, peer_addr) = loop {
            match race(shared.stopped(), listener.accept()).await {
                Either::Left(()) => return Ok(()),
                Either::Right(Ok(accepted)) => break accepted,
                Either::Right(Err(error)) => match accept_error(error) {
                    AcceptError::Retry => {}
                    AcceptError::Backoff => tokio::time::sleep(Duration::from_millis(50)).await,
                    AcceptError::Fatal(error) => return Err(error),
                },
            }
        };
        drop(listener);
        // The wait for a PROXY header is part of the session: the grace
        // period (or `shutdown_now`) ends it too.
        let session = async {
            let (stream, addrs, early, _peer) = if options
                .trusted_proxies
                .contains(&peer_addr.ip().to_canonical())
            {
                match through_proxy(&shared, &options, stream, peer_addr).await {
                    Some(through) => through,
                    None => return,
                }
            } else {
                (stream, (peer_addr, None), Vec::new(), None)
            };
            let (mut conn, info, session) = prepare(&shared, &options, stream, addrs);
            conn.push_received(early);
            connection((), session, handler, conn, info).await;
        };
        let grace = async {
            shared.stopped().await;
            shared.grace_over(options.shutdown_grace).await;
        };
        // Pinned here: `race` takes what it is given by value, and a future
        // moved into it would be stored twice (see `connection`).
        let _ = race(pin!(session), pin!(grace)).await;
        Ok(())
    }
}

/// A connection's work once it is accepted: the handler's future, then the
/// graceful close. `_held` (the peer's place under its cap, then the
/// connection's slot) is let go last, after the session has closed the
/// connection and stopped counting it as open, however this ends: the
/// arguments are dropped in reverse order.
///
/// The handler is called in here, and its future is awaited where it is
/// made. The compiler keeps the slot of a value moved out of an async fn's
/// arguments or an async block's captures, so a future made outside and
/// passed in was stored in the connection's task three times: for the
/// example session server, half of an idle session's memory. The small
/// arguments (`conn`, `session`) are still kept twice.
async fn connection<Held, H, F>(
    _held: Held,
    session: Session,
    handler: H,
    conn: Conn<TcpStream>,
    info: ConnInfo,
) where
    H: FnOnce(Conn<TcpStream>, ConnInfo) -> F,
    F: Future<Output = ()>,
{
    handler(conn, info).await;
    session.close().await;
}

/// Sets up one accepted connection: the handler's arguments, and what
/// closes the connection after it.
fn prepare(
    shared: &Arc<Shared>,
    options: &ServerOptions,
    stream: TcpStream,
    (peer_addr, proxy_addr): (SocketAddr, Option<SocketAddr>),
) -> (Conn<TcpStream>, ConnInfo, Session) {
    // Failing to set it leaves the OS default, which still works.
    let _ = stream.set_nodelay(true);
    let info = ConnInfo {
        peer_addr,
        proxy_addr,
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
    };
    shared.accepted.fetch_add(1, Ordering::Relaxed);
    // The stream comes back here when the handler drops its `Conn`.
    let (give_back, given_back) = oneshot::channel();
    let hook: DropHook<TcpStream> = Box::new(move |stream| {
        let _ = give_back.send(stream);
    });
    let conn = Conn::with_drop_hook(stream, options.write_timeout, Some(hook));
    let session = Session {
        _open: Open::new(shared),
        given_back,
        linger: options.close_linger,
    };
    (conn, info, session)
}

/// Reads a trusted balancer's PROXY header within the configured time and
/// counts the connection against the client it names: the stream, (client,
/// balancer), the bytes after the header, and the client's slot under the
/// per-peer cap. `None` (counted, and the connection dropped) if the header
/// is missing, malformed or late, or the client is over its cap.
async fn through_proxy(
    shared: &Arc<Shared>,
    options: &ServerOptions,
    mut stream: TcpStream,
    balancer: SocketAddr,
) -> Option<(
    TcpStream,
    (SocketAddr, Option<SocketAddr>),
    Vec<u8>,
    Option<PeerSlot>,
)> {
    use lineproto::proxy::{MAX_HEADER_LEN, Preamble, read_preamble};
    use tokio::io::AsyncReadExt;

    let header = async {
        let mut received = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        loop {
            match read_preamble(&received) {
                Ok(Preamble::Complete { client, len }) => {
                    return Some((client, received.split_off(len)));
                }
                Ok(Preamble::Incomplete) => {}
                Err(_) => return None,
            }
            // Never read past what a header can be: the bytes after it go
            // to the machine first, and stay few.
            let room = (MAX_HEADER_LEN + 1 - received.len()).min(chunk.len());
            match stream.read(&mut chunk[..room]).await {
                Ok(0) | Err(_) => return None,
                Ok(read) => received.extend_from_slice(&chunk[..read]),
            }
        }
    };
    let Ok(Some((client, early))) =
        tokio::time::timeout(options.proxy_header_timeout, header).await
    else {
        shared.refused_proxy_header.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let addrs = match client {
        Some(client) => (client, Some(balancer)),
        // `PROXY UNKNOWN` or a health check: the balancer's own connection.
        None => (balancer, None),
    };
    let Ok(slot) = PeerSlot::enter(shared, addrs.0.ip(), options.max_per_peer) else {
        shared.refused_over_peer_cap.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    Some((stream, addrs, early, Some(slot)))
}

/// One connection, from the server's side: counted as open while this
/// lives, and closed gracefully once the handler is done with it.
struct Session {
    _open: Open,
    given_back: oneshot::Receiver<TcpStream>,
    linger: Duration,
}

impl Session {
    /// Closes the connection once the handler has let go of it.
    async fn close(self) {
        // Waits while the handler's `Conn` lives on elsewhere; ends at once
        // if its stream was taken out.
        if let Ok(mut stream) = self.given_back.await {
            let _ = close_gracefully(&mut stream, self.linger).await;
        }
    }
}

/// Creates a listening socket with `SO_REUSEADDR` and `backlog`.
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

enum AcceptError {
    /// The peer gave up before it was accepted: try the next one.
    Retry,
    /// Out of file descriptors, buffers or memory: these come back as
    /// connections close, so wait a little instead of spinning.
    Backoff,
    /// The listener itself is unusable.
    Fatal(io::Error),
}

fn accept_error(error: io::Error) -> AcceptError {
    match error.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::Interrupted
        | io::ErrorKind::WouldBlock => AcceptError::Retry,
        io::ErrorKind::InvalidInput | io::ErrorKind::NotConnected => AcceptError::Fatal(error),
        _ => AcceptError::Backoff,
    }
}

/// Counts a connection as open while it lives.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.open.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(shared))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One open connection of a peer address, under the per-peer cap; `None`
/// inside when there is no cap (nothing is counted then).
struct PeerSlot(Option<(Arc<Shared>, IpAddr)>);

impl PeerSlot {
    /// Takes a slot for `ip`, or fails if it already has `cap` open.
    fn enter(shared: &Arc<Shared>, ip: IpAddr, cap: usize) -> Result<Self, ()> {
        if cap == 0 {
            return Ok(Self(None));
        }
        // An IPv4 peer of a dual-stack listener shows up as ::ffff:a.b.c.d.
        let ip = ip.to_canonical();
        let mut peers = shared.peers();
        let count = peers.entry(ip).or_insert(0);
        if *count >= cap {
            return Err(());
        }
        *count += 1;
        Ok(Self(Some((Arc::clone(shared), ip))))
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Some((shared, ip)) = self.0.take() {
            let mut peers = shared.peers();
            if let Some(count) = peers.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    peers.remove(&ip);
                }
            }
        }
    }
}

impl ShutdownHandle {
    /// Shuts the server down: it stops accepting at once and gives open
    /// connections [`shutdown_grace`](ServerOptions::shutdown_grace) to
    /// end. Idempotent; returns at once.
    pub fn shutdown(&self) {
        self.shared.stop.send_replace(true);
    }

    /// Shuts the server down and cuts every open connection at once,
    /// without a grace period (a second SIGINT, say): their tasks are
    /// dropped. Returns at once.
    pub fn shutdown_now(&self) {
        self.shared.stop.send_replace(true);
        self.shared.cut.send_replace(true);
    }

    /// Whether shutdown has been requested (or the server stopped on a
    /// listener error).
    pub fn is_shutdown(&self) -> bool {
        *self.shared.stop.borrow()
    }

    /// Resolves once shutdown has been requested: for handlers that want
    /// to say goodbye to their peer within the grace period.
    pub async fn wait(&self) {
        self.shared.stopped().await;
    }

    /// The server's counters now.
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            accepted: self.shared.accepted.load(Ordering::Relaxed),
            open: self.shared.open.load(Ordering::Relaxed),
            refused_over_peer_cap: self.shared.refused_over_peer_cap.load(Ordering::Relaxed),
            refused_proxy_header: self.shared.refused_proxy_header.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task of a connection holds the handler's future once: see
    /// [`connection`].
    #[tokio::test]
    async fn a_connection_holds_the_handler_future_once() {
        const STATE: usize = 16 * 1024;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        stream.set_nonblocking(true).unwrap();
        let stream = TcpStream::from_std(stream).unwrap();
        let server = Server::bind("127.0.0.1:0", ServerOptions::default()).unwrap();
        let options = ServerOptions::default();
        let (conn, info, session) = prepare(&server.shared, &options, stream, (peer, None));
        // A handler whose future keeps STATE bytes across an await, shared
        // and called as `serve` does, with what `serve` holds.
        let handler = Arc::new(|conn: Conn<TcpStream>, _info: ConnInfo| async move {
            let state = [1u8; STATE];
            tokio::task::yield_now().await;
            std::hint::black_box(&state);
            drop(conn);
        });
        let handler = move |conn, info| handler(conn, info);
        let held: (PeerSlot, Option<tokio::sync::OwnedSemaphorePermit>) = (PeerSlot(None), None);
        let task = connection(held, session, handler, conn, info);
        let size = size_of_val(&task);
        assert!(
            (STATE..STATE + 2048).contains(&size),
            "a connection's future takes {size} bytes for a handler state of {STATE}"
        );
    }
}
