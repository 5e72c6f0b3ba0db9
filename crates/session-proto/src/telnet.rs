//! Removal of telnet commands from the byte stream.

use std::borrow::Cow;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// Removes telnet commands (RFC 854) from a byte stream, keeping the data.
///
/// It removes option negotiation (`IAC WILL/WONT/DO/DONT x`),
/// subnegotiation (`IAC SB ... IAC SE`) and two-byte commands such as the
/// `IAC IP` a telnet client sends on Ctrl-C. `IAC IAC` stands for one
/// literal 255 byte.
///
/// This is a streaming decoder. A command cut across two reads is recognised
/// whole, and it works on the raw stream, before line framing. A
/// subnegotiation may carry a LF byte (a window 266 columns wide is
/// `IAC SB NAWS 01 0A ...`), which must not end a line.
///
/// Streams without a 255 byte pass through unchanged, and that includes all
/// valid UTF-8.
///
/// ```
/// use session_proto::TelnetFilter;
///
/// let mut filter = TelnetFilter::default();
/// let mut data = Vec::new();
/// let mut keep = |run: &[u8]| data.extend_from_slice(run);
/// filter.filter(b"\xff\xfb\x01EN", &mut keep); // IAC WILL ECHO, then data
/// filter.filter(b"D\xff", &mut keep);          // a command cut in two ...
/// filter.filter(b"\xf4\r\n", &mut keep);       // ... is still removed
/// assert_eq!(data, b"END\r\n");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TelnetFilter {
    state: State,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    /// After IAC.
    Command,
    /// After IAC WILL/WONT/DO/DONT: the option byte comes next.
    Option,
    /// Inside IAC SB ... : data of the subnegotiation.
    Subnegotiation,
    /// After an IAC inside a subnegotiation.
    SubnegotiationCommand,
}

impl TelnetFilter {
    /// Passes the data of `input` to `data`, in runs: the bytes between
    /// commands are handed over as slices of `input`, without a copy.
    pub fn filter(&mut self, input: &[u8], mut data: impl FnMut(&[u8])) {
        let mut rest = input;
        while let Some((&byte, after)) = rest.split_first() {
            if self.state == State::Data {
                let Some(at) = memchr::memchr(IAC, rest) else {
                    data(rest);
                    return;
                };
                if at > 0 {
                    data(&rest[..at]);
                }
                self.state = State::Command;
                rest = &rest[at + 1..];
                continue;
            }
            rest = after;
            self.state = match (self.state, byte) {
                (State::Command, IAC) => {
                    data(&[IAC]);
                    State::Data
                }
                (State::Command, WILL..=DONT) => State::Option,
                (State::Command, SB) => State::Subnegotiation,
                (State::Data | State::Command | State::Option, _) => State::Data,
                (State::Subnegotiation, IAC) => State::SubnegotiationCommand,
                (State::Subnegotiation, _) => State::Subnegotiation,
                (State::SubnegotiationCommand, SE) => State::Data,
                (State::SubnegotiationCommand, _) => State::Subnegotiation,
            };
        }
    }
}

/// Removes telnet commands from one complete piece of input: the whole-input
/// form of [`TelnetFilter`]. Input without a 255 byte is returned as it is,
/// without a copy.
///
/// ```
/// use session_proto::strip_telnet_commands;
///
/// assert_eq!(strip_telnet_commands(b"\xff\xfb\x01END"), &b"END"[..]);
/// assert_eq!(strip_telnet_commands(b"plain"), &b"plain"[..]);
/// ```
pub fn strip_telnet_commands(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(IAC, input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut data = Vec::with_capacity(input.len());
    TelnetFilter::default().filter(input, |run| data.extend_from_slice(run));
    Cow::Owned(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_of_every_shape() {
        assert_eq!(strip_telnet_commands(b"a\xff\xf4\xff\xfd\x06b"), &b"ab"[..]);
        assert_eq!(
            strip_telnet_commands(b"\xff\xfa\x18\x00xterm\xff\xf0hi"),
            &b"hi"[..]
        );
        assert_eq!(strip_telnet_commands(b"\xff\xff"), &b"\xff"[..]);
        assert_eq!(strip_telnet_commands(b"x\xff"), &b"x"[..]);
        assert_eq!(strip_telnet_commands(b"x\xff\xfb"), &b"x"[..]);
        assert_eq!(
            strip_telnet_commands(b"\xff\xfa\x01\xff\xff\x02\xff\xf0y"),
            &b"y"[..]
        );
    }

    #[test]
    fn a_newline_inside_a_subnegotiation_is_not_data() {
        // NAWS: 266 columns (01 0A) by 64 rows.
        assert_eq!(
            strip_telnet_commands(b"\xff\xfa\x1f\x01\x0a\x00\x40\xff\xf0END\r\n"),
            &b"END\r\n"[..]
        );
    }

    #[test]
    fn any_split_gives_the_same_data() {
        let input = b"a\xff\xfa\x1f\x01\x0a\xff\xff\x00\x40\xff\xf0b\xff\xff\xff\xfd\x01c\xff\xf4";
        let whole = strip_telnet_commands(input).into_owned();
        assert_eq!(whole, b"ab\xffc");
        for cut in 0..=input.len() {
            let mut filter = TelnetFilter::default();
            let mut data = Vec::new();
            filter.filter(&input[..cut], |run| data.extend_from_slice(run));
            filter.filter(&input[cut..], |run| data.extend_from_slice(run));
            assert_eq!(data, whole, "cut at {cut}");
        }
    }
}
