//! Checkpoints of training: both networks, both Adam states and the loop state, written into
//! the run's checkpoint folder (`run::checkpoint` owns its layout and the atomic swap).

use std::path::Path;

use anyhow::{Result, anyhow};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use super::step::Gan;
use crate::run::checkpoint::{self as folder, DISCRIMINATOR, GENERATOR, OPTIM_D, OPTIM_G, State};

/// Writes a checkpoint of `gan` and `state` into `run/checkpoint/`, atomically.
pub fn save(run: &Path, gan: &Gan, state: &State) -> Result<()> {
    folder::write(run, state, |tmp| {
        let record_err = |what: &str| {
            let p = tmp.join(what);
            move |e| anyhow!("writing {}: {}", p.display(), record_message(&e))
        };
        // valid() applies the batch-norm running statistics still pending from the last step;
        // a plain clone would store stale ones.
        gan.g
            .valid()
            .save_file(tmp.join(GENERATOR))
            .map_err(record_err(GENERATOR))?;
        gan.d
            .valid()
            .save_file(tmp.join(DISCRIMINATOR))
            .map_err(record_err(DISCRIMINATOR))?;
        gan.opt_g
            .save(tmp.join(OPTIM_G))
            .map_err(record_err(OPTIM_G))?;
        gan.opt_d
            .save(tmp.join(OPTIM_D))
            .map_err(record_err(OPTIM_D))?;
        Ok(())
    })
}

fn load_err(
    ckpt: &Path,
    what: &str,
) -> impl FnOnce(burn::store::RecordError) -> anyhow::Error + use<> {
    let p = ckpt.join(what);
    move |e| anyhow!("loading {}: {}", p.display(), record_message(&e))
}

/// A burn record error's message, without its type's decoration.
pub fn record_message(e: &burn::store::RecordError) -> &str {
    match e {
        burn::store::RecordError::Io(m) | burn::store::RecordError::Validation(m) => m,
    }
}

/// Loads the weights and optimizer states of checkpoint folder `ckpt` into `gan`.
///
/// burn materialises optimizer state on its default device: the binary points `BURN_DEVICE`
/// at flex first (see main.rs), so no GPU is touched; the state moves to the run's device on
/// the next step.
pub fn load_into(ckpt: &Path, gan: &mut Gan) -> Result<()> {
    load_networks(ckpt, gan)?;
    gan.opt_g = gan
        .opt_g
        .clone()
        .load(ckpt.join(OPTIM_G))
        .map_err(load_err(ckpt, OPTIM_G))?;
    gan.opt_d = gan
        .opt_d
        .clone()
        .load(ckpt.join(OPTIM_D))
        .map_err(load_err(ckpt, OPTIM_D))?;
    Ok(())
}

/// Loads the two networks' weights (and batch-norm statistics) of checkpoint folder `ckpt`.
pub fn load_networks(ckpt: &Path, gan: &mut Gan) -> Result<()> {
    gan.g = gan
        .g
        .clone()
        .try_load_file(ckpt.join(GENERATOR))
        .map_err(load_err(ckpt, GENERATOR))?;
    gan.d = gan
        .d
        .clone()
        .try_load_file(ckpt.join(DISCRIMINATOR))
        .map_err(load_err(ckpt, DISCRIMINATOR))?;
    Ok(())
}

/// Every float parameter of `module`, flattened and concatenated in visiting order.
fn flat_params<M: Module>(module: &M) -> Option<Tensor<1>> {
    struct Flat(Vec<Tensor<1>>);
    impl ModuleVisitor for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().detach().flatten(0, D - 1));
        }
    }
    let mut flat = Flat(Vec::new());
    module.visit(&mut flat);
    (!flat.0.is_empty()).then(|| Tensor::cat(flat.0, 0))
}

fn read_f32(t: Tensor<1>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec()
        .map_err(|e| anyhow!("reading parameters from the device: {e:?}"))
}

/// The values of every float parameter of `module`, in a fixed order (to compare weights).
pub fn param_values<M: Module>(module: &M) -> Result<Vec<f32>> {
    flat_params(module).map_or(Ok(Vec::new()), read_f32)
}

/// Whether every parameter of `module` is finite (NaN and Inf make the sum of |p| non-finite).
pub fn params_finite<M: Module>(module: &M) -> Result<bool> {
    match flat_params(module) {
        Some(t) => Ok(read_f32(t.abs().sum())?[0].is_finite()),
        None => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetConfig, NoTap};
    use burn::tensor::Distribution;

    fn net() -> NetConfig {
        NetConfig {
            latent_dim: 8,
            ..NetConfig::default()
        }
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    #[test]
    fn reloaded_networks_give_identical_weights_and_outputs() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        dev.seed(3);
        let ad = dev.clone().autodiff();
        let batch = || Tensor::<4>::random([8, 1, 28, 28], Distribution::Uniform(-1.0, 1.0), &ad);
        let z = || Tensor::<2>::random([8, 8], Distribution::Normal(0.0, 1.0), &ad);
        let mut gan = Gan::new(&net(), 2e-4, 2e-4, 0.5, &ad).unwrap();
        for _ in 0..3 {
            gan.step(batch(), z(), z(), false).read().unwrap();
        }
        let tmp = tempfile::tempdir().unwrap();
        let state = State {
            step: 3,
            fixed_z: vec![0.5; 4],
            dead_history: vec![vec![vec![true, false]]],
            train_seconds: 1.0,
            seed: 3,
            probe_dead: Vec::new(),
            frozen_seen: 0,
            frozen_runs: Vec::new(),
        };
        save(tmp.path(), &gan, &state).unwrap();
        let ckpt = folder::latest(tmp.path()).unwrap();
        assert_eq!(folder::read_state(&ckpt).unwrap(), state);

        let mut loaded = Gan::new(&net(), 2e-4, 2e-4, 0.5, &ad).unwrap();
        // (Optimizer state is checked end to end: tests/resume_cli.rs resumes bit-identically.)
        load_networks(&ckpt, &mut loaded).unwrap();
        assert_eq!(
            param_values(&loaded.g).unwrap(),
            param_values(&gan.g).unwrap()
        );
        assert_eq!(
            param_values(&loaded.d).unwrap(),
            param_values(&gan.d).unwrap()
        );
        // Inference mode uses the batch-norm running statistics, which must have been saved.
        let (zv, xv) = (z().inner(), batch().inner());
        assert_eq!(
            values(loaded.g.valid().forward(zv.clone())),
            values(gan.g.valid().forward(zv))
        );
        let logits = |g: &Gan| -> Vec<f32> {
            g.d.valid()
                .forward(xv.clone(), &mut NoTap)
                .into_data()
                .try_into_vec()
                .unwrap()
        };
        assert_eq!(logits(&loaded), logits(&gan));
    }

    #[test]
    fn a_nan_or_inf_parameter_is_noticed() {
        use burn::module::Param;
        use burn::nn::LinearConfig;
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        let mut linear = LinearConfig::new(3, 2).init(&dev);
        assert!(params_finite(&linear).unwrap());
        for bad in [f32::NAN, f32::INFINITY] {
            let mut w = vec![0.5f32; 6];
            w[4] = bad;
            linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [3, 2]), &dev));
            assert!(!params_finite(&linear).unwrap(), "{bad} not noticed");
        }
    }
}
