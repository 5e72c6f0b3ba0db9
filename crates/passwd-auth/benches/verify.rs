//! Verification cost per format next to libxcrypt's own `crypt()`, at the
//! usual costs and at the default cost ceilings ([`CostLimits`]), the cost
//! of an unknown user next to a wrong password, and loading and looking up
//! a 100,000-user file.
//!
//! `cargo bench -p passwd-auth --bench verify` first prints a comparison
//! table, measured in this run. For each hash it gives the median time of
//! our `verify` and of libxcrypt's `crypt()` on the same hash, the latter
//! called through Python's `ctypes` (about 0.3 µs of call overhead, which
//! only shows on DES). It then runs the divan benchmarks.

use std::process::Command;
use std::time::{Duration, Instant};

use divan::{Bencher, black_box};
use passwd_auth::{Authenticator, CostLimits, PasswdDb, Policy, verify};

/// Hashes of "password", made with `mkpasswd` (and Python's crypt for sha1crypt).
const HASHES: &[(&str, &str)] = &[
    ("descrypt", ".VeFd7l2M2wmY"),
    ("bsdicrypt", "_J9..RDS8MsXnCZI71pA"),
    ("md5crypt", "$1$kGnnuZIK$F1w/cEBvMjGuuF7NHP5Mj/"),
    (
        "sha1crypt 24680",
        "$sha1$24680$abcdefgh$P6DJFz1dZi5FX2eeV1LzUkzUIptN",
    ),
    (
        "sha256crypt",
        "$5$snozbqVDTNN3zzNo$.zf21LD4wrGQSVByADBqsfehoJ..sA6sM/lESn.sDn1",
    ),
    (
        "sha512crypt",
        "$6$V4h1WzQaeQM8PT1J$RN5spqMtqULS.TIm/2ul3VgzrHuI1/iKZ25YZPlmuEwr0Cjh9yAZWygbMobyEfeMSTyfcqvH74oJPDg.NvaCq0",
    ),
    (
        "bcrypt 10",
        "$2b$10$F9pZCNeNjYPC2bNI7xXi1e4b8Q0vw2E.UMZzQjEysDhMqMqpCcojS",
    ),
    (
        "yescrypt",
        "$y$j9T$YmmoKKC/j./bmivc08WMV/$Byt0CoQBZ6uq44qz6ans3t.gEQ2e0HnsdEbMyMDQqh5",
    ),
];

/// Hashes of "password" at the default ceilings of [`CostLimits`]: the most
/// a stored hash may cost unless the operator raises them. Made with
/// `mkpasswd -R` (sha1crypt and BSDi DES with Python's crypt).
const CEILINGS: &[(&str, &str)] = &[
    ("bsdicrypt 999,999 (ceiling)", "_z6o1RDS8eEO2wWTbHq6"),
    (
        "sha1crypt 500,000 (ceiling)",
        "$sha1$500000$abcdefgh$zD48a4JrOvFccnyFqR6BsoR8cMOQ",
    ),
    (
        "sha256crypt 500,000 (ceiling)",
        "$5$rounds=500000$L7b1iHC2AH3JnvWv$ozzQPMrlQ3CdTQmA95qtz.lsbi8yT/yPmXU4NaEdHI4",
    ),
    (
        "sha512crypt 500,000 (ceiling)",
        "$6$rounds=500000$NqHLPGgqPj5Qzowm$Z3Lltz16mYbSFa1uRyEsCV4UnWsDLvSt6a8o8cJUmS0lN2jZ/0fT963nF4F.64n//3p.6E5p8jlH27uAJL2WW/",
    ),
    (
        "bcrypt 14 (ceiling)",
        "$2b$14$EjLLSxvnxTC1Z3ttZLYm1um/DApxIhciouaEoF0Yj.uStiu/XCza.",
    ),
    (
        "yescrypt jBT, 64 MiB (ceiling)",
        "$y$jBT$vUBpzOiTnXOltW8AQY7Pd/$SGTzSOobjqCBKfx1XDZ8MkB3PJamTRQCRAoNs4QD7YC",
    ),
];

fn main() {
    if std::env::args().any(|arg| arg == "--bench") {
        compare_with_libxcrypt();
    }
    divan::main();
}

/// Median wall time of `f` over enough runs to fill about `budget`.
fn median(budget: Duration, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    f();
    let once = started.elapsed().max(Duration::from_nanos(1));
    let runs = (budget.as_secs_f64() / once.as_secs_f64()).clamp(5.0, 2001.0) as usize;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// libxcrypt's median µs per `crypt(password, hash)`, called through
/// Python's `ctypes` (Python's `crypt` module is gone since 3.13).
fn libxcrypt_micros(hash: &str) -> Option<f64> {
    let script = r#"
import ctypes, sys, time
lib = ctypes.CDLL("libcrypt.so.1")
lib.crypt.restype = ctypes.c_char_p
lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
h = sys.argv[1].encode()
crypt = lambda: lib.crypt(b"password", h)
assert crypt() == h
once = time.perf_counter(); crypt(); once = time.perf_counter() - once
runs = max(5, min(2001, int(0.5 / max(once, 1e-9))))
times = []
for _ in range(runs):
    t = time.perf_counter(); crypt(); times.append(time.perf_counter() - t)
times.sort()
print(times[len(times) // 2] * 1e6)
"#;
    let out = Command::new("python3")
        .args(["-c", script, hash])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn compare_with_libxcrypt() {
    println!("| format | libxcrypt crypt() | passwd-auth verify | ratio (ours / libxcrypt) |");
    println!("|---|---:|---:|---:|");
    let limits = CostLimits::default();
    for (name, hash) in HASHES.iter().chain(CEILINGS) {
        assert_eq!(
            verify(b"password", hash.as_bytes(), &limits),
            Ok(true),
            "{name}"
        );
        let ours = median(Duration::from_millis(500), || {
            black_box(verify(black_box(b"password"), hash.as_bytes(), &limits)).ok();
        })
        .as_secs_f64()
            * 1e6;
        match libxcrypt_micros(hash) {
            Some(theirs) => println!(
                "| {name} | {theirs:.1} µs | {ours:.1} µs | {:.2} |",
                ours / theirs
            ),
            None => println!("| {name} | (python3 crypt unavailable) | {ours:.1} µs | |"),
        }
    }
    println!();
}

#[divan::bench(args = HASHES.iter().map(|(name, _)| *name))]
fn verify_right_password(bencher: Bencher<'_, '_>, name: &str) {
    let hash = HASHES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| *h)
        .unwrap_or_default();
    let limits = CostLimits::default();
    bencher.bench(|| verify(black_box(b"password"), hash.as_bytes(), &limits));
}

/// One verification at each default ceiling: the longest a stored hash may
/// hold a login unless the operator raises the ceiling.
#[divan::bench(args = CEILINGS.iter().map(|(name, _)| *name), sample_count = 10)]
fn verify_at_ceiling(bencher: Bencher<'_, '_>, name: &str) {
    let hash = CEILINGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| *h)
        .unwrap_or_default();
    let limits = CostLimits::default();
    bencher.bench(|| verify(black_box(b"password"), hash.as_bytes(), &limits));
}

/// An account database whose every hash is yescrypt, Debian's default.
fn yescrypt_accounts() -> Authenticator {
    let hash = HASHES
        .iter()
        .find(|(n, _)| *n == "yescrypt")
        .map(|(_, h)| *h)
        .unwrap_or_default();
    let passwd = b"alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n";
    let shadow = format!("alice:{hash}:19000:0:99999:7:::\nbob:{hash}:19000:0:99999:7:::\n");
    Authenticator::new(
        PasswdDb::parse(passwd, Some(shadow.as_bytes())),
        Policy::default(),
    )
}

/// These two must cost the same within noise: otherwise timing would tell
/// an attacker which user names exist.
#[divan::bench]
fn wrong_password(bencher: Bencher<'_, '_>) {
    let auth = yescrypt_accounts();
    bencher.bench(|| auth.authenticate(black_box(b"alice"), b"wrong", 20_000));
}

/// See [`wrong_password`].
#[divan::bench]
fn unknown_user(bencher: Bencher<'_, '_>) {
    let auth = yescrypt_accounts();
    bencher.bench(|| auth.authenticate(black_box(b"mallory"), b"wrong", 20_000));
}

/// A passwd and shadow pair of `count` users.
fn big_files(count: usize) -> (Vec<u8>, Vec<u8>) {
    let mut passwd = Vec::new();
    let mut shadow = Vec::new();
    for i in 0..count {
        passwd.extend_from_slice(
            format!("user{i}:x:{i}:{i}:User {i},,,:/home/user{i}:/bin/bash\n").as_bytes(),
        );
        shadow.extend_from_slice(
            format!("user{i}:$y$j9T$abcdefghijklmnopqrstuv$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ:19000:0:99999:7:::\n")
                .as_bytes(),
        );
    }
    (passwd, shadow)
}

#[divan::bench(sample_count = 20)]
fn load_100k_users(bencher: Bencher<'_, '_>) {
    let (passwd, shadow) = big_files(100_000);
    bencher.bench(|| PasswdDb::parse(black_box(&passwd), Some(&shadow)));
}

#[divan::bench(args = [1_000, 100_000])]
fn lookup(bencher: Bencher<'_, '_>, count: usize) {
    let (passwd, shadow) = big_files(count);
    let db = PasswdDb::parse(&passwd, Some(&shadow));
    let name = format!("user{}", count / 2);
    bencher.bench(|| db.get(black_box(name.as_bytes())).is_some());
}
