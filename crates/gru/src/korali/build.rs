//! From a Korali configuration to a [`GruLayer`]: the layer's engine, mode and plan come
//! from the network; its weights from Korali's initialization.

use gru_core::Real;

use super::{KoraliGru, KoraliNetwork};
use crate::layer::{BiasInitializer, GruLayerBuilder, WeightInitializer};
use crate::GruLayer;

impl KoraliGru {
    /// A builder for this GRU layer of `network`, reading `input_size` channels: hidden
    /// units = "Output Channels", depth = "Depth", reset gate mode = "Reset Gate Mode"
    /// (before-multiplication unless given), engine = "Engine", mode = "Mode", plan =
    /// "Batch Sizes" and "Timestep Count"; weights drawn as Korali does,
    /// `s · sqrt(6 / (in + H)) · U(min, max)` with s = "Weight Scaling" and the network's
    /// "Uniform Generator", biases 0. Set `.seed(..)` on the result for other draws.
    pub fn layer_builder<T: Real>(&self, network: &KoraliNetwork, input_size: usize) -> GruLayerBuilder<T> {
        let u = &network.uniform_generator;
        let init =
            WeightInitializer::KoraliXavier { scaling: self.weight_scaling, minimum: u.minimum, maximum: u.maximum };
        let mut b = GruLayer::<T>::builder_from(self.spec(input_size))
            .input_weights_initializer(init.clone())
            .recurrent_weights_initializer(init)
            .bias_initializer(BiasInitializer::Zeros)
            .engine(network.engine)
            .mode(network.mode)
            .batch_sizes(network.batch_sizes.clone());
        if let Some(t) = network.timestep_count {
            b = b.timestep_count(t);
        }
        b
    }
}
