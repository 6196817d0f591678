//! DCGAN generator and discriminator, sized to the image.
//!
//! An image of side `size = base · 2^k` (base in 4..=7, k ≥ 2) gets k up/down-sampling stages:
//! 28 = 7·2² (the classic MNIST DCGAN), 32 = 4·2³, 64 = 4·2⁴. G starts from a base×base map of
//! 256 channels and halves them each stage; D mirrors it from 64 channels up.

use anyhow::{Result, bail};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::tanh;

use super::NetConfig;
use super::activation::Activation;
use super::conv;
use super::rows::{self, PendingStats, Rows};
use super::tap::Tap;

/// DCGAN's weight init: N(0, 0.02).
const INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};
/// Channels of G's first feature map (halved at every stage).
const G_WIDTH: usize = 256;
/// Channels of D's first feature map (doubled at every stage).
const D_WIDTH: usize = 64;

/// Splits `size` into (base, stages) with size = base · 2^stages, base in 4..=7, stages ≥ 2.
pub fn stages(size: usize) -> Result<(usize, usize)> {
    let mut base = size;
    let mut k = 0;
    while base.is_multiple_of(2) && base > 7 {
        base /= 2;
        k += 1;
    }
    if !(4..=7).contains(&base) || k < 2 {
        bail!(
            "image size {size} does not fit the dcgan architecture: it needs base·2^k with base 4..7 \
             and k ≥ 2 (e.g. 28, 32, 48, 64); use one of those or --arch mlp"
        );
    }
    Ok((base, k))
}

/// One upsampling stage of G: transposed conv (×2), batch norm, activation.
#[derive(Module, Debug)]
pub struct UpBlock {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

/// DCGAN generator: noise → base×base map → k-1 upsampling blocks → image in [-1, 1].
#[derive(Module, Debug)]
pub struct DcganGenerator {
    project: ConvTranspose2d,
    project_norm: BatchNorm,
    blocks: Vec<UpBlock>,
    to_image: ConvTranspose2d,
    act: Activation,
    /// Values in one noise row (the one-hot class included when conditional).
    latent_dim: usize,
}

impl DcganGenerator {
    /// Builds G for `cfg` on `device`.
    pub fn new(cfg: &NetConfig, device: &Device) -> Result<Self> {
        let (base, k) = stages(cfg.image_size)?;
        let widths: Vec<usize> = (0..k).map(|i| G_WIDTH >> i).collect();
        let up = |cin, cout| {
            ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_initializer(INIT)
        };
        let blocks = widths
            .windows(2)
            .map(|w| UpBlock {
                conv: up(w[0], w[1]).with_bias(false).init(device),
                norm: BatchNormConfig::new(w[1]).init(device),
            })
            .collect();
        Ok(DcganGenerator {
            project: ConvTranspose2dConfig::new([cfg.noise_dim(), widths[0]], [base, base])
                .with_bias(false)
                .with_initializer(INIT)
                .init(device),
            project_norm: BatchNormConfig::new(widths[0]).init(device),
            blocks,
            to_image: up(widths[k - 1], cfg.channels).init(device),
            act: Activation::new(cfg.gen_act, cfg.alpha),
            latent_dim: cfg.noise_dim(),
        })
    }

    /// Maps noise `[B, latent]` to images `[B, C, S, S]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let (x, stats) = self.forward_deferring_stats(z);
        stats.apply();
        x
    }

    /// [`Self::forward`] that leaves the batch norms' running-statistics updates to the caller
    /// on the CPU path (burn's batch norm on the GPU path applies them in place).
    pub fn forward_deferring_stats(&self, z: Tensor<2>) -> (Tensor<4>, PendingStats) {
        match conv::gathers(&z.device()) {
            true => self.forward_rows(z),
            false => (self.forward_nchw(z), PendingStats::default()),
        }
    }

    /// The forward pass on burn's convolution kernels (GPU backends).
    fn forward_nchw(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let x = z.reshape([b, self.latent_dim, 1, 1]);
        let mut x = self
            .act
            .forward(self.project_norm.forward(self.project.forward(x)));
        for block in &self.blocks {
            x = self.act.forward(block.norm.forward(block.conv.forward(x)));
        }
        tanh(self.to_image.forward(x))
    }

    /// The same pass on [`Rows`] with gathered convolutions (CPU backends).
    fn forward_rows(&self, z: Tensor<2>) -> (Tensor<4>, PendingStats) {
        let [b, _] = z.dims();
        let x = Rows {
            tensor: z,
            batch: b,
            height: 1,
            width: 1,
        };
        let mut stats = PendingStats::default();
        let mut norm_act = |norm: &BatchNorm, t: Tensor<2>| {
            let (y, update) = rows::norm_act_deferred(norm, t, 1, &self.act);
            stats.extend(update);
            y
        };
        let mut x =
            conv::conv_transpose2d(&self.project, x).map(|t| norm_act(&self.project_norm, t));
        for block in &self.blocks {
            x = conv::conv_transpose2d(&block.conv, x).map(|t| norm_act(&block.norm, t));
        }
        let images = conv::conv_transpose2d(&self.to_image, x)
            .map(tanh)
            .into_nchw();
        (images, stats)
    }
}

/// One downsampling stage of D: strided conv (÷2), optional batch norm.
#[derive(Module, Debug)]
pub struct DownBlock {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

/// DCGAN discriminator: k strided conv stages (batch norm after the first) → one logit.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    blocks: Vec<DownBlock>,
    /// DCGAN's final base×base convolution to one logit is a dot product with the whole
    /// feature map, i.e. a linear layer on the flattened map. Written as one, because burn 0.22's
    /// wgpu backend updated the [1, C, 4, 4] conv weight wrongly after its gradient had been
    /// read (tests/backends.rs).
    to_logit: Linear,
    act: Activation,
}

impl DcganDiscriminator {
    /// Builds D for `cfg` on `device`.
    pub fn new(cfg: &NetConfig, device: &Device) -> Result<Self> {
        let (base, k) = stages(cfg.image_size)?;
        let mut blocks = Vec::with_capacity(k);
        let mut cin = cfg.d_channels();
        for i in 0..k {
            let cout = D_WIDTH << i;
            // No batch norm on the first layer, as in DCGAN; none at all when asked.
            let norm =
                (i > 0 && cfg.disc_batch_norm).then(|| BatchNormConfig::new(cout).init(device));
            let conv = Conv2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(norm.is_none())
                .with_initializer(INIT)
                .init(device);
            blocks.push(DownBlock { conv, norm });
            cin = cout;
        }
        Ok(DcganDiscriminator {
            blocks,
            to_logit: LinearConfig::new(cin * base * base, 1)
                .with_initializer(INIT)
                .init(device),
            act: Activation::new(cfg.disc_act, cfg.alpha),
        })
    }

    /// Number of hidden activation layers.
    pub fn hidden_layers(&self) -> usize {
        self.blocks.len()
    }

    /// Maps images `[B, C, S, S]` to logits `[B]`, showing each pre-activation to `tap`.
    pub fn forward(&self, x: Tensor<4>, tap: &mut impl Tap) -> Tensor<1> {
        self.forward_with(x, tap, Norm::Train)
    }

    /// The forward pass of a measurement: batch norm normalises with the batch's own
    /// statistics, as in training, but leaves the running statistics untouched.
    pub fn forward_measuring(&self, x: Tensor<4>, tap: &mut impl Tap) -> Tensor<1> {
        self.forward_with(x, tap, Norm::Measure)
    }

    /// D on a real and a fake batch of equal size, showing each pre-activation to `tap`:
    /// the logits of each, as from two [`Self::forward`] calls (real first).
    ///
    /// On the CPU path both go through one pass of twice the rows, batch norm normalising each
    /// half with its own statistics: every layer's matrix products run once, twice as tall.
    pub fn forward_pair(
        &self,
        real: Tensor<4>,
        fake: Tensor<4>,
        tap: &mut impl Tap,
    ) -> (Tensor<1>, Tensor<1>) {
        let b = real.dims()[0];
        if !conv::gathers(&real.device()) || fake.dims()[0] != b {
            let real = self.forward(real, tap);
            return (real, self.forward(fake, tap));
        }
        let logits = self.forward_rows(Tensor::cat(vec![real, fake], 0), tap, Norm::Train, 2);
        super::split_logits(logits, b)
    }

    fn forward_with(&self, x: Tensor<4>, tap: &mut impl Tap, norm: Norm) -> Tensor<1> {
        match conv::gathers(&x.device()) {
            true => self.forward_rows(x, tap, norm, 1),
            false => self.forward_nchw(x, tap, norm),
        }
    }

    /// The forward pass on burn's convolution kernels (GPU backends).
    fn forward_nchw(&self, x: Tensor<4>, tap: &mut impl Tap, mode: Norm) -> Tensor<1> {
        let mut x = x;
        for (l, block) in self.blocks.iter().enumerate() {
            let mut z = block.conv.forward(x);
            if let Some(norm) = &block.norm {
                z = match mode {
                    Norm::Train => norm.forward(z),
                    Norm::Measure => Rows::from_nchw(z)
                        .map(|t| rows::batch_norm_measuring(norm, t))
                        .into_nchw(),
                };
            }
            let probe = tap.look(l, &z);
            x = self.act.forward_probed(z, probe);
        }
        let [b, c, h, w] = x.dims();
        let logits = self.to_logit.forward(x.reshape([b, c * h * w]));
        logits.reshape([b])
    }

    /// The same pass on [`Rows`] with gathered convolutions (CPU backends). The tap sees each
    /// pre-activation as `[B·H·W, C]` rows: the same values and units as `[B, C, H, W]`.
    /// `x` stacks `groups` equal batches that batch norm normalises separately.
    fn forward_rows(
        &self,
        x: Tensor<4>,
        tap: &mut impl Tap,
        mode: Norm,
        groups: usize,
    ) -> Tensor<1> {
        let mut x = Rows::from_nchw(x);
        for (l, block) in self.blocks.iter().enumerate() {
            let mut z = conv::conv2d(&block.conv, x);
            if let (Some(norm), Norm::Train, false) = (&block.norm, mode, tap.active()) {
                // Nothing looks at the pre-activation: batch norm and activation in one.
                x = z.map(|t| rows::norm_act_groups(norm, t, groups, &self.act));
                continue;
            }
            if let Some(norm) = &block.norm {
                z = z.map(|t| match mode {
                    Norm::Train => rows::batch_norm_groups(norm, t, groups),
                    Norm::Measure => rows::batch_norm_measuring(norm, t),
                });
            }
            x = z.map(|t| {
                let probe = tap.look(l, &t);
                self.act.forward_probed(t, probe)
            });
        }
        // The linear layer's inputs are in NCHW-flattened (c, h, w) order; the rows flatten
        // to (h, w, c), so its weight is reordered to match rather than the activations.
        let (b, h, w) = (x.batch, x.height, x.width);
        let [_, c] = x.tensor.dims();
        let weight = self
            .to_logit
            .weight
            .val()
            .reshape([c, h * w, 1])
            .swap_dims(0, 1)
            .reshape([h * w * c, 1]);
        let mut logits = x.tensor.reshape([b, h * w * c]).matmul(weight);
        if let Some(bias) = &self.to_logit.bias {
            logits = logits + bias.val().unsqueeze_dim(0);
        }
        logits.reshape([b])
    }
}

#[cfg(test)]
impl DcganGenerator {
    /// Every batch norm's running mean and variance, concatenated, with this thread's latest
    /// update applied (tests).
    pub(crate) fn running_stats(&self) -> Vec<f32> {
        std::iter::once(&self.project_norm)
            .chain(self.blocks.iter().map(|b| &b.norm))
            .flat_map(|n| {
                [n.running_mean.value_sync(), n.running_var.value_sync()]
                    .into_iter()
                    .flat_map(|t| t.into_data().try_into_vec::<f32>().unwrap())
            })
            .collect()
    }
}

#[cfg(test)]
impl DcganDiscriminator {
    /// Every batch norm's running mean and variance, concatenated, with this thread's latest
    /// update applied (tests).
    pub(crate) fn running_stats(&self) -> Vec<f32> {
        self.blocks
            .iter()
            .filter_map(|b| b.norm.as_ref())
            .flat_map(|n| {
                [n.running_mean.value_sync(), n.running_var.value_sync()]
                    .into_iter()
                    .flat_map(|t| t.into_data().try_into_vec::<f32>().unwrap())
            })
            .collect()
    }
}

/// How the discriminator's batch norm runs.
#[derive(Debug, Clone, Copy)]
enum Norm {
    /// As burn's `BatchNorm::forward`: batch statistics in training (updating the running
    /// ones), running statistics in inference.
    Train,
    /// Batch statistics, running statistics untouched.
    Measure,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_sizes_split_into_stages() {
        let _lock = crate::seed_lock();
        assert_eq!(stages(28).unwrap(), (7, 2));
        assert_eq!(stages(32).unwrap(), (4, 3));
        assert_eq!(stages(64).unwrap(), (4, 4));
        assert_eq!(stages(48).unwrap(), (6, 3));
        for bad in [27, 30, 14, 8, 100] {
            assert!(stages(bad).is_err(), "{bad} accepted");
        }
    }

    fn cfg() -> NetConfig {
        NetConfig {
            channels: 3,
            latent_dim: 8,
            ..NetConfig::default()
        }
    }

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    /// Two copies of a freshly initialised network with equal weights and separate running stats.
    fn twins<M: Module>(new: impl Fn(&Device) -> M, device: &Device) -> (M, M) {
        let a = new(device);
        let b = new(device).load_record(a.clone().into_record());
        (a, b)
    }

    #[test]
    fn a_generator_pass_on_another_thread_with_its_statistics_applied_here_trains_as_inline() {
        let _lock = crate::seed_lock();
        // The training step runs G's pass for its own update beside D's, maybe on another
        // thread of the pool: its running statistics must end as if it ran here.
        let device = Device::flex().autodiff();
        let (inline, deferred) = twins(|d| DcganGenerator::new(&cfg(), d).unwrap(), &device);
        let (_, undeferred) = twins(|d| DcganGenerator::new(&cfg(), d).unwrap(), &device);
        let undeferred = undeferred.load_record(inline.clone().into_record());
        for _ in 0..3 {
            let z = Tensor::<2>::random([5, 8], burn::tensor::Distribution::Default, &device);
            let y1 = inline.forward(z.clone());
            let (y2, stats) = std::thread::scope(|s| {
                s.spawn(|| deferred.forward_deferring_stats(z.clone()))
                    .join()
                    .unwrap()
            });
            stats.apply();
            std::thread::scope(|s| s.spawn(|| undeferred.forward(z.clone())).join().unwrap());
            assert_eq!(y1.into_data(), y2.into_data(), "images");
        }
        assert_eq!(inline.running_stats(), deferred.running_stats());
        // The control: the plain pass on other threads leaves burn's per-thread updates
        // unmerged, so the statistics read here are stale. Were they not, this test could not
        // tell the deferral from doing nothing.
        assert_ne!(inline.running_stats(), undeferred.running_stats());
    }

    #[test]
    fn generator_rows_pass_matches_the_nchw_pass_with_gradients_and_running_stats() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        let (g1, g2) = twins(|d| DcganGenerator::new(&cfg(), d).unwrap(), &device);
        let z = Tensor::<2>::random([5, 8], burn::tensor::Distribution::Default, &device);
        let (y1, stats) = g1.forward_rows(z.clone());
        stats.apply();
        let y2 = g2.forward_nchw(z);
        assert_eq!(y1.dims(), [5, 3, 28, 28]);
        let grads1 = (y1.clone() * y1.clone()).sum().backward();
        let grads2 = (y2.clone() * y2.clone()).sum().backward();
        assert!(max_diff(y1.inner(), y2.inner()) < 1e-5);
        for (w1, w2) in [
            (g1.project.weight.val(), g2.project.weight.val()),
            (
                g1.blocks[0].conv.weight.val(),
                g2.blocks[0].conv.weight.val(),
            ),
            (g1.to_image.weight.val(), g2.to_image.weight.val()),
        ] {
            let d = max_diff(w1.grad(&grads1).unwrap(), w2.grad(&grads2).unwrap());
            assert!(d < 1e-3, "weight gradients differ by {d}");
        }
        let d = max_diff(
            g1.blocks[0].norm.gamma.val().grad(&grads1).unwrap(),
            g2.blocks[0].norm.gamma.val().grad(&grads2).unwrap(),
        );
        assert!(d < 1e-3, "batch-norm gradients differ by {d}");
        let d = max_diff(
            g1.blocks[0].norm.running_var.value(),
            g2.blocks[0].norm.running_var.value(),
        );
        assert!(d < 1e-6, "running variances differ by {d}");
    }

    /// A tap that looks at every pre-activation and attaches no probe.
    struct Looking;

    impl crate::model::Tap for Looking {
        fn look<const D: usize>(&mut self, _: usize, _: &Tensor<D>) -> Option<Tensor<1>> {
            None
        }
    }

    #[test]
    fn discriminator_rows_pass_matches_the_nchw_pass_with_gradients() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        let (d1, d2) = twins(|d| DcganDiscriminator::new(&cfg(), d).unwrap(), &device);
        let x = Tensor::<4>::random([6, 3, 28, 28], burn::tensor::Distribution::Default, &device)
            .require_grad();
        // A probed pass (a tap that looks) takes batch norm and activation apart: the same.
        let d3 = DcganDiscriminator::new(&cfg(), &device)
            .unwrap()
            .load_record(d1.clone().into_record());
        let y1 = d1.forward_rows(x.clone(), &mut crate::model::NoTap, Norm::Train, 1);
        let y2 = d2.forward_nchw(x.clone(), &mut crate::model::NoTap, Norm::Train);
        let y3 = d3.forward_rows(x.clone(), &mut Looking, Norm::Train, 1);
        let gx3 = x.grad(&(y3.clone() * y3.clone()).sum().backward()).unwrap();
        assert!(max_diff(y3.inner(), y1.clone().inner()) < 1e-5);
        let grads1 = (y1.clone() * y1.clone()).sum().backward();
        let gx1 = x.grad(&grads1).unwrap();
        let grads2 = (y2.clone() * y2.clone()).sum().backward();
        let gx2 = x.grad(&grads2).unwrap();
        assert!(max_diff(y1.inner(), y2.inner()) < 1e-5);
        assert!(max_diff(gx1.clone(), gx2) < 1e-5);
        assert!(max_diff(gx1, gx3) < 1e-5);
        for (w1, w2) in [
            (
                d1.blocks[0].conv.weight.val(),
                d2.blocks[0].conv.weight.val(),
            ),
            (
                d1.blocks[1].conv.weight.val(),
                d2.blocks[1].conv.weight.val(),
            ),
        ] {
            let d = max_diff(w1.grad(&grads1).unwrap(), w2.grad(&grads2).unwrap());
            assert!(d < 1e-4, "weight gradients differ by {d}");
        }
        let d = max_diff(
            d1.to_logit.weight.val().grad(&grads1).unwrap(),
            d2.to_logit.weight.val().grad(&grads2).unwrap(),
        );
        assert!(d < 1e-4, "linear gradients differ by {d}");
    }
}
