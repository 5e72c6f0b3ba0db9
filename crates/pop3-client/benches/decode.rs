//! Multi-line decoding (terminator search and dot-unstuffing) next to a
//! plain `memcpy` of the same buffer, in the same run.
//!
//! `cargo bench -p pop3-client --bench decode`. The buffer is 4 MiB of
//! message lines of about 76 bytes, one in ten starting with a stuffed dot,
//! then the terminator.

use bytes::BytesMut;
use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use pop3_client::{Decoded, MultiLineDecoder};

fn main() {
    divan::main();
}

fn wire(dotted_every: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 << 20);
    let mut i = 0;
    while out.len() < 4 << 20 {
        if dotted_every > 0 && i % dotted_every == 0 {
            out.extend_from_slice(b"..");
        }
        out.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog, line after line of mail.\r\n",
        );
        i += 1;
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[divan::bench]
fn memcpy(bencher: Bencher<'_, '_>) {
    let input = wire(10);
    let mut target = vec![0u8; input.len()];
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| {
            target.copy_from_slice(black_box(&input));
            black_box(&target);
        });
}

fn decode_in_reads(input: &[u8], read: usize) -> usize {
    let mut decoder = MultiLineDecoder::default();
    let mut buffer = BytesMut::with_capacity(read * 2);
    let mut total = 0;
    for piece in input.chunks(read) {
        buffer.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buffer) {
                Decoded::Data(chunk) => total += black_box(chunk).len(),
                Decoded::End => return total,
                Decoded::NeedMore => break,
            }
        }
    }
    total
}

/// Read in 8 KiB pieces, as the std adapter does: includes copying each
/// read into the decoder's buffer.
#[divan::bench(args = [0, 10])]
fn decode_8k_reads(bencher: Bencher<'_, '_>, dotted_every: usize) {
    let input = wire(dotted_every);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| decode_in_reads(black_box(&input), 8192));
}

/// The whole buffer at once.
#[divan::bench(args = [0, 10])]
fn decode_whole(bencher: Bencher<'_, '_>, dotted_every: usize) {
    let input = wire(dotted_every);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| decode_in_reads(black_box(&input), input.len()));
}
