//! The POP3 client against a real Dovecot, started by each test from a
//! configuration written into a temporary directory, on free loopback
//! ports, and stopped by its PID. The Maildir is generated with tricky
//! messages. TLS uses a CA and a server certificate made with openssl at
//! test time.
//!
//! It needs Debian's `dovecot-core`, `dovecot-pop3d` and `openssl`, and root
//! (Dovecot switches to the `nobody` user to read the mail). Without them
//! the tests skip with a message, except under `CI=true`, where they fail.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::Secret;
use net_std::pop3::{Login, Pop3Client, Pop3Error, Pop3Options, Retrieved, Security};
use pop3_client::ResponseCode;
use pop3_client::server::Mailbox;

fn available() -> bool {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let found = Path::new("/usr/sbin/dovecot").exists()
        && Path::new("/usr/lib/dovecot/pop3").exists()
        && Command::new("openssl").arg("version").output().is_ok();
    if !(found && is_root) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Dovecot (dovecot-core, dovecot-pop3d), openssl and root are required under CI"
        );
        eprintln!("skipping: Dovecot, openssl or root is missing");
    }
    found && is_root
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

/// A Dovecot instance with a Maildir, killed on drop.
struct Dovecot {
    dir: PathBuf,
    child: Child,
    pop3: u16,
    pop3s: u16,
}

impl Dovecot {
    fn start(messages: &[Bytes]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dovecot-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in [
            "run",
            "state",
            "home/Maildir/cur",
            "home/Maildir/new",
            "home/Maildir/tmp",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (i, message) in messages.iter().enumerate() {
            let name = format!("{}.M{i}P1.test:2,S", 1_700_000_000 + i);
            std::fs::write(dir.join("home/Maildir/cur").join(name), message).unwrap();
        }
        make_certificates(&dir);
        std::fs::write(dir.join("passwd"), "john:{PLAIN}secret::::::\n").unwrap();
        let (pop3, pop3s) = (free_port(), free_port());
        let d = dir.display();
        let config = format!(
            "protocols = pop3\n\
             listen = 127.0.0.1\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             ssl = yes\n\
             ssl_cert = <{d}/cert.pem\n\
             ssl_key = <{d}/key.pem\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login apop\n\
             mail_location = maildir:{d}/home/Maildir\n\
             mail_uid = nobody\n\
             mail_gid = nogroup\n\
             first_valid_uid = 0\n\
             pop3_uidl_format = %08Xu%08Xv\n\
             service pop3-login {{\n\
               inet_listener pop3 {{\n port = {pop3}\n }}\n\
               inet_listener pop3s {{\n port = {pop3s}\n ssl = yes\n }}\n\
             }}\n\
             service anvil {{\n chroot =\n }}\n\
             passdb {{\n driver = passwd-file\n args = {d}/passwd\n }}\n\
             userdb {{\n driver = static\n args = uid=nobody gid=nogroup home={d}/home\n }}\n"
        );
        std::fs::write(dir.join("dovecot.conf"), config).unwrap();
        Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(dir.join("home"))
            .status()
            .unwrap();
        let child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dovecot");
        let dovecot = Self {
            dir,
            child,
            pop3,
            pop3s,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(dovecot.greets(pop3) && TcpStream::connect(("127.0.0.1", pop3s)).is_ok()) {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                dovecot.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        dovecot
    }

    fn greets(&self, port: u16) -> bool {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+OK")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    fn options(&self, security: Security) -> Pop3Options {
        let mut options = Pop3Options::default();
        options.security = security;
        options.ca_file = Some(self.dir.join("ca.pem"));
        options
    }

    fn connect(&self, security: Security) -> Pop3Client {
        let port = if security == Security::Implicit {
            self.pop3s
        } else {
            self.pop3
        };
        Pop3Client::connect("localhost", port, &self.options(security)).expect("connect to dovecot")
    }

    fn login(&self, security: Security) -> Pop3Client {
        let mut pop = self.connect(security);
        pop.login(Login::UserPass, "john", Secret::new(b"secret".to_vec()))
            .expect("login");
        pop
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test CA and a server certificate for localhost and 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    std::fs::set_permissions(dir.join("key.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
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
            bodies[number as usize - 1].extend_from_slice(chunk);
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
    assert!(matches!(error, Pop3Error::Server(_)), "{error}");
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
    let mut options = Pop3Options::default();
    options.security = Security::Implicit;
    options.ca_file = Some(dovecot.dir.join("cert.pem")); // not the CA
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
    let Pop3Error::Server(error) = error else {
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
    let ca = dovecot.dir.join("ca.pem").display().to_string();
    let expected = format!("{} messages in mailbox\n", stored.len());
    for extra in [
        &[][..],
        &["--starttls", "--ca-file", &ca],
        &["--apop"],
        &["--sasl-plain"],
    ] {
        let mut args = vec!["--host", "localhost", "--port", &port, "--user", "john"];
        args.extend_from_slice(extra);
        let out = pop3_count(&args, "secret");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pop3s = dovecot.pop3s.to_string();
    let out = pop3_count(
        &[
            "--host",
            "localhost",
            "--port",
            &pop3s,
            "--user",
            "john",
            "--tls",
            "--ca-file",
            &ca,
        ],
        "secret",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    let out = pop3_count(
        &["--host", "localhost", "--port", &port, "--user", "john"],
        "wrong",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Server said: -ERR [AUTH] Authentication failed.\n"
    );
    assert_eq!(out.status.code(), Some(1));
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
    assert_eq!(pop.stat().unwrap().0, 0, "everything stored was deleted; the last run said {last}");
    pop.quit().unwrap();
    let mut on_disk = delivered(&maildir);
    on_disk.dedup();
    assert_eq!(
        on_disk,
        sorted(expected(&stored)),
        "every message is on disk (duplicates aside)"
    );
}
