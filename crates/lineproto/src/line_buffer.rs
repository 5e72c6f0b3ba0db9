//! Line framing with a length limit.
//!
//! Framing is kept apart from parsing so that a malformed or hostile line
//! can be discarded without losing track of where the next one starts, and
//! so that no parser ever sees more than the configured limit. Every
//! protocol in this workspace frames its input with [`LineBuffer`].

use bytes::{Bytes, BytesMut};

use crate::Error;

/// Splits a byte stream into lines ended by LF or CRLF, with a length limit.
///
/// Bytes go in with [`extend`](Self::extend); complete lines come out of
/// [`next_line`](Self::next_line) without their terminator, as [`Bytes`]
/// that share the buffer's memory (no copy). At end of input,
/// [`finish`](Self::finish) hands out the unterminated tail.
///
/// # Limit
///
/// A line whose content (the terminator not counted) is longer than
/// `max_line_len` is an error, reported exactly once per overlong line, at
/// the same place in the sequence of lines however the input was chunked.
/// After the error the buffer throws bytes away up to and including the
/// next LF and then frames normally again, so one overlong line costs the
/// peer that line and nothing else. While it discards, it stores nothing:
/// memory stays at `max_line_len` plus the bytes of one `extend` call.
///
/// # Cost
///
/// Each byte is scanned for LF once, with `memchr`: a scan offset remembers
/// how far an unterminated line has been searched, so a line that arrives in
/// many pieces is not searched again from its start.
///
/// # Example
///
/// ```
/// use lineproto::{Error, LineBuffer};
///
/// let mut lines = LineBuffer::new(8);
/// lines.extend(b"one\r\ntwo\nfar too long\nthr");
/// assert_eq!(lines.next_line(), Some(Ok("one".into())));
/// assert_eq!(lines.next_line(), Some(Ok("two".into())));
/// assert_eq!(lines.next_line(), Some(Err(Error::LineTooLong { limit: 8 })));
/// assert_eq!(lines.next_line(), None); // "thr" waits for its LF
/// lines.extend(b"ee");
/// assert_eq!(lines.finish(), Some(Ok("three".into())));
/// ```
#[derive(Debug, Clone)]
pub struct LineBuffer {
    buffer: BytesMut,
    /// How many leading bytes of `buffer` are known to hold no LF.
    scanned: usize,
    /// Inside an overlong line: drop bytes up to the next LF.
    discarding: bool,
    max_line_len: usize,
}

impl LineBuffer {
    /// Creates an empty buffer that accepts lines of at most `max_line_len`
    /// bytes, terminator not counted.
    pub fn new(max_line_len: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            scanned: 0,
            discarding: false,
            max_line_len,
        }
    }

    /// The longest line content this buffer accepts.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// How many bytes are stored and not yet handed out.
    ///
    /// ```
    /// let mut lines = lineproto::LineBuffer::new(4);
    /// lines.extend(b"abcdefgh");
    /// assert!(lines.next_line().unwrap().is_err());
    /// lines.extend(&[b'x'; 1000]); // still inside the overlong line
    /// assert_eq!(lines.buffered_len(), 0);
    /// ```
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// Appends bytes read from the peer.
    pub fn extend(&mut self, mut bytes: &[u8]) {
        if self.discarding {
            match memchr::memchr(b'\n', bytes) {
                Some(newline) => {
                    self.discarding = false;
                    bytes = &bytes[newline + 1..];
                }
                None => return,
            }
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Returns the next complete line without its LF or CRLF, an error for
    /// an overlong line, or `None` when no complete line is buffered.
    pub fn next_line(&mut self) -> Option<Result<Bytes, Error>> {
        if self.discarding {
            // Only reachable if a previous call detected the overflow; the
            // rest of that line is dropped by `extend`.
            return None;
        }
        match memchr::memchr(b'\n', &self.buffer[self.scanned..]) {
            Some(offset) => {
                let newline = self.scanned + offset;
                self.scanned = 0;
                let mut line = self.buffer.split_to(newline + 1);
                line.truncate(newline);
                if line.last() == Some(&b'\r') {
                    line.truncate(newline - 1);
                }
                if line.len() > self.max_line_len {
                    return Some(Err(self.too_long()));
                }
                Some(Ok(line.freeze()))
            }
            None => {
                self.scanned = self.buffer.len();
                if self.cannot_fit(&self.buffer) {
                    self.buffer.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Some(Err(self.too_long()));
                }
                None
            }
        }
    }

    /// At end of input: returns the unterminated tail as a last line (or an
    /// error if it is too long), or `None` if nothing is left. The buffer is
    /// empty afterwards. A trailing CR is part of the content, since no LF
    /// followed it.
    ///
    /// Call it once `next_line` has returned `None`; complete lines still
    /// buffered would otherwise come out glued to the tail.
    pub fn finish(&mut self) -> Option<Result<Bytes, Error>> {
        let discarding = std::mem::take(&mut self.discarding);
        self.scanned = 0;
        if discarding || self.buffer.is_empty() {
            self.buffer.clear();
            return None;
        }
        let tail = self.buffer.split().freeze();
        if tail.len() > self.max_line_len {
            return Some(Err(self.too_long()));
        }
        Some(Ok(tail))
    }

    /// Whether an unterminated line can no longer end within the limit.
    ///
    /// `max_line_len + 1` bytes may still be a full line if the last one is
    /// the CR of a CRLF still in flight; anything longer cannot be.
    fn cannot_fit(&self, unterminated: &[u8]) -> bool {
        let len = unterminated.len();
        len > self.max_line_len.saturating_add(1)
            || (len == self.max_line_len.saturating_add(1) && unterminated.last() != Some(&b'\r'))
    }

    fn too_long(&self) -> Error {
        Error::LineTooLong {
            limit: self.max_line_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(lines: &mut LineBuffer) -> Vec<Result<Bytes, Error>> {
        std::iter::from_fn(|| lines.next_line()).collect()
    }

    #[test]
    fn splits_on_lf_and_crlf() {
        let mut lines = LineBuffer::new(16);
        lines.extend(b"a\nb\r\n\r\n\nc\rd\n");
        let got = drain(&mut lines);
        let expected: Vec<Result<Bytes, Error>> = vec![
            Ok("a".into()),
            Ok("b".into()),
            Ok("".into()),
            Ok("".into()),
            Ok("c\rd".into()),
        ];
        assert_eq!(got, expected);
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn line_at_the_limit_is_accepted_with_either_terminator() {
        for input in [&b"abcd\n"[..], b"abcd\r\n"] {
            let mut lines = LineBuffer::new(4);
            for byte in input {
                lines.extend(std::slice::from_ref(byte));
                if let Some(line) = lines.next_line() {
                    assert_eq!(line, Ok(Bytes::from_static(b"abcd")));
                }
            }
        }
    }

    #[test]
    fn overlong_line_is_reported_once_and_framing_resumes() {
        let mut lines = LineBuffer::new(4);
        lines.extend(b"abcdef");
        assert_eq!(
            lines.next_line(),
            Some(Err(Error::LineTooLong { limit: 4 }))
        );
        assert_eq!(lines.next_line(), None);
        lines.extend(b"ghij\nok\n");
        assert_eq!(lines.next_line(), Some(Ok("ok".into())));
        assert_eq!(lines.next_line(), None);
    }

    #[test]
    fn cr_just_past_the_limit_waits_for_its_lf() {
        let mut lines = LineBuffer::new(4);
        lines.extend(b"abcd\r");
        assert_eq!(lines.next_line(), None);
        lines.extend(b"x");
        assert_eq!(
            lines.next_line(),
            Some(Err(Error::LineTooLong { limit: 4 }))
        );
    }

    #[test]
    fn finish_returns_the_tail_once() {
        let mut lines = LineBuffer::new(4);
        lines.extend(b"ab\r");
        assert_eq!(lines.next_line(), None);
        assert_eq!(lines.finish(), Some(Ok("ab\r".into())));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn finish_after_an_overlong_tail_reports_nothing_more() {
        let mut lines = LineBuffer::new(2);
        lines.extend(b"abcdef");
        assert!(matches!(lines.next_line(), Some(Err(_))));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn tail_of_limit_plus_cr_is_too_long_at_eof() {
        let mut lines = LineBuffer::new(2);
        lines.extend(b"ab\r");
        assert_eq!(lines.next_line(), None);
        assert_eq!(lines.finish(), Some(Err(Error::LineTooLong { limit: 2 })));
    }

    #[test]
    fn zero_limit_accepts_only_empty_lines() {
        let mut lines = LineBuffer::new(0);
        lines.extend(b"\n\r\nx\n");
        assert_eq!(
            drain(&mut lines),
            vec![
                Ok(Bytes::new()),
                Ok(Bytes::new()),
                Err(Error::LineTooLong { limit: 0 })
            ]
        );
    }
}
