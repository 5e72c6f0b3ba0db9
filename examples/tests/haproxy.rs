//! auth_server scaled out behind a real HAProxy: two backends (one on each
//! runtime) behind one frontend, HAProxy sending the PROXY protocol (v2 to
//! one backend, v1 to the other), clients from 127.0.0.2 and 127.0.0.3.
//! Each backend logs the real client address, and a client over its
//! failure limit is refused by the backend that counted it while the
//! other client is served.
//!
//! HAProxy is started by the test on loopback and stopped by its PID. If it
//! is missing the test is reported as ignored, with the reason (found at
//! build time: `build/test_tools.rs`); under `CI=true` the build fails
//! instead.

mod common;

use common::{example, free_port};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/passwd-auth/tests/fixtures"
);

/// A child process killed by its PID on drop, with its stdout lines on a
/// channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start process");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn printed(&self) -> Vec<String> {
        std::iter::from_fn(|| self.lines.recv_timeout(Duration::from_millis(300)).ok()).collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backend(runtime: &str, port: u16) -> Running {
    let fixtures = Path::new(FIXTURES);
    let mut command = Command::new(example("auth_server"));
    command.args([
        "--runtime",
        runtime,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--passwd",
        &fixtures.join("passwd").display().to_string(),
        "--shadow",
        &fixtures.join("shadow").display().to_string(),
        "--delay-ms",
        "0",
        "--max-failures",
        "3",
        "--proxy-protocol",
        "--proxy-from",
        "127.0.0.1",
    ]);
    let backend = Running::spawn(&mut command);
    let first = backend
        .lines
        .recv_timeout(Duration::from_secs(20))
        .expect("auth_server starts");
    assert_eq!(first, "Waiting for connections...");
    backend
}

/// Asks through the frontend from `source` (a 127.x address).
fn ask(frontend: u16, source: [u8; 4], request: &str) -> String {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket
        .connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], frontend)).into(),
            Duration::from_secs(5),
        )
        .unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn haproxy_config(dir: &Path, frontend: u16, v2: u16, v1: u16) -> PathBuf {
    // `balance source`: each client address sticks to one backend, so the
    // backend that counted a client's failures sees all of its attempts.
    let config = format!(
        "global\n\
         \tmaxconn 256\n\
         defaults\n\
         \tmode tcp\n\
         \ttimeout connect 5s\n\
         \ttimeout client 30s\n\
         \ttimeout server 30s\n\
         frontend auth\n\
         \tbind 127.0.0.1:{frontend}\n\
         \tdefault_backend servers\n\
         backend servers\n\
         \tbalance source\n\
         \tserver std 127.0.0.1:{v2} send-proxy-v2\n\
         \tserver tokio 127.0.0.1:{v1} send-proxy\n"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
#[cfg_attr(not(has_haproxy), ignore = "needs haproxy (Debian: haproxy)")]
fn behind_haproxy_each_backend_sees_and_limits_the_real_client() {
    let dir = std::env::temp_dir().join(format!("haproxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (frontend, v2_port, v1_port) = (free_port(), free_port(), free_port());
    let backends = [backend("std", v2_port), backend("tokio", v1_port)];
    let config = haproxy_config(&dir, frontend, v2_port, v1_port);
    let _haproxy = Running::spawn(Command::new("haproxy").args(["-db", "-f"]).arg(&config));
    // Ready once the frontend accepts.
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", frontend)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let attacker = [127, 0, 0, 2];
    let user = [127, 0, 0, 3];
    for _ in 0..3 {
        assert_eq!(ask(frontend, attacker, "alice:guess"), "0");
    }
    // Over the limit: refused even with the right password...
    assert_eq!(ask(frontend, attacker, "alice:secret"), "0");
    // ...while another client (same user name, another address) gets in.
    assert_eq!(ask(frontend, user, "alice:secret"), "1");

    let logs: Vec<Vec<String>> = backends.iter().map(Running::printed).collect();
    let all: Vec<&String> = logs.iter().flatten().collect();
    let verdicts: Vec<&&String> = all.iter().filter(|l| l.starts_with("Verdict")).collect();
    assert_eq!(verdicts.len(), 5, "{all:?}");
    // Every verdict names the real client, never HAProxy's 127.0.0.1.
    assert!(
        verdicts
            .iter()
            .all(|l| l.contains("from 127.0.0.2:") || l.contains("from 127.0.0.3:")),
        "{verdicts:?}"
    );
    // The attacker's five attempts all reached one backend, which refused
    // the fourth.
    let counted_by: Vec<usize> = (0..2)
        .filter(|&i| logs[i].iter().any(|l| l.contains("from 127.0.0.2")))
        .collect();
    assert_eq!(counted_by.len(), 1, "{logs:?}");
    let refused = logs[counted_by[0]]
        .iter()
        .filter(|l| l.contains("from 127.0.0.2") && l.contains("too many failed attempts"))
        .count();
    assert_eq!(refused, 1, "{logs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
