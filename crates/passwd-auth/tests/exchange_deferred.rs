//! The deferred auth exchange on virtual time: the same bytes as the
//! synchronous server whenever the verdict comes, failures held from
//! receipt, the judge timeout, and no password in `Debug`.

use std::time::{Duration, Instant};

use lineproto::testing::{Arrival, Step, Timed, epoch, timed_transcript, transcript, untimed};
use lineproto::{Machine, Output, earliest};
use passwd_auth::server::{
    DeferredEvent, DeferredServer, Error, Event, NoAttemptPending, Options, Server,
};
use passwd_auth::{Outcome, VerifyBudget, WireCode};

fn verifier(user: &[u8], password: &[u8]) -> Outcome {
    match (user, password) {
        (b"john", b"doe") => Outcome::Authenticated,
        (b"john", _) => Outcome::WrongPassword,
        _ => Outcome::UnknownUser,
    }
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn options(delay: Duration) -> Options {
    let mut options = Options::default();
    options.failure_delay = delay;
    options
}

/// An application around a [`DeferredServer`] whose verification takes
/// `lag`: it judges the attempt `lag` after the attempt's event, and wakes
/// the driver then (the way an async driver wakes when a blocking task
/// ends).
#[derive(Debug)]
struct Application {
    server: DeferredServer,
    lag: Duration,
    ready: Option<(Instant, Outcome)>,
    /// How many verifications ran.
    verified: usize,
}

impl Application {
    fn new(options: Options, lag: Duration) -> Self {
        Self {
            server: DeferredServer::new(options),
            lag,
            ready: None,
            verified: 0,
        }
    }
}

impl Machine for Application {
    type Event = DeferredEvent;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.server.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.server.handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<DeferredEvent, Error> {
        if self.ready.as_ref().is_some_and(|(at, _)| now >= *at) {
            if let Some((_, outcome)) = self.ready.take() {
                self.server.judge(outcome).expect("an attempt waits");
            }
        }
        match self.server.poll_output(now) {
            Output::Event(DeferredEvent::Attempt { user, password }) => {
                self.verified += 1;
                let outcome = verifier(&user, password.expose());
                self.ready = Some((now + self.lag, outcome));
                Output::Event(DeferredEvent::Attempt { user, password })
            }
            Output::Wait { deadline } => Output::Wait {
                deadline: earliest(deadline, self.ready.as_ref().map(|(at, _)| *at)),
            },
            other => other,
        }
    }
}

/// The deferred steps as the synchronous server's: attempts left out,
/// verdicts as [`Event::Verdict`].
fn as_sync(steps: Vec<Step<DeferredEvent, Error>>) -> Vec<Step<Event, Error>> {
    steps
        .into_iter()
        .filter_map(|step| match step {
            Step::Event(DeferredEvent::Verdict {
                user,
                outcome,
                code,
            }) => Some(Step::Event(Event::Verdict {
                user,
                outcome,
                code,
            })),
            Step::Event(_) => None,
            Step::Transmit(bytes) => Some(Step::Transmit(bytes)),
            Step::Done(result) => Some(Step::Done(result)),
        })
        .collect()
}

/// When the code went out.
fn sent_at<E, R>(steps: &[Timed<E, R>]) -> Option<Duration> {
    steps
        .iter()
        .find(|timed| matches!(timed.step, Step::Transmit(_)))
        .map(|timed| timed.at)
}

const REQUESTS: [&str; 8] = [
    "john:doe\n",
    "john:doe\r\n",
    "john:nope\n",
    "nobody:x\n",
    "no colon at all\n",
    "john:doe", // ended by end of input
    "",
    ":\n",
];

#[test]
fn the_deferred_server_sends_the_synchronous_servers_bytes_whenever_it_is_judged() {
    let overlong = format!("john:{}\n", "x".repeat(2_000));
    let requests = REQUESTS.iter().copied().chain([overlong.as_str()]);
    for request in requests {
        for uniform in [false, true] {
            for lag in [Duration::ZERO, millis(500), secs(3), secs(29)] {
                let mut options = options(secs(2));
                options.uniform_unknown_user = uniform;
                let arrivals = [(secs(1), Arrival::from(request)), (secs(1), Arrival::Eof)];
                let sync =
                    timed_transcript(Server::new(options.clone(), verifier), arrivals.clone());
                let deferred = timed_transcript(Application::new(options, lag), arrivals);
                assert_eq!(
                    as_sync(untimed(deferred.clone())),
                    untimed(sync.clone()),
                    "{request:?} judged after {lag:?}"
                );
                // A success leaves when judged, a refusal at receipt + 2 s
                // or when judged, whichever is later.
                let expected = sent_at(&sync).map(|at| at.max(secs(1) + lag));
                let malformed = !request.contains(':') || request.len() > 1024;
                if malformed {
                    // Judged by the machine at receipt: never waits.
                    assert_eq!(sent_at(&deferred), sent_at(&sync), "{request:?}");
                } else {
                    assert_eq!(sent_at(&deferred), expected, "{request:?} after {lag:?}");
                }
            }
        }
    }
}

#[test]
fn the_deferred_server_matches_the_synchronous_one_at_frozen_time() {
    for request in REQUESTS {
        for eof in [false, true] {
            let sync = transcript(Server::new(Options::default(), verifier), [request], eof);
            let deferred = transcript(
                Application::new(Options::default(), Duration::ZERO),
                [request],
                eof,
            );
            assert_eq!(as_sync(deferred), sync, "{request:?}, eof {eof}");
        }
    }
}

#[test]
fn the_attempt_carries_the_user_and_the_password_and_a_malformed_request_none() {
    let steps = transcript(
        DeferredServer::new(Options::default()),
        ["john:doe: with spaces \r\n"],
        false,
    );
    let [Step::Event(DeferredEvent::Attempt { user, password })] = &steps[..] else {
        panic!("one attempt, then a wait: {steps:?}");
    };
    assert_eq!(&user[..], b"john");
    assert_eq!(&password.expose()[..], b"doe: with spaces ");

    let steps = transcript(
        Application::new(Options::default(), Duration::ZERO),
        ["no colon\n"],
        false,
    );
    assert_eq!(
        steps[0],
        Step::Event(DeferredEvent::Verdict {
            user: "".into(),
            outcome: Outcome::MalformedRequest,
            code: WireCode::Rejected,
        })
    );
}

#[test]
fn a_refusal_judged_late_is_held_from_receipt_not_from_the_verdict() {
    let steps = timed_transcript(
        Application::new(options(secs(2)), millis(1_500)),
        [(secs(1), "john:nope\n")],
    );
    let times: Vec<(Duration, &str)> = steps
        .iter()
        .map(|timed| {
            let what = match &timed.step {
                Step::Event(DeferredEvent::Attempt { .. }) => "attempt",
                Step::Event(DeferredEvent::Verdict { .. }) => "verdict",
                Step::Event(_) => "another event",
                Step::Transmit(_) => "code",
                Step::Done(_) => "done",
            };
            (timed.at, what)
        })
        .collect();
    assert_eq!(
        times,
        [
            (secs(1), "attempt"),
            (millis(2_500), "verdict"),
            (secs(3), "code"),
            (secs(3), "done"),
        ]
    );
}

#[test]
fn delay_reply_counts_from_receipt_in_the_deferred_server_too() {
    let mut server = DeferredServer::new(options(secs(2)));
    let received = epoch() + secs(1);
    let _ = server.poll_output(epoch());
    server.handle_input(b"john:nope\n");
    let _attempt = server.poll_output(received);
    server.judge(Outcome::WrongPassword).unwrap();
    let judged = received + secs(1);
    assert!(matches!(
        server.poll_output(judged),
        Output::Event(DeferredEvent::Verdict { .. })
    ));
    server.delay_reply(millis(2_500));
    assert_eq!(
        server.poll_output(judged),
        Output::Wait {
            deadline: Some(received + millis(2_500))
        }
    );
    assert_eq!(
        server.poll_output(received + millis(2_500)),
        Output::Transmit("0".into())
    );
    server.delay_reply(secs(60));
    assert_eq!(
        server.poll_output(received + millis(2_500)),
        Output::Done(Ok(()))
    );
}

#[test]
fn no_verdict_within_the_judge_timeout_ends_the_exchange_with_no_code() {
    let steps = timed_transcript(
        DeferredServer::new(options(secs(2))),
        [(secs(1), "john:doe\n")],
    );
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(matches!(
        steps[0],
        Timed { at, step: Step::Event(DeferredEvent::Attempt { .. }) } if at == secs(1)
    ));
    assert_eq!(
        steps[1],
        Timed {
            at: secs(31),
            step: Step::Done(Err(Error::JudgeTimeout { timeout: secs(30) })),
        }
    );

    // A shorter timeout, and a verdict that comes after it is refused.
    let mut options = Options::default();
    options.judge_timeout = secs(5);
    let mut server = DeferredServer::new(options);
    server.handle_input(b"john:doe\n");
    let _attempt = server.poll_output(epoch());
    assert_eq!(
        server.poll_output(epoch() + millis(4_999)),
        Output::Wait {
            deadline: Some(epoch() + secs(5))
        }
    );
    assert_eq!(
        server.poll_output(epoch() + secs(5)),
        Output::Done(Err(Error::JudgeTimeout { timeout: secs(5) }))
    );
    assert_eq!(server.judge(Outcome::Authenticated), Err(NoAttemptPending));
    assert_eq!(
        server.poll_output(epoch() + secs(6)),
        Output::Done(Err(Error::JudgeTimeout { timeout: secs(5) }))
    );
    assert_eq!(
        Error::JudgeTimeout { timeout: secs(5) }.to_string(),
        "no verdict within 5s of the request"
    );
}

#[test]
fn a_verdict_handed_in_before_the_deadline_drain_counts() {
    let mut server = DeferredServer::new(Options::default());
    server.handle_input(b"john:doe\n");
    let _attempt = server.poll_output(epoch());
    server.judge(Outcome::Authenticated).unwrap();
    // Judged twice: the second verdict finds no attempt.
    assert_eq!(server.judge(Outcome::WrongPassword), Err(NoAttemptPending));
    let late = epoch() + secs(60);
    assert!(matches!(
        server.poll_output(late),
        Output::Event(DeferredEvent::Verdict {
            outcome: Outcome::Authenticated,
            ..
        })
    ));
    assert_eq!(server.poll_output(late), Output::Transmit("1".into()));
}

#[test]
fn the_judge_timeout_does_not_cut_the_request_deadline_short() {
    // The request still has its own 10 s, whatever the judge timeout.
    let mut options = Options::default();
    options.judge_timeout = Duration::ZERO;
    let steps = timed_transcript(
        DeferredServer::new(options),
        (0..30).map(|second| (secs(second), "j")),
    );
    assert_eq!(
        steps,
        [Timed {
            at: secs(10),
            step: Step::Done(Err(Error::RequestTimeout { timeout: secs(10) })),
        }]
    );
}

#[test]
fn the_password_never_shows_in_debug() {
    let mut server = DeferredServer::new(Options::default());
    server.handle_input(b"john:hunter2-secret\n");
    let before = format!("{server:?} {server:#?}");
    let attempt = server.poll_output(epoch());
    let during = format!("{server:?} {attempt:?} {attempt:#?}");
    assert!(during.contains("john"), "{during}");
    server.judge(Outcome::WrongPassword).unwrap();
    let verdict = server.poll_output(epoch());
    let after = format!("{server:?} {verdict:?}");
    for shown in [before, during, after] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    let Output::Event(DeferredEvent::Attempt { password, .. }) = attempt else {
        panic!("an attempt");
    };
    assert_eq!(password.expose(), b"hunter2-secret");
}

#[test]
fn a_budget_refuses_what_it_cannot_queue_and_the_refusal_is_held() {
    // Two connections, a budget of one verification and no queue: the
    // second attempt is refused as overloaded, with the failure hold.
    let budget = VerifyBudget::new(1, 0);
    let mut first = DeferredServer::new(options(secs(2)));
    let mut second = DeferredServer::new(options(secs(2)));
    first.handle_input(b"john:doe\n");
    second.handle_input(b"john:doe\n");
    let now = epoch();
    let _attempt = first.poll_output(now);
    let permit = budget.try_admit().expect("nothing runs");
    let _attempt = second.poll_output(now);
    assert!(budget.try_admit().is_none() && budget.try_queue().is_none());
    second.judge(Outcome::Overloaded).unwrap();
    assert!(matches!(
        second.poll_output(now),
        Output::Event(DeferredEvent::Verdict {
            outcome: Outcome::Overloaded,
            code: WireCode::Rejected,
            ..
        })
    ));
    assert_eq!(
        second.poll_output(now),
        Output::Wait {
            deadline: Some(now + secs(2))
        }
    );
    first.judge(Outcome::Authenticated).unwrap();
    drop(permit);
    assert!(matches!(first.poll_output(now), Output::Event(_)));
    assert_eq!(first.poll_output(now), Output::Transmit("1".into()));
    assert_eq!(budget.running(), 0);
}

proptest::proptest! {
    /// Timing invariance of the verdict: judged at any time within the
    /// timeout, with the request in any pieces at any times before its
    /// deadline, the deferred server takes the synchronous server's
    /// untimed steps, and verifies at most once.
    #[test]
    fn deferred_judging_at_any_time_gives_the_same_steps(
        request in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..8),
        mut times in proptest::collection::vec(0u64..9_999, 9),
        lag in 0u64..29_999,
        eof in proptest::prelude::any::<bool>(),
        uniform in proptest::prelude::any::<bool>(),
    ) {
        let pieces = lineproto::testing::split(&request, &cuts);
        times.sort_unstable();
        let mut arrivals: Vec<(Duration, Arrival)> = pieces
            .iter()
            .zip(&times)
            .map(|(piece, &ms)| (millis(ms), Arrival::from(piece.as_slice())))
            .collect();
        if eof {
            arrivals.push((millis(9_999), Arrival::Eof));
        }
        let mut options = options(secs(2));
        options.uniform_unknown_user = uniform;
        let sync = untimed(timed_transcript(Server::new(options.clone(), verifier), arrivals.clone()));
        let mut application = Application::new(options, millis(lag));
        let deferred = timed_transcript(&mut application, arrivals);
        proptest::prop_assert!(application.verified <= 1);
        proptest::prop_assert_eq!(as_sync(untimed(deferred)), sync);
    }
}
