//! How long the benchmark's threads ran and how long they waited for a CPU (Linux
//! `/proc/<pid>/task/<tid>/schedstat`), so that a timing taken while something else held
//! the cores is flagged, not believed. Elsewhere every reading is None ("n/a").

use std::collections::BTreeMap;

/// The two counters of one task's `schedstat` line `"<on-cpu ns> <run-queue wait ns>
/// <timeslices>"`: nanoseconds spent running, and nanoseconds spent runnable but waiting
/// on a run queue (the run delay). None when the line is not of that form.
pub fn parse_schedstat(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split_whitespace();
    let run = fields.next()?.parse().ok()?;
    let wait = fields.next()?.parse().ok()?;
    fields.next()?.parse::<u64>().ok()?;
    fields.next().is_none().then_some((run, wait))
}

/// One reading of every task (thread) of some processes: `(pid, tid) -> (run ns, wait ns)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskTimes(pub BTreeMap<(u32, u32), (u64, u64)>);

impl TaskTimes {
    /// Reads the tasks of `pids` (this process's own pid included if wanted). None when a
    /// process's task list or its tasks' counters cannot be read (not Linux, no /proc, a
    /// kernel without schedstat, the process is gone); a task that ends while it is read
    /// is left out.
    pub fn read(pids: &[u32]) -> Option<Self> {
        let mut tasks = BTreeMap::new();
        for &pid in pids {
            let count = tasks.len();
            for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
                let Some(tid) = entry.ok().and_then(|e| e.file_name().to_str()?.parse::<u32>().ok()) else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")) else {
                    continue;
                };
                tasks.insert((pid, tid), parse_schedstat(&text)?);
            }
            if tasks.len() == count {
                return None;
            }
        }
        Some(Self(tasks))
    }

    /// Nanoseconds the tasks waited on a run queue since `before` (a task started since
    /// then counts from 0; one that ended since is lost, whatever it waited).
    pub fn wait_since(&self, before: &TaskTimes) -> u64 {
        self.since(before, None, |(_, wait)| wait)
    }

    /// Nanoseconds the tasks ran since `before`, the task `except` left out.
    pub fn run_since(&self, before: &TaskTimes, except: Option<(u32, u32)>) -> u64 {
        self.since(before, except, |(run, _)| run)
    }

    fn since(&self, before: &TaskTimes, except: Option<(u32, u32)>, field: fn((u64, u64)) -> u64) -> u64 {
        self.0
            .iter()
            .filter(|(task, _)| Some(**task) != except)
            .map(|(task, &now)| field(now).saturating_sub(before.0.get(task).map_or(0, |&b| field(b))))
            .sum()
    }
}

/// The scheduler state of a task's `stat` line (`"<tid> (<name>) <state> ..."`): `R`
/// (running or waiting for a CPU), `S` (sleeping), ... The name may hold spaces and
/// parentheses: the state follows the last `)`.
pub fn parse_stat_state(line: &str) -> Option<char> {
    line.rsplit_once(')')?.1.split_whitespace().next()?.chars().next()
}

/// How many tasks of `pids`, the task `except` left out, are running or waiting for a
/// CPU now (state `R`). None where the task lists cannot be read.
pub fn runnable_tasks(pids: &[u32], except: Option<(u32, u32)>) -> Option<usize> {
    let mut runnable = 0;
    for &pid in pids {
        for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let Some(tid) = entry.ok().and_then(|e| e.file_name().to_str()?.parse::<u32>().ok()) else {
                continue;
            };
            if Some((pid, tid)) == except {
                continue;
            }
            let state = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok();
            runnable += usize::from(state.as_deref().and_then(parse_stat_state) == Some('R'));
        }
    }
    Some(runnable)
}

/// This thread's `(pid, tid)` (Linux `/proc/thread-self`), None elsewhere.
pub fn this_thread() -> Option<(u32, u32)> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    let mut parts = link.to_str()?.split('/').filter(|p| !p.is_empty());
    let pid = parts.next()?.parse().ok()?;
    (parts.next()? == "task").then_some(())?;
    Some((pid, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_field_is_the_run_delay() {
        assert_eq!(parse_schedstat("1234567 89012 34\n"), Some((1234567, 89012)));
        assert_eq!(parse_schedstat("0 0 0"), Some((0, 0)));
        for bad in ["", "12 34", "12 x 5", "1 2 3 4", "-1 2 3"] {
            assert_eq!(parse_schedstat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_state_follows_the_name() {
        assert_eq!(parse_stat_state("4242 (bash) S 1 4242 4242 0 -1"), Some('S'));
        assert_eq!(parse_stat_state("7 (pt_main_thread) R 1 2"), Some('R'));
        assert_eq!(parse_stat_state("8 (a) b (c)) D 1"), Some('D'));
        assert_eq!(parse_stat_state("no name here"), None);
        assert_eq!(parse_stat_state("9 (x)"), None);
    }

    #[test]
    fn waits_are_summed_over_tasks_new_tasks_from_zero() {
        let before = TaskTimes([((1, 1), (100, 10)), ((1, 2), (50, 5)), ((1, 3), (7, 7))].into());
        // Task 3 ended (its wait is lost), task 4 started.
        let now = TaskTimes([((1, 1), (300, 40)), ((1, 2), (50, 5)), ((1, 4), (20, 2))].into());
        assert_eq!(now.wait_since(&before), 30 + 2);
        assert_eq!(now.run_since(&before, None), 200 + 20);
        assert_eq!(now.run_since(&before, Some((1, 1))), 20);
    }

    #[test]
    fn this_process_can_be_read_on_linux() {
        let read = TaskTimes::read(&[std::process::id()]);
        assert_eq!(read.is_some(), cfg!(target_os = "linux"), "/proc/<pid>/task/*/schedstat is readable on Linux");
        let Some(t) = read else { return };
        let me = this_thread().expect("Linux has /proc/thread-self");
        assert_eq!(me.0, std::process::id());
        assert!(t.0.contains_key(&me), "{:?} in {:?}", me, t.0.keys());
        // Spinning makes this thread's run time grow.
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let later = TaskTimes::read(&[std::process::id()]).unwrap();
        assert!(later.run_since(&t, None) >= 1_000_000, "{}", later.run_since(&t, None));
        assert_eq!(TaskTimes::read(&[u32::MAX]), None);
        // This thread is running; leaving it out, an idle process has nothing runnable
        // (the test harness's other threads may run: only the count's type is checked).
        assert!(runnable_tasks(&[std::process::id()], None).unwrap() >= 1);
        assert_eq!(runnable_tasks(&[u32::MAX], None), None);
    }
}
