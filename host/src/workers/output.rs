//! Worker output: each pipe is read line by line and handed to an [`OutputSink`], and the
//! last lines are kept for error messages.
//!
//! A task per stream reads until EOF; lines are split at `\n` (a trailing `\r` is dropped)
//! and decoded as lossy UTF-8, so a worker printing binary garbage still shows something.
//! A line longer than [`MAX_LINE_BYTES`] is split, both pieces marked with [`CUT_MARK`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::watch;

/// Lines kept per stream and worker for error messages: enough to show a stack trace's
/// end, few enough that an error stays readable.
pub(super) const TAIL_LINES: usize = 20;

/// Longest line passed to the sink; a longer one is split. Protects the runner's memory
/// from a worker that writes megabytes without a newline.
pub(super) const MAX_LINE_BYTES: usize = 16 * 1024;

/// Marks where a line longer than `MAX_LINE_BYTES` was split: the piece before ends with
/// it, the piece after starts with it. The report's redactor masks any part of a secret
/// next to it, so a split never leaks half a token.
pub use crate::cut::CUT_MARK;

/// Read buffer per pipe: one typical burst of log output per read.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Which pipe of a worker a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The worker's standard output.
    Stdout,
    /// The worker's standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives what the workers print and when one of them dies during the run.
///
/// Called from the supervisor's reader tasks, concurrently for different workers and
/// streams, so implementations lock what they share. Calls must return quickly: a slow
/// sink stalls the pipe and, once the pipe buffer is full, the worker itself.
pub trait OutputSink: Send + Sync + 'static {
    /// One output line of `worker`, without its newline.
    fn line(&self, worker: &str, stream: Stream, line: &str);
    /// `worker` exited on its own while the run was going on (never called during
    /// [`Fleet::stop`](super::Fleet::stop) or after [`Fleet::kill_now`](super::Fleet::kill_now));
    /// `status` reads like `exit status: 1` or `signal: 9 (SIGKILL)`.
    fn exited(&self, worker: &str, status: &str);
}

/// The last [`TAIL_LINES`] lines of each stream of one worker.
#[derive(Debug, Default)]
pub(super) struct OutputTail {
    stdout: Mutex<VecDeque<String>>,
    stderr: Mutex<VecDeque<String>>,
}

impl OutputTail {
    fn ring(&self, stream: Stream) -> &Mutex<VecDeque<String>> {
        match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }

    fn push(&self, stream: Stream, line: &str) {
        // A poisoned lock only means another reader panicked mid-push; the ring is still a
        // valid deque, so keep using it rather than losing the diagnostics.
        let mut ring = self
            .ring(stream)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if ring.len() == TAIL_LINES {
            ring.pop_front();
        }
        ring.push_back(line.to_owned());
    }

    /// The kept lines of `stream`, oldest first.
    pub(super) fn lines(&self, stream: Stream) -> Vec<String> {
        let ring = self
            .ring(stream)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ring.iter().cloned().collect()
    }
}

/// Tells when both pipes of a worker reached EOF, so that error messages and the `exited`
/// report come after the worker's last lines.
#[derive(Debug, Clone)]
pub(super) struct OutputDrain(watch::Receiver<usize>);

impl OutputDrain {
    /// Waits until both readers finished, at most `limit` (a grandchild that keeps the
    /// pipe open would otherwise hold us forever); true if they did.
    pub(super) async fn wait(&self, limit: Duration) -> bool {
        let mut open = self.0.clone();
        matches!(
            tokio::time::timeout(limit, open.wait_for(|n| *n == 0)).await,
            Ok(Ok(_))
        )
    }
}

/// Starts one reader task per pipe, feeding `sink` and `tail`. Must be called inside a
/// tokio runtime.
pub(super) fn forward<O, E>(
    worker: Arc<str>,
    stdout: O,
    stderr: E,
    sink: Arc<dyn OutputSink>,
    tail: Arc<OutputTail>,
) -> OutputDrain
where
    O: AsyncRead + Unpin + Send + 'static,
    E: AsyncRead + Unpin + Send + 'static,
{
    let (open_tx, open_rx) = watch::channel(2usize);
    let open_tx = Arc::new(open_tx);
    for (stream, reader) in [
        (
            Stream::Stdout,
            Box::new(stdout) as Box<dyn AsyncRead + Unpin + Send>,
        ),
        (Stream::Stderr, Box::new(stderr)),
    ] {
        let (worker, sink, tail, open_tx) = (
            Arc::clone(&worker),
            Arc::clone(&sink),
            Arc::clone(&tail),
            Arc::clone(&open_tx),
        );
        tokio::spawn(async move {
            let result = read_lines(reader, |line| {
                tail.push(stream, line);
                sink.line(&worker, stream, line);
            })
            .await;
            if let Err(error) = result {
                tracing::debug!(worker = &*worker, %stream, %error, "worker pipe read failed");
            }
            open_tx.send_modify(|open| *open -= 1);
        });
    }
    OutputDrain(open_rx)
}

/// Calls `on_line` for every line of `reader` until EOF, splitting lines longer than
/// [`MAX_LINE_BYTES`].
pub(super) async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    mut on_line: impl FnMut(&str),
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, reader);
    let mut line: Vec<u8> = Vec::new();
    let mut continued = false;
    let mut emit = |line: &mut Vec<u8>, cut: bool| {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(text);
        if continued || cut {
            let mark = |on: bool| {
                if on {
                    CUT_MARK.to_string()
                } else {
                    String::new()
                }
            };
            on_line(&format!("{}{text}{}", mark(continued), mark(cut)));
        } else {
            on_line(&text);
        }
        continued = cut;
        line.clear();
    };
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            if !line.is_empty() {
                emit(&mut line, false);
            }
            return Ok(());
        }
        let newline = buf.iter().position(|&b| b == b'\n');
        let end = newline.unwrap_or(buf.len());
        let take = end.min(MAX_LINE_BYTES - line.len());
        line.extend_from_slice(&buf[..take]);
        let mut consumed = take;
        if newline.is_some() && take == end {
            consumed += 1;
            emit(&mut line, false);
        } else if line.len() == MAX_LINE_BYTES {
            emit(&mut line, true);
        }
        reader.consume(consumed);
    }
}
