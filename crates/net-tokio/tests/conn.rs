//! `Conn` over in-memory streams: deadlines on virtual time, cancellation,
//! reading while writing, and what a connection holds.

mod common;

use std::error::Error as _;
use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{EchoEvent, EchoLine, TestError};
use lineproto::{Machine, Output};
use net_tokio::{Conn, DriveError, READ_AHEAD, READ_SIZE};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Waits until a deadline 5 s after its first drain, and records the `now`
/// of every drain.
#[derive(Debug, Default)]
struct Timer {
    drains: Vec<Instant>,
    deadline: Option<Instant>,
    input: Vec<u8>,
}

impl Machine for Timer {
    type Event = ();
    type Error = TestError;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    fn handle_eof(&mut self) {}

    fn poll_output(&mut self, now: Instant) -> Output<(), TestError> {
        self.drains.push(now);
        let deadline = *self.deadline.get_or_insert(now + Duration::from_secs(5));
        if now >= deadline {
            Output::Done(Ok(()))
        } else {
            Output::Wait {
                deadline: Some(deadline),
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_machine_is_drained_again_at_its_deadline() {
    let (ours, _theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    let mut timer = Timer::default();
    let start = tokio::time::Instant::now();
    assert_eq!(conn.next_event(&mut timer).await.unwrap(), None);
    // Silent peer: one drain at the start, one at the deadline.
    assert_eq!(timer.drains.len(), 2);
    let waited = timer.drains[1] - timer.drains[0];
    assert!(waited >= Duration::from_secs(5), "{waited:?}");
    assert!(waited < Duration::from_millis(5_010), "{waited:?}");
    assert_eq!(timer.drains[0], start.into_std());
}

#[tokio::test(start_paused = true)]
async fn input_before_the_deadline_is_drained_and_the_deadline_still_holds() {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    let mut timer = Timer::default();
    let peer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        theirs.write_all(b"early").await.unwrap();
        theirs
    });
    assert_eq!(conn.next_event(&mut timer).await.unwrap(), None);
    let _theirs = peer.await.unwrap();
    assert_eq!(timer.input, b"early");
    assert_eq!(
        timer.drains.len(),
        3,
        "start, input at 2 s, deadline at 5 s"
    );
    assert_eq!(timer.drains[1] - timer.drains[0], Duration::from_secs(2));
    assert!(timer.drains[2] - timer.drains[0] >= Duration::from_secs(5));
}

/// Sends `size` bytes (a repeating pattern) at the start, stores what it
/// reads, and ends at end of input.
#[derive(Debug)]
struct Blast {
    to_send: Option<Bytes>,
    transmits: usize,
    received: usize,
    eof: bool,
}

impl Blast {
    fn new(size: usize) -> Self {
        Self {
            to_send: Some(pattern(size)),
            transmits: 0,
            received: 0,
            eof: false,
        }
    }
}

impl Machine for Blast {
    type Event = ();
    type Error = TestError;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.received += bytes.len();
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, _now: Instant) -> Output<(), TestError> {
        if let Some(bytes) = self.to_send.take() {
            self.transmits += 1;
            return Output::Transmit(bytes);
        }
        if self.eof {
            Output::Done(Ok(()))
        } else {
            Output::Wait { deadline: None }
        }
    }
}

fn pattern(size: usize) -> Bytes {
    (0..size)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test(start_paused = true)]
async fn unsent_bytes_survive_a_cancelled_next_event() {
    let (ours, mut theirs) = tokio::io::duplex(16);
    let mut conn = Conn::new(ours);
    let mut blast = Blast::new(1000);

    // The peer does not read: the write blocks and the timeout drops the
    // future in the middle of it.
    let cancelled = tokio::time::timeout(Duration::from_secs(1), conn.next_event(&mut blast)).await;
    assert!(cancelled.is_err());
    assert_eq!(blast.transmits, 1);
    let unsent = conn.unsent_len();
    assert!(unsent > 0 && unsent < 1000, "{unsent}");

    let peer = tokio::spawn(async move {
        let mut received = vec![0; 1000];
        theirs.read_exact(&mut received).await.unwrap();
        theirs.shutdown().await.unwrap();
        received
    });
    assert_eq!(conn.next_event(&mut blast).await.unwrap(), None);
    assert_eq!(conn.unsent_len(), 0);
    assert_eq!(peer.await.unwrap(), pattern(1000));
    assert_eq!(blast.transmits, 1, "the machine was not asked twice");
}

#[tokio::test(start_paused = true)]
async fn flush_writes_what_a_cancelled_next_event_left() {
    let (ours, mut theirs) = tokio::io::duplex(16);
    let mut conn = Conn::new(ours);
    let mut blast = Blast::new(100);
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.next_event(&mut blast)).await;
    assert!(conn.unsent_len() > 0);
    let peer = tokio::spawn(async move {
        let mut received = vec![0; 100];
        theirs.read_exact(&mut received).await.unwrap();
        received
    });
    conn.flush().await.unwrap();
    assert_eq!(peer.await.unwrap(), pattern(100));
}

#[tokio::test(start_paused = true)]
async fn a_blocked_write_keeps_reading_so_two_writers_do_not_deadlock() {
    // Both sides write more than the pipe holds before reading anything.
    let (ours, mut theirs) = tokio::io::duplex(1024);
    let mut conn = Conn::new(ours);
    let mut blast = Blast::new(256 * 1024);
    let peer = tokio::spawn(async move {
        theirs.write_all(&pattern(32 * 1024)).await.unwrap();
        theirs.shutdown().await.unwrap();
        let mut received = Vec::new();
        theirs.read_to_end(&mut received).await.unwrap();
        received.len()
    });
    let drive = tokio::time::timeout(Duration::from_secs(60), conn.next_event(&mut blast));
    assert_eq!(drive.await.expect("no deadlock").unwrap(), None);
    drop(conn);
    assert_eq!(blast.received, 32 * 1024);
    assert_eq!(peer.await.unwrap(), 256 * 1024);
}

#[tokio::test(start_paused = true)]
async fn reading_ahead_is_capped_and_a_stuck_write_times_out() {
    // The peer only writes, never reads.
    let (ours, mut theirs) = tokio::io::duplex(1024);
    let mut conn = Conn::new(ours);
    conn.set_write_timeout(Some(Duration::from_secs(30)));
    let mut blast = Blast::new(64 * 1024);
    let peer = tokio::spawn(async move {
        let chunk = pattern(4096);
        while theirs.write_all(&chunk).await.is_ok() {}
    });
    let start = tokio::time::Instant::now();
    match conn.next_event(&mut blast).await {
        Err(DriveError::TimedOut) => {}
        other => panic!("expected a write timeout, got {other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert!(blast.received >= READ_AHEAD, "{}", blast.received);
    assert!(
        blast.received < READ_AHEAD + READ_SIZE,
        "{}",
        blast.received
    );
    drop(conn);
    peer.await.unwrap();
}

#[tokio::test]
async fn events_come_after_their_transmits_are_written() {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    let mut echo = EchoLine::new(None);
    theirs.write_all(b"one\ntwo\n").await.unwrap();
    let mut replies = [0; 4];
    assert_eq!(
        conn.next_event(&mut echo).await.unwrap(),
        Some(EchoEvent::Echoed("one".into()))
    );
    // Readable now, with the `Conn` idle.
    theirs.read_exact(&mut replies).await.unwrap();
    assert_eq!(&replies, b"one\n");
    theirs.shutdown().await.unwrap();
    let mut events = Vec::new();
    conn.run(&mut echo, |_, event| events.push(event))
        .await
        .unwrap();
    assert_eq!(events, [EchoEvent::Echoed("two".into())]);
    theirs.read_exact(&mut replies).await.unwrap();
    assert_eq!(&replies, b"two\n");
}

#[tokio::test]
async fn a_protocol_error_ends_the_drive() {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    theirs.write_all(b"unterminated").await.unwrap();
    theirs.shutdown().await.unwrap();
    let error = conn
        .run(&mut EchoLine::new(None), |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(error, DriveError::Protocol(TestError::Truncated)));
    assert_eq!(error.to_string(), "protocol error");
    assert_eq!(
        error.source().unwrap().to_string(),
        "end of input inside a line"
    );
}

/// Waits for input forever, even after end of input.
#[derive(Debug)]
struct Stubborn;

impl Machine for Stubborn {
    type Event = ();
    type Error = TestError;
    fn handle_input(&mut self, _bytes: &[u8]) {}
    fn handle_eof(&mut self) {}
    fn poll_output(&mut self, _now: Instant) -> Output<(), TestError> {
        Output::Wait { deadline: None }
    }
}

#[tokio::test]
async fn waiting_for_input_after_end_of_input_is_an_error_not_a_spin() {
    let (ours, theirs) = tokio::io::duplex(64);
    drop(theirs);
    let mut conn = Conn::new(ours);
    let error = conn.next_event(&mut Stubborn).await.unwrap_err();
    let DriveError::Io(io_error) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(io_error.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(error.to_string(), "i/o error");
}

#[tokio::test]
async fn an_idle_connection_holds_no_read_buffer() {
    let (ours, _theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    let mut echo = EchoLine::new(Some(Duration::from_secs(60)));
    // The driver's own state while it waits: the `Conn` plus the future.
    let conn_size = size_of::<Conn<DuplexStream>>();
    let future_size = size_of_val(&conn.next_event(&mut echo));
    // 136 bytes on x86-64, the pointer to the kept read timer included
    // (the timer itself, about as large as the `timeout_at` future it
    // replaced, is on the heap).
    assert!(conn_size <= 160, "{conn_size}");
    assert!(future_size <= 512, "{future_size}");
    let run_size = size_of_val(&conn.run(&mut echo, |_, _| {}));
    assert!(run_size <= 512, "{run_size}");
    println!("Conn: {conn_size} bytes, next_event: {future_size}, run: {run_size}");
}

#[test]
fn connections_and_their_drives_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Conn<tokio::net::TcpStream>>();
    send_sync::<net_tokio::ShutdownHandle>();
    send_sync::<DriveError<TestError>>();
    let (ours, _theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    let mut echo = EchoLine::new(None);
    send(&conn.next_event(&mut echo));
}

#[tokio::test]
async fn close_half_closes_and_drains_until_the_peer_closes() {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let mut conn = Conn::new(ours);
    let peer = tokio::spawn(async move {
        theirs.write_all(b"unread junk").await.unwrap();
        let mut seen = Vec::new();
        theirs.read_to_end(&mut seen).await.unwrap();
        theirs.shutdown().await.unwrap();
        seen
    });
    conn.close(Duration::from_secs(5)).await.unwrap();
    assert!(peer.await.unwrap().is_empty());
}
