//! Streaming over a layer's weights: [`GruLayer::streams`] makes a
//! [`gru_core::StreamSet`] (open, close, step one frame of many streams, reset, state and
//! set_state; see `gru_core::stream` for the equations and guarantees).

use gru_core::{Real, StreamSet};

use super::GruLayer;
use crate::engines::engine_for;
use crate::error::{Error, Result};

impl<T: Real> GruLayer<T> {
    /// A set of `capacity` stream slots over this layer's weights, on its engine: each
    /// stream advanced one frame at a time (`frames` `[n, InputSize]` -> `y` `[n, H]`),
    /// with its own state `[D, H]`. Streams start (open, reset) from the layer's
    /// `HiddenState` when it is shared (`[D, H]`), else from its learnable initial state,
    /// else from zero. Bidirectional and reverse layers are refused (the field named);
    /// InputSize must be known.
    pub fn streams(&self, capacity: usize) -> Result<StreamSet<T>> {
        let spec = self.spec()?;
        let params = self.params.as_ref().ok_or_else(|| Error::Unresolved {
            property: "InputWeights".into(),
            reason: "the weights are drawn once InputSize is known".into(),
        })?;
        let engine = engine_for::<T>(self.opts.engine)?;
        let mut set = StreamSet::prepare(&*engine, &spec, params, capacity)?;
        let shared = self.hidden_state.as_ref().filter(|s| s.batch().is_none()).map(|s| s.data());
        if let Some(h) = shared.or(self.initial_state.as_deref()) {
            set.set_initial_state(h)?;
        }
        Ok(set)
    }
}
