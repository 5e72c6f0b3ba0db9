//! Reversal and trimming, the text operations of the article's servers.

use unicode_segmentation::UnicodeSegmentation;

/// How text is reversed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Reverse the order of user-perceived characters (extended grapheme
    /// clusters), so `👍🏽` and `ä` written as `a` plus a combining mark stay
    /// whole. Input that is not valid UTF-8 is reversed byte by byte.
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
/// ```
pub fn reverse(input: &[u8], mode: Mode) -> Vec<u8> {
    match (mode, std::str::from_utf8(input)) {
        (Mode::Graphemes, Ok(text)) => {
            let mut out = String::with_capacity(text.len());
            out.extend(text.graphemes(true).rev());
            out.into_bytes()
        }
        _ => input.iter().rev().copied().collect(),
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
    fn grapheme_mode_falls_back_to_bytes_on_invalid_utf8() {
        assert_eq!(reverse(b"ab\xc3", Mode::Graphemes), b"\xc3ba");
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
