//! Load and hostile-load runs of the example servers, each as its own
//! process, next to baselines measured in the same run.
//!
//! ```text
//! cargo build --release --examples
//! cargo bench -p examples --bench server_load                 # every mode
//! cargo bench -p examples --bench server_load -- burst cpu    # some modes
//! cargo bench -p examples --bench server_load -- --quick      # small and short
//! ```
//!
//! Modes: `burst`, `idle`, `cpu`, `turns`, `oneshot`, `hostile` (see the functions
//! of the same names). The servers are the release builds of the examples
//! (`target/release/examples/`), started on 127.0.0.1 high ports with
//! their stdout and stderr sent to /dev/null, and stopped by PID. The
//! baselines are `asyncio_session.py` beside this file and minimal
//! servers in this file (tokio, and std with a thread per connection),
//! which the bench runs as separate processes by starting itself again
//! with `--minimal-server`.
//!
//! Every loop is bounded in count and in time. `HOSTILE_SECONDS` sets the
//! length of each hostile run (default 65: long enough to see an idle
//! session cut at the session server's 60 s idle timeout).
//!
//! Under `cargo test` (no `--bench` argument) nothing runs.
//!
//! For profiling a server started by hand, `--paced-client ADDR SECONDS`
//! runs the `cpu` mode's client alone against it and prints what the
//! server's CPU figure would need: round trips done. To compare servers
//! started by hand (two builds of one server, say) as the `turns` mode
//! does, `--turns-client [--side-by-side] CYCLES ADDR:PID ADDR:PID ...`
//! (`TURN_MS` sets the length of a window, 1,000 ms by default). Side by
//! side, every server given has its sessions in every window: give two,
//! the baseline and one other, or the client and the two cores fall
//! behind the pace (the client then warns).

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream as AsyncStream};

const GREETING: &[u8] = b"Roll up, roll up, to the greatest show on earth!\n? ";
const LINE: &[u8] = b"Look Ma...all backwards\n";
const SESSION_REPLY: &[u8] = b"sdrawkcab lla...aM kooL\n? ";
const REVERSE_REPLY: &[u8] = b"sdrawkcab lla...aM kooL\n";
/// A measurement during which other processes used this much of a core
/// (a build, say) is done again.
const DISTURBED: f64 = 0.15;
/// Any single exchange of a client gives up after this.
const IO_LIMIT: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--minimal-server") {
        minimal::main(&args[at + 1..]);
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "--library-server") {
        library::main(&args[at + 1..]);
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "--paced-client") {
        paced_client(&args[at + 1..]);
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "--turns-client") {
        turns_client(&args[at + 1..]);
        return;
    }
    if !args.iter().any(|arg| arg == "--bench") {
        println!("server_load: run it with `cargo bench -p examples --bench server_load`");
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let mut modes: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if modes.is_empty() {
        modes = vec!["burst", "idle", "cpu", "turns", "oneshot", "hostile"];
    }
    let bench = Bench::new(quick);
    raise_open_file_limit();
    println!(
        "server_load: {} cores, open-file limit {}, servers from {}",
        thread::available_parallelism().map_or(0, |n| n.get()),
        open_file_limit().map_or("?".into(), |(soft, hard)| format!("{soft}/{hard}")),
        bench.examples.display()
    );
    for mode in modes {
        match mode {
            "burst" => burst(&bench),
            "idle" => idle(&bench),
            "cpu" => cpu(&bench),
            "turns" => turns(&bench),
            "oneshot" => oneshot(&bench),
            "hostile" => hostile(&bench),
            other => {
                println!("\nunknown mode {other:?} (burst, idle, cpu, turns, oneshot, hostile)")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Servers under test

/// Where things are, and whether to run small.
struct Bench {
    quick: bool,
    /// target/release/examples
    examples: PathBuf,
    /// The workspace root.
    root: PathBuf,
    clock_ticks: u64,
}

impl Bench {
    fn new(quick: bool) -> Self {
        // This binary is target/release/deps/server_load-HASH.
        let exe = std::env::current_exe().expect("current_exe");
        let release = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target dir")
            .to_path_buf();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        let clock_ticks = clock_ticks();
        Self {
            quick,
            examples: release.join("examples"),
            root,
            clock_ticks,
        }
    }

    fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// An example server, with `--listen {addr}` added.
    fn example(&self, name: &str, runtime: &str, extra: &[&str]) -> Launch {
        let mut args = vec!["--listen", "{addr}", "--runtime", runtime];
        args.extend_from_slice(extra);
        Launch {
            label: format!("{name} {runtime}"),
            program: self.examples.join(name),
            args: args.into_iter().map(String::from).collect(),
        }
    }

    fn auth(&self, runtime: &str) -> Launch {
        let fixtures = self.root.join("crates/passwd-auth/tests/fixtures");
        let passwd = fixtures.join("passwd").display().to_string();
        let shadow = fixtures.join("shadow").display().to_string();
        self.example(
            "auth_server",
            runtime,
            &["--passwd", &passwd, "--shadow", &shadow],
        )
    }

    fn asyncio(&self) -> Launch {
        let script = self.root.join("examples/benches/asyncio_session.py");
        Launch {
            label: "asyncio (Python)".into(),
            program: "python3".into(),
            args: vec![
                script.display().to_string(),
                "{host}".into(),
                "{port}".into(),
            ],
        }
    }

    /// The libraries alone, as the examples use them but printing nothing:
    /// `session` or `oneshot` on `std` or `tokio`, with default options.
    fn library(&self, what: &str, runtime: &str) -> Launch {
        Launch {
            label: format!("net-{runtime} + {what} machine, no printing"),
            program: std::env::current_exe().expect("current_exe"),
            args: vec![
                "--library-server".into(),
                what.into(),
                runtime.into(),
                "{addr}".into(),
            ],
        }
    }

    /// [`library`](Self::library) serving up to `max` connections, with no
    /// per-peer cap.
    fn library_capped(&self, what: &str, runtime: &str, max: usize) -> Launch {
        let mut launch = self.library(what, runtime);
        launch.args.push(max.to_string());
        launch
    }

    /// The minimal multi-thread tokio session server, with an idle timeout
    /// on each read.
    fn minimal_with_idle_timeout(&self) -> Launch {
        let mut launch = self.minimal("session", "multi", false);
        launch.args.push("--idle-timeout".into());
        launch.label.push_str(", an idle timeout per read");
        launch
    }

    /// A minimal server of this file: `session` or `oneshot`, on tokio's
    /// `multi` or `current` thread flavour, or `std` (a thread per
    /// connection, as the std runtime serves).
    fn minimal(&self, what: &str, flavour: &str, print: bool) -> Launch {
        let mut args = vec![
            "--minimal-server".to_string(),
            what.into(),
            flavour.into(),
            "{addr}".into(),
        ];
        if print {
            args.push("--print".into());
        }
        let kind = match flavour {
            "std" => "std, a thread per connection".to_string(),
            _ => format!("tokio {what}, {flavour}-thread"),
        };
        Launch {
            label: format!("minimal {kind}{}", if print { ", printing" } else { "" }),
            program: std::env::current_exe().expect("current_exe"),
            args,
        }
    }
}

/// How to start one server; `{addr}`, `{host}` and `{port}` in the
/// arguments become its address.
#[derive(Clone)]
struct Launch {
    label: String,
    program: PathBuf,
    args: Vec<String>,
}

/// A running server process, killed (by its PID) on drop.
struct Proc {
    child: Child,
    addr: SocketAddr,
}

impl Proc {
    fn start(launch: &Launch) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let args = launch.args.iter().map(|arg| {
            arg.replace("{addr}", &addr.to_string())
                .replace("{host}", "127.0.0.1")
                .replace("{port}", &addr.port().to_string())
        });
        let mut child = Command::new(&launch.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", launch.program.display()));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited at start: {status}", launch.label);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {addr}",
                launch.label
            );
            thread::sleep(Duration::from_millis(20));
        }
        // Let the probe connection end.
        thread::sleep(Duration::from_millis(100));
        Self { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port in 61000..65000 (above the ephemeral range) that binds now.
fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        61_000 + (std::process::id() % 2_000) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..4_000 {
        let mut port = NEXT.fetch_add(1, Ordering::SeqCst);
        if port >= 65_000 {
            NEXT.store(61_001, Ordering::SeqCst);
            port = 61_000;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 61000..65000");
}

// ---------------------------------------------------------------------------
// /proc

fn proc_file(pid: u32, name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{name}")).ok()
}

/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = proc_file(pid, "status")?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of `pid` (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = proc_file(pid, "stat")?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); field 3 (state) is the first here.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks a second, the unit of `/proc/PID/stat`'s CPU times.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Busy clock ticks of the whole machine (all cores), from /proc/stat.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?;
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    Some(
        fields
            .get(..8)?
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 4)
            .map(|(_, v)| v)
            .sum(),
    )
}

/// CPU time, in cores, that processes other than this bench and `server`
/// used while `during` ran.
struct OthersMeter {
    machine: Option<u64>,
    own: Option<u64>,
    server: Option<u64>,
    server_pid: Option<u32>,
    started: Instant,
}

impl OthersMeter {
    fn start(server_pid: Option<u32>) -> Self {
        Self {
            machine: machine_busy_ticks(),
            own: cpu_ticks(std::process::id()),
            server: server_pid.and_then(cpu_ticks),
            server_pid,
            started: Instant::now(),
        }
    }

    /// Cores' worth of CPU the others used since `start`.
    fn others(&self, clock_ticks: u64) -> f64 {
        let delta = |now: Option<u64>, then: Option<u64>| {
            now.zip(then).map_or(0, |(n, t)| n.saturating_sub(t))
        };
        let machine = delta(machine_busy_ticks(), self.machine);
        let own = delta(cpu_ticks(std::process::id()), self.own);
        let server = delta(self.server_pid.and_then(cpu_ticks), self.server);
        machine.saturating_sub(own + server) as f64
            / clock_ticks as f64
            / self.started.elapsed().as_secs_f64()
    }
}

/// Waits (at most 3 minutes) until other processes use less than a tenth
/// of a core, so that another build does not skew the next figure.
fn wait_for_quiet(clock_ticks: u64) {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut said = false;
    loop {
        let meter = OthersMeter::start(None);
        thread::sleep(Duration::from_secs(1));
        let others = meter.others(clock_ticks);
        if others < 0.1 || Instant::now() > deadline {
            if said {
                println!("(machine quiet again: {others:.2} cores busy elsewhere)");
            }
            return;
        }
        if !said {
            println!("(waiting: {others:.2} cores busy elsewhere)");
            said = true;
        }
        thread::sleep(Duration::from_secs(2));
    }
}

/// (soft, hard) RLIMIT_NOFILE of this process.
fn open_file_limit() -> Option<(u64, u64)> {
    let limits = proc_file(std::process::id(), "limits")?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line.split_whitespace().filter_map(|w| w.parse().ok());
    Some((numbers.next()?, numbers.next()?))
}

/// Raises the soft open-file limit to the hard one with prlimit(1) (the
/// workspace forbids `unsafe`, so no setrlimit here). The servers inherit it.
fn raise_open_file_limit() {
    if let Some((soft, hard)) = open_file_limit()
        && soft < hard
    {
        let _ = Command::new("prlimit")
            .arg("--pid")
            .arg(std::process::id().to_string())
            .arg(format!("--nofile={hard}:{hard}"))
            .status();
    }
}

/// The sockets of server `pid` listening on `port`, by peer address.
#[derive(Debug, Default)]
struct Census {
    /// Sockets the server process holds (in its fd table), any state.
    held: HashMap<Ipv4Addr, usize>,
    /// The same by TCP state (`01` ESTABLISHED, `07` CLOSE, `08` CLOSE_WAIT...).
    held_states: HashMap<Ipv4Addr, std::collections::BTreeMap<String, usize>>,
    /// ESTABLISHED in the kernel, including those still in the accept queue.
    established: HashMap<Ipv4Addr, usize>,
}

fn census(pid: u32, port: u16) -> Census {
    let mut inodes = HashSet::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in dir.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .and_then(|inode| inode.parse::<u64>().ok())
                {
                    inodes.insert(inode);
                }
            }
        }
    }
    let mut census = Census::default();
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return census;
    };
    let address = |field: &str| -> Option<(Ipv4Addr, u16)> {
        let (ip, port) = field.split_once(':')?;
        let ip = u32::from_str_radix(ip, 16).ok()?;
        Some((
            Ipv4Addr::from(ip.to_le_bytes()),
            u16::from_str_radix(port, 16).ok()?,
        ))
    };
    // The kernel writes the table in pieces while sockets come and go, so
    // an entry can show up twice in one read: count each socket once.
    let mut seen_inodes = HashSet::new();
    let mut seen_peers = HashSet::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state), Some(inode)) = (
            fields.get(1).and_then(|f| address(f)),
            fields.get(2).and_then(|f| address(f)),
            fields.get(3),
            fields.get(9).and_then(|f| f.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if local.1 != port || *state == "0A" {
            continue;
        }
        if *state == "01" && seen_peers.insert(remote) {
            *census.established.entry(remote.0).or_default() += 1;
        }
        if inode != 0 && inodes.contains(&inode) && seen_inodes.insert(inode) {
            *census.held.entry(remote.0).or_default() += 1;
            *census
                .held_states
                .entry(remote.0)
                .or_default()
                .entry(tcp_state(state).to_string())
                .or_default() += 1;
        }
    }
    census
}

fn tcp_state(hex: &str) -> &'static str {
    match hex {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => "?",
    }
}

// ---------------------------------------------------------------------------
// Small helpers

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    }
    .enable_all()
    .build()
    .expect("tokio runtime")
}

/// Connects from `source` (port chosen by the kernel).
async fn connect_from(source: Ipv4Addr, to: SocketAddr) -> io::Result<AsyncStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(to).await
}

async fn expect(stream: &mut AsyncStream, wanted: &[u8]) -> io::Result<()> {
    let mut got = vec![0; wanted.len()];
    stream.read_exact(&mut got).await?;
    if got == wanted {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "expected {:?}, got {:?}",
            String::from_utf8_lossy(wanted),
            String::from_utf8_lossy(&got)
        )))
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn secs(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    format!(
        "{:.1} / {:.1} / {:.1} s",
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    )
}

// ---------------------------------------------------------------------------
// 1. Burst

/// 1,000 connections opened one after another as fast as the client can,
/// then the banner read on each: the time until all are greeted. Five
/// rounds per server; the first round also pays the server's warm-up.
fn burst(bench: &Bench) {
    let count = bench.pick(1_000, 200);
    let rounds = bench.pick(5, 2);
    println!("\n## burst: {count} connections, then every banner ({rounds} rounds each)\n");
    println!(
        "| server | first round | median | best | worst | banners missing | median ÷ asyncio median |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let launches = [
        bench.example("session_server", "std", &["--max-per-peer", "0"]),
        bench.example("session_server", "tokio", &["--max-per-peer", "0"]),
        bench.asyncio(),
    ];
    let mut rows = Vec::new();
    for launch in &launches {
        wait_for_quiet(bench.clock_ticks);
        let server = Proc::start(launch);
        let mut times = Vec::new();
        let mut missing = 0;
        for _ in 0..rounds {
            let (elapsed, failed) = one_burst(server.addr, count);
            times.push(elapsed);
            missing += failed;
            // Let the server end the sessions (the client closed them).
            wait_until_released(server.pid(), server.addr.port());
        }
        rows.push((launch.label.clone(), times, missing));
    }
    let median = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        sorted[sorted.len() / 2]
    };
    let baseline = median(&rows.last().expect("rows").1);
    for (label, times, missing) in &rows {
        let mut sorted = times.clone();
        sorted.sort();
        println!(
            "| {label} | {} | {} | {} | {} | {missing} | {:.2} |",
            ms(times[0]),
            ms(median(times)),
            ms(sorted[0]),
            ms(sorted[sorted.len() - 1]),
            median(times).as_secs_f64() / baseline.as_secs_f64()
        );
    }
}

fn one_burst(addr: SocketAddr, count: usize) -> (Duration, usize) {
    let started = Instant::now();
    let mut streams = Vec::with_capacity(count);
    let mut failed = 0;
    for _ in 0..count {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => streams.push(stream),
            Err(_) => failed += 1,
        }
    }
    let mut banner = vec![0; GREETING.len()];
    for stream in &mut streams {
        let ok = stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .is_ok()
            && stream.read_exact(&mut banner).is_ok()
            && banner == GREETING;
        failed += usize::from(!ok);
    }
    let elapsed = started.elapsed();
    for stream in &mut streams {
        let _ = stream.write_all(b"END\n");
    }
    (elapsed, failed)
}

/// Waits (at most 5 s) until the server holds no connection on `port`.
fn wait_until_released(pid: u32, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && census(pid, port).held.values().sum::<usize>() > 0 {
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(200));
}

// ---------------------------------------------------------------------------
// 2. Idle sessions

/// Many idle sessions at once, every one greeted, and the server's
/// resident memory then (VmRSS).
fn idle(bench: &Bench) {
    let (big, small) = bench.pick((10_000, 5_000), (1_000, 500));
    println!("\n## idle: sessions held open, each greeted, and server VmRSS\n");
    println!(
        "| server | sessions | greeted | open time | RSS at start | RSS with sessions | per session | per session ÷ minimal tokio's |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let (big_s, small_s) = (big.to_string(), small.to_string());
    let rows: Vec<(Launch, usize, bool)> = vec![
        (bench.minimal("session", "multi", false), big, true),
        (
            bench.example(
                "session_server",
                "tokio",
                &["--max-connections", &big_s, "--max-per-peer", "0"],
            ),
            big,
            false,
        ),
        (bench.library_capped("session", "tokio", big), big, false),
        (bench.asyncio(), big, false),
        (bench.minimal("session", "multi", false), small, true),
        (
            bench.example(
                "session_server",
                "std",
                &["--max-connections", &small_s, "--max-per-peer", "0"],
            ),
            small,
            false,
        ),
        (bench.library_capped("session", "std", small), small, false),
    ];
    let mut baseline = 0.0;
    for (launch, count, is_baseline) in rows {
        wait_for_quiet(bench.clock_ticks);
        let server = Proc::start(&launch);
        let before = rss_kib(server.pid()).unwrap_or(0);
        let rt = runtime(2);
        let (greeted, open_time, after) = rt.block_on(async {
            let started = Instant::now();
            let slots = Arc::new(tokio::sync::Semaphore::new(256));
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..count {
                let slots = Arc::clone(&slots);
                let addr = server.addr;
                tasks.spawn(async move {
                    let _slot = slots.acquire_owned().await.ok()?;
                    // Spread over 127.0.0.10..29, so ephemeral ports never run short.
                    let source = Ipv4Addr::new(127, 0, 0, 10 + (i % 20) as u8);
                    tokio::time::timeout(IO_LIMIT, async {
                        let mut stream = connect_from(source, addr).await?;
                        expect(&mut stream, GREETING).await?;
                        io::Result::Ok(stream)
                    })
                    .await
                    .ok()?
                    .ok()
                });
            }
            let mut streams = Vec::with_capacity(count);
            while let Some(joined) = tasks.join_next().await {
                if let Ok(Some(stream)) = joined {
                    streams.push(stream);
                }
            }
            let open_time = started.elapsed();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = rss_kib(server.pid()).unwrap_or(0);
            for stream in &mut streams {
                let _ = stream.write_all(b"END\n").await;
            }
            (streams.len(), open_time, after)
        });
        drop(rt);
        let per = after.saturating_sub(before) as f64 / count as f64;
        if is_baseline {
            baseline = per;
        }
        println!(
            "| {} | {count} | {greeted} | {} | {:.1} MB | {:.1} MB | {per:.1} KiB | {:.2} |",
            launch.label,
            ms(open_time),
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            per / baseline
        );
        drop(server);
    }
}

// ---------------------------------------------------------------------------
// 3. CPU per round trip

/// 128 sessions paced to 20,000 round trips a second in all; the server
/// process's CPU time (utime + stime) over a 5 s window, per round trip.
fn cpu(bench: &Bench) {
    let sessions = 128;
    let rate = 20_000.0;
    let window = bench.pick(Duration::from_secs(5), Duration::from_secs(1));
    let rounds = bench.pick(5, 1);
    println!(
        "\n## cpu: {sessions} sessions paced to {rate:.0} round trips/s, server CPU over {} s ({rounds} rounds)\n",
        window.as_secs()
    );
    let launches = [
        bench.minimal("session", "multi", false),
        bench.minimal("session", "current", false),
        bench.example("session_server", "tokio", &[]),
        bench.example("session_server", "std", &[]),
        bench.asyncio(),
        bench.minimal("session", "multi", true),
        bench.minimal("session", "current", true),
        bench.library("session", "tokio"),
        bench.library("session", "std"),
        bench.minimal("session", "std", false),
        bench.minimal("session", "std", true),
    ];
    let mut results: Vec<Vec<CpuRun>> = launches.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        // Alternate the order, so drift in the machine hits every server alike.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..launches.len()).collect()
        } else {
            (0..launches.len()).rev().collect()
        };
        for i in order {
            // A run that another process disturbed is done again (at most
            // four times in all); the least disturbed one counts.
            let mut best: Option<CpuRun> = None;
            for _ in 0..4 {
                wait_for_quiet(bench.clock_ticks);
                let server = Proc::start(&launches[i]);
                let run = paced_run(
                    server.addr,
                    Some(server.pid()),
                    bench.clock_ticks,
                    sessions,
                    rate,
                    window,
                );
                let quiet = run.others < DISTURBED;
                if best.as_ref().is_none_or(|b| run.others < b.others) {
                    best = Some(run);
                }
                if quiet {
                    break;
                }
            }
            results[i].extend(best);
        }
    }
    println!(
        "| server | round trips/s achieved | server CPU | µs CPU per round trip (each round) | median | p99 latency | ÷ minimal multi-thread | ÷ minimal current-thread | other processes, max |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mean = |runs: &[CpuRun]| {
        let mut each: Vec<f64> = runs.iter().map(CpuRun::per_trip_us).collect();
        each.sort_by(f64::total_cmp);
        each[each.len() / 2]
    };
    let multi = mean(&results[0]);
    let current = mean(&results[1]);
    for (launch, runs) in launches.iter().zip(&results) {
        let each: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.2}", r.per_trip_us()))
            .collect();
        let rate: f64 = runs
            .iter()
            .map(|r| r.trips as f64 / r.window.as_secs_f64())
            .sum::<f64>()
            / runs.len() as f64;
        let cpu: f64 = runs
            .iter()
            .map(|r| r.cpu_seconds / r.window.as_secs_f64())
            .sum::<f64>()
            / runs.len() as f64;
        let p99 = runs.iter().map(|r| r.p99).max().unwrap_or_default();
        let failures: usize = runs.iter().map(|r| r.failures).sum();
        let failed = if failures > 0 {
            format!(" ({failures} failed)")
        } else {
            String::new()
        };
        let others = runs.iter().map(|r| r.others).fold(0.0, f64::max);
        println!(
            "| {} | {rate:.0}{failed} | {:.0}% of a core | {} | {:.2} | {} | {:.2} | {:.2} | {:.0}% of a core |",
            launch.label,
            cpu * 100.0,
            each.join(", "),
            mean(runs),
            ms(p99),
            mean(runs) / multi,
            mean(runs) / current,
            others * 100.0
        );
    }
}

struct CpuRun {
    /// Cores used by other processes during the window.
    others: f64,
    trips: u64,
    cpu_seconds: f64,
    window: Duration,
    p99: Duration,
    failures: usize,
}

impl CpuRun {
    fn per_trip_us(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.trips.max(1) as f64
    }
}

/// `--paced-client ADDR SECONDS [PID]`: the `cpu` client alone, for
/// profiling a server started by hand, or for comparing builds the bench
/// does not start (an older commit's, say). Given the server's PID, it
/// also prints the server's CPU per round trip over the same window as the
/// `cpu` mode, and how busy other processes kept the machine meanwhile.
fn paced_client(args: &[String]) {
    let [addr, seconds, rest @ ..] = args else {
        panic!("usage: --paced-client ADDR SECONDS [PID]");
    };
    let addr: SocketAddr = addr.parse().expect("ADDR");
    let window = Duration::from_secs_f64(seconds.parse().expect("SECONDS"));
    let pid: Option<u32> = rest.first().map(|pid| pid.parse().expect("PID"));
    let run = paced_run(addr, pid, clock_ticks(), 128, 20_000.0, window);
    println!(
        "{} round trips in {:.2} s, p99 {}, {} failed",
        run.trips,
        run.window.as_secs_f64(),
        ms(run.p99),
        run.failures
    );
    if pid.is_some() {
        println!(
            "server CPU {:.2} s, {:.2} µs per round trip; other processes {:.0}% of a core",
            run.cpu_seconds,
            run.per_trip_us(),
            run.others * 100.0
        );
    }
}

/// A session of the paced clients: connected, no Nagle delay, greeted.
async fn greeted_session(addr: SocketAddr) -> AsyncStream {
    let greeted = tokio::time::timeout(IO_LIMIT, async {
        let mut stream = AsyncStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        expect(&mut stream, GREETING).await?;
        Ok::<_, io::Error>(stream)
    });
    match greeted.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => panic!("session to {addr}: {error}"),
        Err(_) => panic!("session to {addr}: no banner within {IO_LIMIT:?}"),
    }
}

/// One line and its reply (read into `reply`, `SESSION_REPLY` long), within
/// `IO_LIMIT`: whether the server answered right.
async fn session_round_trip(stream: &mut AsyncStream, reply: &mut [u8]) -> bool {
    let done = tokio::time::timeout(IO_LIMIT, async {
        stream.write_all(LINE).await?;
        stream.read_exact(reply).await
    })
    .await;
    matches!(done, Ok(Ok(_))) && reply == SESSION_REPLY
}

fn paced_run(
    addr: SocketAddr,
    pid: Option<u32>,
    clock_ticks: u64,
    sessions: usize,
    rate: f64,
    window: Duration,
) -> CpuRun {
    // One client thread: the client never takes more than one of the cores.
    let rt = runtime(1);
    let ticks = clock_ticks as f64;
    let cpu_ticks = |pid: Option<u32>| pid.and_then(cpu_ticks);
    rt.block_on(async move {
        let period = Duration::from_secs_f64(sessions as f64 / rate);
        let warm_up = Duration::from_millis(700);
        let mut streams = Vec::new();
        for _ in 0..sessions {
            streams.push(greeted_session(addr).await);
        }
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        let measure_from = start + warm_up;
        let measure_to = measure_from + window;
        let stop = measure_to + Duration::from_millis(200);
        let trips = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, mut stream) in streams.into_iter().enumerate() {
            let trips = Arc::clone(&trips);
            let offset = period.mul_f64(i as f64 / sessions as f64);
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                let mut reply = vec![0; SESSION_REPLY.len()];
                for k in 0..u32::MAX {
                    let at = start + offset + period * k;
                    if at >= stop {
                        break;
                    }
                    tokio::time::sleep_until(at).await;
                    let sent = tokio::time::Instant::now();
                    if !session_round_trip(&mut stream, &mut reply).await {
                        failures += 1;
                        break;
                    }
                    trips.fetch_add(1, Ordering::Relaxed);
                    if sent >= measure_from && sent < measure_to {
                        latencies.push(sent.elapsed());
                    }
                }
                let _ = stream.write_all(b"END\n").await;
                (latencies, failures)
            });
        }
        tokio::time::sleep_until(measure_from).await;
        let (cpu0, trips0) = (cpu_ticks(pid), trips.load(Ordering::Relaxed));
        let meter = OthersMeter::start(pid);
        let t0 = Instant::now();
        tokio::time::sleep_until(measure_to).await;
        let (cpu1, trips1) = (cpu_ticks(pid), trips.load(Ordering::Relaxed));
        let measured = t0.elapsed();
        let others = meter.others(clock_ticks);
        let mut all = Vec::new();
        let mut failures = 0;
        while let Some(joined) = tasks.join_next().await {
            let (latencies, failed) = joined.expect("client task");
            all.extend(latencies);
            failures += failed;
        }
        all.sort();
        CpuRun {
            others,
            trips: trips1 - trips0,
            cpu_seconds: cpu1.zip(cpu0).map_or(0.0, |(b, a)| (b - a) as f64 / ticks),
            window: measured,
            p99: percentile(&all, 0.99),
            failures,
        }
    })
}

// ---------------------------------------------------------------------------
// 3b. CPU per round trip, the servers taking turns

/// The `cpu` mode's load (128 sessions paced to 20,000 round trips a
/// second), measured so that the machine's drift cannot pass for a
/// difference between servers. Here the speed of the machine moves by a
/// fifth over minutes, and the `cpu` mode's 5 s runs one after another
/// cannot tell that from a few percent between servers. Two ways:
///
/// - **Taking turns:** all the servers run at once; each second one of
///   them gets its 128 sessions' lines while the others sit idle, in
///   rotation (forward, then backward). Each server's figure is divided
///   by the baseline's of the same cycle, a few seconds away.
/// - **Side by side:** the baseline and one other server get their 128
///   sessions each at the same time, for one window a second. Both see
///   the same machine in every window, at twice the offered load (40,000
///   round trips a second in all).
///
/// CPU time is each process's scheduler runtime in nanoseconds (summed
/// over `/proc/PID/task/*/schedstat`), over each window of 1 s less its
/// first 200 ms and last 20 ms. The baseline is the minimal multi-thread
/// tokio server.
fn turns(bench: &Bench) {
    let cycles = bench.pick(30, 2);
    let launches = [
        bench.minimal("session", "multi", false),
        bench.minimal("session", "multi", true),
        bench.minimal_with_idle_timeout(),
        bench.example("session_server", "tokio", &[]),
        bench.library("session", "tokio"),
        bench.minimal("session", "std", false),
        bench.example("session_server", "std", &[]),
        bench.library("session", "std"),
    ];
    println!(
        "\n## turns: {} servers taking turns of 1 s, 128 sessions paced to 20,000 round trips/s each turn, {cycles} cycles\n",
        launches.len()
    );
    wait_for_quiet(bench.clock_ticks);
    let servers: Vec<Proc> = launches.iter().map(Proc::start).collect();
    let targets: Vec<(SocketAddr, u32)> = servers.iter().map(|s| (s.addr, s.pid())).collect();
    let run = turns_run(&targets, cycles, Duration::from_secs(1), false);
    drop(servers);
    print_turns_header();
    for (server, launch) in launches.iter().enumerate() {
        print_turns_row(&launch.label, &run, server);
    }

    println!(
        "\n## turns, side by side: each server and the baseline at once, 128 sessions each paced to 20,000 round trips/s, {cycles} windows of 1 s\n"
    );
    print_turns_header();
    for launch in &launches[1..] {
        wait_for_quiet(bench.clock_ticks);
        let servers = [Proc::start(&launches[0]), Proc::start(launch)];
        let targets: Vec<(SocketAddr, u32)> = servers.iter().map(|s| (s.addr, s.pid())).collect();
        let run = turns_run(&targets, cycles, Duration::from_secs(1), true);
        print_turns_row(&launch.label, &run, 1);
    }
}

/// `--turns-client [--side-by-side] CYCLES ADDR:PID ADDR:PID ...`: the
/// `turns` mode's client alone, for servers started by hand (two builds of
/// one server, say). The first is the baseline.
fn turns_client(args: &[String]) {
    let side_by_side = args.first().is_some_and(|arg| arg == "--side-by-side");
    let args = &args[usize::from(side_by_side)..];
    let [cycles, targets @ ..] = args else {
        panic!("usage: --turns-client [--side-by-side] CYCLES ADDR:PID ADDR:PID ...");
    };
    let cycles: usize = cycles.parse().expect("CYCLES");
    assert!(cycles > 0, "CYCLES must be at least 1");
    let targets: Vec<(SocketAddr, u32)> = targets
        .iter()
        .map(|target| {
            let (addr, pid) = target.rsplit_once(':').expect("ADDR:PID");
            (addr.parse().expect("ADDR"), pid.parse().expect("PID"))
        })
        .collect();
    assert!(!targets.is_empty(), "no server given");
    // TURN_MS: the length of a window (1,000 ms by default).
    let turn = std::env::var("TURN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis);
    let run = turns_run(&targets, cycles, turn, side_by_side);
    print_turns_header();
    for (server, label) in args[1..].iter().enumerate() {
        print_turns_row(label, &run, server);
    }
}

/// One server's turn: CPU nanoseconds and round trips in its window.
#[derive(Clone, Copy, Default)]
struct Turn {
    cpu_ns: u64,
    trips: u64,
}

impl Turn {
    fn per_trip_us(self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.trips.max(1) as f64
    }
}

/// What a `turns_run` measured: `turns[cycle][server]`, and the client's
/// failed exchanges per server.
struct TurnsRun {
    turns: Vec<Vec<Turn>>,
    failures: Vec<usize>,
    /// Round trips a measured window holds at the paced rate.
    paced_trips: f64,
}

/// Scheduler runtime of each thread of `pid`, in nanoseconds, by thread id.
fn thread_runtimes(pid: u32) -> HashMap<u32, u64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let tid: u32 = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            Some((tid, stat.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// CPU nanoseconds `pid`'s threads ran between two `thread_runtimes`; a
/// thread that ended in between is lost, one that began counts whole.
fn runtime_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(tid, &ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

/// Paces 128 sessions of each target (`ADDR`, `PID`) through `cycles`
/// cycles of windows of `turn`: one target a window, in rotation, or
/// every target in every window if `side_by_side`.
fn turns_run(
    targets: &[(SocketAddr, u32)],
    cycles: usize,
    turn: Duration,
    side_by_side: bool,
) -> TurnsRun {
    const SESSIONS: usize = 128;
    const RATE: f64 = 20_000.0;
    // Each window less its first fifth (the server wakes up) and last
    // fiftieth (the last round trips may run over).
    let settle = turn / 5;
    let tail = turn / 50;
    // Each slot: the servers whose sessions send in it, and the cycle it
    // belongs to. Taking turns, forward then backward, so that no server
    // always follows the same one.
    let slots: Vec<(usize, Vec<usize>)> = (0..cycles)
        .flat_map(|cycle| {
            let mut one: Vec<usize> = (0..targets.len()).collect();
            if cycle % 2 == 1 {
                one.reverse();
            }
            if side_by_side {
                vec![(cycle, one)]
            } else {
                one.into_iter()
                    .map(|server| (cycle, vec![server]))
                    .collect()
            }
        })
        .collect();
    let order = Arc::new(slots);
    let trips: Arc<Vec<AtomicU64>> = Arc::new(targets.iter().map(|_| AtomicU64::new(0)).collect());
    let rt = runtime(1);
    let (start, tasks) = rt.block_on(async {
        let period = Duration::from_secs_f64(SESSIONS as f64 / RATE);
        let mut streams = Vec::new();
        for (server, &(addr, _)) in targets.iter().enumerate() {
            for _ in 0..SESSIONS {
                streams.push((server, greeted_session(addr).await));
            }
        }
        let start = Instant::now() + Duration::from_millis(100);
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (server, mut stream)) in streams.into_iter().enumerate() {
            let order = Arc::clone(&order);
            let trips = Arc::clone(&trips);
            let offset = period.mul_f64((i % SESSIONS) as f64 / SESSIONS as f64);
            tasks.spawn(async move {
                let mut reply = vec![0; SESSION_REPLY.len()];
                let mine = order
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, s))| s.contains(&server));
                for (slot, _) in mine {
                    let from = start + turn * slot as u32;
                    let mut at = from + offset;
                    while at < from + turn {
                        tokio::time::sleep_until(at.into()).await;
                        if !session_round_trip(&mut stream, &mut reply).await {
                            return (server, 1);
                        }
                        trips[server].fetch_add(1, Ordering::Relaxed);
                        at += period;
                    }
                }
                let _ = stream.write_all(b"END\n").await;
                (server, 0)
            });
        }
        (start, tasks)
    });
    // The measuring runs on its own thread, so that reading a few hundred
    // /proc files never delays the client's lines.
    let measurer = {
        let order = Arc::clone(&order);
        let trips = Arc::clone(&trips);
        let pids: Vec<u32> = targets.iter().map(|&(_, pid)| pid).collect();
        thread::spawn(move || {
            let mut turns = vec![vec![Turn::default(); pids.len()]; cycles];
            for (slot, (cycle, servers)) in order.iter().enumerate() {
                let from = start + turn * slot as u32;
                let sample = || {
                    servers
                        .iter()
                        .map(|&server| {
                            (
                                thread_runtimes(pids[server]),
                                trips[server].load(Ordering::Relaxed),
                            )
                        })
                        .collect::<Vec<_>>()
                };
                thread::sleep((from + settle).saturating_duration_since(Instant::now()));
                let before = sample();
                thread::sleep((from + turn - tail).saturating_duration_since(Instant::now()));
                let after = sample();
                for ((&server, (cpu0, trips0)), (cpu1, trips1)) in
                    servers.iter().zip(before).zip(after)
                {
                    turns[*cycle][server] = Turn {
                        cpu_ns: runtime_between(&cpu0, &cpu1),
                        trips: trips1 - trips0,
                    };
                }
            }
            turns
        })
    };
    let failures = rt.block_on(async {
        let mut failures = vec![0; targets.len()];
        let mut tasks = tasks;
        while let Some(joined) = tasks.join_next().await {
            let (server, failed) = joined.expect("client task");
            failures[server] += failed;
        }
        failures
    });
    TurnsRun {
        turns: measurer.join().expect("measurer"),
        failures,
        paced_trips: RATE * (turn - settle - tail).as_secs_f64(),
    }
}

/// A distribution-free 95% interval of the median of `sorted`: the order
/// statistics n/2 ± 0.98 √n (the normal approximation to the binomial;
/// rounded outwards, so it covers a little more than 95%). `None` for
/// fewer than 6 values, where no such interval is worth the name.
fn median_interval(sorted: &[f64]) -> Option<(f64, f64)> {
    if sorted.len() < 6 {
        return None;
    }
    let n = sorted.len() as f64;
    let spread = 0.98 * n.sqrt();
    let low = ((n / 2.0 - spread).floor() as usize).saturating_sub(1);
    let high = ((n / 2.0 + spread).ceil() as usize).min(sorted.len() - 1);
    Some((sorted[low], sorted[high]))
}

fn print_turns_header() {
    println!(
        "| server | µs CPU per round trip, median (range) | ÷ baseline, median of the cycles | 95% interval | round trips a window, median | failed |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
}

/// One server's row: its figures, and its ratio to server 0 of the run.
fn print_turns_row(label: &str, run: &TurnsRun, server: usize) {
    let sorted = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values
    };
    let each = sorted(run.turns.iter().map(|c| c[server].per_trip_us()).collect());
    let ratios = sorted(
        run.turns
            .iter()
            .map(|c| c[server].per_trip_us() / c[0].per_trip_us())
            .collect(),
    );
    let trips = sorted(run.turns.iter().map(|c| c[server].trips as f64).collect());
    let interval =
        median_interval(&ratios).map_or("-".into(), |(low, high)| format!("{low:.3}–{high:.3}"));
    println!(
        "| {label} | {:.2} ({:.2}–{:.2}) | {:.3} | {interval} | {:.0} | {} |",
        each[each.len() / 2],
        each[0],
        each[each.len() - 1],
        ratios[ratios.len() / 2],
        trips[trips.len() / 2],
        run.failures[server],
    );
    // Side by side with many servers, one client thread and two cores may
    // not keep the pace: the CPU figures are then at a lower load than the
    // others', and saturated servers batch more, so they are not comparable.
    let kept = trips[trips.len() / 2] / run.paced_trips;
    if kept < 0.95 {
        eprintln!(
            "warning: {label}: the median window held {:.0}% of the paced round \
             trips; the machine was saturated and this row is not at the fixed load",
            kept * 100.0
        );
    }
}

// ---------------------------------------------------------------------------
// 4. One-shot exchanges

/// 16 clients, each repeating: connect, send one line, read the reply to
/// end of stream, close. Each server alone, in rounds taking turns; then
/// the tokio servers side by side with the baseline (see
/// [`oneshot_side_by_side`]).
fn oneshot(bench: &Bench) {
    let clients = 16;
    let window = bench.pick(Duration::from_secs(5), Duration::from_secs(1));
    println!(
        "\n## oneshot: {clients} concurrent clients for {} s (connect, one line, reply to EOF, close; {} rounds)\n",
        window.as_secs(),
        bench.pick(3, 1)
    );
    println!(
        "| server | exchanges/s (each round) | median | p50 | p99 | failed | ÷ minimal multi-thread | ÷ minimal current-thread | other processes, max |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let launches = [
        bench.minimal("oneshot", "multi", false),
        bench.minimal("oneshot", "current", false),
        bench.example("reverse_server", "tokio", &[]),
        bench.example("reverse_server", "std", &[]),
        bench.library("oneshot", "tokio"),
        bench.library("oneshot", "std"),
        bench.minimal("oneshot", "std", false),
    ];
    let rounds = bench.pick(3, 1);
    // Per server, one result per round: (others, (rate, p50, p99, failed)).
    type Run = (f64, (f64, Duration, Duration, usize));
    let mut results: Vec<Vec<Run>> = launches.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..launches.len()).collect()
        } else {
            (0..launches.len()).rev().collect()
        };
        for i in order {
            // As in `cpu`: a disturbed run is done again, at most four times.
            let mut best: Option<Run> = None;
            for _ in 0..4 {
                wait_for_quiet(bench.clock_ticks);
                let server = Proc::start(&launches[i]);
                let meter = OthersMeter::start(Some(server.pid()));
                let run = one_shot_run(server.addr, clients, window);
                let others = meter.others(bench.clock_ticks);
                drop(server);
                if best.as_ref().is_none_or(|(b, _)| others < *b) {
                    best = Some((others, run));
                }
                if others < DISTURBED {
                    break;
                }
                thread::sleep(Duration::from_millis(500));
            }
            results[i].extend(best);
            // Each server gets a new port: TIME_WAIT sockets of the last do not matter.
            thread::sleep(Duration::from_millis(500));
        }
    }
    // The round with the median rate stands for each server.
    let median: Vec<Run> = results
        .iter()
        .map(|runs| {
            let mut runs = runs.clone();
            runs.sort_by(|a, b| a.1.0.total_cmp(&b.1.0));
            runs[runs.len() / 2]
        })
        .collect();
    for ((launch, runs), (_, (rate, p50, p99, failed))) in
        launches.iter().zip(&results).zip(&median)
    {
        let each: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.1.0)).collect();
        let others = runs.iter().map(|r| r.0).fold(0.0, f64::max);
        println!(
            "| {} | {} | {rate:.0} | {} | {} | {failed} | {:.2} | {:.2} | {:.0}% of a core |",
            launch.label,
            each.join(", "),
            ms(*p50),
            ms(*p99),
            rate / median[0].1.0,
            rate / median[1].1.0,
            others * 100.0
        );
    }
    // The baseline against a second copy of itself (what the method can
    // tell apart), then the multi-thread tokio servers.
    oneshot_side_by_side(
        bench,
        &launches[0],
        &[&launches[0], &launches[2], &launches[4]],
    );
}

/// Each of `others` and the baseline at once, each with its own 16
/// clients, through windows of 1 s: the rate of each in the same windows,
/// so that the machine's drift from one window to the next (as wide as the
/// gap to the target, taking rounds in turn) falls on both alike.
///
/// Both servers saturate the two cores, which the kernel shares out by
/// thread: a server with more busy threads takes more of them. So only
/// servers with the baseline's two worker threads are compared this way.
fn oneshot_side_by_side(bench: &Bench, baseline: &Launch, others: &[&Launch]) {
    const CLIENTS: usize = 16;
    let windows = bench.pick(30, 2);
    println!(
        "\n## oneshot, side by side: each server and {} at once, {CLIENTS} clients each, {windows} windows of 1 s\n",
        baseline.label
    );
    println!(
        "| server | exchanges/s, median (range) | ÷ baseline, median of the windows | 95% interval | baseline's exchanges/s, median | failed |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for launch in others {
        wait_for_quiet(bench.clock_ticks);
        let servers = [Proc::start(baseline), Proc::start(launch)];
        let addrs = [servers[0].addr, servers[1].addr];
        let (counts, failures) = one_shot_windows(addrs, CLIENTS, windows, Duration::from_secs(1));
        drop(servers);
        let sorted = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values
        };
        let rates = sorted(counts.iter().map(|c| c[1] as f64).collect());
        let baseline_rates = sorted(counts.iter().map(|c| c[0] as f64).collect());
        let ratios = sorted(
            counts
                .iter()
                .map(|c| c[1] as f64 / c[0].max(1) as f64)
                .collect(),
        );
        let interval = median_interval(&ratios)
            .map_or("-".into(), |(low, high)| format!("{low:.3}–{high:.3}"));
        let copy = if std::ptr::eq(*launch, baseline) {
            ", a second copy"
        } else {
            ""
        };
        println!(
            "| {}{copy} | {:.0} ({:.0}–{:.0}) | {:.3} | {interval} | {:.0} | {} |",
            launch.label,
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            ratios[ratios.len() / 2],
            baseline_rates[baseline_rates.len() / 2],
            failures[1],
        );
    }
}

/// `clients` closed-loop one-shot clients against each of `addrs` at
/// once; after a warm-up window, the exchanges each server completed in
/// each of `windows` windows of `window`, and each server's failures.
fn one_shot_windows(
    addrs: [SocketAddr; 2],
    clients: usize,
    windows: usize,
    window: Duration,
) -> (Vec<[u64; 2]>, [usize; 2]) {
    let rt = runtime(2);
    rt.block_on(async move {
        let done: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let start = tokio::time::Instant::now();
        // The warm-up window, then the measured ones.
        let end = start + window * (windows as u32 + 1);
        let mut tasks = tokio::task::JoinSet::new();
        for (server, addr) in addrs.into_iter().enumerate() {
            for _ in 0..clients {
                let done = Arc::clone(&done);
                tasks.spawn(async move {
                    let mut failures = 0;
                    let mut reply = Vec::with_capacity(64);
                    while tokio::time::Instant::now() < end {
                        if one_shot_exchange(addr, &mut reply).await {
                            done[server].fetch_add(1, Ordering::Relaxed);
                        } else {
                            failures += 1;
                        }
                    }
                    (server, failures)
                });
            }
        }
        let mut counts = Vec::with_capacity(windows);
        let mut last = [0, 0];
        for boundary in 1..=windows as u32 + 1 {
            tokio::time::sleep_until(start + window * boundary).await;
            let now = [0, 1].map(|server| done[server].load(Ordering::Relaxed));
            if boundary > 1 {
                counts.push([0, 1].map(|server| now[server] - last[server]));
            }
            last = now;
        }
        let mut failures = [0, 0];
        while let Some(joined) = tasks.join_next().await {
            let (server, failed) = joined.expect("client task");
            failures[server] += failed;
        }
        (counts, failures)
    })
}

fn one_shot_run(
    addr: SocketAddr,
    clients: usize,
    window: Duration,
) -> (f64, Duration, Duration, usize) {
    let rt = runtime(2);
    rt.block_on(async move {
        let end = tokio::time::Instant::now() + window;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                let mut reply = Vec::with_capacity(64);
                while tokio::time::Instant::now() < end && latencies.len() < 1_000_000 {
                    let started = Instant::now();
                    if one_shot_exchange(addr, &mut reply).await {
                        latencies.push(started.elapsed());
                    } else {
                        failures += 1;
                    }
                }
                (latencies, failures)
            });
        }
        let mut all = Vec::new();
        let mut failures = 0;
        while let Some(joined) = tasks.join_next().await {
            let (latencies, failed) = joined.expect("client task");
            all.extend(latencies);
            failures += failed;
        }
        all.sort();
        (
            all.len() as f64 / window.as_secs_f64(),
            percentile(&all, 0.5),
            percentile(&all, 0.99),
            failures,
        )
    })
}

/// One exchange with a one-shot reverse server: connect, send [`LINE`],
/// read to end of stream (into `reply`, cleared first). Whether the right
/// reply came within [`IO_LIMIT`].
async fn one_shot_exchange(addr: SocketAddr, reply: &mut Vec<u8>) -> bool {
    reply.clear();
    let exchange = async {
        let mut stream = AsyncStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(LINE).await?;
        stream.read_to_end(reply).await
    };
    let ok = tokio::time::timeout(IO_LIMIT, exchange).await;
    matches!(ok, Ok(Ok(_))) && reply.as_slice() == REVERSE_REPLY
}

// ---------------------------------------------------------------------------
// 5. Hostile load

/// From 127.0.0.1: slow-drip connections (one byte every ~2 s, no line
/// end) and idle ones, each reconnecting 1–2 s after it is closed. From
/// 127.0.0.2: a legitimate client once a second, which must be answered
/// in under a second. Meanwhile the server's sockets are counted from
/// /proc every second.
fn hostile(bench: &Bench) {
    let seconds: f64 = std::env::var("HOSTILE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(bench.pick(65.0, 12.0));
    let plan = Attack {
        drips: bench.pick(1_100, 110),
        idles: bench.pick(2_000, 200),
        duration: Duration::from_secs_f64(seconds),
        per_peer_cap: 256,
    };
    println!(
        "\n## hostile: {} drips + {} idle connections from 127.0.0.1 for {seconds:.0} s, a client from 127.0.0.2 every second\n",
        plan.drips, plan.idles
    );
    let runs = [
        (bench.example("session_server", "std", &[]), Proto::Session),
        (
            bench.example("session_server", "tokio", &[]),
            Proto::Session,
        ),
        (bench.auth("std"), Proto::Auth),
        (bench.auth("tokio"), Proto::Auth),
    ];
    let mut reports = Vec::new();
    for (launch, proto) in &runs {
        wait_for_quiet(bench.clock_ticks);
        let server = Proc::start(launch);
        let report = attack(&server, *proto, &plan);
        println!(
            "{}: {}/{} client exchanges under 1 s; most attacker sockets held: {}; at the end RSS {:.1} MB and {} threads",
            launch.label,
            report.answered_in_time,
            report.probes.len(),
            report.held_states,
            report.server_rss_kib as f64 / 1024.0,
            report.server_threads
        );
        reports.push((launch.label.clone(), *proto, report));
    }
    println!(
        "\n| server | client answered < 1 s | client p50 quiet → under attack (ratio) | client max | wrong password (auth) | attacker sockets held by server, max (cap {}) | ESTABLISHED from 127.0.0.1 in kernel, max | attacker greeted at once, max | drips served / cut after (min/median/max) | idle served / cut after (min/median/max) | attempts refused |",
        plan.per_peer_cap
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (label, proto, r) in &reports {
        let greeted = match proto {
            Proto::Session => r.max_greeted.to_string(),
            Proto::Auth => "(no banner)".into(),
        };
        let wrong = if r.wrong.is_empty() {
            "-".into()
        } else {
            let ok = r.wrong.iter().filter(|(_, ok)| *ok).count();
            let times: Vec<f64> = r.wrong.iter().map(|(d, _)| d.as_secs_f64()).collect();
            format!("{ok}/{} \"0\", {}", r.wrong.len(), secs(&times))
        };
        println!(
            "| {label} | {}/{} | {} → {} ({:.2}) | {} | {wrong} | {} | {} | {greeted} | {} / {} | {} / {} | {} |",
            r.answered_in_time,
            r.probes.len(),
            ms(r.quiet_p50),
            ms(r.attack_p50),
            r.attack_p50.as_secs_f64() / r.quiet_p50.as_secs_f64().max(1e-9),
            ms(r.probe_max),
            r.max_held,
            r.max_established,
            r.drip_cuts.len(),
            secs(&r.drip_cuts),
            r.idle_cuts.len(),
            secs(&r.idle_cuts),
            r.refused,
        );
    }
    println!(
        "\nDrips are timed from their first byte; idle connections from the banner on the \
         session server and from connect on the auth server, where each server's timer starts. \
         The session server cuts a line 30 s after its first byte and an idle session 60 s \
         after the banner; the auth server cuts a request 10 s after connect."
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Session,
    Auth,
}

struct Attack {
    drips: usize,
    idles: usize,
    duration: Duration,
    per_peer_cap: usize,
}

#[derive(Debug, Default)]
struct AttackReport {
    probes: Vec<(Duration, bool)>,
    answered_in_time: usize,
    quiet_p50: Duration,
    attack_p50: Duration,
    probe_max: Duration,
    /// Wrong-password probes (auth): time and whether the answer was "0".
    wrong: Vec<(Duration, bool)>,
    max_held: usize,
    /// The held sockets by TCP state when their number was highest.
    held_states: String,
    max_established: usize,
    max_greeted: usize,
    /// Seconds from first byte to the server's close, per served drip.
    drip_cuts: Vec<f64>,
    /// Seconds from connect to the server's close, per served idle connection.
    idle_cuts: Vec<f64>,
    refused: u64,
    /// Server RSS and thread count at the end.
    server_rss_kib: u64,
    server_threads: u64,
}

#[derive(Default)]
struct Tally {
    greeted_now: AtomicUsize,
    max_greeted: AtomicUsize,
    refused: AtomicU64,
    drip_cuts: Mutex<Vec<f64>>,
    idle_cuts: Mutex<Vec<f64>>,
}

fn attack(server: &Proc, proto: Proto, plan: &Attack) -> AttackReport {
    let pid = server.pid();
    let port = server.addr.port();
    let addr = server.addr;
    let rt = runtime(2);
    // The census runs on a thread of its own: it reads /proc.
    let stop = Arc::new(AtomicBool::new(false));
    let census_thread = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let (mut held, mut established, mut states) = (0, 0, String::new());
            let attacker = Ipv4Addr::LOCALHOST;
            let started = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                let now = census(pid, port);
                let held_now = now.held.get(&attacker).copied().unwrap_or(0);
                if held_now > held {
                    held = held_now;
                    let breakdown: Vec<String> = now
                        .held_states
                        .get(&attacker)
                        .into_iter()
                        .flatten()
                        .map(|(state, n)| format!("{n} {state}"))
                        .collect();
                    states = format!(
                        "{} at {:.1} s",
                        breakdown.join(" + "),
                        started.elapsed().as_secs_f64()
                    );
                }
                established = established.max(now.established.get(&attacker).copied().unwrap_or(0));
                thread::sleep(Duration::from_millis(200));
            }
            (held, established, states)
        })
    };
    let tally = Arc::new(Tally::default());
    let report = rt.block_on(async {
        let mut report = AttackReport::default();
        // The client alone first: its baseline.
        let mut quiet = Vec::new();
        for _ in 0..10 {
            if let (elapsed, true) = probe(proto, addr).await {
                quiet.push(elapsed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        quiet.sort();
        report.quiet_p50 = percentile(&quiet, 0.5);

        let start = tokio::time::Instant::now();
        let end = start + plan.duration;
        let total = plan.drips + plan.idles;
        let mut attackers = tokio::task::JoinSet::new();
        for i in 0..total {
            // Interleaved, so drips and idle ones both get slots.
            let drip = i * plan.drips / total != (i + 1) * plan.drips / total;
            let first = start + Duration::from_secs_f64(i as f64 / total as f64);
            let tally = Arc::clone(&tally);
            attackers.spawn(attacker(proto, addr, drip, first, end, tally));
        }
        // The legitimate client, once a second from 127.0.0.2.
        let probing = tokio::spawn(async move {
            let mut probes = Vec::new();
            let mut wrong = Vec::new();
            let mut k = 0u32;
            // First probe after the attackers are in.
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            while tokio::time::Instant::now() + Duration::from_secs(1) < end && k < 10_000 {
                let tick = tokio::time::Instant::now() + Duration::from_secs(1);
                probes.push(probe(proto, addr).await);
                if proto == Proto::Auth && k % 5 == 2 {
                    // A wrong password from a fresh address each time, so
                    // the per-address failure limit never applies.
                    let source = Ipv4Addr::new(127, 0, 1, 1 + (k / 5 % 250) as u8);
                    let wrong_at = tokio::time::Instant::now();
                    let answer = auth_ask(source, addr, b"alice:wrong\n").await;
                    wrong.push((wrong_at.elapsed(), answer.as_deref() == Some(&b"0"[..])));
                }
                k += 1;
                tokio::time::sleep_until(tick).await;
            }
            (probes, wrong)
        });
        let (probes, wrong) = probing.await.expect("probe task");
        while attackers.join_next().await.is_some() {}
        report.answered_in_time = probes
            .iter()
            .filter(|(d, ok)| *ok && *d < Duration::from_secs(1))
            .count();
        let mut times: Vec<Duration> = probes.iter().map(|(d, _)| *d).collect();
        times.sort();
        report.attack_p50 = percentile(&times, 0.5);
        report.probe_max = times.last().copied().unwrap_or_default();
        report.probes = probes;
        report.wrong = wrong;
        report
    });
    stop.store(true, Ordering::SeqCst);
    let (held, established, held_states) = census_thread.join().expect("census thread");
    drop(rt);
    let take = |m: &Mutex<Vec<f64>>| {
        std::mem::take(&mut *m.lock().unwrap_or_else(PoisonError::into_inner))
    };
    AttackReport {
        max_held: held,
        held_states,
        max_established: established,
        max_greeted: tally.max_greeted.load(Ordering::SeqCst),
        drip_cuts: take(&tally.drip_cuts),
        idle_cuts: take(&tally.idle_cuts),
        refused: tally.refused.load(Ordering::SeqCst),
        server_rss_kib: rss_kib(pid).unwrap_or(0),
        server_threads: status_field(pid, "Threads:").unwrap_or(0),
        ..report
    }
}

/// One attacking connection, again and again until `end`.
async fn attacker(
    proto: Proto,
    addr: SocketAddr,
    drip: bool,
    first: tokio::time::Instant,
    end: tokio::time::Instant,
    tally: Arc<Tally>,
) {
    tokio::time::sleep_until(first).await;
    let mut rounds = 0;
    while tokio::time::Instant::now() < end && rounds < 1_000 {
        rounds += 1;
        let outcome = tokio::time::timeout_at(end, one_attack(proto, addr, drip, &tally)).await;
        match outcome {
            // Cut by the server: how long after its start?
            Ok(Some(since)) => {
                let cuts = if drip {
                    &tally.drip_cuts
                } else {
                    &tally.idle_cuts
                };
                cuts.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(since.elapsed().as_secs_f64());
            }
            Ok(None) => {
                tally.refused.fetch_add(1, Ordering::Relaxed);
            }
            // The attack is over.
            Err(_) => return,
        }
        let pause = Duration::from_millis(1_000 + fastrand::u64(0..1_000));
        tokio::time::sleep(pause).await;
    }
}

/// One connection: `None` if refused (closed before being served), else
/// when the deadline clock started (the first byte of a drip; for an idle
/// one, the banner of a session, which starts the idle timer, or the
/// connect to the auth server, which starts the request deadline) once the
/// server closed it.
async fn one_attack(proto: Proto, addr: SocketAddr, drip: bool, tally: &Tally) -> Option<Instant> {
    let connected_at = Instant::now();
    let mut stream = tokio::time::timeout(Duration::from_secs(5), AsyncStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut greeted = Greeted(None);
    let mut greeted_at = connected_at;
    if proto == Proto::Session {
        tokio::time::timeout(Duration::from_secs(5), expect(&mut stream, GREETING))
            .await
            .ok()?
            .ok()?;
        let now = tally.greeted_now.fetch_add(1, Ordering::SeqCst) + 1;
        tally.max_greeted.fetch_max(now, Ordering::SeqCst);
        greeted.0 = Some(&tally.greeted_now);
        greeted_at = Instant::now();
    }
    let mut first_byte = None;
    let mut next_byte = tokio::time::Instant::now();
    let mut buffer = [0u8; 256];
    loop {
        let wait = if drip {
            tokio::time::sleep_until(next_byte)
        } else {
            tokio::time::sleep(Duration::from_secs(3_600))
        };
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(n) if n > 0 => {}
                // Closed by the server.
                _ => break,
            },
            () = wait => {
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
                first_byte.get_or_insert_with(Instant::now);
                next_byte = tokio::time::Instant::now()
                    + Duration::from_millis(1_500 + fastrand::u64(0..1_000));
            }
        }
    }
    let lived = connected_at.elapsed();
    match proto {
        Proto::Session => Some(if drip {
            first_byte.unwrap_or(connected_at)
        } else {
            greeted_at
        }),
        // No banner: a connection closed within a second was refused.
        Proto::Auth if lived < Duration::from_secs(1) => None,
        Proto::Auth => Some(if drip {
            first_byte.unwrap_or(connected_at)
        } else {
            connected_at
        }),
    }
}

/// Counts a greeted attacker connection down when it ends.
struct Greeted<'a>(Option<&'a AtomicUsize>);

impl Drop for Greeted<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The legitimate client from 127.0.0.2: session (banner, one line, its
/// reply) or auth (a right password, answered `1`). Time and success.
async fn probe(proto: Proto, addr: SocketAddr) -> (Duration, bool) {
    let source = Ipv4Addr::new(127, 0, 0, 2);
    let started = Instant::now();
    let ok = match proto {
        Proto::Session => tokio::time::timeout(Duration::from_secs(5), async {
            let mut stream = connect_from(source, addr).await?;
            stream.set_nodelay(true)?;
            expect(&mut stream, GREETING).await?;
            stream.write_all(b"jack frost\n").await?;
            expect(&mut stream, b"tsorf kcaj\n? ").await?;
            let _ = stream.write_all(b"END\n").await;
            io::Result::Ok(())
        })
        .await
        .is_ok_and(|r| r.is_ok()),
        Proto::Auth => {
            auth_ask(source, addr, b"alice:secret\n").await.as_deref() == Some(&b"1"[..])
        }
    };
    (started.elapsed(), ok)
}

/// Sends one auth request from `source`; the answer, read to the end.
async fn auth_ask(source: Ipv4Addr, addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    tokio::time::timeout(Duration::from_secs(8), async {
        let mut stream = connect_from(source, addr).await?;
        stream.write_all(request).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        io::Result::Ok(answer)
    })
    .await
    .ok()?
    .ok()
}

// ---------------------------------------------------------------------------
// The minimal tokio servers (baselines)

mod minimal {
    //! What a tokio server for these protocols is at its simplest: the same
    //! reversal and trimming as the examples, no limits, no deadlines.

    use std::io::Write as _;
    use std::net::SocketAddr;

    use reverse_proto::{Mode, reverse, trim};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpSocket, TcpStream};

    /// `session|oneshot multi|current|std ADDR [--print] [--idle-timeout]`
    pub(crate) fn main(args: &[String]) {
        let [what, flavour, addr, rest @ ..] = args else {
            panic!(
                "usage: --minimal-server session|oneshot multi|current|std ADDR [--print] [--idle-timeout]"
            );
        };
        let session = what == "session";
        let print = rest.iter().any(|arg| arg == "--print");
        let idle = rest.iter().any(|arg| arg == "--idle-timeout");
        let addr: SocketAddr = addr.parse().expect("ADDR");
        if flavour == "std" {
            assert!(!idle, "--idle-timeout is for the tokio servers");
            return threads::main(session, addr, print);
        }
        let mut builder = match flavour.as_str() {
            "current" => tokio::runtime::Builder::new_current_thread(),
            _ => tokio::runtime::Builder::new_multi_thread(),
        };
        let rt = builder.enable_all().build().expect("runtime");
        rt.block_on(async move {
            let socket = TcpSocket::new_v4().expect("socket");
            socket.set_reuseaddr(true).expect("reuseaddr");
            socket.bind(addr).expect("bind");
            let listener = socket.listen(1024).expect("listen");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = if session {
                        serve_session(stream, print, idle).await
                    } else {
                        serve_oneshot(stream).await
                    };
                });
            }
        });
    }

    /// With `idle`, each read gives up after the examples' idle timeout
    /// (60 s), the simplest way to have one: a timer per read.
    async fn serve_session(stream: TcpStream, print: bool, idle: bool) -> std::io::Result<()> {
        const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
        let mut stream = BufReader::new(stream);
        stream.get_mut().write_all(super::GREETING).await?;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = stream.read_until(b'\n', &mut line);
            let read = if idle {
                tokio::time::timeout(IDLE_TIMEOUT, read).await?
            } else {
                read.await
            };
            if read? == 0 {
                return Ok(());
            }
            match answer(&line, print) {
                Answer::End => return Ok(()),
                Answer::Nothing => {}
                Answer::Reply(reply) => stream.get_mut().write_all(&reply).await?,
            }
        }
    }

    /// What a minimal session server does with a line it read: the tokio
    /// and the std server share it, so they do the same work.
    enum Answer {
        /// `END`: close.
        End,
        /// An empty line: no reply.
        Nothing,
        /// The reversed line, a LF and the prompt.
        Reply(Vec<u8>),
    }

    fn answer(line: &[u8], print: bool) -> Answer {
        let text = trim(line);
        if text == b"END" {
            return Answer::End;
        }
        if text.is_empty() {
            return Answer::Nothing;
        }
        let mut reply = reverse(text, Mode::Graphemes);
        if print {
            // What the examples print per round trip, to stdout.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "Received input: {}", String::from_utf8_lossy(text));
            let _ = writeln!(out, "Sent output: {}", String::from_utf8_lossy(&reply));
        }
        reply.extend_from_slice(b"\n? ");
        Answer::Reply(reply)
    }

    /// The same two servers with a thread per connection over `std::net`:
    /// the floor of the std runtime's model, to tell its cost from ours.
    mod threads {
        use std::io::{BufRead as _, BufReader, Write as _};
        use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};

        use reverse_proto::{Mode, reverse, trim};

        pub(super) fn main(session: bool, addr: SocketAddr, print: bool) {
            // The same listen backlog as the tokio server's (std's is 128).
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )
            .expect("socket");
            socket.set_reuse_address(true).expect("reuseaddr");
            socket.bind(&addr.into()).expect("bind");
            socket.listen(1024).expect("listen");
            let listener = TcpListener::from(socket);
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nodelay(true);
                // A thread that cannot be made drops its connection.
                let _ = std::thread::Builder::new().spawn(move || {
                    let _ = if session {
                        serve_session(stream, print)
                    } else {
                        serve_oneshot(stream)
                    };
                });
            }
        }

        fn serve_session(stream: TcpStream, print: bool) -> std::io::Result<()> {
            let mut writer = stream.try_clone()?;
            let mut reader = BufReader::new(stream);
            writer.write_all(super::super::GREETING)?;
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                match super::answer(&line, print) {
                    super::Answer::End => return Ok(()),
                    super::Answer::Nothing => {}
                    super::Answer::Reply(reply) => writer.write_all(&reply)?,
                }
            }
        }

        fn serve_oneshot(stream: TcpStream) -> std::io::Result<()> {
            let mut writer = stream.try_clone()?;
            let mut line = Vec::new();
            BufReader::new(stream).read_until(b'\n', &mut line)?;
            let mut reply = reverse(trim(&line), Mode::Graphemes);
            reply.push(b'\n');
            writer.write_all(&reply)?;
            writer.shutdown(Shutdown::Write)
        }
    }

    async fn serve_oneshot(stream: TcpStream) -> std::io::Result<()> {
        let mut stream = BufReader::new(stream);
        let mut line = Vec::new();
        stream.read_until(b'\n', &mut line).await?;
        let mut reply = reverse(trim(&line), Mode::Graphemes);
        reply.push(b'\n');
        stream.get_mut().write_all(&reply).await?;
        stream.get_mut().shutdown().await
    }
}

// ---------------------------------------------------------------------------
// The libraries without the examples' printing (a diagnostic)

mod library {
    //! The example servers' serving, minus their debug lines: net-std or
    //! net-tokio with default options, driving the session or reverse
    //! machine with default options, events ignored.

    use std::net::SocketAddr;

    /// `session|oneshot std|tokio ADDR [MAX] [--no-deadlines]`: with MAX,
    /// at most MAX connections and no per-peer cap; with `--no-deadlines`,
    /// a session machine with neither idle nor line timeout, to see what
    /// they cost.
    pub(crate) fn main(args: &[String]) {
        let [what, runtime, addr, rest @ ..] = args else {
            panic!("usage: --library-server session|oneshot std|tokio ADDR [MAX] [--no-deadlines]");
        };
        let session = what == "session";
        let addr: SocketAddr = addr.parse().expect("ADDR");
        let max: Option<usize> = rest
            .iter()
            .find(|arg| !arg.starts_with("--"))
            .map(|max| max.parse().expect("MAX"));
        let no_deadlines = rest.iter().any(|arg| arg == "--no-deadlines");
        // Made where each connection's machine is made: a tokio task that
        // captured a copy of the options would carry it beside the machine
        // (the compiler keeps a capture's slot after it is moved out),
        // about 400 bytes of an idle session's 4,000.
        let session_options = move || {
            let mut options = session_proto::server::Options::default();
            if no_deadlines {
                options.idle_timeout = None;
                options.line_timeout = None;
            }
            options
        };
        if runtime == "std" {
            let mut options = net_std::ServerOptions::default();
            if let Some(max) = max {
                options.max_connections = max;
                options.max_per_peer = 0;
            }
            let server = net_std::Server::bind(addr, options).expect("bind");
            let _ = server.serve(move |conn, _info| {
                if session {
                    let mut machine = session_proto::server::Server::new(session_options());
                    let _ = conn.run(&mut machine, |_, _| {});
                } else {
                    let mut machine = reverse_proto::server::Server::new(Default::default());
                    let _ = conn.run(&mut machine, |_, _| {});
                }
            });
            return;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut options = net_tokio::ServerOptions::default();
            if let Some(max) = max {
                options.max_connections = max;
                options.max_per_peer = 0;
            }
            let server = net_tokio::Server::bind(addr, options).expect("bind");
            let _ = server
                .serve(move |mut conn, _info| async move {
                    if session {
                        let mut machine = session_proto::server::Server::new(session_options());
                        let _ = conn.run(&mut machine, |_, _| {}).await;
                    } else {
                        let mut machine = reverse_proto::server::Server::new(Default::default());
                        let _ = conn.run(&mut machine, |_, _| {}).await;
                    }
                })
                .await;
        });
    }
}
