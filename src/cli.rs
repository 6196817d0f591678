//! Command-line interface: flags, their defaults, and the checks on their values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// Train a GAN and measure what ReLU vs LeakyReLU does to the discriminator's gradients.
#[derive(Debug, Parser)]
#[command(
    name = "gan",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "With no subcommand, `gan` trains (same as `gan train`).\n\
                  Example: gan --disc-act relu --steps 1000   # then open outputs/<run>/samples/final.png"
)]
pub struct Cli {
    /// What to do; training when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training flags, when no subcommand is given.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a generator/discriminator pair and write a run directory (the default action).
    Train(TrainArgs),
    /// Draw a grid of samples (or latent interpolations) from a run's checkpointed generator.
    Sample(SampleArgs),
    /// Measure a run's generator against its real data: Fréchet distance, precision/recall and
    /// class coverage in an evaluator CNN's feature space (trained once per dataset, cached).
    Eval(EvalArgs),
    /// Train every activation configuration on the same seeds (same data order and noise), then
    /// write the report: the ReLU-vs-LeakyReLU answer with plots, statistics and a verdict.
    /// Rerun the same command to continue an interrupted comparison.
    Compare(CompareArgs),
    /// Build the comparison report from existing run directories (made by hand, by gan compare,
    /// or on other machines).
    Report(ReportArgs),
}

/// Flags of `gan report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Run directories to compare (grouped by their settings, seeds averaged).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Folder for report.html, report.md, report.json, plots/ and media/
    /// (default: outputs/report-<timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A preset of training settings that shows the activations in a particular regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// DCGAN as published (batch norm in D, lr 2e-4): the common case.
    Baseline,
    /// DCGAN without batch norm in D: nothing re-centres the pre-activations, so ReLU units can
    /// die and stay dead.
    NoBatchNorm,
    /// DCGAN at lr 1e-3 (5× the default): large updates push units into the dead zone.
    HighLr,
    /// An MLP discriminator six hidden layers deep: zero gradients compound with depth.
    DeepMlp,
}

impl Scenario {
    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::NoBatchNorm => "no-batch-norm",
            Scenario::HighLr => "high-lr",
            Scenario::DeepMlp => "deep-mlp",
        }
    }
}

/// Flags of `gan compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Discriminator activations to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "relu,leaky")]
    pub acts: Vec<Act>,
    /// LeakyReLU slopes to compare (each makes a leaky configuration; default: --alpha).
    #[arg(long, value_delimiter = ',', value_parser = parse_alpha)]
    pub alphas: Vec<f64>,
    /// Seeds per configuration: --seed, --seed+1, ...
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub seeds: u32,
    /// Settings preset (README, "Scenarios"); flags given explicitly override it.
    #[arg(long, value_enum, default_value_t = Scenario::Baseline)]
    pub scenario: Scenario,
    /// Training flags shared by every run (--out is the comparison's folder, default
    /// outputs/compare-<scenario>; --steps defaults to the scenario's).
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Flags of `gan eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Run directory whose checkpoint holds the generator.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Generated and real images compared.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=50_000))]
    pub samples: u32,
    /// Seed of the generator's noise and of the real images drawn (the default matches the
    /// one --eval-every uses during training).
    #[arg(long, default_value_t = crate::eval::DEFAULT_SEED)]
    pub seed: u64,
    /// Tensor backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// wgpu adapter (as for training).
    #[arg(long, default_value = "auto", value_parser = parse_adapter)]
    pub device: Adapter,
}

/// Flags of `gan sample`.
#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// Run directory whose checkpoint holds the generator.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Number of images in the grid (with --interpolate: rounded down to whole rows).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub n: u32,
    /// Seed of the noise: the same seed gives the same grid.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the PNG (default: RUN_DIR/samples/sample-s<seed>.png, or
    /// interpolate-s<seed>.png; an existing file is never overwritten).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows of latent interpolations: each row walks in equal steps from one random noise
    /// vector to another.
    #[arg(long)]
    pub interpolate: bool,
    /// Tensor backend to run the generator on.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// wgpu adapter (as for training).
    #[arg(long, default_value = "auto", value_parser = parse_adapter)]
    pub device: Adapter,
}

/// A hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// max(0, x): exactly zero gradient for every non-positive input.
    Relu,
    /// x for x > 0, alpha·x otherwise: the gradient never vanishes.
    Leaky,
}

/// The generator/discriminator architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Convolutional DCGAN (strided convolutions, batch norm).
    Dcgan,
    /// Fully connected pair (two hidden layers each).
    Mlp,
}

/// Where the training images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// Built-in procedurally drawn outlines (circle, square, triangle, cross); no files needed.
    Shapes,
    /// MNIST digits from IDX files (train-images-idx3-ubyte[.gz] and labels) in --data.
    Mnist,
    /// Fashion-MNIST from IDX files in --data, or from Debian's dataset-fashion-mnist package.
    #[value(name = "fashion-mnist")]
    #[serde(rename = "fashion-mnist")]
    FashionMnist,
    /// Every image under --data (recursive); sub-folder names become class labels.
    Folder,
}

impl DatasetKind {
    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Shapes => "shapes",
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Folder => "folder",
        }
    }
}

/// The burn backend that runs the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's ndarray CPU backend (slow transposed convolutions: fine for mlp and tiny batches).
    Ndarray,
    /// burn's flex CPU backend, multithreaded and SIMD: the fast CPU choice.
    Flex,
    /// GPU through wgpu (Vulkan, Metal or DX12).
    Wgpu,
}

/// Which wgpu adapter `--device` picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    /// The best one found (high-power GPUs first).
    #[default]
    Auto,
    /// The n-th discrete GPU (0-based).
    Discrete(usize),
    /// The n-th integrated GPU.
    Integrated(usize),
    /// The n-th virtual GPU.
    Virtual(usize),
    /// A CPU (software) adapter, such as Mesa's lavapipe.
    Cpu,
}

/// Parses `auto`, `N` (= `discrete:N`), `discrete:N`, `integrated:N`, `virtual:N` or `cpu`.
pub fn parse_adapter(s: &str) -> Result<Adapter, String> {
    let bad = || {
        format!("'{s}' is not an adapter: use auto, N, discrete:N, integrated:N, virtual:N or cpu")
    };
    let index = |n: &str| n.parse::<usize>().map_err(|_| bad());
    Ok(match s.split_once(':') {
        None if s == "auto" => Adapter::Auto,
        None if s == "cpu" => Adapter::Cpu,
        None => Adapter::Discrete(index(s)?),
        Some(("discrete", n)) => Adapter::Discrete(index(n)?),
        Some(("integrated", n)) => Adapter::Integrated(index(n)?),
        Some(("virtual", n)) => Adapter::Virtual(index(n)?),
        Some(_) => return Err(bad()),
    })
}

/// Flags of a training run.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainArgs {
    /// Discriminator hidden activation.
    #[arg(long, value_enum, default_value_t = Act::Leaky)]
    pub disc_act: Act,
    /// Negative slope of LeakyReLU, in [0, 1).
    #[arg(long, default_value_t = 0.2, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Generator hidden activation (DCGAN uses ReLU); LeakyReLU uses --alpha.
    #[arg(long, value_enum, default_value_t = Act::Relu)]
    pub gen_act: Act,
    /// Network architecture.
    #[arg(long, value_enum, default_value_t = Arch::Dcgan)]
    pub arch: Arch,
    /// Hidden layers of the MLP discriminator (512 wide, then 256).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub disc_depth: u32,
    /// No batch norm in the DCGAN discriminator (it normally follows every middle convolution).
    #[arg(long)]
    pub no_disc_batch_norm: bool,
    /// Training data.
    #[arg(long, value_enum, default_value_t = DatasetKind::Shapes)]
    pub dataset: DatasetKind,
    /// Data folder: IDX files for mnist/fashion-mnist, images (searched recursively) for folder.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Image height and width in pixels (dcgan: 4..7 times a power of two ≥ 4, e.g. 28, 32, 64).
    /// Real images are resized and centre-cropped to it.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(16..=256))]
    pub image_size: u32,
    /// Colour channels the images are converted to: 1 (grayscale) or 3 (RGB).
    /// Default: 3 for folder, 1 otherwise.
    #[arg(long, value_parser = parse_channels)]
    pub channels: Option<u32>,
    /// Images to use: shapes draws this many (default 10000); real datasets use all of theirs
    /// unless set, then a seeded random subset of this size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub dataset_size: Option<u32>,
    /// Folder data: skip files that cannot be read as images (and report how many), instead of
    /// stopping at the first one.
    #[arg(long)]
    pub skip_bad_images: bool,
    /// Training steps (one discriminator and one generator update each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
    /// Images per batch (real and fake batches alike).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,
    /// Adam learning rate of both networks.
    #[arg(long, default_value_t = 2e-4, value_parser = parse_lr)]
    pub lr: f64,
    /// Adam beta1 of both networks, in [0, 1).
    #[arg(long, default_value_t = 0.5, value_parser = parse_beta)]
    pub beta1: f64,
    /// Length of the generator's noise vector.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub latent_dim: u32,
    /// Seed of everything random: data, initial weights, noise, batch order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Tensor backend: flex is the fast CPU default, ndarray the plain CPU one, wgpu the GPU.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// wgpu adapter: auto, N (the N-th discrete GPU, from 0), discrete:N, integrated:N,
    /// virtual:N, or cpu (a software adapter such as Mesa's lavapipe).
    #[arg(long, default_value = "auto", value_parser = parse_adapter)]
    pub device: Adapter,
    /// CPU threads for flex/ndarray (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Parent folder of run directories.
    #[arg(long, default_value = "outputs")]
    pub out: PathBuf,
    /// Run directory name (default: dataset-arch-activation-seed-timestamp); never overwritten.
    #[arg(long, value_parser = parse_name)]
    pub name: Option<String>,
    /// Write a metrics.csv row every N steps (and at the last step).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: u64,
    /// Write a fixed-noise sample grid every N steps (0: only at start and end).
    #[arg(long, default_value_t = 250)]
    pub sample_every: u64,
    /// Images in each sample grid.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub sample_count: u32,
    /// Skip the gradient-sparsity probes (they normally run on every logged step).
    #[arg(long)]
    pub no_probes: bool,
    /// A unit counts as persistently dead when dead in each of the last N logged steps.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub dead_window: u32,
    /// No progress bar: a plain line every tenth of the run.
    #[arg(long)]
    pub quiet: bool,
    /// Measure sample quality every N steps and at the end (FD, precision/recall, class
    /// coverage; pixel MMD for unlabelled folders), as eval_* columns of metrics.csv and final
    /// values in summary.json. A multiple of --log-every; 0: off. The first use on a dataset
    /// trains its evaluator (about a minute), cached in OUT/.evaluators.
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Generated and real images each --eval-every measurement compares.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=50_000))]
    pub eval_samples: u32,
    /// Write a checkpoint (networks, optimizer states, loop state) every N steps and at the end
    /// (0: only at the end and on Ctrl-C).
    #[arg(long, default_value_t = 250)]
    pub checkpoint_every: u64,
    /// Continue the run in RUN_DIR from its last checkpoint, with its saved settings; --steps
    /// sets a new total, and --lr, --backend, --threads, --log-every, --sample-every,
    /// --checkpoint-every, --quiet may change. Settings that define the model or data may not.
    #[arg(long, value_name = "RUN_DIR")]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// The flags given on the command line (as opposed to defaults), for --resume.
    #[arg(skip)]
    #[serde(skip)]
    pub explicit: Vec<String>,
}

impl Default for TrainArgs {
    /// Every flag at its default (missing fields of older config.json files get these).
    fn default() -> Self {
        Cli::try_parse_from(["gan"]).expect("defaults parse").train
    }
}

/// Parses the command line, noting which training flags were given explicitly.
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches()?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let explicit = |m: &clap::ArgMatches| -> Vec<String> {
        m.ids()
            .filter(|id| {
                m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.as_str().to_string())
            .collect()
    };
    match (&mut cli.command, matches.subcommand()) {
        (Some(Command::Train(args)), Some((_, sub))) => args.explicit = explicit(sub),
        (Some(Command::Compare(args)), Some((_, sub))) => args.train.explicit = explicit(sub),
        (None, _) => cli.train.explicit = explicit(&matches),
        _ => {}
    }
    Ok(cli)
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    parse_in(s, "alpha", |v| (0.0..1.0).contains(&v), "[0, 1)")
}

fn parse_channels(s: &str) -> Result<u32, String> {
    match s {
        "1" => Ok(1),
        "3" => Ok(3),
        _ => Err(format!("channels must be 1 or 3, got '{s}'")),
    }
}

fn parse_beta(s: &str) -> Result<f64, String> {
    parse_in(s, "beta1", |v| (0.0..1.0).contains(&v), "[0, 1)")
}

fn parse_lr(s: &str) -> Result<f64, String> {
    parse_in(s, "learning rate", |v| v > 0.0 && v <= 1.0, "(0, 1]")
}

/// Parses a number and checks it lies in `range` (NaN never does).
fn parse_in(s: &str, what: &str, ok: impl Fn(f64) -> bool, range: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if ok(v) {
        Ok(v)
    } else {
        Err(format!("{what} must be in {range}, got {v}"))
    }
}

fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "run name '{s}' must be letters, digits, '-', '_', '.', '+'"
        ))
    }
}

impl Act {
    /// Lowercase name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Act::Relu => "relu",
            Act::Leaky => "leaky",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("gan").chain(args.iter().copied()))
    }

    #[test]
    fn bare_and_train_subcommand_agree() {
        let bare = parse(&["--disc-act", "relu", "--steps", "7"]).unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.train.disc_act, Act::Relu);
        let sub = parse(&["train", "--disc-act", "relu", "--steps", "7"]).unwrap();
        let Some(Command::Train(t)) = sub.command else {
            panic!("expected train")
        };
        assert_eq!(t.steps, 7);
        assert_eq!(t.disc_act, Act::Relu);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for bad in [
            &["--alpha", "-0.1"][..],
            &["--alpha", "1"],
            &["--steps", "0"],
            &["--batch-size", "0"],
            &["--lr", "0"],
            &["--lr", "nan"],
            &["--disc-act", "tanh"],
            &["--backend", "cuda"],
            &["--name", "../x"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse(&["--alpha", "0"]).is_ok());
    }

    #[test]
    fn adapters_parse() {
        assert_eq!(parse_adapter("auto"), Ok(Adapter::Auto));
        assert_eq!(parse_adapter("1"), Ok(Adapter::Discrete(1)));
        assert_eq!(parse_adapter("integrated:0"), Ok(Adapter::Integrated(0)));
        assert_eq!(parse_adapter("cpu"), Ok(Adapter::Cpu));
        for bad in ["gpu", "-1", "discrete:x", "tpu:0", ""] {
            assert!(parse_adapter(bad).is_err(), "{bad}");
        }
    }
}
