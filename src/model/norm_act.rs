//! Training-mode batch norm and the activation after it, fused into one operation on flex.
//!
//! Written with tensor operations, batch norm and ReLU/LeakyReLU on `[N, C]` rows take about a
//! dozen passes over the map forward and as many backward, each a node of burn's autodiff graph
//! and a buffer of its own: ~12% of a one-thread DCGAN step (Benchmark, tenth round). Here the
//! forward pass reads the map three times (mean, variance, output) and writes it once, and a
//! hand-written backward pass reads the gradient and the input twice and writes once. Values
//! and gradients are those of [`super::rows::batch_norm_tensor_ops`] followed by the
//! activation, up to the order of float sums (tests below compare them). Only flex gets it: its tensors lie in
//! host memory as plain f32 slices; the other backends keep the tensor-operation path.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::TensorData;
use rayon::prelude::*;

use super::activation::Activation;
use super::kernel::{ActKind, CHUNK, Curve, Identity, Leaky, Relu, contiguous, f32s, flex};
use crate::simd::{Kernel, vectorized};

/// Shape of the rows: `groups` equal blocks of `rows` rows of `cols` channels.
#[derive(Debug, Clone, Copy)]
struct Shape {
    groups: usize,
    rows: usize,
    cols: usize,
}

impl Shape {
    /// Elements per parallel task: whole rows (tasks are cut within a group, never across).
    fn task_len(&self) -> usize {
        (CHUNK / self.cols).max(1) * self.cols
    }

    /// Elements of one group.
    fn group_len(&self) -> usize {
        self.rows * self.cols
    }
}

/// Per-channel statistics of each group, `[groups · cols]` each.
#[derive(Debug, Clone)]
struct Stats {
    mean: Vec<f32>,
    variance: Vec<f32>,
    /// 1 / sqrt(variance + ε).
    rstd: Vec<f32>,
    /// γ · rstd: the factor the forward pass multiplies the centred input by.
    scale: Vec<f32>,
}

/// Column sums of `f` over the rows of `inputs` (equal-length slices, read row by row in
/// step), summed per task and then over tasks in order, so the result does not depend on the
/// thread count.
fn column_sums<const M: usize, const K: usize>(
    inputs: [&[f32]; M],
    shape: Shape,
    fold: impl RowFold<M, K>,
) -> [Vec<f32>; K] {
    let arch = pulp::Arch::new();
    let (cols, task) = (shape.cols, shape.task_len());
    let len = inputs[0].len();
    let partials: Vec<[Vec<f32>; K]> = (0..len.div_ceil(task))
        .into_par_iter()
        .map(|t| {
            let span = t * task..((t + 1) * task).min(len);
            let slices = inputs.map(|s| &s[span.clone()]);
            let mut acc: [Vec<f32>; K] = std::array::from_fn(|_| vec![0.0; cols]);
            let rows = Rows {
                fold: &fold,
                slices,
                acc: &mut acc,
                cols,
            };
            vectorized(arch, rows);
            acc
        })
        .collect();
    let mut total: [Vec<f32>; K] = std::array::from_fn(|_| vec![0.0; cols]);
    for partial in partials {
        for (t, p) in total.iter_mut().zip(partial) {
            t.iter_mut().zip(p).for_each(|(t, p)| *t += p);
        }
    }
    total
}

/// What one row adds to the column sums of [`column_sums`]; `row` is `#[inline(always)]` so
/// that it is compiled into the vectorised loop.
trait RowFold<const M: usize, const K: usize>: Sync {
    /// Adds row `rows` (one slice of `cols` values per input) to the sums `acc`.
    fn row(&self, rows: [&[f32]; M], acc: &mut [Vec<f32>; K]);
}

/// [`column_sums`]'s loop over the rows of one task.
struct Rows<'a, F, const M: usize, const K: usize> {
    fold: &'a F,
    slices: [&'a [f32]; M],
    acc: &'a mut [Vec<f32>; K],
    cols: usize,
}

impl<F: RowFold<M, K>, const M: usize, const K: usize> Kernel for Rows<'_, F, M, K> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let cols = self.cols;
        for r in 0..self.slices[0].len() / cols {
            let rows = self.slices.map(|s| &s[r * cols..][..cols]);
            self.fold.row(rows, self.acc);
        }
    }
}

/// Σ x per column.
struct Sum;

impl RowFold<1, 1> for Sum {
    #[inline(always)]
    fn row(&self, [row]: [&[f32]; 1], [s]: &mut [Vec<f32>; 1]) {
        s.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
}

/// Σ (x − mean)² per column.
struct Squares<'a> {
    mean: &'a [f32],
}

impl RowFold<1, 1> for Squares<'_> {
    #[inline(always)]
    fn row(&self, [row]: [&[f32]; 1], [s]: &mut [Vec<f32>; 1]) {
        // Every slice cut to one length, so the loop has no bounds checks and vectorises.
        let n = row.len();
        let (s, mean) = (&mut s[..n], &self.mean[..n]);
        for c in 0..n {
            let d = row[c] - mean[c];
            s[c] += d * d;
        }
    }
}

/// Σ dy' and Σ dy'·x̂ per column, where dy' is dy through the activation.
struct SumDot<'a, A> {
    mean: &'a [f32],
    scale: &'a [f32],
    rstd: &'a [f32],
    beta: &'a [f32],
    act: A,
}

impl<A: Curve> RowFold<2, 2> for SumDot<'_, A> {
    #[inline(always)]
    fn row(&self, [dy, x]: [&[f32]; 2], [sum, dot]: &mut [Vec<f32>; 2]) {
        let n = x.len();
        let (dy, sum, dot) = (&dy[..n], &mut sum[..n], &mut dot[..n]);
        let (mean, scale, rstd, beta) = (
            &self.mean[..n],
            &self.scale[..n],
            &self.rstd[..n],
            &self.beta[..n],
        );
        for c in 0..n {
            let centred = x[c] - mean[c];
            let d = dy[c] * self.act.slope(centred * scale[c] + beta[c]);
            sum[c] += d;
            dot[c] += d * (centred * rstd[c]);
        }
    }
}

/// The forward pass's output over whole rows of one task.
struct Output<'a, A> {
    y: &'a mut [f32],
    x: &'a [f32],
    mean: &'a [f32],
    scale: &'a [f32],
    beta: &'a [f32],
    act: A,
}

impl<A: Curve> Kernel for Output<'_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let cols = self.mean.len();
        let (mean, scale, beta) = (self.mean, &self.scale[..cols], &self.beta[..cols]);
        for (y, x) in self.y.chunks_exact_mut(cols).zip(self.x.chunks_exact(cols)) {
            let (y, x) = (&mut y[..cols], &x[..cols]);
            for c in 0..cols {
                y[c] = self.act.apply((x[c] - mean[c]) * scale[c] + beta[c]);
            }
        }
    }
}

/// The backward pass's input gradient over whole rows of one task.
struct InputGrad<'a, A> {
    dx: &'a mut [f32],
    dy: &'a [f32],
    x: &'a [f32],
    mean: &'a [f32],
    scale: &'a [f32],
    rstd: &'a [f32],
    beta: &'a [f32],
    k_sum: &'a [f32],
    k_dot: &'a [f32],
    act: A,
}

impl<A: Curve> Kernel for InputGrad<'_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let cols = self.mean.len();
        let (mean, scale, rstd, beta) = (
            self.mean,
            &self.scale[..cols],
            &self.rstd[..cols],
            &self.beta[..cols],
        );
        let (k_sum, k_dot) = (&self.k_sum[..cols], &self.k_dot[..cols]);
        for ((dx, dy), x) in self
            .dx
            .chunks_exact_mut(cols)
            .zip(self.dy.chunks_exact(cols))
            .zip(self.x.chunks_exact(cols))
        {
            let (dx, dy, x) = (&mut dx[..cols], &dy[..cols], &x[..cols]);
            for c in 0..cols {
                let centred = x[c] - mean[c];
                let d = dy[c] * self.act.slope(centred * scale[c] + beta[c]);
                dx[c] = scale[c] * (d - k_sum[c] - centred * rstd[c] * k_dot[c]);
            }
        }
    }
}

/// The forward pass: the normalised, scaled, shifted and activated rows, and the statistics.
fn forward<A: Curve>(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    shape: Shape,
    eps: f32,
    act: A,
) -> (Vec<f32>, Stats) {
    let cols = shape.cols;
    let n = shape.rows as f32;
    let mut stats = Stats {
        mean: Vec::with_capacity(shape.groups * cols),
        variance: Vec::with_capacity(shape.groups * cols),
        rstd: Vec::with_capacity(shape.groups * cols),
        scale: Vec::with_capacity(shape.groups * cols),
    };
    for group in x.chunks_exact(shape.group_len()) {
        // The mean first, then the mean square of the centred values, as the tensor path does.
        let [sum] = column_sums([group], shape, Sum);
        let mean: Vec<f32> = sum.iter().map(|s| s / n).collect();
        let [squares] = column_sums([group], shape, Squares { mean: &mean });
        for (c, sq) in squares.iter().enumerate() {
            let variance = sq / n;
            let rstd = (variance + eps).sqrt().recip();
            stats.mean.push(mean[c]);
            stats.variance.push(variance);
            stats.rstd.push(rstd);
            stats.scale.push(rstd * gamma[c]);
        }
    }
    let mut y = vec![0.0f32; x.len()];
    let arch = pulp::Arch::new();
    let task = shape.task_len();
    let per_group = shape.group_len();
    y.par_chunks_mut(per_group)
        .zip(x.par_chunks(per_group))
        .enumerate()
        .for_each(|(g, (y, x))| {
            let (mean, scale) = (at(&stats.mean, g, cols), at(&stats.scale, g, cols));
            y.par_chunks_mut(task)
                .zip(x.par_chunks(task))
                .for_each(|(y, x)| {
                    let output = Output {
                        y,
                        x,
                        mean,
                        scale,
                        beta,
                        act,
                    };
                    vectorized(arch, output)
                });
        });
    (y, stats)
}

/// Group `g`'s channels of per-group values `[groups · cols]`.
fn at(v: &[f32], g: usize, cols: usize) -> &[f32] {
    &v[g * cols..][..cols]
}

/// The backward pass: the gradients of x, γ and β from the gradient `dy` of the output.
#[allow(clippy::too_many_arguments)]
fn backward<A: Curve>(
    dy: &[f32],
    x: &[f32],
    beta: &[f32],
    stats: &Stats,
    shape: Shape,
    act: A,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let cols = shape.cols;
    let n = shape.rows as f32;
    let per_group = shape.group_len();
    let mut dgamma = vec![0.0f32; cols];
    let mut dbeta = vec![0.0f32; cols];
    // Per group: Σ dy' and Σ dy'·x̂ per channel, where dy' is dy through the activation.
    let mut k_sum = Vec::with_capacity(shape.groups * cols);
    let mut k_dot = Vec::with_capacity(shape.groups * cols);
    for (g, (dy, x)) in dy
        .chunks_exact(per_group)
        .zip(x.chunks_exact(per_group))
        .enumerate()
    {
        let (mean, scale, rstd) = (
            at(&stats.mean, g, cols),
            at(&stats.scale, g, cols),
            at(&stats.rstd, g, cols),
        );
        let fold = SumDot {
            mean,
            scale,
            rstd,
            beta,
            act,
        };
        let [sum, dot] = column_sums([dy, x], shape, fold);
        for c in 0..cols {
            dbeta[c] += sum[c];
            dgamma[c] += dot[c];
            k_sum.push(sum[c] / n);
            k_dot.push(dot[c] / n);
        }
    }
    let mut dx = vec![0.0f32; x.len()];
    let arch = pulp::Arch::new();
    let task = shape.task_len();
    dx.par_chunks_mut(per_group)
        .zip(dy.par_chunks(per_group).zip(x.par_chunks(per_group)))
        .enumerate()
        .for_each(|(g, (dx, (dy, x)))| {
            let (mean, scale, rstd) = (
                at(&stats.mean, g, cols),
                at(&stats.scale, g, cols),
                at(&stats.rstd, g, cols),
            );
            let (k_sum, k_dot) = (at(&k_sum, g, cols), at(&k_dot, g, cols));
            dx.par_chunks_mut(task)
                .zip(dy.par_chunks(task).zip(x.par_chunks(task)))
                .for_each(|(dx, (dy, x))| {
                    let grad = InputGrad {
                        dx,
                        dy,
                        x,
                        mean,
                        scale,
                        rstd,
                        beta,
                        k_sum,
                        k_dot,
                        act,
                    };
                    vectorized(arch, grad)
                });
        });
    (dx, dgamma, dbeta)
}

/// What the backward pass keeps from the forward one.
#[derive(Debug, Clone)]
struct Saved {
    x: FlexTensor,
    beta: Vec<f32>,
    stats: Stats,
    shape: Shape,
    act: ActKind,
}

/// The fused operation's node in burn's autodiff graph; parents x, γ, β.
#[derive(Debug)]
struct NormActBackward;

impl Backward<Flex, 3> for NormActBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let saved = ops.state;
        let (dy, x) = (f32s(&dy), f32s(&saved.x));
        let (beta, stats, shape) = (&saved.beta, &saved.stats, saved.shape);
        let (dx, dgamma, dbeta) = match saved.act {
            ActKind::Identity => backward(dy, x, beta, stats, shape, Identity),
            ActKind::Relu => backward(dy, x, beta, stats, shape, Relu),
            ActKind::Leaky(alpha) => backward(dy, x, beta, stats, shape, Leaky(alpha)),
        };
        let Shape { groups, rows, cols } = saved.shape;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(dx, vec![groups * rows, cols]));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex(dgamma, vec![cols]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex(dbeta, vec![cols]));
        }
    }
}

/// Training-mode `norm` on `[N, C]` rows in `groups` equal batches, then `act`, as one
/// operation: the output and each group's per-channel mean and biased variance (`[groups, C]`,
/// untracked), or `None` where the rows are not flex autodiff f32 tensors.
pub fn norm_act(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
    act: &Activation,
) -> Option<(Tensor<2>, Tensor<2>, Tensor<2>)> {
    fused(norm, x, groups, act.kind())
}

/// [`norm_act`] without the activation: the batch norm alone as one operation, for the passes
/// whose probes read the pre-activation (the activation is then fused on its own,
/// [`super::fused_act`]).
pub fn norm(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
) -> Option<(Tensor<2>, Tensor<2>, Tensor<2>)> {
    fused(norm, x, groups, ActKind::Identity)
}

/// [`norm_act`] for the kernels' form of the activation.
fn fused(
    norm: &BatchNorm,
    x: Tensor<2>,
    groups: usize,
    act: ActKind,
) -> Option<(Tensor<2>, Tensor<2>, Tensor<2>)> {
    type Ad = Autodiff<Flex>;
    let [n, cols] = x.dims();
    let device = x.device();
    // Asking the device first spares the other backends a failed conversion (and its error
    // message) on every call; device equality ignores autodiff, hence both checks.
    let flex_autodiff = device.is_autodiff() && device == Device::flex();
    if !flex_autodiff || x.dtype() != burn::tensor::DType::F32 || !n.is_multiple_of(groups) {
        return None;
    }
    let x = x.try_into_primitive::<Ad>().ok()?;
    let gamma = norm.gamma.val().try_into_primitive::<Ad>().ok()?;
    let beta = norm.beta.val().try_into_primitive::<Ad>().ok()?;
    let shape = Shape {
        groups,
        rows: n / groups,
        cols,
    };
    let x_host = contiguous(x.primitive().clone());
    let gamma_host = contiguous(gamma.primitive().clone());
    let beta_host = contiguous(beta.primitive().clone())
        .as_slice::<f32>()?
        .to_vec();
    let (x_rows, gamma_host, eps) = (f32s(&x_host), f32s(&gamma_host), norm.epsilon as f32);
    let (y, stats) = match act {
        ActKind::Identity => forward(x_rows, gamma_host, &beta_host, shape, eps, Identity),
        ActKind::Relu => forward(x_rows, gamma_host, &beta_host, shape, eps, Relu),
        ActKind::Leaky(alpha) => forward(x_rows, gamma_host, &beta_host, shape, eps, Leaky(alpha)),
    };
    let y = flex(y, vec![n, cols]);
    let (mean, variance) = (stats.mean.clone(), stats.variance.clone());
    let out = match NormActBackward
        .prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            Saved {
                x: x_host,
                beta: beta_host,
                stats,
                shape,
                act,
            },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    // The statistics only feed the running averages: constants, as the tensor path detaches them.
    let constant = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [groups, cols]), &device);
    Some((
        Tensor::from_primitive::<Ad>(out),
        constant(mean),
        constant(variance),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Act as Kind;
    use crate::model::rows;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    /// A batch norm of `cols` channels with γ and β drawn away from their defaults, so that the
    /// tests see them scale and shift.
    fn norm(cols: usize, device: &Device) -> BatchNorm {
        let mut norm = BatchNormConfig::new(cols).init(device);
        norm.gamma = Param::from_tensor(Tensor::random(
            [cols],
            Distribution::Uniform(0.5, 1.5),
            device,
        ));
        norm.beta = Param::from_tensor(Tensor::random(
            [cols],
            Distribution::Uniform(-0.5, 0.5),
            device,
        ));
        norm
    }

    /// Output, the gradients of x, γ and β under a random upstream gradient, and the running
    /// mean and variance after the update, from `pass`.
    fn run(
        norm: &BatchNorm,
        x: Tensor<2>,
        upstream: Tensor<2>,
        pass: impl Fn(&BatchNorm, Tensor<2>) -> (Tensor<2>, Option<rows::NormUpdate>),
    ) -> [Tensor<2>; 6] {
        let x = x.require_grad();
        let (y, update) = pass(norm, x.clone());
        update
            .expect("training mode updates the statistics")
            .apply();
        let grads = (y.clone() * upstream).sum().backward();
        let row = |t: Tensor<1>| t.unsqueeze_dim::<2>(0);
        [
            y.inner(),
            x.grad(&grads).unwrap(),
            row(norm.gamma.val().grad(&grads).unwrap()),
            row(norm.beta.val().grad(&grads).unwrap()),
            row(norm.running_mean.value().inner()),
            row(norm.running_var.value().inner()),
        ]
        .map(|t| Tensor::from_data(t.into_data(), &Device::flex()))
    }

    #[test]
    fn fused_values_gradients_and_running_stats_are_the_tensor_paths() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        // 2500 rows of 8 channels is two parallel tasks per group; 3 channels, odd rows.
        for (n, cols) in [(5000, 8), (18, 3)] {
            for groups in [1, 2] {
                // None: the batch norm alone (`norm`), as the probed passes take it.
                for act in [
                    None,
                    Some(Activation::new(Kind::Relu, 0.2)),
                    Some(Activation::new(Kind::Leaky, 0.2)),
                ] {
                    let fused_norm = norm(cols, &device);
                    // A copy with running statistics of its own (a clone would share them).
                    let plain_norm =
                        norm(cols, &device).load_record(fused_norm.clone().into_record());
                    let x = Tensor::<2>::random([n, cols], Distribution::Normal(0.3, 2.0), &device);
                    let up = Tensor::<2>::random([n, cols], Distribution::Default, &device);
                    let fused = run(&fused_norm, x.clone(), up.clone(), |bn, x| {
                        let (y, m, v) = match &act {
                            Some(act) => norm_act(bn, x, groups, act),
                            None => super::norm(bn, x, groups),
                        }
                        .expect("flex takes it");
                        (y, Some(rows::NormUpdate::new(bn, m, v)))
                    });
                    let plain = run(&plain_norm, x, up, |bn, x| {
                        let (y, update) = rows::batch_norm_tensor_ops(bn, x, groups);
                        match &act {
                            Some(act) => (act.forward_tensor_ops(y), update),
                            None => (y, update),
                        }
                    });
                    let names = [
                        "output",
                        "dx",
                        "dγ",
                        "dβ",
                        "running mean",
                        "running variance",
                    ];
                    for ((name, a), b) in names.iter().zip(fused).zip(plain) {
                        // Sums over thousands of rows, added in another order: relative error.
                        // Without an activation dγ sums every row's term, with cancellation.
                        let scale = b.clone().abs().max().into_scalar::<f32>().max(1.0);
                        let d = max_diff(a, b) / scale;
                        let tolerance = if act.is_some() { 2e-5 } else { 1e-4 };
                        assert!(
                            d < tolerance,
                            "{name} differs by {d} (n {n}, groups {groups}, {act:?})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_nan_reaches_the_output_as_on_the_tensor_path() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        for act in [
            Activation::new(Kind::Relu, 0.2),
            Activation::new(Kind::Leaky, 0.2),
        ] {
            let mut v = vec![0.5f32; 12];
            v[0] = f32::NAN;
            let x = Tensor::<2>::from_data(TensorData::new(v, [4, 3]), &device);
            let (y, ..) = norm_act(&norm(3, &device), x, 1, &act).unwrap();
            let y: Vec<f32> = y.into_data().try_to_vec().unwrap();
            // Channel 0's statistics are NaN, so is all of it; the other channels are not.
            for (i, y) in y.iter().enumerate() {
                assert_eq!(y.is_nan(), i % 3 == 0, "element {i} ({act:?})");
            }
        }
    }

    #[test]
    #[allow(deprecated)] // ndarray, to check that only flex takes the fused path
    fn an_untracked_pass_gives_the_same_output_and_no_other_backend_is_taken() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        let act = Activation::new(Kind::Leaky, 0.2);
        let tracked = norm(4, &device);
        let untracked = tracked.clone().no_grad();
        let x = Tensor::<2>::random([40, 4], Distribution::Default, &device);
        let (a, ..) = norm_act(&tracked, x.clone().require_grad(), 1, &act).unwrap();
        let (b, ..) = norm_act(&untracked, x, 1, &act).unwrap();
        assert_eq!(a.inner().into_data(), b.inner().into_data());
        let ndarray = Device::ndarray().autodiff();
        let x = Tensor::<2>::random([40, 4], Distribution::Default, &ndarray);
        assert!(norm_act(&norm(4, &ndarray), x, 1, &act).is_none());
        let plain = Tensor::<2>::random([40, 4], Distribution::Default, &Device::flex());
        assert!(norm_act(&norm(4, &Device::flex()), plain, 1, &act).is_none());
    }
}
