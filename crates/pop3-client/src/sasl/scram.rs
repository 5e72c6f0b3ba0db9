//! SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), client side,
//! without channel binding (`n,,`): the client proves it knows the
//! password without sending it, and the server proves it knows it too.

use hmac::{KeyInit, Mac};
use lineproto::Secret;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Error, Mechanism, saslname, saslprep};
use crate::codec::{base64, unbase64};

/// The hash of a SCRAM variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SCRAM-SHA-1",
            Self::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// `H(data)`.
    pub(crate) fn hash(self, data: &[u8]) -> Zeroizing<Vec<u8>> {
        use sha2::Digest;
        Zeroizing::new(match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
        })
    }

    /// `HMAC(key, data)`.
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
        fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Zeroizing::new(match self {
            Self::Sha1 => mac::<hmac::Hmac<sha1::Sha1>>(key, data),
            Self::Sha256 => mac::<hmac::Hmac<sha2::Sha256>>(key, data),
        })
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC-H, one block.
    pub(crate) fn salted_password(
        self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0; self.len()]);
        match self {
            Self::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, &mut out),
            Self::Sha256 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out)
            }
        }
        out
    }

    fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The keys and signatures of RFC 5802 section 3 for one exchange.
    pub(crate) fn proof(self, salted_password: &[u8], auth_message: &[u8]) -> Proof {
        let client_key = self.hmac(salted_password, b"Client Key");
        let stored_key = self.hash(&client_key);
        let client_signature = self.hmac(&stored_key, auth_message);
        let client_proof = Zeroizing::new(
            client_key
                .iter()
                .zip(client_signature.iter())
                .map(|(k, s)| k ^ s)
                .collect(),
        );
        let server_key = self.hmac(salted_password, b"Server Key");
        Proof {
            client_proof,
            server_signature: self.hmac(&server_key, auth_message),
        }
    }
}

/// What both sides compute from the salted password and the exchange.
pub(crate) struct Proof {
    /// `ClientKey XOR ClientSignature`: what the client sends.
    pub(crate) client_proof: Zeroizing<Vec<u8>>,
    /// `HMAC(ServerKey, AuthMessage)`: what the server sends.
    pub(crate) server_signature: Zeroizing<Vec<u8>>,
}

/// The gs2 header of a client without channel binding or authorization
/// identity, and its base64 (`c=` of the final message).
const GS2_HEADER: &str = "n,,";
const GS2_HEADER_BASE64: &str = "biws";

/// The default floor and ceiling of the server's iteration count.
const MIN_ITERATIONS: u32 = 4096;
const MAX_ITERATIONS: u32 = 1_000_000;

/// `SCRAM-SHA-1` (RFC 5802) or `SCRAM-SHA-256` (RFC 7677), without
/// channel binding.
///
/// The client sends its user name and a nonce; the server answers with
/// its nonce, the password's salt and an iteration count; the client
/// proves it knows the password salted that way; the server proves it
/// knows it too, and a wrong signature is
/// [`Error::ServerSignatureMismatch`], compared in constant time. A
/// server that says `+OK` without its signature is [`Error::Incomplete`].
///
/// The user name and password are prepared with SASLprep (RFC 4013,
/// through the `stringprep` crate), so they must be UTF-8. The iteration
/// count must be within [`iteration_limits`](Self::iteration_limits):
/// 4096 (RFC 5802's and 7677's minimum) to 1,000,000 by default.
/// PBKDF2 runs inside the [`step`](Mechanism::step) that reads the
/// server's first message, so a million iterations keep the caller busy
/// for about half a second.
///
/// The client nonce is the caller's: pass [`client_nonce()`] (the
/// `getrandom` feature), or a fixed one in tests. It must be printable
/// ASCII without `,`, and never used twice.
///
/// [`client_nonce()`]: super::client_nonce
#[derive(Debug)]
pub struct Scram {
    hash: ScramHash,
    user: String,
    password: Secret<Vec<u8>>,
    client_nonce: String,
    min_iterations: u32,
    max_iterations: u32,
    state: State,
}

#[derive(Debug)]
enum State {
    Start,
    /// The client-first message is out; `bare` is it without the gs2
    /// header, part of the AuthMessage.
    ClientFirst {
        bare: String,
    },
    /// The client-final message is out; the server must answer with this.
    ClientFinal {
        server_signature: Secret<Vec<u8>>,
    },
    /// The server's signature was right.
    Verified,
    Failed,
}

impl Scram {
    /// SCRAM-SHA-256 for `user` with `password`, with this client nonce.
    pub fn sha256(user: &str, password: Secret<Vec<u8>>, client_nonce: &str) -> Self {
        Self::new(ScramHash::Sha256, user, password, client_nonce)
    }

    /// SCRAM-SHA-1 for `user` with `password`, with this client nonce.
    pub fn sha1(user: &str, password: Secret<Vec<u8>>, client_nonce: &str) -> Self {
        Self::new(ScramHash::Sha1, user, password, client_nonce)
    }

    pub(crate) fn new(
        hash: ScramHash,
        user: &str,
        password: Secret<Vec<u8>>,
        client_nonce: &str,
    ) -> Self {
        Self {
            hash,
            user: user.to_owned(),
            password,
            client_nonce: client_nonce.to_owned(),
            min_iterations: MIN_ITERATIONS,
            max_iterations: MAX_ITERATIONS,
            state: State::Start,
        }
    }

    /// Accepts iteration counts from `min` to `max` only (defaults 4096
    /// and 1,000,000): the ceiling bounds the time a hostile server can
    /// make the client spend hashing; the floor, how cheap it can make the
    /// proof to attack offline.
    pub fn iteration_limits(mut self, min: u32, max: u32) -> Self {
        self.min_iterations = min;
        self.max_iterations = max;
        self
    }

    fn client_first(&mut self) -> Result<Secret<Vec<u8>>, Error> {
        if self.client_nonce.is_empty() || !self.client_nonce.bytes().all(is_nonce_char) {
            return Err(Error::Unsendable {
                what: "client nonce",
            });
        }
        let user = saslprep(self.user.as_bytes(), "user name")?;
        let bare = format!("n={},r={}", saslname(&user), self.client_nonce);
        let message = format!("{GS2_HEADER}{bare}").into_bytes();
        self.state = State::ClientFirst { bare };
        Ok(Secret::new(message))
    }

    fn client_final(
        &self,
        bare: &str,
        server_first: &[u8],
    ) -> Result<(Secret<Vec<u8>>, State), Error> {
        let server_first_text = std::str::from_utf8(server_first).map_err(|_| malformed_first())?;
        let first = ServerFirst::parse(server_first_text)?;
        if !first.nonce.starts_with(&self.client_nonce) {
            return Err(Error::NonceMismatch);
        }
        if first.iterations > u64::from(self.max_iterations) {
            return Err(Error::IterationCountTooHigh {
                count: first.iterations,
                limit: self.max_iterations,
            });
        }
        if first.iterations < u64::from(self.min_iterations) || first.iterations == 0 {
            return Err(Error::IterationCountTooLow {
                count: first.iterations,
                limit: self.min_iterations.max(1),
            });
        }
        let iterations = u32::try_from(first.iterations).map_err(|_| malformed_first())?;
        let password = saslprep(self.password.expose(), "password")?;
        let salted = self
            .hash
            .salted_password(password.as_bytes(), &first.salt, iterations);
        let without_proof = format!("c={GS2_HEADER_BASE64},r={}", first.nonce);
        let auth_message = Zeroizing::new(format!("{bare},{server_first_text},{without_proof}"));
        let proof = self.hash.proof(&salted, auth_message.as_bytes());
        let mut message = without_proof.into_bytes();
        message.extend_from_slice(b",p=");
        message.extend_from_slice(&base64(&proof.client_proof));
        let server_signature = Secret::new(proof.server_signature.to_vec());
        Ok((
            Secret::new(message),
            State::ClientFinal { server_signature },
        ))
    }
}

impl Mechanism for Scram {
    fn name(&self) -> &str {
        self.hash.name()
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, Error> {
        self.client_first().map(Some)
    }

    fn step(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, Error> {
        match std::mem::replace(&mut self.state, State::Failed) {
            // Driven by hand, without the initial response: the server's
            // empty challenge asks for it.
            State::Start if challenge.is_empty() => self.client_first(),
            State::Start => Err(Error::MalformedChallenge {
                what: "SCRAM challenge before the client's first message",
            }),
            State::ClientFirst { bare } => {
                let (message, next) = self.client_final(&bare, challenge)?;
                self.state = next;
                Ok(message)
            }
            State::ClientFinal { server_signature } => {
                verify_server_final(challenge, server_signature.expose())?;
                self.state = State::Verified;
                // The empty response that lets the server say +OK.
                Ok(Secret::new(Vec::new()))
            }
            State::Verified | State::Failed => Err(Error::UnexpectedChallenge),
        }
    }

    fn finish(&mut self) -> Result<(), Error> {
        match self.state {
            State::Verified => Ok(()),
            _ => Err(Error::Incomplete),
        }
    }
}

/// A nonce character: printable ASCII except `,` (RFC 5802 section 7).
fn is_nonce_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

fn malformed_first() -> Error {
    Error::MalformedChallenge {
        what: "SCRAM server-first-message",
    }
}

/// `server-first-message = [reserved-mext ","] nonce "," salt ","
/// iteration-count ["," extensions]`.
struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    /// Saturated: anything beyond u64 is "too high" anyway.
    iterations: u64,
}

impl<'a> ServerFirst<'a> {
    fn parse(message: &'a str) -> Result<Self, Error> {
        if message.starts_with("m=") {
            return Err(Error::MandatoryExtension);
        }
        let mut attributes = message.split(',');
        let mut next = |name: &str| {
            attributes
                .next()
                .and_then(|attribute| attribute.strip_prefix(name))
                .ok_or_else(malformed_first)
        };
        let nonce = next("r=")?;
        let salt = next("s=")?;
        let iterations = next("i=")?;
        // Extensions may follow; they are ignored (RFC 5802 section 5.1).
        if nonce.is_empty() || !nonce.bytes().all(is_nonce_char) {
            return Err(malformed_first());
        }
        let salt = unbase64(salt.as_bytes())
            .filter(|salt| !salt.is_empty())
            .ok_or_else(malformed_first)?;
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed_first());
        }
        let iterations = iterations.parse().unwrap_or(u64::MAX);
        Ok(Self {
            nonce,
            salt,
            iterations,
        })
    }
}

/// `server-final-message = (server-error / verifier) ["," extensions]`.
fn verify_server_final(message: &[u8], expected: &[u8]) -> Result<(), Error> {
    let attribute = message.split(|&b| b == b',').next().unwrap_or_default();
    if let Some(error) = attribute.strip_prefix(b"e=") {
        let error = &error[..error.len().min(200)];
        return Err(Error::ServerReported(
            String::from_utf8_lossy(error).into_owned(),
        ));
    }
    let signature =
        attribute
            .strip_prefix(b"v=")
            .and_then(unbase64)
            .ok_or(Error::MalformedChallenge {
                what: "SCRAM server-final-message",
            })?;
    // Lengths are public; the bytes are compared in constant time.
    if signature.len() == expected.len() && bool::from(signature.ct_eq(expected)) {
        Ok(())
    } else {
        Err(Error::ServerSignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<Vec<u8>> {
        Secret::new(s.as_bytes().to_vec())
    }

    /// RFC 5802 section 5.
    const SHA1_SERVER_FIRST: &[u8] =
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    /// RFC 7677 section 3.
    const SHA256_SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    fn rfc5802() -> Scram {
        Scram::sha1("user", secret("pencil"), "fyko+d2lbbFgONRv9qkxdawL")
    }

    fn rfc7677() -> Scram {
        Scram::sha256("user", secret("pencil"), "rOprNGfwEbeRWgbNEkqO")
    }

    #[test]
    fn rfc_5802_scram_sha_1_exchange() {
        let mut scram = rfc5802();
        assert_eq!(scram.name(), "SCRAM-SHA-1");
        assert_eq!(
            scram.initial_response().unwrap().unwrap().expose(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        assert_eq!(
            scram.step(SHA1_SERVER_FIRST).unwrap().expose(),
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(scram.finish(), Err(Error::Incomplete));
        assert_eq!(
            scram
                .step(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
                .unwrap()
                .expose(),
            b""
        );
        assert_eq!(scram.finish(), Ok(()));
        assert_eq!(
            scram.step(b"v=again").unwrap_err(),
            Error::UnexpectedChallenge
        );
    }

    #[test]
    fn rfc_7677_scram_sha_256_exchange() {
        let mut scram = rfc7677();
        assert_eq!(scram.name(), "SCRAM-SHA-256");
        assert_eq!(
            scram.initial_response().unwrap().unwrap().expose(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert_eq!(
            scram.step(SHA256_SERVER_FIRST).unwrap().expose(),
            &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..]
        );
        scram
            .step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert_eq!(scram.finish(), Ok(()));
    }

    #[test]
    fn a_wrong_server_signature_is_refused() {
        let mut scram = rfc7677();
        scram.initial_response().unwrap();
        scram.step(SHA256_SERVER_FIRST).unwrap();
        // The RFC 5802 signature: valid base64, wrong value and length.
        assert_eq!(
            scram.step(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap_err(),
            Error::ServerSignatureMismatch
        );
        assert_eq!(scram.finish(), Err(Error::Incomplete));
        let mut scram = rfc7677();
        scram.initial_response().unwrap();
        scram.step(SHA256_SERVER_FIRST).unwrap();
        // Same length, one bit off.
        assert_eq!(
            scram
                .step(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .unwrap_err(),
            Error::ServerSignatureMismatch
        );
    }

    #[test]
    fn server_errors_and_malformed_finals() {
        for (server_final, error) in [
            (
                &b"e=invalid-proof"[..],
                Error::ServerReported("invalid-proof".into()),
            ),
            (
                b"x=1",
                Error::MalformedChallenge {
                    what: "SCRAM server-final-message",
                },
            ),
            (
                b"v=not base64",
                Error::MalformedChallenge {
                    what: "SCRAM server-final-message",
                },
            ),
        ] {
            let mut scram = rfc7677();
            scram.initial_response().unwrap();
            scram.step(SHA256_SERVER_FIRST).unwrap();
            assert_eq!(scram.step(server_final).unwrap_err(), error);
        }
    }

    #[test]
    fn server_first_messages_are_checked() {
        let malformed = Error::MalformedChallenge {
            what: "SCRAM server-first-message",
        };
        for (server_first, error) in [
            (
                &b"r=someone-else,s=QSXCR+Q6sek8bf92,i=4096"[..],
                Error::NonceMismatch,
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QSXCR+Q6sek8bf92,i=1000001",
                Error::IterationCountTooHigh {
                    count: 1_000_001,
                    limit: 1_000_000,
                },
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QSXCR+Q6sek8bf92,i=99999999999999999999999",
                Error::IterationCountTooHigh {
                    count: u64::MAX,
                    limit: 1_000_000,
                },
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QSXCR+Q6sek8bf92,i=1",
                Error::IterationCountTooLow {
                    count: 1,
                    limit: 4096,
                },
            ),
            (
                b"m=channel,r=rOprNGfwEbeRWgbNEkqOx,s=QSXCR+Q6sek8bf92,i=4096",
                Error::MandatoryExtension,
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,i=4096,s=QSXCR+Q6sek8bf92",
                malformed.clone(),
            ),
            (b"r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", malformed.clone()),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QSXCR+Q6sek8bf92,i=-1",
                malformed.clone(),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqO\xff,s=QQ==,i=4096",
                malformed.clone(),
            ),
            (b"", malformed.clone()),
        ] {
            let mut scram = rfc7677();
            scram.initial_response().unwrap();
            assert_eq!(
                scram.step(server_first).unwrap_err(),
                error,
                "{}",
                String::from_utf8_lossy(server_first)
            );
            // A failed mechanism answers nothing more.
            assert_eq!(scram.step(b"v=x").unwrap_err(), Error::UnexpectedChallenge);
        }
        // Extensions after the iteration count are ignored.
        let mut scram = rfc7677();
        scram.initial_response().unwrap();
        let mut extended = SHA256_SERVER_FIRST.to_vec();
        extended.extend_from_slice(b",x=extension");
        assert!(scram.step(&extended).is_ok());
        // Limits are the caller's to change.
        let mut scram = rfc7677().iteration_limits(1, 4095);
        scram.initial_response().unwrap();
        assert_eq!(
            scram.step(SHA256_SERVER_FIRST).unwrap_err(),
            Error::IterationCountTooHigh {
                count: 4096,
                limit: 4095
            }
        );
    }

    #[test]
    fn names_are_prepared_and_escaped() {
        let mut scram = Scram::sha256("a,b=c\u{AD}", secret("pencil"), "nonce");
        assert_eq!(
            scram.initial_response().unwrap().unwrap().expose(),
            b"n,,n=a=2Cb=3Dc,r=nonce"
        );
        let mut scram = Scram::sha256("user", secret("pencil"), "bad,nonce");
        assert_eq!(
            scram.initial_response().unwrap_err(),
            Error::Unsendable {
                what: "client nonce"
            }
        );
        let mut scram = Scram::sha256("user\u{7}", secret("pencil"), "nonce");
        assert_eq!(
            scram.initial_response().unwrap_err(),
            Error::Unsendable { what: "user name" }
        );
        // A password SASLprep refuses is found once the salt is known.
        let mut scram = Scram::sha256("user", secret("\u{7}"), "rOprNGfwEbeRWgbNEkqO");
        scram.initial_response().unwrap();
        assert_eq!(
            scram.step(SHA256_SERVER_FIRST).unwrap_err(),
            Error::Unsendable { what: "password" }
        );
    }

    #[test]
    fn a_password_is_the_same_after_saslprep() {
        // A soft hyphen is mapped to nothing: the same proof as "pencil".
        let mut prepared = Scram::sha256("user", secret("pen\u{AD}cil"), "rOprNGfwEbeRWgbNEkqO");
        prepared.initial_response().unwrap();
        let mut plain = rfc7677();
        plain.initial_response().unwrap();
        assert_eq!(
            prepared.step(SHA256_SERVER_FIRST).unwrap().expose(),
            plain.step(SHA256_SERVER_FIRST).unwrap().expose()
        );
    }

    #[test]
    fn without_the_initial_response_the_empty_challenge_asks_for_it() {
        let mut scram = rfc7677();
        assert_eq!(
            scram.step(b"").unwrap().expose(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let mut scram = rfc7677();
        assert!(matches!(
            scram.step(SHA256_SERVER_FIRST),
            Err(Error::MalformedChallenge { .. })
        ));
    }

    #[test]
    fn debug_shows_no_password() {
        let mut scram = rfc7677();
        scram.initial_response().unwrap();
        scram.step(SHA256_SERVER_FIRST).unwrap();
        let shown = format!("{scram:?}");
        assert!(!shown.contains("pencil"), "{shown}");
    }
}
