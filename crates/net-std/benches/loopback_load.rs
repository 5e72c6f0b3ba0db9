//! Loopback load run (written below).
fn main() {}
