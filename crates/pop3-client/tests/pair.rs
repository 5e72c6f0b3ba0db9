//! The client machine against the server machine, with no sockets: every
//! command, pipelining on and off, streaming bodies, chunking invariance,
//! and random mailboxes.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
mod common;

use common::Seen;

use lineproto::Secret;
use lineproto::testing::{
    Arrival, Pair, Step, epoch, split, timed_transcript, transcript, untimed,
};
use pop3_client::client::{Client, Credentials, Event, Options, Request, Requested, Response};
use pop3_client::server::{self, Mailbox, Server};
use pop3_client::{Decoded, Error, MultiLineDecoder, ResponseCode, sasl};
use proptest::prelude::*;

fn secret(s: &str) -> Secret<Vec<u8>> {
    Secret::new(s.as_bytes().to_vec())
}

fn login() -> Request {
    Request::Login(Credentials::UserPass {
        user: "john".into(),
        password: secret("doe"),
    })
}

fn tricky_messages() -> Vec<Bytes> {
    vec![
        "Subject: dots\r\n\r\n.leading dot\r\n.\r\n..two\r\nend.\r\n".into(),
        "Subject: bare LF\n\nline one\nline two\n".into(),
        Bytes::from_static(b"Subject: 8bit\r\n\r\ncaf\xe9 \xff\xfe\r\n"),
        "Subject: utf8 \u{1F44D}\r\n\r\npässwörd\r\n".into(),
        Bytes::from(format!("Subject: long\r\n\r\n{}\r\n", "x".repeat(5000))),
        "Subject: no final newline\r\n\r\nlast line".into(),
    ]
}

/// Responses by handle, and each message's bytes by handle.
struct Collected {
    responses: Vec<(pop3_client::Handle, Requested, Response)>,
    bodies: std::collections::HashMap<pop3_client::Handle, Vec<u8>>,
}

/// Collects the events, checking the contract as it goes: one answer per
/// handle, and a message's data only before its answer.
fn collect(events: &[Event]) -> Collected {
    let mut responses: Vec<(pop3_client::Handle, Requested, Response)> = Vec::new();
    let mut bodies = std::collections::HashMap::<_, Vec<u8>>::new();
    for event in events {
        match event {
            Event::Response {
                handle,
                requested,
                response,
            } => {
                assert!(
                    responses.iter().all(|(h, _, _)| h != handle),
                    "a second answer to {requested:?}: {response:?}"
                );
                if let Response::Message { octets, .. } = response {
                    let body = bodies.get(handle).map_or(0, Vec::len);
                    assert_eq!(*octets, body as u64, "{requested:?}");
                }
                responses.push((*handle, requested.clone(), response.clone()));
            }
            Event::MessageData {
                handle,
                message,
                chunk,
            } => {
                assert!(
                    responses.iter().all(|(h, _, _)| h != handle),
                    "data of message {message} after its answer"
                );
                bodies.entry(*handle).or_default().extend_from_slice(chunk)
            }
            // The greeting, and kinds of event added later.
            _ => {}
        }
    }
    Collected { responses, bodies }
}

fn response(collected: &Collected, handle: pop3_client::Handle) -> Response {
    collected
        .responses
        .iter()
        .find(|(h, _, _)| *h == handle)
        .map(|(_, _, r)| r.clone())
        .unwrap_or_else(|| panic!("no response for {handle:?}"))
}

fn requested(collected: &Collected, handle: pop3_client::Handle) -> Requested {
    collected
        .responses
        .iter()
        .find(|(h, _, _)| *h == handle)
        .map(|(_, r, _)| r.clone())
        .unwrap_or_else(|| panic!("no response for {handle:?}"))
}

#[test]
fn every_command_against_the_server_machine() {
    let mailbox = Mailbox::new("john", "doe", tricky_messages());
    let expected: Vec<Bytes> = (1..=mailbox.len())
        .map(|n| mailbox.message(n).unwrap().clone())
        .collect();
    let mut client = Client::new(Options::default());
    let capa = client.send(Request::Capa);
    let utf8 = client.send(Request::Utf8);
    let auth = client.send(login());
    let stat = client.send(Request::Stat);
    let list = client.send(Request::List(None));
    let list_one = client.send(Request::List(Some(2)));
    let uidl = client.send(Request::Uidl(None));
    let uidl_one = client.send(Request::Uidl(Some(3)));
    let retrs: Vec<_> = (1..=6).map(|n| client.send(Request::Retr(n))).collect();
    let top = client.send(Request::Top {
        message: 1,
        lines: 1,
    });
    let dele = client.send(Request::Dele(1));
    let gone = client.send(Request::Retr(1));
    let rset = client.send(Request::Rset);
    let noop = client.send(Request::Noop);
    let quit = client.send(Request::Quit);
    let outcome = Pair::new(client, Server::new(mailbox, server::Options::default()))
        .chunk_size(7)
        .run();
    assert_eq!(outcome.client_result, Some(Ok(())));
    let c = collect(&outcome.client_events);

    let Response::Capabilities(caps) = response(&c, capa) else {
        panic!()
    };
    assert!(caps.pipelining() && caps.utf8() && caps.sasl_mechanism(b"PLAIN"));
    assert!(matches!(response(&c, utf8), Response::Ok(_)));
    assert!(matches!(response(&c, auth), Response::Ok(_)));
    let total: u64 = expected.iter().map(|m| m.len() as u64).sum();
    assert_eq!(
        response(&c, stat),
        Response::Stat {
            count: 6,
            octets: total
        }
    );
    let Response::Listing(sizes) = response(&c, list) else {
        panic!()
    };
    assert_eq!(sizes.len(), 6);
    assert_eq!(
        response(&c, list_one),
        Response::Scan(2, expected[1].len() as u64)
    );
    let Response::UniqueIds(ids) = response(&c, uidl) else {
        panic!()
    };
    assert_eq!(
        response(&c, uidl_one),
        Response::UniqueId(3, ids[2].1.clone())
    );
    for (n, handle) in retrs.iter().enumerate() {
        let Response::Message { status, octets } = response(&c, *handle) else {
            panic!("message {}", n + 1)
        };
        assert!(status.is_ok());
        assert_eq!(octets, expected[n].len() as u64);
        assert_eq!(requested(&c, *handle), Requested::Retr(n as u32 + 1));
        assert_eq!(c.bodies[handle], expected[n].to_vec(), "message {}", n + 1);
    }
    assert_eq!(
        requested(&c, top),
        Requested::Top {
            message: 1,
            lines: 1
        }
    );
    assert_eq!(requested(&c, dele), Requested::Dele(1));
    // Every request got its one answer.
    assert_eq!(c.responses.len(), 20);
    assert_eq!(c.bodies[&top], b"Subject: dots\r\n\r\n.leading dot\r\n");
    assert!(matches!(response(&c, dele), Response::Ok(_)));
    assert!(matches!(response(&c, gone), Response::Rejected(_)));
    assert!(matches!(response(&c, rset), Response::Ok(_)));
    assert!(matches!(response(&c, noop), Response::Ok(_)));
    assert!(matches!(response(&c, quit), Response::Ok(_)));
    // RSET undid the DELE.
    assert_eq!(
        outcome.server_events.last(),
        Some(&server::Event::Deleted(vec![]))
    );
}

#[test]
fn dele_then_quit_deletes_and_a_dropped_session_deletes_nothing() {
    let mailbox = Mailbox::new("john", "doe", tricky_messages());
    let mut client = Client::new(Options::default());
    client.send(login());
    client.send(Request::Dele(2));
    client.send(Request::Quit);
    let outcome = Pair::new(
        client,
        Server::new(mailbox.clone(), server::Options::default()),
    )
    .run();
    assert_eq!(
        outcome.server_events.last(),
        Some(&server::Event::Deleted(vec![2]))
    );

    // No QUIT: the connection drops after DELE, and nothing is deleted.
    let steps = transcript(
        Server::new(mailbox, server::Options::default()),
        [b"USER john\r\nPASS doe\r\nDELE 2\r\n".as_slice()],
        true,
    );
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::Event(server::Event::Deleted(_))))
    );
}

#[test]
fn apop_auth_plain_and_auth_login() {
    let requests: [fn() -> Request; 3] = [
        || {
            Request::Login(Credentials::Apop {
                user: "john".into(),
                password: secret("doe"),
            })
        },
        || {
            Request::Login(Credentials::Sasl(Box::new(sasl::Plain::new(
                "john",
                secret("doe"),
            ))))
        },
        || {
            Request::Login(Credentials::Sasl(Box::new(sasl::Login::new(
                "john",
                secret("doe"),
            ))))
        },
    ];
    for request in requests {
        let mut client = Client::new(Options::default());
        let shown = format!("{:?}", request());
        let auth = client.send(request());
        let stat = client.send(Request::Stat);
        client.send(Request::Quit);
        let mailbox = Mailbox::new("john", "doe", tricky_messages());
        let outcome = Pair::new(client, Server::new(mailbox, server::Options::default())).run();
        let c = collect(&outcome.client_events);
        assert!(matches!(response(&c, auth), Response::Ok(_)), "{shown}");
        assert!(
            matches!(response(&c, stat), Response::Stat { count: 6, .. }),
            "{shown}"
        );
    }
}

#[test]
fn auth_plain_with_a_long_password_answers_the_challenge_instead() {
    let password = "p".repeat(300);
    let mut client = Client::new(Options::default());
    let auth = client.send(Request::Login(Credentials::Sasl(Box::new(
        sasl::Plain::new("john", secret(&password)),
    ))));
    client.send(Request::Quit);
    let mailbox = Mailbox::new("john", &password, vec![]);
    let outcome = Pair::new(client, Server::new(mailbox, server::Options::default())).run();
    let c = collect(&outcome.client_events);
    assert!(matches!(response(&c, auth), Response::Ok(_)));
    let sent = String::from_utf8_lossy(&outcome.client_sent);
    assert!(sent.starts_with("AUTH PLAIN\r\n"), "{sent}");
}

#[test]
fn a_wrong_password_is_rejected_with_the_auth_code() {
    let mut client = Client::new(Options::default());
    let auth = client.send(Request::Login(Credentials::UserPass {
        user: "john".into(),
        password: secret("nope"),
    }));
    client.send(Request::Quit);
    let mailbox = Mailbox::new("john", "doe", vec![]);
    let outcome = Pair::new(client, Server::new(mailbox, server::Options::default())).run();
    let c = collect(&outcome.client_events);
    let Response::Rejected(error) = response(&c, auth) else {
        panic!()
    };
    assert_eq!(error.code, Some(ResponseCode::Auth));
    assert_eq!(error.command, "PASS");
}

#[test]
fn in_use_and_apop_without_timestamp() {
    let mut options = server::Options::default();
    options.in_use = true;
    options.apop_timestamp = None;
    let mut client = Client::new(Options::default());
    let apop = client.send(Request::Login(Credentials::Apop {
        user: "john".into(),
        password: secret("doe"),
    }));
    let auth = client.send(login());
    client.send(Request::Quit);
    let outcome = Pair::new(
        client,
        Server::new(Mailbox::new("john", "doe", vec![]), options),
    )
    .run();
    let c = collect(&outcome.client_events);
    assert_eq!(
        response(&c, apop),
        Response::NotSent(Error::NoApopTimestamp)
    );
    let Response::Rejected(error) = response(&c, auth) else {
        panic!()
    };
    assert_eq!(error.code, Some(ResponseCode::InUse));
    assert!(error.code.unwrap().is_temporary());
}

#[test]
fn capa_reports_login_delay_and_expire() {
    let mut options = server::Options::default();
    options.login_delay = Some(900);
    let mut client = Client::new(Options::default());
    let capa = client.send(Request::Capa);
    client.send(Request::Quit);
    let outcome = Pair::new(
        client,
        Server::new(Mailbox::new("john", "doe", vec![]), options),
    )
    .run();
    let Response::Capabilities(caps) = response(&collect(&outcome.client_events), capa) else {
        panic!()
    };
    assert_eq!(caps.args(b"LOGIN-DELAY").unwrap()[0], "900");
    assert_eq!(caps.args(b"EXPIRE").unwrap()[0], "NEVER");
}

#[test]
fn pipelining_only_when_advertised() {
    let mut options = server::Options::default();
    options.pipelining = true;
    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    client.send(login());
    for n in 1..=6 {
        client.send(Request::Retr(n));
    }
    client.send(Request::Quit);
    // Feed the client the server's replies up to the login's +OK, and see
    // how many commands it writes before it reads anything more.
    let mut steps = transcript(
        &mut client,
        [
            b"+OK hi\r\n+OK\r\nPIPELINING\r\n.\r\n".as_slice(),
            b"+OK\r\n",
            b"+OK\r\n",
        ],
        false,
    );
    let burst = steps.pop();
    let Some(Step::Transmit(last)) = burst else {
        panic!("{burst:?}")
    };
    let pipelined = String::from_utf8_lossy(&last).lines().count();
    assert_eq!(pipelined, 7, "six RETRs and QUIT in one burst: {last:?}");
    assert_eq!(client.in_flight(), 7);

    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    client.send(login());
    for n in 1..=6 {
        client.send(Request::Retr(n));
    }
    let mut steps = transcript(
        &mut client,
        [
            b"+OK hi\r\n+OK\r\nUIDL\r\n.\r\n".as_slice(),
            b"+OK\r\n",
            b"+OK\r\n",
        ],
        false,
    );
    let Some(Step::Transmit(last)) = steps.pop() else {
        panic!()
    };
    assert_eq!(last, "RETR 1\r\n", "lock-step without PIPELINING");
    assert_eq!(client.in_flight(), 1);
}

#[test]
fn pipelining_window_is_bounded() {
    let mut options = Options::default();
    options.pipeline_window = 4;
    let mut client = Client::new(options);
    client.send(Request::Capa);
    client.send(login());
    for n in 1..=20 {
        client.send(Request::Dele(n));
    }
    let _ = transcript(
        &mut client,
        [
            b"+OK hi\r\n+OK\r\nPIPELINING\r\n.\r\n".as_slice(),
            b"+OK\r\n",
            b"+OK\r\n",
        ],
        false,
    );
    assert_eq!(client.in_flight(), 4);
}

#[test]
fn stls_discards_plaintext_after_ok_and_forgets_capabilities() {
    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    let stls = client.send(Request::Stls);
    client.send(login());
    let steps = transcript(
        &mut client,
        [
            b"+OK hi\r\n+OK\r\nSTLS\r\nPIPELINING\r\n.\r\n".as_slice(),
            b"+OK Begin TLS\r\n+OK injected\r\n",
        ],
        false,
    );
    assert!(steps.contains(&Step::Event(Event::Response {
        handle: stls,
        requested: Requested::Stls,
        response: Response::StartTls
    })));
    // Nothing is sent until TLS is up; the injected line is never read.
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::Transmit(b) if b.starts_with(b"USER")))
    );
    assert!(client.capabilities().is_some());
    client.tls_established();
    assert!(client.capabilities().is_none());
    use lineproto::Machine;
    assert_eq!(
        client.poll_output(epoch()),
        lineproto::Output::Transmit("USER john\r\n".into())
    );
}

#[test]
fn errors_end_the_session_clearly() {
    let steps = transcript(
        Client::new(Options::default()),
        [b"-ERR [SYS/TEMP] go away\r\n".as_slice()],
        false,
    );
    assert!(matches!(
        steps.last(),
        Some(Step::Done(Err(Error::Refused(_))))
    ));
    let steps = transcript(
        Client::new(Options::default()),
        [b"HTTP/1.1 400 Bad Request\r\n".as_slice()],
        false,
    );
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::Malformed {
            what: "status line"
        })))
    );
    let mut client = Client::new(Options::default());
    client.send(Request::Stat);
    let steps = transcript(client, [b"+OK\r\n".as_slice()], true);
    assert_eq!(steps.last(), Some(&Step::Done(Err(Error::UnexpectedEof))));
    let steps = transcript(Client::new(Options::default()), [vec![b'+'; 10_000]], false);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::LineTooLong { limit: 8192 })))
    );
    let mut client = Client::new(Options::default());
    let bad = client.send(Request::Login(Credentials::UserPass {
        user: "john\r\nDELE 1".into(),
        password: secret("x"),
    }));
    let steps = transcript(client, [b"+OK\r\n".as_slice()], false);
    assert!(steps.contains(&Step::Event(Event::Response {
        handle: bad,
        requested: Requested::UserPass {
            user: "john\r\nDELE 1".into()
        },
        response: Response::NotSent(Error::ForbiddenByte)
    })));
    assert!(!steps.iter().any(|s| matches!(s, Step::Transmit(_))));
}

#[test]
fn a_fifty_megabyte_message_streams_in_bounded_pieces() {
    let line = format!("{}\r\n", "y".repeat(998));
    let big: Bytes = format!("Subject: big\r\n\r\n{}", line.repeat(50_000)).into();
    let mailbox = Mailbox::new("john", "doe", vec![big.clone()]);
    let mut client = Client::new(Options::default());
    client.send(login());
    let retr = client.send(Request::Retr(1));
    client.send(Request::Quit);
    let outcome = Pair::new(client, Server::new(mailbox, server::Options::default()))
        .chunk_size(16 * 1024)
        .run();
    let mut received = 0usize;
    let mut largest = 0usize;
    for event in &outcome.client_events {
        if let Event::MessageData { handle, chunk, .. } = event {
            assert_eq!(*handle, retr);
            received += chunk.len();
            largest = largest.max(chunk.len());
        }
    }
    assert_eq!(received, big.len());
    assert!(largest <= 16 * 1024, "chunks follow reads: {largest}");
}

/// The steps as two runs must agree on them (see `common::seen`), with
/// adjacent data chunks of the same message merged: how a stream is cut
/// into chunks follows the reads; nothing else may.
fn normalized(steps: Vec<Step<Event, Error>>) -> Vec<Step<Seen, Error>> {
    let mut out: Vec<Step<Seen, Error>> = Vec::new();
    for step in steps {
        let step = match step {
            Step::Event(event) => Step::Event(common::seen(event)),
            Step::Transmit(bytes) => Step::Transmit(bytes),
            Step::Done(result) => Step::Done(result),
        };
        if let Step::Event(Seen::Data(handle, _, chunk)) = &step {
            if let Some(Step::Event(Seen::Data(previous, _, merged))) = out.last_mut() {
                if previous == handle {
                    let mut joined = BytesMut::from(&merged[..]);
                    joined.extend_from_slice(chunk);
                    *merged = joined.freeze();
                    continue;
                }
            }
        }
        out.push(step);
    }
    out
}

/// What the server sends to a client that logs in, lists unique ids,
/// retrieves every message and quits; and a fresh such client, with
/// `client_options`, to feed it to.
fn server_bytes_for(
    messages: Vec<Bytes>,
    pipelining: bool,
    client_options: Options,
) -> (Vec<u8>, Client) {
    let mut options = server::Options::default();
    options.pipelining = pipelining;
    let mailbox = Mailbox::new("john", "doe", messages.clone());
    let make_client = || {
        let mut client = Client::new(client_options.clone());
        client.send(Request::Capa);
        client.send(login());
        client.send(Request::Uidl(None));
        for n in 1..=messages.len() as u32 {
            client.send(Request::Retr(n));
        }
        client.send(Request::Quit);
        client
    };
    let outcome = Pair::new(make_client(), Server::new(mailbox, options)).run();
    (outcome.server_sent, make_client())
}

fn message() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        prop_oneof![4 => Just(b'a'), 2 => Just(b'.'), 2 => Just(b'\n'), 1 => Just(b'\r'), 1 => any::<u8>()],
        0..120,
    )
    .prop_map(Bytes::from)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn client_events_do_not_depend_on_chunking(
        messages in prop::collection::vec(message(), 0..5),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        pipelining in any::<bool>(),
    ) {
        let (from_server, client) = server_bytes_for(messages.clone(), pipelining, Options::default());
        let whole = normalized(transcript(client, [&from_server], false));
        let requests = messages.len() + 4;
        let (_, client) = server_bytes_for(messages, pipelining, Options::default());
        let steps = transcript(client, split(&from_server, &cuts), false);
        // One answer per request, each after its message's data (`collect`
        // checks both), however the bytes were cut.
        prop_assert_eq!(collect(&lineproto::testing::events(&steps)).responses.len(), requests);
        prop_assert_eq!(normalized(steps), whole);
    }

    #[test]
    fn client_steps_do_not_depend_on_arrival_times(
        messages in prop::collection::vec(message(), 0..5),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        gaps in prop::collection::vec(0u64..1_900, 31),
        pipelining in any::<bool>(),
    ) {
        let mut options = Options::default();
        options.session_timeout = Some(Duration::from_secs(59));
        let (from_server, client) = server_bytes_for(messages.clone(), pipelining, options.clone());
        // Time frozen: no deadline can fire.
        let frozen = normalized(transcript(client, [&from_server], false));
        prop_assert_eq!(frozen.last(), Some(&Step::Done(Ok(()))));
        // At most 31 pieces, under 1.9 s apart: all within 59 s of the
        // start, so before every response deadline and the session's.
        let mut at = Duration::ZERO;
        let arrivals: Vec<(Duration, Arrival)> = split(&from_server, &cuts)
            .iter()
            .zip(&gaps)
            .map(|(piece, gap)| {
                at += Duration::from_millis(*gap);
                (at, Arrival::from(piece.as_slice()))
            })
            .collect();
        let (_, client) = server_bytes_for(messages, pipelining, options);
        let timed = timed_transcript(client, arrivals);
        prop_assert!(timed.iter().all(|step| step.at <= at));
        prop_assert_eq!(normalized(untimed(timed)), frozen);
    }

    #[test]
    fn every_message_arrives_byte_identical(
        messages in prop::collection::vec(message(), 0..6),
        chunk in 1usize..64,
        pipelining in any::<bool>(),
    ) {
        let mut options = server::Options::default();
        options.pipelining = pipelining;
        let mailbox = Mailbox::new("john", "doe", messages.clone());
        let expected: Vec<Bytes> = (1..=mailbox.len()).map(|n| mailbox.message(n).unwrap().clone()).collect();
        let mut client = Client::new(Options::default());
        client.send(Request::Capa);
        client.send(login());
        let handles: Vec<_> = (1..=messages.len() as u32).map(|n| client.send(Request::Retr(n))).collect();
        client.send(Request::Quit);
        let outcome = Pair::new(client, Server::new(mailbox, options)).chunk_size(chunk).run();
        prop_assert_eq!(outcome.client_result, Some(Ok(())));
        let c = collect(&outcome.client_events);
        for (handle, expected) in handles.iter().zip(&expected) {
            prop_assert_eq!(c.bodies.get(handle).cloned().unwrap_or_default(), expected.to_vec());
        }
    }

    #[test]
    fn decoder_output_does_not_depend_on_chunking(
        data in prop::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'x')], 0..100),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let run = |pieces: Vec<Vec<u8>>| {
            let mut decoder = MultiLineDecoder::default();
            let mut input = BytesMut::new();
            let mut out = Vec::new();
            let mut pieces = pieces.into_iter();
            while let Some(piece) = pieces.next() {
                input.extend_from_slice(&piece);
                loop {
                    match decoder.decode(&mut input) {
                        Decoded::Data(chunk) => out.extend_from_slice(&chunk),
                        Decoded::End => {
                            // What follows the terminator is left alone.
                            let rest: Vec<u8> = input.iter().copied().chain(pieces.flatten()).collect();
                            return (out, true, rest);
                        }
                        Decoded::NeedMore => break,
                    }
                }
            }
            (out, false, input.to_vec())
        };
        let whole = run(vec![data.clone()]);
        prop_assert_eq!(run(split(&data, &cuts)), whole.clone());
        let singles: Vec<Vec<u8>> = data.iter().map(|&b| vec![b]).collect();
        let (body, ended, rest) = run(singles);
        prop_assert_eq!(&body, &whole.0);
        prop_assert_eq!(ended, whole.1);
        if ended { prop_assert_eq!(rest, whole.2); }
    }

    #[test]
    fn status_lines_round_trip(text in "[ -~]{0,60}", ok in any::<bool>()) {
        let line = format!("{} {}", if ok { "+OK" } else { "-ERR" }, text);
        let parsed = pop3_client::StatusLine::parse(line.as_bytes()).unwrap();
        prop_assert_eq!(parsed.is_ok(), ok);
        if !text.starts_with('[') {
            prop_assert_eq!(parsed.text, Bytes::from(text));
        }
    }

    #[test]
    fn commands_encode_to_one_line_or_refuse(user in prop::collection::vec(any::<u8>(), 0..300)) {
        match pop3_client::Command::User(Bytes::from(user.clone())).encode() {
            Ok(line) => {
                prop_assert!(line.ends_with(b"\r\n"));
                prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
                prop_assert_eq!(&line[5..line.len() - 2], &user[..]);
            }
            Err(error) => {
                let expected = matches!(error, Error::ForbiddenByte | Error::CommandTooLong { .. });
                prop_assert!(expected, "unexpected error {:?}", error);
            }
        }
    }
}

#[test]
fn a_refused_stls_never_lets_the_queued_login_go_out_in_clear() {
    let mut client = Client::new(Options::default());
    let stls = client.send(Request::Stls);
    let login = client.send(login());
    let steps = transcript(
        client,
        [b"+OK hi\r\n".as_slice(), b"-ERR not now\r\n"],
        false,
    );
    assert_eq!(lineproto::testing::transmitted(&steps), b"STLS\r\n");
    assert!(
        matches!(&steps[2], Step::Event(Event::Response { handle, response: Response::Rejected(_), .. }) if *handle == stls)
    );
    assert!(steps.contains(&Step::Event(Event::Response {
        handle: login,
        requested: Requested::UserPass {
            user: "john".into()
        },
        response: Response::NotSent(Error::SessionEnded)
    })));
    assert!(matches!(
        steps.last(),
        Some(Step::Done(Err(Error::StartTlsRefused(_))))
    ));
}

#[test]
fn every_request_gets_an_answer_even_when_the_session_fails() {
    let mut client = Client::new(Options::default());
    let stat = client.send(Request::Stat);
    let steps = transcript(
        &mut client,
        [b"+OK hi\r\n".as_slice(), b"garbage\r\n"],
        false,
    );
    assert!(steps.iter().any(|s| matches!(s, Step::Event(Event::Response { handle, response: Response::Unanswered(_), .. }) if *handle == stat)));
    // Sent after the end: answered at once.
    let late = client.send(Request::Noop);
    use lineproto::Machine;
    assert_eq!(
        client.poll_output(epoch()),
        lineproto::Output::Event(Event::Response {
            handle: late,
            requested: Requested::Noop,
            response: Response::NotSent(Error::SessionEnded)
        })
    );
}

#[test]
fn a_bad_password_is_refused_before_user_goes_out_and_utf8_is_not_pipelined() {
    let mut client = Client::new(Options::default());
    let bad = client.send(Request::Login(Credentials::UserPass {
        user: "john".into(),
        password: secret("a\r\nDELE 1"),
    }));
    let steps = transcript(&mut client, [b"+OK hi\r\n".as_slice()], false);
    assert!(steps.contains(&Step::Event(Event::Response {
        handle: bad,
        requested: Requested::UserPass {
            user: "john".into()
        },
        response: Response::NotSent(Error::ForbiddenByte)
    })));
    assert!(!steps.iter().any(|s| matches!(s, Step::Transmit(_))));

    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    client.send(Request::Utf8);
    client.send(Request::Stat);
    let mut steps = transcript(
        &mut client,
        [b"+OK hi\r\n+OK\r\nPIPELINING\r\n.\r\n".as_slice()],
        false,
    );
    assert_eq!(steps.pop(), Some(Step::Transmit("UTF8\r\n".into())));
}

#[test]
fn secrets_go_out_in_their_own_buffers() {
    use lineproto::{Machine, Output};
    let mut client = Client::new(Options::default());
    client.send(login());
    client.handle_input(b"+OK hi\r\n");
    assert!(matches!(
        client.poll_output(epoch()),
        Output::Event(Event::Greeting(_))
    ));
    assert_eq!(
        client.poll_output(epoch()),
        Output::Transmit("USER john\r\n".into())
    );
    // Drained, with USER's answer due within the response timeout.
    assert_eq!(
        client.poll_output(epoch()),
        Output::Wait {
            deadline: Some(epoch() + Duration::from_secs(60))
        }
    );
    client.handle_input(b"+OK\r\n");
    assert_eq!(
        client.poll_output(epoch()),
        Output::Transmit("PASS doe\r\n".into())
    );
}

#[test]
fn lang_lists_and_chooses_languages() {
    let mut client = Client::new(Options::default());
    let list = client.send(Request::Lang(None));
    let de = client.send(Request::Lang(Some("de".into())));
    let bad = client.send(Request::Lang(Some("xx".into())));
    client.send(Request::Quit);
    let outcome = Pair::new(
        client,
        Server::new(
            Mailbox::new("john", "doe", vec![]),
            server::Options::default(),
        ),
    )
    .run();
    let c = collect(&outcome.client_events);
    assert_eq!(
        response(&c, list),
        Response::Languages(vec![
            ("en".into(), "English".into()),
            ("de".into(), "Deutsch".into())
        ])
    );
    let Response::Ok(line) = response(&c, de) else {
        panic!()
    };
    assert_eq!(line.text, "de Sprache gewechselt");
    assert!(matches!(response(&c, bad), Response::Rejected(_)));
}
