//! Downloads every new message of a POP3 mailbox into a Maildir, and with
//! `--delete` removes it from the server once it is safely stored.
//!
//! - **Storing.** Each message is written to `tmp/`, fsynced, and renamed
//!   into `new/` under a unique Maildir name. The directory is fsynced too.
//! - **Remembering.** The message's UIDL is then appended to
//!   `DIR/.pop3_fetch_uidls` and fsynced, so the next run fetches only new
//!   messages.
//! - **Deleting.** With `--delete`, DELE is sent only for messages whose
//!   file is stored and renamed, in this run or a recorded earlier one. Deletion takes effect at QUIT. Kill it at
//!   any point: no message is lost, and none is deleted on the server
//!   before it is on disk. A kill between the rename and the UIDL record
//!   can at worst store a message twice.
//!
//! Messages are pipelined when the server allows it, and streamed to disk:
//! a large message is never held in memory. A progress bar is shown on
//! stderr when it is a terminal.
//!
//! ```text
//! cargo run --example pop3_fetch -- --maildir /tmp/mail          # the demo mailbox
//! POP3_PASSWORD=... cargo run --example pop3_fetch -- --host mail.example.org --tls --user john --maildir ~/Maildir
//! ```

mod pop3_common;

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use pop3_client::session::Retrieved;
use pop3_common::{ConnectArgs, Failure};

/// Downloads new messages into a Maildir.
#[derive(Debug, Parser)]
#[command(name = "pop3_fetch", version)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The Maildir to store messages in (created if missing).
    #[arg(long)]
    maildir: PathBuf,
    /// Delete each message on the server once it is stored.
    #[arg(long)]
    delete: bool,
}

const STATE_FILE: &str = ".pop3_fetch_uidls";

fn main() -> ExitCode {
    let args = Args::parse();
    match fetch(&args) {
        Ok((fetched, deleted)) => {
            println!("{fetched} new messages fetched, {deleted} deleted on the server");
            ExitCode::SUCCESS
        }
        Err(failure) => pop3_common::report("pop3_fetch", &failure),
    }
}

fn fetch(args: &Args) -> Result<(usize, usize), Failure> {
    let maildir = Maildir::open(&args.maildir).map_err(Failure::Store)?;
    let known = maildir.known_uidls().map_err(Failure::Store)?;
    let target = pop3_common::target(&args.connect, "pop3_fetch")?;
    let mut pop = pop3_common::open(target)?;
    // CAPA after login tells the machine whether it may pipeline.
    pop.capabilities()?;
    let ids = pop.uidl()?;
    // Messages stored by an earlier run (perhaps one that was killed
    // before it could delete them) are not fetched again.
    let (old, new): (Vec<(u32, bytes::Bytes)>, Vec<_>) =
        ids.into_iter().partition(|(_, id)| known.contains(&id[..]));
    let numbers: Vec<u32> = new.iter().map(|(n, _)| *n).collect();
    let uidl_of: HashMap<u32, bytes::Bytes> = new.iter().cloned().collect();

    let progress = indicatif::ProgressBar::new(numbers.len() as u64);
    progress.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let mut open_files: HashMap<u32, (File, PathBuf)> = HashMap::new();
    let mut stored: Vec<u32> = Vec::new();
    let result = pop.retr_many(&numbers, |part| match part {
        Retrieved::Data { number, chunk } => {
            let (file, _) = match open_files.entry(number) {
                std::collections::hash_map::Entry::Occupied(open) => open.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(maildir.create_tmp()?)
                }
            };
            file.write_all(&chunk)
        }
        Retrieved::End { number } => {
            // An empty message produced no data: create its file now.
            let (file, tmp) = match open_files.remove(&number) {
                Some(open) => open,
                None => maildir.create_tmp()?,
            };
            let uidl = uidl_of.get(&number).cloned().unwrap_or_default();
            maildir.deliver(file, &tmp, &uidl)?;
            stored.push(number);
            progress.inc(1);
            Ok(())
        }
    });
    progress.finish_and_clear();
    result?;
    let mut deleted = 0;
    if args.delete {
        // Only messages whose file is on disk: stored now, or recorded before.
        for number in old.iter().map(|(n, _)| *n).chain(stored.iter().copied()) {
            pop.dele(number)?;
            deleted += 1;
        }
    }
    pop.quit()?;
    Ok((stored.len(), deleted))
}

/// A Maildir and the record of what was fetched into it.
struct Maildir {
    root: PathBuf,
    counter: std::cell::Cell<u64>,
}

impl Maildir {
    fn open(root: &Path) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_owned(),
            counter: std::cell::Cell::new(0),
        })
    }

    fn known_uidls(&self) -> io::Result<HashSet<Vec<u8>>> {
        match std::fs::read(self.root.join(STATE_FILE)) {
            Ok(text) => Ok(text
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(HashSet::new()),
            Err(error) => Err(error),
        }
    }

    /// A unique name per the Maildir convention: `time.M<micros>P<pid>Q<n>.host`.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().replace(['/', ':'], "_"))
            .unwrap_or_else(|_| "localhost".into());
        format!(
            "{}.M{}P{}Q{n}.{host}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id()
        )
    }

    fn create_tmp(&self) -> io::Result<(File, PathBuf)> {
        let path = self.root.join("tmp").join(self.unique_name());
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((file, path))
    }

    /// fsync the file, rename it into new/, fsync the directory, then record
    /// its UIDL (and fsync the record).
    fn deliver(&self, file: File, tmp: &Path, uidl: &[u8]) -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        let name = tmp
            .file_name()
            .ok_or_else(|| io::Error::other("no file name"))?;
        std::fs::rename(tmp, self.root.join("new").join(name))?;
        File::open(self.root.join("new"))?.sync_all()?;
        let mut state = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join(STATE_FILE))?;
        state.write_all(uidl)?;
        state.write_all(b"\n")?;
        state.sync_all()
    }
}
