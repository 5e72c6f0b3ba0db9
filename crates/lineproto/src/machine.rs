//! The contract between a protocol machine and the code that drives it.

use bytes::Bytes;

/// What a [`Machine`] wants its driver to do next.
///
/// A driver calls [`Machine::poll_output`] repeatedly ("drains" the machine)
/// until it returns [`Output::NeedInput`] or [`Output::Done`]. Everything a
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
    /// The machine is drained: read from the peer, then call
    /// [`Machine::handle_input`] or [`Machine::handle_eof`].
    NeedInput,
    /// The exchange is over. Every `Transmit` handed out before this has to
    /// reach the peer; then the driver closes the connection. `Done` is
    /// sticky: polling again returns the same value.
    Done(Result<(), Error>),
}

impl<Event, Error> Output<Event, Error> {
    /// Whether this output ends a drain (`NeedInput` or `Done`).
    ///
    /// ```
    /// use lineproto::Output;
    /// let need: Output<(), std::fmt::Error> = Output::NeedInput;
    /// assert!(need.ends_drain());
    /// assert!(!Output::<(), std::fmt::Error>::Transmit("hi".into()).ends_drain());
    /// ```
    pub fn ends_drain(&self) -> bool {
        matches!(self, Self::NeedInput | Self::Done(_))
    }
}

/// A Sans-IO protocol machine: it is fed bytes and drained of bytes and
/// events, and never touches a socket, a clock or a file.
///
/// # Call order
///
/// 1. Drain: call [`poll_output`](Machine::poll_output) until it returns
///    [`Output::NeedInput`] or [`Output::Done`]. Write every
///    [`Output::Transmit`] to the peer as it comes; hand every
///    [`Output::Event`] to the application, which may call the machine's own
///    methods (for example to queue a command) before the next poll.
/// 2. On `NeedInput`, read from the peer. Pass what was read to
///    [`handle_input`](Machine::handle_input); on end of input call
///    [`handle_eof`](Machine::handle_eof) instead. Then drain again (step 1).
/// 3. On `Done`, the exchange is over: close the connection. `Done` is
///    sticky, and input handed in after it is ignored.
///
/// Every call that changes the machine (`handle_input`, `handle_eof`, or a
/// machine-specific method such as queueing a command) must be followed by a
/// full drain. `handle_input` only stores bytes; all parsing happens while
/// draining, so `handle_input` cannot fail and the outputs do not depend on
/// how the input was split into chunks.
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
/// This is the whole of a driver, here over in-memory buffers. `Upper` is a
/// toy machine that answers each line with its upper-case form and stops at
/// end of input.
///
/// ```
/// use bytes::Bytes;
/// use lineproto::{LineBuffer, Machine, Output};
///
/// #[derive(Debug)]
/// struct Upper { lines: LineBuffer, eof: bool }
///
/// impl Machine for Upper {
///     type Event = String;
///     type Error = lineproto::Error;
///     fn handle_input(&mut self, bytes: &[u8]) { self.lines.extend(bytes) }
///     fn handle_eof(&mut self) { self.eof = true }
///     fn poll_output(&mut self) -> Output<String, lineproto::Error> {
///         match self.lines.next_line() {
///             Some(Ok(line)) => Output::Transmit(Bytes::from(line.to_ascii_uppercase())),
///             Some(Err(error)) => Output::Done(Err(error)),
///             None if self.eof => Output::Done(Ok(())),
///             None => Output::NeedInput,
///         }
///     }
/// }
///
/// let mut machine = Upper { lines: LineBuffer::new(80), eof: false };
/// let mut reads: Vec<&[u8]> = vec![b"hello\nwor", b"ld\n"];
/// reads.reverse();
/// let mut written = Vec::new();
/// loop {
///     match machine.poll_output() {
///         Output::Transmit(bytes) => written.extend_from_slice(&bytes),
///         Output::Event(event) => println!("event: {event}"),
///         Output::NeedInput => match reads.pop() {
///             Some(chunk) => machine.handle_input(chunk),
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

    /// Returns the next thing to do. See the [call order](Machine#call-order).
    fn poll_output(&mut self) -> Output<Self::Event, Self::Error>;
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

    fn poll_output(&mut self) -> Output<Self::Event, Self::Error> {
        (**self).poll_output()
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

    fn poll_output(&mut self) -> Output<Self::Event, Self::Error> {
        (**self).poll_output()
    }
}
