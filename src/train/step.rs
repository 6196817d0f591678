//! One GAN training step: a discriminator update, then a generator update.

use anyhow::{Result, anyhow};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::{BoolStore, DType, TensorData, Transaction};

use super::adam::FusedAdam;
use super::loss::{bce_fake, bce_real};
use crate::device;
use crate::model::{Discriminator, Generator, NetConfig, NoTap, condition};
use crate::probe::{
    DStats, ImageProbe, ParamGradZeros, ParamZeros, ProbeTensors, Sparsity, SparsityTap,
};

/// The two networks and their optimizers.
pub struct Gan {
    /// Generator.
    pub g: Generator,
    /// Discriminator.
    pub d: Discriminator,
    /// Adam state of G.
    pub opt_g: ModuleOptimizer,
    /// Adam state of D.
    pub opt_d: ModuleOptimizer,
    /// D's learning rate.
    pub lr_d: f64,
    /// G's learning rate.
    pub lr_g: f64,
    /// Latent values of a noise row, before its one-hot class when conditional.
    latent_dim: usize,
    /// Classes conditioned on (0: unconditional).
    classes: usize,
}

/// What one step leaves on the device (and, when probed on a CPU backend, what the probes
/// already reduced on the host); read back only when logged.
pub struct StepOutput {
    loss_d: Tensor<1>,
    loss_g: Tensor<1>,
    logits_real: Tensor<1>,
    logits_fake: Tensor<1>,
    probes: Option<ProbeTensors>,
}

/// The scalars of one step, on the host.
#[derive(Debug, Clone)]
pub struct StepScalars {
    /// Discriminator loss (real + fake BCE).
    pub loss_d: f64,
    /// Generator loss (non-saturating BCE).
    pub loss_g: f64,
    /// Mean D(x) on the real batch.
    pub d_real: f64,
    /// Mean D(G(z)) on the fake batch of the D step.
    pub d_fake: f64,
    /// The gradient-sparsity probes' readings, when this step was probed.
    pub sparsity: Option<Sparsity>,
}

impl Gan {
    /// Fresh networks for `net` on the autodiff `device`, Adam(lr, beta1, 0.999, eps 1e-8) each,
    /// with D's rate `lr_d` and G's `lr_g`.
    pub fn new(net: &NetConfig, lr_d: f64, lr_g: f64, beta1: f64, device: &Device) -> Result<Self> {
        let adam = FusedAdam::new(beta1 as f32, 0.999, 1e-8);
        // Parameters are initialised lazily and a clone shares the pending initialisation, so
        // the untracked copies the step makes would otherwise decide the originals' gradient
        // tracking, and the weights would be drawn from whatever state the device's generator
        // is in at the first step (another seed, once the evaluator has trained on it).
        // Drawn now, G's then D's, the order of the first step's passes.
        let g = initialised(Generator::new(net, device)?);
        let d = initialised(Discriminator::new(net, device)?);
        Ok(Gan {
            g,
            d,
            opt_g: adam.clone().init(),
            opt_d: adam.init(),
            lr_d,
            lr_g,
            latent_dim: net.latent_dim,
            classes: net.classes,
        })
    }

    /// Fresh networks for the autodiff `device` drawn from `seed`: the same initial networks on
    /// every backend. The host backends draw the same numbers for a seed; a GPU's generator
    /// draws others, so for a GPU they are drawn on flex and moved.
    pub fn seeded(
        net: &NetConfig,
        lr_d: f64,
        lr_g: f64,
        beta1: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        if device::on_host(device) {
            device.seed(seed);
            return Gan::new(net, lr_d, lr_g, beta1, device);
        }
        let host = Device::flex();
        host.seed(seed);
        let gan = Gan::new(net, lr_d, lr_g, beta1, &host.autodiff())?;
        // `fork`, not `to_device`: the moved parameters are leaves of the GPU's own graph.
        Ok(Gan {
            g: gan.g.fork(device),
            d: gan.d.fork(device),
            ..gan
        })
    }

    /// Runs one step: D on `real` and G(`z_d`) detached, then G through D on G(`z_g`).
    /// With `probe`, the sparsity probes ride along inside the same passes. When conditional,
    /// `real` comes with its class planes (`condition::real_input`) and the noise rows with
    /// their one-hot classes, which the fakes' planes repeat.
    pub fn step(
        &mut self,
        real: Tensor<4>,
        z_d: Tensor<2>,
        z_g: Tensor<2>,
        probe: bool,
    ) -> StepOutput {
        let device = real.device();
        // D's fake batch is detached: a copy of G that does not track its parameters records no
        // graph and keeps no activations for a backward pass that never comes.
        let fake = self.g.clone().no_grad().forward(z_d.clone());
        let fake = condition::fake_input(fake, &z_d, self.latent_dim, self.classes);
        // G's pass on fresh noise for its own update reads only G's parameters, which change
        // at the end of the step, so on the CPU backends it runs beside D's update and fills
        // the cores D's serial work leaves idle. `join` runs D's update on this thread, which
        // owns the batch-norm running statistics (burn keeps them per thread), and G's
        // statistics are updated here after both are done. Only from inside the pool: called
        // from outside it, `join` would move D's update onto a worker.
        let beside = device::on_host(&device) && rayon::current_thread_index().is_some();
        let update_d =
            || update_discriminator(&mut self.d, &mut self.opt_d, self.lr_d, (real, fake), probe);
        let g_pass = || self.g.forward_deferring_stats(z_g.clone());
        let (d_update, (fake, g_stats)) = match beside {
            true => rayon::join(update_d, g_pass),
            false => {
                let d = update_d();
                (d, g_pass())
            }
        };
        g_stats.apply();

        // G step: fresh noise through the updated D; only G's parameters are stepped.
        let (fake, image_probe) = match probe {
            true => {
                let (x, p) = ImageProbe::attach(fake);
                (x, Some(p))
            }
            false => (fake, None),
        };
        // D's parameters need no gradients here (only G is stepped): a copy that does not
        // track them skips D's weight-gradient convolutions. Batch-norm statistics are shared
        // with the original, so they update exactly as before.
        let d = self.d.clone().no_grad();
        let fake = condition::fake_input(fake, &z_g, self.latent_dim, self.classes);
        let loss_g = bce_real(d.forward(fake, &mut NoTap));
        let grads = loss_g.backward();
        let g_probe = image_probe.map(|p| p.finish(&grads));
        let grads = GradientsParams::from_grads(grads, &self.g);
        self.g = self.opt_g.step(self.lr_g, self.g.clone(), grads);

        let probes = match (d_update.probe, g_probe) {
            (Some((d, param_zeros)), Some(g)) => Some(ProbeTensors { d, param_zeros, g }),
            _ => None,
        };
        StepOutput {
            loss_d: d_update.loss.inner(),
            loss_g: loss_g.inner(),
            logits_real: d_update.logits_real.inner(),
            logits_fake: d_update.logits_fake.inner(),
            probes,
        }
    }
}

/// `module` with its lazily initialised parameters drawn now: turning a clone into a record
/// resolves the initialisation the clone shares with the original.
fn initialised<M: Module>(module: M) -> M {
    let _ = module.clone().into_record();
    module
}

/// What D's update leaves for the rest of the step.
struct DUpdate {
    loss: Tensor<1>,
    logits_real: Tensor<1>,
    logits_fake: Tensor<1>,
    probe: Option<(DStats, ParamZeros)>,
}

/// D's update on a real batch and a detached fake one; with `probe`, D's probes ride along.
fn update_discriminator(
    d: &mut Discriminator,
    opt: &mut ModuleOptimizer,
    lr: f64,
    (real, fake): (Tensor<4>, Tensor<4>),
    probe: bool,
) -> DUpdate {
    let device = real.device();
    // Batch norm sees the real and the fake batch each alone (the classic DCGAN recipe, as in
    // the PyTorch reference), though both go through D in one pass.
    let mut tap = probe.then(|| SparsityTap::new(&device));
    let (logits_real, logits_fake) = d.forward_pair(real, fake, &mut tap);
    let loss = bce_real(logits_real.clone()) + bce_fake(logits_fake.clone());
    let mut grads = loss.backward();
    let probe = tap.map(|t| {
        let taps = t.finish(&mut grads);
        (taps, ParamGradZeros::of(d, &grads, &device))
    });
    let grads = GradientsParams::from_grads(grads, &*d);
    *d = opt.step(lr, d.clone(), grads);
    DUpdate {
        loss,
        logits_real,
        logits_fake,
        probe,
    }
}

impl StepOutput {
    /// Reads the step's scalars (and probe readings) back in one transfer.
    pub fn read(self) -> Result<StepScalars> {
        // Built here, not in the step, so unlogged steps pay nothing for it.
        let scalars = Tensor::cat(
            vec![
                self.loss_d,
                self.loss_g,
                sigmoid(self.logits_real).mean(),
                sigmoid(self.logits_fake).mean(),
            ],
            0,
        );
        let mut tx = Transaction::default().register(scalars);
        let mut mask_read = false;
        if let Some(p) = &self.probes {
            for t in p.tensors() {
                tx = tx.register(t);
            }
            if let Some(mask) = p.param_mask() {
                tx = tx.register(mask);
                mask_read = true;
            }
        }
        let mut data = tx
            .try_execute()
            .map_err(|e| anyhow!("reading step results from the device: {e:?}"))?;
        // The parameter-gradient zero mask, registered last, is the one boolean tensor; read as
        // bools whatever the backend stores them as (native on the CPU, integers on the GPU).
        let param_mask = mask_read.then(|| bools(data.pop().expect("registered")));
        let values: Vec<Vec<f32>> = data.into_iter().map(to_vec).collect::<Result<_>>()?;
        let s = &values[0];
        let sparsity = self.probes.map(|p| p.interpret(&values[1..], param_mask));
        Ok(StepScalars {
            loss_d: s[0] as f64,
            loss_g: s[1] as f64,
            d_real: s[2] as f64,
            d_fake: s[3] as f64,
            sparsity,
        })
    }
}

/// A boolean tensor's values. Bools stored a byte each are read straight from the bytes as
/// `b != 0`, as burn's unchecked conversion reads them (its checked `as_slice::<bool>` validated
/// the ~530K-entry MLP parameter mask byte by byte, 1.3–2.2 points of a probed MLP step, when
/// the CPU backends still read the mask back this way; they now compare on the host). Bools
/// stored as wider integers, as the GPU stores them, take the conversion.
fn bools(d: TensorData) -> Vec<bool> {
    match d.dtype() {
        DType::Bool(BoolStore::Native | BoolStore::U8) => {
            d.as_bytes().iter().map(|&b| b != 0).collect()
        }
        _ => d.iter::<bool>().collect(),
    }
}

fn to_vec(d: TensorData) -> Result<Vec<f32>> {
    d.try_into_vec::<f32>()
        .map_err(|e| anyhow!("reading step results: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Batcher, shapes};
    use crate::model::{Act, Arch};
    use burn::tensor::Distribution;

    fn net(arch: Arch, disc_act: Act) -> NetConfig {
        NetConfig {
            arch,
            latent_dim: 16,
            disc_act,
            ..NetConfig::default()
        }
    }

    /// `steps` steps from seeded weights on real shapes; returns the readings.
    fn one_step(arch: Arch, act: Act, probe: bool, steps: usize) -> Vec<StepScalars> {
        train(arch, act, probe, steps).1
    }

    /// `steps` steps from seeded weights on real shapes; the networks and the readings.
    fn train(arch: Arch, act: Act, probe: bool, steps: usize) -> (Gan, Vec<StepScalars>) {
        let dev = Device::flex();
        dev.seed(5);
        let ad = dev.clone().autodiff();
        let mut gan = Gan::new(&net(arch, act), 2e-4, 2e-4, 0.5, &ad).unwrap();
        let data = shapes::generate(64, 28, 1, shapes::Style::Outline);
        let mut batcher = Batcher::new(64, 32, 1);
        let readings = (0..steps)
            .map(|step| {
                let real = Tensor::<4>::from_data(
                    TensorData::new(batcher.batch(step as u64, &data), [32, 1, 28, 28]),
                    &ad,
                );
                let z = || Tensor::<2>::random([32, 16], Distribution::Normal(0.0, 1.0), &ad);
                gan.step(real, z(), z(), probe).read().unwrap()
            })
            .collect();
        (gan, readings)
    }

    #[test]
    fn a_training_loop_in_the_pool_trains_exactly_as_on_the_calling_thread() {
        let _lock = crate::seed_lock();
        // The trainer runs its loop on a pool worker (device::in_pool): that must train exactly
        // as the calling thread does, the same draws from burn's seeded generator and the same
        // batch-norm running statistics, which burn keeps per thread until synchronised.
        let run = || {
            let (gan, readings) = train(Arch::Dcgan, Act::Leaky, false, 4);
            let losses: Vec<(f64, f64)> = readings.iter().map(|s| (s.loss_d, s.loss_g)).collect();
            let g = crate::train::checkpoint::param_values(&gan.g.valid()).unwrap();
            let d = crate::train::checkpoint::param_values(&gan.d.valid()).unwrap();
            (losses, g, d)
        };
        let here = run();
        let pooled = crate::device::in_pool(run);
        assert_eq!(here.0, pooled.0, "losses");
        assert_eq!(here.1, pooled.1, "G's parameters and running statistics");
        assert_eq!(here.2, pooled.2, "D's parameters and running statistics");
    }

    #[test]
    fn relu_gradient_is_as_sparse_as_its_inactive_inputs_and_leaky_is_dense() {
        let _lock = crate::seed_lock();
        for arch in [Arch::Dcgan, Arch::Mlp] {
            let relu = one_step(arch, Act::Relu, true, 1)
                .remove(0)
                .sparsity
                .unwrap();
            let leaky = one_step(arch, Act::Leaky, true, 1)
                .remove(0)
                .sparsity
                .unwrap();
            for (l, layer) in relu.layers.iter().enumerate() {
                assert!(
                    (layer.grad_zero - layer.preact_nonpos).abs() < 0.02,
                    "{arch:?} h{}: grad zero {} vs non-positive {}",
                    l + 1,
                    layer.grad_zero,
                    layer.preact_nonpos
                );
                assert!(
                    (0.2..0.8).contains(&layer.grad_zero),
                    "{arch:?} h{}: {}",
                    l + 1,
                    layer.grad_zero
                );
            }
            for (l, layer) in leaky.layers.iter().enumerate() {
                assert!(
                    layer.grad_zero < 0.01,
                    "{arch:?} leaky h{}: {}",
                    l + 1,
                    layer.grad_zero
                );
                assert!(
                    layer.preact_nonpos > 0.2,
                    "{arch:?} leaky h{} has inputs on both sides",
                    l + 1
                );
            }
            assert!(relu.d_grad_zero > 0.2 && leaky.d_grad_zero < 0.01);
            assert_eq!(
                leaky.d_param_grad_zero, 0.0,
                "{arch:?}: a LeakyReLU D has no zero weight gradients at init"
            );
            for s in [&relu, &leaky] {
                assert!(
                    s.g_signal_norm.is_finite() && s.g_signal_norm > 0.0,
                    "{arch:?}: {}",
                    s.g_signal_norm
                );
                assert!((0.0..=1.0).contains(&s.g_signal_zero));
                assert!((0.0..=1.0).contains(&s.d_param_grad_zero));
            }
        }
    }

    #[test]
    fn a_conditional_gan_trains_with_probes_on_either_architecture() {
        let _lock = crate::seed_lock();
        for arch in [Arch::Dcgan, Arch::Mlp] {
            let dev = Device::flex();
            dev.seed(6);
            let ad = dev.clone().autodiff();
            let cfg = NetConfig {
                classes: 4,
                ..net(arch, Act::Relu)
            };
            let mut gan = Gan::new(&cfg, 2e-4, 2e-4, 0.5, &ad).unwrap();
            let data = shapes::generate(64, 28, 1, shapes::Style::Filled);
            let mut batcher = Batcher::new(64, 16, 1);
            for step in 0..2 {
                let (pixels, labels) = batcher.batch_with_labels(step, &data);
                let real = Tensor::<4>::from_data(TensorData::new(pixels, [16, 1, 28, 28]), &ad);
                let real = condition::real_input(real, &labels, 4);
                let z = || {
                    let v = crate::rng::normal_values(
                        &mut crate::rng::Stream::StepNoise.rng_at(3, step),
                        16 * 16,
                    );
                    let rows = cfg.noise_rows(v, condition::balanced(4));
                    Tensor::<2>::from_data(TensorData::new(rows, [16, 20]), &ad)
                };
                let s = gan.step(real, z(), z(), true).read().unwrap();
                assert!(
                    s.loss_d.is_finite() && s.loss_g.is_finite(),
                    "{arch:?}: {s:?}"
                );
                let p = s.sparsity.expect("probed");
                // ReLU's zero gradients are its non-positive inputs, with or without classes.
                for layer in &p.layers {
                    assert!(
                        (layer.grad_zero - layer.preact_nonpos).abs() < 0.02,
                        "{arch:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn probes_do_not_change_training() {
        let _lock = crate::seed_lock();
        let losses = |probe| -> Vec<(f64, f64)> {
            one_step(Arch::Mlp, Act::Relu, probe, 3)
                .iter()
                .map(|s| (s.loss_d, s.loss_g))
                .collect()
        };
        assert_eq!(losses(true), losses(false));
    }

    #[test]
    fn a_discriminator_dead_to_every_input_starves_every_fake_only_under_relu() {
        use crate::model::Discriminator;
        use burn::module::Param;
        let _lock = crate::seed_lock();
        for (act, starved) in [(Act::Relu, 1.0), (Act::Leaky, 0.0)] {
            let dev = Device::flex();
            dev.seed(9);
            let ad = dev.clone().autodiff();
            let mut gan = Gan::new(&net(Arch::Mlp, act), 2e-4, 2e-4, 0.5, &ad).unwrap();
            // Every first-layer unit gets a bias no image in [-1, 1] can overcome (one below
            // minus its weights' absolute sum): with ReLU no gradient reaches any pixel of any
            // fake; with LeakyReLU it does, at slope alpha. Only just hopeless, so D's logits
            // stay far from saturating the loss whatever the weights drawn.
            let Discriminator::Mlp(d) = &mut gan.d else {
                unreachable!()
            };
            let weight = d.hidden[0].weight.val().inner();
            let hopeless = weight
                .abs()
                .sum_dim(0)
                .squeeze_dim::<1>(0)
                .neg()
                .sub_scalar(1.0);
            d.hidden[0].bias = Some(Param::from_tensor(hopeless.autodiff()));
            let real = Tensor::<4>::random([16, 1, 28, 28], Distribution::Uniform(-1.0, 1.0), &ad);
            let z = || Tensor::<2>::random([16, 16], Distribution::Normal(0.0, 1.0), &ad);
            let s = gan.step(real, z(), z(), true).read().unwrap();
            let p = s.sparsity.unwrap();
            assert_eq!(p.g_starved, starved, "{act:?}");
            assert_eq!(p.layers[0].dead_units, 1.0, "{act:?}: every unit dead");
            match act {
                Act::Relu => assert_eq!(p.g_signal_norm_p10, 0.0),
                Act::Leaky => assert!(p.g_signal_norm_p10 > 0.0),
            }
        }
    }

    #[test]
    fn bools_reads_native_and_integer_stored_masks_alike() {
        let mask = vec![true, false, false, true, true];
        assert_eq!(bools(TensorData::new(mask.clone(), [5])), mask);
        // A GPU backend hands its masks back as integers: the conversion path.
        let stored = TensorData::new(vec![1u32, 0, 0, 1, 1], [5]);
        assert!(stored.as_slice::<bool>().is_err(), "not the native path");
        assert_eq!(bools(stored), mask);
        // A backend that stores bools as bytes with a u8 tag.
        // Any non-zero byte reads as true, as in burn's own conversion.
        let bytes =
            TensorData::from_bytes_vec(vec![2u8, 0, 0, 1, 1], [5], DType::Bool(BoolStore::U8));
        assert_eq!(bools(bytes), mask);
    }
}
