//! The session server: no panic on any bytes, and the same transcript for
//! any chunking. Config: bit 0 end of input, bits 1.. the line limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::transcript;
use session_proto::server::{Options, Server};

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let server = || {
        let mut options = Options::default();
        options.max_line_len = usize::from(input.config >> 1);
        Server::new(options)
    };
    assert_eq!(transcript(server(), &input.pieces, eof), transcript(server(), [input.data], eof));
});
