//! Counting failed `/api/pair` and `/api/login` attempts per client address. Pure: the caller
//! passes the clock, so the policy is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed attempts allowed per address and window before further attempts get 429.
pub const MAX_FAILURES: u32 = 5;
/// The window failures are counted in. With 60-bit pairing codes and 256-bit tokens, five
/// guesses a minute per address makes guessing hopeless while a typo costs a user nothing.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once. A flood from many addresses evicts the oldest entries instead of
/// growing the relay's memory.
pub const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
}

/// Failure counts per address, bounded to [`MAX_TRACKED`] entries.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    entries: HashMap<IpAddr, Entry>,
}

impl FailureLimiter {
    /// `Err(retry_after)` while `addr` has used up its failures for the current window.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.entries.get(&addr) {
            Some(e) if e.failures >= MAX_FAILURES => {
                let ends = e.window_start + FAILURE_WINDOW;
                if ends > now { Err(ends - now) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// Records one failed attempt from `addr`.
    pub fn fail(&mut self, addr: IpAddr, now: Instant) {
        if !self.entries.contains_key(&addr) && self.entries.len() >= MAX_TRACKED {
            self.evict(now);
        }
        let e = self.entries.entry(addr).or_insert(Entry { window_start: now, failures: 0 });
        if now.duration_since(e.window_start) >= FAILURE_WINDOW {
            *e = Entry { window_start: now, failures: 0 };
        }
        e.failures += 1;
    }

    /// Number of addresses tracked (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict(&mut self, now: Instant) {
        self.entries.retain(|_, e| now.duration_since(e.window_start) < FAILURE_WINDOW);
        if self.entries.len() >= MAX_TRACKED {
            let oldest = self.entries.iter().min_by_key(|(_, e)| e.window_start).map(|(a, _)| *a);
            if let Some(addr) = oldest {
                self.entries.remove(&addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn five_failures_then_blocked_until_the_window_ends() {
        let mut l = FailureLimiter::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(l.check(ip(1), t0), Ok(()), "attempt {i}");
            l.fail(ip(1), t0);
        }
        let later = t0 + Duration::from_secs(20);
        assert_eq!(l.check(ip(1), later), Err(Duration::from_secs(40)));
        assert_eq!(l.check(ip(2), later), Ok(()), "other addresses are not affected");
        assert_eq!(l.check(ip(1), t0 + FAILURE_WINDOW), Ok(()));
        l.fail(ip(1), t0 + FAILURE_WINDOW);
        assert_eq!(l.check(ip(1), t0 + FAILURE_WINDOW), Ok(()), "a new window starts afresh");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_addresses() {
        let mut l = FailureLimiter::default();
        let t0 = Instant::now();
        for n in 0..(MAX_TRACKED as u32 * 3) {
            l.fail(ip(n), t0 + Duration::from_millis(u64::from(n)));
        }
        assert!(l.len() <= MAX_TRACKED, "{} entries", l.len());
        assert!(!l.is_empty());
    }
}
