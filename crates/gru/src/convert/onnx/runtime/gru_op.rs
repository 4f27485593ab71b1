//! The ONNX `GRU` op (opset 7/14 forms) run on our native engine.
//!
//! ```text
//! inputs   X [T, B, I] (layout 0) or [B, T, I] (layout 1)
//!          W [dirs, 3H, I], R [dirs, 3H, H]   rows z | r | h       (constants)
//!          B [dirs, 6H] = [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h]        (constant; absent: 0)
//!          sequence_lens [B] (int; absent: T), initial_h [dirs, B, H] or [B, dirs, H]
//! outputs  Y [T, dirs, B, H] or [B, T, dirs, H]: zero past each sequence's length
//!          Y_h [dirs, B, H] or [B, dirs, H]: the state after each sequence's last step
//!          (a sequence of length 0: zero Y, and Y_h = initial_h, zero when absent)
//! z = f(X Wzᵀ + H Rzᵀ + Wbz + Rbz)     r = f(X Wrᵀ + H Rrᵀ + Wbr + Rbr)
//! h = g(X Whᵀ + (r ⊙ H) Rhᵀ + Rbh + Wbh)            linear_before_reset = 0
//! h = g(X Whᵀ + r ⊙ (H Rhᵀ + Rbh) + Wbh)            linear_before_reset = 1
//! H' = (1 - z) ⊙ h + z ⊙ H
//! ```
//! The attributes, the shapes and the weights are read through `gru_map`, the mapping the
//! importer uses (gate rows to our r | z | n order; lbr 0 -> before-multiplication with
//! bias Wb + Rb, lbr 1 -> recurrent-bias-after with [Wb | Rb]; a value refused there is
//! refused by both, with the same reason). Each direction is prepared once, at load, as a
//! one-layer forward GRU of our engine, so each direction has its own activations; the
//! reverse direction runs forward on each sequence reversed within its own length, and its
//! outputs are reversed back. `activations` are `[f, g]` per direction, f Sigmoid or
//! HardSigmoid (alpha, beta taken in order from `activation_alpha`/`activation_beta` by the
//! activations that take them; defaults 0.2, 0.5), g Tanh or Softsign; names are
//! case-insensitive; `clip` clamps every gate's pre-activation to [-clip, clip].
//!
//! One deliberate difference from onnxruntime: for a sequence of length 0 onnxruntime
//! (1.32) gives Y_h = 0 whatever `initial_h` holds; here Y_h = initial_h, the state the
//! sequence is left in, as every engine of ours gives h_T = h0 for an empty sequence
//! (DESIGN.md "Variable length": a sequence's result never depends on its batch, and
//! dh0 = dh_T). The two agree when `initial_h` is absent or zero; every other value is
//! onnxruntime's (the fixture test states the exception).

use std::sync::Mutex;

use gru_core::{Engine, GruParams, NativeEngine, Plan, PreparedGru, Real, SequenceBatch};

use super::super::gru_map::{self, GruAttrs, Layout, Shape};
use super::super::proto::NodeProto;
use super::value::{numel, Value};

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

impl<T: Real> GruOp<T> {
    /// Reads the attributes of `node` and prepares each direction from the constant weights
    /// (attributes, shapes and weights through [`gru_map`], as the importer reads them).
    pub(crate) fn prepare(node: &NodeProto, w: &Value<T>, r: &Value<T>, b: Option<&Value<T>>) -> Result<Self, String> {
        let attrs = GruAttrs::parse(node)?;
        let shape = Shape::check(&attrs, &w.shape, &r.shape, b.map(|b| &b.shape[..]))?;
        let bv = match b {
            Some(b) => Some(b.floats("B")?),
            None => None,
        };
        let blocks = gru_map::blocks_from_onnx(&shape, attrs.linear_before_reset, w.floats("W")?, r.floats("R")?, bv);
        let mut directions = Vec::with_capacity(shape.dirs);
        for (d, (&reverse, block)) in attrs.direction.reversed().iter().zip(blocks).enumerate() {
            let spec = attrs.direction_spec(&shape, d);
            spec.validate().map_err(|e| e.to_string())?;
            let params = GruParams::from_blocks(&spec, vec![block]).map_err(|e| e.to_string())?;
            let engine = NativeEngine::new().prepare(&spec, &params, &Plan::inference()).map_err(|e| e.to_string())?;
            directions.push(Direction { reverse, engine: Mutex::new(engine) });
        }
        Ok(Self {
            hidden: shape.hidden,
            input_size: shape.inputs,
            batch_major: attrs.layout == Layout::BatchMajor,
            directions,
        })
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
        // Every sequence runs, those of length 0 included: our engine gives them h_T = h0.
        let run_steps = lengths.iter().copied().max().unwrap_or(0).max(1);
        for (d, dir) in self.directions.iter().enumerate() {
            if batch == 0 {
                break;
            }
            // The step of sequence b that is run at step t (reversed within its length).
            let src = |t: usize, b: usize| if dir.reverse { lengths[b] - 1 - t } else { t };
            // xa: [run_steps, B, I] time-major, zero past each length.
            let mut xa = vec![T::zero(); run_steps * batch * i];
            for (b, &len) in lengths.iter().enumerate() {
                for t in 0..len {
                    let o = at(src(t, b), b);
                    xa[(t * batch + b) * i..(t * batch + b + 1) * i].copy_from_slice(&xv[o..o + i]);
                }
            }
            // h0a: [1, B, H].
            let h0a: Option<Vec<T>> = h0v.map(|s| {
                (0..batch)
                    .flat_map(|b| {
                        let o = if self.batch_major { (b * dirs + d) * h } else { (d * batch + b) * h };
                        s[o..o + h].iter().copied()
                    })
                    .collect()
            });
            let mut input = SequenceBatch::new(&xa, run_steps, batch).with_lengths(&lengths);
            if let Some(h0a) = &h0a {
                input = input.with_initial_state(h0a);
            }
            let out = {
                let mut engine = dir.engine.lock().map_err(|_| "the engine failed in an earlier run".to_string())?;
                engine.forward(&input).map_err(|e| e.to_string())?
            };
            // out.y: [run_steps, B, H]; out.h_t: [1, B, H] (a length-0 sequence: its h0).
            for (b, &len) in lengths.iter().enumerate() {
                for t in 0..len {
                    let dst = ((src(t, b) * dirs + d) * batch + b) * h;
                    y[dst..dst + h].copy_from_slice(&out.y[(t * batch + b) * h..(t * batch + b + 1) * h]);
                }
            }
            yh[d * batch * h..(d + 1) * batch * h].copy_from_slice(&out.h_t);
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
