//! Parameters in the canonical layout (DESIGN.md), one block per layer and direction.
//!
//! ```text
//! W:    3H × In  row-major, rows grouped by gate [r; z; n]   (MATLAB InputWeights)
//! R:    3H × H   row-major, rows grouped by gate [r; z; n]   (MATLAB RecurrentWeights)
//! bias: [b_r b_z b_n] (3H), or [b_r b_z b_n b'_r b'_z b'_n] (6H) for
//!       ResetGateMode::RecurrentBiasAfterMultiplication
//! norm: [γ_x | β_x | γ_h | β_h], each 3H (gates r, z, n): the layer-norm gains and biases
//!       of the input and recurrent parts (12H), only with `regularization.layer_norm`
//! ```
//! Blocks are indexed `layer · dirs + dir`. Reach a gate through [`Gate`] and the view
//! methods, never through hand-computed offsets.

use crate::error::{GruError, Result};
use crate::real::{first_non_finite, Real};
use crate::spec::{GruSpec, ResetGateMode};

/// One of the three gates, in canonical order r, z, n.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// r: the reset gate.
    Reset,
    /// z: the update gate.
    Update,
    /// n: the candidate (new) state.
    Candidate,
}

impl Gate {
    /// r, z, n.
    pub const ALL: [Gate; 3] = [Gate::Reset, Gate::Update, Gate::Candidate];

    /// Position in the canonical order (r 0, z 1, n 2).
    pub fn index(self) -> usize {
        match self {
            Gate::Reset => 0,
            Gate::Update => 1,
            Gate::Candidate => 2,
        }
    }

    /// Range of this gate's rows (or entries) in a `3H` grouping.
    pub fn rows(self, hidden: usize) -> std::ops::Range<usize> {
        self.index() * hidden..(self.index() + 1) * hidden
    }
}

/// Which part of the gate pre-activations a layer-norm parameter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NormPart {
    /// `LN_x(W x)`.
    Input,
    /// `LN_h(R h)`.
    Recurrent,
}

/// Parameters of one layer and direction.
#[derive(Debug, PartialEq)]
pub struct BlockParams<T> {
    input_size: usize,
    hidden_size: usize,
    w: Vec<T>,
    r: Vec<T>,
    bias: Vec<T>,
    /// Layer-norm gains and biases, 12H (empty without layer norm).
    norm: Vec<T>,
}

impl<T: Real> BlockParams<T> {
    /// All-zero parameters for a block reading `input_size` channels.
    pub fn zeros(input_size: usize, hidden_size: usize, mode: ResetGateMode) -> Self {
        let h = hidden_size;
        Self {
            input_size,
            hidden_size,
            w: vec![T::zero(); 3 * h * input_size],
            r: vec![T::zero(); 3 * h * h],
            bias: vec![T::zero(); mode.bias_len(h)],
            norm: Vec::new(),
        }
    }

    /// The same block with layer-norm parameters `norm` (`[γ_x | β_x | γ_h | β_h]`, 12H).
    pub fn with_norm(mut self, name: &str, norm: Vec<T>) -> Result<Self> {
        let n = 12 * self.hidden_size;
        if norm.len() != n {
            return Err(GruError::shape(format!("{name}.norm"), format!("12H = {n}"), n, norm.len()));
        }
        check_finite(&format!("{name}.norm"), &norm)?;
        self.norm = norm;
        Ok(self)
    }

    /// The layer-norm parameters at their usual start: gains 1, biases 0 (12H).
    pub fn identity_norm(hidden_size: usize) -> Vec<T> {
        let h3 = 3 * hidden_size;
        [T::one(), T::zero(), T::one(), T::zero()].iter().flat_map(|&v| std::iter::repeat_n(v, h3)).collect()
    }

    /// Checked constructor; `name` prefixes the field in errors (e.g. `params[1]`).
    pub fn new(
        name: &str,
        input_size: usize,
        hidden_size: usize,
        mode: ResetGateMode,
        w: Vec<T>,
        r: Vec<T>,
        bias: Vec<T>,
    ) -> Result<Self> {
        let h = hidden_size;
        let check = |field: &str, shape: String, expected: usize, v: &[T]| -> Result<()> {
            if v.len() != expected {
                return Err(GruError::shape(format!("{name}.{field}"), shape, expected, v.len()));
            }
            check_finite(&format!("{name}.{field}"), v)
        };
        check("w", format!("3H×In = {}×{}", 3 * h, input_size), 3 * h * input_size, &w)?;
        check("r", format!("3H×H = {}×{}", 3 * h, h), 3 * h * h, &r)?;
        check("bias", format!("{} for {}", mode.bias_len(h), mode.name()), mode.bias_len(h), &bias)?;
        Ok(Self { input_size, hidden_size, w, r, bias, norm: Vec::new() })
    }

    pub fn input_size(&self) -> usize {
        self.input_size
    }
    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// W, 3H × In row-major.
    pub fn w(&self) -> &[T] {
        &self.w
    }
    /// R, 3H × H row-major.
    pub fn r(&self) -> &[T] {
        &self.r
    }
    /// The whole bias, 3H or 6H.
    pub fn bias(&self) -> &[T] {
        &self.bias
    }
    pub fn w_mut(&mut self) -> &mut [T] {
        &mut self.w
    }
    pub fn r_mut(&mut self) -> &mut [T] {
        &mut self.r
    }
    pub fn bias_mut(&mut self) -> &mut [T] {
        &mut self.bias
    }
    /// `(W, R, bias)` at once, mutable (for writing a block's gradients in one pass).
    pub fn parts_mut(&mut self) -> (&mut [T], &mut [T], &mut [T]) {
        (&mut self.w, &mut self.r, &mut self.bias)
    }
    /// The layer-norm parameters `[γ_x | β_x | γ_h | β_h]` (12H), empty without layer norm.
    pub fn norm(&self) -> &[T] {
        &self.norm
    }
    pub fn norm_mut(&mut self) -> &mut [T] {
        &mut self.norm
    }
    /// Whether the block has layer-norm parameters.
    pub fn has_norm(&self) -> bool {
        !self.norm.is_empty()
    }
    /// γ of `part`, `3H` (gates r, z, n); empty without layer norm.
    pub fn norm_gain(&self, part: NormPart) -> &[T] {
        self.norm_slice(part, 0)
    }
    /// β of `part`, `3H` (gates r, z, n); empty without layer norm.
    pub fn norm_bias(&self, part: NormPart) -> &[T] {
        self.norm_slice(part, 1)
    }
    fn norm_slice(&self, part: NormPart, which: usize) -> &[T] {
        if self.norm.is_empty() {
            return &[];
        }
        let h3 = 3 * self.hidden_size;
        let at = (2 * usize::from(part == NormPart::Recurrent) + which) * h3;
        &self.norm[at..at + h3]
    }
    /// `(γ_x, β_x, γ_h, β_h)`, mutable (3H each; empty without layer norm).
    pub fn norm_parts_mut(&mut self) -> (&mut [T], &mut [T], &mut [T], &mut [T]) {
        let h3 = 3 * self.hidden_size;
        if self.norm.is_empty() {
            return (&mut [], &mut [], &mut [], &mut []);
        }
        let (gx, rest) = self.norm.split_at_mut(h3);
        let (bx, rest) = rest.split_at_mut(h3);
        let (gh, bh) = rest.split_at_mut(h3);
        (gx, bx, gh, bh)
    }

    /// True for the 6H bias of the recurrent-bias-after mode.
    pub fn has_recurrent_bias(&self) -> bool {
        self.bias.len() == 6 * self.hidden_size
    }

    /// W_g: H × In rows of gate `g`.
    pub fn w_gate(&self, g: Gate) -> &[T] {
        &self.w[rows_of(g, self.hidden_size, self.input_size)]
    }
    /// R_g: H × H rows of gate `g`.
    pub fn r_gate(&self, g: Gate) -> &[T] {
        &self.r[rows_of(g, self.hidden_size, self.hidden_size)]
    }
    /// b_g: the input bias of gate `g` (H).
    pub fn input_bias(&self, g: Gate) -> &[T] {
        &self.bias[g.rows(self.hidden_size)]
    }
    /// b'_g: the recurrent bias of gate `g` (H), only in the 6H layout.
    pub fn recurrent_bias(&self, g: Gate) -> Option<&[T]> {
        let h = self.hidden_size;
        self.has_recurrent_bias().then(|| &self.bias[3 * h + g.index() * h..3 * h + (g.index() + 1) * h])
    }
    pub fn w_gate_mut(&mut self, g: Gate) -> &mut [T] {
        let rows = rows_of(g, self.hidden_size, self.input_size);
        &mut self.w[rows]
    }
    pub fn r_gate_mut(&mut self, g: Gate) -> &mut [T] {
        let rows = rows_of(g, self.hidden_size, self.hidden_size);
        &mut self.r[rows]
    }
    pub fn input_bias_mut(&mut self, g: Gate) -> &mut [T] {
        let rows = g.rows(self.hidden_size);
        &mut self.bias[rows]
    }
    pub fn recurrent_bias_mut(&mut self, g: Gate) -> Option<&mut [T]> {
        let h = self.hidden_size;
        let has = self.has_recurrent_bias();
        has.then(|| &mut self.bias[3 * h + g.index() * h..3 * h + (g.index() + 1) * h])
    }

    /// Number of scalars in this block.
    pub fn len(&self) -> usize {
        self.w.len() + self.r.len() + self.bias.len() + self.norm.len()
    }

    /// Never true for a valid block (H >= 1); present for the `len` convention.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn rows_of(g: Gate, hidden: usize, cols: usize) -> std::ops::Range<usize> {
    g.index() * hidden * cols..(g.index() + 1) * hidden * cols
}

pub(crate) fn check_finite<T: Real>(field: &str, v: &[T]) -> Result<()> {
    match first_non_finite(v) {
        Some(index) => Err(GruError::NonFinite { field: field.into(), index, value: v[index].widen() }),
        None => Ok(()),
    }
}

/// One block's values `(w, r, bias, norm)` (see [`GruParams::from_blocks_with_norm`]).
pub type BlockValues<T> = (Vec<T>, Vec<T>, Vec<T>, Vec<T>);

/// The parameters of a whole stack: D·dirs blocks indexed `layer · dirs + dir`.
#[derive(Debug, PartialEq)]
pub struct GruParams<T> {
    blocks: Vec<BlockParams<T>>,
}

// By hand rather than derived: `clone_from` reuses the buffers it has (a derived one
// allocates a whole copy), so that `PreparedGru::set_params` allocates nothing.
impl<T: Clone> Clone for BlockParams<T> {
    fn clone(&self) -> Self {
        Self {
            input_size: self.input_size,
            hidden_size: self.hidden_size,
            w: self.w.clone(),
            r: self.r.clone(),
            bias: self.bias.clone(),
            norm: self.norm.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.input_size = source.input_size;
        self.hidden_size = source.hidden_size;
        self.w.clone_from(&source.w);
        self.r.clone_from(&source.r);
        self.bias.clone_from(&source.bias);
        self.norm.clone_from(&source.norm);
    }
}

impl<T: Clone> Clone for GruParams<T> {
    fn clone(&self) -> Self {
        Self { blocks: self.blocks.clone() }
    }

    fn clone_from(&mut self, source: &Self) {
        self.blocks.clone_from(&source.blocks);
    }
}

impl<T: Real> GruParams<T> {
    /// All-zero parameters shaped for `spec` (layer-norm gains too: a gradient's shape).
    pub fn zeros(spec: &GruSpec) -> Self {
        let blocks = (0..spec.num_blocks())
            .map(|i| {
                let mut b = BlockParams::zeros(
                    spec.layer_input_size(i / spec.directions()),
                    spec.hidden_size,
                    spec.reset_gate_mode,
                );
                b.norm = vec![T::zero(); spec.norm_len()];
                b
            })
            .collect();
        Self { blocks }
    }

    /// Builds from `(w, r, bias)` per block, checking every shape against `spec`. With layer
    /// norm, each block's layer-norm parameters start at gains 1 and biases 0
    /// ([`BlockParams::identity_norm`]); [`GruParams::from_blocks_with_norm`] gives them.
    pub fn from_blocks(spec: &GruSpec, blocks: Vec<(Vec<T>, Vec<T>, Vec<T>)>) -> Result<Self> {
        let norm = (spec.norm_len() > 0).then(|| BlockParams::<T>::identity_norm(spec.hidden_size));
        let blocks = blocks.into_iter().map(|(w, r, b)| (w, r, b, norm.clone().unwrap_or_default())).collect();
        Self::from_blocks_with_norm(spec, blocks)
    }

    /// Builds from `(w, r, bias, norm)` per block (`norm` empty without layer norm, else
    /// `[γ_x | β_x | γ_h | β_h]`, 12H), checking every shape against `spec`.
    pub fn from_blocks_with_norm(spec: &GruSpec, blocks: Vec<BlockValues<T>>) -> Result<Self> {
        spec.validate()?;
        if blocks.len() != spec.num_blocks() {
            return Err(GruError::shape("params", "D·dirs blocks", spec.num_blocks(), blocks.len()));
        }
        let blocks = blocks
            .into_iter()
            .enumerate()
            .map(|(i, (w, r, b, norm))| {
                let input = spec.layer_input_size(i / spec.directions());
                let name = format!("params[{i}]");
                let block = BlockParams::new(&name, input, spec.hidden_size, spec.reset_gate_mode, w, r, b)?;
                match (spec.norm_len(), norm.is_empty()) {
                    (0, true) => Ok(block),
                    (0, false) => {
                        Err(GruError::shape(format!("{name}.norm"), "none without layer norm", 0, norm.len()))
                    }
                    _ => block.with_norm(&name, norm),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { blocks })
    }

    /// Checks that these parameters fit `spec` and are finite.
    pub fn check(&self, spec: &GruSpec) -> Result<()> {
        if self.blocks.len() != spec.num_blocks() {
            return Err(GruError::shape("params", "D·dirs blocks", spec.num_blocks(), self.blocks.len()));
        }
        let h = spec.hidden_size;
        for (i, b) in self.blocks.iter().enumerate() {
            let input = spec.layer_input_size(i / spec.directions());
            // Named only on error: checking allocates nothing (`set_params` runs it per step).
            let name = || format!("params[{i}]");
            if b.hidden_size != h || b.w.len() != 3 * h * input {
                return Err(GruError::shape(
                    format!("{}.w", name()),
                    format!("3H×In = {}×{input}", 3 * h),
                    3 * h * input,
                    b.w.len(),
                ));
            }
            if b.r.len() != 3 * h * h {
                return Err(GruError::shape(
                    format!("{}.r", name()),
                    format!("3H×H = {}×{h}", 3 * h),
                    3 * h * h,
                    b.r.len(),
                ));
            }
            let bl = spec.reset_gate_mode.bias_len(h);
            if b.bias.len() != bl {
                return Err(GruError::shape(
                    format!("{}.bias", name()),
                    spec.reset_gate_mode.name().to_string(),
                    bl,
                    b.bias.len(),
                ));
            }
            if b.norm.len() != spec.norm_len() {
                return Err(GruError::shape(
                    format!("{}.norm", name()),
                    "12H with layer norm, else 0",
                    spec.norm_len(),
                    b.norm.len(),
                ));
            }
            for (field, v) in [("w", &b.w), ("r", &b.r), ("bias", &b.bias), ("norm", &b.norm)] {
                if first_non_finite(v).is_some() {
                    check_finite(&format!("{}.{field}", name()), v)?;
                }
            }
        }
        Ok(())
    }

    /// Block of `layer` and `dir` (0 forward, 1 backward) for a stack with `dirs` directions.
    pub fn block(&self, layer: usize, dir: usize, dirs: usize) -> &BlockParams<T> {
        &self.blocks[layer * dirs + dir]
    }

    pub fn blocks(&self) -> &[BlockParams<T>] {
        &self.blocks
    }

    pub fn blocks_mut(&mut self) -> &mut [BlockParams<T>] {
        &mut self.blocks
    }

    /// Total number of scalars.
    pub fn num_params(&self) -> usize {
        self.blocks.iter().map(BlockParams::len).sum()
    }

    /// Every scalar in block order, each block as `w`, `r`, `bias`, `norm` (empty without
    /// layer norm).
    pub fn to_flat(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.num_params());
        for b in &self.blocks {
            out.extend_from_slice(&b.w);
            out.extend_from_slice(&b.r);
            out.extend_from_slice(&b.bias);
            out.extend_from_slice(&b.norm);
        }
        out
    }

    /// Overwrites every scalar from `flat` (the order of [`GruParams::to_flat`]).
    pub fn set_flat(&mut self, flat: &[T]) -> Result<()> {
        if flat.len() != self.num_params() {
            return Err(GruError::shape("params (flat)", "num_params", self.num_params(), flat.len()));
        }
        let mut at = 0;
        for b in &mut self.blocks {
            for v in [&mut b.w, &mut b.r, &mut b.bias, &mut b.norm] {
                let n = v.len();
                v.copy_from_slice(&flat[at..at + n]);
                at += n;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_views_follow_r_z_n_order() {
        let spec = GruSpec::new(2, 3).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
        let mut p = GruParams::<f64>::zeros(&spec);
        let b = &mut p.blocks_mut()[0];
        b.w_gate_mut(Gate::Update).fill(1.0);
        b.r_gate_mut(Gate::Candidate).fill(2.0);
        b.recurrent_bias_mut(Gate::Candidate).unwrap().fill(3.0);
        b.input_bias_mut(Gate::Reset).fill(4.0);
        let b = &p.blocks()[0];
        assert_eq!(&b.w()[6..12], &[1.0; 6]); // rows 3..6 of a 9×2 W
        assert_eq!(&b.r()[18..27], &[2.0; 9]); // rows 6..9 of a 9×3 R
        assert_eq!(&b.bias()[15..18], &[3.0; 3]);
        assert_eq!(&b.bias()[0..3], &[4.0; 3]);
        assert!(p.blocks()[0].recurrent_bias(Gate::Reset).is_some());
        let p3 = GruParams::<f64>::zeros(&GruSpec::new(2, 3));
        assert!(p3.blocks()[0].recurrent_bias(Gate::Reset).is_none());
    }

    #[test]
    fn shapes_follow_depth_and_directions() {
        let spec = GruSpec::new(3, 4).with_depth(2).with_bidirectional(true);
        let p = GruParams::<f32>::zeros(&spec);
        assert_eq!(p.blocks().len(), 4);
        assert_eq!(p.block(1, 1, 2).w().len(), 12 * 8);
        assert_eq!(p.num_params(), 2 * (12 * 3 + 48 + 12) + 2 * (12 * 8 + 48 + 12));
        assert_eq!(spec.parameter_count(), Some(p.num_params()));
        let flat: Vec<f32> = (0..p.num_params()).map(|v| v as f32).collect();
        let mut q = p.clone();
        q.set_flat(&flat).unwrap();
        assert_eq!(q.to_flat(), flat);
    }

    #[test]
    fn layer_norm_parameters_follow_the_bias_and_start_at_the_identity() {
        let spec = GruSpec::new(2, 3)
            .with_depth(2)
            .with_regularization(crate::spec::Regularization::NONE.with_layer_norm(true));
        let blocks = (0..2).map(|i| (vec![0.5; 18 + 9 * i], vec![0.25; 27], vec![0.125; 9])).collect();
        let p = GruParams::<f64>::from_blocks(&spec, blocks).unwrap();
        p.check(&spec).unwrap();
        assert_eq!(Some(p.num_params()), spec.parameter_count());
        let b = &p.blocks()[1];
        assert_eq!((b.norm_gain(NormPart::Input), b.norm_bias(NormPart::Recurrent)), (&[1.0; 9][..], &[0.0; 9][..]));
        let flat = p.to_flat();
        assert_eq!(&flat[18 + 27 + 9..][..9], &[1.0; 9]); // γ_x of block 0 right after its bias
        let mut q = GruParams::zeros(&spec);
        q.set_flat(&flat).unwrap();
        assert_eq!(q, p);
        // A plain spec refuses layer-norm parameters, and a layer-norm spec needs them.
        let plain = GruSpec::new(2, 3);
        assert!(p.check(&plain).is_err() && GruParams::<f64>::zeros(&plain).check(&spec).is_err());
        let err = GruParams::<f64>::from_blocks_with_norm(
            &spec,
            vec![(vec![0.0; 18], vec![0.0; 27], vec![0.0; 9], vec![1.0; 5]); 2],
        )
        .unwrap_err();
        assert_eq!(err, GruError::shape("params[0].norm", "12H = 36", 36, 5));
    }

    #[test]
    fn bad_blocks_are_typed_errors() {
        let spec = GruSpec::new(3, 2);
        let err = GruParams::<f64>::from_blocks(&spec, vec![(vec![0.0; 18], vec![0.0; 11], vec![0.0; 6])]).unwrap_err();
        assert_eq!(err, GruError::shape("params[0].r", "3H×H = 6×2", 12, 11));
        let err = GruParams::<f64>::from_blocks(
            &spec,
            vec![(vec![0.0; 18], vec![0.0; 12], vec![0.0, f64::NAN, 0.0, 0.0, 0.0, 0.0])],
        )
        .unwrap_err();
        assert!(matches!(err, GruError::NonFinite { ref field, index: 1, .. } if field == "params[0].bias"));
        let err = GruParams::<f64>::from_blocks(&spec, vec![]).unwrap_err();
        assert!(matches!(err, GruError::ShapeMismatch { ref field, expected: 1, actual: 0, .. } if field == "params"));
    }
}
