//! Driving one machine over one async byte stream.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use zeroize::Zeroize;

use bytes::{Buf, Bytes};
use lineproto::{Machine, Output};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How much one read asks for. The bytes are read into a buffer on the
/// stack of the poll that reads them and handed to the machine before that
/// poll returns, so an idle connection holds no read buffer at all.
pub const READ_SIZE: usize = 8 * 1024;

/// How many bytes a [`Conn`] reads ahead into the machine, without draining
/// it, while a write is blocked on a peer that does not read. Reading while
/// writing keeps two peers that both write from blocking each other
/// forever; this cap keeps what a peer can make the machine hold bounded.
pub const READ_AHEAD: usize = 64 * 1024;

/// Why driving a machine stopped early.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DriveError<E> {
    /// A write made no progress for the write timeout (see
    /// [`Conn::set_write_timeout`]): the peer stopped reading.
    #[error("timed out writing to the peer")]
    TimedOut,
    /// Reading or writing failed.
    #[error("i/o error")]
    Io(#[source] io::Error),
    /// The machine ended the exchange with an error.
    #[error("protocol error")]
    Protocol(#[source] E),
}

/// What to do with the stream when a [`Conn`] is dropped: the server uses
/// it to get the stream back and close it gracefully.
pub(crate) type DropHook<S> = Box<dyn FnOnce(S) + Send + Sync>;

/// The machine of [`Conn::flush`] and [`Conn::close`], which read nothing.
#[derive(Debug)]
struct NoMachine;

impl Machine for NoMachine {
    type Event = ();
    type Error = std::convert::Infallible;
    fn handle_input(&mut self, _bytes: &[u8]) {}
    fn handle_eof(&mut self) {}
    fn poll_output(&mut self, _now: std::time::Instant) -> Output<(), Self::Error> {
        Output::Wait { deadline: None }
    }
}

/// Why writing the unsent bytes stopped.
enum WriteError {
    TimedOut,
    Io(io::Error),
}

impl<E> From<WriteError> for DriveError<E> {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::TimedOut => Self::TimedOut,
            WriteError::Io(error) => Self::Io(error),
        }
    }
}

impl From<WriteError> for io::Error {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::TimedOut => {
                Self::new(io::ErrorKind::TimedOut, "timed out writing to the peer")
            }
            WriteError::Io(error) => error,
        }
    }
}

/// The current time, as the machines take it: tokio's clock, so that a
/// paused test clock pauses the machines too.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// An async byte stream that drives [`Machine`]s: the loop of the
/// [machine contract](Machine#call-order), written once for tokio.
///
/// Works over anything `AsyncRead + AsyncWrite + Unpin`: a `TcpStream`, a
/// TLS stream, a `tokio::io::DuplexStream` in a test.
///
/// # Time
///
/// Each drain's `now` is tokio's clock (`tokio::time::Instant::now()`),
/// so a test on a paused clock runs the machine on virtual time. On
/// [`Output::Wait`] with a deadline the read is bounded by it; when it
/// passes, the machine is simply drained again and decides what that means.
/// The `Conn` has no read timeout of its own: idle and request time limits
/// are the machine's deadlines.
///
/// # Cancellation
///
/// [`next_event`](Self::next_event) and [`run`](Self::run) are
/// cancel-safe: dropping the future (a branch of `select!` that lost, a
/// `timeout`) loses nothing. Bytes of a `Transmit` not yet written stay in
/// the `Conn` and are written first by the next call; bytes read are handed
/// to the machine in the same poll that reads them; and an event is
/// returned in the poll that takes it from the machine.
///
/// # Reading while writing
///
/// While a write is blocked because the peer is not reading, the `Conn`
/// keeps reading and hands what arrives to the machine (which only stores
/// it), up to [`READ_AHEAD`] bytes until the machine is next drained. A
/// peer that pipelines requests and reads the replies only after sending
/// them all would otherwise deadlock against a server that writes replies
/// and reads requests only after each write completes.
///
/// # Memory
///
/// A `Conn` holds the stream, the unsent part of one `Transmit` (while a
/// write is blocked) and a few words. Reads go into a stack buffer, so an
/// idle connection costs no read buffer; what it buffers is the machine's.
///
/// ```
/// use std::time::Instant;
/// use bytes::Bytes;
/// use lineproto::{Machine, Output};
/// use net_tokio::Conn;
/// use tokio::io::AsyncWriteExt;
///
/// /// Says hello, then reports how many bytes the peer sent.
/// #[derive(Debug, Default)]
/// struct Count { greeted: bool, bytes: usize, eof: bool }
///
/// impl Machine for Count {
///     type Event = usize;
///     type Error = lineproto::Error;
///     fn handle_input(&mut self, bytes: &[u8]) { self.bytes += bytes.len() }
///     fn handle_eof(&mut self) { self.eof = true }
///     fn poll_output(&mut self, _now: Instant) -> Output<usize, lineproto::Error> {
///         if !std::mem::replace(&mut self.greeted, true) {
///             return Output::Transmit(Bytes::from_static(b"hello\n"));
///         }
///         match self.eof {
///             true if self.bytes > 0 => Output::Event(std::mem::take(&mut self.bytes)),
///             true => Output::Done(Ok(())),
///             false => Output::Wait { deadline: None },
///         }
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let (ours, mut theirs) = tokio::io::duplex(64);
/// theirs.write_all(b"some bytes").await?;
/// theirs.shutdown().await?;
/// let mut conn = Conn::new(ours);
/// let mut events = Vec::new();
/// conn.run(&mut Count::default(), |_, event| events.push(event)).await?;
/// assert_eq!(events, [10]);
/// # Ok(())
/// # })
/// # }
/// ```
pub struct Conn<S> {
    /// `Some` until [`into_inner`](Self::into_inner) or drop.
    stream: Option<S>,
    /// The unwritten rest of the current `Transmit`.
    unsent: Bytes,
    write_timeout: Option<Duration>,
    /// Bytes handed to the machine since it was last drained.
    undrained: usize,
    /// The machine has been told of end of input.
    input_closed: bool,
    /// A read error met while reading ahead, reported at the next read.
    read_error: Option<io::Error>,
    /// Bytes read from the stream before this `Conn` took it over (those
    /// after a PROXY header), handed to the machine before any read.
    received: Vec<u8>,
    on_drop: Option<DropHook<S>>,
    /// The timer of read deadlines, kept from read to read: re-armed only
    /// when the machine's deadline comes before it, or after it fired
    /// (one that fires early costs a drain). A session's idle deadline
    /// moves later on every line; re-arming a timer-wheel entry for each
    /// read took a lock the runtime's workers share.
    read_timer: Option<Pin<Box<Sleep>>>,
}

impl<S: fmt::Debug> fmt::Debug for Conn<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("stream", &self.stream)
            .field("unsent", &self.unsent.len())
            .field("write_timeout", &self.write_timeout)
            .field("input_closed", &self.input_closed)
            .finish_non_exhaustive()
    }
}

impl<S> Drop for Conn<S> {
    fn drop(&mut self) {
        if let (Some(hook), Some(stream)) = (self.on_drop.take(), self.stream.take()) {
            hook(stream);
        }
    }
}

impl<S> Conn<S> {
    /// Wraps a stream, with no write timeout.
    pub fn new(stream: S) -> Self {
        Self {
            stream: Some(stream),
            unsent: Bytes::new(),
            write_timeout: None,
            undrained: 0,
            input_closed: false,
            read_error: None,
            received: Vec::new(),
            on_drop: None,
            read_timer: None,
        }
    }

    /// Queues bytes that were read from the stream before this `Conn` took
    /// it over: the machine gets them before anything read from now on.
    pub fn push_received(&mut self, bytes: impl AsRef<[u8]>) {
        self.received.extend_from_slice(bytes.as_ref());
    }

    pub(crate) fn with_drop_hook(
        stream: S,
        write_timeout: Option<Duration>,
        on_drop: Option<DropHook<S>>,
    ) -> Self {
        let mut conn = Self::new(stream);
        conn.set_write_timeout(write_timeout);
        conn.on_drop = on_drop;
        conn
    }

    /// Takes the bytes queued by [`push_received`](Self::push_received)
    /// that the machine has not had yet: when the stream changes hands at
    /// once (implicit TLS after a PROXY header), they are the start of what
    /// the new owner reads.
    #[cfg(feature = "tls")]
    pub(crate) fn take_received(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.received)
    }

    /// Takes the `Conn` apart without running its drop hook.
    pub(crate) fn into_parts(mut self) -> (S, Option<Duration>, Option<DropHook<S>>) {
        let hook = self.on_drop.take();
        let stream = self
            .stream
            .take()
            .expect("the stream is present until drop");
        (stream, self.write_timeout, hook)
    }

    /// Sets how long a write may make no progress before the drive fails
    /// with [`DriveError::TimedOut`]; `None` (or zero) waits forever. The
    /// timer restarts whenever some bytes are written, so a slow reader is
    /// not cut off as long as it keeps reading.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) {
        self.write_timeout = timeout.filter(|timeout| !timeout.is_zero());
    }

    /// The write timeout; see [`set_write_timeout`](Self::set_write_timeout).
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout
    }

    /// How many bytes of a `Transmit` are waiting to be written: nonzero
    /// only after a [`next_event`](Self::next_event) future was dropped in
    /// the middle of a write. The next `next_event`, [`flush`](Self::flush)
    /// or [`close`](Self::close) writes them.
    pub fn unsent_len(&self) -> usize {
        self.unsent.len()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        self.stream
            .as_ref()
            .expect("the stream is present until drop")
    }

    /// The stream, mutably. Reading from it directly takes bytes away from
    /// the machine, and writing to it may interleave with unsent bytes.
    pub fn get_mut(&mut self) -> &mut S {
        self.stream
            .as_mut()
            .expect("the stream is present until drop")
    }

    /// Unwraps the stream, for example to start TLS on it. The `Conn`
    /// keeps no read-ahead buffer, so no input is lost; unsent bytes (see
    /// [`unsent_len`](Self::unsent_len)) are, so [`flush`](Self::flush)
    /// first if a `next_event` may have been cancelled. A connection served
    /// by [`Server`](crate::Server) is no longer closed gracefully by the
    /// server once its stream is taken out.
    pub fn into_inner(self) -> S {
        self.into_parts().0
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Drives `machine` until it produces an event (`Some`) or finishes
    /// (`None`).
    ///
    /// Every `Transmit` the machine produced before the event or the end
    /// has been written and flushed when this returns. Cancel-safe: see
    /// [Cancellation](Self#cancellation).
    pub async fn next_event<M: Machine>(
        &mut self,
        machine: &mut M,
    ) -> Result<Option<M::Event>, DriveError<M::Error>> {
        loop {
            if !self.unsent.is_empty() {
                self.write_unsent(Some(&mut *machine)).await?;
            }
            self.undrained = 0;
            match machine.poll_output(now()) {
                Output::Transmit(bytes) => self.unsent = bytes,
                Output::Event(event) => return Ok(Some(event)),
                Output::Wait { .. } if !self.received.is_empty() => {
                    machine.handle_input(&std::mem::take(&mut self.received));
                }
                Output::Wait { deadline } => self.wait(machine, deadline).await?,
                Output::Done(Ok(())) => return Ok(None),
                Output::Done(Err(error)) => return Err(DriveError::Protocol(error)),
            }
        }
    }

    /// Drives `machine` to the end, handing each event to `on_event`, which
    /// may call the machine's methods (queue a reply, say) before the drive
    /// goes on.
    pub async fn run<M: Machine>(
        &mut self,
        machine: &mut M,
        mut on_event: impl FnMut(&mut M, M::Event),
    ) -> Result<(), DriveError<M::Error>> {
        while let Some(event) = self.next_event(machine).await? {
            on_event(machine, event);
        }
        Ok(())
    }

    /// Writes any unsent bytes (see [`unsent_len`](Self::unsent_len)) and
    /// flushes the stream. A write timeout shows up as an error of kind
    /// [`io::ErrorKind::TimedOut`].
    pub async fn flush(&mut self) -> io::Result<()> {
        self.write_unsent(None::<&mut NoMachine>).await?;
        Ok(())
    }

    /// Closes the connection gracefully: writes unsent bytes, shuts down
    /// the sending side (for TLS, after a `close_notify`), then reads and
    /// discards what the peer still sends until it closes or `linger` runs
    /// out. Closing a socket with unread input makes the kernel send a
    /// reset, which can destroy the last reply before the peer reads it;
    /// this avoids that. A connection served by [`Server`](crate::Server)
    /// is closed this way when its handler drops the `Conn`.
    pub async fn close(&mut self, linger: Duration) -> io::Result<()> {
        // Closed by hand: the server need not close it again.
        self.on_drop = None;
        self.flush().await?;
        close_gracefully(self.get_mut(), linger).await
    }

    /// On `Wait`: reads once (bounded by `deadline`) into the machine.
    async fn wait<M: Machine>(
        &mut self,
        machine: &mut M,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), DriveError<M::Error>> {
        if let Some(error) = self.read_error.take() {
            return Err(DriveError::Io(error));
        }
        if self.input_closed {
            // Nothing more will arrive; only the machine's timer can move it.
            return match deadline {
                Some(deadline) => {
                    tokio::time::sleep_until(Instant::from_std(deadline)).await;
                    Ok(())
                }
                None => Err(DriveError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the machine waits for input after end of input",
                ))),
            };
        }
        let result = match deadline {
            None => poll_fn(|cx| self.poll_input(cx, &mut *machine)).await,
            Some(deadline) => {
                let deadline = Instant::from_std(deadline);
                let mut timer = match self.read_timer.take() {
                    Some(mut timer) => {
                        if timer.deadline() > deadline || timer.is_elapsed() {
                            timer.as_mut().reset(deadline);
                        }
                        timer
                    }
                    None => Box::pin(tokio::time::sleep_until(deadline)),
                };
                // Taken out while waiting: if this future is dropped, the
                // timer goes with it and the next read makes a new one.
                let result = poll_fn(|cx| {
                    if let Poll::Ready(result) = self.poll_input(cx, &mut *machine) {
                        return Poll::Ready(result);
                    }
                    // The timer ran out (maybe before the machine's deadline,
                    // if that moved later): drain again, the machine decides.
                    timer.as_mut().poll(cx).map(Ok)
                })
                .await;
                self.read_timer = Some(timer);
                result
            }
        };
        result.map_err(DriveError::Io)
    }

    /// Reads once into a stack buffer and hands the bytes (or end of
    /// input) to `machine` before returning.
    fn poll_input<M: Machine>(
        &mut self,
        cx: &mut Context<'_>,
        machine: &mut M,
    ) -> Poll<io::Result<()>> {
        let mut buffer = [const { MaybeUninit::<u8>::uninit() }; READ_SIZE];
        let mut read_buf = ReadBuf::uninit(&mut buffer);
        ready!(Pin::new(self.get_mut()).poll_read(cx, &mut read_buf))?;
        let read = read_buf.filled_mut();
        if read.is_empty() {
            self.input_closed = true;
            machine.handle_eof();
        } else {
            self.undrained += read.len();
            machine.handle_input(read);
            // What was read may be a password: the machine has its copy (and
            // zeroes it); the stack keeps none.
            read.zeroize();
        }
        Poll::Ready(Ok(()))
    }

    /// Writes and flushes the unsent bytes. While the stream does not take
    /// them, reads ahead into `machine` (if given), up to [`READ_AHEAD`].
    async fn write_unsent<M: Machine>(
        &mut self,
        mut machine: Option<&mut M>,
    ) -> Result<(), WriteError> {
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            let mut progressed = false;
            loop {
                while !self.unsent.is_empty() {
                    let stream = self
                        .stream
                        .as_mut()
                        .expect("the stream is present until drop");
                    match Pin::new(stream).poll_write(cx, &self.unsent) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(WriteError::Io(
                                io::ErrorKind::WriteZero.into(),
                            )));
                        }
                        Poll::Ready(Ok(written)) => {
                            self.unsent.advance(written);
                            if self.unsent.is_empty() {
                                // Let go of the buffer at once: a machine
                                // that reuses its output buffer can do so
                                // only when nothing else holds it.
                                self.unsent = Bytes::new();
                            }
                            progressed = true;
                        }
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(WriteError::Io(error))),
                        Poll::Pending => break,
                    }
                }
                if self.unsent.is_empty() {
                    match Pin::new(self.get_mut()).poll_flush(cx) {
                        Poll::Ready(result) => return Poll::Ready(result.map_err(WriteError::Io)),
                        Poll::Pending => {}
                    }
                }
                // Blocked on the peer: keep its bytes flowing meanwhile.
                let Some(machine) = machine.as_deref_mut() else {
                    break;
                };
                if self.input_closed || self.read_error.is_some() || self.undrained >= READ_AHEAD {
                    break;
                }
                match self.poll_input(cx, machine) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(error)) => {
                        self.read_error = Some(error);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if let Some(limit) = self.write_timeout {
                let deadline = Instant::now() + limit;
                let timer = match &mut timer {
                    Some(timer) => {
                        if progressed {
                            timer.as_mut().reset(deadline);
                        }
                        timer
                    }
                    None => timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(WriteError::TimedOut));
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// Half-closes `stream`, then reads and discards until the peer closes or
/// `linger` runs out, so the kernel does not answer unread input with a
/// reset that destroys the last reply.
pub(crate) async fn close_gracefully<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    linger: Duration,
) -> io::Result<()> {
    tokio::io::AsyncWriteExt::shutdown(stream).await?;
    if linger.is_zero() {
        return Ok(());
    }
    let discard = poll_fn(|cx| {
        loop {
            let mut buffer = [const { MaybeUninit::<u8>::uninit() }; 1024];
            let mut read_buf = ReadBuf::uninit(&mut buffer);
            ready!(Pin::new(&mut *stream).poll_read(cx, &mut read_buf))?;
            if read_buf.filled().is_empty() {
                return Poll::Ready(Ok::<(), io::Error>(()));
            }
            read_buf.filled_mut().zeroize();
        }
    });
    match tokio::time::timeout(linger, discard).await {
        Ok(result) => result,
        Err(_elapsed) => Ok(()),
    }
}
