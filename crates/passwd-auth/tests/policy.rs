//! The account policy on a fixture passwd/shadow pair with one account per
//! case (tests/fixtures; every password is `secret` unless noted), and the
//! auth exchange's framing.

use bytes::Bytes;
use lineproto::testing::{Step, split, transcript};
use passwd_auth::exchange::{Event, Options, Server};
use passwd_auth::{Authenticator, Error, FileKind, Outcome, PasswdDb, Policy, WireCode};
use proptest::prelude::*;

const PASSWD: &[u8] = include_bytes!("fixtures/passwd");
const SHADOW: &[u8] = include_bytes!("fixtures/shadow");
/// 2024-10-04 (day 20000): after most "last change" dates in the fixture.
const TODAY: i64 = 20_000;

fn authenticator(policy: Policy) -> Authenticator {
    Authenticator::new(PasswdDb::parse(PASSWD, Some(SHADOW)), policy)
}

#[test]
fn every_policy_case() {
    let auth = authenticator(Policy::default());
    let cases: &[(&[u8], &str, Outcome)] = &[
        (b"alice", "secret", Outcome::Authenticated),
        (b"alice", "Secret", Outcome::WrongPassword),
        (b"alice", "", Outcome::WrongPassword),
        (b"bob", "secret", Outcome::Authenticated),
        (b"bob", "secret ", Outcome::WrongPassword),
        (b"root", "secret", Outcome::Locked),
        (b"carol", "secret", Outcome::Locked),
        (b"dave", "secret", Outcome::Locked),
        (b"erin", "secret", Outcome::Locked),
        (b"frank", "", Outcome::EmptyPasswordRefused),
        (b"frank", "anything", Outcome::EmptyPasswordRefused),
        (b"grace", "secret", Outcome::AccountExpired),
        (b"grace", "wrong", Outcome::WrongPassword),
        (b"heidi", "secret", Outcome::PasswordChangeRequired),
        (b"ivan", "secret", Outcome::PasswordChangeRequired),
        (b"judy", "secret", Outcome::PasswordExpired),
        (b"mallory", "secret", Outcome::MissingShadowEntry),
        (
            b"oscar",
            "secret",
            Outcome::UnverifiableHash(Error::UnsupportedHash { format: "scrypt" }),
        ),
        (b"peggy", "secret", Outcome::Authenticated),
        (b"trent", "a:b c ", Outcome::Authenticated),
        (b"trent", "a:b c", Outcome::WrongPassword),
        (b"victor", "first", Outcome::Authenticated),
        (b"victor", "second", Outcome::WrongPassword),
        (b"walter", "secret", Outcome::Authenticated),
        (b"crlf", "secret", Outcome::Authenticated),
        (b"j\xf6rg", "secret", Outcome::Authenticated),
        (b"nosuchuser", "hahaha", Outcome::UnknownUser),
        (b"+@nisgroup", "", Outcome::UnknownUser),
        (b"broken", "secret", Outcome::UnknownUser),
    ];
    for (user, password, expected) in cases {
        let got = auth.authenticate(user, password.as_bytes(), TODAY);
        assert_eq!(
            &got,
            expected,
            "{} with {password:?}",
            String::from_utf8_lossy(user)
        );
    }
    let big = auth.authenticate(b"bigcost", b"secret", TODAY);
    assert!(
        matches!(
            big,
            Outcome::UnverifiableHash(Error::CostTooHigh {
                cost: 999_999_999,
                ..
            })
        ),
        "{big:?}"
    );
}

#[test]
fn nullok_lets_an_empty_password_in_only_where_the_hash_is_empty() {
    let mut policy = Policy::default();
    policy.allow_empty_password = true;
    let auth = authenticator(policy);
    assert_eq!(
        auth.authenticate(b"frank", b"", TODAY),
        Outcome::Authenticated
    );
    assert_eq!(
        auth.authenticate(b"frank", b"x", TODAY),
        Outcome::EmptyPasswordRefused
    );
    assert_eq!(
        auth.authenticate(b"alice", b"", TODAY),
        Outcome::WrongPassword
    );
}

#[test]
fn expiry_is_judged_against_the_day_handed_in() {
    let auth = authenticator(Policy::default());
    assert_eq!(
        auth.authenticate(b"grace", b"secret", 19_499),
        Outcome::Authenticated
    );
    assert_eq!(
        auth.authenticate(b"grace", b"secret", 19_500),
        Outcome::AccountExpired
    );
    assert_eq!(
        auth.authenticate(b"ivan", b"secret", 19_090),
        Outcome::Authenticated
    );
    assert_eq!(
        auth.authenticate(b"ivan", b"secret", 19_091),
        Outcome::PasswordChangeRequired
    );
    assert_eq!(
        auth.authenticate(b"judy", b"secret", 19_120),
        Outcome::PasswordChangeRequired
    );
    assert_eq!(
        auth.authenticate(b"judy", b"secret", 19_121),
        Outcome::PasswordExpired
    );
}

#[test]
fn negative_expiry_other_than_minus_one_has_passed() {
    let passwd = b"a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/sh\n";
    let hash = "$1$saltsalt$9xy1btjgzLYfb7hivXtC//";
    let shadow = format!("a:{hash}:19000:0:99999:7::-5:\nb:{hash}:19000:0:99999:7::-1:\n");
    let auth = Authenticator::new(
        PasswdDb::parse(passwd, Some(shadow.as_bytes())),
        Policy::default(),
    );
    assert_eq!(
        auth.authenticate(b"a", b"secret", TODAY),
        Outcome::AccountExpired
    );
    assert_eq!(
        auth.authenticate(b"b", b"secret", TODAY),
        Outcome::Authenticated
    );
}

#[test]
fn a_hash_the_crate_refuses_is_unverifiable_never_a_quick_wrong_password() {
    // A sha1crypt salt with a character outside crypt's alphabet: the
    // shape is right, the crate refuses it.
    let passwd = b"a:x:1:1::/:/bin/sh\n";
    let shadow = b"a:$sha1$4800$ab!defgh$AeiofZ6damWvzNCzR/Wa8NrOG9tW:19000::::::\n";
    let auth = Authenticator::new(PasswdDb::parse(passwd, Some(shadow)), Policy::default());
    assert!(matches!(
        auth.authenticate(b"a", b"x", TODAY),
        Outcome::UnverifiableHash(_)
    ));
    assert!(!format!("{auth:?}").contains("ab!defgh"));
}

#[test]
fn skipped_lines_are_reported_with_their_numbers() {
    let db = PasswdDb::parse(PASSWD, Some(SHADOW));
    assert_eq!(
        db.problems(),
        [Error::MalformedLine {
            file: FileKind::Passwd,
            line: 26,
            reason: "user id is not a number"
        }]
    );
}

/// The article's loop answered 0 as soon as the *first* line's user did not
/// match, so only the first user in the file could ever log in.
#[test]
fn regression_every_user_is_found_not_just_the_first() {
    let auth = authenticator(Policy::default());
    for user in [&b"alice"[..], b"bob", b"walter", b"crlf"] {
        assert_eq!(
            auth.authenticate(user, b"secret", TODAY),
            Outcome::Authenticated
        );
    }
}

#[test]
fn wire_codes_are_the_articles_and_uniform_hides_unknown_users() {
    let auth = authenticator(Policy::default());
    let code = |user: &[u8], password: &[u8], uniform: bool| {
        auth.authenticate(user, password, TODAY).wire_code(uniform)
    };
    assert_eq!(code(b"alice", b"secret", false), WireCode::Accepted);
    assert_eq!(code(b"alice", b"nope", false), WireCode::Rejected);
    assert_eq!(code(b"nosuchuser", b"hahaha", false), WireCode::UnknownUser);
    assert_eq!(code(b"nosuchuser", b"hahaha", true), WireCode::Rejected);
    assert_eq!(code(b"carol", b"secret", false), WireCode::Rejected);
}

fn server(options: Options) -> Server<impl FnMut(&[u8], &[u8]) -> Outcome> {
    Server::new(options, |user: &[u8], password: &[u8]| {
        match (user, password) {
            (b"john", b"doe") => Outcome::Authenticated,
            (b"john", _) => Outcome::WrongPassword,
            _ => Outcome::UnknownUser,
        }
    })
}

fn sent(steps: &[Step<Event, Error>]) -> Vec<u8> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Transmit(b) => Some(b.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn exchange_transcripts_match_the_article() {
    assert_eq!(
        sent(&transcript(
            server(Options::default()),
            [b"john:doe\r\n"],
            false
        )),
        b"1"
    );
    assert_eq!(
        sent(&transcript(
            server(Options::default()),
            [b"nosuchuser:hahaha\n"],
            false
        )),
        b"-1"
    );
    assert_eq!(
        sent(&transcript(
            server(Options::default()),
            [b"john:wrong\n"],
            false
        )),
        b"0"
    );
    let mut uniform = Options::default();
    uniform.uniform_unknown_user = true;
    assert_eq!(
        sent(&transcript(
            server(uniform),
            [b"nosuchuser:hahaha\n"],
            false
        )),
        b"0"
    );
}

#[test]
fn exchange_splits_at_the_first_colon_and_strips_only_the_terminator() {
    let steps = transcript(
        Server::new(Options::default(), |user: &[u8], password: &[u8]| {
            assert_eq!(user, b" john");
            assert_eq!(password, b" doe:x \t");
            Outcome::Authenticated
        }),
        [b" john: doe:x \t\r\n"],
        false,
    );
    assert_eq!(sent(&steps), b"1");
}

#[test]
fn exchange_refuses_malformed_requests_with_zero() {
    for input in [&b"no colon here\n"[..], &[b'x'; 2000][..]] {
        let steps = transcript(server(Options::default()), [input], true);
        assert_eq!(sent(&steps), b"0");
        assert!(matches!(
            &steps[0],
            Step::Event(Event::Verdict {
                outcome: Outcome::MalformedRequest,
                ..
            })
        ));
    }
    // A silent peer gets nothing.
    assert_eq!(
        transcript(server(Options::default()), [b"".as_slice()], true),
        [Step::Done(Ok(()))]
    );
}

#[test]
fn debug_never_shows_the_password() {
    use lineproto::Machine;
    let mut server = server(Options::default());
    server.handle_input(b"john:hunter2-secret");
    let shown = format!("{server:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let client = passwd_auth::exchange::Client::new(
        b"john",
        lineproto::Secret::new(b"hunter2-secret".to_vec()),
    )
    .unwrap();
    assert!(!format!("{client:?}").contains("hunter2"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn exchange_does_not_depend_on_chunking(
        input in prop::collection::vec(prop_oneof![Just(b':'), Just(b'\n'), Just(b'\r'), any::<u8>()], 0..80),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        limit in 0usize..40,
        eof in any::<bool>(),
    ) {
        let make = || {
            let mut options = Options::default();
            options.max_line_len = limit;
            Server::new(options, |user: &[u8], password: &[u8]| {
                if user.len() == password.len() { Outcome::Authenticated } else { Outcome::WrongPassword }
            })
        };
        let whole = transcript(make(), [&input], eof);
        let single: Vec<[u8; 1]> = input.iter().map(|&b| [b]).collect();
        prop_assert_eq!(&transcript(make(), &single, eof), &whole);
        prop_assert_eq!(&transcript(make(), split(&input, &cuts), eof), &whole);
    }

    #[test]
    fn parsers_never_panic(passwd in prop::collection::vec(any::<u8>(), 0..300), shadow in prop::collection::vec(any::<u8>(), 0..300)) {
        let db = PasswdDb::parse(&passwd, Some(&shadow));
        for line in passwd.split(|&b| b == b'\n') {
            let _ = passwd_auth::PasswdLine::parse(line);
            let _ = passwd_auth::ShadowLine::parse(line);
        }
        prop_assert!(db.len() <= passwd.len());
    }

    #[test]
    fn hash_strings_never_panic_and_random_ones_never_match(stored in "[$./0-9A-Za-z_=,!*]{0,90}", password in any::<Vec<u8>>()) {
        // Low ceilings keep every verification cheap.
        let mut limits = passwd_auth::CostLimits::default();
        limits.max_sha_rounds = 5000;
        limits.max_sha1_rounds = 5000;
        limits.max_bsdi_rounds = 5000;
        limits.max_bcrypt_cost = 4;
        limits.max_yescrypt_memory = 1 << 20;
        let result = passwd_auth::verify(&password, stored.as_bytes(), &limits);
        prop_assert_ne!(result, Ok(true));
    }
}

#[test]
fn exchange_user_is_given_back_as_bytes() {
    let steps = transcript(server(Options::default()), [b"j\xf6rg:x\n"], false);
    assert!(
        matches!(&steps[0], Step::Event(Event::Verdict { user, .. }) if user == &Bytes::from_static(b"j\xf6rg"))
    );
}
