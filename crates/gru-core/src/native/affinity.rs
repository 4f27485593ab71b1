//! Keeps the unit split's helpers off the caller's CPU (Linux; elsewhere nothing happens).
//!
//! The unit split's workers meet at a spinning barrier once per step (a few microseconds).
//! A helper woken from its sleep is often placed by the scheduler on the CPU of the thread
//! that woke it, the caller: the two then take turns on one CPU, each spinning through the
//! other's slice, until the load balancer moves one. Measured on the 2-vCPU AMD host (B1
//! T100 H256 inference, `/proc/<tid>/schedstat` over 2 s of calls): the caller and the
//! helper each waited 200-260 ms for a CPU while the other CPU idled; with the helper's
//! affinity excluding the caller's CPU, 12-31 ms.
//!
//! So a helper, before each task, restricts itself to the CPUs it was allowed when it
//! started minus the one the caller is on ([`keep_off`]); where that leaves none (a
//! process bound to one CPU) it keeps its original set. The caller's own affinity is never
//! touched.

#[cfg(target_os = "linux")]
mod linux {
    use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    use std::cell::{Cell, OnceCell};

    thread_local! {
        /// This thread's CPUs before the first [`keep_off`] (None: not readable).
        static ORIGINAL: OnceCell<Option<CpuSet>> = const { OnceCell::new() };
        /// The CPU the last [`keep_off`] excluded (its set is in force).
        static AVOIDING: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// The CPU this thread runs on now (None where the system cannot say).
    pub(crate) fn current_cpu() -> Option<usize> {
        sched_getcpu().ok()
    }

    /// The CPUs of `set`, `cpu` removed; None when that leaves none.
    pub(crate) fn without(set: &CpuSet, cpu: usize) -> Option<CpuSet> {
        let mut out = *set;
        out.unset(cpu).ok()?;
        (0..CpuSet::count()).any(|c| out.is_set(c).unwrap_or(false)).then_some(out)
    }

    /// Restricts this thread to its original CPUs minus `cpu` (see the module); a failed
    /// system call leaves the affinity as it was (only speed depends on it).
    pub(crate) fn keep_off(cpu: Option<usize>) {
        let Some(cpu) = cpu else { return };
        if AVOIDING.get() == Some(cpu) {
            return;
        }
        let original = ORIGINAL.with(|o| *o.get_or_init(|| sched_getaffinity(Pid::from_raw(0)).ok()));
        let Some(original) = original else { return };
        let target = without(&original, cpu).unwrap_or(original);
        if sched_setaffinity(Pid::from_raw(0), &target).is_ok() {
            AVOIDING.set(Some(cpu));
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_helper_keeps_off_the_callers_cpu_where_it_has_another() {
            let original = sched_getaffinity(Pid::from_raw(0)).expect("readable");
            let allowed: Vec<usize> = (0..CpuSet::count()).filter(|&c| original.is_set(c).unwrap()).collect();
            let caller = allowed[0];
            std::thread::spawn(move || {
                keep_off(Some(caller));
                let now = sched_getaffinity(Pid::from_raw(0)).expect("readable");
                for &c in &allowed {
                    let expected = allowed.len() == 1 || c != caller;
                    assert_eq!(now.is_set(c).unwrap(), expected, "CPU {c}, caller on {caller}");
                }
                if allowed.len() > 1 {
                    assert_ne!(current_cpu(), Some(caller), "the helper still runs on the caller's CPU");
                }
                // The next call's caller on another CPU: the original set minus that one.
                let other = *allowed.last().unwrap();
                keep_off(Some(other));
                let now = sched_getaffinity(Pid::from_raw(0)).expect("readable");
                for &c in &allowed {
                    assert_eq!(now.is_set(c).unwrap(), allowed.len() == 1 || c != other, "CPU {c}");
                }
            })
            .join()
            .expect("the helper thread");
        }

        #[test]
        fn removing_the_only_cpu_leaves_none() {
            let mut one = CpuSet::new();
            one.set(3).unwrap();
            assert!(without(&one, 3).is_none());
            let mut two = one;
            two.set(5).unwrap();
            let left = without(&two, 3).expect("one left");
            assert!(!left.is_set(3).unwrap() && left.is_set(5).unwrap());
        }
    }
}

#[cfg(target_os = "linux")]
pub(crate) use linux::{current_cpu, keep_off};

/// The CPU this thread runs on now: unknown off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn current_cpu() -> Option<usize> {
    None
}

/// Nothing to do off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn keep_off(_cpu: Option<usize>) {}
