//! Drivers for tests: no sockets, no threads, and virtual time.
//!
//! [`transcript`] feeds one machine a list of chunks and records what it
//! did; comparing the transcripts of different splits of the same bytes is
//! how the workspace proves chunking invariance. [`timed_transcript`] does
//! the same with arrival times, and fires the machine's deadlines when the
//! virtual clock reaches them, so a 60-second timeout is tested in no time.
//! [`Pair`] runs a client machine against a server machine, the way two
//! peers would talk over a socket, advancing virtual time only when both
//! wait.
//!
//! Virtual time starts at [`epoch`], an `Instant` taken once per process;
//! only offsets from it matter.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::{Machine, Output};

/// The instant virtual time starts at: the same for every call in a
/// process, so transcripts of two machines can be compared.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// How many deadlines a virtual-time driver fires in a row before it
/// decides the machine is spinning (a machine that keeps asking to be woken
/// with nothing happening).
const MAX_TIMER_FIRINGS: usize = 100_000;

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

/// One thing a machine did, with the `Wait` pauses left out (they depend on
/// how input was chunked; nothing else may).
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

/// Every byte a machine transmitted in `steps`, in order: what its peer
/// read.
///
/// ```
/// use lineproto::testing::{transmitted, Step};
///
/// let steps: Vec<Step<(), lineproto::Error>> =
///     vec![Step::Transmit("ab".into()), Step::Event(()), Step::Transmit("c".into()), Step::Done(Ok(()))];
/// assert_eq!(transmitted(&steps), b"abc");
/// ```
pub fn transmitted<Event, Error>(steps: &[Step<Event, Error>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for step in steps {
        if let Step::Transmit(chunk) = step {
            bytes.extend_from_slice(chunk);
        }
    }
    bytes
}

/// The events in `steps`, in order: what the application was told.
///
/// ```
/// use lineproto::testing::{events, Step};
///
/// let steps: Vec<Step<u8, lineproto::Error>> =
///     vec![Step::Event(1), Step::Transmit("x".into()), Step::Event(2)];
/// assert_eq!(events(&steps), [1, 2]);
/// ```
pub fn events<Event: Clone, Error>(steps: &[Step<Event, Error>]) -> Vec<Event> {
    steps
        .iter()
        .filter_map(|step| match step {
            Step::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

/// Feeds `chunks` to `machine` one at a time, draining after each, then
/// (if `eof`) signals end of input and drains again. Returns every step, in
/// order, up to and including `Done` if the machine finished.
///
/// Everything happens at [`epoch`]: time stands still, so no deadline
/// fires. Use [`timed_transcript`] to test timers.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// # use std::time::Instant;
/// # use lineproto::{LineBuffer, Machine, Output};
/// # #[derive(Debug)] struct Echo(LineBuffer, bool);
/// # impl Machine for Echo {
/// #     type Event = (); type Error = lineproto::Error;
/// #     fn handle_input(&mut self, b: &[u8]) { self.0.extend(b) }
/// #     fn handle_eof(&mut self) { self.1 = true }
/// #     fn poll_output(&mut self, _: Instant) -> Output<(), lineproto::Error> {
/// #         match self.0.next_line() { Some(Ok(l)) => Output::Transmit(l),
/// #             Some(Err(e)) => Output::Done(Err(e)),
/// #             None if self.1 => Output::Done(Ok(())), None => Output::Wait { deadline: None } }
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
    let now = epoch();
    let mut steps = Vec::new();
    if drain_into(&mut machine, now, &mut steps).is_none() {
        return steps;
    }
    for chunk in chunks {
        machine.handle_input(chunk.as_ref());
        if drain_into(&mut machine, now, &mut steps).is_none() {
            return steps;
        }
    }
    if eof {
        machine.handle_eof();
        drain_into(&mut machine, now, &mut steps);
    }
    steps
}

/// What reaches a machine at one moment of a [`timed_transcript`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Bytes from the peer.
    Bytes(Bytes),
    /// End of input.
    Eof,
}

impl From<&[u8]> for Arrival {
    fn from(bytes: &[u8]) -> Self {
        Self::Bytes(Bytes::copy_from_slice(bytes))
    }
}

impl<const N: usize> From<&[u8; N]> for Arrival {
    fn from(bytes: &[u8; N]) -> Self {
        Self::Bytes(Bytes::copy_from_slice(bytes))
    }
}

impl From<&str> for Arrival {
    fn from(text: &str) -> Self {
        Self::Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

/// A [`Step`] and the virtual time it happened at, as an offset from
/// [`epoch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed<Event, Error> {
    /// When, from the start of the exchange.
    pub at: Duration,
    /// What.
    pub step: Step<Event, Error>,
}

/// Runs `machine` on virtual time: each arrival is handed in at its offset
/// from the start (offsets must not decrease), and whenever the machine
/// waits with a deadline that comes before the next arrival, the clock
/// jumps to that deadline and the machine is drained there. After the last
/// arrival, deadlines keep firing until the machine is done or waits with
/// none. Returns every step with its time.
///
/// ```
/// use std::time::{Duration, Instant};
/// use lineproto::testing::{timed_transcript, Step};
/// # use lineproto::{Machine, Output};
/// # #[derive(Debug)] struct Patient { deadline: Option<Instant>, eof: bool }
/// # impl Machine for Patient {
/// #     type Event = (); type Error = lineproto::Error;
/// #     fn handle_input(&mut self, _: &[u8]) {}
/// #     fn handle_eof(&mut self) { self.eof = true }
/// #     fn poll_output(&mut self, now: Instant) -> Output<(), lineproto::Error> {
/// #         let deadline = *self.deadline.get_or_insert(now + Duration::from_secs(10));
/// #         if self.eof { return Output::Done(Ok(())) }
/// #         if now >= deadline { return Output::Done(Err(lineproto::Error::LineTooLong { limit: 0 })) }
/// #         Output::Wait { deadline: Some(deadline) }
/// #     }
/// # }
/// // `Patient` waits 10 s for end of input, then gives up with an error.
/// let early = timed_transcript(Patient { deadline: None, eof: false }, [(Duration::from_secs(9), lineproto::testing::Arrival::Eof)]);
/// assert_eq!(early.last().unwrap().at, Duration::from_secs(9));
/// assert_eq!(early.last().unwrap().step, Step::Done(Ok(())));
///
/// let late = timed_transcript(Patient { deadline: None, eof: false }, [(Duration::from_secs(11), lineproto::testing::Arrival::Eof)]);
/// assert_eq!(late.last().unwrap().at, Duration::from_secs(10));
/// assert!(matches!(late.last().unwrap().step, Step::Done(Err(_))));
/// ```
pub fn timed_transcript<M, I, A>(mut machine: M, arrivals: I) -> Vec<Timed<M::Event, M::Error>>
where
    M: Machine,
    I: IntoIterator<Item = (Duration, A)>,
    A: Into<Arrival>,
{
    let start = epoch();
    let mut timed = Vec::new();
    let mut now = start;
    let Some(mut deadline) = drain_timed(&mut machine, start, now, &mut timed) else {
        return timed;
    };
    for (at, arrival) in arrivals {
        let arrives = start + at;
        if run_timers(
            &mut machine,
            start,
            &mut now,
            deadline,
            Some(arrives),
            &mut timed,
        )
        .is_none()
        {
            return timed;
        }
        now = now.max(arrives);
        match arrival.into() {
            Arrival::Bytes(bytes) => machine.handle_input(&bytes),
            Arrival::Eof => machine.handle_eof(),
        }
        match drain_timed(&mut machine, start, now, &mut timed) {
            Some(next) => deadline = next,
            None => return timed,
        }
    }
    run_timers(&mut machine, start, &mut now, deadline, None, &mut timed);
    timed
}

/// Fires the machine's deadlines that come before `until` (all of them if
/// `None`); returns the deadline it waits on next, or `None` once done.
fn run_timers<M: Machine>(
    machine: &mut M,
    start: Instant,
    now: &mut Instant,
    mut deadline: Option<Instant>,
    until: Option<Instant>,
    timed: &mut Vec<Timed<M::Event, M::Error>>,
) -> Option<Option<Instant>> {
    for _ in 0..MAX_TIMER_FIRINGS {
        match deadline {
            Some(at) if until.is_none_or(|until| at <= until) => {
                *now = (*now).max(at);
                deadline = drain_timed(machine, start, *now, timed)?;
            }
            _ => return Some(deadline),
        }
    }
    panic!("the machine asked to be woken {MAX_TIMER_FIRINGS} times in a row without input");
}

/// Drains at `now`, appending timed steps; returns the deadline the
/// machine waits on, or `None` if it is done.
fn drain_timed<M: Machine>(
    machine: &mut M,
    start: Instant,
    now: Instant,
    timed: &mut Vec<Timed<M::Event, M::Error>>,
) -> Option<Option<Instant>> {
    let mut steps = Vec::new();
    let result = drain_into(machine, now, &mut steps);
    let at = now - start;
    for step in steps {
        match (timed.last_mut(), step) {
            // Merge with an earlier transmit only if nothing came between.
            (
                Some(Timed {
                    step: Step::Transmit(previous),
                    ..
                }),
                Step::Transmit(bytes),
            ) => append(previous, &bytes),
            (_, step) => timed.push(Timed { at, step }),
        }
    }
    result
}

fn append(previous: &mut Bytes, bytes: &[u8]) {
    let mut merged = BytesMut::from(&previous[..]);
    merged.extend_from_slice(bytes);
    *previous = merged.freeze();
}

/// Drains `machine` at `now`, appending to `steps`; returns the deadline it
/// waits on, or `None` if it is done.
fn drain_into<M: Machine>(
    machine: &mut M,
    now: Instant,
    steps: &mut Vec<Step<M::Event, M::Error>>,
) -> Option<Option<Instant>> {
    loop {
        match machine.poll_output(now) {
            Output::Transmit(bytes) => match steps.last_mut() {
                Some(Step::Transmit(previous)) => append(previous, &bytes),
                _ => steps.push(Step::Transmit(bytes)),
            },
            Output::Event(event) => steps.push(Step::Event(event)),
            Output::Wait { deadline } => return Some(deadline),
            Output::Done(result) => {
                steps.push(Step::Done(result));
                return None;
            }
        }
    }
}

/// The steps of a timed transcript without their times: what a timing
/// invariance test compares.
pub fn untimed<Event, Error>(timed: Vec<Timed<Event, Error>>) -> Vec<Step<Event, Error>> {
    let mut steps: Vec<Step<Event, Error>> = Vec::with_capacity(timed.len());
    for Timed { step, .. } in timed {
        match (steps.last_mut(), step) {
            (Some(Step::Transmit(previous)), Step::Transmit(bytes)) => append(previous, &bytes),
            (_, step) => steps.push(step),
        }
    }
    steps
}

/// A client machine and a server machine connected by an in-memory,
/// in-order byte stream: what each transmits, the other receives.
///
/// When one side is done, the other sees end of input once it has read
/// everything sent before. Bytes are delivered in pieces of at most
/// `chunk_size`, so a test can make the transport as fragmented as it likes.
/// Delivery takes no time; virtual time (from [`epoch`]) moves only when
/// both sides wait, straight to the earlier of their deadlines.
///
/// ```
/// use lineproto::testing::Pair;
/// # use lineproto::{LineBuffer, Machine, Output};
/// # #[derive(Debug)] struct Say(Option<&'static str>);
/// # impl Machine for Say {
/// #     type Event = (); type Error = lineproto::Error;
/// #     fn handle_input(&mut self, _: &[u8]) {}
/// #     fn handle_eof(&mut self) {}
/// #     fn poll_output(&mut self, _: std::time::Instant) -> Output<(), lineproto::Error> {
/// #         match self.0.take() { Some(s) => Output::Transmit(s.into()), None => Output::Done(Ok(())) }
/// #     }
/// # }
/// # #[derive(Debug)] struct Hear(LineBuffer, bool);
/// # impl Machine for Hear {
/// #     type Event = bytes::Bytes; type Error = lineproto::Error;
/// #     fn handle_input(&mut self, b: &[u8]) { self.0.extend(b) }
/// #     fn handle_eof(&mut self) { self.1 = true }
/// #     fn poll_output(&mut self, _: std::time::Instant) -> Output<bytes::Bytes, lineproto::Error> {
/// #         match self.0.next_line() { Some(Ok(l)) => Output::Event(l),
/// #             Some(Err(e)) => Output::Done(Err(e)),
/// #             None if self.1 => Output::Done(Ok(())), None => Output::Wait { deadline: None } }
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
    /// Virtual time from the start to when the run stopped.
    pub elapsed: Duration,
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
    /// The deadline of the machine's last `Wait`.
    deadline: Option<Instant>,
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
            deadline: None,
        };
        let mut server = Side::<S> {
            events: Vec::new(),
            result: None,
            deadline: None,
        };
        let start = epoch();
        let mut now = start;
        for _ in 0..self.max_rounds {
            let mut progressed = step(&mut self.client, &mut client, &mut to_server, now);
            progressed |= step(&mut self.server, &mut server, &mut to_client, now);
            progressed |= deliver(&mut self.server, &server, &mut to_server, self.chunk_size);
            progressed |= deliver(&mut self.client, &client, &mut to_client, self.chunk_size);
            if !progressed {
                // Both wait: jump to the earlier deadline, or stop if none.
                let waiting = |side_deadline: Option<Instant>, done: bool| {
                    if done { None } else { side_deadline }
                };
                match crate::earliest(
                    waiting(client.deadline, client.result.is_some()),
                    waiting(server.deadline, server.result.is_some()),
                ) {
                    Some(next) => now = now.max(next),
                    None => break,
                }
            }
        }
        PairOutcome {
            client_events: client.events,
            server_events: server.events,
            client_result: client.result,
            server_result: server.result,
            client_sent: to_server.sent,
            server_sent: to_client.sent,
            elapsed: now - start,
        }
    }
}

/// Drains one machine onto its outgoing wire; returns whether anything
/// happened.
fn step<M: Machine>(
    machine: &mut M,
    side: &mut Side<M>,
    outgoing: &mut Wire,
    now: Instant,
) -> bool {
    if side.result.is_some() {
        return false;
    }
    let mut progressed = false;
    loop {
        match machine.poll_output(now) {
            Output::Transmit(bytes) => {
                outgoing.in_flight.extend_from_slice(&bytes);
                outgoing.sent.extend_from_slice(&bytes);
                progressed = true;
            }
            Output::Event(event) => {
                side.events.push(event);
                progressed = true;
            }
            Output::Wait { deadline } => {
                side.deadline = deadline;
                return progressed;
            }
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
