//! A small POP3 server machine over an in-memory mailbox: the demo mailbox
//! of `pop3_count`, and the peer of the client in tests with no sockets.
//!
//! It covers what the client speaks, including what Dovecot 2.3 does not
//! offer: UTF8, LOGIN-DELAY and EXPIRE in CAPA, and `[IN-USE]`. Its SASL
//! mechanisms are every one the client ships: SCRAM-SHA-256, SCRAM-SHA-1,
//! CRAM-MD5, PLAIN, LOGIN, OAUTHBEARER and XOAUTH2 (the mailbox's password
//! is also its OAuth token). It is a demo: its SCRAM and CRAM-MD5 nonces
//! are derived from a counter, not drawn at random, and SCRAM salts from
//! the user name.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lineproto::{LineBuffer, Machine, Output, Secret};

use crate::Error;
use crate::codec::{apop_digest, base64, unbase64};
use crate::sasl::ScramHash;

/// One user's maildrop.
#[derive(Debug, Clone)]
pub struct Mailbox {
    user: Bytes,
    password: Secret<Vec<u8>>,
    messages: Vec<Prepared>,
}

/// A message as the server sends it.
#[derive(Debug, Clone)]
struct Prepared {
    /// CRLF line ends, ending with CRLF: what RETR sends, before stuffing.
    text: Bytes,
    /// A unique id: the message's position and a hash of its text.
    uid: Bytes,
}

impl Mailbox {
    /// A maildrop for `user` with `password` holding `messages` (any line
    /// ends; they are sent with CRLF, and a missing final line end is added).
    pub fn new(user: impl Into<Bytes>, password: impl AsRef<[u8]>, messages: Vec<Bytes>) -> Self {
        let messages = messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let text = crlf(message);
                let uid = format!("{}-{:016x}", index + 1, fnv1a(&text)).into();
                Prepared { text, uid }
            })
            .collect();
        Self {
            user: user.into(),
            password: Secret::new(password.as_ref().to_vec()),
            messages,
        }
    }

    /// How many messages there are.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Message `number` (1-based) exactly as RETR sends it, before
    /// dot-stuffing: what a client must receive.
    pub fn message(&self, number: usize) -> Option<&Bytes> {
        number
            .checked_sub(1)
            .and_then(|i| self.messages.get(i))
            .map(|m| &m.text)
    }
}

/// `text` with every line ended by CRLF, including the last.
fn crlf(text: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 16);
    let mut lines = text.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if lines.peek().is_none() && line.is_empty() {
            break;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.freeze()
}

/// The demo's SCRAM salt for `user`: 16 bytes derived from the name.
fn salt(user: &[u8]) -> Vec<u8> {
    let mut salt = fnv1a(user).to_be_bytes().to_vec();
    salt.extend_from_slice(&fnv1a(&[b"salt:", user].concat()).to_be_bytes());
    salt
}

/// A stable 64-bit hash for unique ids (not for security).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Settings of a [`Server`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Advertise and allow PIPELINING. Default: yes.
    pub pipelining: bool,
    /// The APOP timestamp in the greeting; `None` disables APOP.
    /// Default: `<1896.697170952@pop3.demo.invalid>`.
    pub apop_timestamp: Option<Bytes>,
    /// Offer the UTF8 command (RFC 6856). Default: yes.
    pub utf8: bool,
    /// `LOGIN-DELAY n` in CAPA, if set. Default: none.
    pub login_delay: Option<u32>,
    /// Offer `LANG` (RFC 6856) with English and German. Default: yes.
    pub lang: bool,
    /// `EXPIRE` in CAPA (`NEVER` or a number of days). Default: `NEVER`.
    pub expire: Option<Bytes>,
    /// Answer a correct login with `-ERR [IN-USE]`, as a server whose
    /// maildrop is locked does. Default: no.
    pub in_use: bool,
    /// The longest command line accepted. Default: 1024 (RFC 2449 says
    /// 255, and SASL responses may be longer).
    pub max_line_len: usize,
    /// The autologout timer of RFC 1939: how long the client may go
    /// without a complete command line. When it runs out, the server
    /// closes the connection without a reply and deletes nothing, ending
    /// with [`Error::IdleTimeout`]. RFC 1939 requires at least 10 minutes;
    /// tests may set less. `None` waits forever. Default: 10 minutes.
    pub idle_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pipelining: true,
            apop_timestamp: Some(Bytes::from_static(b"<1896.697170952@pop3.demo.invalid>")),
            utf8: true,
            lang: true,
            login_delay: None,
            expire: Some(Bytes::from_static(b"NEVER")),
            in_use: false,
            max_line_len: 1024,
            idle_timeout: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// What the server tells its application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client logged in.
    Authenticated,
    /// A login failed.
    LoginFailed,
    /// QUIT in TRANSACTION: these messages (1-based) are now deleted.
    Deleted(Vec<u32>),
}

#[derive(Debug)]
enum State {
    Authorization {
        user: Option<Bytes>,
    },
    /// AUTH PLAIN waiting for its response line.
    SaslPlain,
    /// AUTH LOGIN waiting for the user name, then the password.
    SaslLoginUser,
    SaslLoginPassword(Bytes),
    /// AUTH CRAM-MD5: the challenge is out.
    SaslCramMd5 {
        challenge: Bytes,
    },
    /// AUTH SCRAM-*: waiting for the client-first message.
    SaslScramFirst(ScramHash),
    /// The server-first message is out; waiting for the client-final.
    SaslScramFinal(Box<ScramExchange>),
    /// The server signature is out; the client's empty line completes the
    /// login of this user.
    SaslScramDone(Bytes),
    /// AUTH XOAUTH2 or OAUTHBEARER waiting for the token message.
    SaslBearer {
        xoauth2: bool,
    },
    /// The token was refused and the JSON error sent; the client's answer
    /// to it is followed by `-ERR`.
    SaslBearerRefused,
    Transaction,
    Closed,
}

/// A SCRAM exchange after the server-first message.
#[derive(Debug)]
struct ScramExchange {
    hash: ScramHash,
    user: Bytes,
    /// The combined nonce.
    nonce: String,
    /// `client-first-message-bare "," server-first-message`: the start of
    /// the AuthMessage.
    messages: String,
    /// The base64 gs2 header the client-final message must repeat.
    gs2_header: String,
}

/// The SASL mechanisms offered, strongest first.
const MECHANISMS: [&str; 7] = [
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "CRAM-MD5",
    "PLAIN",
    "LOGIN",
    "OAUTHBEARER",
    "XOAUTH2",
];

/// The SCRAM iteration count: RFC 7677's minimum.
const SCRAM_ITERATIONS: u32 = 4096;

/// A POP3 server for one [`Mailbox`].
///
/// The first drain's `now` is when the connection was accepted. From then
/// on, a client that sends no command line for
/// [`idle_timeout`](Options::idle_timeout) is logged out: the session
/// ends with [`Error::IdleTimeout`], with no reply and nothing deleted.
///
/// ```
/// use lineproto::testing::{transcript, transmitted};
/// use pop3_client::server::{Mailbox, Server, Options};
///
/// let mailbox = Mailbox::new("john", "doe", vec!["Hi\n.dot\n".into()]);
/// let mut options = Options::default();
/// options.apop_timestamp = None;
/// let steps = transcript(Server::new(mailbox, options), [b"USER john\r\nPASS doe\r\nRETR 1\r\nQUIT\r\n"], false);
/// let sent = String::from_utf8(transmitted(&steps)).unwrap();
/// assert!(sent.starts_with("+OK POP3 demo server ready\r\n"));
/// assert!(sent.contains("+OK 10 octets\r\nHi\r\n..dot\r\n.\r\n"));
/// ```
#[derive(Debug)]
pub struct Server {
    mailbox: Mailbox,
    options: Options,
    lines: LineBuffer,
    state: State,
    deleted: Vec<bool>,
    greeted: bool,
    eof: bool,
    outbox: BytesMut,
    events: VecDeque<Event>,
    /// When the last command line was read (at first, when the connection
    /// was accepted): where the idle timeout counts from.
    last_command: Option<Instant>,
    /// Why the session ended, if not with QUIT or the client leaving.
    failure: Option<Error>,
    /// SASL exchanges started: what the demo's nonces are made from.
    exchanges: u64,
}

impl Server {
    /// A server for `mailbox`, about to greet.
    pub fn new(mailbox: Mailbox, options: Options) -> Self {
        Self {
            deleted: vec![false; mailbox.messages.len()],
            lines: LineBuffer::new(options.max_line_len),
            mailbox,
            options,
            state: State::Authorization { user: None },
            greeted: false,
            eof: false,
            outbox: BytesMut::new(),
            events: VecDeque::new(),
            last_command: None,
            failure: None,
            exchanges: 0,
        }
    }

    fn reply(&mut self, line: &str) {
        self.outbox.extend_from_slice(line.as_bytes());
        self.outbox.extend_from_slice(b"\r\n");
    }

    /// Message `n` if it exists and is not deleted.
    fn live(&self, n: &[u8]) -> Option<usize> {
        let index = std::str::from_utf8(n)
            .ok()?
            .parse::<usize>()
            .ok()?
            .checked_sub(1)?;
        (index < self.mailbox.messages.len() && !self.deleted[index]).then_some(index)
    }

    fn login(&mut self, user: &[u8], ok: bool) {
        if ok && user == self.mailbox.user {
            if self.options.in_use {
                self.reply("-ERR [IN-USE] Mailbox is locked by another session");
                self.state = State::Authorization { user: None };
                return;
            }
            let count = self.mailbox.messages.len();
            self.reply(&format!("+OK Logged in, {count} messages"));
            self.state = State::Transaction;
            self.events.push_back(Event::Authenticated);
        } else {
            self.reply("-ERR [AUTH] Authentication failed.");
            self.state = State::Authorization { user: None };
            self.events.push_back(Event::LoginFailed);
        }
    }

    fn capabilities(&mut self) {
        self.reply("+OK Capability list follows");
        let mut caps = vec![
            "TOP",
            "UIDL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "SASL SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN OAUTHBEARER XOAUTH2",
            "USER",
        ];
        if self.options.pipelining {
            caps.push("PIPELINING");
        }
        if self.options.utf8 {
            caps.push("UTF8");
        }
        if self.options.lang {
            caps.push("LANG");
        }
        for cap in caps {
            self.reply(cap);
        }
        if let Some(delay) = self.options.login_delay {
            self.reply(&format!("LOGIN-DELAY {delay}"));
        }
        if let Some(expire) = self.options.expire.clone() {
            self.reply(&format!("EXPIRE {}", String::from_utf8_lossy(&expire)));
        }
        self.reply("IMPLEMENTATION pop3-client demo server");
        self.reply(".");
    }

    /// Sends `text` as a multi-line body: dot-stuffed, then `.`.
    fn body(&mut self, text: &[u8]) {
        for line in text.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                self.outbox.extend_from_slice(b".");
            }
            self.outbox.extend_from_slice(line);
        }
        self.outbox.extend_from_slice(b".\r\n");
    }

    fn on_line(&mut self, line: &[u8]) {
        let in_sasl = !matches!(
            self.state,
            State::Authorization { .. } | State::Transaction | State::Closed
        );
        if in_sasl && line == b"*" {
            // RFC 5034: the client cancelled the exchange.
            self.state = State::Authorization { user: None };
            self.reply("-ERR Authentication cancelled.");
            self.events.push_back(Event::LoginFailed);
            return;
        }
        match std::mem::replace(&mut self.state, State::Closed) {
            State::SaslCramMd5 { challenge } => {
                let response = unbase64(line).unwrap_or_default();
                let (user, digest) = match memchr::memrchr(b' ', &response) {
                    Some(space) => (&response[..space], &response[space + 1..]),
                    None => (&response[..], &b""[..]),
                };
                let expected = crate::sasl::hmac_md5(self.mailbox.password.expose(), &challenge);
                let ok = digest == crate::sasl::hex(&expected).as_bytes();
                self.login(user, ok);
                return;
            }
            State::SaslScramFirst(hash) => {
                let message = unbase64(line).unwrap_or_default();
                self.scram_first(hash, &message);
                return;
            }
            State::SaslScramFinal(exchange) => {
                let message = unbase64(line).unwrap_or_default();
                self.scram_final(*exchange, &message);
                return;
            }
            State::SaslScramDone(user) => {
                // The empty response to the server's signature.
                self.login(&user, line.is_empty());
                return;
            }
            State::SaslBearer { xoauth2 } => {
                let message = unbase64(line).unwrap_or_default();
                self.bearer(xoauth2, &message);
                return;
            }
            State::SaslBearerRefused => {
                self.login(b"", false);
                return;
            }
            State::SaslPlain => {
                let decoded = unbase64(line).unwrap_or_default();
                let mut parts = decoded.split(|&b| b == 0);
                let (_authzid, user, password) = (parts.next(), parts.next(), parts.next());
                let ok = password.is_some_and(|p| p == self.mailbox.password.expose().as_slice());
                self.login(user.unwrap_or_default(), ok);
                return;
            }
            State::SaslLoginUser => {
                self.state =
                    State::SaslLoginPassword(Bytes::from(unbase64(line).unwrap_or_default()));
                self.reply(&format!(
                    "+ {}",
                    String::from_utf8_lossy(&base64(b"Password:"))
                ));
                return;
            }
            State::SaslLoginPassword(user) => {
                let ok = unbase64(line).is_some_and(|p| p == *self.mailbox.password.expose());
                self.login(&user, ok);
                return;
            }
            state => self.state = state,
        }
        let (command, args) = match memchr::memchr(b' ', line) {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &b""[..]),
        };
        let command = command.to_ascii_uppercase();
        let mut words = args.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let in_transaction = matches!(self.state, State::Transaction);
        match (command.as_slice(), in_transaction) {
            (b"CAPA", _) => self.capabilities(),
            (b"NOOP", true) => self.reply("+OK"),
            (b"QUIT", true) => {
                let deleted: Vec<u32> = (1..)
                    .zip(&self.deleted)
                    .filter(|(_, d)| **d)
                    .map(|(n, _)| n)
                    .collect();
                self.events.push_back(Event::Deleted(deleted));
                self.reply("+OK Logging out, messages deleted.");
                self.state = State::Closed;
            }
            (b"QUIT", false) => {
                self.reply("+OK Logging out.");
                self.state = State::Closed;
            }
            (b"USER", false) => {
                self.state = State::Authorization {
                    user: Some(Bytes::copy_from_slice(args)),
                };
                self.reply("+OK");
            }
            (b"PASS", false) => match &self.state {
                State::Authorization { user: Some(user) } => {
                    let user = user.clone();
                    let ok = args == self.mailbox.password.expose().as_slice();
                    self.login(&user, ok);
                }
                _ => self.reply("-ERR No username given."),
            },
            (b"APOP", false) => match self.options.apop_timestamp.clone() {
                Some(timestamp) => {
                    let (user, digest) = (
                        words.next().unwrap_or_default(),
                        words.next().unwrap_or_default(),
                    );
                    let expected = apop_digest(&timestamp, self.mailbox.password.expose());
                    let user = Bytes::copy_from_slice(user);
                    self.login(&user, digest == expected.as_bytes());
                }
                None => self.reply("-ERR APOP is not enabled."),
            },
            (b"AUTH", false) => {
                let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
                // RFC 5034: `=` is an empty initial response.
                let initial = words.next().map(|i| if i == b"=" { &b""[..] } else { i });
                self.exchanges += 1;
                // Mechanisms whose client speaks first: with an initial
                // response, it is their first message; without, an empty
                // challenge asks for it.
                let first = match mechanism.as_slice() {
                    b"" => {
                        self.reply("+OK");
                        for mechanism in MECHANISMS {
                            self.reply(mechanism);
                        }
                        self.reply(".");
                        return;
                    }
                    b"PLAIN" => State::SaslPlain,
                    b"SCRAM-SHA-256" => State::SaslScramFirst(ScramHash::Sha256),
                    b"SCRAM-SHA-1" => State::SaslScramFirst(ScramHash::Sha1),
                    b"XOAUTH2" => State::SaslBearer { xoauth2: true },
                    b"OAUTHBEARER" => State::SaslBearer { xoauth2: false },
                    b"LOGIN" => {
                        self.state = State::SaslLoginUser;
                        self.challenge(b"Username:");
                        return;
                    }
                    b"CRAM-MD5" => {
                        let challenge = Bytes::from(format!(
                            "<{}.{:x}@pop3.demo.invalid>",
                            self.exchanges,
                            fnv1a(&self.exchanges.to_be_bytes())
                        ));
                        self.challenge(&challenge);
                        self.state = State::SaslCramMd5 { challenge };
                        return;
                    }
                    _ => {
                        self.reply("-ERR Unsupported authentication mechanism.");
                        return;
                    }
                };
                self.state = first;
                match initial {
                    Some(initial) => self.on_line(initial),
                    None => self.reply("+ "),
                }
            }
            (b"UTF8", false) if self.options.utf8 => self.reply("+OK UTF8 enabled"),
            (b"STLS", false) => self.reply("-ERR TLS is not available on this server."),
            (b"LANG", _) if self.options.lang => match words.next() {
                None => {
                    self.reply("+OK Language listing follows");
                    self.reply("en English");
                    self.reply("de Deutsch");
                    self.reply(".");
                }
                Some(b"en" | b"*") => self.reply("+OK en Language changed"),
                Some(b"de") => self.reply("+OK de Sprache gewechselt"),
                Some(_) => self.reply("-ERR invalid language"),
            },
            (b"STAT", true) => {
                let (count, octets) = self
                    .mailbox
                    .messages
                    .iter()
                    .zip(&self.deleted)
                    .filter(|(_, d)| !**d)
                    .fold((0, 0), |(c, o), (m, _)| (c + 1, o + m.text.len()));
                self.reply(&format!("+OK {count} {octets}"));
            }
            (b"LIST" | b"UIDL", true) => self.listing(&command, words.next()),
            (b"RETR", true) => match words.next().and_then(|n| self.live(n)) {
                Some(index) => {
                    let text = self.mailbox.messages[index].text.clone();
                    self.reply(&format!("+OK {} octets", text.len()));
                    self.body(&text);
                }
                None => self.reply("-ERR There's no message with that number."),
            },
            (b"TOP", true) => {
                let index = words.next().and_then(|n| self.live(n));
                let lines = words
                    .next()
                    .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
                match (index, lines) {
                    (Some(index), Some(lines)) => {
                        let text = self.mailbox.messages[index].text.clone();
                        self.reply("+OK");
                        self.body(&top(&text, lines));
                    }
                    _ => self.reply("-ERR Invalid arguments."),
                }
            }
            (b"DELE", true) => match words.next().and_then(|n| self.live(n)) {
                Some(index) => {
                    self.deleted[index] = true;
                    self.reply("+OK Marked to be deleted.");
                }
                None => self.reply("-ERR There's no message with that number."),
            },
            (b"RSET", true) => {
                self.deleted.iter_mut().for_each(|d| *d = false);
                self.reply("+OK");
            }
            _ => self.reply("-ERR Unknown command."),
        }
    }

    /// Sends a SASL challenge.
    fn challenge(&mut self, data: &[u8]) {
        let line = format!("+ {}", String::from_utf8_lossy(&base64(data)));
        self.reply(&line);
    }

    /// Reads a SCRAM client-first message and sends the server-first.
    fn scram_first(&mut self, hash: ScramHash, message: &[u8]) {
        let parsed = std::str::from_utf8(message).ok().and_then(|message| {
            // gs2 header: no channel binding (`n` or `y`), no authzid.
            let bare = message
                .strip_prefix("n,,")
                .or_else(|| message.strip_prefix("y,,"))?;
            let gs2_header = &message[..3];
            let mut attributes = bare.split(',');
            let user = attributes.next()?.strip_prefix("n=")?;
            let nonce = attributes.next()?.strip_prefix("r=")?;
            let user = user.replace("=2C", ",").replace("=3D", "=");
            Some((
                gs2_header.to_owned(),
                bare.to_owned(),
                user,
                nonce.to_owned(),
            ))
        });
        let Some((gs2_header, bare, user, client_nonce)) = parsed else {
            self.reply("-ERR [AUTH] Authentication failed.");
            self.state = State::Authorization { user: None };
            self.events.push_back(Event::LoginFailed);
            return;
        };
        let nonce = format!(
            "{client_nonce}{:016x}",
            fnv1a(&[client_nonce.as_bytes(), &self.exchanges.to_be_bytes()].concat())
        );
        let server_first = format!(
            "r={nonce},s={},i={SCRAM_ITERATIONS}",
            String::from_utf8_lossy(&base64(&salt(user.as_bytes())))
        );
        self.challenge(server_first.as_bytes());
        self.state = State::SaslScramFinal(Box::new(ScramExchange {
            hash,
            user: Bytes::from(user),
            nonce,
            messages: format!("{bare},{server_first}"),
            gs2_header: String::from_utf8_lossy(&base64(gs2_header.as_bytes())).into_owned(),
        }));
    }

    /// Checks a SCRAM client-final message; sends the server signature.
    fn scram_final(&mut self, exchange: ScramExchange, message: &[u8]) {
        let parsed = std::str::from_utf8(message).ok().and_then(|message| {
            let (without_proof, proof) = message.rsplit_once(",p=")?;
            let mut attributes = without_proof.split(',');
            let channel = attributes.next()?.strip_prefix("c=")?;
            let nonce = attributes.next()?.strip_prefix("r=")?;
            (channel == exchange.gs2_header && nonce == exchange.nonce)
                .then(|| (without_proof.to_owned(), unbase64(proof.as_bytes())))
        });
        let password = crate::sasl::saslprep_password(self.mailbox.password.expose());
        let (Some((without_proof, Some(proof))), Some(password)) = (parsed, password) else {
            self.login(&exchange.user, false);
            return;
        };
        let hash = exchange.hash;
        let salted =
            hash.salted_password(password.as_bytes(), &salt(&exchange.user), SCRAM_ITERATIONS);
        let auth_message = format!("{},{without_proof}", exchange.messages);
        let expected = hash.proof(&salted, auth_message.as_bytes());
        use subtle::ConstantTimeEq;
        let ok = proof.len() == expected.client_proof.len()
            && bool::from(proof.ct_eq(&expected.client_proof));
        if !ok || exchange.user != self.mailbox.user {
            self.login(&exchange.user, false);
            return;
        }
        let signature = base64(&expected.server_signature);
        let server_final = [&b"v="[..], &signature].concat();
        self.challenge(&server_final);
        self.state = State::SaslScramDone(exchange.user);
    }

    /// Reads an XOAUTH2 or OAUTHBEARER message: the token must be the
    /// mailbox's password. A refusal is the JSON error as a challenge.
    fn bearer(&mut self, xoauth2: bool, message: &[u8]) {
        let (user, fields) = if xoauth2 {
            (None, message)
        } else {
            // `n,a=user,` then the fields.
            let mut parts = message.splitn(3, |&b| b == b',');
            let (_, authzid, rest) = (parts.next(), parts.next(), parts.next());
            let user = authzid.and_then(|a| a.strip_prefix(b"a=")).map(|a| {
                String::from_utf8_lossy(a)
                    .replace("=2C", ",")
                    .replace("=3D", "=")
            });
            (user.map(String::into_bytes), rest.unwrap_or_default())
        };
        let mut user = user;
        let mut token = None;
        for field in fields.split(|&b| b == 1) {
            if let Some(name) = field.strip_prefix(b"user=") {
                user = Some(name.to_vec());
            } else if let Some(bearer) = field.strip_prefix(b"auth=Bearer ") {
                token = Some(bearer);
            }
        }
        let user = user.unwrap_or_default();
        if token == Some(self.mailbox.password.expose().as_slice()) {
            self.login(&user, true);
        } else {
            let error = if xoauth2 {
                r#"{"status":"401","schemes":"bearer","scope":"https://mail.demo.invalid/"}"#
            } else {
                r#"{"status":"invalid_token","scope":"mail"}"#
            };
            self.challenge(error.as_bytes());
            self.state = State::SaslBearerRefused;
        }
    }

    fn listing(&mut self, command: &[u8], which: Option<&[u8]>) {
        let entry = |server: &Self, index: usize| -> String {
            let message = &server.mailbox.messages[index];
            if command == b"LIST" {
                format!("{} {}", index + 1, message.text.len())
            } else {
                format!("{} {}", index + 1, String::from_utf8_lossy(&message.uid))
            }
        };
        match which {
            Some(n) => match self.live(n) {
                Some(index) => {
                    let line = entry(self, index);
                    self.reply(&format!("+OK {line}"));
                }
                None => self.reply("-ERR There's no message with that number."),
            },
            None => {
                self.reply("+OK");
                for index in 0..self.mailbox.messages.len() {
                    if !self.deleted[index] {
                        let line = entry(self, index);
                        self.reply(&line);
                    }
                }
                self.reply(".");
            }
        }
    }
}

/// The headers, the blank line, and the first `lines` body lines.
fn top(text: &[u8], lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_body = false;
    let mut body_lines = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if in_body {
            if body_lines == lines {
                break;
            }
            body_lines += 1;
        } else if line == b"\r\n" {
            in_body = true;
        }
        out.extend_from_slice(line);
    }
    out
}

impl Machine for Server {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Closed) {
            self.lines.extend(bytes);
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, Error> {
        self.last_command.get_or_insert(now);
        loop {
            if !self.greeted {
                self.greeted = true;
                let greeting = match self.options.apop_timestamp.clone() {
                    Some(stamp) => format!(
                        "+OK POP3 demo server ready {}",
                        String::from_utf8_lossy(&stamp)
                    ),
                    None => "+OK POP3 demo server ready".into(),
                };
                self.reply(&greeting);
            }
            if !self.outbox.is_empty() {
                return Output::Transmit(self.outbox.split().freeze());
            }
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if matches!(self.state, State::Closed) {
                return Output::Done(self.failure.clone().map_or(Ok(()), Err));
            }
            // Pipelined commands are answered one at a time, in order.
            match self.lines.next_line() {
                Some(line) => {
                    // Any command, even a bad or overlong one, resets the
                    // autologout timer (RFC 1939 section 3); bytes that make
                    // no line do not, or a client could hold the session
                    // open by trickling them.
                    self.last_command = Some(now);
                    match line {
                        Ok(line) => self.on_line(&line),
                        Err(_) => self.reply("-ERR Line too long."),
                    }
                }
                // A client that leaves without QUIT deletes nothing.
                None if self.eof => self.state = State::Closed,
                None => {
                    let deadline = self.options.idle_timeout.and_then(|timeout| {
                        let deadline = self.last_command?.checked_add(timeout)?;
                        Some((deadline, timeout))
                    });
                    match deadline {
                        // Autologout: close without a reply, deleting nothing.
                        Some((deadline, timeout)) if now >= deadline => {
                            self.failure = Some(Error::IdleTimeout { timeout });
                            self.state = State::Closed;
                        }
                        deadline => {
                            return Output::Wait {
                                deadline: deadline.map(|(deadline, _)| deadline),
                            };
                        }
                    }
                }
            }
        }
    }
}
