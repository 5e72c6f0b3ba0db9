//! The command lines of the examples, as ripgrep's and cargo's behave:
//! `--version`, usage errors that exit 2 naming the program, errors in
//! words prefixed with the program's name (never a `Debug` dump), the exit
//! codes written in every `--help`, and passwords never asked for where
//! there is no terminal, nor before the server is reached.

mod common;

use common::{example, free_port, start_example};

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SERVERS: [&str; 4] = [
    "reverse_server",
    "session_server",
    "fortune_server",
    "auth_server",
];
const WEB_CLIENTS: [&str; 2] = ["web_client", "web_client_socket"];
const CLIENTS: [&str; 4] = ["reverse_client", "auth_client", "pop3_count", "pop3_fetch"];

fn every_example() -> impl Iterator<Item = &'static str> {
    SERVERS.into_iter().chain(WEB_CLIENTS).chain(CLIENTS)
}

/// The auth server's test accounts, so that it starts without root.
fn fixture(name: &str) -> String {
    format!(
        "{}/../crates/passwd-auth/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs an example with stdin not a terminal and without the password
/// variables, and returns its output; kills it (and fails) if it is still
/// running after 20 s, as a server that did start would be.
fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(example(name));
    command
        .args(args)
        .env_remove("AUTH_PASSWORD")
        .env_remove("POP3_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start example");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait for example").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} {args:?} still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("example output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An error as the brief asks: status 2, `NAME: ` first, in words.
fn assert_failed_in_words(name: &str, out: &Output) -> String {
    let stderr = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with(&format!("{name}: ")), "{name}: {stderr}");
    for dump in ["Os {", "kind:", "(os error", "Error {"] {
        assert!(
            !stderr.contains(dump),
            "{name} printed a Debug dump: {stderr}"
        );
    }
    last
}

#[test]
fn every_example_prints_its_version() {
    for name in every_example() {
        let out = run(name, &["--version"], &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{name} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn a_bad_flag_exits_2_naming_the_program() {
    for name in every_example() {
        let out = run(name, &["--no-such-flag"], &[]);
        let stderr = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{name}: error: ")),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("'--no-such-flag'"), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
    }
}

#[test]
fn every_help_says_what_it_is_for_and_its_exit_codes() {
    let mut firsts = Vec::new();
    for name in every_example() {
        let out = run(name, &["--help"], &[]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let first = help.lines().next().unwrap_or_default().to_owned();
        assert!(first.len() > 30, "{name}: first line {first:?}");
        assert!(help.contains("Exit status:"), "{name}: {help}");
        assert!(
            help.contains("  2  a usage or local error"),
            "{name}: {help}"
        );
        firsts.push((name, first));
    }
    let web: Vec<&String> = firsts
        .iter()
        .filter(|(name, _)| WEB_CLIENTS.contains(name))
        .map(|(_, first)| first)
        .collect();
    assert_ne!(web[0], web[1], "the web clients' help must tell them apart");
    assert!(web[1].contains("web_client"), "{}", web[1]);
}

#[test]
fn the_password_variables_are_in_the_help_without_their_values() {
    for (name, variable) in [
        ("auth_client", "AUTH_PASSWORD"),
        ("pop3_count", "POP3_PASSWORD"),
        ("pop3_fetch", "POP3_PASSWORD"),
    ] {
        let out = run(name, &["--help"], &[(variable, "hunter2")]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains(variable), "{name}: {help}");
        assert!(!help.contains("hunter2"), "{name} shows the password");
    }
}

#[test]
fn a_server_whose_port_is_taken_says_so_in_words() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (passwd, shadow) = (fixture("passwd"), fixture("shadow"));
    for name in SERVERS.into_iter().chain(WEB_CLIENTS) {
        let mut args = vec!["--listen", &address];
        if name == "auth_server" {
            args.extend(["--passwd", &passwd, "--shadow", &shadow]);
        }
        let out = run(name, &args, &[]);
        let last = assert_failed_in_words(name, &out);
        assert_eq!(
            last,
            format!("{name}: cannot listen on {address}: address already in use")
        );
    }
}

#[test]
fn listen_addresses_are_checked_when_parsed() {
    for name in SERVERS.into_iter().chain(WEB_CLIENTS) {
        let out = run(name, &["--listen", "localhost"], &[]);
        let stderr = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "{name}: error: invalid value 'localhost' for '--listen"
            )),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn connect_addresses_are_checked_when_parsed() {
    for (name, extra) in [
        ("reverse_client", &["x"][..]),
        ("auth_client", &[][..]),
        ("web_client", &[][..]),
        ("web_client_socket", &[][..]),
    ] {
        let out = run(
            name,
            &[&["--connect", "localhost"][..], extra].concat(),
            &[],
        );
        let stderr = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "{name}: error: invalid value 'localhost' for '--connect"
            )),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("expected HOST:PORT"), "{name}: {stderr}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = run("auth_client", &["--tls", "--ca-file", "/nonexistent"], &[]);
    let last = assert_failed_in_words("auth_client", &out);
    assert_eq!(
        last,
        "auth_client: cannot read the CA file /nonexistent: I/O error: no such file or directory"
    );

    let out = run(
        "pop3_count",
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &free_port().to_string(),
            "--user",
            "john",
            "--tls",
            "--ca-file",
            "/nonexistent",
        ],
        &[("POP3_PASSWORD", "x")],
    );
    let last = assert_failed_in_words("pop3_count", &out);
    assert!(
        last.contains("cannot read the CA file /nonexistent: I/O error: no such file or directory"),
        "{last}"
    );

    let out = run("fortune_server", &["--file", "/nonexistent"], &[]);
    let last = assert_failed_in_words("fortune_server", &out);
    assert_eq!(
        last,
        "fortune_server: cannot read /nonexistent: no such file or directory"
    );

    // A Maildir under a plain file cannot be made; nothing is started first.
    let file = std::env::temp_dir().join(format!("cli-test-{}", std::process::id()));
    std::fs::write(&file, "").unwrap();
    let maildir = file.join("mail");
    let out = run("pop3_fetch", &["--maildir", maildir.to_str().unwrap()], &[]);
    std::fs::remove_file(&file).unwrap();
    let last = assert_failed_in_words("pop3_fetch", &out);
    assert_eq!(
        last,
        format!(
            "pop3_fetch: cannot use the Maildir {}: {} is not a directory",
            maildir.display(),
            file.display()
        )
    );
    assert!(!stderr(&out).contains("demo mailbox"), "{}", stderr(&out));
}

#[test]
fn a_server_that_is_not_there_is_a_clear_error() {
    let port = free_port().to_string();
    let connect = format!("127.0.0.1:{port}");
    let out = run("reverse_client", &["--connect", &connect, "x"], &[]);
    let last = assert_failed_in_words("reverse_client", &out);
    assert_eq!(
        last,
        format!("reverse_client: could not connect to {connect}: connection refused")
    );

    let out = run(
        "auth_client",
        &["--connect", &connect, "--user", "alice"],
        &[("AUTH_PASSWORD", "x")],
    );
    let last = assert_failed_in_words("auth_client", &out);
    assert_eq!(
        last,
        format!("auth_client: could not connect to {connect}: connection refused")
    );

    let out = run(
        "pop3_count",
        &["--host", "127.0.0.1", "--port", &port, "--user", "john"],
        &[("POP3_PASSWORD", "x")],
    );
    let last = assert_failed_in_words("pop3_count", &out);
    assert_eq!(
        last,
        format!("pop3_count: {connect}: could not connect: connection refused")
    );
}

#[test]
fn without_a_terminal_no_password_is_asked_for() {
    let port = free_port().to_string();
    let out = run(
        "auth_client",
        &["--connect", &format!("127.0.0.1:{port}"), "--user", "alice"],
        &[],
    );
    let last = assert_failed_in_words("auth_client", &out);
    assert_eq!(
        last,
        "auth_client: no terminal to ask for the password: set AUTH_PASSWORD"
    );
    assert!(out.stdout.is_empty(), "no prompt");

    let maildir = std::env::temp_dir().join(format!("cli-test-maildir-{}", std::process::id()));
    let login = ["--host", "127.0.0.1", "--port", &port, "--user", "john"];
    for (name, extra) in [
        ("pop3_count", &[][..]),
        ("pop3_fetch", &["--maildir", maildir.to_str().unwrap()][..]),
    ] {
        let out = run(name, &[&login[..], extra].concat(), &[]);
        let last = assert_failed_in_words(name, &out);
        assert_eq!(
            last,
            format!("{name}: no terminal to ask for the password: set POP3_PASSWORD")
        );
    }
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn pop3_count_without_a_user_name_says_how_to_give_one() {
    for user in [None, Some("")] {
        let mut command = Command::new(example("pop3_count"));
        command
            .args(["--host", "127.0.0.1", "--port", &free_port().to_string()])
            .env("POP3_PASSWORD", "x")
            .stdin(Stdio::null());
        match user {
            None => command.env_remove("USER"),
            Some(user) => command.env("USER", user),
        };
        let out = command.output().unwrap();
        let last = assert_failed_in_words("pop3_count", &out);
        assert_eq!(last, "pop3_count: no user name: pass --user or set USER");
    }
}

/// `--ca-file` and `--fingerprint` decide alone whom to trust: both at once
/// is a usage error, as is either without TLS (a pin on a plain-text
/// connection would protect nothing) or a fingerprint that is not one.
#[test]
fn pop3_trust_flags_are_checked_before_anything_starts() {
    let pin = "ab".repeat(32);
    let maildir = std::env::temp_dir().join(format!("cli-test-trust-{}", std::process::id()));
    let login = ["--host", "127.0.0.1", "--port", "1", "--user", "john"];
    for (name, extra) in [
        ("pop3_count", &[][..]),
        ("pop3_fetch", &["--maildir", maildir.to_str().unwrap()][..]),
    ] {
        for (flags, said) in [
            (
                &["--tls", "--ca-file", "ca.pem", "--fingerprint", &pin][..],
                "error: the argument '--ca-file <PATH>' cannot be used with '--fingerprint <HEX>'",
            ),
            (
                &["--fingerprint", &pin][..],
                "error: the following required arguments were not provided:\n  <--tls|--starttls>",
            ),
            (
                &["--ca-file", "ca.pem"][..],
                "error: the following required arguments were not provided:\n  <--tls|--starttls>",
            ),
            (
                &["--starttls", "--fingerprint", "AB:CD"][..],
                "error: invalid value 'AB:CD' for '--fingerprint <HEX>': \
                 a sha-256 fingerprint has 64 hex digits, not 4",
            ),
        ] {
            let out = run(
                name,
                &[&login[..], extra, flags].concat(),
                &[("POP3_PASSWORD", "x")],
            );
            let stderr = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} {flags:?}: {stderr}");
            assert!(
                stderr.starts_with(&format!("{name}: {said}")),
                "{name} {flags:?}: {stderr}"
            );
        }
    }
    assert!(!maildir.exists(), "nothing was started");
}

/// On a terminal (a pty from `script`), a server that is down is reported
/// before any password is asked for.
#[test]
#[cfg_attr(not(has_script), ignore = "needs script (Debian: bsdutils)")]
fn a_dead_server_is_reported_before_the_password_is_asked_for() {
    let port = free_port();
    for (name, flags) in [
        (
            "auth_client",
            format!("--connect 127.0.0.1:{port} --user alice"),
        ),
        (
            "pop3_count",
            format!("--host 127.0.0.1 --port {port} --user john"),
        ),
    ] {
        let line = format!("{} {flags}", example(name).display());
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env_remove("AUTH_PASSWORD")
            .env_remove("POP3_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{name}: {printed}");
        assert!(printed.contains("could not connect"), "{name}: {printed}");
        assert!(
            !printed.to_lowercase().contains("password"),
            "{name} asked for a password first: {printed}"
        );
    }
}

/// `--command PROG -- ARGS`: what follows `--` is the program's, flags
/// included; a program argument without `--` is refused, showing the form.
#[test]
fn fortune_server_takes_the_command_arguments_after_dashes() {
    let out = run(
        "fortune_server",
        &["--command", "echo", "hi", "--once"],
        &[],
    );
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("fortune_server: error: unexpected argument 'hi' found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--command <PROG> [-- <ARGS>...]"),
        "{stderr}"
    );

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _server = start_example(
        "fortune_server",
        &[
            "--listen",
            &listen,
            "--once",
            "--command",
            "echo",
            "--",
            "hello",
            "--once",
        ],
        "Waiting for connections",
    );
    let mut fortune = String::new();
    TcpStream::connect(&listen)
        .unwrap()
        .read_to_string(&mut fortune)
        .unwrap();
    assert_eq!(fortune, "hello --once\n");
}
