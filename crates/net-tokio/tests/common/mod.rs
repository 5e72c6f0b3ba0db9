//! Tiny machines for the adapter's tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lineproto::{LineBuffer, Machine, Output};

/// Why a test machine failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestError {
    /// A line was too long.
    #[error(transparent)]
    Line(#[from] lineproto::Error),
    /// The peer ended in the middle of a line.
    #[error("end of input inside a line")]
    Truncated,
}

/// Echoes each line back; `quit` ends the session, and so does end of
/// input. With a request deadline, a request (the next complete line) must
/// arrive within it, counted from the end of the previous one (or the
/// start); otherwise it answers `timeout` and ends.
#[derive(Debug)]
pub struct EchoLine {
    lines: LineBuffer,
    eof: bool,
    request_timeout: Option<Duration>,
    /// When the current request started arriving (from the first drain
    /// after the previous reply).
    request_started: Option<Instant>,
    queue: VecDeque<Output<EchoEvent, TestError>>,
    done: bool,
}

/// What an [`EchoLine`] tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoEvent {
    /// A line was echoed.
    Echoed(Bytes),
    /// The request deadline passed.
    TimedOut,
}

impl EchoLine {
    pub fn new(request_timeout: Option<Duration>) -> Self {
        Self {
            lines: LineBuffer::new(1024),
            eof: false,
            request_timeout,
            request_started: None,
            queue: VecDeque::new(),
            done: false,
        }
    }
}

impl Machine for EchoLine {
    type Event = EchoEvent;
    type Error = TestError;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.lines.extend(bytes);
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, now: Instant) -> Output<EchoEvent, TestError> {
        if let Some(output) = self.queue.pop_front() {
            return output;
        }
        if self.done {
            return Output::Done(Ok(()));
        }
        let started = *self.request_started.get_or_insert(now);
        match self.lines.next_line() {
            Some(Ok(line)) if &line[..] == b"quit" => {
                self.done = true;
                Output::Transmit(Bytes::from_static(b"bye\n"))
            }
            Some(Ok(line)) => {
                self.request_started = None;
                let reply = Bytes::from([&line[..], b"\n"].concat());
                self.queue.push_back(Output::Event(EchoEvent::Echoed(line)));
                Output::Transmit(reply)
            }
            Some(Err(error)) => Output::Done(Err(error.into())),
            None if self.eof => match self.lines.finish() {
                None => Output::Done(Ok(())),
                Some(_) => Output::Done(Err(TestError::Truncated)),
            },
            None => match self.request_timeout {
                Some(limit) if now >= started + limit => {
                    self.done = true;
                    self.queue.push_back(Output::Event(EchoEvent::TimedOut));
                    Output::Transmit(Bytes::from_static(b"timeout\n"))
                }
                Some(limit) => Output::Wait {
                    deadline: Some(started + limit),
                },
                None => Output::Wait { deadline: None },
            },
        }
    }
}

/// Sends one line per question and reports each reply line as an event;
/// ends at end of input.
#[derive(Debug)]
pub struct Ask {
    questions: VecDeque<Bytes>,
    lines: LineBuffer,
    eof: bool,
}

impl Ask {
    pub fn new(questions: &[&str]) -> Self {
        Self {
            questions: questions
                .iter()
                .map(|question| Bytes::from(format!("{question}\n")))
                .collect(),
            lines: LineBuffer::new(1024),
            eof: false,
        }
    }
}

impl Machine for Ask {
    type Event = Bytes;
    type Error = TestError;

    fn handle_input(&mut self, bytes: &[u8]) {
        self.lines.extend(bytes);
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_output(&mut self, _now: Instant) -> Output<Bytes, TestError> {
        if let Some(question) = self.questions.pop_front() {
            return Output::Transmit(question);
        }
        match self.lines.next_line() {
            Some(Ok(reply)) => Output::Event(reply),
            Some(Err(error)) => Output::Done(Err(error.into())),
            None if self.eof => Output::Done(Ok(())),
            None => Output::Wait { deadline: None },
        }
    }
}
