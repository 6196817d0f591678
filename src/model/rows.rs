//! Feature maps as NHWC rows, and the batch norm that suits them.

use burn::nn::BatchNorm;
use burn::prelude::*;

/// A batch of feature maps as NHWC rows: `[B·H·W, C]`, one row of channels per pixel.
///
/// The CPU path keeps D's and G's activations in this layout from layer to layer, so no
/// convolution pays for NCHW ↔ NHWC copies. Batch norm and the probes read channels from
/// dimension 1, which rows have too, with the same statistics over batch and pixels.
#[derive(Debug, Clone)]
pub struct Rows {
    /// The `[B·H·W, C]` tensor.
    pub tensor: Tensor<2>,
    /// Images in the batch.
    pub batch: usize,
    /// Map height.
    pub height: usize,
    /// Map width.
    pub width: usize,
}

impl Rows {
    /// NCHW maps as rows.
    pub fn from_nchw(x: Tensor<4>) -> Rows {
        let [batch, c, height, width] = x.dims();
        Rows {
            tensor: x.permute([0, 2, 3, 1]).reshape([batch * height * width, c]),
            batch,
            height,
            width,
        }
    }

    /// Back to NCHW maps.
    pub fn into_nchw(self) -> Tensor<4> {
        let [_, c] = self.tensor.dims();
        self.tensor
            .reshape([self.batch, self.height, self.width, c])
            .permute([0, 3, 1, 2])
    }

    /// Applies a per-row (or per-channel) function to the tensor.
    pub fn map(self, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Rows {
        Rows {
            tensor: f(self.tensor),
            ..self
        }
    }
}

/// `norm.forward` on `[N, C]` rows.
///
/// burn's training-mode batch norm reduces over a `[C, N]` transposed copy of its input, which
/// for rows is an element-by-element transpose (both ways, forward and backward). Here the
/// per-channel mean and (biased) variance are column reductions instead; the result, the
/// gradients and the running-statistics update are those of `BatchNorm::forward`.
pub fn batch_norm(norm: &BatchNorm, x: Tensor<2>) -> Tensor<2> {
    let device = x.device();
    if !(device.is_autodiff() && norm.training.is_enabled()) {
        // Inference broadcasts the running statistics: no transposes to avoid.
        return norm.forward(x);
    }
    let (y, mean, variance) = batch_stats_norm(norm, x);
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<2>| {
        let running = state.value_sync().to_device(&device);
        let batch = batch.detach().squeeze_dim(0);
        state.update(
            running
                .mul_scalar(1.0 - norm.momentum)
                .add(batch.mul_scalar(norm.momentum))
                .detach(),
        );
    };
    update(&norm.running_mean, mean);
    update(&norm.running_var, variance);
    y
}

/// Training-mode batch norm of `[N, C]` rows (the batch's own statistics) that leaves the
/// running statistics alone: for measuring a network as it trains without changing it.
pub fn batch_norm_measuring(norm: &BatchNorm, x: Tensor<2>) -> Tensor<2> {
    batch_stats_norm(norm, x).0
}

/// Normalises `x` with its own per-column mean and biased variance; also returns those.
fn batch_stats_norm(norm: &BatchNorm, x: Tensor<2>) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let mean = x.clone().mean_dim(0);
    let centered = x - mean.clone();
    let variance = (centered.clone() * centered.clone()).mean_dim(0);
    let scale =
        (variance.clone() + norm.epsilon).sqrt().recip() * norm.gamma.val().unsqueeze_dim(0);
    let y = centered * scale + norm.beta.val().unsqueeze_dim(0);
    (y, mean, variance)
}
