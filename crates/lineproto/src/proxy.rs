//! The PROXY protocol header: the preamble a load balancer (HAProxy,
//! nginx, AWS NLB) sends before the client's own bytes, naming the client
//! it relays.
//!
//! Behind a load balancer every connection comes from the balancer, so
//! per-address limits and logs would all see one address. With the PROXY
//! protocol (HAProxy's `send-proxy` or `send-proxy-v2`) the balancer first
//! sends a header with the real client's address. This module frames and
//! reads that header, Sans-IO: hand it what has arrived so far, and it
//! says "need more", "here is the client, and the header was this long", or
//! "this is not a PROXY header". Parsing is done by the `ppp` crate.
//!
//! Only accept the header from balancers you trust: anyone else could send
//! one and claim any address. The adapters take a list of trusted
//! addresses; connections from elsewhere are served as they are.
//!
//! ```
//! use std::net::SocketAddr;
//! use lineproto::proxy::{Preamble, read_preamble};
//!
//! let bytes = b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 1234\r\nalice:secret\n";
//! assert_eq!(read_preamble(&bytes[..20]), Ok(Preamble::Incomplete));
//! let Ok(Preamble::Complete { client, len }) = read_preamble(bytes) else { panic!() };
//! assert_eq!(client, Some("192.0.2.7:51000".parse::<SocketAddr>().unwrap()));
//! assert_eq!(&bytes[len..], b"alice:secret\n");
//! ```

use std::net::{IpAddr, SocketAddr};

use ppp::{HeaderResult, PartialResult, v1, v2};

/// The longest header accepted, in bytes. A v1 header is at most 107
/// bytes; a v2 header is 16 bytes plus the addresses (at most 216) and the
/// balancer's TLVs, which HAProxy keeps far below this.
pub const MAX_HEADER_LEN: usize = 1024;

/// What the bytes received so far hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preamble {
    /// A header has begun but is not complete: read more.
    Incomplete,
    /// A whole header.
    Complete {
        /// The client the balancer relays; `None` when the header names no
        /// client (`PROXY UNKNOWN`, or a v2 `LOCAL` command such as the
        /// balancer's own health check): then the connection is the
        /// balancer's own.
        client: Option<SocketAddr>,
        /// The header's length: the connection's own bytes start here.
        len: usize,
    },
}

/// Why the preamble was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyHeaderError {
    /// The bytes are not a PROXY protocol header.
    #[error("connection does not start with a PROXY protocol header")]
    Missing,
    /// The header is longer than [`MAX_HEADER_LEN`].
    #[error("PROXY protocol header longer than {limit} bytes")]
    TooLong {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// Reads a PROXY protocol header (v1 or v2) at the start of `received`:
/// everything that has arrived on the connection so far.
///
/// The answer depends only on the bytes, never on how they were split, so
/// a driver calls it again after each read until it is not
/// [`Preamble::Incomplete`]. Past [`MAX_HEADER_LEN`] bytes an incomplete
/// header is refused.
pub fn read_preamble(received: &[u8]) -> Result<Preamble, ProxyHeaderError> {
    let window = &received[..received.len().min(MAX_HEADER_LEN)];
    let header = HeaderResult::parse(window);
    if header.is_incomplete() {
        return if received.len() >= MAX_HEADER_LEN {
            Err(ProxyHeaderError::TooLong {
                limit: MAX_HEADER_LEN,
            })
        } else {
            Ok(Preamble::Incomplete)
        };
    }
    match header {
        HeaderResult::V1(Ok(header)) => Ok(Preamble::Complete {
            client: match header.addresses {
                v1::Addresses::Tcp4(ip) => Some(SocketAddr::new(
                    IpAddr::V4(ip.source_address),
                    ip.source_port,
                )),
                v1::Addresses::Tcp6(ip) => Some(SocketAddr::new(
                    IpAddr::V6(ip.source_address),
                    ip.source_port,
                )),
                v1::Addresses::Unknown => None,
            },
            len: header.header.len(),
        }),
        HeaderResult::V2(Ok(header)) => Ok(Preamble::Complete {
            client: match (header.command, header.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(ip)) => Some(SocketAddr::new(
                    IpAddr::V4(ip.source_address),
                    ip.source_port,
                )),
                (v2::Command::Proxy, v2::Addresses::IPv6(ip)) => Some(SocketAddr::new(
                    IpAddr::V6(ip.source_address),
                    ip.source_port,
                )),
                _ => None,
            },
            len: header.len(),
        }),
        HeaderResult::V1(Err(_)) | HeaderResult::V2(Err(_)) => Err(ProxyHeaderError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 header for 192.0.2.7:51000 -> 198.51.100.1:1234, as HAProxy's
    /// `send-proxy-v2` writes it (no TLVs).
    fn v2_header() -> Vec<u8> {
        let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        header.extend_from_slice(&[0x21, 0x11, 0, 12]);
        header.extend_from_slice(&[192, 0, 2, 7, 198, 51, 100, 1]);
        header.extend_from_slice(&51000u16.to_be_bytes());
        header.extend_from_slice(&1234u16.to_be_bytes());
        header
    }

    #[test]
    fn v2_names_the_client_and_its_length() {
        let mut bytes = v2_header();
        bytes.extend_from_slice(b"rest");
        assert_eq!(
            read_preamble(&bytes),
            Ok(Preamble::Complete {
                client: Some("192.0.2.7:51000".parse().unwrap()),
                len: 28
            })
        );
    }

    #[test]
    fn a_local_command_names_no_client() {
        let mut bytes = v2_header();
        bytes[12] = 0x20; // version 2, LOCAL
        let Ok(Preamble::Complete { client, .. }) = read_preamble(&bytes) else {
            panic!("{:?}", read_preamble(&bytes));
        };
        assert_eq!(client, None);
        assert_eq!(
            read_preamble(b"PROXY UNKNOWN\r\n"),
            Ok(Preamble::Complete {
                client: None,
                len: 15
            })
        );
    }

    #[test]
    fn a_plain_request_is_not_a_header() {
        assert_eq!(
            read_preamble(b"alice:secret\n"),
            Err(ProxyHeaderError::Missing)
        );
    }

    #[test]
    fn an_endless_header_is_refused_at_the_limit() {
        let mut bytes = b"PROXY TCP4 ".to_vec();
        bytes.resize(MAX_HEADER_LEN + 10, b'1');
        assert!(read_preamble(&bytes).is_err());
    }

    proptest::proptest! {
        /// Any prefix of a header is incomplete (or, once whole, the same
        /// answer): the result never depends on where the bytes were cut.
        #[test]
        fn every_prefix_is_incomplete_or_the_whole_answer(cut in 0usize..40, v2 in proptest::prelude::any::<bool>()) {
            let whole: Vec<u8> = if v2 { v2_header() } else { b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 1234\r\n".to_vec() };
            let full = read_preamble(&whole).unwrap();
            let cut = cut.min(whole.len());
            let partial = read_preamble(&whole[..cut]);
            proptest::prop_assert!(partial == Ok(Preamble::Incomplete) || partial == Ok(full), "{:?}", partial);
        }

        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = read_preamble(&bytes);
        }
    }
}
