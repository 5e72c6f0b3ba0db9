//! Agreement with the system's libxcrypt: settings are made at test time by
//! `mkpasswd` (Debian's `whois` package), and libxcrypt's own `crypt()` is
//! called through Python's `ctypes` (Python's `crypt` module is gone since
//! 3.13; `ctypes` and `libcrypt.so.1` are not). For every stored hash and
//! every candidate password, our `verify` must say what libxcrypt says.
//!
//! Without `mkpasswd`, `python3` or `libcrypt.so.1`, the tests are
//! reported as ignored, with the reason (found at build time: `build.rs`);
//! under `CI=true` the build fails instead.

use std::io::Write;
use std::process::{Command, Stdio};

use passwd_auth::{CostLimits, HashError, identify, verify};

/// A setting (method, cost and a fresh salt) made by libxcrypt through
/// `mkpasswd`: the hash of a throwaway password, usable as a crypt setting.
fn setting(method: &str, extra: &[&str]) -> String {
    let mut child = Command::new("mkpasswd")
        .args(["-m", method, "-s"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run mkpasswd");
    child.stdin.take().unwrap().write_all(b"throwaway").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "mkpasswd -m {method} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Asks libxcrypt's `crypt()` (through Python's `ctypes`) for
/// `crypt(word, setting)` of every pair; `None` where it fails (libxcrypt
/// then returns a string starting with `*`).
fn libxcrypt(pairs: &[(String, String)]) -> Vec<Option<String>> {
    let script = r#"
import ctypes, json, sys
lib = ctypes.CDLL("libcrypt.so.1")
lib.crypt.restype = ctypes.c_char_p
lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
pairs = json.loads(sys.stdin.buffer.read().decode("utf-8"))
out = []
for word, setting in pairs:
    hashed = lib.crypt(word.encode("utf-8"), setting.encode("utf-8"))
    out.append(None if not hashed or hashed.startswith(b"*") else hashed.decode("ascii"))
sys.stdout.write(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let request = serde_like_json(pairs);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 calling libxcrypt failed");
    parse_json_strings(&String::from_utf8(out.stdout).unwrap())
}

/// Encodes pairs of strings as JSON (enough of JSON for this test).
fn serde_like_json(pairs: &[(String, String)]) -> String {
    let quote = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let items: Vec<String> = pairs
        .iter()
        .map(|(a, b)| format!("[{},{}]", quote(a), quote(b)))
        .collect();
    format!("[{}]", items.join(","))
}

/// Decodes a JSON array of strings and nulls whose strings are crypt
/// output (printable ASCII without quotes or backslashes).
fn parse_json_strings(json: &str) -> Vec<Option<String>> {
    let inner = json.trim().trim_start_matches('[').trim_end_matches(']');
    if inner.trim().is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|item| {
            let item = item.trim();
            (item != "null").then(|| item.trim_matches('"').to_owned())
        })
        .collect()
}

/// The passwords every format is tried with.
fn passwords() -> Vec<String> {
    vec![
        String::new(),
        "secret".into(),
        "pässwörd 👍🏽".into(),
        "a:b c : d ".into(),
        " leading and trailing ".into(),
        "12345678".into(),
        "12345678 and more after DES's eighth byte".into(),
        "y".repeat(72),
        "y".repeat(72) + "tail that bcrypt ignores",
        "z".repeat(511),
    ]
}

/// Candidate passwords to try against the hash of `password`: itself, and
/// near misses (some of which libxcrypt accepts: DES and bcrypt truncate).
fn candidates(password: &str) -> Vec<String> {
    let mut out = vec![
        password.to_owned(),
        format!("{password}!"),
        password.to_uppercase(),
    ];
    if !password.is_empty() {
        out.push(
            password[..password.len() - password.chars().last().unwrap().len_utf8()].to_owned(),
        );
    }
    out
}

/// Checks `verify` against libxcrypt for every password and candidate,
/// with hashes made from `settings`.
fn agree_with_libxcrypt(name: &str, settings: &[String]) {
    let mut pairs = Vec::new();
    for setting in settings {
        for password in passwords() {
            pairs.push((password, setting.clone()));
        }
    }
    let hashes = libxcrypt(&pairs);
    let mut checks = Vec::new();
    for ((password, _), stored) in pairs.iter().zip(&hashes) {
        let stored = stored
            .clone()
            .unwrap_or_else(|| panic!("{name}: libxcrypt could not hash {password:?}"));
        for candidate in candidates(password) {
            checks.push((candidate, stored.clone()));
        }
    }
    let answers = libxcrypt(&checks);
    let limits = CostLimits::default();
    let mut matches = 0;
    for ((candidate, stored), answer) in checks.iter().zip(&answers) {
        let expected = answer.as_deref() == Some(stored.as_str());
        let got = verify(candidate.as_bytes(), stored.as_bytes(), &limits);
        let format = identify(stored.as_bytes(), &limits).expect("libxcrypt's hash is well-formed");
        if !format.is_enabled() {
            // Built without `legacy-crypt`: a typed error, never a match.
            assert!(
                matches!(
                    got,
                    Err(HashError::UnsupportedHash { .. } | HashError::PasswordTooLong { .. })
                ),
                "{name}: {got:?}"
            );
            matches += 1;
            continue;
        }
        if candidate.len() > 511 {
            // libxcrypt fails on these (ERANGE); we refuse them by type.
            assert!(!expected);
            assert_eq!(
                got,
                Err(HashError::PasswordTooLong { limit: 511 }),
                "{name}"
            );
            continue;
        }
        assert_eq!(
            got,
            Ok(expected),
            "{name}: candidate {candidate:?} against {stored}"
        );
        matches += usize::from(expected);
    }
    assert!(
        matches >= passwords().len() * settings.len(),
        "{name}: every right password matched"
    );
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn descrypt() {
    agree_with_libxcrypt("descrypt", &[setting("descrypt", &[])]);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn bsdicrypt() {
    agree_with_libxcrypt("bsdicrypt", &[setting("bsdicrypt", &[])]);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn md5crypt() {
    // An empty salt is accepted by libxcrypt, and by us.
    agree_with_libxcrypt("md5crypt", &[setting("md5crypt", &[]), "$1$$".into()]);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn sha256crypt() {
    let settings = [
        setting("sha256crypt", &[]),
        setting("sha256crypt", &["-R", "12345"]),
    ];
    agree_with_libxcrypt("sha256crypt", &settings);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn sha512crypt() {
    let settings = [
        setting("sha512crypt", &[]),
        setting("sha512crypt", &["-R", "1000"]),
    ];
    agree_with_libxcrypt("sha512crypt", &settings);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn sha1crypt() {
    agree_with_libxcrypt("sha1crypt", &["$sha1$4800$abcdefgh$".into()]);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn bcrypt() {
    let b = setting("bcrypt", &["-R", "5"]);
    let a = setting("bcrypt-a", &["-R", "5"]);
    // $2y$ is the same algorithm as $2b$; libxcrypt hashes it on request.
    let y = b.replacen("$2b$", "$2y$", 1);
    agree_with_libxcrypt("bcrypt", &[b, a, y]);
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn yescrypt() {
    agree_with_libxcrypt(
        "yescrypt",
        &[setting("yescrypt", &[]), setting("yescrypt", &["-R", "3"])],
    );
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn a_512_byte_password_is_refused_as_libxcrypt_refuses_it() {
    let stored = setting("sha512crypt", &[]);
    let answer = libxcrypt(&[("z".repeat(512), stored.clone())]);
    assert_ne!(answer[0].as_deref(), Some(stored.as_str()));
    assert_eq!(
        verify(
            "z".repeat(512).as_bytes(),
            stored.as_bytes(),
            &CostLimits::default()
        ),
        Err(HashError::PasswordTooLong { limit: 511 })
    );
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn empty_yescrypt_salt_is_a_typed_error_never_a_match() {
    let stored = libxcrypt(&[("secret".into(), "$y$j9T$$".into())])
        .remove(0)
        .expect("libxcrypt accepts it");
    assert_eq!(
        verify(b"secret", stored.as_bytes(), &CostLimits::default()),
        Err(HashError::UnsupportedHash {
            format: "yescrypt with an empty salt"
        })
    );
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn empty_sha_crypt_salt_is_a_typed_error_never_a_match() {
    for setting in ["$5$$", "$6$$", "$5$rounds=1000$$"] {
        let stored = libxcrypt(&[("secret".into(), setting.into())])
            .remove(0)
            .expect("libxcrypt accepts it");
        assert_eq!(
            verify(b"secret", stored.as_bytes(), &CostLimits::default()),
            Err(HashError::UnsupportedHash {
                format: "sha-crypt with an empty salt"
            }),
            "{stored}"
        );
    }
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn formats_without_a_maintained_crate_are_unsupported_never_a_match() {
    for (method, format) in [
        ("scrypt", "scrypt"),
        ("gost-yescrypt", "gost-yescrypt"),
        ("sunmd5", "SunMD5"),
        ("nt", "NT hash"),
    ] {
        let stored = setting(method, &[]);
        assert_eq!(
            verify(b"throwaway", stored.as_bytes(), &CostLimits::default()),
            Err(HashError::UnsupportedHash { format }),
            "{method}: {stored}"
        );
    }
}

#[test]
#[cfg_attr(
    not(all(has_mkpasswd, has_python3, has_libcrypt)),
    ignore = "needs mkpasswd, python3 and libcrypt.so.1 (Debian: whois, python3, libcrypt1)"
)]
fn truncated_and_damaged_hashes_never_match() {
    let limits = CostLimits::default();
    for method in [
        "descrypt",
        "bsdicrypt",
        "md5crypt",
        "sha256crypt",
        "sha512crypt",
        "bcrypt",
        "yescrypt",
    ] {
        let extra: &[&str] = if method == "bcrypt" {
            &["-R", "4"]
        } else {
            &[]
        };
        let stored = setting(method, extra);
        if !identify(stored.as_bytes(), &limits).is_ok_and(|f| f.is_enabled()) {
            continue;
        }
        assert_eq!(
            verify(b"throwaway", stored.as_bytes(), &limits),
            Ok(true),
            "{stored}"
        );
        for cut in 0..stored.len() {
            let damaged = &stored.as_bytes()[..cut];
            assert_ne!(
                verify(b"throwaway", damaged, &limits),
                Ok(true),
                "{method} cut at {cut}"
            );
        }
        for locked in [
            format!("!{stored}"),
            format!("*{stored}"),
            format!("!!{stored}"),
        ] {
            assert!(
                verify(b"throwaway", locked.as_bytes(), &limits).is_err(),
                "{locked}"
            );
        }
        // One character changed in the digest.
        let mut bytes = stored.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'a' { b'b' } else { b'a' };
        assert_ne!(
            verify(b"throwaway", &bytes, &limits),
            Ok(true),
            "{method} damaged"
        );
    }
}
