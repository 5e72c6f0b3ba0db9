//! The contract between a protocol machine and the code that drives it.

use std::time::Instant;

use bytes::Bytes;

/// What a [`Machine`] wants its driver to do next.
///
/// A driver calls [`Machine::poll_output`] repeatedly ("drains" the machine)
/// until it returns [`Output::Wait`] or [`Output::Done`]. Everything a
/// machine produces comes out of this one queue, so the order of "send the
/// banner", "send the prompt", "tell the application" and "close" is the
/// protocol's order and no driver can reorder it.
#[must_use = "a machine's output must be acted on: dropping a Transmit loses protocol bytes"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<Event, Error> {
    /// Write all of these bytes to the peer, in order, before acting on
    /// any later output.
    Transmit(Bytes),
    /// Tell the application something. The application may call the
    /// machine's own methods in reply before polling again.
    Event(Event),
    /// The machine is drained. Read from the peer and pass what arrives to
    /// [`Machine::handle_input`] or [`Machine::handle_eof`], then drain
    /// again. If nothing arrives by `deadline`, drain again at `deadline`
    /// anyway: that is how a machine's timer fires. `None` means the
    /// machine has no timer running and waits for the peer alone.
    Wait {
        /// When to drain again even if the peer stays silent.
        deadline: Option<Instant>,
    },
    /// The exchange is over. Every `Transmit` handed out before this has to
    /// reach the peer; then the driver closes the connection. `Done` is
    /// sticky: polling again returns the same value.
    Done(Result<(), Error>),
}

/// The earlier of two optional deadlines, `None` meaning "no deadline": for
/// machines that run several timers and report the next one.
///
/// ```
/// use std::time::{Duration, Instant};
/// use lineproto::earliest;
///
/// let now = Instant::now();
/// let soon = now + Duration::from_secs(1);
/// assert_eq!(earliest(Some(now), Some(soon)), Some(now));
/// assert_eq!(earliest(None, Some(soon)), Some(soon));
/// assert_eq!(earliest(None, None), None);
/// ```
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A Sans-IO protocol machine: it is fed bytes and the time, and drained of
/// bytes, events and deadlines. It never touches a socket, a clock or a
/// file.
///
/// # Call order
///
/// 1. Drain: call [`poll_output`](Machine::poll_output) with the current
///    time until it returns [`Output::Wait`] or [`Output::Done`]. Write
///    every [`Output::Transmit`] to the peer as it comes; hand every
///    [`Output::Event`] to the application, which may call the machine's own
///    methods (for example to queue a command) before the next poll.
/// 2. On `Wait`, read from the peer, for no longer than its `deadline`.
///    Pass what was read to [`handle_input`](Machine::handle_input); on end
///    of input call [`handle_eof`](Machine::handle_eof) instead; if the
///    deadline passed with nothing read, call nothing. Then drain again
///    (step 1), with the time as it is now.
/// 3. On `Done`, the exchange is over: close the connection. `Done` is
///    sticky, and input handed in after it is ignored.
///
/// Every call that changes the machine (`handle_input`, `handle_eof`, or a
/// machine-specific method such as queueing a command) must be followed by a
/// full drain. `handle_input` only stores bytes; all parsing happens while
/// draining, so `handle_input` cannot fail and the outputs do not depend on
/// how the input was split into chunks.
///
/// # Time
///
/// The driver owns the clock; the machine owns its deadlines. Time enters
/// in exactly one place, the `now` of each drain: bytes handed in count as
/// having arrived at the next drain's `now`, a timer started during a drain
/// starts at its `now`, and a deadline has passed once a drain's `now`
/// reaches it. The first drain's `now` is when the exchange began (for a
/// server, when the connection was accepted). `now` must never go
/// backwards. A test driver can therefore run a machine on virtual time
/// (see [`testing`](crate::testing)) and check a 60-second timeout in no
/// time at all.
///
/// # Memory
///
/// A machine buffers at most its configured limits plus the bytes handed to
/// a single `handle_input` call. A driver that reads a bounded amount
/// (the std adapter reads 8 KiB) and drains after each read therefore holds
/// a bounded amount of memory per connection, whatever the peer sends.
///
/// # The driver loop
///
/// This is the whole of a driver, here over in-memory reads on virtual
/// time. `Upper` is a toy machine that answers each line with its
/// upper-case form, stops at end of input, and gives up when the next line
/// takes more than 5 seconds to arrive.
///
/// ```
/// use std::time::{Duration, Instant};
/// use bytes::Bytes;
/// use lineproto::{LineBuffer, Machine, Output};
///
/// #[derive(Debug)]
/// struct Upper { lines: LineBuffer, eof: bool, deadline: Option<Instant> }
///
/// impl Machine for Upper {
///     type Event = String;
///     type Error = lineproto::Error;
///     fn handle_input(&mut self, bytes: &[u8]) { self.lines.extend(bytes) }
///     fn handle_eof(&mut self) { self.eof = true }
///     fn poll_output(&mut self, now: Instant) -> Output<String, lineproto::Error> {
///         let deadline = *self.deadline.get_or_insert(now + Duration::from_secs(5));
///         match self.lines.next_line() {
///             Some(Ok(line)) => {
///                 self.deadline = Some(now + Duration::from_secs(5));
///                 Output::Transmit(Bytes::from(line.to_ascii_uppercase()))
///             }
///             Some(Err(error)) => Output::Done(Err(error)),
///             None if self.eof => Output::Done(Ok(())),
///             // Too slow: give up quietly.
///             None if now >= deadline => Output::Done(Ok(())),
///             None => Output::Wait { deadline: Some(deadline) },
///         }
///     }
/// }
///
/// let mut machine = Upper { lines: LineBuffer::new(80), eof: false, deadline: None };
/// // What the peer sends, and when (in seconds from the start).
/// let mut reads: Vec<(u64, &[u8])> = vec![(1, b"hello\nwor"), (3, b"ld\n")];
/// reads.reverse();
/// let start = Instant::now();
/// let mut now = start;
/// let mut written = Vec::new();
/// loop {
///     match machine.poll_output(now) {
///         Output::Transmit(bytes) => written.extend_from_slice(&bytes),
///         Output::Event(event) => println!("event: {event}"),
///         Output::Wait { deadline } => match reads.pop() {
///             // A real driver reads with a timeout of `deadline - now`.
///             Some((at, chunk)) => {
///                 now = start + Duration::from_secs(at);
///                 assert!(deadline.is_none_or(|deadline| now < deadline));
///                 machine.handle_input(chunk);
///             }
///             None => machine.handle_eof(),
///         },
///         Output::Done(result) => {
///             result.expect("the exchange ends cleanly");
///             break;
///         }
///     }
/// }
/// assert_eq!(written, b"HELLOWORLD");
/// ```
pub trait Machine {
    /// What the machine tells the application.
    type Event: core::fmt::Debug;
    /// Why an exchange failed. Cloned because [`Output::Done`] is sticky.
    type Error: std::error::Error + Clone + Send + Sync + 'static;

    /// Hands the machine bytes read from the peer. Only buffers; never fails.
    fn handle_input(&mut self, bytes: &[u8]);

    /// Tells the machine the peer will send nothing more.
    fn handle_eof(&mut self);

    /// Returns the next thing to do, as of `now`. See the
    /// [call order](Machine#call-order) and [time](Machine#time).
    fn poll_output(&mut self, now: Instant) -> Output<Self::Event, Self::Error>;
}

impl<M: Machine + ?Sized> Machine for &mut M {
    type Event = M::Event;
    type Error = M::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        (**self).handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        (**self).handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<Self::Event, Self::Error> {
        (**self).poll_output(now)
    }
}

impl<M: Machine + ?Sized> Machine for Box<M> {
    type Event = M::Event;
    type Error = M::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        (**self).handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        (**self).handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<Self::Event, Self::Error> {
        (**self).poll_output(now)
    }
}
