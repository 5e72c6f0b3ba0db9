//! Removal of telnet commands from a line.

use std::borrow::Cow;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// Removes telnet commands (RFC 854) from a line: option negotiation
/// (`IAC WILL/WONT/DO/DONT x`), subnegotiation (`IAC SB ... IAC SE`) and
/// two-byte commands such as the `IAC IP` a telnet client sends on Ctrl-C.
/// `IAC IAC` stands for one literal 255 byte. A command cut off at the end
/// of the line is dropped.
///
/// Lines without a 255 byte, which includes all valid UTF-8, are returned
/// as they are, without a copy.
///
/// ```
/// use session_proto::strip_telnet_commands;
///
/// assert_eq!(strip_telnet_commands(b"\xff\xfb\x01END"), &b"END"[..]);
/// assert_eq!(strip_telnet_commands(b"plain"), &b"plain"[..]);
/// ```
pub fn strip_telnet_commands(line: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(IAC, line).is_none() {
        return Cow::Borrowed(line);
    }
    let mut clean = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some((&byte, after)) = rest.split_first() {
        if byte != IAC {
            clean.push(byte);
            rest = after;
            continue;
        }
        rest = match after.split_first() {
            Some((&IAC, after)) => {
                clean.push(IAC);
                after
            }
            Some((&(WILL..=DONT), after)) => after.get(1..).unwrap_or_default(),
            Some((&SB, after)) => skip_subnegotiation(after),
            Some((_, after)) => after,
            None => &[],
        };
    }
    Cow::Owned(clean)
}

/// Skips to just after the `IAC SE` that ends a subnegotiation.
fn skip_subnegotiation(mut rest: &[u8]) -> &[u8] {
    while let Some(at) = memchr::memchr(IAC, rest) {
        match rest.get(at + 1) {
            Some(&SE) => return &rest[at + 2..],
            // An escaped 255 inside the subnegotiation's data.
            Some(&IAC) => rest = &rest[at + 2..],
            _ => rest = &rest[at + 1..],
        }
    }
    &[]
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
}
