//! Finds, at build time, the external tools some tests need, so that a test
//! whose tool is missing is reported by `cargo test` as ignored, with the
//! reason, instead of passing without having run.
//!
//! Each tool found sets `cfg(has_<name>)`, and a test that needs it carries
//! `#[cfg_attr(not(has_<name>), ignore = "needs <tool> (Debian: <package>)")]`.
//! Under `CI=true` a missing tool fails the build instead, with one message
//! naming every missing tool and its Debian package: in CI a test must
//! never be quietly left out.
//!
//! `TEST_PRETEND_MISSING=nc,telnet` (names as in `has_<name>`, or `all`)
//! treats those tools as missing, to see the ignored tests, or the CI
//! failure, without uninstalling anything.
//!
//! Shared by the build scripts of `examples` and `passwd-auth` (which
//! includes it by path; the file is not part of its published package).

#![allow(dead_code)] // each build script uses some of the probes

use std::path::{Path, PathBuf};
use std::process::Command;

/// How a tool is looked for.
pub(crate) enum Probe {
    /// An executable of this name in a directory of `PATH`.
    Executable(&'static str),
    /// A file at this absolute path.
    File(&'static str),
    /// A shared library of this name in the usual library directories
    /// (where `dlopen` finds it).
    Library(&'static str),
    /// A mounted `/proc`.
    Proc,
    /// Root privileges (the effective user id of the build is taken to be
    /// that of the test run).
    Root,
}

/// One tool that tests need.
pub(crate) struct Tool {
    /// The `<name>` of `cfg(has_<name>)` and of `TEST_PRETEND_MISSING`.
    pub(crate) name: &'static str,
    /// What to install, for the CI failure: "nc (Debian: netcat-openbsd)".
    pub(crate) install: &'static str,
    /// How it is looked for; found when every probe succeeds.
    pub(crate) probes: &'static [Probe],
}

/// Probes every tool and tells cargo: a `has_<name>` cfg for each tool
/// found, and when to look again. Under `CI=true`, if one is missing, fails
/// the build with a message naming each missing tool's package.
pub(crate) fn detect(tools: &[Tool]) {
    let pretend = std::env::var("TEST_PRETEND_MISSING").unwrap_or_default();
    let pretend: Vec<&str> = pretend.split(',').map(str::trim).collect();
    let is_found = |tool: &Tool| {
        let pretended = pretend.contains(&"all") || pretend.contains(&tool.name);
        !pretended && tool.probes.iter().all(found)
    };
    let missing: Vec<&str> = tools
        .iter()
        .filter(|tool| !is_found(tool))
        .map(|tool| tool.install)
        .collect();
    if std::env::var("CI").as_deref() == Ok("true") && !missing.is_empty() {
        // Before anything is printed to stdout, so that cargo shows only this.
        eprintln!(
            "CI=true, and tools the tests need are missing:\n  {}\n\
             Provide them (.ci/run installs them all). Without CI=true, the \
             tests that need them are reported as ignored.",
            missing.join("\n  ")
        );
        if pretend.iter().any(|name| !name.is_empty()) {
            eprintln!("(TEST_PRETEND_MISSING is set: those tools count as missing.)");
        }
        std::process::exit(1);
    }

    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=TEST_PRETEND_MISSING");
    // Installing or removing a Debian package changes this file; anything
    // put on PATH by hand changes the directory's modification time.
    watch(Path::new("/var/lib/dpkg/status"));
    for dir in path_dirs() {
        watch(&dir);
    }
    for tool in tools {
        println!("cargo::rustc-check-cfg=cfg(has_{})", tool.name);
        if is_found(tool) {
            println!("cargo::rustc-cfg=has_{}", tool.name);
        }
    }
}

/// Reruns the build script when `path` changes, if it exists (cargo would
/// rerun it on every build for a missing path).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

fn path_dirs() -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in std::env::split_paths(&path) {
        if dir.is_absolute() && dir.is_dir() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

fn found(probe: &Probe) -> bool {
    match probe {
        Probe::Executable(name) => path_dirs().iter().any(|dir| is_executable(&dir.join(name))),
        Probe::File(path) => Path::new(path).exists(),
        Probe::Library(name) => library_dirs().iter().any(|dir| dir.join(name).exists()),
        Probe::Proc => Path::new("/proc/self/status").exists(),
        Probe::Root => effective_uid() == Some(0),
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// `/lib`, `/usr/lib`, their `64` variants, and their multiarch
/// subdirectories (`/usr/lib/x86_64-linux-gnu`).
fn library_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for base in ["/lib", "/usr/lib", "/lib64", "/usr/lib64"] {
        let base = Path::new(base);
        dirs.push(base.to_path_buf());
        let Ok(entries) = base.read_dir() else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().contains("-linux-") {
                dirs.push(entry.path());
            }
        }
    }
    dirs
}

/// The effective user id, from `/proc/self/status` or else `id -u`.
fn effective_uid() -> Option<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        // "Uid:\treal\teffective\tsaved\tfilesystem"
        let uids = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
        return uids.split_whitespace().nth(1)?.parse().ok();
    }
    let out = Command::new("id").arg("-u").output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}
