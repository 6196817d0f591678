//! Gradient-sparsity probes: what ReLU vs LeakyReLU does to the gradient inside D.
//!
//! Everything is measured inside the real training step. To get dL/dz for a hidden
//! pre-activation z (not a leaf, so it cannot `require_grad`), the tap hands the forward pass a
//! zero leaf `p` that requires grad: z + p has the same values, and dL/dp = dL/dz
//! (`Activation::forward_probed` attaches it; on flex without the addition, inside the
//! activation's own node). On a GPU the counts are reduced on the device and only a few scalars
//! and the per-unit dead flags are read back, in the same transfer as the losses. On the CPU backends the tensors already lie in host memory,
//! so D's probes take them (the gradients without a copy) and count in a pass or two over each,
//! instead of a chain of tensor operations that each walk the data; G's image probe (one small
//! tensor per step) keeps its tensor reduction everywhere. See DESIGN.md,
//! "Gradient-sparsity metrics", for the exact definitions.

pub mod dead;
pub mod frozen;
pub mod probe_set;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{DType, Gradients};
use rayon::prelude::*;

use crate::model::Tap;
use crate::model::kernel::{CHUNK, HostF32, PARALLEL_FROM};

pub use crate::metric::layer_name;

/// A `Tap` that records each hidden layer's pre-activation signs and adds the gradient probes.
pub struct SparsityTap {
    device: Device,
    /// Reduce in host memory (the CPU backends) rather than with tensor operations.
    on_host: bool,
    layers: Vec<LayerRecord>,
}

/// What the tap saw of one layer, over every forward pass of the D update (real and fake).
#[derive(Default)]
struct LayerRecord {
    /// Zero leaves added to z, one per forward; their gradients are dL/dz.
    probes: Vec<Tensor<1>>,
    /// Device path, per forward: count of entries of z that are <= 0.
    nonpos: Vec<Tensor<1>>,
    /// Device path, per forward: 1.0 for each unit whose entries are all <= 0.
    unit_dead: Vec<Tensor<1>>,
    /// Host path, per forward: z flattened, and how many consecutive entries belong to one unit
    /// of one sample (1 for `[N, C]` rows, H·W for `[N, C, H, W]` maps).
    values: Vec<(Tensor<1>, usize)>,
    /// Entries of z over all forwards.
    numel: usize,
    /// Units in the layer.
    units: usize,
}

impl SparsityTap {
    /// A tap adding its probes on `device` (the autodiff device D runs on).
    pub fn new(device: &Device) -> Self {
        Self::reducing(device, crate::device::on_host(device))
    }

    /// A tap that reduces in host memory when `on_host`, with tensor operations otherwise.
    fn reducing(device: &Device, on_host: bool) -> Self {
        SparsityTap {
            device: device.clone(),
            on_host,
            layers: Vec::new(),
        }
    }

    /// Reduces what was recorded, with the gradients of the D loss, to per-layer statistics.
    /// The probes' own gradients are taken out of `grads`; D's parameters' are left alone.
    pub fn finish(self, grads: &mut Gradients) -> DStats {
        let shapes = self.layers.iter().map(|r| (r.numel, r.units)).collect();
        let reduced = match self.on_host {
            true => Reduced::Host(HostStats::of(self.layers, grads)),
            false => Reduced::Device(Box::new(DeviceStats::of(self.layers, grads))),
        };
        DStats { reduced, shapes }
    }
}

impl Tap for SparsityTap {
    /// Records the pre-activation's signs and returns its probe.
    fn look<const D: usize>(&mut self, layer: usize, z: &Tensor<D>) -> Option<Tensor<1>> {
        let dims = z.dims();
        let numel: usize = dims.iter().product();
        let units = dims[1];
        if self.layers.len() <= layer {
            self.layers.resize_with(layer + 1, Default::default);
        }
        let rec = &mut self.layers[layer];
        let values = z.clone().inner();
        if self.on_host {
            // Read once the backward pass is done, with the gradients.
            rec.values
                .push((values.reshape([numel]), numel / (dims[0] * units)));
        } else {
            rec.nonpos.push(count(values.clone().lower_equal_elem(0.0)));
            rec.unit_dead
                .push(unit_min(values.lower_equal_elem(0.0).float()));
        }
        rec.numel += numel;
        rec.units = units;
        let probe = Tensor::<1>::zeros([numel], &self.device).require_grad();
        rec.probes.push(probe.clone());
        Some(probe)
    }
}

/// The largest value of each unit (dim 1: channel or neuron) of `z` over the batch and pixels.
fn unit_max<const D: usize>(z: Tensor<D>) -> Tensor<1> {
    per_unit(z, |m, dim| m.max_dim(dim))
}

/// The smallest value of each unit of `z` over the batch and pixels.
fn unit_min<const D: usize>(z: Tensor<D>) -> Tensor<1> {
    per_unit(z, |m, dim| m.min_dim(dim))
}

/// Reduces each unit (dim 1) of `z` with `reduce`, which folds one dim of a matrix.
fn per_unit<const D: usize>(
    z: Tensor<D>,
    reduce: impl Fn(Tensor<2>, usize) -> Tensor<2>,
) -> Tensor<1> {
    let dims = z.dims();
    let (numel, units) = (dims.iter().product::<usize>(), dims[1]);
    let folded = match D {
        // [N, C] (dense layers, or conv maps as NHWC rows): straight down the columns.
        2 => reduce(z.reshape([numel / units, units]), 0),
        // [B, C, ...] -> [C, B·...].
        _ => reduce(z.swap_dims(0, 1).reshape([units, numel / units]), 1),
    };
    folded.reshape([units])
}

/// Number of `true` entries, as a one-element float tensor (exact below 2^24).
///
/// Summed as floats: every partial sum of 0s and 1s is an integer no larger than the total, so
/// this is as exact as the float it ends in, and it skips a pass through 8-byte integers.
fn count<const D: usize>(mask: Tensor<D, Bool>) -> Tensor<1> {
    mask.float().sum().inner()
}

/// A host tensor's values as f32 data: taken without a copy when the tensor is f32, contiguous
/// and not shared (as gradients are once taken out of `Gradients`).
fn host_f32<const D: usize>(t: Tensor<D>) -> TensorData {
    let data = t.into_data();
    match data.dtype() {
        DType::F32 => data,
        _ => data.convert::<f32>(),
    }
}

/// The f32 values of data made by `host_f32`.
fn f32s(data: &TensorData) -> &[f32] {
    data.as_slice::<f32>().expect("host_f32 makes f32 data")
}

/// D-update statistics of every tapped layer.
pub struct DStats {
    reduced: Reduced,
    /// Per layer: (entries over both batches, units).
    shapes: Vec<(usize, usize)>,
}

/// Where the statistics were reduced.
enum Reduced {
    /// With tensor operations, still on the device.
    Device(Box<DeviceStats>),
    /// In host memory, already read.
    Host(HostStats),
}

/// Takes each probe's gradient, dL/dz, out of `grads` (it is needed once, and taking it leaves
/// it unshared, so the host can read it without a copy).
fn probe_grads<'a>(
    probes: &'a [Tensor<1>],
    grads: &'a mut Gradients,
) -> impl Iterator<Item = Tensor<1>> + 'a {
    probes.iter().map(|p| {
        p.grad_remove(grads)
            .expect("probe is part of the D loss graph")
    })
}

/// Statistics still on the device, read back with the step's losses.
struct DeviceStats {
    /// Per layer: [zero-gradient count, non-positive count, dead-unit count].
    counts: Tensor<1>,
    /// Per layer, concatenated: 1.0 for each dead unit.
    masks: Tensor<1>,
}

impl DeviceStats {
    fn of(layers: Vec<LayerRecord>, grads: &mut Gradients) -> Self {
        let mut counts = Vec::with_capacity(layers.len() * 3);
        let mut masks = Vec::with_capacity(layers.len());
        for rec in layers {
            let zeros = probe_grads(&rec.probes, grads)
                .map(|g| count(g.equal_elem(0.0)))
                .reduce(|a, b| a + b)
                .expect("every layer is tapped at least once");
            let nonpos = rec.nonpos.into_iter().reduce(|a, b| a + b).expect("tapped");
            // Dead: non-positive for every sample and position of every batch in this update.
            // The minimum of the 0/1 masks, not the maximum of z: a NaN entry is not <= 0, so
            // it keeps its unit alive, as on the host path and in DESIGN.md's definition.
            let dead = rec
                .unit_dead
                .into_iter()
                .reduce(|a, b| a.min_pair(b))
                .expect("tapped");
            counts.push(zeros);
            counts.push(nonpos);
            counts.push(dead.clone().sum());
            masks.push(dead);
        }
        DeviceStats {
            counts: Tensor::cat(counts, 0),
            masks: Tensor::cat(masks, 0),
        }
    }
}

/// Statistics reduced in host memory.
struct HostStats {
    /// Per layer: [zero-gradient count, non-positive count, dead-unit count].
    counts: Vec<[usize; 3]>,
    /// Per layer: which units were dead.
    dead: Vec<Vec<bool>>,
}

impl HostStats {
    fn of(layers: Vec<LayerRecord>, grads: &mut Gradients) -> Self {
        let mut counts = Vec::with_capacity(layers.len());
        let mut dead = Vec::with_capacity(layers.len());
        for rec in layers {
            let zeros: usize = probe_grads(&rec.probes, grads)
                .map(|g| count_where(f32s(&host_f32(g)), |v| v == 0.0))
                .sum();
            let mut nonpos = 0;
            let mut alive = vec![false; rec.units];
            for (z, inner) in rec.values {
                let data = host_f32(z);
                let z = f32s(&data);
                nonpos += count_where(z, |v| v <= 0.0);
                mark_alive(z, inner, &mut alive);
            }
            let layer_dead: Vec<bool> = alive.iter().map(|&a| !a).collect();
            counts.push([zeros, nonpos, count_where(&layer_dead, |d| d)]);
            dead.push(layer_dead);
        }
        HostStats { counts, dead }
    }
}

/// Marks each unit of `z` (flattened `[N, units, inner...]`) that has an entry not <= 0 (a
/// NaN included, as the device path's `lower_equal_elem` sees it).
fn mark_alive(z: &[f32], inner: usize, alive: &mut [bool]) {
    let units = alive.len();
    if inner == 1 {
        // Rows of `units` columns: OR each row into the flags, which vectorises.
        for row in z.chunks_exact(units) {
            for (a, &v) in alive.iter_mut().zip(row) {
                *a |= not_nonpos(v);
            }
        }
    } else {
        for (i, map) in z.chunks_exact(inner).enumerate() {
            let a = &mut alive[i % units];
            if !*a {
                *a = map.iter().any(|&v| not_nonpos(v));
            }
        }
    }
}

/// Whether `v` is not <= 0: positive, or NaN.
fn not_nonpos(v: f32) -> bool {
    v > 0.0 || v.is_nan()
}

/// Finds the exactly-zero entries of every parameter gradient of a module (counted, and kept
/// for the frozen-weights measure), with the hidden layer of each parameter.
pub struct ParamGradZeros<'a> {
    grads: &'a Gradients,
    on_host: bool,
    /// Device path: each parameter's zero mask.
    masks: Vec<Tensor<1, Bool>>,
    /// Host path: the zero mask of every parameter so far.
    host: Vec<bool>,
    /// Host path: its zeros.
    host_zeros: usize,
    numel: usize,
    /// Each parameter's hidden layer (None: the output layer) and size, in visiting order.
    layers: Vec<(Option<usize>, usize)>,
    /// The module path being visited.
    path: Vec<String>,
}

/// The zero entries of D's parameter gradients of one update.
pub struct ParamZeros {
    mask: ParamMask,
    /// Entries in all.
    numel: usize,
    /// Each parameter's hidden layer (None: the output layer) and size.
    layers: Vec<(Option<usize>, usize)>,
}

/// True for each zero entry, all parameters concatenated in visiting order.
enum ParamMask {
    /// Still on the device: read back and counted on the host (one pass over the gradients on
    /// the device and no separate count).
    Device(Box<Tensor<1, Bool>>),
    /// Compared in host memory, with its zeros counted there.
    Host { mask: Vec<bool>, zeros: usize },
}

impl<'a> ParamGradZeros<'a> {
    /// Visits `module`'s parameters and finds the zeros of their gradients in `grads`, on
    /// `device` (D's autodiff device). The gradients keep their values.
    pub fn of(module: &impl Module, grads: &'a Gradients, device: &Device) -> ParamZeros {
        Self::comparing(module, grads, crate::device::on_host(device))
    }

    /// Finds the zeros in host memory when `on_host`, with tensor operations otherwise.
    fn comparing(module: &impl Module, grads: &'a Gradients, on_host: bool) -> ParamZeros {
        let mut v = ParamGradZeros {
            grads,
            on_host,
            masks: Vec::new(),
            host: Vec::new(),
            host_zeros: 0,
            numel: 0,
            layers: Vec::new(),
            path: Vec::new(),
        };
        module.visit(&mut v);
        assert!(v.numel > 0, "the module has parameters with gradients");
        let mask = match on_host {
            true => ParamMask::Host {
                mask: v.host,
                zeros: v.host_zeros,
            },
            false => ParamMask::Device(Box::new(Tensor::cat(v.masks, 0))),
        };
        ParamZeros {
            mask,
            numel: v.numel,
            layers: v.layers,
        }
    }

    /// Appends the zero mask of `param`'s gradient read in host memory, where it lies on flex
    /// (the gradient stays in `grads`, untouched).
    fn compare_on_host<const D: usize>(&mut self, param: &Tensor<D>) -> Option<usize> {
        let g = HostF32::new(param.grad(self.grads)?);
        let values = g.f32s();
        let start = self.host.len();
        self.host.resize(start + values.len(), false);
        self.host_zeros += zero_mask(values, &mut self.host[start..]);
        Some(values.len())
    }
}

/// Sets `mask[i]` to whether `values[i]` is zero and counts the zeros, split over the pool when
/// large: D's gradients are otherwise compared on the training thread alone while the other
/// cores wait.
fn zero_mask(values: &[f32], mask: &mut [bool]) -> usize {
    let fill = |(mask, values): (&mut [bool], &[f32])| {
        for (m, &v) in mask.iter_mut().zip(values) {
            *m = v == 0.0;
        }
        count_where(mask, |z| z)
    };
    match values.len() < PARALLEL_FROM {
        true => fill((mask, values)),
        false => mask
            .par_chunks_mut(CHUNK)
            .zip(values.par_chunks(CHUNK))
            .map(fill)
            .sum(),
    }
}

impl ModuleVisitor for ParamGradZeros<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let param = param.val();
        let n = match self.on_host {
            true => self.compare_on_host(&param),
            false => param.grad(self.grads).map(|g| {
                let n = g.shape().num_elements();
                self.masks.push(g.equal_elem(0.0).reshape([n]));
                n
            }),
        };
        if let Some(n) = n {
            self.numel += n;
            // D's hidden layers are the elements of its one Vec of blocks (or linear layers):
            // the only numbers in the path. The output layer has none.
            let layer = self.path.iter().find_map(|p| p.parse::<usize>().ok());
            self.layers.push((layer, n));
        }
    }
}

/// The generator's image-space learning signal dL_G/dx, captured through a zero probe on x.
pub struct ImageProbe {
    probe: Tensor<1>,
    batch: usize,
    numel: usize,
}

impl ImageProbe {
    /// Adds a zero probe to the fake batch `x` (the tensor D sees in the G step).
    pub fn attach(x: Tensor<4>) -> (Tensor<4>, Self) {
        let dims = x.dims();
        let numel = dims.iter().product();
        let probe = Tensor::<1>::zeros([numel], &x.device()).require_grad();
        let x = x + probe.clone().reshape(dims);
        (
            x,
            ImageProbe {
                probe,
                batch: dims[0],
                numel,
            },
        )
    }

    /// [zero count, mean per-sample L2 norm] of dL_G/dx, on the device.
    pub fn finish(self, grads: &Gradients) -> GStats {
        let g = self
            .probe
            .grad(grads)
            .expect("image probe is part of the G loss graph")
            .inner();
        let zeros = count(g.clone().equal_elem(0.0));
        let norms = g
            .reshape([self.batch, self.numel / self.batch])
            .powf_scalar(2.0)
            .sum_dim(1)
            .sqrt()
            .reshape([self.batch]);
        GStats {
            values: Tensor::cat(vec![zeros, norms.clone().mean()], 0),
            norms,
            numel: self.numel,
        }
    }
}

/// G-step statistics still on the device.
pub struct GStats {
    /// [zero count, mean per-sample norm].
    values: Tensor<1>,
    /// Per-sample L2 norms of dL_G/dx.
    norms: Tensor<1>,
    numel: usize,
}

/// Everything the probes measured in one step: what is still on the device, and what the CPU
/// backends already reduced in host memory.
pub struct ProbeTensors {
    /// D update statistics.
    pub d: DStats,
    /// Zero count of D's parameter gradients and their total size.
    pub param_zeros: ParamZeros,
    /// G step statistics.
    pub g: GStats,
}

/// One layer's measured fractions.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSparsity {
    /// Fraction of exactly-zero entries of dL_D/dz.
    pub grad_zero: f64,
    /// Fraction of entries of z that are <= 0.
    pub preact_nonpos: f64,
    /// Fraction of units dead in this update.
    pub dead_units: f64,
    /// Which units were dead.
    pub dead_mask: Vec<bool>,
}

/// The probes' readings of one step, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparsity {
    /// Per hidden layer of D.
    pub layers: Vec<LayerSparsity>,
    /// Element-weighted mean of the layers' zero-gradient fractions.
    pub d_grad_zero: f64,
    /// Fraction of exactly-zero entries over all of D's parameter gradients.
    pub d_param_grad_zero: f64,
    /// Fraction of exactly-zero entries of dL_G/dx.
    pub g_signal_zero: f64,
    /// Mean over the batch of the per-sample L2 norm of dL_G/dx.
    pub g_signal_norm: f64,
    /// Fraction of fake samples whose gradient norm is at most `metric::STARVED_NORM`.
    pub g_starved: f64,
    /// 10th percentile of the per-sample gradient norms.
    pub g_signal_norm_p10: f64,
    /// Which entries of D's parameter gradients were exactly zero (all parameters, in order).
    pub param_zero_mask: Vec<bool>,
    /// Each parameter's hidden layer (None: the output layer) and size, in that order.
    pub param_layers: Vec<(Option<usize>, usize)>,
}

impl ProbeTensors {
    /// The tensors to read back, in this order: G's scalars, G's per-sample gradient norms, then
    /// (when D's statistics were reduced on the device) D's counts and dead-unit masks. The
    /// parameter-gradient mask comes apart: see `param_mask`.
    pub fn tensors(&self) -> Vec<Tensor<1>> {
        let mut t = vec![self.g.values.clone(), self.g.norms.clone()];
        if let Reduced::Device(d) = &self.d.reduced {
            t.push(d.counts.clone());
            t.push(d.masks.clone());
        }
        t
    }

    /// The zero mask of D's parameter gradients to read back, when it is on the device.
    pub fn param_mask(&self) -> Option<Tensor<1, Bool>> {
        match &self.param_zeros.mask {
            ParamMask::Device(m) => Some((**m).clone()),
            ParamMask::Host { .. } => None,
        }
    }

    /// Turns the values read back (`read`: what `tensors` listed, in order; `param_mask`: what
    /// `param_mask` listed) and the host's own reductions into fractions.
    pub fn interpret(self, read: &[Vec<f32>], param_mask: Option<Vec<bool>>) -> Sparsity {
        let (g, norms) = (&read[0], &read[1]);
        let (counts, dead_masks): (Vec<[f64; 3]>, _) = match self.d.reduced {
            Reduced::Device(_) => (
                read[2]
                    .chunks_exact(3)
                    .map(|c| [c[0] as f64, c[1] as f64, c[2] as f64])
                    .collect(),
                split_masks(&read[3], &self.d.shapes),
            ),
            Reduced::Host(h) => (
                h.counts
                    .iter()
                    .map(|c| [c[0] as f64, c[1] as f64, c[2] as f64])
                    .collect(),
                h.dead,
            ),
        };
        let (param_mask, param_zeros) = match self.param_zeros.mask {
            ParamMask::Device(_) => {
                let mask = param_mask.expect("the device mask was read back");
                let zeros = count_where(&mask, |z| z);
                (mask, zeros)
            }
            ParamMask::Host { mask, zeros } => (mask, zeros),
        };
        let mut layers = Vec::with_capacity(self.d.shapes.len());
        let (mut zeros_total, mut numel_total) = (0.0, 0usize);
        for ((&(numel, units), c), dead_mask) in self.d.shapes.iter().zip(counts).zip(dead_masks) {
            zeros_total += c[0];
            numel_total += numel;
            layers.push(LayerSparsity {
                grad_zero: c[0] / numel as f64,
                preact_nonpos: c[1] / numel as f64,
                dead_units: c[2] / units as f64,
                dead_mask,
            });
        }
        Sparsity {
            layers,
            d_grad_zero: zeros_total / numel_total as f64,
            d_param_grad_zero: param_zeros as f64 / self.param_zeros.numel as f64,
            param_zero_mask: param_mask,
            param_layers: self.param_zeros.layers,
            g_signal_zero: g[0] as f64 / self.g.numel as f64,
            g_signal_norm: g[1] as f64,
            g_starved: starved(norms),
            g_signal_norm_p10: percentile(norms, 0.1),
        }
    }
}

/// How many of `values` satisfy `pred`. Counted in blocks of 255 into a byte, which the compiler
/// turns into vector instructions; `filter().count()` over the MLP's ~530K-entry parameter mask
/// ran one entry at a time (69 µs against 9 µs, about 1% of a probed MLP step).
fn count_where<T: Copy>(values: &[T], pred: impl Fn(T) -> bool) -> usize {
    values
        .chunks(255)
        .map(|block| block.iter().fold(0u8, |n, &v| n + u8::from(pred(v))) as usize)
        .sum()
}

/// The fraction of per-sample gradient norms at or below `metric::STARVED_NORM`.
fn starved(norms: &[f32]) -> f64 {
    let n = norms
        .iter()
        .filter(|&&v| v as f64 <= crate::metric::STARVED_NORM)
        .count();
    n as f64 / norms.len().max(1) as f64
}

/// The `q` quantile of `values` (nearest rank below), NaN for none.
fn percentile(values: &[f32], q: f64) -> f64 {
    let mut v: Vec<f32> = values.to_vec();
    v.sort_by(f32::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n => v[((n - 1) as f64 * q).floor() as usize] as f64,
    }
}

/// Splits the concatenated 0/1 dead masks into one `Vec<bool>` per layer of `shapes`.
fn split_masks(masks: &[f32], shapes: &[(usize, usize)]) -> Vec<Vec<bool>> {
    let mut offset = 0;
    shapes
        .iter()
        .map(|&(_, units)| {
            let m = masks[offset..offset + units]
                .iter()
                .map(|&v| v > 0.5)
                .collect();
            offset += units;
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::relu;

    /// `z + p` with the probe `tap` hands out for `z`, as the tensor path attaches it.
    fn tapped<const D: usize>(tap: &mut SparsityTap, layer: usize, z: Tensor<D>) -> Tensor<D> {
        let probe = tap
            .look(layer, &z)
            .expect("a sparsity tap probes every layer");
        let dims = z.dims();
        z + probe.reshape(dims)
    }

    fn floats(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    #[test]
    fn zero_masks_mark_exactly_the_zeros_serially_and_split_over_the_pool() {
        // Below and above the pool's threshold, with +0, −0, NaN and tiny values.
        for n in [10, 200_000] {
            let values: Vec<f32> = (0..n)
                .map(|i| match i % 5 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f32::NAN,
                    3 => 1e-30,
                    _ => -(i as f32),
                })
                .collect();
            let mut mask = vec![true; n];
            mask[n - 1] = false;
            zero_mask(&values, &mut mask);
            let expect: Vec<bool> = values.iter().map(|&v| v == 0.0).collect();
            assert_eq!(mask, expect, "n {n}");
            assert_eq!(count_where(&mask, |z| z), 2 * n / 5, "n {n}");
        }
    }

    #[test]
    fn count_where_counts_as_filter_does_across_and_at_block_edges() {
        // All true (each block fills its byte to 255), none, and a pattern, at lengths around the
        // 255-entry block.
        for n in [0, 1, 254, 255, 256, 510, 1000, 530_000] {
            let all = vec![true; n];
            assert_eq!(count_where(&all, |z| z), n);
            assert_eq!(count_where(&all, |z| !z), 0);
            let runs: Vec<u16> = (0..n).map(|i| (i * 7919 % 13) as u16).collect();
            let expect = runs.iter().filter(|&&r| r >= 5).count();
            assert_eq!(count_where(&runs, |r| r >= 5), expect, "{n}");
        }
    }

    #[test]
    fn counts_known_zeros_signs_and_dead_units_exactly() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        for on_host in [false, true] {
            // Two samples, three units: unit 1 is never positive (dead).
            let z =
                Tensor::<2>::from_floats([[1.0, -1.0, 0.0], [2.0, -3.0, 4.0]], &dev).require_grad();
            let upstream = Tensor::<2>::from_floats([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], &dev);
            let mut tap = SparsityTap::reducing(&dev, on_host);
            let h = relu(tapped(&mut tap, 0, z.clone()));
            let mut grads = (h * upstream).sum().backward();
            // dL/dz = upstream where z > 0: [[1,0,0],[0,0,1]] -> 4 zeros of 6.
            let stats = tap.finish(&mut grads);
            assert_eq!(stats.shapes, [(6, 3)]);
            let (counts, dead) = tests_support::read_stats(stats);
            assert_eq!(counts, [[4, 3, 1]], "on host: {on_host}");
            assert_eq!(dead, [[false, true, false]], "on host: {on_host}");
            // The probe does not change the gradient that reaches z itself.
            let gz: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
            assert_eq!(gz, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        }
    }

    #[test]
    fn two_forwards_of_one_layer_add_up() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        for on_host in [false, true] {
            let mut tap = SparsityTap::reducing(&dev, on_host);
            // Unit 0 positive only in the second batch: not dead over the whole update.
            let a = Tensor::<2>::from_floats([[-1.0, 2.0]], &dev);
            let b = Tensor::<2>::from_floats([[3.0, -2.0]], &dev);
            let loss = relu(tapped(&mut tap, 0, a)).sum() + relu(tapped(&mut tap, 0, b)).sum();
            let stats = tap.finish(&mut loss.backward());
            assert_eq!(stats.shapes, [(4, 2)]);
            let (counts, dead) = tests_support::read_stats(stats);
            assert_eq!(counts, [[2, 2, 0]], "on host: {on_host}");
            assert_eq!(dead, [[false, false]], "on host: {on_host}");
        }
    }

    /// Conv maps `[2, 3, 2, 2]` of one forward: unit 0 positive somewhere only when `first`,
    /// unit 1 only zeros (both signs) and negatives, unit 2 negative but for one NaN when `first`.
    fn maps(first: bool) -> Vec<f32> {
        (0..24)
            .map(|i| match (i / 4) % 3 {
                0 if first && i % 3 == 0 => 1.5,
                0 => -0.5,
                1 => [0.0, -0.0, -1.0, -2.0][i % 4],
                _ if first && i / 12 == 1 && i % 4 == 2 => f32::NAN,
                _ => -1.0,
            })
            .collect()
    }

    /// Rows `[4, 3]` of one forward, units as in `maps`.
    fn rows(first: bool) -> Vec<f32> {
        (0..12)
            .map(|i| match i % 3 {
                0 if first && i / 3 == 2 => 3.0,
                0 => -1.0,
                1 => [0.0, -0.0, -1.0, 0.0][i / 3],
                _ if first && i / 3 == 1 => f32::NAN,
                _ => -2.0,
            })
            .collect()
    }

    #[test]
    fn host_and_device_reductions_agree_on_maps_rows_zeros_and_nans() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let run = |on_host: bool| {
            let mut tap = SparsityTap::reducing(&dev, on_host);
            let mut loss = Tensor::<1>::zeros([1], &dev);
            for first in [true, false] {
                let m = Tensor::<4>::from_data(TensorData::new(maps(first), [2, 3, 2, 2]), &dev);
                let r = Tensor::<2>::from_data(TensorData::new(rows(first), [4, 3]), &dev);
                // Every fifth upstream gradient is zero, so zeros come from two causes.
                let w4 = (0..24)
                    .map(|i| (i % 5 != 0) as u8 as f32)
                    .collect::<Vec<_>>();
                let w2 = (0..12)
                    .map(|i| (i % 5 != 1) as u8 as f32)
                    .collect::<Vec<_>>();
                let w4 = Tensor::<4>::from_data(TensorData::new(w4, [2, 3, 2, 2]), &dev);
                let w2 = Tensor::<2>::from_data(TensorData::new(w2, [4, 3]), &dev);
                loss = loss
                    + (relu(tapped(&mut tap, 0, m)) * w4).sum()
                    + (tapped(&mut tap, 1, r) * w2).sum();
            }
            let stats = tap.finish(&mut loss.backward());
            assert_eq!(stats.shapes, [(48, 3), (24, 3)]);
            tests_support::read_stats(stats)
        };
        let (device, host) = (run(false), run(true));
        assert_eq!(host, device);
        // Unit 1 is dead in both layers; a NaN keeps unit 2 alive (it is not <= 0).
        assert_eq!(host.1, [[false, true, false], [false, true, false]]);
        let nonpos = |v: Vec<f32>| v.iter().filter(|&&x| x <= 0.0).count();
        assert_eq!(host.0[0][1], nonpos(maps(true)) + nonpos(maps(false)));
        assert_eq!(host.0[1][1], nonpos(rows(true)) + nonpos(rows(false)));
        // Rows pass straight to the loss: their zero gradients are the zero weights (i % 5 == 1: 3 of 12 per forward).
        assert_eq!(host.0[1][0], 6);
    }

    /// Checks the fractions `interpret` made of the readings in the test below.
    fn check_fractions(s: Sparsity) {
        assert_eq!(s.layers[0].grad_zero, 0.5);
        assert_eq!(s.layers[0].preact_nonpos, 0.6);
        assert_eq!(s.layers[0].dead_units, 0.5);
        assert_eq!(s.layers[0].dead_mask, [false, true]);
        assert_eq!(s.layers[1].grad_zero, 0.1);
        assert_eq!(s.layers[1].dead_units, 1.0);
        // Element-weighted: (50 + 30) / (100 + 300).
        assert_eq!(s.d_grad_zero, 0.2);
        // Counted from the mask: 2 of 5 entries.
        assert_eq!(s.d_param_grad_zero, 0.4);
        assert_eq!(s.g_signal_zero, 0.25);
        assert_eq!(s.g_signal_norm, 2.5);
        // Two of ten samples starved (exactly 0, and 1e-9 below the 1e-8 threshold); the 10th
        // percentile of ten is the smallest (nearest rank below: floor(0.1 · 9) = 0).
        assert_eq!(s.g_starved, 0.2);
        assert_eq!(s.g_signal_norm_p10, 0.0);
        assert_eq!(s.param_zero_mask, [true, false, true, false, false]);
        assert_eq!(s.param_layers, [(Some(0), 4), (None, 1)]);
    }

    #[test]
    fn interpret_turns_counts_into_fractions_however_they_were_reduced() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        let param_mask = vec![true, false, true, false, false];
        let g = || GStats {
            values: Tensor::zeros([2], &dev),
            norms: Tensor::zeros([4], &dev),
            numel: 40,
        };
        let g_read = vec![10.0, 2.5];
        let norms = vec![0.0, 4.0, 1e-9, 3.0, 0.5, 2.0, 6.0, 7.0, 8.0, 9.0];
        let shapes = vec![(100, 2), (300, 3)];
        let layers = vec![(Some(0), 4), (None, 1)];
        // Reduced on the device: the counts and masks come back with G's readings.
        let on_device = ProbeTensors {
            d: DStats {
                reduced: Reduced::Device(Box::new(DeviceStats {
                    counts: Tensor::zeros([6], &dev),
                    masks: Tensor::zeros([5], &dev),
                })),
                shapes: shapes.clone(),
            },
            param_zeros: ParamZeros {
                mask: ParamMask::Device(Box::new(Tensor::<1>::zeros([5], &dev).equal_elem(1.0))),
                numel: 5,
                layers: layers.clone(),
            },
            g: g(),
        };
        // In the order `interpret` reads them: G's scalars, G's norms, D's counts, D's masks.
        let sizes: Vec<usize> = on_device.tensors().iter().map(|t| t.dims()[0]).collect();
        assert_eq!(sizes, [2, 4, 6, 5]);
        assert!(on_device.param_mask().is_some());
        check_fractions(on_device.interpret(
            &[
                g_read.clone(),
                norms.clone(),
                vec![50.0, 60.0, 1.0, 30.0, 90.0, 3.0],
                vec![0.0, 1.0, 1.0, 1.0, 1.0],
            ],
            Some(param_mask.clone()),
        ));
        // Reduced in host memory: only G's readings come back.
        let on_host = ProbeTensors {
            d: DStats {
                reduced: Reduced::Host(HostStats {
                    counts: vec![[50, 60, 1], [30, 90, 3]],
                    dead: vec![vec![false, true], vec![true, true, true]],
                }),
                shapes,
            },
            param_zeros: ParamZeros {
                mask: ParamMask::Host {
                    zeros: count_where(&param_mask, |z| z),
                    mask: param_mask,
                },
                numel: 5,
                layers,
            },
            g: g(),
        };
        let sizes: Vec<usize> = on_host.tensors().iter().map(|t| t.dims()[0]).collect();
        assert_eq!(sizes, [2, 4]);
        assert!(on_host.param_mask().is_none());
        check_fractions(on_host.interpret(&[g_read, norms], None));
    }

    #[test]
    fn image_probe_measures_the_gradient_norm_per_sample() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let x = Tensor::<4>::zeros([2, 1, 2, 2], &dev);
        let (x, probe) = ImageProbe::attach(x);
        // L = sum(x * w): dL/dx = w; sample 0 gets w = 3 on one pixel (norm 3), sample 1 w = 0.
        let w = Tensor::<4>::from_floats(
            [[[[3.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]],
            &dev,
        );
        let g = probe.finish(&(x * w).sum().backward());
        assert_eq!(floats(g.values.clone()), [7.0, 1.5]);
        assert_eq!(floats(g.norms), [3.0, 0.0]);
        assert_eq!(g.numel, 8);
    }
}

/// Helpers for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// Per-layer [zero-gradient, non-positive, dead-unit] counts and dead-unit masks of a
    /// finished tap, however it reduced them.
    pub fn read_stats(stats: DStats) -> (Vec<[usize; 3]>, Vec<Vec<bool>>) {
        match stats.reduced {
            Reduced::Host(h) => (h.counts, h.dead),
            Reduced::Device(d) => {
                let counts: Vec<f32> = d.counts.into_data().try_into_vec().unwrap();
                let masks: Vec<f32> = d.masks.into_data().try_into_vec().unwrap();
                let counts = counts
                    .chunks_exact(3)
                    .map(|c| [c[0] as usize, c[1] as usize, c[2] as usize])
                    .collect();
                (counts, split_masks(&masks, &stats.shapes))
            }
        }
    }

    /// Per-layer dead-unit masks of a finished tap.
    pub fn read_dead(stats: DStats) -> Vec<Vec<bool>> {
        read_stats(stats).1
    }
}

#[cfg(test)]
mod param_tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;

    /// The zero mask found, wherever it was found.
    fn mask_of(z: &ParamZeros) -> Vec<bool> {
        match &z.mask {
            ParamMask::Host { mask, .. } => mask.clone(),
            ParamMask::Device(t) => (**t).clone().into_data().iter::<bool>().collect(),
        }
    }

    /// Every parameter gradient of a module, in visiting order.
    struct GradValues<'a>(&'a Gradients, Vec<Vec<f32>>);

    impl ModuleVisitor for GradValues<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = param.val().grad(self.0) {
                self.1
                    .push(g.into_data().convert::<f32>().try_into_vec().unwrap());
            }
        }
    }

    fn grad_values(module: &impl Module, grads: &Gradients) -> Vec<Vec<f32>> {
        let mut v = GradValues(grads, Vec::new());
        module.visit(&mut v);
        v.1
    }

    #[test]
    #[allow(deprecated)] // ndarray, whose gradients are not read in place
    fn param_grad_zeros_counts_exactly_on_host_and_device() {
        let _lock = crate::seed_lock();
        // Flex reads the gradients in place; ndarray's are taken out of the backend.
        for dev in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let lin = LinearConfig::new(2, 2).init(&dev);
            let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, -1.0]], &dev);
            // Only output 0 feeds the loss: weight column 1 (2 entries) and bias 1 get zero
            // gradient.
            let loss = lin.forward(x).slice([0..2, 0..1]).sum();
            let grads = loss.backward();
            let before = grad_values(&lin, &grads);
            for on_host in [true, false] {
                let z = ParamGradZeros::comparing(&lin, &grads, on_host);
                assert_eq!(z.numel, 6);
                // Weight [in, out] then bias: column 1 of the weight and bias entry 1 are zero.
                assert_eq!(mask_of(&z), [false, true, false, true, false, true]);
                if let ParamMask::Host { zeros, .. } = z.mask {
                    assert_eq!(zeros, 3, "counted as compared");
                }
                // A lone Linear is no hidden layer.
                assert_eq!(z.layers, [(None, 4), (None, 2)]);
                // The optimizer still finds every gradient, unchanged.
                assert_eq!(grad_values(&lin, &grads), before, "on host: {on_host}");
            }
        }
    }

    #[test]
    fn parameters_are_assigned_to_the_hidden_layers_of_both_architectures() {
        use crate::model::{Arch, Discriminator, NetConfig, NoTap};
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        for (arch, hidden) in [(Arch::Dcgan, 2), (Arch::Mlp, 2)] {
            let net = NetConfig {
                arch,
                ..NetConfig::default()
            };
            let d = Discriminator::new(&net, &dev).unwrap();
            let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
            let grads = d.forward(x, &mut NoTap).sum().backward();
            let before = grad_values(&d, &grads);
            let device = ParamGradZeros::comparing(&d, &grads, false);
            let z = ParamGradZeros::comparing(&d, &grads, true);
            assert_eq!(mask_of(&z), mask_of(&device), "{arch:?}");
            assert_eq!(z.layers, device.layers, "{arch:?}");
            assert_eq!(grad_values(&d, &grads), before, "{arch:?}: gradients kept");
            let layers: Vec<Option<usize>> = z.layers.iter().map(|l| l.0).collect();
            // Every hidden layer has parameters, then the output layer's come last.
            for l in 0..hidden {
                assert!(
                    layers.contains(&Some(l)),
                    "{arch:?}: layer {l} in {layers:?}"
                );
            }
            assert_eq!(*layers.last().unwrap(), None, "{arch:?}: {layers:?}");
            assert!(!layers.contains(&Some(hidden)), "{arch:?}: {layers:?}");
            let total: usize = z.layers.iter().map(|l| l.1).sum();
            assert_eq!(total, z.numel);
        }
    }
}
