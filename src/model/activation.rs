//! The switchable hidden activation: ReLU or LeakyReLU(alpha).

use burn::nn::{LeakyRelu, LeakyReluConfig, Relu};
use burn::prelude::*;

use super::Act;
use super::kernel::ActKind;

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

    /// Applies the activation element-wise: on flex autodiff as one fused operation
    /// ([`super::fused_act`]), elsewhere with burn's tensor operations.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // The clone is a handle on the same tensor, kept for the backends the fused op declines.
        match super::fused_act::apply(x.clone(), self.kind()) {
            Some(y) => y,
            None => self.forward_tensor_ops(x),
        }
    }

    /// `forward(x + probe)` for a flat zero leaf `probe` of x's size, whose gradient is then x's
    /// (the sparsity probes' dL/dz): on flex autodiff as one fused operation without the
    /// addition ([`super::fused_act::apply_probed`]), elsewhere as written; `forward(x)`
    /// without a probe.
    pub fn forward_probed<const D: usize>(
        &self,
        x: Tensor<D>,
        probe: Option<Tensor<1>>,
    ) -> Tensor<D> {
        let Some(probe) = probe else {
            return self.forward(x);
        };
        match super::fused_act::apply_probed(x.clone(), probe.clone(), self.kind()) {
            Some(y) => y,
            None => {
                let dims = x.dims();
                self.forward(x + probe.reshape(dims))
            }
        }
    }

    /// The kernels' form of this activation.
    pub(super) fn kind(&self) -> ActKind {
        match self {
            Activation::Relu(_) => ActKind::Relu,
            Activation::Leaky(a) => ActKind::Leaky(a.negative_slope as f32),
        }
    }

    /// Applies the activation with burn's tensor operations on every backend.
    pub fn forward_tensor_ops<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu(a) => a.forward(x),
            Activation::Leaky(a) => leaky_relu(x, a.negative_slope),
        }
    }
}

/// LeakyReLU as `x · s`, with the slope map `s` (`alpha` where x < 0, else 1) built outside the
/// autodiff graph.
///
/// burn 0.22 has no fused autodiff LeakyReLU: it tracks a compare, a scale and a `mask_where`,
/// whose backward runs several masked passes: fwd+bwd over a [25088, 64] map took 34 ms against
/// ReLU's 5 ms (flex, 2 threads). Tracking a single product by a constant leaves one multiply
/// to the backward pass (11 ms). Values and gradients are burn's, including gradient 1 at 0.
fn leaky_relu<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    if !x.device().is_autodiff() {
        return burn::tensor::activation::leaky_relu(x, alpha);
    }
    // 1 - (1 - alpha)·[x < 0]: on flex, four vectorised passes beat a `mask_fill`.
    let negative = x.clone().inner().lower_elem(0.0).float();
    let slope = negative.mul_scalar(alpha - 1.0).add_scalar(1.0);
    x * Tensor::from_inner(slope)
}
