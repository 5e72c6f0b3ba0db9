//! CAPA lists: no panic; every listed tag is found again by name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_client::Capabilities;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let Ok(caps) = Capabilities::parse(lines) else { return };
    for cap in caps.iter() {
        assert!(caps.has(&cap.name));
    }
    let _ = (caps.pipelining(), caps.stls(), caps.utf8(), caps.sasl_mechanism(b"PLAIN"));
});
