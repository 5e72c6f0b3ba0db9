//! SASL exchanges fed arbitrary server challenges. Config: bits 0-2 the
//! mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2,
//! OAUTHBEARER, XOAUTH2 with a token too long for the AUTH line), bit 3
//! the mode, bit 4 end of input (mode 1).
//!
//! Mode 0, the mechanism alone: the data is challenges separated by `\n`,
//! each handed to `step` as it is, then `finish`. No panic, and every
//! response is bounded (SCRAM's iteration ceiling is 64 here, so a run
//! stays fast). Mode 1, the client machine logging in with the mechanism,
//! then STAT and QUIT: the data is what the server sends. No panic; the
//! same events, bytes sent and end for any chunking; the password never
//! crosses in clear, nor as base64, for SCRAM and CRAM-MD5; every line sent
//! after AUTH is base64 or `*`.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "pop3_seen.rs"]
mod pop3_seen;

use libfuzzer_sys::fuzz_target;
use lineproto::Secret;
use lineproto::testing::{Step, events, transcript, transmitted};
use pop3_client::client::{Client, Credentials, Options, Request};
use pop3_client::sasl::{CramMd5, Login, Mechanism, OAuthBearer, Plain, Scram, XOAuth2};

const PASSWORD: &str = "pencil";

fn mechanism(config: u8) -> Box<dyn Mechanism> {
    let secret = || Secret::new(PASSWORD.as_bytes().to_vec());
    match config & 7 {
        0 => Box::new(Plain::new("user", secret())),
        1 => Box::new(Login::new("user", secret())),
        2 => Box::new(CramMd5::new("user", secret())),
        // RFC 5802's and 7677's nonces, so that seeds can be their exchanges.
        3 => Box::new(Scram::sha1("user", secret(), "fyko+d2lbbFgONRv9qkxdawL").iteration_limits(1, 64)),
        4 => Box::new(Scram::sha256("user", secret(), "rOprNGfwEbeRWgbNEkqO").iteration_limits(1, 64)),
        5 => Box::new(XOAuth2::new("user", secret())),
        6 => Box::new(OAuthBearer::new("user", secret())),
        _ => Box::new(XOAuth2::new("user", Secret::new(vec![b't'; 300]))),
    }
}

/// Whether the mechanism keeps the password off the wire.
fn hides_password(config: u8) -> bool {
    matches!(config & 7, 2..=4)
}

fn client(config: u8) -> Client {
    let mut client = Client::new(Options::default());
    client.send(Request::Login(Credentials::Sasl(mechanism(config))));
    client.send(Request::Stat);
    client.send(Request::Quit);
    client
}

fn alone(config: u8, data: &[u8]) {
    let mut mechanism = mechanism(config);
    let _ = mechanism.name();
    let _ = mechanism.initial_response();
    for challenge in data.split(|&b| b == b'\n') {
        if let Ok(response) = mechanism.step(challenge) {
            // At most the 300-byte token's message, or SCRAM's final
            // message, which repeats the server's nonce.
            let len = response.expose().len();
            assert!(len <= 400 + challenge.len(), "{len} bytes");
        }
    }
    let _ = mechanism.finish();
}

fn machine(config: u8, data: &[u8], pieces: &[&[u8]]) {
    let eof = config & 16 == 16;
    let whole = transcript(client(config), [data], eof);
    let chunked = transcript(client(config), pieces, eof);
    let seen = |steps| events(steps).into_iter().map(pop3_seen::seen).collect::<Vec<_>>();
    assert_eq!(seen(&whole), seen(&chunked));
    assert_eq!(transmitted(&whole), transmitted(&chunked));
    assert_eq!(
        whole.iter().rev().find(|s| matches!(s, Step::Done(_))),
        chunked.iter().rev().find(|s| matches!(s, Step::Done(_)))
    );
    let sent = transmitted(&whole);
    if hides_password(config) {
        let needle = PASSWORD.as_bytes();
        assert!(!sent.windows(needle.len()).any(|w| w == needle));
        let encoded = b"cGVuY2ls"; // base64("pencil")
        assert!(!sent.windows(encoded.len()).any(|w| w == encoded));
    }
    // After the AUTH line, until STAT or QUIT, every line is a SASL
    // response: base64 (perhaps empty) or `*`.
    let mut lines = sent.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    assert!(lines.next().is_none_or(|auth| auth.starts_with(b"AUTH ")));
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if matches!(line, b"STAT" | b"QUIT") {
            break;
        }
        assert!(
            line == b"*" || line.iter().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    if input.config & 8 == 0 {
        alone(input.config, input.data);
    } else {
        machine(input.config, input.data, &input.pieces);
    }
});
