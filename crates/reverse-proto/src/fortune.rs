//! The fortune server's exchange (announce and close) and the fortune file
//! format it serves from.

use std::convert::Infallible;
use std::time::Instant;

use bytes::Bytes;
use lineproto::{Machine, Output};

use crate::Error;

/// Sends one text as soon as the peer connects, then closes. It never reads:
/// whatever the peer sends is ignored, so nothing a client sends can reach
/// whatever produced the text.
///
/// ```
/// use lineproto::testing::{transcript, Step};
/// use reverse_proto::Announce;
///
/// let steps = transcript(Announce::new("Fortune favours the bold.\n"), [b"ignored"], true);
/// assert_eq!(steps, [
///     Step::Transmit("Fortune favours the bold.\n".into()),
///     Step::Done(Ok(())),
/// ]);
/// ```
#[derive(Debug, Clone)]
pub struct Announce {
    text: Option<Bytes>,
}

impl Announce {
    /// Prepares the text to send.
    pub fn new(text: impl Into<Bytes>) -> Self {
        Self {
            text: Some(text.into()),
        }
    }
}

impl Machine for Announce {
    /// The exchange has nothing to report.
    type Event = Infallible;
    type Error = Error;

    fn handle_input(&mut self, _bytes: &[u8]) {}

    fn handle_eof(&mut self) {}

    fn poll_output(&mut self, _now: Instant) -> Output<Infallible, Error> {
        match self.text.take() {
            Some(text) if !text.is_empty() => Output::Transmit(text),
            _ => Output::Done(Ok(())),
        }
    }
}

/// The fortunes of a fortune file: the text format read by `fortune(6)` and
/// indexed by `strfile(1)`, where a line holding only `%` separates two
/// fortunes.
///
/// Parsing takes the file's contents, not its path; reading the file is the
/// caller's job. Each fortune keeps its own line breaks, and ends with a LF
/// (added if the file's last fortune lacks one). Empty fortunes are skipped.
/// CRLF line ends are accepted around the separators.
///
/// ```
/// use reverse_proto::Fortunes;
///
/// let fortunes = Fortunes::parse(b"Paradise is exactly like\nwhere you are.\n%\nGo.\n%\n");
/// assert_eq!(fortunes.len(), 2);
/// assert_eq!(fortunes.get(1).unwrap(), "Go.\n");
/// // Pick with any number, for instance a random one: it wraps around.
/// assert_eq!(fortunes.pick(3).unwrap(), "Go.\n");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Fortunes {
    fortunes: Vec<Bytes>,
}

impl Fortunes {
    /// Splits a fortune file's contents into fortunes.
    pub fn parse(contents: &[u8]) -> Self {
        let contents = Bytes::copy_from_slice(contents);
        let mut fortunes = Vec::new();
        let mut start = 0;
        let mut line_start = 0;
        let push = |from: usize, to: usize, fortunes: &mut Vec<Bytes>| {
            let text = contents.slice(from..to);
            if text.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            if text.ends_with(b"\n") {
                fortunes.push(text);
            } else {
                let mut owned = text.to_vec();
                owned.push(b'\n');
                fortunes.push(owned.into());
            }
        };
        while line_start < contents.len() {
            let line_end = memchr::memchr(b'\n', &contents[line_start..])
                .map_or(contents.len(), |offset| line_start + offset + 1);
            let line = &contents[line_start..line_end];
            let bare = line.strip_suffix(b"\n").unwrap_or(line);
            let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
            if bare == b"%" {
                push(start, line_start, &mut fortunes);
                start = line_end;
            }
            line_start = line_end;
        }
        push(start, contents.len(), &mut fortunes);
        Self { fortunes }
    }

    /// How many fortunes there are.
    pub fn len(&self) -> usize {
        self.fortunes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fortunes.is_empty()
    }

    /// The fortune at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&Bytes> {
        self.fortunes.get(index)
    }

    /// The fortune at `number` modulo the count: pass a random number to
    /// pick a random fortune. `None` only when there are no fortunes.
    pub fn pick(&self, number: u64) -> Option<&Bytes> {
        let count = u64::try_from(self.fortunes.len()).ok().filter(|&c| c > 0)?;
        let index = usize::try_from(number % count).ok()?;
        self.fortunes.get(index)
    }

    /// Iterates over the fortunes in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.fortunes.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_blank_entries_and_missing_final_newline() {
        let fortunes = Fortunes::parse(b"%\none\r\n%\r\n\n%\ntwo\nlines\n%\nthree");
        let got: Vec<&[u8]> = fortunes.iter().map(|f| &f[..]).collect();
        assert_eq!(got, [&b"one\r\n"[..], b"two\nlines\n", b"three\n"]);
    }

    #[test]
    fn percent_inside_a_line_is_text() {
        let fortunes = Fortunes::parse(b"100% sure\n%\n");
        assert_eq!(fortunes.len(), 1);
        assert_eq!(fortunes.get(0).unwrap(), "100% sure\n");
    }

    #[test]
    fn empty_file_has_nothing_to_pick() {
        assert!(Fortunes::parse(b"").pick(7).is_none());
        assert!(Fortunes::parse(b"\n%\n%\n").is_empty());
    }

    #[test]
    fn announce_with_empty_text_just_closes() {
        let mut announce = Announce::new("");
        assert_eq!(
            announce.poll_output(lineproto::testing::epoch()),
            Output::Done(Ok(()))
        );
    }
}
