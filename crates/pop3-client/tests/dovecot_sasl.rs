//! SASL against a real server: a Dovecot of its own, started here from a
//! configuration in a temporary directory (plain text on a free loopback
//! port, one account with an empty Maildir), checks that this crate's
//! SCRAM-SHA-256, SCRAM-SHA-1 and CRAM-MD5 agree with Dovecot's, that
//! the strongest method is chosen from its CAPA, and that a wrong password
//! is Dovecot's `-ERR [AUTH]`.
//!
//! XOAUTH2 and OAUTHBEARER go through Dovecot's `oauth2` passdb, which
//! asks an OAuth 2.0 token introspection endpoint (RFC 7662) that the test
//! serves itself on loopback: a thread answering Dovecot's POSTs with a
//! small JSON object. A valid token logs in with either mechanism (and
//! the endpoint saw that very token); an inactive one is refused with
//! Dovecot's `-ERR` after its JSON error challenge, which the client
//! acknowledges as each mechanism says; an active token of another user
//! is refused.
//!
//! Needs `/usr/sbin/dovecot`, its POP3 server and root: the build script
//! sets `cfg(all(has_dovecot, has_root))` when they are there.
#![cfg(feature = "blocking")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lineproto::Secret;
use pop3_client::ResponseCode;
use pop3_client::blocking::{ConnectOptions, Login, LoginPolicy, Pop3Client};
use pop3_client::client::Credentials;
use pop3_client::sasl::{self, OAuthBearer, Scram, XOAuth2};

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
    /// John's password in a passwd-file, every password mechanism on.
    fn start() -> Self {
        Self::start_with(
            "plain login cram-md5 scram-sha-1 scram-sha-256 apop",
            |dir| {
                // {PLAIN}: Dovecot can then run every password mechanism itself.
                std::fs::write(
                    dir.join("passwd"),
                    format!("john:{{PLAIN}}{PASSWORD}::::::\n"),
                )
                .unwrap();
                format!(
                    "passdb {{\n driver = passwd-file\n args = {}/passwd\n }}\n",
                    dir.display()
                )
            },
        )
    }

    /// `auth_mechanisms` and the `passdb` sections that `passdb` writes
    /// (given the directory, for the files they name).
    fn start_with(auth_mechanisms: &str, passdb: impl FnOnce(&Path) -> String) -> Self {
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
        let passdb = passdb(&dir);
        let d = dir.display();
        let config = format!(
            "protocols = pop3\n\
             listen = 127.0.0.1\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             ssl = no\n\
             auth_verbose = yes\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = {auth_mechanisms}\n\
             mail_location = maildir:~/Maildir\n\
             mail_uid = nobody\n\
             mail_gid = nogroup\n\
             first_valid_uid = 0\n\
             service pop3-login {{\n inet_listener pop3 {{\n port = {port}\n }}\n}}\n\
             service anvil {{\n chroot =\n }}\n\
             {passdb}\
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

/// John's token, long enough (like a real JWT) that the client sends it in
/// answer to Dovecot's empty challenge rather than on the AUTH line.
fn valid_token() -> String {
    format!("eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl-_~", "x".repeat(300))
}

/// A token the endpoint says belongs to nobody any more.
const REVOKED_TOKEN: &str = "revoked.token-0123456789";

/// A token the endpoint says is active, and Jane's.
const JANES_TOKEN: &str = "janes.token-0123456789";

/// An OAuth 2.0 token introspection endpoint (RFC 7662) on loopback, as
/// Dovecot's `oauth2` passdb asks it with `introspection_mode = post`: a
/// form `token=...` POSTed to `/introspect`, answered with a JSON object.
/// [`valid_token`] is John's and active; any other token is
/// `{"active":false}`. One connection at a time, each with a read
/// timeout and a size limit, answered and closed; stopped on drop.
struct Introspection {
    port: u16,
    /// The tokens POSTed to it, in order, form-decoded.
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Introspection {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let seen = Arc::clone(&seen);
            let stop = Arc::clone(&stop);
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let (status, body) = match read_request(&mut stream) {
                        Ok((path, token)) if path == "/introspect" => {
                            let body = if token == valid_token() {
                                r#"{"active":true,"username":"john","scope":"mail"}"#
                            } else if token == JANES_TOKEN {
                                r#"{"active":true,"username":"jane","scope":"mail"}"#
                            } else {
                                r#"{"active":false}"#
                            };
                            seen.lock().unwrap().push(token);
                            ("200 OK", body)
                        }
                        Ok(_) => ("404 Not Found", r#"{"error":"not found"}"#),
                        Err(_) => ("400 Bad Request", r#"{"error":"invalid_request"}"#),
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
        });
        Self {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Introspection {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one POST (head and body at most 16 KiB, 5 s per read): its path
/// and the form's `token`.
fn read_request(stream: &mut TcpStream) -> std::io::Result<(String, String)> {
    const LIMIT: usize = 16 * 1024;
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buffer = [0; 4096];
    let head_end = loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if request.len() > LIMIT {
            return Err(invalid("head too long"));
        }
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Err(invalid("closed in the head"));
        }
        request.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    if request_line.next() != Some("POST") {
        return Err(invalid("not a POST"));
    }
    let path = request_line.next().unwrap_or_default().to_owned();
    let length: usize = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .ok_or_else(|| invalid("no Content-Length"))?;
    if length > LIMIT {
        return Err(invalid("body too long"));
    }
    while request.len() < head_end + length {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Err(invalid("closed in the body"));
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let body = &request[head_end..head_end + length];
    let token = body
        .split(|&b| b == b'&')
        .find_map(|pair| pair.strip_prefix(b"token="))
        .ok_or_else(|| invalid("no token"))?;
    Ok((path, form_decode(token)))
}

/// `application/x-www-form-urlencoded` value to text.
fn form_decode(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex: Vec<u8> = bytes.by_ref().take(2).copied().collect();
                match std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(byte) if hex.len() == 2 => out.push(byte),
                    _ => {
                        out.push(b'%');
                        out.extend_from_slice(&hex);
                    }
                }
            }
            _ => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Dovecot whose only passdb is `oauth2`, asking `endpoint`.
fn dovecot_with_oauth2(endpoint: &Introspection) -> Dovecot {
    let url = endpoint.url();
    Dovecot::start_with("xoauth2 oauthbearer", |dir| {
        let conf = dir.join("dovecot-oauth2.conf.ext");
        std::fs::write(
            &conf,
            format!(
                "introspection_mode = post\n\
                 introspection_url = {url}\n\
                 username_attribute = username\n\
                 active_attribute = active\n\
                 active_value = true\n\
                 timeout_msecs = 10000\n"
            ),
        )
        .unwrap();
        format!(
            "passdb {{\n driver = oauth2\n mechanisms = xoauth2 oauthbearer\n args = {}\n }}\n",
            conf.display()
        )
    })
}

/// The challenges a mechanism was given, each with its response.
type Steps = Arc<Mutex<Vec<(Vec<u8>, Vec<u8>)>>>;

/// A shipped mechanism that also keeps the challenges it was given and
/// the responses it made, for the test to look at after the exchange.
#[derive(Debug)]
struct Recorded<M> {
    inner: M,
    steps: Steps,
}

impl<M: sasl::Mechanism> Recorded<M> {
    fn new(inner: M) -> (Self, Steps) {
        let steps = Arc::new(Mutex::new(Vec::new()));
        let recorded = Self {
            inner,
            steps: Arc::clone(&steps),
        };
        (recorded, steps)
    }
}

impl<M: sasl::Mechanism> sasl::Mechanism for Recorded<M> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, sasl::Error> {
        self.inner.initial_response()
    }

    fn step(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, sasl::Error> {
        let response = self.inner.step(challenge)?;
        self.steps
            .lock()
            .unwrap()
            .push((challenge.to_vec(), response.expose().clone()));
        Ok(response)
    }

    fn finish(&mut self) -> Result<(), sasl::Error> {
        self.inner.finish()
    }
}

fn token(token: &str) -> Secret<Vec<u8>> {
    Secret::new(token.as_bytes().to_vec())
}

// Two tests, two Dovecots: Dovecot delays each failed login from an
// address longer than the one before (2 s, 4 s, 8 s...), so the failures
// are spread over both.

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_root)),
    ignore = "needs Dovecot and root (Debian: dovecot-core, dovecot-pop3d)"
)]
fn xoauth2_and_oauthbearer_log_in_through_dovecots_oauth2_passdb() {
    let endpoint = Introspection::start();
    let dovecot = dovecot_with_oauth2(&endpoint);
    let valid = valid_token();
    // A valid token logs in with either mechanism, and the mailbox opens.
    for mechanism in [
        Box::new(XOAuth2::new("john", token(&valid))) as Box<dyn sasl::Mechanism>,
        Box::new(OAuthBearer::new("john", token(&valid))),
    ] {
        let name = mechanism.name().to_owned();
        let mut pop = dovecot.connect();
        pop.login_with(Credentials::Sasl(mechanism))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", dovecot.log()));
        assert_eq!(pop.stat().unwrap(), (0, 0), "{name}");
        pop.quit().unwrap();
    }
    // Dovecot asked the endpoint about the very token the client sent,
    // once per login (no auth cache).
    assert_eq!(endpoint.seen(), [valid.clone(), valid]);

    // An active token, but Jane's: Dovecot takes the user from the
    // endpoint's answer, and refuses it for John.
    let mut pop = dovecot.connect();
    let error = pop
        .login_with(Credentials::Sasl(Box::new(OAuthBearer::new(
            "john",
            token(JANES_TOKEN),
        ))))
        .unwrap_err();
    let refused = error
        .server_error()
        .unwrap_or_else(|| panic!("not a -ERR: {error:?}\n{}", dovecot.log()));
    assert_eq!(refused.code, Some(ResponseCode::Auth), "{error}");
    assert_eq!(endpoint.seen()[2..], [JANES_TOKEN.to_owned()]);
}

#[test]
#[cfg_attr(
    not(all(has_dovecot, has_root)),
    ignore = "needs Dovecot and root (Debian: dovecot-core, dovecot-pop3d)"
)]
fn an_inactive_token_is_refused_after_dovecots_error_challenge() {
    let endpoint = Introspection::start();
    let dovecot = dovecot_with_oauth2(&endpoint);
    // A token the endpoint calls inactive: Dovecot sends its JSON error as
    // a challenge, the client acknowledges it (XOAUTH2 with an empty
    // line, OAUTHBEARER with \x01), and the answer is Dovecot's -ERR,
    // not a cancellation with `*`.
    for (xoauth2, status, acknowledgement) in [
        (true, r#""status":"401""#, &b""[..]),
        (false, r#""status":"invalid_token""#, &b"\x01"[..]),
    ] {
        let (mechanism, steps) = if xoauth2 {
            let (m, steps) = Recorded::new(XOAuth2::new("john", token(REVOKED_TOKEN)));
            (Box::new(m) as Box<dyn sasl::Mechanism>, steps)
        } else {
            let (m, steps) = Recorded::new(OAuthBearer::new("john", token(REVOKED_TOKEN)));
            (Box::new(m) as Box<dyn sasl::Mechanism>, steps)
        };
        let name = mechanism.name().to_owned();
        let mut pop = dovecot.connect();
        let error = pop.login_with(Credentials::Sasl(mechanism)).unwrap_err();
        let refused = error
            .server_error()
            .unwrap_or_else(|| panic!("{name}: not a -ERR: {error:?}\n{}", dovecot.log()));
        assert!(refused.command.starts_with("AUTH"), "{name}: {error}");
        assert_eq!(refused.code, Some(ResponseCode::Auth), "{name}: {error}");
        let steps = steps.lock().unwrap().clone();
        let [(challenge, response)] = &steps[..] else {
            panic!("{name}: one error challenge expected, got {steps:?}");
        };
        let challenge = String::from_utf8_lossy(challenge);
        assert!(challenge.contains(status), "{name}: {challenge}");
        assert_eq!(response, acknowledgement, "{name}");
        // The session is still there: the server answers, unauthenticated.
        let noop = pop.noop().unwrap_err();
        assert!(noop.server_error().is_some(), "{name}: {noop:?}");
    }
    // The endpoint was asked about the token each time.
    assert_eq!(
        endpoint.seen(),
        [REVOKED_TOKEN.to_owned(), REVOKED_TOKEN.to_owned()],
        "{}",
        dovecot.log()
    );
}
