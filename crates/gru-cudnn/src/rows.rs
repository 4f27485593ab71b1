//! The host side of a call: which rows of the batch run on the GPU (those of positive
//! length), their data gathered into cuDNN's layout (zero past each length, so the padding
//! is never read) and the results scattered back into the caller's layout.

use gru_core::{output_shape, state_len, GruGradients, GruOutput, GruParams, GruSpec, OutputMode, Real};

use crate::device::ENGINE;

/// The widths of a call.
pub struct Sizes {
    pub input: usize,
    pub hidden: usize,
    /// `dirs·H`, a step's output.
    pub width: usize,
    /// `D·dirs`, the state's blocks.
    pub blocks: usize,
}

impl Sizes {
    pub fn of(spec: &GruSpec) -> Self {
        Sizes { input: spec.input_size, hidden: spec.hidden_size, width: spec.output_size(), blocks: spec.num_blocks() }
    }
}

/// The batch's rows: all of them (`lengths`) and those that run (`live`, length > 0).
#[derive(Clone, Debug)]
pub struct Rows {
    pub lengths: Vec<usize>,
    pub steps: usize,
    pub live: Vec<usize>,
}

fn narrow<T: Real>(v: T) -> f32 {
    v.widen() as f32
}

fn widen<T: Real>(v: f32) -> T {
    T::lit(f64::from(v))
}

impl Rows {
    pub fn new(lengths: Vec<usize>, steps: usize) -> Self {
        let live = (0..lengths.len()).filter(|&b| lengths[b] > 0).collect();
        Rows { lengths, steps, live }
    }

    pub fn live_lengths(&self) -> Vec<usize> {
        self.live.iter().map(|&b| self.lengths[b]).collect()
    }

    /// `[T, n, width]` of the live rows of `x` (`[T, B, width]`), zero past each length.
    pub fn gather_steps<T: Real>(&self, x: &[T], width: usize) -> Vec<f32> {
        let (batch, n) = (self.lengths.len(), self.live.len());
        let mut out = vec![0.0f32; self.steps * n * width];
        for (j, &b) in self.live.iter().enumerate() {
            for t in 0..self.lengths[b] {
                let src = &x[(t * batch + b) * width..][..width];
                for (d, &v) in out[(t * n + j) * width..][..width].iter_mut().zip(src) {
                    *d = narrow(v);
                }
            }
        }
        out
    }

    /// `[D·dirs, n, H]` of the live rows of a state `[D·dirs, B, H]` (`None`: zero).
    pub fn gather_state<T: Real>(&self, h: Option<&[T]>, sizes: &Sizes) -> Vec<f32> {
        let (batch, n, hid) = (self.lengths.len(), self.live.len(), sizes.hidden);
        let mut out = vec![0.0f32; sizes.blocks * n * hid];
        if let Some(h) = h {
            for blk in 0..sizes.blocks {
                for (j, &b) in self.live.iter().enumerate() {
                    let src = &h[(blk * batch + b) * hid..][..hid];
                    for (d, &v) in out[(blk * n + j) * hid..][..hid].iter_mut().zip(src) {
                        *d = narrow(v);
                    }
                }
            }
        }
        out
    }

    /// dL/dy in cuDNN's `[T, n, dirs·H]`: output mode sequence as it is (zero past each
    /// length), mode last at each sequence's last step.
    pub fn gather_output_grads<T: Real>(&self, spec: &GruSpec, dy: &[T], sizes: &Sizes) -> Vec<f32> {
        if spec.output_mode == OutputMode::Sequence {
            return self.gather_steps(dy, sizes.width);
        }
        let (n, w) = (self.live.len(), sizes.width);
        let mut out = vec![0.0f32; self.steps * n * w];
        for (j, &b) in self.live.iter().enumerate() {
            let t = self.lengths[b] - 1;
            for (d, &v) in out[(t * n + j) * w..][..w].iter_mut().zip(&dy[b * w..(b + 1) * w]) {
                *d = narrow(v);
            }
        }
        out
    }

    /// The caller's outputs from cuDNN's `y` (`[T, n, dirs·H]`) and `h_T` (`[D·dirs, n, H]`);
    /// rows of length 0 keep `h_T = h0`.
    pub fn outputs<T: Real>(
        &self,
        spec: &GruSpec,
        sizes: &Sizes,
        y: &[f32],
        h: &[f32],
        h0: Option<&[T]>,
    ) -> GruOutput<T> {
        let (batch, n, w, hid) = (self.lengths.len(), self.live.len(), sizes.width, sizes.hidden);
        let y_shape = output_shape(spec, self.steps, batch);
        let mut y_out = vec![T::zero(); y_shape.iter().product()];
        for (j, &b) in self.live.iter().enumerate() {
            let len = self.lengths[b];
            match spec.output_mode {
                OutputMode::Sequence => {
                    for t in 0..len {
                        let src = &y[(t * n + j) * w..][..w];
                        for (d, &v) in y_out[(t * batch + b) * w..][..w].iter_mut().zip(src) {
                            *d = widen(v);
                        }
                    }
                }
                OutputMode::Last => {
                    let src = &y[((len - 1) * n + j) * w..][..w];
                    for (d, &v) in y_out[b * w..(b + 1) * w].iter_mut().zip(src) {
                        *d = widen(v);
                    }
                }
            }
        }
        let mut h_t = match h0 {
            Some(h0) => h0.to_vec(),
            None => vec![T::zero(); state_len(spec, batch)],
        };
        for blk in 0..sizes.blocks {
            for (j, &b) in self.live.iter().enumerate() {
                let src = &h[(blk * n + j) * hid..][..hid];
                for (d, &v) in h_t[(blk * batch + b) * hid..][..hid].iter_mut().zip(src) {
                    *d = widen(v);
                }
            }
        }
        gru_core::lengths::empty_last_outputs(spec, &mut y_out, &h_t, &self.lengths);
        GruOutput { y: y_out, y_shape, h_t, computed_by: ENGINE }
    }

    /// The caller's gradients from cuDNN's `dx` (`[T, n, I]`) and `dh0` (`[D·dirs, n, H]`);
    /// rows of length 0 get `dx = 0`, `dh0 = dh_T` (`dh_t_all`, `None`: zero).
    pub fn gradients<T: Real>(
        &self,
        spec: &GruSpec,
        sizes: &Sizes,
        dx: &[f32],
        dh0: &[f32],
        dh_t_all: Option<&[T]>,
        params: GruParams<T>,
    ) -> GruGradients<T> {
        let (batch, n, inp, hid) = (self.lengths.len(), self.live.len(), sizes.input, sizes.hidden);
        let mut dx_out = vec![T::zero(); self.steps * batch * inp];
        for (j, &b) in self.live.iter().enumerate() {
            for t in 0..self.lengths[b] {
                let src = &dx[(t * n + j) * inp..][..inp];
                for (d, &v) in dx_out[(t * batch + b) * inp..][..inp].iter_mut().zip(src) {
                    *d = widen(v);
                }
            }
        }
        let mut dh0_out = match dh_t_all {
            Some(d) => d.to_vec(),
            None => vec![T::zero(); state_len(spec, batch)],
        };
        for blk in 0..sizes.blocks {
            for (j, &b) in self.live.iter().enumerate() {
                let src = &dh0[(blk * n + j) * hid..][..hid];
                for (d, &v) in dh0_out[(blk * batch + b) * hid..][..hid].iter_mut().zip(src) {
                    *d = widen(v);
                }
            }
        }
        GruGradients { dx: dx_out, dh0: dh0_out, params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_rows_round_trip_and_padding_is_never_read() {
        // B = 3, T = 3, lengths 2, 0, 3; width 2; NaN in the padding.
        let spec = GruSpec::new(2, 2);
        let rows = Rows::new(vec![2, 0, 3], 3);
        assert_eq!(rows.live, vec![0, 2]);
        let mut x: Vec<f64> = (0..18).map(f64::from).collect();
        for pad in [(2, 0), (0, 1), (1, 1), (2, 1)] {
            x[(pad.0 * 3 + pad.1) * 2] = f64::NAN;
            x[(pad.0 * 3 + pad.1) * 2 + 1] = f64::NAN;
        }
        let g = rows.gather_steps(&x, 2);
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert_eq!(g[..4], [0.0, 1.0, 4.0, 5.0], "step 0: rows 0 and 2");
        assert_eq!(g[8..12], [0.0, 0.0, 16.0, 17.0], "step 2: row 0 is past its length");
        // outputs: y back in place, row 1 (length 0) zero, h_T of row 1 = h0.
        let sizes = Sizes::of(&spec);
        let h0: Vec<f64> = vec![7.0; 6];
        let out = rows.outputs::<f64>(&spec, &sizes, &g, &[1.0, 2.0, 3.0, 4.0], Some(&h0));
        assert_eq!(out.y[..6], [0.0, 1.0, 0.0, 0.0, 4.0, 5.0]);
        assert_eq!(out.h_t, vec![1.0, 2.0, 7.0, 7.0, 3.0, 4.0]);
        assert_eq!(out.computed_by, "CuDNN");
        // output mode last: each row's last step; length 0: the top h_T.
        let last = GruSpec::new(2, 2).with_output_mode(OutputMode::Last);
        let out = rows.outputs::<f64>(&last, &sizes, &g, &[1.0, 2.0, 3.0, 4.0], Some(&h0));
        assert_eq!(out.y, vec![6.0, 7.0, 7.0, 7.0, 16.0, 17.0]);
        let dy = rows.gather_output_grads(&last, &out.y, &sizes);
        assert_eq!(dy[4..6], [6.0, 7.0], "row 0's gradient at its step 1");
        assert_eq!(dy[10..12], [16.0, 17.0], "row 2's at step 2");
        let grads = rows.gradients::<f64>(&spec, &sizes, &g, &[1.0, 2.0, 3.0, 4.0], Some(&h0), GruParams::zeros(&spec));
        assert_eq!(grads.dh0, vec![1.0, 2.0, 7.0, 7.0, 3.0, 4.0]);
        assert_eq!(grads.dx[2..4], [0.0, 0.0], "no dx for a length-0 row");
    }
}
