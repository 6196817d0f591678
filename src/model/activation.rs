//! The switchable hidden activation: ReLU or LeakyReLU(alpha).

use burn::nn::{LeakyRelu, LeakyReluConfig, Relu};
use burn::prelude::*;

use crate::cli::Act;

/// A hidden-layer activation chosen at run time.
#[derive(Module, Debug)]
pub enum Activation {
    /// max(0, x).
    Relu(Relu),
    /// x if x > 0, else alpha·x.
    Leaky(LeakyRelu),
}

impl Activation {
    /// The activation `act`; `alpha` is LeakyReLU's negative slope (burn's default is 0.01, ours 0.2).
    pub fn new(act: Act, alpha: f64) -> Self {
        match act {
            Act::Relu => Activation::Relu(Relu::new()),
            Act::Leaky => {
                Activation::Leaky(LeakyReluConfig::new().with_negative_slope(alpha).init())
            }
        }
    }

    /// Applies the activation element-wise.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu(a) => a.forward(x),
            Activation::Leaky(a) => a.forward(x),
        }
    }
}
