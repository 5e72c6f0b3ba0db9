//! What idle connections cost: run by hand (it opens thousands of sockets,
//! two file descriptors each) with
//! `cargo test -p net-tokio --release --test idle_memory -- --ignored --nocapture`.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::EchoLine;
use net_tokio::{Server, ServerOptions};

/// Resident memory of this process, in bytes.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test]
#[ignore = "opt-in: opens thousands of sockets; run with --ignored (see the file's docs)"]
async fn idle_connections_cost_little_memory() {
    let count: usize = std::env::var("IDLE_CONNECTIONS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(5_000);
    let mut options = ServerOptions::default();
    options.max_connections = count;
    options.max_per_peer = 0;
    let server = Server::bind("127.0.0.1:0", options).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(|mut conn, _info| async move {
        // Each waits for a request with a 10-minute deadline: idle.
        let mut echo = EchoLine::new(Some(Duration::from_secs(600)));
        let _ = conn.run(&mut echo, |_, _| {}).await;
    }));

    let before = resident();
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    while handle.stats().open < count {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = resident();
    let per_connection = (after.saturating_sub(before)) / count;
    println!(
        "{count} idle connections: {} KiB more resident, {per_connection} bytes each (client side included)",
        (after - before) / 1024
    );
    assert!(
        per_connection < 10_000,
        "{per_connection} bytes per connection"
    );

    handle.shutdown();
    drop(clients);
    serving.await.unwrap().unwrap();
}
