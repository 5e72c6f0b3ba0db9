//! What the blocking and async clients share besides the [`Session`]:
//! their options and their error.
//!
//! [`Session`]: crate::session::Session

use std::io;
use std::time::Duration;

use crate::client::{Options, ServerError};
use crate::session::SessionError;

/// How the connection is protected.
///
/// Without the `tls` feature, plain text is the only choice.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Security {
    /// Plain text (port 110). The password crosses the network readable.
    #[default]
    None,
    /// TLS from the first byte (port 995, RFC 8314's recommendation).
    /// Needs the `tls` feature.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    Implicit,
    /// Plain text, then `STLS` before logging in (RFC 2595). Refused if
    /// the server does not offer it: no silent fall-back to plain text.
    /// Needs the `tls` feature.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    StartTls,
}

/// Settings of a client's `connect`.
///
/// ```
/// use std::time::Duration;
/// use pop3_client::connect::ConnectOptions;
///
/// let mut options = ConnectOptions::default();
/// options.connect_timeout = Duration::from_secs(5);
/// // How long each response may take is the machine's.
/// options.machine.response_timeout = Some(Duration::from_secs(5));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to try each address the host name resolves to. Default:
    /// 10 s.
    pub connect_timeout: Duration,
    /// How long a write may block (the server stopped reading); `None`
    /// waits forever. Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// Plain text, implicit TLS or STLS. Default: plain text.
    pub security: Security,
    /// Whom to trust over TLS. Default: the system's CA certificates.
    /// Needs the `tls` feature.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub trust: crate::tls::Trust,
    /// The machine's limits, pipelining and timeouts. How long to wait for
    /// each response (and for the TLS handshake) is its
    /// [`response_timeout`](Options::response_timeout).
    pub machine: Options,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Some(Duration::from_secs(30)),
            security: Security::default(),
            #[cfg(feature = "tls")]
            trust: crate::tls::Trust::default(),
            machine: Options::default(),
        }
    }
}

/// Why an operation of a convenience client failed.
///
/// The messages name only their own layer; the cause is the
/// [`source`](std::error::Error::source), so print the whole chain.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    /// The TCP connection could not be opened.
    #[error("could not connect")]
    Connect(#[source] io::Error),
    /// No TLS configuration could be built from the trust settings.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("no usable tls trust settings")]
    Trust(#[source] crate::tls::TrustError),
    /// TLS could not be started: the adapter's `TlsError` (an invalid
    /// server name, a certificate that does not verify), or the handshake
    /// took longer than the response timeout.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("could not start tls")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading from or writing to the server failed.
    #[error("i/o error")]
    Io(#[source] io::Error),
    /// A write blocked for longer than the write timeout: the server
    /// stopped reading.
    #[error("timed out writing to the server")]
    WriteTimeout,
    /// The session failed: the server refused it, broke the protocol,
    /// closed too early, or took too long.
    #[error("the pop3 session failed")]
    Protocol(#[source] crate::Error),
    /// The operation failed: most often, the server answered `-ERR`.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Writing a retrieved message out failed (the caller's writer or
    /// callback).
    #[error("writing the message out failed")]
    Output(#[source] io::Error),
}

impl Pop3Error {
    /// The server's `-ERR`, if that is what this is: a refused command, a
    /// refused greeting, or a refused STLS.
    ///
    /// ```
    /// use pop3_client::ServerError;
    /// use pop3_client::connect::Pop3Error;
    /// use pop3_client::session::SessionError;
    ///
    /// let refused = ServerError { command: "PASS", code: None, text: "no".into() };
    /// let error = Pop3Error::from(SessionError::Server(refused.clone()));
    /// assert_eq!(error.server_error(), Some(&refused));
    /// assert_eq!(error.to_string(), "PASS refused: -ERR no");
    /// assert_eq!(Pop3Error::WriteTimeout.server_error(), None);
    /// ```
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Self::Session(SessionError::Server(error))
            | Self::Protocol(crate::Error::Refused(error) | crate::Error::StartTlsRefused(error)) => {
                Some(error)
            }
            _ => None,
        }
    }
}

#[cfg(feature = "blocking")]
impl From<net_std::DriveError<crate::Error>> for Pop3Error {
    fn from(error: net_std::DriveError<crate::Error>) -> Self {
        match error {
            net_std::DriveError::TimedOut => Self::WriteTimeout,
            net_std::DriveError::Io(error) => Self::Io(error),
            net_std::DriveError::Protocol(error) => Self::Protocol(error),
            // A kind of failure added to the adapter later.
            other => Self::Io(io::Error::other(other)),
        }
    }
}

#[cfg(feature = "tokio")]
impl From<net_tokio::DriveError<crate::Error>> for Pop3Error {
    fn from(error: net_tokio::DriveError<crate::Error>) -> Self {
        match error {
            net_tokio::DriveError::TimedOut => Self::WriteTimeout,
            net_tokio::DriveError::Io(error) => Self::Io(error),
            net_tokio::DriveError::Protocol(error) => Self::Protocol(error),
            // A kind of failure added to the adapter later.
            other => Self::Io(io::Error::other(other)),
        }
    }
}
