//! Multi-line responses: dot-unstuffing and the terminating `.` line,
//! found across any chunking, streamed out without copying.

use std::sync::LazyLock;

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem::Finder;

/// Finds the start of a line that begins with `.`; built once, since
/// building a SIMD searcher costs more than a short search.
static DOT_LINE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n."));

/// What [`MultiLineDecoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Response data, unstuffed, with line ends as the server sent them.
    Data(Bytes),
    /// The terminating `.` line was consumed; the response is complete.
    End,
    /// The buffer holds nothing more that can be decoded yet.
    NeedMore,
}

/// Decodes the body of a multi-line response (RFC 1939 section 3).
///
/// A line that starts with `.` has that `.` removed; a line that is only
/// `.` ends the response. The decision is made per *line*, never by
/// searching for `".\r\n"` in the data, so a body line that ends in a
/// period cannot end a message early. Lines may end with CRLF or, from
/// broken servers, a bare LF; both are accepted, and the data keeps the
/// line ends it had.
///
/// Data is handed out as [`Bytes`] split off the input buffer: no copy, and
/// runs of many lines come out as one chunk. Ordinary lines are skipped with
/// one SIMD substring search for `"\n."`; only lines that start with `.` are
/// looked at one by one. A line is handed out before
/// its end arrives, so no message line, however long, has to be held: the
/// decoder keeps at most the two bytes it needs to tell `.` lines apart.
/// How data is cut into chunks depends on how it arrived; their
/// concatenation does not.
///
/// ```
/// use bytes::BytesMut;
/// use pop3_client::{Decoded, MultiLineDecoder};
///
/// let mut decoder = MultiLineDecoder::default();
/// let mut input = BytesMut::from(&b"Subject: hi\r\n\r\n..dot first\r\nend.\r\n.\r\n+OK next"[..]);
/// let mut body = Vec::new();
/// loop {
///     match decoder.decode(&mut input) {
///         Decoded::Data(chunk) => body.extend_from_slice(&chunk),
///         Decoded::End => break,
///         Decoded::NeedMore => unreachable!("the terminator is in the buffer"),
///     }
/// }
/// assert_eq!(body, b"Subject: hi\r\n\r\n.dot first\r\nend.\r\n");
/// assert_eq!(&input[..], b"+OK next"); // the next response is left alone
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiLineDecoder {
    at_line_start: bool,
}

impl Default for MultiLineDecoder {
    fn default() -> Self {
        Self {
            at_line_start: true,
        }
    }
}

impl MultiLineDecoder {
    /// Takes what can be decoded from the front of `input`.
    pub fn decode(&mut self, input: &mut BytesMut) -> Decoded {
        if input.is_empty() {
            return Decoded::NeedMore;
        }
        if self.at_line_start && input[0] == b'.' {
            match (input.get(1), input.get(2)) {
                (None, _) | (Some(b'\r'), None) => return Decoded::NeedMore,
                (Some(b'\n'), _) => {
                    input.advance(2);
                    return self.end();
                }
                (Some(b'\r'), Some(b'\n')) => {
                    input.advance(3);
                    return self.end();
                }
                // A stuffed line: drop the first `.`, keep the rest.
                _ => {
                    input.advance(1);
                    self.at_line_start = false;
                }
            }
        }
        // Only lines that start with `.` need attention, so search for
        // "\n." (one SIMD pass over ordinary lines, however many) and take
        // everything before that line, or everything if there is none.
        let taken = DOT_LINE
            .find(input)
            .map_or(input.len(), |newline| newline + 1);
        let chunk = input.split_to(taken).freeze();
        self.at_line_start = chunk.last() == Some(&b'\n');
        Decoded::Data(chunk)
    }

    fn end(&mut self) -> Decoded {
        self.at_line_start = true;
        Decoded::End
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(pieces: &[&[u8]]) -> (Vec<u8>, bool, Vec<u8>) {
        let mut decoder = MultiLineDecoder::default();
        let mut input = BytesMut::new();
        let mut body = Vec::new();
        for piece in pieces {
            input.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut input) {
                    Decoded::Data(chunk) => body.extend_from_slice(&chunk),
                    Decoded::End => return (body, true, input.to_vec()),
                    Decoded::NeedMore => break,
                }
            }
        }
        (body, false, input.to_vec())
    }

    #[test]
    fn a_line_that_is_just_a_dot_in_the_message() {
        // The message's last line is ".", stuffed to "..".
        assert_eq!(
            decode_all(&[b"a\r\n..\r\n.\r\n"]),
            (b"a\r\n.\r\n".to_vec(), true, vec![])
        );
    }

    #[test]
    fn bare_lf_terminator_and_lines() {
        assert_eq!(
            decode_all(&[b"a\nb\n.\nrest"]),
            (b"a\nb\n".to_vec(), true, b"rest".to_vec())
        );
    }

    #[test]
    fn terminator_split_at_every_byte() {
        let whole = b"x.\r\n..y\r\n\r\n.\r\n";
        for cut in 0..whole.len() {
            let (body, end, rest) = decode_all(&[&whole[..cut], &whole[cut..]]);
            assert!(end, "cut {cut}");
            assert_eq!(body, b"x.\r\n.y\r\n\r\n", "cut {cut}");
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn a_period_at_the_end_of_a_line_does_not_end_the_message() {
        let (body, end, _) = decode_all(&[b"end.\r\n", b"more\r\n"]);
        assert!(!end);
        assert_eq!(body, b"end.\r\nmore\r\n");
    }

    #[test]
    fn empty_body() {
        assert_eq!(decode_all(&[b".\r\n"]), (vec![], true, vec![]));
    }
}
