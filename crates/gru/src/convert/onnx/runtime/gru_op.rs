//! The ONNX `GRU` op (opset 7/14 forms) run on our native engine.
//!
//! ```text
//! inputs   X [T, B, I] (layout 0) or [B, T, I] (layout 1)
//!          W [dirs, 3H, I], R [dirs, 3H, H]   rows z | r | h       (constants)
//!          B [dirs, 6H] = [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h]        (constant; absent: 0)
//!          sequence_lens [B] (int; absent: T), initial_h [dirs, B, H] or [B, dirs, H]
//! outputs  Y [T, dirs, B, H] or [B, T, dirs, H]: zero past each sequence's length
//!          Y_h [dirs, B, H] or [B, dirs, H]: the state after each sequence's last step
//!          (a sequence of length 0 has zero Y and Y_h, as onnxruntime gives)
//! z = f(X Wzᵀ + H Rzᵀ + Wbz + Rbz)     r = f(X Wrᵀ + H Rrᵀ + Wbr + Rbr)
//! h = g(X Whᵀ + (r ⊙ H) Rhᵀ + Rbh + Wbh)            linear_before_reset = 0
//! h = g(X Whᵀ + r ⊙ (H Rhᵀ + Rbh) + Wbh)            linear_before_reset = 1
//! H' = (1 - z) ⊙ h + z ⊙ H
//! ```
//! Each direction is prepared once, at load, as a one-layer forward GRU of our engine (the
//! mapping of [`super::super::import`]: gate rows to our r | z | n order; lbr 0 ->
//! before-multiplication with bias Wb + Rb, lbr 1 -> recurrent-bias-after with [Wb | Rb]),
//! so each direction has its own activations. The reverse direction runs forward on each
//! sequence reversed within its own length, and its outputs are reversed back.
//! `activations` are `[f, g]` per direction, f Sigmoid or HardSigmoid (alpha, beta taken in
//! order from `activation_alpha`/`activation_beta` by the activations that take them;
//! defaults 0.2, 0.5), g Tanh or Softsign; names are case-insensitive; `clip` clamps
//! every gate's pre-activation to [-clip, clip].

use std::sync::Mutex;

use gru_core::{
    Engine, GateActivation, GruParams, GruSpec, KoraliEngine, Plan, PreparedGru, Real, ResetGateMode, SequenceBatch,
    StateActivation,
};

use super::super::gate_block;
use super::super::proto::NodeProto;
use super::attrs::Attrs;
use super::value::{numel, Value};
use crate::convert::gates_to_canonical;

/// One direction, prepared.
struct Direction<T: Real> {
    reverse: bool,
    /// Our engine, locked for the length of one forward pass.
    engine: Mutex<Box<dyn PreparedGru<T>>>,
}

/// A prepared GRU node.
pub(crate) struct GruOp<T: Real> {
    hidden: usize,
    input_size: usize,
    /// Layout 1: X, Y, Y_h and initial_h batch-major.
    pub(crate) batch_major: bool,
    directions: Vec<Direction<T>>,
}

/// `[f, g]` of each direction, alpha/beta consumed in order by the activations that take them.
fn activations(
    names: &[String],
    alphas: &[f32],
    betas: &[f32],
    dirs: usize,
) -> Result<Vec<(GateActivation, StateActivation)>, String> {
    if names.is_empty() {
        return Ok(vec![(GateActivation::Sigmoid, StateActivation::Tanh); dirs]);
    }
    if names.len() != 2 * dirs {
        return Err(format!("{} activations {names:?}; a GRU of {dirs} direction(s) needs {}", names.len(), 2 * dirs));
    }
    let (mut ai, mut bi) = (0, 0);
    let mut out = Vec::new();
    for pair in names.chunks_exact(2) {
        let mut take = |name: &str| {
            let lower = name.to_ascii_lowercase();
            let takes_alpha = matches!(
                lower.as_str(),
                "affine" | "leakyrelu" | "thresholdedrelu" | "scaledtanh" | "hardsigmoid" | "elu"
            );
            let takes_beta = matches!(lower.as_str(), "affine" | "scaledtanh" | "hardsigmoid");
            let alpha = if takes_alpha { alphas.get(ai).copied() } else { None };
            let beta = if takes_beta { betas.get(bi).copied() } else { None };
            ai += usize::from(takes_alpha);
            bi += usize::from(takes_beta);
            (lower, alpha, beta)
        };
        let (f, alpha, beta) = take(&pair[0]);
        let gate = match f.as_str() {
            "sigmoid" => GateActivation::Sigmoid,
            "hardsigmoid" => GateActivation::HardSigmoid {
                alpha: f64::from(alpha.unwrap_or(0.2)),
                beta: f64::from(beta.unwrap_or(0.5)),
            },
            _ => return Err(format!("gate activation {} is not supported (Sigmoid or HardSigmoid)", pair[0])),
        };
        let (g, _, _) = take(&pair[1]);
        let state = match g.as_str() {
            "tanh" => StateActivation::Tanh,
            "softsign" => StateActivation::Softsign,
            _ => return Err(format!("state activation {} is not supported (Tanh or Softsign)", pair[1])),
        };
        out.push((gate, state));
    }
    Ok(out)
}

impl<T: Real> GruOp<T> {
    /// Reads the attributes of `node` and prepares each direction from the constant weights.
    pub(crate) fn prepare(node: &NodeProto, w: &Value<T>, r: &Value<T>, b: Option<&Value<T>>) -> Result<Self, String> {
        let a = Attrs::new(node);
        a.only(&[
            "activation_alpha",
            "activation_beta",
            "activations",
            "clip",
            "direction",
            "hidden_size",
            "layout",
            "linear_before_reset",
        ])?;
        let direction = a.string("direction")?.unwrap_or_else(|| "forward".into());
        let reverse: &[bool] = match direction.as_str() {
            "forward" => &[false],
            "reverse" => &[true],
            "bidirectional" => &[false, true],
            other => return Err(format!("direction {other:?} is not forward, reverse or bidirectional")),
        };
        let dirs = reverse.len();
        let batch_major = match a.int("layout", 0)? {
            0 => false,
            1 => true,
            v => return Err(format!("layout {v} is not 0 or 1")),
        };
        let lbr = a.flag("linear_before_reset")?;
        let clip = match a.opt_float("clip")? {
            Some(c) if !(c.is_finite() && c > 0.0) => return Err(format!("clip {c} is not a finite number > 0")),
            c => c.map(f64::from),
        };
        let acts = activations(
            &a.strings("activations")?.unwrap_or_default(),
            &a.floats("activation_alpha")?.unwrap_or_default(),
            &a.floats("activation_beta")?.unwrap_or_default(),
            dirs,
        )?;
        let (wv, rv) = (w.floats("W")?, r.floats("R")?);
        let [rd, r3h, h] = r.shape[..] else {
            return Err(format!("R has shape {:?}, expected [dirs, 3H, H]", r.shape));
        };
        if rd != dirs || r3h != 3 * h || h == 0 {
            return Err(format!("R has shape {:?}, expected [{dirs}, 3H, H] with H > 0", r.shape));
        }
        let hs = a.int("hidden_size", h as i64)?;
        if hs != h as i64 {
            return Err(format!("hidden_size is {hs} but R has shape {:?}", r.shape));
        }
        let [wd, w3h, inputs] = w.shape[..] else {
            return Err(format!("W has shape {:?}, expected [dirs, 3H, I]", w.shape));
        };
        if wd != dirs || w3h != 3 * h || inputs == 0 {
            return Err(format!("W has shape {:?}, expected [{dirs}, {}, I] with I > 0", w.shape, 3 * h));
        }
        let zeros;
        let bv = match b {
            Some(b) if b.shape != [dirs, 6 * h] => {
                return Err(format!("B has shape {:?}, expected [{dirs}, {}]", b.shape, 6 * h))
            }
            Some(b) => b.floats("B")?,
            None => {
                zeros = vec![T::zero(); dirs * 6 * h];
                &zeros
            }
        };
        let mode =
            if lbr { ResetGateMode::RecurrentBiasAfterMultiplication } else { ResetGateMode::BeforeMultiplication };
        let mut directions = Vec::with_capacity(dirs);
        for (d, (&rev, &(gate, state))) in reverse.iter().zip(&acts).enumerate() {
            let spec = GruSpec::new(inputs, h)
                .with_reset_gate_mode(mode)
                .with_gate_activation(gate)
                .with_state_activation(state)
                .with_clip(clip);
            spec.validate().map_err(|e| e.to_string())?;
            let (nw, nr) = (3 * h * inputs, 3 * h * h);
            let bias = &bv[d * 6 * h..(d + 1) * 6 * h];
            let wb = gates_to_canonical(&bias[..3 * h], h, 1, gate_block);
            let rb = gates_to_canonical(&bias[3 * h..], h, 1, gate_block);
            let bias = if lbr { [wb, rb].concat() } else { wb.iter().zip(&rb).map(|(&p, &q)| p + q).collect() };
            let block = (
                gates_to_canonical(&wv[d * nw..(d + 1) * nw], h, inputs, gate_block),
                gates_to_canonical(&rv[d * nr..(d + 1) * nr], h, h, gate_block),
                bias,
            );
            let params = GruParams::from_blocks(&spec, vec![block]).map_err(|e| e.to_string())?;
            let engine = KoraliEngine::new().prepare(&spec, &params, &Plan::inference()).map_err(|e| e.to_string())?;
            directions.push(Direction { reverse: rev, engine: Mutex::new(engine) });
        }
        Ok(Self { hidden: h, input_size: inputs, batch_major, directions })
    }

    /// `(Y, Y_h)` of one run (see the module documentation for the shapes).
    pub(crate) fn run(
        &self,
        x: &Value<T>,
        lens: Option<&Value<T>>,
        h0: Option<&Value<T>>,
    ) -> Result<(Value<T>, Value<T>), String> {
        let (h, dirs, i) = (self.hidden, self.directions.len(), self.input_size);
        let xv = x.floats("X")?;
        let [a0, a1, xi] = x.shape[..] else {
            return Err(format!("X has shape {:?}; a 3-D tensor is needed", x.shape));
        };
        let (steps, batch) = if self.batch_major { (a1, a0) } else { (a0, a1) };
        if xi != i {
            return Err(format!("X has shape {:?}: {xi} input channels, but W has {i}", x.shape));
        }
        // at(t, b): offset of X[t, b, :] in either layout.
        let at = |t: usize, b: usize| if self.batch_major { (b * steps + t) * i } else { (t * batch + b) * i };
        let lengths: Vec<usize> = match lens {
            None => vec![steps; batch],
            Some(l) => {
                let v = l.ints("sequence_lens")?;
                if l.shape != [batch] {
                    return Err(format!("sequence_lens has shape {:?}, expected [{batch}]", l.shape));
                }
                v.iter()
                    .map(|&n| {
                        usize::try_from(n).ok().filter(|&n| n <= steps).ok_or_else(|| {
                            format!("sequence_lens holds {n}; each length must be in 0..={steps} (the steps of X)")
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let h0v = match h0 {
            None => None,
            Some(s) => {
                let want = if self.batch_major { [batch, dirs, h] } else { [dirs, batch, h] };
                if s.shape != want {
                    return Err(format!("initial_h has shape {:?}, expected {want:?}", s.shape));
                }
                Some(s.floats("initial_h")?)
            }
        };
        let y_len = numel(&[steps, dirs, batch, h])?;
        // Y [T, dirs, B, H] and Y_h [dirs, B, H], permuted at the end for layout 1.
        let mut y = vec![T::zero(); y_len];
        let mut yh = vec![T::zero(); dirs * batch * h];
        let active: Vec<usize> = (0..batch).filter(|&b| lengths[b] > 0).collect();
        let run_steps = active.iter().map(|&b| lengths[b]).max().unwrap_or(0);
        let na = active.len();
        for (d, dir) in self.directions.iter().enumerate() {
            if na == 0 {
                break;
            }
            // The step of sequence b that is run at step t (reversed within its length).
            let src = |t: usize, b: usize| if dir.reverse { lengths[b] - 1 - t } else { t };
            // xa: [run_steps, na, I] time-major, zero past each length.
            let mut xa = vec![T::zero(); run_steps * na * i];
            for (j, &b) in active.iter().enumerate() {
                for t in 0..lengths[b] {
                    let o = at(src(t, b), b);
                    xa[(t * na + j) * i..(t * na + j + 1) * i].copy_from_slice(&xv[o..o + i]);
                }
            }
            let la: Vec<usize> = active.iter().map(|&b| lengths[b]).collect();
            // h0a: [1, na, H].
            let h0a: Option<Vec<T>> = h0v.map(|s| {
                active
                    .iter()
                    .flat_map(|&b| {
                        let o = if self.batch_major { (b * dirs + d) * h } else { (d * batch + b) * h };
                        s[o..o + h].iter().copied()
                    })
                    .collect()
            });
            let mut input = SequenceBatch::new(&xa, run_steps, na).with_lengths(&la);
            if let Some(h0a) = &h0a {
                input = input.with_initial_state(h0a);
            }
            let out = {
                let mut engine = dir.engine.lock().map_err(|_| "the engine failed in an earlier run".to_string())?;
                engine.forward(&input).map_err(|e| e.to_string())?
            };
            // out.y: [run_steps, na, H]; out.h_t: [1, na, H].
            for (j, &b) in active.iter().enumerate() {
                for t in 0..lengths[b] {
                    let dst = ((src(t, b) * dirs + d) * batch + b) * h;
                    y[dst..dst + h].copy_from_slice(&out.y[(t * na + j) * h..(t * na + j + 1) * h]);
                }
                yh[(d * batch + b) * h..(d * batch + b + 1) * h].copy_from_slice(&out.h_t[j * h..(j + 1) * h]);
            }
        }
        let y = Value::float(vec![steps, dirs, batch, h], y);
        let yh = Value::float(vec![dirs, batch, h], yh);
        if self.batch_major {
            Ok((
                super::shape_ops::transpose(&y, Some(&[2, 0, 1, 3]))?,
                super::shape_ops::transpose(&yh, Some(&[1, 0, 2]))?,
            ))
        } else {
            Ok((y, yh))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn activations_per_direction_consume_alpha_beta_in_order() {
        let a = activations(&s(&["Sigmoid", "Tanh", "HardSigmoid", "softsign"]), &[0.3], &[0.4], 2).unwrap();
        assert_eq!(a[0], (GateActivation::Sigmoid, StateActivation::Tanh));
        let hs = GateActivation::HardSigmoid { alpha: f64::from(0.3f32), beta: f64::from(0.4f32) };
        assert_eq!(a[1], (hs, StateActivation::Softsign));
        let a = activations(&s(&["HardSigmoid", "Tanh", "HardSigmoid", "Tanh"]), &[0.1, 0.3], &[0.2], 2).unwrap();
        assert_eq!(a[1].0, GateActivation::HardSigmoid { alpha: f64::from(0.3f32), beta: 0.5 });
        assert_eq!(activations(&[], &[], &[], 2).unwrap().len(), 2);
        for bad in [s(&["Relu", "Tanh"]), s(&["Sigmoid", "Relu"]), s(&["Tanh", "Tanh"]), s(&["Sigmoid"])] {
            assert!(activations(&bad, &[], &[], 1).is_err(), "{bad:?}");
        }
    }
}
