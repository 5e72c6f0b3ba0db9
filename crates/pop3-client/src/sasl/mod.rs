//! SASL mechanisms (RFC 4422) for POP3's `AUTH` command (RFC 5034), Sans-IO:
//! a [`Mechanism`] turns the server's challenges into responses and never
//! touches a socket, a clock or a random source.
//!
//! The client machine does the POP3 side: the `AUTH` line, the base64 of
//! every challenge and response, the initial response when it fits the
//! command line, `*` when the mechanism gives up, and the typed result.
//! A mechanism only sees decoded bytes, so an application's own mechanism
//! is a type implementing [`Mechanism`], sent as
//! [`Credentials::Sasl`](crate::client::Credentials::Sasl).
//!
//! Shipped, strongest first (see
//! [`session::Login::strongest`](crate::session::Login::strongest)):
//!
//! | mechanism | type | the server learns | on the wire |
//! |---|---|---|---|
//! | `SCRAM-SHA-256` (RFC 7677) | [`Scram::sha256`] | a salted proof; it proves it knows the password too | nothing replayable |
//! | `SCRAM-SHA-1` (RFC 5802) | [`Scram::sha1`] | the same | nothing replayable |
//! | `CRAM-MD5` (RFC 2195) | [`CramMd5`] | HMAC-MD5 of its challenge | crackable offline |
//! | `PLAIN` (RFC 4616) | [`Plain`] | the password | the password |
//! | `LOGIN` (obsolete draft) | [`Login`] | the password | the password |
//! | `OAUTHBEARER` (RFC 7628) | [`OAuthBearer`] | the OAuth 2.0 token | the token |
//! | `XOAUTH2` (Google, Microsoft) | [`XOAuth2`] | the OAuth 2.0 token | the token |
//!
//! An exchange, driven by hand as the client machine drives it:
//!
//! ```
//! use lineproto::Secret;
//! use pop3_client::sasl::{Mechanism, Scram};
//!
//! // RFC 7677's example; a real client nonce comes from `client_nonce()`.
//! let mut scram = Scram::sha256("user", Secret::new(b"pencil".to_vec()), "rOprNGfwEbeRWgbNEkqO");
//! let first = scram.initial_response()?.unwrap();
//! assert_eq!(first.expose(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
//! let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
//! let last = scram.step(server_first)?;
//! assert!(last.expose().ends_with(b",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
//! // The server proves it knows the password too; a wrong signature is an error.
//! assert_eq!(scram.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")?.expose(), b"");
//! scram.finish()?;
//! # Ok::<(), pop3_client::sasl::Error>(())
//! ```

use std::fmt;

use lineproto::Secret;
use zeroize::Zeroizing;

mod oauth;
mod scram;
mod simple;

pub use oauth::{OAuthBearer, XOAuth2};
pub use scram::Scram;
pub(crate) use scram::ScramHash;
pub use simple::{CramMd5, Login, Plain};
pub(crate) use simple::{hex, hmac_md5};

/// A SASL mechanism's client side, one exchange per value.
///
/// The client machine calls, in this order:
///
/// 1. [`name`](Self::name), for the `AUTH` command;
/// 2. [`initial_response`](Self::initial_response), once: `Some` is sent
///    with `AUTH` (or, when it would make the line longer than 255 octets,
///    in answer to the server's first, empty challenge), `None` waits for
///    the server's first challenge;
/// 3. [`step`](Self::step) with each challenge the server sends, decoded
///    from base64; the response is sent base64-encoded (an empty one as
///    an empty line). An error cancels the exchange: the client sends `*`
///    and the request's answer is
///    [`Response::AuthCancelled`](crate::client::Response::AuthCancelled),
///    carrying the error and the server's `-ERR`;
/// 4. [`finish`](Self::finish) when the server says `+OK`: the last
///    chance to refuse a server that did not authenticate itself (SCRAM
///    checks that the server's signature came and was right). An error
///    ends the session with [`Error::Sasl`](crate::Error::Sasl): logged
///    in to a server that could not prove who it is, nothing more is
///    sent.
///
/// POP3 has no room for data in `+OK`: a server with final data (SCRAM's
/// server signature) sends it as one more challenge, answered by an
/// empty response (RFC 4422 section 4; RFC 5034 section 4).
///
/// The trait is object safe: an application plugs in its own mechanism as
/// a `Box<dyn Mechanism>`. Responses are [`Secret`]s, zeroed when dropped;
/// a mechanism's `Debug` must not print a password either.
///
/// ```
/// use lineproto::Secret;
/// use pop3_client::client::{Client, Credentials, Options, Request};
/// use pop3_client::sasl::{Error, Mechanism};
///
/// /// `EXTERNAL` (RFC 4422 appendix A): the identity is the TLS client
/// /// certificate's; the client only names whom to act as.
/// #[derive(Debug)]
/// struct External;
///
/// impl Mechanism for External {
///     fn name(&self) -> &str {
///         "EXTERNAL"
///     }
///     fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
///         Ok(Some(Secret::new(Vec::new()))) // sent as `AUTH EXTERNAL =`
///     }
///     fn step(&mut self, _challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
///         Err(Error::UnexpectedChallenge)
///     }
/// }
///
/// let mut client = Client::new(Options::default());
/// client.send(Request::Login(Credentials::Sasl(Box::new(External))));
/// ```
pub trait Mechanism: fmt::Debug + Send {
    /// The mechanism's registered name, as `CAPA`'s `SASL` line lists it
    /// and `AUTH` sends it: 1 to 20 upper-case letters, digits, `-` and
    /// `_` (RFC 4422 section 3.1). Another name is refused before anything
    /// is sent ([`Error::InvalidName`]).
    fn name(&self) -> &str;

    /// The client's first message, before any challenge, if the mechanism
    /// has one (`Some` of an empty secret is an empty response, sent as
    /// `=`). Called once, before [`step`](Self::step). An error here means
    /// nothing is sent: the request is answered
    /// [`NotSent`](crate::client::Response::NotSent).
    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error>;

    /// The response to one challenge (decoded from base64; the server's
    /// text is untrusted). An error cancels the exchange with `*`.
    fn step(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error>;

    /// The server said `+OK`: whether the exchange is complete from the
    /// client's side. The default accepts; SCRAM refuses unless the
    /// server's signature was verified.
    fn finish(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// Why a SASL exchange failed on the client's side. None carries a
/// secret; the server's own words appear only in
/// [`ServerReported`](Self::ServerReported), cut to 200 bytes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The mechanism's name is not a SASL mechanism name.
    #[error("not a SASL mechanism name")]
    InvalidName,
    /// A user name, password or token the mechanism cannot carry: a NUL
    /// in PLAIN, a byte that SASLprep prohibits in SCRAM, a control
    /// character in an OAuth token.
    #[error("{what} cannot be sent with this mechanism")]
    Unsendable {
        /// What: `user name`, `password`, `token`, `client nonce`.
        what: &'static str,
    },
    /// SCRAM's client nonce could not be drawn: the operating system's
    /// random source failed, or the crate was built without the
    /// `getrandom` feature.
    #[error("no random source for the client nonce")]
    NoRandomSource,
    /// A challenge that is not what the mechanism expects at this point:
    /// not base64, not the SCRAM message due, an empty CRAM-MD5 challenge.
    #[error("malformed {what}")]
    MalformedChallenge {
        /// Which message did not parse.
        what: &'static str,
    },
    /// A challenge after the mechanism had said all it had to say.
    #[error("a challenge came after the exchange was complete")]
    UnexpectedChallenge,
    /// SCRAM: the server's nonce does not start with the client's, so the
    /// answer is not to this exchange.
    #[error("the server's nonce does not extend the client's")]
    NonceMismatch,
    /// SCRAM: the server asked for more PBKDF2 iterations than the
    /// ceiling ([`Scram::iteration_limits`]); a hostile server could
    /// otherwise keep the client hashing for hours.
    #[error("iteration count {count} is above the limit of {limit}")]
    IterationCountTooHigh {
        /// The server's count.
        count: u64,
        /// The ceiling.
        limit: u32,
    },
    /// SCRAM: the server asked for fewer PBKDF2 iterations than the floor,
    /// which would make the proof sent cheap to attack offline.
    #[error("iteration count {count} is below the minimum of {limit}")]
    IterationCountTooLow {
        /// The server's count.
        count: u64,
        /// The floor.
        limit: u32,
    },
    /// SCRAM: the server's first message starts with a mandatory extension
    /// (`m=`) that this client does not know.
    #[error("the server requires an unknown SCRAM extension")]
    MandatoryExtension,
    /// SCRAM: the server's final message is an error (`e=`).
    #[error("the server reported a SCRAM error: {0}")]
    ServerReported(String),
    /// SCRAM: the server's signature is wrong: it does not know the
    /// password, so it is not the server the password was set on.
    #[error("the server's signature does not match")]
    ServerSignatureMismatch,
    /// The server said `+OK` before the mechanism was done: for SCRAM,
    /// before it sent its signature, so it never proved who it is.
    #[error("the server ended the exchange before proving itself")]
    Incomplete,
}

/// A SCRAM client nonce from the operating system's random source: 24
/// random bytes in base64 (32 printable characters, none a `,`).
///
/// Needs the `getrandom` feature (the `blocking` and `tokio` features turn
/// it on); without it, this is [`Error::NoRandomSource`].
pub fn client_nonce() -> Result<String, Error> {
    #[cfg(feature = "getrandom")]
    {
        let mut bytes = Zeroizing::new([0u8; 24]);
        getrandom::fill(&mut bytes[..]).map_err(|_| Error::NoRandomSource)?;
        Ok(String::from_utf8_lossy(&crate::codec::base64(&bytes[..])).into_owned())
    }
    #[cfg(not(feature = "getrandom"))]
    {
        Err(Error::NoRandomSource)
    }
}

/// Whether `name` is a SASL mechanism name (RFC 4422 section 3.1).
pub(crate) fn is_mechanism_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `saslname` of RFC 5802 and 7628: `=` and `,` escaped as `=3D`, `=2C`.
fn saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// SASLprep (RFC 4013) of a stored string, as SCRAM needs for its user
/// name and password: not UTF-8, or holding a prohibited character, is
/// [`Error::Unsendable`].
fn saslprep(value: &[u8], what: &'static str) -> Result<Zeroizing<String>, Error> {
    let text = std::str::from_utf8(value).map_err(|_| Error::Unsendable { what })?;
    let prepared = stringprep::saslprep(text).map_err(|_| Error::Unsendable { what })?;
    Ok(Zeroizing::new(prepared.into_owned()))
}

/// The demo server's SASLprep of its mailbox's password, for SCRAM.
pub(crate) fn saslprep_password(password: &[u8]) -> Option<Zeroizing<String>> {
    saslprep(password, "password").ok()
}

/// Concatenates parts into a secret buffer, without a copy left behind.
fn secret_of(parts: &[&[u8]]) -> Secret<Vec<u8>> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.extend_from_slice(part);
    }
    Secret::new(out)
}

/// The name of the `AUTH` command for errors and timeouts: `AUTH` and the
/// mechanism's name when it is one of the shipped ones, plain `AUTH`
/// otherwise (a [`ServerError`](crate::ServerError)'s command is static).
pub(crate) fn auth_command(name: &str) -> &'static str {
    match name {
        "PLAIN" => "AUTH PLAIN",
        "LOGIN" => "AUTH LOGIN",
        "CRAM-MD5" => "AUTH CRAM-MD5",
        "SCRAM-SHA-1" => "AUTH SCRAM-SHA-1",
        "SCRAM-SHA-256" => "AUTH SCRAM-SHA-256",
        "XOAUTH2" => "AUTH XOAUTH2",
        "OAUTHBEARER" => "AUTH OAUTHBEARER",
        _ => "AUTH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names() {
        assert!(is_mechanism_name("SCRAM-SHA-256"));
        assert!(is_mechanism_name("X_Y-1"));
        assert!(!is_mechanism_name(""));
        assert!(!is_mechanism_name("plain"));
        assert!(!is_mechanism_name("PLAIN dGVzdA=="));
        assert!(!is_mechanism_name("A23456789012345678901"));
    }

    #[test]
    fn saslnames_and_saslprep() {
        assert_eq!(saslname("a=b,c"), "a=3Db=2Cc");
        // RFC 4013 section 3's examples.
        assert_eq!(*saslprep("I\u{AD}X".as_bytes(), "x").unwrap(), "IX");
        assert_eq!(*saslprep(b"user", "x").unwrap(), "user");
        assert_eq!(*saslprep("\u{AA}".as_bytes(), "x").unwrap(), "a");
        assert_eq!(*saslprep("\u{2168}".as_bytes(), "x").unwrap(), "IX");
        assert_eq!(
            saslprep(b"\x07", "password"),
            Err(Error::Unsendable { what: "password" })
        );
        assert_eq!(
            saslprep("\u{627}1".as_bytes(), "password"),
            Err(Error::Unsendable { what: "password" })
        );
        assert_eq!(
            saslprep(b"\xff", "password"),
            Err(Error::Unsendable { what: "password" })
        );
    }

    #[test]
    fn errors_show_no_secret_and_read_as_nouns() {
        let error = Error::IterationCountTooHigh {
            count: 10_000_000,
            limit: 1_000_000,
        };
        assert_eq!(
            error.to_string(),
            "iteration count 10000000 is above the limit of 1000000"
        );
        assert_eq!(
            Error::Unsendable { what: "password" }.to_string(),
            "password cannot be sent with this mechanism"
        );
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn client_nonces_are_printable_and_differ() {
        let (a, b) = (client_nonce().unwrap(), client_nonce().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','));
    }
}
