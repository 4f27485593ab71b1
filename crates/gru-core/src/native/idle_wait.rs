//! How an idle worker thread waits for its next piece of work (the unit split's helpers,
//! `helpers.rs`; the stream step's team, `step_team.rs`): it spins, looking at its work
//! source between spins, and gives its core away from time to time, until it has waited
//! long enough that sleeping costs less than spinning on.
//!
//! ```text
//! idle < SPIN_ONLY           spin               (back-to-back calls: a step is microseconds)
//! SPIN_ONLY <= idle < budget spin, and yield the core every LOOKS_PER_YIELD looks
//! idle >= budget             sleep              (the caller wakes the thread: tens of µs)
//! ```
//!
//! Why yield at all: a thread that spins keeps its core from any other thread that wants
//! it (the caller's own work between two calls, another process), for up to the budget
//! after every call. A yield with nothing else to run costs one system call; the
//! looks between two yields keep the delay to notice new work at about a spin.

use std::hint::spin_loop;
use std::time::{Duration, Instant};

/// How long an idle worker spins without yielding: longer than the gap between two steps
/// called back to back.
const SPIN_ONLY: Duration = Duration::from_micros(20);
/// Looks at the work source between two looks at the clock (and, past [`SPIN_ONLY`], two
/// yields).
const LOOKS_PER_YIELD: u32 = 64;

/// The idle wait of one worker, from the end of its last piece of work.
pub(crate) struct IdleWait {
    since: Instant,
    budget: Duration,
    looks: u32,
}

impl IdleWait {
    /// A wait that gives up (the worker should sleep) after `budget`.
    pub(crate) fn new(budget: Duration) -> Self {
        Self { since: Instant::now(), budget, looks: 0 }
    }

    /// Pauses between two looks at the work source: spins, or yields the core now and
    /// then; `false` once the budget is spent.
    pub(crate) fn pause(&mut self) -> bool {
        self.looks = self.looks.wrapping_add(1);
        if !self.looks.is_multiple_of(LOOKS_PER_YIELD) {
            spin_loop();
            return true;
        }
        let idle = self.since.elapsed();
        if idle >= self.budget {
            return false;
        }
        if idle < SPIN_ONLY {
            spin_loop();
        } else {
            std::thread::yield_now();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_once_its_budget_is_spent_and_not_before() {
        let budget = Duration::from_millis(2);
        let mut wait = IdleWait::new(budget);
        let start = Instant::now();
        let mut pauses = 0u64;
        while wait.pause() {
            pauses += 1;
        }
        assert!(start.elapsed() >= budget, "gave up after {:?}", start.elapsed());
        assert!(pauses > u64::from(LOOKS_PER_YIELD), "{pauses} pauses");
    }

    #[test]
    fn a_zero_budget_ends_at_the_first_look_at_the_clock() {
        let mut wait = IdleWait::new(Duration::ZERO);
        let pauses = std::iter::from_fn(|| wait.pause().then_some(())).count();
        assert_eq!(pauses, LOOKS_PER_YIELD as usize - 1);
    }
}
