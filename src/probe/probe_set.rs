//! Dead units on a fixed probe set: measures that mean the same for ReLU and LeakyReLU.
//!
//! A unit is dead on the probe set when its pre-activation is ≤ 0 for every image of a fixed
//! set of real images and for every image G makes from fixed noise (each set through D on its
//! own, batch norm with the set's own statistics as in training, running statistics
//! untouched). Unlike the per-step dead units, a batch-normalised unit cannot look alive just
//! because it is re-centred on every batch: it is judged on the same images every time. A unit
//! dead on the fakes but alive on some real image is counted apart (dead for G's images only).

use anyhow::{Result, anyhow};
use burn::prelude::*;

use super::unit_max;
use crate::data::{Dataset, subset};
use crate::model::{Discriminator, Generator, NetConfig, Tap, condition};
use crate::rng::{Stream, normal_values};

/// Real images, and noise vectors for fakes, in the probe set.
pub const PROBE_IMAGES: usize = 256;

/// The fixed probe set of a run, on the device (without autodiff).
pub struct ProbeSet {
    /// The real images as D sees them (with their class planes when conditional).
    real: Tensor<4>,
    noise: Tensor<2>,
    /// Latent values of a noise row, and the classes after them (0: unconditional).
    latent: usize,
    classes: usize,
}

/// Per hidden layer of D, which units are dead on the probe set.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReading {
    /// Dead on every real and every fake image of the set.
    pub dead: Vec<Vec<bool>>,
    /// Dead on every fake image, alive on some real one.
    pub dead_fake_only: Vec<Vec<bool>>,
}

/// Records each layer's per-unit maximum; attaches no probe.
#[derive(Default)]
struct MaxTap(Vec<Tensor<1>>);

impl Tap for MaxTap {
    fn look<const D: usize>(&mut self, layer: usize, z: &Tensor<D>) -> Option<Tensor<1>> {
        if self.0.len() <= layer {
            self.0
                .resize_with(layer + 1, || Tensor::<1>::empty([0], &z.device()));
        }
        self.0[layer] = unit_max(z.clone());
        None
    }
}

impl ProbeSet {
    /// The probe set of a run with `seed`: up to 256 real images of `data` and 256 noise
    /// rows for `net` (every class equally often when conditional), each from its own stream
    /// (the same on every backend).
    pub fn new(data: &Dataset, seed: u64, net: &NetConfig, device: &Device) -> Self {
        let picked = data.select(&subset(
            data.len,
            Some(PROBE_IMAGES),
            Stream::ProbeSet.seed(seed),
        ));
        let real = Tensor::<4>::from_data(
            TensorData::new(
                picked.images,
                [picked.len, data.channels, data.size, data.size],
            ),
            device,
        );
        let real = condition::real_input(real, &picked.labels, net.classes);
        let z = normal_values(
            &mut Stream::ProbeNoise.rng(seed),
            PROBE_IMAGES * net.latent_dim,
        );
        let z = net.noise_rows(z, condition::balanced(net.classes));
        let noise =
            Tensor::<2>::from_data(TensorData::new(z, [PROBE_IMAGES, net.noise_dim()]), device);
        ProbeSet {
            real,
            noise,
            latent: net.latent_dim,
            classes: net.classes,
        }
    }

    /// Measures `d` (and `g`'s fakes) on the set, without changing either network: both run
    /// as inference copies, D's batch norm on the set's own statistics.
    pub fn measure(&self, g: &Generator, d: &Discriminator) -> Result<ProbeReading> {
        let d = d.valid();
        let fakes = g.valid().forward(self.noise.clone());
        let fakes = condition::fake_input(fakes, &self.noise, self.latent, self.classes);
        let mut real_tap = MaxTap::default();
        let mut fake_tap = MaxTap::default();
        d.forward_measuring(self.real.clone(), &mut real_tap);
        d.forward_measuring(fakes, &mut fake_tap);
        let units: Vec<usize> = real_tap.0.iter().map(|t| t.dims()[0]).collect();
        let both = Tensor::cat(
            real_tap.0.into_iter().chain(fake_tap.0).collect::<Vec<_>>(),
            0,
        );
        let values: Vec<f32> = both
            .into_data()
            .try_into_vec()
            .map_err(|e| anyhow!("reading the probe set's readings from the device: {e:?}"))?;
        let total: usize = units.iter().sum();
        let (real_max, fake_max) = values.split_at(total);
        let mut reading = ProbeReading {
            dead: Vec::new(),
            dead_fake_only: Vec::new(),
        };
        let mut offset = 0;
        for &n in &units {
            let (r, f) = (&real_max[offset..offset + n], &fake_max[offset..offset + n]);
            reading.dead.push(
                r.iter()
                    .zip(f)
                    .map(|(&r, &f)| r <= 0.0 && f <= 0.0)
                    .collect(),
            );
            reading.dead_fake_only.push(
                r.iter()
                    .zip(f)
                    .map(|(&r, &f)| r > 0.0 && f <= 0.0)
                    .collect(),
            );
            offset += n;
        }
        Ok(reading)
    }
}

/// Of the units dead at the previous reading (`before`), the fraction alive now; None when
/// none were dead.
pub fn revived(before: &[Vec<bool>], now: &[Vec<bool>]) -> Option<f64> {
    let (mut dead, mut back) = (0usize, 0usize);
    for (b, n) in before.iter().zip(now) {
        for (&was, &is) in b.iter().zip(n) {
            if was {
                dead += 1;
                back += usize::from(!is);
            }
        }
    }
    (dead > 0).then(|| back as f64 / dead as f64)
}

/// The fraction of `true` over all layers' units, and per layer.
pub fn fractions(masks: &[Vec<bool>]) -> (f64, Vec<f64>) {
    let per_layer: Vec<f64> = masks
        .iter()
        .map(|m| m.iter().filter(|&&x| x).count() as f64 / m.len().max(1) as f64)
        .collect();
    let units: usize = masks.iter().map(Vec::len).sum();
    let all = masks.iter().flatten().filter(|&&x| x).count();
    (all as f64 / units.max(1) as f64, per_layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Act, Arch, NetConfig};
    use burn::module::Param;

    #[test]
    fn revival_counts_only_units_that_were_dead() {
        let before = vec![vec![true, true, false], vec![true, false]];
        let now = vec![vec![false, true, true], vec![false, false]];
        // 3 were dead; units 0 of both layers came back.
        assert_eq!(revived(&before, &now), Some(2.0 / 3.0));
        assert_eq!(revived(&[vec![false]], &[vec![true]]), None);
        let (all, per) = fractions(&[vec![true, false], vec![true, true, false, false]]);
        assert_eq!((all, per), (0.5, vec![0.5, 0.5]));
    }

    #[test]
    fn a_unit_with_a_hopeless_bias_is_dead_for_both_activations_and_measuring_changes_nothing() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        dev.seed(7);
        let data = crate::data::shapes::generate(300, 28, 3, crate::data::shapes::Style::Outline);
        for act in [Act::Relu, Act::Leaky] {
            let net = NetConfig {
                arch: Arch::Mlp,
                latent_dim: 8,
                disc_act: act,
                ..NetConfig::default()
            };
            let g = Generator::new(&net, &dev).unwrap();
            let Discriminator::Mlp(mut mlp) = Discriminator::new(&net, &dev).unwrap() else {
                unreachable!()
            };
            // Unit 3 of the first hidden layer: a bias no input in [-1, 1] can overcome.
            let layer = &mut mlp.hidden[0];
            let mut bias: Vec<f32> = layer
                .bias
                .as_ref()
                .unwrap()
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            bias[3] = -1e4;
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bias.clone(), [bias.len()]),
                &dev,
            )));
            let d = Discriminator::Mlp(mlp);
            let set = ProbeSet::new(&data, 1, &net, &dev);
            let r = set.measure(&g, &d).unwrap();
            assert!(r.dead[0][3], "{act:?}: the hopeless unit is dead");
            assert!(!r.dead_fake_only[0][3], "dead on real images too");
            // Dead means the same thing for both activations: the same units, whatever the
            // slope below zero (the first layer sees the same inputs either way).
            let (frac, _) = fractions(&r.dead);
            assert!(frac < 0.5, "{act:?}: {frac}");
            // Measuring twice gives the same answer (nothing was changed by the first).
            assert_eq!(set.measure(&g, &d).unwrap(), r);
        }
    }

    #[test]
    fn batch_norm_running_statistics_are_untouched_by_a_measurement() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        dev.seed(8);
        let net = NetConfig {
            latent_dim: 8,
            ..NetConfig::default()
        };
        let g = Generator::new(&net, &dev).unwrap();
        let d = Discriminator::new(&net, &dev.clone().autodiff()).unwrap();
        let data = crate::data::shapes::generate(300, 28, 3, crate::data::shapes::Style::Outline);
        let set = ProbeSet::new(&data, 1, &net, &dev);
        let before = crate::train::checkpoint::param_values(&d.valid()).unwrap();
        let stats = |d: &Discriminator| match d {
            Discriminator::Dcgan(d) => d.running_stats(),
            Discriminator::Mlp(_) => unreachable!(),
        };
        let running = stats(&d);
        set.measure(&g, &d).unwrap();
        assert_eq!(
            crate::train::checkpoint::param_values(&d.valid()).unwrap(),
            before
        );
        assert_eq!(stats(&d), running);
    }
}
