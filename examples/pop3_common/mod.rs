//! What pop3_count and pop3_fetch share: the connection flags, the
//! password or OAuth token, the choice of how to log in, the built-in demo
//! server, opening a logged-in session on either client, and reporting a
//! failure.

#![allow(dead_code)] // each example uses a different part

use std::io;

/// The end of `--help` that pop3_count and pop3_fetch share: the rest of
/// exit status 2, after each program's own local errors, and the
/// environment variables read.
macro_rules! shared_help {
    () => {
        ";
     a password or token that would cross in clear (a --sasl method, or
     the only methods the server offers, without --tls/--starttls or
     --allow-plaintext); or the connection failed: the server could not
     be reached, or its certificate was not trusted (its SHA-256
     fingerprint is then printed, for --fingerprint)

Environment:
  POP3_PASSWORD  the password, for scripts. Without it, the password is
                 asked for on the terminal after the server's greeting; it is
                 never taken from the command line, where others could read it.
  POP3_TOKEN     an OAuth 2.0 access token (as --token-command prints one):
                 logs in with OAUTHBEARER or XOAUTH2, and no password is
                 asked for. Ignored by --sasl with a password method.
  USER           the user name when --user is not given"
    };
}
pub(crate) use shared_help;
use std::process::ExitCode;
use std::time::Duration;

use lineproto::Secret;
use net_std::{Server, ServerOptions};
use pop3_client::connect::{ConnectOptions, Pop3Error, Security};
use pop3_client::server::{Mailbox, Options as Pop3ServerOptions, Server as Pop3Server};
use pop3_client::session::{Login, LoginPolicy};
use pop3_client::tls::{Fingerprint, Trust, UntrustedCertificate};
use pop3_client::{blocking, tokio as pop3_tokio};

/// How to reach and log in to the mailbox. `--ca-file` and
/// `--fingerprint` need `--tls` or `--starttls` (a pin on a plain-text
/// connection would protect nothing), and exclude each other: both decide
/// alone whom to trust, so giving both is a usage error rather than a rule
/// to remember.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("tls_mode").args(["tls", "starttls"])))]
pub(crate) struct ConnectArgs {
    /// The POP3 server (without it, a built-in demo mailbox is used, in
    /// plain text, as user demo: --port, --user, --tls and --starttls need
    /// --host).
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// The port (default 110, or 995 with --tls).
    #[arg(long, requires = "host")]
    pub(crate) port: Option<u16>,
    /// The user name (default: $USER).
    #[arg(long, requires = "host")]
    pub(crate) user: Option<String>,
    /// Implicit TLS (POP3S), verifying the server with the system's CA
    /// certificates unless --ca-file or --fingerprint says otherwise.
    #[arg(long, conflicts_with = "starttls", requires = "host")]
    pub(crate) tls: bool,
    /// Upgrade to TLS with STLS before logging in, verifying the server as
    /// --tls does.
    #[arg(long, requires = "host")]
    pub(crate) starttls: bool,
    /// Trust only the certificates in this PEM file (a CA's, or the
    /// server's own self-signed one), not the system's.
    #[arg(
        long,
        value_name = "PATH",
        requires = "tls_mode",
        conflicts_with = "fingerprint"
    )]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// Trust only the server certificate with this SHA-256 fingerprint
    /// (hex, colons optional, as `openssl x509 -noout -fingerprint -sha256`
    /// prints it, and as printed here when a certificate is not trusted).
    #[arg(long, value_name = "HEX", requires = "tls_mode")]
    pub(crate) fingerprint: Option<Fingerprint>,
    /// Log in with this method (any case): SCRAM-SHA-256, SCRAM-SHA-1,
    /// CRAM-MD5, APOP, PLAIN, LOGIN, USER (USER/PASS), OAUTHBEARER or
    /// XOAUTH2 (the last two with a token). Default: the strongest that
    /// both sides offer, in that order.
    #[arg(long, value_name = "MECH", value_parser = parse_login)]
    pub(crate) sasl: Option<Login>,
    /// The same as --sasl APOP.
    #[arg(long, conflicts_with_all = ["sasl_plain", "sasl"])]
    pub(crate) apop: bool,
    /// The same as --sasl PLAIN.
    #[arg(long, conflicts_with = "sasl")]
    pub(crate) sasl_plain: bool,
    /// Allow, without TLS, a method that sends the password or token as it
    /// is (USER, PLAIN, LOGIN, OAUTHBEARER, XOAUTH2), for anyone on the path
    /// to read. Without it such a method is never chosen, and --sasl naming
    /// one is refused.
    #[arg(long)]
    pub(crate) allow_plaintext: bool,
    /// Log in with an OAuth 2.0 token (OAUTHBEARER, else XOAUTH2): the
    /// first line this command prints. CMD is split at whitespace into a
    /// program and its arguments and run without a shell (no quotes,
    /// pipes or $VARIABLES; write a script for those), as mutt's and
    /// isync's PassCmd are. Instead of POP3_TOKEN.
    #[arg(long, value_name = "CMD")]
    pub(crate) token_command: Option<String>,
    /// Seconds to wait for --token-command (raise it for a helper that
    /// asks for a passphrase); one that takes longer is killed, and the
    /// run fails.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        requires = "token_command",
        value_parser = parse_token_timeout
    )]
    pub(crate) token_timeout: u64,
    /// Seconds to wait for the server.
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
}

/// Which client talks to the server. Both are the same session helper;
/// they differ in how bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Runtime {
    /// The blocking client, over net-std.
    Std,
    /// The async client, over net-tokio, on a single-threaded runtime.
    Tokio,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// Talking to the server failed.
    #[error(transparent)]
    Pop3(#[from] Pop3Error),
    /// The server could not be reached: the address, then why.
    #[error("{address}")]
    Unreachable {
        /// `host:port`.
        address: String,
        /// Why (boxed: it is large, and rare).
        #[source]
        source: Box<Pop3Error>,
    },
    /// No user name to log in with.
    #[error("no user name: pass --user or set USER")]
    NoUser,
    /// No password: none in `POP3_PASSWORD` and no terminal to ask on, or
    /// the terminal could not be read. Says which.
    #[error("{0}")]
    Password(String),
    /// The flags ask for something that cannot be done safely or at all:
    /// a method that sends the password in clear without TLS and without
    /// --allow-plaintext, a token for a password method. Says what to do.
    #[error("{0}")]
    Usage(String),
    /// The token command could not be run, failed, timed out, printed
    /// nothing or too much.
    #[error("{0}")]
    Token(String),
    /// No method both sides offer is allowed: says how to proceed.
    #[error("{0}")]
    NoMethod(String),
    /// The built-in demo server could not start.
    #[error("cannot start the demo server")]
    Demo(#[source] io::Error),
    /// The tokio runtime could not start.
    #[error("cannot start the tokio runtime")]
    Runtime(#[source] io::Error),
    /// The Maildir cannot be created or opened.
    #[error("cannot use the Maildir {path}")]
    Maildir {
        /// The Maildir, as given.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Storing what was fetched failed.
    #[error("cannot store the messages")]
    Store(#[source] io::Error),
    /// Another run is fetching the same account into the same Maildir.
    #[error(
        "another pop3_fetch ({holder}) is fetching {account} into this Maildir; \
         try again when it is done (lock file {path})"
    )]
    Locked {
        /// Whose mailbox: `user@host:port`.
        account: String,
        /// What the lock file says of the run holding it.
        holder: String,
        /// The lock file.
        path: String,
    },
}

/// Where and how to log in, decided from the flags.
pub(crate) struct Target {
    host: String,
    port: u16,
    user: String,
    /// The password, or the token when `policy.bearer_token`; `None`: a
    /// password asked for on the terminal once the server has greeted.
    secret: Option<Secret<Vec<u8>>>,
    /// `None`: the strongest that both sides offer and `policy` permits.
    login: Option<Login>,
    policy: LoginPolicy,
    options: ConnectOptions,
    /// The built-in demo mailbox, on a port that changes with every run.
    demo: bool,
}

impl Target {
    /// Whose mailbox this is: `user@host:port` (the host in lower case),
    /// or `demo@built-in-demo` for the demo mailbox, whatever its port.
    pub(crate) fn account(&self) -> String {
        if self.demo {
            return "demo@built-in-demo".to_owned();
        }
        format!(
            "{}@{}:{}",
            self.user,
            self.host.to_ascii_lowercase(),
            self.port
        )
    }

    /// A connection that could not be opened, said with the server's
    /// address; any other failure of connecting (a `-ERR` greeting, a
    /// refused STLS) as it is.
    fn unreachable(&self, error: Pop3Error) -> Failure {
        match error {
            Pop3Error::Connect(_) => Failure::Unreachable {
                address: if self.host.contains(':') {
                    format!("[{}]:{}", self.host, self.port)
                } else {
                    format!("{}:{}", self.host, self.port)
                },
                source: Box::new(error),
            },
            other => Failure::Pop3(other),
        }
    }

    /// Whether to pipeline when the server advertises PIPELINING.
    pub(crate) fn set_pipelining(&mut self, pipelining: bool) {
        self.options.machine.pipelining = pipelining;
    }
}

/// The demo mailbox's size, as in the article's transcript.
pub(crate) const DEMO_MESSAGES: usize = 72;

/// Decides where to log in; with no `--host`, starts the demo server here.
pub(crate) fn target(args: &ConnectArgs, program: &str) -> Result<Target, Failure> {
    let mut options = ConnectOptions::default();
    options.connect_timeout = Duration::from_secs(args.timeout);
    options.machine.response_timeout = Some(Duration::from_secs(args.timeout));
    options.security = match (args.tls, args.starttls) {
        (true, _) => Security::Implicit,
        (_, true) => Security::StartTls,
        _ => Security::None,
    };
    options.trust = match (&args.ca_file, args.fingerprint) {
        (Some(ca_file), _) => Trust::CaFile(ca_file.clone()),
        (None, Some(pin)) => Trust::Pinned(pin),
        (None, None) => Trust::System,
    };
    let login = match (args.sasl, args.apop, args.sasl_plain) {
        (Some(login), _, _) => Some(login),
        (None, true, _) => Some(Login::Apop),
        (None, _, true) => Some(Login::SaslPlain),
        (None, false, false) => None,
    };
    let mut policy = LoginPolicy::default();
    policy.tls = options.security != Security::None;
    policy.allow_plaintext = args.allow_plaintext;
    // A token only where one can be used: POP3_TOKEN is ignored by an
    // explicit password method, --token-command is not.
    let token = match (&args.token_command, login) {
        (Some(_), Some(login)) if !login.uses_token() => {
            return Err(Failure::Usage(format!(
                "--sasl {login} logs in with a password, not with the token of --token-command"
            )));
        }
        (Some(command), _) => Some(run_token_command(
            command,
            Duration::from_secs(args.token_timeout),
        )?),
        (None, Some(login)) if !login.uses_token() => None,
        (None, _) => std::env::var("POP3_TOKEN")
            .ok()
            .filter(|token| !token.is_empty())
            .map(|token| Secret::new(token.into_bytes())),
    };
    policy.bearer_token = token.is_some();
    if let Some(login) = login {
        if login.uses_token() && token.is_none() {
            return Err(Failure::Usage(format!(
                "--sasl {login} logs in with an OAuth 2.0 token: set POP3_TOKEN or pass --token-command"
            )));
        }
        if login.sends_secret() && !policy.tls && !policy.allow_plaintext {
            return Err(Failure::Usage(format!(
                "--sasl {login} would send the {} in clear without TLS: connect with --tls or \
                 --starttls, or pass --allow-plaintext to send it anyway",
                if login.uses_token() {
                    "token"
                } else {
                    "password"
                }
            )));
        }
    }
    let target = match &args.host {
        Some(host) => Target {
            host: host.clone(),
            port: args.port.unwrap_or(if args.tls { 995 } else { 110 }),
            user: args
                .user
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .filter(|user| !user.is_empty())
                .ok_or(Failure::NoUser)?,
            secret: match token {
                Some(token) => Some(token),
                None => password()?,
            },
            login,
            policy,
            options,
            demo: false,
        },
        None => {
            let port = start_demo_server().map_err(Failure::Demo)?;
            eprintln!(
                "{program}: no --host given, so using the built-in demo mailbox \
                 ({DEMO_MESSAGES} messages) on 127.0.0.1:{port}"
            );
            Target {
                host: "127.0.0.1".to_owned(),
                port,
                user: "demo".to_owned(),
                // The demo takes its password as its token too.
                secret: Some(token.unwrap_or_else(|| Secret::new(b"demo".to_vec()))),
                login,
                policy,
                options,
                demo: true,
            }
        }
    };
    Ok(target)
}

/// `--token-timeout`'s value: whole seconds, at least 1.
fn parse_token_timeout(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(seconds) if seconds >= 1 => Ok(seconds),
        _ => Err("a whole number of seconds, at least 1".to_owned()),
    }
}

/// `--sasl`'s value: a name [`Login::from_name`] knows.
fn parse_login(name: &str) -> Result<Login, String> {
    Login::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Login::ALL.iter().map(|login| login.name()).collect();
        format!("unknown method; one of {}", names.join(", "))
    })
}

/// The most a token command may print: a token is a few KB at most (a
/// JWT with many claims), so more is a mistake, not a token.
const TOKEN_OUTPUT_LIMIT: usize = 64 * 1024;

/// Runs `--token-command` without a shell (split at whitespace), and
/// takes the first line it prints, trimmed, as the token. Its stderr goes
/// to ours, so its own complaint is seen, and it shares our terminal and
/// process group, so a helper can ask for a passphrase and Ctrl-C reaches
/// it. It has `timeout` to print and exit: after that it is killed (by
/// its PID; a process it started in the background is its own business)
/// and the run fails. Reading stops after [`TOKEN_OUTPUT_LIMIT`] bytes.
fn run_token_command(command: &str, timeout: Duration) -> Result<Secret<Vec<u8>>, Failure> {
    use std::io::Read as _;
    use std::sync::mpsc;

    let mut words = command.split_whitespace();
    let program = words
        .next()
        .ok_or_else(|| Failure::Token("--token-command is empty".to_owned()))?;
    let deadline = std::time::Instant::now() + timeout;
    let mut child = std::process::Command::new(program)
        .args(words)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|error| {
            Failure::Token(format!(
                "cannot run the token command {program}: {}",
                crate::cli::chain(&error)
            ))
        })?;
    let timed_out = || {
        Failure::Token(format!(
            "the token command {program} timed out after {} s (see --token-timeout), \
             so there is no token",
            timeout.as_secs()
        ))
    };
    // Its output is read on a thread of its own, so that the wait below
    // has a deadline. The thread ends at end of file or at the limit (or,
    // for a command whose background children keep the pipe open, with
    // this process).
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let read = (&mut stdout)
            .take(TOKEN_OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut output);
        let _ = sender.send(read.map(|_| output));
    });
    let remaining = || deadline.saturating_duration_since(std::time::Instant::now());
    let output = match receiver.recv_timeout(remaining()) {
        Ok(Ok(output)) if output.len() <= TOKEN_OUTPUT_LIMIT => output,
        Ok(Ok(_)) => {
            stop(&mut child);
            return Err(Failure::Token(format!(
                "the token command {program} printed more than {} KiB, which is no token",
                TOKEN_OUTPUT_LIMIT / 1024
            )));
        }
        Ok(Err(error)) => {
            stop(&mut child);
            return Err(Failure::Token(format!(
                "cannot read what the token command {program} printed: {}",
                crate::cli::chain(&error)
            )));
        }
        Err(_) => {
            stop(&mut child);
            return Err(timed_out());
        }
    };
    // End of output; now its exit, within what is left of the time.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if remaining().is_zero() => {
                stop(&mut child);
                return Err(timed_out());
            }
            Ok(None) => std::thread::sleep(remaining().min(Duration::from_millis(10))),
            Err(error) => {
                stop(&mut child);
                return Err(Failure::Token(format!(
                    "cannot wait for the token command {program}: {}",
                    crate::cli::chain(&error)
                )));
            }
        }
    };
    if !status.success() {
        return Err(Failure::Token(format!(
            "the token command {program} failed ({status}), so there is no token"
        )));
    }
    let first = output.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let token = first.trim_ascii();
    if token.is_empty() {
        return Err(Failure::Token(format!(
            "the token command {program} printed no token"
        )));
    }
    Ok(Secret::new(token.to_vec()))
}

/// Kills a token command by its PID (SIGKILL) and reaps it.
fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The method `--sasl` chose, or else the strongest one `policy`
/// permits among those both sides offer (`chosen` is
/// [`strongest_login`](blocking::Pop3Client::strongest_login)'s answer,
/// `loosened` its answer with plain text allowed); with none, how to
/// proceed.
fn method_or_why(
    chosen: Option<Login>,
    loosened: Option<Login>,
    policy: LoginPolicy,
) -> Result<Login, Failure> {
    if let Some(login) = chosen {
        return Ok(login);
    }
    let secret = if policy.bearer_token {
        "token"
    } else {
        "password"
    };
    Err(Failure::NoMethod(match loosened {
        Some(login) => format!(
            "without TLS, every way to log in that the server offers sends the {secret} \
             in clear ({login} would): connect with --tls or --starttls, or pass \
             --allow-plaintext to send it anyway"
        ),
        None if policy.bearer_token => "the server offers no method that takes an OAuth 2.0 \
             token (OAUTHBEARER, XOAUTH2): log in with a password instead (unset POP3_TOKEN)"
            .to_owned(),
        None => "the server offers no method that takes a password and that this client \
             knows; try --sasl with one of its SASL mechanisms"
            .to_owned(),
    }))
}

/// Connects and logs in with the blocking client, with the method given
/// or else the strongest that both sides offer. The password, if it is to
/// be typed, is asked for after the greeting (and STLS) and the choice of
/// method: a server that is down, or one that offers no safe method, is
/// reported before anything is typed.
pub(crate) fn open(target: Target) -> Result<blocking::Pop3Client, Failure> {
    let mut pop = blocking::Pop3Client::connect(&target.host, target.port, &target.options)
        .map_err(|error| target.unreachable(error))?;
    let login = match target.login {
        Some(login) => login,
        None => {
            let chosen = pop.strongest_login(target.policy)?;
            let mut loosened = target.policy;
            loosened.allow_plaintext = true;
            let loosened = if chosen.is_none() {
                pop.strongest_login(loosened)?
            } else {
                None
            };
            method_or_why(chosen, loosened, target.policy)?
        }
    };
    let secret = typed_unless_given(target.secret)?;
    pop.login(login, &target.user, secret)?;
    Ok(pop)
}

/// Connects and logs in with the async client, choosing the method and
/// asking for the password as [`open`] does. The prompt blocks the
/// runtime's one thread, which has nothing else to do meanwhile.
pub(crate) async fn open_tokio(target: Target) -> Result<pop3_tokio::Pop3Client, Failure> {
    let mut pop = pop3_tokio::Pop3Client::connect(&target.host, target.port, &target.options)
        .await
        .map_err(|error| target.unreachable(error))?;
    let login = match target.login {
        Some(login) => login,
        None => {
            let chosen = pop.strongest_login(target.policy).await?;
            let mut loosened = target.policy;
            loosened.allow_plaintext = true;
            let loosened = if chosen.is_none() {
                pop.strongest_login(loosened).await?
            } else {
                None
            };
            method_or_why(chosen, loosened, target.policy)?
        }
    };
    let secret = typed_unless_given(target.secret)?;
    pop.login(login, &target.user, secret).await?;
    Ok(pop)
}

/// Prints why `program` failed and chooses its exit code: a `-ERR` from the
/// server is `Server said: ...` on stdout and 1, as the article's `die`
/// did; a server certificate that was not trusted is said so, with its
/// SHA-256 fingerprint in the form `--fingerprint` takes, and 2 (as
/// auth_client says it); anything else, the error and its causes in words
/// on stderr and 2. What the server wrote is printed with its control
/// characters escaped.
pub(crate) fn report(program: &str, failure: &Failure) -> ExitCode {
    if let Failure::Pop3(error) = failure {
        if let Some(refused) = error.server_error() {
            println!("Server said: {}", escape(&refused.line()));
            return ExitCode::from(crate::cli::REFUSED);
        }
    }
    if let Some(untrusted) = UntrustedCertificate::find(failure) {
        // The reason may quote the certificate's names: the server's words.
        eprintln!(
            "{program}: the server's certificate is not trusted: {}",
            escape(&untrusted.reason().to_string())
        );
        return crate::cli::fail(
            program,
            format_args!(
                "its SHA-256 fingerprint is {}; if the server's operator \
                 confirms it, connect with --fingerprint {0}",
                untrusted.fingerprint()
            ),
        );
    }
    crate::cli::fail(program, escape(&crate::cli::chain(failure)))
}

/// `text` fit for a terminal: control characters (ESC, BEL, CR, ...) and
/// the invisible ones that reorder text (bidi overrides) are written as
/// `\x1b` or `\u{202e}`, so that what a server sends cannot move the
/// cursor, retitle the window or disguise itself: `-ERR ESC[31m` prints
/// as `-ERR \x1b[31m`.
pub(crate) fn escape(text: &str) -> String {
    use std::fmt::Write as _;
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        let reorders = matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        if c.is_ascii_control() {
            let _ = write!(escaped, "\\x{:02x}", u32::from(c));
        } else if c.is_control() || reorders {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Bytes from the server (a unique id, say), escaped as [`escape`] does;
/// bytes that are not UTF-8 show as U+FFFD.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    escape(&String::from_utf8_lossy(bytes))
}

/// The password from `POP3_PASSWORD`; `None` if it is to be asked for on
/// the terminal, or an error at once if there is no terminal to ask on.
fn password() -> Result<Option<Secret<Vec<u8>>>, Failure> {
    if let Ok(password) = std::env::var("POP3_PASSWORD") {
        return Ok(Some(Secret::new(password.into_bytes())));
    }
    match crate::cli::no_terminal("set POP3_PASSWORD") {
        Some(why) => Err(Failure::Password(why)),
        None => Ok(None),
    }
}

/// `given`, or the password asked for without echo.
fn typed_unless_given(given: Option<Secret<Vec<u8>>>) -> Result<Secret<Vec<u8>>, Failure> {
    if let Some(password) = given {
        return Ok(password);
    }
    let typed = crate::cli::ask_password("POP3 password: ").map_err(Failure::Password)?;
    Ok(Secret::new(typed.into_bytes()))
}

/// Starts the demo POP3 server on a free loopback port, on a thread of its
/// own that ends with the process.
fn start_demo_server() -> io::Result<u16> {
    let server = Server::bind("127.0.0.1:0", ServerOptions::default())?;
    let port = server.local_addr()?.port();
    let messages: Vec<bytes::Bytes> = (1..=DEMO_MESSAGES)
        .map(|n| {
            format!("From: demo@pop3.demo.invalid\r\nSubject: Demo message {n}\r\n\r\nHello from message {n}.\r\n")
                .into()
        })
        .collect();
    let mailbox = Mailbox::new("demo", "demo", messages);
    std::thread::spawn(move || {
        server.serve(move |conn, _info| {
            let mut session = Pop3Server::new(mailbox.clone(), Pop3ServerOptions::default());
            let _ = conn.run(&mut session, |_, _| {});
        })
    });
    Ok(port)
}
