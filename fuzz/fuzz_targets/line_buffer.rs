//! LineBuffer: any chunking gives the lines of the whole input, no line
//! exceeds the limit, and the buffer never holds more than one line plus
//! one chunk.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use lineproto::LineBuffer;

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let limit = usize::from(input.config % 64);
    let frame = |pieces: &[&[u8]]| {
        let mut lines = LineBuffer::new(limit);
        let mut out = Vec::new();
        for piece in pieces {
            lines.extend(piece);
            assert!(lines.buffered_len() <= limit + 2 + piece.len());
            while let Some(line) = lines.next_line() {
                if let Ok(line) = &line {
                    assert!(line.len() <= limit);
                }
                out.push(line);
            }
        }
        out.extend(lines.finish());
        out
    };
    assert_eq!(frame(&input.pieces), frame(&[input.data]));
});
