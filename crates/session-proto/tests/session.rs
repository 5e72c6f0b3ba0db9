//! Byte-exact transcripts, chunking invariance and client/server pairs for
//! the session machines.

use bytes::Bytes;
use std::time::Duration;

use lineproto::testing::{
    Arrival, Pair, Step, Timed, events, split, timed_transcript, transcript, transmitted, untimed,
};
use lineproto::{Machine, Output};
use proptest::prelude::*;
use session_proto::{Error, client, server};

const GREETING: &str = "Roll up, roll up, to the greatest show on earth!\n? ";

fn server_with_limit(limit: usize) -> server::Server {
    let mut options = server::Options::default();
    options.max_line_len = limit;
    server::Server::new(options)
}

fn sent_by(steps: &[Step<server::Event, Error>]) -> Vec<u8> {
    transmitted(steps)
}

fn events_of(steps: &[Step<server::Event, Error>]) -> Vec<server::Event> {
    events(steps)
}

/// Drains `server` until it waits for input, handing each output to `each`
/// (which may keep it, or drop it at once as a driver does).
fn drain(server: &mut server::Server, mut each: impl FnMut(Output<server::Event, Error>)) {
    let now = std::time::Instant::now();
    loop {
        match server.poll_output(now) {
            Output::Wait { .. } => return,
            Output::Done(result) => panic!("session ended: {result:?}"),
            output => each(output),
        }
    }
}

#[test]
fn article_transcript_is_byte_exact() {
    // What telnet sends: each line ended by CRLF.
    let typed: [&[u8]; 3] = [
        b"Look Ma...all backwards\r\n",
        b"jack frost\r\n",
        b"END\r\n",
    ];
    let steps = transcript(
        server::Server::new(server::Options::default()),
        typed,
        false,
    );
    let expected = format!("{GREETING}sdrawkcab lla...aM kooL\n? tsorf kcaj\n? ");
    assert_eq!(sent_by(&steps), expected.as_bytes());
    assert_eq!(
        events_of(&steps),
        [
            server::Event::Received("Look Ma...all backwards".into()),
            server::Event::Sent("sdrawkcab lla...aM kooL".into()),
            server::Event::Received("jack frost".into()),
            server::Event::Sent("tsorf kcaj".into()),
            server::Event::Received("END".into()),
        ]
    );
    assert_eq!(steps.last(), Some(&Step::Done(Ok(()))));
}

#[test]
fn blank_lines_get_no_answer_at_all() {
    let steps = transcript(
        server::Server::new(server::Options::default()),
        [b"\r\n \t\n\0\nab\n"],
        false,
    );
    assert_eq!(sent_by(&steps), format!("{GREETING}ba\n? ").as_bytes());
}

#[test]
fn end_is_recognised_trimmed_and_input_after_it_is_ignored() {
    let steps = transcript(
        server::Server::new(server::Options::default()),
        [b"  END \r\nabc\n"],
        false,
    );
    assert_eq!(sent_by(&steps), GREETING.as_bytes());
    assert_eq!(events_of(&steps), [server::Event::Received("END".into())]);
    assert_eq!(steps.last(), Some(&Step::Done(Ok(()))));
}

#[test]
fn end_is_case_sensitive_as_in_the_article() {
    let steps = transcript(
        server::Server::new(server::Options::default()),
        [b"end\n"],
        false,
    );
    assert_eq!(sent_by(&steps), format!("{GREETING}dne\n? ").as_bytes());
}

#[test]
fn overlong_line_gets_one_error_line_and_the_session_goes_on() {
    let mut input = vec![b'x'; 100];
    input.extend_from_slice(b"\nok\n");
    let steps = transcript(server_with_limit(10), [&input], false);
    assert_eq!(
        sent_by(&steps),
        format!("{GREETING}error: line longer than 10 bytes, ignored\n? ko\n? ").as_bytes()
    );
    assert_eq!(
        events_of(&steps)[0],
        server::Event::LineTooLong { limit: 10 }
    );
}

#[test]
fn telnet_commands_are_removed_from_lines() {
    // IAC DO ECHO before the text, IAC IP (Ctrl-C) inside it.
    let steps = transcript(
        server::Server::new(server::Options::default()),
        [b"\xff\xfd\x01ab\xff\xf4c\r\n"],
        false,
    );
    assert_eq!(sent_by(&steps), format!("{GREETING}cba\n? ").as_bytes());
}

#[test]
fn last_unterminated_line_is_answered_at_end_of_input() {
    let steps = transcript(
        server::Server::new(server::Options::default()),
        [b"abc"],
        true,
    );
    assert_eq!(sent_by(&steps), format!("{GREETING}cba\n? ").as_bytes());
    assert_eq!(steps.last(), Some(&Step::Done(Ok(()))));
}

#[test]
fn client_refuses_lines_the_server_would_not_answer_once() {
    let mut client = client::Client::new(client::Options::default());
    assert_eq!(client.send("a\nb"), Err(Error::LineContainsNewline));
    assert_eq!(client.send("a\rb"), Err(Error::LineContainsNewline));
    assert_eq!(client.send(" \t"), Err(Error::BlankLine));
    assert_eq!(client.send(" END "), Err(Error::LineIsEndCommand));
    assert_eq!(
        client.send(vec![b'x'; 8193]),
        Err(Error::LineTooLong { limit: 8192 })
    );
    assert_eq!(client.send(vec![b'x'; 8192]), Ok(()));
    client.end();
    assert_eq!(client.send("x"), Err(Error::SessionEnded));
}

#[test]
fn client_reports_a_server_that_closes_with_replies_owed() {
    let mut client = client::Client::new(client::Options::default());
    client.send("one").unwrap();
    client.send("two").unwrap();
    let steps = transcript(client, [GREETING.as_bytes(), b"eno\n? "], true);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::ClosedBeforeReply { missing: 1 })))
    );
}

#[test]
fn client_rejects_a_peer_that_is_not_a_session_server() {
    let mut client = client::Client::new(client::Options::default());
    client.send("x").unwrap();
    let steps = transcript(client, [b"+OK POP3 ready\r\n-ERR what\r\n"], false);
    assert_eq!(steps.last(), Some(&Step::Done(Err(Error::MissingPrompt))));
    let steps = transcript(client::Client::new(client::Options::default()), [b""], true);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::ClosedBeforeBanner)))
    );
}

#[test]
fn pair_with_the_article_session() {
    let mut client = client::Client::new(client::Options::default());
    client.send("pässwörd 👍🏽").unwrap();
    client.end();
    let outcome = Pair::new(client, server::Server::new(server::Options::default()))
        .chunk_size(1)
        .run();
    assert_eq!(
        outcome.client_events,
        [
            client::Event::Banner("Roll up, roll up, to the greatest show on earth!".into()),
            client::Event::Reply("👍🏽 dröwssäp".into()),
        ]
    );
    assert_eq!(outcome.client_result, Some(Ok(())));
    assert_eq!(outcome.server_result, Some(Ok(())));
}

/// Session input rich in what matters: terminators, spaces, END, telnet IAC.
fn session_input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::collection::vec(prop_oneof![Just(b'a'), Just(b' '), any::<u8>()], 0..6),
            2 => Just(b"\r\n".to_vec()),
            2 => Just(b"\n".to_vec()),
            1 => Just(b"END".to_vec()),
            1 => Just(vec![0xff, 0xf4]),
        ],
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn server_output_does_not_depend_on_chunking(
        input in session_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        limit in 1usize..12,
        eof in any::<bool>(),
    ) {
        let whole = transcript(server_with_limit(limit), [&input], eof);
        let single: Vec<[u8; 1]> = input.iter().map(|&b| [b]).collect();
        prop_assert_eq!(&transcript(server_with_limit(limit), &single, eof), &whole);
        prop_assert_eq!(&transcript(server_with_limit(limit), split(&input, &cuts), eof), &whole);
    }

    #[test]
    fn client_output_does_not_depend_on_chunking(
        input in session_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        eof in any::<bool>(),
    ) {
        let make = || {
            let mut options = client::Options::default();
            options.max_line_len = 8;
            let mut client = client::Client::new(options);
            client.send("q").unwrap();
            client.send("r").unwrap();
            client.end();
            client
        };
        let whole = transcript(make(), [&input], eof);
        prop_assert_eq!(&transcript(make(), split(&input, &cuts), eof), &whole);
    }

    #[test]
    fn pair_answers_every_line_in_order(
        lines in prop::collection::vec("[a-zA-Z0-9 äö👍🏽.]{1,40}", 0..8),
        chunk in 1usize..16,
    ) {
        let mut client = client::Client::new(client::Options::default());
        let mut expected = Vec::new();
        for line in &lines {
            if client.send(line).is_ok() {
                let reversed = reverse_proto::reverse(reverse_proto::trim(line.as_bytes()), reverse_proto::Mode::Graphemes);
                expected.push(client::Event::Reply(Bytes::from(reversed)));
            }
        }
        client.end();
        let outcome = Pair::new(client, server::Server::new(server::Options::default())).chunk_size(chunk).run();
        prop_assert_eq!(&outcome.client_events[1..], &expected[..]);
        prop_assert_eq!(outcome.client_result, Some(Ok(())));
        prop_assert_eq!(outcome.server_result, Some(Ok(())));
    }
}

#[test]
fn a_newline_inside_a_telnet_subnegotiation_does_not_split_the_line() {
    // NAWS 266x64 carries a 0x0A byte.
    let input = b"\xff\xfa\x1f\x01\x0a\x00\x40\xff\xf0END\r\n";
    let steps = transcript(
        server::Server::new(server::Options::default()),
        [input],
        false,
    );
    assert_eq!(events_of(&steps), [server::Event::Received("END".into())]);
    assert_eq!(steps.last(), Some(&Step::Done(Ok(()))));
}

#[test]
fn client_escapes_byte_255_so_the_server_reads_it_back() {
    let mut client = client::Client::new(client::Options::default());
    client.send(b"a\xffb").unwrap();
    client.end();
    let steps = transcript(client, [GREETING.as_bytes()], false);
    assert_eq!(
        steps[1],
        Step::Transmit(Bytes::from_static(b"a\xff\xffb\n"))
    );

    let mut client = client::Client::new(client::Options::default());
    client.send(b"a\xffb").unwrap();
    client.end();
    let outcome = Pair::new(client, server::Server::new(server::Options::default())).run();
    assert_eq!(
        outcome.client_events[1],
        client::Event::Reply(Bytes::from_static(b"b\xffa"))
    );
}

#[test]
fn client_done_is_sticky() {
    let mut client = client::Client::new(client::Options::default());
    client.end();
    let steps = transcript(&mut client, [GREETING.as_bytes()], true);
    assert_eq!(steps.last(), Some(&Step::Done(Ok(()))));
    client.end();
    assert_eq!(client.send("x"), Err(Error::SessionEnded));
    assert_eq!(
        client.poll_output(lineproto::testing::epoch()),
        Output::Done(Ok(()))
    );
}

#[test]
fn client_does_not_take_a_reply_cut_short_by_the_close() {
    let mut client = client::Client::new(client::Options::default());
    client.send("frost").unwrap();
    client.end();
    let steps = transcript(client, [GREETING.as_bytes(), b"tso"], true);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::ClosedBeforeReply { missing: 1 })))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn telnet_filter_gives_the_same_data_for_any_split(
        input in prop::collection::vec(prop_oneof![Just(0xffu8), Just(0xfa), Just(0xf0), Just(0xfb), Just(b'\n'), any::<u8>()], 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = session_proto::strip_telnet_commands(&input).into_owned();
        let mut filter = session_proto::TelnetFilter::default();
        let mut data = Vec::new();
        for piece in split(&input, &cuts) {
            filter.filter(&piece, |run| data.extend_from_slice(run));
        }
        prop_assert_eq!(data, whole);
    }
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

#[test]
fn a_silent_peer_is_cut_at_the_idle_timeout() {
    let steps = timed_transcript(
        server::Server::new(server::Options::default()),
        Vec::<(Duration, Arrival)>::new(),
    );
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(
        steps[1],
        Timed {
            at: secs(60),
            step: Step::Done(Err(Error::IdleTimeout { timeout: secs(60) })),
        }
    );
}

#[test]
fn each_line_restarts_the_idle_timer() {
    let arrivals = [
        (secs(50), "one\n"),
        (secs(100), "two\n"),
        (secs(150), "END\n"),
    ];
    let steps = timed_transcript(server::Server::new(server::Options::default()), arrivals);
    assert_eq!(steps.last().unwrap().step, Step::Done(Ok(())));
    assert_eq!(steps.last().unwrap().at, secs(150));
    assert_eq!(
        sent_by(&untimed(steps)),
        format!("{GREETING}eno\n? owt\n? ").as_bytes()
    );
}

/// One byte every 10 s never makes a line in under 30 s: the line timer
/// cuts it, although the peer is never silent for the idle timeout.
#[test]
fn a_slow_drip_line_is_cut_at_the_line_timeout() {
    let drip = (1..20).map(|i| (secs(10 * i), "x"));
    let steps = timed_transcript(server::Server::new(server::Options::default()), drip);
    assert_eq!(
        steps.last().unwrap(),
        &Timed {
            at: secs(40),
            step: Step::Done(Err(Error::LineTimeout { timeout: secs(30) })),
        }
    );
}

#[test]
fn telnet_negotiation_alone_does_not_keep_a_session_open() {
    // IAC NOP every 5 s: no line data, so the idle timer runs on.
    let nops = (1..30).map(|i| (secs(5 * i), &[255u8, 241][..]));
    let steps = timed_transcript(server::Server::new(server::Options::default()), nops);
    assert_eq!(steps.last().unwrap().at, secs(60));
}

#[test]
fn the_client_gives_up_on_a_server_that_owes_a_reply() {
    let mut client = client::Client::new(client::Options::default());
    client.send("hello").unwrap();
    let steps = timed_transcript(client, [(secs(1), GREETING)]);
    assert_eq!(
        steps.last().unwrap(),
        &Timed {
            at: secs(31),
            step: Step::Done(Err(Error::ReplyTimeout { timeout: secs(30) })),
        }
    );
}

#[test]
fn an_idle_client_owes_nothing_and_waits_without_a_deadline() {
    let client = client::Client::new(client::Options::default());
    let steps = timed_transcript(client, [(secs(1), GREETING)]);
    assert_eq!(steps.len(), 1, "only the banner event: {steps:?}");
}

#[test]
fn a_pair_ends_at_the_server_idle_timeout_when_the_client_goes_quiet() {
    let mut client = client::Client::new(client::Options::default());
    client.send("jack").unwrap();
    // No `end()`: the client sits idle after its reply.
    let outcome = Pair::new(client, server::Server::new(server::Options::default())).run();
    assert_eq!(outcome.elapsed, secs(60));
    assert_eq!(
        outcome.server_result,
        Some(Err(Error::IdleTimeout { timeout: secs(60) }))
    );
    assert_eq!(outcome.client_result, Some(Ok(())));
}

proptest! {
    /// Timing invariance: the same bytes arriving at any times that keep
    /// within the timers give the same steps as arriving all at once.
    #[test]
    fn server_output_does_not_depend_on_arrival_times(
        input in session_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        mut gaps in prop::collection::vec(0u64..1_700, 17),
    ) {
        let pieces = split(&input, &cuts);
        // Gaps under 1.7 s: 17 of them stay under the 30 s line timer.
        let mut at = Duration::ZERO;
        gaps.truncate(pieces.len());
        let mut arrivals = Vec::new();
        for (piece, gap) in pieces.iter().zip(&gaps) {
            at += Duration::from_millis(*gap);
            arrivals.push((at, Arrival::from(piece.as_slice())));
        }
        arrivals.push((at, Arrival::Eof));
        let timed = untimed(timed_transcript(server_with_limit(16), arrivals));
        let whole = transcript(server_with_limit(16), [&input], true);
        prop_assert_eq!(timed, whole);
    }

    /// Timing invariance for the client: the server's bytes arriving at
    /// any times that keep within the reply timer give the same steps.
    #[test]
    fn client_output_does_not_depend_on_arrival_times(
        input in session_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        mut gaps in prop::collection::vec(0u64..1_700, 17),
    ) {
        let make = || {
            let mut client = client::Client::new(client::Options::default());
            client.send("one").unwrap();
            client.send("two").unwrap();
            client.end();
            client
        };
        let mut server_bytes = GREETING.as_bytes().to_vec();
        server_bytes.extend_from_slice(&input);
        let pieces = split(&server_bytes, &cuts);
        gaps.truncate(pieces.len());
        let mut at = Duration::ZERO;
        let mut arrivals = Vec::new();
        for (piece, gap) in pieces.iter().zip(&gaps) {
            at += Duration::from_millis(*gap);
            arrivals.push((at, Arrival::from(piece.as_slice())));
        }
        arrivals.push((at, Arrival::Eof));
        let timed = untimed(timed_transcript(make(), arrivals));
        let whole = transcript(make(), [&server_bytes], true);
        prop_assert_eq!(timed, whole);
    }
}

#[test]
fn replies_reuse_one_buffer_once_the_last_one_is_let_go() {
    let mut server = server::Server::new(server::Options::default());
    let mut transmits = Vec::new();
    for line in [
        &b"a longer line than the others\n"[..],
        b"jack frost\n",
        b"ok\n",
    ] {
        server.handle_input(line);
        // Each reply and its event are dropped at once, as a driver that
        // has written it and a handler that has printed it do.
        drain(&mut server, |output| {
            if let Output::Transmit(bytes) = output {
                transmits.push((bytes.as_ptr(), bytes.len()));
            }
        });
    }
    // The banner, then three replies in one buffer: each where the one
    // before ended, or back at the start once that one was let go.
    assert_eq!(transmits.len(), 4);
    let first = transmits[1].0;
    for pair in transmits[1..].windows(2) {
        let ((before, before_len), (at, _)) = (pair[0], pair[1]);
        assert!(
            at == before.wrapping_add(before_len) || at == first,
            "{transmits:?}"
        );
    }
    assert_eq!(transmits[3].1, "ko\n? ".len());
}

#[test]
fn a_reply_kept_by_its_reader_is_never_overwritten() {
    let mut server = server::Server::new(server::Options::default());
    let mut kept = Vec::new();
    for line in [&b"one\n"[..], b"two\n", b"three\n"] {
        server.handle_input(line);
        drain(&mut server, |output| {
            if let Output::Transmit(bytes) | Output::Event(server::Event::Sent(bytes)) = output {
                kept.push(bytes);
            }
        });
    }
    let kept: Vec<&[u8]> = kept.iter().map(|b| &b[..]).collect();
    assert_eq!(
        kept,
        [
            &b"Roll up, roll up, to the greatest show on earth!\n? "[..],
            b"eno\n? ",
            b"eno",
            b"owt\n? ",
            b"owt",
            b"eerht\n? ",
            b"eerht",
        ]
    );
}

#[test]
fn a_long_reply_between_short_ones_comes_out_whole() {
    // Past the size a session keeps its reply buffer at, a reply gets a
    // buffer of its own; the replies around it are not disturbed.
    let echo_or_expand = |line: &[u8]| match line {
        b"big" => vec![b'x'; 10_000],
        other => other.to_vec(),
    };
    let server = server::Server::with_handler(server::Options::default(), echo_or_expand);
    let steps = transcript(server, [&b"one\nbig\ntwo\n"[..]], false);
    let expected = [
        GREETING.as_bytes(),
        b"one\n? ",
        &[vec![b'x'; 10_000], b"\n? ".to_vec()].concat(),
        b"two\n? ",
    ]
    .concat();
    assert_eq!(sent_by(&steps), expected);
    let sent: Vec<Bytes> = events_of(&steps)
        .into_iter()
        .filter_map(|event| match event {
            server::Event::Sent(reply) => Some(reply),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [&b"one"[..], &vec![b'x'; 10_000], b"two"]);
}

#[test]
fn replies_kept_while_the_buffer_runs_out_are_never_overwritten() {
    // Replies of 200 bytes: two fit in the kept buffer, the third needs
    // new space while the reader still holds the first two.
    let lines: Vec<Vec<u8>> = (0..6u8)
        .map(|i| (0..200u8).map(|j| b'a' + (i * 7 + j) % 26).collect())
        .collect();
    let mut server = server::Server::new(server::Options::default());
    let mut kept = Vec::new();
    for line in &lines {
        server.handle_input(line);
        server.handle_input(b"\n");
        drain(&mut server, |output| {
            if let Output::Transmit(bytes) | Output::Event(server::Event::Sent(bytes)) = output {
                kept.push(bytes);
            }
        });
    }
    let mut expected = vec![Bytes::from(GREETING)];
    for line in &lines {
        let reversed: Vec<u8> = line.iter().rev().copied().collect();
        expected.push([&reversed[..], b"\n? "].concat().into());
        expected.push(reversed.into());
    }
    assert_eq!(kept, expected);
}
