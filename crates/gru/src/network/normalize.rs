//! The fitted normalizations of a network: its sequence input layer's (MATLAB
//! `Normalization`, [`Normalization`]) and its regression targets'
//! ([`TargetNormalization`]), both affine per channel and fitted on the training data.

use gru_core::Real;

use super::{Head, Network, Node, Normalization};
use crate::data::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// A fitted normalization of the regression targets: the layers learn the normalized
/// targets `t'_r = (t_r - offset_r) / scale_r`, and every pass maps the last layer's output
/// back, `y_r = offset_r + scale_r · y'_r`, so that predictions are in the units of the
/// targets. The loss is the output layer's loss of the normalized values,
/// `½ Σ ((y_r - t_r) / scale_r)²` (mean or sum as the reduction says), exactly the loss of
/// a network trained on normalized targets; the RMSE metrics stay in the targets' units.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetNormalization<T> {
    /// How it was fitted.
    pub kind: Normalization,
    /// `[R]`.
    pub offset: Vec<T>,
    /// `[R]`, each finite and > 0.
    pub scale: Vec<T>,
}

impl<T: Real> Network<T> {
    /// Fits the input layer's normalization (its [`Normalization`]) over every step of every
    /// sequence of `data`; nothing for `"none"`. A channel whose scale would be 0 gets 1.
    pub fn fit_normalization(&mut self, data: &SequenceDataset<T>) -> Result<()> {
        let size = self.input_size();
        if data.channels != size {
            return Err(Error::data("channels", data.channels, format!("the network reads {size}")));
        }
        let Node::Input { normalization, stats, .. } = &mut self.nodes[0] else {
            return Ok(());
        };
        if *normalization == Normalization::None {
            return Ok(());
        }
        // No step at all (empty sequences only): offset 0, scale 1.
        let (offset, scale) = normalization
            .fit(size, data.sequences.iter().map(Vec::as_slice))
            .unwrap_or_else(|| (vec![0.0; size], vec![1.0; size]));
        *stats = Some((offset.into_iter().map(T::lit).collect(), scale.into_iter().map(T::lit).collect()));
        Ok(())
    }

    /// The input layer's normalization kind (MATLAB `Normalization`).
    pub fn input_normalization(&self) -> Normalization {
        match &self.nodes[0] {
            Node::Input { normalization, .. } => *normalization,
            _ => Normalization::None,
        }
    }

    /// The fitted normalization of the regression targets, if any.
    pub fn target_normalization(&self) -> Option<&TargetNormalization<T>> {
        self.target_normalization.as_ref()
    }

    /// Sets (or removes) the target normalization. Errors ([`Error::Data`]): a network that
    /// is not a regression network, or offsets and scales that are not `R` finite values
    /// (scales > 0).
    pub fn set_target_normalization(&mut self, t: Option<TargetNormalization<T>>) -> Result<()> {
        if let Some(t) = &t {
            if self.head != Head::Regression {
                return Err(Error::data(
                    "target_normalization",
                    t.kind.name(),
                    "only a regression network normalizes its targets",
                ));
            }
            let r = self.output_width;
            let finite = t.offset.iter().all(|v| v.is_finite());
            let positive = t.scale.iter().all(|v| v.is_finite() && *v > T::zero());
            if t.offset.len() != r || t.scale.len() != r || !finite || !positive {
                return Err(Error::data(
                    "target_normalization",
                    t.offset.len(),
                    format!("needs {r} finite offsets and {r} finite scales > 0"),
                ));
            }
        }
        self.target_normalization = t;
        Ok(())
    }

    /// Fits the target normalization `kind` on the targets of `data` (every response of
    /// every sequence, or of every step): a regression network only; a classification
    /// network keeps none whatever `kind` says. `"none"` removes it.
    pub fn fit_target_normalization(&mut self, data: &SequenceDataset<T>, kind: Normalization) -> Result<()> {
        if self.head != Head::Regression {
            return Ok(());
        }
        let r = self.output_width;
        let fitted = match &data.targets {
            Targets::Responses(v) | Targets::ResponseSequences(v) => kind.fit(r, v.iter().map(Vec::as_slice)),
            _ => return Err(Error::data("targets", "classes", "a regression network needs responses")),
        };
        self.set_target_normalization(fitted.map(|(offset, scale)| TargetNormalization {
            kind,
            offset: offset.into_iter().map(T::lit).collect(),
            scale: scale.into_iter().map(T::lit).collect(),
        }))
    }

    /// `y_r = offset_r + scale_r · y'_r` on every row of `output` (`[rows, R]`), when the
    /// targets are normalized.
    pub(crate) fn denormalize_output(&self, output: &mut [T]) {
        if let Some(t) = &self.target_normalization {
            for row in output.chunks_exact_mut(t.scale.len()) {
                for ((y, s), o) in row.iter_mut().zip(&t.scale).zip(&t.offset) {
                    *y = *y * *s + *o;
                }
            }
        }
    }

    /// dL/dy' = scale_r · dL/dy on every row of `grad` (`[rows, R]`): the backward of
    /// [`Self::denormalize_output`].
    pub(crate) fn normalize_output_grad(&self, grad: &mut [T]) {
        if let Some(t) = &self.target_normalization {
            for row in grad.chunks_exact_mut(t.scale.len()) {
                for (g, s) in row.iter_mut().zip(&t.scale) {
                    *g *= *s;
                }
            }
        }
    }
}
