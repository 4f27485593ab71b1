//! Interleaved rounds: after one warm-up each, every contestant makes one timed call per
//! round, A, B, C, A, B, C, ..., so that a disturbance (another process, a frequency
//! change) lands on all of them alike instead of on whoever ran at that moment. Before
//! each timed call the harness waits until the threads of the previous contestant have
//! gone idle (a thread pool that spins after its call would otherwise steal the next
//! contestant's cores), and it records the run delay of the call: how long the
//! benchmark's threads waited for a CPU (see `schedstat.rs`).

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::schedstat::{runnable_tasks, this_thread, TaskTimes};

/// One thing to time: an engine on a problem, a peer in the Python worker, a GEMM.
pub trait Contestant {
    /// Everything before timing: set-up and warm-up calls.
    fn warm_up(&mut self) -> Result<()>;
    /// One timed call: its milliseconds, measured as tightly as the contestant can.
    fn time_once(&mut self) -> Result<f64>;
}

/// The run delay of a contestant's timed calls: how long the watched threads waited on a
/// run queue, against the wall time of those calls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunDelay {
    pub wait_ns: u64,
    pub wall_ns: u64,
}

impl RunDelay {
    /// The wait as a percentage of the wall time (it can pass 100 with several threads).
    pub fn percent(&self) -> f64 {
        if self.wall_ns == 0 {
            0.0
        } else {
            100.0 * self.wait_ns as f64 / self.wall_ns as f64
        }
    }
}

/// What the rounds gave one contestant.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Milliseconds of each timed call, in round order (round 0 first).
    pub times: Vec<f64>,
    /// The first failure (warm-up or a timed call); the contestant sat out the later rounds.
    pub error: Option<String>,
    /// None where the threads' counters cannot be read (not Linux): "n/a".
    pub delay: Option<RunDelay>,
}

/// The order of the timed calls: the contestant index of each, round after round.
pub fn schedule(contestants: usize, rounds: usize) -> impl Iterator<Item = usize> {
    (0..rounds).flat_map(move |_| 0..contestants)
}

/// The processes whose threads the rounds watch: this one and the Python worker.
#[derive(Clone, Debug)]
pub struct Watch {
    pids: Vec<u32>,
}

/// Waiting for quiet: the other threads are idle in this many readings in a row, ...
const QUIET_READINGS: usize = 2;
/// ... this far apart, ...
const QUIET_POLL: Duration = Duration::from_millis(1);
/// ... and never longer than this.
const QUIET_LIMIT: Duration = Duration::from_secs(1);

impl Watch {
    /// This process's threads and those of `others` (the worker's pid).
    pub fn new(others: &[u32]) -> Self {
        Self { pids: std::iter::once(std::process::id()).chain(others.iter().copied()).collect() }
    }

    /// Every watched thread's counters now (None: not readable).
    pub fn read(&self) -> Option<TaskTimes> {
        TaskTimes::read(&self.pids)
    }

    /// Waits (at most [`QUIET_LIMIT`]) until no watched thread but this one is running or
    /// waiting for a CPU, [`QUIET_READINGS`] readings in a row. Returns at once where the
    /// threads' states cannot be read.
    pub fn settle(&self) {
        let me = this_thread();
        let start = Instant::now();
        let mut quiet = 0;
        while quiet < QUIET_READINGS && start.elapsed() < QUIET_LIMIT {
            match runnable_tasks(&self.pids, me) {
                None => return,
                Some(0) => quiet += 1,
                Some(_) => quiet = 0,
            }
            if quiet < QUIET_READINGS {
                std::thread::sleep(QUIET_POLL);
            }
        }
    }
}

/// Warms every contestant up, then runs `rounds` rounds of one timed call each (see
/// [`schedule`]), waiting for quiet threads before each call and recording its run delay.
/// A contestant that fails sits out the rest; the others go on.
pub fn run_rounds(contestants: &mut [&mut dyn Contestant], rounds: usize, watch: &Watch) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = contestants.iter().map(|_| Outcome::default()).collect();
    for (c, out) in contestants.iter_mut().zip(&mut outcomes) {
        if let Err(e) = c.warm_up() {
            out.error = Some(e.to_string());
        }
    }
    let mut readable = true;
    for i in schedule(contestants.len(), rounds) {
        if outcomes[i].error.is_some() {
            continue;
        }
        watch.settle();
        let before = if readable { watch.read() } else { None };
        let t = Instant::now();
        let result = contestants[i].time_once();
        let wall = t.elapsed();
        let after = before.as_ref().and_then(|_| watch.read());
        let out = &mut outcomes[i];
        match result {
            Ok(ms) => out.times.push(ms),
            Err(e) => out.error = Some(e.to_string()),
        }
        match (before, after) {
            (Some(b), Some(a)) => {
                let d = out.delay.get_or_insert_with(RunDelay::default);
                d.wait_ns += a.wait_since(&b);
                d.wall_ns += wall.as_nanos() as u64;
            }
            _ => readable = false,
        }
    }
    if !readable {
        outcomes.iter_mut().for_each(|o| o.delay = None);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn rounds_interleave_the_contestants() {
        let order: Vec<usize> = schedule(3, 2).collect();
        assert_eq!(order, [0, 1, 2, 0, 1, 2]);
        assert_eq!(schedule(0, 4).count(), 0);
        assert_eq!(schedule(2, 0).count(), 0);
    }

    /// A contestant that logs its calls and fails at a given timed call.
    struct Logged<'a> {
        name: char,
        log: &'a RefCell<String>,
        fail_at: Option<usize>,
        calls: usize,
    }

    impl Contestant for Logged<'_> {
        fn warm_up(&mut self) -> Result<()> {
            self.log.borrow_mut().push(self.name.to_ascii_lowercase());
            Ok(())
        }
        fn time_once(&mut self) -> Result<f64> {
            self.calls += 1;
            if self.fail_at == Some(self.calls) {
                return Err(crate::Error::Peer { peer: self.name.into(), message: "gone".into() });
            }
            self.log.borrow_mut().push(self.name);
            Ok(self.calls as f64)
        }
    }

    #[test]
    fn warm_ups_come_first_then_rounds_and_a_failure_sits_out() {
        let log = RefCell::new(String::new());
        let mk = |name, fail_at| Logged { name, log: &log, fail_at, calls: 0 };
        let (mut a, mut b, mut c) = (mk('A', None), mk('B', Some(2)), mk('C', None));
        let out = run_rounds(&mut [&mut a, &mut b, &mut c], 3, &Watch::new(&[]));
        assert_eq!(log.borrow().as_str(), "abcABCACAC");
        assert_eq!(out[0].times, [1.0, 2.0, 3.0]);
        assert_eq!(out[1].times, [1.0]);
        assert_eq!(out[1].error.as_deref(), Some("B: gone"));
        assert!(out[0].error.is_none() && out[2].times.len() == 3);
        if cfg!(target_os = "linux") {
            let d = out[0].delay.expect("Linux has schedstat");
            assert!(d.wall_ns > 0 && d.percent() >= 0.0, "{d:?}");
        }
    }

    #[test]
    fn the_delay_is_a_share_of_the_wall_time() {
        assert_eq!(RunDelay { wait_ns: 5, wall_ns: 100 }.percent(), 5.0);
        assert_eq!(RunDelay { wait_ns: 300, wall_ns: 100 }.percent(), 300.0);
        assert_eq!(RunDelay::default().percent(), 0.0);
    }

    #[test]
    fn settling_waits_for_a_spinning_thread_to_stop() {
        let watch = Watch::new(&[]);
        if watch.read().is_none() {
            return; // not Linux: nothing to wait on
        }
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let spinner = s.spawn(|| {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(60) {
                    std::hint::spin_loop();
                }
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(5));
            watch.settle();
            // Quiet came after the spinner stopped (or the limit passed first).
            assert!(stop.load(std::sync::atomic::Ordering::SeqCst));
            spinner.join().unwrap();
        });
    }
}
