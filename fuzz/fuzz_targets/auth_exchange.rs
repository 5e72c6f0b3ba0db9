//! The auth server exchange: no panic on any bytes, the same transcript for
//! any chunking, and at most one code sent. Config: bit 0 end of input,
//! bit 1 uniform answers, bits 2.. the line limit.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::testing::{Step, transcript};
use passwd_auth::Outcome;
use passwd_auth::server::{Options, Server};

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let server = || {
        let mut options = Options::default();
        options.uniform_unknown_user = input.config & 2 == 2;
        options.max_line_len = usize::from(input.config >> 2) * 8;
        Server::new(options, |user: &[u8], password: &[u8]| match (user, password) {
            (b"john", b"doe") => Outcome::Authenticated,
            (b"john", _) => Outcome::WrongPassword,
            _ => Outcome::UnknownUser,
        })
    };
    let chunked = transcript(server(), &input.pieces, eof);
    assert_eq!(chunked, transcript(server(), [input.data], eof));
    assert!(chunked.iter().filter(|s| matches!(s, Step::Transmit(_))).count() <= 1);
});
