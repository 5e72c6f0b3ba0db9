//! Reversal and trimming, the text operations of the article's servers.

use unicode_segmentation::UnicodeSegmentation;

/// How text is reversed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Reverse the order of user-perceived characters (extended grapheme
    /// clusters), so `👍🏽` and `ä` written as `a` plus a combining mark stay
    /// whole. In input that is not valid UTF-8, each invalid byte counts as
    /// one character of its own and the valid stretches around it are still
    /// reversed by grapheme, so a request cut in the middle of a character
    /// loses only that character.
    #[default]
    Graphemes,
    /// Reverse the order of bytes, exactly as PHP's `strrev` does. Multi-byte
    /// UTF-8 characters come out as invalid byte sequences.
    Bytes,
}

/// Reverses `input` according to `mode`.
///
/// ```
/// use reverse_proto::{Mode, reverse};
///
/// assert_eq!(reverse("jack frost".as_bytes(), Mode::Graphemes), b"tsorf kcaj");
/// assert_eq!(reverse("pässwörd 👍🏽".as_bytes(), Mode::Graphemes), "👍🏽 dröwssäp".as_bytes());
/// // Byte mode is PHP's strrev: "é" is two bytes, which swap places.
/// assert_eq!(reverse("é".as_bytes(), Mode::Bytes), [0xA9, 0xC3]);
/// // An invalid byte (here half of a cut "ö") stands alone; "ä" stays whole.
/// assert_eq!(reverse(b"\xc3\xa4b\xc3", Mode::Graphemes), b"\xc3b\xc3\xa4");
/// ```
pub fn reverse(input: &[u8], mode: Mode) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    reverse_into(input, mode, &mut out);
    out
}

/// Appends `input` reversed according to `mode` to `out`: [`reverse`]
/// into a buffer the caller reuses for every reply. Byte mode and ASCII
/// lines without CR allocate nothing beyond growing `out`; other lines in
/// grapheme mode do, for their walk.
///
/// ```
/// use reverse_proto::{Mode, reverse_into};
///
/// let mut reply = b"> ".to_vec();
/// reverse_into(b"jack frost", Mode::Graphemes, &mut reply);
/// assert_eq!(reply, b"> tsorf kcaj");
/// ```
pub fn reverse_into(input: &[u8], mode: Mode, out: &mut Vec<u8>) {
    match mode {
        Mode::Bytes => out.extend(input.iter().rev()),
        // In ASCII every byte is a grapheme cluster of its own, except CR
        // followed by LF (UAX #29, GB3): without a CR, the order of bytes
        // is the order of clusters. Most lines are ASCII, and walking the
        // grapheme cursor costs many times a byte copy.
        Mode::Graphemes if input.is_ascii() && !input.contains(&b'\r') => {
            out.extend(input.iter().rev());
        }
        Mode::Graphemes => reverse_graphemes(input, out),
    }
}

fn reverse_graphemes(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len());
    for chunk in input.utf8_chunks().collect::<Vec<_>>().into_iter().rev() {
        out.extend(chunk.invalid().iter().rev());
        for grapheme in chunk.valid().graphemes(true).rev() {
            out.extend_from_slice(grapheme.as_bytes());
        }
    }
}

/// The bytes PHP's `trim` strips by default: space, tab, LF, CR, NUL and
/// vertical tab.
const PHP_TRIM_BYTES: &[u8] = b" \t\n\r\0\x0B";

/// Strips PHP's `trim` bytes (space, `\t`, `\n`, `\r`, `\0`, `\x0B`) from
/// both ends, and nothing else: Unicode spaces stay, as they do in PHP.
///
/// ```
/// assert_eq!(reverse_proto::trim(b"\0 \tjack frost\r\n\x0B"), b"jack frost");
/// assert_eq!(reverse_proto::trim("\u{a0}x".as_bytes()), "\u{a0}x".as_bytes());
/// ```
pub fn trim(input: &[u8]) -> &[u8] {
    let is_trimmed = |byte: &u8| PHP_TRIM_BYTES.contains(byte);
    let start = input
        .iter()
        .position(|b| !is_trimmed(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !is_trimmed(b))
        .map_or(start, |last| last + 1);
    &input[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Just;

    #[test]
    fn byte_mode_is_strrev() {
        assert_eq!(reverse(b"abc\xff", Mode::Bytes), b"\xffcba");
        assert_eq!(reverse(b"", Mode::Bytes), b"");
    }

    #[test]
    fn grapheme_mode_keeps_clusters_whole() {
        // "a" + COMBINING DIAERESIS, a flag, a family emoji with joiners.
        let input = "a\u{308}b🇩🇪👨‍👩‍👧";
        let expected = "👨‍👩‍👧🇩🇪ba\u{308}";
        assert_eq!(
            reverse(input.as_bytes(), Mode::Graphemes),
            expected.as_bytes()
        );
    }

    #[test]
    fn grapheme_mode_keeps_invalid_bytes_as_single_units() {
        assert_eq!(reverse(b"ab\xc3", Mode::Graphemes), b"\xc3ba");
        assert_eq!(reverse(b"\xff\xfe", Mode::Graphemes), b"\xfe\xff");
        assert_eq!(
            reverse("äö\u{ff}".as_bytes(), Mode::Graphemes),
            "\u{ff}öä".as_bytes()
        );
        // A request cut inside the last character: only that one is mangled.
        let cut = &"pässwörd 👍🏽".as_bytes()[..14];
        assert_eq!(
            reverse(cut, Mode::Graphemes),
            [&b"\x91\x9f\xf0"[..], " dröwssäp".as_bytes()].concat()
        );
    }

    proptest::proptest! {
        /// The ASCII shortcut gives what the grapheme walk gives, CR LF
        /// pairs (one cluster) included.
        #[test]
        fn ascii_is_reversed_as_by_the_grapheme_walk(
            input in proptest::collection::vec(
                proptest::prop_oneof![Just(b'\r'), Just(b'\n'), 0u8..0x80],
                0..64,
            ),
        ) {
            let mut walked = Vec::new();
            reverse_graphemes(&input, &mut walked);
            proptest::prop_assert_eq!(reverse(&input, Mode::Graphemes), walked);
        }

        /// `reverse_into` appends exactly what `reverse` returns, after
        /// whatever the buffer held.
        #[test]
        fn reverse_into_appends_what_reverse_returns(
            before in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
            input in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            bytes in proptest::bool::ANY,
        ) {
            let mode = if bytes { Mode::Bytes } else { Mode::Graphemes };
            let mut out = before.clone();
            reverse_into(&input, mode, &mut out);
            proptest::prop_assert_eq!(&out[..before.len()], &before[..]);
            proptest::prop_assert_eq!(&out[before.len()..], &reverse(&input, mode)[..]);
        }

        /// Byte mode is the bytes in reverse order, as PHP's `strrev`.
        #[test]
        fn byte_mode_is_the_bytes_backwards(
            input in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let backwards: Vec<u8> = input.iter().rev().copied().collect();
            proptest::prop_assert_eq!(reverse(&input, Mode::Bytes), backwards);
        }
    }

    #[test]
    fn cr_lf_stays_one_cluster() {
        assert_eq!(reverse(b"a\r\nb", Mode::Graphemes), b"b\r\na");
        assert_eq!(reverse(b"a\rb", Mode::Graphemes), b"b\ra");
        assert_eq!(reverse(b"ab", Mode::Graphemes), b"ba");
    }

    #[test]
    fn trim_edge_cases() {
        assert_eq!(trim(b""), b"");
        assert_eq!(trim(b" \r\n"), b"");
        assert_eq!(trim(b"x"), b"x");
        assert_eq!(trim(b" a b "), b"a b");
        assert_eq!(trim(b"\x0c a"), b"\x0c a"); // form feed is not trimmed by PHP
    }
}
