//! shadow(5) parsing: no panic on any bytes; what glibc refuses (a CR,
//! a negative day count, `-1` included, or one over 32 bits) is refused;
//! attached shadow entries belong to accounts of the passwd side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passwd_auth::{PasswdDb, ShadowLine, StoredHash};

fuzz_target!(|contents: &[u8]| {
    for line in contents.split_inclusive(|&b| b == b'\n') {
        if let Ok(Some(entry)) = ShadowLine::parse(line) {
            assert!(!entry.name.is_empty());
            assert!(!line.contains(&b'\r'));
            // Day counts are what glibc reads: 0 to 2^32 - 1, or unset.
            for days in [
                entry.last_change,
                entry.min_age,
                entry.max_age,
                entry.warn_period,
                entry.inactive_period,
                entry.expire_date,
            ]
            .into_iter()
            .flatten()
            {
                assert!((0..=i64::from(u32::MAX)).contains(&days));
            }
        }
    }
    // The same bytes as a passwd file and as its shadow file.
    let db = PasswdDb::parse(contents, Some(contents));
    for account in db.iter() {
        assert_eq!(db.get(&account.name).map(|a| &a.name), Some(&account.name));
        // An account whose shadow line is malformed has no hash to check.
        if account.shadow_malformed {
            assert!(account.shadow.is_none());
            assert_eq!(account.stored_hash(), StoredHash::MissingShadow);
        }
    }
});
