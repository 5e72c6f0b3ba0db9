//! shadow(5) parsing: no panic on any bytes; `-1` is read as unset;
//! attached shadow entries belong to accounts of the passwd side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passwd_auth::{PasswdDb, ShadowLine};

fuzz_target!(|contents: &[u8]| {
    for line in contents.split_inclusive(|&b| b == b'\n') {
        if let Ok(Some(entry)) = ShadowLine::parse(line) {
            assert!(!entry.name.is_empty());
            // -1 means "unset", as for pam_unix; it never comes out as a value.
            assert!(entry.expire_date != Some(-1) && entry.last_change != Some(-1));
        }
    }
    // The same bytes as a passwd file and as its shadow file.
    let db = PasswdDb::parse(contents, Some(contents));
    for account in db.iter() {
        assert_eq!(db.get(&account.name).map(|a| &a.name), Some(&account.name));
    }
});
