//! The password mechanisms with one step: PLAIN, LOGIN and CRAM-MD5.

use hmac::{KeyInit, Mac};
use lineproto::Secret;

use super::{Error, Mechanism, secret_of};

/// `PLAIN` (RFC 4616): `NUL user NUL password` in one message, sent with
/// `AUTH`. The password crosses the connection as it is: use it over TLS.
///
/// ```
/// use lineproto::Secret;
/// use pop3_client::sasl::{Mechanism, Plain};
///
/// let mut plain = Plain::new("tim", Secret::new(b"tanstaaftanstaaf".to_vec()));
/// assert_eq!(plain.initial_response()?.unwrap().expose(), b"\0tim\0tanstaaftanstaaf");
/// # Ok::<(), pop3_client::sasl::Error>(())
/// ```
#[derive(Debug)]
pub struct Plain {
    user: String,
    password: Secret<Vec<u8>>,
    sent: bool,
}

impl Plain {
    /// PLAIN for `user` with `password` (no authorization identity: the
    /// server acts as `user`).
    pub fn new(user: &str, password: Secret<Vec<u8>>) -> Self {
        Self {
            user: user.to_owned(),
            password,
            sent: false,
        }
    }

    fn message(&self) -> Result<Secret<Vec<u8>>, Error> {
        if self.user.contains('\0') {
            return Err(Error::Unsendable { what: "user name" });
        }
        if self.password.expose().contains(&0) {
            return Err(Error::Unsendable { what: "password" });
        }
        Ok(secret_of(&[
            b"\0",
            self.user.as_bytes(),
            b"\0",
            self.password.expose(),
        ]))
    }
}

impl Mechanism for Plain {
    fn name(&self) -> &str {
        "PLAIN"
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
        let message = self.message()?;
        self.sent = true;
        Ok(Some(message))
    }

    fn step(&mut self, _challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
        // The client machine answers the empty challenge itself when the
        // message did not fit the AUTH line; a mechanism driven by hand
        // without the initial response answers the first challenge.
        if self.sent {
            return Err(Error::UnexpectedChallenge);
        }
        self.sent = true;
        self.message()
    }
}

/// `LOGIN` (draft-murchison-sasl-login, never an RFC; what Outlook
/// speaks): the user name answers the first challenge, the password the
/// second, whatever they say. The password crosses the connection as it
/// is: use it over TLS.
#[derive(Debug)]
pub struct Login {
    user: String,
    password: Secret<Vec<u8>>,
    answered: u8,
}

impl Login {
    /// LOGIN for `user` with `password`.
    pub fn new(user: &str, password: Secret<Vec<u8>>) -> Self {
        Self {
            user: user.to_owned(),
            password,
            answered: 0,
        }
    }
}

impl Mechanism for Login {
    fn name(&self) -> &str {
        "LOGIN"
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
        Ok(None)
    }

    fn step(&mut self, _challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
        // The challenges are "Username:" and "Password:" (or anything
        // else); only their order matters.
        // Saturating: a mechanism driven by hand may be handed any number
        // of challenges (the fuzzer found the overflow at 256).
        self.answered = self.answered.saturating_add(1);
        match self.answered {
            1 => Ok(Secret::new(self.user.as_bytes().to_vec())),
            2 => Ok(self.password.clone()),
            _ => Err(Error::UnexpectedChallenge),
        }
    }
}

/// `CRAM-MD5` (RFC 2195): the server's challenge, signed with HMAC-MD5
/// keyed with the password, after the user name. The password does not
/// cross the connection, but anyone who reads the exchange can try
/// passwords against it offline, and the server must store the password
/// itself (or its equivalent). Prefer SCRAM.
///
/// ```
/// use lineproto::Secret;
/// use pop3_client::sasl::{CramMd5, Mechanism};
///
/// // RFC 2195's example.
/// let mut cram = CramMd5::new("tim", Secret::new(b"tanstaaftanstaaf".to_vec()));
/// assert!(cram.initial_response()?.is_none());
/// let response = cram.step(b"<1896.697170952@postoffice.reston.mci.net>")?;
/// assert_eq!(response.expose(), b"tim b913a602c7eda7a495b4e6e7334d3890");
/// # Ok::<(), pop3_client::sasl::Error>(())
/// ```
#[derive(Debug)]
pub struct CramMd5 {
    user: String,
    password: Secret<Vec<u8>>,
    answered: bool,
}

impl CramMd5 {
    /// CRAM-MD5 for `user` with `password`.
    pub fn new(user: &str, password: Secret<Vec<u8>>) -> Self {
        Self {
            user: user.to_owned(),
            password,
            answered: false,
        }
    }
}

impl Mechanism for CramMd5 {
    fn name(&self) -> &str {
        "CRAM-MD5"
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
        Ok(None)
    }

    fn step(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
        if self.answered {
            return Err(Error::UnexpectedChallenge);
        }
        if challenge.is_empty() {
            return Err(Error::MalformedChallenge {
                what: "CRAM-MD5 challenge",
            });
        }
        self.answered = true;
        let digest = hmac_md5(self.password.expose(), challenge);
        let mut response = Vec::with_capacity(self.user.len() + 33);
        response.extend_from_slice(self.user.as_bytes());
        response.push(b' ');
        response.extend_from_slice(hex(&digest).as_bytes());
        Ok(Secret::new(response))
    }
}

/// HMAC-MD5 (RFC 2104).
pub(crate) fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<Vec<u8>> {
        Secret::new(s.as_bytes().to_vec())
    }

    #[test]
    fn plain_refuses_nul_and_a_second_challenge() {
        let mut plain = Plain::new("a\0b", secret("p"));
        assert_eq!(
            plain.initial_response().unwrap_err(),
            Error::Unsendable { what: "user name" }
        );
        let mut plain = Plain::new("john", secret("p\0"));
        assert_eq!(
            plain.initial_response().unwrap_err(),
            Error::Unsendable { what: "password" }
        );
        let mut plain = Plain::new("john", secret("doe"));
        assert_eq!(plain.step(b"").unwrap().expose(), b"\0john\0doe");
        assert_eq!(plain.step(b"").unwrap_err(), Error::UnexpectedChallenge);
        assert!(!format!("{plain:?}").contains("doe"));
    }

    #[test]
    fn login_answers_two_challenges() {
        let mut login = Login::new("john", secret("doe"));
        assert!(login.initial_response().unwrap().is_none());
        assert_eq!(login.step(b"Username:").unwrap().expose(), b"john");
        assert_eq!(login.step(b"Password:").unwrap().expose(), b"doe");
        assert_eq!(
            login.step(b"More?").unwrap_err(),
            Error::UnexpectedChallenge
        );
    }

    #[test]
    fn cram_md5_refuses_an_empty_or_second_challenge() {
        let mut cram = CramMd5::new("tim", secret("tanstaaftanstaaf"));
        assert_eq!(
            cram.step(b"").unwrap_err(),
            Error::MalformedChallenge {
                what: "CRAM-MD5 challenge"
            }
        );
        cram.step(b"<1@x>").unwrap();
        assert_eq!(cram.step(b"<2@x>").unwrap_err(), Error::UnexpectedChallenge);
        // RFC 2104's test case 2 for HMAC-MD5.
        assert_eq!(
            hex(&hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }
}
