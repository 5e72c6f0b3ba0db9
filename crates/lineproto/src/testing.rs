//! Drivers for tests: no sockets, no threads, no clock.
//!
//! [`transcript`] feeds one machine a list of chunks and records what it
//! did; comparing the transcripts of different splits of the same bytes is
//! how the workspace proves chunking invariance. [`Pair`] runs a client
//! machine against a server machine, the way two peers would talk over a
//! socket.

use bytes::{Bytes, BytesMut};

use crate::{Machine, Output};

/// Cuts `input` into pieces at `cuts` (each taken modulo the input's
/// length plus one, then sorted): the chunkings a proptest feeds a machine
/// to show that its output does not depend on them.
///
/// ```
/// use lineproto::testing::split;
///
/// assert_eq!(split(b"abcdef", &[4, 2]), [&b"ab"[..], b"cd", b"ef"]);
/// assert_eq!(split(b"ab", &[]), [b"ab"]);
/// ```
pub fn split(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        pieces.push(input[start..cut].to_vec());
        start = cut;
    }
    pieces
}

/// One thing a machine did, with the `NeedInput` pauses left out (they
/// depend on how input was chunked; nothing else may).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<Event, Error> {
    /// Bytes for the peer. Adjacent transmits are merged, since a peer
    /// cannot tell them apart.
    Transmit(Bytes),
    /// An event for the application.
    Event(Event),
    /// The end of the exchange.
    Done(Result<(), Error>),
}

/// Feeds `chunks` to `machine` one at a time, draining after each, then
/// (if `eof`) signals end of input and drains again. Returns every step, in
/// order, up to and including `Done` if the machine finished.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// # use lineproto::{LineBuffer, Machine, Output};
/// # #[derive(Debug)] struct Echo(LineBuffer, bool);
/// # impl Machine for Echo {
/// #     type Event = (); type Error = lineproto::Error;
/// #     fn handle_input(&mut self, b: &[u8]) { self.0.extend(b) }
/// #     fn handle_eof(&mut self) { self.1 = true }
/// #     fn poll_output(&mut self) -> Output<(), lineproto::Error> {
/// #         match self.0.next_line() { Some(Ok(l)) => Output::Transmit(l),
/// #             Some(Err(e)) => Output::Done(Err(e)),
/// #             None if self.1 => Output::Done(Ok(())), None => Output::NeedInput }
/// #     }
/// # }
/// let whole = transcript(Echo(LineBuffer::new(9), false), [&b"ab\ncd\n"[..]], true);
/// let split = transcript(Echo(LineBuffer::new(9), false), [&b"a"[..], b"b\nc", b"d\n"], true);
/// assert_eq!(whole, split);
/// assert_eq!(whole.last(), Some(&Step::Done(Ok(()))));
/// ```
pub fn transcript<M, I, C>(mut machine: M, chunks: I, eof: bool) -> Vec<Step<M::Event, M::Error>>
where
    M: Machine,
    I: IntoIterator<Item = C>,
    C: AsRef<[u8]>,
{
    let mut steps = Vec::new();
    if drain_into(&mut machine, &mut steps) {
        return steps;
    }
    for chunk in chunks {
        machine.handle_input(chunk.as_ref());
        if drain_into(&mut machine, &mut steps) {
            return steps;
        }
    }
    if eof {
        machine.handle_eof();
        drain_into(&mut machine, &mut steps);
    }
    steps
}

/// Drains `machine`, appending to `steps`; returns whether it is done.
fn drain_into<M: Machine>(machine: &mut M, steps: &mut Vec<Step<M::Event, M::Error>>) -> bool {
    loop {
        match machine.poll_output() {
            Output::Transmit(bytes) => match steps.last_mut() {
                Some(Step::Transmit(previous)) => {
                    let mut merged = BytesMut::from(&previous[..]);
                    merged.extend_from_slice(&bytes);
                    *previous = merged.freeze();
                }
                _ => steps.push(Step::Transmit(bytes)),
            },
            Output::Event(event) => steps.push(Step::Event(event)),
            Output::NeedInput => return false,
            Output::Done(result) => {
                steps.push(Step::Done(result));
                return true;
            }
        }
    }
}

/// A client machine and a server machine connected by an in-memory,
/// in-order byte stream: what each transmits, the other receives.
///
/// When one side is done, the other sees end of input once it has read
/// everything sent before. Bytes are delivered in pieces of at most
/// `chunk_size`, so a test can make the transport as fragmented as it likes.
///
/// ```
/// use lineproto::testing::Pair;
/// # use lineproto::{LineBuffer, Machine, Output};
/// # #[derive(Debug)] struct Say(Option<&'static str>);
/// # impl Machine for Say {
/// #     type Event = (); type Error = lineproto::Error;
/// #     fn handle_input(&mut self, _: &[u8]) {}
/// #     fn handle_eof(&mut self) {}
/// #     fn poll_output(&mut self) -> Output<(), lineproto::Error> {
/// #         match self.0.take() { Some(s) => Output::Transmit(s.into()), None => Output::Done(Ok(())) }
/// #     }
/// # }
/// # #[derive(Debug)] struct Hear(LineBuffer, bool);
/// # impl Machine for Hear {
/// #     type Event = bytes::Bytes; type Error = lineproto::Error;
/// #     fn handle_input(&mut self, b: &[u8]) { self.0.extend(b) }
/// #     fn handle_eof(&mut self) { self.1 = true }
/// #     fn poll_output(&mut self) -> Output<bytes::Bytes, lineproto::Error> {
/// #         match self.0.next_line() { Some(Ok(l)) => Output::Event(l),
/// #             Some(Err(e)) => Output::Done(Err(e)),
/// #             None if self.1 => Output::Done(Ok(())), None => Output::NeedInput }
/// #     }
/// # }
/// // `Say` transmits a fixed text and finishes; `Hear` reports each line.
/// let outcome = Pair::new(Say(Some("hi\nthere\n")), Hear(LineBuffer::new(80), false))
///     .chunk_size(1)
///     .run();
/// assert_eq!(outcome.server_events, ["hi", "there"]);
/// assert_eq!(outcome.server_result, Some(Ok(())));
/// ```
#[derive(Debug)]
pub struct Pair<C, S> {
    /// The side that speaks first in most protocols; nothing depends on it.
    pub client: C,
    /// The other side.
    pub server: S,
    chunk_size: usize,
    max_rounds: usize,
}

/// What happened when a [`Pair`] ran.
#[derive(Debug)]
pub struct PairOutcome<C: Machine, S: Machine> {
    /// The client's events, in order.
    pub client_events: Vec<C::Event>,
    /// The server's events, in order.
    pub server_events: Vec<S::Event>,
    /// How the client ended, if it did.
    pub client_result: Option<Result<(), C::Error>>,
    /// How the server ended, if it did.
    pub server_result: Option<Result<(), S::Error>>,
    /// Every byte the client sent.
    pub client_sent: Vec<u8>,
    /// Every byte the server sent.
    pub server_sent: Vec<u8>,
}

/// One direction of the in-memory connection.
#[derive(Debug, Default)]
struct Wire {
    in_flight: BytesMut,
    sent: Vec<u8>,
    /// The sender is done: after `in_flight` the receiver sees end of input.
    closed: bool,
    eof_delivered: bool,
}

struct Side<M: Machine> {
    events: Vec<M::Event>,
    result: Option<Result<(), M::Error>>,
}

impl<C: Machine, S: Machine> Pair<C, S> {
    /// Connects two machines. Bytes travel in pieces of up to 4 KiB.
    pub fn new(client: C, server: S) -> Self {
        Self {
            client,
            server,
            chunk_size: 4096,
            max_rounds: 1_000_000,
        }
    }

    /// Sets the largest piece a read delivers (at least 1).
    pub fn chunk_size(mut self, chunk_size: usize) -> Self {
        self.chunk_size = chunk_size.max(1);
        self
    }

    /// Runs both machines until both are done or neither can make progress
    /// (each waits for input the other will never send).
    pub fn run(mut self) -> PairOutcome<C, S> {
        let mut to_server = Wire::default();
        let mut to_client = Wire::default();
        let mut client = Side::<C> {
            events: Vec::new(),
            result: None,
        };
        let mut server = Side::<S> {
            events: Vec::new(),
            result: None,
        };
        for _ in 0..self.max_rounds {
            let mut progressed = step(&mut self.client, &mut client, &mut to_server);
            progressed |= step(&mut self.server, &mut server, &mut to_client);
            progressed |= deliver(&mut self.server, &server, &mut to_server, self.chunk_size);
            progressed |= deliver(&mut self.client, &client, &mut to_client, self.chunk_size);
            if !progressed {
                break;
            }
        }
        PairOutcome {
            client_events: client.events,
            server_events: server.events,
            client_result: client.result,
            server_result: server.result,
            client_sent: to_server.sent,
            server_sent: to_client.sent,
        }
    }
}

/// Drains one machine onto its outgoing wire; returns whether anything
/// happened.
fn step<M: Machine>(machine: &mut M, side: &mut Side<M>, outgoing: &mut Wire) -> bool {
    if side.result.is_some() {
        return false;
    }
    let mut progressed = false;
    loop {
        match machine.poll_output() {
            Output::Transmit(bytes) => {
                outgoing.in_flight.extend_from_slice(&bytes);
                outgoing.sent.extend_from_slice(&bytes);
                progressed = true;
            }
            Output::Event(event) => {
                side.events.push(event);
                progressed = true;
            }
            Output::NeedInput => return progressed,
            Output::Done(result) => {
                side.result = Some(result);
                outgoing.closed = true;
                return true;
            }
        }
    }
}

/// Hands one piece of `incoming` to `machine`, or end of input once the
/// sender is done and everything has arrived.
fn deliver<M: Machine>(
    machine: &mut M,
    side: &Side<M>,
    incoming: &mut Wire,
    chunk_size: usize,
) -> bool {
    if side.result.is_some() {
        // A finished machine has closed its socket: what is in flight is lost.
        incoming.in_flight.clear();
        return false;
    }
    if !incoming.in_flight.is_empty() {
        let take = chunk_size.min(incoming.in_flight.len());
        let piece = incoming.in_flight.split_to(take);
        machine.handle_input(&piece);
        return true;
    }
    if incoming.closed && !incoming.eof_delivered {
        incoming.eof_delivered = true;
        machine.handle_eof();
        return true;
    }
    false
}
