//! The POP3 wire format: status lines, response codes, greetings, CAPA
//! lists, scan listings, and command encoding. Pure functions over bytes;
//! the state lives in [`crate::client`].

use std::time::Duration;

use bytes::Bytes;
use lineproto::Secret;
use zeroize::Zeroizing;

use crate::Error;

/// The longest command line RFC 2449 allows, CRLF included.
pub const MAX_COMMAND_LEN: usize = 255;

/// `+OK` or `-ERR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
}

/// An extended response code: the bracketed word after the status
/// (RFC 2449 section 8, RFC 3206, RFC 6856).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: logged in too soon after the last login.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system problem; try again later.
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem.
    SysPerm,
    /// `[AUTH]`: the credentials were wrong.
    Auth,
    /// `[UTF8]`: the mailbox needs UTF-8 mode.
    Utf8,
    /// Any other code, as sent (codes are hierarchical, `/`-separated).
    Other(Bytes),
}

impl ResponseCode {
    fn parse(code: &[u8]) -> Self {
        match code.to_ascii_uppercase().as_slice() {
            b"IN-USE" => Self::InUse,
            b"LOGIN-DELAY" => Self::LoginDelay,
            b"SYS/TEMP" => Self::SysTemp,
            b"SYS/PERM" => Self::SysPerm,
            b"AUTH" => Self::Auth,
            b"UTF8" => Self::Utf8,
            _ => Self::Other(Bytes::copy_from_slice(code)),
        }
    }

    /// The code as it appears on the wire, without brackets.
    ///
    /// ```
    /// assert_eq!(pop3_client::ResponseCode::SysTemp.as_bytes(), b"SYS/TEMP");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::InUse => b"IN-USE",
            Self::LoginDelay => b"LOGIN-DELAY",
            Self::SysTemp => b"SYS/TEMP",
            Self::SysPerm => b"SYS/PERM",
            Self::Auth => b"AUTH",
            Self::Utf8 => b"UTF8",
            Self::Other(code) => code,
        }
    }

    /// Whether trying again later may succeed (`IN-USE`, `LOGIN-DELAY`,
    /// `SYS/TEMP`).
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::InUse | Self::LoginDelay | Self::SysTemp)
    }
}

/// A status line: `+OK` or `-ERR`, an optional response code, and text.
///
/// ```
/// use pop3_client::{ResponseCode, Status, StatusLine};
///
/// let line = StatusLine::parse(b"-ERR [AUTH] Authentication failed.")?;
/// assert_eq!(line.status, Status::Err);
/// assert_eq!(line.code, Some(ResponseCode::Auth));
/// assert_eq!(line.text, "Authentication failed.");
/// assert_eq!(StatusLine::parse(b"+OK")?.text, "");
/// # Ok::<(), pop3_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// The extended response code, if any.
    pub code: Option<ResponseCode>,
    /// The rest of the line, without the code.
    pub text: Bytes,
}

impl StatusLine {
    /// Parses a status line given without its line end. The status is
    /// matched without regard to case; a code is recognised only on `-ERR`
    /// lines and on `+OK` lines that start with `[`.
    pub fn parse(line: &[u8]) -> Result<Self, Error> {
        let (status, rest) = if line.len() >= 3 && line[..3].eq_ignore_ascii_case(b"+OK") {
            (Status::Ok, &line[3..])
        } else if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"-ERR") {
            (Status::Err, &line[4..])
        } else {
            return Err(Error::Malformed {
                what: "status line",
            });
        };
        // "+OK" must be followed by a space or nothing ("+OKAY" is not a status).
        let rest = match rest.split_first() {
            None => rest,
            Some((b' ', text)) => text,
            Some(_) => {
                return Err(Error::Malformed {
                    what: "status line",
                });
            }
        };
        let (code, text) = match rest.strip_prefix(b"[") {
            Some(after) => match memchr::memchr(b']', after) {
                Some(end) => {
                    let text = &after[end + 1..];
                    (
                        Some(ResponseCode::parse(&after[..end])),
                        text.strip_prefix(b" ").unwrap_or(text),
                    )
                }
                None => (None, rest),
            },
            None => (None, rest),
        };
        Ok(Self {
            status,
            code,
            text: Bytes::copy_from_slice(text),
        })
    }

    /// Whether this is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// The server's first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// The status line (a `-ERR` greeting means the server will not talk).
    pub line: StatusLine,
    /// The APOP timestamp (`<...>`, brackets included), if the greeting has one.
    pub apop_timestamp: Option<Bytes>,
}

impl Greeting {
    /// Parses the greeting line.
    ///
    /// ```
    /// use pop3_client::Greeting;
    ///
    /// let greeting = Greeting::parse(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>")?;
    /// assert_eq!(greeting.apop_timestamp.unwrap(), "<1896.697170952@dbc.mtview.ca.us>");
    /// # Ok::<(), pop3_client::Error>(())
    /// ```
    pub fn parse(line: &[u8]) -> Result<Self, Error> {
        let line = StatusLine::parse(line)?;
        let apop_timestamp = apop_timestamp(&line.text).map(Bytes::copy_from_slice);
        Ok(Self {
            line,
            apop_timestamp,
        })
    }
}

/// The first `<...>` of a greeting text, brackets included; it must hold an
/// `@` and no spaces, as a msg-id does (RFC 1939 section 7).
pub fn apop_timestamp(text: &[u8]) -> Option<&[u8]> {
    let start = memchr::memchr(b'<', text)?;
    let end = start + memchr::memchr(b'>', &text[start..])?;
    let stamp = &text[start..=end];
    (stamp.contains(&b'@') && !stamp.iter().any(|b| b.is_ascii_whitespace())).then_some(stamp)
}

/// One CAPA line: a tag and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The tag, upper-cased (`PIPELINING`, `SASL`, `TOP`, ...).
    pub name: Bytes,
    /// The arguments, as sent.
    pub args: Vec<Bytes>,
}

/// A server's capabilities, from `CAPA` (RFC 2449).
///
/// ```
/// use pop3_client::Capabilities;
///
/// let caps = Capabilities::parse([&b"TOP"[..], b"SASL PLAIN LOGIN", b"pipelining", b"EXPIRE NEVER"])?;
/// assert!(caps.pipelining());
/// assert!(caps.sasl_mechanism(b"plain"));
/// assert!(!caps.stls());
/// assert_eq!(caps.args(b"EXPIRE").unwrap()[0], "NEVER");
/// # Ok::<(), pop3_client::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    entries: Vec<Capability>,
}

impl Capabilities {
    /// Parses the lines of a CAPA response (without the status line and
    /// the final `.`).
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, Error> {
        let mut entries = Vec::new();
        for line in lines {
            let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
            let Some(name) = words.next() else {
                continue;
            };
            entries.push(Capability {
                name: Bytes::from(name.to_ascii_uppercase()),
                args: words.map(Bytes::copy_from_slice).collect(),
            });
        }
        Ok(Self { entries })
    }

    /// Whether the server lists `name` (case-insensitive).
    pub fn has(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// The arguments of `name`, if listed.
    pub fn args(&self, name: &[u8]) -> Option<&[Bytes]> {
        self.get(name).map(|entry| entry.args.as_slice())
    }

    fn get(&self, name: &[u8]) -> Option<&Capability> {
        self.entries
            .iter()
            .find(|entry| entry.name.eq_ignore_ascii_case(name))
    }

    /// All entries, in the server's order.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.entries.iter()
    }

    /// `PIPELINING`: commands may be sent without waiting for replies.
    pub fn pipelining(&self) -> bool {
        self.has(b"PIPELINING")
    }

    /// `STLS`: the connection can be upgraded to TLS.
    pub fn stls(&self) -> bool {
        self.has(b"STLS")
    }

    /// `UTF8`: the `UTF8` command is available (RFC 6856).
    pub fn utf8(&self) -> bool {
        self.has(b"UTF8")
    }

    /// `LOGIN-DELAY n`: the server accepts no new login for `n` seconds
    /// after a successful one (RFC 2449 section 6.5). `None` if it is not
    /// listed or its argument is not a number of seconds. Listed in
    /// AUTHORIZATION state with a second argument `USER`, the value may
    /// differ per user; CAPA in TRANSACTION state gives this user's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pop3_client::Capabilities;
    ///
    /// let caps = Capabilities::parse([&b"LOGIN-DELAY 900 USER"[..]])?;
    /// assert_eq!(caps.login_delay(), Some(Duration::from_secs(900)));
    /// assert_eq!(Capabilities::parse([&b"LOGIN-DELAY soon"[..]])?.login_delay(), None);
    /// # Ok::<(), pop3_client::Error>(())
    /// ```
    pub fn login_delay(&self) -> Option<Duration> {
        let seconds = self.args(b"LOGIN-DELAY")?.first()?;
        // Digits only: `u64::from_str` would also take a leading `+`.
        if !seconds.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let seconds = std::str::from_utf8(seconds).ok()?.parse().ok()?;
        Some(Duration::from_secs(seconds))
    }

    /// Whether `SASL` lists `mechanism` (case-insensitive).
    pub fn sasl_mechanism(&self, mechanism: &[u8]) -> bool {
        self.args(b"SASL")
            .is_some_and(|mechs| mechs.iter().any(|m| m.eq_ignore_ascii_case(mechanism)))
    }
}

/// Parses the text of a `+OK` to STAT: the message count and total octets.
///
/// ```
/// assert_eq!(pop3_client::parse_stat(b"72 24595628"), Ok((72, 24595628)));
/// ```
pub fn parse_stat(text: &[u8]) -> Result<(u32, u64), Error> {
    let mut words = text.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let count = number(words.next(), "STAT count")?;
    let octets = number(words.next(), "STAT size")?;
    Ok((count, octets))
}

/// Parses a LIST line (`1 120`) into message number and size.
pub fn parse_scan_listing(line: &[u8]) -> Result<(u32, u64), Error> {
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let number_ = number(words.next(), "scan listing number")?;
    let size = number(words.next(), "scan listing size")?;
    Ok((number_, size))
}

/// Parses a UIDL line (`1 whqtswO00WBw418f9t5JxYwZ`) into message number
/// and unique id: one id of 1 to 70 characters from 0x21 to 0x7E (RFC 1939
/// section 7), compared as bytes. A line with more after the id
/// (`1 abc def`) is refused, never read as the shorter id `abc`: two
/// messages listed as `abc def` and `abc xyz` would share it.
///
/// ```
/// use pop3_client::parse_unique_id_listing;
///
/// assert_eq!(parse_unique_id_listing(b"1 whqtswO00WBw418f9t5JxYwZ")?.1, "whqtswO00WBw418f9t5JxYwZ");
/// assert!(parse_unique_id_listing(b"1 abc def").is_err());
/// # Ok::<(), pop3_client::Error>(())
/// ```
pub fn parse_unique_id_listing(line: &[u8]) -> Result<(u32, Bytes), Error> {
    let (number_, id) = split_unique_id_listing(line)?;
    if id.is_empty() {
        return Err(Error::Malformed {
            what: "unique-id listing",
        });
    }
    if !is_unique_id(&id) {
        return Err(Error::Malformed { what: "unique id" });
    }
    Ok((number_, id))
}

/// A UIDL line's message number and the rest of the line after the spaces
/// that follow it, as sent (trailing spaces aside), whatever it holds: the
/// client machine hands ids on this way, so that one message's bad id
/// fails that message only (see [`crate::session::check_unique_ids`]) and
/// is never cut short. Only a line without a message number is refused:
/// it belongs to no message.
pub(crate) fn split_unique_id_listing(line: &[u8]) -> Result<(u32, Bytes), Error> {
    let skip_spaces = |bytes: &[u8]| bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    let line = &line[skip_spaces(line)..];
    let end = memchr::memchr(b' ', line).unwrap_or(line.len());
    let number_ = number(Some(&line[..end]), "unique-id listing number")?;
    let rest = &line[end..];
    let id = &rest[skip_spaces(rest)..];
    let trailing = id.iter().rev().take_while(|&&b| b == b' ').count();
    Ok((number_, Bytes::copy_from_slice(&id[..id.len() - trailing])))
}

/// Whether `id` is a unique id as RFC 1939 has it: 1 to 70 characters, each
/// from 0x21 to 0x7E.
pub(crate) fn is_unique_id(id: &[u8]) -> bool {
    (1..=70).contains(&id.len()) && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn number<T: std::str::FromStr>(word: Option<&[u8]>, what: &'static str) -> Result<T, Error> {
    word.and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|w| w.parse().ok())
        .ok_or(Error::Malformed { what })
}

/// A POP3 command, ready to encode.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPA`
    Capa,
    /// `STLS`
    Stls,
    /// `USER name`
    User(Bytes),
    /// `PASS secret` (the secret never appears in `Debug`)
    Pass(Secret<Vec<u8>>),
    /// `APOP name digest` (digest: 32 lower-case hex digits)
    Apop {
        /// The user name.
        user: Bytes,
        /// MD5(timestamp + secret) in hex: crackable offline, so kept secret.
        digest: Secret<String>,
    },
    /// `AUTH mechanism [initial-response]`; the response is already base64.
    Auth {
        /// The SASL mechanism name.
        mechanism: String,
        /// The initial response (`=` for an empty one), if sent with the command.
        initial: Option<Secret<Vec<u8>>>,
    },
    /// A line answering a SASL challenge (base64, or `*` to cancel).
    SaslResponse(Secret<Vec<u8>>),
    /// `UTF8` (RFC 6856)
    Utf8,
    /// `LANG` (list the languages) or `LANG tag` (choose one; `*` for the
    /// server's default), RFC 6856.
    Lang(Option<Bytes>),
    /// `STAT`
    Stat,
    /// `LIST [n]`
    List(Option<u32>),
    /// `UIDL [n]`
    Uidl(Option<u32>),
    /// `RETR n`
    Retr(u32),
    /// `TOP n lines`
    Top(u32, u32),
    /// `DELE n`
    Dele(u32),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `QUIT`
    Quit,
}

impl Command {
    /// The command line, CRLF included. An argument holding CR, LF or NUL
    /// is refused ([`Error::ForbiddenByte`]): it would end the command
    /// early and let the rest be read as another command. So is a line
    /// longer than 255 octets ([`Error::CommandTooLong`]).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use pop3_client::{Command, Error};
    ///
    /// assert_eq!(Command::Retr(7).encode()?, "RETR 7\r\n");
    /// let injected = Command::User(Bytes::from_static(b"john\r\nDELE 1"));
    /// assert_eq!(injected.encode(), Err(Error::ForbiddenByte));
    /// # Ok::<(), pop3_client::Error>(())
    /// ```
    pub fn encode(&self) -> Result<Bytes, Error> {
        // Built in a buffer that is zeroed when the bytes are dropped, since
        // PASS and AUTH lines hold secrets.
        let mut line = Zeroizing::new(Vec::with_capacity(64));
        let word = |line: &mut Vec<u8>, part: &[u8]| -> Result<(), Error> {
            if part.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(Error::ForbiddenByte);
            }
            line.extend_from_slice(part);
            Ok(())
        };
        match self {
            Self::Capa => word(&mut line, b"CAPA")?,
            Self::Stls => word(&mut line, b"STLS")?,
            Self::User(name) => {
                word(&mut line, b"USER ")?;
                word(&mut line, name)?;
            }
            Self::Pass(secret) => {
                word(&mut line, b"PASS ")?;
                word(&mut line, secret.expose())?;
            }
            Self::Apop { user, digest } => {
                word(&mut line, b"APOP ")?;
                word(&mut line, user)?;
                word(&mut line, b" ")?;
                word(&mut line, digest.expose().as_bytes())?;
            }
            Self::Auth { mechanism, initial } => {
                word(&mut line, b"AUTH ")?;
                word(&mut line, mechanism.as_bytes())?;
                if let Some(initial) = initial {
                    word(&mut line, b" ")?;
                    word(&mut line, initial.expose())?;
                }
            }
            Self::SaslResponse(response) => word(&mut line, response.expose())?,
            Self::Utf8 => word(&mut line, b"UTF8")?,
            Self::Lang(None) => word(&mut line, b"LANG")?,
            Self::Lang(Some(tag)) => {
                word(&mut line, b"LANG ")?;
                word(&mut line, tag)?;
            }
            Self::Stat => word(&mut line, b"STAT")?,
            Self::List(None) => word(&mut line, b"LIST")?,
            Self::List(Some(n)) => word(&mut line, format!("LIST {n}").as_bytes())?,
            Self::Uidl(None) => word(&mut line, b"UIDL")?,
            Self::Uidl(Some(n)) => word(&mut line, format!("UIDL {n}").as_bytes())?,
            Self::Retr(n) => word(&mut line, format!("RETR {n}").as_bytes())?,
            Self::Top(n, lines) => word(&mut line, format!("TOP {n} {lines}").as_bytes())?,
            Self::Dele(n) => word(&mut line, format!("DELE {n}").as_bytes())?,
            Self::Noop => word(&mut line, b"NOOP")?,
            Self::Rset => word(&mut line, b"RSET")?,
            Self::Quit => word(&mut line, b"QUIT")?,
        }
        line.extend_from_slice(b"\r\n");
        // SASL responses are not commands and may be longer (RFC 5034 4).
        if line.len() > MAX_COMMAND_LEN && !matches!(self, Self::SaslResponse(_)) {
            return Err(Error::CommandTooLong {
                limit: MAX_COMMAND_LEN,
            });
        }
        Ok(Bytes::from_owner(line))
    }

    /// The command's name, for errors and logs (never an argument).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capa => "CAPA",
            Self::Stls => "STLS",
            Self::User(_) => "USER",
            Self::Pass(_) => "PASS",
            Self::Apop { .. } => "APOP",
            Self::Auth { .. } => "AUTH",
            Self::SaslResponse(_) => "AUTH (response)",
            Self::Utf8 => "UTF8",
            Self::Lang(_) => "LANG",
            Self::Stat => "STAT",
            Self::List(_) => "LIST",
            Self::Uidl(_) => "UIDL",
            Self::Retr(_) => "RETR",
            Self::Top(..) => "TOP",
            Self::Dele(_) => "DELE",
            Self::Noop => "NOOP",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
        }
    }
}

/// The APOP digest: MD5 of the greeting's timestamp followed by the
/// secret, as 32 lower-case hex digits (RFC 1939 section 7).
///
/// ```
/// // RFC 1939's own example.
/// let digest = pop3_client::apop_digest(b"<1896.697170952@dbc.mtview.ca.us>", b"tanstaaf");
/// assert_eq!(digest, "c4c9334bac560ecc979e58001b3e22fb");
/// ```
pub fn apop_digest(timestamp: &[u8], secret: &[u8]) -> String {
    use md5::Digest;
    let mut hasher = md5::Md5::new();
    hasher.update(timestamp);
    hasher.update(secret);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Base64 (standard alphabet, padded), as SASL uses on the wire.
pub(crate) fn base64(data: &[u8]) -> Zeroizing<Vec<u8>> {
    use base64::Engine;
    Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .encode(data)
            .into_bytes(),
    )
}

/// Decodes a SASL challenge; `None` if it is not base64.
pub(crate) fn unbase64(data: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(StatusLine::parse(b"+ok fine").unwrap().text, "fine");
        assert!(StatusLine::parse(b"+OKAY").is_err());
        assert!(StatusLine::parse(b"OK").is_err());
        let line = StatusLine::parse(b"-ERR [SYS/TEMP] try later").unwrap();
        assert_eq!(line.code, Some(ResponseCode::SysTemp));
        assert!(line.code.unwrap().is_temporary());
        let odd = StatusLine::parse(b"-ERR [X-ODD/SUB] text").unwrap();
        assert_eq!(
            odd.code,
            Some(ResponseCode::Other(Bytes::from_static(b"X-ODD/SUB")))
        );
        // An unclosed bracket is just text.
        assert_eq!(StatusLine::parse(b"-ERR [oops").unwrap().text, "[oops");
    }

    #[test]
    fn listings() {
        assert_eq!(parse_scan_listing(b"1 120"), Ok((1, 120)));
        assert!(parse_scan_listing(b"1").is_err());
        assert_eq!(
            parse_unique_id_listing(b"2 QhdPYR:00WBw1Ph7x7"),
            Ok((2, Bytes::from_static(b"QhdPYR:00WBw1Ph7x7")))
        );
        assert!(parse_unique_id_listing(b"2 caf\xc3\xa9").is_err());
        // Leading, doubled and trailing spaces are tolerated.
        assert_eq!(
            parse_unique_id_listing(b" 3  abc  "),
            Ok((3, Bytes::from_static(b"abc")))
        );
        // More than one word is not an id, and is never cut short.
        assert!(parse_unique_id_listing(b"1 abc def").is_err());
        assert!(parse_unique_id_listing(b"1").is_err());
        assert!(parse_unique_id_listing(&[b"1 ", &[b'x'; 71][..]].concat()).is_err());
        assert!(parse_unique_id_listing(&[b"1 ", &[b'x'; 70][..]].concat()).is_ok());
        assert!(parse_unique_id_listing(b"x abc").is_err());
        // The machine's reading keeps whatever follows the number, whole.
        assert_eq!(
            split_unique_id_listing(b"1 abc def "),
            Ok((1, Bytes::from_static(b"abc def")))
        );
        assert_eq!(split_unique_id_listing(b"4"), Ok((4, Bytes::new())));
        assert_eq!(
            split_unique_id_listing(b"5 a\tb\x1b"),
            Ok((5, Bytes::from_static(b"a\tb\x1b")))
        );
        assert!(split_unique_id_listing(b"abc def").is_err());
        assert!(!is_unique_id(b""));
        assert!(!is_unique_id(b"a b"));
        assert!(is_unique_id(b"!~"));
        assert_eq!(parse_stat(b"0 0"), Ok((0, 0)));
    }

    #[test]
    fn timestamps() {
        assert_eq!(apop_timestamp(b"ready <a@b>"), Some(&b"<a@b>"[..]));
        assert_eq!(apop_timestamp(b"ready <no at sign>"), None);
        assert_eq!(apop_timestamp(b"ready"), None);
    }

    #[test]
    fn encoding_refuses_injection_and_long_lines() {
        assert_eq!(
            Command::Pass(Secret::new(b"a\0b".to_vec())).encode(),
            Err(Error::ForbiddenByte)
        );
        assert_eq!(
            Command::User(Bytes::from(vec![b'u'; 300])).encode(),
            Err(Error::CommandTooLong { limit: 255 })
        );
        assert_eq!(Command::Top(3, 10).encode().unwrap(), "TOP 3 10\r\n");
        assert!(
            !format!("{:?}", Command::Pass(Secret::new(b"hunter2".to_vec()))).contains("hunter2")
        );
    }
}
