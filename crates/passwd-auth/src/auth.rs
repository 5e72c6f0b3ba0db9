//! Authentication as pam_unix does it: find the account, verify the hash,
//! apply the shadow(5) account policy, and give away nothing by timing.

use std::collections::HashMap;

use crate::{CostLimits, Error, HashFormat, PasswdDb, StoredHash, hash};

/// How to judge accounts.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Let an account with an empty hash in with an empty password, as
    /// pam_unix's `nullok` does. Default: no.
    pub allow_empty_password: bool,
    /// Ceilings on the cost of stored hashes.
    pub cost_limits: CostLimits,
}

/// The verdict on one login attempt.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The password matches and the account may log in.
    Authenticated,
    /// The account exists and the password does not match (or is empty
    /// where empty passwords are not allowed).
    WrongPassword,
    /// No account has this name.
    UnknownUser,
    /// The hash starts with `!` or `*`: the account is locked, or has no
    /// password login.
    Locked,
    /// The account has an empty hash and empty passwords are not allowed.
    EmptyPasswordRefused,
    /// passwd says `x`, but shadow has no entry for the account.
    MissingShadowEntry,
    /// The password matched, but the account expired (shadow field 8).
    AccountExpired,
    /// The password matched, but it expired and the inactivity period after
    /// it has passed too (fields 5 and 7): only an administrator can help.
    PasswordExpired,
    /// The password matched, but it must be changed first: the last change
    /// is recorded as day 0, or the maximum age has passed.
    PasswordChangeRequired,
    /// The stored hash cannot be verified (unsupported format, malformed,
    /// or cost over the ceiling); the account cannot log in.
    UnverifiableHash(Error),
    /// The password is 512 bytes or longer.
    PasswordTooLong,
    /// The request was not `user:password` on one line within the limit.
    MalformedRequest,
    /// Refused without checking: the server's limit on failed attempts
    /// (from this peer, say) was reached. Set by servers, not by
    /// [`Authenticator`].
    TooManyAttempts,
}

/// The article's answers on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireCode {
    /// `1`: user and password are right.
    Accepted,
    /// `0`: the user exists and the password is wrong, or the login is
    /// refused for another reason.
    Rejected,
    /// `-1`: no such user.
    UnknownUser,
}

impl WireCode {
    /// The bytes sent: `1`, `0` or `-1`, with no line end (as the article's
    /// server sends them).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "1",
            Self::Rejected => "0",
            Self::UnknownUser => "-1",
        }
    }

    /// Parses a reply; `None` for anything else.
    pub fn parse(reply: &[u8]) -> Option<Self> {
        match reply {
            b"1" => Some(Self::Accepted),
            b"0" => Some(Self::Rejected),
            b"-1" => Some(Self::UnknownUser),
            _ => None,
        }
    }
}

impl Outcome {
    /// Whether the login succeeds.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Authenticated)
    }

    /// The article's wire code for this outcome. Only
    /// [`Authenticated`](Self::Authenticated) is `1`. An unknown user is
    /// `-1`, which tells anyone whether a user exists; with `uniform` it is
    /// `0`, like every other refusal.
    ///
    /// ```
    /// use passwd_auth::{Outcome, WireCode};
    ///
    /// assert_eq!(Outcome::Authenticated.wire_code(false), WireCode::Accepted);
    /// assert_eq!(Outcome::UnknownUser.wire_code(false), WireCode::UnknownUser);
    /// assert_eq!(Outcome::UnknownUser.wire_code(true), WireCode::Rejected);
    /// assert_eq!(Outcome::AccountExpired.wire_code(false), WireCode::Rejected);
    /// ```
    pub fn wire_code(&self, uniform: bool) -> WireCode {
        match self {
            Self::Authenticated => WireCode::Accepted,
            Self::UnknownUser if !uniform => WireCode::UnknownUser,
            _ => WireCode::Rejected,
        }
    }

    /// A short explanation for logs (never the password, never the hash).
    pub fn describe(&self) -> String {
        match self {
            Self::Authenticated => "authenticated".into(),
            Self::WrongPassword => "wrong password".into(),
            Self::UnknownUser => "unknown user".into(),
            Self::Locked => "account locked".into(),
            Self::EmptyPasswordRefused => {
                "account has no password, and empty passwords are refused".into()
            }
            Self::MissingShadowEntry => "no shadow entry for the account".into(),
            Self::AccountExpired => "account expired".into(),
            Self::PasswordExpired => "password expired and inactive".into(),
            Self::PasswordChangeRequired => "password must be changed first".into(),
            Self::UnverifiableHash(error) => format!("stored hash cannot be verified: {error}"),
            Self::PasswordTooLong => "password too long".into(),
            Self::MalformedRequest => "malformed request".into(),
            Self::TooManyAttempts => "too many failed attempts".into(),
        }
    }
}

/// Checks `user:password` attempts against a [`PasswdDb`].
///
/// Every attempt that fails before a real verification (unknown user,
/// locked or passwordless account, missing shadow entry, unverifiable hash)
/// still runs one verification against a *dummy*: a stored hash with the
/// most common format and cost in the database. Every answer therefore
/// costs about one hash of the usual cost, and timing does not tell which
/// users exist. Account expiry is judged after the password, so a wrong
/// password learns nothing about the account. `today` is handed in (days
/// since 1970-01-01): there is no clock in here.
///
/// ```
/// use passwd_auth::{Authenticator, Outcome, PasswdDb, Policy};
///
/// let passwd = b"john:x:1000:1000::/home/john:/bin/sh\n";
/// // `mkpasswd -m md5crypt -S saltsalt secret`
/// let shadow = b"john:$1$saltsalt$9xy1btjgzLYfb7hivXtC//:19000:0:99999:7:::\n";
/// let auth = Authenticator::new(PasswdDb::parse(passwd, Some(shadow)), Policy::default());
/// assert_eq!(auth.authenticate(b"john", b"secret", 20000), Outcome::Authenticated);
/// assert_eq!(auth.authenticate(b"john", b"guess", 20000), Outcome::WrongPassword);
/// assert_eq!(auth.authenticate(b"nosuchuser", b"hahaha", 20000), Outcome::UnknownUser);
/// ```
pub struct Authenticator {
    db: PasswdDb,
    policy: Policy,
    dummy: Vec<u8>,
}

impl core::fmt::Debug for Authenticator {
    // The dummy is a real account's hash: keep it out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Authenticator")
            .field("db", &self.db)
            .field("policy", &self.policy)
            .field("dummy", &"<redacted>")
            .finish()
    }
}

/// Used as the dummy when the database has no usable hash: yescrypt with
/// Debian's default cost, of a password nobody knows.
const FALLBACK_DUMMY: &[u8] =
    b"$y$j9T$belNEFReG26BueJ3fvOlb.$bm66/Iy6DEmTjYlAyv00Svu8Hr2C5Cleru3HVcOoVc4";

impl Authenticator {
    /// Builds an authenticator and picks its dummy hash.
    pub fn new(db: PasswdDb, policy: Policy) -> Self {
        let dummy = representative_hash(&db, &policy.cost_limits)
            .unwrap_or_else(|| FALLBACK_DUMMY.to_vec());
        Self { db, policy, dummy }
    }

    /// The accounts.
    pub fn db(&self) -> &PasswdDb {
        &self.db
    }

    /// Judges one attempt. See the [type docs](Self).
    pub fn authenticate(&self, user: &[u8], password: &[u8], today: i64) -> Outcome {
        if password.len() > hash::MAX_PASSWORD_LEN {
            return Outcome::PasswordTooLong;
        }
        let Some(account) = self.db.get(user) else {
            return self.refuse(password, Outcome::UnknownUser);
        };
        let stored = match account.stored_hash() {
            StoredHash::MissingShadow => return self.refuse(password, Outcome::MissingShadowEntry),
            StoredHash::Hash(stored) => stored,
        };
        if stored.starts_with(b"!") || stored.starts_with(b"*") {
            return self.refuse(password, Outcome::Locked);
        }
        if stored.is_empty() {
            return if self.policy.allow_empty_password && password.is_empty() {
                self.refuse(password, ());
                check_account(account.shadow.as_ref(), today)
            } else {
                self.refuse(password, Outcome::EmptyPasswordRefused)
            };
        }
        if password.is_empty() && !self.policy.allow_empty_password {
            return self.refuse(password, Outcome::WrongPassword);
        }
        match hash::verify(password, stored, &self.policy.cost_limits) {
            Ok(true) => check_account(account.shadow.as_ref(), today),
            Ok(false) => Outcome::WrongPassword,
            Err(error) => self.refuse(password, Outcome::UnverifiableHash(error)),
        }
    }

    /// Spends one verification on the dummy, then answers `outcome`.
    fn refuse<T>(&self, password: &[u8], outcome: T) -> T {
        let _ = hash::verify(password, &self.dummy, &self.policy.cost_limits);
        outcome
    }
}

/// The shadow(5) account checks, in pam_unix's order and with its formulas.
fn check_account(shadow: Option<&crate::ShadowInfo>, today: i64) -> Outcome {
    let Some(shadow) = shadow else {
        return Outcome::Authenticated;
    };
    if shadow.expire_date.is_some_and(|expire| today >= expire) {
        return Outcome::AccountExpired;
    }
    match (shadow.last_change, shadow.max_age) {
        (Some(0), _) => Outcome::PasswordChangeRequired,
        (Some(last), Some(max)) => {
            // pam_unix compares with `>`: on day `last + max` the password
            // still works.
            let age = today - last;
            if shadow
                .inactive_period
                .is_some_and(|inactive| age > max.saturating_add(inactive))
            {
                Outcome::PasswordExpired
            } else if age > max {
                Outcome::PasswordChangeRequired
            } else {
                Outcome::Authenticated
            }
        }
        _ => Outcome::Authenticated,
    }
}

/// The hash whose format and cost are the most common among the accounts
/// (its salt and digest do not matter: the dummy's result is thrown away).
fn representative_hash(db: &PasswdDb, limits: &CostLimits) -> Option<Vec<u8>> {
    // (format, setting) -> (how many accounts use it, one of their hashes)
    type Tally<'a> = HashMap<(HashFormat, &'a [u8]), (usize, &'a [u8]), crate::MapHasher>;
    let mut by_setting = Tally::default();
    for account in db.iter() {
        let StoredHash::Hash(stored) = account.stored_hash() else {
            continue;
        };
        let Ok(format) = hash::identify(stored, limits) else {
            continue;
        };
        // A hash the crates refuse would fail at once and make a fast dummy.
        if hash::verify(b"", stored, limits).is_err() {
            continue;
        }
        let entry = by_setting
            .entry((format, setting_of(stored, format)))
            .or_insert((0, stored));
        entry.0 += 1;
    }
    by_setting
        .into_values()
        .max_by_key(|(count, _)| *count)
        .map(|(_, stored)| stored.to_vec())
}

/// What fixes a hash's cost: everything before the salt (id, rounds, cost,
/// parameters).
fn setting_of(stored: &[u8], format: HashFormat) -> &[u8] {
    let drop_last_field =
        |s: &[u8]| -> usize { s.iter().rposition(|&b| b == b'$').unwrap_or(s.len()) };
    match format {
        HashFormat::Des => &stored[..0],
        HashFormat::BsdiDes => &stored[..stored.len().min(5)],
        // `$2b$10$` + salt and digest in one field.
        HashFormat::Bcrypt => &stored[..drop_last_field(stored)],
        _ => {
            let without_digest = &stored[..drop_last_field(stored)];
            &without_digest[..drop_last_field(without_digest)]
        }
    }
}
