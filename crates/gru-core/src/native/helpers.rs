//! Persistent helper threads for the unit split (`units.rs`, `units_train.rs`), whose
//! workers meet at a spinning barrier once per step.
//!
//! Why not scoped threads spawned per call: a new thread starts on its parent's core, and
//! two workers spinning for each other on one core lose a scheduler slice per step until
//! the kernel migrates one (measured: B1 T100 H256 went from 0.7 ms to 4.8 ms per call
//! when called back to back). Persistent threads stay spread over the cores, and each
//! keeps off the CPU of the caller that sent its task (`affinity.rs`: a helper woken from
//! its sleep is otherwise often placed beside the caller). Idle helpers poll for the next
//! task for [`SPIN`] (`idle_wait.rs`: spinning, then yielding their core now and then),
//! then sleep on their channel.
//!
//! The helpers belong to a [`WorkerPool`], owned by one prepared engine and passed down
//! explicitly to the unit split (as faer passes its `Par`): no process-global state, two
//! prepared engines never wait for each other, and dropping the engine shuts its helpers
//! down and joins them. The threads start on the first call that needs them. When the pool
//! cannot serve a call (in use, too small, a thread cannot be started) the workers run on
//! scoped threads instead.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::idle_wait::IdleWait;

/// A task for one helper.
pub(crate) type Task = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle helper polls for the next task before it sleeps.
const SPIN: Duration = Duration::from_micros(300);

/// A task and the CPU of the caller that sent it (the helper keeps off it: `affinity.rs`).
type Sent = (Task, Option<usize>);

/// One persistent helper: its task channel and its thread.
struct Helper {
    tasks: Sender<Sent>,
    thread: JoinHandle<()>,
}

/// The persistent helpers of one prepared engine: at most `threads - 1` (the caller is the
/// first worker), started when first needed, shut down and joined on drop.
pub(crate) struct WorkerPool {
    /// Helpers at most.
    capacity: usize,
    helpers: Mutex<Vec<Helper>>,
}

fn helper_loop(rx: Receiver<Sent>) {
    loop {
        let mut wait = IdleWait::new(SPIN);
        let task = loop {
            match rx.try_recv() {
                Ok(task) => break Some(task),
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) if wait.pause() => {}
                Err(TryRecvError::Empty) => break None,
            }
        };
        let (task, caller_cpu) = match task {
            Some(t) => t,
            None => match rx.recv() {
                Ok(t) => t,
                Err(_) => return,
            },
        };
        super::affinity::keep_off(caller_cpu);
        // A panicking task must not take the helper with it (the caller sees its result
        // channel close).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
    }
}

impl WorkerPool {
    /// A pool for an engine of `threads` threads (no thread is started yet).
    pub(crate) fn new(threads: usize) -> Self {
        Self { capacity: threads.saturating_sub(1), helpers: Mutex::new(Vec::new()) }
    }

    /// Runs `tasks` on persistent helpers (one each) while the caller runs `own`; `None`
    /// (and nothing run) when another caller is using the helpers, there are more tasks
    /// than helpers allowed, or a helper cannot be started.
    fn run<R>(&self, tasks: Vec<Task>, own: impl FnOnce() -> R) -> Option<R> {
        if tasks.len() > self.capacity {
            return None;
        }
        let mut helpers = match self.helpers.try_lock() {
            Ok(h) => h,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        while helpers.len() < tasks.len() {
            let (tx, rx) = mpsc::channel::<Sent>();
            let spawned = std::thread::Builder::new()
                .name(format!("gru-unit-{}", helpers.len() + 1))
                .spawn(move || helper_loop(rx));
            match spawned {
                Ok(thread) => helpers.push(Helper { tasks: tx, thread }),
                Err(_) => return None,
            }
        }
        let caller_cpu = super::affinity::current_cpu();
        for (task, helper) in tasks.into_iter().zip(helpers.iter()) {
            if helper.tasks.send((task, caller_cpu)).is_err() {
                // The helper is gone (it cannot be, short of a panic outside its catch);
                // the caller's barrier would wait forever, so this is fatal.
                panic!("a unit-split helper thread exited");
            }
        }
        let out = own();
        drop(helpers);
        Some(out)
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        let helpers = std::mem::take(self.helpers.get_mut().unwrap_or_else(|p| p.into_inner()));
        // Close every channel first (each helper returns from its loop when it sees its
        // channel disconnected), then wait for the threads to end.
        let threads: Vec<JoinHandle<()>> = helpers.into_iter().map(|h| h.thread).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Runs `work(job, k)` for the workers `k < n`: worker 0 on this thread, the others on the
/// persistent helpers of `pool`, or on scoped threads when the pool cannot serve the call.
/// The results in worker order. Panics when a worker did not finish (a panic inside one).
pub(crate) fn run_workers<J, R>(pool: &WorkerPool, job: &Arc<J>, n: usize, work: fn(&J, usize) -> R) -> Vec<R>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let tasks: Vec<Task> = (1..n)
        .map(|k| {
            let (job, tx) = (job.clone(), tx.clone());
            Box::new(move || {
                let _ = tx.send((k, work(&job, k)));
            }) as Task
        })
        .collect();
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    match pool.run(tasks, || work(job, 0)) {
        Some(first) => {
            results[0] = Some(first);
            drop(tx);
            for (k, r) in rx.iter().take(n.saturating_sub(1)) {
                results[k] = Some(r);
            }
        }
        None => {
            let job: &J = job;
            std::thread::scope(|sc| {
                let handles: Vec<_> = (1..n).map(|k| sc.spawn(move || work(job, k))).collect();
                results[0] = Some(work(job, 0));
                for (k, h) in handles.into_iter().enumerate() {
                    results[k + 1] = Some(h.join().expect("a worker thread panicked"));
                }
            });
        }
    }
    results.into_iter().map(|r| r.expect("a unit-split worker did not finish")).collect()
}
