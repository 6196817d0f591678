//! Cross-backend consistency: the same weights and inputs give the same losses, sparsity
//! readings and updated weights on ndarray, flex and wgpu, for one training step.
//!
//! wgpu needs an adapter: Mesa's software Vulkan driver (Debian `mesa-vulkan-drivers`) serves on
//! a machine without a GPU. Without any adapter the wgpu part is skipped, saying so, unless
//! GAN_CI is set (`.ci/run` installs the driver and sets it), where it fails.

use std::sync::Mutex;

use burn::prelude::*;
use gan::data::shapes;
use gan::device;
use gan::device::{Adapter, BackendKind};
use gan::model::NetConfig;
use gan::model::{Act, Arch};
use gan::rng::normal_values;
use gan::run::checkpoint::State;
use gan::train::checkpoint::{self, param_values};
use gan::train::step::{Gan, StepScalars};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// burn's random generator is global: the reference networks are drawn under this lock.
static LOCK: Mutex<()> = Mutex::new(());

const BATCH: usize = 4;
const SIZE: usize = 16;
const LATENT: usize = 8;

/// What one step gave on one backend.
struct Reading {
    scalars: StepScalars,
    g_after: Vec<f32>,
    d_after: Vec<f32>,
}

fn net(arch: Arch, act: Act) -> NetConfig {
    NetConfig {
        arch,
        image_size: SIZE,
        latent_dim: LATENT,
        disc_act: act,
        ..NetConfig::default()
    }
}

/// Runs one probed step on `backend` from the networks saved in `run`, with fixed inputs.
fn one_step(backend: BackendKind, net: &NetConfig, run: &std::path::Path) -> Option<Reading> {
    let opened = match device::open(backend, Adapter::Auto) {
        Ok(o) => o,
        Err(e) if std::env::var_os("GAN_CI").is_none() => {
            eprintln!("SKIPPED {backend:?}: {e:#} (install mesa-vulkan-drivers to run it)");
            return None;
        }
        Err(e) => panic!("{backend:?} must work in CI: {e:#}"),
    };
    let ad = opened.device.autodiff();
    let mut gan = Gan::new(net, 2e-4, 2e-4, 0.5, &ad).unwrap();
    checkpoint::load_networks(&run.join("checkpoint"), &mut gan).unwrap();
    let data = shapes::generate(BATCH, SIZE, 7, shapes::Style::Outline);
    let real = Tensor::<4>::from_data(TensorData::new(data.images, [BATCH, 1, SIZE, SIZE]), &ad);
    let mut rng = StdRng::seed_from_u64(9);
    let mut z = || {
        Tensor::<2>::from_data(
            TensorData::new(normal_values(&mut rng, BATCH * LATENT), [BATCH, LATENT]),
            &ad,
        )
    };
    let (z_d, z_g) = (z(), z());
    let scalars = gan.step(real, z_d, z_g, true).read().unwrap();
    Some(Reading {
        scalars,
        g_after: param_values(&gan.g).unwrap(),
        d_after: param_values(&gan.d).unwrap(),
    })
}

/// Collects every disagreement, so a failure shows the whole picture.
#[derive(Default)]
struct Disagreements(Vec<String>);

impl Disagreements {
    fn close(&mut self, what: &str, a: f64, b: f64, tol: f64) {
        let ok = (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()));
        eprintln!(
            "{what}: {a} vs {b}{}",
            if ok { "" } else { "  <-- differs" }
        );
        if !ok {
            self.0.push(format!("{what}: {a} vs {b} (tolerance {tol})"));
        }
    }
}

/// Compares every reading of `other` with the flex reference.
fn compare(name: &str, reference: &Reading, other: &Reading) {
    let mut d = Disagreements::default();
    // Adam's first update is about lr·sign(gradient): a gradient within rounding of zero can
    // flip it, so the weights agree to 2·lr, and almost all of them far closer.
    for (what, a, b) in [
        ("G weights", &reference.g_after, &other.g_after),
        ("D weights", &reference.d_after, &other.d_after),
    ] {
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        let far = a
            .iter()
            .zip(b)
            .filter(|(x, y)| (*x - *y).abs() > 1e-5)
            .count();
        eprintln!(
            "{name} {what}: max difference {worst:e}, {far} of {} above 1e-5",
            a.len()
        );
        if worst > 4.1e-4 || far * 100 > a.len() {
            d.0.push(format!(
                "{name} {what}: max difference {worst}, {far} of {} above 1e-5",
                a.len()
            ));
        }
    }
    let (r, o) = (&reference.scalars, &other.scalars);
    // Losses and D outputs: float rounding only.
    for (what, a, b) in [
        ("loss_d", r.loss_d, o.loss_d),
        ("loss_g", r.loss_g, o.loss_g),
        ("d_real", r.d_real, o.d_real),
        ("d_fake", r.d_fake, o.d_fake),
    ] {
        d.close(&format!("{name} {what}"), a, b, 1e-4);
    }
    let (rs, os) = (r.sparsity.as_ref().unwrap(), o.sparsity.as_ref().unwrap());
    // Fractions may differ by entries sitting within rounding of zero: a few per thousand.
    let frac = 5e-3;
    for (what, a, b, tol) in [
        ("d_grad_zero", rs.d_grad_zero, os.d_grad_zero, frac),
        (
            "d_param_grad_zero",
            rs.d_param_grad_zero,
            os.d_param_grad_zero,
            frac,
        ),
        ("g_signal_zero", rs.g_signal_zero, os.g_signal_zero, frac),
        ("g_signal_norm", rs.g_signal_norm, os.g_signal_norm, 1e-3),
    ] {
        d.close(&format!("{name} {what}"), a, b, tol);
    }
    assert_eq!(rs.layers.len(), os.layers.len());
    for (l, (a, b)) in rs.layers.iter().zip(&os.layers).enumerate() {
        let h = format!("{name} h{}", l + 1);
        d.close(&format!("{h} grad_zero"), a.grad_zero, b.grad_zero, frac);
        d.close(
            &format!("{h} preact_nonpos"),
            a.preact_nonpos,
            b.preact_nonpos,
            frac,
        );
        d.close(&format!("{h} dead_units"), a.dead_units, b.dead_units, frac);
    }
    assert!(d.0.is_empty(), "backends disagree:\n{}", d.0.join("\n"));
}

fn check(arch: Arch, act: Act) {
    let net = net(arch, act);
    let tmp = tempfile::tempdir().unwrap();
    {
        // Reference networks, drawn once on flex and saved as a checkpoint.
        let _lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dev = Device::flex();
        dev.seed(21);
        let gan = Gan::new(&net, 2e-4, 2e-4, 0.5, &dev.autodiff()).unwrap();
        let state = State {
            step: 0,
            fixed_z: Vec::new(),
            dead_history: Vec::new(),
            train_seconds: 0.0,
            seed: 21,
            probe_dead: Vec::new(),
            frozen_seen: 0,
            frozen_runs: Vec::new(),
        };
        checkpoint::save(tmp.path(), &gan, &state).unwrap();
    }
    let flex = one_step(BackendKind::Flex, &net, tmp.path()).unwrap();
    // ReLU must show its sparsity, or the comparison proves little.
    let sparsity = flex.scalars.sparsity.as_ref().expect("probed step");
    if act == Act::Relu {
        assert!(sparsity.d_grad_zero > 0.2);
    }
    for backend in [BackendKind::Ndarray, BackendKind::Wgpu] {
        if let Some(other) = one_step(backend, &net, tmp.path()) {
            compare(&format!("{arch:?}/{act:?} {backend:?}"), &flex, &other);
        }
    }
}

#[test]
fn dcgan_relu_step_agrees_across_backends() {
    check(Arch::Dcgan, Act::Relu);
}

#[test]
fn mlp_leaky_step_agrees_across_backends() {
    check(Arch::Mlp, Act::Leaky);
}
