//! Checkpoints: both networks, both Adam states and the loop state, written atomically.
//!
//! Layout under the run directory: `checkpoint/` holds `generator.bpk`, `discriminator.bpk`,
//! `optim_g.bpk`, `optim_d.bpk` (burn's burnpack records) and `state.json`, written last. A new
//! checkpoint is assembled in `checkpoint.tmp/` and swapped in by renames, so a crash at any
//! moment leaves `checkpoint/` or `checkpoint.old/` complete and loadable.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::step::Gan;

/// Folder of the current checkpoint.
pub const DIR: &str = "checkpoint";
const TMP: &str = "checkpoint.tmp";
const OLD: &str = "checkpoint.old";
const STATE: &str = "state.json";

/// The loop state beside the weights: everything else a resumed run needs to continue exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Steps completed.
    pub step: u64,
    /// The fixed sample noise, `sample_count × latent_dim` row-major.
    pub fixed_z: Vec<f32>,
    /// Dead-unit masks of the last logged steps, oldest first (per step, per layer, per unit).
    pub dead_history: Vec<Vec<Vec<bool>>>,
    /// Seconds spent training so far.
    pub train_seconds: f64,
    /// Data order and noise are drawn per step from streams seeded by (seed, step), so this
    /// seed and `step` are the whole random state.
    pub seed: u64,
}

/// Writes a checkpoint of `gan` and `state` into `run/checkpoint/`, atomically.
pub fn save(run: &Path, gan: &Gan, state: &State) -> Result<()> {
    let tmp = run.join(TMP);
    if tmp.exists() {
        // Left by a crash during an earlier write.
        fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let record_err = |what: &str| {
        let p = tmp.join(what);
        move |e| anyhow!("writing {}: {e:?}", p.display())
    };
    // valid() applies the batch-norm running statistics still pending from the last step;
    // a plain clone would store stale ones.
    gan.g
        .valid()
        .save_file(tmp.join("generator.bpk"))
        .map_err(record_err("generator.bpk"))?;
    gan.d
        .valid()
        .save_file(tmp.join("discriminator.bpk"))
        .map_err(record_err("discriminator.bpk"))?;
    gan.opt_g
        .save(tmp.join("optim_g.bpk"))
        .map_err(record_err("optim_g.bpk"))?;
    gan.opt_d
        .save(tmp.join("optim_d.bpk"))
        .map_err(record_err("optim_d.bpk"))?;
    let state_path = tmp.join(STATE);
    fs::write(&state_path, serde_json::to_string(state)?)
        .with_context(|| format!("writing {}", state_path.display()))?;
    sync_dir(&tmp);

    let (cur, old) = (run.join(DIR), run.join(OLD));
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    if cur.exists() {
        fs::rename(&cur, &old).with_context(|| format!("moving {}", cur.display()))?;
    }
    fs::rename(&tmp, &cur).with_context(|| format!("moving {}", tmp.display()))?;
    sync_dir(run);
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

/// Best effort: make the renames durable before going on.
fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// The newest complete checkpoint folder of `run`: `checkpoint/`, else `checkpoint.old/`.
pub fn latest(run: &Path) -> Option<PathBuf> {
    [DIR, OLD]
        .iter()
        .map(|d| run.join(d))
        .find(|d| d.join(STATE).is_file())
}

/// Reads the loop state of a checkpoint folder.
pub fn read_state(ckpt: &Path) -> Result<State> {
    let path = ckpt.join(STATE);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a gan checkpoint state", path.display()))
}

fn load_err(
    ckpt: &Path,
    what: &str,
) -> impl FnOnce(burn::store::RecordError) -> anyhow::Error + use<> {
    let p = ckpt.join(what);
    move |e| anyhow!("loading {}: {e:?}", p.display())
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
        .load(ckpt.join("optim_g.bpk"))
        .map_err(load_err(ckpt, "optim_g.bpk"))?;
    gan.opt_d = gan
        .opt_d
        .clone()
        .load(ckpt.join("optim_d.bpk"))
        .map_err(load_err(ckpt, "optim_d.bpk"))?;
    Ok(())
}

/// Loads the two networks' weights (and batch-norm statistics) of checkpoint folder `ckpt`.
pub fn load_networks(ckpt: &Path, gan: &mut Gan) -> Result<()> {
    gan.g = gan
        .g
        .clone()
        .try_load_file(ckpt.join("generator.bpk"))
        .map_err(load_err(ckpt, "generator.bpk"))?;
    gan.d = gan
        .d
        .clone()
        .try_load_file(ckpt.join("discriminator.bpk"))
        .map_err(load_err(ckpt, "discriminator.bpk"))?;
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

/// Refuses to go on when `run` has no loadable checkpoint.
pub fn require(run: &Path) -> Result<PathBuf> {
    match latest(run) {
        Some(c) => Ok(c),
        None if run.join(TMP).exists() => bail!(
            "{}: the only checkpoint is an unfinished write ({TMP}); the run cannot be resumed",
            run.display()
        ),
        None => bail!("{}: no checkpoint to resume from", run.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Act, Arch};
    use crate::model::{NetConfig, NoTap};
    use burn::tensor::Distribution;

    fn net() -> NetConfig {
        NetConfig {
            arch: Arch::Dcgan,
            image_size: 28,
            channels: 1,
            latent_dim: 8,
            disc_act: Act::Leaky,
            gen_act: Act::Relu,
            alpha: 0.2,
            disc_batch_norm: true,
            disc_depth: 2,
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
        let mut gan = Gan::new(&net(), 2e-4, 0.5, &ad).unwrap();
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
        };
        save(tmp.path(), &gan, &state).unwrap();
        let ckpt = latest(tmp.path()).unwrap();
        assert_eq!(read_state(&ckpt).unwrap(), state);

        let mut loaded = Gan::new(&net(), 2e-4, 0.5, &ad).unwrap();
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

    #[test]
    fn an_unfinished_write_leaves_the_previous_checkpoint_loadable() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path();
        fs::create_dir_all(run.join(OLD)).unwrap();
        fs::write(run.join(OLD).join(STATE), "{}").unwrap();
        fs::create_dir_all(run.join(TMP)).unwrap();
        // Crash between the two renames: only checkpoint.old is complete.
        assert_eq!(latest(run), Some(run.join(OLD)));
        fs::create_dir_all(run.join(DIR)).unwrap();
        assert_eq!(latest(run), Some(run.join(OLD)), "no state.json yet");
        fs::write(run.join(DIR).join(STATE), "{}").unwrap();
        assert_eq!(latest(run), Some(run.join(DIR)));
        fs::remove_dir_all(run.join(DIR)).unwrap();
        fs::remove_dir_all(run.join(OLD)).unwrap();
        let err = require(run).unwrap_err().to_string();
        assert!(err.contains("unfinished write"), "{err}");
    }
}
