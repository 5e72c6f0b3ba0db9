//! What the application asks: [`Request`], and [`Requested`], the facts
//! about each command in one table.

use bytes::Bytes;
use lineproto::Secret;

use crate::sasl::{self, Mechanism};

/// What the application asks of the server.
///
/// Not `Clone`: a login's SASL mechanism is an exchange in progress. Its
/// answer names it by [`Requested`], which is.
#[non_exhaustive]
#[derive(Debug)]
pub enum Request {
    /// `CAPA`: the server's capabilities.
    Capa,
    /// `STLS`: switch to TLS (RFC 2595). On success the driver must
    /// upgrade the transport and call
    /// [`Client::tls_established`](super::Client::tls_established).
    Stls,
    /// Log in: USER/PASS, APOP, or AUTH with a SASL mechanism. `+OK` is
    /// [`Response::Ok`](super::Response::Ok), `-ERR`
    /// [`Response::Rejected`](super::Response::Rejected); a mechanism that
    /// gave up on a challenge is
    /// [`Response::AuthCancelled`](super::Response::AuthCancelled).
    Login(Credentials),
    /// `UTF8` (RFC 6856).
    Utf8,
    /// `LANG`: the languages the server speaks
    /// ([`Response::Languages`](super::Response::Languages)); `LANG tag`:
    /// answer in that language from now on (RFC 6856).
    Lang(Option<Bytes>),
    /// `STAT`
    Stat,
    /// `LIST`, or `LIST n` for one message.
    List(Option<u32>),
    /// `UIDL`, or `UIDL n` for one message.
    Uidl(Option<u32>),
    /// `RETR n`: the message streams out as
    /// [`Event::MessageData`](super::Event::MessageData), then
    /// [`Response::Message`](super::Response::Message) ends it.
    Retr(u32),
    /// `TOP n lines`: the headers and the first lines of the body, streamed
    /// as for RETR.
    Top {
        /// The message number.
        message: u32,
        /// How many body lines.
        lines: u32,
    },
    /// `DELE n`
    Dele(u32),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `QUIT`: ends the session; in TRANSACTION, deletions take effect.
    Quit,
}

/// How to log in, and as whom: the payload of [`Request::Login`].
///
/// [`session::Login`](crate::session::Login) names the shipped choices
/// and picks the strongest the server offers; this is what it builds.
#[non_exhaustive]
#[derive(Debug)]
pub enum Credentials {
    /// `USER` then `PASS` (RFC 1939): the password crosses the connection
    /// as it is.
    UserPass {
        /// The user name.
        user: Bytes,
        /// The password.
        password: Secret<Vec<u8>>,
    },
    /// `APOP` (RFC 1939): MD5 of the greeting's timestamp and the secret.
    /// Refused with [`Error::NoApopTimestamp`](crate::Error::NoApopTimestamp)
    /// when the greeting has none.
    Apop {
        /// The user name.
        user: Bytes,
        /// The shared secret.
        password: Secret<Vec<u8>>,
    },
    /// `AUTH` with a SASL mechanism (RFC 5034): a shipped one from
    /// [`sasl`], or the application's own.
    ///
    /// The initial response goes on the `AUTH` line when the line stays
    /// within 255 octets (an empty one as `=`); otherwise `AUTH` goes
    /// alone and the response answers the server's empty challenge.
    /// Challenges and responses are base64 on the wire and decoded bytes
    /// for the mechanism. When the mechanism fails on a challenge (a
    /// malformed one, a wrong server signature), the client sends `*`
    /// and the answer is
    /// [`Response::AuthCancelled`](super::Response::AuthCancelled) with the
    /// mechanism's error and the server's `-ERR`. A `+OK` the mechanism
    /// does not accept ([`Mechanism::finish`]) ends the session with
    /// [`Error::Sasl`](crate::Error::Sasl).
    Sasl(Box<dyn Mechanism>),
}

impl Request {
    /// What this request asks, as its answer will name it.
    ///
    /// ```
    /// use pop3_client::client::{Request, Requested};
    ///
    /// let requested = Request::Retr(7).requested();
    /// assert_eq!(requested, Requested::Retr(7));
    /// assert_eq!(requested.command(), "RETR");
    /// assert!(requested.is_pipelinable() && requested.is_multi_line());
    /// ```
    pub fn requested(&self) -> Requested {
        match self {
            Self::Capa => Requested::Capa,
            Self::Stls => Requested::Stls,
            Self::Login(Credentials::UserPass { user, .. }) => {
                Requested::UserPass { user: user.clone() }
            }
            Self::Login(Credentials::Apop { user, .. }) => Requested::Apop { user: user.clone() },
            Self::Login(Credentials::Sasl(mechanism)) => Requested::Auth {
                mechanism: mechanism.name().to_owned(),
            },
            Self::Utf8 => Requested::Utf8,
            Self::Lang(tag) => Requested::Lang(tag.clone()),
            Self::Stat => Requested::Stat,
            Self::List(n) => Requested::List(*n),
            Self::Uidl(n) => Requested::Uidl(*n),
            Self::Retr(n) => Requested::Retr(*n),
            &Self::Top { message, lines } => Requested::Top { message, lines },
            Self::Dele(n) => Requested::Dele(*n),
            Self::Noop => Requested::Noop,
            Self::Rset => Requested::Rset,
            Self::Quit => Requested::Quit,
        }
    }
}

/// What a request asked, as its [`Event::Response`](super::Event::Response)
/// names it: the [`Request`] without its secrets, so an application needs
/// no table of its own from handles to requests.
///
/// It also holds the facts about each command that decide how the client
/// treats it ([`command`](Self::command),
/// [`is_pipelinable`](Self::is_pipelinable),
/// [`is_multi_line`](Self::is_multi_line)), all from one table.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requested {
    /// `CAPA`
    Capa,
    /// `STLS`
    Stls,
    /// A login with `USER` and `PASS`.
    UserPass {
        /// The user name.
        user: Bytes,
    },
    /// A login with `APOP`.
    Apop {
        /// The user name.
        user: Bytes,
    },
    /// A login with `AUTH`.
    Auth {
        /// The SASL mechanism's name.
        mechanism: String,
    },
    /// `UTF8`
    Utf8,
    /// `LANG`, or `LANG tag`.
    Lang(Option<Bytes>),
    /// `STAT`
    Stat,
    /// `LIST`, or `LIST n`.
    List(Option<u32>),
    /// `UIDL`, or `UIDL n`.
    Uidl(Option<u32>),
    /// `RETR n`
    Retr(u32),
    /// `TOP n lines`
    Top {
        /// The message number.
        message: u32,
        /// How many body lines.
        lines: u32,
    },
    /// `DELE n`
    Dele(u32),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `QUIT`
    Quit,
}

/// What follows a command's `+OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Nothing: the status line is the answer.
    Line,
    /// A listing, collected and parsed at its end (CAPA, LIST, UIDL, LANG).
    Listing,
    /// A message, streamed (RETR, TOP).
    Message,
}

/// The facts about one command.
#[derive(Debug, Clone, Copy)]
struct Facts {
    /// The command's name, for errors (a login's first command).
    command: &'static str,
    /// Whether it may go out while others are in flight, when the server
    /// allows pipelining. Logins, STLS and the settings change the
    /// session's state, so they wait for everything before them.
    pipelinable: bool,
    reply: Reply,
}

impl Requested {
    /// The table: every fact about a command is here and nowhere else.
    fn facts(&self) -> Facts {
        use Reply::{Line, Listing, Message};
        let (command, pipelinable, reply) = match self {
            Self::Capa => ("CAPA", false, Listing),
            Self::Stls => ("STLS", false, Line),
            Self::UserPass { .. } => ("USER", false, Line),
            Self::Apop { .. } => ("APOP", false, Line),
            Self::Auth { mechanism } => (sasl::auth_command(mechanism), false, Line),
            Self::Utf8 => ("UTF8", false, Line),
            Self::Lang(None) => ("LANG", false, Listing),
            Self::Lang(Some(_)) => ("LANG", false, Line),
            Self::Stat => ("STAT", true, Line),
            Self::List(None) => ("LIST", true, Listing),
            Self::List(Some(_)) => ("LIST", true, Line),
            Self::Uidl(None) => ("UIDL", true, Listing),
            Self::Uidl(Some(_)) => ("UIDL", true, Line),
            Self::Retr(_) => ("RETR", true, Message),
            Self::Top { .. } => ("TOP", true, Message),
            Self::Dele(_) => ("DELE", true, Line),
            Self::Noop => ("NOOP", true, Line),
            Self::Rset => ("RSET", true, Line),
            Self::Quit => ("QUIT", true, Line),
        };
        Facts {
            command,
            pipelinable,
            reply,
        }
    }

    /// The command that starts the request: `USER` for a USER/PASS login,
    /// `AUTH PLAIN` (or just `AUTH`, for a mechanism this crate does not
    /// ship) for a SASL one.
    pub fn command(&self) -> &'static str {
        self.facts().command
    }

    /// Whether the request may be sent while others are in flight, when
    /// the server advertises PIPELINING: the transaction commands and
    /// QUIT may; logins, STLS, CAPA, UTF8 and LANG wait for the answers
    /// before them, because what they change (or report) depends on them.
    pub fn is_pipelinable(&self) -> bool {
        self.facts().pipelinable
    }

    /// Whether a `+OK` to it is followed by lines ending with `.`: a
    /// listing (CAPA, LIST, UIDL, LANG without an argument) or a message
    /// (RETR, TOP).
    pub fn is_multi_line(&self) -> bool {
        self.facts().reply != Reply::Line
    }

    /// Whether it is a login (USER/PASS, APOP, AUTH).
    pub fn is_login(&self) -> bool {
        matches!(
            self,
            Self::UserPass { .. } | Self::Apop { .. } | Self::Auth { .. }
        )
    }

    /// The message a RETR or TOP retrieves.
    pub fn message(&self) -> Option<u32> {
        match *self {
            Self::Retr(n) | Self::Top { message: n, .. } => Some(n),
            _ => None,
        }
    }

    pub(crate) fn reply(&self) -> Reply {
        self.facts().reply
    }
}
