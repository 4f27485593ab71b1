//! The unit split's helper threads belong to the prepared engine: two prepared engines run
//! at once from two threads, each on its own helpers, and dropping a prepared engine ends
//! its helpers (the process does not accumulate threads).

use std::sync::Mutex;

use gru_core::{Engine, GruParams, GruSpec, NativeEngine, OutputGrads, Plan, PreparedGru, SequenceBatch};

/// The tests of this file count the process's threads: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const THREADS: usize = 3;
const STEPS: usize = 6;
const BATCH: usize = 2;

fn spec() -> GruSpec {
    GruSpec::new(4, 12)
}

fn params(seed: u32) -> GruParams<f32> {
    let spec = spec();
    let mut p = GruParams::<f32>::zeros(&spec);
    for (i, v) in p.blocks_mut()[0].w_mut().iter_mut().enumerate() {
        *v = ((i as u32 * 7 + seed) % 13) as f32 * 0.05 - 0.3;
    }
    for (i, v) in p.blocks_mut()[0].r_mut().iter_mut().enumerate() {
        *v = ((i as u32 * 5 + seed) % 11) as f32 * 0.04 - 0.2;
    }
    p
}

fn input() -> Vec<f32> {
    (0..STEPS * BATCH * 4).map(|i| (i % 9) as f32 * 0.1 - 0.4).collect()
}

/// A prepared engine that splits the hidden units between `THREADS` workers.
fn prepared(seed: u32, plan: &Plan) -> Box<dyn PreparedGru<f32>> {
    let engine = NativeEngine::with_threads(THREADS).with_unit_split(true);
    engine.prepare(&spec(), &params(seed), plan).expect("valid spec")
}

/// One training call (forward with the unit split, then backward through its workers):
/// the output and the input gradient.
fn train_once(gru: &mut dyn PreparedGru<f32>) -> (Vec<f32>, Vec<f32>) {
    let x = input();
    let (out, saved) = gru.forward_train(&SequenceBatch::new(&x, STEPS, BATCH)).expect("valid batch");
    let grads = gru.backward(saved, &OutputGrads { dy: &out.y, dh_t: None }).expect("valid grads");
    (out.y, grads.dx)
}

/// Threads of this process whose name starts with `gru-unit` (Linux `/proc`; `None`
/// elsewhere).
fn helper_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let named = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("gru-unit"))
        .count();
    Some(named)
}

#[test]
fn two_prepared_engines_run_at_once_on_their_own_helpers() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut a, mut b) = (prepared(1, &Plan::training()), prepared(2, &Plan::training()));
    let (want_a, want_b) = (train_once(&mut *a), train_once(&mut *b));
    assert_ne!(want_a, want_b, "the two engines have different weights");
    let before = helper_threads();
    let (got_a, got_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| (0..20).map(|_| train_once(&mut *a)).collect::<Vec<_>>());
        let tb = s.spawn(|| (0..20).map(|_| train_once(&mut *b)).collect::<Vec<_>>());
        (ta.join().expect("engine a"), tb.join().expect("engine b"))
    });
    for (ga, gb) in got_a.iter().zip(&got_b) {
        assert_eq!(ga, &want_a);
        assert_eq!(gb, &want_b);
    }
    // Each engine keeps its own THREADS - 1 helpers (started by its first call).
    if let (Some(n), Some(after)) = (before, helper_threads()) {
        assert!(n >= 2 * (THREADS - 1), "{n} helper threads for two engines");
        assert!(after <= n, "{after} helper threads after the concurrent calls, {n} before");
    }
}

/// `Threads:` of `/proc/self/status`.
#[cfg(target_os = "linux")]
fn process_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("Threads:")).expect("a Threads line");
    line["Threads:".len()..].trim().parse().expect("a count")
}

#[cfg(target_os = "linux")]
#[test]
fn dropping_prepared_engines_ends_their_helper_threads() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // Helpers of the other test's engines, joined, may still be listed for a moment: the
    // baseline is taken once they are gone.
    for _ in 0..100 {
        if helper_threads() == Some(0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let baseline = process_threads();
    let x = input();
    for round in 0..25 {
        let mut gru = prepared(round, &Plan::inference());
        gru.forward(&SequenceBatch::new(&x, STEPS, BATCH)).expect("valid batch");
        let helpers = helper_threads().expect("Linux /proc");
        assert!(helpers >= THREADS - 1, "round {round}: the unit split started its helpers ({helpers})");
        let mut gru = prepared(round, &Plan::training());
        train_once(&mut *gru);
    }
    // The helpers were joined when their engines were dropped; allow the kernel a moment
    // to retire the last ones, and the test harness one thread of its own (without the
    // joins, 100 helpers would remain).
    let mut now = process_threads();
    for _ in 0..100 {
        if now <= baseline + 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        now = process_threads();
    }
    assert!(now <= baseline + 1, "{now} threads after 50 engines, {baseline} before");
}
