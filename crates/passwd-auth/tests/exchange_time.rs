//! The auth exchange on virtual time: the request deadline, and failure
//! codes held on the machine's own timer.

use std::time::Duration;

use lineproto::testing::{Arrival, Step, Timed, timed_transcript};
use passwd_auth::Outcome;
use passwd_auth::server::{Error, Event, Options, Server};

fn verifier(user: &[u8], password: &[u8]) -> Outcome {
    match (user, password) {
        (b"john", b"doe") => Outcome::Authenticated,
        (b"john", _) => Outcome::WrongPassword,
        _ => Outcome::UnknownUser,
    }
}

type Verify = fn(&[u8], &[u8]) -> Outcome;

fn with_delay(delay: Duration) -> Server<Verify> {
    let mut options = Options::default();
    options.failure_delay = delay;
    Server::new(options, verifier)
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// When the code went out.
fn sent_at<E, R>(steps: &[Timed<E, R>]) -> Option<Duration> {
    steps
        .iter()
        .find(|timed| matches!(timed.step, Step::Transmit(_)))
        .map(|timed| timed.at)
}

#[test]
fn a_failure_is_held_for_the_delay_from_receipt_and_a_success_is_not() {
    let wrong = timed_transcript(with_delay(secs(2)), [(secs(1), "john:nope\n")]);
    assert_eq!(sent_at(&wrong), Some(secs(3)));
    assert_eq!(wrong.last().unwrap().step, Step::Done(Ok(())));

    let unknown = timed_transcript(with_delay(secs(2)), [(secs(1), "nobody:x\n")]);
    assert_eq!(sent_at(&unknown), Some(secs(3)));

    let right = timed_transcript(with_delay(secs(2)), [(secs(1), "john:doe\n")]);
    assert_eq!(sent_at(&right), Some(secs(1)));
}

#[test]
fn the_verdict_event_comes_at_receipt_before_the_held_code() {
    let steps = timed_transcript(with_delay(secs(2)), [(secs(1), "john:nope\n")]);
    assert!(matches!(
        steps[0],
        Timed {
            at,
            step: Step::Event(Event::Verdict { outcome: Outcome::WrongPassword, .. }),
        } if at == secs(1)
    ));
}

#[test]
fn delay_reply_lengthens_one_reply_from_receipt() {
    // A driver that adds 500 ms of jitter to a 2 s delay on the verdict.
    let mut server = with_delay(secs(2));
    let start = lineproto::testing::epoch();
    let received = start + secs(1);
    assert!(matches!(
        lineproto::Machine::poll_output(&mut server, start),
        lineproto::Output::Wait { .. }
    ));
    lineproto::Machine::handle_input(&mut server, b"john:nope\n");
    let verdict = lineproto::Machine::poll_output(&mut server, received);
    assert!(matches!(
        verdict,
        lineproto::Output::Event(Event::Verdict { .. })
    ));
    server.delay_reply(Duration::from_millis(2_500));
    assert_eq!(
        lineproto::Machine::poll_output(&mut server, received + secs(2)),
        lineproto::Output::Wait {
            deadline: Some(received + Duration::from_millis(2_500))
        }
    );
    assert_eq!(
        lineproto::Machine::poll_output(&mut server, received + Duration::from_millis(2_500)),
        lineproto::Output::Transmit("0".into())
    );
    // A shorter delay than the configured one changes nothing.
    let mut server = with_delay(secs(2));
    let _ = lineproto::Machine::poll_output(&mut server, start);
    lineproto::Machine::handle_input(&mut server, b"john:nope\n");
    let _ = lineproto::Machine::poll_output(&mut server, start);
    server.delay_reply(secs(1));
    assert_eq!(
        lineproto::Machine::poll_output(&mut server, start),
        lineproto::Output::Wait {
            deadline: Some(start + secs(2))
        }
    );
}

#[test]
fn a_slow_drip_is_cut_at_the_request_deadline_with_no_code() {
    let drip = (0..30).map(|second| (secs(second), "j"));
    let steps = timed_transcript(with_delay(secs(2)), drip);
    assert_eq!(
        steps,
        [Timed {
            at: secs(10),
            step: Step::Done(Err(Error::RequestTimeout { timeout: secs(10) })),
        }]
    );
}

#[test]
fn the_client_gives_up_on_a_server_that_never_closes() {
    let client = passwd_auth::client::Client::new(
        b"john",
        lineproto::Secret::new(b"doe".to_vec()),
        passwd_auth::client::Options::default(),
    )
    .unwrap();
    let steps = timed_transcript(client, [(secs(1), Arrival::from("1"))]);
    assert_eq!(
        steps.last().unwrap(),
        &Timed {
            at: secs(30),
            step: Step::Done(Err(passwd_auth::client::Error::ReplyTimeout {
                timeout: secs(30)
            })),
        }
    );
}

proptest::proptest! {
    /// Timing invariance: the request arriving in any pieces at any times
    /// before the deadline gives the same steps as arriving at once (the
    /// held code goes out at the same delay after the last piece).
    #[test]
    fn the_exchange_does_not_depend_on_arrival_times(
        request in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..8),
        mut times in proptest::collection::vec(0u64..9_999, 9),
        eof in proptest::prelude::any::<bool>(),
    ) {
        let pieces = lineproto::testing::split(&request, &cuts);
        times.sort_unstable();
        let mut arrivals: Vec<(Duration, Arrival)> = pieces
            .iter()
            .zip(&times)
            .map(|(piece, &ms)| (Duration::from_millis(ms), Arrival::from(piece.as_slice())))
            .collect();
        if eof {
            arrivals.push((Duration::from_millis(9_999), Arrival::Eof));
        }
        let timed = lineproto::testing::untimed(timed_transcript(with_delay(secs(2)), arrivals));
        let whole = lineproto::testing::transcript(with_delay(Duration::ZERO), [&request], eof);
        // Time frozen, nothing times out and no code is held; on the clock,
        // an unfinished request meets the deadline instead of waiting.
        proptest::prop_assert!(timed.len() >= whole.len());
        if whole.last().is_some_and(|step| matches!(step, Step::Done(_))) {
            proptest::prop_assert_eq!(&timed, &whole);
        } else {
            proptest::prop_assert_eq!(&timed[..whole.len()], &whole[..]);
        }
    }
}
