//! End to end against a real Dovecot on loopback: counting and fetching a
//! mailbox of 2,000 messages (about 60 MB) and one of 10,000 small
//! messages. Our client runs pipelined and lock-step, next to Python's
//! `poplib` doing the same work in the same run; then whole `pop3_count`
//! processes next to a whole Python process that counts with `poplib`.
//!
//! `cargo bench -p examples --bench pop3_dovecot` (needs Dovecot, openssl
//! and root, like the tests). Each figure is the median of 5 runs after one
//! warm-up; every loop is bounded.

#[path = "../tests/dovecot_support/mod.rs"]
mod dovecot_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dovecot_support::Dovecot;
use lineproto::Secret;
use pop3_client::blocking::{ConnectOptions, Login, Pop3Client, Retrieved, Security};

const RUNS: usize = 5;

fn median(mut f: impl FnMut() -> Duration) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..RUNS).map(|_| f()).collect();
    times.sort_unstable();
    times[RUNS / 2]
}

fn mailbox(count: usize, body_bytes: usize) -> Vec<Bytes> {
    let line = "The quick brown fox jumps over the lazy dog; the mail goes on and on.\r\n";
    (0..count)
        .map(|i| {
            let mut text = format!("From: bench@example.org\r\nSubject: message {i}\r\n\r\n");
            while text.len() < body_bytes {
                text.push_str(line);
            }
            text.into()
        })
        .collect()
}

fn ours(dovecot: &Dovecot, pipelining: bool, fetch: bool) -> Duration {
    let started = Instant::now();
    let mut options = ConnectOptions::default();
    options.security = Security::None;
    options.machine.pipelining = pipelining;
    let mut pop = Pop3Client::connect("127.0.0.1", dovecot.pop3, &options).expect("connect");
    pop.capabilities().expect("capa");
    pop.login(Login::UserPass, "john", Secret::new(b"secret".to_vec()))
        .expect("login");
    let (count, _) = pop.stat().expect("stat");
    if fetch {
        let numbers: Vec<u32> = (1..=count).collect();
        let mut bytes = 0usize;
        pop.retr_many(&numbers, |part| {
            if let Retrieved::Data { chunk, .. } = part {
                bytes += chunk.len();
            }
            Ok(())
        })
        .expect("retr");
        assert!(bytes > 0 || count == 0);
    }
    pop.quit().expect("quit");
    started.elapsed()
}

/// poplib doing the same work; the time is taken inside Python, so its
/// start-up is not counted.
fn poplib(dovecot: &Dovecot, fetch: bool) -> Option<Duration> {
    let script = r#"
import poplib, sys, time
t = time.perf_counter()
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user("john"); p.pass_("secret")
count, _ = p.stat()
if sys.argv[2] == "fetch":
    for i in range(1, count + 1):
        p.retr(i)
p.quit()
print(time.perf_counter() - t)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &dovecot.pop3.to_string(),
            if fetch { "fetch" } else { "count" },
        ])
        .output()
        .ok()?;
    let seconds: f64 = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(seconds))
}

/// The ceiling: a raw client in Python that writes every RETR at once (on
/// a thread) while it reads, with no parsing beyond counting terminators.
/// It stands for the fastest any client can go against this Dovecot.
fn raw_pipelined(dovecot: &Dovecot) -> Option<Duration> {
    let script = r#"
import socket, sys, threading, time
t = time.perf_counter()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
f.readline()
s.sendall(b"USER john\r\n"); f.readline()
s.sendall(b"PASS secret\r\n"); f.readline()
s.sendall(b"STAT\r\n"); count = int(f.readline().split()[1])
threading.Thread(target=lambda: s.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, count + 1)))).start()
done = 0
while done < count:
    if f.readline() == b".\r\n":
        done += 1
s.sendall(b"QUIT\r\n"); f.readline()
print(time.perf_counter() - t)
"#;
    let out = Command::new("python3")
        .args(["-c", script, &dovecot.pop3.to_string()])
        .output()
        .ok()?;
    let seconds: f64 = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(seconds))
}

fn process(program: &mut Command) -> Duration {
    let started = Instant::now();
    let status = program
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success());
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // Found at build time (build/test_tools.rs).
    if !cfg!(all(has_dovecot, has_openssl, has_root)) {
        println!("Dovecot, openssl or root missing: nothing measured");
        return;
    }
    println!(
        "| mailbox | work | poplib (lock-step) | ours, lock-step | ours, pipelined | poplib ÷ ours pipelined | raw pipelined (ceiling) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, messages) in [
        ("2,000 × 30 KB", mailbox(2_000, 30_000)),
        ("10,000 × 300 B", mailbox(10_000, 300)),
    ] {
        let dovecot = Dovecot::start(&messages);
        for fetch in [false, true] {
            let work = if fetch { "fetch all" } else { "count" };
            let python = median(|| poplib(&dovecot, fetch).unwrap_or_default());
            let lock_step = median(|| ours(&dovecot, false, fetch));
            let pipelined = median(|| ours(&dovecot, true, fetch));
            let ceiling = if fetch {
                ms(median(|| raw_pipelined(&dovecot).unwrap_or_default()))
            } else {
                String::new()
            };
            println!(
                "| {name} | {work} | {} | {} | {} | {:.2} | {ceiling} |",
                ms(python),
                ms(lock_step),
                ms(pipelined),
                python.as_secs_f64() / pipelined.as_secs_f64()
            );
        }
    }

    // Whole processes: start-up, connect, log in, STAT, QUIT.
    let dovecot = Dovecot::start(&mailbox(72, 300));
    let exe = std::env::current_exe().expect("bench path");
    let count = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target")
        .join("examples/pop3_count");
    let port = dovecot.pop3.to_string();
    let ours = median(|| {
        process(
            Command::new(&count)
                .args(["--host", "127.0.0.1", "--port", &port, "--user", "john"])
                .env("POP3_PASSWORD", "secret"),
        )
    });
    let script = format!(
        "import poplib\np = poplib.POP3('127.0.0.1', {port})\np.user('john'); p.pass_('secret')\nprint(p.stat()[0], 'messages in mailbox')\np.quit()"
    );
    let python = median(|| process(Command::new("python3").args(["-c", &script])));
    println!();
    println!("| whole process, count 72 messages | time | poplib ÷ ours |");
    println!("|---|---:|---:|");
    println!("| python3 + poplib | {} | 1.00 |", ms(python));
    println!(
        "| pop3_count | {} | {:.2} |",
        ms(ours),
        python.as_secs_f64() / ours.as_secs_f64()
    );
}
