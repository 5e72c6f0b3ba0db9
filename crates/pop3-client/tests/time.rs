//! Deadlines on virtual time: the client's response and session timeouts,
//! LOGIN-DELAY, and the server's autologout timer. Nothing sleeps; a
//! 10-minute timeout takes no time at all.

use std::time::Duration;

use bytes::Bytes;
use lineproto::Secret;
use lineproto::testing::{Arrival, Pair, Step, Timed, epoch, timed_transcript};
use pop3_client::client::{Client, Credentials, Event, Options, Request, Requested, Response};
use pop3_client::server::{self, Mailbox, Server};
use pop3_client::{Error, Handle, ResponseCode};

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn login() -> Request {
    Request::Login(Credentials::UserPass {
        user: "john".into(),
        password: Secret::new(b"doe".to_vec()),
    })
}

/// What a server sends up to and including the `+OK` to a USER/PASS login.
const GREETING_AND_LOGIN: &str = "+OK ready\r\n+OK\r\n+OK logged in\r\n";

/// `text`, one byte at a time, the first at `start` and then every 1.5 s.
fn trickled(start: Duration, text: &str) -> Vec<(Duration, Arrival)> {
    (0u32..)
        .zip(text.as_bytes())
        .map(|(i, byte)| {
            (
                start + Duration::from_millis(1500) * i,
                Arrival::from(&[*byte]),
            )
        })
        .collect()
}

/// The answers to `handle`, in order.
fn answers(timed: &[Timed<Event, Error>], handle: Handle) -> Vec<Response> {
    timed
        .iter()
        .filter_map(|t| match &t.step {
            Step::Event(Event::Response {
                handle: h,
                response,
                ..
            }) if *h == handle => Some(response.clone()),
            _ => None,
        })
        .collect()
}

/// The last step and when it happened.
fn end<E: Clone>(timed: &[Timed<E, Error>]) -> (Duration, Step<E, Error>) {
    let last = timed.last().expect("at least one step");
    (last.at, last.step.clone())
}

#[test]
fn a_server_trickling_a_status_line_is_cut_at_the_response_deadline() {
    let mut client = Client::new(Options::default());
    let stat = client.send(Request::Stat);
    let queued = client.send(Request::Noop);
    let mut arrivals = vec![(Duration::ZERO, Arrival::from("+OK ready\r\n"))];
    // 60 bytes, one every 1.5 s: each arrives well within the timeout, but
    // the whole line would take 90 s.
    arrivals.extend(trickled(
        Duration::from_millis(1500),
        "+OK 1 120 and some more text to make the line take its time\r\n",
    ));
    let timed = timed_transcript(client, arrivals);
    let error = Error::ResponseTimeout {
        command: "STAT",
        timeout: secs(60),
    };
    // STAT went out at the greeting, at 0 s.
    assert!(
        timed
            .iter()
            .any(|t| t.at.is_zero() && t.step == Step::Transmit("STAT\r\n".into()))
    );
    assert_eq!(end(&timed), (secs(60), Step::Done(Err(error.clone()))));
    assert_eq!(answers(&timed, stat), [Response::Unanswered(error)]);
    assert_eq!(
        answers(&timed, queued),
        [Response::NotSent(Error::SessionEnded)]
    );
    assert_eq!(
        Error::ResponseTimeout {
            command: "STAT",
            timeout: secs(60)
        }
        .to_string(),
        "timed out after 60s waiting for the STAT response"
    );
}

#[test]
fn a_silent_server_is_given_up_on_when_the_greeting_is_due() {
    let mut options = Options::default();
    options.response_timeout = Some(secs(30));
    let timed = timed_transcript(Client::new(options), Vec::<(Duration, Arrival)>::new());
    assert_eq!(
        end(&timed),
        (
            secs(30),
            Step::Done(Err(Error::ResponseTimeout {
                command: "greeting",
                timeout: secs(30)
            }))
        )
    );

    // With no response timeout, the client waits for ever.
    let mut options = Options::default();
    options.response_timeout = None;
    let timed = timed_transcript(
        Client::new(options),
        [(secs(86_400), "+OK ready at last\r\n")],
    );
    assert!(matches!(
        &timed.last().unwrap().step,
        Step::Event(Event::Greeting(_))
    ));
}

#[test]
fn a_big_message_streamed_line_by_line_for_longer_than_the_timeout_completes() {
    let mut client = Client::new(Options::default());
    client.send(login());
    let retr = client.send(Request::Retr(1));
    let quit = client.send(Request::Quit);
    let mut arrivals = vec![
        (Duration::ZERO, Arrival::from(GREETING_AND_LOGIN)),
        (Duration::ZERO, Arrival::from("+OK 1800 octets\r\n")),
    ];
    let mut expected = Vec::new();
    // 150 lines, one a second: 150 s in all, 2.5 times the timeout.
    for n in 1..=150u64 {
        let line = format!("line {n:3} of the message\r\n");
        expected.extend_from_slice(line.as_bytes());
        arrivals.push((secs(n), Arrival::from(line.as_str())));
    }
    arrivals.push((secs(151), Arrival::from(".\r\n+OK bye\r\n")));
    let timed = timed_transcript(client, arrivals);
    assert_eq!(end(&timed), (secs(151), Step::Done(Ok(()))));
    let body: Vec<u8> = timed
        .iter()
        .filter_map(|t| match &t.step {
            Step::Event(Event::MessageData { handle, chunk, .. }) if *handle == retr => {
                Some(chunk.to_vec())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, expected);
    // One answer, after the data, counting all of it.
    let retr_answers = answers(&timed, retr);
    assert!(
        matches!(retr_answers[..], [Response::Message { octets, .. }] if octets == expected.len() as u64),
        "{retr_answers:?}"
    );
    assert!(matches!(answers(&timed, quit)[..], [Response::Ok(_)]));
}

#[test]
fn message_bytes_trickled_without_a_line_end_are_cut() {
    let mut client = Client::new(Options::default());
    client.send(login());
    let retr = client.send(Request::Retr(1));
    let quit = client.send(Request::Quit);
    let mut arrivals = vec![
        (Duration::ZERO, Arrival::from(GREETING_AND_LOGIN)),
        (Duration::ZERO, Arrival::from("+OK\r\n")),
        (secs(5), Arrival::from("Subject: slow\r\n\r\n")),
        // The last complete line arrives at 10 s.
        (secs(10), Arrival::from("first line\r\nsecond")),
    ];
    // 100 bytes without a line end, one every 1.5 s.
    arrivals.extend(trickled(secs(11), &"x".repeat(100)));
    let timed = timed_transcript(client, arrivals);
    let error = Error::ResponseTimeout {
        command: "RETR",
        timeout: secs(60),
    };
    assert_eq!(end(&timed), (secs(70), Step::Done(Err(error.clone()))));
    // The one answer says the message was cut short.
    assert_eq!(answers(&timed, retr), [Response::Unanswered(error)]);
    assert_eq!(
        answers(&timed, quit),
        [Response::NotSent(Error::SessionEnded)]
    );
}

#[test]
fn a_listing_must_be_complete_within_the_timeout() {
    let mut client = Client::new(Options::default());
    client.send(login());
    let uidl = client.send(Request::Uidl(None));
    let mut arrivals = vec![
        (Duration::ZERO, Arrival::from(GREETING_AND_LOGIN)),
        (secs(1), Arrival::from("+OK\r\n")),
    ];
    // A line every second: the listing as a whole takes too long.
    for n in 1..=100u64 {
        arrivals.push((
            secs(1 + n),
            Arrival::from(format!("{n} uid{n}\r\n").as_str()),
        ));
    }
    arrivals.push((secs(102), Arrival::from(".\r\n")));
    let timed = timed_transcript(client, arrivals);
    let error = Error::ResponseTimeout {
        command: "UIDL",
        timeout: secs(60),
    };
    // UIDL went out when the login was answered, at 0 s.
    assert_eq!(end(&timed), (secs(60), Step::Done(Err(error.clone()))));
    assert_eq!(answers(&timed, uidl), [Response::Unanswered(error)]);
}

#[test]
fn each_pipelined_response_gets_the_whole_timeout_from_the_one_before() {
    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    client.send(login());
    let first = client.send(Request::Stat);
    let second = client.send(Request::Stat);
    client.send(Request::Quit);
    let timed = timed_transcript(
        client,
        [
            (Duration::ZERO, "+OK ready\r\n+OK\r\nPIPELINING\r\n.\r\n"),
            (Duration::ZERO, "+OK\r\n+OK logged in\r\n"),
            // Both STATs and QUIT went out at 0 s. The first answer takes
            // 50 s; the second has 60 s from then, not from 0 s.
            (secs(50), "+OK 1 10\r\n"),
            (secs(105), "+OK 1 10\r\n"),
            (secs(160), "+OK bye\r\n"),
        ],
    );
    assert!(
        timed
            .iter()
            .any(|t| t.at.is_zero() && t.step == Step::Transmit("STAT\r\nSTAT\r\nQUIT\r\n".into()))
    );
    assert_eq!(end(&timed), (secs(160), Step::Done(Ok(()))));
    for handle in [first, second] {
        assert_eq!(
            answers(&timed, handle),
            [Response::Stat {
                count: 1,
                octets: 10
            }]
        );
    }
}

#[test]
fn the_wait_reports_the_earlier_deadline() {
    use lineproto::{Machine, Output};
    let mut options = Options::default();
    options.session_timeout = Some(secs(90));
    let mut client = Client::new(options);
    client.send(Request::Noop);
    assert_eq!(
        client.poll_output(epoch()),
        Output::Wait {
            deadline: Some(epoch() + secs(60))
        }
    );
    client.handle_input(b"+OK ready\r\n");
    let at = epoch() + secs(40);
    assert!(matches!(
        client.poll_output(at),
        Output::Event(Event::Greeting(_))
    ));
    assert_eq!(client.poll_output(at), Output::Transmit("NOOP\r\n".into()));
    // NOOP's answer is due at 100 s, but the session ends at 90 s.
    assert_eq!(
        client.poll_output(at),
        Output::Wait {
            deadline: Some(epoch() + secs(90))
        }
    );
    client.handle_input(b"+OK\r\n");
    assert!(matches!(client.poll_output(at), Output::Event(_)));
    // Nothing in flight: only the session deadline is left.
    assert_eq!(
        client.poll_output(at),
        Output::Wait {
            deadline: Some(epoch() + secs(90))
        }
    );
}

#[test]
fn the_session_timeout_fires_even_with_nothing_in_flight() {
    let mut options = Options::default();
    options.session_timeout = Some(secs(300));
    let mut client = Client::new(options);
    client.send(login());
    let timed = timed_transcript(client, [(secs(2), GREETING_AND_LOGIN)]);
    assert_eq!(
        end(&timed),
        (
            secs(300),
            Step::Done(Err(Error::SessionTimeout { timeout: secs(300) }))
        )
    );

    // A request in flight with no response timeout of its own.
    let mut options = Options::default();
    options.session_timeout = Some(secs(300));
    options.response_timeout = None;
    let mut client = Client::new(options);
    client.send(login());
    let stat = client.send(Request::Stat);
    let timed = timed_transcript(client, [(secs(2), GREETING_AND_LOGIN)]);
    let error = Error::SessionTimeout { timeout: secs(300) };
    assert_eq!(end(&timed), (secs(300), Step::Done(Err(error.clone()))));
    assert_eq!(answers(&timed, stat), [Response::Unanswered(error)]);
}

#[test]
fn a_deadline_too_far_away_to_represent_never_comes() {
    let mut options = Options::default();
    options.response_timeout = Some(Duration::MAX);
    options.session_timeout = Some(Duration::MAX);
    let timed = timed_transcript(Client::new(options), [(secs(1), Arrival::Eof)]);
    assert_eq!(
        end(&timed),
        (secs(1), Step::Done(Err(Error::UnexpectedEof)))
    );
}

#[test]
fn login_delay_counts_from_the_login_as_the_server_machine_reports_it() {
    let mut options = server::Options::default();
    options.login_delay = Some(900);
    let mut server = Server::new(Mailbox::new("john", "doe", vec![]), options);
    let mut client = Client::new(Options::default());
    assert_eq!(client.next_login_allowed(), None);
    client.send(Request::Capa);
    client.send(login());
    client.send(Request::Quit);
    let outcome = Pair::new(&mut client, &mut server).run();
    assert_eq!(outcome.client_result, Some(Ok(())));
    assert_eq!(outcome.elapsed, Duration::ZERO);
    assert_eq!(client.next_login_allowed(), Some(epoch() + secs(900)));
}

#[test]
fn login_delay_from_a_late_login_a_refusal_or_not_at_all() {
    let capa = "+OK ready\r\n+OK\r\nLOGIN-DELAY 900 USER\r\n.\r\n";

    // CAPA listed the delay; the login succeeded 5 s in.
    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    client.send(login());
    timed_transcript(
        &mut client,
        [
            (Duration::ZERO, capa),
            (secs(1), "+OK\r\n"),
            (secs(5), "+OK logged in\r\n"),
        ],
    );
    assert_eq!(client.next_login_allowed(), Some(epoch() + secs(905)));

    // CAPA after the login gives this user's value; it still counts from
    // the login.
    let mut client = Client::new(Options::default());
    client.send(login());
    client.send(Request::Capa);
    timed_transcript(
        &mut client,
        [
            (secs(3), GREETING_AND_LOGIN),
            (secs(4), "+OK\r\nLOGIN-DELAY 60\r\n.\r\n"),
        ],
    );
    assert_eq!(client.next_login_allowed(), Some(epoch() + secs(63)));

    // Refused with [LOGIN-DELAY] at 7 s: the last login, in another
    // session, was too recent; by 7 s + the delay it is certainly not.
    let mut client = Client::new(Options::default());
    client.send(Request::Capa);
    let refused = client.send(login());
    let timed = timed_transcript(
        &mut client,
        [
            (Duration::ZERO, capa),
            (Duration::ZERO, "+OK\r\n"),
            (secs(7), "-ERR [LOGIN-DELAY] wait a while\r\n"),
        ],
    );
    let [Response::Rejected(error)] = &answers(&timed, refused)[..] else {
        panic!("{timed:?}")
    };
    assert_eq!(error.code, Some(ResponseCode::LoginDelay));
    assert_eq!(client.next_login_allowed(), Some(epoch() + secs(907)));

    // No CAPA, no known delay.
    let mut client = Client::new(Options::default());
    client.send(login());
    timed_transcript(&mut client, [(secs(5), GREETING_AND_LOGIN)]);
    assert_eq!(client.next_login_allowed(), None);
}

#[test]
fn the_server_logs_out_an_idle_client_after_ten_minutes() {
    let mailbox = || Mailbox::new("john", "doe", vec![]);
    let timed = timed_transcript(
        Server::new(mailbox(), server::Options::default()),
        Vec::<(Duration, Arrival)>::new(),
    );
    let steps: Vec<_> = timed.iter().map(|t| (t.at, t.step.clone())).collect();
    assert_eq!(
        steps,
        [
            (
                Duration::ZERO,
                Step::Transmit(
                    "+OK POP3 demo server ready <1896.697170952@pop3.demo.invalid>\r\n".into()
                )
            ),
            // No reply, nothing deleted: the connection just closes.
            (
                secs(600),
                Step::Done(Err(Error::IdleTimeout { timeout: secs(600) }))
            )
        ]
    );

    // Any command line restarts the timer; bytes without a line end do not.
    let timed = timed_transcript(
        Server::new(mailbox(), server::Options::default()),
        [(secs(500), "BOGUS\r\n"), (secs(900), "US")],
    );
    assert_eq!(
        end(&timed),
        (
            secs(1100),
            Step::Done(Err(Error::IdleTimeout { timeout: secs(600) }))
        )
    );
}

#[test]
fn a_client_that_never_quits_is_logged_out_by_the_server() {
    let mut client = Client::new(Options::default());
    let auth = client.send(login());
    let outcome = Pair::new(
        client,
        Server::new(
            Mailbox::new("john", "doe", vec![Bytes::from("Subject: x\r\n\r\ny\r\n")]),
            server::Options::default(),
        ),
    )
    .run();
    assert!(outcome.client_events.contains(&Event::Response {
        handle: auth,
        requested: Requested::UserPass {
            user: "john".into()
        },
        response: Response::Ok(
            pop3_client::StatusLine::parse(b"+OK Logged in, 1 messages").unwrap()
        ),
    }));
    // Virtual time jumped straight to the server's deadline.
    assert_eq!(outcome.elapsed, secs(600));
    assert_eq!(
        outcome.server_result,
        Some(Err(Error::IdleTimeout { timeout: secs(600) }))
    );
    assert_eq!(outcome.client_result, Some(Err(Error::UnexpectedEof)));
}
