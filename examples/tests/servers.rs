//! The example programs, run as a user runs them and talked to with the
//! tools the article uses: `nc` and a real `telnet` on a pty.
//!
//! The examples are built by `cargo test` before the tests run. A test that
//! needs a tool this machine lacks is reported as ignored, with the reason
//! (found at build time: `build/test_tools.rs`); under `CI=true` the build
//! fails instead.

mod common;

use common::{Process, example, free_port};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const GREETING: &str = "Roll up, roll up, to the greatest show on earth!\n? ";

/// Every server test runs on both adapters: the replies and debug lines
/// must not depend on which one drives the machines.
const RUNTIMES: [&str; 2] = ["std", "tokio"];

/// An example server process, killed on drop. Its stdout is read on a
/// thread of its own, so a server printing a lot never blocks on a full pipe.
struct Running {
    process: Process,
    lines: mpsc::Receiver<String>,
    port: u16,
}

impl Running {
    fn start(runtime: &str, name: &str, args: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(example(name))
            .args(["--listen", &listen, "--runtime", runtime])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start example");
        let mut child = child;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        // The server prints this once it is listening.
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read server output");
        assert_eq!(
            first, "Waiting for connections...\n",
            "{name} did not start"
        );
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            process: Process(child),
            lines,
            port,
        }
    }

    /// Waits (at most 20 s) until the server has printed `count` lines
    /// equal to `line`, and returns every line printed up to there.
    fn wait_for_lines(&mut self, line: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut lines = Vec::new();
        let mut seen = 0;
        while seen < count {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(text) = self.lines.recv_timeout(left) else {
                break;
            };
            seen += usize::from(text == line);
            lines.push(text);
        }
        lines.join("\n")
    }
}

/// Runs `sh -c script` with a time limit and returns its output.
fn shell(script: &str) -> Output {
    let mut child = Command::new("timeout")
        .args(["20", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

#[test]
#[cfg_attr(not(has_nc), ignore = "needs nc (Debian: netcat-openbsd)")]
fn reverse_server_over_nc_is_byte_exact() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "reverse_server", &[]);
        let port = server.port;
        let out = shell(&format!(
            "printf 'jack and the beanstalk\\r\\n' | nc 127.0.0.1 {port}"
        ));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "klatsnaeb eht dna kcaj\n"
        );
        let out = shell(&format!("printf 'pässwörd 👍🏽\\n' | nc 127.0.0.1 {port}"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "👍🏽 dröwssäp\n");
        let all = server.wait_for_lines("Socket terminated", 2) + "\n";
        assert!(all.contains(
            "Received connection request\nReceived input: jack and the beanstalk\nSent output: klatsnaeb eht dna kcaj\nSocket terminated\n"
        ), "{all}");
        assert!(
            all.contains("Received input: pässwörd 👍🏽\nSent output: 👍🏽 dröwssäp\n"),
            "{all}"
        );
    }
}

#[test]
#[cfg_attr(not(has_nc), ignore = "needs nc (Debian: netcat-openbsd)")]
fn reverse_server_bytes_mode_is_strrev() {
    for runtime in RUNTIMES {
        let server = Running::start(runtime, "reverse_server", &["--bytes"]);
        let out = shell(&format!(
            "printf 'ab\\303\\251\\n' | nc 127.0.0.1 {}",
            server.port
        ));
        assert_eq!(out.stdout, b"\xa9\xc3ba\n");
    }
}

#[test]
fn reverse_client_prints_the_reply() {
    for runtime in RUNTIMES {
        let server = Running::start(runtime, "reverse_server", &[]);
        let addr = format!("127.0.0.1:{}", server.port);
        let out = Command::new(example("reverse_client"))
            .args(["--connect", &addr, "jack", "and", "the", "beanstalk"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "klatsnaeb eht dna kcaj\n"
        );
    }
}

#[test]
fn reverse_client_reports_a_server_that_is_not_there() {
    let out = Command::new(example("reverse_client"))
        .args(["--connect", &format!("127.0.0.1:{}", free_port()), "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not connect"));
}

#[test]
#[cfg_attr(not(has_nc), ignore = "needs nc (Debian: netcat-openbsd)")]
fn session_server_over_nc_matches_the_article_byte_for_byte() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "session_server", &[]);
        let out = shell(&format!(
            "printf 'Look Ma...all backwards\\r\\njack frost\\r\\nEND\\r\\n' | nc 127.0.0.1 {}",
            server.port
        ));
        let expected = format!("{GREETING}sdrawkcab lla...aM kooL\n? tsorf kcaj\n? ");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        let lines = server.wait_for_lines("Socket terminated", 1);
        assert_eq!(
            lines,
            "Received connection request\n\
             Received input: Look Ma...all backwards\n\
             Sent output: sdrawkcab lla...aM kooL\n\
             Received input: jack frost\n\
             Sent output: tsorf kcaj\n\
             Received input: END\n\
             Socket terminated"
        );
    }
}

#[test]
#[cfg_attr(
    not(all(has_telnet, has_script)),
    ignore = "needs telnet (Debian: telnet) and script (Debian: bsdutils)"
)]
fn session_server_with_a_real_telnet_on_a_pty() {
    for runtime in RUNTIMES {
        let server = Running::start(runtime, "session_server", &[]);
        // `script` gives telnet a pty; the keystrokes go through it as a user's
        // would, Enter included (CR, which the pty turns into a newline).
        let mut child = Command::new("timeout")
            .args([
                "20",
                "script",
                "-qfec",
                &format!("telnet 127.0.0.1 {}", server.port),
                "/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut keyboard = child.stdin.take().unwrap();
        let mut screen = BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        let mut wait_for = |text: &str, seen: &mut String| {
            while !seen.contains(text) {
                let mut line = Vec::new();
                let read = screen.read_until(b' ', &mut line).unwrap();
                assert!(
                    read > 0,
                    "telnet ended before {text:?}; screen so far:\n{seen}"
                );
                seen.push_str(&String::from_utf8_lossy(&line));
            }
        };
        wait_for("greatest show on earth!\r\n? ", &mut seen);
        for (typed, answer) in [
            ("Look Ma...all backwards", "sdrawkcab lla...aM kooL"),
            ("jack frost", "tsorf kcaj"),
        ] {
            keyboard.write_all(format!("{typed}\r").as_bytes()).unwrap();
            wait_for(&format!("{answer}\r\n? "), &mut seen);
        }
        keyboard.write_all(b"END\r").unwrap();
        wait_for("Connection closed by foreign host.", &mut seen);
        drop(keyboard);
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.code() == Some(1),
            "telnet: {status:?}"
        );
        assert!(
            seen.contains(
                "Roll up, roll up, to the greatest show on earth!\r\n? Look Ma...all backwards"
            ),
            "{seen}"
        );
    }
}

#[test]
#[cfg_attr(not(has_nc), ignore = "needs nc (Debian: netcat-openbsd)")]
fn fortune_server_sends_a_fortune_from_the_built_in_file() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "fortune_server", &[]);
        let out = shell(&format!("nc 127.0.0.1 {} </dev/null", server.port));
        let fortune = String::from_utf8(out.stdout).unwrap();
        let built_in = include_str!("../data/fortunes");
        assert!(fortune.ends_with('\n') && fortune.len() > 1);
        assert!(built_in.split("%\n").any(|f| f == fortune), "{fortune:?}");
        let lines = server.wait_for_lines("Socket terminated", 1);
        assert_eq!(
            lines,
            format!("Received connection request\nSent output: {fortune}\nSocket terminated")
        );
    }
}

#[test]
#[cfg_attr(
    not(has_fortunes),
    ignore = "needs /usr/share/games/fortunes/computers (Debian: fortunes)"
)]
fn fortune_server_reads_debian_fortune_files() {
    for runtime in RUNTIMES {
        let path = "/usr/share/games/fortunes/computers";
        let contents = std::fs::read(path).unwrap();
        let fortunes = reverse_proto::Fortunes::parse(&contents);
        assert!(fortunes.len() > 100, "{} fortunes", fortunes.len());
        let server = Running::start(runtime, "fortune_server", &["--file", path]);
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut fortune = Vec::new();
        stream.read_to_end(&mut fortune).unwrap();
        assert!(fortunes.iter().any(|f| f[..] == fortune[..]));
    }
}

#[test]
fn fortune_server_runs_a_command_without_a_shell() {
    for runtime in RUNTIMES {
        // The argument would run `touch` if a shell were involved.
        let marker = std::env::temp_dir().join(format!("fortune-no-shell-{}", std::process::id()));
        let argument = format!("hi; touch {}", marker.display());
        let server = Running::start(
            runtime,
            "fortune_server",
            &["--command", "/bin/echo", "--", &argument],
        );
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.write_all(b"; rm -rf / \n").unwrap();
        let mut fortune = String::new();
        stream.read_to_string(&mut fortune).unwrap();
        assert_eq!(fortune, format!("{argument}\n"));
        assert!(!marker.exists());
    }
}

#[test]
fn once_serves_one_client_then_exits() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "reverse_server", &["--once"]);
        let out = Command::new(example("reverse_client"))
            .args(["--connect", &format!("127.0.0.1:{}", server.port), "once"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ecno\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = server.process.0.try_wait().unwrap() {
                assert!(status.success());
                break;
            }
            assert!(Instant::now() < deadline, "--once server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Every line the session printed is out before the process ends,
        // batched as they are: nothing is left to a flusher that dies
        // with it.
        let mut printed = Vec::new();
        while let Ok(line) = server.lines.recv_timeout(Duration::from_secs(10)) {
            printed.push(line);
        }
        assert_eq!(
            printed,
            [
                "Received connection request",
                "Received input: once",
                "Sent output: ecno",
                "Socket terminated"
            ],
            "{runtime}"
        );
    }
}

/// Resident memory of a process, in KiB, from /proc.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc");
    let line = status.lines().find(|line| line.starts_with("VmRSS:"));
    line.and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
#[cfg_attr(not(has_proc), ignore = "needs a mounted /proc")]
fn session_server_memory_stays_flat_under_a_line_with_no_end() {
    for runtime in RUNTIMES {
        let server = Running::start(runtime, "session_server", &[]);
        let before = resident_kib(server.process.0.id());
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut greeting = vec![0; GREETING.len()];
        stream.read_exact(&mut greeting).unwrap();
        // 64 MiB without a newline: the original would have kept all of it.
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            stream.write_all(&chunk).unwrap();
        }
        stream.write_all(b"\njack frost\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "error: line longer than 8192 bytes, ignored\n");
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "? tsorf kcaj\n");
        let after = resident_kib(server.process.0.id());
        eprintln!(
            "session_server resident memory: {before} KiB before, {after} KiB after a 64 MiB line"
        );
        assert!(
            after < before + 4 * 1024,
            "resident memory grew from {before} KiB to {after} KiB"
        );
    }
}

#[test]
fn fortune_server_sends_the_first_64_kib_of_a_long_command_output() {
    for runtime in RUNTIMES {
        // 200 KiB of output: the first 64 KiB are sent, the rest is drained so
        // the command exits normally instead of dying on a closed pipe.
        let server = Running::start(
            runtime,
            "fortune_server",
            &["--command", "head", "--", "-c", "204800", "/dev/zero"],
        );
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut fortune = Vec::new();
        stream.read_to_end(&mut fortune).unwrap();
        assert_eq!(fortune.len(), 64 * 1024);
    }
}

/// Reads the whole answer of one connection (bounded: 10 s).
fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

#[test]
fn sigterm_stops_accepting_lets_an_open_session_finish_and_exits_zero() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "session_server", &[]);
        let mut open = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut banner = vec![0; GREETING.len()];
        open.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        open.read_exact(&mut banner).unwrap();
        server.process.terminate();
        // New connections are refused once the listener is closed...
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "{runtime}: still accepting; printed {:?}",
                server.lines.try_iter().collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // ...while the open session is still answered.
        open.write_all(b"abc\nEND\n").unwrap();
        assert_eq!(read_all(&mut open), b"cba\n? ", "{runtime}");
        let status = server.process.wait_exit(Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{runtime}");
        let printed = server.wait_for_lines("Socket terminated", 2);
        assert!(
            printed.ends_with("Socket terminated"),
            "{runtime}: {printed}"
        );
    }
}

/// A session still open when the grace period ends is cut, and says so
/// with the same line on both runtimes (on tokio its task is dropped
/// rather than returning).
#[test]
fn a_session_cut_at_the_end_of_the_grace_period_says_socket_terminated() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "session_server", &["--grace", "0"]);
        let mut open = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut banner = vec![0; GREETING.len()];
        open.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        open.read_exact(&mut banner).unwrap();
        assert_eq!(
            server.wait_for_lines("Received connection request", 1),
            "Received connection request"
        );
        server.process.terminate();
        // The idle session is closed without a word on the wire...
        assert_eq!(read_all(&mut open), b"", "{runtime}");
        let status = server.process.wait_exit(Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{runtime}");
        // ...and the server says so for it, then for itself.
        assert_eq!(
            server.wait_for_lines("Socket terminated", 2),
            "Socket terminated\nSocket terminated",
            "{runtime}"
        );
        assert!(server.lines.try_recv().is_err(), "{runtime}");
    }
}

/// Half a line is still open when the server stops: it is never answered
/// as if the client had ended it, and a second signal ends the grace
/// period at once, with the same lines on both runtimes.
#[test]
fn a_second_signal_cuts_a_half_line_without_serving_it() {
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "session_server", &["--grace", "3600"]);
        let mut open = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut banner = vec![0; GREETING.len()];
        open.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        open.read_exact(&mut banner).unwrap();
        open.write_all(b"half a li").unwrap();
        assert_eq!(
            server.wait_for_lines("Received connection request", 1),
            "Received connection request"
        );
        server.process.terminate();
        // The first signal has closed the listener: the grace period runs.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
            assert!(Instant::now() < deadline, "{runtime}: still accepting");
            std::thread::sleep(Duration::from_millis(20));
        }
        server.process.interrupt();
        let status = server.process.wait_exit(Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{runtime}");
        assert_eq!(read_all(&mut open), b"", "{runtime}");
        // Each connection (the probes that came in before the listener
        // closed among them) is cut and says so, then the server; nothing
        // is made of the half line.
        let printed: Vec<String> = server.lines.iter().collect();
        let requests = printed
            .iter()
            .filter(|line| *line == "Received connection request")
            .count();
        let terminated = printed
            .iter()
            .filter(|line| *line == "Socket terminated")
            .count();
        assert_eq!(
            requests + terminated,
            printed.len(),
            "{runtime}: {printed:?}"
        );
        assert_eq!(terminated, requests + 2, "{runtime}: {printed:?}");
    }
}

/// The child processes of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|child| child.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A fortune command still running when the grace period ends is killed
/// with its connection, and outlives the server on neither runtime (a
/// dropped tokio task used to leave it running, an orphan, and std waited
/// out its 5 s limit).
#[test]
#[cfg_attr(not(has_proc), ignore = "needs a mounted /proc")]
fn a_fortune_command_is_killed_when_the_grace_period_ends() {
    for runtime in RUNTIMES {
        let mut server = Running::start(
            runtime,
            "fortune_server",
            &["--grace", "0", "--command", "/bin/sleep", "--", "100"],
        );
        let _client = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let pid = server.process.0.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let commands = loop {
            let commands = children(pid);
            if !commands.is_empty() {
                break commands;
            }
            assert!(Instant::now() < deadline, "{runtime}: no command started");
            std::thread::sleep(Duration::from_millis(10));
        };
        server.process.terminate();
        // Well before the command's own 5 s limit.
        let status = server.process.wait_exit(Duration::from_secs(4));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{runtime}");
        for command in commands {
            let alive = std::fs::read_to_string(format!("/proc/{command}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "));
            assert!(!alive, "{runtime}: command {command} outlived the server");
        }
        let printed: Vec<String> = server.lines.iter().collect();
        assert_eq!(
            printed,
            [
                "Received connection request",
                "Socket terminated",
                "Socket terminated"
            ],
            "{runtime}"
        );
    }
}

/// `auth_server | head -1` closes the server's stdout after one line: the
/// debug lines must then be dropped, never fail a connection.
#[test]
fn a_closed_stdout_does_not_break_later_connections() {
    for runtime in RUNTIMES {
        let port = free_port();
        let mut server = Process(
            Command::new(example("reverse_server"))
                .args([
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--runtime",
                    runtime,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        drop(stdout); // as `head -1` does
        for i in 0..5 {
            let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
            client.write_all(format!("ab{i}\n").as_bytes()).unwrap();
            assert_eq!(
                read_all(&mut client),
                format!("{i}ba\n").as_bytes(),
                "{runtime}"
            );
        }
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "{runtime}: the server died"
        );
    }
}

/// The debug lines of all connections share one buffer, written out as
/// tokio's workers park or by std's flusher thread (see
/// `support::say_line`): with many sessions
/// at once, whose tasks move between workers, every line must still be
/// printed once, and each session's lines in the order it made them.
#[test]
fn concurrent_sessions_print_every_line_once_and_in_order() {
    const SESSIONS: usize = 32;
    const LINES: usize = 40;
    for runtime in RUNTIMES {
        let mut server = Running::start(runtime, "session_server", &[]);
        let port = server.port;
        let clients: Vec<_> = (0..SESSIONS)
            .map(|session| {
                std::thread::spawn(move || {
                    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    let mut banner = vec![0; GREETING.len()];
                    stream.read_exact(&mut banner).unwrap();
                    for k in 0..LINES {
                        let line = format!("s{session}l{k}");
                        stream.write_all(format!("{line}\n").as_bytes()).unwrap();
                        let mut reply = vec![0; line.len() + 3];
                        stream.read_exact(&mut reply).unwrap();
                    }
                    stream.write_all(b"END\n").unwrap();
                    read_all(&mut stream);
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        let printed = server.wait_for_lines("Socket terminated", SESSIONS);
        // Each debug line a session causes, and its place among that
        // session's lines.
        let mut expected = std::collections::HashMap::new();
        for session in 0..SESSIONS {
            for k in 0..LINES {
                let line = format!("s{session}l{k}");
                let reversed: String = line.chars().rev().collect();
                expected.insert(format!("Received input: {line}"), (session, 2 * k));
                expected.insert(format!("Sent output: {reversed}"), (session, 2 * k + 1));
            }
        }
        let mut seen = vec![Vec::new(); SESSIONS];
        for line in printed.lines() {
            if let Some(&(session, place)) = expected.get(line) {
                seen[session].push(place);
            }
        }
        let in_order: Vec<usize> = (0..2 * LINES).collect();
        for (session, places) in seen.iter().enumerate() {
            assert_eq!(places, &in_order, "{runtime}: session {session}");
        }
    }
}

#[test]
fn max_per_peer_closes_the_extra_connection_at_once() {
    for runtime in RUNTIMES {
        let server = Running::start(runtime, "session_server", &["--max-per-peer", "2"]);
        let greeted = |stream: &mut TcpStream| {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut banner = vec![0; GREETING.len()];
            stream.read_exact(&mut banner).is_ok()
        };
        let mut first = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut second = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        assert!(greeted(&mut first) && greeted(&mut second), "{runtime}");
        let mut third = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        assert!(!greeted(&mut third), "{runtime}: the third was served");
    }
}

/// One byte every 200 ms never completes a request: cut at the 1 s
/// whole-request deadline with no reply, on both runtimes.
#[test]
fn a_slow_drip_is_cut_at_the_request_deadline() {
    for runtime in RUNTIMES {
        let server = Running::start(runtime, "reverse_server", &["--request-timeout", "1"]);
        let mut drip = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let started = Instant::now();
        let mut cut = false;
        for _ in 0..50 {
            if drip.write_all(b"a").is_err() {
                cut = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(cut, "{runtime}: ten seconds of dripping were accepted");
        assert!(started.elapsed() < Duration::from_secs(5), "{runtime}");
        assert!(read_all(&mut drip).is_empty(), "{runtime}: got a reply");
    }
}
