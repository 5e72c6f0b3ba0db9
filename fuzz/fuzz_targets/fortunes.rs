//! Fortune file parsing: no panic, every fortune non-blank and LF-terminated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reverse_proto::Fortunes;

fuzz_target!(|contents: &[u8]| {
    let fortunes = Fortunes::parse(contents);
    for fortune in fortunes.iter() {
        assert!(fortune.ends_with(b"\n"));
        assert!(!fortune.iter().all(u8::is_ascii_whitespace));
    }
    let _ = fortunes.pick(u64::MAX);
});
