//! The wake-up yardstick: how long this machine takes to wake another process and hear back.
//!
//! Every latency row is a chain of hand-offs between threads and processes (the PTY, `cr`'s
//! threads, the relay's, the phone), and each starts after a quiet spell. What one hand-off
//! costs is a property of the machine, not of claude-remote: on a virtual machine whose other
//! core sleeps, waking it goes through the host, and that cost moves from hour to hour. So the
//! report measures it at the start and at the end of each run, the way it measures `script`
//! and a process start: a byte written through a pipe to `cat`, and read back, after a pause.
//! Once with the scheduler free to place `cat` (what the chain gets), once with both pinned to
//! one core (no core to wake), which shows how much of the first is the other core waking.

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

use crate::stats::{Summary, summarize};

/// The quiet before each trip: about what the output scenario leaves between its lines.
pub const PAUSE: Duration = Duration::from_millis(10);

/// The yardstick at one moment of the run, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Wake {
    /// Round trips with the scheduler free to put `cat` on any core.
    pub free: Summary,
    /// Round trips with this thread and `cat` both on one core.
    pub one_core: Summary,
}

/// Measures `trips` round trips each way. Runs on threads of its own, so pinning one of them
/// leaves the caller's threads alone.
pub fn probe(trips: usize) -> Result<Wake> {
    let free = std::thread::spawn(move || round_trips(trips, false));
    let free = free.join().map_err(|_| anyhow::anyhow!("the wake-up probe panicked"))??;
    let pinned = std::thread::spawn(move || round_trips(trips, true));
    let one_core = pinned.join().map_err(|_| anyhow::anyhow!("the wake-up probe panicked"))??;
    Ok(Wake { free, one_core })
}

/// `trips` round trips through `cat`, each after [`PAUSE`]. With `pin`, this thread first
/// binds itself to one core, and `cat` inherits that when it is started from it.
fn round_trips(trips: usize, pin: bool) -> Result<Summary> {
    if pin {
        let allowed = sched_getaffinity(None).context("reading the CPU affinity")?;
        let Some(core) = (0..CpuSet::MAX_CPU).find(|&c| allowed.is_set(c)) else {
            bail!("this thread may run on no CPU");
        };
        let mut one = CpuSet::new();
        one.set(core);
        sched_setaffinity(None, &one).context("pinning the probe to one core")?;
    }
    let mut cat = Cat::start()?;
    let mut samples = Vec::with_capacity(trips);
    let mut byte = [0u8; 1];
    for _ in 0..trips {
        std::thread::sleep(PAUSE);
        let start = Instant::now();
        cat.stdin().write_all(b"x").context("writing to cat")?;
        cat.stdout().read_exact(&mut byte).context("reading from cat")?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    summarize(&samples).context("no round trips")
}

/// `cat` on two pipes, killed when dropped.
struct Cat(Child);

impl Cat {
    fn start() -> Result<Self> {
        let child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting cat for the wake-up probe")?;
        Ok(Self(child))
    }

    fn stdin(&mut self) -> &mut std::process::ChildStdin {
        self.0.stdin.as_mut().expect("piped stdin")
    }

    fn stdout(&mut self) -> &mut std::process::ChildStdout {
        self.0.stdout.as_mut().expect("piped stdout")
    }
}

impl Drop for Cat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_trip_both_ways() {
        let w = probe(5).unwrap();
        for s in [w.free, w.one_core] {
            assert_eq!(s.n, 5);
            // A trip waits for cat's answer: it takes time, and never as long as a second.
            assert!(s.min > 0.0 && s.max < 1000.0, "{s:?}");
            assert!(s.min <= s.p50 && s.p50 <= s.p99 && s.p99 <= s.max, "{s:?}");
        }
    }

    #[test]
    fn the_pinned_probe_runs_on_one_core_only() {
        let cores = std::thread::spawn(|| {
            round_trips(1, true).unwrap();
            sched_getaffinity(None).unwrap().count()
        });
        assert_eq!(cores.join().unwrap(), 1);
    }
}
