//! The reverse server: no panic on any bytes, and the same transcript for
//! any chunking. Config: bit 0 end of input, bit 1 byte mode, bits 2..
//! the request limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::transcript;
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
    assert_eq!(transcript(server(), &input.pieces, eof), transcript(server(), [input.data], eof));
});
