//! `LineBuffer` throughput next to a plain `memcpy` of the same buffer.
//!
//! Run with `cargo bench -p lineproto --bench line_buffer`. Each benchmark
//! processes the same 4 MiB; compare the `memcpy` row with the framing rows
//! of the same run (docs/benchmarks.md records figures).

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use lineproto::LineBuffer;

const TOTAL: usize = 4 << 20;

fn main() {
    divan::main();
}

/// `TOTAL` bytes of lines of `len` bytes plus CRLF.
fn lines_of(len: usize) -> Vec<u8> {
    let mut line = vec![b'x'; len];
    line.extend_from_slice(b"\r\n");
    line.iter().copied().cycle().take(TOTAL).collect()
}

#[divan::bench(args = [16, 80, 1000, 8000])]
fn memcpy(bencher: Bencher<'_, '_>, len: usize) {
    let input = lines_of(len);
    let mut target = vec![0u8; input.len()];
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| {
            target.copy_from_slice(black_box(&input));
            black_box(&target);
        });
}

/// The whole buffer handed in at once, then every line taken out.
#[divan::bench(args = [16, 80, 1000, 8000])]
fn frame_whole(bencher: Bencher<'_, '_>, len: usize) {
    let input = lines_of(len);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| {
            let mut lines = LineBuffer::new(8192);
            lines.extend(black_box(&input));
            let mut count = 0usize;
            while let Some(line) = lines.next_line() {
                count += black_box(line).map_or(0, |l| l.len());
            }
            count
        });
}

/// The buffer handed in as 8 KiB reads, as the std adapter does.
#[divan::bench(args = [16, 80, 1000, 8000])]
fn frame_8k_reads(bencher: Bencher<'_, '_>, len: usize) {
    let input = lines_of(len);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| {
            let mut lines = LineBuffer::new(8192);
            let mut count = 0usize;
            for chunk in black_box(&input).chunks(8192) {
                lines.extend(chunk);
                while let Some(line) = lines.next_line() {
                    count += black_box(line).map_or(0, |l| l.len());
                }
            }
            count
        });
}

/// The floor for any line splitter: one `memchr` call per line over a
/// borrowed buffer, with no buffering and nothing handed out.
#[divan::bench(args = [16, 80, 1000, 8000])]
fn scan_only(bencher: Bencher<'_, '_>, len: usize) {
    let input = lines_of(len);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench_local(|| {
            let input = black_box(&input[..]);
            let (mut start, mut total) = (0, 0usize);
            while let Some(offset) = memchr::memchr(b'\n', &input[start..]) {
                total += black_box(&input[start..start + offset]).len();
                start += offset + 1;
            }
            total
        });
}
