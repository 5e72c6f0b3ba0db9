//! Sets `cfg(has_<tool>)` for each external tool the libxcrypt agreement
//! tests need and this machine has; without them those tests are reported
//! as ignored, with the reason. Only for this workspace's tests: the file
//! is excluded from the published package (see `Cargo.toml`).

#[path = "../../examples/build/test_tools.rs"]
mod test_tools;

use test_tools::Probe::{Executable, Library};
use test_tools::Tool;

fn main() {
    test_tools::detect(&[
        Tool {
            name: "mkpasswd",
            install: "mkpasswd (Debian: whois)",
            probes: &[Executable("mkpasswd")],
        },
        Tool {
            name: "python3",
            install: "python3 (Debian: python3)",
            probes: &[Executable("python3")],
        },
        Tool {
            name: "libcrypt",
            install: "libcrypt.so.1 (Debian: libcrypt1)",
            probes: &[Library("libcrypt.so.1")],
        },
    ]);
    // After detect(): when it fails the build, cargo shows its message alone.
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../../examples/build/test_tools.rs");
}
