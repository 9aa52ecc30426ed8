//! One clock for the harness and the programs it runs in PTYs: `CLOCK_MONOTONIC` in
//! nanoseconds, which every process on the machine reads the same, so a child can stamp when
//! it printed a line and the harness can subtract that from when a phone saw it.

use rustix::time::{ClockId, clock_gettime};

/// Nanoseconds on the machine-wide monotonic clock.
pub fn now_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Milliseconds between two stamps, as the report writes them.
pub fn ms_between(from_ns: u64, to_ns: u64) -> f64 {
    (to_ns as f64 - from_ns as f64) / 1e6
}
