//! The reverse server: no panic on any bytes, and the same transcript for
//! any chunking and for any arrival times within its request deadline.
//! Config: bit 0 end of input, bit 1 byte mode, bits 2.. the request limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::{Arrival, timed_transcript, transcript, untimed};
use reverse_proto::Mode;
use reverse_proto::server::{Options, Server};

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let server = || {
        let mut options = Options::default();
        options.mode = if input.config & 2 == 2 { Mode::Bytes } else { Mode::Graphemes };
        options.max_request_len = usize::from(input.config >> 2) * 4;
        Server::new(options)
    };
    let whole = transcript(server(), [input.data], eof);
    assert_eq!(transcript(server(), &input.pieces, eof), whole);
    // Every piece in before the 10 s deadline.
    if input.pieces.len() <= 25 {
        let seed = raw.get(1).copied().unwrap_or(0);
        let times = common::arrival_times(input.pieces.len(), seed, 10);
        let mut arrivals: Vec<_> = times
            .iter()
            .zip(&input.pieces)
            .map(|(&at, piece)| (at, Arrival::from(*piece)))
            .collect();
        if eof {
            arrivals.push((times.last().copied().unwrap_or_default(), Arrival::Eof));
        }
        let timed = untimed(timed_transcript(server(), arrivals));
        // Without end of input an unfinished request meets the deadline.
        assert!(timed.len() >= whole.len());
        assert_eq!(timed[..whole.len()], whole[..]);
    }
});
