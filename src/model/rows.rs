//! Feature maps as NHWC rows, and the batch norm that suits them.

use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::prelude::*;

use super::activation::Activation;
use super::norm_act;

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
    batch_norm_groups(norm, x, 1)
}

/// `norm.forward` on `[N, C]` rows that stack `groups` equal batches, each normalised with its
/// own statistics: the same values, gradients and running statistics as `groups` separate calls
/// of [`batch_norm`] in order, from one pass.
pub fn batch_norm_groups(norm: &BatchNorm, x: Tensor<2>, groups: usize) -> Tensor<2> {
    applied(batch_norm_deferred(norm, x, groups))
}

/// A deferred pass's output, its running-statistics update applied on the calling thread.
fn applied((y, update): (Tensor<2>, Option<NormUpdate>)) -> Tensor<2> {
    if let Some(update) = update {
        update.apply();
    }
    y
}

/// [`batch_norm_groups`] that returns its running-statistics update instead of applying it.
///
/// burn keeps a running statistic's updates apart per thread and averages them only when
/// synchronised, so a pass run on another thread must leave the update to the thread that
/// owns the module: see [`NormUpdate::apply`].
pub fn batch_norm_deferred(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
) -> (Tensor<2>, Option<NormUpdate>) {
    let device = x.device();
    if !(device.is_autodiff() && norm.training.is_enabled()) {
        // Inference broadcasts the running statistics: no transposes to avoid, nothing to update.
        return (norm.forward(x), None);
    }
    // On flex one fused operation ([`norm_act::norm`]); it declines the other backends (the
    // clone is a handle on the same tensor, for that case).
    if let Some((y, mean, variance)) = norm_act::norm(norm, x.clone(), groups) {
        return (y, Some(NormUpdate::new(norm, mean, variance)));
    }
    batch_norm_tensor_ops(norm, x, groups)
}

/// Training-mode [`batch_norm_deferred`] with burn's tensor operations on every backend.
pub fn batch_norm_tensor_ops(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
) -> (Tensor<2>, Option<NormUpdate>) {
    let (y, mean, variance) = batch_stats_norm(norm, x, groups);
    (y, Some(NormUpdate::new(norm, mean, variance)))
}

/// [`batch_norm_groups`] followed by `act` (fused on flex), its running statistics updated.
pub fn norm_act_groups(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
    act: &Activation,
) -> Tensor<2> {
    applied(norm_act_deferred(norm, x, groups, act))
}

/// [`batch_norm_deferred`] followed by `act`: on flex as one fused operation
/// ([`super::norm_act`]), elsewhere as the two.
pub fn norm_act_deferred(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
    act: &Activation,
) -> (Tensor<2>, Option<NormUpdate>) {
    // The fused operation is training-mode batch norm; `norm_act` itself declines anything but
    // flex autodiff f32 rows (the clone is a handle on the same tensor, for that case).
    if norm.training.is_enabled()
        && let Some((y, mean, variance)) = norm_act::norm_act(norm, x.clone(), groups, act)
    {
        return (y, Some(NormUpdate::new(norm, mean, variance)));
    }
    let (y, update) = batch_norm_deferred(norm, x, groups);
    (act.forward(y), update)
}

/// A batch norm's pending running-statistics update: one momentum step per batch statistic.
pub struct NormUpdate {
    running_mean: RunningState<Tensor<1>>,
    running_var: RunningState<Tensor<1>>,
    momentum: f64,
    mean: Tensor<2>,
    variance: Tensor<2>,
}

impl NormUpdate {
    /// `norm`'s update by each group's batch `mean` and biased `variance`, `[groups, C]` each.
    pub(crate) fn new(norm: &BatchNorm, mean: Tensor<2>, variance: Tensor<2>) -> NormUpdate {
        NormUpdate {
            running_mean: norm.running_mean.clone(),
            running_var: norm.running_var.clone(),
            momentum: norm.momentum,
            mean: mean.detach(),
            variance: variance.detach(),
        }
    }

    /// Applies the update on the calling thread, as the forward pass would have in place.
    pub fn apply(self) {
        let momentum = self.momentum;
        let update = |state: &RunningState<Tensor<1>>, batch: Tensor<2>| {
            // One momentum step per group, in order, as separate calls would take them.
            let mut running = state.value_sync().to_device(&batch.device());
            let [groups, c] = batch.dims();
            for g in 0..groups {
                let stat = batch.clone().slice([g..g + 1, 0..c]).reshape([c]);
                running = running
                    .mul_scalar(1.0 - momentum)
                    .add(stat.mul_scalar(momentum));
            }
            state.update(running.detach());
        };
        update(&self.running_mean, self.mean);
        update(&self.running_var, self.variance);
    }
}

/// Running-statistics updates of a forward pass, not yet applied.
#[derive(Default)]
#[must_use = "the running statistics change only when applied"]
pub struct PendingStats(Vec<NormUpdate>);

impl PendingStats {
    /// Adds an update, to be applied after those already held.
    pub fn extend(&mut self, update: Option<NormUpdate>) {
        self.0.extend(update);
    }

    /// Applies the updates, in layer order, on the calling thread.
    pub fn apply(self) {
        self.0.into_iter().for_each(NormUpdate::apply);
    }
}

/// Training-mode batch norm of `[N, C]` rows (the batch's own statistics) that leaves the
/// running statistics alone: for measuring a network as it trains without changing it.
pub fn batch_norm_measuring(norm: &BatchNorm, x: Tensor<2>) -> Tensor<2> {
    batch_stats_norm(norm, x, 1).0
}

/// Normalises each of the `groups` equal row blocks of `x` with its own per-column mean and
/// biased variance; also returns those, `[groups, C]` each.
fn batch_stats_norm(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let gamma = norm.gamma.val();
    let beta = norm.beta.val();
    if groups == 1 {
        // Column reductions of the plain 2-D rows (the common case: one batch).
        let mean = x.clone().mean_dim(0);
        let centered = x - mean.clone();
        let variance = (centered.clone() * centered.clone()).mean_dim(0);
        let scale = (variance.clone() + norm.epsilon).sqrt().recip() * gamma.unsqueeze_dim(0);
        let y = centered * scale + beta.unsqueeze_dim(0);
        return (y, mean, variance);
    }
    let [n, c] = x.dims();
    assert!(
        n.is_multiple_of(groups),
        "{n} rows do not split into {groups} equal batches"
    );
    let x = x.reshape([groups, n / groups, c]);
    let mean = x.clone().mean_dim(1);
    let centered = x - mean.clone();
    let variance = (centered.clone() * centered.clone()).mean_dim(1);
    let scale = (variance.clone() + norm.epsilon).sqrt().recip()
        * gamma.unsqueeze_dim::<2>(0).unsqueeze_dim(0);
    let y = centered * scale + beta.unsqueeze_dim::<2>(0).unsqueeze_dim(0);
    (
        y.reshape([n, c]),
        mean.reshape([groups, c]),
        variance.reshape([groups, c]),
    )
}
