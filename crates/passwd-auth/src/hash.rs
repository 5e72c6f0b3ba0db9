//! crypt(5) hash strings: recognising the format, bounding the cost, and
//! verifying a password.

use yescrypt::{PasswordVerifier, password_hash};

use crate::HashError;

/// libxcrypt refuses passphrases of this many bytes or more
/// (`CRYPT_MAX_PASSPHRASE_SIZE`); so do we, for every format.
pub const MAX_PASSWORD_LEN: usize = 511;

/// The crypt(5) formats this crate verifies.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashFormat {
    /// Traditional DES: 13 characters, 2 of salt; only the first 8 bytes of
    /// the password count, and only 7 bits of each.
    Des,
    /// BSDi extended DES: `_` followed by 4 characters of rounds, 4 of salt
    /// and 11 of hash.
    BsdiDes,
    /// md5crypt, `$1$`.
    Md5,
    /// sha1crypt, `$sha1$`.
    Sha1,
    /// sha256crypt, `$5$`, with optional `rounds=`.
    Sha256,
    /// sha512crypt, `$6$`, with optional `rounds=`.
    Sha512,
    /// bcrypt, `$2a$`, `$2b$` or `$2y$`; only the first 72 bytes count.
    Bcrypt,
    /// yescrypt, `$y$`: Debian 12's default.
    Yescrypt,
}

impl HashFormat {
    /// Whether this build verifies the format: every format does, except
    /// descrypt, BSDi DES, md5crypt and sha1crypt without the
    /// `legacy-crypt` feature (on by default), which are then
    /// [`UnsupportedHash`](HashError::UnsupportedHash).
    ///
    /// ```
    /// use passwd_auth::HashFormat;
    ///
    /// assert!(HashFormat::Yescrypt.is_enabled());
    /// assert_eq!(HashFormat::Md5.is_enabled(), cfg!(feature = "legacy-crypt"));
    /// ```
    pub const fn is_enabled(self) -> bool {
        match self {
            Self::Des | Self::BsdiDes | Self::Md5 | Self::Sha1 => cfg!(feature = "legacy-crypt"),
            Self::Sha256 | Self::Sha512 | Self::Bcrypt | Self::Yescrypt => true,
        }
    }
}

/// What verifying a hash costs, read from its setting without hashing.
///
/// `work` is the format's own measure, so two hashes of one format compare
/// exactly. Across formats, [`estimated_time`](Self::estimated_time) puts
/// them on one scale.
///
/// ```
/// use passwd_auth::{CostLimits, HashCost, HashFormat};
///
/// let limits = CostLimits::default();
/// // Debian's default yescrypt: N = 4096, r = 32.
/// let yescrypt = HashCost::of(b"$y$j9T$YmmoKKC/j./bmivc08WMV/$Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5", &limits)?;
/// assert_eq!((yescrypt.format, yescrypt.work), (HashFormat::Yescrypt, 4096 * 32));
/// // bcrypt cost 10: 2^10.
/// let bcrypt = HashCost::of(b"$2b$10$F9pZCNeNjYPC2bNI7xXi1e4b8Q0vw2E.UMZzQjEysDhMqMqpCcojS", &limits)?;
/// assert_eq!(bcrypt.work, 1024);
/// // md5crypt's cost is fixed, and far lower than either.
/// let md5 = HashCost::of(b"$1$saltsalt$9xy1btjgzLYfb7hivXtC//", &limits)?;
/// assert!(md5.estimated_time() < yescrypt.estimated_time());
/// assert!(yescrypt.estimated_time() < bcrypt.estimated_time());
/// # Ok::<(), passwd_auth::HashError>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashCost {
    /// The format.
    pub format: HashFormat,
    /// The format's measure of work: rounds for BSDi DES, sha1crypt and
    /// sha-crypt (5,000 when the hash does not say); 2^cost for bcrypt;
    /// N × r for yescrypt; the fixed 25 DES encryptions of traditional DES
    /// and 1,000 iterations of md5crypt.
    pub work: u64,
}

/// Traditional DES encrypts 25 times, whatever the hash.
pub(crate) const DES_WORK: u64 = 25;
/// md5crypt iterates 1,000 times, whatever the hash.
const MD5_WORK: u64 = 1000;

impl HashCost {
    pub(crate) fn new(format: HashFormat, work: u64) -> Self {
        Self { format, work }
    }

    /// Recognises the format of a stored hash, checks its shape and cost
    /// against `limits` as [`identify`] does, and gives the cost; nothing
    /// is hashed.
    pub fn of(stored: &[u8], limits: &CostLimits) -> Result<Self, HashError> {
        shape(stored, limits)
    }

    /// About how long one verification takes with this crate on the
    /// machine of the crate's benchmarks (`docs/benchmarks.md`: 2 cores,
    /// x86-64 with SHA extensions), from each format's time per unit of
    /// [`work`](Self::work) measured there.
    ///
    /// Its use is to compare hashes of different formats: the ratios
    /// between formats hold roughly on other x86-64 machines, the absolute
    /// figures do not. To know the time on the machine at hand, time a
    /// verification there (for the dummy of an
    /// [`Authenticator`](crate::Authenticator), time
    /// [`run_dummy_verification`](crate::Authenticator::run_dummy_verification)).
    pub fn estimated_time(&self) -> std::time::Duration {
        // Picoseconds per unit of work, from `cargo bench -p passwd-auth
        // --bench verify` (the verification of the default-cost hashes;
        // time grows linearly with the work, at the ceilings too).
        let picos: u64 = match self.format {
            HashFormat::Des => 104_000,
            HashFormat::BsdiDes => 96_600,
            HashFormat::Md5 => 125_000,
            HashFormat::Sha1 => 231_000,
            HashFormat::Sha256 => 100_000,
            HashFormat::Sha512 => 264_000,
            HashFormat::Bcrypt => 53_100_000,
            // Up to 16 MiB (N × r = 2^17), yescrypt's memory stays in the
            // 32 MiB cache of that machine; beyond, each unit costs about
            // 1.35 times as much (32 ms for 16 MiB, 84 ms for 32, 172 ms
            // for 64, in one run). Machines with smaller caches see the
            // step sooner.
            HashFormat::Yescrypt if self.work <= 1 << 17 => 206_000,
            HashFormat::Yescrypt => 280_000,
        };
        std::time::Duration::from_nanos(self.work.saturating_mul(picos) / 1000)
    }
}

/// Ceilings on the cost a stored hash may ask for.
///
/// Stored hashes are trusted input, but not harmless: `rounds=999999999`, a
/// bcrypt cost of 31 or a yescrypt hash asking for gigabytes would tie up a
/// server for minutes or hours per login attempt. Over a ceiling,
/// verification fails with [`HashError::CostTooHigh`] before any hashing, and
/// the account cannot log in.
///
/// The defaults sit a step above the costs real systems write, and bound
/// one verification to well under a second on the machine of the crate's
/// benchmarks (2 cores; times from `cargo bench -p passwd-auth --bench
/// verify`, rows "at ceiling"). They also bound what every refusal costs:
/// an [`Authenticator`](crate::Authenticator)'s dummy has the costliest
/// setting among the accounts. An operator whose hashes cost more raises
/// the field:
///
/// ```
/// use passwd_auth::{CostLimits, HashError, verify};
///
/// // bcrypt cost 15: over the default ceiling of 14, refused unhashed.
/// let stored = b"$2b$15$EjLLSxvnxTC1Z3ttZLYm1um/DApxIhciouaEoF0Yj.uStiu/XCza.";
/// assert!(matches!(verify(b"password", stored, &CostLimits::default()), Err(HashError::CostTooHigh { cost: 15, ceiling: 14, .. })));
/// let mut limits = CostLimits::default();
/// limits.max_bcrypt_cost = 15;
/// assert_eq!(passwd_auth::identify(stored, &limits), Ok(passwd_auth::HashFormat::Bcrypt));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostLimits {
    /// Most rounds for sha256crypt and sha512crypt (5,000 when the hash
    /// has no `rounds=`). Default: 500,000. libxcrypt, shadow-utils and
    /// pam_unix write 5,000 unless configured otherwise, and hardening
    /// guides ask for tens to a few hundred thousand; 500,000 rounds take
    /// about 0.17 s with sha512crypt here (0.06 s with sha256crypt).
    pub max_sha_rounds: u64,
    /// Most rounds for sha1crypt. Default: 500,000. libxcrypt writes
    /// between 196,608 and 262,144 (NetBSD 24,680); 500,000 take about
    /// 0.13 s here.
    pub max_sha1_rounds: u64,
    /// Most rounds for BSDi DES. Default: 1,000,000. libxcrypt writes 725
    /// unless asked for more (the format allows 16,777,215); a million take
    /// about 0.12 s here.
    pub max_bsdi_rounds: u64,
    /// Highest bcrypt cost (log2 of the rounds). Default: 14. libxcrypt
    /// writes 5 by default, shadow-utils' `login.defs` suggests 13, web
    /// frameworks 10 to 12; 14 leaves one doubling above those and takes
    /// about 1 to 1.2 s here (cost 10 about 65 ms; each step doubles it).
    pub max_bcrypt_cost: u64,
    /// Most memory a yescrypt hash may use, in bytes (128 × N × r × p).
    /// Default: 64 MiB. libxcrypt's default (Debian's, `$y$j9T$`) uses
    /// 16 MiB; 64 MiB is `mkpasswd -R 7` (`$y$jBT$`), two steps above, and
    /// takes about 0.2 to 0.3 s here. Each verification in progress holds
    /// that much memory.
    pub max_yescrypt_memory: u64,
}

impl Default for CostLimits {
    fn default() -> Self {
        Self {
            max_sha_rounds: 500_000,
            max_sha1_rounds: 500_000,
            max_bsdi_rounds: 1_000_000,
            max_bcrypt_cost: 14,
            max_yescrypt_memory: 64 << 20,
        }
    }
}

/// The alphabet of crypt's base-64 encoding.
fn is_crypt64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'/'
}

fn crypt64_value(byte: u8) -> Option<u64> {
    let value = match byte {
        b'.' => 0,
        b'/' => 1,
        b'0'..=b'9' => byte - b'0' + 2,
        b'A'..=b'Z' => byte - b'A' + 12,
        b'a'..=b'z' => byte - b'a' + 38,
        _ => return None,
    };
    Some(u64::from(value))
}

fn malformed(reason: &'static str) -> HashError {
    HashError::MalformedHash { reason }
}

fn unsupported(format: &'static str) -> HashError {
    HashError::UnsupportedHash { format }
}

fn check_cost(format: HashFormat, cost: u64, ceiling: u64) -> Result<(), HashError> {
    if cost > ceiling {
        return Err(HashError::CostTooHigh {
            format,
            cost,
            ceiling,
        });
    }
    Ok(())
}

/// Recognises the format of a stored hash and checks its shape and cost,
/// without hashing anything. [`HashCost::of`] does the same and also says
/// what a verification costs.
///
/// ```
/// use passwd_auth::{CostLimits, HashError, HashFormat, identify};
///
/// let limits = CostLimits::default();
/// assert_eq!(identify(b"$6$VDDmApFWNqgm9AFk$bYjtR.jJ6YYzz3Q0OJ.6KolEA9mCi/WFLNenisC.uxpstrPsv6XSfUyB62RvI9ZMjDpRw4f6gxKXGHYiqei/N/", &limits), Ok(HashFormat::Sha512));
/// assert_eq!(identify(b"$7$CU..../....salt$hash", &limits), Err(HashError::UnsupportedHash { format: "scrypt" }));
/// assert!(matches!(identify(b"$2b$31$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ", &limits), Err(HashError::CostTooHigh { .. })));
/// ```
pub fn identify(stored: &[u8], limits: &CostLimits) -> Result<HashFormat, HashError> {
    HashCost::of(stored, limits).map(|cost| cost.format)
}

/// The shape checks of [`identify`], giving the cost as well.
fn shape(stored: &[u8], limits: &CostLimits) -> Result<HashCost, HashError> {
    if stored.is_empty() {
        return Err(malformed("empty"));
    }
    if !stored.iter().all(|b| b.is_ascii_graphic() && *b != b':') {
        return Err(malformed("characters a crypt hash never contains"));
    }
    let text = std::str::from_utf8(stored).map_err(|_| malformed("not ASCII"))?;
    if let Some(rest) = text.strip_prefix('$') {
        let id = rest.split(['$', ',']).next().unwrap_or_default();
        return match id {
            "1" => md5(rest),
            "5" => sha2(HashFormat::Sha256, rest, limits),
            "6" => sha2(HashFormat::Sha512, rest, limits),
            "sha1" => sha1(rest, limits),
            "2a" | "2b" | "2y" => bcrypt(rest, limits),
            "y" => yescrypt_shape(rest, limits),
            "2x" => Err(unsupported("bcrypt $2x$")),
            "2" => Err(unsupported("bcrypt $2$")),
            "gy" => Err(unsupported("gost-yescrypt")),
            "7" => Err(unsupported("scrypt")),
            "md5" => Err(unsupported("SunMD5")),
            "3" => Err(unsupported("NT hash")),
            "apr1" => Err(unsupported("Apache MD5")),
            _ => Err(unsupported("unknown $id$")),
        };
    }
    if let Some(rest) = text.strip_prefix('_') {
        return bsdi(rest, limits);
    }
    if !stored.iter().all(|&b| is_crypt64(b)) {
        return Err(malformed("not a crypt hash"));
    }
    match stored.len() {
        13 => Ok(HashCost::new(HashFormat::Des, DES_WORK)),
        len if len > 13 => Err(unsupported("bigcrypt")),
        _ => Err(malformed("too short for DES")),
    }
}

/// Exactly `N` items, without allocating (identification runs once per
/// account at startup).
fn exactly<'a, const N: usize>(mut items: impl Iterator<Item = &'a str>) -> Option<[&'a str; N]> {
    let mut out = [""; N];
    for slot in &mut out {
        *slot = items.next()?;
    }
    items.next().is_none().then_some(out)
}

/// `1$salt$hash`: salt of at most 8 characters (empty allowed), 22 of hash.
fn md5(rest: &str) -> Result<HashCost, HashError> {
    let Some([salt, hash]) = exactly(rest.split('$').skip(1)) else {
        return Err(malformed("md5crypt needs $1$salt$hash"));
    };
    if salt.len() > 8 || hash.len() != 22 || !hash.bytes().all(is_crypt64) {
        return Err(malformed("md5crypt salt or hash has the wrong length"));
    }
    Ok(HashCost::new(HashFormat::Md5, MD5_WORK))
}

/// `5$[rounds=N$]salt$hash` or `6$...`.
fn sha2(format: HashFormat, rest: &str, limits: &CostLimits) -> Result<HashCost, HashError> {
    let mut parts = rest.split('$').skip(1).peekable();
    // Without `rounds=`, sha-crypt uses 5,000.
    let mut work = 5000;
    if let Some(rounds) = parts.peek().and_then(|p| p.strip_prefix("rounds=")) {
        // libxcrypt refuses these outright, so no real file holds them.
        if rounds.is_empty()
            || rounds.starts_with('0')
            || !rounds.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(malformed("rounds= is not a plain number"));
        }
        let rounds: u64 = rounds
            .parse()
            .map_err(|_| malformed("rounds= is too large"))?;
        if !(1000..=999_999_999).contains(&rounds) {
            return Err(malformed("rounds= outside 1000..=999999999"));
        }
        work = rounds;
        parts.next();
    }
    // The implicit 5,000 counts too, should a ceiling be set below it.
    check_cost(format, work, limits.max_sha_rounds)?;
    let Some([salt, hash]) = exactly(parts) else {
        return Err(malformed("sha-crypt needs $id$salt$hash"));
    };
    if salt.is_empty() {
        // libxcrypt accepts `$5$$...`, no tool writes it, and the sha-crypt
        // crate refuses it: a typed error, never a match.
        return Err(unsupported("sha-crypt with an empty salt"));
    }
    let expected = if format == HashFormat::Sha256 { 43 } else { 86 };
    if salt.len() > 16 || hash.len() != expected || !hash.bytes().all(is_crypt64) {
        return Err(malformed("sha-crypt salt or hash has the wrong length"));
    }
    Ok(HashCost::new(format, work))
}

/// `sha1$rounds$salt$hash`.
fn sha1(rest: &str, limits: &CostLimits) -> Result<HashCost, HashError> {
    let Some([rounds, salt, hash]) = exactly(rest.split('$').skip(1)) else {
        return Err(malformed("sha1crypt needs $sha1$rounds$salt$hash"));
    };
    let rounds: u64 = rounds
        .parse()
        .map_err(|_| malformed("sha1crypt rounds is not a number"))?;
    if rounds == 0 || salt.is_empty() || salt.len() > 64 || hash.len() != 28 {
        return Err(malformed("sha1crypt fields have the wrong size"));
    }
    check_cost(HashFormat::Sha1, rounds, limits.max_sha1_rounds)?;
    Ok(HashCost::new(HashFormat::Sha1, rounds))
}

/// `2b$CC$` + 53 characters of salt and hash.
fn bcrypt(rest: &str, limits: &CostLimits) -> Result<HashCost, HashError> {
    let Some([cost, body]) = exactly(rest.split('$').skip(1)) else {
        return Err(malformed("bcrypt needs $2b$cost$salthash"));
    };
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("bcrypt cost is not two digits"));
    }
    let cost: u64 = cost
        .parse()
        .map_err(|_| malformed("bcrypt cost is not a number"))?;
    if !(4..=31).contains(&cost) {
        return Err(malformed("bcrypt cost outside 4..=31"));
    }
    if body.len() != 53 || !body.bytes().all(is_crypt64) {
        return Err(malformed("bcrypt salt and hash have the wrong length"));
    }
    check_cost(HashFormat::Bcrypt, cost, limits.max_bcrypt_cost)?;
    // 4..=31 was checked above.
    Ok(HashCost::new(HashFormat::Bcrypt, 1 << cost))
}

/// `y$params$salt$hash`.
fn yescrypt_shape(rest: &str, limits: &CostLimits) -> Result<HashCost, HashError> {
    let Some([params, salt, hash]) = exactly(rest.split('$').skip(1)) else {
        return Err(malformed("yescrypt needs $y$params$salt$hash"));
    };
    if salt.is_empty() {
        // libxcrypt accepts it; the yescrypt crate does not, so it is a
        // typed error here, never a match.
        return Err(unsupported("yescrypt with an empty salt"));
    }
    if !hash.bytes().all(is_crypt64) || !salt.bytes().all(is_crypt64) {
        return Err(malformed("yescrypt salt or hash is not crypt base-64"));
    }
    // The yescrypt crate compares only as many bytes as the stored digest
    // has, so a truncated digest would match far too easily (a 4-character
    // digest is 3 bytes). libxcrypt always writes 43 characters (32 bytes)
    // and compares whole strings; anything else is refused here.
    if hash.len() != 43 {
        return Err(malformed("yescrypt digest is not 43 characters"));
    }
    let settings = YescryptSettings::decode(params)?;
    check_cost(
        HashFormat::Yescrypt,
        settings.memory(),
        limits.max_yescrypt_memory,
    )?;
    Ok(HashCost::new(HashFormat::Yescrypt, settings.work()))
}

/// The yescrypt "flavor" libxcrypt writes for every `$y$` hash: the
/// read-write mode with 6 rounds, 4-way gather, 2-way simple and a 12 KiB
/// S-box (`YESCRYPT_DEFAULTS`), encoded as `j`.
const YESCRYPT_RW_FLAVOR: u32 = 0b10_1111;

/// yescrypt parameters, decoded and checked here rather than by the
/// yescrypt crate.
///
/// The crate's own parser trusts its input: a stored `$y$j.z...` reaches a
/// `Display` that panics, and N = 2^63 loops forever in its log2. So every
/// field is decoded with checked arithmetic, only the shape libxcrypt
/// writes is accepted (read-write flavor, p = 1, t = 0, no upgrades, no
/// ROM), and the encoding must be canonical, so the crate only ever sees
/// parameters it handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct YescryptSettings {
    log2_n: u32,
    r: u32,
}

impl YescryptSettings {
    fn decode(text: &str) -> Result<Self, HashError> {
        let mut reader = Yescrypt64 {
            bytes: text.as_bytes(),
        };
        let flavor = reader.field(0)?;
        let log2_n = reader.field(1)?;
        let r = reader.field(1)?;
        if flavor != YESCRYPT_RW_FLAVOR {
            return Err(unsupported("yescrypt in a mode other than read-write"));
        }
        if !reader.bytes.is_empty() {
            // Optional fields follow a bit set saying which are present;
            // an empty set is never written.
            let have = reader.field(1)?;
            if have == 0 || have > 0b1111 {
                return Err(malformed("yescrypt parameters are invalid"));
            }
            return Err(unsupported(
                "yescrypt with p, t, an upgrade or a ROM other than the default",
            ));
        }
        // N = 2^log2_n must exceed p = 1; 128 * N * r is bounded by the
        // caller's memory ceiling, but must first be representable.
        if !(1..=47).contains(&log2_n) {
            return Err(malformed("yescrypt N is out of range"));
        }
        if r >= 1 << 30 {
            return Err(malformed("yescrypt r is out of range"));
        }
        Ok(Self { log2_n, r })
    }

    /// Bytes of memory a verification takes: 128 * N * r.
    fn memory(self) -> u64 {
        (128u64 << self.log2_n).saturating_mul(u64::from(self.r))
    }

    /// N * r: time, like memory, grows with it (p = 1, t = 0).
    fn work(self) -> u64 {
        (1u64 << self.log2_n).saturating_mul(u64::from(self.r))
    }
}

/// Reads yescrypt's variable-length base-64 integers: a first character
/// below 48 is a value on its own; higher ones open ranges of 2, 3, ...
/// characters, each range continuing where the previous one ended, so every
/// value has exactly one encoding.
struct Yescrypt64<'a> {
    bytes: &'a [u8],
}

impl Yescrypt64<'_> {
    fn field(&mut self, min: u32) -> Result<u32, HashError> {
        let invalid = || malformed("yescrypt parameters are invalid");
        let (&first, rest) = self.bytes.split_first().ok_or_else(invalid)?;
        let first = crypt64_value(first).ok_or_else(invalid)?;
        self.bytes = rest;
        // (first character of the range, characters in it)
        let (mut start, mut end, mut extra) = (0u64, 47u64, 0u32);
        let mut offset = 0u64;
        while first > end {
            offset += (end + 1 - start) << (6 * extra);
            start = end + 1;
            end = start + (62 - end) / 2;
            extra += 1;
        }
        let mut value = (first - start) << (6 * extra);
        for shift in (0..extra).rev() {
            let (&next, rest) = self.bytes.split_first().ok_or_else(invalid)?;
            value |= crypt64_value(next).ok_or_else(invalid)? << (6 * shift);
            self.bytes = rest;
        }
        u32::try_from(u64::from(min) + offset + value).map_err(|_| invalid())
    }
}

/// `_` + 4 characters of rounds, 4 of salt, 11 of hash.
fn bsdi(rest: &str, limits: &CostLimits) -> Result<HashCost, HashError> {
    let bytes = rest.as_bytes();
    if bytes.len() != 19 || !bytes.iter().all(|&b| is_crypt64(b)) {
        return Err(malformed("BSDi DES needs _ and 19 characters"));
    }
    // Rounds: 24 bits, least significant character first.
    let rounds = bytes[..4]
        .iter()
        .rev()
        .try_fold(0u64, |acc, &b| crypt64_value(b).map(|v| (acc << 6) | v))
        .ok_or_else(|| malformed("BSDi DES rounds are not crypt base-64"))?;
    if rounds == 0 {
        return Err(malformed("BSDi DES with zero rounds"));
    }
    check_cost(HashFormat::BsdiDes, rounds, limits.max_bsdi_rounds)?;
    Ok(HashCost::new(HashFormat::BsdiDes, rounds))
}

/// Verifies `password` against a stored crypt hash.
///
/// `Ok(true)` is a match and `Ok(false)` a wrong password. Every other case
/// is a typed error and never a match: a lock marker or any string that is
/// not a hash ([`HashError::MalformedHash`]), a format no maintained crate
/// verifies ([`HashError::UnsupportedHash`]; descrypt, BSDi DES, md5crypt and
/// sha1crypt too when the `legacy-crypt` feature is off), a cost over the
/// ceiling ([`HashError::CostTooHigh`]), or a password of 512 bytes or more
/// ([`HashError::PasswordTooLong`]). The result is compared in constant time.
///
/// No stored string makes it panic or hang: [`identify`] checks each
/// format's shape and parameters before any hashing crate sees them, and
/// the fuzz gate replays every string that ever crashed a hashing crate in
/// a build where a panic aborts.
///
/// ```
/// use passwd_auth::{CostLimits, verify};
///
/// // `mkpasswd -m sha512crypt -S saltsaltsaltsalt secret`.
/// let stored = b"$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";
/// assert_eq!(verify(b"secret", stored, &CostLimits::default()), Ok(true));
/// assert_eq!(verify(b"Secret", stored, &CostLimits::default()), Ok(false));
/// // A lock marker in front: never a match, whatever the password.
/// assert!(verify(b"secret", b"!$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1", &CostLimits::default()).is_err());
/// ```
pub fn verify(password: &[u8], stored: &[u8], limits: &CostLimits) -> Result<bool, HashError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(HashError::PasswordTooLong {
            limit: MAX_PASSWORD_LEN,
        });
    }
    let format = identify(stored, limits)?;
    // `identify` accepted only ASCII.
    let stored = std::str::from_utf8(stored).map_err(|_| malformed("not ASCII"))?;
    match recompute(format, password, stored)? {
        Recomputed::Match => Ok(true),
        Recomputed::Mismatch => Ok(false),
        // The crate refused a string `identify` accepted: report it, so the
        // caller treats the account as unverifiable (and spends the dummy
        // hash), never as a quick wrong password.
        Recomputed::Refused => Err(malformed("the hashing crate refused this hash")),
    }
}

/// What recomputing a hash gave.
enum Recomputed {
    Match,
    Mismatch,
    Refused,
}

impl Recomputed {
    /// The outcome of a crate's `verify_password`, whose only "no" that
    /// means a wrong password is `PasswordInvalid`.
    fn of(outcome: Result<(), password_hash::Error>) -> Self {
        match outcome {
            Ok(()) => Self::Match,
            Err(password_hash::Error::PasswordInvalid) => Self::Mismatch,
            Err(_) => Self::Refused,
        }
    }

    #[cfg(feature = "legacy-crypt")]
    /// Compares a recomputed crypt string with the stored one, whole and in
    /// constant time, as libxcrypt's callers do.
    fn compare<E>(computed: Result<String, E>, stored: &str) -> Self {
        use subtle::ConstantTimeEq;
        match computed {
            Ok(computed) if bool::from(computed.as_bytes().ct_eq(stored.as_bytes())) => Self::Match,
            Ok(_) => Self::Mismatch,
            Err(_) => Self::Refused,
        }
    }
}

/// Recomputes the hash of `password` with `stored`'s setting and compares.
fn recompute(format: HashFormat, password: &[u8], stored: &str) -> Result<Recomputed, HashError> {
    Ok(match format {
        HashFormat::Sha256 | HashFormat::Sha512 => {
            Recomputed::of(sha_crypt::ShaCrypt::default().verify_password(password, stored))
        }
        HashFormat::Yescrypt => {
            Recomputed::of(yescrypt::Yescrypt::default().verify_password(password, stored))
        }
        // The bcrypt crate compares the decoded digests in constant time;
        // `identify` has already refused non-canonical base-64.
        HashFormat::Bcrypt => match bcrypt::verify(password, stored) {
            Ok(true) => Recomputed::Match,
            Ok(false) => Recomputed::Mismatch,
            Err(_) => Recomputed::Refused,
        },
        HashFormat::Des | HashFormat::BsdiDes | HashFormat::Md5 | HashFormat::Sha1 => {
            legacy::recompute(format, password, stored)?
        }
    })
}

/// The formats only pwhash verifies.
#[cfg(feature = "legacy-crypt")]
mod legacy {
    use super::{HashError, HashFormat, Recomputed};

    // pwhash marks these algorithms deprecated for *new* passwords;
    // checking the ones already stored is exactly what they remain for.
    #[allow(deprecated)]
    pub(super) fn recompute(
        format: HashFormat,
        password: &[u8],
        stored: &str,
    ) -> Result<Recomputed, HashError> {
        let computed = match format {
            HashFormat::Des => {
                pwhash::unix_crypt::hash_with(stored.get(..2).unwrap_or_default(), password)
            }
            HashFormat::BsdiDes => pwhash::bsdi_crypt::hash_with(stored, password),
            HashFormat::Md5 => pwhash::md5_crypt::hash_with(stored, password),
            HashFormat::Sha1 => pwhash::sha1_crypt::hash_with(stored, password),
            _ => return Ok(Recomputed::Refused),
        };
        Ok(Recomputed::compare(computed, stored))
    }
}

/// Without the `legacy-crypt` feature, the formats only pwhash verifies
/// are unsupported: a typed error, never a match.
#[cfg(not(feature = "legacy-crypt"))]
mod legacy {
    use super::{HashError, HashFormat, Recomputed, unsupported};

    pub(super) fn recompute(
        format: HashFormat,
        _password: &[u8],
        _stored: &str,
    ) -> Result<Recomputed, HashError> {
        Err(unsupported(match format {
            HashFormat::Des => "descrypt (the legacy-crypt feature is off)",
            HashFormat::BsdiDes => "BSDi DES (the legacy-crypt feature is off)",
            HashFormat::Md5 => "md5crypt (the legacy-crypt feature is off)",
            _ => "sha1crypt (the legacy-crypt feature is off)",
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let limits = CostLimits::default();
        assert_eq!(identify(b"abcdefghijklm", &limits), Ok(HashFormat::Des));
        assert_eq!(
            identify(b"abcdefghijklmn", &limits),
            Err(unsupported("bigcrypt"))
        );
        assert_eq!(
            identify(b"abc", &limits),
            Err(malformed("too short for DES"))
        );
        assert_eq!(
            identify(b"_J9..abcdabcdefghijk", &limits),
            Ok(HashFormat::BsdiDes)
        );
        assert_eq!(
            identify(b"_....abcdabcdefghijk", &limits),
            Err(malformed("BSDi DES with zero rounds"))
        );
        assert!(matches!(
            identify(b"_zzzzabcdabcdefghijk", &limits),
            Err(HashError::CostTooHigh { .. })
        ));
        assert_eq!(identify(b"!", &limits), Err(malformed("not a crypt hash")));
        assert_eq!(identify(b"*", &limits), Err(malformed("not a crypt hash")));
        assert_eq!(identify(b"", &limits), Err(malformed("empty")));
        assert_eq!(
            identify(b"$6$rounds=999$s$h", &limits),
            Err(malformed("rounds= outside 1000..=999999999"))
        );
        assert_eq!(
            identify(b"$6$rounds=01000$s$h", &limits),
            Err(malformed("rounds= is not a plain number"))
        );
        let huge = format!("$6$rounds=999999999$salt${}", "a".repeat(86));
        assert!(matches!(
            identify(huge.as_bytes(), &limits),
            Err(HashError::CostTooHigh {
                cost: 999_999_999,
                ..
            })
        ));
        assert_eq!(
            identify(b"$y$j9T$$abc", &limits),
            Err(unsupported("yescrypt with an empty salt"))
        );
        assert_eq!(
            identify(b"$gy$j9T$s$h", &limits),
            Err(unsupported("gost-yescrypt"))
        );
        assert_eq!(
            identify("$1$sält$h".as_bytes(), &limits),
            Err(malformed("characters a crypt hash never contains"))
        );
    }

    #[test]
    fn huge_yescrypt_memory_is_refused_before_hashing() {
        // N = 2^30, r = 32: 4 TiB.
        let stored = b"$y$jRT$salt$hash";
        let result = identify(stored, &CostLimits::default());
        assert!(
            matches!(
                result,
                Err(HashError::CostTooHigh {
                    format: HashFormat::Yescrypt,
                    ..
                }) | Err(HashError::MalformedHash { .. })
            ),
            "{result:?}"
        );
    }

    /// A 43-character digest, so only the parameters decide.
    const DIGEST: &str = "Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5";

    fn yescrypt_with(params: &str) -> String {
        format!("$y${params}$YmmoKKC/j./bmivc08WMV/${DIGEST}")
    }

    #[test]
    fn yescrypt_parameters_decode_as_libxcrypt_writes_them() {
        // Debian's default (N = 4096, r = 32) and `mkpasswd -R 11` (N = 2^13).
        assert_eq!(
            YescryptSettings::decode("j9T"),
            Ok(YescryptSettings { log2_n: 12, r: 32 })
        );
        assert_eq!(
            YescryptSettings::decode("jAT"),
            Ok(YescryptSettings { log2_n: 13, r: 32 })
        );
        // Two-character fields: 'k' opens the range starting at 48.
        assert_eq!(
            YescryptSettings::decode("j9k."),
            Ok(YescryptSettings { log2_n: 12, r: 49 })
        );
    }

    /// Parameter strings that panicked (`params encode failed`) or spun
    /// forever (N = 2^63) inside the yescrypt crate: refused here, quickly.
    #[test]
    fn yescrypt_crash_regressions_are_refused() {
        for params in [
            "j.zyxvrD", "jkC.", "jkC/", "j.", "j", "", "jz", "j9T.", "j9T/", "j9T5.0", "j953/2",
            "jC559", "j9T..", "/9T", ".9T", "j9zzzzzz",
        ] {
            let stored = yescrypt_with(params);
            let shape = identify(stored.as_bytes(), &CostLimits::default());
            assert!(shape.is_err(), "{params:?} gave {shape:?}");
            assert!(verify(b"password", stored.as_bytes(), &CostLimits::default()).is_err());
        }
    }

    proptest::proptest! {
        /// Whatever the parameter string, identification does not panic, and
        /// what it accepts the yescrypt crate reads as the same N and r.
        #[test]
        fn yescrypt_parameters_agree_with_the_crate(
            params in "j?[./0-9A-Za-z]{0,9}",
        ) {
            let stored = yescrypt_with(&params);
            let limits = CostLimits::default();
            if identify(stored.as_bytes(), &limits).is_ok() {
                let ours = YescryptSettings::decode(&params).expect("accepted above");
                let theirs: yescrypt::Params = params.parse().expect("the crate reads it too");
                proptest::prop_assert_eq!(theirs.n(), 1u64 << ours.log2_n);
                proptest::prop_assert_eq!(theirs.r(), ours.r);
                proptest::prop_assert_eq!(theirs.p(), 1);
            }
        }
    }

    #[test]
    fn too_long_password_is_refused() {
        let stored = b"$1$saltsalt$9xy1btjgzLYfb7hivXtC//";
        assert_eq!(
            verify(&[b'a'; 512], stored, &CostLimits::default()),
            Err(HashError::PasswordTooLong { limit: 511 })
        );
    }
}
