//! What the example servers share: the listening flags, one serve loop for
//! each runtime with the article's debug lines, signal handling, and safe
//! printing of peer bytes.
//!
//! An example describes its protocol once, as a [`Service`] (which machine
//! serves a connection, what to print on its events and at its end), and
//! runs unchanged on either adapter: `--runtime std` (net-std, a thread per
//! connection, the default) or `--runtime tokio` (net-tokio), in plain text
//! or, given a certificate ([`TlsArgs`]), over TLS.

#![allow(dead_code)] // each example uses a different part

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lineproto::Machine;
use net_std::tls::rustls;
use net_std::tls::trust::Fingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::cli::chain;

/// Prints one line on stdout (through [`say_line`]). A closed stdout
/// (`auth_server | head -1`) or a full disk is ignored: printing a debug
/// line must never fail a connection, and `println!` would panic on EPIPE.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::support::say_line(format_args!($($arg)*))
    };
}
#[allow(unused_imports)] // not every example prints debug lines
pub(crate) use say;

/// Whether debug lines go through [`BATCH`] rather than straight to
/// stdout: set when a server starts something that writes the batch (the
/// tokio park hook, or the std flusher). A client example prints straight.
static BATCHING: AtomicBool = AtomicBool::new(false);
/// Whether [`BATCH`] may hold lines: lets a thread with nothing to write
/// skip both locks. It is false as soon as a flush has taken the batch,
/// before that batch is written: see [`flush_all_lines`].
static PENDING: AtomicBool = AtomicBool::new(false);
/// Every debug line not yet written, in the order the lines were made.
static BATCH: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Held across taking [`BATCH`] and writing it out, so two threads that
/// flush at once write their batches in the order they took them. Holds
/// the emptied buffer of the last flush, to be reused.
static WRITER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// A batch this long is written at once, without waiting for a park or
/// the flusher, so a worker that never idles still prints. A thread that
/// finds the batch this long (stdout blocks, say) waits for it to be
/// written before adding its line, so the batch holds at most this and
/// one line.
const BATCH_LIMIT: usize = 32 * 1024;
/// Whether [`std_flusher`] runs, to be woken when a batch starts.
static FLUSHER: AtomicBool = AtomicBool::new(false);
/// Wakes [`std_flusher`]: a line went into an empty [`BATCH`].
static BATCH_STARTED: Condvar = Condvar::new();
/// How long [`std_flusher`] lets a batch gather before writing it. With
/// the wake and the write, a cycle took about 1.6 ms at 20,000 round trips
/// a second: some 60 lines a write instead of one.
const GATHER: Duration = Duration::from_millis(1);

thread_local! {
    /// Whether this thread leaves its lines in [`BATCH`] for somebody else
    /// to write: a tokio worker, which runs [`flush_lines`] when it next
    /// parks (set by that hook), or a thread serving a std connection
    /// (`main` too, with `--once`), whose lines [`std_flusher`] writes.
    /// Any other thread (`main` otherwise, the `block_on` thread, a
    /// blocking thread, a signal thread) flushes each line itself.
    static LEAVES_LINES: Cell<bool> = const { Cell::new(false) };
}

/// Prints one debug line: what [`say!`] expands to.
///
/// The lines of all connections go into one buffer, written out in one
/// `write(2)`: on the tokio runtime when a worker runs out of work and
/// parks, on the std runtime by a flusher thread that lets each batch
/// gather for [`GATHER`]; on both when the buffer passes [`BATCH_LIMIT`].
/// A thread that serves no connection writes its lines (and the batch
/// before them) at once.
///
/// Why: at 20,000 round trips a second the two lines of each round trip,
/// each a `write(2)` under a stdout lock that the threads contend for,
/// were most of the CPU `session_server` spent beyond a minimal server's
/// on tokio (docs/benchmarks.md, "Server CPU per round trip"), and on std
/// they made it much dearer whenever stdout is a pipe, where each write
/// wakes the reader ("std against the code the issue measured, and stdout
/// into a pipe"). A worker about to park has nothing better
/// to do than write, and one write then carries the lines of every round
/// trip since the last. A thread per connection never knows that the
/// others are idle, hence the flusher. The buffer is one for the whole
/// process, not one per thread: a connection's task moves between tokio
/// workers, and per-worker buffers written at different times would
/// reorder that connection's own lines. A reader waiting for a line (a
/// test, an operator's terminal) still sees it right after the round trip:
/// at the worker's next idle moment, or a millisecond later on std.
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) {
    print_line(|out| out.write_fmt(line));
}

/// Prints `label` and then `peer` made [`printable`]: the two debug lines
/// of every round trip. Printable ASCII, what nearly every line is, is
/// copied as it is, without the formatting machinery (which cost a third
/// of printing the line).
pub(crate) fn say_peer(label: &str, peer: &[u8]) {
    if !is_plain(peer) {
        return say_line(format_args!("{label}{}", printable(peer)));
    }
    print_line(|out| {
        out.write_all(label.as_bytes())?;
        out.write_all(peer)
    });
}

/// Whether `peer` is printable ASCII, which [`printable`] leaves as it is.
fn is_plain(peer: &[u8]) -> bool {
    // A fold with no early exit compiles to vector code; a line is short.
    peer.iter()
        .fold(true, |plain, &byte| plain & (b' '..=b'~').contains(&byte))
}

/// Prints one line, written by `write` without its newline: straight to
/// stdout (whose line buffer passes it to one write(2)), or into [`BATCH`].
/// A write error (a closed stdout) drops the line and nothing else.
fn print_line(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
    if !BATCHING.load(Ordering::Relaxed) {
        let mut out = io::stdout().lock();
        let _ = write(&mut out).and_then(|()| out.write_all(b"\n"));
        return;
    }
    let (started, full) = {
        let mut batch = loop {
            let batch = BATCH.lock().unwrap_or_else(PoisonError::into_inner);
            if batch.len() < BATCH_LIMIT {
                break batch;
            }
            // The write under way is slow (a stdout that blocks): wait for
            // it rather than grow the batch.
            drop(batch);
            flush_lines();
        };
        let started = batch.is_empty();
        // Writing to a Vec fails only if a Display impl does; then the
        // line is cut short, never lost with its neighbours.
        let _ = write(&mut *batch);
        batch.push(b'\n');
        PENDING.store(true, Ordering::Release);
        (started, batch.len() >= BATCH_LIMIT)
    };
    if full || !LEAVES_LINES.with(Cell::get) {
        flush_lines();
    } else if started && FLUSHER.load(Ordering::Relaxed) {
        // Once a batch, not once a line: a wake is a system call.
        BATCH_STARTED.notify_one();
    }
}

/// Starts the std runtime's flusher thread (once), which writes
/// [`BATCH`] out [`GATHER`] after a line went into an empty one, and sends
/// debug lines through the batch from now on. If no thread can be had,
/// nothing changes: each line stays its own write, as it was before.
fn start_std_flusher() {
    if FLUSHER.swap(true, Ordering::Relaxed) {
        return;
    }
    let started = std::thread::Builder::new()
        .name("debug-lines".into())
        .spawn(std_flusher);
    if started.is_ok() {
        BATCHING.store(true, Ordering::Relaxed);
    } else {
        FLUSHER.store(false, Ordering::Relaxed);
    }
}

/// The flusher's loop: waits for a batch to start, lets it gather, writes
/// it. It sleeps while nothing is printed.
fn std_flusher() {
    loop {
        {
            let mut batch = BATCH.lock().unwrap_or_else(PoisonError::into_inner);
            while batch.is_empty() {
                batch = BATCH_STARTED
                    .wait(batch)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        std::thread::sleep(GATHER);
        flush_lines();
    }
}

/// Marks the current thread as one whose lines [`std_flusher`] writes,
/// until dropped.
struct LeavesLines;

impl LeavesLines {
    fn mark() -> Self {
        LEAVES_LINES.with(|leaves| leaves.set(true));
        Self
    }
}

impl Drop for LeavesLines {
    fn drop(&mut self) {
        LEAVES_LINES.with(|leaves| leaves.set(false));
    }
}

/// Writes every line left when dropped: at a server's end, also when a
/// `--once` handler panics on the main thread.
struct FlushAtEnd;

impl Drop for FlushAtEnd {
    fn drop(&mut self) {
        flush_all_lines();
    }
}

/// [`flush_lines`], and then waits for a write another thread began
/// (the flusher, a worker): for the end of the process, which would cut
/// that write short. A flush that took the batch holds [`WRITER`] until
/// its write is done.
pub(crate) fn flush_all_lines() {
    flush_lines();
    drop(WRITER.lock().unwrap_or_else(PoisonError::into_inner));
}

/// Writes out every debug line buffered so far, in one write. Write errors
/// (a closed stdout) drop the lines: they must never fail a connection.
pub(crate) fn flush_lines() {
    if !PENDING.load(Ordering::Acquire) {
        return;
    }
    let mut spare = WRITER.lock().unwrap_or_else(PoisonError::into_inner);
    {
        let mut batch = BATCH.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *batch, &mut *spare);
        PENDING.store(false, Ordering::Release);
    }
    if !spare.is_empty() {
        // Every line ends in a newline, so stdout's line buffer passes the
        // whole batch to one write(2).
        let _ = io::stdout().lock().write_all(&spare);
        spare.clear();
    }
}

/// Sends debug lines through the batch from now on (see [`say_line`]), and
/// has `builder`'s workers flush it as they park.
fn batch_lines_on(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    BATCHING.store(true, Ordering::Relaxed);
    builder.on_thread_park(|| {
        LEAVES_LINES.with(|leaves| leaves.set(true));
        flush_lines();
    })
}

/// Call after `tokio::task::block_in_place`: this thread may have lost its
/// worker core to another thread and never park again, so until it does,
/// its lines are flushed as it prints them.
pub(crate) fn left_the_workers() {
    LEAVES_LINES.with(|leaves| leaves.set(false));
}

/// Which adapter drives the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Runtime {
    /// net-std: blocking sockets, a thread per connection.
    Std,
    /// net-tokio: tasks on a multi-threaded tokio runtime.
    Tokio,
}

/// Flags every example server takes.
#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {
    /// Address to listen on (IP:PORT).
    #[arg(long, default_value = "127.0.0.1:1234", value_name = "IP:PORT")]
    pub(crate) listen: SocketAddr,
    /// Serve one client, then exit (as the article's servers do).
    #[arg(long)]
    pub(crate) once: bool,
    /// Which adapter serves the connections.
    #[arg(long, value_enum, default_value_t = Runtime::Std)]
    pub(crate) runtime: Runtime,
    /// Serve at most this many clients at once (at least 1); more wait in
    /// the backlog.
    #[arg(long, default_value_t = 1024, value_parser = at_least_one)]
    pub(crate) max_connections: usize,
    /// Let one client address hold at most this many connections (0: no cap).
    #[arg(long, default_value_t = 256)]
    pub(crate) max_per_peer: usize,
    /// The listen backlog: connections the kernel queues before accept.
    #[arg(long, default_value_t = 1024)]
    pub(crate) backlog: u32,
    /// On SIGINT or SIGTERM, let open connections finish for this many
    /// seconds before cutting them. A second signal cuts them at once.
    #[arg(long, default_value_t = 10)]
    pub(crate) grace: u64,
    /// Expect a PROXY protocol header (v1 or v2, HAProxy's send-proxy) on
    /// connections from the --proxy-from addresses, and count limits
    /// against the client it names. Off by default.
    #[arg(long, requires = "proxy_from")]
    pub(crate) proxy_protocol: bool,
    /// A load balancer trusted to send PROXY headers (repeat for several).
    /// Connections from other addresses are served as they are.
    #[arg(long, value_name = "ADDR", requires = "proxy_protocol")]
    pub(crate) proxy_from: Vec<std::net::IpAddr>,
}

/// A count that must be at least 1: zero connections at once would serve
/// nobody, and the adapters would quietly take it for 1.
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
    }
}

impl ListenArgs {
    fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        if self.proxy_protocol {
            self.proxy_from.iter().map(|ip| ip.to_canonical()).collect()
        } else {
            Vec::new()
        }
    }
}

/// The TLS flags of a server that can serve over TLS.
#[derive(Debug, clap::Args)]
pub(crate) struct TlsArgs {
    /// Serve over TLS with this certificate chain (PEM, the server's
    /// certificate first).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

/// A server's TLS configuration, the same for both runtimes (net-std and
/// net-tokio share one rustls).
pub(crate) type TlsConfig = Arc<rustls::ServerConfig>;

/// How long a client may take over its TLS handshake: a slow one (or one
/// that trickles a byte at a time) cannot hold a connection slot longer.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsArgs {
    /// The server configuration (rustls, ring provider) and the SHA-256
    /// fingerprint of the server's certificate (for clients to pin), or
    /// `None` without --tls-cert.
    pub(crate) fn server_config(&self) -> Result<Option<(TlsConfig, Fingerprint)>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let certificates = read_chain(cert)?;
        let fingerprint = Fingerprint::of(&certificates[0]);
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            format!(
                "cannot read the private key {}: {}",
                key.display(),
                chain(&e)
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder
                    .with_no_client_auth()
                    .with_single_cert(certificates, key)
            })
            .map_err(|e| format!("cannot use {} with its key: {}", cert.display(), chain(&e)))?;
        Ok(Some((Arc::new(config), fingerprint)))
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let error = |e: rustls::pki_types::pem::Error| {
        format!(
            "cannot read the certificate chain {}: {}",
            path.display(),
            chain(&e)
        )
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(chain)
}

/// One protocol, as the serve loops run it.
pub(crate) trait Service: Send + Sync + 'static {
    /// The machine that serves one connection.
    type Machine: Machine<Event: Send> + Send + 'static;

    /// Whether [`start`](Self::start) may block (read files, run a
    /// command); the tokio loop then runs it off the async workers.
    const START_BLOCKS: bool = false;

    /// The machine for a connection from `peer` (the client a trusted
    /// balancer's PROXY header named, if there was one); `None` closes it
    /// unserved.
    fn start(&self, peer: SocketAddr) -> Option<Self::Machine>;

    /// Handles one event (prints the article's debug line, say).
    fn on_event(&self, machine: &mut Self::Machine, event: <Self::Machine as Machine>::Event);

    /// Called when the connection's exchange is over.
    fn on_end(&self, machine: &Self::Machine, result: Result<(), String>) {
        let _ = machine;
        if let Err(error) = result {
            say!("Connection failed: {error}");
        }
    }
}

/// Binds, prints `Waiting for connections...`, and serves each connection
/// with `service` on the chosen runtime, framed by the article's `Received
/// connection request` and `Socket terminated` lines. Returns when the
/// server stops: after one client with `--once`, or after SIGINT/SIGTERM
/// and the grace period (then `Socket terminated` closes the output, as
/// the article's server prints it when its listening socket closes).
/// Why it could not serve is in words: `cannot listen on 127.0.0.1:1234:
/// address already in use`.
pub(crate) fn serve<S: Service>(args: &ListenArgs, service: S) -> Result<(), String> {
    serve_over(args, service, None)
}

/// [`serve`], over TLS with `tls` if given: each connection's handshake
/// comes first (within [`HANDSHAKE_TIMEOUT`]), and the service's machine
/// runs inside it; a handshake that fails or takes too long closes the
/// connection unserved (`Connection failed: ...`). At the end the server
/// sends a `close_notify`, so the client can tell a complete answer from a
/// cut one.
pub(crate) fn serve_over<S: Service>(
    args: &ListenArgs,
    service: S,
    tls: Option<TlsConfig>,
) -> Result<(), String> {
    let service = Arc::new(service);
    match args.runtime {
        Runtime::Std => serve_std(args, service, tls),
        Runtime::Tokio => serve_tokio(args, service, tls),
    }
}

/// Runs the service's machine for `peer` over `conn` (plain or TLS).
fn run_std<S: Service, T: Read + Write + net_std::ReadTimeout>(
    service: &S,
    conn: &mut net_std::Conn<T>,
    peer: SocketAddr,
) {
    if let Some(mut machine) = service.start(peer) {
        let result = conn.run(&mut machine, |machine, event| {
            service.on_event(machine, event)
        });
        // Cut when the grace period ran out: the exchange did not end, it
        // was dropped, as on tokio, where the connection's task is.
        if !matches!(result, Err(net_std::DriveError::Cut)) {
            service.on_end(&machine, result.map_err(|error| chain(&error)));
        }
    }
}

fn serve_std<S: Service>(
    args: &ListenArgs,
    service: Arc<S>,
    tls: Option<TlsConfig>,
) -> Result<(), String> {
    let mut options = net_std::ServerOptions::default();
    options.max_connections = args.max_connections;
    options.max_per_peer = args.max_per_peer;
    options.backlog = args.backlog;
    options.shutdown_grace = Duration::from_secs(args.grace);
    options.trusted_proxies = args.trusted_proxies();
    let server = net_std::Server::bind(args.listen, options).map_err(cannot_listen(args.listen))?;
    let stop = server.shutdown_handle();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|error| format!("cannot handle signals: {}", chain(&error)))?;
    let signalled = stop.clone();
    let grace = Duration::from_secs(args.grace);
    std::thread::spawn(move || {
        let mut signals = signals.forever();
        if signals.next().is_some() {
            set_grace(Some(grace));
            signalled.shutdown();
        }
        if signals.next().is_some() {
            set_grace(None);
            signalled.shutdown_now();
        }
        if signals.next().is_some() {
            exit_now();
        }
    });
    start_std_flusher();
    let _flush_at_end = FlushAtEnd;
    say!("Waiting for connections...");
    let handler = move |conn: &mut net_std::Conn<std::net::TcpStream>, info: &net_std::ConnInfo| {
        let _leaves_lines = LeavesLines::mark();
        say!("Received connection request");
        match &tls {
            None => run_std(&*service, conn, info.peer_addr),
            Some(config) => serve_std_tls(&*service, conn, info, config),
        }
        say!("Socket terminated");
    };
    let served = if args.once {
        server.serve_one(handler)
    } else {
        server.serve(handler)
    }
    .map_err(serving_failed(args.listen));
    if served.is_ok() && stop.is_shutdown() {
        say!("Socket terminated");
    }
    // `_flush_at_end` writes what the flusher has not.
    served
}

/// The TLS side of `serve_std`'s handler. Kept out of line: inlined, its
/// locals (the rustls connection) made every plain connection's thread
/// touch a larger stack frame, 4 KiB more resident memory each.
#[inline(never)]
fn serve_std_tls<S: Service>(
    service: &S,
    conn: &mut net_std::Conn<std::net::TcpStream>,
    info: &net_std::ConnInfo,
    config: &TlsConfig,
) {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let error = match net_std::tls::accept_until(conn, Arc::clone(config), deadline) {
        Ok(mut conn) => {
            run_std(service, &mut conn, info.peer_addr);
            let _ = conn.get_mut().send_close_notify();
            return;
        }
        Err(error) => error,
    };
    match error {
        // Cut at the end of the grace period: on tokio the connection's
        // task is dropped and says nothing either.
        _ if conn.is_cut() => {}
        // The deadline shows as a socket timeout: say it as tokio does.
        net_std::tls::TlsError::Handshake(error)
            if matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            say!(
                "Connection failed: no tls handshake within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            )
        }
        error => say!("Connection failed: {}", chain(&error)),
    }
}

/// Runs the service's machine for `peer` over `conn` (plain or TLS).
async fn run_tokio<S: Service, T: AsyncRead + AsyncWrite + Unpin>(
    service: &Arc<S>,
    conn: &mut net_tokio::Conn<T>,
    peer: SocketAddr,
) {
    let machine = if S::START_BLOCKS {
        let starting = Arc::clone(service);
        tokio::task::spawn_blocking(move || starting.start(peer))
            .await
            .ok()
            .flatten()
    } else {
        service.start(peer)
    };
    if let Some(mut machine) = machine {
        let result = conn
            .run(&mut machine, |machine, event| {
                service.on_event(machine, event)
            })
            .await;
        service.on_end(&machine, result.map_err(|error| chain(&error)));
    }
}

fn serve_tokio<S: Service>(
    args: &ListenArgs,
    service: Arc<S>,
    tls: Option<TlsConfig>,
) -> Result<(), String> {
    let mut options = net_tokio::ServerOptions::default();
    options.max_connections = args.max_connections;
    options.max_per_peer = args.max_per_peer;
    options.backlog = args.backlog;
    options.shutdown_grace = Duration::from_secs(args.grace);
    options.trusted_proxies = args.trusted_proxies();
    let runtime = batch_lines_on(&mut tokio::runtime::Builder::new_multi_thread())
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {}", chain(&error)))?;
    let once = args.once;
    let listen = args.listen;
    // What a graceful close of a plain connection waits; a TLS one, closed
    // by hand after its close_notify, waits the same.
    let linger = options.close_linger;
    let grace = options.shutdown_grace;
    let served = runtime.block_on(async move {
        let server = net_tokio::Server::bind(listen, options).map_err(cannot_listen(listen))?;
        let stop = server.shutdown_handle();
        let signalled = stop.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            set_grace(Some(grace));
            signalled.shutdown();
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            // A second signal: do not wait for the grace period. The
            // connections' tasks are dropped, each saying `Socket
            // terminated`, as on std, where they are cut.
            set_grace(None);
            signalled.shutdown_now();
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            exit_now();
        });
        say!("Waiting for connections...");
        let handler = move |mut conn: net_tokio::Conn<tokio::net::TcpStream>,
                            info: net_tokio::ConnInfo| {
            let service = Arc::clone(&service);
            let tls = tls.clone();
            async move {
                say!("Received connection request");
                // Said when the connection ends, and also when the grace
                // period runs out and its task is dropped, as on std (where
                // the cut connection's thread returns and says it).
                let _terminated = SaysTerminated;
                let peer = info.peer_addr;
                match tls {
                    None => run_tokio(&service, &mut conn, peer).await,
                    // Boxed: in line, the TLS branch's state (handshake,
                    // TLS stream, its drive) sized every connection's task,
                    // plain ones too: 14.6 KiB per idle session, not 4.6.
                    Some(config) => {
                        Box::pin(async move {
                            let handshake = net_tokio::tls::accept(conn, config);
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                                Ok(Ok(mut conn)) => {
                                    run_tokio(&service, &mut conn, peer).await;
                                    let _ = conn.close(linger).await;
                                }
                                Ok(Err(error)) => say!("Connection failed: {}", chain(&error)),
                                Err(_) => say!(
                                    "Connection failed: no tls handshake within {} s",
                                    HANDSHAKE_TIMEOUT.as_secs()
                                ),
                            }
                        })
                        .await
                    }
                }
            }
        };
        if once {
            server.serve_one(handler).await
        } else {
            server.serve(handler).await
        }
        .map_err(serving_failed(listen))?;
        if stop.is_shutdown() {
            say!("Socket terminated");
        }
        Ok(())
    });
    // Work still on a blocking thread (a verification, a fortune command
    // of a dropped connection) is not waited for long: nobody is left to
    // answer.
    runtime.shutdown_timeout(BLOCKING_LEFT);
    // The workers stop without parking again: what they printed last (the
    // end of a `--once` session) is still in the batch.
    flush_all_lines();
    served
}

/// A third SIGINT or SIGTERM: whatever still holds the shutdown up (work
/// that no cut reaches, a stdout that does not take the last lines), the
/// operator wants the process gone. Exits at once, with status 0 as the
/// first two would have.
fn exit_now() -> ! {
    say!("Socket terminated");
    flush_all_lines();
    std::process::exit(0)
}

/// When the grace period of a shutdown by signal ends: `--grace` after the
/// first SIGINT or SIGTERM, at once after the second. `None` while there
/// is none (or when it never ends).
static GRACE_ENDS: Mutex<Option<Instant>> = Mutex::new(None);

/// Starts the grace period (`Some(grace)`) or ends it (`None`).
fn set_grace(grace: Option<Duration>) {
    let now = Instant::now();
    let ends = match grace {
        Some(grace) => now.checked_add(grace),
        None => Some(now),
    };
    *GRACE_ENDS.lock().unwrap_or_else(PoisonError::into_inner) = ends;
}

/// Whether the grace period of a shutdown is over, so open connections are
/// being cut: for work that runs outside a connection's drive, where no
/// cut reaches it (a fortune command on std's connection thread or on a
/// tokio blocking thread), to stop by itself.
#[allow(dead_code)] // only the fortune server runs such work
pub(crate) fn grace_over() -> bool {
    GRACE_ENDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_some_and(|ends| Instant::now() >= ends)
}

/// How long the tokio runtime waits at the end for work on its blocking
/// threads.
const BLOCKING_LEFT: Duration = Duration::from_secs(1);

/// Says `Socket terminated` when dropped: at the end of a tokio connection,
/// however it ends.
struct SaysTerminated;

impl Drop for SaysTerminated {
    fn drop(&mut self) {
        say!("Socket terminated");
    }
}

fn cannot_listen(listen: SocketAddr) -> impl FnOnce(io::Error) -> String {
    move |error| format!("cannot listen on {listen}: {}", chain(&error))
}

fn serving_failed(listen: SocketAddr) -> impl FnOnce(io::Error) -> String {
    move |error| format!("serving on {listen} failed: {}", chain(&error))
}

/// The exit status for how serving ended: 0, or 2 with the reason in words
/// on stderr, prefixed with the program's name.
pub(crate) fn exit_status(program: &str, served: Result<(), String>) -> std::process::ExitCode {
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => crate::cli::fail(program, error),
    }
}

/// Peer bytes made safe for a terminal: invalid UTF-8 replaced, control
/// characters escaped, so a client cannot send escape sequences to the
/// operator's terminal through the debug lines; and the invisible
/// characters that can forge or reorder what a log viewer shows (line
/// and paragraph separators, bidirectional overrides, zero-width
/// characters: see [`is_escaped`]) escaped too.
pub(crate) fn printable(bytes: &[u8]) -> Printable<'_> {
    Printable(bytes)
}

/// What [`printable`] returns: escaped as it is written, so a debug line
/// (two on every round trip) goes straight into the output buffer with no
/// string of its own.
pub(crate) struct Printable<'a>(&'a [u8]);

impl std::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        // Most lines have nothing to escape: one byte scan and one write,
        // instead of a walk char by char (which cost more than the rest of
        // printing the line).
        if let Ok(text) = std::str::from_utf8(self.0) {
            if !has_control(text) {
                return f.write_str(text);
            }
        }
        for chunk in self.0.utf8_chunks() {
            let text = chunk.valid();
            let mut plain = 0;
            for (at, c) in text.char_indices().filter(|&(_, c)| is_escaped(c)) {
                f.write_str(&text[plain..at])?;
                write!(f, "{}", c.escape_default())?;
                plain = at + c.len_utf8();
            }
            f.write_str(&text[plain..])?;
            if !chunk.invalid().is_empty() {
                f.write_char(char::REPLACEMENT_CHARACTER)?;
            }
        }
        Ok(())
    }
}

/// Whether [`printable`] escapes `c`: a control character
/// (`char::is_control`: U+0000 to U+001F and U+007F to U+009F), or one of
/// the invisible format characters that a log line can be forged with.
/// U+2028 and U+2029 end a line in many viewers, so a client could make
/// its input look like a line of the server's own; the bidirectional
/// controls reorder what follows them on screen (the "Trojan Source"
/// characters, CVE-2021-42574); zero-width spaces and word joiners hide
/// text or make two names look alike. The zero-width joiner and
/// non-joiner stay: scripts and emoji sequences are written with them.
fn is_escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'
                | '\u{200e}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Whether `text` holds a character [`is_escaped`] escapes. ASCII, what
/// nearly every line is, is checked byte by byte (a fold with no early
/// exit compiles to vector code; a line is short); only text with other
/// characters is walked char by char.
fn has_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    let c0 = bytes
        .iter()
        .fold(false, |found, &byte| found | (byte < 0x20) | (byte == 0x7f));
    c0 || (!text.is_ascii() && text.chars().any(is_escaped))
}

#[cfg(test)]
mod printable_tests {
    use super::{has_control, is_escaped, is_plain, printable};

    #[test]
    fn plain_lines_are_exactly_those_printable_leaves_as_they_are() {
        // Every byte alone and between neighbours. `say_peer` copies what
        // `is_plain` passes, so `printable` must leave it as it is; any
        // other ASCII line holds a control character, which it escapes.
        for byte in 0..=u8::MAX {
            for line in [vec![byte], vec![b'a', byte, b'~'], vec![b' ', byte]] {
                let unchanged = printable(&line).to_string().as_bytes() == line;
                if is_plain(&line) {
                    assert!(unchanged, "{line:?}");
                } else if byte.is_ascii() {
                    assert!(!unchanged, "{line:?}");
                }
            }
        }
        assert!(is_plain(b"Look Ma...all backwards"));
        assert!(!is_plain("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn escaped_characters_are_found_as_a_walk_char_by_char_finds_them() {
        // Every char up to U+0800 (all one- and two-byte sequences) and
        // the general punctuation block, alone and between neighbours, and
        // a few more.
        let chars = (0..0x800u32)
            .chain(0x2000..0x2070)
            .filter_map(char::from_u32)
            .chain(['\u{feff}', '\u{fffd}', '👍', '\u{10ffff}']);
        for c in chars {
            for text in [c.to_string(), format!("a{c}é"), format!("\u{a0}{c}")] {
                let expected = text.chars().any(is_escaped);
                assert_eq!(has_control(&text), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn separators_and_direction_overrides_cannot_forge_a_line() {
        let forged = "ok\u{2028}Sent output: 1\u{202e}drowssap\u{200b}";
        assert_eq!(
            printable(forged.as_bytes()).to_string(),
            "ok\\u{2028}Sent output: 1\\u{202e}drowssap\\u{200b}"
        );
        // Letters of every script, and emoji and words written with
        // joiners, are left as they are.
        for plain in [
            "pässwörd",
            "ΑΒΓ",
            "имя",
            "名前",
            "👍🏽",
            "👩\u{200d}💻",
            "می\u{200c}خواهم",
        ] {
            assert_eq!(printable(plain.as_bytes()).to_string(), plain);
        }
    }

    #[test]
    fn escapes_controls_and_replaces_invalid_utf8_as_lossy_decoding_does() {
        let cases: [&[u8]; 5] = [
            b"jack frost",
            b"\x1b[2Jclear\r\n",
            b"caf\xe9 \xff\xfe end",
            "pässwörd \u{7f}\u{85} 👍🏽".as_bytes(),
            b"",
        ];
        for bytes in cases {
            let lossy = String::from_utf8_lossy(bytes);
            let expected: String = lossy
                .chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = match is_escaped(c) {
                        true => c.escape_default().collect(),
                        false => vec![c],
                    };
                    escaped
                })
                .collect();
            assert_eq!(printable(bytes).to_string(), expected, "{bytes:?}");
        }
        assert_eq!(printable(b"\x1b[31m").to_string(), "\\u{1b}[31m");
    }
}
