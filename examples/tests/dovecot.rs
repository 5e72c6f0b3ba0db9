//! The POP3 client against a real Dovecot, started by each test from a
//! configuration written into a temporary directory, on free loopback
//! ports, and stopped by its PID. The Maildir is generated with tricky
//! messages. TLS uses a CA and a server certificate made with openssl at
//! test time.
//!
//! It needs Debian's `dovecot-core`, `dovecot-pop3d` and `openssl`, and root
//! (Dovecot switches to the `nobody` user to read the mail). Without them
//! the tests skip with a message, except under `CI=true`, where they fail.

mod dovecot_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dovecot_support::{Dovecot, available};

use bytes::Bytes;
use lineproto::Secret;
use pop3_client::ResponseCode;
use pop3_client::blocking::{ConnectOptions, Login, Pop3Client, Pop3Error, Retrieved, Security};
use pop3_client::server::Mailbox;
use pop3_client::session::SessionError;
use pop3_client::tls::Trust;

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
fn every_message_arrives_byte_identical_pipelined_and_lock_step() {
    if !available() {
        return;
    }
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
fn uidl_top_noop_rset_and_the_commands_around_them() {
    if !available() {
        return;
    }
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
fn dele_then_quit_deletes_and_a_dropped_connection_deletes_nothing() {
    if !available() {
        return;
    }
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
fn every_login_method_and_tls_mode() {
    if !available() {
        return;
    }
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
fn tls_refuses_a_certificate_it_cannot_trust() {
    if !available() {
        return;
    }
    let dovecot = Dovecot::start(&[]);
    let mut options = ConnectOptions::default();
    options.security = Security::Implicit;
    options.trust = Trust::CaFile(dovecot.dir.join("cert.pem")); // not the CA
    let error = Pop3Client::connect("localhost", dovecot.pop3s, &options).unwrap_err();
    assert!(matches!(error, Pop3Error::Tls(_)), "{error}");
}

#[test]
fn a_wrong_password_is_an_auth_error() {
    if !available() {
        return;
    }
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

fn pop3_count(args: &[&str], password: &str) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples/pop3_count");
    Command::new(path)
        .args(args)
        .env("POP3_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn pop3_count_counts_a_real_mailbox_and_reports_server_errors() {
    if !available() {
        return;
    }
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
            (&["--sasl-plain"], &port),
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

fn pop3_fetch(dovecot: &Dovecot, maildir: &Path, extra: &[&str]) -> Child {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples/pop3_fetch");
    let port = dovecot.pop3.to_string();
    Command::new(path)
        .args([
            "--host",
            "localhost",
            "--port",
            &port,
            "--user",
            "john",
            "--maildir",
        ])
        .arg(maildir)
        .args(extra)
        .env("POP3_PASSWORD", "secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
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

#[test]
fn pop3_fetch_downloads_into_a_maildir_and_only_new_messages_next_time() {
    if !available() {
        return;
    }
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
    assert_eq!(delivered(&maildir), sorted(expected(&stored)));
    assert_eq!(
        finish(pop3_fetch(&dovecot, &maildir, &[])),
        "0 new messages fetched, 0 deleted on the server\n"
    );
    // A new message arrives on the server.
    let new = dovecot.dir.join("home/Maildir/new/1800000000.M1P1.test");
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
}

#[test]
fn pop3_fetch_killed_at_any_point_loses_nothing_and_deletes_only_what_it_stored() {
    if !available() {
        return;
    }
    let stored = messages();
    let dovecot = Dovecot::start(&stored);
    let maildir = dovecot.dir.join("fetched");
    // Kill runs at different moments, then let one run to the end.
    for delay_ms in [5u64, 20, 40, 60, 80, 120, 160, 240] {
        let mut child = pop3_fetch(&dovecot, &maildir, &["--delete"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the server no longer has must be on disk.
        let mut pop = dovecot.login(Security::None);
        let count = pop.stat().unwrap().0;
        let remaining = fetch_all(&mut pop, count);
        pop.quit().unwrap();
        let on_disk = delivered(&maildir);
        for message in expected(&stored) {
            assert!(
                on_disk.contains(&message.to_vec()) || remaining.contains(&message.to_vec()),
                "a message is neither on the server nor on disk (killed after {delay_ms} ms)"
            );
        }
    }
    let last = finish(pop3_fetch(&dovecot, &maildir, &["--delete"]));
    let mut pop = dovecot.login(Security::None);
    assert_eq!(
        pop.stat().unwrap().0,
        0,
        "everything stored was deleted; the last run said {last}"
    );
    pop.quit().unwrap();
    let mut on_disk = delivered(&maildir);
    on_disk.dedup();
    assert_eq!(
        on_disk,
        sorted(expected(&stored)),
        "every message is on disk (duplicates aside)"
    );
}
