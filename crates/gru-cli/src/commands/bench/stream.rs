//! `gru bench --stream`: the latency of one streaming step (`gru_bench::stream`), B = 1 and
//! 16 streams, H = 128, 256, 512 (I = H), in microseconds: ours (a `StreamSet` on the
//! native engine; on OneDNN too where it loads, which steps through its `forward`) and,
//! with `--compare`, PyTorch `nn.GRUCell`, PyTorch `nn.GRU` over T = 1 with h carried and
//! an onnxruntime session over T = 1 with `Y_h` fed back, in the same interleaved rounds.
//! The `floor` column is what no step can beat where it streams its weights: the time the
//! same threads take to read the step's bytes of W and R (`read_floor_ms`, best of
//! [`FLOOR_REPS`]), measured before each row.

use std::cell::RefCell;

use anyhow::Result;
use gru_bench::rounds::{run_rounds, Contestant, Watch};
use gru_bench::stats::Summary;
use gru_bench::stream::{read_floor_ms, step_weight_bytes, OursStep, STEPS_PER_CALL, STREAM_BATCHES, STREAM_HIDDEN};
use gru_bench::worker::{Job, StepKind, Task, Worker, WorkerRun};
use gru_onednn::OneDnnEngine;

/// Rounds of the read floor (its best is reported).
const FLOOR_REPS: usize = 50;

/// Microseconds of a median (the contestants report milliseconds per step).
fn us(s: &Option<Summary>) -> String {
    s.as_ref().map_or("-".into(), |s| format!("{:.1}", s.median * 1e3))
}

/// The median of `theirs` over ours, as `x.y×`.
fn ratio(theirs: &Option<Summary>, ours: &Option<Summary>) -> String {
    match (theirs, ours) {
        (Some(t), Some(o)) if o.median > 0.0 => format!("{:.1}x", t.median / o.median),
        _ => "-".into(),
    }
}

pub fn run(runs: usize, threads: usize, worker: Option<Worker>) -> Result<()> {
    let watch = Watch::new(&worker.iter().map(Worker::pid).collect::<Vec<_>>());
    let worker = worker.map(RefCell::new);
    let has = |kind: StepKind| worker.as_ref().is_some_and(|w| w.borrow().hello.peer(kind.peer()).is_ok());
    let ours = gru::NativeEngine::with_threads(threads);
    let onednn = OneDnnEngine::load().inspect_err(|e| outln!("note: OneDNN column: - ({e})")).ok();
    outln!(
        "one streaming step (µs, median of {runs} interleaved rounds of {STEPS_PER_CALL} steps each, h carried), \
         I = H, f32; Korali kernels {}",
        gru::kernel_isa()
    );
    outln!(
        "floor: {threads} threads reading the step's f32 W and R (best of {FLOOR_REPS}); at B = 1 a step \
         streams them and cannot beat it"
    );
    outln!(
        "{:>3} {:>4} | {:>8} {:>8} {:>6} | {:>9} {:>9} {:>9} | {:>7} {:>7} {:>7}",
        "B",
        "H",
        "Korali",
        "OneDNN",
        "floor",
        "GRUCell",
        "GRU T=1",
        "ort T=1",
        "cell/us",
        "gru/us",
        "ort/us"
    );
    let mut notes: Vec<String> = Vec::new();
    for &batch in &STREAM_BATCHES {
        for &hidden in &STREAM_HIDDEN {
            let mut runs_: Vec<Option<Box<dyn Contestant + '_>>> = Vec::new();
            runs_.push(Some(Box::new(OursStep::new(&ours, batch, hidden)?)));
            runs_.push(match &onednn {
                Some(e) => match OursStep::new(e, batch, hidden) {
                    Ok(r) => Some(Box::new(r)),
                    Err(err) => {
                        notes.push(format!("OneDNN B{batch} H{hidden}: {err}"));
                        None
                    }
                },
                None => None,
            });
            for kind in [StepKind::Cell, StepKind::Gru, StepKind::Session] {
                runs_.push(match &worker {
                    Some(w) if has(kind) => {
                        let job =
                            Job { peer: kind.peer(), task: Task::Step { batch, hidden, kind, steps: STEPS_PER_CALL } };
                        Some(Box::new(WorkerRun { worker: w, job }))
                    }
                    _ => None,
                });
            }
            let floor = read_floor_ms(step_weight_bytes(hidden), threads, FLOOR_REPS);
            let present: Vec<usize> = (0..runs_.len()).filter(|&i| runs_[i].is_some()).collect();
            let mut cells: Vec<Option<Summary>> = vec![None; runs_.len()];
            let mut refs: Vec<&mut dyn Contestant> =
                runs_.iter_mut().flatten().map(|r| &mut **r as &mut dyn Contestant).collect();
            let outcomes = run_rounds(&mut refs, runs, &watch);
            drop(refs);
            drop(runs_);
            for (&i, out) in present.iter().zip(&outcomes) {
                if let Some(e) = &out.error {
                    notes.push(format!("B{batch} H{hidden}, contestant {i}: {e}"));
                }
                cells[i] = Summary::of(&out.times);
            }
            if let Some(w) = &worker {
                let _ = w.borrow_mut().release();
            }
            outln!(
                "{batch:>3} {hidden:>4} | {:>8} {:>8} {:>6.1} | {:>9} {:>9} {:>9} | {:>7} {:>7} {:>7}",
                us(&cells[0]),
                us(&cells[1]),
                floor * 1e3,
                us(&cells[2]),
                us(&cells[3]),
                us(&cells[4]),
                ratio(&cells[2], &cells[0]),
                ratio(&cells[3], &cells[0]),
                ratio(&cells[4], &cells[0]),
            );
        }
    }
    for n in notes {
        outln!("note: {n}");
    }
    Ok(())
}
