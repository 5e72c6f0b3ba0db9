//! What the example servers share: the listening flags, the serve loop with
//! the article's debug lines, and safe printing of peer bytes.

#![allow(dead_code)] // each example uses a different part

use std::net::TcpStream;
use std::time::Duration;

use net_std::{Conn, Server, ServerOptions};

/// Flags every example server takes.
#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1234")]
    pub(crate) listen: String,
    /// Serve one client, then exit (as the article's servers do).
    #[arg(long)]
    pub(crate) once: bool,
    /// Drop a client that sends nothing for this many seconds (0: never).
    #[arg(long, default_value_t = 60)]
    pub(crate) idle_timeout: u64,
    /// Serve at most this many clients at once.
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_connections: usize,
}

/// Binds, prints `Waiting for connections...`, and serves each connection
/// with `handler`, framed by the article's `Received connection request`
/// and `Socket terminated` lines.
pub(crate) fn serve(
    args: &ListenArgs,
    handler: impl Fn(&mut Conn<TcpStream>) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let mut options = ServerOptions::default();
    options.idle_timeout = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    options.max_connections = args.max_connections;
    let server = Server::bind(&args.listen, options)?;
    println!("Waiting for connections...");
    let framed = move |conn: &mut Conn<TcpStream>| {
        println!("Received connection request");
        handler(conn);
        println!("Socket terminated");
    };
    if args.once {
        server.serve_one(framed)
    } else {
        server.serve(framed)
    }
}

/// Peer bytes made safe for a terminal: invalid UTF-8 replaced, control
/// characters escaped, so a client cannot send escape sequences to the
/// operator's terminal through the debug lines.
pub(crate) fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}
