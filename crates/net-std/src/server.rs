//! A threaded TCP server: one thread per connection, a connection limit,
//! timeouts, and a handle that stops it.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::Conn;

/// Settings of a [`Server`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// How many connections are served at once. When all are busy, new
    /// connections wait in the listen backlog until one ends. Default: 1024.
    pub max_connections: usize,
    /// How long a connection may stay silent before it is dropped; `None`
    /// (or zero) waits forever. Default: 60 s.
    pub idle_timeout: Option<Duration>,
    /// How long one write may block on a peer that does not read; `None`
    /// (or zero) waits forever. Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// After the handler returns, how long to keep reading (and discarding)
    /// what the peer still sends before closing. Closing a socket with
    /// unread input makes the kernel send a reset, which can destroy the
    /// reply before the peer reads it; draining first avoids that.
    /// Default: 1 s.
    pub close_linger: Duration,
    /// Stack size of each connection thread. Default: 256 KiB.
    pub thread_stack_size: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(30)),
            close_linger: Duration::from_secs(1),
            thread_stack_size: 256 * 1024,
        }
    }
}

/// A TCP server that hands each connection, on its own thread, to a handler.
///
/// The handler gets a [`Conn`] whose stream has the configured timeouts set;
/// it usually builds a machine and calls [`Conn::run`]. When the handler
/// returns, the server closes the connection gracefully (see
/// [`ServerOptions::close_linger`]).
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
///     server.serve(|conn| {
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

/// Stops a [`Server`]: no new connections are accepted, open ones are shut
/// down, and `serve` returns once their handlers have. Cloneable and `Send`,
/// so a signal handler or a test can hold it.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    local_addr: SocketAddr,
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Clones of open connections' streams, so shutdown can close them.
    open: Mutex<HashMap<u64, TcpStream>>,
    /// Signalled whenever a connection ends or shutdown starts.
    changed: Condvar,
}

impl Shared {
    fn open(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        // A handler that panicked cannot leave the map inconsistent: every
        // critical section is a single insert or remove.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Server {
    /// Binds a listener. Use port 0 for an ephemeral port, and
    /// [`local_addr`](Self::local_addr) to learn it.
    pub fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            options,
            shared: Arc::new(Shared {
                local_addr,
                stopping: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
                open: Mutex::new(HashMap::new()),
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
    /// [`max_connections`](ServerOptions::max_connections) at once. Returns
    /// after shutdown, once every handler has returned. Transient accept
    /// errors (a peer that left, too many open files) are retried.
    pub fn serve<F>(self, handler: F) -> io::Result<()>
    where
        F: Fn(&mut Conn<TcpStream>) + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let result = self.accept_loop(&handler);
        // Whether stopped or failed, return only once every handler has.
        let mut open = self.shared.open();
        while !open.is_empty() {
            open = self
                .shared
                .changed
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
        result
    }

    fn accept_loop<F>(&self, handler: &Arc<F>) -> io::Result<()>
    where
        F: Fn(&mut Conn<TcpStream>) + Send + Sync + 'static,
    {
        while !self.shared.stopping.load(Ordering::SeqCst) {
            self.wait_for_a_free_slot();
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Some(stream) = self.accept()? else {
                continue;
            };
            let Some(id) = self.register(&stream) else {
                continue;
            };
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
                    serve_connection(stream, &options, &*handler);
                });
            if spawned.is_err() {
                // Out of threads: this connection is dropped, the next may fit.
                self.shared.open().remove(&id);
                thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Serves exactly one connection on the calling thread, then returns:
    /// the article's servers, which exit after their first client.
    pub fn serve_one<F>(self, handler: F) -> io::Result<()>
    where
        F: FnOnce(&mut Conn<TcpStream>),
    {
        loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            if let Some(stream) = self.accept()? {
                // Unregistered (if the stream cannot be cloned), the
                // connection is still served; shutdown just cannot cut it short.
                let _unregister = self.register(&stream).map(|id| Unregister {
                    shared: &self.shared,
                    id,
                });
                serve_connection(stream, &self.options, handler);
                return Ok(());
            }
        }
    }

    /// Accepts one connection; `None` for a transient failure or the
    /// shutdown wake-up.
    fn accept(&self) -> io::Result<Option<TcpStream>> {
        match self.listener.accept() {
            Ok((stream, _)) if self.shared.stopping.load(Ordering::SeqCst) => {
                drop(stream);
                Ok(None)
            }
            Ok((stream, _)) => Ok(Some(stream)),
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

    /// Records an open connection so shutdown can reach it; `None` if the
    /// stream cannot be cloned (the connection is then dropped).
    fn register(&self, stream: &TcpStream) -> Option<u64> {
        let clone = stream.try_clone().ok()?;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut open = self.shared.open();
        if self.shared.stopping.load(Ordering::SeqCst) {
            return None;
        }
        open.insert(id, clone);
        Some(id)
    }
}

/// Removes a connection from the open set when its thread ends, even by panic.
struct Unregister<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.shared.open().remove(&self.id);
        self.shared.changed.notify_all();
    }
}

fn serve_connection(
    stream: TcpStream,
    options: &ServerOptions,
    handler: impl FnOnce(&mut Conn<TcpStream>),
) {
    // Failing to set an option leaves the OS default, which still works.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(options.idle_timeout.filter(|t| !t.is_zero()));
    let _ = stream.set_write_timeout(options.write_timeout.filter(|t| !t.is_zero()));
    let mut conn = Conn::new(stream);
    handler(&mut conn);
    close_gracefully(conn.into_inner(), options.close_linger);
}

/// Half-closes, then reads and discards until the peer closes or `linger`
/// runs out, so the kernel does not answer unread input with a reset.
fn close_gracefully(mut stream: TcpStream, linger: Duration) {
    if stream.shutdown(Shutdown::Write).is_err() || linger.is_zero() {
        return;
    }
    let deadline = Instant::now() + linger;
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

impl ShutdownHandle {
    /// Stops the server. Idempotent. Returns promptly (it makes one local
    /// connection, with a one-second limit, to wake the accepting thread)
    /// while `serve` winds down.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        for stream in self.shared.open().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.shared.changed.notify_all();
        // `accept` blocks; a connection of our own wakes it up.
        let wake = wake_address(self.shared.local_addr);
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }

    /// Whether shutdown has been requested.
    pub fn is_shutdown(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
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
