//! The article's fortune server ("Fortune's Fool"): on connect it sends a
//! fortune and closes, reading nothing from the client.
//!
//! The original ran `/usr/games/fortune` through a shell. This one reads
//! fortune files itself (`--file`; Debian's `fortunes` package puts real ones
//! in /usr/share/games/fortunes/), or runs a configured program directly,
//! without a shell, with a time limit and an output limit (`--command`). It
//! never runs anything a client sends: the exchange does not even read.
//!
//! ```text
//! cargo run --example fortune_server
//! cargo run --example fortune_server -- --file /usr/share/games/fortunes/computers
//! cargo run --example fortune_server -- --command /usr/games/fortune -- -s
//! nc 127.0.0.1 1234
//! ```

mod cli;
mod support;

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use lineproto::{Machine, Output};
use reverse_proto::{Announce, Fortunes};
use support::{ListenArgs, Service, say};

/// The fortunes served when no --file or --command is given.
const BUILT_IN: &str = include_str!("data/fortunes");

/// How long a --command may run.
const COMMAND_TIME_LIMIT: Duration = Duration::from_secs(5);

/// The most output of a --command that is sent.
const COMMAND_OUTPUT_LIMIT: u64 = 64 * 1024;

/// Commands running now (see [`run_command`]).
static COMMANDS_RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Set when serving is over: running commands are killed at once (as they
/// are once the grace period of a shutdown is over, see
/// [`support::grace_over`]).
static STOP_COMMANDS: AtomicBool = AtomicBool::new(false);

/// Kills the commands still running when serving is over, and waits (a
/// second at most) until they are gone. On tokio a connection dropped at
/// the end of the grace period leaves its command on a blocking thread,
/// which the process would otherwise leave behind, running, when it exits.
fn stop_commands() {
    STOP_COMMANDS.store(true, Ordering::SeqCst);
    let give_up = Instant::now() + Duration::from_secs(1);
    while COMMANDS_RUNNING.load(Ordering::SeqCst) > 0 && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(5));
    }
}

/// Counts a running command until dropped.
struct Running;

impl Running {
    fn start() -> Self {
        COMMANDS_RUNNING.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        COMMANDS_RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

const EXIT_STATUS: &str = "\
Exit status:
  0  stopped after --once, or by SIGINT or SIGTERM
  2  a usage or local error: a bad flag, an address it cannot listen on, a
     fortune file it cannot read or that holds no fortunes";

/// Sends each client a fortune, then closes: the article's fortune server,
/// reading fortune files itself or running a program without a shell.
#[derive(Debug, Parser)]
#[command(
    name = "fortune_server",
    version,
    override_usage = "fortune_server [OPTIONS] [--file <PATH> | --command <PROG> [-- <ARGS>...]]",
    after_help = EXIT_STATUS
)]
struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// A fortune file: fortunes separated by lines holding only `%` (a
    /// regular file of at most 16 MiB).
    #[arg(long, value_name = "PATH", conflicts_with = "command")]
    file: Option<std::path::PathBuf>,
    /// A program to run for each client; its output is the fortune. Run
    /// directly, never through a shell. Its arguments follow `--`:
    /// `--command /usr/games/fortune -- -s`.
    #[arg(long, value_name = "PROG")]
    command: Option<String>,
    /// The arguments of --command.
    #[arg(last = true, value_name = "ARGS", requires = "command")]
    command_args: Vec<String>,
}

/// Where fortunes come from.
#[derive(Debug)]
enum Source {
    File(Fortunes),
    Command { program: String, args: Vec<String> },
}

fn main() -> std::process::ExitCode {
    let args: Args = cli::parse();
    let source = match source(&args) {
        Ok(source) => source,
        Err(error) => return cli::fail("fortune_server", error),
    };
    let served = support::serve(&args.listen, source);
    stop_commands();
    support::exit_status("fortune_server", served)
}

/// The most a fortune file may hold. Debian's largest is under 250 KB; the
/// limit keeps `--file /dev/zero` (or a log file by mistake) from filling
/// memory before the server starts.
const FILE_LIMIT: u64 = 16 * 1024 * 1024;

/// Reads a fortune file: a regular file of at most [`FILE_LIMIT`] bytes. A
/// device or a FIFO is refused before it is opened (opening a FIFO would
/// wait for a writer, reading a device may never end).
fn read_fortune_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let cannot_read =
        |error: std::io::Error| format!("cannot read {}: {}", path.display(), cli::chain(&error));
    if !std::fs::metadata(path).map_err(cannot_read)?.is_file() {
        return Err(format!(
            "cannot read {}: not a regular file",
            path.display()
        ));
    }
    let mut contents = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(FILE_LIMIT + 1).read_to_end(&mut contents))
        .map_err(cannot_read)?;
    if contents.len() as u64 > FILE_LIMIT {
        return Err(format!(
            "cannot read {}: larger than the {} MiB a fortune file may hold",
            path.display(),
            FILE_LIMIT / (1024 * 1024)
        ));
    }
    Ok(contents)
}

fn source(args: &Args) -> Result<Source, String> {
    let source = match (&args.file, &args.command) {
        (_, Some(program)) => Source::Command {
            program: program.clone(),
            args: args.command_args.clone(),
        },
        (Some(path), None) => Source::File(Fortunes::parse(&read_fortune_file(path)?)),
        (None, None) => Source::File(Fortunes::parse(BUILT_IN.as_bytes())),
    };
    if let Source::File(fortunes) = &source {
        if fortunes.is_empty() {
            return Err(match &args.file {
                Some(path) => format!("{} holds no fortunes", path.display()),
                None => "the built-in fortune file holds no fortunes".into(),
            });
        }
    }
    Ok(source)
}

/// The fortune exchange, keeping the text for the `Sent output` line.
#[derive(Debug)]
struct Telling {
    announce: Announce,
    fortune: Bytes,
}

impl Machine for Telling {
    type Event = Infallible;
    type Error = reverse_proto::Error;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.announce.handle_input(bytes);
    }

    fn handle_eof(&mut self) {
        self.announce.handle_eof();
    }

    fn poll_output(&mut self, now: Instant) -> Output<Infallible, reverse_proto::Error> {
        self.announce.poll_output(now)
    }
}

impl Service for Source {
    type Machine = Telling;
    // A --command runs a program: off the async workers under tokio.
    const START_BLOCKS: bool = true;

    fn start(&self, _peer: SocketAddr) -> Option<Telling> {
        let fortune = match self {
            Self::File(fortunes) => fortunes
                .pick(fastrand::u64(..))
                .cloned()
                .unwrap_or_default(),
            Self::Command { program, args } => match run_command(program, args) {
                Ok(output) => output,
                // Stopped with the server, whose connection is cut and
                // says so (on tokio, from a task that no longer exists).
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => return None,
                Err(error) => {
                    say!("Command failed: {}", cli::chain(&error));
                    return None;
                }
            },
        };
        Some(Telling {
            announce: Announce::new(fortune.clone()),
            fortune,
        })
    }

    fn on_event(&self, _telling: &mut Telling, event: Infallible) {
        match event {}
    }

    fn on_end(&self, telling: &Telling, result: Result<(), String>) {
        match result {
            Ok(()) => say!("Sent output: {}", String::from_utf8_lossy(&telling.fortune)),
            Err(error) => say!("Connection failed: {error}"),
        }
    }
}

/// Runs `program` with `args`, no shell and no input, and returns at most
/// `COMMAND_OUTPUT_LIMIT` bytes of its standard output (the rest is read and
/// dropped, so a talkative program is not killed by a closed pipe). A
/// program still running after `COMMAND_TIME_LIMIT`, or when serving is over
/// ([`stop_commands`]), is killed.
fn run_command(program: &str, args: &[String]) -> std::io::Result<Bytes> {
    // Counted before the spawn, so `stop_commands` cannot miss a command
    // that starts while it looks.
    let _running = Running::start();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
    // Read on another thread, so a program that writes without end or never
    // exits cannot hold this one past the time limit.
    let (sender, output) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut stdout = stdout;
        let read = (&mut stdout)
            .take(COMMAND_OUTPUT_LIMIT)
            .read_to_end(&mut kept)
            .and_then(|_| std::io::copy(&mut stdout, &mut std::io::sink()));
        let _ = sender.send(read.map(|_| kept));
    });
    let deadline = Instant::now() + COMMAND_TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let stopping = STOP_COMMANDS.load(Ordering::SeqCst) || support::grace_over();
        if stopping || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(if stopping {
                std::io::Error::new(std::io::ErrorKind::Interrupted, "the server stopped")
            } else {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "command ran too long")
            });
        }
        thread::sleep(Duration::from_millis(10));
    };
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "command exited with {status}"
        )));
    }
    // A process the command started may still hold the pipe open: wait for
    // the output only until the deadline.
    let left = deadline.saturating_duration_since(Instant::now());
    let kept = output.recv_timeout(left).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "command output did not end")
    })??;
    Ok(Bytes::from(kept))
}
