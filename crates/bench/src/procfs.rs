//! What `/proc` says about a process: resident memory (now and peak) and CPU time used.

use anyhow::{Context as _, Result};

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kb: u64,
    /// `VmHWM`: the peak resident size so far.
    pub hwm_kb: u64,
}

/// Reads `/proc/PID/status`.
pub fn memory(pid: u32) -> Result<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(parse_status(&text))
}

fn parse_status(text: &str) -> Memory {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss_kb: field("VmRSS:"), hwm_kb: field("VmHWM:") }
}

/// CPU seconds (user + system, all threads) a process has used.
pub fn cpu_secs(pid: u32) -> Result<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let ticks = parse_stat_ticks(&text).context("unexpected /proc/PID/stat")?;
    Ok(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// utime + stime: fields 14 and 15, counted after the `)` that ends the command name (which
/// may itself hold spaces and parentheses).
fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is at index N - 3.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Follows a process's CPU time on a thread until it exits, so what it used is known after it
/// is gone (a process that is not our child leaves no rusage behind). Samples every 20 ms: the
/// last few milliseconds before exit may be missing.
pub struct CpuSampler {
    last: std::sync::Arc<std::sync::Mutex<f64>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CpuSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> Self {
        let last = std::sync::Arc::new(std::sync::Mutex::new(cpu_secs(pid).unwrap_or(0.0)));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (last, stop) = (last.clone(), stop.clone());
            move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match cpu_secs(pid) {
                        Ok(s) => *last.lock().unwrap_or_else(|e| e.into_inner()) = s,
                        Err(_) => return, // gone
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        });
        Self { last, stop, thread: Some(thread) }
    }

    /// Stops sampling; the CPU seconds last seen.
    pub fn finish(mut self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let m = parse_status("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n");
        assert_eq!(m, Memory { rss_kb: 1024, hwm_kb: 2048 });
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 111 222 0 0 20";
        assert_eq!(parse_stat_ticks(stat), Some(333));
        assert!(cpu_secs(std::process::id()).unwrap() >= 0.0);
        assert!(memory(std::process::id()).unwrap().rss_kb > 0);
    }
}
