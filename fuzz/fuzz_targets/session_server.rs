//! The session server: no panic on any bytes, and the same transcript for
//! any chunking and for any arrival times within its timers. Config: bit 0
//! end of input, bits 1.. the line limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::{Arrival, timed_transcript, transcript, untimed};
use session_proto::server::{Options, Server};

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let server = || {
        let mut options = Options::default();
        options.max_line_len = usize::from(input.config >> 1);
        Server::new(options)
    };
    let whole = transcript(server(), [input.data], eof);
    assert_eq!(transcript(server(), &input.pieces, eof), whole);
    // Every piece in before the 30 s line timer (and the 60 s idle one).
    // (Inputs in more than 25 pieces are checked for chunking only.)
    if input.pieces.len() <= 25 {
        let seed = raw.get(1).copied().unwrap_or(0);
        let times = common::arrival_times(input.pieces.len(), seed, 30);
        let mut arrivals: Vec<_> = times
            .iter()
            .zip(&input.pieces)
            .map(|(&at, piece)| (at, Arrival::from(*piece)))
            .collect();
        let last = times.last().copied().unwrap_or_default();
        if eof {
            arrivals.push((last, Arrival::Eof));
        }
        let timed = untimed(timed_transcript(server(), arrivals));
        // Without end of input, time keeps running after the last piece
        // and the idle or line timer ends the session: the steps before
        // that must be the untimed ones.
        assert!(timed.len() >= whole.len());
        if eof {
            assert_eq!(timed, whole);
        } else {
            assert_eq!(timed[..whole.len()], whole[..]);
        }
    }
});
