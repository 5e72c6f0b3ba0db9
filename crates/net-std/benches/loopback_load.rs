//! Loopback load run of the reverse and session servers.
//!
//! `cargo bench -p net-std --bench loopback_load` starts both servers in
//! this process on 127.0.0.1, then runs 1, 16 and 128 concurrent clients
//! against each for a fixed time. It prints exchanges per second and p50/p99
//! latency. When `socat` and `rev` are installed, it measures the classic
//! `socat TCP-LISTEN:...,fork SYSTEM:rev` setup the same way in the same run,
//! as the baseline.
//!
//! * reverse: one exchange = connect, send a line, half-close, read the
//!   reply to the end.
//! * session: each client holds one connection; one exchange = send a line,
//!   read its reply.
//!
//! Set `LOAD_SECONDS` to change the time per row (default 2). Every loop is
//! bounded by that time and by a maximum count.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use net_std::{Server, ServerOptions, ShutdownHandle};

const LINE: &[u8] = b"Look Ma...all backwards\n";
const REPLY: &[u8] = b"sdrawkcab lla...aM kooL\n";
const MAX_EXCHANGES_PER_CLIENT: usize = 1_000_000;
const CONCURRENCY: [usize; 3] = [1, 16, 128];

fn main() {
    // `cargo bench` passes `--bench`; anything else (as `cargo test
    // --benches` does) means a quick smoke run.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let seconds: f64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke { 0.05 } else { 2.0 });
    let duration = Duration::from_secs_f64(seconds);

    let reverse = start(|conn, _| {
        let server = reverse_proto::server::Server::new(Default::default());
        let _ = conn.run(&mut { server }, |_, _| {});
    });
    let session = start(|conn, _| {
        let server = session_proto::server::Server::new(Default::default());
        let _ = conn.run(&mut { server }, |_, _| {});
    });
    let socat_reverse = Baseline::start("rev");
    let socat_session = Baseline::start("stdbuf -oL rev");

    println!("| server | clients | exchanges/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for clients in CONCURRENCY {
        report(
            "net-std reverse",
            clients,
            run(clients, duration, |a| one_shot(a, false), reverse.0),
        );
        if let Some(baseline) = &socat_reverse {
            report(
                "socat+rev reverse",
                clients,
                run(clients, duration, |a| one_shot(a, true), baseline.addr),
            );
        }
    }
    for clients in CONCURRENCY {
        report(
            "net-std session",
            clients,
            run_sessions(clients, duration, session.0, true),
        );
        if let Some(baseline) = &socat_session {
            report(
                "socat+rev session",
                clients,
                run_sessions(clients, duration, baseline.addr, false),
            );
        }
    }
    hold_sessions(session.0, if smoke { 50 } else { 1000 });
    if socat_reverse.is_none() {
        println!("\n(socat or rev not installed: no baseline rows)");
    }
    reverse.1.shutdown();
    session.1.shutdown();
}

/// Opens `count` sessions at once, each greeted and then answering one
/// line, and reports how much this process's resident memory grew.
fn hold_sessions(addr: SocketAddr, count: usize) {
    let before = resident_kib();
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(LINE).expect("write");
        sessions.push(stream);
    }
    let mut answered = 0;
    for stream in &mut sessions {
        let mut reader = BufReader::new(stream);
        let mut banner = Vec::new();
        let mut reply = Vec::new();
        let ok = reader.read_until(b'\n', &mut banner).is_ok()
            && reader.read_until(b'\n', &mut reply).is_ok()
            && reply == [b"? ", REPLY].concat();
        answered += usize::from(ok);
    }
    let after = resident_kib();
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "\n{count} concurrent sessions, {answered} answered: resident memory {before} KiB -> {after} KiB \
             ({:.1} KiB per session, server and client sides together)",
            after.saturating_sub(before) as f64 / count as f64
        );
    }
    for stream in &mut sessions {
        let _ = stream.write_all(b"END\n");
    }
}

/// This process's resident memory, in KiB, from /proc.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn start(
    handler: impl Fn(&mut net_std::Conn<TcpStream>, &net_std::ConnInfo) + Send + Sync + 'static,
) -> (SocketAddr, ShutdownHandle) {
    let mut options = ServerOptions::default();
    // A client that finished reading has closed; no need to linger long.
    options.close_linger = Duration::from_millis(200);
    let server = Server::bind("127.0.0.1:0", options).expect("bind");
    let addr = server.local_addr().expect("addr");
    let stop = server.shutdown_handle();
    thread::spawn(move || server.serve(handler));
    (addr, stop)
}

/// A `socat ... fork SYSTEM:...` server, killed on drop.
struct Baseline {
    child: Child,
    addr: SocketAddr,
}

impl Baseline {
    fn start(command: &str) -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=1024"
            ))
            .arg(format!("SYSTEM:{command}"))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
        Some(Self { child, addr })
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One reverse exchange on a new connection.
fn one_shot(addr: SocketAddr, half_close: bool) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(LINE).is_err() {
        return false;
    }
    // `rev` answers only at end of input; our server answers at the LF.
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut reply = Vec::with_capacity(64);
    stream.read_to_end(&mut reply).is_ok() && reply == REPLY
}

/// Runs `clients` threads doing `exchange` repeatedly for `duration`.
fn run(
    clients: usize,
    duration: Duration,
    exchange: fn(SocketAddr) -> bool,
    addr: SocketAddr,
) -> Measured {
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut latencies = Vec::new();
                let mut failures = 0;
                let end = Instant::now() + duration;
                while Instant::now() < end && latencies.len() < MAX_EXCHANGES_PER_CLIENT {
                    let started = Instant::now();
                    if exchange(addr) {
                        latencies.push(started.elapsed());
                    } else {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    Measured::collect(threads, duration)
}

/// Runs `clients` sessions doing line round trips for `duration`.
fn run_sessions(clients: usize, duration: Duration, addr: SocketAddr, prompted: bool) -> Measured {
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let stream = TcpStream::connect(addr).expect("connect");
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                if prompted {
                    reader.read_until(b'\n', &mut line).expect("banner");
                }
                // Our server puts the prompt before each reply on its line.
                let expected: Vec<u8> = if prompted {
                    [b"? ", REPLY].concat()
                } else {
                    REPLY.to_vec()
                };
                barrier.wait();
                let mut latencies = Vec::new();
                let mut failures = 0;
                let end = Instant::now() + duration;
                while Instant::now() < end && latencies.len() < MAX_EXCHANGES_PER_CLIENT {
                    let started = Instant::now();
                    line.clear();
                    let ok = writer.write_all(LINE).is_ok()
                        && reader.read_until(b'\n', &mut line).is_ok()
                        && line == expected;
                    if ok {
                        latencies.push(started.elapsed());
                    } else {
                        failures += 1;
                        break;
                    }
                }
                let _ = writer.write_all(b"END\n");
                (latencies, failures)
            })
        })
        .collect();
    Measured::collect(threads, duration)
}

struct Measured {
    exchanges_per_second: f64,
    p50: Duration,
    p99: Duration,
    failures: usize,
}

impl Measured {
    fn collect(
        threads: Vec<thread::JoinHandle<(Vec<Duration>, usize)>>,
        duration: Duration,
    ) -> Self {
        let mut all = Vec::new();
        let mut failures = 0;
        for thread in threads {
            let (latencies, failed) = thread.join().expect("client thread");
            all.extend(latencies);
            failures += failed;
        }
        all.sort_unstable();
        let at = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
        };
        Self {
            exchanges_per_second: all.len() as f64 / duration.as_secs_f64(),
            p50: at(0.50).unwrap_or_default(),
            p99: at(0.99).unwrap_or_default(),
            failures,
        }
    }
}

fn report(name: &str, clients: usize, measured: Measured) {
    let failures = if measured.failures > 0 {
        format!(" ({} failed)", measured.failures)
    } else {
        String::new()
    };
    println!(
        "| {name} | {clients} | {:.0}{failures} | {:.0} µs | {:.0} µs |",
        measured.exchanges_per_second,
        measured.p50.as_secs_f64() * 1e6,
        measured.p99.as_secs_f64() * 1e6,
    );
}
