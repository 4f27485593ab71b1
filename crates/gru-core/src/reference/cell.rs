//! One GRU step for one sequence, forward and backward, written for obviousness: scalar
//! loops over hidden units, one gate at a time through named views. This is the oracle
//! the fast path is tested against; keep it simple rather than fast.
//!
//! ```text
//! h̃ = m_h ⊙ h                      (recurrent dropout; h̃ = h without)
//! gx_g = LN_x(W_g x),  gh_g = LN_h(R_g h̃)   (LN: layer norm of gate g, identity without)
//! r = σ_g(gx_r + b_r [+ b'_r] + gh_r)
//! z = σ_g(gx_z + b_z [+ b'_z] + gh_z)
//! after:      n = σ_s(gx_n + b_n + r ⊙ gh_n)
//! before:     n = σ_s(gx_n + b_n + LN_h(R_n (r ⊙ h̃)))
//! rec-bias:   n = σ_s(gx_n + b_n + r ⊙ (gh_n + b'_n))
//! h' = (1 - z) ⊙ n + z ⊙ h
//! h_new = k ⊙ h + (1 - k) ⊙ h'     (zoneout; h_new = h' without)
//! ```
//! (σ_g and σ_s include the optional clip of their argument; x is the input after its
//! dropout, applied by the caller.)

use crate::activation::Activations;
use crate::cell::bias;
use crate::params::{BlockParams, Gate, NormPart};
use crate::real::Real;
use crate::regularize::LAYER_NORM_EPSILON;
use crate::spec::ResetGateMode;

/// The options of one step beside the parameters: the reset mode, this sequence's recurrent
/// dropout mask `m_h` (H) and this step's zoneout keep factors `k` (H), when there are.
/// Layer norm is on when the block has layer-norm parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepOptions<'a, T> {
    pub(crate) mode: ResetGateMode,
    pub(crate) h_mask: Option<&'a [T]>,
    pub(crate) keep: Option<&'a [T]>,
}

/// A layer-normalized vector's `v̂` and `ρ = 1 / sqrt(var + ε)`.
type Normalized<T> = (Vec<T>, T);

/// Everything one step's backward needs.
#[derive(Clone, Debug)]
pub(crate) struct StepCache<T> {
    x: Vec<T>,
    h_prev: Vec<T>,
    /// h̃ = m_h ⊙ h_prev (h_prev without recurrent dropout).
    h_masked: Vec<T>,
    h_mask: Option<Vec<T>>,
    keep: Option<Vec<T>>,
    /// Unclipped pre-activations of r, z, n.
    a_r: Vec<T>,
    a_z: Vec<T>,
    a_n: Vec<T>,
    r: Vec<T>,
    z: Vec<T>,
    n: Vec<T>,
    /// after / rec-bias: gh_n (+ b'_n); before: r ⊙ h̃.
    reset_operand: Vec<T>,
    /// Layer norm (per gate r, z, n) of the input and recurrent parts; empty without.
    norm_x: Vec<Normalized<T>>,
    norm_h: Vec<Normalized<T>>,
}

fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).map(|(&p, &q)| p * q).sum()
}

/// Row `j` of a gate's H × cols weight view.
fn row<T>(m: &[T], j: usize, cols: usize) -> &[T] {
    &m[j * cols..(j + 1) * cols]
}

/// `M_g v` for gate `g` of the H × cols matrix `m` (W or R).
fn product<T: Real>(m: &[T], v: &[T], hid: usize) -> Vec<T> {
    (0..hid).map(|j| dot(row(m, j, v.len()), v)).collect()
}

/// `LN(v) = γ ⊙ (v - mean) ρ + β`, `ρ = 1 / sqrt(var + ε)`: the output, v̂ and ρ.
fn layer_norm<T: Real>(v: &[T], gain: &[T], bias: &[T]) -> (Vec<T>, Normalized<T>) {
    let n = T::lit(v.len() as f64);
    let mean = v.iter().copied().sum::<T>() / n;
    let var = v.iter().map(|&x| (x - mean) * (x - mean)).sum::<T>() / n;
    let rho = T::one() / (var + T::lit(LAYER_NORM_EPSILON)).sqrt();
    let vhat: Vec<T> = v.iter().map(|&x| (x - mean) * rho).collect();
    let out = (0..v.len()).map(|j| gain[j] * vhat[j] + bias[j]).collect();
    (out, (vhat, rho))
}

/// The backward of [`layer_norm`]: accumulates dγ, dβ and returns dv.
fn layer_norm_backward<T: Real>(d: &[T], norm: &Normalized<T>, gain: &[T], dgain: &mut [T], dbias: &mut [T]) -> Vec<T> {
    let (vhat, rho) = norm;
    let n = T::lit(d.len() as f64);
    let g: Vec<T> = (0..d.len()).map(|j| d[j] * gain[j]).collect();
    for j in 0..d.len() {
        dgain[j] += d[j] * vhat[j];
        dbias[j] += d[j];
    }
    let mean_g = g.iter().copied().sum::<T>() / n;
    let mean_gv = (0..d.len()).map(|j| g[j] * vhat[j]).sum::<T>() / n;
    (0..d.len()).map(|j| *rho * (g[j] - mean_g - vhat[j] * mean_gv)).collect()
}

/// Gate `g`'s slice of a 3H layer-norm gain or bias.
fn gate_of<T>(v: &[T], g: Gate, hid: usize) -> &[T] {
    &v[g.rows(hid)]
}

/// The gate's part after its layer norm (when the block has one; kept in `norms`), else
/// the raw product.
fn normalized<T: Real>(
    p: &BlockParams<T>,
    part: NormPart,
    g: Gate,
    raw: Vec<T>,
    norms: &mut Vec<Normalized<T>>,
) -> Vec<T> {
    if !p.has_norm() {
        return raw;
    }
    let hid = p.hidden_size();
    let (out, kept) = layer_norm(&raw, gate_of(p.norm_gain(part), g, hid), gate_of(p.norm_bias(part), g, hid));
    norms.push(kept);
    out
}

/// One forward step: returns `h_new` and the cache for backward.
pub(crate) fn step<T: Real>(
    p: &BlockParams<T>,
    act: &Activations<T>,
    opts: &StepOptions<'_, T>,
    x: &[T],
    h: &[T],
) -> (Vec<T>, StepCache<T>) {
    let hid = p.hidden_size();
    let h_masked: Vec<T> = match opts.h_mask {
        Some(m) => h.iter().zip(m).map(|(&v, &m)| v * m).collect(),
        None => h.to_vec(),
    };
    let (mut norm_x, mut norm_h) = (Vec::new(), Vec::new());
    let gx: Vec<Vec<T>> = Gate::ALL
        .iter()
        .map(|&g| normalized(p, NormPart::Input, g, product(p.w_gate(g), x, hid), &mut norm_x))
        .collect();
    let gate_pre = |g: Gate, j: usize| {
        // b_g, then b'_g where it adds (r, z; see `cell::bias`).
        let mut a = gx[g.index()][j] + p.input_bias(g)[j];
        if let Some(rb) = bias::folded_recurrent(p, g) {
            a += rb[j];
        }
        a
    };
    let gh_r =
        normalized(p, NormPart::Recurrent, Gate::Reset, product(p.r_gate(Gate::Reset), &h_masked, hid), &mut norm_h);
    let gh_z =
        normalized(p, NormPart::Recurrent, Gate::Update, product(p.r_gate(Gate::Update), &h_masked, hid), &mut norm_h);
    let a_r: Vec<T> = (0..hid).map(|j| gate_pre(Gate::Reset, j) + gh_r[j]).collect();
    let a_z: Vec<T> = (0..hid).map(|j| gate_pre(Gate::Update, j) + gh_z[j]).collect();
    let r: Vec<T> = a_r.iter().map(|&a| act.gate(a)).collect();
    let z: Vec<T> = a_z.iter().map(|&a| act.gate(a)).collect();
    let r_n = p.r_gate(Gate::Candidate);
    let (reset_operand, a_n): (Vec<T>, Vec<T>) = match opts.mode {
        ResetGateMode::AfterMultiplication | ResetGateMode::RecurrentBiasAfterMultiplication => {
            let rb = bias::candidate_recurrent(p);
            let gh_n = normalized(p, NormPart::Recurrent, Gate::Candidate, product(r_n, &h_masked, hid), &mut norm_h);
            let hn: Vec<T> = (0..hid).map(|j| gh_n[j] + rb.map_or(T::zero(), |b| b[j])).collect();
            let a_n = (0..hid).map(|j| gate_pre(Gate::Candidate, j) + r[j] * hn[j]).collect();
            (hn, a_n)
        }
        ResetGateMode::BeforeMultiplication => {
            let rh: Vec<T> = (0..hid).map(|k| r[k] * h_masked[k]).collect();
            let gn = normalized(p, NormPart::Recurrent, Gate::Candidate, product(r_n, &rh, hid), &mut norm_h);
            let a_n = (0..hid).map(|j| gate_pre(Gate::Candidate, j) + gn[j]).collect();
            (rh, a_n)
        }
    };
    let n: Vec<T> = a_n.iter().map(|&a| act.state(a)).collect();
    let mut h_new: Vec<T> = (0..hid).map(|j| (T::one() - z[j]) * n[j] + z[j] * h[j]).collect();
    if let Some(k) = opts.keep {
        for j in 0..hid {
            h_new[j] = k[j] * h[j] + (T::one() - k[j]) * h_new[j];
        }
    }
    let cache = StepCache {
        x: x.to_vec(),
        h_prev: h.to_vec(),
        h_masked,
        h_mask: opts.h_mask.map(<[T]>::to_vec),
        keep: opts.keep.map(<[T]>::to_vec),
        a_r,
        a_z,
        a_n,
        r,
        z,
        n,
        reset_operand,
        norm_x,
        norm_h,
    };
    (h_new, cache)
}

/// The gradient of a gate's raw product from that of its part after layer norm (when the
/// block has one: accumulating dγ and dβ of `part` into `grads`), else itself.
fn raw_grad<T: Real>(
    p: &BlockParams<T>,
    grads: &mut BlockParams<T>,
    part: NormPart,
    g: Gate,
    norm: Option<&Normalized<T>>,
    d: &[T],
) -> Vec<T> {
    let Some(norm) = norm else { return d.to_vec() };
    let hid = p.hidden_size();
    let (gx, bx, gh, bh) = grads.norm_parts_mut();
    let (dgain, dbias) = match part {
        NormPart::Input => (gx, bx),
        NormPart::Recurrent => (gh, bh),
    };
    let rows = g.rows(hid);
    layer_norm_backward(d, norm, gate_of(p.norm_gain(part), g, hid), &mut dgain[rows.clone()], &mut dbias[rows])
}

/// One backward step: given dL/dh_new, accumulates dL/dθ into `grads` and dL/dx into `dx`,
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
    // h_new = k h + (1 - k) h' (zoneout), h' = (1 - z) n + z h
    let (mut dh, dh_cand): (Vec<T>, Vec<T>) = match &c.keep {
        Some(k) => {
            ((0..hid).map(|j| dh_new[j] * k[j]).collect(), (0..hid).map(|j| dh_new[j] * (T::one() - k[j])).collect())
        }
        None => (vec![T::zero(); hid], dh_new.to_vec()),
    };
    let dn: Vec<T> = (0..hid).map(|j| dh_cand[j] * (T::one() - c.z[j])).collect();
    let dz: Vec<T> = (0..hid).map(|j| dh_cand[j] * (c.h_prev[j] - c.n[j])).collect();
    for j in 0..hid {
        dh[j] += dh_cand[j] * c.z[j];
    }
    let da_n: Vec<T> = (0..hid).map(|j| dn[j] * act.state_grad(c.a_n[j], c.n[j])).collect();
    // The gradient of h̃, the state the recurrent products read: apart with recurrent
    // dropout, else added straight to dh.
    let mut dh_masked = if c.h_mask.is_some() { vec![T::zero(); hid] } else { std::mem::take(&mut dh) };
    let norm_h = |g: Gate| c.norm_h.get(g.index());

    // The candidate's recurrent part.
    let mut dr = vec![T::zero(); hid];
    match mode {
        ResetGateMode::AfterMultiplication | ResetGateMode::RecurrentBiasAfterMultiplication => {
            // a_n ∋ r ⊙ o, o = gh_n (+ b'_n), gh_n = LN_h(R_n h̃)
            let dhn: Vec<T> = (0..hid).map(|j| da_n[j] * c.r[j]).collect();
            for j in 0..hid {
                dr[j] = da_n[j] * c.reset_operand[j];
            }
            if let Some(db) = grads.recurrent_bias_mut(Gate::Candidate) {
                add(db, &dhn);
            }
            let d_raw = raw_grad(p, grads, NormPart::Recurrent, Gate::Candidate, norm_h(Gate::Candidate), &dhn);
            accumulate_outer(grads.r_gate_mut(Gate::Candidate), &d_raw, &c.h_masked);
            accumulate_transposed(&mut dh_masked, p.r_gate(Gate::Candidate), &d_raw);
        }
        ResetGateMode::BeforeMultiplication => {
            // a_n ∋ LN_h(R_n (r ⊙ h̃))
            let d_raw = raw_grad(p, grads, NormPart::Recurrent, Gate::Candidate, norm_h(Gate::Candidate), &da_n);
            accumulate_outer(grads.r_gate_mut(Gate::Candidate), &d_raw, &c.reset_operand);
            let mut drh = vec![T::zero(); hid];
            accumulate_transposed(&mut drh, p.r_gate(Gate::Candidate), &d_raw);
            for k in 0..hid {
                dr[k] = drh[k] * c.h_masked[k];
                dh_masked[k] += drh[k] * c.r[k];
            }
        }
    }
    let da_r: Vec<T> = (0..hid).map(|j| dr[j] * act.gate_grad(c.a_r[j], c.r[j])).collect();
    let da_z: Vec<T> = (0..hid).map(|j| dz[j] * act.gate_grad(c.a_z[j], c.z[j])).collect();

    for (g, da) in [(Gate::Reset, &da_r), (Gate::Update, &da_z), (Gate::Candidate, &da_n)] {
        add(grads.input_bias_mut(g), da);
        let d_raw = raw_grad(p, grads, NormPart::Input, g, c.norm_x.get(g.index()), da);
        accumulate_outer(grads.w_gate_mut(g), &d_raw, &c.x);
        accumulate_transposed(dx, p.w_gate(g), &d_raw);
        if g != Gate::Candidate {
            if let Some(db) = grads.recurrent_bias_mut(g) {
                add(db, da);
            }
            let d_raw = raw_grad(p, grads, NormPart::Recurrent, g, norm_h(g), da);
            accumulate_outer(grads.r_gate_mut(g), &d_raw, &c.h_masked);
            accumulate_transposed(&mut dh_masked, p.r_gate(g), &d_raw);
        }
    }
    debug_assert_eq!(dx.len(), inp);
    // h̃ = m_h ⊙ h
    match &c.h_mask {
        Some(m) => {
            for j in 0..hid {
                dh[j] += dh_masked[j] * m[j];
            }
            dh
        }
        None => dh_masked,
    }
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
