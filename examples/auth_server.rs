//! The article's authentication server ("Access Denied"): reads one
//! `user:password` line and answers `1` (right), `0` (wrong) or `-1` (no
//! such user), with no line end, then closes.
//!
//! Unlike the original, it does the following:
//! - checks every crypt format a current Linux writes, reading
//!   /etc/shadow as well as /etc/passwd;
//! - finds any user, not just the first one in the file;
//! - splits the request at the first `:` and keeps the password as sent;
//! - refuses locked and expired accounts;
//! - costs the same time whether or not the user exists;
//! - holds each failure's answer about 2 s, on the machine's own timer, so
//!   waiting clients hold no thread;
//! - limits failed attempts per peer;
//! - reloads the files when they change.
//!
//! With `--uniform`, an unknown user gets `0`, so the answer does not tell
//! who has an account.
//!
//! ```text
//! sudo cargo run --example auth_server               # /etc/passwd and /etc/shadow
//! cargo run --example auth_server -- --passwd crates/passwd-auth/tests/fixtures/passwd \
//!     --shadow crates/passwd-auth/tests/fixtures/shadow
//! printf 'alice:secret\n' | nc 127.0.0.1 1234        # 1
//! ```

mod support;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use lineproto::{Machine, Output};
use passwd_auth::exchange::{Event, Options, Server, Verifier};
use passwd_auth::{Authenticator, Outcome, PasswdDb, Policy};
use support::{ListenArgs, Service, printable, say};

/// Answers `user:password` with 1, 0 or -1.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// The passwd file.
    #[arg(long, default_value = "/etc/passwd")]
    passwd: PathBuf,
    /// The shadow file (readable by root only on a real system).
    #[arg(long, default_value = "/etc/shadow")]
    shadow: PathBuf,
    /// Answer 0, not -1, for an unknown user.
    #[arg(long)]
    uniform: bool,
    /// Let accounts with an empty hash in with an empty password (pam_unix's nullok).
    #[arg(long)]
    nullok: bool,
    /// Milliseconds to wait after a failure, varied by up to ±50% (0: none).
    #[arg(long, default_value_t = 2000)]
    delay_ms: u64,
    /// Failed attempts allowed per peer address within --failure-window.
    #[arg(long, default_value_t = 10)]
    max_failures: usize,
    /// The window for --max-failures, in seconds.
    #[arg(long, default_value_t = 600)]
    failure_window: u64,
}

/// The loaded files and what they looked like when loaded.
#[derive(Debug)]
struct Loaded {
    auth: Authenticator,
    stamp: (Option<SystemTime>, Option<SystemTime>),
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load(args: &Args) -> Result<Loaded, String> {
    // Take the stamps first: a change while reading is then seen next time.
    let stamp = (modified(&args.passwd), modified(&args.shadow));
    let passwd = std::fs::read(&args.passwd)
        .map_err(|e| format!("cannot read {}: {e}", args.passwd.display()))?;
    let shadow = std::fs::read(&args.shadow).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (only root may read the shadow file: run as root, or pass --shadow PATH)"
        } else {
            ""
        };
        format!("cannot read {}: {e}{hint}", args.shadow.display())
    })?;
    let db = PasswdDb::parse(&passwd, Some(&shadow));
    for problem in db.problems() {
        eprintln!("auth_server: skipped {problem}");
    }
    let mut policy = Policy::default();
    policy.allow_empty_password = args.nullok;
    Ok(Loaded {
        auth: Authenticator::new(db, policy),
        stamp,
    })
}

/// Days since 1970-01-01, the unit of shadow's dates.
fn today() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    i64::try_from(seconds / 86_400).unwrap_or(i64::MAX)
}

/// Recent failures per peer address.
#[derive(Debug, Default)]
struct Failures(Mutex<HashMap<IpAddr, VecDeque<Instant>>>);

impl Failures {
    /// How many failures `peer` had within `window`, forgetting older ones.
    fn recent(&self, peer: IpAddr, window: Duration) -> usize {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let Some(times) = all.get_mut(&peer) else {
            return 0;
        };
        while times
            .front()
            .is_some_and(|&t| now.duration_since(t) > window)
        {
            times.pop_front();
        }
        let count = times.len();
        if count == 0 {
            all.remove(&peer);
        }
        count
    }

    fn record(&self, peer: IpAddr) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(peer).or_default().push_back(Instant::now());
    }
}

fn main() -> ExitCode {
    match run(Arc::new(Args::parse())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("auth_server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Arc<Args>) -> Result<(), String> {
    let mut options = Options::default();
    options.uniform_unknown_user = args.uniform;
    let service = Auth {
        loaded: RwLock::new(Arc::new(load(&args)?)),
        failures: Failures::default(),
        options,
        args: Arc::clone(&args),
    };
    support::serve(&args.listen, service)
        .map_err(|error| format!("cannot serve on {}: {error}", args.listen.listen))
}

/// The server's state shared by every connection.
struct Auth {
    // Each connection takes its own snapshot, so a reload never waits for
    // connections (or their failure delays) to end.
    loaded: RwLock<Arc<Loaded>>,
    failures: Failures,
    options: Options,
    args: Arc<Args>,
}

/// Judges one attempt against a snapshot of the accounts.
struct Judge {
    state: Arc<Loaded>,
    /// The peer was over its failure limit when it connected.
    limited: bool,
    day: i64,
}

impl Verifier for Judge {
    fn verify(&mut self, user: &[u8], password: &[u8]) -> Outcome {
        if self.limited {
            Outcome::TooManyAttempts
        } else {
            self.state.auth.authenticate(user, password, self.day)
        }
    }
}

/// One connection's exchange, and who it is with.
#[derive(Debug)]
struct Attempt {
    server: Server<Judge>,
    peer: IpAddr,
}

impl Machine for Attempt {
    type Event = Event;
    type Error = passwd_auth::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.server.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.server.handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<Event, passwd_auth::Error> {
        self.server.poll_output(now)
    }
}

impl Service for Auth {
    type Machine = Attempt;
    // A changed file is reloaded before the connection is served.
    const START_BLOCKS: bool = true;

    fn start(&self, peer: SocketAddr) -> Option<Attempt> {
        let args = &self.args;
        reload_if_changed(args, &self.loaded);
        let peer = peer.ip();
        let window = Duration::from_secs(args.failure_window);
        let judge = Judge {
            state: Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner)),
            limited: self.failures.recent(peer, window) >= args.max_failures,
            day: today(),
        };
        Some(Attempt {
            server: Server::new(self.options.clone(), judge),
            peer,
        })
    }

    fn on_event(&self, attempt: &mut Attempt, event: Event) {
        let Event::Verdict {
            user,
            outcome,
            code,
        } = event;
        say!(
            "Verdict for {}: {} (sent {})",
            printable(&user),
            outcome.describe(),
            code.as_str()
        );
        if !outcome.is_success() {
            self.failures.record(attempt.peer);
            // Held by the machine: no thread waits.
            attempt
                .server
                .delay_reply(failure_delay(self.args.delay_ms));
        }
    }
}

/// pam_fail_delay's wait: the base time, varied by up to ±50%.
fn failure_delay(base_ms: u64) -> Duration {
    let jitter = 0.5 + fastrand::f64();
    Duration::from_secs_f64(base_ms as f64 / 1000.0 * jitter)
}

/// Reloads the files if either changed since they were loaded. A file that
/// cannot be read now leaves the loaded data in place.
fn reload_if_changed(args: &Args, loaded: &RwLock<Arc<Loaded>>) {
    let now = (modified(&args.passwd), modified(&args.shadow));
    if loaded.read().unwrap_or_else(PoisonError::into_inner).stamp == now {
        return;
    }
    match load(args) {
        Ok(fresh) => {
            say!("Reloaded {} accounts", fresh.auth.db().len());
            *loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        }
        Err(error) => say!("Reload failed, keeping the old accounts: {error}"),
    }
}
