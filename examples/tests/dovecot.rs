//! The POP3 client against a real Dovecot, started by each test from a
//! configuration written into a temporary directory, on free loopback
//! ports, and stopped by its PID. The Maildir is generated with tricky
//! messages. TLS uses a CA and a server certificate made with openssl at
//! test time, or a self-signed one (`CA:TRUE`, as `openssl req -x509` makes
//! it) for the tests of whom `pop3_count` and `pop3_fetch` trust:
//! `--ca-file`, `--fingerprint`, and the fingerprint printed when a
//! certificate is not trusted.
//!
//! It needs Debian's `dovecot-core`, `dovecot-pop3d` and `openssl`, and root
//! (Dovecot switches to the `nobody` user to read the mail). Without them
//! the tests are reported as ignored, with the reason (found at build time:
//! `build/test_tools.rs`); under `CI=true` the build fails instead.
//!
//! What Dovecot does not do (a unique id with a space, a refused RETR, no
//! CAPA, no UIDL, a `-ERR` greeting, escape sequences in a reply) is played
//! to `pop3_fetch` by scripted servers on loopback, at the end; those tests
//! need nothing installed.

mod common;
mod dovecot_support;

use common::example;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dovecot_support::{Dovecot, PASSWORD};

use bytes::Bytes;
use lineproto::Secret;
use pop3_client::ResponseCode;
use pop3_client::blocking::{ConnectOptions, Login, Pop3Client, Pop3Error, Retrieved, Security};
use pop3_client::server::Mailbox;
use pop3_client::session::SessionError;
use pop3_client::tls::{Fingerprint, Trust};

/// The test messages: what is stored in the Maildir.
fn messages() -> Vec<Bytes> {
    let mut big = String::from("From: big@example.org\r\nSubject: big\r\n\r\n");
    while big.len() < 3 << 20 {
        big.push_str("The quick brown fox jumps over the lazy dog, again and again and again.\r\n");
    }
    vec![
        "From: a@example.org\r\nSubject: plain\r\n\r\nHello.\r\n".into(),
        "From: a@example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\nend with period.\r\n.\r\n".into(),
        Bytes::from_static(b"From: a@example.org\r\nSubject: latin1\r\n\r\ncaf\xe9 na\xefve \xff\r\n"),
        "From: a@example.org\r\nSubject: =?UTF-8?Q?pr=C3=BCfung?=\r\n\r\npässwörd 👍🏽\r\n".into(),
        format!("From: a@example.org\r\nSubject: long line\r\n\r\n{}\r\n", "x".repeat(5000)).into(),
        "From: a@example.org\nSubject: bare LF\n\nline one\nline two\n".into(),
        "From: a@example.org\r\nSubject: no final newline\r\n\r\nlast line".into(),
        big.into(),
    ]
}

/// What Dovecot sends for each stored message: CRLF line ends, and a CRLF
/// added to a message without a final line end (which the demo mailbox
/// computes the same way).
fn expected(messages: &[Bytes]) -> Vec<Bytes> {
    let mailbox = Mailbox::new("x", "x", messages.to_vec());
    (1..=messages.len())
        .map(|n| mailbox.message(n).unwrap().clone())
        .collect()
}

fn fetch_all(pop: &mut Pop3Client, count: u32) -> Vec<Vec<u8>> {
    let mut bodies = vec![Vec::new(); count as usize];
    let numbers: Vec<u32> = (1..=count).collect();
    pop.retr_many(&numbers, |part| {
        if let Retrieved::Data { number, chunk } = part {
            bodies[number as usize - 1].extend_from_slice(&chunk);
        }
        Ok(())
    })
    .expect("retr_many");
    bodies
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn every_message_arrives_byte_identical_pipelined_and_lock_step() {
    let stored = messages();
    let dovecot = Dovecot::start(&stored);
    for pipelining in [true, false] {
        let mut options = dovecot.options(Security::None);
        options.machine.pipelining = pipelining;
        let mut pop = Pop3Client::connect("localhost", dovecot.pop3, &options).unwrap();
        let caps = pop.capabilities().unwrap();
        assert!(caps.pipelining() && caps.stls(), "{caps:?}");
        pop.login(Login::UserPass, "john", Secret::new(b"secret".to_vec()))
            .unwrap();
        assert_eq!(pop.machine().is_pipelining(), pipelining);
        let (count, _) = pop.stat().unwrap();
        assert_eq!(count as usize, stored.len());
        let bodies = fetch_all(&mut pop, count);
        for (n, (got, want)) in bodies.iter().zip(expected(&stored)).enumerate() {
            assert_eq!(
                got.len(),
                want.len(),
                "message {} (pipelining {pipelining})",
                n + 1
            );
            assert!(
                got[..] == want[..],
                "message {} differs (pipelining {pipelining})",
                n + 1
            );
        }
        // Dovecot's LIST does not count the CRLF it adds to a message
        // without a final newline: sizes are only a hint.
        let sizes = pop.list().unwrap();
        assert_eq!(sizes[6].1 + 2, expected(&stored)[6].len() as u64);
        let mut single = Vec::new();
        pop.retr(2, &mut single).unwrap();
        assert_eq!(single, expected(&stored)[1]);
        pop.quit().unwrap();
    }
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn uidl_top_noop_rset_and_the_commands_around_them() {
    let stored = messages();
    let dovecot = Dovecot::start(&stored);
    let mut pop = dovecot.login(Security::None);
    let ids = pop.uidl().unwrap();
    assert_eq!(ids.len(), stored.len());
    assert!(ids.iter().all(|(_, id)| id.len() == 16), "{ids:?}");
    let mut top = Vec::new();
    pop.top(2, 1, &mut top).unwrap();
    assert_eq!(
        top,
        b"From: a@example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n"
    );
    pop.noop().unwrap();
    pop.dele(1).unwrap();
    pop.rset().unwrap();
    let error = pop.retr(99, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(error, Pop3Error::Session(SessionError::Server(_))),
        "{error}"
    );
    pop.quit().unwrap();
    let mut pop = dovecot.login(Security::None);
    assert_eq!(
        pop.stat().unwrap().0 as usize,
        stored.len(),
        "RSET undid the DELE"
    );
    pop.quit().unwrap();
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn dele_then_quit_deletes_and_a_dropped_connection_deletes_nothing() {
    let stored = messages();
    let dovecot = Dovecot::start(&stored);
    let mut pop = dovecot.login(Security::None);
    pop.dele(1).unwrap();
    drop(pop); // no QUIT
    std::thread::sleep(Duration::from_millis(200));
    let mut pop = dovecot.login(Security::None);
    assert_eq!(pop.stat().unwrap().0 as usize, stored.len());
    pop.dele(1).unwrap();
    pop.dele(2).unwrap();
    pop.quit().unwrap();
    let mut pop = dovecot.login(Security::None);
    assert_eq!(pop.stat().unwrap().0 as usize, stored.len() - 2);
    let mut first = Vec::new();
    pop.retr(1, &mut first).unwrap();
    assert_eq!(first, expected(&stored)[2]);
    pop.quit().unwrap();
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn every_login_method_and_tls_mode() {
    let dovecot = Dovecot::start(&messages()[..2]);
    assert!(
        dovecot
            .connect(Security::None)
            .greeting()
            .apop_timestamp
            .is_some()
    );
    for security in [Security::None, Security::StartTls, Security::Implicit] {
        for login in [
            Login::UserPass,
            Login::Apop,
            Login::SaslPlain,
            Login::SaslLogin,
        ] {
            let mut pop = dovecot.connect(security);
            pop.login(login, "john", Secret::new(b"secret".to_vec()))
                .unwrap_or_else(|e| panic!("{security:?} {login:?}: {e}\n{}", dovecot.log()));
            assert_eq!(pop.stat().unwrap().0, 2, "{security:?} {login:?}");
            pop.quit().unwrap();
        }
    }
    // After STLS, Dovecot no longer offers STLS: the capabilities were read anew.
    let pop = dovecot.connect(Security::StartTls);
    assert!(!pop.machine().capabilities().unwrap().stls());
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn tls_refuses_a_certificate_it_cannot_trust() {
    let dovecot = Dovecot::start(&[]);
    let mut options = ConnectOptions::default();
    options.security = Security::Implicit;
    options.trust = Trust::CaFile(dovecot.dir.join("cert.pem")); // not the CA
    let error = Pop3Client::connect("localhost", dovecot.pop3s, &options).unwrap_err();
    assert!(matches!(error, Pop3Error::Tls(_)), "{error}");
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn a_wrong_password_is_an_auth_error() {
    let dovecot = Dovecot::start(&[]);
    let mut pop = dovecot.connect(Security::None);
    let error = pop
        .login(Login::UserPass, "john", Secret::new(b"wrong".to_vec()))
        .unwrap_err();
    let Some(error) = error.server_error() else {
        panic!("{error}")
    };
    assert_eq!(error.code, Some(ResponseCode::Auth));
    assert_eq!(error.line(), "-ERR [AUTH] Authentication failed.");
}

fn pop3_count(args: &[&str], password: &str) -> Output {
    Command::new(example("pop3_count"))
        .args(args)
        .env("POP3_PASSWORD", password)
        .env_remove("POP3_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn pop3_count_counts_a_real_mailbox_and_reports_server_errors() {
    let stored = messages();
    let dovecot = Dovecot::start(&stored);
    let port = dovecot.pop3.to_string();
    let pop3s = dovecot.pop3s.to_string();
    let ca = dovecot.dir.join("ca.pem").display().to_string();
    let expected = format!("{} messages in mailbox\n", stored.len());
    // The blocking client (the default) and the async one, each over plain
    // text, STLS and implicit TLS.
    for runtime in [&[][..], &["--runtime", "std"], &["--runtime", "tokio"]] {
        for (extra, port) in [
            (&[][..], &port),
            (&["--starttls", "--ca-file", &ca], &port),
            (&["--apop"], &port),
            (&["--sasl-plain", "--allow-plaintext"], &port),
            (&["--sasl", "SCRAM-SHA-256"], &port),
            (&["--sasl", "scram-sha-1"], &port),
            (&["--sasl", "CRAM-MD5"], &port),
            (&["--sasl", "LOGIN", "--starttls", "--ca-file", &ca], &port),
            (&["--sasl", "USER", "--allow-plaintext"], &port),
            (&["--tls", "--ca-file", &ca], &pop3s),
        ] {
            let mut args = vec!["--host", "localhost", "--port", port, "--user", "john"];
            args.extend_from_slice(runtime);
            args.extend_from_slice(extra);
            let out = pop3_count(&args, "secret");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                expected,
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut args = vec!["--host", "localhost", "--port", &port, "--user", "john"];
        args.extend_from_slice(runtime);
        let out = pop3_count(&args, "wrong");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Server said: -ERR [AUTH] Authentication failed.\n",
            "{runtime:?}"
        );
        assert_eq!(out.status.code(), Some(1));
    }
}

/// How Dovecot saw john log in, from its log: `method=...` of each
/// `Login:` line, in order.
fn login_methods(dovecot: &Dovecot) -> Vec<String> {
    dovecot
        .log()
        .lines()
        .filter(|line| line.contains("Login: user=<john>"))
        .filter_map(|line| line.split("method=").nth(1))
        .map(|rest| rest.split(',').next().unwrap_or_default().to_owned())
        .collect()
}

/// pop3_count logs in to Dovecot with the SASL mechanism `--sasl` names,
/// and without it with the strongest both offer (SCRAM-SHA-256, plain text
/// or TLS); PLAIN without TLS is refused before Dovecot sees it, and sent
/// with `--allow-plaintext`. Dovecot's log says which method each login
/// used.
#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn pop3_count_logs_in_to_dovecot_with_the_chosen_or_strongest_mechanism() {
    let stored = &messages()[..2];
    let dovecot = Dovecot::start(stored);
    let port = dovecot.pop3.to_string();
    let ca = dovecot.dir.join("ca.pem").display().to_string();
    let mut expected = Vec::new();
    for runtime in ["std", "tokio"] {
        for (extra, method) in [
            (&[][..], "SCRAM-SHA-256"),
            (&["--starttls", "--ca-file", &ca], "SCRAM-SHA-256"),
            (&["--sasl", "SCRAM-SHA-256"], "SCRAM-SHA-256"),
            (&["--sasl", "SCRAM-SHA-1"], "SCRAM-SHA-1"),
            (&["--sasl", "cram-md5"], "CRAM-MD5"),
            (&["--sasl", "APOP"], "APOP"),
            (&["--sasl", "PLAIN", "--allow-plaintext"], "PLAIN"),
            (
                &["--sasl", "PLAIN", "--starttls", "--ca-file", &ca],
                "PLAIN",
            ),
        ] {
            let mut args = vec!["--host", "localhost", "--port", &port, "--user", "john"];
            args.extend(["--runtime", runtime]);
            args.extend_from_slice(extra);
            let out = pop3_count(&args, PASSWORD);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "2 messages in mailbox\n",
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            expected.push(method.to_owned());
        }

        let args = [
            "--host",
            "localhost",
            "--port",
            &port,
            "--user",
            "john",
            "--runtime",
            runtime,
            "--sasl",
            "PLAIN",
        ];
        let out = pop3_count(&args, PASSWORD);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "pop3_count: --sasl PLAIN would send the password in clear without TLS: connect \
             with --tls or --starttls, or pass --allow-plaintext to send it anyway\n"
        );

        // A wrong password, with the strongest method, is the server's no.
        let args = [
            "--host",
            "localhost",
            "--port",
            &port,
            "--user",
            "john",
            "--runtime",
            runtime,
        ];
        let out = pop3_count(&args, "wrong");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Server said: -ERR [AUTH] Authentication failed.\n"
        );
    }
    assert_eq!(login_methods(&dovecot), expected, "{}", dovecot.log());
}

/// Runs `pop3_count` as john against `dovecot` over `mode` (`--starttls`
/// on the POP3 port, `--tls` on the POP3S one), with `extra` flags; the
/// environment's CA settings are left out, so that "the system's CA
/// certificates" are whatever `env` says.
fn pop3_count_over(
    dovecot: &Dovecot,
    mode: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let port = if mode == "--tls" {
        dovecot.pop3s
    } else {
        dovecot.pop3
    };
    let out = Command::new(example("pop3_count"))
        .args(["--host", "localhost", "--port", &port.to_string()])
        .args(["--user", "john", "--timeout", "10", mode])
        .args(extra)
        .env("POP3_PASSWORD", PASSWORD)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The two lines the POP3 examples print for a certificate they do not
/// trust.
fn untrusted(program: &str, reason: &str, fingerprint: &str) -> String {
    format!(
        "{program}: the server's certificate is not trusted: {reason}\n\
         {program}: its SHA-256 fingerprint is {fingerprint}; if the server's \
         operator confirms it, connect with --fingerprint {fingerprint}\n"
    )
}

/// `openssl x509 -noout -fingerprint -sha256`'s line, without its
/// `sha256 Fingerprint=`: the colon-separated hex a user copies.
fn hex_of(openssl_line: &str) -> String {
    let (prefix, hex) = openssl_line.split_once('=').unwrap();
    assert_eq!(prefix, "sha256 Fingerprint", "{openssl_line}");
    hex.to_owned()
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn a_self_signed_certificate_is_trusted_as_the_ca_file_or_by_its_fingerprint() {
    let stored = &messages()[..3];
    let dovecot = Dovecot::start_self_signed(stored);
    let openssl_line = dovecot.openssl_fingerprint();
    let colons = hex_of(&openssl_line);
    let bare = colons.replace(':', "").to_lowercase();
    let certificate = dovecot.certificate().display().to_string();
    for runtime in ["std", "tokio"] {
        for mode in ["--starttls", "--tls"] {
            for trust in [
                ["--ca-file", &certificate],
                ["--fingerprint", &colons],
                ["--fingerprint", &bare],
                ["--fingerprint", &openssl_line],
            ] {
                let extra = [&["--runtime", runtime][..], &trust].concat();
                let (code, stdout, stderr) = pop3_count_over(&dovecot, mode, &extra, &[]);
                assert_eq!(
                    (code, stdout.as_str()),
                    (Some(0), "3 messages in mailbox\n"),
                    "{mode} {extra:?}: {stderr}"
                );
            }
        }
    }

    // pop3_fetch takes the same flags.
    for (mode, port, trust) in [
        ("--tls", dovecot.pop3s, ["--fingerprint", &colons]),
        ("--starttls", dovecot.pop3, ["--ca-file", &certificate]),
    ] {
        let maildir = dovecot.dir.join(format!("fetched{mode}"));
        let out = Command::new(example("pop3_fetch"))
            .args(["--host", "localhost", "--port", &port.to_string()])
            .args(["--user", "john", mode])
            .args(trust)
            .arg("--maildir")
            .arg(&maildir)
            .env("POP3_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "{} new messages fetched, 0 deleted on the server\n",
                stored.len()
            ),
            "{mode} {trust:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{mode} {trust:?}");
        assert_eq!(delivered(&maildir), sorted(lf(expected(stored))), "{mode}");
    }
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn a_wrong_fingerprint_fails_and_prints_the_one_to_pin() {
    let dovecot = Dovecot::start_self_signed(&messages()[..1]);
    let right = hex_of(&dovecot.openssl_fingerprint());
    let wrong = Fingerprint::of(b"not the server's certificate").to_string();
    for runtime in ["std", "tokio"] {
        for mode in ["--starttls", "--tls"] {
            let runtime = ["--runtime", runtime];
            let pinned = |pin: &str| {
                let extra = [&runtime[..], &["--fingerprint", pin]].concat();
                pop3_count_over(&dovecot, mode, &extra, &[])
            };
            let (code, stdout, stderr) = pinned(&wrong);
            assert_eq!(code, Some(2), "{mode} {runtime:?}: {stdout}{stderr}");
            assert_eq!(stdout, "", "{mode} {runtime:?}");
            assert_eq!(
                stderr,
                untrusted("pop3_count", "it is not the pinned certificate", &right),
                "{mode} {runtime:?}"
            );
            // What it printed, pasted back, is trusted.
            let printed = stderr.rsplit("--fingerprint ").next().unwrap().trim();
            let (code, stdout, stderr) = pinned(printed);
            assert_eq!(
                (code, stdout.as_str()),
                (Some(0), "1 messages in mailbox\n"),
                "{mode} {runtime:?}: {stderr}"
            );
        }
    }
    // No password went out before the certificate was checked: Dovecot saw
    // logins only from the runs that trusted it.
    let log = dovecot.log();
    assert_eq!(log.matches("Login: user=<john>").count(), 4, "{log}");
}

/// Why a self-signed `CA:TRUE` certificate that is not the CA file's own
/// is refused, in the examples' words.
const SELF_SIGNED_REFUSED: &str = "it is a CA certificate (CA:TRUE, as a self-signed one \
    made by `openssl req -x509` is), trusted as a server's only when it is the certificate in \
    the CA file";

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn an_untrusted_certificate_fails_and_prints_its_fingerprint() {
    let dovecot = Dovecot::start_self_signed(&messages()[..1]);
    let right = hex_of(&dovecot.openssl_fingerprint());
    // The test CA, which did not sign the server's certificate, stands for
    // the system's CA certificates (rustls-native-certs reads SSL_CERT_FILE
    // instead of them), and is then given as the CA file.
    let other_ca = dovecot.dir.join("ca.pem").display().to_string();
    for runtime in ["std", "tokio"] {
        for mode in ["--starttls", "--tls"] {
            for (trust, env) in [
                (&[][..], &[("SSL_CERT_FILE", other_ca.as_str())][..]),
                (&["--ca-file", &other_ca][..], &[][..]),
            ] {
                let extra = [&["--runtime", runtime][..], trust].concat();
                let (code, stdout, stderr) = pop3_count_over(&dovecot, mode, &extra, env);
                assert_eq!(code, Some(2), "{mode} {extra:?}: {stdout}{stderr}");
                assert_eq!(stdout, "", "{mode} {extra:?}");
                assert_eq!(
                    stderr,
                    untrusted("pop3_count", SELF_SIGNED_REFUSED, &right),
                    "{mode} {extra:?}"
                );
            }
        }
    }
    // Verification is on by default: without SSL_CERT_FILE, the system's
    // own CA certificates do not vouch for it either (the message then
    // depends on what the system holds).
    let (code, _, stderr) = pop3_count_over(&dovecot, "--tls", &[], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pop3_count: "), "{stderr}");
    let log = dovecot.log();
    assert!(!log.contains("Login: user=<john>"), "{log}");
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn the_client_takes_a_pin_or_a_callers_rustls_config() {
    use pop3_client::tls::rustls;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let dovecot = Dovecot::start(&messages()[..2]);
    let served = CertificateDer::from_pem_file(dovecot.certificate()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dovecot.dir.join("ca.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    for trust in [
        Trust::Pinned(Fingerprint::of(&served)),
        Trust::Config(Arc::new(config)),
    ] {
        for security in [Security::StartTls, Security::Implicit] {
            let mut options = dovecot.options(security);
            options.trust = trust.clone();
            let port = if security == Security::Implicit {
                dovecot.pop3s
            } else {
                dovecot.pop3
            };
            let mut pop = Pop3Client::connect("localhost", port, &options)
                .unwrap_or_else(|e| panic!("{trust:?} {security:?}: {e}"));
            pop.login(Login::UserPass, "john", Secret::new(b"secret".to_vec()))
                .unwrap();
            assert_eq!(pop.stat().unwrap().0, 2);
            pop.quit().unwrap();
        }
    }
}

/// `pop3_fetch` for `user` at Dovecot (plain text), into `maildir`.
fn pop3_fetch_as(dovecot: &Dovecot, user: &str, maildir: &Path, extra: &[&str]) -> Child {
    let port = dovecot.pop3.to_string();
    Command::new(example("pop3_fetch"))
        .args(["--host", "localhost", "--port", &port, "--user", user])
        .arg("--maildir")
        .arg(maildir)
        .args(extra)
        .env("POP3_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn pop3_fetch(dovecot: &Dovecot, maildir: &Path, extra: &[&str]) -> Child {
    pop3_fetch_as(dovecot, "john", maildir, extra)
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pop3_fetch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The contents of every message delivered into `maildir`'s new/.
fn delivered(maildir: &Path) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(maildir.join("new"))
        .map(|entries| {
            entries
                .map(|e| std::fs::read(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

fn sorted(messages: Vec<Bytes>) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = messages.iter().map(|m| m.to_vec()).collect();
    all.sort();
    all
}

/// Messages as `pop3_fetch` stores them by default: CRLF made LF.
fn lf(messages: Vec<Bytes>) -> Vec<Bytes> {
    messages
        .iter()
        .map(|m| {
            let mut out = Vec::with_capacity(m.len());
            for (i, &b) in m.iter().enumerate() {
                if !(b == b'\r' && m.get(i + 1) == Some(&b'\n')) {
                    out.push(b);
                }
            }
            Bytes::from(out)
        })
        .collect()
}

/// Another account's mailbox: as many messages as `messages()` (so the
/// same unique ids), each with a text of its own.
fn janes_messages() -> Vec<Bytes> {
    messages()
        .iter()
        .map(|m| [&b"X-Account: jane\r\n"[..], m].concat().into())
        .collect()
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn pop3_fetch_downloads_into_a_maildir_and_only_new_messages_next_time() {
    let stored = messages();
    let dovecot = Dovecot::start(&stored);
    let maildir = dovecot.dir.join("fetched");
    assert_eq!(
        finish(pop3_fetch(&dovecot, &maildir, &[])),
        format!(
            "{} new messages fetched, 0 deleted on the server\n",
            stored.len()
        )
    );
    // LF line ends by default.
    assert_eq!(delivered(&maildir), sorted(lf(expected(&stored))));
    assert_eq!(
        finish(pop3_fetch(&dovecot, &maildir, &[])),
        "0 new messages fetched, 0 deleted on the server\n"
    );
    // A new message arrives on the server.
    let new = dovecot.maildir("john").join("new/1800000000.M1P1.test");
    std::fs::write(
        &new,
        "From: late@example.org\r\nSubject: late\r\n\r\nI am new.\r\n",
    )
    .unwrap();
    Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(&new)
        .status()
        .unwrap();
    assert_eq!(
        finish(pop3_fetch(&dovecot, &maildir, &[])),
        "1 new messages fetched, 0 deleted on the server\n"
    );
    assert_eq!(delivered(&maildir).len(), stored.len() + 1);
    // --crlf keeps the wire's line ends, byte for byte.
    let wire = dovecot.dir.join("wire");
    finish(pop3_fetch(&dovecot, &wire, &["--crlf", "--no-pipelining"]));
    let mut with_late = expected(&stored);
    with_late.push("From: late@example.org\r\nSubject: late\r\n\r\nI am new.\r\n".into());
    assert_eq!(delivered(&wire), sorted(with_late));
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn pop3_fetch_of_two_accounts_sharing_unique_ids_into_one_maildir_stores_both() {
    let (john, jane) = (messages(), janes_messages());
    let dovecot = Dovecot::start_accounts(&[("john", &john), ("jane", &jane)]);
    // The trap: both mailboxes list the same unique ids.
    let ids = |user| {
        let mut pop = dovecot.login_as(user, Security::None);
        let ids = pop.uidl().unwrap();
        pop.quit().unwrap();
        ids
    };
    assert_eq!(ids("john"), ids("jane"));
    let maildir = dovecot.dir.join("fetched");
    for user in ["john", "jane"] {
        assert_eq!(
            finish(pop3_fetch_as(&dovecot, user, &maildir, &["--delete"])),
            format!(
                "{0} new messages fetched, {0} deleted on the server\n",
                john.len()
            ),
            "{user}"
        );
    }
    let mut both = lf(expected(&john));
    both.extend(lf(expected(&jane)));
    assert_eq!(delivered(&maildir), sorted(both));
    for user in ["john", "jane"] {
        let mut pop = dovecot.login_as(user, Security::None);
        assert_eq!(pop.stat().unwrap().0, 0, "{user}'s mailbox is empty");
        pop.quit().unwrap();
    }
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn two_runs_at_once_store_each_message_once_and_the_second_reports_the_lock() {
    // Enough messages for the first run to still hold the lock when the
    // second starts.
    let stored: Vec<Bytes> = (0..400)
        .map(|i| format!("From: a@example.org\r\nSubject: {i}\r\n\r\nmessage {i}\r\n").into())
        .collect();
    let dovecot = Dovecot::start(&stored);
    let maildir = dovecot.dir.join("fetched");
    let first = pop3_fetch(&dovecot, &maildir, &["--delete"]);
    let second = pop3_fetch(&dovecot, &maildir, &["--delete"]);
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let (won, lost): (Vec<&Output>, Vec<&Output>) =
        outputs.iter().partition(|out| out.status.success());
    assert_eq!((won.len(), lost.len()), (1, 1), "{outputs:?}");
    assert_eq!(lost[0].status.code(), Some(2));
    let said = String::from_utf8_lossy(&lost[0].stderr);
    assert!(
        said.contains("another pop3_fetch (pid ") && said.contains("john@localhost:"),
        "{said}"
    );
    assert_eq!(delivered(&maildir), sorted(lf(stored)));
    let record = std::fs::read_dir(&maildir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".pop3_fetch_uidls."))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(record).unwrap().lines().count(),
        400
    );
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_openssl, has_root)),
    ignore = "needs Dovecot, openssl and root (Debian: dovecot-core, dovecot-pop3d, openssl)"
)]
fn pop3_fetch_killed_at_any_point_loses_nothing_and_deletes_only_what_it_stored() {
    // Two accounts whose mailboxes share unique ids, fetched at once into
    // one Maildir.
    let (john, jane) = (messages(), janes_messages());
    let dovecot = Dovecot::start_accounts(&[("john", &john), ("jane", &jane)]);
    let accounts = [("john", &john), ("jane", &jane)];
    let maildir = dovecot.dir.join("fetched");
    // Kill runs at different moments, then let one run to the end.
    for delay_ms in [5u64, 20, 40, 60, 80, 120, 160, 240] {
        let children: Vec<Child> = accounts
            .iter()
            .map(|(user, _)| pop3_fetch_as(&dovecot, user, &maildir, &["--delete"]))
            .collect();
        std::thread::sleep(Duration::from_millis(delay_ms));
        for mut child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever the server no longer has must be on disk.
        let on_disk = delivered(&maildir);
        for (user, stored) in accounts {
            let mut pop = dovecot.login_as(user, Security::None);
            let count = pop.stat().unwrap().0;
            let remaining = fetch_all(&mut pop, count);
            pop.quit().unwrap();
            for (message, as_stored) in expected(stored).iter().zip(lf(expected(stored))) {
                assert!(
                    on_disk.contains(&as_stored.to_vec()) || remaining.contains(&message.to_vec()),
                    "a message of {user} is neither on the server nor on disk \
                     (killed after {delay_ms} ms)"
                );
            }
        }
    }
    for (user, _) in accounts {
        let last = finish(pop3_fetch_as(&dovecot, user, &maildir, &["--delete"]));
        let mut pop = dovecot.login_as(user, Security::None);
        assert_eq!(
            pop.stat().unwrap().0,
            0,
            "everything of {user} stored was deleted; the last run said {last}"
        );
        pop.quit().unwrap();
    }
    let mut on_disk = delivered(&maildir);
    on_disk.dedup();
    let mut both = lf(expected(&john));
    both.extend(lf(expected(&jane)));
    assert_eq!(
        on_disk,
        sorted(both),
        "every message is on disk (duplicates aside)"
    );
    // Every stored message is for its owner's eyes only.
    for entry in std::fs::read_dir(maildir.join("new")).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

// Scripted servers on loopback: what Dovecot does not do.

/// A POP3 server on a loopback port that plays a mailbox of `messages`
/// (unique ids `u1`, `u2`, ...), with `special` answering first: the whole
/// reply to a command line, or `None` to answer as usual. A reply ending in
/// `<close>` closes the connection after the rest is sent; one ending in
/// `<trickle>` is followed by a byte every 200 ms and never a line end; one
/// ending in `<forever>` by whole lines as fast as the client takes them,
/// never the end of the answer (for at most 20 s). It records the
/// command lines it got, and whether the client ever sent one before the
/// answer to the one before it.
struct Scripted {
    port: u16,
    commands: Arc<Mutex<Vec<String>>>,
    pipelined: Arc<AtomicBool>,
}

impl Scripted {
    fn start(
        greeting: &'static str,
        messages: &[&'static str],
        special: impl Fn(&str) -> Option<String> + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let pipelined = Arc::new(AtomicBool::new(false));
        let messages: Vec<&'static str> = messages.to_vec();
        let (log, early) = (Arc::clone(&commands), Arc::clone(&pipelined));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.write_all(greeting.as_bytes());
                if greeting.starts_with("-ERR") {
                    continue;
                }
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    if !reader.buffer().is_empty() {
                        early.store(true, Ordering::SeqCst);
                    }
                    let command = line.trim_end().to_owned();
                    line.clear();
                    log.lock().unwrap().push(command.clone());
                    let reply = special(&command).unwrap_or_else(|| usual(&messages, &command));
                    if let Some(reply) = reply.strip_suffix("<forever>") {
                        // Complete lines, never the final dot, until the
                        // client has gone (or 20 s).
                        let _ = stream.write_all(reply.as_bytes());
                        let started = Instant::now();
                        let mut n = 0u64;
                        while started.elapsed() < Duration::from_secs(20) {
                            let lines: String =
                                (n..n + 1000).map(|i| format!("line {i}\r\n")).collect();
                            n += 1000;
                            if stream.write_all(lines.as_bytes()).is_err() {
                                break;
                            }
                        }
                        break;
                    }
                    if let Some(reply) = reply.strip_suffix("<trickle>") {
                        // A byte every 200 ms, never a line end, for at
                        // most 20 s or until the client has gone.
                        let _ = stream.write_all(reply.as_bytes());
                        for _ in 0..100 {
                            std::thread::sleep(Duration::from_millis(200));
                            if stream.write_all(b"x").is_err() {
                                break;
                            }
                        }
                        break;
                    }
                    let (reply, close) = match reply.strip_suffix("<close>") {
                        Some(reply) => (reply.to_owned(), true),
                        None => (reply, command == "QUIT"),
                    };
                    if stream.write_all(reply.as_bytes()).is_err() || close {
                        break;
                    }
                }
            }
        });
        Self {
            port,
            commands,
            pipelined,
        }
    }

    fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }

    /// Runs `pop3_fetch` against it; the Maildir is `maildir`. It logs in
    /// with USER/PASS in plain text, as these scripted servers take it.
    fn fetch(&self, maildir: &Path, extra: &[&str]) -> (Output, String, String) {
        self.fetch_with(Command::new(example("pop3_fetch")), maildir, extra)
    }

    fn fetch_with(
        &self,
        mut command: Command,
        maildir: &Path,
        extra: &[&str],
    ) -> (Output, String, String) {
        let out = command
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--user", "john", "--maildir"])
            .arg(maildir)
            .args(
                ["--timeout", "10"]
                    .iter()
                    .filter(|_| !extra.contains(&"--timeout")),
            )
            .args(["--sasl", "USER", "--allow-plaintext"])
            .args(extra)
            .env("POP3_PASSWORD", "x")
            .env_remove("POP3_TOKEN")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out, stdout, stderr)
    }
}

/// How the scripted mailbox answers when nothing special is asked.
fn usual(messages: &[&str], command: &str) -> String {
    let mut words = command.split(' ');
    let verb = words.next().unwrap_or_default();
    let message = words
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| messages.get(n.wrapping_sub(1)));
    let listing = |line: &dyn Fn(usize, &str) -> String| {
        let mut reply = String::from("+OK\r\n");
        for (i, m) in messages.iter().enumerate() {
            reply.push_str(&line(i + 1, m));
        }
        reply + ".\r\n"
    };
    match (verb, message) {
        ("CAPA", _) => "+OK\r\nUIDL\r\nPIPELINING\r\nUSER\r\n.\r\n".into(),
        ("USER" | "PASS" | "NOOP", _) => "+OK\r\n".into(),
        ("STAT", _) => format!("+OK {} 0\r\n", messages.len()),
        ("UIDL", None) => listing(&|n, _| format!("{n} u{n}\r\n")),
        ("LIST", None) => listing(&|n, m| format!("{n} {}\r\n", m.len())),
        ("RETR", Some(m)) => {
            let mut reply = String::from("+OK\r\n");
            for line in m.split_inclusive('\n') {
                if line.starts_with('.') {
                    reply.push('.');
                }
                reply.push_str(line);
            }
            reply + ".\r\n"
        }
        ("DELE", Some(_)) => "+OK\r\n".into(),
        ("QUIT", _) => "+OK bye\r\n".into(),
        _ => "-ERR what?\r\n".into(),
    }
}

const A: &str = "Subject: a\r\n\r\nfirst\r\n";
const B: &str = "Subject: b\r\n\r\n.second\r\n";
const C: &str = "Subject: c\r\n\r\nthird\r\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pop3-fetch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn as_lf(message: &str) -> Vec<u8> {
    message.replace("\r\n", "\n").into_bytes()
}

fn dele_sent(server: &Scripted) -> Vec<String> {
    server
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("DELE"))
        .collect()
}

#[test]
fn a_unique_id_with_a_space_is_an_error_for_its_message_only() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "UIDL").then(|| "+OK\r\n1 abc def\r\n2 u2\r\n3 u3\r\n.\r\n".into())
    });
    let maildir = scratch("uid-space");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "2 new messages fetched, 2 deleted on the server\n");
    assert!(
        stderr.contains("message 1: its unique id \"abc def\""),
        "{stderr}"
    );
    assert_eq!(delivered(&maildir), [as_lf(B), as_lf(C)]);
    assert!(!server.commands().contains(&"RETR 1".to_owned()));
    assert_eq!(dele_sent(&server), ["DELE 2", "DELE 3"]);
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn messages_sharing_a_unique_id_are_fetched_and_never_deleted() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "UIDL").then(|| "+OK\r\n1 same\r\n2 same\r\n3 u3\r\n.\r\n".into())
    });
    let maildir = scratch("uid-shared");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    // With --delete, messages fetched but left on the server fail the run.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 1 deleted on the server\n");
    for number in [1, 2] {
        assert!(
            stderr.contains(&format!(
                "message {number} shares its unique id \"same\" with another message: \
                 fetched, never deleted"
            )),
            "{stderr}"
        );
    }
    // Without --delete, nothing is left undone.
    let (out, _, stderr) = server.fetch(&scratch("uid-shared-keep"), &[]);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("shares"), "{stderr}");
    let _ = std::fs::remove_dir_all(scratch("uid-shared-keep"));
    assert_eq!(delivered(&maildir), [as_lf(A), as_lf(B), as_lf(C)]);
    // The next run knows them all: nothing fetched, and still only the
    // message with an id of its own is deleted.
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "0 new messages fetched, 1 deleted on the server\n");
    assert_eq!(dele_sent(&server), ["DELE 3", "DELE 3"]);
    // ...but it says why the other two stay.
    for number in [1, 2] {
        assert!(
            stderr.contains(&format!(
                "message {number} shares its unique id \"same\" with another message: \
                 stored before, left on the server"
            )),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn a_refused_retr_keeps_that_message_and_stores_and_deletes_the_others() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "RETR 2").then(|| "-ERR [SYS/TEMP] cannot read message 2\r\n".into())
    });
    let maildir = scratch("retr-refused");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "2 new messages fetched, 2 deleted on the server\n");
    assert!(
        stderr.contains("refused message 2 (-ERR [SYS/TEMP] cannot read message 2)"),
        "{stderr}"
    );
    assert_eq!(delivered(&maildir), [as_lf(A), as_lf(C)]);
    assert_eq!(dele_sent(&server), ["DELE 1", "DELE 3"]);
    assert_eq!(server.commands().last().map(String::as_str), Some("QUIT"));
    let _ = std::fs::remove_dir_all(&maildir);
}

/// A server of `messages` that answers RETR 2 with message 3 and RETR 3
/// with message 2, as one that answers pipelined commands out of order.
fn answering_2_and_3_swapped(messages: [&'static str; 3]) -> Scripted {
    Scripted::start("+OK ready\r\n", &messages, move |command| match command {
        "RETR 2" => Some(usual(&messages, "RETR 3")),
        "RETR 3" => Some(usual(&messages, "RETR 2")),
        _ => None,
    })
}

#[test]
fn answers_that_disagree_with_list_are_kept_but_neither_recorded_nor_deleted() {
    // Answers 2 and 3 swapped, as a server that answers pipelined commands
    // out of order would send them (sizes apart by more than a line end,
    // but LONG less than twice B).
    const LONG: &str = "Subject: long\r\n\r\nlonger than b\r\n";
    let server = answering_2_and_3_swapped([A, B, LONG]);
    let maildir = scratch("out-of-order");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 1 deleted on the server\n");
    for (number, sent, listed) in [(2, LONG.len(), B.len()), (3, B.len(), LONG.len())] {
        assert!(
            stderr.contains(&format!(
                "message {number}: the server sent {sent} bytes where LIST said {listed}"
            )),
            "{stderr}"
        );
    }
    // Nothing is thrown away, only message 1 is deleted, and the next run
    // fetches 2 and 3 again.
    assert_eq!(delivered(&maildir), [as_lf(A), as_lf(B), as_lf(LONG)]);
    assert_eq!(dele_sent(&server), ["DELE 1"]);
    let (_, stdout, _) = server.fetch(&maildir, &[]);
    assert_eq!(stdout, "2 new messages fetched, 0 deleted on the server\n");
    let _ = std::fs::remove_dir_all(&maildir);

    // An answer more than twice the size LIST gave (and a line end) is no
    // honest answer to its command: it is stopped there, and the session
    // dropped, with a word on --no-pipelining.
    const HUGE: &str = "Subject: huge\r\n\r\nA message much longer than the others.\r\n";
    let server = answering_2_and_3_swapped([A, B, HUGE]);
    let maildir = scratch("out-of-order-huge");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "1 new messages fetched, 0 deleted on the server\n");
    assert!(
        stderr.contains(&format!(
            "message 2: the server sent more than {} bytes where LIST said {}",
            2 * B.len() + 2,
            B.len()
        )) && stderr.contains("try --no-pipelining"),
        "{stderr}"
    );
    assert_eq!(delivered(&maildir), [as_lf(A)]);
    assert!(tmp_is_empty(&maildir));
    assert!(dele_sent(&server).is_empty());
    let _ = std::fs::remove_dir_all(&maildir);

    // A server whose LIST counts the line ends as it stores them (LF) is
    // not taken for one that answers out of order.
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "LIST").then(|| {
            let sizes: String = [A, B, C]
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{} {}\r\n", i + 1, as_lf(m).len()))
                .collect();
            format!("+OK\r\n{sizes}.\r\n")
        })
    });
    let maildir = scratch("lf-sizes");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 3 deleted on the server\n");
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn a_trickling_server_is_cut_at_the_response_deadline_and_nothing_is_deleted() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "RETR 2").then(|| "+OK\r\nSubject: slow\r\n\r\n<trickle>".into())
    });
    let maildir = scratch("trickle");
    let started = Instant::now();
    let (out, _, stderr) = server.fetch(&maildir, &["--delete", "--timeout", "1"]);
    // A byte every 200 ms does not keep the response alive: without a
    // complete line for 1 s, the run ends (well before the server's 20 s).
    assert!(started.elapsed() < Duration::from_secs(15), "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("timed out after 1s waiting for the RETR response"),
        "{stderr}"
    );
    // Message 1 came whole and is kept; the half of 2 is not; nothing is
    // deleted, since QUIT never went out.
    assert_eq!(delivered(&maildir), [as_lf(A)]);
    assert!(
        std::fs::read_dir(maildir.join("tmp"))
            .unwrap()
            .next()
            .is_none()
    );
    assert!(dele_sent(&server).is_empty());
    let _ = std::fs::remove_dir_all(&maildir);
}

/// A Maildir's `tmp/` holds nothing.
fn tmp_is_empty(maildir: &Path) -> bool {
    std::fs::read_dir(maildir.join("tmp"))
        .unwrap()
        .next()
        .is_none()
}

/// The ids the run recorded for the scripted account.
fn recorded(maildir: &Path, port: u16) -> String {
    std::fs::read_to_string(maildir.join(format!(".pop3_fetch_uidls.john@127.0.0.1:{port}")))
        .unwrap()
}

#[test]
fn a_message_far_larger_than_list_said_is_stopped_and_the_session_dropped() {
    // LIST says message 2 is 5 bytes; RETR 2 sends lines without end.
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| match command {
        "LIST" => Some(format!(
            "+OK\r\n1 {}\r\n2 5\r\n3 {}\r\n.\r\n",
            A.len(),
            C.len()
        )),
        "RETR 2" => Some("+OK\r\nSubject: endless\r\n\r\n<forever>".into()),
        _ => None,
    });
    let maildir = scratch("list-lie");
    for run in 0..2 {
        let started = Instant::now();
        let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
        assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let fetched = if run == 0 { 1 } else { 0 };
        assert_eq!(
            stdout,
            format!("{fetched} new messages fetched, 0 deleted on the server\n")
        );
        assert!(
            stderr.contains(
                "message 2: the server sent more than 12 bytes where LIST said 5 (2 x 5 + 2 \
                 is the most an honest server sends): stopped there and not stored, left on \
                 the server. The connection is dropped without QUIT, so nothing is deleted \
                 on the server in this run"
            ),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        // Message 1 is stored (in the first run) and recorded, so the
        // second run does not fetch it again; message 2 leaves nothing.
        assert_eq!(delivered(&maildir), [as_lf(A)], "run {run}");
        assert!(tmp_is_empty(&maildir), "run {run}");
        assert_eq!(recorded(&maildir, server.port), "u1\n");
        let retr = |c: &String| c.starts_with("RETR 1");
        assert_eq!(server.commands().iter().filter(|c| retr(c)).count(), 1);
        assert!(dele_sent(&server).is_empty());
        assert!(!server.commands().contains(&"QUIT".to_owned()));
    }
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn without_list_max_size_stops_a_message_as_it_arrives() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| match command {
        "LIST" => Some("-ERR not here\r\n".into()),
        "RETR 2" => Some("+OK\r\nSubject: endless\r\n\r\n<forever>".into()),
        _ => None,
    });
    let maildir = scratch("max-size-no-list");
    let started = Instant::now();
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete", "--max-size", "1000"]);
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "1 new messages fetched, 0 deleted on the server\n");
    assert!(
        stderr.contains(
            "message 2: the server sent more than --max-size (1000 bytes, line ends counted \
             as one byte): stopped there and not stored, left on the server. The connection \
             is dropped without QUIT, so nothing is deleted on the server in this run; the \
             message stored before it is kept"
        ),
        "{stderr}"
    );
    assert_eq!(delivered(&maildir), [as_lf(A)]);
    assert!(tmp_is_empty(&maildir));
    assert_eq!(recorded(&maildir, server.port), "u1\n");
    assert!(dele_sent(&server).is_empty());
    assert!(!server.commands().contains(&"QUIT".to_owned()));

    // Messages within --max-size are all fetched and deleted.
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "LIST").then(|| "-ERR not here\r\n".into())
    });
    let maildir = scratch("max-size-no-list-ok");
    let limit = A.len().max(B.len()).max(C.len()).to_string();
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete", "--max-size", &limit]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 3 deleted on the server\n");
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn without_capa_nothing_is_pipelined_and_everything_is_fetched() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "CAPA").then(|| "-ERR unknown command\r\n".into())
    });
    let maildir = scratch("no-capa");
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 0 deleted on the server\n");
    assert_eq!(delivered(&maildir), [as_lf(A), as_lf(B), as_lf(C)]);
    assert!(!server.pipelined.load(Ordering::SeqCst));
    let _ = std::fs::remove_dir_all(&maildir);

    // A server that advertises PIPELINING, told not to.
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |_| None);
    let maildir = scratch("no-pipelining");
    let (out, _, stderr) = server.fetch(&maildir, &["--no-pipelining"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(delivered(&maildir).len(), 3);
    assert!(!server.pipelined.load(Ordering::SeqCst));
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn without_uidl_everything_is_fetched_and_delete_is_refused() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "UIDL").then(|| "-ERR no UIDL here\r\n".into())
    });
    let maildir = scratch("no-uidl");
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 0 deleted on the server\n");
    assert!(stderr.contains("does not support UIDL"), "{stderr}");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "3 new messages fetched, 0 deleted on the server\n");
    assert!(
        stderr.contains("--delete refused: the server does not support UIDL"),
        "{stderr}"
    );
    assert!(dele_sent(&server).is_empty());
    assert_eq!(delivered(&maildir).len(), 6);
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn a_refused_greeting_and_escape_sequences_are_printed_safely() {
    let server = Scripted::start("-ERR [SYS/TEMP] too busy\r\n", &[], |_| None);
    let maildir = scratch("greeting");
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "Server said: -ERR [SYS/TEMP] too busy\n");
    let _ = std::fs::remove_dir_all(&maildir);

    // A reply that would retitle the terminal and clear the screen.
    let server = Scripted::start("+OK ready\r\n", &[], |command| {
        command
            .starts_with("PASS")
            .then(|| "-ERR \x1b]0;pwned\x07\x1b[2J no\u{202e}txt.exe\r\n".into())
    });
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout,
        "Server said: -ERR \\x1b]0;pwned\\x07\\x1b[2J no\\u{202e}txt.exe\n"
    );
    // And in a unique id.
    let server = Scripted::start("+OK ready\r\n", &[A], |command| {
        (command == "UIDL").then(|| "+OK\r\n1 a\x1b[2Jb\r\n.\r\n".into())
    });
    let (out, _, stderr) = server.fetch(&maildir, &[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("\"a\\x1b[2Jb\""), "{stderr}");
    assert!(!out.stderr.contains(&0x1b) && !out.stdout.contains(&0x1b));
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn max_size_skips_large_messages_and_reports_them() {
    let big: &'static str =
        Box::leak(format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(5000)).into_boxed_str());
    let server = Scripted::start("+OK ready\r\n", &[A, big, C], |_| None);
    let maildir = scratch("max-size");
    let (out, stdout, stderr) = server.fetch(&maildir, &["--delete", "--max-size", "1000"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "2 new messages fetched, 2 deleted on the server\n");
    assert!(
        stderr.contains("message 2 (5018 bytes) is larger than --max-size"),
        "{stderr}"
    );
    assert!(!server.commands().contains(&"RETR 2".to_owned()));
    assert_eq!(dele_sent(&server), ["DELE 1", "DELE 3"]);
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn files_are_private_whatever_the_umask_and_a_partial_message_is_removed() {
    // The second message breaks off: the connection closes in its middle.
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |command| {
        (command == "RETR 2").then(|| "+OK\r\nSubject: b\r\n\r\nhalf of it<close>".into())
    });
    let maildir = scratch("private").join("deep/Maildir");
    let mut umask = Command::new("sh");
    umask
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(example("pop3_fetch"));
    let (out, stdout, stderr) = server.fetch_with(umask, &maildir, &[]);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("closed the connection"), "{stderr}");
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
    assert_eq!(delivered(&maildir), [as_lf(A)]);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for dir in ["..", ".", "new", "cur", "tmp"] {
        assert_eq!(mode(&maildir.join(dir)), 0o700, "{dir}");
    }
    for entry in std::fs::read_dir(&maildir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    for entry in std::fs::read_dir(maildir.join("new")).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
    let _ = std::fs::remove_dir_all(scratch("private"));
}

#[test]
#[cfg_attr(not(has_proc), ignore = "needs a mounted /proc")]
fn a_lock_left_by_a_killed_run_is_broken_and_a_live_one_is_reported() {
    let server = Scripted::start("+OK ready\r\n", &[A], |_| None);
    let maildir = scratch("stale-lock");
    std::fs::create_dir_all(&maildir).unwrap();
    let lock = maildir.join(format!(".pop3_fetch_lock.john@127.0.0.1:{}", server.port));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .replace(['/', ':'], "_");
    // A process that has ended.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    std::fs::write(
        &lock,
        format!(
            "pid {} start 1 boot - host {host} run 5ca1ab1e\n",
            gone.id()
        ),
    )
    .unwrap();
    // The partial message it left in tmp/, and one of a live run of
    // another account in the same Maildir whose process has the same id
    // (as pids are reused): only the run id tells them apart.
    std::fs::create_dir_all(maildir.join("tmp")).unwrap();
    let partial = maildir
        .join("tmp")
        .join(format!("1700000000.M1P{}Q1R5ca1ab1e.{host}", gone.id()));
    let live = maildir
        .join("tmp")
        .join(format!("1700000000.M1P{}Q1Rfeed.{host}", gone.id()));
    std::fs::write(&partial, "Subject: cut\n\nha").unwrap();
    std::fs::write(&live, "Subject: still coming\n").unwrap();
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "1 new messages fetched, 0 deleted on the server\n");
    assert!(!partial.exists(), "{stderr}");
    assert!(live.exists(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "removed 1 partial message file(s) from {}, left by a run that was killed \
             (run 5ca1ab1e)",
            maildir.join("tmp").display()
        )),
        "{stderr}"
    );
    std::fs::remove_file(&live).unwrap();
    // The run removed its lock, and left nothing else behind.
    let left: Vec<String> = std::fs::read_dir(&maildir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".pop3_fetch_lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A live run: this test's own process.
    let me = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = me[me.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_owned();
    let holder = format!(
        "pid {} start {start} boot - host {host}\n",
        std::process::id()
    );
    std::fs::write(&lock, &holder).unwrap();
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "another pop3_fetch (pid {} on {host}) is fetching john@127.0.0.1:",
            std::process::id()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), holder);
    // One on another host cannot be checked: it is reported as held.
    std::fs::write(&lock, "pid 1 start 1 boot - host elsewhere\n").unwrap();
    let (out, _, stderr) = server.fetch(&maildir, &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot be checked from here"), "{stderr}");
    let _ = std::fs::remove_dir_all(&maildir);
}

#[test]
fn a_record_line_torn_by_a_crash_is_dropped_not_glued() {
    let server = Scripted::start("+OK ready\r\n", &[A, B, C], |_| None);
    let maildir = scratch("torn");
    std::fs::create_dir_all(&maildir).unwrap();
    let record = maildir.join(format!(".pop3_fetch_uidls.john@127.0.0.1:{}", server.port));
    // The run that recorded u1 was killed while writing u2.
    std::fs::write(&record, "u1\nu").unwrap();
    let (out, stdout, stderr) = server.fetch(&maildir, &[]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "2 new messages fetched, 0 deleted on the server\n");
    assert_eq!(delivered(&maildir), [as_lf(B), as_lf(C)]);
    assert_eq!(std::fs::read_to_string(&record).unwrap(), "u1\nu2\nu3\n");
    let _ = std::fs::remove_dir_all(&maildir);
}
