//! The checked settings of a training run: built once from the flags (`cli.rs`), saved in the
//! run's `config.json`, and read back by `--resume`, `gan eval`, `gan sample` and the report.
//!
//! The field names are `config.json`'s keys and the flags' names (`disc_act` is
//! `--disc-act`): `Key` lists them with the role each plays, and every list of settings the
//! program needs (what `--resume` may change, what makes two runs different configurations,
//! what identifies a comparison) is derived from those roles.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::data::{DatasetKind, Spec};
use crate::device::{Adapter, BackendKind};
use crate::model::condition::Condition;
use crate::model::{Act, Arch, NetConfig, dcgan};

/// Every setting of a training run. Missing keys of older `config.json` files read as defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    /// Discriminator hidden activation.
    pub disc_act: Act,
    /// Negative slope of LeakyReLU, in [0, 1).
    pub alpha: f64,
    /// Generator hidden activation.
    pub gen_act: Act,
    /// Network architecture.
    pub arch: Arch,
    /// Hidden layers of the MLP discriminator.
    pub disc_depth: u32,
    /// Width of every hidden layer of the MLP discriminator (None: 512, then 256).
    pub disc_width: Option<u32>,
    /// No batch norm in the DCGAN discriminator.
    pub no_disc_batch_norm: bool,
    /// What G and D are conditioned on. Runs from before it existed were unconditional.
    #[serde(default)]
    pub condition: Condition,
    /// Training data.
    pub dataset: DatasetKind,
    /// Data folder (IDX files or images).
    pub data: Option<PathBuf>,
    /// Image height and width in pixels.
    pub image_size: u32,
    /// Colour channels (1 or 3); the dataset's own default when None.
    pub channels: Option<u32>,
    /// Images to use (shapes: to draw; others: a seeded subset).
    pub dataset_size: Option<u32>,
    /// Folder data: skip unreadable files.
    pub skip_bad_images: bool,
    /// Training steps.
    pub steps: u64,
    /// Images per batch.
    pub batch_size: u32,
    /// Adam learning rate of both networks, unless `lr_d`/`lr_g` set their own.
    pub lr: f64,
    /// The discriminator's own learning rate (None: `lr`).
    pub lr_d: Option<f64>,
    /// The generator's own learning rate (None: `lr`).
    pub lr_g: Option<f64>,
    /// Adam beta1 of both networks.
    pub beta1: f64,
    /// Latent values in the generator's noise vector (a one-hot class follows when conditional).
    pub latent_dim: u32,
    /// Seed of everything random (see `rng`).
    pub seed: u64,
    /// Tensor backend.
    pub backend: BackendKind,
    /// wgpu adapter.
    pub device: Adapter,
    /// CPU threads for flex/ndarray (None: all cores).
    pub threads: Option<u32>,
    /// Parent folder of run directories.
    pub out: PathBuf,
    /// Run directory name (None: a unique default name).
    pub name: Option<String>,
    /// A metrics.csv row every N steps.
    pub log_every: u64,
    /// A fixed-noise sample grid every N steps (0: only at start and end).
    pub sample_every: u64,
    /// Images in each sample grid.
    pub sample_count: u32,
    /// Skip the gradient-sparsity probes.
    pub no_probes: bool,
    /// Logged steps a unit must stay dead to count as persistently dead.
    pub dead_window: u32,
    /// No progress bar.
    pub quiet: bool,
    /// Quality measurements every N steps (0: off).
    pub eval_every: u64,
    /// Images each quality measurement compares.
    pub eval_samples: u32,
    /// A checkpoint every N steps (0: only at the end and on Ctrl-C).
    pub checkpoint_every: u64,
}

impl Default for TrainSettings {
    /// The defaults of every flag (the command line's defaults are these).
    fn default() -> Self {
        TrainSettings {
            disc_act: Act::Leaky,
            alpha: 0.2,
            gen_act: Act::Relu,
            arch: Arch::Dcgan,
            disc_depth: 2,
            disc_width: None,
            no_disc_batch_norm: false,
            condition: Condition::None,
            dataset: DatasetKind::Centred,
            data: None,
            image_size: 28,
            channels: None,
            dataset_size: None,
            skip_bad_images: false,
            steps: 1000,
            batch_size: 64,
            lr: 2e-4,
            lr_d: None,
            lr_g: None,
            beta1: 0.5,
            latent_dim: 100,
            seed: 42,
            backend: BackendKind::Flex,
            device: Adapter::Auto,
            threads: None,
            out: PathBuf::from("outputs"),
            name: None,
            log_every: 10,
            sample_every: 250,
            sample_count: 64,
            no_probes: false,
            dead_window: 10,
            quiet: false,
            eval_every: 0,
            eval_samples: 2000,
            checkpoint_every: 250,
        }
    }
}

impl TrainSettings {
    /// Checks what can be judged without the data (gan compare runs this on every planned run
    /// before creating anything).
    pub fn validate(&self) -> Result<()> {
        if self.arch == Arch::Dcgan {
            dcgan::stages(self.image_size as usize)?;
        }
        if self.arch == Arch::Dcgan && self.disc_width.is_some() {
            bail!("--disc-width applies to --arch mlp (the DCGAN's widths follow its stages)");
        }
        if self.arch == Arch::Dcgan && self.disc_depth != 2 {
            bail!("--disc-depth applies to --arch mlp (the DCGAN's depth follows --image-size)");
        }
        if self.arch == Arch::Mlp && self.no_disc_batch_norm {
            bail!("--no-disc-batch-norm applies to --arch dcgan (the MLP discriminator has none)");
        }
        if !self.eval_every.is_multiple_of(self.log_every) {
            bail!(
                "--eval-every {} must be a multiple of --log-every {} (quality values go into metrics.csv rows)",
                self.eval_every,
                self.log_every
            );
        }
        Ok(())
    }

    /// The data these settings train on.
    pub fn data_spec(&self) -> Spec {
        Spec {
            kind: self.dataset,
            path: self.data.clone(),
            size: self.image_size as usize,
            channels: self.channels.map(|c| c as usize),
            limit: self.dataset_size.map(|n| n as usize),
            seed: self.seed,
            skip_bad: self.skip_bad_images,
        }
    }

    /// The networks these settings train, for images of `size` pixels and `channels`, and
    /// data of `classes` classes (conditioned on when `condition` is `class`).
    pub fn net(&self, size: usize, channels: usize, classes: usize) -> NetConfig {
        NetConfig {
            arch: self.arch,
            image_size: size,
            channels,
            latent_dim: self.latent_dim as usize,
            disc_act: self.disc_act,
            gen_act: self.gen_act,
            alpha: self.alpha,
            disc_batch_norm: !self.no_disc_batch_norm,
            disc_depth: self.disc_depth as usize,
            disc_width: self.disc_width.map(|w| w as usize),
            classes: match self.condition {
                Condition::None => 0,
                Condition::Class => classes,
            },
        }
    }

    /// The discriminator's learning rate.
    pub fn rate_d(&self) -> f64 {
        self.lr_d.unwrap_or(self.lr)
    }

    /// The generator's learning rate.
    pub fn rate_g(&self) -> f64 {
        self.lr_g.unwrap_or(self.lr)
    }

    /// The learning rates in words: `lr 2e-4`, or `lr D 2e-3, G 2e-4` when they differ.
    pub fn rates(&self) -> String {
        match self.rate_d() == self.rate_g() {
            true => format!("lr {:e}", self.rate_d()),
            false => format!("lr D {:e}, G {:e}", self.rate_d(), self.rate_g()),
        }
    }

    /// The activation under comparison, as in run names: `relu` or `leaky0.2`.
    pub fn act_label(&self) -> String {
        match self.disc_act {
            Act::Relu => "relu".into(),
            Act::Leaky => format!("leaky{}", self.alpha),
        }
    }

    /// The command-line flags that set `keys` to these settings' values (a switch only when
    /// on; unset optional values are left out): what reruns them in another process.
    pub fn flags(&self, keys: impl IntoIterator<Item = Key>) -> Vec<String> {
        let map = self.to_map();
        let mut out = Vec::new();
        for k in keys {
            match map.get(k.name()) {
                Some(serde_json::Value::Bool(true)) => out.push(k.flag()),
                Some(serde_json::Value::String(v)) => out.extend([k.flag(), v.clone()]),
                Some(serde_json::Value::Number(v)) => out.extend([k.flag(), v.to_string()]),
                _ => {}
            }
        }
        out
    }

    /// The settings as a map from `Key` name to value (what config.json's "args" holds).
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            // Only a non-UTF-8 path fails to serialise; it then compares as absent.
            _ => serde_json::Map::new(),
        }
    }
}

/// What a setting is for, which decides how it may vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The activation under comparison (the arms of a comparison).
    Arm,
    /// The seed (the replicate within a configuration).
    Seed,
    /// Where the run is written.
    Place,
    /// How and where it runs: speed and console, never results.
    Machine,
    /// How often rows, grids and checkpoints are written.
    Schedule,
    /// What is measured beside training (quality, sample grids).
    Measurement,
    /// The total number of steps.
    Length,
    /// The learning rate (lowered to continue a diverged run).
    Rate,
    /// Everything else: the model, the data, the recipe.
    Definition,
}

impl Role {
    /// `--resume` may change it: it does not change the model, the data or the random streams.
    pub fn may_change_on_resume(self) -> bool {
        matches!(
            self,
            Role::Machine | Role::Schedule | Role::Length | Role::Rate
        )
    }

    /// Two runs that differ in it are different configurations in a report.
    pub fn defines_configuration(self) -> bool {
        matches!(self, Role::Length | Role::Rate | Role::Definition)
    }

    /// A rerun of `gan compare` must repeat it to continue the same comparison.
    pub fn identifies_comparison(self) -> bool {
        !matches!(self, Role::Arm | Role::Seed | Role::Place | Role::Machine)
    }
}

macro_rules! keys {
    ($($variant:ident $name:literal $role:ident,)*) => {
        /// A training setting: a field of `TrainSettings`, a key of config.json, a flag.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Key {
            $(
                #[doc = concat!("`--", $name, "`")]
                $variant,
            )*
        }

        impl Key {
            /// Every setting, in `TrainSettings` order.
            pub const ALL: &'static [Key] = &[$(Key::$variant),*];

            /// The field and config.json key.
            pub fn name(self) -> &'static str {
                match self {
                    $(Key::$variant => $name,)*
                }
            }

            /// The role that decides how it may vary.
            pub fn role(self) -> Role {
                match self {
                    $(Key::$variant => Role::$role,)*
                }
            }
        }
    };
}

keys! {
    DiscAct "disc_act" Arm,
    Alpha "alpha" Arm,
    GenAct "gen_act" Definition,
    Arch "arch" Definition,
    DiscDepth "disc_depth" Definition,
    DiscWidth "disc_width" Definition,
    NoDiscBatchNorm "no_disc_batch_norm" Definition,
    Condition "condition" Definition,
    Dataset "dataset" Definition,
    Data "data" Definition,
    ImageSize "image_size" Definition,
    Channels "channels" Definition,
    DatasetSize "dataset_size" Definition,
    SkipBadImages "skip_bad_images" Definition,
    Steps "steps" Length,
    BatchSize "batch_size" Definition,
    Lr "lr" Rate,
    LrD "lr_d" Rate,
    LrG "lr_g" Rate,
    Beta1 "beta1" Definition,
    LatentDim "latent_dim" Definition,
    Seed "seed" Seed,
    Backend "backend" Machine,
    Device "device" Machine,
    Threads "threads" Machine,
    Out "out" Place,
    Name "name" Place,
    LogEvery "log_every" Schedule,
    SampleEvery "sample_every" Schedule,
    SampleCount "sample_count" Measurement,
    NoProbes "no_probes" Definition,
    DeadWindow "dead_window" Definition,
    Quiet "quiet" Machine,
    EvalEvery "eval_every" Measurement,
    EvalSamples "eval_samples" Definition,
    CheckpointEvery "checkpoint_every" Schedule,
}

impl Key {
    /// The key named `name` (a field name, as clap's argument ids are).
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The flag as a user types it: `--disc-act`.
    pub fn flag(self) -> String {
        format!("--{}", self.name().replace('_', "-"))
    }
}

/// The settings given explicitly on the command line (as opposed to defaults): `--resume`
/// takes only these from the command line, and scenario presets leave them as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given(BTreeSet<Key>);

impl Given {
    /// The keys in `keys`.
    pub fn of(keys: impl IntoIterator<Item = Key>) -> Self {
        Given(keys.into_iter().collect())
    }

    /// Whether `key` was given.
    pub fn has(&self, key: Key) -> bool {
        self.0.contains(&key)
    }

    /// The given keys, in `Key` order.
    pub fn iter(&self) -> impl Iterator<Item = Key> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_fields_of_the_settings_in_order() {
        let fields: Vec<String> = TrainSettings::default().to_map().keys().cloned().collect();
        let mut keys: Vec<String> = Key::ALL.iter().map(|k| k.name().to_string()).collect();
        // serde_json's map is sorted by key.
        keys.sort();
        assert_eq!(fields, keys);
        assert_eq!(Key::from_name("disc_act"), Some(Key::DiscAct));
        assert_eq!(Key::NoDiscBatchNorm.flag(), "--no-disc-batch-norm");
        assert_eq!(Key::from_name("resume"), None);
    }

    #[test]
    fn roles_give_the_lists_the_program_uses() {
        let with = |f: fn(Role) -> bool| -> Vec<&str> {
            Key::ALL
                .iter()
                .filter(|k| f(k.role()))
                .map(|k| k.name())
                .collect()
        };
        assert_eq!(
            with(Role::may_change_on_resume),
            [
                "steps",
                "lr",
                "lr_d",
                "lr_g",
                "backend",
                "device",
                "threads",
                "log_every",
                "sample_every",
                "quiet",
                "checkpoint_every"
            ]
        );
        let not_configuration: Vec<&str> = with(|r| !r.defines_configuration());
        assert_eq!(
            not_configuration,
            [
                "disc_act",
                "alpha",
                "seed",
                "backend",
                "device",
                "threads",
                "out",
                "name",
                "log_every",
                "sample_every",
                "sample_count",
                "quiet",
                "eval_every",
                "checkpoint_every"
            ]
        );
        let not_identity: Vec<&str> = with(|r| !r.identifies_comparison());
        assert_eq!(
            not_identity,
            [
                "disc_act", "alpha", "seed", "backend", "device", "threads", "out", "name", "quiet"
            ]
        );
    }

    #[test]
    fn older_config_args_read_with_defaults_for_missing_keys() {
        let old = serde_json::json!({"disc_act": "relu", "steps": 7, "device": "auto"});
        let s: TrainSettings = serde_json::from_value(old).unwrap();
        assert_eq!((s.disc_act, s.steps), (Act::Relu, 7));
        assert_eq!(s.disc_depth, 2);
        let back: TrainSettings =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn validation_refuses_flags_of_the_other_architecture() {
        let s = TrainSettings {
            disc_depth: 4,
            ..TrainSettings::default()
        };
        assert!(s.validate().is_err());
        let s = TrainSettings {
            arch: Arch::Mlp,
            no_disc_batch_norm: true,
            ..TrainSettings::default()
        };
        assert!(s.validate().is_err());
        let s = TrainSettings {
            eval_every: 15,
            ..TrainSettings::default()
        };
        assert!(s.validate().is_err());
        assert!(TrainSettings::default().validate().is_ok());
    }
}
