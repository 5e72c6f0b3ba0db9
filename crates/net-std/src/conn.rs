//! Driving one machine over one byte stream.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lineproto::{Machine, Output};
use zeroize::Zeroize;

/// How much one read asks for. Together with the machine's own limits this
/// bounds what a connection can make the process hold.
pub const READ_SIZE: usize = 8 * 1024;

/// Why driving a machine stopped early.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DriveError<E> {
    /// A write blocked longer than the stream's write timeout: the peer
    /// stopped reading. (Read deadlines belong to the machine, which ends
    /// with its own error.)
    #[error("timed out writing to the peer")]
    TimedOut,
    /// Reading or writing failed.
    #[error("i/o error")]
    Io(#[source] io::Error),
    /// The machine ended the exchange with an error.
    #[error("protocol error")]
    Protocol(#[source] E),
    /// The [`Server`](crate::Server) cut the connection: its shutdown grace
    /// period ran out, or it was shut down at once. Whatever the peer had
    /// sent of an unfinished request was not handed to the machine as a
    /// complete one.
    #[error("cut by the server's shutdown")]
    Cut,
}

impl<E> From<io::Error> for DriveError<E> {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            // A socket timeout shows up as WouldBlock on Unix, TimedOut on Windows.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Self::TimedOut,
            _ => Self::Io(error),
        }
    }
}

/// A stream whose reads can be limited in time: how [`Conn`] wakes a
/// machine at its deadline while blocked in a read.
///
/// Implemented for `TcpStream` and `UnixStream`; a TLS stream forwards to
/// the socket under it. A stream that cannot time out (an in-memory one in
/// a test) may do nothing and return `Ok(())`: its reads then never block.
pub trait ReadTimeout {
    /// Limits how long each following read may block; `None`: forever.
    /// Never called with a zero duration.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Switches reads to non-blocking (`true`: a read with no data at hand
    /// fails with `WouldBlock`) and back.
    ///
    /// Optional: [`Conn`] uses it to meet deadlines to within a fraction of
    /// a millisecond (a socket's read timeout runs on the kernel's tick and
    /// may end a whole tick late). The default says `Unsupported`, and
    /// deadlines are then met to within a tick.
    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        let _ = nonblocking;
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_read_timeout(self, timeout)
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        Self::set_nonblocking(self, nonblocking)
    }
}

#[cfg(unix)]
impl ReadTimeout for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_read_timeout(self, timeout)
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        Self::set_nonblocking(self, nonblocking)
    }
}

impl<T: ReadTimeout + ?Sized> ReadTimeout for &mut T {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        (**self).set_nonblocking(nonblocking)
    }
}

impl<T: ReadTimeout + ?Sized> ReadTimeout for Box<T> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        (**self).set_nonblocking(nonblocking)
    }
}

/// Socket read timeouts run on the kernel's tick (4 ms at `HZ=250`, 10 ms
/// at `HZ=100`) and may end up to a tick late. So a read blocks on the
/// socket only until this long before a deadline; the rest is slept
/// (`nanosleep` runs on high-resolution timers) and then read without
/// blocking. An auth server holding every failure reply to one deadline
/// thus sends them all within a fraction of a millisecond of it, instead
/// of early or late by the phase of the tick, which told failure classes
/// apart.
const TICK_MARGIN: Duration = Duration::from_millis(10);

/// How long a read may block on the socket when `left` remains before the
/// margin. The kernel's timer wheel rounds a long timeout up to the
/// granularity of its level, each level eight times coarser than the one
/// below, so a socket timeout can end up to an eighth of its length late:
/// a 60 s idle timeout armed whole ended 0.5–1.9 s late under load, and a
/// 3 s one 140 ms late on an idle machine. Arming eight ninths of what is
/// left keeps even that lateness before the margin; the read that times
/// out early is re-armed for the rest, which shrinks ninefold each time
/// (seven wakes for a minute, then the precise last stretch).
fn read_timeout(left: Duration) -> Duration {
    // Never zero: a zero socket timeout means "no timeout".
    (left / 9 * 8).max(Duration::from_micros(1))
}

/// How a [`Server`](crate::Server) tells the [`Conn`] of a connection
/// that it cut it. A cut socket reads as the peer's end of input and
/// writes as a broken pipe; without this, a machine would take the cut for
/// the peer's doing (answer half a line as if the peer had ended it, say),
/// and a drive sleeping towards a deadline after the end of input would
/// not notice the cut at all.
#[derive(Debug, Default)]
pub(crate) struct Cut {
    done: Mutex<bool>,
    woken: Condvar,
}

impl Cut {
    /// Marks the connection cut and wakes a drive that sleeps. Called before
    /// the socket is shut down, so a read it ends sees the mark.
    pub(crate) fn cut(&self) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.woken.notify_all();
    }

    pub(crate) fn is_cut(&self) -> bool {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps until `deadline` or the cut, whichever comes first; whether
    /// it was the cut.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        let left = deadline.saturating_duration_since(Instant::now());
        let (done, _) = self
            .woken
            .wait_timeout_while(done, left, |done| !*done)
            .unwrap_or_else(PoisonError::into_inner);
        *done
    }
}

/// A re-armed socket timeout that is off by less than this is left as it
/// is: in the common case (an idle timer restarted by each line) the
/// timeout stays the same and no system call is made per read.
const REARM_SLACK: Duration = Duration::from_millis(1);

/// A byte stream that drives [`Machine`]s: the loop of the
/// [machine contract](Machine#call-order), written once.
///
/// Works over anything `Read + Write +` [`ReadTimeout`]: a `TcpStream`, a
/// `UnixStream`, or an in-memory stream in a test. The clock is read here,
/// and only here: each drain gets `Instant::now()`, and while the machine
/// waits with a deadline, reads block no longer than until then (the
/// socket's read timeout is set from the deadline), after which the
/// machine is drained again and decides. Writes are limited by the
/// stream's write timeout ([`crate::connect`] and [`crate::Server`] set
/// it); a write that times out ends the drive with [`DriveError::TimedOut`].
///
/// After the end of input the machine is told once
/// ([`handle_eof`](Machine::handle_eof)); if it still waits, with a
/// deadline (a reply held back until then), the drive sleeps until the
/// deadline without reading, and without one it ends with an
/// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error, since nothing
/// more can arrive.
///
/// ```
/// use std::io::Cursor;
/// use net_std::Conn;
/// use reverse_proto::server::{Event, Options, Server};
///
/// // A "stream" whose reads return the request and whose writes are kept.
/// struct Fake { input: Cursor<Vec<u8>>, output: Vec<u8> }
/// impl std::io::Read for Fake {
///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> { self.input.read(buf) }
/// }
/// impl std::io::Write for Fake {
///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> { self.output.write(buf) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// // Its reads never block, so there is nothing to time out.
/// impl net_std::ReadTimeout for Fake {
///     fn set_read_timeout(&mut self, _: Option<std::time::Duration>) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let fake = Fake { input: Cursor::new(b"jack frost\n".to_vec()), output: Vec::new() };
/// let mut conn = Conn::new(fake);
/// let mut events = Vec::new();
/// conn.run(&mut Server::new(Options::default()), |_, event| events.push(event))?;
/// assert_eq!(conn.get_ref().output, b"tsorf kcaj\n");
/// assert_eq!(events[0], Event::Received("jack frost".into()));
/// # Ok::<(), net_std::DriveError<reverse_proto::Error>>(())
/// ```
#[derive(Debug)]
pub struct Conn<S> {
    stream: S,
    read_buffer: Box<[u8]>,
    /// The read timeout last set on the stream; `None` if unknown (never
    /// set here, or the stream was lent out with `get_mut`).
    armed: Option<Option<Duration>>,
    /// Bytes already read from the stream by someone else (the bytes after
    /// a PROXY header), handed to the machine before reading any more.
    received: Vec<u8>,
    /// Whether the stream reads without blocking on request
    /// ([`ReadTimeout::set_nonblocking`]); cleared on its first refusal.
    precise: bool,
    /// Whether the stream has reported the end of input, which the
    /// machine has been told of.
    input_closed: bool,
    /// Set by [`Server`](crate::Server) for the connections it serves.
    cut: Option<Arc<Cut>>,
}

impl<S: Read + Write + ReadTimeout> Conn<S> {
    /// Wraps a stream. Its read timeout is managed from now on.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            read_buffer: vec![0; READ_SIZE].into_boxed_slice(),
            armed: None,
            received: Vec::new(),
            precise: true,
            input_closed: false,
            cut: None,
        }
    }

    /// Ends drives with [`DriveError::Cut`] once the server cuts the
    /// connection.
    pub(crate) fn watch_cut(&mut self, cut: Arc<Cut>) {
        self.cut = Some(cut);
    }

    /// The server's mark of a cut, for a `Conn` layered on this one.
    #[cfg(feature = "tls")]
    pub(crate) fn cut_watched(&self) -> Option<Arc<Cut>> {
        self.cut.clone()
    }

    /// Whether the [`Server`](crate::Server) serving this connection has
    /// cut it: its shutdown grace period ended, or it was shut down at
    /// once. A handler that does its own I/O on the stream (a TLS
    /// handshake, say) can tell the cut from a failure of the peer's. Always
    /// `false` for a `Conn` made outside a server.
    pub fn is_cut(&self) -> bool {
        self.cut.as_ref().is_some_and(|cut| cut.is_cut())
    }

    /// The error a failed read or write ends the drive with: the server's
    /// cut, if it was one.
    fn failed<E>(&self, error: io::Error) -> DriveError<E> {
        if self.is_cut() {
            DriveError::Cut
        } else {
            error.into()
        }
    }

    /// Queues bytes that were read from the stream before this `Conn` took
    /// it over: the machine gets them before anything read from now on.
    pub fn push_received(&mut self, bytes: impl AsRef<[u8]>) {
        self.received.extend_from_slice(bytes.as_ref());
    }

    /// Takes the bytes queued by [`push_received`](Self::push_received)
    /// that the machine has not had yet: when the stream changes hands at
    /// once (implicit TLS after a PROXY header), they are the start of what
    /// the new owner reads.
    #[cfg(feature = "tls")]
    pub(crate) fn take_received(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.received)
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably; reading from it directly takes bytes away from
    /// the machine.
    pub fn get_mut(&mut self) -> &mut S {
        // The caller may change the stream's timeouts.
        self.armed = None;
        &mut self.stream
    }

    /// Unwraps the stream. Its read timeout is whatever the last drive
    /// left.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Drives `machine` until it produces an event (`Some`) or finishes
    /// (`None`). Every `Transmit` is written before this returns; the stream
    /// is flushed before each read and at the end.
    pub fn next_event<M: Machine>(
        &mut self,
        machine: &mut M,
    ) -> Result<Option<M::Event>, DriveError<M::Error>> {
        loop {
            match machine.poll_output(Instant::now()) {
                Output::Transmit(bytes) => {
                    let written = self.stream.write_all(&bytes);
                    written.map_err(|error| self.failed(error))?;
                }
                Output::Event(event) => return Ok(Some(event)),
                Output::Wait { .. } if !self.received.is_empty() => {
                    machine.handle_input(&std::mem::take(&mut self.received));
                }
                Output::Wait { deadline } => {
                    let flushed = self.stream.flush();
                    flushed.map_err(|error| self.failed(error))?;
                    if self.input_closed {
                        self.sleep_after_eof(deadline)?;
                        continue;
                    }
                    let read = self.read_until(deadline);
                    match read.map_err(|error| self.failed(error))? {
                        Some(0) if self.is_cut() => return Err(DriveError::Cut),
                        Some(0) => {
                            self.input_closed = true;
                            machine.handle_eof();
                        }
                        Some(read) => {
                            machine.handle_input(&self.read_buffer[..read]);
                            // What was read may be a password: the machine
                            // has its copy (and zeroes it); the buffer keeps
                            // none.
                            self.read_buffer[..read].zeroize();
                        }
                        // The deadline came: drain again, the machine decides.
                        None => {}
                    }
                }
                Output::Done(result) => {
                    let flushed = self.stream.flush();
                    flushed.map_err(|error| self.failed(error))?;
                    return result.map(|()| None).map_err(DriveError::Protocol);
                }
            }
        }
    }

    /// Drives `machine` to the end, handing each event to `on_event`, which
    /// may call the machine's methods (queue a command, say) before the
    /// drive goes on.
    pub fn run<M: Machine>(
        &mut self,
        machine: &mut M,
        mut on_event: impl FnMut(&mut M, M::Event),
    ) -> Result<(), DriveError<M::Error>> {
        while let Some(event) = self.next_event(machine)? {
            on_event(machine, event);
        }
        Ok(())
    }

    /// The machine waits after the end of input: nothing more can be read,
    /// so only its deadline can move it. Sleeps until then (or the server's
    /// cut) instead of reading the end of input again and again.
    fn sleep_after_eof<E>(&self, deadline: Option<Instant>) -> Result<(), DriveError<E>> {
        let Some(deadline) = deadline else {
            return Err(DriveError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the machine waits for input after the end of input",
            )));
        };
        match &self.cut {
            Some(cut) if cut.sleep_until(deadline) => Err(DriveError::Cut),
            Some(_) => Ok(()),
            None => {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                Ok(())
            }
        }
    }

    /// Reads once, blocking until data, end of input (`Some(0)`), or the
    /// deadline (`None`).
    fn read_until(&mut self, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        loop {
            let timeout = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    if left <= TICK_MARGIN && self.precise {
                        match self.sleep_then_read(left) {
                            Err(error) if error.kind() == io::ErrorKind::Unsupported => {
                                self.precise = false;
                            }
                            done => return done,
                        }
                    }
                    Some(if left > TICK_MARGIN {
                        read_timeout(left - TICK_MARGIN)
                    } else {
                        // Cannot read without blocking: the last stretch
                        // ends on the tick.
                        left
                    })
                }
                None => None,
            };
            self.arm(timeout)?;
            match self.stream.read(&mut self.read_buffer) {
                Ok(read) => return Ok(Some(read)),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // The socket timeout ran out: the deadline is here, or
                // (with the slack of `arm`) within a millisecond.
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && deadline.is_some() =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The last stretch before a deadline: sleeps it precisely, then takes
    /// what arrived meanwhile (`Some`) or nothing (`None`) without
    /// blocking. `Unsupported` if the stream cannot read without blocking.
    fn sleep_then_read(&mut self, left: Duration) -> io::Result<Option<usize>> {
        self.stream.set_nonblocking(true)?;
        std::thread::sleep(left);
        let read = loop {
            match self.stream.read(&mut self.read_buffer) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        self.stream.set_nonblocking(false)?;
        match read {
            Ok(read) => Ok(Some(read)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn arm(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let close_enough = match (self.armed, timeout) {
            (Some(Some(armed)), Some(wanted)) => armed.abs_diff(wanted) <= REARM_SLACK,
            (Some(None), None) => true,
            _ => false,
        };
        if !close_enough {
            self.stream.set_read_timeout(timeout)?;
            self.armed = Some(timeout);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However late the timer wheel ends a socket timeout (an eighth of
    /// its length at most), it ends before the margin, and a deadline
    /// however far away takes few wakes to reach.
    #[test]
    fn a_socket_timeout_ends_before_the_margin_despite_the_timer_wheel() {
        for millis in [11, 12, 20, 100, 999, 3_000, 30_000, 60_000, 3_600_000] {
            let mut left = Duration::from_millis(millis);
            let mut wakes = 0;
            while left > TICK_MARGIN {
                let timeout = read_timeout(left - TICK_MARGIN);
                let worst = timeout + timeout / 8;
                assert!(!timeout.is_zero());
                // The floor of 1 µs only applies within a microsecond of
                // the margin, whose own 10 ms cover a tick's lateness.
                let floor = timeout == Duration::from_micros(1);
                assert!(
                    floor || worst <= left - TICK_MARGIN,
                    "{left:?}: {timeout:?}"
                );
                left -= worst;
                wakes += 1;
            }
            assert!(wakes <= 12, "{millis} ms: {wakes} wakes");
        }
    }
}
