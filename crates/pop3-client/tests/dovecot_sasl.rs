//! SASL against a real server: a Dovecot of its own, started here from a
//! configuration in a temporary directory (plain text on a free loopback
//! port, one account with an empty Maildir), checks that this crate's
//! SCRAM-SHA-256, SCRAM-SHA-1 and CRAM-MD5 agree with Dovecot's, that
//! the strongest method is chosen from its CAPA, and that a wrong password
//! is Dovecot's `-ERR [AUTH]` (OAuth needs an authorization server, so
//! XOAUTH2 and OAUTHBEARER are left to the demo server's tests).
//!
//! Needs `/usr/sbin/dovecot`, its POP3 server and root: the build script
//! sets `cfg(all(has_dovecot, has_root))` when they are there.
#![cfg(feature = "blocking")]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lineproto::Secret;
use pop3_client::ResponseCode;
use pop3_client::blocking::{ConnectOptions, Login, LoginPolicy, Pop3Client};
use pop3_client::client::Credentials;
use pop3_client::sasl::{self, Scram};

const PASSWORD: &str = "s3cret p\u{e4}ss";

/// A Dovecot serving POP3 in plain text, killed on drop.
struct Dovecot {
    dir: PathBuf,
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Dovecot {
    fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "pop3-client-dovecot-sasl-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in [
            "run",
            "state",
            "home/john/Maildir/cur",
            "home/john/Maildir/new",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::create_dir_all(dir.join("home/john/Maildir/tmp")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // {PLAIN}: Dovecot can then run every password mechanism itself.
        std::fs::write(
            dir.join("passwd"),
            format!("john:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        let d = dir.display();
        let config = format!(
            "protocols = pop3\n\
             listen = 127.0.0.1\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop\n\
             mail_location = maildir:~/Maildir\n\
             mail_uid = nobody\n\
             mail_gid = nogroup\n\
             first_valid_uid = 0\n\
             service pop3-login {{\n inet_listener pop3 {{\n port = {port}\n }}\n}}\n\
             service anvil {{\n chroot =\n }}\n\
             passdb {{\n driver = passwd-file\n args = {d}/passwd\n }}\n\
             userdb {{\n driver = static\n args = uid=nobody gid=nogroup home={d}/home/%u\n }}\n"
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
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let dovecot = Self { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !dovecot.greets() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                dovecot.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        dovecot
    }

    fn greets(&self) -> bool {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+OK")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    fn connect(&self) -> Pop3Client {
        Pop3Client::connect("127.0.0.1", self.port, &ConnectOptions::default()).unwrap()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // Its own child, by PID: Dovecot's master takes its children along.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn password() -> Secret<Vec<u8>> {
    Secret::new(PASSWORD.as_bytes().to_vec())
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_root)),
    ignore = "needs Dovecot and root (Debian: dovecot-core, dovecot-pop3d)"
)]
fn every_password_mechanism_against_dovecot() {
    let dovecot = Dovecot::start();
    // The strongest Dovecot offers, chosen from its CAPA.
    let mut pop = dovecot.connect();
    let strongest = pop.strongest_login(LoginPolicy::default()).unwrap();
    assert_eq!(strongest, Some(Login::SaslScramSha256), "{}", dovecot.log());
    pop.quit().unwrap();
    for login in [
        Login::SaslScramSha256,
        Login::SaslScramSha1,
        Login::SaslCramMd5,
        Login::Apop,
        Login::SaslPlain,
        Login::SaslLogin,
        Login::UserPass,
    ] {
        let mut pop = dovecot.connect();
        pop.login(login, "john", password())
            .unwrap_or_else(|e| panic!("{login}: {e}\n{}", dovecot.log()));
        assert_eq!(pop.stat().unwrap(), (0, 0), "{login}");
        pop.quit().unwrap();
    }
    // Few wrong passwords: Dovecot delays each failure from the same
    // address longer than the one before.
    for login in [Login::SaslScramSha256, Login::SaslCramMd5] {
        let mut pop = dovecot.connect();
        let error = pop
            .login(login, "john", Secret::new(b"wrong".to_vec()))
            .unwrap_err();
        let refused = error.server_error().expect("a -ERR");
        assert_eq!(refused.code, Some(ResponseCode::Auth), "{login}: {error}");
    }
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_root)),
    ignore = "needs Dovecot and root (Debian: dovecot-core, dovecot-pop3d)"
)]
fn scram_with_a_fixed_nonce_and_an_iteration_floor_above_dovecots() {
    let dovecot = Dovecot::start();
    // A caller's nonce: Dovecot extends it, and the exchange completes.
    let mut pop = dovecot.connect();
    let scram = Scram::sha256("john", password(), "fixed-test-nonce-0123456789");
    pop.login_with(Credentials::Sasl(Box::new(scram))).unwrap();
    pop.quit().unwrap();
    // Dovecot 2.3 uses 4096 iterations: a floor above that cancels with
    // `*`, and Dovecot's -ERR comes with the reason.
    let mut pop = dovecot.connect();
    let scram = Scram::sha1("john", password(), "n").iteration_limits(5000, 10_000);
    let error = pop
        .login_with(Credentials::Sasl(Box::new(scram)))
        .unwrap_err();
    let text = format!("{error:?}");
    assert!(
        matches!(
            error,
            pop3_client::blocking::Pop3Error::Session(
                pop3_client::session::SessionError::AuthCancelled {
                    error: sasl::Error::IterationCountTooLow { limit: 5000, .. },
                    ..
                }
            )
        ),
        "{text}\n{}",
        dovecot.log()
    );
    // The session goes on after the cancellation.
    pop.login(Login::SaslScramSha1, "john", password()).unwrap();
    pop.quit().unwrap();
}
