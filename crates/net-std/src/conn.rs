//! Driving one machine over one byte stream.

use std::io::{self, Read, Write};

use lineproto::{Machine, Output};

/// How much one read asks for. Together with the machine's own limits this
/// bounds what a connection can make the process hold.
pub const READ_SIZE: usize = 8 * 1024;

/// Why driving a machine stopped early.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DriveError<E> {
    /// A read or write timed out (the stream's read or write timeout).
    #[error("timed out waiting for the peer")]
    TimedOut,
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
    /// The machine ended the exchange with an error.
    #[error("protocol error: {0}")]
    Protocol(#[source] E),
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

/// A byte stream that drives [`Machine`]s: the loop of the
/// [machine contract](Machine#call-order), written once.
///
/// Works over anything `Read + Write`: a `TcpStream`, a `UnixStream`, or an
/// in-memory stream in a test. Timeouts are the stream's own (for TCP,
/// `set_read_timeout` and `set_write_timeout`; [`crate::connect`] and
/// [`crate::Server`] set them); a timeout ends the drive with
/// [`DriveError::TimedOut`].
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
}

impl<S: Read + Write> Conn<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            read_buffer: vec![0; READ_SIZE].into_boxed_slice(),
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably; reading from it directly takes bytes away from
    /// the machine.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Unwraps the stream.
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
            match machine.poll_output() {
                Output::Transmit(bytes) => self.stream.write_all(&bytes)?,
                Output::Event(event) => return Ok(Some(event)),
                Output::NeedInput => {
                    self.stream.flush()?;
                    match self.read()? {
                        0 => machine.handle_eof(),
                        read => machine.handle_input(&self.read_buffer[..read]),
                    }
                }
                Output::Done(result) => {
                    self.stream.flush()?;
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

    fn read(&mut self) -> io::Result<usize> {
        loop {
            match self.stream.read(&mut self.read_buffer) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}
