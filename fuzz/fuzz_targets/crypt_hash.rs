//! Stored hash strings: recognising and verifying never panics, and never
//! matches a string that is not a well-formed hash. Byte 0 splits the input
//! into password and stored hash; cost ceilings are low so every run is
//! cheap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passwd_auth::{CostLimits, identify, verify};

fuzz_target!(|raw: &[u8]| {
    let Some((&split, rest)) = raw.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (password, stored) = rest.split_at(split);
    let mut limits = CostLimits::default();
    limits.max_sha_rounds = 5_000;
    limits.max_sha1_rounds = 5_000;
    limits.max_bsdi_rounds = 5_000;
    limits.max_bcrypt_cost = 4;
    limits.max_yescrypt_memory = 1 << 20;
    let shape = identify(stored, &limits);
    let result = verify(password, stored, &limits);
    if shape.is_err() {
        assert!(result.is_err());
    }
});
