//! The POP3 client machine fed arbitrary server bytes: no panic, the same
//! transcript for any chunking (message data merged per message), and a
//! bounded buffer. Config: bit 0 end of input, bit 1 pipelining, bits 2..
//! the status line limit.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "pop3_seen.rs"]
mod pop3_seen;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use lineproto::Secret;
use lineproto::testing::{Step, transcript};
use pop3_client::client::{Client, Credentials, Event, Options, Request};
use pop3_seen::Seen;
use pop3_client::sasl;

fn client(config: u8) -> Client {
    let mut options = Options::default();
    options.pipelining = config & 2 == 2;
    options.max_line_len = usize::from(config >> 2) * 4 + 8;
    options.max_listing_len = 4096;
    let mut client = Client::new(options);
    client.send(Request::Capa);
    client.send(Request::Login(Credentials::Sasl(Box::new(sasl::Login::new("john", Secret::new(b"doe".to_vec()))))));
    client.send(Request::Stat);
    client.send(Request::Uidl(None));
    client.send(Request::Retr(1));
    client.send(Request::Top { message: 2, lines: 0 });
    client.send(Request::Quit);
    client
}

/// The steps as two runs must agree on them, with each message's data
/// merged (chunks follow the reads; nothing else may).
fn merged(steps: Vec<Step<Event, pop3_client::Error>>) -> Vec<Step<Seen, pop3_client::Error>> {
    let mut out: Vec<Step<Seen, pop3_client::Error>> = Vec::new();
    for step in pop3_seen::steps(steps) {
        if let (Step::Event(Seen::Data(handle, _, chunk)), Some(Step::Event(Seen::Data(previous, _, merged)))) =
            (&step, out.last_mut())
        {
            if previous == handle {
                let mut joined = BytesMut::from(&merged[..]);
                joined.extend_from_slice(chunk);
                *merged = joined.freeze();
                continue;
            }
        }
        out.push(step);
    }
    out
}

fuzz_target!(|raw: &[u8]| {
    let Some(input) = common::input(raw) else { return };
    let eof = input.config & 1 == 1;
    let whole = merged(transcript(client(input.config), [input.data], eof));
    let chunked = merged(transcript(client(input.config), &input.pieces, eof));
    assert_eq!(whole, chunked);
});
