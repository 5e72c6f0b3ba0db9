//! The session client fed arbitrary server bytes: no panic, the same
//! transcript for any chunking. Config: bit 0 end of input, bits 1..3 how
//! many lines were sent, bits 3.. the line limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::transcript;
use session_proto::client::{Client, Options};

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let client = || {
        let mut options = Options::default();
        options.max_line_len = usize::from(input.config >> 3) + 1;
        let mut client = Client::new(options);
        for _ in 0..(input.config >> 1) & 3 {
            client.send("x").expect("valid line");
        }
        client.end();
        client
    };
    assert_eq!(transcript(client(), &input.pieces, eof), transcript(client(), [input.data], eof));
});
