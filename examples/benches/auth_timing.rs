//! Does a failure reply of `auth_server` say which kind of failure it is?
//!
//! ```text
//! cargo build --release --examples
//! cargo bench -p examples --bench auth_timing                  # 500 samples per class, both runtimes
//! cargo bench -p examples --bench auth_timing -- --samples 50 --runtime tokio
//! ```
//!
//! The bench makes a passwd/shadow pair with `mkpasswd` (one account per
//! hash format libxcrypt writes, a locked one and an expired one) and starts
//! the release `auth_server` on it with `--delay-ms 0` (no added delay, no
//! jitter) and no failure limits. Then, for every failure class (an unknown
//! user, a wrong password for each format, a locked account, an expired
//! one), it times from just before the request is written to the reply, in rounds that
//! visit the classes in a fresh random order, two clients at a time. A
//! server that holds every failure to receipt + D gives each class the same
//! distribution; the bench prints min, p1, median, p99 and max per class,
//! and how far apart the classes' min, p1 and median are.
//!
//! The baseline, measured in the same run, is what the hold hides: each
//! class's verification alone, `Authenticator::authenticate` in this
//! process, which is what a server that answers at once would show.
//!
//! Under `cargo test` (no `--bench` argument) nothing runs. Loopback only;
//! the server is stopped by its PID.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use passwd_auth::{Authenticator, PasswdDb, Policy};

/// The password of every account.
const PASSWORD: &str = "correct horse";
/// Days since 1970 the expired account expired on.
const EXPIRED_ON: u32 = 19_000;
/// No exchange may take longer than this.
const IO_LIMIT: Duration = Duration::from_secs(10);

/// One failure class: who logs in, with what, and the reply expected.
struct Class {
    name: &'static str,
    user: &'static str,
    password: &'static str,
}

/// Accounts: (user, mkpasswd method and options, lock marker, expiry day).
const ACCOUNTS: &[(&str, &[&str], &str, Option<u32>)] = &[
    ("yes", &["-m", "yescrypt"], "", None),
    ("sha512", &["-m", "sha512crypt"], "", None),
    ("sha256", &["-m", "sha256crypt"], "", None),
    ("bcrypt", &["-m", "bcrypt", "-R", "8"], "", None),
    ("md5", &["-m", "md5crypt"], "", None),
    ("des", &["-m", "descrypt"], "", None),
    ("locked", &["-m", "yescrypt"], "!", None),
    ("expired", &["-m", "yescrypt"], "", Some(EXPIRED_ON)),
];

const CLASSES: &[Class] = &[
    Class {
        name: "unknown user",
        user: "nosuchuser",
        password: "guess",
    },
    Class {
        name: "wrong password, yescrypt",
        user: "yes",
        password: "guess",
    },
    Class {
        name: "wrong password, sha512crypt",
        user: "sha512",
        password: "guess",
    },
    Class {
        name: "wrong password, sha256crypt",
        user: "sha256",
        password: "guess",
    },
    Class {
        name: "wrong password, bcrypt 8",
        user: "bcrypt",
        password: "guess",
    },
    Class {
        name: "wrong password, md5crypt",
        user: "md5",
        password: "guess",
    },
    Class {
        name: "wrong password, descrypt",
        user: "des",
        password: "guess",
    },
    Class {
        name: "locked (right password)",
        user: "locked",
        password: PASSWORD,
    },
    Class {
        name: "expired (right password)",
        user: "expired",
        password: PASSWORD,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|arg| arg == "--bench") {
        return;
    }
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|at| args.get(at + 1))
            .cloned()
    };
    let samples: usize = value("--samples").map_or(500, |s| s.parse().expect("--samples N"));
    let runtimes: Vec<String> = value("--runtime").map_or_else(
        || vec!["std".into(), "tokio".into()],
        |runtime| vec![runtime],
    );

    let dir = std::env::temp_dir().join(format!("auth_timing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (passwd, shadow) = make_database(&dir);

    println!("## Verification alone (the baseline: what the hold hides)\n");
    baseline(&passwd, &shadow, samples.min(100));

    for runtime in &runtimes {
        println!(
            "\n## auth_server --runtime {runtime} --delay-ms 0, {samples} samples per class\n"
        );
        let server = Server::start(runtime, &passwd, &shadow);
        let times = sample(server.addr, samples);
        drop(server);
        report(&times);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes passwd and shadow files with one account per [`ACCOUNTS`] entry.
fn make_database(dir: &Path) -> (PathBuf, PathBuf) {
    let mut passwd = String::new();
    let mut shadow = String::new();
    for (uid, &(user, method, lock, expires)) in (1000..).zip(ACCOUNTS) {
        let mut child = Command::new("mkpasswd")
            .args(method)
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("mkpasswd (Debian's whois package) is needed");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(PASSWORD.as_bytes())
            .expect("write to mkpasswd");
        let out = child.wait_with_output().expect("mkpasswd");
        assert!(out.status.success(), "mkpasswd {method:?} failed");
        let hash = String::from_utf8(out.stdout).expect("ASCII hash");
        let expires = expires.map(|day| day.to_string()).unwrap_or_default();
        passwd.push_str(&format!("{user}:x:{uid}:{uid}::/home/{user}:/bin/sh\n"));
        shadow.push_str(&format!(
            "{user}:{lock}{}:19000:0:99999:7::{expires}:\n",
            hash.trim()
        ));
    }
    let passwd_path = dir.join("passwd");
    let shadow_path = dir.join("shadow");
    std::fs::write(&passwd_path, passwd).expect("write passwd");
    std::fs::write(&shadow_path, shadow).expect("write shadow");
    (passwd_path, shadow_path)
}

/// Each class's `authenticate` in this process: min and median.
fn baseline(passwd: &Path, shadow: &Path, samples: usize) {
    let db = PasswdDb::parse(
        &std::fs::read(passwd).expect("passwd"),
        Some(&std::fs::read(shadow).expect("shadow")),
    );
    let auth = Authenticator::new(db, Policy::default());
    let today = 20_000;
    println!("| class | outcome | min | median |");
    println!("|---|---|---:|---:|");
    let mut medians = Vec::new();
    for class in CLASSES {
        let mut times: Vec<Duration> = (0..samples)
            .map(|_| {
                let started = Instant::now();
                let outcome =
                    auth.authenticate(class.user.as_bytes(), class.password.as_bytes(), today);
                assert!(!outcome.is_success(), "{} succeeded", class.name);
                started.elapsed()
            })
            .collect();
        times.sort_unstable();
        let outcome = auth.authenticate(class.user.as_bytes(), class.password.as_bytes(), today);
        println!(
            "| {} | {} | {} | {} |",
            class.name,
            outcome.describe(),
            ms(times[0]),
            ms(times[times.len() / 2])
        );
        medians.push(times[times.len() / 2]);
    }
    let (low, high) = spread(&medians);
    println!(
        "\nMedians from {} to {}: {} apart.",
        ms(low),
        ms(high),
        ms(high - low)
    );
}

/// The release `auth_server`, stopped by PID when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(runtime: &str, passwd: &Path, shadow: &Path) -> Self {
        let exe = std::env::current_exe().expect("current_exe");
        // This binary is target/release/deps/auth_timing-HASH.
        let program = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target dir")
            .join("examples/auth_server");
        assert!(
            program.exists(),
            "{} is missing: run `cargo build --release --examples` first",
            program.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(program)
            .args(["--listen", &addr.to_string(), "--runtime", runtime])
            .arg("--passwd")
            .arg(passwd)
            .arg("--shadow")
            .arg(shadow)
            .args(["--delay-ms", "0", "--max-failures", "0"])
            .args(["--max-peer-failures", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start auth_server");
        let server = Self { child, addr };
        let deadline = Instant::now() + IO_LIMIT;
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "auth_server did not listen");
            thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `samples` rounds over every class in a fresh order each round, two
/// clients at a time; each class's times, as [`exchange`] takes them.
fn sample(addr: SocketAddr, samples: usize) -> Vec<Vec<Duration>> {
    let times = Mutex::new(vec![Vec::with_capacity(samples); CLASSES.len()]);
    let clients = 2;
    thread::scope(|scope| {
        for client in 0..clients {
            let times = &times;
            scope.spawn(move || {
                let mut order: Vec<usize> = (0..CLASSES.len()).collect();
                let mut rng = fastrand::Rng::with_seed(client as u64 + 1);
                for _ in (client..samples).step_by(clients) {
                    rng.shuffle(&mut order);
                    for &at in &order {
                        let took = exchange(addr, &CLASSES[at]);
                        times.lock().expect("no panic")[at].push(took);
                    }
                }
            });
        }
    });
    times.into_inner().expect("no panic")
}

/// One login attempt: the time from just before the request is written to
/// the reply.
fn exchange(addr: SocketAddr, class: &Class) -> Duration {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_LIMIT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    let request = format!("{}:{}\n", class.user, class.password);
    // Stamped before the write: the server cannot receive the request
    // sooner, so no reply can look early (a stamp after the write would,
    // whenever this thread loses the CPU between the write and the stamp).
    let sent = Instant::now();
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = [0u8; 8];
    let n = stream.read(&mut reply).expect("reply");
    let took = sent.elapsed();
    let reply = std::str::from_utf8(&reply[..n]).unwrap_or("?").trim();
    assert!(
        reply == "0" || reply == "-1",
        "{}: reply {reply:?}",
        class.name
    );
    took
}

fn report(times: &[Vec<Duration>]) {
    println!("| class | n | min | p1 | median | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut mins = Vec::new();
    let mut p1s = Vec::new();
    let mut medians = Vec::new();
    for (class, times) in CLASSES.iter().zip(times) {
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            class.name,
            sorted.len(),
            ms(sorted[0]),
            ms(at(0.01)),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(sorted[sorted.len() - 1])
        );
        mins.push(sorted[0]);
        p1s.push(at(0.01));
        medians.push(at(0.5));
    }
    println!();
    for (what, values) in [("min", &mins), ("p1", &p1s), ("median", &medians)] {
        let (low, high) = spread(values);
        println!(
            "- {what}: {} to {}, {} apart",
            ms(low),
            ms(high),
            ms(high - low)
        );
    }
}

fn spread(values: &[Duration]) -> (Duration, Duration) {
    let low = values.iter().min().copied().unwrap_or_default();
    let high = values.iter().max().copied().unwrap_or_default();
    (low, high)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
