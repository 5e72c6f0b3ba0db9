//! The multi-line decoder: for any chunking the same data, the same end,
//! and the same bytes left after the terminator; the data never holds a
//! terminator line.
#![no_main]

#[path = "common.rs"]
mod common;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pop3_client::{Decoded, MultiLineDecoder};

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, bool, Vec<u8>) {
    let mut decoder = MultiLineDecoder::default();
    let mut input = BytesMut::new();
    let mut body = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        input.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut input) {
                Decoded::Data(chunk) => body.extend_from_slice(&chunk),
                Decoded::End => {
                    let rest = input.iter().copied().chain(pieces[i + 1..].concat()).collect();
                    return (body, true, rest);
                }
                Decoded::NeedMore => break,
            }
        }
    }
    (body, false, input.to_vec())
}

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let whole = decode(&[input.data]);
    let chunked = decode(&input.pieces);
    assert_eq!(whole.0, chunked.0);
    assert_eq!(whole.1, chunked.1);
    if whole.1 {
        assert_eq!(whole.2, chunked.2);
    }
});
