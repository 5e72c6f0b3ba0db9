//! A threaded TCP server: one thread per connection, a connection limit, a
//! cap per peer address, a listen backlog, and a handle that stops it
//! gracefully.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::Conn;
use crate::conn::Cut;

/// Settings of a [`Server`].
///
/// Read deadlines are not here: they belong to the machines (a request
/// deadline, an idle timeout), and [`Conn`] sets each socket's read timeout
/// from the machine's next deadline.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// How many connections are served at once. When all are busy, new
    /// connections wait in the listen backlog until one ends. Default: 1024.
    pub max_connections: usize,
    /// How many connections one peer address may hold open at once; `0`
    /// means no cap. A connection over the cap is closed as soon as it is
    /// accepted, and counted in [`ServerStats::refused_over_peer_cap`], so
    /// one address cannot take every slot. Default: 256.
    pub max_per_peer: usize,
    /// The listen backlog: how many connections the kernel queues before
    /// they are accepted (capped by `net.core.somaxconn`). std's default of
    /// 128 drops SYNs in a burst of connections, which then wait a second
    /// for the retry. Default: 1024.
    pub backlog: u32,
    /// How long one write may block on a peer that does not read; `None`
    /// (or zero) waits forever. Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// After the handler returns, how long to keep reading (and discarding)
    /// what the peer still sends before closing. Closing a socket with
    /// unread input makes the kernel send a reset, which can destroy the
    /// reply before the peer reads it; draining first avoids that.
    /// Default: 1 s.
    pub close_linger: Duration,
    /// On shutdown, how long open connections may go on before they are
    /// cut (their sockets shut down, so their handlers return). Default:
    /// 10 s.
    pub shutdown_grace: Duration,
    /// Stack size of each connection thread. Default: 256 KiB.
    pub thread_stack_size: usize,
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
            thread_stack_size: 256 * 1024,
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

/// Counters of a running [`Server`], from [`ShutdownHandle::stats`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted and served (or being served).
    pub accepted: u64,
    /// Connections closed at once because their address held
    /// [`max_per_peer`](ServerOptions::max_per_peer) already.
    pub refused_over_peer_cap: u64,
    /// Connections from a trusted balancer closed because they sent no
    /// valid PROXY header in time.
    pub refused_proxy_header: u64,
    /// Connections open right now.
    pub open: usize,
}

/// A TCP server that hands each connection, on its own thread, to a handler.
///
/// The handler gets a [`Conn`] whose stream has the write timeout set; it
/// usually builds a machine and calls [`Conn::run`], which wakes the machine
/// at its deadlines. When the handler returns, the server closes the
/// connection gracefully (see [`ServerOptions::close_linger`]).
///
/// ```
/// use std::io::{Read, Write};
/// use net_std::{Server, ServerOptions};
/// use reverse_proto::server::{Options, Server as Reverse};
///
/// let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || {
///     server.serve(|conn, _info| {
///         let _ = conn.run(&mut Reverse::new(Options::default()), |_, _| {});
///     })
/// });
///
/// let mut client = std::net::TcpStream::connect(addr)?;
/// client.write_all(b"jack frost\n")?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert_eq!(reply, "tsorf kcaj\n");
///
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    options: ServerOptions,
    shared: Arc<Shared>,
}

/// Stops a [`Server`]: no new connections are accepted, open ones may finish
/// within [`ServerOptions::shutdown_grace`] and are then cut, and `serve`
/// returns once every handler has. Cloneable and `Send`, so a signal
/// handler or a test can hold it.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    local_addr: SocketAddr,
    stopping: AtomicBool,
    next_id: AtomicU64,
    accepted: AtomicU64,
    refused_over_peer_cap: AtomicU64,
    refused_proxy_header: AtomicU64,
    open: Mutex<Registry>,
    /// Signalled whenever a connection ends or shutdown starts.
    changed: Condvar,
}

/// The open connections.
#[derive(Debug, Default)]
struct Registry {
    /// The open connections by id.
    streams: HashMap<u64, Open>,
    /// How many connections each address holds; an address leaves the map
    /// when its last connection ends, so the map is never larger than
    /// `streams`.
    per_peer: HashMap<IpAddr, usize>,
}

/// What the server keeps of an open connection.
#[derive(Debug)]
struct Open {
    /// A clone of the stream, so shutdown can cut it.
    stream: TcpStream,
    /// The address it counts against: none yet for a balancer's connection
    /// whose PROXY header has not arrived.
    peer: Option<IpAddr>,
    /// Tells the connection's drive that the cut was the server's.
    cut: Arc<Cut>,
}

impl Registry {
    fn len(&self) -> usize {
        self.streams.len()
    }

    fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    fn remove(&mut self, id: u64) {
        if let Some(Open {
            peer: Some(peer), ..
        }) = self.streams.remove(&id)
        {
            if let Some(count) = self.per_peer.get_mut(&peer) {
                *count -= 1;
                if *count == 0 {
                    self.per_peer.remove(&peer);
                }
            }
        }
    }

    /// Counts connection `id` against `peer`, unless `peer` holds `cap`
    /// already (`0`: no cap).
    fn count_peer(&mut self, id: u64, peer: IpAddr, cap: usize) -> bool {
        let held = self.per_peer.get(&peer).copied().unwrap_or(0);
        if cap != 0 && held >= cap {
            return false;
        }
        if let Some(open) = self.streams.get_mut(&id) {
            *self.per_peer.entry(peer).or_insert(0) += 1;
            open.peer = Some(peer);
        }
        true
    }

    fn cut_all(&self) {
        for open in self.streams.values() {
            // Marked first: the read that the shutdown ends must see it.
            open.cut.cut();
            let _ = open.stream.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn open(&self) -> MutexGuard<'_, Registry> {
        // A handler that panicked cannot leave the registry inconsistent:
        // every critical section completes without calling out.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Server {
    /// Binds a listener with the configured backlog (and `SO_REUSEADDR`,
    /// so a restarted server can bind while old connections linger). Use
    /// port 0 for an ephemeral port, and [`local_addr`](Self::local_addr)
    /// to learn it. Each address `addr` resolves to is tried in turn.
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

    /// Serves on a listener made elsewhere: one handed over by systemd or
    /// `listenfd`, say. Its backlog is set again to
    /// [`backlog`](ServerOptions::backlog) (Linux lets a listening socket
    /// change it).
    pub fn from_listener(listener: TcpListener, options: ServerOptions) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        listener.set_nonblocking(false)?;
        socket2::SockRef::from(&listener).listen(backlog_arg(options.backlog))?;
        Ok(Self {
            listener,
            options,
            shared: Arc::new(Shared {
                local_addr,
                stopping: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
                accepted: AtomicU64::new(0),
                refused_over_peer_cap: AtomicU64::new(0),
                refused_proxy_header: AtomicU64::new(0),
                open: Mutex::new(Registry::default()),
                changed: Condvar::new(),
            }),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops this server from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serves connections until shut down, each on its own thread, at most
    /// [`max_connections`](ServerOptions::max_connections) at once and
    /// [`max_per_peer`](ServerOptions::max_per_peer) per address. Returns
    /// after shutdown, once every handler has returned: open connections
    /// get [`shutdown_grace`](ServerOptions::shutdown_grace) to finish, then
    /// their sockets are shut down. Transient accept errors (a peer that
    /// left, too many open files) are retried.
    pub fn serve<F>(self, handler: F) -> io::Result<()>
    where
        F: Fn(&mut Conn<TcpStream>, &ConnInfo) + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let result = self.accept_loop(&handler);
        let Self {
            listener,
            options,
            shared,
        } = self;
        // Close the listener now: connections that would otherwise queue in
        // its backlog, never to be served, are refused instead.
        drop(listener);
        // Whether stopped or failed, return only once every handler has.
        finish_within(&shared, shared.open(), options.shutdown_grace);
        result
    }

    fn accept_loop<F>(&self, handler: &Arc<F>) -> io::Result<()>
    where
        F: Fn(&mut Conn<TcpStream>, &ConnInfo) + Send + Sync + 'static,
    {
        while !self.shared.stopping.load(Ordering::SeqCst) {
            self.wait_for_a_free_slot();
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Some((stream, peer)) = self.accept()? else {
                continue;
            };
            let Some((info, cut)) = self.register(&stream, peer) else {
                continue;
            };
            let id = info.id;
            let handler = Arc::clone(handler);
            let shared = Arc::clone(&self.shared);
            let options = self.options.clone();
            let spawned = thread::Builder::new()
                .name(format!("conn-{id}"))
                .stack_size(self.options.thread_stack_size)
                .spawn(move || {
                    let _unregister = Unregister {
                        shared: &shared,
                        id,
                    };
                    serve_connection(stream, info, cut, &shared, &options, &*handler);
                });
            if spawned.is_err() {
                // Out of threads: this connection is dropped, the next may fit.
                self.shared.open().remove(id);
                thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Serves exactly one connection on the calling thread, then returns:
    /// the article's servers, which exit after their first client. The
    /// listener is closed as soon as that connection is accepted, so later
    /// clients are refused rather than left waiting in its backlog. Returns
    /// without serving if shut down before a connection arrives; on
    /// shutdown during the connection, it is given
    /// [`shutdown_grace`](ServerOptions::shutdown_grace) to finish, and is
    /// then cut.
    pub fn serve_one<F>(self, handler: F) -> io::Result<()>
    where
        F: FnOnce(&mut Conn<TcpStream>, &ConnInfo),
    {
        let (stream, info, cut) = loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            let Some((stream, peer)) = self.accept()? else {
                continue;
            };
            if let Some((info, cut)) = self.register(&stream, peer) {
                break (stream, info, cut);
            }
        };
        let Self {
            listener,
            options,
            shared,
        } = self;
        drop(listener);
        thread::scope(|scope| {
            // Without a thread to keep the grace period, the connection
            // goes on until it ends (or `shutdown_now`).
            let _ = thread::Builder::new()
                .name("grace".into())
                .spawn_scoped(scope, || cut_after_grace(&shared, options.shutdown_grace));
            let _unregister = Unregister {
                shared: &shared,
                id: info.id,
            };
            serve_connection(stream, info, cut, &shared, &options, handler);
        });
        Ok(())
    }

    /// Accepts one connection; `None` for a transient failure or the
    /// shutdown wake-up.
    fn accept(&self) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        match self.listener.accept() {
            Ok((stream, _)) if self.shared.stopping.load(Ordering::SeqCst) => {
                drop(stream);
                Ok(None)
            }
            Ok(accepted) => Ok(Some(accepted)),
            Err(error) => match error.kind() {
                // The peer gave up before we accepted, or a signal arrived.
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted
                | io::ErrorKind::WouldBlock => Ok(None),
                // The listener itself is unusable.
                io::ErrorKind::InvalidInput | io::ErrorKind::NotConnected => Err(error),
                // Out of file descriptors, buffers or memory: these come back
                // as connections close, so wait a little instead of spinning.
                _ => {
                    thread::sleep(Duration::from_millis(50));
                    Ok(None)
                }
            },
        }
    }

    fn wait_for_a_free_slot(&self) {
        let mut open = self.shared.open();
        while open.len() >= self.options.max_connections.max(1)
            && !self.shared.stopping.load(Ordering::SeqCst)
        {
            open = self
                .shared
                .changed
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Records an open connection so shutdown can reach it, and returns what
    /// its handler is told of it and its cut mark; `None` if its
    /// address is over the cap, the server is stopping, or the stream
    /// cannot be cloned (the connection is then dropped). A trusted
    /// balancer's connection counts against no address until its PROXY
    /// header names the client.
    fn register(&self, stream: &TcpStream, peer: SocketAddr) -> Option<(ConnInfo, Arc<Cut>)> {
        let clone = stream.try_clone().ok()?;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Cut::default());
        let mut open = self.shared.open();
        if self.shared.stopping.load(Ordering::SeqCst) {
            return None;
        }
        open.streams.insert(
            id,
            Open {
                stream: clone,
                peer: None,
                cut: Arc::clone(&cut),
            },
        );
        let ip = peer.ip().to_canonical();
        if !self.options.trusted_proxies.contains(&ip)
            && !open.count_peer(id, ip, self.options.max_per_peer)
        {
            open.streams.remove(&id);
            self.shared
                .refused_over_peer_cap
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.shared.accepted.fetch_add(1, Ordering::Relaxed);
        let info = ConnInfo {
            peer_addr: peer,
            proxy_addr: None,
            id,
        };
        Some((info, cut))
    }
}

/// [`Server::serve_one`]'s grace period: once shutdown is asked for, waits
/// up to `grace` for the connection to end, then cuts it. Returns when the
/// connection has ended.
fn cut_after_grace(shared: &Shared, grace: Duration) {
    let mut open = shared.open();
    while !open.is_empty() && !shared.stopping.load(Ordering::SeqCst) {
        open = shared
            .changed
            .wait(open)
            .unwrap_or_else(PoisonError::into_inner);
    }
    finish_within(shared, open, grace);
}

/// Waits until every open connection has ended, and cuts those still open
/// when `grace` from now is over (a grace too long to add to the clock
/// never ends).
fn finish_within(shared: &Shared, mut open: MutexGuard<'_, Registry>, grace: Duration) {
    let ends = Instant::now().checked_add(grace);
    let mut cut = false;
    while !open.is_empty() {
        let left = time_left(ends);
        if left.is_zero() && !cut {
            open.cut_all();
            cut = true;
        }
        let wait = if cut { Duration::from_secs(1) } else { left };
        open = shared
            .changed
            .wait_timeout(open, wait)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// Removes a connection from the open set when its thread ends, even by panic.
struct Unregister<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.shared.open().remove(self.id);
        self.shared.changed.notify_all();
    }
}

/// A listening socket with `SO_REUSEADDR` and the given backlog.
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // As std does: an IPv6 wildcard serves IPv4 too where the system
        // allows, and a failure here is not fatal.
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog_arg(backlog))?;
    Ok(socket.into())
}

fn backlog_arg(backlog: u32) -> i32 {
    i32::try_from(backlog.max(1)).unwrap_or(i32::MAX)
}

fn serve_connection(
    mut stream: TcpStream,
    mut info: ConnInfo,
    cut: Arc<Cut>,
    shared: &Shared,
    options: &ServerOptions,
    handler: impl FnOnce(&mut Conn<TcpStream>, &ConnInfo),
) {
    // Failing to set an option leaves the OS default, which still works.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(options.write_timeout.filter(|t| !t.is_zero()));
    let (peer, id) = (info.peer_addr, info.id);
    let mut early = Vec::new();
    if options.trusted_proxies.contains(&peer.ip().to_canonical()) {
        let Some((client, after_header)) = read_proxy_header(&mut stream, options) else {
            // A cut while the header was awaited is the server's doing.
            if !cut.is_cut() {
                shared.refused_proxy_header.fetch_add(1, Ordering::Relaxed);
            }
            return;
        };
        if let Some(client) = client {
            info.peer_addr = client;
            info.proxy_addr = Some(peer);
        }
        if !shared
            .open()
            .count_peer(id, info.peer_addr.ip().to_canonical(), options.max_per_peer)
        {
            shared.refused_over_peer_cap.fetch_add(1, Ordering::Relaxed);
            return;
        }
        early = after_header;
    }
    let mut conn = Conn::new(stream);
    conn.watch_cut(cut);
    conn.push_received(early);
    handler(&mut conn, &info);
    close_gracefully(conn.into_inner(), options.close_linger);
}

/// Reads a trusted balancer's PROXY header within the configured time:
/// the client it names, and the bytes that came after it. `None` if the
/// header is missing, malformed or late.
fn read_proxy_header(
    stream: &mut TcpStream,
    options: &ServerOptions,
) -> Option<(Option<SocketAddr>, Vec<u8>)> {
    use lineproto::proxy::{MAX_HEADER_LEN, Preamble, read_preamble};
    let deadline = Instant::now().checked_add(options.proxy_header_timeout);
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
        let left = time_left(deadline);
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return None;
        }
        // Never read past what a header can be, so the bytes after it stay
        // few; they go to the machine first.
        let room = (MAX_HEADER_LEN + 1 - received.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return None,
            Ok(read) => received.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Half-closes, then reads and discards until the peer closes or `linger`
/// runs out, so the kernel does not answer unread input with a reset.
fn close_gracefully(mut stream: TcpStream, linger: Duration) {
    if stream.shutdown(Shutdown::Write).is_err() || linger.is_zero() {
        return;
    }
    let deadline = Instant::now().checked_add(linger);
    let mut sink = [0u8; 4096];
    loop {
        let left = time_left(deadline);
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// How long until `deadline`; `None` (a time too far to add to the clock)
/// is never reached.
fn time_left(deadline: Option<Instant>) -> Duration {
    deadline.map_or(Duration::MAX, |deadline| {
        deadline.saturating_duration_since(Instant::now())
    })
}

impl ShutdownHandle {
    /// Stops accepting. Idempotent. Returns promptly (it makes one local
    /// connection, with a one-second limit, to wake the accepting thread)
    /// while `serve` lets open connections finish within the grace period.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            // Under the lock, so a thread that has just seen `stopping`
            // false is already waiting, and wakes.
            let _open = self.shared.open();
            self.shared.changed.notify_all();
        }
        // `accept` blocks; a connection of our own wakes it up.
        let wake = wake_address(self.shared.local_addr);
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }

    /// Stops accepting and cuts every open connection at once, without a
    /// grace period.
    pub fn shutdown_now(&self) {
        self.shutdown();
        self.shared.open().cut_all();
    }

    /// Whether shutdown has been requested.
    pub fn is_shutdown(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    /// The server's counters so far.
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            accepted: self.shared.accepted.load(Ordering::Relaxed),
            refused_over_peer_cap: self.shared.refused_over_peer_cap.load(Ordering::Relaxed),
            refused_proxy_header: self.shared.refused_proxy_header.load(Ordering::Relaxed),
            open: self.shared.open().len(),
        }
    }
}

/// Where to connect to reach a listener bound to `addr`: the address
/// itself (an IPv6 scope id included), or loopback for a wildcard bind.
fn wake_address(mut addr: SocketAddr) -> SocketAddr {
    match &mut addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => v4.set_ip(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => v6.set_ip(Ipv6Addr::LOCALHOST),
        _ => {}
    }
    addr
}
