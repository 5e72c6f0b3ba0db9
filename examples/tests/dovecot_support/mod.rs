//! A Dovecot started from a configuration in a temporary directory, on free
//! loopback ports, with a generated Maildir and test certificates (a CA and
//! a certificate it signed, or a self-signed one as `openssl req -x509`
//! makes it); stopped by its PID on drop. Shared by the Dovecot tests and
//! the POP3 benchmark.
//!
//! It needs `/usr/sbin/dovecot`, `/usr/lib/dovecot/pop3`, `openssl` and
//! root: the build script sets `cfg(all(has_dovecot, has_openssl, has_root))`
//! when they are there (`build/test_tools.rs`).

#![allow(dead_code)] // each user takes what it needs

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::Secret;
use pop3_client::blocking::{ConnectOptions, Login, Pop3Client, Security};
use pop3_client::tls::Trust;

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Dovecot instance with a Maildir per account, killed on drop.
pub(crate) struct Dovecot {
    pub(crate) dir: PathBuf,
    child: Child,
    pub(crate) pop3: u16,
    pub(crate) pop3s: u16,
    certificate: ServerCertificate,
}

/// The certificate Dovecot serves, for `localhost` and `127.0.0.1` both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerCertificate {
    /// `cert.pem` (`CA:FALSE`), signed by the test CA `ca.pem`.
    SignedByTestCa,
    /// `selfsigned.pem`, what `openssl req -x509` makes with the
    /// configuration's defaults: self-signed and marked `CA:TRUE` (checked
    /// when it is made). `ca.pem` does not vouch for it.
    SelfSigned,
}

impl ServerCertificate {
    fn file(self) -> &'static str {
        match self {
            Self::SignedByTestCa => "cert.pem",
            Self::SelfSigned => "selfsigned.pem",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::SignedByTestCa => "key.pem",
            Self::SelfSigned => "selfsigned.key",
        }
    }
}

/// Every account's password.
pub(crate) const PASSWORD: &str = "secret";

/// The UIDVALIDITY of every mailbox: Dovecot's UIDLs (`%08Xu%08Xv`, its
/// default) are the same for the first messages of every mailbox, as they
/// are for mailboxes created in the same second.
const UIDVALIDITY: u32 = 1_700_000_000;

impl Dovecot {
    /// Dovecot with one account, `john`, holding `messages`.
    pub(crate) fn start(messages: &[Bytes]) -> Self {
        Self::start_accounts(&[("john", messages)])
    }

    /// Dovecot with these accounts (user name, messages), each with the
    /// password [`PASSWORD`] and a Maildir of its own. Mailboxes holding as
    /// many messages list the same unique ids.
    pub(crate) fn start_accounts(accounts: &[(&str, &[Bytes])]) -> Self {
        Self::start_serving(accounts, ServerCertificate::SignedByTestCa)
    }

    /// Dovecot with one account, `john`, holding `messages`, serving TLS
    /// with a self-signed `CA:TRUE` certificate ([`Self::certificate`]).
    pub(crate) fn start_self_signed(messages: &[Bytes]) -> Self {
        Self::start_serving(&[("john", messages)], ServerCertificate::SelfSigned)
    }

    /// Dovecot with these accounts, serving TLS with `certificate`.
    pub(crate) fn start_serving(
        accounts: &[(&str, &[Bytes])],
        certificate: ServerCertificate,
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dovecot-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["run", "state"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut passwd = String::new();
        for (user, messages) in accounts {
            let maildir = dir.join("home").join(user).join("Maildir");
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(maildir.join(sub)).unwrap();
            }
            for (i, message) in messages.iter().enumerate() {
                // S= (size) and W= (size with CRLF line ends) in the name spare
                // Dovecot reading every file to learn the sizes POP3 reports.
                let crlf_size = message.len() + message.iter().filter(|&&b| b == b'\n').count()
                    - message.windows(2).filter(|w| w == b"\r\n").count();
                let name = format!(
                    "{}.M{i}P1.test,S={},W={crlf_size}:2,S",
                    1_700_000_000 + i,
                    message.len()
                );
                std::fs::write(maildir.join("cur").join(name), message).unwrap();
            }
            std::fs::write(
                maildir.join("dovecot-uidlist"),
                format!("3 V{UIDVALIDITY} N1\n"),
            )
            .unwrap();
            passwd.push_str(&format!("{user}:{{PLAIN}}{PASSWORD}::::::\n"));
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        make_certificates(&dir, certificate);
        std::fs::write(dir.join("passwd"), passwd).unwrap();
        let (pop3, pop3s) = (free_port(), free_port());
        let d = dir.display();
        let (cert, key) = (certificate.file(), certificate.key());
        let config = format!(
            "protocols = pop3\n\
             listen = 127.0.0.1\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             ssl = yes\n\
             ssl_cert = <{d}/{cert}\n\
             ssl_key = <{d}/{key}\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop\n\
             mail_location = maildir:~/Maildir\n\
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
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dovecot");
        let dovecot = Self {
            dir,
            child,
            pop3,
            pop3s,
            certificate,
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

    pub(crate) fn greets(&self, port: u16) -> bool {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+OK")
    }

    /// The certificate Dovecot serves (PEM).
    pub(crate) fn certificate(&self) -> PathBuf {
        self.dir.join(self.certificate.file())
    }

    /// The SHA-256 fingerprint of the certificate Dovecot serves, as
    /// `openssl x509 -noout -fingerprint -sha256` prints it:
    /// `sha256 Fingerprint=AB:CD:...`.
    pub(crate) fn openssl_fingerprint(&self) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(self.certificate())
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl x509 -fingerprint failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    pub(crate) fn options(&self, security: Security) -> ConnectOptions {
        let mut options = ConnectOptions::default();
        options.security = security;
        options.trust = Trust::CaFile(self.dir.join("ca.pem"));
        options
    }

    pub(crate) fn connect(&self, security: Security) -> Pop3Client {
        let port = if security == Security::Implicit {
            self.pop3s
        } else {
            self.pop3
        };
        Pop3Client::connect("localhost", port, &self.options(security)).expect("connect to dovecot")
    }

    pub(crate) fn login(&self, security: Security) -> Pop3Client {
        self.login_as("john", security)
    }

    pub(crate) fn login_as(&self, user: &str, security: Security) -> Pop3Client {
        let mut pop = self.connect(security);
        pop.login(
            Login::UserPass,
            user,
            Secret::new(PASSWORD.as_bytes().to_vec()),
        )
        .expect("login");
        pop
    }

    /// The Maildir Dovecot serves `user`'s mailbox from.
    pub(crate) fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("home").join(user).join("Maildir")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test CA and a server certificate for localhost and 127.0.0.1 signed
/// by it; with [`ServerCertificate::SelfSigned`], also a self-signed
/// certificate for the same names, made as the README shows.
fn make_certificates(dir: &Path, certificate: ServerCertificate) {
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
    if certificate == ServerCertificate::SelfSigned {
        // No basicConstraints given: openssl's configuration marks a
        // certificate made by `req -x509` as a CA's (its v3_ca section).
        run(&[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "selfsigned.key",
                "-out",
                "selfsigned.pem",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
        ]
        .concat());
        let constraints = Command::new("openssl")
            .args(["x509", "-noout", "-ext", "basicConstraints", "-in"])
            .arg(dir.join("selfsigned.pem"))
            .output()
            .expect("run openssl");
        assert!(
            String::from_utf8_lossy(&constraints.stdout).contains("CA:TRUE"),
            "this openssl's `req -x509` no longer makes a CA:TRUE certificate: {}",
            String::from_utf8_lossy(&constraints.stdout)
        );
        std::fs::set_permissions(
            dir.join("selfsigned.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
}
