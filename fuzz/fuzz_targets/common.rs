//! The input format shared by the fuzz targets, chosen so that a seed file
//! can be a readable transcript: byte 0 configures the target, byte 1 seeds
//! the chunking, and the rest is what the peer sends.

/// A fuzz input taken apart.
pub struct Input<'a> {
    /// Target-specific settings (end of input, mode, limit).
    #[allow(dead_code)] // a target without settings (pop3_multi_line) ignores it
    pub config: u8,
    /// The peer's bytes, whole.
    pub data: &'a [u8],
    /// The same bytes cut into pieces of 1 to 64 bytes.
    pub pieces: Vec<&'a [u8]>,
}

/// Splits raw fuzzer bytes into an [`Input`]; `None` if too short.
pub fn input(raw: &[u8]) -> Option<Input<'_>> {
    let (&config, rest) = raw.split_first()?;
    let (&seed, data) = rest.split_first()?;
    let max_piece = usize::from(seed % 64) + 1;
    let mut state = u32::from(seed) | 0x9e37_7900;
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        // xorshift32: a cheap, deterministic sequence of cut lengths.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state as usize % max_piece + 1).min(rest.len());
        let (piece, after) = rest.split_at(len);
        pieces.push(piece);
        rest = after;
    }
    Some(Input { config, data, pieces })
}

/// Arrival times for `pieces`, as offsets from the start: gaps of 0 or 1
/// whole seconds, derived from the same seed as the cuts, the last piece
/// arriving before `within_secs`, so a target can check that arrival times
/// within a machine's deadlines change nothing.
///
/// Whole seconds, because the fixed-seed CI run must explore the same
/// inputs every time: adding a sub-second offset to an `Instant` takes a
/// carry branch in std or not depending on the real clock's nanoseconds,
/// and libFuzzer counts that branch as coverage.
#[allow(dead_code)] // not every target uses time
pub fn arrival_times(pieces: usize, seed: u8, within_secs: u64) -> Vec<std::time::Duration> {
    let mut state = u32::from(seed) | 0x5bd1_e900;
    let mut at = 0u64;
    (0..pieces)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if at + 1 < within_secs {
                at += u64::from(state & 1);
            }
            std::time::Duration::from_secs(at)
        })
        .collect()
}
