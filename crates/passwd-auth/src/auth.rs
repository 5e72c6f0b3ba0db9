//! Authentication as pam_unix does it: find the account, verify the hash,
//! apply the shadow(5) account policy, and give away nothing by timing.

use std::collections::HashMap;

use crate::{CostLimits, HashCost, HashError, HashFormat, PasswdDb, StoredHash, hash};

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
    /// passwd says `x`, but shadow has no entry for the account; or the
    /// account's shadow line is malformed (glibc skips such a line, so the
    /// system finds no entry either). See [`StoredHash::MissingShadow`].
    MissingShadowEntry,
    /// The password matched, but the account expired (shadow field 8).
    AccountExpired,
    /// The password matched, but its age has reached the maximum plus the
    /// inactivity period (fields 5 and 7): only an administrator can help.
    PasswordExpired,
    /// The password matched, but it must be changed first: the last change
    /// is recorded as day 0, or the password's age has reached the maximum
    /// (shadow field 5).
    PasswordChangeRequired,
    /// The stored hash cannot be verified (unsupported format, malformed,
    /// or cost over the ceiling); the account cannot log in.
    UnverifiableHash(HashError),
    /// The password is 512 bytes or longer.
    PasswordTooLong,
    /// The request was not `user:password` on one line within the limit.
    MalformedRequest,
    /// Refused without checking: the server's limit on failed attempts
    /// (from this peer, say) was reached. Set by servers, not by
    /// [`Authenticator`].
    TooManyAttempts,
    /// Refused without checking: the server had no room to verify (its
    /// [`VerifyBudget`](crate::VerifyBudget) and queue were full, or the
    /// attempt waited too long for a turn). Set by servers, not by
    /// [`Authenticator`].
    Overloaded,
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
            Self::Overloaded => "server overloaded, not verified".into(),
        }
    }
}

/// Checks `user:password` attempts against a [`PasswdDb`].
///
/// Every attempt that fails before a real verification (unknown user,
/// locked or passwordless account, missing shadow entry, unverifiable hash)
/// still runs one verification against a *dummy* hash. Account expiry is
/// judged after the password, so a wrong password learns nothing about the
/// account. `today` is handed in (days since 1970-01-01): there is no
/// clock in here.
///
/// # The dummy
///
/// The dummy has the *most expensive* setting (format and cost
/// parameters) among the accounts' hashes that can be verified, by
/// [`HashCost`]: so a refusal costs at least as much as any verification
/// the database can ask for. It is picked from the hashes' shapes alone,
/// in one pass without hashing, and built from that setting with a salt
/// and digest of its own (no account's hash is kept as the dummy). The
/// one verification spent at startup checks that the hashing crate
/// accepts it; should it not, the next most expensive setting is tried,
/// and so on. When no account has a usable hash, the dummy is yescrypt
/// with Debian's default cost. [`dummy_cost`](Self::dummy_cost) and
/// [`dummy_setting`](Self::dummy_setting) say what was picked.
///
/// The other choice, the *most common* setting, makes an unknown user cost
/// the same as a wrong password for most accounts. But a wrong password
/// for an account with a costlier hash (root's `rounds=500000`, say) then
/// takes longer than any refusal, and says that the account exists; and
/// no fixed reply time can cover every failure unless it is at least the
/// costliest verification anyway. With the most expensive dummy, the
/// refusals all cost the maximum and wrong passwords cost at most that, so
/// an application that holds every failure reply until receipt + D, with
/// D at least the dummy's verification time, answers every failure at the
/// same moment. Time [`run_dummy_verification`](Self::run_dummy_verification)
/// at startup to choose D (the exchange server's
/// [`failure_delay`](crate::server::Options::failure_delay) holds
/// replies). Within a format the costliest setting is exact; across formats
/// it rests on [`HashCost::estimated_time`], which can be off by a few tens
/// of percent on another machine, so give D a margin (twice the dummy's
/// time, say). The price: every refusal (an unknown-user flood, say) costs
/// the costliest verification, which [`CostLimits`] bounds.
///
/// ```
/// use passwd_auth::{Authenticator, HashFormat, Outcome, PasswdDb, Policy};
///
/// let passwd = b"john:x:1000:1000::/home/john:/bin/sh\nroot:x:0:0::/root:/bin/sh\n";
/// // `mkpasswd -m sha256crypt -S saltsalt secret`, and a yescrypt hash.
/// let shadow = b"john:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA:19000:0:99999:7:::\n\
///     root:$y$j9T$YmmoKKC/j./bmivc08WMV/$Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5:19000::::::\n";
/// let auth = Authenticator::new(PasswdDb::parse(passwd, Some(shadow)), Policy::default());
/// assert_eq!(auth.authenticate(b"john", b"secret", 20000), Outcome::Authenticated);
/// assert_eq!(auth.authenticate(b"john", b"guess", 20000), Outcome::WrongPassword);
/// assert_eq!(auth.authenticate(b"nosuchuser", b"hahaha", 20000), Outcome::UnknownUser);
/// // Refusals cost a yescrypt verification, root's, not john's sha256crypt.
/// assert_eq!(auth.dummy_cost().format, HashFormat::Yescrypt);
/// assert_eq!(auth.dummy_setting(), "$y$j9T");
/// ```
pub struct Authenticator {
    db: PasswdDb,
    policy: Policy,
    dummy: Dummy,
}

/// The hash every refusal verifies, and what it costs.
#[derive(Debug, Clone)]
struct Dummy {
    hash: String,
    /// How much of `hash` is the setting.
    setting_len: usize,
    cost: HashCost,
}

impl core::fmt::Debug for Authenticator {
    // The dummy is no account's hash, but it has no business in logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Authenticator")
            .field("db", &self.db)
            .field("policy", &self.policy)
            .field("dummy_setting", &self.dummy_setting())
            .finish()
    }
}

impl Authenticator {
    /// Builds an authenticator and picks its dummy hash (see [the type
    /// docs](Self#the-dummy)). It reads each account's setting, checks the
    /// whole shape of one hash per distinct setting, and runs one
    /// verification, rarely more: with 100,000 accounts, about one
    /// verification's time plus a few milliseconds.
    pub fn new(db: PasswdDb, policy: Policy) -> Self {
        let dummy = pick_dummy(&db, &policy.cost_limits);
        Self { db, policy, dummy }
    }

    /// The accounts.
    pub fn db(&self) -> &PasswdDb {
        &self.db
    }

    /// The cost of the dummy: the most expensive verification the accounts
    /// can ask for (see [the type docs](Self#the-dummy)).
    pub fn dummy_cost(&self) -> HashCost {
        self.dummy.cost
    }

    /// The dummy's setting, such as `$y$j9T` or `$6$rounds=500000`: the
    /// format and cost parameters, without salt or digest. For logs.
    pub fn dummy_setting(&self) -> &str {
        self.dummy
            .hash
            .get(..self.dummy.setting_len)
            .unwrap_or_default()
    }

    /// Runs what every refusal runs, one verification of the dummy, and
    /// nothing else. Time it at startup to learn what the costliest
    /// verification takes on this machine, and hold failure replies
    /// longer than that (see [the type docs](Self#the-dummy)).
    ///
    /// ```
    /// use std::time::Instant;
    /// use passwd_auth::{Authenticator, PasswdDb, Policy};
    ///
    /// let auth = Authenticator::new(PasswdDb::parse(b"", None), Policy::default());
    /// let started = Instant::now();
    /// auth.run_dummy_verification();
    /// let failure_delay = started.elapsed() * 2;
    /// # let _ = failure_delay;
    /// ```
    pub fn run_dummy_verification(&self) {
        self.refuse(b"", ());
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
        let _ = hash::verify(
            password,
            self.dummy.hash.as_bytes(),
            &self.policy.cost_limits,
        );
        outcome
    }
}

/// The shadow(5) account checks of Linux-PAM 1.6's pam_unix
/// (`check_shadow_expiry` in `passverify.c`), in its order and with its
/// comparisons:
///
/// * A negative field is unset. The parser never yields one (glibc refuses
///   negative numbers, so `-1` only ever stood for an empty field), but
///   `ShadowInfo` can be built by hand. Before 1.6, an expiry date of `-5`
///   meant "expired"; since, it means "never".
/// * The account expires on the expiry day itself: `today >= expire`.
/// * A last change of day 0 requires a change; an empty one disables
///   aging (1.6; before, it was compared like any date); one in the future
///   passes.
/// * The password must be changed once its age *reaches* the maximum, and
///   is expired (only an administrator can help) once it reaches maximum +
///   inactivity: `>=`, where pam_unix before 1.6 compared with `>` and let
///   the password work one day longer than shadow(5) says.
///
/// Every sum and difference is checked: day counts come from a file and
/// `today` from the caller, and none of them may panic or wrap.
fn check_account(shadow: Option<&crate::ShadowInfo>, today: i64) -> Outcome {
    let Some(shadow) = shadow else {
        return Outcome::Authenticated;
    };
    let set = |field: Option<i64>| field.filter(|&days| days >= 0);
    if set(shadow.expire_date).is_some_and(|expire| today >= expire) {
        return Outcome::AccountExpired;
    }
    let Some(last) = set(shadow.last_change) else {
        return Outcome::Authenticated;
    };
    if last == 0 {
        return Outcome::PasswordChangeRequired;
    }
    if today < last {
        return Outcome::Authenticated;
    }
    // 0 < last <= today, so this cannot overflow; were it to, refuse.
    let Some(age) = today.checked_sub(last) else {
        return Outcome::PasswordChangeRequired;
    };
    let Some(max) = set(shadow.max_age) else {
        return Outcome::Authenticated;
    };
    // pam_unix caps the sum at LONG_MAX too.
    if set(shadow.inactive_period).is_some_and(|inactive| age >= max.saturating_add(inactive)) {
        Outcome::PasswordExpired
    } else if age >= max {
        Outcome::PasswordChangeRequired
    } else {
        Outcome::Authenticated
    }
}

/// The dummy's setting when no account has a usable hash: yescrypt with
/// Debian's default cost, or, if the operator's ceilings refuse that,
/// sha512crypt's default, then the cheapest sha-crypt and bcrypt, then
/// traditional DES, which no ceiling bounds (without the `legacy-crypt`
/// feature, a DES dummy is refused at once: only ceilings below every
/// format's minimum get there).
const FALLBACKS: &[(HashFormat, &[u8])] = &[
    (HashFormat::Yescrypt, b"$y$j9T"),
    (HashFormat::Sha512, b"$6"),
    (HashFormat::Sha256, b"$5$rounds=1000"),
    (HashFormat::Bcrypt, b"$2b$04"),
    (HashFormat::Des, b""),
];

/// The dummy with the most expensive setting among the accounts' hashes.
///
/// One pass collects the distinct settings of the hashes that
/// [`HashCost::of`] accepts, from their shapes alone: a verification per
/// account took 36 ms each, 45 minutes for 100,000 yescrypt accounts. Then
/// the most expensive setting's dummy is verified once, to be sure the
/// hashing crate accepts it: a dummy refused at once would make refusals
/// fast. That is one verification per distinct setting at worst, never one
/// per account.
fn pick_dummy(db: &PasswdDb, limits: &CostLimits) -> Dummy {
    let mut settings = HashMap::<&[u8], HashCost, crate::MapHasher>::default();
    let mut previous = None;
    for account in db.iter() {
        let StoredHash::Hash(stored) = account.stored_hash() else {
            continue;
        };
        let setting = setting_of(stored);
        // A hash whose setting is already in adds nothing, valid or not:
        // skip checking its shape, most of the time startup took otherwise
        // (accounts mostly share one setting, so test the last one first).
        if previous == Some(setting) {
            continue;
        }
        if settings.contains_key(setting) {
            previous = Some(setting);
            continue;
        }
        // Lock markers, empty and malformed hashes, unsupported formats and
        // costs over the ceiling are refused without their own hashing.
        if let Ok(cost) = HashCost::of(stored, limits) {
            settings.insert(setting, cost);
            previous = Some(setting);
        }
    }
    let mut candidates: Vec<_> = settings.into_iter().collect();
    // Costliest first; ties broken by the setting, so the pick does not
    // depend on the map's order.
    candidates.sort_unstable_by(|(a, cost_a), (b, cost_b)| {
        (cost_b.estimated_time(), cost_b.work, b).cmp(&(cost_a.estimated_time(), cost_a.work, a))
    });
    candidates
        .into_iter()
        .filter_map(|(setting, cost)| dummy_for(cost.format, setting, limits))
        .find(|dummy| hash::verify(b"", dummy.hash.as_bytes(), limits).is_ok())
        .or_else(|| {
            FALLBACKS
                .iter()
                .filter(|(format, _)| format.is_enabled())
                .find_map(|&(format, setting)| dummy_for(format, setting, limits))
        })
        .unwrap_or_else(|| Dummy {
            // Traditional DES has no cost to bound, so this is not reached.
            hash: String::from(".VeFd7l2M2wmY"),
            setting_len: 0,
            cost: HashCost::new(HashFormat::Des, hash::DES_WORK),
        })
}

/// A hash with `setting` and a salt and digest of its own, in the format's
/// shape, if it is within `limits`.
fn dummy_for(format: HashFormat, setting: &[u8], limits: &CostLimits) -> Option<Dummy> {
    // Salts and digests of hashes libxcrypt made (of "password"): the
    // hashing crates accept them, and they have the lengths the formats
    // write, which the cost barely depends on anyway.
    let rest: &[u8] = match format {
        HashFormat::Des => b".VeFd7l2M2wmY",
        HashFormat::BsdiDes => b"RDS8MsXnCZI71pA",
        HashFormat::Md5 => b"$kGnnuZIK$F1w/cEBvMjGuuF7NHP5Mj/",
        HashFormat::Sha1 => b"$abcdefgh$P6DJFz1dZi5FX2eeV1LzUkzUIptN",
        HashFormat::Sha256 => b"$snozbqVDTNN3zzNo$.zf21LD4wrGQSVByADBqsfehoJ..sA6sM/lESn.sDn1",
        HashFormat::Sha512 => {
            b"$V4h1WzQaeQM8PT1J$RN5spqMtqULS.TIm/2ul3VgzrHuI1/iKZ25YZPlmuEwr0Cjh9yAZWygbMobyEfeMSTyfcqvH74oJPDg.NvaCq0"
        }
        HashFormat::Bcrypt => b"$F9pZCNeNjYPC2bNI7xXi1e4b8Q0vw2E.UMZzQjEysDhMqMqpCcojS",
        HashFormat::Yescrypt => {
            b"$YmmoKKC/j./bmivc08WMV/$Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5"
        }
    };
    let hash = String::from_utf8([setting, rest].concat()).ok()?;
    let cost = HashCost::of(hash.as_bytes(), limits).ok()?;
    (cost.format == format).then_some(Dummy {
        hash,
        setting_len: setting.len(),
        cost,
    })
}

/// What fixes a hash's cost: everything before the salt (id, rounds, cost,
/// parameters), without the `$` that ends it. Read from the shape alone,
/// without checking it; for a hash [`HashCost::of`] accepts, that is its
/// setting.
fn setting_of(stored: &[u8]) -> &[u8] {
    let drop_last_field = |s: &[u8]| -> usize { memchr::memrchr(b'$', s).unwrap_or(s.len()) };
    match stored.first() {
        Some(b'$') => {
            let without_last = &stored[..drop_last_field(stored)];
            // `$2b$10$` + salt and digest in one field.
            if [&b"$2a$"[..], b"$2b$", b"$2y$"]
                .iter()
                .any(|id| stored.starts_with(id))
            {
                without_last
            } else {
                &without_last[..drop_last_field(without_last)]
            }
        }
        // `_` and four characters of rounds.
        Some(b'_') => &stored[..stored.len().min(5)],
        // Traditional DES: the salt is the first two characters, the cost
        // fixed.
        _ => &stored[..0],
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;

    use super::*;
    use crate::ShadowInfo;

    fn shadow(
        last: Option<i64>,
        max: Option<i64>,
        inactive: Option<i64>,
        expire: Option<i64>,
    ) -> ShadowInfo {
        ShadowInfo {
            hash: Bytes::new(),
            last_change: last,
            min_age: None,
            max_age: max,
            warn_period: None,
            inactive_period: inactive,
            expire_date: expire,
        }
    }

    /// `today - last` overflowed (a panic with overflow checks, as in this
    /// debug build) when `today` was i64::MIN; every extreme is tried here.
    #[test]
    fn regression_extreme_day_counts_never_overflow() {
        let values = [
            None,
            Some(i64::MIN),
            Some(-1),
            Some(0),
            Some(1),
            Some(19_000),
            Some(i64::MAX),
        ];
        let days = [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            20_000,
            i64::MAX - 1,
            i64::MAX,
        ];
        for last in values {
            for max in values {
                for inactive in values {
                    for expire in values {
                        let info = shadow(last, max, inactive, expire);
                        for today in days {
                            let _ = check_account(Some(&info), today);
                        }
                    }
                }
            }
        }
        // The case that panicked: a last change of 19000 on day i64::MIN is
        // in the future, so aging does not apply.
        let info = shadow(Some(19_000), Some(90), Some(30), None);
        assert_eq!(check_account(Some(&info), i64::MIN), Outcome::Authenticated);
        assert_eq!(
            check_account(Some(&info), i64::MAX),
            Outcome::PasswordExpired
        );
        // max + inactive saturates, as pam_unix's LONG_MAX cap does.
        let info = shadow(Some(1), Some(i64::MAX), Some(i64::MAX), None);
        assert_eq!(
            check_account(Some(&info), i64::MAX - 1),
            Outcome::Authenticated
        );
        assert_eq!(check_account(Some(&info), i64::MAX), Outcome::Authenticated);
        let info = shadow(None, None, None, Some(i64::MAX));
        assert_eq!(
            check_account(Some(&info), i64::MAX),
            Outcome::AccountExpired
        );
        assert_eq!(
            check_account(Some(&info), i64::MAX - 1),
            Outcome::Authenticated
        );
    }

    /// Linux-PAM 1.6's comparisons, on values the parser cannot produce
    /// (negative ones) as well as on those it can.
    #[test]
    fn linux_pam_1_6_semantics() {
        let at = |info: ShadowInfo, today| check_account(Some(&info), today);
        // Negative expiry is unset, not "expired long ago".
        assert_eq!(
            at(shadow(Some(19_000), None, None, Some(-5)), 20_000),
            Outcome::Authenticated
        );
        assert_eq!(
            at(shadow(Some(19_000), None, None, Some(-1)), 20_000),
            Outcome::Authenticated
        );
        // Expires on the day itself.
        assert_eq!(
            at(shadow(None, None, None, Some(20_000)), 20_000),
            Outcome::AccountExpired
        );
        assert_eq!(
            at(shadow(None, None, None, Some(20_001)), 20_000),
            Outcome::Authenticated
        );
        // Age equal to max: change required (`>=`, was `>`).
        assert_eq!(
            at(shadow(Some(19_900), Some(100), None, None), 19_999),
            Outcome::Authenticated
        );
        assert_eq!(
            at(shadow(Some(19_900), Some(100), None, None), 20_000),
            Outcome::PasswordChangeRequired
        );
        // Age equal to max + inactive: expired.
        let info = || shadow(Some(19_870), Some(100), Some(30), None);
        assert_eq!(at(info(), 19_969), Outcome::Authenticated);
        assert_eq!(at(info(), 19_970), Outcome::PasswordChangeRequired);
        assert_eq!(at(info(), 19_999), Outcome::PasswordChangeRequired);
        assert_eq!(at(info(), 20_000), Outcome::PasswordExpired);
        // Empty or negative last change: aging disabled; 0: change now.
        assert_eq!(
            at(shadow(None, Some(0), Some(0), None), 20_000),
            Outcome::Authenticated
        );
        assert_eq!(
            at(shadow(Some(-7), Some(0), Some(0), None), 20_000),
            Outcome::Authenticated
        );
        assert_eq!(
            at(shadow(Some(0), None, None, None), 20_000),
            Outcome::PasswordChangeRequired
        );
        // Changed in the future: passes.
        assert_eq!(
            at(shadow(Some(20_100), Some(10), Some(0), None), 20_000),
            Outcome::Authenticated
        );
        // Negative max or inactivity: unset.
        assert_eq!(
            at(shadow(Some(1), Some(-1), Some(0), None), 20_000),
            Outcome::Authenticated
        );
        assert_eq!(
            at(shadow(Some(1), Some(100), Some(-1), None), 20_000),
            Outcome::PasswordChangeRequired
        );
    }

    proptest::proptest! {
        #[test]
        fn account_checks_never_panic(
            last in proptest::option::of(proptest::num::i64::ANY),
            max in proptest::option::of(proptest::num::i64::ANY),
            inactive in proptest::option::of(proptest::num::i64::ANY),
            expire in proptest::option::of(proptest::num::i64::ANY),
            today in proptest::num::i64::ANY,
        ) {
            let _ = check_account(Some(&shadow(last, max, inactive, expire)), today);
        }
    }

    fn db_of(hashes: &[&str]) -> PasswdDb {
        let mut passwd = String::new();
        let mut shadow = String::new();
        for (i, hash) in hashes.iter().enumerate() {
            passwd.push_str(&format!("u{i}:x:{i}:{i}::/:/bin/sh\n"));
            shadow.push_str(&format!("u{i}:{hash}:19000::::::\n"));
        }
        PasswdDb::parse(passwd.as_bytes(), Some(shadow.as_bytes()))
    }

    const MD5: &str = "$1$saltsalt$9xy1btjgzLYfb7hivXtC//";
    const YESCRYPT: &str =
        "$y$j9T$YmmoKKC/j./bmivc08WMV/$Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5";

    #[test]
    fn the_dummy_has_the_most_expensive_setting_not_the_most_common() {
        let sha512_20k = format!("$6$rounds=20000$saltsalt${}", "a".repeat(86));
        let yescrypt_2x =
            "$y$jAT$YmmoKKC/j./bmivc08WMV/$Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5";
        let over_ceiling = format!("$6$rounds=999999999$saltsalt${}", "a".repeat(86));
        let hashes = [
            MD5,
            MD5,
            MD5,
            &sha512_20k,
            YESCRYPT,
            yescrypt_2x,
            &over_ceiling,
            "!",
            "",
        ];
        let auth = Authenticator::new(db_of(&hashes), Policy::default());
        assert_eq!(auth.dummy_setting(), "$y$jAT");
        assert_eq!(auth.dummy_cost().format, HashFormat::Yescrypt);
        assert_eq!(auth.dummy_cost().work, 8192 * 32);
        // Without the yescrypt accounts, sha512crypt's 20,000 rounds.
        let auth = Authenticator::new(db_of(&[MD5, MD5, &sha512_20k]), Policy::default());
        assert_eq!(auth.dummy_setting(), "$6$rounds=20000");
        let auth = Authenticator::new(
            db_of(&[
                MD5,
                "$2b$04$F9pZCNeNjYPC2bNI7xXi1e4b8Q0vw2E.UMZzQjEysDhMqMqpCcojS",
            ]),
            Policy::default(),
        );
        assert_eq!(auth.dummy_setting(), "$2b$04");
        assert!(!format!("{auth:?}").contains("F9pZ"));
    }

    #[test]
    #[cfg(feature = "legacy-crypt")]
    fn a_setting_the_crate_refuses_is_passed_over() {
        // With the ceiling raised, sha1crypt's rounds may exceed the 32 bits
        // the crate reads: the costliest setting, and refused.
        let mut policy = Policy::default();
        policy.cost_limits.max_sha1_rounds = u64::MAX;
        let huge = "$sha1$4294967296$abcdefgh$P6DJFz1dZi5FX2eeV1LzUkzUIptN";
        let auth = Authenticator::new(db_of(&[huge, MD5]), policy);
        assert_eq!(auth.dummy_setting(), "$1");
    }

    #[test]
    fn without_usable_hashes_the_dummy_falls_back_within_the_ceilings() {
        let empty = || db_of(&["!", "*", "", "$7$CU..../....salt$hash"]);
        let auth = Authenticator::new(empty(), Policy::default());
        assert_eq!(auth.dummy_setting(), "$y$j9T");
        let mut policy = Policy::default();
        policy.cost_limits.max_yescrypt_memory = 1 << 20;
        assert_eq!(
            Authenticator::new(empty(), policy.clone()).dummy_setting(),
            "$6"
        );
        policy.cost_limits.max_sha_rounds = 1000;
        assert_eq!(
            Authenticator::new(empty(), policy.clone()).dummy_setting(),
            "$5$rounds=1000"
        );
        policy.cost_limits.max_sha_rounds = 999;
        assert_eq!(
            Authenticator::new(empty(), policy.clone()).dummy_setting(),
            "$2b$04"
        );
        policy.cost_limits.max_bcrypt_cost = 3;
        let auth = Authenticator::new(empty(), policy.clone());
        assert_eq!(
            (auth.dummy_setting(), auth.dummy_cost().format),
            ("", HashFormat::Des)
        );
        // Refusals still run it.
        assert_eq!(auth.authenticate(b"u0", b"x", 20_000), Outcome::Locked);
    }

    #[test]
    fn settings_are_read_from_the_shape() {
        let cases: &[(&[u8], &[u8])] = &[
            (b".VeFd7l2M2wmY", b""),
            (b"_J9..RDS8MsXnCZI71pA", b"_J9.."),
            (b"$1$kGnnuZIK$F1w/cEBvMjGuuF7NHP5Mj/", b"$1"),
            (b"$1$$F1w/cEBvMjGuuF7NHP5Mj/", b"$1"),
            (
                b"$sha1$24680$abcdefgh$P6DJFz1dZi5FX2eeV1LzUkzUIptN",
                b"$sha1$24680",
            ),
            (b"$6$rounds=5000$V4h1WzQaeQM8PT1J$RN5s", b"$6$rounds=5000"),
            (b"$6$V4h1WzQaeQM8PT1J$RN5s", b"$6"),
            (
                b"$2b$10$F9pZCNeNjYPC2bNI7xXi1e4b8Q0vw2E.UMZzQjEysDhMqMqpCcojS",
                b"$2b$10",
            ),
            (YESCRYPT.as_bytes(), b"$y$j9T"),
            (b"", b""),
            (b"$", b""),
            (b"$$", b""),
            (b"_", b"_"),
        ];
        for &(stored, setting) in cases {
            assert_eq!(
                setting_of(stored),
                setting,
                "{}",
                String::from_utf8_lossy(stored)
            );
        }
    }

    /// Every format's dummy is accepted by its crate, so refusals cost a
    /// real verification.
    #[test]
    fn every_formats_dummy_verifies() {
        let limits = CostLimits::default();
        let settings: &[(HashFormat, &[u8])] = &[
            (HashFormat::Des, b""),
            (HashFormat::BsdiDes, b"_J9.."),
            (HashFormat::Md5, b"$1"),
            (HashFormat::Sha1, b"$sha1$24680"),
            (HashFormat::Sha256, b"$5"),
            (HashFormat::Sha256, b"$5$rounds=1000"),
            (HashFormat::Sha512, b"$6"),
            (HashFormat::Sha512, b"$6$rounds=1000"),
            (HashFormat::Bcrypt, b"$2a$04"),
            (HashFormat::Bcrypt, b"$2b$04"),
            (HashFormat::Bcrypt, b"$2y$04"),
            (HashFormat::Yescrypt, b"$y$j9T"),
        ];
        for &(format, setting) in settings
            .iter()
            .chain(FALLBACKS)
            .filter(|(format, _)| format.is_enabled())
        {
            let dummy = dummy_for(format, setting, &limits).expect("within the default ceilings");
            assert_eq!(dummy.cost.format, format);
            assert_eq!(dummy.hash.as_bytes().get(..setting.len()), Some(setting));
            assert_eq!(
                hash::verify(b"", dummy.hash.as_bytes(), &limits),
                Ok(false),
                "{}",
                dummy.hash
            );
        }
    }

    /// A verification per account took 36 ms each; 1,000 accounts of one
    /// setting now cost one verification. (Per account, this would take
    /// 20 s or more even in a release build.)
    #[test]
    fn startup_does_not_verify_per_account() {
        let hashes = vec![YESCRYPT; 1000];
        let db = db_of(&hashes);
        let started = Instant::now();
        let auth = Authenticator::new(db, Policy::default());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(auth.dummy_setting(), "$y$j9T");
    }
}
