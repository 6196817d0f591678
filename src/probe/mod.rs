//! Gradient-sparsity probes: what ReLU vs LeakyReLU does to the gradient inside D.
//!
//! Everything is measured inside the real training step. To get dL/dz for a hidden
//! pre-activation z (not a leaf, so it cannot `require_grad`), the tap adds a zero leaf
//! `p` that requires grad: z + p has the same values, and dL/dp = dL/dz. Counts are reduced on
//! the device; only a few scalars and the per-unit dead flags are read back, in the same transfer
//! as the losses. See DESIGN.md, "Gradient-sparsity metrics", for the exact definitions.

pub mod dead;
pub mod frozen;
pub mod probe_set;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;

use crate::model::Tap;

pub use crate::metric::layer_name;

/// A `Tap` that records each hidden layer's pre-activation signs and adds the gradient probes.
pub struct SparsityTap {
    device: Device,
    layers: Vec<LayerRecord>,
}

/// What the tap saw of one layer, over every forward pass of the D update (real and fake).
#[derive(Default)]
struct LayerRecord {
    /// Zero leaves added to z, one per forward; their gradients are dL/dz.
    probes: Vec<Tensor<1>>,
    /// Count of entries of z that are <= 0, per forward.
    nonpos: Vec<Tensor<1>>,
    /// Largest value of z per unit (channel or neuron), per forward.
    unit_max: Vec<Tensor<1>>,
    /// Entries of z over all forwards.
    numel: usize,
    /// Units in the layer.
    units: usize,
}

impl SparsityTap {
    /// A tap adding its probes on `device` (the autodiff device D runs on).
    pub fn new(device: &Device) -> Self {
        SparsityTap {
            device: device.clone(),
            layers: Vec::new(),
        }
    }

    /// Reduces what was recorded, with the gradients of the D loss, to on-device statistics.
    pub fn finish(self, grads: &Gradients) -> DStats {
        let mut counts = Vec::with_capacity(self.layers.len() * 3);
        let mut masks = Vec::with_capacity(self.layers.len());
        let mut shapes = Vec::with_capacity(self.layers.len());
        for rec in self.layers {
            let zeros = rec
                .probes
                .iter()
                .map(|p| {
                    let g = p.grad(grads).expect("probe is part of the D loss graph");
                    count(g.equal_elem(0.0))
                })
                .reduce(|a, b| a + b)
                .expect("every layer is tapped at least once");
            let nonpos = rec.nonpos.into_iter().reduce(|a, b| a + b).expect("tapped");
            let unit_max = rec
                .unit_max
                .into_iter()
                .reduce(|a, b| a.max_pair(b))
                .expect("tapped");
            // Dead: non-positive for every sample and position of every batch in this update.
            let dead = unit_max.lower_equal_elem(0.0).float();
            counts.push(zeros);
            counts.push(nonpos);
            counts.push(dead.clone().sum());
            masks.push(dead);
            shapes.push((rec.numel, rec.units));
        }
        DStats {
            counts: Tensor::cat(counts, 0),
            masks: Tensor::cat(masks, 0),
            shapes,
        }
    }
}

impl Tap for SparsityTap {
    fn tap<const D: usize>(&mut self, layer: usize, z: Tensor<D>) -> Tensor<D> {
        let dims = z.dims();
        let numel: usize = dims.iter().product();
        let units = dims[1];
        if self.layers.len() <= layer {
            self.layers.resize_with(layer + 1, Default::default);
        }
        let rec = &mut self.layers[layer];
        let values = z.clone().inner();
        rec.nonpos.push(count(values.clone().lower_equal_elem(0.0)));
        rec.unit_max.push(unit_max(values));
        rec.numel += numel;
        rec.units = units;
        let probe = Tensor::<1>::zeros([numel], &self.device).require_grad();
        rec.probes.push(probe.clone());
        z + probe.reshape(dims)
    }
}

/// The largest value of each unit (dim 1: channel or neuron) of `z` over the batch and pixels.
fn unit_max<const D: usize>(z: Tensor<D>) -> Tensor<1> {
    let dims = z.dims();
    let (numel, units) = (dims.iter().product::<usize>(), dims[1]);
    let max = match D {
        // [N, C] (dense layers, or conv maps as NHWC rows): straight down the columns.
        2 => z.reshape([numel / units, units]).max_dim(0),
        // [B, C, ...] -> [C, B·...].
        _ => z.swap_dims(0, 1).reshape([units, numel / units]).max_dim(1),
    };
    max.reshape([units])
}

/// Number of `true` entries, as a one-element float tensor (exact below 2^24).
///
/// Summed as floats: every partial sum of 0s and 1s is an integer no larger than the total, so
/// this is as exact as the float it ends in, and it skips a pass through 8-byte integers.
fn count<const D: usize>(mask: Tensor<D, Bool>) -> Tensor<1> {
    mask.float().sum().inner()
}

/// D-update statistics still on the device.
pub struct DStats {
    /// Per layer: [zero-gradient count, non-positive count, dead-unit count].
    counts: Tensor<1>,
    /// Per layer, concatenated: 1.0 for each dead unit.
    masks: Tensor<1>,
    /// Per layer: (entries over both batches, units).
    shapes: Vec<(usize, usize)>,
}

/// Finds the exactly-zero entries of every parameter gradient of a module (counted, and kept
/// for the frozen-weights measure), with the hidden layer of each parameter.
pub struct ParamGradZeros<'a> {
    grads: &'a Gradients,
    masks: Vec<Tensor<1, Bool>>,
    numel: usize,
    /// Each parameter's hidden layer (None: the output layer) and size, in visiting order.
    layers: Vec<(Option<usize>, usize)>,
    /// The module path being visited.
    path: Vec<String>,
}

/// The zero entries of D's parameter gradients of one update, still on the device.
pub struct ParamZeros {
    /// True for each zero entry, all parameters concatenated in visiting order. Read back and
    /// counted on the host: one pass over the gradients on the device and no separate count
    /// (and a quarter of a float mask's bytes on the CPU backends, which store bools as bytes).
    mask: Tensor<1, Bool>,
    /// Entries in all.
    numel: usize,
    /// Each parameter's hidden layer (None: the output layer) and size.
    layers: Vec<(Option<usize>, usize)>,
}

impl<'a> ParamGradZeros<'a> {
    /// Visits `module`'s parameters and counts the zeros of their gradients in `grads`.
    pub fn of(module: &impl Module, grads: &'a Gradients) -> ParamZeros {
        let mut v = ParamGradZeros {
            grads,
            masks: Vec::new(),
            numel: 0,
            layers: Vec::new(),
            path: Vec::new(),
        };
        module.visit(&mut v);
        assert!(
            !v.masks.is_empty(),
            "the module has parameters with gradients"
        );
        ParamZeros {
            mask: Tensor::cat(v.masks, 0),
            numel: v.numel,
            layers: v.layers,
        }
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
        if let Some(g) = param.val().grad(self.grads) {
            let n = g.shape().num_elements();
            self.numel += n;
            // D's hidden layers are the elements of its one Vec of blocks (or linear layers):
            // the only numbers in the path. The output layer has none.
            let layer = self.path.iter().find_map(|p| p.parse::<usize>().ok());
            self.layers.push((layer, n));
            self.masks.push(g.equal_elem(0.0).reshape([n]));
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

/// Everything the probes measured in one step, still on the device.
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
    /// The tensors to read back: D's counts, G's scalars and G's per-sample gradient norms (the
    /// masks come apart, see `masks` and `param_mask`).
    pub fn tensors(&self) -> [Tensor<1>; 3] {
        [
            self.d.counts.clone(),
            self.g.values.clone(),
            self.g.norms.clone(),
        ]
    }

    /// The dead-unit masks to read back.
    pub fn masks(&self) -> Tensor<1> {
        self.d.masks.clone()
    }

    /// The zero mask of D's parameter gradients to read back.
    pub fn param_mask(&self) -> Tensor<1, Bool> {
        self.param_zeros.mask.clone()
    }

    /// Turns the read-back values into fractions.
    pub fn interpret(
        &self,
        counts: &[f32],
        g: &[f32],
        norms: &[f32],
        masks: &[f32],
        param_mask: Vec<bool>,
    ) -> Sparsity {
        let param_zeros = count_where(&param_mask, |z| z);
        let mut layers = Vec::with_capacity(self.d.shapes.len());
        let (mut zeros_total, mut numel_total) = (0.0, 0usize);
        let dead_masks = split_masks(masks, &self.d.shapes);
        for (l, (&(numel, units), dead_mask)) in self.d.shapes.iter().zip(dead_masks).enumerate() {
            let c = &counts[l * 3..l * 3 + 3];
            zeros_total += c[0] as f64;
            numel_total += numel;
            layers.push(LayerSparsity {
                grad_zero: c[0] as f64 / numel as f64,
                preact_nonpos: c[1] as f64 / numel as f64,
                dead_units: c[2] as f64 / units as f64,
                dead_mask,
            });
        }
        Sparsity {
            layers,
            d_grad_zero: zeros_total / numel_total as f64,
            d_param_grad_zero: param_zeros as f64 / self.param_zeros.numel as f64,
            param_zero_mask: param_mask,
            param_layers: self.param_zeros.layers.clone(),
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

    fn floats(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
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
        // Two samples, three units: unit 1 is never positive (dead).
        let z = Tensor::<2>::from_floats([[1.0, -1.0, 0.0], [2.0, -3.0, 4.0]], &dev).require_grad();
        let upstream = Tensor::<2>::from_floats([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], &dev);
        let mut tap = SparsityTap::new(&dev);
        let h = relu(tap.tap(0, z.clone()));
        let grads = (h * upstream).sum().backward();
        // dL/dz = upstream where z > 0: [[1,0,0],[0,0,1]] -> 4 zeros of 6.
        let stats = tap.finish(&grads);
        assert_eq!(floats(stats.counts.clone()), [4.0, 3.0, 1.0]);
        assert_eq!(floats(stats.masks.clone()), [0.0, 1.0, 0.0]);
        assert_eq!(stats.shapes, [(6, 3)]);
        // The probe does not change the gradient that reaches z itself.
        let gz: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
        assert_eq!(gz, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn two_forwards_of_one_layer_add_up() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let mut tap = SparsityTap::new(&dev);
        // Unit 0 positive only in the second batch: not dead over the whole update.
        let a = Tensor::<2>::from_floats([[-1.0, 2.0]], &dev);
        let b = Tensor::<2>::from_floats([[3.0, -2.0]], &dev);
        let loss = relu(tap.tap(0, a)).sum() + relu(tap.tap(0, b)).sum();
        let stats = tap.finish(&loss.backward());
        assert_eq!(floats(stats.counts), [2.0, 2.0, 0.0]);
        assert_eq!(stats.shapes, [(4, 2)]);
    }

    #[test]
    fn interpret_turns_counts_into_fractions() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        let p = ProbeTensors {
            d: DStats {
                counts: Tensor::zeros([6], &dev),
                masks: Tensor::zeros([5], &dev),
                shapes: vec![(100, 2), (300, 3)],
            },
            param_zeros: ParamZeros {
                mask: Tensor::<1>::zeros([5], &dev).equal_elem(1.0),
                numel: 5,
                layers: vec![(Some(0), 4), (None, 1)],
            },
            g: GStats {
                values: Tensor::zeros([2], &dev),
                norms: Tensor::zeros([4], &dev),
                numel: 40,
            },
        };
        let s = p.interpret(
            &[50.0, 60.0, 1.0, 30.0, 90.0, 3.0],
            &[10.0, 2.5],
            &[0.0, 4.0, 1e-9, 3.0, 0.5, 2.0, 6.0, 7.0, 8.0, 9.0],
            &[0.0, 1.0, 1.0, 1.0, 1.0],
            vec![true, false, true, false, false],
        );
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

    /// Per-layer dead-unit masks of a finished tap.
    pub fn read_dead(stats: DStats) -> Vec<Vec<bool>> {
        let masks: Vec<f32> = stats.masks.into_data().try_into_vec().unwrap();
        split_masks(&masks, &stats.shapes)
    }
}

#[cfg(test)]
mod param_tests {
    use super::*;
    use burn::nn::LinearConfig;

    #[test]
    fn param_grad_zeros_counts_exactly() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let lin = LinearConfig::new(2, 2).init(&dev);
        let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, -1.0]], &dev);
        // Only output 0 feeds the loss: weight column 1 (2 entries) and bias 1 get zero gradient.
        let loss = lin.forward(x).slice([0..2, 0..1]).sum();
        let grads = loss.backward();
        let z = ParamGradZeros::of(&lin, &grads);
        assert_eq!(z.numel, 6);
        // Weight [in, out] then bias: column 1 of the weight and bias entry 1 are zero.
        let mask: Vec<bool> = z.mask.into_data().try_into_vec().unwrap();
        assert_eq!(mask, [false, true, false, true, false, true]);
        // A lone Linear is no hidden layer.
        assert_eq!(z.layers, [(None, 4), (None, 2)]);
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
            let x = Tensor::<4>::zeros([2, 1, 28, 28], &dev);
            let grads = d.forward(x, &mut NoTap).sum().backward();
            let z = ParamGradZeros::of(&d, &grads);
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
