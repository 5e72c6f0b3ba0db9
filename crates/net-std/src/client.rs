//! Connecting to a server, with timeouts.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::Conn;

/// Settings of [`connect`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long to try each address the host name resolves to. Default: 10 s.
    pub connect_timeout: Duration,
    /// How long one write may block; `None` waits forever. Default: 30 s.
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
/// returns a [`Conn`] with the read and write timeouts set.
///
/// ```no_run
/// use net_std::{ClientOptions, connect};
/// use reverse_proto::client::{Client, Event, Options};
///
/// let mut conn = connect("127.0.0.1:1234", &ClientOptions::default())?;
/// let mut client = Client::new("jack frost", Options::default())?;
/// while let Some(Event::Reply(reply)) = conn.next_event(&mut client)? {
///     println!("{}", String::from_utf8_lossy(&reply));
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect(addr: impl ToSocketAddrs, options: &ClientOptions) -> io::Result<Conn<TcpStream>> {
    let mut last_error = None;
    for addr in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, options.connect_timeout) {
            Ok(stream) => {
                stream.set_write_timeout(options.write_timeout)?;
                stream.set_nodelay(true)?;
                return Ok(Conn::new(stream));
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
    }))
}
