//! The account policy on fixture passwd/shadow pairs with one account per
//! case (tests/fixtures, and tests/fixtures/pam16 for Linux-PAM 1.6's aging
//! and glibc's line rules; every password is `secret` unless noted), and
//! the auth exchange's framing.

use bytes::Bytes;
use lineproto::testing::{Step, split, transcript};
use passwd_auth::server::{Error, Event, Options, Server};
use passwd_auth::{
    Authenticator, EntryError, FileKind, HashError, HashFormat, Outcome, PasswdDb, Policy, WireCode,
};
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
    // peggy's hash is traditional DES, in passwd itself.
    let peggy = if HashFormat::Des.is_enabled() {
        Outcome::Authenticated
    } else {
        Outcome::UnverifiableHash(HashError::UnsupportedHash {
            format: "descrypt (the legacy-crypt feature is off)",
        })
    };
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
            Outcome::UnverifiableHash(HashError::UnsupportedHash { format: "scrypt" }),
        ),
        (b"peggy", "secret", peggy),
        (b"trent", "a:b c ", Outcome::Authenticated),
        (b"trent", "a:b c", Outcome::WrongPassword),
        (b"victor", "first", Outcome::Authenticated),
        (b"victor", "second", Outcome::WrongPassword),
        (b"walter", "secret", Outcome::Authenticated),
        // glibc refuses a shadow line ending in CRLF (the CR lands in the
        // ninth field), so the account has no shadow entry.
        (b"crlf", "secret", Outcome::MissingShadowEntry),
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
            Outcome::UnverifiableHash(HashError::CostTooHigh {
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
    // ivan: changed on day 19000, maximum age 90. Since Linux-PAM 1.6 the
    // change is due on day 19090 itself (the age reaches the maximum).
    assert_eq!(
        auth.authenticate(b"ivan", b"secret", 19_089),
        Outcome::Authenticated
    );
    assert_eq!(
        auth.authenticate(b"ivan", b"secret", 19_090),
        Outcome::PasswordChangeRequired
    );
    // judy: the same, and 30 days of inactivity: expired on day 19120.
    assert_eq!(
        auth.authenticate(b"judy", b"secret", 19_119),
        Outcome::PasswordChangeRequired
    );
    assert_eq!(
        auth.authenticate(b"judy", b"secret", 19_120),
        Outcome::PasswordExpired
    );
}

const PAM16_PASSWD: &[u8] = include_bytes!("fixtures/pam16/passwd");
const PAM16_SHADOW: &[u8] = include_bytes!("fixtures/pam16/shadow");

fn pam16() -> Authenticator {
    Authenticator::new(
        PasswdDb::parse(PAM16_PASSWD, Some(PAM16_SHADOW)),
        Policy::default(),
    )
}

/// Linux-PAM 1.6's pam_unix: the password must be changed when its age
/// *reaches* the maximum, and is expired when it reaches maximum +
/// inactivity (`>=`; `>` before 1.6); an empty last change disables aging;
/// the account expires on its expiry day.
#[test]
fn linux_pam_1_6_aging() {
    let auth = pam16();
    let cases: &[(&[u8], i64, Outcome)] = &[
        // Changed on day 19900, maximum age 100.
        (b"maxday", 19_999, Outcome::Authenticated),
        (b"maxday", TODAY, Outcome::PasswordChangeRequired),
        // Changed on day 19870, maximum 100, inactivity 30.
        (b"inactday", 19_969, Outcome::Authenticated),
        (b"inactday", 19_970, Outcome::PasswordChangeRequired),
        (b"inactday", 19_999, Outcome::PasswordChangeRequired),
        (b"inactday", TODAY, Outcome::PasswordExpired),
        // Empty last change, maximum and inactivity 0: no aging at all.
        (b"nolast", TODAY, Outcome::Authenticated),
        // Last change in the future: passes, whatever the maximum.
        (b"future", TODAY, Outcome::Authenticated),
        // Expires on day 20000.
        (b"expday", 19_999, Outcome::Authenticated),
        (b"expday", TODAY, Outcome::AccountExpired),
        // The largest numbers glibc reads (it turns them into -1, unset).
        (b"maxu32", TODAY, Outcome::Authenticated),
    ];
    for (user, today, expected) in cases {
        assert_eq!(
            &auth.authenticate(user, b"secret", *today),
            expected,
            "{} on day {today}",
            String::from_utf8_lossy(user)
        );
        // A wrong password learns nothing about aging.
        assert_eq!(
            auth.authenticate(user, b"wrong", *today),
            Outcome::WrongPassword
        );
    }
}

/// Every line of the pam16 fixture that glibc 2.36's `sgetspent` refuses
/// (checked with it): the account cannot log in, not even with the right
/// password, and the line is reported.
#[test]
fn lines_glibc_refuses_never_log_in() {
    let auth = pam16();
    for user in [
        // Negative numbers: an expiry of -5 meant "expired" to old
        // pam_unix, "never" to 1.6; glibc refuses the line.
        &b"negexpire"[..],
        b"minusone",
        b"neglast",
        // A CR: at the line end (CRLF) or inside a field.
        b"crlf",
        b"midcr",
        // A day count over 32 bits, and a ninth field that is no number.
        b"toobig",
        b"badflag",
        // The first line with the name is malformed; a later good one does
        // not rescue it.
        b"dupbad",
        // The hash is in passwd, but the shadow line is malformed.
        b"inpasswd",
    ] {
        for password in [&b"secret"[..], b"wrong"] {
            assert_eq!(
                auth.authenticate(user, password, TODAY),
                Outcome::MissingShadowEntry,
                "{}",
                String::from_utf8_lossy(user)
            );
        }
        let account = auth.db().get(user).expect("the passwd entry is fine");
        assert!(account.shadow_malformed);
    }
    // A malformed line after a good one is ignored, as any later duplicate.
    assert_eq!(
        auth.authenticate(b"goodfirst", b"secret", TODAY),
        Outcome::Authenticated
    );
    let lines: Vec<usize> = auth
        .db()
        .problems()
        .iter()
        .map(|problem| match problem {
            EntryError::MalformedLine {
                file: FileKind::Shadow,
                line,
                ..
            } => *line,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lines, [8, 9, 10, 11, 12, 13, 14, 15, 17, 19]);
    assert_eq!(
        auth.db().problems()[0].to_string(),
        "shadow line 8 is malformed: expiry date is not a number from 0 to 4294967295"
    );
    assert_eq!(
        auth.db().problems()[3].to_string(),
        "shadow line 11 is malformed: line contains a carriage return"
    );
}

/// `today - last` overflowed on day i64::MIN, a panic in debug builds
/// (these tests run with overflow checks). Every account of both fixtures,
/// on the most extreme days.
#[test]
fn regression_extreme_days_never_panic() {
    let days = [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX];
    // Refusals do not depend on the day; a yescrypt ceiling below alice's
    // hash makes their dummy sha512crypt, and this test fast.
    let mut cheap = Policy::default();
    cheap.cost_limits.max_yescrypt_memory = 1 << 20;
    for auth in [authenticator(cheap), pam16()] {
        let names: Vec<Bytes> = auth.db().iter().map(|a| a.name.clone()).collect();
        for name in &names {
            for today in days {
                let _ = auth.authenticate(name, b"secret", today);
            }
        }
    }
    let auth = pam16();
    // On day i64::MIN every last change is in the future.
    assert_eq!(
        auth.authenticate(b"inactday", b"secret", i64::MIN),
        Outcome::Authenticated
    );
    assert_eq!(
        auth.authenticate(b"inactday", b"secret", i64::MAX),
        Outcome::PasswordExpired
    );
    assert_eq!(
        auth.authenticate(b"maxu32", b"secret", i64::MAX),
        Outcome::AccountExpired
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
        [
            EntryError::MalformedLine {
                file: FileKind::Passwd,
                line: 26,
                reason: "user id is not a number"
            },
            EntryError::MalformedLine {
                file: FileKind::Shadow,
                line: 19,
                reason: "line contains a carriage return"
            },
        ]
    );
}

/// The article's loop answered 0 as soon as the *first* line's user did not
/// match, so only the first user in the file could ever log in.
#[test]
fn regression_every_user_is_found_not_just_the_first() {
    let auth = authenticator(Policy::default());
    for user in [&b"alice"[..], b"bob", b"walter", b"j\xf6rg"] {
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
    lineproto::testing::transmitted(steps)
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
    let client = passwd_auth::client::Client::new(
        b"john",
        lineproto::Secret::new(b"hunter2-secret".to_vec()),
        passwd_auth::client::Options::default(),
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
