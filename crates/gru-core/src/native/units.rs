//! The forward pass with the hidden units split between threads (inference, and training's
//! forward, which also keeps each worker's trace for `units_train.rs`): each worker owns a
//! slice of the units (its columns of Wᵀ and Rᵀ, for the three gates) and computes those
//! units of every sequence; after each step the workers exchange their slices of `h`.
//! Unlike the batch split, each worker streams only its part of R, which keeps R in the
//! cores' caches for large H. After- and recurrent-bias-after modes only
//! (before-multiplication needs all of `r ⊙ h` inside the step).
//! The element-wise step of a worker's units is `crate::cell`'s, as in the dense sweep.
//! Recurrent dropout and zoneout (not layer norm, whose statistics span all units): each
//! worker reads `h̃ = m_h ⊙ h` in its product and mixes its units' `h_t = k ⊙ h + (1 − k) ⊙ h'`,
//! with the masks of the dense sweep (`crate::regularize::masks`, keyed by unit).

use std::hint::spin_loop;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::block::{blank, BlockShape};
use super::helpers::{self, WorkerPool};
use crate::activation::Activations;
use crate::cell::{self, bias, row_width, GateRow, GateRowMut};
use crate::kernels::{MatMut, MatRef, PackedRhs};
use crate::params::{BlockParams, Gate};
use crate::real::Real;
use crate::regularize::masks::{Masks, Zoneout};
use crate::spec::ResetGateMode;

/// A block's regularization in a unit-split call: the call's masks and the block's index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnitReg {
    pub(crate) masks: Masks,
    pub(crate) block: usize,
}

/// One worker's share of a block: its hidden units, its weights and its buffers.
pub(crate) struct UnitPack<T> {
    pub(crate) units: Range<usize>,
    /// The worker's packed weights, refreshed in place by `set_params` (behind a lock, as
    /// the workers' jobs share the packs; each worker reads its own once per call).
    pub(crate) weights: RwLock<UnitWeights<T>>,
    /// The worker's buffers, kept across calls (fresh ones of tens of MB cost page faults
    /// on every call): `gx` `[T, B, 3U]` and its output `y` `[T, B, U]`; in training also
    /// its trace (see [`WorkerTrace`]).
    pub(crate) scratch: Mutex<Scratch<T>>,
}

/// One worker's weights: `wt` = columns of Wᵀ (`In × 3U`, gates r, z, n), `rt` = columns of
/// Rᵀ (`H × 3U`), its input bias (with b'_r, b'_z folded in, `3U`) and its b'_n (`U`).
pub(crate) struct UnitWeights<T> {
    wt: PackedRhs<T>,
    rt: PackedRhs<T>,
    bias: Vec<T>,
    rec_bias_n: Vec<T>,
    /// Training: the worker's rows of R (`3U × H`, gates r, z, n) and of W (`3U × In`),
    /// for backward's partial `dh += dGH_k · R_k` and `dX += dGX_k · W_k`.
    pub(crate) back: Option<(PackedRhs<T>, PackedRhs<T>)>,
}

#[derive(Default)]
pub(crate) struct Scratch<T> {
    gx: Vec<T>,
    y: Vec<T>,
    trace: WorkerTrace<T>,
}

/// What backward needs of one worker's units, all `[T, B, ·]`: `gates` `[r | z | n]`
/// (`3U`), `pre` the pre-activations (`3U`; empty where the derivatives need only values),
/// `operand` `R_n h + b'_n` (`U`), and (worker 0 only) `h_prev`, the full state each step
/// started from (`H`).
#[derive(Default)]
pub(crate) struct WorkerTrace<T> {
    pub(crate) gates: Vec<T>,
    pub(crate) pre: Vec<T>,
    pub(crate) operand: Vec<T>,
    pub(crate) h_prev: Vec<T>,
}

/// A block's unit split: the workers' packs and the copy of the block input they share
/// (kept across calls, like the packs' scratch). Empty when the block does not split.
pub(crate) struct UnitSplit<T> {
    packs: Arc<[UnitPack<T>]>,
    input: Arc<RwLock<Vec<T>>>,
    /// The packs hold backward's rows.
    training: bool,
}

impl<T: Real> UnitSplit<T> {
    /// The split of block `p` between `threads` workers (`training`: with what backward
    /// needs); none for one thread. `scratch` holds the transposes (see `PackedBlock`).
    pub(crate) fn new(p: &BlockParams<T>, threads: usize, training: bool, scratch: &mut Vec<T>) -> Self {
        let (h, inp) = (p.hidden_size(), p.input_size());
        let packs: Vec<UnitPack<T>> = if threads > 1 {
            (0..threads)
                .map(|k| UnitPack::blank(k * h / threads..(k + 1) * h / threads, inp, h, training, scratch))
                .collect()
        } else {
            Vec::new()
        };
        let split = Self { packs: packs.into(), input: Arc::new(RwLock::new(Vec::new())), training };
        split.repack(p, scratch);
        split
    }

    /// Refreshes every worker's weights from `p` in the buffers they have.
    pub(crate) fn repack(&self, p: &BlockParams<T>, scratch: &mut Vec<T>) {
        for pack in self.packs.iter() {
            let mut w = pack.weights.write().unwrap_or_else(|e| e.into_inner());
            w.fill(p, pack.units.clone(), scratch);
        }
    }

    /// Whether the block has no unit split.
    pub(crate) fn is_empty(&self) -> bool {
        self.packs.is_empty()
    }

    /// Whether the split can train (its packs hold backward's rows).
    pub(crate) fn trains(&self) -> bool {
        !self.packs.is_empty() && self.training
    }

    pub(crate) fn packs(&self) -> &Arc<[UnitPack<T>]> {
        &self.packs
    }
}

impl<T: Real> UnitPack<T> {
    /// The pack of the worker of `units`, shaped for a block of `inp` inputs and `h` units
    /// (`training`: with backward's rows), its values zero until `UnitWeights::fill`.
    fn blank(units: Range<usize>, inp: usize, h: usize, training: bool, scratch: &mut Vec<T>) -> Self {
        let u3 = row_width(units.len());
        let weights = UnitWeights {
            wt: blank(inp, u3, scratch),
            rt: blank(h, u3, scratch),
            bias: vec![T::zero(); u3],
            rec_bias_n: vec![T::zero(); units.len()],
            back: training.then(|| (blank(u3, h, scratch), blank(u3, inp, scratch))),
        };
        Self { units, weights: RwLock::new(weights), scratch: Mutex::new(Scratch::default()) }
    }
}

impl<T: Real> UnitWeights<T> {
    /// Writes the weights of `units` of block `p` into the packs (no allocation once
    /// `scratch` has grown).
    fn fill(&mut self, p: &BlockParams<T>, units: Range<usize>, scratch: &mut Vec<T>) {
        let (h, inp) = (p.hidden_size(), p.input_size());
        self.wt.repack(gate_columns(|g| p.w_gate(g), inp, units.clone(), scratch));
        self.rt.repack(gate_columns(|g| p.r_gate(g), h, units.clone(), scratch));
        bias::fold_into(p, units.clone(), &mut self.bias, &mut self.rec_bias_n);
        if let Some((r_rows, w_rows)) = &mut self.back {
            r_rows.repack(gate_rows(|g| p.r_gate(g), h, units.clone(), scratch));
            w_rows.repack(gate_rows(|g| p.w_gate(g), inp, units, scratch));
        }
    }
}

impl<T: Real> UnitWeights<T> {
    /// `GX_k = x · W_kᵀ + b_k` (b'_r, b'_z folded into b_k) for `rows` rows: `x` `[rows, In]`,
    /// `gx` `[rows, 3U]`. Each row's sums do not depend on how many rows there are where
    /// the panel kernel computes them (its order is per element).
    pub(crate) fn input_projection(&self, x: &[T], rows: usize, gx: &mut [T]) {
        let u3 = self.bias.len();
        let inp = x.len().checked_div(rows).unwrap_or(0);
        self.wt.product(MatMut::new(gx, rows, u3), false, MatRef::new(x, rows, inp));
        for row in gx.chunks_exact_mut(u3) {
            for (o, &b) in row.iter_mut().zip(&self.bias) {
                *o += b;
            }
        }
    }

    /// `GH_k = h · R_kᵀ`, this worker's units of the three gates: `h` `[rows, H]`, `gh`
    /// `[rows, 3U]`.
    pub(crate) fn recurrent_product(&self, h: &[T], rows: usize, hid: usize, gh: &mut [T]) {
        self.rt.product(MatMut::new(gh, rows, self.bias.len()), false, MatRef::new(h, rows, hid));
    }

    /// The cell of one row over this worker's `U` units (`crate::cell`, after modes), from
    /// its rows of `GX_k` and `GH_k`: `pre` and `gates` get `[a_r | a_z | a_n]` and
    /// `[r | z | n]` (`3U`), `operand` gets `R_n h + b'_n` (`U`), and `y` the new state
    /// `h' = n + z ⊙ (h − n)` of the units, from `old` (their state before the step).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cell_row(
        &self,
        act: &Activations<T>,
        gx: GateRow<'_, T>,
        gh: GateRow<'_, T>,
        pre: &mut [T],
        gates: &mut [T],
        operand: &mut [T],
        old: &[T],
        y: &mut [T],
    ) {
        let u = self.rec_bias_n.len();
        {
            let (mut pr, mut gr) = (GateRowMut::new(pre, u), GateRowMut::new(gates, u));
            cell::reset_update(act, gx, gh.reset_update(), &mut pr, &mut gr);
            cell::candidate_after(act, gx.candidate(), gh.candidate(), &self.rec_bias_n, pr, gr, operand);
        }
        cell::new_state(GateRow::new(gates, u), old, y);
    }
}

/// The columns of `units` of the transposed gate matrices, `cols × 3U`: row `i` is
/// `[M_r[units, i] | M_z[units, i] | M_n[units, i]]` (`gate(g)`: `H × cols` row-major).
fn gate_columns<'a, 's, T: Real>(
    gate: impl Fn(Gate) -> &'a [T],
    cols: usize,
    units: Range<usize>,
    out: &'s mut Vec<T>,
) -> &'s [T] {
    let u = units.len();
    out.clear();
    out.resize(cols * row_width(u), T::zero());
    for (i, row) in out.chunks_exact_mut(row_width(u)).enumerate() {
        let mut row = GateRowMut::new(row, u);
        for g in Gate::ALL {
            let m = gate(g);
            for (o, unit) in row.gate(g).iter_mut().zip(units.clone()) {
                *o = m[unit * cols + i];
            }
        }
    }
    out
}

/// The rows of `units` of the gate matrices, `3U × cols`, gates r, z, n.
fn gate_rows<'a, 's, T: Real>(
    gate: impl Fn(Gate) -> &'a [T],
    cols: usize,
    units: Range<usize>,
    out: &'s mut Vec<T>,
) -> &'s [T] {
    out.clear();
    for g in Gate::ALL {
        out.extend_from_slice(&gate(g)[units.start * cols..units.end * cols]);
    }
    out
}

/// Spins of a waiting worker before it yields its core (then it yields between checks):
/// short, so that a worker sharing a core with the one it waits for (a new helper before
/// the scheduler moves it) gives way within microseconds; on separate cores the other
/// arrives within about that anyway, and a yield with nothing else to run is cheap.
const SPINS_BEFORE_YIELD: u32 = 16;

/// A barrier that spins, then yields (thread wake-ups cost more than a step on these VMs).
pub(crate) struct SpinBarrier {
    arrived: AtomicUsize,
    generation: AtomicUsize,
    n: usize,
}

impl SpinBarrier {
    /// A barrier for `n` workers.
    pub(crate) fn new(n: usize) -> Self {
        Self { arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0), n }
    }

    pub(crate) fn wait(&self) {
        let gen = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        } else {
            // Spin briefly, then yield: with more workers than free cores (tests run in
            // parallel), pure spinning would starve the worker it waits for.
            let mut spins = 0u32;
            while self.generation.load(Ordering::Acquire) == gen {
                if spins < SPINS_BEFORE_YIELD {
                    spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// A [`BlockShape`] that owns its data (the workers' jobs are shared with persistent
/// threads, so they hold no borrows), with the block's hidden size.
pub(crate) struct OwnedShape<T> {
    lengths: Vec<usize>,
    steps: usize,
    dir: usize,
    mode: ResetGateMode,
    act: Activations<T>,
    pub(crate) hid: usize,
}

impl<T: Real> OwnedShape<T> {
    pub(crate) fn of(s: &BlockShape<'_, T>, hid: usize) -> Self {
        Self { lengths: s.lengths.to_vec(), steps: s.steps, dir: s.dir, mode: s.mode, act: *s.act, hid }
    }

    pub(crate) fn view(&self) -> BlockShape<'_, T> {
        BlockShape { steps: self.steps, lengths: &self.lengths, dir: self.dir, mode: self.mode, act: &self.act }
    }
}

/// What every worker of one block's forward reads (shared through an `Arc`, as the
/// helpers are persistent threads).
struct Job<T> {
    packs: Arc<[UnitPack<T>]>,
    x: Arc<RwLock<Vec<T>>>,
    h0: Vec<T>,
    shape: OwnedShape<T>,
    /// Training: record the trace.
    keep: bool,
    reg: UnitReg,
    /// m_h, the recurrent dropout mask `[B, H]`, when there is one.
    h_mask: Option<Vec<T>>,
    barrier: SpinBarrier,
    slots: [Vec<AtomicU64>; 2],
}

impl<T: Real> Job<T> {
    /// Worker `k`: its units of every step and sequence, `[T, B, U]`, into its pack's
    /// scratch `y`.
    fn worker(&self, k: usize) {
        let s = self.shape.view();
        let (steps, batch, hid) = (s.steps, s.batch(), self.shape.hid);
        let (h0, slots, barrier) = (&self.h0[..], &self.slots, &self.barrier);
        let pack = &self.packs[k];
        let weights = pack.weights.read().unwrap_or_else(|p| p.into_inner());
        let u = pack.units.len();
        let u3 = row_width(u);
        let mut scratch = pack.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let Scratch { gx, y: y_local, trace } = &mut *scratch;
        gx.resize(steps * batch * u3, T::zero());
        y_local.resize(steps * batch * u, T::zero());
        if self.keep {
            let rows = steps * batch;
            let pre_len = if s.act.derivatives_need_inputs() { rows * u3 } else { 0 };
            *trace = WorkerTrace {
                gates: vec![T::zero(); rows * u3],
                pre: vec![T::zero(); pre_len],
                operand: vec![T::zero(); rows * u],
                h_prev: if k == 0 { vec![T::zero(); rows * hid] } else { Vec::new() },
            };
        }
        // GX = X · W_kᵀ + b_k (b'_r, b'_z folded in).
        weights.input_projection(&self.x.read().unwrap_or_else(|p| p.into_inner()), steps * batch, gx);
        let mut h = h0.to_vec();
        let mut gh = vec![T::zero(); batch * u3];
        let mut pre = vec![T::zero(); u3];
        let mut gates = vec![T::zero(); u3];
        let mut operand = vec![T::zero(); u];
        let mut mine = vec![T::zero(); batch * u];
        let (mut hm, mut keep_k) =
            (vec![T::zero(); if self.h_mask.is_some() { batch * hid } else { 0 }], vec![T::zero(); u]);
        let zoneout = self.reg.masks.zoneout() != Zoneout::Off;
        for (step, t) in s.order().enumerate() {
            let slots = &slots[step % 2];
            // GH = h̃ · R_kᵀ (h̃ = m_h ⊙ h): this worker's units of the three gates.
            let src = match &self.h_mask {
                Some(m) => {
                    hm.iter_mut().zip(h.iter().zip(m)).for_each(|(o, (&v, &m))| *o = v * m);
                    &hm
                }
                None => &h,
            };
            weights.recurrent_product(src, batch, hid, &mut gh);
            if self.keep && k == 0 {
                for b in (0..batch).filter(|&b| s.active(t, b)) {
                    trace.h_prev[(t * batch + b) * hid..][..hid].copy_from_slice(&h[b * hid..(b + 1) * hid]);
                }
            }
            for b in 0..batch {
                let old = &h[b * hid + pack.units.start..b * hid + pack.units.end];
                let out = &mut mine[b * u..(b + 1) * u];
                if !s.active(t, b) {
                    out.copy_from_slice(old);
                    y_local[(t * batch + b) * u..][..u].fill(T::zero());
                    continue;
                }
                let row = t * batch + b;
                let (gxr, ghr) = (GateRow::at(gx, row, u), GateRow::at(&gh, b, u));
                // r, z, n and h' = n + z ⊙ (h − n): the output and this worker's part of the
                // next state.
                let yl = &mut y_local[row * u..][..u];
                weights.cell_row(s.act, gxr, ghr, &mut pre, &mut gates, &mut operand, old, yl);
                if self.keep {
                    GateRowMut::at(&mut trace.gates, row, u).all().copy_from_slice(&gates);
                    if !trace.pre.is_empty() {
                        GateRowMut::at(&mut trace.pre, row, u).all().copy_from_slice(&pre);
                    }
                    trace.operand[row * u..][..u].copy_from_slice(&operand);
                }
                // Zoneout: h_t = k ⊙ h + (1 − k) ⊙ h'.
                if zoneout {
                    self.reg.masks.zoneout_keep(self.reg.block, b, t, pack.units.clone(), &mut keep_k);
                    super::reg_block::zoneout_mix(&keep_k, old, yl);
                }
                out.copy_from_slice(yl);
            }
            for b in 0..batch {
                let dst = &slots[b * hid + pack.units.start..b * hid + pack.units.end];
                for (d, &v) in dst.iter().zip(&mine[b * u..(b + 1) * u]) {
                    d.store(v.widen().to_bits(), Ordering::Relaxed);
                }
            }
            barrier.wait();
            for (v, d) in h.iter_mut().zip(slots.iter()) {
                *v = T::lit(f64::from_bits(d.load(Ordering::Relaxed)));
            }
        }
    }
}

/// Runs one block forward (no trace) on `packs.len()` workers: the caller and persistent
/// helpers (`helpers.rs`), or scoped threads when the helpers are busy. `x`: `[T, B, In]`,
/// `h0`: `[B, H]`; writes `y` `[T, B, H]` (zero where inactive) and returns the final state.
pub(crate) fn forward<T: Real>(
    s: &BlockShape<'_, T>,
    split: &UnitSplit<T>,
    x: &[T],
    h0: &[T],
    y: &mut [T],
    workers: &WorkerPool,
    reg: UnitReg,
) -> Vec<T> {
    run(s, split, x, h0, y, false, workers, reg).0
}

/// [`forward`] that also keeps, per worker, what backward needs (`units_train.rs`).
pub(crate) fn forward_train<T: Real>(
    s: &BlockShape<'_, T>,
    split: &UnitSplit<T>,
    x: &[T],
    h0: &[T],
    y: &mut [T],
    workers: &WorkerPool,
    reg: UnitReg,
) -> (Vec<T>, Vec<WorkerTrace<T>>) {
    run(s, split, x, h0, y, true, workers, reg)
}

#[allow(clippy::too_many_arguments)]
fn run<T: Real>(
    s: &BlockShape<'_, T>,
    split: &UnitSplit<T>,
    x: &[T],
    h0: &[T],
    y: &mut [T],
    keep: bool,
    workers: &WorkerPool,
    reg: UnitReg,
) -> (Vec<T>, Vec<WorkerTrace<T>>) {
    let (steps, batch, hid) = (s.steps, s.lengths.len(), h0.len() / s.lengths.len());
    let packs = &split.packs;
    let n = packs.len();
    {
        let mut input = split.input.write().unwrap_or_else(|p| p.into_inner());
        input.clear();
        input.extend_from_slice(x);
    }
    // Two copies of the shared state `[B, H]`, used by alternate steps: a worker writes its
    // units into set t%2 while the others may still read set (t-1)%2, so one barrier per
    // step suffices. Relaxed atomics (plain loads and stores) hold the values; the barrier
    // orders them. (A mutex per slot parks readers that meet on it: a futex wake-up costs
    // tens of microseconds on these VMs, more than a step.)
    let job = Arc::new(Job {
        packs: packs.clone(),
        x: split.input.clone(),
        h0: h0.to_vec(),
        shape: OwnedShape::of(s, hid),
        keep,
        reg,
        h_mask: reg.masks.recurrent_mask(reg.block, batch, hid),
        barrier: SpinBarrier::new(n),
        slots: std::array::from_fn(|_| (0..batch * hid).map(|_| AtomicU64::new(0)).collect()),
    });
    helpers::run_workers(workers, &job, n, Job::worker);
    let mut traces = Vec::new();
    for p in packs.iter() {
        let mut scratch = p.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let w = p.units.len();
        for (row, part) in scratch.y.chunks_exact(w).take(steps * batch).enumerate() {
            y[row * hid + p.units.start..row * hid + p.units.end].copy_from_slice(part);
        }
        if keep {
            traces.push(std::mem::take(&mut scratch.trace));
        }
    }
    // The final state: each unit's value after its sequence's last processed step, which
    // is where h stands now (inactive steps carry h unchanged).
    if steps == 0 {
        return (h0.to_vec(), traces);
    }
    let h_t = job.slots[(steps + 1) % 2].iter().map(|d| T::lit(f64::from_bits(d.load(Ordering::Relaxed)))).collect();
    (h_t, traces)
}
