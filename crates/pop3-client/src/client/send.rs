//! Turning queued requests into command lines, as far as the pipelining
//! rules allow.

use bytes::BytesMut;
use lineproto::Secret;

use super::{Client, Credentials, Exchange, InFlight, Phase, Request, Requested, Response, Stage};
use crate::Error;
use crate::codec::{Command, MAX_COMMAND_LEN, apop_digest, base64};
use crate::sasl::{self, Mechanism};

impl Client {
    /// Appends a command line to the outbox (see the field's comment).
    pub(super) fn queue_line(&mut self, line: bytes::Bytes, secret: bool) {
        if !secret {
            if let Some(last) = self.outbox.back_mut().filter(|_| !self.last_out_secret) {
                let mut merged = BytesMut::with_capacity(last.len() + line.len());
                merged.extend_from_slice(last);
                merged.extend_from_slice(&line);
                *last = merged.freeze();
                return;
            }
        }
        self.outbox.push_back(line);
        self.last_out_secret = secret;
    }

    /// Sends queued requests as far as the rules allow.
    pub(super) fn pump(&mut self) {
        while self.phase == Phase::Session {
            let Some((_, next, _)) = self.queue.front() else {
                return;
            };
            let window = self.options.pipeline_window.max(1);
            if self.in_flight.len() >= window {
                self.window_full = true;
            } else if self.in_flight.len() <= window / 2 {
                self.window_full = false;
            }
            if !self.in_flight.is_empty() {
                // Refill a full window only once half of it is answered:
                // one write of many commands instead of one per reply.
                let may_follow = self.is_pipelining()
                    && !self.window_full
                    && next.is_pipelinable()
                    && self
                        .in_flight
                        .iter()
                        .all(|flight| flight.requested.is_pipelinable());
                if !may_follow {
                    return;
                }
            }
            if self
                .in_flight
                .iter()
                .any(|flight| flight.requested == Requested::Quit)
            {
                return;
            }
            let Some((handle, requested, request)) = self.queue.pop_front() else {
                return;
            };
            let sent = self.command_for(request).and_then(|(command, stage)| {
                Ok((command.encode()?, carries_secret(&command), stage))
            });
            match sent {
                Ok((line, secret, stage)) => {
                    self.queue_line(line, secret);
                    self.in_flight.push_back(InFlight {
                        handle,
                        requested,
                        stage,
                    });
                }
                Err(error) => self.respond(handle, requested, Response::NotSent(error)),
            }
        }
    }

    /// The first command of a request, and where its answer starts.
    fn command_for(&self, request: Request) -> Result<(Command, Stage), Error> {
        Ok(match request {
            Request::Login(Credentials::UserPass { user, password }) => {
                // Check PASS before USER goes out, so a bad password cannot
                // fail the session halfway through the request.
                Command::Pass(password.clone()).encode()?;
                (Command::User(user), Stage::User(password))
            }
            Request::Login(Credentials::Sasl(mechanism)) => auth(mechanism)?,
            Request::Login(Credentials::Apop { user, password }) => {
                let timestamp = self
                    .greeting
                    .as_ref()
                    .and_then(|g| g.apop_timestamp.as_ref())
                    .ok_or(Error::NoApopTimestamp)?;
                let digest = apop_digest(timestamp, password.expose());
                let digest = Secret::new(digest);
                (Command::Apop { user, digest }, Stage::Reply)
            }
            Request::Capa => (Command::Capa, Stage::Reply),
            Request::Stls => (Command::Stls, Stage::Reply),
            Request::Utf8 => (Command::Utf8, Stage::Reply),
            Request::Lang(tag) => (Command::Lang(tag), Stage::Reply),
            Request::Stat => (Command::Stat, Stage::Reply),
            Request::List(n) => (Command::List(n), Stage::Reply),
            Request::Uidl(n) => (Command::Uidl(n), Stage::Reply),
            Request::Retr(n) => (Command::Retr(n), Stage::Reply),
            Request::Top { message, lines } => (Command::Top(message, lines), Stage::Reply),
            Request::Dele(n) => (Command::Dele(n), Stage::Reply),
            Request::Noop => (Command::Noop, Stage::Reply),
            Request::Rset => (Command::Rset, Stage::Reply),
            Request::Quit => (Command::Quit, Stage::Reply),
        })
    }
}

/// The AUTH command for a mechanism, and its exchange.
fn auth(mut mechanism: Box<dyn Mechanism>) -> Result<(Command, Stage), Error> {
    let name = mechanism.name().to_owned();
    if !sasl::is_mechanism_name(&name) {
        return Err(Error::Sasl(sasl::Error::InvalidName));
    }
    let initial = mechanism
        .initial_response()
        .map_err(Error::Sasl)?
        .map(|initial| match initial.expose().is_empty() {
            // RFC 5034: an empty initial response is sent as `=`.
            true => Secret::new(b"=".to_vec()),
            false => Secret::new(base64(initial.expose()).to_vec()),
        });
    // RFC 5034: the initial response must fit the 255-octet command line;
    // one that does not answers the server's empty challenge. Sending it
    // anyway is what makes Office 365 answer `-ERR Protocol error`.
    let fits = |initial: &Secret<Vec<u8>>| {
        "AUTH ".len() + name.len() + 1 + initial.expose().len() + 2 <= MAX_COMMAND_LEN
    };
    let (initial, held) = match initial {
        Some(initial) if fits(&initial) => (Some(initial), None),
        held => (None, held),
    };
    let exchange = Exchange {
        mechanism,
        held,
        cancelled: None,
    };
    Ok((
        Command::Auth {
            mechanism: name,
            initial,
        },
        Stage::Auth(Box::new(exchange)),
    ))
}

/// Whether a command line holds a secret (or something crackable offline).
fn carries_secret(command: &Command) -> bool {
    matches!(
        command,
        Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } | Command::SaslResponse(_)
    )
}
