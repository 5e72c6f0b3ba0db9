//! Startup: building an [`Authenticator`] from a 100,000-account passwd and
//! shadow pair, next to parsing the same bytes, in the same run.
//!
//! `cargo bench -p passwd-auth --bench startup`. Every account has a
//! yescrypt hash with Debian's default parameters (`$y$j9T$`) and a salt
//! and digest of its own. `Authenticator::new` used to verify every hash
//! once to pick its dummy, 36 ms each: 45 minutes for these files. It now
//! reads each hash's shape and verifies one dummy.
//!
//! * `parse`: `PasswdDb::parse`, the baseline.
//! * `new`: `Authenticator::new` on a database parsed beforehand (outside
//!   the timing).
//! * `parse_then_new`: both, as a server starts.

use divan::{Bencher, black_box};
use passwd_auth::{Authenticator, PasswdDb, Policy};

const ACCOUNTS: usize = 100_000;

fn main() {
    divan::main();
}

/// crypt's base-64 alphabet.
const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` characters of crypt base-64 spelling `value` (and `seed`), so
/// every account's salt and digest differ. Made up, not computed: they
/// have the shape `identify` checks (22 salt characters as libxcrypt
/// writes, a 43-character digest), which is all the startup reads.
fn crypt64(mut value: u64, seed: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    value = value.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
    for _ in 0..len {
        out.push(char::from(CRYPT64[(value % 64) as usize]));
        value = value.rotate_right(6).wrapping_add(seed | 1);
    }
    out
}

/// The passwd and shadow contents of `ACCOUNTS` users.
fn files() -> (Vec<u8>, Vec<u8>) {
    let mut passwd = Vec::new();
    let mut shadow = Vec::new();
    for i in 0..ACCOUNTS {
        let id = 10_000 + i;
        passwd.extend_from_slice(
            format!("user{i}:x:{id}:{id}:User {i},,,:/home/user{i}:/bin/bash\n").as_bytes(),
        );
        let salt = crypt64(i as u64, 0x5A17, 22);
        let digest = crypt64(i as u64, 0x00D1_6E57, 43);
        shadow.extend_from_slice(
            format!("user{i}:$y$j9T${salt}${digest}:19000:0:99999:7:::\n").as_bytes(),
        );
    }
    (passwd, shadow)
}

#[divan::bench(sample_count = 20)]
fn parse(bencher: Bencher<'_, '_>) {
    let (passwd, shadow) = files();
    bencher.bench(|| PasswdDb::parse(black_box(&passwd), Some(black_box(&shadow))));
}

#[divan::bench(sample_count = 20)]
fn new(bencher: Bencher<'_, '_>) {
    let (passwd, shadow) = files();
    let check = Authenticator::new(PasswdDb::parse(&passwd, Some(&shadow)), Policy::default());
    assert_eq!(check.db().len(), ACCOUNTS);
    assert!(check.db().problems().is_empty());
    assert_eq!(check.dummy_setting(), "$y$j9T");
    bencher
        .with_inputs(|| PasswdDb::parse(&passwd, Some(&shadow)))
        .bench_values(|db| Authenticator::new(db, Policy::default()));
}

#[divan::bench(sample_count = 20)]
fn parse_then_new(bencher: Bencher<'_, '_>) {
    let (passwd, shadow) = files();
    bencher.bench(|| {
        Authenticator::new(
            PasswdDb::parse(black_box(&passwd), Some(black_box(&shadow))),
            Policy::default(),
        )
    });
}
