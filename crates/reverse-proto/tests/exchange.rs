//! Byte-exact transcripts, chunking invariance and client/server pairs for
//! the reversal exchange.

use bytes::Bytes;
use std::time::Duration;

use lineproto::testing::{
    Arrival, Pair, Step, Timed, split, timed_transcript, transcript, transmitted, untimed,
};
use proptest::prelude::*;
use reverse_proto::{Error, Mode, client, server};

fn server_with(mode: Mode, max_request_len: usize) -> server::Server {
    let mut options = server::Options::default();
    options.mode = mode;
    options.max_request_len = max_request_len;
    server::Server::new(options)
}

fn reply_of(input: &[&[u8]], eof: bool) -> Vec<u8> {
    transmitted(&transcript(
        server::Server::new(server::Options::default()),
        input,
        eof,
    ))
}

#[test]
fn article_transcript_is_byte_exact() {
    assert_eq!(
        reply_of(&[b"jack and the beanstalk\r\n"], false),
        b"klatsnaeb eht dna kcaj\n"
    );
    assert_eq!(
        reply_of(&[b"jack and the beanstalk\n"], false),
        b"klatsnaeb eht dna kcaj\n"
    );
}

#[test]
fn utf8_is_reversed_by_grapheme() {
    assert_eq!(
        reply_of(&["pässwörd 👍🏽\r\n".as_bytes()], false),
        "👍🏽 dröwssäp\n".as_bytes()
    );
}

#[test]
fn byte_mode_matches_php_strrev() {
    let steps = transcript(server_with(Mode::Bytes, 1024), ["ab😀\n".as_bytes()], false);
    let mut expected = b"\x80\x98\x9f\xf0ba".to_vec();
    expected.push(b'\n');
    assert_eq!(steps[1], Step::Transmit(expected.into()));
}

#[test]
fn only_the_first_line_is_the_request() {
    assert_eq!(reply_of(&[b"one\ntwo\n"], false), b"eno\n");
}

#[test]
fn request_is_cut_at_the_limit_without_waiting_for_a_newline() {
    let steps = transcript(server_with(Mode::Graphemes, 4), [b"abcdefgh"], false);
    assert_eq!(steps[1], Step::Transmit("dcba\n".into()));
    assert_eq!(steps.last(), Some(&Step::Done(Ok(()))));
}

#[test]
fn end_of_input_ends_the_request() {
    assert_eq!(reply_of(&[b"  no newline "], true), b"enilwen on\n");
}

#[test]
fn silent_peer_gets_no_reply() {
    let steps = transcript(server::Server::new(server::Options::default()), [b""], true);
    assert_eq!(steps, [Step::Done(Ok(()))]);
}

#[test]
fn blank_request_gets_a_bare_newline() {
    assert_eq!(reply_of(&[b" \t\r\n"], false), b"\n");
}

#[test]
fn a_megabyte_request_is_cut_and_buffers_stay_small() {
    let mut server = server::Server::new(server::Options::default());
    use lineproto::Machine;
    let chunk = vec![b'x'; 8192];
    for _ in 0..128 {
        server.handle_input(&chunk);
    }
    let steps = transcript(server, [b"".as_slice()], false);
    let Step::Transmit(reply) = &steps[1] else {
        panic!("expected a reply, got {steps:?}");
    };
    assert_eq!(reply.len(), 1025);
}

#[test]
fn client_refuses_newline_in_request() {
    assert_eq!(
        client::Client::new("a\nb", client::Options::default()).unwrap_err(),
        Error::RequestContainsNewline
    );
}

#[test]
fn client_reports_a_server_that_closed_without_reply() {
    let client = client::Client::new("x", client::Options::default()).unwrap();
    let steps = transcript(client, [b"".as_slice()], true);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::ClosedBeforeReply)))
    );
}

#[test]
fn client_takes_an_unterminated_reply_at_eof() {
    let client = client::Client::new("x", client::Options::default()).unwrap();
    let steps = transcript(client, [b"x".as_slice()], true);
    assert_eq!(steps[1], Step::Event(client::Event::Reply("x".into())));
}

#[test]
fn client_bounds_the_reply() {
    let mut options = client::Options::default();
    options.max_reply_len = 3;
    let client = client::Client::new("x", options).unwrap();
    let steps = transcript(client, [b"abcdef".as_slice()], false);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::ReplyTooLong { limit: 3 })))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn server_output_does_not_depend_on_chunking(
        input in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), any::<u8>()], 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        limit in 1usize..40,
        bytes_mode in any::<bool>(),
        eof in any::<bool>(),
    ) {
        let mode = if bytes_mode { Mode::Bytes } else { Mode::Graphemes };
        let whole = transcript(server_with(mode, limit), [&input], eof);
        let single: Vec<[u8; 1]> = input.iter().map(|&b| [b]).collect();
        prop_assert_eq!(&transcript(server_with(mode, limit), &single, eof), &whole);
        prop_assert_eq!(&transcript(server_with(mode, limit), split(&input, &cuts), eof), &whole);
    }

    #[test]
    fn client_output_does_not_depend_on_chunking(
        reply in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        eof in any::<bool>(),
    ) {
        let make = || {
            let mut options = client::Options::default();
            options.max_reply_len = 16;
            client::Client::new("q", options).unwrap()
        };
        let whole = transcript(make(), [&reply], eof);
        prop_assert_eq!(&transcript(make(), split(&reply, &cuts), eof), &whole);
    }

    #[test]
    fn pair_round_trips_any_text_without_newline(
        text in "[^\n]{0,200}",
        chunk in 1usize..9,
    ) {
        let request = Bytes::from(text.clone());
        let client = client::Client::new(request, client::Options::default()).unwrap();
        let outcome = Pair::new(client, server_with(Mode::Graphemes, 4096)).chunk_size(chunk).run();
        let trimmed = reverse_proto::trim(text.as_bytes());
        let expected = reverse_proto::reverse(trimmed, Mode::Graphemes);
        prop_assert_eq!(outcome.client_events, vec![client::Event::Reply(expected.into())]);
        prop_assert_eq!(outcome.client_result, Some(Ok(())));
        prop_assert_eq!(outcome.server_result, Some(Ok(())));
    }
}

#[test]
fn zero_limit_answers_a_peer_that_sent_something_and_not_one_that_did_not() {
    assert_eq!(
        transcript(server_with(Mode::Graphemes, 0), [b"".as_slice()], true),
        [Step::Done(Ok(()))]
    );
    let steps = transcript(server_with(Mode::Graphemes, 0), [b"abc".as_slice()], false);
    assert_eq!(steps[1], Step::Transmit("\n".into()));
}

/// A peer that drips one byte a second never completes a request: it is cut
/// at the whole-request deadline, 10 s after the start, with no reply.
#[test]
fn a_slow_drip_is_cut_at_the_request_deadline() {
    let drip = (0..30).map(|second| (Duration::from_secs(second), "a"));
    let steps = timed_transcript(server::Server::new(server::Options::default()), drip);
    assert_eq!(
        steps,
        [Timed {
            at: Duration::from_secs(10),
            step: Step::Done(Err(Error::RequestTimeout {
                timeout: Duration::from_secs(10)
            })),
        }]
    );
}

#[test]
fn a_request_completed_just_before_the_deadline_is_answered() {
    let steps = timed_transcript(
        server::Server::new(server::Options::default()),
        [
            (Duration::from_secs(1), "ab"),
            (Duration::from_millis(9_999), "c\n"),
        ],
    );
    assert_eq!(steps[1].step, Step::Transmit("cba\n".into()));
    assert_eq!(steps.last().unwrap().at, Duration::from_millis(9_999));
    assert_eq!(steps.last().unwrap().step, Step::Done(Ok(())));
}

#[test]
fn an_idle_peer_is_cut_and_no_deadline_means_waiting_forever() {
    let steps = timed_transcript(
        server::Server::new(server::Options::default()),
        Vec::<(Duration, Arrival)>::new(),
    );
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].at, Duration::from_secs(10));

    let mut options = server::Options::default();
    options.request_timeout = None;
    let steps = timed_transcript(
        server::Server::new(options),
        [(Duration::from_secs(86_400), "late\n")],
    );
    assert_eq!(steps[1].step, Step::Transmit("etal\n".into()));
}

#[test]
fn the_client_gives_up_on_a_trickling_server() {
    let client = client::Client::new("q", client::Options::default()).unwrap();
    let trickle = (0..100).map(|i| (Duration::from_millis(1_500 * i), "x"));
    let steps = timed_transcript(client, trickle);
    let last = steps.last().unwrap();
    assert_eq!(last.at, Duration::from_secs(30));
    assert_eq!(
        last.step,
        Step::Done(Err(Error::ReplyTimeout {
            timeout: Duration::from_secs(30)
        }))
    );
}

proptest! {
    /// Timing invariance: the same bytes arriving at any times before the
    /// deadline give the same steps as arriving all at once.
    #[test]
    fn server_output_does_not_depend_on_arrival_times(
        input in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b' '), any::<u8>()], 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        mut times in prop::collection::vec(0u64..9_999, 17),
        eof in any::<bool>(),
    ) {
        let pieces = split(&input, &cuts);
        times.sort_unstable();
        let mut arrivals: Vec<(Duration, Arrival)> = pieces
            .iter()
            .zip(&times)
            .map(|(piece, &ms)| (Duration::from_millis(ms), Arrival::from(piece.as_slice())))
            .collect();
        if eof {
            arrivals.push((Duration::from_millis(9_999), Arrival::Eof));
        }
        let timed = timed_transcript(server::Server::new(server::Options::default()), arrivals);
        let whole = transcript(server::Server::new(server::Options::default()), [&input], eof);
        // Without end of input, an unterminated short request is cut at the
        // deadline instead of waiting forever; everything before matches.
        let untimed = untimed(timed);
        prop_assert!(untimed.len() >= whole.len());
        prop_assert_eq!(&untimed[..whole.len()], &whole[..]);
    }
}
