//! The results: one row per target, rendered as the results section of `BENCHMARKS.md`
//! (between two marker comments, so the hand-written parts of the file stay as they are).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::scenario::ms;
use crate::wake::Wake;

/// Where the generated section starts.
pub const BEGIN: &str =
    "<!-- results:begin (written by `just bench`; edits here are overwritten) -->";
/// Where it ends.
pub const END: &str = "<!-- results:end -->";

/// Whether a measurement met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met.
    Pass,
    /// Missed.
    Fail,
    /// The scenario could not produce the number (it says why).
    Incomplete,
}

impl Verdict {
    /// Pass when `ok`.
    pub fn of(ok: bool) -> Self {
        if ok { Self::Pass } else { Self::Fail }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "**FAIL**",
            Self::Incomplete => "**incomplete**",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row name.
    pub what: String,
    /// The target, as the issue words it.
    pub target: String,
    /// The measured medians.
    pub measured: String,
    /// Their spread.
    pub spread: String,
    /// Met or not.
    pub verdict: Verdict,
    /// The peers' numbers from the issue, and how we compare.
    pub peers: String,
}

/// The machine the numbers come from.
#[derive(Debug, Clone)]
pub struct Machine {
    /// `nproc`.
    pub cores: usize,
    /// CPU model.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// Memory in GiB.
    pub memory_gib: u64,
}

impl Machine {
    /// Reads the machine's description.
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel: rustix::system::uname().release().to_string_lossy().into_owned(),
            memory_gib: mem_kb.div_ceil(1 << 20),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Report {
    /// How it was run.
    pub command: String,
    /// Where.
    pub machine: Machine,
    /// The wake-up yardstick at the start and at the end of the run (or why it failed).
    pub wake: [Result<Wake, String>; 2],
    /// When (UTC).
    pub date: String,
    /// The table.
    pub rows: Vec<Row>,
    /// Per-scenario details: raw numbers per round, what was run exactly.
    pub details: Vec<(String, Vec<String>)>,
}

/// Today and now in UTC, `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// One wake-up measurement in words.
fn wake_cell(w: &Result<Wake, String>) -> String {
    match w {
        Ok(w) => format!(
            "p50 {} / p99 {} with the scheduler free to pick the core, p50 {} / p99 {} with \
             both on one core (n = {})",
            ms(w.free.p50),
            ms(w.free.p99),
            ms(w.one_core.p50),
            ms(w.one_core.p99),
            w.free.n
        ),
        Err(e) => format!("not measured ({e})"),
    }
}

/// The results section, markers included.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "{BEGIN}\n");
    let _ = writeln!(s, "- Command: `{}`", r.command);
    let _ = writeln!(
        s,
        "- Machine: {} cores (`nproc`), {}, {} GiB, Linux {}",
        m.cores, m.cpu, m.memory_gib, m.kernel
    );
    let _ = writeln!(
        s,
        "- Waking another process (a byte through a pipe to `cat` and back after {} ms of \
         quiet; each latency row is a chain of such hand-offs): at the start {}; at the end {}",
        crate::wake::PAUSE.as_millis(),
        wake_cell(&r.wake[0]),
        wake_cell(&r.wake[1])
    );
    let _ = writeln!(s, "- Date: {}\n", r.date);
    let _ = writeln!(s, "| what | target | measured (median) | spread | result | peers |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for row in &r.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&row.what),
            cell(&row.target),
            cell(&row.measured),
            cell(&row.spread),
            row.verdict.label(),
            cell(&row.peers)
        );
    }
    for (title, lines) in &r.details {
        let _ = writeln!(s, "\n#### {title}\n");
        for l in lines {
            let _ = writeln!(s, "- {l}");
        }
    }
    let _ = writeln!(s, "\n{END}");
    s
}

/// Replaces the results section of the file at `path` (or appends one).
pub fn rewrite(path: &Path, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = splice(&old, section);
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

fn splice(old: &str, section: &str) -> String {
    match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{}{}", &old[..b], section.trim_end(), &old[e + END.len()..])
        }
        _ => format!("{}\n{section}", old.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summarize;

    #[test]
    fn splice_replaces_only_the_marked_section() {
        let old = format!("# Bench\nintro\n{BEGIN}\nold table\n{END}\nafter\n");
        let new = splice(&old, &format!("{BEGIN}\nnew\n{END}\n"));
        assert_eq!(new, format!("# Bench\nintro\n{BEGIN}\nnew\n{END}\nafter\n"));
        let appended = splice("# Bench\n", "X");
        assert_eq!(appended, "# Bench\nX");
    }

    #[test]
    fn dates_are_civil() {
        let d = utc_now();
        assert!(d.len() == 20 && d.ends_with(" UTC") && d.starts_with("20"), "{d}");
    }

    #[test]
    fn table_cells_escape_pipes() {
        let r = Report {
            command: "x".into(),
            machine: Machine { cores: 2, cpu: "c".into(), kernel: "k".into(), memory_gib: 1 },
            wake: [
                Ok(Wake {
                    free: summarize(&[0.5, 2.0]).unwrap(),
                    one_core: summarize(&[0.05]).unwrap(),
                }),
                Err("no cat".into()),
            ],
            date: "d".into(),
            rows: vec![Row {
                what: "a|b".into(),
                target: "t".into(),
                measured: "m".into(),
                spread: "s".into(),
                verdict: Verdict::Fail,
                peers: String::new(),
            }],
            details: vec![],
        };
        let text = render(&r);
        assert!(text.contains("| a\\|b | t | m | s | **FAIL** |  |"), "{text}");
        assert!(
            text.contains("at the start p50 0.50 ms / p99 2.00 ms with the scheduler"),
            "{text}"
        );
        assert!(text.contains("p50 0.05 ms / p99 0.05 ms with both on one core (n = 2)"), "{text}");
        assert!(text.contains("at the end not measured (no cat)"), "{text}");
    }
}
