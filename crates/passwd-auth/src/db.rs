//! passwd(5) and shadow(5): line parsers and an account database built from
//! file contents.

use std::collections::HashMap;

use bytes::Bytes;

use crate::{EntryError, MapHasher};

/// Which file a line came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `/etc/passwd` or a file in its format.
    Passwd,
    /// `/etc/shadow` or a file in its format.
    Shadow,
}

impl core::fmt::Display for FileKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Passwd => "passwd",
            Self::Shadow => "shadow",
        })
    }
}

/// One entry of a passwd file, borrowed from the line: seven fields
/// separated by `:`.
///
/// ```
/// use passwd_auth::PasswdLine;
///
/// let line = PasswdLine::parse(b"john:x:1000:1000:John Doe,,,:/home/john:/bin/bash")?.unwrap();
/// assert_eq!(line.name, b"john");
/// assert_eq!(line.password, b"x");
/// assert_eq!((line.uid, line.gid), (1000, 1000));
/// // Comments, blank lines and NIS `+`/`-` lines are not entries.
/// assert!(PasswdLine::parse(b"# comment")?.is_none());
/// assert!(PasswdLine::parse(b"+@netgroup")?.is_none());
/// # Ok::<(), passwd_auth::EntryError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PasswdLine<'a> {
    /// The user name; bytes, since names need not be UTF-8.
    pub name: &'a [u8],
    /// The password field: usually `x` (look in shadow), else a hash.
    pub password: &'a [u8],
    /// The numeric user id.
    pub uid: u32,
    /// The numeric group id.
    pub gid: u32,
    /// The comment (GECOS) field.
    pub gecos: &'a [u8],
    /// The home directory.
    pub home: &'a [u8],
    /// The login shell.
    pub shell: &'a [u8],
}

/// One entry of a shadow file, borrowed from the line: nine fields separated
/// by `:`. Day counts are days since 1970-01-01; an empty field is `None`.
///
/// Lines are refused as glibc's `sgetspent` and `getspnam` refuse them
/// (checked against glibc 2.36): a day count must be empty or a number
/// from 0 to 4294967295, so a negative one is refused, `-1` included
/// (shadow-utils writes an empty field for "unset"); the ninth field must
/// be empty or such a number; and the line must hold no CR. glibc reads the
/// CR of a CRLF line end as part of the ninth field and refuses the line;
/// a CR anywhere else is refused here too, since no name or hash holds one.
///
/// ```
/// use passwd_auth::ShadowLine;
///
/// let line = ShadowLine::parse(b"john:$y$j9T$salt$hash:19700:0:99999:7:::")?.unwrap();
/// assert_eq!(line.hash, b"$y$j9T$salt$hash");
/// assert_eq!(line.last_change, Some(19700));
/// assert_eq!(line.max_age, Some(99999));
/// assert_eq!(line.expire_date, None);
/// // What glibc refuses: a negative day count, -1 included, and a CRLF line end.
/// assert!(ShadowLine::parse(b"john:$y$j9T$salt$hash:19700:0:99999:7::-1:").is_err());
/// assert!(ShadowLine::parse(b"john:$y$j9T$salt$hash:19700:0:99999:7:::\r\n").is_err());
/// # Ok::<(), passwd_auth::EntryError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShadowLine<'a> {
    /// The user name.
    pub name: &'a [u8],
    /// The password hash, or a lock marker (`!`, `*`), or empty.
    pub hash: &'a [u8],
    /// Day of the last password change; `Some(0)` means "must change",
    /// `None` disables aging.
    pub last_change: Option<i64>,
    /// Days before the password may be changed again.
    pub min_age: Option<i64>,
    /// Days after which the password must be changed.
    pub max_age: Option<i64>,
    /// Days of warning before the password expires.
    pub warn_period: Option<i64>,
    /// Days after expiry during which the old password still works.
    pub inactive_period: Option<i64>,
    /// Day the account expires.
    pub expire_date: Option<i64>,
    /// The reserved ninth field: empty or a number, as glibc requires.
    pub reserved: &'a [u8],
}

// Hashes are what an attacker cracks offline: no Debug output shows them.
impl core::fmt::Debug for PasswdLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PasswdLine")
            .field("name", &String::from_utf8_lossy(self.name))
            .field(
                "password",
                &if self.password == b"x" {
                    "x"
                } else {
                    "<redacted>"
                },
            )
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("home", &String::from_utf8_lossy(self.home))
            .field("shell", &String::from_utf8_lossy(self.shell))
            .finish()
    }
}

impl core::fmt::Debug for ShadowLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShadowLine")
            .field("name", &String::from_utf8_lossy(self.name))
            .field("hash", &"<redacted>")
            .field("last_change", &self.last_change)
            .field("max_age", &self.max_age)
            .field("inactive_period", &self.inactive_period)
            .field("expire_date", &self.expire_date)
            .finish()
    }
}

impl core::fmt::Debug for StoredHash<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Hash(_) => f.write_str("Hash(<redacted>)"),
            Self::MissingShadow => f.write_str("MissingShadow"),
        }
    }
}

/// Strips the line end (LF, and the CR of a CRLF if `strip_cr`) and says
/// whether the line holds an entry at all: blank lines, `#` comments and
/// NIS `+`/`-` lines do not.
fn entry_text(line: &[u8], strip_cr: bool) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = if strip_cr {
        line.strip_suffix(b"\r").unwrap_or(line)
    } else {
        line
    };
    let first = line.iter().position(|b| !b.is_ascii_whitespace())?;
    match line[first] {
        // NIS compat lines: only nss_compat gives them meaning; a file
        // database has no NIS to ask, so they are skipped.
        b'#' | b'+' | b'-' => None,
        _ => Some(&line[first..]),
    }
}

/// Splits a line into exactly `N` `:`-separated fields.
fn fields<const N: usize>(line: &[u8]) -> Result<[&[u8]; N], &'static str> {
    let mut out = [&line[..0]; N];
    let mut parts = line.split(|&b| b == b':');
    for slot in &mut out {
        *slot = parts.next().ok_or("too few fields")?;
    }
    if parts.next().is_some() {
        return Err("too many fields");
    }
    Ok(out)
}

fn id(field: &[u8], what: &'static str) -> Result<u32, &'static str> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(what)
}

/// A number field of shadow(5): empty is `None`; otherwise a number from 0
/// to 4294967295, as glibc reads it (an unsigned 32-bit number, so a
/// negative one is refused, and so is one that does not fit).
fn shadow_number(field: &[u8], what: &'static str) -> Result<Option<u32>, &'static str> {
    if field.is_empty() {
        return Ok(None);
    }
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or(what)
}

/// A day count of shadow(5); see [`shadow_number`].
fn days(field: &[u8], what: &'static str) -> Result<Option<i64>, &'static str> {
    Ok(shadow_number(field, what)?.map(i64::from))
}

impl<'a> PasswdLine<'a> {
    /// Parses one line (with or without its LF or CRLF). `Ok(None)` for a
    /// line that holds no entry: blank, `#` comment, or NIS `+`/`-`.
    pub fn parse(line: &'a [u8]) -> Result<Option<Self>, EntryError> {
        Self::parse_fields(line).map_err(|reason| EntryError::MalformedEntry {
            file: FileKind::Passwd,
            reason,
        })
    }

    fn parse_fields(line: &'a [u8]) -> Result<Option<Self>, &'static str> {
        let Some(text) = entry_text(line, true) else {
            return Ok(None);
        };
        let [name, password, uid, gid, gecos, home, shell] = fields::<7>(text)?;
        if name.is_empty() {
            return Err("empty user name");
        }
        Ok(Some(Self {
            name,
            password,
            uid: id(uid, "user id is not a number")?,
            gid: id(gid, "group id is not a number")?,
            gecos,
            home,
            shell,
        }))
    }
}

impl<'a> ShadowLine<'a> {
    /// Parses one line (with or without its LF or CRLF). `Ok(None)` for a
    /// line that holds no entry: blank, `#` comment, or NIS `+`/`-`.
    pub fn parse(line: &'a [u8]) -> Result<Option<Self>, EntryError> {
        Self::parse_fields(line).map_err(|reason| EntryError::MalformedEntry {
            file: FileKind::Shadow,
            reason,
        })
    }

    fn parse_fields(line: &'a [u8]) -> Result<Option<Self>, &'static str> {
        let Some(text) = entry_text(line, false) else {
            return Ok(None);
        };
        // The whole line, not just the entry: a CR before the name would
        // otherwise pass as leading white space (found by fuzzing).
        if memchr::memchr(b'\r', line).is_some() {
            return Err("line contains a carriage return");
        }
        let [name, hash, last, min, max, warn, inactive, expire, reserved] = fields::<9>(text)?;
        if name.is_empty() {
            return Err("empty user name");
        }
        shadow_number(
            reserved,
            "reserved field is not empty or a number from 0 to 4294967295",
        )?;
        Ok(Some(Self {
            name,
            hash,
            last_change: days(last, "last change is not a number from 0 to 4294967295")?,
            min_age: days(min, "minimum age is not a number from 0 to 4294967295")?,
            max_age: days(max, "maximum age is not a number from 0 to 4294967295")?,
            warn_period: days(warn, "warning period is not a number from 0 to 4294967295")?,
            inactive_period: days(
                inactive,
                "inactivity period is not a number from 0 to 4294967295",
            )?,
            expire_date: days(expire, "expiry date is not a number from 0 to 4294967295")?,
            reserved,
        }))
    }

    /// The name field of a shadow line that holds an entry, even one that
    /// is malformed otherwise.
    fn name_field(line: &'a [u8]) -> Option<&'a [u8]> {
        let name = entry_text(line, false)?.split(|&b| b == b':').next()?;
        (!name.is_empty()).then_some(name)
    }
}

/// The shadow(5) part of an account.
#[derive(Clone, PartialEq, Eq)]
pub struct ShadowInfo {
    /// The password hash, or a lock marker, or empty.
    pub hash: Bytes,
    /// See [`ShadowLine::last_change`].
    pub last_change: Option<i64>,
    /// See [`ShadowLine::min_age`].
    pub min_age: Option<i64>,
    /// See [`ShadowLine::max_age`].
    pub max_age: Option<i64>,
    /// See [`ShadowLine::warn_period`].
    pub warn_period: Option<i64>,
    /// See [`ShadowLine::inactive_period`].
    pub inactive_period: Option<i64>,
    /// See [`ShadowLine::expire_date`].
    pub expire_date: Option<i64>,
}

impl core::fmt::Debug for ShadowInfo {
    // A hash is not a password, but it is what an attacker cracks offline:
    // keep it out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShadowInfo")
            .field("hash", &"<redacted>")
            .field("last_change", &self.last_change)
            .field("min_age", &self.min_age)
            .field("max_age", &self.max_age)
            .field("warn_period", &self.warn_period)
            .field("inactive_period", &self.inactive_period)
            .field("expire_date", &self.expire_date)
            .finish()
    }
}

/// A user account: its passwd entry and, if there is one, its shadow entry.
/// Fields share the memory of the loaded file contents.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name.
    pub name: Bytes,
    /// The passwd password field (`x` when the hash is in shadow).
    pub passwd_field: Bytes,
    /// The numeric user id.
    pub uid: u32,
    /// The numeric group id.
    pub gid: u32,
    /// The comment (GECOS) field.
    pub gecos: Bytes,
    /// The home directory.
    pub home: Bytes,
    /// The login shell.
    pub shell: Bytes,
    /// The shadow entry with the same name, if any.
    pub shadow: Option<ShadowInfo>,
    /// The first shadow line with this name could not be parsed (it is
    /// among [`PasswdDb::problems`]), so `shadow` is `None`. glibc skips
    /// such a line and finds no entry; here the account cannot log in,
    /// whatever its passwd field says: see [`StoredHash::MissingShadow`].
    pub shadow_malformed: bool,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field(
                "passwd_field",
                &if self.passwd_field[..] == *b"x" {
                    "x"
                } else {
                    "<redacted>"
                },
            )
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("home", &String::from_utf8_lossy(&self.home))
            .field("shell", &String::from_utf8_lossy(&self.shell))
            .field("shadow", &self.shadow)
            .field("shadow_malformed", &self.shadow_malformed)
            .finish()
    }
}

/// Where an account's hash is stored, as pam_unix decides it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StoredHash<'a> {
    /// The hash to check (possibly a lock marker or empty).
    Hash(&'a [u8]),
    /// passwd says `x` (look in shadow), but shadow has no entry; or the
    /// first shadow line with the account's name is malformed, whatever
    /// passwd says. A line glibc refuses thus never lets its account in:
    /// one with an administrator's `-5` in the expiry field, say, which old
    /// pam_unix read as "expired" and Linux-PAM 1.6 as "never".
    MissingShadow,
}

impl Account {
    /// The hash to verify against: the shadow entry's when the passwd field
    /// is `x`, otherwise the passwd field itself; no hash at all when the
    /// account's shadow line is malformed.
    pub fn stored_hash(&self) -> StoredHash<'_> {
        if self.shadow_malformed {
            return StoredHash::MissingShadow;
        }
        if self.passwd_field[..] == *b"x" {
            match &self.shadow {
                Some(shadow) => StoredHash::Hash(&shadow.hash),
                None => StoredHash::MissingShadow,
            }
        } else {
            StoredHash::Hash(&self.passwd_field)
        }
    }
}

/// The accounts of a passwd file and an optional shadow file, looked up by
/// name in O(1).
///
/// Built from the files' *contents*: reading `/etc/shadow` (and having the
/// right to) is the caller's business. Lines that cannot be parsed are
/// skipped, as glibc skips them, and reported by [`problems`](Self::problems)
/// with their line numbers. When a name appears twice, the first entry wins,
/// as with `getpwnam`. A malformed shadow line counts as its name's entry
/// there: if it comes first, the account has no usable shadow entry
/// ([`Account::shadow_malformed`]) and cannot log in, where glibc would go
/// on to a later line with the name. A broken line is a sign of a botched
/// edit, and refusing the account until it is fixed never lets anyone in
/// by accident.
///
/// ```
/// use passwd_auth::{PasswdDb, StoredHash};
///
/// let passwd = b"root:x:0:0:root:/root:/bin/bash\njohn:x:1000:1000::/home/john:/bin/sh\n";
/// let shadow = b"root:!:19000::::::\njohn:$6$salt$hash:19000:0:99999:7:::\n";
/// let db = PasswdDb::parse(passwd, Some(shadow));
/// assert_eq!(db.len(), 2);
/// let john = db.get(b"john").unwrap();
/// assert_eq!(john.stored_hash(), StoredHash::Hash(b"$6$salt$hash"));
/// assert!(db.get(b"nobody").is_none());
/// assert!(db.problems().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct PasswdDb {
    accounts: Vec<Account>,
    by_name: HashMap<Bytes, usize, MapHasher>,
    problems: Vec<EntryError>,
}

impl PasswdDb {
    /// Parses passwd contents and, if given, shadow contents.
    pub fn parse(passwd: &[u8], shadow: Option<&[u8]>) -> Self {
        let mut db = Self::default();
        let passwd = Bytes::copy_from_slice(passwd);
        for (number, line) in lines(&passwd) {
            match PasswdLine::parse_fields(&line) {
                Ok(Some(entry)) => db.add(&line, entry),
                Ok(None) => {}
                Err(reason) => db.problems.push(EntryError::MalformedLine {
                    file: FileKind::Passwd,
                    line: number,
                    reason,
                }),
            }
        }
        if let Some(shadow) = shadow {
            let shadow = Bytes::copy_from_slice(shadow);
            let mut seen = std::collections::HashSet::<_, MapHasher>::default();
            for (number, line) in lines(&shadow) {
                match ShadowLine::parse_fields(&line) {
                    Ok(Some(entry)) => {
                        // First entry wins; later duplicates are ignored.
                        if seen.insert(line.slice_ref(entry.name)) {
                            db.attach(&line, entry);
                        }
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        db.problems.push(EntryError::MalformedLine {
                            file: FileKind::Shadow,
                            line: number,
                            reason,
                        });
                        if let Some(name) = ShadowLine::name_field(&line) {
                            if seen.insert(line.slice_ref(name)) {
                                db.mark_shadow_malformed(name);
                            }
                        }
                    }
                }
            }
        }
        db
    }

    /// The account called `name`, if any.
    pub fn get(&self, name: &[u8]) -> Option<&Account> {
        self.by_name.get(name).map(|&index| &self.accounts[index])
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The accounts, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter()
    }

    /// The lines that were skipped because they could not be parsed.
    pub fn problems(&self) -> &[EntryError] {
        &self.problems
    }

    fn add(&mut self, line: &Bytes, entry: PasswdLine<'_>) {
        let name = line.slice_ref(entry.name);
        if self.by_name.contains_key(&name) {
            return;
        }
        self.by_name.insert(name.clone(), self.accounts.len());
        self.accounts.push(Account {
            name,
            passwd_field: line.slice_ref(entry.password),
            uid: entry.uid,
            gid: entry.gid,
            gecos: line.slice_ref(entry.gecos),
            home: line.slice_ref(entry.home),
            shell: line.slice_ref(entry.shell),
            shadow: None,
            shadow_malformed: false,
        });
    }

    fn mark_shadow_malformed(&mut self, name: &[u8]) {
        if let Some(&index) = self.by_name.get(name) {
            self.accounts[index].shadow_malformed = true;
        }
    }

    fn attach(&mut self, line: &Bytes, entry: ShadowLine<'_>) {
        let Some(&index) = self.by_name.get(entry.name) else {
            return;
        };
        self.accounts[index].shadow = Some(ShadowInfo {
            hash: line.slice_ref(entry.hash),
            last_change: entry.last_change,
            min_age: entry.min_age,
            max_age: entry.max_age,
            warn_period: entry.warn_period,
            inactive_period: entry.inactive_period,
            expire_date: entry.expire_date,
        });
    }
}

/// The lines of `contents` with their 1-based numbers, sharing its memory.
fn lines(contents: &Bytes) -> impl Iterator<Item = (usize, Bytes)> + '_ {
    let mut start = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        if start >= contents.len() {
            return None;
        }
        let end =
            memchr::memchr(b'\n', &contents[start..]).map_or(contents.len(), |at| start + at + 1);
        let line = contents.slice(start..end);
        start = end;
        number += 1;
        Some((number, line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        assert_eq!(PasswdLine::parse(b""), Ok(None));
        assert_eq!(PasswdLine::parse(b"   \r\n"), Ok(None));
        assert_eq!(PasswdLine::parse(b"-baduser"), Ok(None));
        assert_eq!(
            PasswdLine::parse_fields(b"a:x:1:2:g:h"),
            Err("too few fields")
        );
        assert_eq!(
            PasswdLine::parse_fields(b"a:x:1:2:g:h:s:extra"),
            Err("too many fields")
        );
        assert_eq!(
            PasswdLine::parse_fields(b"a:x:one:2:g:h:s"),
            Err("user id is not a number")
        );
        assert_eq!(
            PasswdLine::parse(b":x:1:2:g:h:s"),
            Err(EntryError::MalformedEntry {
                file: FileKind::Passwd,
                reason: "empty user name"
            })
        );
        let entry = PasswdLine::parse(b"j\xf6rg:x:1:2::/home/j:/bin/sh\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(entry.name, b"j\xf6rg");
        assert_eq!(entry.shell, b"/bin/sh");
    }

    #[test]
    fn shadow_lines() {
        let entry = ShadowLine::parse(b"a:!:0:0:99999:7:::\n").unwrap().unwrap();
        assert_eq!(entry.hash, b"!");
        assert_eq!(entry.last_change, Some(0));
        assert_eq!(entry.inactive_period, None);
        assert_eq!(
            ShadowLine::parse_fields(b"a:h:x::::::"),
            Err("last change is not a number from 0 to 4294967295")
        );
        assert_eq!(
            ShadowLine::parse_fields(b"a:h::::::"),
            Err("too few fields")
        );
        // Blank and comment lines with a CR hold no entry, as for glibc.
        assert_eq!(ShadowLine::parse(b"\r\n"), Ok(None));
        assert_eq!(ShadowLine::parse(b"# comment\r\n"), Ok(None));
    }

    /// Each line was fed to glibc 2.36's `sgetspent`; the comment says what
    /// it gave.
    #[test]
    fn shadow_numbers_as_glibc_reads_them() {
        let refused = [
            // CR at the line end, or anywhere.
            &b"a:h:19000:0:99999:7:::\r\n"[..],
            b"a:h:19000:0:99999:7:::\r",
            b"a:h:19000\r:0:99999:7:::",
            // A CR before the name: refused by our rule (found by the
            // fuzz target; not one of the lines fed to glibc).
            b"\ra:h:19000:0:99999:7:::\n",
            b" \ra:h:19000:0:99999:7:::\n",
            // Negative numbers, -1 included.
            b"a:h:19000:0:99999:7::-1:",
            b"a:h:19000:0:99999:7::-5:",
            b"a:h:-5:0:99999:7:::",
            b"a:h:19000:0:99999:7::-9223372036854775808:",
            // Over 32 bits.
            b"a:h:19000:0:99999:7::4294967296:",
            b"a:h:19000:0:99999:7::9999999999:",
            // Not a number, or trailing space.
            b"a:h:19000:0:99999:7::0x5:",
            b"a:h:19000:0:99999:7::5 :",
            // The ninth field must be empty or a number.
            b"a:h:19000:0:99999:7:::x",
            b"a:h:19000:0:99999:7:::-1",
            b"a:h:19000:0:99999:7::: ",
        ];
        for line in refused {
            assert!(
                ShadowLine::parse(line).is_err(),
                "{}",
                String::from_utf8_lossy(line).escape_debug()
            );
        }
        // Accepted by glibc, with these values.
        let max = ShadowLine::parse(b"a:h:19000:0:99999:7::4294967295:4294967295")
            .unwrap()
            .unwrap();
        assert_eq!(max.expire_date, Some(4_294_967_295));
        let plus = ShadowLine::parse(b"a:h:+0:0:99999:7::+5:")
            .unwrap()
            .unwrap();
        assert_eq!((plus.last_change, plus.expire_date), (Some(0), Some(5)));
        let empty = ShadowLine::parse(b"a:h:::::::").unwrap().unwrap();
        assert_eq!(empty.last_change, None);
        assert_eq!(empty.expire_date, None);
    }

    #[test]
    fn a_malformed_first_shadow_line_leaves_its_account_no_entry() {
        let passwd = b"a:x:1:1::/:/bin/sh\nb:$1$s$h:2:2::/:/bin/sh\nc:x:3:3::/:/bin/sh\n";
        // a: broken first, valid second; b: hash in passwd, broken shadow
        // line; c: valid first, broken second (ignored, reported).
        let shadow =
            b"a:h:19000::::-5::\na:h:19000::::::\nb:h:-1::::::\nc:h:1::::::\nc:h:-1::::::\n";
        let db = PasswdDb::parse(passwd, Some(shadow));
        for name in [&b"a"[..], b"b"] {
            let account = db.get(name).unwrap();
            assert!(account.shadow_malformed);
            assert!(account.shadow.is_none());
            assert_eq!(account.stored_hash(), StoredHash::MissingShadow);
        }
        let c = db.get(b"c").unwrap();
        assert!(!c.shadow_malformed);
        assert_eq!(c.stored_hash(), StoredHash::Hash(b"h"));
        assert_eq!(db.problems().len(), 3);
    }

    #[test]
    fn first_entry_wins_and_problems_have_line_numbers() {
        let passwd = b"# users\nroot:x:0:0::/root:/bin/sh\nroot:FIRST-LOSES:0:0::/:/bin/sh\nbroken line\n+nis\n";
        let shadow = b"root:$1$a$first:1::::::\nroot:$1$a$second:1::::::\nroot:bad:x::::::\n";
        let db = PasswdDb::parse(passwd, Some(shadow));
        assert_eq!(db.len(), 1);
        let root = db.get(b"root").unwrap();
        assert_eq!(root.passwd_field, "x");
        assert_eq!(root.stored_hash(), StoredHash::Hash(b"$1$a$first"));
        assert_eq!(
            db.problems(),
            [
                EntryError::MalformedLine {
                    file: FileKind::Passwd,
                    line: 4,
                    reason: "too few fields"
                },
                EntryError::MalformedLine {
                    file: FileKind::Shadow,
                    line: 3,
                    reason: "last change is not a number from 0 to 4294967295"
                },
            ]
        );
    }

    #[test]
    fn x_without_shadow_entry_is_reported_as_such() {
        let db = PasswdDb::parse(b"a:x:1:1::/:/bin/sh\nb:$1$s$h:2:2::/:/bin/sh\n", None);
        assert_eq!(
            db.get(b"a").unwrap().stored_hash(),
            StoredHash::MissingShadow
        );
        assert_eq!(
            db.get(b"b").unwrap().stored_hash(),
            StoredHash::Hash(b"$1$s$h")
        );
    }

    #[test]
    fn debug_hides_hashes() {
        let db = PasswdDb::parse(b"a:x:1:1::/:/bin/sh\n", Some(b"a:$6$secret$hash:1::::::\n"));
        let shown = format!("{db:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
