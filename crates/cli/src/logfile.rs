//! `cr`'s log file, written by a thread of its own.
//!
//! The session loop and the hook server log as they work ("hook prompt", "permission hook
//! call waiting"). Written in place, each line would be a `write` to the file on the thread
//! that a phone's question is waiting for, and a slow or busy disk (a home directory on NFS,
//! a full page cache) would stall it. Instead a log line is handed to the log thread through a
//! bounded queue; when the queue is full the line is dropped and counted, never waited for,
//! and the count is written once the queue drains.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use tracing_subscriber::fmt::MakeWriter;

/// Log lines waiting for the log thread before new ones are dropped.
pub const QUEUE_LINES: usize = 1024;

/// Where log lines go: cloned into every writer `tracing` asks for.
#[derive(Clone)]
pub struct LogSink {
    queue: SyncSender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

/// Ends the log thread when dropped, after it wrote every line queued before.
pub struct LogGuard {
    thread: Option<JoinHandle<()>>,
    stop: SyncSender<Vec<u8>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // The sinks `tracing` holds keep the queue open; an empty line tells the thread to end.
        let _ = self.stop.send(Vec::new());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the log thread writing to `out`.
pub fn start(out: impl Write + Send + 'static) -> io::Result<(LogSink, LogGuard)> {
    let (queue, lines) = sync_channel(QUEUE_LINES);
    let dropped = Arc::new(AtomicU64::new(0));
    let counted = dropped.clone();
    let thread = std::thread::Builder::new().name("cr-log".into()).spawn(move || {
        crate::pty::lower_thread_priority();
        write_lines(out, &lines, &counted);
    })?;
    let guard = LogGuard { thread: Some(thread), stop: queue.clone() };
    Ok((LogSink { queue, dropped }, guard))
}

fn write_lines(mut out: impl Write, lines: &Receiver<Vec<u8>>, dropped: &AtomicU64) {
    while let Ok(line) = lines.recv() {
        if line.is_empty() {
            break;
        }
        let _ = out.write_all(&line);
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(out, "[cr: {lost} log lines dropped: the log file could not keep up]");
        }
    }
    let _ = out.flush();
}

impl LogSink {
    fn send(&self, line: Vec<u8>) {
        if line.is_empty() {
            return; // the empty line is the guard's stop signal
        }
        match self.queue.try_send(line) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One log event's text, queued when `tracing` is done with it.
pub struct LineWriter {
    sink: LogSink,
    line: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.sink.send(std::mem::take(&mut self.line));
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter { sink: self.clone(), line: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A file stand-in that can be held up, like a stalled disk.
    #[derive(Clone, Default)]
    struct Held {
        text: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Held {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _held = self.gate.lock().unwrap();
            self.text.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(sink: &LogSink, text: &str) {
        let mut w = sink.make_writer();
        // `tracing`'s formatter may write one event in several pieces.
        for piece in text.as_bytes().chunks(3) {
            w.write_all(piece).unwrap();
        }
    }

    #[test]
    fn every_line_is_written_whole_and_in_order_by_the_time_the_guard_drops() {
        let file = Held::default();
        let (sink, guard) = start(file.clone()).unwrap();
        for i in 0..100 {
            log(&sink, &format!("line {i}\n"));
        }
        drop(guard);
        let want: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(file.text.lock().unwrap().clone()).unwrap(), want);
    }

    #[test]
    fn a_stalled_file_never_blocks_the_logger_and_the_loss_is_reported() {
        let file = Held::default();
        let stall = file.gate.lock().unwrap();
        let (sink, guard) = start(file.clone()).unwrap();
        // The thread takes the first line and blocks writing it; the queue fills behind it,
        // and every line after that is dropped at once instead of waiting.
        let lines = QUEUE_LINES + 50;
        for i in 0..lines {
            log(&sink, &format!("line {i}\n"));
        }
        let lost = sink.dropped.load(Ordering::Relaxed);
        assert!((49..=50).contains(&lost), "{lost} dropped");
        drop(stall);
        drop(guard);
        let text = String::from_utf8(file.text.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("line ")).count() as u64,
            lines as u64 - lost
        );
        assert!(
            text.contains(&format!(
                "[cr: {lost} log lines dropped: the log file could not keep up]"
            )),
            "{text}"
        );
    }
}
