//! The command lines of the examples, as ripgrep's and cargo's behave:
//! `--version`, usage errors that exit 2 naming the program, errors in
//! words prefixed with the program's name (never a `Debug` dump), the exit
//! codes written in every `--help`, and passwords never asked for where
//! there is no terminal, nor before the server is reached.

mod common;

use common::{example, free_port, start_example};

use std::io::{BufRead, BufReader, Read, Write};
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
        .env_remove("POP3_TOKEN")
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
    // A device would be read without end (or a FIFO waited on forever).
    let out = run("fortune_server", &["--file", "/dev/zero"], &[]);
    let last = assert_failed_in_words("fortune_server", &out);
    assert_eq!(
        last,
        "fortune_server: cannot read /dev/zero: not a regular file"
    );
    // A regular file too large to be a fortune file is refused, not loaded.
    let big = std::env::temp_dir().join(format!("cli-test-big-{}", std::process::id()));
    std::fs::File::create(&big)
        .and_then(|file| file.set_len(17 * 1024 * 1024))
        .unwrap();
    let out = run("fortune_server", &["--file", big.to_str().unwrap()], &[]);
    std::fs::remove_file(&big).unwrap();
    let last = assert_failed_in_words("fortune_server", &out);
    assert_eq!(
        last,
        format!(
            "fortune_server: cannot read {}: larger than the 16 MiB a fortune file may hold",
            big.display()
        )
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

/// Without --host the demo mailbox is used, in plain text as user demo, so
/// flags for a real server are a usage error there rather than ignored (a
/// `--tls` run used to fail with a TLS error from the plain-text demo).
#[test]
fn pop3_server_flags_need_a_host() {
    let maildir = std::env::temp_dir().join(format!("cli-test-host-{}", std::process::id()));
    for (name, extra) in [
        ("pop3_count", &[][..]),
        ("pop3_fetch", &["--maildir", maildir.to_str().unwrap()][..]),
    ] {
        for flags in [
            &["--tls"][..],
            &["--starttls"][..],
            &["--user", "nobody"][..],
            &["--port", "110"][..],
        ] {
            let out = run(
                name,
                &[extra, flags].concat(),
                &[("POP3_PASSWORD", "wrong")],
            );
            let stderr = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} {flags:?}: {stderr}");
            assert!(
                stderr.starts_with(&format!(
                    "{name}: error: the following required arguments were not provided:\n  --host <HOST>"
                )),
                "{name} {flags:?}: {stderr}"
            );
            assert!(
                !stderr.contains("demo mailbox"),
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

const DEMO_COUNT: &str = "72 messages in mailbox\n";

/// `--sasl` takes the names `Login::from_name` knows, in any case; any
/// other is a usage error that lists them.
#[test]
fn pop3_sasl_with_an_unknown_name_is_a_usage_error() {
    for name in ["pop3_count", "pop3_fetch"] {
        let mut args = vec!["--sasl", "DIGEST-MD5"];
        if name == "pop3_fetch" {
            args.extend(["--maildir", "/nonexistent"]);
        }
        let out = run(name, &args, &[]);
        let stderr = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "{name}: error: invalid value 'DIGEST-MD5' for '--sasl <MECH>': unknown method; \
                 one of SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, APOP, PLAIN, LOGIN, USER, \
                 OAUTHBEARER, XOAUTH2"
            )),
            "{stderr}"
        );
        let help = run(name, &["--help"], &[]);
        let help = String::from_utf8_lossy(&help.stdout);
        for word in [
            "--sasl <MECH>",
            "SCRAM-SHA-256",
            "CRAM-MD5",
            "XOAUTH2",
            "--allow-plaintext",
            "--token-command <CMD>",
            "--token-timeout <SECS>",
            "POP3_TOKEN",
        ] {
            assert!(help.contains(word), "{name} --help lacks {word}: {help}");
        }
    }
}

/// Against the demo mailbox (no TLS): the methods that send the password
/// as it is are refused before anything starts, `--sasl PLAIN` (or its
/// alias) included, unless `--allow-plaintext`; the others log in as they
/// are; without `--sasl`, the strongest is used.
#[test]
fn pop3_plain_text_methods_need_allow_plaintext_without_tls() {
    for runtime in ["std", "tokio"] {
        for method in ["PLAIN", "login", "USER"] {
            let out = run("pop3_count", &["--runtime", runtime, "--sasl", method], &[]);
            let last = assert_failed_in_words("pop3_count", &out);
            assert_eq!(
                last,
                format!(
                    "pop3_count: --sasl {} would send the password in clear without TLS: \
                     connect with --tls or --starttls, or pass --allow-plaintext to send it anyway",
                    method.to_uppercase()
                )
            );
            assert!(!stderr(&out).contains("demo mailbox"), "{}", stderr(&out));

            let out = run(
                "pop3_count",
                &["--runtime", runtime, "--sasl", method, "--allow-plaintext"],
                &[],
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                DEMO_COUNT,
                "{method}: {}",
                stderr(&out)
            );
        }
        let out = run("pop3_count", &["--runtime", runtime, "--sasl-plain"], &[]);
        assert_failed_in_words("pop3_count", &out);
        for method in ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "APOP"] {
            let out = run("pop3_count", &["--runtime", runtime, "--sasl", method], &[]);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                DEMO_COUNT,
                "{method}: {}",
                stderr(&out)
            );
        }
        let out = run("pop3_count", &["--runtime", runtime, "--apop"], &[]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_COUNT);
        let out = run("pop3_count", &["--runtime", runtime], &[]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_COUNT);
    }
}

/// A server that greets without an APOP timestamp and offers only USER
/// and `SASL PLAIN LOGIN`, and records every line it is sent.
fn plain_text_only_server() -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        writer.write_all(b"+OK ready\r\n").unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let reply: &[u8] = match line.as_str() {
                "CAPA" => b"+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n",
                "QUIT" => b"+OK bye\r\n",
                _ => b"-ERR no\r\n",
            };
            lines.push(line);
            if writer.write_all(reply).is_err() {
                break;
            }
        }
        lines
    });
    (port, server)
}

/// Without `--sasl`, a server whose only methods send the password (or
/// token) as it is gets neither: status 2 and how to proceed.
#[test]
fn pop3_a_server_offering_only_plain_text_methods_gets_no_password() {
    for runtime in ["std", "tokio"] {
        for (env, secret) in [
            (("POP3_PASSWORD", "sesame"), "password"),
            (("POP3_TOKEN", "sesame"), "token"),
        ] {
            let (port, server) = plain_text_only_server();
            let out = run(
                "pop3_count",
                &[
                    "--runtime",
                    runtime,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--user",
                    "john",
                ],
                &[env],
            );
            let last = assert_failed_in_words("pop3_count", &out);
            let sent = server.join().unwrap();
            if secret == "password" {
                assert_eq!(
                    last,
                    "pop3_count: without TLS, every way to log in that the server offers \
                     sends the password in clear (PLAIN would): connect with --tls or \
                     --starttls, or pass --allow-plaintext to send it anyway"
                );
            } else {
                assert_eq!(
                    last,
                    "pop3_count: the server offers no method that takes an OAuth 2.0 token \
                     (OAUTHBEARER, XOAUTH2): log in with a password instead (unset POP3_TOKEN)"
                );
            }
            assert_eq!(sent, ["CAPA"], "{runtime} {secret}");
        }
    }
}

/// `--token-command` is split at whitespace and run without a shell; the
/// first line it prints, trimmed, is the token (the demo takes its
/// password, `demo`, as one); the bearer mechanisms send it as it is, so
/// without TLS it needs `--allow-plaintext` too. `POP3_TOKEN` does the
/// same.
#[test]
fn pop3_logs_in_with_the_token_of_a_command_or_pop3_token() {
    let allow = "--allow-plaintext";
    for runtime in ["std", "tokio"] {
        for command in ["printf demo", "echo demo", "printf %s\\nsecond demo"] {
            let args = ["--runtime", runtime, "--token-command", command, allow];
            let out = run("pop3_count", &args, &[]);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                DEMO_COUNT,
                "{command}: {}",
                stderr(&out)
            );
        }
        for method in ["XOAUTH2", "oauthbearer"] {
            let args = ["--runtime", runtime, "--sasl", method, allow];
            let out = run("pop3_count", &args, &[("POP3_TOKEN", "demo")]);
            assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_COUNT, "{method}");
        }
        let out = run(
            "pop3_count",
            &["--runtime", runtime, allow],
            &[("POP3_TOKEN", "demo")],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_COUNT);
    }

    // Without a shell, `|` and `cat` are arguments of echo: the token is
    // `demo | cat`, which no bearer mechanism can carry (a shell would
    // have made it `demo`, and logged in).
    let out = run(
        "pop3_count",
        &["--token-command", "echo demo | cat", allow],
        &[],
    );
    let last = assert_failed_in_words("pop3_count", &out);
    assert_eq!(
        last,
        "pop3_count: AUTH OAUTHBEARER not sent: sasl authentication failed: \
         token cannot be sent with this mechanism"
    );
    assert!(out.stdout.is_empty());

    // A token crosses in clear as a password would.
    let out = run("pop3_count", &["--token-command", "printf demo"], &[]);
    let last = assert_failed_in_words("pop3_count", &out);
    assert!(last.contains("sends the token in clear"), "{last}");
    assert!(last.contains("--allow-plaintext"), "{last}");
    let out = run(
        "pop3_count",
        &["--sasl", "XOAUTH2", "--token-command", "printf demo"],
        &[],
    );
    let last = assert_failed_in_words("pop3_count", &out);
    assert_eq!(
        last,
        "pop3_count: --sasl XOAUTH2 would send the token in clear without TLS: connect with \
         --tls or --starttls, or pass --allow-plaintext to send it anyway"
    );

    // pop3_fetch takes it the same way.
    let maildir = std::env::temp_dir().join(format!("cli-token-{}", std::process::id()));
    let out = run(
        "pop3_fetch",
        &[
            "--maildir",
            maildir.to_str().unwrap(),
            "--token-command",
            "printf demo",
            allow,
        ],
        &[],
    );
    let _ = std::fs::remove_dir_all(&maildir);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "72 new messages fetched, 0 deleted on the server\n",
        "{}",
        stderr(&out)
    );
}

/// A token command that cannot run, fails or prints nothing, and a token
/// where it cannot be used, are errors before anything starts; so is a
/// token mechanism without a token.
#[test]
fn pop3_a_token_command_that_fails_is_a_clear_error() {
    let allow = "--allow-plaintext";
    for (args, expected) in [
        (
            &["--token-command", "false", allow][..],
            "the token command false failed (exit status: 1), so there is no token",
        ),
        (
            &["--token-command", "true", allow],
            "the token command true printed no token",
        ),
        (
            &["--token-command", "printf \\n\\ntoken", allow],
            "the token command printf printed no token",
        ),
        (
            &["--token-command", "/nonexistent/token-helper", allow],
            "cannot run the token command /nonexistent/token-helper: no such file or directory",
        ),
        (&["--token-command", " ", allow], "--token-command is empty"),
        (
            &["--sasl", "SCRAM-SHA-256", "--token-command", "printf demo"],
            "--sasl SCRAM-SHA-256 logs in with a password, not with the token of --token-command",
        ),
        (
            &["--sasl", "OAUTHBEARER", allow],
            "--sasl OAUTHBEARER logs in with an OAuth 2.0 token: set POP3_TOKEN or pass \
             --token-command",
        ),
    ] {
        for name in ["pop3_count", "pop3_fetch"] {
            let maildir =
                std::env::temp_dir().join(format!("cli-token-fail-{}", std::process::id()));
            let mut all = args.to_vec();
            if name == "pop3_fetch" {
                all.extend(["--maildir", maildir.to_str().unwrap()]);
            }
            let out = run(name, &all, &[]);
            let _ = std::fs::remove_dir_all(&maildir);
            let last = assert_failed_in_words(name, &out);
            assert_eq!(last, format!("{name}: {expected}"), "{args:?}");
            assert!(!stderr(&out).contains("demo mailbox"), "{}", stderr(&out));
        }
    }
}

/// A token command that does not finish within `--token-timeout` is
/// killed and the run fails in words (status 2), saying it timed out; one
/// that prints more than a token could be (64 KiB) is refused. The
/// hanging command is a script that writes its PID and then sleeps
/// forever: after the run, that process is gone.
#[test]
fn pop3_a_token_command_that_hangs_or_floods_is_stopped() {
    let dir = std::env::temp_dir().join(format!("cli-token-hang-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("hang.sh");
    let pid_file = dir.join("pid");
    std::fs::write(
        &script,
        format!("echo $$ > '{}'\nexec sleep 100000\n", pid_file.display()),
    )
    .unwrap();
    let hang = format!("sh {}", script.display());
    let maildir = dir.join("Maildir");
    for name in ["pop3_count", "pop3_fetch"] {
        let mut args = vec![
            "--token-command",
            hang.as_str(),
            "--token-timeout",
            "1",
            "--allow-plaintext",
        ];
        if name == "pop3_fetch" {
            args.extend(["--maildir", maildir.to_str().unwrap()]);
        }
        let _ = std::fs::remove_file(&pid_file);
        let out = run(name, &args, &[]);
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let pid = pid.trim();
        let alive = !pid.is_empty() && std::path::Path::new(&format!("/proc/{pid}")).exists();
        if alive {
            // Not killed: do it here, by its PID, before failing.
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        let last = assert_failed_in_words(name, &out);
        assert_eq!(
            last,
            format!(
                "{name}: the token command sh timed out after 1 s (see --token-timeout), \
                 so there is no token"
            )
        );
        assert!(!pid.is_empty(), "{name}: the script did not start");
        assert!(!alive, "{name}: the token command ({pid}) is still running");
        assert!(!stderr(&out).contains("demo mailbox"), "{}", stderr(&out));

        let mut args = vec![
            "--token-command",
            "head -c 70000 /dev/zero",
            "--allow-plaintext",
        ];
        if name == "pop3_fetch" {
            args.extend(["--maildir", maildir.to_str().unwrap()]);
        }
        let out = run(name, &args, &[]);
        let last = assert_failed_in_words(name, &out);
        assert_eq!(
            last,
            format!("{name}: the token command head printed more than 64 KiB, which is no token")
        );
    }
    // The limit is for the command, and a run without one takes no limit.
    let out = run("pop3_count", &["--token-timeout", "5"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--token-command <CMD>"),
        "{}",
        stderr(&out)
    );
    let out = run(
        "pop3_count",
        &["--token-command", "printf demo", "--token-timeout", "0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a whole number of seconds, at least 1"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
