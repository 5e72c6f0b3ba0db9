//! Sets `cfg(has_<tool>)` for what the Dovecot SASL tests need and this
//! machine has; without them those tests are reported as ignored, with the
//! reason. Only for this workspace's tests: the file is excluded from the
//! published package (see `Cargo.toml`).

#[path = "../../examples/build/test_tools.rs"]
mod test_tools;

use test_tools::Probe::{File, Root};
use test_tools::Tool;

fn main() {
    test_tools::detect(&[
        Tool {
            name: "dovecot",
            install: "Dovecot's POP3 server (Debian: dovecot-core, dovecot-pop3d)",
            probes: &[File("/usr/sbin/dovecot"), File("/usr/lib/dovecot/pop3")],
        },
        // Dovecot, started by the tests, switches to `nobody` to read mail.
        Tool {
            name: "root",
            install: "root: run the tests as root (Dovecot switches to the nobody user)",
            probes: &[Root],
        },
    ]);
    // After detect(): when it fails the build, cargo shows its message alone.
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../../examples/build/test_tools.rs");
}
