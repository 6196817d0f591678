//! Fully connected generator and discriminator (two hidden layers each).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::tanh;

use super::NetConfig;
use super::activation::Activation;
use super::tap::Tap;

/// Hidden widths of G (D uses them reversed).
const WIDTHS: [usize; 2] = [256, 512];

/// MLP generator: noise → 256 → 512 → image in [-1, 1].
#[derive(Module, Debug)]
pub struct MlpGenerator {
    hidden: Vec<Linear>,
    to_image: Linear,
    act: Activation,
    channels: usize,
    size: usize,
}

impl MlpGenerator {
    /// Builds G for `cfg` on `device`.
    pub fn new(cfg: &NetConfig, device: &Device) -> Self {
        let pixels = cfg.channels * cfg.image_size * cfg.image_size;
        MlpGenerator {
            hidden: vec![
                LinearConfig::new(cfg.noise_dim(), WIDTHS[0]).init(device),
                LinearConfig::new(WIDTHS[0], WIDTHS[1]).init(device),
            ],
            to_image: LinearConfig::new(WIDTHS[1], pixels).init(device),
            act: Activation::new(cfg.gen_act, cfg.alpha),
            channels: cfg.channels,
            size: cfg.image_size,
        }
    }

    /// Maps noise `[B, latent]` to images `[B, C, S, S]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let mut x = z;
        for layer in &self.hidden {
            x = self.act.forward(layer.forward(x));
        }
        tanh(self.to_image.forward(x)).reshape([b, self.channels, self.size, self.size])
    }
}

/// MLP discriminator: image → 512 → 256 (→ 256 … with --disc-depth) → one logit; with
/// --disc-width W every hidden layer is W wide.
#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    pub(crate) hidden: Vec<Linear>,
    to_logit: Linear,
    act: Activation,
}

impl MlpDiscriminator {
    /// Builds D for `cfg` on `device`.
    pub fn new(cfg: &NetConfig, device: &Device) -> Self {
        let pixels = cfg.d_channels() * cfg.image_size * cfg.image_size;
        // 512 → 256, then further 256-wide layers when deeper; or W wide throughout.
        let depth = cfg.disc_depth.max(1);
        let mut widths = vec![pixels];
        match cfg.disc_width {
            Some(w) => widths.extend(std::iter::repeat_n(w, depth)),
            None => {
                widths.push(WIDTHS[1]);
                widths.extend(std::iter::repeat_n(WIDTHS[0], depth - 1));
            }
        }
        MlpDiscriminator {
            hidden: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            to_logit: LinearConfig::new(*widths.last().unwrap(), 1).init(device),
            act: Activation::new(cfg.disc_act, cfg.alpha),
        }
    }

    /// Number of hidden activation layers.
    pub fn hidden_layers(&self) -> usize {
        self.hidden.len()
    }

    /// Maps images `[B, C, S, S]` to logits `[B]`, showing each pre-activation to `tap`.
    pub fn forward(&self, x: Tensor<4>, tap: &mut impl Tap) -> Tensor<1> {
        let [b, c, h, w] = x.dims();
        let mut x = x.reshape([b, c * h * w]);
        for (l, layer) in self.hidden.iter().enumerate() {
            let z = layer.forward(x);
            let probe = tap.look(l, &z);
            x = self.act.forward_probed(z, probe);
        }
        self.to_logit.forward(x).reshape([b])
    }

    /// D on a real and a fake batch in one pass of their stacked rows (no layer mixes rows):
    /// the logits of each, as from two [`Self::forward`] calls (real first).
    pub fn forward_pair(
        &self,
        real: Tensor<4>,
        fake: Tensor<4>,
        tap: &mut impl Tap,
    ) -> (Tensor<1>, Tensor<1>) {
        let b = real.dims()[0];
        let logits = self.forward(Tensor::cat(vec![real, fake], 0), tap);
        super::split_logits(logits, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Act, Arch};
    use crate::probe::SparsityTap;
    use burn::module::Param;

    #[test]
    fn a_product_with_a_transposed_weight_is_exact_and_the_same_on_one_thread_and_on_three() {
        // A layer's input gradient dy · Wᵀ: gemm packs W's rows before the product, and with
        // several threads each packs a band of them (vendor/gemm-common/PATCHED.md). 200 rows:
        // within 2·mc with AVX-512 and with AVX2 at its usual mc (capped at 128 rows there;
        // 784 would skip the path with AVX2).
        use burn::tensor::TensorData;
        let (rows, inputs, outputs) = (128, 200, 512);
        let value = |i: usize, scale: usize| ((i * 37 % scale) as f32 - scale as f32 / 2.0) / 64.0;
        let dy: Vec<f32> = (0..rows * outputs).map(|i| value(i, 97)).collect();
        let w: Vec<f32> = (0..inputs * outputs).map(|i| value(i, 89)).collect();
        let product = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let dev = Device::flex();
                let dy = Tensor::<2>::from_data(TensorData::new(dy.clone(), [rows, outputs]), &dev);
                let w = Tensor::<2>::from_data(TensorData::new(w.clone(), [inputs, outputs]), &dev);
                dy.matmul(w.transpose())
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            })
        };
        let one = product(1);
        assert_eq!(one.len(), rows * inputs);
        for r in 0..rows {
            for c in 0..inputs {
                let exact: f64 = (0..outputs)
                    .map(|o| dy[r * outputs + o] as f64 * w[c * outputs + o] as f64)
                    .sum();
                let got = one[r * inputs + c] as f64;
                assert!(
                    (got - exact).abs() <= 1e-5 * (1.0 + exact.abs()),
                    "dx[{r}, {c}] = {got}, not {exact}"
                );
            }
        }
        // Packing only moves values, so the threads change no bit.
        let three = product(3);
        let differ = one
            .iter()
            .zip(&three)
            .filter(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(differ.count(), 0, "one thread and three disagree");
    }

    #[test]
    fn the_generators_tanh_is_within_a_few_ulp_of_the_exact_value_and_its_gradient_too() {
        // burn-flex's f32 tanh is a rational approximation (vendor/burn-flex/PATCHED.md §6).
        use burn::tensor::TensorData;
        let xs: Vec<f32> = (-80_000..=80_000).map(|i| i as f32 * 1e-4).collect();
        let n = xs.len();
        let dev = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &dev).require_grad();
        let y = tanh(x.clone());
        let grads = y.clone().sum().backward();
        let dy: Vec<f32> = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let y: Vec<f32> = y.into_data().try_to_vec::<f32>().unwrap();
        for ((&x, &y), &dy) in xs.iter().zip(&y).zip(&dy) {
            let exact = (x as f64).tanh();
            assert!(
                (y as f64 - exact).abs() <= 4.2e-7,
                "tanh({x}) = {y}, not {exact}"
            );
            let slope = 1.0 - exact * exact;
            assert!(
                (dy as f64 - slope).abs() <= 1e-6,
                "tanh'({x}) = {dy}, not {slope}"
            );
        }
    }

    #[test]
    fn a_forced_dead_unit_is_counted_and_starves_only_under_relu() {
        let _lock = crate::seed_lock();
        let dev = Device::flex().autodiff();
        let x = Tensor::<4>::random(
            [8, 1, 28, 28],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        for (act, starved) in [(Act::Relu, true), (Act::Leaky, false)] {
            dev.seed(3);
            let cfg = NetConfig {
                arch: Arch::Mlp,
                latent_dim: 8,
                disc_act: act,
                ..NetConfig::default()
            };
            let mut d = MlpDiscriminator::new(&cfg, &dev);
            // Unit 5 of the first hidden layer: a bias so negative no input can wake it.
            let bias = d.hidden[0].bias.as_ref().unwrap().val().inner();
            let mut kill = vec![0.0f32; WIDTHS[1]];
            kill[5] = -1e4;
            let kill = Tensor::<1>::from_data(TensorData::new(kill, [WIDTHS[1]]), &bias.device());
            d.hidden[0].bias = Some(Param::from_tensor((bias + kill).autodiff()));

            let mut tap = SparsityTap::new(&dev);
            let mut grads = d.forward(x.clone(), &mut tap).mean().backward();
            let weight_grad = d.hidden[0].weight.val().grad(&grads).unwrap(); // [in, out]
            let into_unit: Vec<f32> = weight_grad
                .slice([0..784, 5..6])
                .into_data()
                .try_into_vec()
                .unwrap();
            let stats = crate::probe::tests_support::read_dead(tap.finish(&mut grads));
            assert!(stats[0][5], "{act:?}: unit 5 not counted dead");
            let all_zero = into_unit.iter().all(|&g| g == 0.0);
            assert_eq!(
                all_zero, starved,
                "{act:?}: incoming weight gradients all zero = {all_zero}"
            );
        }
    }
}
