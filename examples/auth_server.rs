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
//! - limits failed attempts per client address and user name, reserving
//!   each attempt before its hash is computed, so pre-opened connections
//!   cannot get more guesses than the limit;
//! - reloads the files when they change, on a thread of its own, serving
//!   from the old accounts until the new ones are ready.
//!
//! With `--uniform`, an unknown user gets `0`, so the answer does not tell
//! who has an account.
//!
//! Passwords never cross the network in clear by default: with
//! `--tls-cert PATH --tls-key PATH` the exchange runs over TLS (on either
//! runtime; `auth_client --tls` speaks it), and without them the server
//! listens only on a loopback address, unless `--allow-plaintext` says the
//! network is trusted (a TLS-terminating proxy in front, say).
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
//!     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//!     -keyout key.pem -out cert.pem
//! cargo run --example auth_server -- --tls-cert cert.pem --tls-key key.pem \
//!     --passwd crates/passwd-auth/tests/fixtures/passwd \
//!     --shadow crates/passwd-auth/tests/fixtures/shadow
//! cargo run --example auth_client -- --tls --ca-file cert.pem --user alice
//!
//! sudo cargo run --example auth_server               # /etc/passwd and /etc/shadow, in plain text
//! printf 'alice:secret\n' | nc 127.0.0.1 1234        # 1 (the article's way)
//! ```

mod cli;
mod support;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clap::Parser;
use cli::chain;
use lineproto::Secret;
use lineproto::{Machine, Output};
use passwd_auth::server::{self, DeferredEvent, DeferredServer, Options};
use passwd_auth::{Authenticator, FailureDelay, Outcome, PasswdDb, Policy};
use support::{ListenArgs, Service, TlsArgs, printable, say};

const EXIT_STATUS: &str = "\
Exit status:
  0  stopped after --once, or by SIGINT or SIGTERM
  2  a usage or local error: a bad flag, an address it cannot listen on, a
     passwd or shadow file it cannot read, a certificate or key it cannot
     use, plain text on an address that is not loopback";

/// Checks user names and passwords against the passwd and shadow files for
/// auth clients, answering `user:password` with 1, 0 or -1: the article's
/// authentication server.
#[derive(Debug, Parser)]
#[command(name = "auth_server", version, after_help = EXIT_STATUS)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    tls: TlsArgs,
    /// Serve without TLS on a non-loopback address: passwords then cross
    /// the network in clear, so only on a trusted network (or behind a
    /// proxy that terminates TLS).
    #[arg(long)]
    allow_plaintext: bool,
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
    /// Milliseconds added to every failure reply on average, varied
    /// smoothly from half to one and a half times (0: none). On top of a
    /// floor measured at start-up, twice the costliest verification, so
    /// that no failure leaves sooner than any other could.
    #[arg(long, default_value_t = 2000)]
    delay_ms: u64,
    /// Failed attempts allowed per client address and user name within
    /// --failure-window (0: no limit).
    #[arg(long, default_value_t = 10)]
    max_failures: usize,
    /// Failed attempts allowed per client address, whatever the user name,
    /// within --failure-window (0: no limit). Kept above --max-failures so
    /// that one user's mistakes behind a shared address (NAT) do not lock
    /// out the others.
    #[arg(long, default_value_t = 100)]
    max_peer_failures: usize,
    /// The window for the failure limits, in seconds.
    #[arg(long, default_value_t = 600)]
    failure_window: u64,
    /// Hashes computed at once, by a pool of this many threads (each hash
    /// may take its full memory: a yescrypt hash up to 64 MiB); more
    /// attempts wait in a queue. 0: the number of cores. At most 1024 (at
    /// a hash's ceiling, 64 GiB).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    max_verifications: u16,
    /// Attempts that may wait for the pool; more are refused at once, and
    /// an attempt that waits over 10 s is refused too (answered 0 after
    /// the failure delay).
    #[arg(long, default_value_t = 256)]
    verify_queue: usize,
    /// Print the names of unknown users in the verdict lines (they are often
    /// passwords typed into the user field, so they are hidden by default).
    #[arg(long)]
    log_unknown: bool,
}

/// The loaded files and what they looked like when loaded.
#[derive(Debug)]
struct Loaded {
    auth: Authenticator,
    stamp: (Option<SystemTime>, Option<SystemTime>),
    /// Every failure reply is held at least this long from receipt: twice
    /// the costliest verification these accounts can cause, measured.
    floor: Duration,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load(args: &Args) -> Result<Loaded, String> {
    // Take the stamps first: a change while reading is then seen next time.
    let stamp = (modified(&args.passwd), modified(&args.shadow));
    let passwd = std::fs::read(&args.passwd)
        .map_err(|e| format!("cannot read {}: {}", args.passwd.display(), chain(&e)))?;
    let shadow = std::fs::read(&args.shadow).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (only root may read the shadow file: run as root, or pass --shadow PATH)"
        } else {
            ""
        };
        format!("cannot read {}: {}{hint}", args.shadow.display(), chain(&e))
    })?;
    let db = PasswdDb::parse(&passwd, Some(&shadow));
    for problem in db.problems() {
        eprintln!("auth_server: {problem} (the line is skipped)");
    }
    let mut policy = Policy::default();
    policy.allow_empty_password = args.nullok;
    let auth = Authenticator::new(db, policy);
    let floor = measured_floor(&auth);
    Ok(Loaded { auth, stamp, floor })
}

/// Twice the slowest of three runs of the dummy verification (the
/// costliest setting among the accounts): a failure reply held this long
/// from receipt leaves at the same time whatever its verification cost, and
/// the margin covers a busier moment and the estimate across formats.
fn measured_floor(auth: &Authenticator) -> Duration {
    let slowest = (0..3)
        .map(|_| {
            let started = Instant::now();
            auth.run_dummy_verification();
            started.elapsed()
        })
        .max()
        .unwrap_or_default();
    slowest * 2
}

/// Days since 1970-01-01, the unit of shadow's dates.
fn today() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    i64::try_from(seconds / 86_400).unwrap_or(i64::MAX)
}

/// Who a failure limit counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// One client address, whatever the user name.
    Peer(IpAddr),
    /// One user name from one client address.
    PeerUser(IpAddr, Box<[u8]>),
}

/// Recent failed attempts, counted per address and per address and user.
///
/// An attempt is reserved (counted as a failure) before its hash is
/// computed, and the reservation is released if it succeeds: so any number
/// of connections opened at once get at most the limit of verifications
/// between them. Refused attempts are not counted (they would keep the
/// window sliding forever). The map is bounded: expired entries are swept
/// when it grows past its capacity, and if that is not enough the
/// least recently failed keys are forgotten.
#[derive(Debug)]
struct Failures {
    max_per_user: usize,
    max_per_peer: usize,
    window: Duration,
    recent: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

/// The most keys kept.
const FAILURE_KEYS: usize = 65_536;

impl Failures {
    fn new(args: &Args) -> Self {
        Self {
            max_per_user: args.max_failures,
            max_per_peer: args.max_peer_failures,
            window: Duration::from_secs(args.failure_window),
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves one attempt by `user` from `peer`, or `false` if either
    /// limit is reached.
    fn reserve(&self, peer: IpAddr, user: &[u8], now: Instant) -> bool {
        let keys = [
            (Key::Peer(peer), self.max_per_peer),
            (Key::PeerUser(peer, user.into()), self.max_per_user),
        ];
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, limit) in &keys {
            if *limit == 0 {
                continue;
            }
            let Some(times) = recent.get_mut(key) else {
                continue;
            };
            while times
                .front()
                .is_some_and(|&t| now.duration_since(t) > self.window)
            {
                times.pop_front();
            }
            if times.len() >= *limit {
                return false;
            }
        }
        for (key, limit) in keys {
            if limit != 0 {
                recent.entry(key).or_default().push_back(now);
            }
        }
        if recent.len() > FAILURE_KEYS {
            self.sweep(&mut recent, now);
        }
        true
    }

    /// Takes back the reservation made at `at` (the attempt succeeded).
    fn release(&self, peer: IpAddr, user: &[u8], at: Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        for key in [Key::Peer(peer), Key::PeerUser(peer, user.into())] {
            if let Some(times) = recent.get_mut(&key) {
                if let Some(index) = times.iter().rposition(|&t| t == at) {
                    times.remove(index);
                }
                if times.is_empty() {
                    recent.remove(&key);
                }
            }
        }
    }

    fn sweep(&self, recent: &mut HashMap<Key, VecDeque<Instant>>, now: Instant) {
        recent.retain(|_, times| {
            times
                .back()
                .is_some_and(|&t| now.duration_since(t) <= self.window)
        });
        if recent.len() > FAILURE_KEYS {
            // Still full of live keys: forget those whose last failure is
            // oldest, down to three quarters of the capacity.
            let mut last: Vec<Instant> =
                recent.values().filter_map(|t| t.back().copied()).collect();
            last.sort_unstable();
            let cut = last[recent.len() - FAILURE_KEYS * 3 / 4];
            recent.retain(|_, times| times.back().is_some_and(|&t| t >= cut));
        }
    }
}

fn main() -> ExitCode {
    let args: Arc<Args> = Arc::new(cli::parse());
    if let Err(why) = refuse_plaintext(&args) {
        // A usage error, as clap's own are.
        return cli::fail("auth_server", why);
    }
    support::exit_status("auth_server", run(args))
}

/// Passwords cross the network in clear only when the operator says so:
/// without TLS, only a loopback address is served unless
/// `--allow-plaintext` is given.
fn refuse_plaintext(args: &Args) -> Result<(), String> {
    let listen = args.listen.listen;
    if args.tls.tls_cert.is_some()
        || args.allow_plaintext
        || listen.ip().to_canonical().is_loopback()
    {
        return Ok(());
    }
    Err(format!(
        "refusing to serve on {listen} without TLS: {} is not a loopback address, so \
         passwords would cross the network in clear. Give --tls-cert PATH and --tls-key PATH, \
         or --allow-plaintext if the network is trusted",
        listen.ip()
    ))
}

fn run(args: Arc<Args>) -> Result<(), String> {
    let tls = args.tls.server_config()?;
    if let Some((_, fingerprint)) = &tls {
        // What a client pins with `auth_client --tls --fingerprint`.
        eprintln!("auth_server: serving over TLS, certificate SHA-256 fingerprint {fingerprint}");
    }
    let mut options = Options::default();
    options.uniform_unknown_user = args.uniform;
    let first = load(&args)?;
    // Traditional DES is the one format without a setting to show.
    let costliest = match first.auth.dummy_setting() {
        "" => "traditional DES",
        setting => setting,
    };
    eprintln!(
        "auth_server: {} accounts; failures held {:?} or more (the costliest verification, {costliest}, twice)",
        first.auth.db().len(),
        first.floor,
    );
    let loaded = Arc::new(RwLock::new(Arc::new(first)));
    watch_files(Arc::clone(&args), Arc::clone(&loaded));
    let service = Auth {
        loaded,
        failures: Arc::new(Failures::new(&args)),
        pool: Pool::new(&args)?,
        options,
        args: Arc::clone(&args),
    };
    support::serve_over(&args.listen, service, tls.map(|(config, _)| config))
}

/// Reloads the files when they change, once, on a thread of its own:
/// connections keep being served from the old accounts meanwhile, and
/// never read a file themselves.
fn watch_files(args: Arc<Args>, loaded: Arc<RwLock<Arc<Loaded>>>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            reload_if_changed(&args, &loaded);
        }
    });
}

/// The server's state shared by every connection.
struct Auth {
    // Each attempt judges against a snapshot, so a reload never waits for
    // connections (or their failure delays) to end.
    loaded: Arc<RwLock<Arc<Loaded>>>,
    failures: Arc<Failures>,
    pool: Pool,
    options: Options,
    args: Arc<Args>,
}

/// The verification pool: N threads that compute every hash, fed through
/// a bounded queue. At most N hashes run at once, so memory stays near N
/// times a hash's ceiling (a yescrypt hash takes up to 64 MiB); and because
/// only these threads ever hash, the allocator keeps at most N arenas of
/// hash-sized memory (hashing on each connection's thread grew RSS to one
/// freed 16 MiB block per allocator arena).
struct Pool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

/// One verification for the pool, and where its verdict goes.
struct Job {
    work: Box<dyn FnOnce() -> Outcome + Send>,
    verdict: std::sync::mpsc::SyncSender<Outcome>,
}

/// How long an attempt may wait for its verdict before it is refused.
const VERIFY_DEADLINE: Duration = Duration::from_secs(10);

impl Pool {
    /// Starts the pool's threads; why not, in words, if the system will
    /// not give that many (`--max-verifications 30000`).
    fn new(args: &Args) -> Result<Self, String> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = if args.max_verifications == 0 {
            cores
        } else {
            usize::from(args.max_verifications)
        };
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(args.verify_queue);
        let queue = Arc::new(Mutex::new(queue));
        for worker in 0..workers {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("verify-{worker}"))
                .spawn(move || {
                    loop {
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { return };
                        let _ = job.verdict.send((job.work)());
                    }
                })
                .map_err(|error| {
                    format!(
                        "cannot start {workers} verification threads (--max-verifications): {}",
                        chain(&error)
                    )
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on the pool and waits for its verdict; `Overloaded` if
    /// the queue is full or the verdict takes too long.
    fn verify(&self, work: impl FnOnce() -> Outcome + Send + 'static) -> Outcome {
        let (verdict, receive) = std::sync::mpsc::sync_channel(1);
        let job = Job {
            work: Box::new(work),
            verdict,
        };
        if self.jobs.try_send(job).is_err() {
            return Outcome::Overloaded;
        }
        receive
            .recv_timeout(VERIFY_DEADLINE)
            .unwrap_or(Outcome::Overloaded)
    }
}

impl Auth {
    /// Judges one attempt: the failure limit reserved first, then the hash
    /// on the pool. Blocks (the caller keeps this off any async worker).
    fn judge(&self, peer: IpAddr, user: Bytes, password: Secret<Vec<u8>>) -> Outcome {
        // Reserved before hashing: concurrent attempts cannot overshoot.
        let at = Instant::now();
        if !self.failures.reserve(peer, &user, at) {
            return Outcome::TooManyAttempts;
        }
        let state = Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner));
        let name = user.clone();
        let outcome = self
            .pool
            .verify(move || state.auth.authenticate(&name, password.expose(), today()));
        if outcome.is_success() {
            self.failures.release(peer, &user, at);
        }
        outcome
    }
}

/// Runs blocking work where it cannot stall other connections: on a tokio
/// worker it hands the worker's other tasks to another thread first
/// (`block_in_place`); on a connection's own thread it just runs.
fn off_the_async_workers<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            let done = tokio::task::block_in_place(work);
            support::left_the_workers();
            done
        }
        _ => work(),
    }
}

/// One connection's exchange, and the client's address.
#[derive(Debug)]
struct Attempt {
    server: DeferredServer,
    peer: IpAddr,
}

impl Machine for Attempt {
    type Event = DeferredEvent;
    type Error = server::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.server.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.server.handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<DeferredEvent, server::Error> {
        self.server.poll_output(now)
    }
}

impl Service for Auth {
    type Machine = Attempt;

    fn start(&self, peer: SocketAddr) -> Option<Attempt> {
        Some(Attempt {
            server: DeferredServer::new(self.options.clone()),
            peer: peer.ip(),
        })
    }

    fn on_event(&self, attempt: &mut Attempt, event: DeferredEvent) {
        match event {
            DeferredEvent::Attempt { user, password } => {
                let peer = attempt.peer;
                let outcome = off_the_async_workers(|| self.judge(peer, user, password));
                // The machine is waiting for exactly this verdict.
                let _ = attempt.server.judge(outcome);
            }
            DeferredEvent::Verdict {
                user,
                outcome,
                code,
            } => {
                let user = if outcome == Outcome::UnknownUser && !self.args.log_unknown {
                    "(unknown user)".to_owned()
                } else {
                    printable(&user).to_string()
                };
                say!(
                    "Verdict for {user} from {}: {} (sent {})",
                    attempt.peer,
                    outcome.describe(),
                    code.as_str()
                );
                if !outcome.is_success() {
                    // Held by the machine from receipt: no thread waits.
                    attempt.server.delay_reply(self.failure_delay());
                }
            }
            // A kind of event this program does not know yet: nothing to do.
            _ => {}
        }
    }
}

impl Auth {
    /// The hold of one failure reply: the measured floor plus a smooth
    /// jitter averaging --delay-ms (see `FailureDelay`).
    fn failure_delay(&self) -> Duration {
        let floor = self
            .loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .floor;
        FailureDelay::new(floor, Duration::from_millis(self.args.delay_ms)).sample([
            fastrand::f64(),
            fastrand::f64(),
            fastrand::f64(),
        ])
    }
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
            say!(
                "Reloaded {} accounts (failures held {:?} or more)",
                fresh.auth.db().len(),
                fresh.floor
            );
            *loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        }
        Err(error) => say!("Reload failed, keeping the old accounts: {error}"),
    }
}
