//! POP3 status lines and greetings: no panic on any bytes; a parsed line's
//! text is a suffix of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_client::{Greeting, StatusLine, apop_timestamp, parse_scan_listing, parse_stat, parse_unique_id_listing};

fuzz_target!(|line: &[u8]| {
    if let Ok(status) = StatusLine::parse(line) {
        assert!(line.ends_with(&status.text));
    }
    let _ = Greeting::parse(line);
    if let Some(stamp) = apop_timestamp(line) {
        assert!(stamp.starts_with(b"<") && stamp.ends_with(b">"));
    }
    let _ = parse_stat(line);
    let _ = parse_scan_listing(line);
    if let Ok((_, id)) = parse_unique_id_listing(line) {
        assert!(!id.is_empty() && id.len() <= 70);
    }
});
