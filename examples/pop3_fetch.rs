//! Downloads every new message of a POP3 mailbox into a Maildir, and with
//! `--delete` removes it from the server once it is safely stored.
//!
//! - **Storing.** Each message is written to `tmp/` (mode 0600, with LF
//!   line ends unless `--crlf`), fsynced, and renamed into `new/` under a
//!   unique Maildir name. The directory is fsynced too. A partial file is
//!   removed from `tmp/` on any error.
//! - **Remembering, per account.** The message's UIDL is then appended to
//!   `DIR/.pop3_fetch_uidls.USER@HOST:PORT` as one whole line and fsynced,
//!   so the next run fetches only new messages. Each account (user, host
//!   and port) has its own record: mailboxes on different accounts may
//!   share unique ids (Dovecot gives the same ones to mailboxes created in
//!   the same second), and a message recorded by one account is never
//!   skipped, nor deleted, by another. A line torn by a crash is dropped
//!   on the next run. (The single record of older versions,
//!   `.pop3_fetch_uidls`, is not used: it does not say which account its
//!   ids came from. What it lists may be fetched once more.)
//! - **One run per account at a time.** A run holds the lock file
//!   `DIR/.pop3_fetch_lock.USER@HOST:PORT`, which names its process; a
//!   second run for the same account says which process holds it and exits
//!   with status 2. A lock left by a run that was killed is broken by the
//!   next run once its process is gone, and the partial message that run
//!   left in `tmp/` is removed (a run's lock and its file names carry the
//!   same random run id, so no other run's file is ever touched).
//! - **Deleting.** With `--delete`, DELE is sent only for messages whose
//!   file is stored and renamed, in this run or a recorded earlier one.
//!   Deletion takes effect at QUIT. Kill it at any point: no message is
//!   lost, and none is deleted on the server before it is on disk. A kill
//!   between the rename and the UIDL record can at worst store a message
//!   twice.
//! - **Unique ids the server gets wrong.** An id that is not RFC 1939's
//!   (1 to 70 characters from 0x21 to 0x7E; `1 abc def` is not `abc`) is
//!   an error for its message: it is reported and left on the server.
//!   Messages that share an id are fetched (again, if the set changed) and
//!   never deleted; with `--delete`, each run says so on stderr (the run
//!   that fetches them fails, the later ones only note it). A server
//!   without UIDL has every message fetched, every time, and `--delete` is
//!   refused.
//! - **Failures one message at a time.** A message the server refuses to
//!   send (`-ERR` to RETR) is reported and left on the server; the others
//!   are stored, and QUIT is sent so that their deletions take effect.
//! - **Bounded, whatever the server says.** The bytes of a message are
//!   counted as they arrive, and the message is stopped once they pass
//!   what an honest server can send: twice LIST's size and a line end
//!   (see [`Limits`]), `--max-size`, or 1 GiB when neither bounds it. Its
//!   partial file is removed, and the connection is dropped without QUIT
//!   (the server is not in a state to take another command), so nothing is
//!   deleted on the server in that run; the messages stored before it are
//!   kept and recorded.
//!
//! Messages are pipelined when the server allows it (`--no-pipelining` for
//! servers that advertise it and get it wrong), and streamed to disk: a
//! large message is never held in memory. A progress bar is shown on
//! stderr when it is a terminal. What the server says is printed with its
//! control characters escaped. TLS (`--tls`, `--starttls`) trusts whom
//! `pop3_count`'s does: the system's CA certificates, `--ca-file` or
//! `--fingerprint`; it logs in as `pop3_count` does too (the strongest
//! method, `--sasl`, `--allow-plaintext`, `POP3_TOKEN`, `--token-command`).
//!
//! ```text
//! cargo run --example pop3_fetch -- --maildir /tmp/mail          # the demo mailbox
//! POP3_PASSWORD=... cargo run --example pop3_fetch -- --host mail.example.org --tls --user john --maildir ~/Maildir
//! ```

mod cli;
mod pop3_common;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use pop3_client::blocking::{Pop3Client, Pop3Error};
use pop3_client::session::{ListedId, Retrieved, check_unique_ids};
use pop3_common::{ConnectArgs, Failure, escape, escape_bytes};

const AFTER_HELP: &str = concat!(
    "\
Exit status:
  0  every new message was stored (and, with --delete, deleted on the server)
  1  the server said no (to the login, to a message, to UIDL with --delete),
     or some message was not stored, or with --delete some message fetched
     was not deleted (its unique id is shared): the reasons are on stderr.
     A message that grows past what LIST said it is (2 x its size + 2
     bytes, for the line ends) or past --max-size is stopped, and the
     connection dropped without QUIT: nothing is deleted on the server in
     that run, and the messages stored before it are kept
  2  a usage or local error (a bad flag, the Maildir, another run holding the
     account's lock, no user name, no terminal to ask for the password, an
     unknown --sasl name, a --token-command that failed, timed out or
     printed nothing)",
    pop3_common::shared_help!()
);

/// Downloads the new messages of a POP3 mailbox into a Maildir, and with
/// --delete removes them from the server once they are stored.
#[derive(Debug, Parser)]
#[command(name = "pop3_fetch", version, after_help = AFTER_HELP)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The Maildir to store messages in (created if missing, mode 0700).
    #[arg(long)]
    maildir: PathBuf,
    /// Delete each message on the server once it is stored.
    #[arg(long)]
    delete: bool,
    /// Store messages with the CRLF line ends of the wire (default: LF, as
    /// Maildir readers expect).
    #[arg(long)]
    crlf: bool,
    /// Skip messages larger than this many bytes as LIST reports them;
    /// they are reported and left on the server. A message found larger
    /// only as it arrives (more than BYTES with its line ends counted as
    /// one byte, its last line end aside: a server that refuses LIST, or
    /// lies) is stopped there and the run ends with status 1, as for a
    /// server that sends more than LIST said. Without it, a message LIST
    /// gives no size for is stopped past 1 GiB.
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,
    /// Send one command at a time even if the server advertises
    /// PIPELINING. Use it when a run reports messages whose size disagrees
    /// with LIST: a server that answers pipelined commands out of order
    /// does that (such messages are kept, but neither recorded nor
    /// deleted).
    #[arg(long)]
    no_pipelining: bool,
}

/// The record of fetched unique ids, one per account: `PREFIX` + account.
const RECORD_PREFIX: &str = ".pop3_fetch_uidls.";
/// The lock of one account's runs: `PREFIX` + account.
const LOCK_PREFIX: &str = ".pop3_fetch_lock.";
/// The record of older versions, for every account at once.
const OLD_RECORD: &str = ".pop3_fetch_uidls";

fn main() -> ExitCode {
    let args: Args = cli::parse();
    match fetch(&args) {
        Ok(outcome) => {
            println!(
                "{} new messages fetched, {} deleted on the server",
                outcome.fetched, outcome.deleted
            );
            if outcome.failed {
                ExitCode::from(cli::REFUSED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(failure) => pop3_common::report("pop3_fetch", &failure),
    }
}

/// How a run went, short of failing as a whole.
#[derive(Debug, Default)]
struct Outcome {
    fetched: usize,
    deleted: usize,
    /// Some message was not stored or not deleted because the server said
    /// no or broke the protocol (already reported on stderr).
    failed: bool,
    /// A message was stopped for sending too much: the session is dropped
    /// without DELE or QUIT.
    dropped: bool,
}

impl Outcome {
    /// Reports a message that failed.
    fn problem(&mut self, text: &str) {
        eprintln!("pop3_fetch: {text}");
        self.failed = true;
    }
}

/// Says something worth knowing that is not a failure.
fn note(text: &str) {
    eprintln!("pop3_fetch: {text}");
}

/// What to do with each listed message.
#[derive(Debug, Default)]
struct Plan {
    /// Messages to fetch, in the server's order.
    fetch: Vec<u32>,
    /// Messages stored by an earlier run, to delete with `--delete`.
    delete_known: Vec<u32>,
    /// The id to record for a fetched message, and whether the listing
    /// shares it with other messages.
    id_of: HashMap<u32, (Bytes, bool)>,
    /// Shared ids: how many of their messages are still to be stored in
    /// this run before the id is recorded (once per message).
    shared_left: HashMap<Bytes, usize>,
    /// The sizes LIST gave, if it answered.
    sizes: Option<HashMap<u32, u64>>,
    /// Messages stored whose size disagreed with LIST: perhaps another
    /// message's answer. Neither recorded nor deleted.
    unverified: Vec<u32>,
}

fn fetch(args: &Args) -> Result<Outcome, Failure> {
    // The Maildir first: a local error is reported before the demo server
    // starts or any connection opens.
    let maildir = Maildir::open(&args.maildir).map_err(|source| Failure::Maildir {
        path: args.maildir.display().to_string(),
        source,
    })?;
    let mut target = pop3_common::target(&args.connect, "pop3_fetch")?;
    if args.no_pipelining {
        target.set_pipelining(false);
    }
    let account = target.account();
    let _lock = maildir.lock(&account)?;
    let mut record = maildir.record(&account).map_err(Failure::Store)?;

    let mut pop = pop3_common::open(target)?;
    let mut outcome = Outcome::default();
    // CAPA after login tells the machine whether it may pipeline. A -ERR
    // means no capabilities, and so no pipelining.
    let pipelined = match pop.capabilities() {
        Ok(capabilities) => capabilities.pipelining() && !args.no_pipelining,
        Err(error) if error.server_error().is_some() => false,
        Err(error) => return Err(error.into()),
    };
    let listing = match pop.uidl() {
        Ok(listing) => Some(listing),
        Err(error) if error.server_error().is_some() => None,
        Err(error) => return Err(error.into()),
    };
    // LIST's sizes check what arrives (a server that answers pipelined
    // commands out of order is caught by them) and --max-size. A server
    // that refuses LIST has its messages bounded only as they arrive, by
    // --max-size or the ceiling (see `Limits`).
    let sizes: Option<HashMap<u32, u64>> = match pop.list() {
        Ok(listing) => Some(listing.into_iter().collect()),
        Err(error) if error.server_error().is_some() => None,
        Err(error) => return Err(error.into()),
    };
    let mut plan = match &listing {
        Some(listing) => plan(listing, &record, args.delete, &mut outcome),
        None => {
            note(if args.delete {
                "the server does not support UIDL, so every message is fetched"
            } else {
                "the server does not support UIDL, so every message is fetched, every time"
            });
            let count = match &sizes {
                Some(sizes) => sizes.keys().copied().max().unwrap_or(0),
                None => pop.stat()?.0,
            };
            Plan {
                fetch: (1..=count).collect(),
                ..Plan::default()
            }
        }
    };
    plan.sizes = sizes;
    if let (Some(max), Some(sizes)) = (args.max_size, &plan.sizes) {
        plan.fetch.retain(|number| match sizes.get(number) {
            Some(&size) if size > max => {
                note(&format!(
                    "message {number} ({size} bytes) is larger than --max-size: \
                     skipped, left on the server"
                ));
                false
            }
            _ => true,
        });
    }

    let stored = retrieve(
        &mut pop,
        &maildir,
        &mut record,
        &mut plan,
        args,
        pipelined,
        &mut outcome,
    )?;
    outcome.fetched = stored.len();
    if outcome.dropped {
        // The server is in the middle of an answer: no command can follow.
        // Dropping the connection makes it discard nothing but the DELE
        // marks, and none was sent.
        return Ok(outcome);
    }

    if args.delete {
        if listing.is_none() {
            outcome.problem(
                "--delete refused: the server does not support UIDL, so a message \
                 cannot be told from the others in the next session, nor known to \
                 be stored; nothing was deleted",
            );
        } else {
            // Only messages whose file is on disk: stored now (and known by
            // an id of their own), or recorded before.
            let stored_now = stored.iter().filter(|number| {
                plan.id_of.get(number).is_some_and(|(_, shared)| !shared)
                    && !plan.unverified.contains(number)
            });
            for &number in plan.delete_known.iter().chain(stored_now) {
                match pop.dele(number) {
                    Ok(()) => outcome.deleted += 1,
                    Err(error) => match error.server_error() {
                        Some(refused) => outcome.problem(&format!(
                            "message {number} was not deleted: the server said {}",
                            escape(&refused.line())
                        )),
                        None => return Err(error.into()),
                    },
                }
            }
        }
    }
    pop.quit()?;
    Ok(outcome)
}

/// Decides, from the UIDL listing and the account's record, which messages
/// to fetch and which were stored before.
fn plan(listing: &[(u32, Bytes)], record: &Record, delete: bool, outcome: &mut Outcome) -> Plan {
    let mut listed_numbers: HashMap<u32, usize> = HashMap::new();
    let mut listed_ids: HashMap<&[u8], usize> = HashMap::new();
    for (number, id) in listing {
        *listed_numbers.entry(*number).or_default() += 1;
        *listed_ids.entry(&id[..]).or_default() += 1;
    }
    let mut plan = Plan::default();
    let mut reported = std::collections::HashSet::new();
    for (number, listed) in check_unique_ids(listing) {
        if listed_numbers[&number] > 1 {
            // None of its listings is fetched; it is reported once.
            if reported.insert(number) {
                outcome.problem(&format!(
                    "message {number} is listed more than once by UIDL: not fetched, \
                     left on the server"
                ));
            }
            continue;
        }
        let (id, shared) = match listed {
            ListedId::Unique(id) => (id, false),
            ListedId::Shared(id) => (id, true),
            ListedId::Invalid(id) => {
                outcome.problem(&format!(
                    "message {number}: its unique id \"{}\" is not one as RFC 1939 has it \
                     (1 to 70 characters from 0x21 to 0x7E): not fetched, left on the server",
                    escape_bytes(&id)
                ));
                continue;
            }
            other => {
                outcome.problem(&format!(
                    "message {number}: its unique id \"{}\" cannot be relied on: \
                     not fetched, left on the server",
                    escape_bytes(other.as_bytes())
                ));
                continue;
            }
        };
        // A shared id stands for all its messages at once: they were
        // stored before if the record holds it once for each of them.
        let listed = listed_ids[&id[..]];
        if record.count(&id) >= listed {
            if delete && !shared {
                plan.delete_known.push(number);
            } else if delete {
                // Not a failure of this run (nothing new is left undone),
                // but --delete asked for it to go: say why it stays.
                note(&format!(
                    "message {number} shares its unique id \"{}\" with another message: \
                     stored before, left on the server",
                    escape_bytes(&id)
                ));
            }
            continue;
        }
        if shared {
            if delete {
                outcome.problem(&format!(
                    "message {number} shares its unique id \"{}\" with another message: \
                     fetched, never deleted",
                    escape_bytes(&id)
                ));
            }
            plan.shared_left.insert(id.clone(), listed);
            // With --delete the run fails: a message is left on the server.
        }
        plan.fetch.push(number);
        plan.id_of.insert(number, (id, shared));
    }
    plan
}

/// Fetches the planned messages into the Maildir, recording each stored
/// one; returns the numbers of those stored. A message the server refuses
/// is reported; anything else that fails ends the run.
fn retrieve(
    pop: &mut Pop3Client,
    maildir: &Maildir,
    record: &mut Record,
    plan: &mut Plan,
    args: &Args,
    pipelined: bool,
    outcome: &mut Outcome,
) -> Result<Vec<u32>, Failure> {
    let progress = indicatif::ProgressBar::new(plan.fetch.len() as u64);
    progress.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let mut files = TmpFiles::new(maildir, !args.crlf);
    let mut stored: Vec<u32> = Vec::new();
    // What arrived so far per message, for its bounds and the size check.
    let mut arrived: HashMap<u32, Arrived> = HashMap::new();
    // A message that passed its bound: what to say.
    let mut too_large: Option<(String, &str)> = None;
    // Whether an answer may be another message's.
    let pipelined = pipelined && plan.fetch.len() > 1;
    let result = pop.retr_many(&plan.fetch, |part| match part {
        Retrieved::Data { number, chunk } => {
            let so_far = arrived.entry(number).or_default();
            so_far.add(&chunk);
            let limits = Limits {
                listed: plan
                    .sizes
                    .as_ref()
                    .and_then(|sizes| sizes.get(&number).copied()),
                max_size: args.max_size,
            };
            if let Some((bound, listed)) = limits.passed(so_far) {
                // Checked before writing: nothing past the bound is written.
                let hint = if listed && pipelined {
                    ". (It may be another message's answer: servers that answer \
                     pipelined commands out of order do this; try --no-pipelining)"
                } else {
                    ""
                };
                too_large = Some((format!("message {number}: the server sent {bound}"), hint));
                return Err(io::Error::other("message larger than its bound"));
            }
            files.write(number, &chunk)
        }
        Retrieved::End { number, octets } => {
            files.deliver(number)?;
            stored.push(number);
            let ends = arrived.remove(&number).unwrap_or_default().line_ends;
            let listed = plan.sizes.as_ref().and_then(|sizes| sizes.get(&number));
            if let Some(&listed) = listed.filter(|&&listed| !size_agrees(listed, octets, ends)) {
                // Kept, since it is some message of the mailbox; but not
                // known to be this one, so it is neither recorded nor
                // deleted, and the next run fetches this one again.
                plan.unverified.push(number);
                outcome.problem(&format!(
                    "message {number}: the server sent {octets} bytes where LIST said \
                     {listed}, so it may be another message's answer (servers that answer \
                     pipelined commands out of order do this; try --no-pipelining): \
                     stored, but not recorded or deleted, and fetched again next time"
                ));
                progress.inc(1);
                return Ok(());
            }
            match plan.id_of.get(&number) {
                Some((id, false)) => record.add(id, 1)?,
                Some((id, true)) => {
                    // Recorded once every message sharing it is stored.
                    let left = plan.shared_left.get_mut(id).map(|left| {
                        *left -= 1;
                        *left
                    });
                    if left == Some(0) {
                        let listed = plan
                            .fetch
                            .iter()
                            .filter(|n| plan.id_of.get(n).is_some_and(|(other, _)| other == id));
                        record.add(id, listed.count())?;
                    }
                }
                None => {}
            }
            progress.inc(1);
            Ok(())
        }
    });
    progress.finish_and_clear();
    // Partial files go now, whatever happened.
    drop(files);
    if let Some((text, hint)) = too_large {
        let before = match stored.len() {
            0 => String::new(),
            1 => "; the message stored before it is kept".into(),
            n => format!("; the {n} messages stored before it are kept"),
        };
        outcome.problem(&format!(
            "{text}: stopped there and not stored, left on the server. The \
             connection is dropped without QUIT, so nothing is deleted on the server \
             in this run{before}{hint}"
        ));
        outcome.dropped = true;
        return Ok(stored);
    }
    match result {
        Ok(()) => {}
        Err(error) if error.server_error().is_some_and(|e| e.command == "RETR") => {
            let refused: Vec<String> = plan
                .fetch
                .iter()
                .filter(|number| !stored.contains(number))
                .map(u32::to_string)
                .collect();
            let line = escape(&error.server_error().map(|e| e.line()).unwrap_or_default());
            outcome.problem(&match refused.len() {
                1 => format!(
                    "the server refused message {} ({line}); it is left on the server",
                    refused[0]
                ),
                _ => format!(
                    "the server refused messages {} (the first: {line}); they are left on \
                     the server",
                    refused.join(", ")
                ),
            });
        }
        Err(Pop3Error::Output(error)) => return Err(Failure::Store(error)),
        Err(error) => return Err(error.into()),
    }
    Ok(stored)
}

/// The most of a message a run takes, when LIST gives no size and no
/// `--max-size` is given: far above what mail systems accept (25 to 150
/// MB for the large providers), and still a bound on the disk one lying
/// server can fill.
const CEILING: u64 = 1 << 30;

/// What has arrived of a message so far.
#[derive(Debug, Default)]
struct Arrived {
    /// Bytes as sent (dot-unstuffed, the server's line ends).
    octets: u64,
    /// Line feeds among them.
    line_ends: u64,
    /// CR LF pairs among them.
    crlf: u64,
    /// The last byte.
    last: Option<u8>,
}

impl Arrived {
    fn add(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            if byte == b'\n' {
                self.line_ends += 1;
                if self.last == Some(b'\r') {
                    self.crlf += 1;
                }
            }
            self.last = Some(byte);
        }
        self.octets += chunk.len() as u64;
    }

    /// The size with every line end counted as one byte, a line end it
    /// ends with (or the CR of one) aside: what the message is at most, as
    /// stored and counted by an honest LIST, so far.
    fn lf_size(&self) -> u64 {
        let trailing = matches!(self.last, Some(b'\n' | b'\r'));
        self.octets - self.crlf - u64::from(trailing)
    }
}

/// The bounds of one message as it arrives.
///
/// - LIST's size `s`: an honest server counts each line end as stored, as
///   one byte (LF) or two (CR LF), and sends each as CR LF, so a stored
///   message of `s` bytes is sent as at most `2s` (every byte a LF), and
///   one that lacks a final line end gets one added (CR LF, 2 bytes more:
///   Dovecot does). Dot-stuffing is undone before counting. So more than
///   `2s + 2` bytes is never an honest answer; `size_agrees` then judges
///   the whole message more finely.
/// - `--max-size`: LIST's size of a message it lets through is at most
///   `--max-size`; counted with one byte a line end (the least any server
///   counts) and its last line end aside (which the server may add), what
///   arrives is no more. The same count bounds a message LIST gave no size
///   for.
/// - Neither: [`CEILING`].
struct Limits {
    listed: Option<u64>,
    max_size: Option<u64>,
}

impl Limits {
    /// The bound `so_far` passed, in words, if any, and whether it is
    /// LIST's.
    fn passed(&self, so_far: &Arrived) -> Option<(String, bool)> {
        if let Some(listed) = self.listed {
            let bound = listed.saturating_mul(2).saturating_add(2);
            if so_far.octets > bound {
                return Some((
                    format!(
                        "more than {bound} bytes where LIST said {listed} (2 x {listed} + 2 \
                         is the most an honest server sends)"
                    ),
                    true,
                ));
            }
        }
        if let Some(max) = self.max_size {
            if so_far.lf_size() > max {
                return Some((
                    format!("more than --max-size ({max} bytes, line ends counted as one byte)"),
                    false,
                ));
            }
        } else if self.listed.is_none() && so_far.octets > CEILING {
            return Some((
                format!(
                    "more than {CEILING} bytes (1 GiB, the most taken of a message when \
                     LIST gives no size and no --max-size is given)"
                ),
                false,
            ));
        }
        None
    }
}

/// Whether a message of `octets` bytes with `line_ends` line feeds is the
/// size LIST gave. Servers count line ends as they store them, which need
/// not be how they send them (CRLF sent for LF stored, or the reverse), and
/// may end a message stored without a final line end with one they did
/// not count (Dovecot does: 2 bytes more than LIST said).
fn size_agrees(listed: u64, octets: u64, line_ends: u64) -> bool {
    let as_stored = [
        Some(octets),
        octets.checked_sub(line_ends),
        octets.checked_add(line_ends),
    ];
    as_stored.into_iter().flatten().any(|size| {
        let added_end = |added: u64| size.checked_sub(added) == Some(listed);
        size == listed || added_end(1) || added_end(2)
    })
}

/// A Maildir: where messages are stored, and the per-account records and
/// locks at its root.
struct Maildir {
    root: PathBuf,
    host: String,
    /// This run's id: random, in the lock and in every file name this run
    /// makes, so that its leftovers can be told from anyone else's.
    run: String,
    counter: std::cell::Cell<u64>,
}

impl Maildir {
    fn open(root: &Path) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            create_private_dir(&root.join(sub))?;
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().replace(['/', ':'], "_"))
            .unwrap_or_else(|_| "localhost".into());
        Ok(Self {
            root: root.to_owned(),
            host,
            run: format!("{:016x}", fastrand::u64(..)),
            counter: std::cell::Cell::new(0),
        })
    }

    /// Takes the account's lock, or says who holds it. Having broken the
    /// lock of a killed run, removes what that run left in `tmp/`.
    fn lock(&self, account: &str) -> Result<Lock, Failure> {
        let path = self
            .root
            .join(format!("{LOCK_PREFIX}{}", file_name(account)?));
        let lock =
            Lock::take(path.clone(), &self.host, &self.run).map_err(|error| match error {
                LockError::Held(holder) => Failure::Locked {
                    account: escape(account),
                    holder,
                    path: path.display().to_string(),
                },
                LockError::Io(error) => Failure::Store(error),
            })?;
        for run in &lock.broken {
            self.remove_left_by(run);
        }
        Ok(lock)
    }

    /// Removes the files in `tmp/` that the run with id `run` made, and
    /// says how many went. Called only for a run whose lock was found
    /// stale, so its process is gone and the files are the partial
    /// messages of a run that was killed; without this they would stay
    /// until a Maildir reader cleans `tmp/` (after 36 hours, by the Maildir
    /// convention). The run id, not the process id, picks the files: a
    /// process id can be in use again (by another account's run in the
    /// same Maildir, after a reboot, in another pid namespace). A failure
    /// to remove one is only said: the reader's cleaning still comes.
    fn remove_left_by(&self, run: &str) {
        let tmp = self.root.join("tmp");
        let Ok(entries) = std::fs::read_dir(&tmp) else {
            return;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_str().and_then(|name| made_by(name, &self.host)) != Some(run) {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Another run that broke the same lock got there first.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => note(&format!(
                    "could not remove {}, left by a run that was killed: {error}",
                    entry.path().display()
                )),
            }
        }
        if removed > 0 {
            note(&format!(
                "removed {removed} partial message file(s) from {}, left by a run \
                 that was killed (run {run})",
                tmp.display()
            ));
        }
    }

    /// The account's record of fetched ids (to be opened under its lock).
    fn record(&self, account: &str) -> io::Result<Record> {
        let path = self.root.join(format!(
            "{RECORD_PREFIX}{}",
            file_name(account).map_err(|_| io::Error::other("account name too long"))?
        ));
        if !path.exists() && self.root.join(OLD_RECORD).exists() {
            note(&format!(
                "{} (the record of an older pop3_fetch) is not used: it does not say \
                 which account its messages came from, so they may be fetched once more",
                self.root.join(OLD_RECORD).display()
            ));
        }
        Record::open(&path)
    }

    /// A unique name per the Maildir convention:
    /// `time.M<micros>P<pid>Q<n>R<run>.host`.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!(
            "{}.M{}P{}Q{n}R{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.run,
            self.host
        )
    }

    fn create_tmp(&self) -> io::Result<(File, PathBuf)> {
        let path = self.root.join("tmp").join(self.unique_name());
        let file = open_private(&path, OpenOptions::new().write(true).create_new(true))?;
        Ok((file, path))
    }

    /// fsync the file, rename it into new/, fsync the directory.
    fn deliver(&self, file: File, tmp: &Path) -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        let name = tmp
            .file_name()
            .ok_or_else(|| io::Error::other("no file name"))?;
        std::fs::rename(tmp, self.root.join("new").join(name))?;
        File::open(self.root.join("new"))?.sync_all()
    }
}

/// An account as a file name: `user@host:port`, with any byte but letters,
/// digits and `.-_@:+` written `%XX`.
fn file_name(account: &str) -> Result<String, Failure> {
    let mut name = String::with_capacity(account.len());
    for &b in account.as_bytes() {
        if b.is_ascii_alphanumeric() || b".-_@:+".contains(&b) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > 200 {
        return Err(Failure::Store(io::Error::other(format!(
            "the account {} is too long to name its record",
            escape(account)
        ))));
    }
    Ok(name)
}

/// Creates `path` and its missing parents with mode 0700, whatever the
/// umask. Directories that exist are left as they are.
fn create_private_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => std::fs::set_permissions(path, Permissions::from_mode(0o700)),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        // A file in the way: say which, not "file exists".
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", path.display()),
        )),
        Err(error) => Err(error),
    }
}

/// Opens (creating it if `options` allow, else if missing) a file that
/// only its owner may read and write, whatever the umask.
fn open_private(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let existed = path.exists();
    let file = options.create(true).mode(0o600).open(path)?;
    if !existed {
        file.set_permissions(Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The run id in a file name that [`Maildir::unique_name`] made on
/// `host` (`time.M<micros>P<pid>Q<n>R<run>.host`); `None` for any other
/// name.
fn made_by<'a>(name: &'a str, host: &str) -> Option<&'a str> {
    let (time, rest) = name.split_once('.')?;
    let (unique, name_host) = rest.split_once('.')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if name_host != host || !digits(time) {
        return None;
    }
    let (micros, rest) = unique.strip_prefix('M')?.split_once('P')?;
    let (pid, rest) = rest.split_once('Q')?;
    let (n, run) = rest.split_once('R')?;
    let hex = !run.is_empty() && run.bytes().all(|b| b.is_ascii_hexdigit());
    (digits(micros) && digits(pid) && digits(n) && hex).then_some(run)
}

/// An account's lock: the file `.pop3_fetch_lock.ACCOUNT`, which says who
/// holds it (`pid N start T boot B host H run R`). It is created whole, by
/// a hard link to a file already written (atomic, and failing if the lock
/// exists), so a second run always finds who holds it. It is removed when
/// the run ends. One left by a run that was killed is stale: the next run
/// on this host sees that its process is gone (or is another process with
/// the same pid, or the machine rebooted since) and breaks it.
struct Lock {
    path: PathBuf,
    /// What the file says: ours.
    holder: String,
    /// The run id of each stale lock this run broke to take this one.
    broken: Vec<String>,
}

/// Why the lock was not taken.
enum LockError {
    /// Another run holds it: who, as its lock file says (escaped).
    Held(String),
    Io(io::Error),
}

impl From<io::Error> for LockError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

impl Lock {
    fn take(path: PathBuf, host: &str, run: &str) -> Result<Self, LockError> {
        let pid = std::process::id();
        let holder = format!(
            "pid {pid} start {} boot {} host {host} run {run}\n",
            process_start(pid).unwrap_or_else(|| "-".into()),
            boot_id().unwrap_or_else(|| "-".into())
        );
        let written = PathBuf::from(format!("{}.{pid}.new", path.display()));
        let mut file = open_private(&written, OpenOptions::new().write(true).truncate(true))?;
        file.write_all(holder.as_bytes())?;
        drop(file);
        // A stale lock is broken at most a few times: a run that keeps
        // finding one is racing others that break it, and one of them won.
        let mut taken = Err(LockError::Held("another run, just started".into()));
        let mut broken = Vec::new();
        for _ in 0..3 {
            match std::fs::hard_link(&written, &path) {
                Ok(()) => {
                    taken = Ok(Self {
                        path: path.clone(),
                        holder: holder.clone(),
                        broken: std::mem::take(&mut broken),
                    });
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => {
                    taken = Err(error.into());
                    break;
                }
            }
            let held = match std::fs::read_to_string(&path) {
                Ok(held) => held,
                // Released in the meantime.
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => {
                    taken = Err(error.into());
                    break;
                }
            };
            match liveness(&held, host) {
                Liveness::Stale => match break_stale(&path, &held) {
                    Ok(true) => broken.extend(lock_field(&held, "run").map(str::to_owned)),
                    Ok(false) => {}
                    Err(error) => {
                        taken = Err(error.into());
                        break;
                    }
                },
                Liveness::Alive(who) => {
                    taken = Err(LockError::Held(who));
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(&written);
        taken
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Only our own: never one another run took after breaking ours.
        if std::fs::read_to_string(&self.path).is_ok_and(|held| held == self.holder) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether the run a lock file names is still there.
enum Liveness {
    /// It is, or it cannot be told (another host, no /proc): who, to say.
    Alive(String),
    /// Its process is gone.
    Stale,
}

/// The value of `key` in what a lock file says (`pid N start T ...`).
fn lock_field<'a>(held: &'a str, key: &str) -> Option<&'a str> {
    let mut words = held.split_whitespace();
    while let (Some(name), Some(value)) = (words.next(), words.next()) {
        if name == key {
            return Some(value);
        }
    }
    None
}

fn liveness(held: &str, host: &str) -> Liveness {
    let field = |key| lock_field(held, key).unwrap_or("-");
    let who = escape(&format!("pid {} on {}", field("pid"), field("host")));
    let Ok(pid) = field("pid").parse::<u32>() else {
        return Liveness::Alive(who);
    };
    let checkable = field("host") == host && process_start(std::process::id()).is_some();
    if !checkable {
        return Liveness::Alive(format!("{who}, which cannot be checked from here"));
    }
    if boot_id().is_some_and(|boot| field("boot") != "-" && field("boot") != boot) {
        // The machine has rebooted since.
        return Liveness::Stale;
    }
    match process_start(pid) {
        Some(start) if start == field("start") => Liveness::Alive(who),
        // Gone, or the pid is another process's now.
        _ => Liveness::Stale,
    }
}

/// Removes a stale lock, unless another run took the lock since it was
/// read: the lock is moved aside first (atomic), and put back if it is not
/// the one found stale. Says whether this call removed the stale lock
/// (false: another run broke or released it first, or it was live).
fn break_stale(path: &Path, held: &str) -> io::Result<bool> {
    let aside = PathBuf::from(format!("{}.{}.stale", path.display(), std::process::id()));
    match std::fs::rename(path, &aside) {
        Ok(()) => {}
        // Broken or released by another run.
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    }
    let stale = std::fs::read_to_string(&aside)? == held;
    if !stale {
        // A live lock, taken just now: back it goes. (Should yet another
        // run have taken the lock in this instant, the record stays whole
        // anyway: its lines are appended whole, each by one write.)
        let _ = std::fs::hard_link(&aside, path);
    }
    std::fs::remove_file(&aside)?;
    Ok(stale)
}

/// When process `pid` started (clock ticks after boot, from
/// `/proc/PID/stat`): with the pid, it names the process, since pids are
/// reused.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After `pid (command)`, whose command may hold spaces and parentheses,
    // the start time is the 20th field.
    let after_command = &stat[stat.rfind(')')? + 1..];
    after_command.split_whitespace().nth(19).map(str::to_owned)
}

/// This boot of the machine.
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned())
}

/// The ids fetched for one account: a line each, appended whole by one
/// write and fsynced. An id is there once for each message stored under
/// it.
struct Record {
    file: File,
    counts: HashMap<Vec<u8>, usize>,
}

impl Record {
    fn open(path: &Path) -> io::Result<Self> {
        let mut file = open_private(path, OpenOptions::new().read(true).append(true))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        if text.last().is_some_and(|&b| b != b'\n') {
            // A line torn by a crash (ids hold no line ends): drop it, or
            // the next line would be glued to it.
            let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            text.truncate(whole);
            file.set_len(whole as u64)?;
            file.sync_all()?;
        }
        let mut counts = HashMap::new();
        for id in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            *counts.entry(id.to_vec()).or_default() += 1;
        }
        Ok(Self { file, counts })
    }

    fn count(&self, id: &[u8]) -> usize {
        self.counts.get(id).copied().unwrap_or(0)
    }

    /// Records `id` `times` times, in one write.
    fn add(&mut self, id: &[u8], times: usize) -> io::Result<()> {
        let mut lines = Vec::with_capacity((id.len() + 1) * times);
        for _ in 0..times {
            lines.extend_from_slice(id);
            lines.push(b'\n');
        }
        self.file.write_all(&lines)?;
        self.file.sync_data()?;
        *self.counts.entry(id.to_vec()).or_default() += times;
        Ok(())
    }
}

/// The messages being written into tmp/; whatever is left of them when this
/// is dropped (after an error) is removed.
struct TmpFiles<'a> {
    maildir: &'a Maildir,
    open: HashMap<u32, Tmp>,
    /// Turn CRLF into LF.
    to_lf: bool,
    buffer: Vec<u8>,
}

struct Tmp {
    file: File,
    path: PathBuf,
    /// The chunk before ended with a CR, held back until the next byte
    /// says whether it ends a line.
    held_cr: bool,
}

impl<'a> TmpFiles<'a> {
    fn new(maildir: &'a Maildir, to_lf: bool) -> Self {
        Self {
            maildir,
            open: HashMap::new(),
            to_lf,
            buffer: Vec::new(),
        }
    }

    fn tmp(&mut self, number: u32) -> io::Result<&mut Tmp> {
        Ok(match self.open.entry(number) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(slot) => {
                let (file, path) = self.maildir.create_tmp()?;
                slot.insert(Tmp {
                    file,
                    path,
                    held_cr: false,
                })
            }
        })
    }

    fn write(&mut self, number: u32, chunk: &[u8]) -> io::Result<()> {
        if !self.to_lf {
            return self.tmp(number)?.file.write_all(chunk);
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        let tmp = self.tmp(number)?;
        buffer.clear();
        for &b in chunk {
            if std::mem::take(&mut tmp.held_cr) && b != b'\n' {
                buffer.push(b'\r');
            }
            if b == b'\r' {
                tmp.held_cr = true;
            } else {
                buffer.push(b);
            }
        }
        let written = tmp.file.write_all(&buffer);
        self.buffer = buffer;
        written
    }

    /// Stores message `number` in new/ (an empty message included).
    fn deliver(&mut self, number: u32) -> io::Result<()> {
        self.tmp(number)?;
        let Some(mut tmp) = self.open.remove(&number) else {
            return Err(io::Error::other("no file for the message"));
        };
        let delivered = if tmp.held_cr {
            tmp.file.write_all(b"\r")
        } else {
            Ok(())
        }
        .and_then(|()| self.maildir.deliver(tmp.file, &tmp.path));
        if delivered.is_err() {
            let _ = std::fs::remove_file(&tmp.path);
        }
        delivered
    }
}

impl Drop for TmpFiles<'_> {
    fn drop(&mut self) {
        for tmp in self.open.values() {
            let _ = std::fs::remove_file(&tmp.path);
        }
    }
}

// Run with `cargo test -p examples --example pop3_fetch`.
#[cfg(test)]
mod tests {
    use super::*;

    fn arrived(bytes: &[&[u8]]) -> Arrived {
        let mut arrived = Arrived::default();
        for chunk in bytes {
            arrived.add(chunk);
        }
        arrived
    }

    fn limits(listed: Option<u64>, max_size: Option<u64>) -> Limits {
        Limits { listed, max_size }
    }

    #[test]
    fn the_run_id_is_read_only_from_our_own_unique_names() {
        let maildir = Maildir {
            root: PathBuf::new(),
            host: "mail.example.org".into(),
            run: "00c0ffee".into(),
            counter: std::cell::Cell::new(0),
        };
        let name = maildir.unique_name();
        assert_eq!(made_by(&name, "mail.example.org"), Some("00c0ffee"));
        assert_eq!(made_by(&name, "example.org"), None);
        assert_eq!(
            made_by("1700000000.M5P42Q7Rab12.host", "host"),
            Some("ab12")
        );
        for other in [
            // Another host, or no run id (an older pop3_fetch, another
            // delivery agent): never ours to remove.
            "1700000000.M5P42Q7Rab12.other",
            "1700000000.M5P42Q7.host",
            "1700000000.M5P42Q7R.host",
            "1700000000.M5P42Q7Rxyz.host",
            "1700000000.M5P+42Q7Rab12.host",
            "1700000000.P42Q7Rab12.host",
            "1700000000.M5P42Rab12.host",
            "x.M5P42Q7Rab12.host",
            "1700000000.M5P42Q7Rab12",
            "",
        ] {
            assert_eq!(made_by(other, "host"), None, "{other}");
        }
    }

    #[test]
    fn an_honest_answer_never_passes_its_bounds() {
        // Stored as 4 LFs (LIST: 4), sent as CR LF, with a CR LF added.
        let sent = arrived(&[b"\r\n\r\n\r", b"\n\r\n", b"\r\n"]);
        assert_eq!(sent.octets, 10);
        assert!(limits(Some(4), Some(4)).passed(&sent).is_none());
        // A CR LF split across chunks, the CR last so far.
        let half = arrived(&[b"abcd\r"]);
        assert_eq!(half.lf_size(), 4);
        assert!(limits(None, Some(4)).passed(&half).is_none());
    }

    #[test]
    fn each_bound_is_passed_by_one_byte_more() {
        assert!(
            limits(Some(5), None)
                .passed(&arrived(&[&[b'x'; 12]]))
                .is_none()
        );
        let (text, listed) = limits(Some(5), None)
            .passed(&arrived(&[&[b'x'; 13]]))
            .unwrap_or_default();
        assert!(listed && text.starts_with("more than 12 bytes where LIST said 5"));
        assert!(
            limits(None, Some(7))
                .passed(&arrived(&[b"1234567\r\n"]))
                .is_none()
        );
        let (text, listed) = limits(None, Some(7))
            .passed(&arrived(&[b"12345678"]))
            .unwrap_or_default();
        assert!(!listed && text.starts_with("more than --max-size (7 bytes"));
        // Neither: the ceiling, in raw bytes.
        let mut huge = Arrived {
            octets: CEILING,
            ..Arrived::default()
        };
        assert!(limits(None, None).passed(&huge).is_none());
        huge.add(b"x");
        let (text, _) = limits(None, None).passed(&huge).unwrap_or_default();
        assert!(text.starts_with("more than 1073741824 bytes (1 GiB"));
    }
}
