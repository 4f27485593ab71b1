//! One GRU step for one sequence, forward and backward, written for obviousness: scalar
//! loops over hidden units, one gate at a time through named views. This is the oracle
//! the fast path is tested against; keep it simple rather than fast.
//!
//! ```text
//! r = σ_g(W_r x + R_r h + b_r [+ b'_r])
//! z = σ_g(W_z x + R_z h + b_z [+ b'_z])
//! after:      n = σ_s(W_n x + b_n + r ⊙ (R_n h))
//! before:     n = σ_s(W_n x + b_n + R_n (r ⊙ h))
//! rec-bias:   n = σ_s(W_n x + b_n + r ⊙ (R_n h + b'_n))
//! h' = (1 - z) ⊙ n + z ⊙ h
//! ```
//! (σ_g and σ_s include the optional clip of their argument.)

use crate::activation::Activations;
use crate::cell::bias;
use crate::params::{BlockParams, Gate};
use crate::real::Real;
use crate::spec::ResetGateMode;

/// Everything one step's backward needs.
#[derive(Clone, Debug)]
pub(crate) struct StepCache<T> {
    x: Vec<T>,
    h_prev: Vec<T>,
    /// Unclipped pre-activations of r, z, n.
    a_r: Vec<T>,
    a_z: Vec<T>,
    a_n: Vec<T>,
    r: Vec<T>,
    z: Vec<T>,
    n: Vec<T>,
    /// after / rec-bias: R_n h (+ b'_n); before: r ⊙ h.
    reset_operand: Vec<T>,
}

fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).map(|(&p, &q)| p * q).sum()
}

/// Row `j` of a gate's H × cols weight view.
fn row<T>(m: &[T], j: usize, cols: usize) -> &[T] {
    &m[j * cols..(j + 1) * cols]
}

/// One forward step: returns `h'` and the cache for backward.
pub(crate) fn step<T: Real>(
    p: &BlockParams<T>,
    act: &Activations<T>,
    mode: ResetGateMode,
    x: &[T],
    h: &[T],
) -> (Vec<T>, StepCache<T>) {
    let (hid, inp) = (p.hidden_size(), p.input_size());
    let gate_pre = |g: Gate, j: usize| {
        // b_g, then b'_g where it adds (r, z; see `cell::bias`).
        let mut a = dot(row(p.w_gate(g), j, inp), x) + p.input_bias(g)[j];
        if let Some(rb) = bias::folded_recurrent(p, g) {
            a += rb[j];
        }
        a
    };
    let a_r: Vec<T> = (0..hid).map(|j| gate_pre(Gate::Reset, j) + dot(row(p.r_gate(Gate::Reset), j, hid), h)).collect();
    let a_z: Vec<T> =
        (0..hid).map(|j| gate_pre(Gate::Update, j) + dot(row(p.r_gate(Gate::Update), j, hid), h)).collect();
    let r: Vec<T> = a_r.iter().map(|&a| act.gate(a)).collect();
    let z: Vec<T> = a_z.iter().map(|&a| act.gate(a)).collect();
    let r_n = p.r_gate(Gate::Candidate);
    let (reset_operand, a_n): (Vec<T>, Vec<T>) = match mode {
        ResetGateMode::AfterMultiplication | ResetGateMode::RecurrentBiasAfterMultiplication => {
            let rb = bias::candidate_recurrent(p);
            let hn: Vec<T> = (0..hid).map(|j| dot(row(r_n, j, hid), h) + rb.map_or(T::zero(), |b| b[j])).collect();
            let a_n = (0..hid).map(|j| gate_pre(Gate::Candidate, j) + r[j] * hn[j]).collect();
            (hn, a_n)
        }
        ResetGateMode::BeforeMultiplication => {
            let rh: Vec<T> = (0..hid).map(|k| r[k] * h[k]).collect();
            let a_n = (0..hid).map(|j| gate_pre(Gate::Candidate, j) + dot(row(r_n, j, hid), &rh)).collect();
            (rh, a_n)
        }
    };
    let n: Vec<T> = a_n.iter().map(|&a| act.state(a)).collect();
    let h_new = (0..hid).map(|j| (T::one() - z[j]) * n[j] + z[j] * h[j]).collect();
    let cache = StepCache { x: x.to_vec(), h_prev: h.to_vec(), a_r, a_z, a_n, r, z, n, reset_operand };
    (h_new, cache)
}

/// One backward step: given dL/dh', accumulates dL/dθ into `grads` and dL/dx into `dx`,
/// and returns dL/dh.
pub(crate) fn step_backward<T: Real>(
    p: &BlockParams<T>,
    act: &Activations<T>,
    mode: ResetGateMode,
    c: &StepCache<T>,
    dh_new: &[T],
    grads: &mut BlockParams<T>,
    dx: &mut [T],
) -> Vec<T> {
    let (hid, inp) = (p.hidden_size(), p.input_size());
    // h' = (1 - z) n + z h
    let dn: Vec<T> = (0..hid).map(|j| dh_new[j] * (T::one() - c.z[j])).collect();
    let dz: Vec<T> = (0..hid).map(|j| dh_new[j] * (c.h_prev[j] - c.n[j])).collect();
    let mut dh: Vec<T> = (0..hid).map(|j| dh_new[j] * c.z[j]).collect();
    let da_n: Vec<T> = (0..hid).map(|j| dn[j] * act.state_grad(c.a_n[j], c.n[j])).collect();

    // The candidate's recurrent part.
    let mut dr = vec![T::zero(); hid];
    match mode {
        ResetGateMode::AfterMultiplication | ResetGateMode::RecurrentBiasAfterMultiplication => {
            // a_n ∋ r ⊙ hn, hn = R_n h (+ b'_n)
            let dhn: Vec<T> = (0..hid).map(|j| da_n[j] * c.r[j]).collect();
            for j in 0..hid {
                dr[j] = da_n[j] * c.reset_operand[j];
            }
            accumulate_outer(grads.r_gate_mut(Gate::Candidate), &dhn, &c.h_prev);
            accumulate_transposed(&mut dh, p.r_gate(Gate::Candidate), &dhn);
            if let Some(db) = grads.recurrent_bias_mut(Gate::Candidate) {
                add(db, &dhn);
            }
        }
        ResetGateMode::BeforeMultiplication => {
            // a_n ∋ R_n (r ⊙ h)
            accumulate_outer(grads.r_gate_mut(Gate::Candidate), &da_n, &c.reset_operand);
            let mut drh = vec![T::zero(); hid];
            accumulate_transposed(&mut drh, p.r_gate(Gate::Candidate), &da_n);
            for k in 0..hid {
                dr[k] = drh[k] * c.h_prev[k];
                dh[k] += drh[k] * c.r[k];
            }
        }
    }
    let da_r: Vec<T> = (0..hid).map(|j| dr[j] * act.gate_grad(c.a_r[j], c.r[j])).collect();
    let da_z: Vec<T> = (0..hid).map(|j| dz[j] * act.gate_grad(c.a_z[j], c.z[j])).collect();

    for (g, da) in [(Gate::Reset, &da_r), (Gate::Update, &da_z), (Gate::Candidate, &da_n)] {
        accumulate_outer(grads.w_gate_mut(g), da, &c.x);
        add(grads.input_bias_mut(g), da);
        accumulate_transposed(dx, p.w_gate(g), da);
        if g != Gate::Candidate {
            accumulate_outer(grads.r_gate_mut(g), da, &c.h_prev);
            accumulate_transposed(&mut dh, p.r_gate(g), da);
            if let Some(db) = grads.recurrent_bias_mut(g) {
                add(db, da);
            }
        }
    }
    debug_assert_eq!(dx.len(), inp);
    dh
}

/// `m += u vᵀ` for an H × cols gate view `m`.
fn accumulate_outer<T: Real>(m: &mut [T], u: &[T], v: &[T]) {
    for (j, &uj) in u.iter().enumerate() {
        for (k, &vk) in v.iter().enumerate() {
            m[j * v.len() + k] += uj * vk;
        }
    }
}

/// `out += mᵀ u` for an H × cols gate view `m`.
fn accumulate_transposed<T: Real>(out: &mut [T], m: &[T], u: &[T]) {
    let cols = out.len();
    for (j, &uj) in u.iter().enumerate() {
        for (k, o) in out.iter_mut().enumerate() {
            *o += m[j * cols + k] * uj;
        }
    }
}

fn add<T: Real>(out: &mut [T], v: &[T]) {
    for (o, &x) in out.iter_mut().zip(v) {
        *o += x;
    }
}
