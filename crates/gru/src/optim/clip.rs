//! Gradient clipping (MATLAB's `GradientThresholdMethod` and `GradientThreshold`) over the
//! flat gradient `g: [P]`, by the network's [`Segment`]s.

use std::collections::BTreeMap;

use gru_core::Real;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::network::Segment;

/// MATLAB's `GradientThresholdMethod` (serialized with MATLAB's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GradientThresholdMethod {
    /// "l2norm": each learnable tensor `k` with `‖g_k‖₂ > t` is scaled by `t / ‖g_k‖₂`.
    #[default]
    #[serde(rename = "l2norm")]
    L2Norm,
    /// "global-l2norm": when `‖g‖₂ > t` over all parameters, every gradient is scaled by `t / ‖g‖₂`.
    #[serde(rename = "global-l2norm")]
    GlobalL2Norm,
    /// "absolute-value": each gradient is clamped to `[−t, t]`.
    #[serde(rename = "absolute-value")]
    AbsoluteValue,
}

impl GradientThresholdMethod {
    /// MATLAB's name of the method.
    pub fn name(&self) -> &'static str {
        match self {
            GradientThresholdMethod::L2Norm => "l2norm",
            GradientThresholdMethod::GlobalL2Norm => "global-l2norm",
            GradientThresholdMethod::AbsoluteValue => "absolute-value",
        }
    }
}

/// Checks MATLAB's `GradientThreshold`: positive (`+inf`, the default, means no clipping).
pub fn validate_gradient_threshold(threshold: f64) -> Result<()> {
    if threshold > 0.0 {
        return Ok(());
    }
    Err(Error::property("GradientThreshold", threshold, "must be positive (Inf for no clipping)"))
}

/// Clips `grads: [P]` in place by `method` with threshold `t` and returns the global norm
/// `‖g‖₂ = sqrt(Σ_i g_i²)` before clipping (in `f64`, for logging).
///
/// `t = +inf` (or a `t` that [`validate_gradient_threshold`] rejects) leaves `grads` unchanged.
/// Under `L2Norm` the tensors are the groups of `segments` sharing `tensor`; elements in no
/// segment are left unclipped, and segment ranges past `P` are cut at `P`. Non-finite gradients
/// are not repaired.
pub fn clip_gradients<T: Real>(
    grads: &mut [T],
    segments: &[Segment],
    method: GradientThresholdMethod,
    threshold: f64,
) -> f64 {
    let sum_sq = |g: &[T]| g.iter().map(|x| x.widen() * x.widen()).sum::<f64>();
    let scale = |g: &mut [T], s: f64| g.iter_mut().for_each(|x| *x = T::lit(x.widen() * s));
    let global = sum_sq(grads).sqrt();
    if !(threshold > 0.0 && threshold.is_finite()) {
        return global;
    }
    let n = grads.len();
    let clamped = |s: &Segment| s.start.min(n)..s.start.saturating_add(s.len).min(n);
    match method {
        GradientThresholdMethod::L2Norm => {
            let mut norms = BTreeMap::<usize, f64>::new();
            for s in segments {
                *norms.entry(s.tensor).or_default() += sum_sq(&grads[clamped(s)]);
            }
            for s in segments {
                let norm = norms.get(&s.tensor).copied().unwrap_or(0.0).sqrt();
                if norm > threshold {
                    scale(&mut grads[clamped(s)], threshold / norm);
                }
            }
        }
        GradientThresholdMethod::GlobalL2Norm => {
            if global > threshold {
                scale(grads, threshold / global);
            }
        }
        GradientThresholdMethod::AbsoluteValue => {
            for x in grads.iter_mut() {
                *x = T::lit(x.widen().clamp(-threshold, threshold));
            }
        }
    }
    global
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::close;

    #[test]
    fn clipping_methods() {
        // tensor 0 = two segments [3, 0 | −4] (norm 5), tensor 1 = [0.6, 0.8] (norm 1)
        let segs = [Segment::new(0, 2, 0), Segment::new(2, 1, 0), Segment::new(3, 2, 1)];
        let g0 = [3.0, 0.0, -4.0, 0.6, 0.8];
        let norm = 26.0_f64.sqrt();
        let clip = |method| {
            let mut g = g0;
            let n = clip_gradients(&mut g, &segs, method, 2.0);
            assert!(close(n, norm, 1e-15));
            g
        };
        let want = [1.2, 0.0, -1.6, 0.6, 0.8];
        assert!(clip(GradientThresholdMethod::L2Norm).iter().zip(want).all(|(a, b)| close(*a, b, 1e-15)));
        let global = clip(GradientThresholdMethod::GlobalL2Norm);
        assert!(global.iter().zip(g0).all(|(a, b)| close(*a, b * 2.0 / norm, 1e-15)), "{global:?}");
        assert_eq!(clip(GradientThresholdMethod::AbsoluteValue), [2.0, 0.0, -2.0, 0.6, 0.8]);
        use GradientThresholdMethod::{AbsoluteValue, GlobalL2Norm, L2Norm};
        for method in [L2Norm, GlobalL2Norm, AbsoluteValue] {
            let mut g = g0.map(|x| x as f32);
            let n = clip_gradients(&mut g, &segs, method, f64::INFINITY);
            assert_eq!(g, g0.map(|x| x as f32));
            assert!(close(n, norm, 1e-7));
        }
    }

    #[test]
    fn threshold_and_names() {
        assert!(matches!(
            validate_gradient_threshold(0.0),
            Err(Error::Property { ref property, .. }) if property == "GradientThreshold"
        ));
        validate_gradient_threshold(f64::INFINITY).unwrap();
        let m = GradientThresholdMethod::GlobalL2Norm;
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"global-l2norm\"");
        assert_eq!(m.name(), "global-l2norm");
    }
}
