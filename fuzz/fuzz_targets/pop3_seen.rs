//! What the POP3 client targets compare between two runs of the same
//! requests: events without their handles' client numbers (two clients
//! never share a handle), the requests' sequence numbers kept.

use bytes::Bytes;
use lineproto::testing::Step;
use pop3_client::client::{Event, Requested, Response};
use pop3_client::{Error, Greeting};

#[derive(Debug, PartialEq)]
pub enum Seen {
    Greeting(Greeting),
    Response(u64, Requested, Response),
    Data(u64, u32, Bytes),
    Other(String),
}

pub fn seen(event: Event) -> Seen {
    match event {
        Event::Greeting(greeting) => Seen::Greeting(greeting),
        Event::Response { handle, requested, response } => Seen::Response(handle.sequence(), requested, response),
        Event::MessageData { handle, message, chunk } => Seen::Data(handle.sequence(), message, chunk),
        other => Seen::Other(format!("{other:?}")),
    }
}

/// The steps with their events as [`seen`].
#[allow(dead_code)] // pop3_sasl compares events only
pub fn steps(steps: Vec<Step<Event, Error>>) -> Vec<Step<Seen, Error>> {
    steps
        .into_iter()
        .map(|step| match step {
            Step::Event(event) => Step::Event(seen(event)),
            Step::Transmit(bytes) => Step::Transmit(bytes),
            Step::Done(result) => Step::Done(result),
        })
        .collect()
}
