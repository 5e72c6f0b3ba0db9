//! Reading the server: the greeting, status lines, SASL challenges, and the
//! listings and messages that follow a `+OK`.

use std::time::Instant;

use bytes::Bytes;
use lineproto::Secret;

use super::request::Reply;
use super::{Client, Event, InFlight, Phase, Requested, Response, ServerError, Stage};
use crate::Error;
use crate::body::{Decoded, MultiLineDecoder};
use crate::codec::{
    Capabilities, Command, Greeting, ResponseCode, StatusLine, base64, parse_scan_listing,
    parse_stat, split_unique_id_listing, unbase64,
};
use crate::sasl;

impl Client {
    /// Takes one line (without its line end) from the input, if complete.
    fn take_line(&mut self) -> Result<Option<Bytes>, Error> {
        let limit = self.options.max_line_len;
        let search = &self.input[..self.input.len().min(limit.saturating_add(2))];
        match memchr::memchr(b'\n', search) {
            Some(newline) => {
                let mut line = self.input.split_to(newline + 1);
                line.truncate(newline);
                if line.last() == Some(&b'\r') {
                    line.truncate(newline - 1);
                }
                if line.len() > limit {
                    return Err(Error::LineTooLong { limit });
                }
                Ok(Some(line.freeze()))
            }
            None if self.input.len() > limit.saturating_add(1) => Err(Error::LineTooLong { limit }),
            None => Ok(None),
        }
    }

    /// Decodes what the input holds, as of `now`; returns whether anything
    /// happened.
    pub(super) fn read(&mut self, now: Instant) -> Result<bool, Error> {
        if let Some(read) = self.read_body()? {
            return Ok(read);
        }
        let Some(line) = self.take_line()? else {
            return Ok(false);
        };
        if self.phase == Phase::Greeting {
            let greeting = Greeting::parse(&line)?;
            let refused = !greeting.line.is_ok();
            self.greeting = Some(greeting.clone());
            self.awaited_since = None;
            self.events.push_back(Event::Greeting(greeting.clone()));
            if refused {
                self.fail(Error::Refused(ServerError::from_line(
                    "greeting",
                    greeting.line,
                )));
            } else {
                self.phase = Phase::Session;
            }
            return Ok(true);
        }
        let Some(flight) = self.in_flight.pop_front() else {
            return Err(Error::UnexpectedData);
        };
        let (handle, requested) = (flight.handle, flight.requested.clone());
        if let Err(error) = self.on_reply(flight, &line, now) {
            self.respond(handle, requested, Response::Unanswered(error.clone()));
            return Err(error);
        }
        // A reply line completes a response, except the `+OK` that opens a
        // listing: a listing must be complete within one timeout.
        if !matches!(
            self.in_flight.front(),
            Some(InFlight {
                stage: Stage::Listing { .. },
                ..
            })
        ) {
            self.awaited_since = None;
        }
        Ok(true)
    }

    /// Reads the listing or message that follows the `+OK` of the oldest
    /// command, if one does: `None` when none is being read.
    fn read_body(&mut self) -> Result<Option<bool>, Error> {
        let Some(flight) = self.in_flight.front_mut() else {
            return Ok(None);
        };
        let decoded = match &mut flight.stage {
            Stage::Listing { decoder, .. } | Stage::Message { decoder, .. } => {
                decoder.decode(&mut self.input)
            }
            _ => return Ok(None),
        };
        match (decoded, &mut flight.stage) {
            (Decoded::NeedMore, _) => return Ok(Some(false)),
            (Decoded::Data(chunk), Stage::Message { octets, .. }) => {
                // A complete line is progress: the response timeout starts
                // again (see the option).
                if memchr::memrchr(b'\n', &chunk).is_some() {
                    self.awaited_since = None;
                }
                *octets += chunk.len() as u64;
                let message = flight.requested.message().unwrap_or_default();
                let handle = flight.handle;
                self.events.push_back(Event::MessageData {
                    handle,
                    message,
                    chunk,
                });
            }
            (Decoded::Data(chunk), Stage::Listing { data, .. }) => {
                let limit = self.options.max_listing_len;
                if data.len() + chunk.len() > limit {
                    return Err(Error::ListingTooLong { limit });
                }
                data.extend_from_slice(&chunk);
            }
            (Decoded::Data(_), _) => {}
            (Decoded::End, _) => {
                let Some(flight) = self.in_flight.pop_front() else {
                    return Ok(Some(true));
                };
                self.awaited_since = None;
                let response = match &flight.stage {
                    Stage::Message { status, octets, .. } => Response::Message {
                        status: status.clone(),
                        octets: *octets,
                    },
                    Stage::Listing { data, .. } => match listing(&flight.requested, data) {
                        Ok(response) => response,
                        Err(error) => {
                            self.answer(flight, Response::Unanswered(error.clone()));
                            return Err(error);
                        }
                    },
                    _ => return Err(Error::UnexpectedData),
                };
                if let Response::Capabilities(caps) = &response {
                    self.capabilities = Some(caps.clone());
                }
                self.answer(flight, response);
            }
        }
        Ok(Some(true))
    }

    /// Handles the reply line to the oldest command in flight, read at `now`.
    fn on_reply(&mut self, mut flight: InFlight, line: &[u8], now: Instant) -> Result<(), Error> {
        // SASL challenges: `+ base64`.
        if line.starts_with(b"+ ") || line == b"+" {
            return self.on_challenge(flight, line.get(2..).unwrap_or_default());
        }
        let status = StatusLine::parse(line)?;
        if !status.is_ok() {
            if flight.requested.is_login() && status.code == Some(ResponseCode::LoginDelay) {
                self.login_delay_from = Some(now);
            }
            if flight.requested == Requested::Quit {
                self.quit_answered = true;
            }
            let refused_tls = flight.requested == Requested::Stls;
            let error = ServerError::from_line(flight.command(), status);
            let response = match &mut flight.stage {
                Stage::Auth(exchange) => match exchange.cancelled.take() {
                    Some(cancelled) => Response::AuthCancelled {
                        error: cancelled,
                        reply: error.clone(),
                    },
                    None => Response::Rejected(error.clone()),
                },
                _ => Response::Rejected(error.clone()),
            };
            self.answer(flight, response);
            if refused_tls {
                // Commands queued behind STLS (a login, typically) were meant
                // to go over TLS: never send them in clear.
                self.fail(Error::StartTlsRefused(error));
            }
            return Ok(());
        }
        match std::mem::replace(&mut flight.stage, Stage::Reply) {
            Stage::User(password) => {
                // PASS goes out at once; the request's answer is PASS's.
                let line = Command::Pass(password).encode()?;
                self.queue_line(line, true);
                flight.stage = Stage::Pass;
                self.in_flight.push_front(flight);
                return Ok(());
            }
            Stage::Auth(mut exchange) => {
                if let Some(error) = exchange.cancelled {
                    // The server let the client in after `*`: nothing
                    // the mechanism checked can be trusted.
                    return Err(Error::Sasl(error));
                }
                // A server that did not prove itself (SCRAM) is not one to
                // go on talking to.
                exchange.mechanism.finish().map_err(Error::Sasl)?;
            }
            _ => {}
        }
        if flight.requested.is_login() {
            self.login_delay_from = Some(now);
        }
        let response = match (&flight.requested, flight.requested.reply()) {
            (_, Reply::Listing) => {
                flight.stage = Stage::Listing {
                    decoder: MultiLineDecoder::default(),
                    data: Vec::new(),
                };
                self.in_flight.push_front(flight);
                return Ok(());
            }
            (_, Reply::Message) => {
                flight.stage = Stage::Message {
                    decoder: MultiLineDecoder::default(),
                    status,
                    octets: 0,
                };
                self.in_flight.push_front(flight);
                return Ok(());
            }
            (Requested::Stls, _) => {
                self.phase = Phase::TlsPending;
                // Anything already buffered came in plaintext after the
                // +OK: never read it as TLS-protected data.
                self.input.clear();
                Response::StartTls
            }
            (Requested::Stat, _) => {
                let (count, octets) = parse_stat(&status.text)?;
                Response::Stat { count, octets }
            }
            (Requested::List(Some(_)), _) => {
                let (n, size) = parse_scan_listing(&status.text)?;
                Response::Scan(n, size)
            }
            (Requested::Uidl(Some(_)), _) => {
                let (n, id) = split_unique_id_listing(&status.text)?;
                Response::UniqueId(n, id)
            }
            (Requested::Quit, _) => {
                self.quit_answered = true;
                Response::Ok(status)
            }
            _ => Response::Ok(status),
        };
        self.answer(flight, response);
        Ok(())
    }

    /// Answers a SASL challenge (`+ base64`).
    fn on_challenge(&mut self, mut flight: InFlight, challenge: &[u8]) -> Result<(), Error> {
        let Stage::Auth(exchange) = &mut flight.stage else {
            return Err(Error::Malformed {
                what: "unexpected continuation",
            });
        };
        if exchange.cancelled.is_some() {
            // RFC 5034: `*` is answered with -ERR, nothing else.
            return Err(Error::Malformed {
                what: "SASL challenge after cancellation",
            });
        }
        let line = match exchange.held.take() {
            // The initial response that did not fit the AUTH line answers
            // the first challenge, which carries nothing.
            Some(initial) => initial,
            None => {
                let answer = match unbase64(challenge) {
                    Some(decoded) => exchange.mechanism.step(&decoded),
                    None => Err(sasl::Error::MalformedChallenge {
                        what: "base64 challenge",
                    }),
                };
                match answer {
                    Ok(response) => Secret::new(base64(response.expose()).to_vec()),
                    Err(error) => {
                        exchange.cancelled = Some(error);
                        Secret::new(b"*".to_vec())
                    }
                }
            }
        };
        let line = Command::SaslResponse(line).encode()?;
        self.queue_line(line, true);
        self.in_flight.push_front(flight);
        Ok(())
    }
}

/// Parses a collected listing.
fn listing(requested: &Requested, data: &[u8]) -> Result<Response, Error> {
    let lines = data
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty());
    Ok(match requested {
        Requested::Capa => Response::Capabilities(Capabilities::parse(lines)?),
        // `tag SP description`, e.g. `en English`.
        Requested::Lang(_) => Response::Languages(
            lines
                .map(|line| match memchr::memchr(b' ', line) {
                    Some(space) => (
                        Bytes::copy_from_slice(&line[..space]),
                        Bytes::copy_from_slice(&line[space + 1..]),
                    ),
                    None => (Bytes::copy_from_slice(line), Bytes::new()),
                })
                .collect(),
        ),
        Requested::List(_) => {
            Response::Listing(lines.map(parse_scan_listing).collect::<Result<_, _>>()?)
        }
        _ => Response::UniqueIds(
            lines
                .map(split_unique_id_listing)
                .collect::<Result<_, _>>()?,
        ),
    })
}
