//! Sets `cfg(has_<tool>)` for each external tool the end-to-end tests need
//! and this machine has; a test whose tool is missing is then reported as
//! ignored, with the reason. See `build/test_tools.rs`.

#[path = "build/test_tools.rs"]
mod test_tools;

use test_tools::Probe::{Executable, File, Proc, Root};
use test_tools::Tool;

fn main() {
    test_tools::detect(&[
        Tool {
            name: "nc",
            install: "nc (Debian: netcat-openbsd)",
            probes: &[Executable("nc")],
        },
        Tool {
            name: "telnet",
            install: "telnet (Debian: telnet)",
            probes: &[Executable("telnet")],
        },
        Tool {
            name: "script",
            install: "script (Debian: bsdutils)",
            probes: &[Executable("script")],
        },
        Tool {
            name: "fortunes",
            install: "/usr/share/games/fortunes/computers (Debian: fortunes)",
            probes: &[File("/usr/share/games/fortunes/computers")],
        },
        Tool {
            name: "proc",
            install: "a mounted /proc",
            probes: &[Proc],
        },
        Tool {
            name: "haproxy",
            install: "haproxy (Debian: haproxy)",
            probes: &[Executable("haproxy")],
        },
        // The browser test runs these two paths, not whatever is on PATH.
        Tool {
            name: "chromium",
            install: "/usr/bin/chromium (Debian: chromium)",
            probes: &[File("/usr/bin/chromium")],
        },
        Tool {
            name: "chromedriver",
            install: "/usr/bin/chromedriver (Debian: chromium-driver)",
            probes: &[File("/usr/bin/chromedriver")],
        },
        Tool {
            name: "dovecot",
            install: "Dovecot's POP3 server (Debian: dovecot-core, dovecot-pop3d)",
            probes: &[File("/usr/sbin/dovecot"), File("/usr/lib/dovecot/pop3")],
        },
        Tool {
            name: "openssl",
            install: "openssl (Debian: openssl)",
            probes: &[Executable("openssl")],
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
    println!("cargo::rerun-if-changed=build/test_tools.rs");
}
