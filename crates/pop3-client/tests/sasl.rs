//! SASL through the client machine: every shipped mechanism against the
//! demo server, byte-exact transcripts of RFC 7677's SCRAM exchange and of
//! what a hostile or broken server can send (a wrong signature, a `+OK`
//! before the signature, a challenge that is not base64, a `+OK` to `*`),
//! an application's own mechanism, the choice of the strongest method, and
//! the same events for any chunking of the server's bytes.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use lineproto::Secret;
use lineproto::testing::{Pair, Step, events, split, transcript, transmitted};
use pop3_client::client::{Client, Credentials, Event, Options, Request, Response};
use pop3_client::sasl::{self, CramMd5, Mechanism, OAuthBearer, Plain, Scram, XOAuth2};
use pop3_client::server::{self, Mailbox, Server};
use pop3_client::session::{Login, LoginPolicy};
use pop3_client::{Capabilities, Error, Greeting, Handle, ResponseCode};
use proptest::prelude::*;

fn secret(s: &str) -> Secret<Vec<u8>> {
    Secret::new(s.as_bytes().to_vec())
}

fn b64(data: &str) -> String {
    STANDARD.encode(data)
}

fn sasl(mechanism: impl Mechanism + 'static) -> Request {
    Request::Login(Credentials::Sasl(Box::new(mechanism)))
}

/// RFC 7677 section 3, user "user", password "pencil".
const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc7677() -> Scram {
    Scram::sha256("user", secret("pencil"), NONCE)
}

/// The client with `request` then STAT queued, fed `server` in one piece.
fn scripted(request: Request, server: &str) -> (Vec<Step<Event, Error>>, Handle, Handle) {
    let mut client = Client::new(Options::default());
    let login = client.send(request);
    let stat = client.send(Request::Stat);
    let steps = transcript(client, [server.as_bytes()], true);
    (steps, login, stat)
}

fn answer(steps: &[Step<Event, Error>], handle: Handle) -> Response {
    events(steps)
        .into_iter()
        .find_map(|event| match event {
            Event::Response {
                handle: h,
                response,
                ..
            } if h == handle => Some(response),
            _ => None,
        })
        .expect("every request is answered")
}

fn sent(steps: &[Step<Event, Error>]) -> String {
    String::from_utf8(transmitted(steps)).unwrap()
}

/// The server's side of RFC 7677's exchange, up to `+OK` and STAT's answer.
fn rfc7677_server() -> String {
    format!(
        "+OK ready\r\n+ {}\r\n+ {}\r\n+OK logged in\r\n+OK 0 0\r\n",
        b64(SERVER_FIRST),
        b64(SERVER_FINAL)
    )
}

#[test]
fn rfc_7677_exchange_byte_for_byte() {
    let (steps, login, stat) = scripted(sasl(rfc7677()), &rfc7677_server());
    assert!(matches!(answer(&steps, login), Response::Ok(_)));
    assert_eq!(
        answer(&steps, stat),
        Response::Stat {
            count: 0,
            octets: 0
        }
    );
    assert_eq!(
        sent(&steps),
        format!(
            "AUTH SCRAM-SHA-256 {}\r\n{}\r\n\r\nSTAT\r\n",
            b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
            b64(CLIENT_FINAL)
        )
    );
}

#[test]
fn a_wrong_server_signature_is_cancelled_and_reported() {
    let wrong = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";
    let server = format!(
        "+OK ready\r\n+ {}\r\n+ {}\r\n-ERR [AUTH] Authentication cancelled.\r\n+OK 0 0\r\n",
        b64(SERVER_FIRST),
        b64(wrong)
    );
    let (steps, login, stat) = scripted(sasl(rfc7677()), &server);
    let Response::AuthCancelled { error, reply } = answer(&steps, login) else {
        panic!("{steps:?}")
    };
    assert_eq!(error, sasl::Error::ServerSignatureMismatch);
    assert_eq!(reply.command, "AUTH SCRAM-SHA-256");
    assert_eq!(reply.code, Some(ResponseCode::Auth));
    assert!(
        sent(&steps).ends_with("\r\n*\r\nSTAT\r\n"),
        "{}",
        sent(&steps)
    );
    // The session goes on: the server refused, nobody is logged in.
    assert!(matches!(answer(&steps, stat), Response::Stat { .. }));
}

#[test]
fn ok_before_the_server_signature_ends_the_session() {
    let server = format!(
        "+OK ready\r\n+ {}\r\n+OK logged in\r\n+OK 0 0\r\n",
        b64(SERVER_FIRST)
    );
    let (steps, login, stat) = scripted(sasl(rfc7677()), &server);
    let incomplete = Error::Sasl(sasl::Error::Incomplete);
    assert_eq!(
        answer(&steps, login),
        Response::Unanswered(incomplete.clone())
    );
    assert_eq!(answer(&steps, stat), Response::NotSent(Error::SessionEnded));
    assert_eq!(steps.last(), Some(&Step::Done(Err(incomplete))));
    // Nothing more went to a server that did not prove itself.
    assert!(!sent(&steps).contains("STAT"));
}

#[test]
fn ok_to_a_cancellation_ends_the_session() {
    let server = "+OK ready\r\n+ not*base64\r\n+OK fine\r\n";
    let (steps, login, _) = scripted(sasl(rfc7677()), server);
    let malformed = sasl::Error::MalformedChallenge {
        what: "base64 challenge",
    };
    assert_eq!(
        answer(&steps, login),
        Response::Unanswered(Error::Sasl(malformed.clone()))
    );
    assert_eq!(steps.last(), Some(&Step::Done(Err(Error::Sasl(malformed)))));
}

#[test]
fn a_challenge_after_the_cancellation_ends_the_session() {
    let server = "+OK ready\r\n+ not*base64\r\n+ again\r\n";
    let (steps, _, _) = scripted(sasl(rfc7677()), server);
    assert_eq!(
        steps.last(),
        Some(&Step::Done(Err(Error::Malformed {
            what: "SASL challenge after cancellation"
        })))
    );
}

#[test]
fn every_mechanism_failure_on_a_challenge_is_cancelled() {
    let too_many = SERVER_FIRST.replace("i=4096", "i=100000000");
    let other_nonce = SERVER_FIRST.replace("r=rOpr", "r=xOpr");
    for (challenge, error) in [
        (
            b64(&too_many),
            sasl::Error::IterationCountTooHigh {
                count: 100_000_000,
                limit: 1_000_000,
            },
        ),
        (b64(&other_nonce), sasl::Error::NonceMismatch),
        (
            b64("m=x,r=a,s=QQ==,i=4096"),
            sasl::Error::MandatoryExtension,
        ),
        (
            "%%%".into(),
            sasl::Error::MalformedChallenge {
                what: "base64 challenge",
            },
        ),
    ] {
        let server = format!("+OK ready\r\n+ {challenge}\r\n-ERR cancelled\r\n+OK 0 0\r\n");
        let (steps, login, _) = scripted(sasl(rfc7677()), &server);
        assert_eq!(
            answer(&steps, login),
            Response::AuthCancelled {
                error,
                reply: pop3_client::ServerError {
                    command: "AUTH SCRAM-SHA-256",
                    code: None,
                    text: "cancelled".into(),
                },
            }
        );
        assert!(sent(&steps).contains("\r\n*\r\n"));
    }
}

/// An application's own mechanism: one empty challenge, one fixed answer.
#[derive(Debug)]
struct Toy {
    name: &'static str,
    initial: Option<&'static [u8]>,
    fail_initial: bool,
}

impl Mechanism for Toy {
    fn name(&self) -> &str {
        self.name
    }
    fn initial_response(&mut self) -> Result<Option<Secret<Vec<u8>>>, sasl::Error> {
        if self.fail_initial {
            return Err(sasl::Error::Unsendable { what: "user name" });
        }
        Ok(self.initial.map(|i| Secret::new(i.to_vec())))
    }
    fn step(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, sasl::Error> {
        Ok(Secret::new([b"got ", challenge].concat()))
    }
}

#[test]
fn an_application_mechanism_plugs_in() {
    let toy = |initial| Toy {
        name: "X-TOY",
        initial,
        fail_initial: false,
    };
    let server = format!("+OK ready\r\n+ {}\r\n+OK in\r\n+OK 0 0\r\n", b64("hi"));
    let (steps, login, _) = scripted(sasl(toy(None)), &server);
    assert!(matches!(answer(&steps, login), Response::Ok(_)));
    assert_eq!(
        sent(&steps),
        format!("AUTH X-TOY\r\n{}\r\nSTAT\r\n", b64("got hi"))
    );
    // An empty initial response is `=` (RFC 5034).
    let (steps, _, _) = scripted(sasl(toy(Some(b""))), "+OK ready\r\n+OK in\r\n+OK 0 0\r\n");
    assert!(sent(&steps).starts_with("AUTH X-TOY =\r\n"));
    // A bad name, or an initial response that cannot be made: not sent.
    for (mechanism, error) in [
        (
            Toy {
                name: "X TOY",
                initial: None,
                fail_initial: false,
            },
            sasl::Error::InvalidName,
        ),
        (
            Toy {
                name: "X-TOY",
                initial: None,
                fail_initial: true,
            },
            sasl::Error::Unsendable { what: "user name" },
        ),
    ] {
        let (steps, login, stat) = scripted(sasl(mechanism), "+OK ready\r\n+OK 0 0\r\n");
        assert_eq!(answer(&steps, login), Response::NotSent(Error::Sasl(error)));
        assert_eq!(sent(&steps), "STAT\r\n");
        assert!(matches!(answer(&steps, stat), Response::Stat { .. }));
    }
}

#[test]
fn a_server_may_accept_without_a_challenge_and_sets_the_login_delay() {
    let (steps, login, _) = scripted(
        sasl(Plain::new("john", secret("doe"))),
        "+OK ready\r\n+OK in\r\n+OK 0 0\r\n",
    );
    assert!(matches!(answer(&steps, login), Response::Ok(_)));
    assert_eq!(
        sent(&steps),
        format!("AUTH PLAIN {}\r\nSTAT\r\n", b64("\0john\0doe"))
    );
}

/// Every shipped mechanism logs in to the demo server, and a wrong secret
/// is refused, whatever the chunk size.
#[test]
fn every_shipped_mechanism_against_the_demo_server() {
    /// A login with this password.
    type Make = fn(&str) -> Request;
    let mechanisms: [(&str, Make); 7] = [
        ("PLAIN", |p| sasl(Plain::new("john", secret(p)))),
        ("LOGIN", |p| sasl(sasl::Login::new("john", secret(p)))),
        ("CRAM-MD5", |p| sasl(CramMd5::new("john", secret(p)))),
        ("SCRAM-SHA-1", |p| {
            sasl(Scram::sha1("john", secret(p), "fyko+d2lbbFgONRv9qkxdawL"))
        }),
        ("SCRAM-SHA-256", |p| {
            sasl(Scram::sha256("john", secret(p), NONCE))
        }),
        ("XOAUTH2", |p| sasl(XOAuth2::new("john", secret(p)))),
        ("OAUTHBEARER", |p| sasl(OAuthBearer::new("john", secret(p)))),
    ];
    for (name, request) in mechanisms {
        for chunk_size in [1, 7, 4096] {
            for (password, ok) in [("doe", true), ("wrong", false)] {
                let mut client = Client::new(Options::default());
                let login = client.send(request(password));
                let stat = client.send(Request::Stat);
                client.send(Request::Quit);
                let mailbox = Mailbox::new("john", "doe", vec!["Subject: x\r\n\r\nx\r\n".into()]);
                let outcome = Pair::new(client, Server::new(mailbox, server::Options::default()))
                    .chunk_size(chunk_size)
                    .run();
                let steps: Vec<Step<Event, Error>> = outcome
                    .client_events
                    .iter()
                    .cloned()
                    .map(Step::Event)
                    .collect();
                let context = format!("{name}, {password}, chunks of {chunk_size}");
                assert_eq!(outcome.client_result, Some(Ok(())), "{context}");
                match answer(&steps, login) {
                    Response::Ok(_) if ok => {
                        assert!(
                            matches!(answer(&steps, stat), Response::Stat { count: 1, .. }),
                            "{context}"
                        );
                    }
                    Response::Rejected(error) if !ok => {
                        assert_eq!(error.code, Some(ResponseCode::Auth), "{context}");
                        assert_eq!(error.command, format!("AUTH {name}"), "{context}");
                    }
                    other => panic!("{context}: {other:?}"),
                }
                let sent = String::from_utf8_lossy(&outcome.client_sent);
                if !matches!(name, "PLAIN" | "LOGIN" | "XOAUTH2" | "OAUTHBEARER") {
                    // Neither the password nor its base64 crossed.
                    assert!(!sent.contains(password), "{context}: {sent}");
                    assert!(!sent.contains(&b64(password)), "{context}: {sent}");
                }
                // The token mechanisms answer the server's JSON error.
                if name == "XOAUTH2" && !ok {
                    assert!(sent.contains("\r\n\r\n"), "{context}: {sent}");
                }
                if name == "OAUTHBEARER" && !ok {
                    assert!(sent.contains("\r\nAQ==\r\n"), "{context}: {sent}");
                }
            }
        }
    }
}

#[test]
fn a_long_token_goes_in_answer_to_the_empty_challenge() {
    // A token whose initial response does not fit 255 octets (the demo
    // server takes lines of up to 1 KiB).
    let token = "t".repeat(600);
    let mut client = Client::new(Options::default());
    let login = client.send(sasl(XOAuth2::new("john", secret(&token))));
    client.send(Request::Quit);
    let mailbox = Mailbox::new("john", &token, vec![]);
    let outcome = Pair::new(client, Server::new(mailbox, server::Options::default())).run();
    assert!(outcome.client_events.iter().any(|event| matches!(
        event,
        Event::Response { handle, response: Response::Ok(_), .. } if *handle == login
    )));
    let sent = String::from_utf8_lossy(&outcome.client_sent);
    assert!(sent.starts_with("AUTH XOAUTH2\r\n"), "{sent}");
    let server = String::from_utf8_lossy(&outcome.server_sent);
    assert!(server.contains("\r\n+ \r\n"), "{server}");
}

#[test]
fn a_cancelled_exchange_against_the_demo_server() {
    // SCRAM with an iteration floor above the demo server's 4096: the
    // client cancels with `*`, and the server answers -ERR.
    let mut client = Client::new(Options::default());
    let scram = Scram::sha256("john", secret("doe"), NONCE).iteration_limits(10_000, 20_000);
    let login = client.send(sasl(scram));
    let stat = client.send(Request::Stat);
    client.send(Request::Quit);
    let mailbox = Mailbox::new("john", "doe", vec![]);
    let outcome = Pair::new(client, Server::new(mailbox, server::Options::default())).run();
    let steps: Vec<Step<Event, Error>> =
        outcome.client_events.into_iter().map(Step::Event).collect();
    let Response::AuthCancelled { error, reply } = answer(&steps, login) else {
        panic!("{steps:?}");
    };
    assert_eq!(
        error,
        sasl::Error::IterationCountTooLow {
            count: 4096,
            limit: 10_000
        }
    );
    assert_eq!(reply.text, "Authentication cancelled.");
    assert!(matches!(answer(&steps, stat), Response::Rejected(_)));
    assert!(outcome.server_events.contains(&server::Event::LoginFailed));
}

#[test]
fn the_strongest_method_both_sides_offer() {
    let greeting = Greeting::parse(b"+OK ready <1.2@host>").unwrap();
    let bare = Greeting::parse(b"+OK ready").unwrap();
    let caps = |lines: &[&str]| Capabilities::parse(lines.iter().map(|l| l.as_bytes())).unwrap();
    let policy = |tls, allow_plaintext, bearer_token| {
        let mut policy = LoginPolicy::default();
        policy.tls = tls;
        policy.allow_plaintext = allow_plaintext;
        policy.bearer_token = bearer_token;
        policy
    };
    let every = caps(&[
        "SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER",
        "USER",
    ]);
    let cases: [(Option<&Capabilities>, &Greeting, LoginPolicy, Option<Login>); 13] = [
        (
            Some(&every),
            &greeting,
            policy(false, false, false),
            Some(Login::SaslScramSha256),
        ),
        (
            Some(&every),
            &greeting,
            policy(true, false, true),
            Some(Login::SaslOAuthBearer),
        ),
        // A token never goes out in clear without permission.
        (Some(&every), &greeting, policy(false, false, true), None),
        (
            Some(&every),
            &greeting,
            policy(false, true, true),
            Some(Login::SaslOAuthBearer),
        ),
        (
            Some(&caps(&["SASL XOAUTH2"])),
            &bare,
            policy(true, false, true),
            Some(Login::SaslXOAuth2),
        ),
        (
            Some(&caps(&["SASL CRAM-MD5 PLAIN", "USER"])),
            &greeting,
            policy(true, false, false),
            Some(Login::SaslCramMd5),
        ),
        (
            Some(&caps(&["SASL PLAIN", "USER"])),
            &greeting,
            policy(true, false, false),
            Some(Login::Apop),
        ),
        (
            Some(&caps(&["SASL PLAIN", "USER"])),
            &bare,
            policy(false, false, false),
            None,
        ),
        (
            Some(&caps(&["SASL PLAIN", "USER"])),
            &bare,
            policy(true, false, false),
            Some(Login::SaslPlain),
        ),
        (
            Some(&caps(&["SASL LOGIN", "USER"])),
            &bare,
            policy(false, true, false),
            Some(Login::SaslLogin),
        ),
        (
            Some(&caps(&["USER"])),
            &bare,
            policy(false, true, false),
            Some(Login::UserPass),
        ),
        // No CAPA: an RFC 1939 server, USER assumed.
        (
            None,
            &bare,
            policy(true, false, false),
            Some(Login::UserPass),
        ),
        // CAPA without USER or SASL.
        (
            Some(&caps(&["TOP"])),
            &bare,
            policy(true, true, false),
            None,
        ),
    ];
    for (capabilities, greeting, policy, expected) in cases {
        assert_eq!(
            Login::strongest(capabilities, Some(greeting), policy),
            expected,
            "{capabilities:?} {greeting:?} {policy:?}"
        );
    }
    for login in Login::ALL {
        assert_eq!(Login::from_name(&login.name().to_lowercase()), Some(login));
        assert_eq!(login.to_string(), login.name());
    }
    assert_eq!(Login::from_name("KERBEROS_V4"), None);
}

/// The server's bytes of an exchange, for the chunking property.
fn scram_transcript_bytes(signature_ok: bool) -> Vec<u8> {
    let server_final = if signature_ok {
        SERVER_FINAL
    } else {
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
    };
    format!(
        "+OK ready\r\n+ {}\r\n+ {}\r\n{}+OK 0 0\r\n+OK bye\r\n",
        b64(SERVER_FIRST),
        b64(server_final),
        if signature_ok {
            "+OK in\r\n"
        } else {
            "-ERR cancelled\r\n"
        }
    )
    .into_bytes()
}

fn scram_client() -> Client {
    let mut client = Client::new(Options::default());
    client.send(sasl(rfc7677()));
    client.send(Request::Stat);
    client.send(Request::Quit);
    client
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sasl_events_do_not_depend_on_chunking(
        cuts in prop::collection::vec(any::<usize>(), 0..40),
        signature_ok in any::<bool>(),
        eof in any::<bool>(),
    ) {
        let server = scram_transcript_bytes(signature_ok);
        let whole = transcript(scram_client(), [&server], eof);
        let pieces = transcript(scram_client(), split(&server, &cuts), eof);
        let seen = |steps| events(steps).into_iter().map(common::seen).collect::<Vec<_>>();
        prop_assert_eq!(seen(&pieces), seen(&whole));
        prop_assert_eq!(transmitted(&pieces), transmitted(&whole));
        prop_assert_eq!(pieces.last(), whole.last());
        prop_assert_eq!(whole.last(), Some(&Step::Done(Ok(()))));
    }

    #[test]
    fn any_challenge_is_answered_or_cancelled(
        challenge in prop::collection::vec(any::<u8>(), 0..200),
        mechanism in 0..7usize,
    ) {
        // Whatever the server's first challenge holds (as base64, so that
        // it reaches the mechanism), the client answers it or cancels;
        // it never fails the session and never panics.
        let request = match mechanism {
            0 => sasl(Plain::new("u", secret("p"))),
            1 => sasl(sasl::Login::new("u", secret("p"))),
            2 => sasl(CramMd5::new("u", secret("p"))),
            3 => sasl(Scram::sha1("u", secret("p"), NONCE).iteration_limits(1, 4096)),
            4 => sasl(Scram::sha256("u", secret("p"), NONCE).iteration_limits(1, 4096)),
            5 => sasl(XOAuth2::new("u", secret("p"))),
            _ => sasl(OAuthBearer::new("u", secret("p"))),
        };
        let server = format!("+OK ready\r\n+ {}\r\n-ERR no\r\n", STANDARD.encode(&challenge));
        let (steps, login, _) = scripted(request, &server);
        let answered = answer(&steps, login);
        let ok = matches!(answered, Response::Rejected(_) | Response::AuthCancelled { .. });
        prop_assert!(ok, "{:?}", answered);
        prop_assert_eq!(steps.last(), Some(&Step::Done(Err(Error::UnexpectedEof))));
    }
}

#[test]
fn session_login_with_every_shipped_method() {
    use pop3_client::session::Session;
    // The methods Session::login can build here (SCRAM needs getrandom).
    let methods = Login::ALL
        .into_iter()
        .filter(|m| cfg!(feature = "getrandom") || !m.name().starts_with("SCRAM"));
    for method in methods {
        let mut session = Session::new(Options::default());
        let pending = session.login(method, "john", secret("doe"));
        // The machine holds the request; the demo server answers it.
        let mut server = Server::new(
            Mailbox::new("john", "doe", vec![Bytes::from_static(b"x\r\n")]),
            server::Options::default(),
        );
        let outcome = drive(&mut session, &mut server, pending);
        assert_eq!(outcome, Ok(()), "{method}");
    }
}

#[cfg(not(feature = "getrandom"))]
#[test]
fn without_getrandom_scram_through_the_session_is_not_sent() {
    use pop3_client::session::{Session, SessionError};
    let mut session = Session::new(Options::default());
    let mut pending = session.login(Login::SaslScramSha256, "john", secret("doe"));
    assert_eq!(
        pending.poll().map(|_| ()),
        Err(SessionError::NotSent {
            command: "AUTH SCRAM-SHA-256",
            error: Error::Sasl(sasl::Error::NoRandomSource),
        })
    );
}

/// Runs a login to its end between a session and the demo server.
fn drive(
    session: &mut pop3_client::session::Session,
    server: &mut Server,
    mut pending: pop3_client::session::Pending<()>,
) -> Result<(), String> {
    use lineproto::testing::epoch;
    use lineproto::{Machine, Output};
    use pop3_client::session::Step as SessionStep;
    let now = epoch();
    loop {
        match pending.poll().map_err(|e| e.to_string())? {
            SessionStep::Done(()) => return Ok(()),
            SessionStep::Part(_) => {}
            SessionStep::Drive => {
                let event = loop {
                    match session.poll_output(now) {
                        Output::Transmit(bytes) => server.handle_input(&bytes),
                        Output::Event(event) => break Some(event),
                        Output::Done(result) => {
                            result.map_err(|e| e.to_string())?;
                            break None;
                        }
                        Output::Wait { .. } => loop {
                            match server.poll_output(now) {
                                Output::Transmit(bytes) => session.handle_input(&bytes),
                                Output::Event(_) => {}
                                Output::Wait { .. } => break,
                                Output::Done(_) => {
                                    session.handle_eof();
                                    break;
                                }
                            }
                        },
                    }
                };
                pending.handle(event);
            }
        }
    }
}
