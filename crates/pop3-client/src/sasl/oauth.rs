//! The OAuth 2.0 bearer-token mechanisms: OAUTHBEARER (RFC 7628) and
//! XOAUTH2 (Google's and Microsoft's, never an RFC). The token crosses
//! the connection as it is, and whoever reads it can use it until it
//! expires: use them over TLS.
//!
//! Both send the token in the first message. A token is long (a JWT is
//! often over 1 KB), so the client machine usually sends `AUTH XOAUTH2`
//! alone and the token in answer to the server's empty challenge: the
//! "two-step" form, forced by the 255-octet command line. When the server
//! refuses the token, it sends a challenge holding a JSON error
//! (`{"status":"401",...}`) and waits for the client's answer before its
//! `-ERR`: an empty response for XOAUTH2, `\x01` for OAUTHBEARER
//! (RFC 7628 section 3.2.3).

use lineproto::Secret;

use super::{Error, Mechanism, saslname, secret_of};

/// Checks a user name and a token for the `key=value\x01` framing: no
/// control character in either, and the token printable ASCII without
/// spaces (RFC 6750's `b64token` and then some).
fn check(user: &str, token: &[u8]) -> Result<(), Error> {
    if user.chars().any(char::is_control) {
        return Err(Error::Unsendable { what: "user name" });
    }
    if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Error::Unsendable { what: "token" });
    }
    Ok(())
}

/// Where a bearer-token exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// The token is out.
    Sent,
    /// The server's error came and was answered; its `-ERR` follows.
    Refused,
}

/// The exchange both mechanisms run, which differ only in the header
/// before the token and in how they acknowledge the server's error.
#[derive(Debug)]
struct Exchange {
    user: String,
    token: Secret<Vec<u8>>,
    state: State,
}

impl Exchange {
    fn new(user: &str, token: Secret<Vec<u8>>) -> Self {
        Self {
            user: user.to_owned(),
            token,
            state: State::Start,
        }
    }

    /// `HEADER\x01auth=Bearer TOKEN\x01\x01`, `header` built from the user.
    fn message(&mut self, header: impl FnOnce(&str) -> Vec<u8>) -> Result<Secret<Vec<u8>>, Error> {
        check(&self.user, self.token.expose())?;
        self.state = State::Sent;
        let header = header(&self.user);
        Ok(secret_of(&[
            &header,
            b"\x01auth=Bearer ",
            self.token.expose(),
            b"\x01\x01",
        ]))
    }

    /// Answers a challenge: the first message when driven by hand without
    /// the initial response, then `acknowledgement` for the server's JSON
    /// error, after which nothing more.
    fn step(
        &mut self,
        header: impl FnOnce(&str) -> Vec<u8>,
        acknowledgement: &[u8],
    ) -> Result<Secret<Vec<u8>>, Error> {
        match self.state {
            State::Start => self.message(header),
            State::Sent => {
                self.state = State::Refused;
                Ok(Secret::new(acknowledgement.to_vec()))
            }
            State::Refused => Err(Error::UnexpectedChallenge),
        }
    }
}

/// `XOAUTH2`: `user=USER\x01auth=Bearer TOKEN\x01\x01`, as Gmail and
/// Outlook.com take it. A refusal is a challenge holding a JSON error,
/// answered with an empty response, after which the server says `-ERR`.
///
/// ```
/// use lineproto::Secret;
/// use pop3_client::sasl::{Mechanism, XOAuth2};
///
/// let mut xoauth2 = XOAuth2::new("someone@example.com", Secret::new(b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg".to_vec()));
/// let first = xoauth2.initial_response()?.unwrap();
/// assert_eq!(first.expose(), b"user=someone@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
/// // Refused: the JSON error is answered with an empty line.
/// assert_eq!(xoauth2.step(br#"{"status":"401","schemes":"bearer"}"#)?.expose(), b"");
/// # Ok::<(), pop3_client::sasl::Error>(())
/// ```
#[derive(Debug)]
pub struct XOAuth2(Exchange);

impl XOAuth2 {
    /// XOAUTH2 for `user` with an OAuth 2.0 access `token`.
    pub fn new(user: &str, token: Secret<Vec<u8>>) -> Self {
        Self(Exchange::new(user, token))
    }

    fn header(user: &str) -> Vec<u8> {
        [b"user=", user.as_bytes()].concat()
    }
}

impl Mechanism for XOAuth2 {
    fn name(&self) -> &str {
        "XOAUTH2"
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
        self.0.message(Self::header).map(Some)
    }

    fn step(&mut self, _challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
        // The empty response lets the server send its -ERR.
        self.0.step(Self::header, b"")
    }
}

/// `OAUTHBEARER` (RFC 7628): a gs2 header naming the user, then
/// `\x01auth=Bearer TOKEN\x01\x01`. A refusal is a challenge holding a JSON
/// error, answered with `\x01`, after which the server says `-ERR`.
///
/// The optional `host` and `port` keys are not sent.
///
/// ```
/// use lineproto::Secret;
/// use pop3_client::sasl::{Mechanism, OAuthBearer};
///
/// // RFC 7628 section 4.1's user and token.
/// let mut bearer = OAuthBearer::new("user@example.com", Secret::new(b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==".to_vec()));
/// let first = bearer.initial_response()?.unwrap();
/// assert_eq!(first.expose(), b"n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
/// assert_eq!(bearer.step(br#"{"status":"invalid_token"}"#)?.expose(), b"\x01");
/// # Ok::<(), pop3_client::sasl::Error>(())
/// ```
#[derive(Debug)]
pub struct OAuthBearer(Exchange);

impl OAuthBearer {
    /// OAUTHBEARER for `user` with an OAuth 2.0 access `token`.
    pub fn new(user: &str, token: Secret<Vec<u8>>) -> Self {
        Self(Exchange::new(user, token))
    }

    fn header(user: &str) -> Vec<u8> {
        format!("n,a={},", saslname(user)).into_bytes()
    }
}

impl Mechanism for OAuthBearer {
    fn name(&self) -> &str {
        "OAUTHBEARER"
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
        self.0.message(Self::header).map(Some)
    }

    fn step(&mut self, _challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
        // RFC 7628 3.2.3: the error is acknowledged with a lone %x01, and
        // the server then fails the exchange.
        self.0.step(Self::header, b"\x01")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<Vec<u8>> {
        Secret::new(s.as_bytes().to_vec())
    }

    #[test]
    fn tokens_and_names_cannot_break_the_framing() {
        for token in ["", "a b", "a\x01b", "a\r\nb", "caf\u{e9}"] {
            assert_eq!(
                XOAuth2::new("u", secret(token))
                    .initial_response()
                    .unwrap_err(),
                Error::Unsendable { what: "token" },
                "{token:?}"
            );
            assert_eq!(
                OAuthBearer::new("u", secret(token))
                    .initial_response()
                    .unwrap_err(),
                Error::Unsendable { what: "token" },
            );
        }
        assert_eq!(
            XOAuth2::new("u\x01auth=x", secret("t"))
                .initial_response()
                .unwrap_err(),
            Error::Unsendable { what: "user name" }
        );
        // gs2 escaping of the authorization identity.
        assert_eq!(
            OAuthBearer::new("a,b=c", secret("t"))
                .initial_response()
                .unwrap()
                .unwrap()
                .expose(),
            b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn one_error_challenge_then_nothing() {
        let mut xoauth2 = XOAuth2::new("u", secret("t"));
        // By hand, without the initial response.
        assert_eq!(
            xoauth2.step(b"").unwrap().expose(),
            b"user=u\x01auth=Bearer t\x01\x01"
        );
        assert_eq!(xoauth2.step(b"{}").unwrap().expose(), b"");
        assert_eq!(xoauth2.step(b"{}").unwrap_err(), Error::UnexpectedChallenge);
        let mut bearer = OAuthBearer::new("u", secret("t"));
        bearer.initial_response().unwrap();
        assert_eq!(bearer.step(b"{}").unwrap().expose(), b"\x01");
        assert_eq!(bearer.step(b"{}").unwrap_err(), Error::UnexpectedChallenge);
        let shown = format!("{:?}", OAuthBearer::new("u", secret("sekrit")));
        assert!(!shown.contains("sekrit"), "{shown}");
    }
}
