//! `LineBuffer` gives the same lines, errors included, however its input is
//! split, and the same lines as a plain reference model.

use bytes::Bytes;
use lineproto::{Error, LineBuffer};
use proptest::prelude::*;

/// What framing must produce, computed the slow obvious way on the whole input.
fn model(input: &[u8], max: usize) -> Vec<Result<Bytes, Error>> {
    let mut out = Vec::new();
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = pieces.pop().unwrap_or_default();
    for mut line in pieces {
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        out.push(if line.len() > max {
            Err(Error::LineTooLong { limit: max })
        } else {
            Ok(Bytes::copy_from_slice(line))
        });
    }
    if !tail.is_empty() {
        out.push(if tail.len() > max {
            Err(Error::LineTooLong { limit: max })
        } else {
            Ok(Bytes::copy_from_slice(tail))
        });
    }
    out
}

/// Feeds `input` cut at `cuts`, draining after each piece, and returns every
/// line plus the largest amount ever buffered.
fn framed(input: &[u8], cuts: &[usize], max: usize) -> (Vec<Result<Bytes, Error>>, usize) {
    let mut lines = LineBuffer::new(max);
    let mut out = Vec::new();
    let mut peak = 0;
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    for end in cuts {
        lines.extend(&input[start..end]);
        peak = peak.max(lines.buffered_len());
        while let Some(line) = lines.next_line() {
            out.push(line);
        }
        start = end;
    }
    out.extend(lines.finish());
    (out, peak)
}

/// Inputs rich in the bytes that matter: LF, CR and ordinary text.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![3 => Just(b'a'), 1 => Just(b'\n'), 1 => Just(b'\r'), 1 => any::<u8>()],
        0..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_split_gives_the_model_lines(
        input in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        max in 0usize..12,
    ) {
        let (lines, _) = framed(&input, &cuts, max);
        prop_assert_eq!(lines, model(&input, max));
    }

    #[test]
    fn single_byte_chunks_give_the_model_lines(input in stream(), max in 0usize..12) {
        let cuts: Vec<usize> = (0..input.len()).collect();
        let (lines, peak) = framed(&input, &cuts, max);
        prop_assert_eq!(lines, model(&input, max));
        // Fed a byte at a time, the buffer never holds more than one line
        // plus its CR.
        prop_assert!(peak <= max + 2);
    }
}

#[test]
fn a_megabyte_without_newline_keeps_the_buffer_small() {
    let mut lines = LineBuffer::new(8192);
    let chunk = [b'x'; 8192];
    let mut errors = 0;
    for _ in 0..128 {
        lines.extend(&chunk);
        assert!(lines.buffered_len() <= 2 * 8192);
        while let Some(line) = lines.next_line() {
            assert_eq!(line, Err(Error::LineTooLong { limit: 8192 }));
            errors += 1;
        }
    }
    lines.extend(b"tail\nnext\n");
    assert_eq!(lines.next_line(), Some(Ok(Bytes::from_static(b"next"))));
    assert_eq!(errors, 1);
}
