//! The Sans-IO session helper: every operation against the demo server
//! machine in memory, and scripted servers for what the demo server does not
//! do (STLS, a failing session, a close after QUIT).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::testing::epoch;
use lineproto::{Machine, Output, Secret};
use pop3_client::client::{Event, Options, Request, Response};
use pop3_client::server::{self, Mailbox, Server};
use pop3_client::session::{
    ListedId, Login, Pending, Retrieved, Session, SessionError, Step, check_unique_ids,
};
use pop3_client::{Error, ResponseCode};

/// The peer of a session in memory.
trait Peer {
    /// Takes the client's bytes.
    fn receive(&mut self, bytes: &[u8]);
    /// What the server sends next: `Some(bytes)`, or `None` once it has
    /// closed. An empty `Vec` means it waits.
    fn send(&mut self, now: Instant) -> Option<Vec<u8>>;
}

impl Peer for Server {
    fn receive(&mut self, bytes: &[u8]) {
        self.handle_input(bytes);
    }

    fn send(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            match self.poll_output(now) {
                Output::Transmit(bytes) => out.extend_from_slice(&bytes),
                Output::Event(_) => {}
                Output::Wait { .. } => return Some(out),
                Output::Done(_) if out.is_empty() => return None,
                Output::Done(_) => return Some(out),
            }
        }
    }
}

/// A server that answers each line the client sends with the next of its
/// replies (the first is the greeting, sent at once), and closes when it
/// has none left.
struct Script {
    replies: VecDeque<&'static str>,
    received: Vec<u8>,
    lines_answered: usize,
    greeted: bool,
}

impl Script {
    fn new(replies: &[&'static str]) -> Self {
        Self {
            replies: replies.iter().copied().collect(),
            received: Vec::new(),
            lines_answered: 0,
            greeted: false,
        }
    }
}

impl Peer for Script {
    fn receive(&mut self, bytes: &[u8]) {
        self.received.extend_from_slice(bytes);
    }

    fn send(&mut self, _now: Instant) -> Option<Vec<u8>> {
        if !std::mem::replace(&mut self.greeted, true) {
            return self.replies.pop_front().map(|r| r.as_bytes().to_vec());
        }
        let lines = self.received.iter().filter(|&&b| b == b'\n').count();
        if lines > self.lines_answered {
            self.lines_answered += 1;
            return self.replies.pop_front().map(|r| r.as_bytes().to_vec());
        }
        if self.replies.is_empty() {
            None
        } else {
            Some(Vec::new())
        }
    }
}

/// A session and its peer, with a virtual clock.
struct Driver<P> {
    session: Session,
    peer: P,
    now: Instant,
    closed: bool,
}

impl<P: Peer> Driver<P> {
    fn new(options: Options, peer: P) -> Self {
        Self {
            session: Session::new(options),
            peer,
            now: epoch(),
            closed: false,
        }
    }

    /// What a driver's `next_event` does, in memory.
    fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            match self.session.poll_output(self.now) {
                Output::Transmit(bytes) => self.peer.receive(&bytes),
                Output::Event(event) => return Ok(Some(event)),
                Output::Done(result) => return result.map(|()| None),
                Output::Wait { deadline } => match self.peer.send(self.now) {
                    Some(bytes) if !bytes.is_empty() => self.session.handle_input(&bytes),
                    // The peer waits too: only the session's timer can move.
                    Some(_) if !self.closed => {
                        self.now = deadline.expect("a deadline while both sides wait");
                    }
                    _ => {
                        self.closed = true;
                        self.session.handle_eof();
                    }
                },
            }
        }
    }

    /// Runs one operation; collects its parts.
    fn run<T>(&mut self, mut pending: Pending<T>) -> Result<(T, Vec<Retrieved>), Failure> {
        let mut parts = Vec::new();
        loop {
            match pending.poll().map_err(Failure::Session)? {
                Step::Drive => pending.handle(self.next_event().map_err(Failure::Machine)?),
                Step::Part(part) => parts.push(part),
                Step::Done(value) => return Ok((value, parts)),
            }
        }
    }

    fn ok<T>(&mut self, pending: Pending<T>) -> T {
        self.run(pending).expect("the operation succeeds").0
    }
}

/// How an operation failed: its own error, or the driver's.
#[derive(Debug, PartialEq)]
enum Failure {
    Session(SessionError),
    Machine(Error),
}

fn secret(s: &str) -> Secret<Vec<u8>> {
    Secret::new(s.as_bytes().to_vec())
}

fn demo(messages: &[&str], options: server::Options) -> Driver<Server> {
    let messages = messages
        .iter()
        .map(|m| Bytes::from(m.to_string()))
        .collect();
    let server = Server::new(Mailbox::new("john", "doe", messages), options);
    Driver::new(Options::default(), server)
}

fn logged_in(messages: &[&str]) -> Driver<Server> {
    let mut driver = demo(messages, server::Options::default());
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let login = driver.session.login(Login::UserPass, "john", secret("doe"));
    driver.ok(login);
    driver
}

fn data(parts: &[Retrieved], wanted: u32) -> Vec<u8> {
    parts
        .iter()
        .filter_map(|part| match part {
            Retrieved::Data { number, chunk } if *number == wanted => Some(chunk.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

const ONE: &str = "Subject: one\r\n\r\n.dot\r\n";
const TWO: &str = "Subject: two\r\n\r\nsecond\r\n";

#[test]
fn every_login_method_then_the_transaction_commands() {
    // SCRAM's client nonce needs the getrandom feature.
    let methods = Login::ALL
        .into_iter()
        .filter(|m| cfg!(feature = "getrandom") || !m.name().starts_with("SCRAM"));
    for method in methods {
        let mut driver = demo(&[ONE, TWO], server::Options::default());
        let greeting = driver.session.read_greeting();
        let greeting = driver.ok(greeting);
        assert_eq!(Some(&greeting), driver.session.greeting());
        // The greeting is there already: done without driving.
        let again = driver.session.read_greeting();
        assert_eq!(driver.ok(again), greeting);

        let login = driver.session.login(method, "john", secret("doe"));
        driver.ok(login);
        let capa = driver.session.capa();
        assert!(driver.ok(capa).pipelining());
        assert!(driver.session.client().is_pipelining());
        let stat = driver.session.stat();
        assert_eq!(driver.ok(stat), (2, 46), "{method:?}");
        let list = driver.session.list();
        assert_eq!(driver.ok(list), [(1, 22), (2, 24)]);
        let uidl = driver.session.uidl();
        assert_eq!(driver.ok(uidl).len(), 2);
        let noop = driver.session.noop();
        driver.ok(noop);
        let one = driver.session.request(Request::List(Some(2)));
        assert_eq!(driver.ok(one), Response::Scan(2, 24));
        let dele = driver.session.dele(1);
        driver.ok(dele);
        let rset = driver.session.rset();
        driver.ok(rset);
        let quit = driver.session.quit();
        driver.ok(quit);
    }
}

#[test]
fn messages_stream_as_parts_in_order_with_their_numbers() {
    let mut driver = logged_in(&[ONE, TWO, ""]);
    let capa = driver.session.capa();
    driver.ok(capa);
    let retr = driver.session.retr_many([2, 1, 3]);
    let (_, parts) = driver.run(retr).unwrap();
    assert_eq!(data(&parts, 1), ONE.as_bytes());
    assert_eq!(data(&parts, 2), TWO.as_bytes());
    let ends: Vec<_> = parts
        .iter()
        .filter_map(|part| match part {
            Retrieved::End { number, .. } => Some(*number),
            Retrieved::Data { .. } => None,
        })
        .collect();
    // Every message ends, the empty one included, in the order asked.
    assert_eq!(ends, [2, 1, 3]);
    let last_data_of_two = parts
        .iter()
        .rposition(|part| matches!(part, Retrieved::Data { number: 2, .. }))
        .unwrap();
    let end_of_two = parts
        .iter()
        .position(|part| matches!(part, Retrieved::End { number: 2, .. }))
        .unwrap();
    assert!(last_data_of_two < end_of_two);

    let top = driver.session.top(2, 0);
    let (_, parts) = driver.run(top).unwrap();
    assert_eq!(data(&parts, 2), b"Subject: two\r\n\r\n");
    assert_eq!(
        parts.last(),
        Some(&Retrieved::End {
            number: 2,
            octets: 16
        })
    );

    let none = driver.session.retr_many([]);
    assert_eq!(driver.run(none).unwrap().1, []);

    // A RETR through `request` streams the same way.
    let retr = driver.session.request(Request::Retr(1));
    let (response, parts) = driver.run(retr).unwrap();
    let Response::Message { status, octets } = response else {
        panic!("{response:?}")
    };
    assert!(status.is_ok());
    assert_eq!(octets, ONE.len() as u64);
    assert_eq!(data(&parts, 1), ONE.as_bytes());
    let refused = driver.session.request(Request::Dele(9));
    let Err(Failure::Session(SessionError::Server(error))) = driver.run(refused) else {
        panic!("there is no message 9")
    };
    assert_eq!(error.command, "DELE");
}

#[test]
fn a_refusal_fails_the_operation_and_the_session_goes_on() {
    let mut driver = logged_in(&[ONE]);
    let retr = driver.session.retr_many([1, 7]);
    let mut pending = retr;
    let mut parts = Vec::new();
    let error = loop {
        match pending.poll() {
            Ok(Step::Drive) => pending.handle(driver.next_event().unwrap()),
            Ok(Step::Part(part)) => parts.push(part),
            Ok(Step::Done(())) => panic!("message 7 does not exist"),
            Err(error) => break error,
        }
    };
    // Message 1 came whole before the refusal of 7.
    assert_eq!(data(&parts, 1), ONE.as_bytes());
    assert_eq!(
        parts.last(),
        Some(&Retrieved::End {
            number: 1,
            octets: ONE.len() as u64
        })
    );
    let SessionError::Server(refused) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(refused.command, "RETR");
    assert!(
        error.to_string().starts_with("RETR refused: -ERR"),
        "{error}"
    );
    // The error sticks.
    assert_eq!(pending.poll(), Err(error));

    let stat = driver.session.stat();
    assert_eq!(driver.ok(stat), (1, 22));
}

#[test]
fn a_refused_message_in_a_batch_does_not_stop_the_others() {
    for pipelining in [true, false] {
        let mut driver = logged_in(&[ONE, TWO]);
        if pipelining {
            let capa = driver.session.capa();
            driver.ok(capa);
        }
        assert_eq!(driver.session.client().is_pipelining(), pipelining);
        let retr = driver.session.retr_many([7, 1, 8, 2]);
        let mut pending = retr;
        let mut parts = Vec::new();
        let error = loop {
            match pending.poll() {
                Ok(Step::Drive) => pending.handle(driver.next_event().unwrap()),
                Ok(Step::Part(part)) => parts.push(part),
                Ok(Step::Done(())) => panic!("messages 7 and 8 do not exist"),
                Err(error) => break error,
            }
        };
        // Both messages the server has came whole, in order; the refused
        // ones have no end.
        assert_eq!(data(&parts, 1), ONE.as_bytes());
        assert_eq!(data(&parts, 2), TWO.as_bytes());
        let ends: Vec<_> = parts
            .iter()
            .filter_map(|part| match part {
                Retrieved::End { number, .. } => Some(*number),
                Retrieved::Data { .. } => None,
            })
            .collect();
        assert_eq!(ends, [1, 2]);
        // The error is the first refusal.
        let SessionError::Server(refused) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(refused.command, "RETR");
        assert_eq!(pending.poll(), Err(error));
        // Nothing is left over for the next operation.
        let stat = driver.session.stat();
        let (count, parts) = driver.run(stat).unwrap();
        assert_eq!(count, (2, 46));
        assert!(parts.is_empty());
    }
}

#[test]
fn a_bad_unique_id_fails_its_own_message_only() {
    let mut driver = Driver::new(
        Options::default(),
        Script::new(&[
            "+OK ready\r\n",
            "+OK\r\n1 abc def\r\n2 same\r\n3 same\r\n4 caf\u{e9}\r\n5\r\n6 good \r\n.\r\n",
            "+OK 1 abc def\r\n",
        ]),
    );
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let uidl = driver.session.uidl();
    let listing = driver.ok(uidl);
    // Handed on as sent, never cut at the space.
    assert_eq!(listing[0], (1, Bytes::from_static(b"abc def")));
    assert_eq!(
        check_unique_ids(&listing),
        [
            (1, ListedId::Invalid("abc def".into())),
            (2, ListedId::Shared("same".into())),
            (3, ListedId::Shared("same".into())),
            (4, ListedId::Invalid(Bytes::from_static(b"caf\xc3\xa9"))),
            (5, ListedId::Invalid(Bytes::new())),
            (6, ListedId::Unique("good".into())),
        ]
    );
    let one = driver.session.request(Request::Uidl(Some(1)));
    assert_eq!(
        driver.ok(one),
        Response::UniqueId(1, Bytes::from_static(b"abc def"))
    );
}

#[test]
fn a_wrong_password_is_the_servers_answer() {
    let mut driver = demo(&[], server::Options::default());
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let login = driver
        .session
        .login(Login::UserPass, "john", secret("nope"));
    let Err(Failure::Session(SessionError::Server(refused))) = driver.run(login) else {
        panic!("a wrong password is refused")
    };
    assert_eq!(refused.command, "PASS");
}

#[test]
fn what_the_client_refuses_to_send_is_not_sent() {
    let mut options = server::Options::default();
    options.apop_timestamp = None;
    let mut driver = demo(&[], options);
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let apop = driver.session.login(Login::Apop, "john", secret("doe"));
    assert_eq!(
        driver.run(apop).unwrap_err(),
        Failure::Session(SessionError::NotSent {
            command: "APOP",
            error: Error::NoApopTimestamp,
        })
    );
    let injected = driver
        .session
        .login(Login::UserPass, "john\r\nDELE 1", secret("doe"));
    let Err(Failure::Session(SessionError::NotSent { error, .. })) = driver.run(injected) else {
        panic!("a line break in an argument is refused")
    };
    assert_eq!(error, Error::ForbiddenByte);
}

#[test]
fn stls_needs_it_offered_and_then_waits_for_the_handshake() {
    // Without CAPA, or with a CAPA without STLS, nothing is sent.
    let mut driver = demo(&[], server::Options::default());
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let stls = driver.session.stls();
    assert_eq!(
        driver.run(stls).unwrap_err(),
        Failure::Session(SessionError::StartTlsUnavailable)
    );
    let capa = driver.session.capa();
    assert!(!driver.ok(capa).stls());
    let stls = driver.session.stls();
    assert_eq!(
        driver.run(stls).unwrap_err(),
        Failure::Session(SessionError::StartTlsUnavailable)
    );

    let mut driver = Driver::new(
        Options::default(),
        Script::new(&[
            "+OK ready\r\n",
            "+OK\r\nSTLS\r\n.\r\n",
            "+OK begin TLS\r\n",
            // Over "TLS": CAPA again, then STAT.
            "+OK\r\nUSER\r\n.\r\n",
            "+OK 0 0\r\n",
        ]),
    );
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let capa = driver.session.capa();
    assert!(driver.ok(capa).stls());
    let stls = driver.session.stls();
    driver.ok(stls);
    driver.session.tls_established();
    assert!(driver.session.client().capabilities().is_none());
    let capa = driver.session.capa();
    assert!(!driver.ok(capa).stls());
    let stat = driver.session.stat();
    assert_eq!(driver.ok(stat), (0, 0));
    let sent = String::from_utf8(driver.peer.received.clone()).unwrap();
    assert_eq!(sent, "CAPA\r\nSTLS\r\nCAPA\r\nSTAT\r\n");
}

#[test]
fn quit_is_done_when_the_session_has_ended() {
    let mut driver = Driver::new(
        Options::default(),
        Script::new(&["+OK ready\r\n", "+OK bye\r\n"]),
    );
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let mut quit = driver.session.quit();
    // The answer alone does not finish it: the end of the session does.
    let mut events = 0;
    let done = loop {
        match quit.poll().unwrap() {
            Step::Drive => {
                let event = driver.next_event().unwrap();
                events += usize::from(event.is_some());
                quit.handle(event);
            }
            Step::Part(part) => panic!("{part:?}"),
            Step::Done(()) => break true,
        }
    };
    assert!(done);
    assert_eq!(events, 1, "QUIT's answer, then the end");
    // Anything after the end was never answered.
    assert_eq!(quit.poll(), Err(SessionError::Ended { command: "QUIT" }));
    let stat = driver.session.stat();
    assert_eq!(
        driver.run(stat).unwrap_err(),
        Failure::Session(SessionError::Ended { command: "STAT" })
    );
}

#[test]
fn a_failing_session_is_the_drivers_error() {
    // The server never answers STAT: the response timeout ends the
    // session, and the machine's error is what the driver reports, for the
    // request in flight and for the one queued behind it.
    let mut options = Options::default();
    options.response_timeout = Some(Duration::from_secs(5));
    options.pipelining = false;
    let mut driver = Driver::new(options, Script::new(&["+OK ready\r\n", ""]));
    let greeting = driver.session.read_greeting();
    driver.ok(greeting);
    let stat = driver.session.stat();
    let list = driver.session.list();
    let timeout = Error::ResponseTimeout {
        command: "STAT",
        timeout: Duration::from_secs(5),
    };
    assert_eq!(
        driver.run(stat).unwrap_err(),
        Failure::Machine(timeout.clone())
    );
    assert_eq!(driver.run(list).unwrap_err(), Failure::Machine(timeout));
}

#[test]
fn a_refused_greeting_is_the_drivers_error() {
    let mut driver = Driver::new(
        Options::default(),
        Script::new(&["-ERR [SYS/TEMP] go away\r\n"]),
    );
    let greeting = driver.session.read_greeting();
    let Err(Failure::Machine(Error::Refused(refused))) = driver.run(greeting) else {
        panic!("a -ERR greeting ends the session")
    };
    assert_eq!(refused.code, Some(ResponseCode::SysTemp));
}

#[test]
fn answers_to_an_abandoned_operation_are_ignored() {
    let mut driver = logged_in(&[ONE, TWO]);
    // Started and dropped before its answers came.
    drop(driver.session.retr_many([1, 2]));
    let stat = driver.session.stat();
    let (count, parts) = driver.run(stat).unwrap();
    assert_eq!(count, (2, 46));
    assert!(parts.is_empty());
}
