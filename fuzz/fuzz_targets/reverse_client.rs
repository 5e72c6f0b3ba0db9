//! The reverse client fed arbitrary server bytes: no panic, the same
//! transcript for any chunking. Config: bit 0 end of input, bits 1.. the
//! reply limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::transcript;
use reverse_proto::client::{Client, Options};

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let client = || {
        let mut options = Options::default();
        options.max_reply_len = usize::from(input.config >> 1);
        Client::new("request", options).expect("valid request")
    };
    assert_eq!(transcript(client(), &input.pieces, eof), transcript(client(), [input.data], eof));
});
