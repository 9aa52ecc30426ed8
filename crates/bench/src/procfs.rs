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
