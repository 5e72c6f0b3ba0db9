//! What every example's command line shares, after the manner of ripgrep
//! and cargo: one table of exit codes, usage errors that name the program,
//! errors in words (each cause once, no `(os error 98)`), `HOST:PORT`
//! values checked when parsed, and passwords asked for only where there is
//! a terminal to ask on.
//!
//! The exit codes, written in every example's `--help`:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done |
//! | 1 | the peer said no: a refused login, a POP3 `-ERR` |
//! | 2 | anything else: a usage error (clap's own exit with 2 too), a local error (a missing file, an address in use), or a connection that failed |

#![allow(dead_code)] // each example uses a different part

use std::error::Error;
use std::fmt::Display;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Exit status 1: the peer said no.
pub(crate) const REFUSED: u8 = 1;

/// Exit status 2: a usage or local error, or a connection that failed.
pub(crate) const FAILED: u8 = 2;

/// Parses the command line. `--help` and `--version` print and exit 0; a
/// usage error exits 2 with clap's message, prefixed with the program's
/// name (`auth_client: error: unexpected argument '--bogus' found`), as
/// gcc prefixes its own, so a script's log says who complained.
pub(crate) fn parse<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|error| {
        if !error.use_stderr() {
            error.exit(); // --help, --version: on stdout, status 0
        }
        let command = T::command();
        eprint!("{}: {}", command.get_name(), error.render());
        std::process::exit(error.exit_code());
    })
}

/// Prints `program: error` on stderr and gives exit status 2.
pub(crate) fn fail(program: &str, error: impl Display) -> ExitCode {
    eprintln!("{program}: {error}");
    ExitCode::from(FAILED)
}

/// An error and its sources in words, joined with `: ` (the adapters'
/// errors name only their own layer, so the chain is what tells the whole
/// story). A cause whose words are already there is not repeated, and the
/// operating system's messages lose their `(os error N)` and capital:
/// `cannot listen on 127.0.0.1:1234: address already in use`.
pub(crate) fn chain(error: &dyn Error) -> String {
    let mut text = in_words(&error.to_string());
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = in_words(&cause.to_string());
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `text` with each operating system message (`Address already in use (os
/// error 98)`, as `io::Error` shows one) lower-cased and without its code.
fn in_words(text: &str) -> String {
    const CODE: &str = " (os error ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(CODE) {
        let Some(close) = rest[at..].find(')') else {
            break;
        };
        let before = &rest[..at];
        // The message starts after the last `: ` of the layers above it.
        let start = before.rfind(": ").map_or(0, |colon| colon + 2);
        out.push_str(&before[..start]);
        out.push_str(&lower_first(&before[start..]));
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `No such file` becomes `no such file`; `I/O error` stays as it is.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_owned(),
    }
}

/// A `HOST:PORT` value, checked for its shape when the command line is
/// parsed: an IP address and port (`127.0.0.1:1234`, `[::1]:1234`) or a
/// host name and port (`localhost:1234`, resolved when connecting).
pub(crate) fn host_port(value: &str) -> Result<String, String> {
    if value.parse::<SocketAddr>().is_ok() {
        return Ok(value.to_owned());
    }
    let expected = "expected HOST:PORT, such as 127.0.0.1:1234, localhost:1234 or [::1]:1234";
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(format!("no port: {expected}"));
    };
    if !matches!(port.parse::<u16>(), Ok(1..)) {
        return Err(format!("{port:?} is not a port (1 to 65535): {expected}"));
    }
    let name_like = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if host.is_empty() || !host.chars().all(name_like) {
        return Err(format!("{host:?} is not a host name: {expected}"));
    }
    Ok(value.to_owned())
}

/// Why a password cannot be asked for: stdin is not a terminal (a script,
/// a pipe, a service), so nobody is there to type it. `instead` says where
/// else it may come from (`set AUTH_PASSWORD`).
pub(crate) fn no_terminal(instead: &str) -> Option<String> {
    (!std::io::stdin().is_terminal())
        .then(|| format!("no terminal to ask for the password: {instead}"))
}

/// Asks for a password on the terminal, without echo.
pub(crate) fn ask_password(prompt: &str) -> Result<String, String> {
    rpassword::prompt_password(prompt).map_err(|error| {
        format!(
            "cannot read the password from the terminal: {}",
            chain(&error)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_in_words() {
        let error = std::io::Error::from_raw_os_error(98);
        assert_eq!(chain(&error), "address already in use");
        assert_eq!(
            in_words("cannot read x: I/O error: No such file or directory (os error 2)"),
            "cannot read x: I/O error: no such file or directory"
        );
    }

    #[test]
    fn host_port_takes_addresses_and_names() {
        for good in [
            "127.0.0.1:1234",
            "[::1]:1234",
            "localhost:1234",
            "mail.example.org:995",
        ] {
            assert_eq!(host_port(good).as_deref(), Ok(good));
        }
        for bad in [
            "localhost",
            "::1:1234",
            "host:0",
            "host:x",
            ":1234",
            "a b:1",
        ] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }
}
