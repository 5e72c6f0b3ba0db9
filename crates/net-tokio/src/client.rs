//! Connecting to a server, with timeouts.

use std::io;
use std::time::Duration;

use tokio::net::{TcpStream, ToSocketAddrs};

use crate::Conn;

/// Settings of [`connect`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long to try each address the host name resolves to. Default: 10 s.
    pub connect_timeout: Duration,
    /// How long a write may make no progress; `None` (or zero) waits
    /// forever. See [`Conn::set_write_timeout`]. Default: 30 s.
    pub write_timeout: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// Connects to `addr`, trying each address it resolves to in turn, and
/// returns a [`Conn`] with `TCP_NODELAY` and the write timeout set.
///
/// There is no read timeout: how long to wait for the server is the
/// machine's deadline (see [`Conn`]).
///
/// ```no_run
/// use net_tokio::{ClientOptions, connect};
///
/// # async fn example() -> std::io::Result<()> {
/// let conn = connect("127.0.0.1:1234", &ClientOptions::default()).await?;
/// # drop(conn);
/// # Ok(())
/// # }
/// ```
pub async fn connect(
    addr: impl ToSocketAddrs,
    options: &ClientOptions,
) -> io::Result<Conn<TcpStream>> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true)?;
                let mut conn = Conn::new(stream);
                conn.set_write_timeout(options.write_timeout);
                return Ok(conn);
            }
            Ok(Err(error)) => last_error = Some(error),
            Err(_elapsed) => {
                last_error = Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {addr} timed out"),
                ));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
    }))
}
