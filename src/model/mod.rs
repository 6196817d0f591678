//! The generator/discriminator pair, for either architecture.

pub mod activation;
pub mod condition;
pub mod conv;
pub mod dcgan;
pub mod fused_act;
pub(crate) mod kernel;
pub mod mlp;
pub mod norm_act;
pub mod rows;
pub mod tap;

use anyhow::Result;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use dcgan::{DcganDiscriminator, DcganGenerator};
use mlp::{MlpDiscriminator, MlpGenerator};
pub use rows::PendingStats;
pub use tap::{NoTap, Tap};

/// A hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// max(0, x): exactly zero gradient for every non-positive input.
    Relu,
    /// x for x > 0, alpha·x otherwise: the gradient never vanishes.
    Leaky,
}

impl Act {
    /// Every activation, in the order `--help` lists them.
    pub const ALL: [Act; 2] = [Act::Relu, Act::Leaky];

    /// Lowercase name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Act::Relu => "relu",
            Act::Leaky => "leaky",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Act::Relu => "max(0, x): exactly zero gradient for every non-positive input",
            Act::Leaky => "x for x > 0, alpha·x otherwise: the gradient never vanishes",
        }
    }
}

/// The generator/discriminator architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Convolutional DCGAN (strided convolutions, batch norm).
    Dcgan,
    /// Fully connected pair.
    Mlp,
}

impl Arch {
    /// Every architecture, in the order `--help` lists them.
    pub const ALL: [Arch; 2] = [Arch::Dcgan, Arch::Mlp];

    /// Lowercase name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Dcgan => "dcgan",
            Arch::Mlp => "mlp",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Arch::Dcgan => "convolutional DCGAN (strided convolutions, batch norm)",
            Arch::Mlp => "fully connected pair (two hidden layers each, --disc-depth for D)",
        }
    }
}

/// Everything that defines the two networks' shapes and activations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Architecture of both networks.
    pub arch: Arch,
    /// Image side in pixels.
    pub image_size: usize,
    /// Image channels.
    pub channels: usize,
    /// Latent values per noise row (the one-hot class follows them when conditional).
    pub latent_dim: usize,
    /// Discriminator hidden activation.
    pub disc_act: Act,
    /// Generator hidden activation.
    pub gen_act: Act,
    /// LeakyReLU negative slope.
    pub alpha: f64,
    /// Batch norm in the discriminator's middle layers (dcgan only).
    pub disc_batch_norm: bool,
    /// Hidden layers of the discriminator (mlp only).
    #[serde(default = "default_disc_depth")]
    pub disc_depth: usize,
    /// Width of every hidden layer of the MLP discriminator (None: 512, then 256).
    #[serde(default)]
    pub disc_width: Option<usize>,
    /// Classes G and D are conditioned on (0: unconditional, as every run before it existed).
    #[serde(default)]
    pub classes: usize,
}

impl Default for NetConfig {
    /// The default training's networks: DCGAN-28 on one channel, LeakyReLU(0.2) in D.
    fn default() -> Self {
        NetConfig {
            arch: Arch::Dcgan,
            image_size: 28,
            channels: 1,
            latent_dim: 100,
            disc_act: Act::Leaky,
            gen_act: Act::Relu,
            alpha: 0.2,
            disc_batch_norm: true,
            disc_depth: 2,
            disc_width: None,
            classes: 0,
        }
    }
}

impl NetConfig {
    /// Values in one noise row: the latent vector, then the one-hot class when conditional.
    pub fn noise_dim(&self) -> usize {
        self.latent_dim + self.classes
    }

    /// Channels of D's input: the image's, then one plane per class when conditional.
    pub fn d_channels(&self) -> usize {
        self.channels + self.classes
    }

    /// Noise rows for the latent vectors `z` (`latent_dim` values each), the class of row `i`
    /// being `label(i)` when conditional (see [`condition`]).
    pub fn noise_rows(&self, z: Vec<f32>, label: impl Fn(usize) -> usize) -> Vec<f32> {
        condition::with_classes(z, self.latent_dim, self.classes, label)
    }
}

/// Runs from before `disc_depth` existed had two hidden layers.
fn default_disc_depth() -> usize {
    2
}

/// The logits of a stacked pass split back into its first `b` and the rest.
fn split_logits(logits: Tensor<1>, b: usize) -> (Tensor<1>, Tensor<1>) {
    let rest = logits.dims()[0] - b;
    (logits.clone().narrow(0, 0, b), logits.narrow(0, b, rest))
}

/// The generator, either architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // built once per run, as burn's own nn::Activation
pub enum Generator {
    /// Convolutional.
    Dcgan(DcganGenerator),
    /// Fully connected.
    Mlp(MlpGenerator),
}

impl Generator {
    /// Builds G for `cfg` on `device`.
    pub fn new(cfg: &NetConfig, device: &Device) -> Result<Self> {
        Ok(match cfg.arch {
            Arch::Dcgan => Generator::Dcgan(DcganGenerator::new(cfg, device)?),
            Arch::Mlp => Generator::Mlp(MlpGenerator::new(cfg, device)),
        })
    }

    /// Maps noise rows `[B, noise_dim]` to images `[B, C, S, S]` in [-1, 1].
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        match self {
            Generator::Dcgan(g) => g.forward(z),
            Generator::Mlp(g) => g.forward(z),
        }
    }

    /// [`Self::forward`] that leaves the running-statistics updates of batch norm on the CPU
    /// path to the caller, so the pass may run on another thread of the pool (burn keeps
    /// running statistics per thread): apply them on the thread that owns G. The GPU path
    /// updates them in place, so there the pass must run on the owning thread.
    pub fn forward_deferring_stats(&self, z: Tensor<2>) -> (Tensor<4>, PendingStats) {
        match self {
            Generator::Dcgan(g) => g.forward_deferring_stats(z),
            Generator::Mlp(g) => (g.forward(z), PendingStats::default()),
        }
    }

    /// The images (N×C×S×S values on the host) of the noise rows in `z` (row-major,
    /// `net.noise_dim()` each), 256 at a time.
    pub fn images(&self, z: &[f32], net: &NetConfig, device: &Device) -> Result<Vec<f32>> {
        let latent = net.noise_dim();
        let image = net.channels * net.image_size * net.image_size;
        let mut out = Vec::with_capacity(z.len() / latent * image);
        for rows in z.chunks(256 * latent) {
            let b = rows.len() / latent;
            let z = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [b, latent]), device);
            let images: Vec<f32> = self
                .forward(z)
                .into_data()
                .try_into_vec()
                .map_err(|e| anyhow::anyhow!("reading samples from the device: {e:?}"))?;
            out.extend(images);
        }
        Ok(out)
    }
}

/// The discriminator, either architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // built once per run
pub enum Discriminator {
    /// Convolutional.
    Dcgan(DcganDiscriminator),
    /// Fully connected.
    Mlp(MlpDiscriminator),
}

impl Discriminator {
    /// Builds D for `cfg` on `device`.
    pub fn new(cfg: &NetConfig, device: &Device) -> Result<Self> {
        Ok(match cfg.arch {
            Arch::Dcgan => Discriminator::Dcgan(DcganDiscriminator::new(cfg, device)?),
            Arch::Mlp => Discriminator::Mlp(MlpDiscriminator::new(cfg, device)),
        })
    }

    /// Number of hidden activation layers (the layers the sparsity probes watch).
    pub fn hidden_layers(&self) -> usize {
        match self {
            Discriminator::Dcgan(d) => d.hidden_layers(),
            Discriminator::Mlp(d) => d.hidden_layers(),
        }
    }

    /// Maps images `[B, C, S, S]` to logits `[B]`, showing each hidden pre-activation to `tap`.
    pub fn forward(&self, x: Tensor<4>, tap: &mut impl Tap) -> Tensor<1> {
        match self {
            Discriminator::Dcgan(d) => d.forward(x, tap),
            Discriminator::Mlp(d) => d.forward(x, tap),
        }
    }

    /// D on a real and a fake batch: the logits of each, as from `forward(real)` then
    /// `forward(fake)` (batch norm normalises each batch alone), in one pass where the backend
    /// allows, so each layer runs its matrix products once.
    pub fn forward_pair(
        &self,
        real: Tensor<4>,
        fake: Tensor<4>,
        tap: &mut impl Tap,
    ) -> (Tensor<1>, Tensor<1>) {
        match self {
            Discriminator::Dcgan(d) => d.forward_pair(real, fake, tap),
            Discriminator::Mlp(d) => d.forward_pair(real, fake, tap),
        }
    }

    /// The same pass for a measurement: batch norm as in training (the batch's statistics)
    /// without updating its running statistics, so measuring does not change the network.
    pub fn forward_measuring(&self, x: Tensor<4>, tap: &mut impl Tap) -> Tensor<1> {
        match self {
            Discriminator::Dcgan(d) => d.forward_measuring(x, tap),
            // No batch norm: the plain pass changes nothing.
            Discriminator::Mlp(d) => d.forward(x, tap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::activation::Activation;

    fn cfg(arch: Arch, disc_act: Act) -> NetConfig {
        NetConfig {
            arch,
            latent_dim: 8,
            disc_act,
            ..NetConfig::default()
        }
    }

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    #[test]
    fn leaky_passes_negatives_at_slope_alpha_and_relu_blocks_them() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let input = [-2.0, -0.5, 0.0, 1.5];
        for (act, want_out, want_grad) in [
            (Act::Relu, [0.0, 0.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]),
            (Act::Leaky, [-0.6, -0.15, 0.0, 1.5], [0.3, 0.3, 1.0, 1.0]),
        ] {
            let x = Tensor::<1>::from_floats(input, &dev).require_grad();
            let y = Activation::new(act, 0.3).forward(x.clone());
            let grads = y.clone().sum().backward();
            let out = values(y);
            let grad = values(x.grad(&grads).unwrap());
            for i in 0..4 {
                assert!((out[i] - want_out[i]).abs() < 1e-6, "{act:?} out {out:?}");
                // At exactly 0, burn's ReLU passes gradient 0 (inactive) and LeakyReLU passes 1.
                assert!(
                    (grad[i] - want_grad[i]).abs() < 1e-6,
                    "{act:?} grad {grad:?}"
                );
            }
        }
    }

    #[test]
    fn disc_activation_changes_the_output_for_the_same_weights() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        let x = Tensor::<4>::random(
            [4, 1, 28, 28],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        for arch in [Arch::Dcgan, Arch::Mlp] {
            let out = |act| {
                dev.seed(11); // same seed, same draw order: identical weights
                let d = Discriminator::new(&cfg(arch, act), &dev).unwrap();
                values(d.forward(x.clone(), &mut NoTap))
            };
            let (relu, relu_again, leaky) = (out(Act::Relu), out(Act::Relu), out(Act::Leaky));
            assert_eq!(
                relu, relu_again,
                "{arch:?}: same weights should give the same output"
            );
            assert_ne!(relu, leaky, "{arch:?}: activation made no difference");
        }
    }

    /// Every parameter gradient of `module` in `grads`, flattened in visiting order.
    fn param_grads<M: Module>(module: &M, grads: &burn::tensor::Gradients) -> Vec<f32> {
        struct Collect<'a>(&'a burn::tensor::Gradients, Vec<f32>);
        impl burn::module::ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
                // Batch norm's running statistics are visited too; they have no gradient.
                if let Some(g) = param.val().grad(self.0) {
                    self.1.extend(g.into_data().iter::<f32>());
                }
            }
        }
        let mut c = Collect(grads, Vec::new());
        module.visit(&mut c);
        c.1
    }

    fn max_gap(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn the_paired_pass_equals_two_separate_passes() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let image = |seed| {
            dev.seed(seed);
            let d = burn::tensor::Distribution::Uniform(-1.0, 1.0);
            Tensor::<4>::random([6, 1, 28, 28], d, &dev).require_grad()
        };
        let (real, fake) = (image(1), image(2));
        for (arch, batch_norm) in [
            (Arch::Dcgan, true),
            (Arch::Dcgan, false),
            (Arch::Mlp, false),
        ] {
            let c = NetConfig {
                disc_batch_norm: batch_norm,
                ..cfg(arch, Act::Leaky)
            };
            dev.seed(3);
            let paired = Discriminator::new(&c, &dev).unwrap();
            let apart = Discriminator::new(&c, &dev)
                .unwrap()
                .load_record(paired.clone().into_record());
            // Different weights on the two halves' logits, so a mixed-up half shows.
            let loss = |r: Tensor<1>, f: Tensor<1>| (r.clone() * r).sum() + f.mul_scalar(3.0).sum();
            let (r1, f1) = paired.forward_pair(real.clone(), fake.clone(), &mut NoTap);
            let g1 = loss(r1.clone(), f1.clone()).backward();
            let r2 = apart.forward(real.clone(), &mut NoTap);
            let f2 = apart.forward(fake.clone(), &mut NoTap);
            let g2 = loss(r2.clone(), f2.clone()).backward();
            let what = format!("{arch:?}, batch norm {batch_norm}");
            assert!(
                max_gap(&values(r1), &values(r2)) < 1e-5,
                "{what}: real logits"
            );
            assert!(
                max_gap(&values(f1), &values(f2)) < 1e-5,
                "{what}: fake logits"
            );
            for x in [&real, &fake] {
                let (a, b) = (x.grad(&g1).unwrap(), x.grad(&g2).unwrap());
                let gap: f32 = (a - b).abs().max().into_scalar();
                assert!(gap < 1e-5, "{what}: input gradients differ by {gap}");
            }
            let gap = max_gap(&param_grads(&paired, &g1), &param_grads(&apart, &g2));
            assert!(gap < 1e-4, "{what}: parameter gradients differ by {gap}");
            if let (Discriminator::Dcgan(p), Discriminator::Dcgan(a)) = (&paired, &apart) {
                let (p, a) = (p.running_stats(), a.running_stats());
                assert_eq!(p.is_empty(), !batch_norm);
                assert!(max_gap(&p, &a) < 1e-6, "{what}: running statistics");
            }
        }
    }

    #[test]
    fn shapes_of_both_architectures() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        for arch in [Arch::Dcgan, Arch::Mlp] {
            let c = cfg(arch, Act::Leaky);
            let g = Generator::new(&c, &dev).unwrap();
            let d = Discriminator::new(&c, &dev).unwrap();
            let img = g.forward(Tensor::zeros([3, 8], &dev));
            assert_eq!(img.dims(), [3, 1, 28, 28]);
            assert_eq!(d.forward(img, &mut NoTap).dims(), [3]);
            assert_eq!(d.hidden_layers(), 2);
        }
    }
}
