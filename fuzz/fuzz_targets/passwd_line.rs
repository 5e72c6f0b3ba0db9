//! passwd(5) parsing: no panic on any bytes, a line and the database agree,
//! and every account found can be looked up by its name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passwd_auth::{PasswdDb, PasswdLine};

fuzz_target!(|contents: &[u8]| {
    let db = PasswdDb::parse(contents, None);
    let mut entries = 0;
    for line in contents.split_inclusive(|&b| b == b'\n') {
        if let Ok(Some(entry)) = PasswdLine::parse(line) {
            entries += 1;
            assert!(db.get(entry.name).is_some());
        }
    }
    assert!(db.len() <= entries);
});
