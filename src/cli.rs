//! Command-line interface: flags, their defaults, and the checks on their values. The edge of
//! the program: it turns flags into the checked settings and options the rest of the code
//! takes, and nothing below imports it.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::compare::{self, scenario::Scenario};
use crate::data::DatasetKind;
use crate::device::{Adapter, BackendKind};
use crate::metric::{Column, Metric, Take};
use crate::model::condition::Condition;
use crate::model::{Act, Arch};
use crate::settings::{Given, Key, TrainSettings};
use crate::train::Job;
use crate::{eval, findings, report, sample};

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
    /// Run every scenario's comparison (finished runs are reused), replicate each clear result
    /// on a disjoint seed range, and write one page: findings.html, .md and .json.
    Findings(FindingsArgs),
}

/// Flags of `gan findings`.
#[derive(Debug, Clone, Args)]
pub struct FindingsArgs {
    /// Scenarios to run, in page order (default: all of them).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenarios: Vec<Scenario>,
    /// Seeds per configuration (default: each scenario's own).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub seeds: Option<u32>,
    /// A replication's seeds start this far above --seed, so they never overlap the first
    /// comparison's.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub replication_offset: u64,
    /// Train N runs of each comparison at once, as gan compare --jobs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,
    /// Judge every scenario on this metric instead of its own primary (as gan compare
    /// --primary).
    #[arg(long, value_name = "METRIC", value_parser = parse_primary)]
    pub primary: Option<(Column, Take)>,
    /// Training flags shared by every comparison (they override the scenarios' presets;
    /// --out is the findings folder, default outputs/findings). The scenarios train on
    /// --dataset silhouettes unless --dataset is given.
    #[command(flatten)]
    pub train: TrainArgs,
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
    /// The primary metric the verdict is judged on (as for gan compare; default eval_fd:last,
    /// or the pixel MMD for unlabelled data).
    #[arg(long, value_name = "METRIC", value_parser = parse_primary)]
    pub primary: Option<(Column, Take)>,
    /// Equivalence margin as a fraction of relu's value.
    #[arg(long, default_value_t = 0.1, value_parser = parse_margin)]
    pub margin: f64,
}

/// Flags of `gan compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Discriminator activations to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "relu,leaky")]
    pub acts: Vec<Act>,
    /// LeakyReLU slopes to compare (each makes a leaky configuration; default: the scenario's,
    /// 0.01,0.05,0.1,0.2,0.3 for alpha-sweep, else --alpha). Three or more levels (relu counting
    /// as 0) also get a trend test of the primary metric across α.
    #[arg(long, value_delimiter = ',', value_parser = parse_alpha)]
    pub alphas: Vec<f64>,
    /// Seeds per configuration: --seed, --seed+1, ... (default: the scenario's; 3, or 6 for
    /// high-lr-d, the fewest with which its exact paired test can reach p < 0.05).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub seeds: Option<u32>,
    /// Settings preset (README, "Scenarios"); flags given explicitly override it. Every
    /// scenario trains on --dataset silhouettes, the data its findings were measured on,
    /// unless --dataset is given.
    #[arg(long, value_enum, default_value_t = Scenario::Baseline)]
    pub scenario: Scenario,
    /// The primary metric the verdict is judged on, named before the runs: a metrics.csv
    /// column, `:last` (final value, the default) or `:mean` (over the run), e.g.
    /// eval_fd:last, d_dead_units_persistent:last, or one hidden layer's column such as
    /// d_dead_probe_h1:last. Default: the scenario's (final FD).
    #[arg(long, value_name = "METRIC", value_parser = parse_primary)]
    pub primary: Option<(Column, Take)>,
    /// Equivalence margin as a fraction of relu's value: "no difference" is claimed only when
    /// the effect is shown to lie within ±margin.
    #[arg(long, default_value_t = 0.1, value_parser = parse_margin)]
    pub margin: f64,
    /// Train N runs at once in worker processes, splitting the cores between them (unless
    /// --threads is given); each worker's output goes to OUT/logs/<run>.log.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256), conflicts_with_all = ["plan", "task_index"])]
    pub jobs: Option<u32>,
    /// Print the plan, one JSON line per run with its index and the command that trains it
    /// alone (for a cluster's job array), and exit without training.
    #[arg(long, conflicts_with = "task_index")]
    pub plan: bool,
    /// Train only run I of the plan (0-based; e.g. $SLURM_ARRAY_TASK_ID or
    /// $JOB_COMPLETION_INDEX), on shared storage; the last run to finish writes the report.
    #[arg(long, value_name = "I")]
    pub task_index: Option<usize>,
    /// Training flags shared by every run (--out is the comparison's folder, default
    /// outputs/compare-<scenario>; --steps and --dataset default to the scenario's).
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
    #[arg(long, default_value_t = eval::DEFAULT_SEED)]
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

/// The domain's choices as clap values: names and one-line help from their owners.
macro_rules! value_enums {
    ($($t:ty),*) => {$(
        impl ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                &<$t>::ALL
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(PossibleValue::new(self.name()).help(self.about()))
            }
        }
    )*};
}

value_enums!(Act, Arch, Condition, DatasetKind, BackendKind, Scenario);

fn parse_adapter(s: &str) -> Result<Adapter, String> {
    s.parse()
}

/// The defaults of every training flag: the settings' own.
fn d() -> TrainSettings {
    TrainSettings::default()
}

/// Flags of a training run.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Discriminator hidden activation.
    #[arg(long, value_enum, default_value_t = d().disc_act)]
    pub disc_act: Act,
    /// Negative slope of LeakyReLU, in [0, 1).
    #[arg(long, default_value_t = d().alpha, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Generator hidden activation (DCGAN uses ReLU); LeakyReLU uses --alpha.
    #[arg(long, value_enum, default_value_t = d().gen_act)]
    pub gen_act: Act,
    /// Network architecture.
    #[arg(long, value_enum, default_value_t = d().arch)]
    pub arch: Arch,
    /// Hidden layers of the MLP discriminator (512 wide, then 256).
    #[arg(long, default_value_t = d().disc_depth, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub disc_depth: u32,
    /// Width of every hidden layer of the MLP discriminator (default: 512, then 256); the
    /// deep-narrow scenario uses 32.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub disc_width: Option<u32>,
    /// No batch norm in the DCGAN discriminator (it normally follows every middle convolution).
    #[arg(long)]
    pub no_disc_batch_norm: bool,
    /// What G and D are told about each sample besides its pixels: with class, G draws the
    /// class it is given (grids and evaluation ask for every class equally often) and D judges
    /// each image with its class. Needs labelled data (the drawn centred, silhouettes and
    /// shapes, mnist, fashion-mnist, folders of class sub-folders).
    #[arg(long, value_enum, default_value_t = d().condition)]
    pub condition: Condition,
    /// Training data.
    #[arg(long, value_enum, default_value_t = d().dataset)]
    pub dataset: DatasetKind,
    /// Data folder: IDX files for mnist/fashion-mnist, images (searched recursively) for folder.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Image height and width in pixels (dcgan: 4..7 times a power of two ≥ 4, e.g. 28, 32, 64).
    /// Real images are resized and centre-cropped to it.
    #[arg(long, default_value_t = d().image_size, value_parser = clap::value_parser!(u32).range(16..=256))]
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
    #[arg(long, default_value_t = d().steps, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
    /// Images per batch (real and fake batches alike).
    #[arg(long, default_value_t = d().batch_size, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,
    /// Adam learning rate of both networks (see --lr-d and --lr-g for one of them).
    #[arg(long, default_value_t = d().lr, value_parser = parse_lr)]
    pub lr: f64,
    /// The discriminator's own learning rate, in place of --lr (the high-lr-d scenario varies
    /// it alone).
    #[arg(long, value_parser = parse_lr)]
    pub lr_d: Option<f64>,
    /// The generator's own learning rate, in place of --lr.
    #[arg(long, value_parser = parse_lr)]
    pub lr_g: Option<f64>,
    /// Adam beta1 of both networks, in [0, 1).
    #[arg(long, default_value_t = d().beta1, value_parser = parse_beta)]
    pub beta1: f64,
    /// Latent values in the generator's noise vector (--condition class appends a one-hot
    /// class to it).
    #[arg(long, default_value_t = d().latent_dim, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub latent_dim: u32,
    /// Seed of everything random: data, initial weights, noise, batch order.
    #[arg(long, default_value_t = d().seed)]
    pub seed: u64,
    /// Tensor backend: flex is the fast CPU default, ndarray the plain CPU one, wgpu the GPU.
    #[arg(long, value_enum, default_value_t = d().backend)]
    pub backend: BackendKind,
    /// wgpu adapter: auto, N (the N-th discrete GPU, from 0), discrete:N, integrated:N,
    /// virtual:N, or cpu (a software adapter such as Mesa's lavapipe).
    #[arg(long, default_value = "auto", value_parser = parse_adapter)]
    pub device: Adapter,
    /// CPU threads for flex/ndarray (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Parent folder of run directories.
    #[arg(long, default_value_os_t = d().out)]
    pub out: PathBuf,
    /// Run directory name (default: dataset-arch-activation-seed-timestamp); never overwritten.
    #[arg(long, value_parser = parse_name)]
    pub name: Option<String>,
    /// Write a metrics.csv row every N steps (and at the last step).
    #[arg(long, default_value_t = d().log_every, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: u64,
    /// Write a fixed-noise sample grid every N steps (0: only at start and end).
    #[arg(long, default_value_t = d().sample_every)]
    pub sample_every: u64,
    /// Images in each sample grid.
    #[arg(long, default_value_t = d().sample_count, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub sample_count: u32,
    /// Skip the gradient-sparsity probes (they normally run on every logged step).
    #[arg(long)]
    pub no_probes: bool,
    /// A unit counts as persistently dead when dead in each of the last N logged steps.
    #[arg(long, default_value_t = d().dead_window, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub dead_window: u32,
    /// No progress bar: a plain line every tenth of the run.
    #[arg(long)]
    pub quiet: bool,
    /// Measure sample quality every N steps and at the end (FD, precision/recall, class
    /// coverage; pixel MMD for unlabelled folders), as eval_* columns of metrics.csv and final
    /// values in summary.json. A multiple of --log-every; 0: off. The first use on a dataset
    /// trains its evaluator (under a minute for shapes, about four for Fashion-MNIST), cached in
    /// OUT/.evaluators.
    #[arg(long, default_value_t = d().eval_every)]
    pub eval_every: u64,
    /// Generated and real images each --eval-every measurement compares.
    #[arg(long, default_value_t = d().eval_samples, value_parser = clap::value_parser!(u32).range(10..=50_000))]
    pub eval_samples: u32,
    /// Write a checkpoint (networks, optimizer states, loop state) every N steps and at the end
    /// (0: only at the end and on Ctrl-C).
    #[arg(long, default_value_t = d().checkpoint_every)]
    pub checkpoint_every: u64,
    /// Continue the run in RUN_DIR from its last checkpoint, with its saved settings; --steps
    /// sets a new total, and --lr, --lr-d, --lr-g, --backend, --device, --threads, --log-every,
    /// --sample-every, --checkpoint-every, --quiet may change. Settings that define the model or
    /// data may not.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
}

impl TrainArgs {
    /// The checked settings these flags give.
    pub fn settings(&self) -> TrainSettings {
        TrainSettings {
            disc_act: self.disc_act,
            alpha: self.alpha,
            gen_act: self.gen_act,
            arch: self.arch,
            disc_depth: self.disc_depth,
            disc_width: self.disc_width,
            no_disc_batch_norm: self.no_disc_batch_norm,
            condition: self.condition,
            dataset: self.dataset,
            data: self.data.clone(),
            image_size: self.image_size,
            channels: self.channels,
            dataset_size: self.dataset_size,
            skip_bad_images: self.skip_bad_images,
            steps: self.steps,
            batch_size: self.batch_size,
            lr: self.lr,
            lr_d: self.lr_d,
            lr_g: self.lr_g,
            beta1: self.beta1,
            latent_dim: self.latent_dim,
            seed: self.seed,
            backend: self.backend,
            device: self.device,
            threads: self.threads,
            out: self.out.clone(),
            name: self.name.clone(),
            log_every: self.log_every,
            sample_every: self.sample_every,
            sample_count: self.sample_count,
            no_probes: self.no_probes,
            dead_window: self.dead_window,
            quiet: self.quiet,
            eval_every: self.eval_every,
            eval_samples: self.eval_samples,
            checkpoint_every: self.checkpoint_every,
        }
    }
}

/// What the command line asks for, in the terms of the modules that do it.
#[derive(Debug)]
pub enum Action {
    /// Train (or resume) a run.
    Train(Job),
    /// `gan sample`.
    Sample(sample::Options),
    /// `gan eval`.
    Eval(eval::Options),
    /// `gan compare`.
    Compare(compare::Options),
    /// `gan report`.
    Report(report::Options),
    /// `gan findings`.
    Findings(findings::Options),
}

/// Parses the process's command line.
pub fn parse() -> Result<Action, clap::Error> {
    parse_from(std::env::args_os())
}

/// Parses `args` (the program name first), noting which training flags were given explicitly.
pub fn parse_from<I, T>(args: I) -> Result<Action, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    // Training flags given on the command line, as opposed to defaults.
    let given = |m: &clap::ArgMatches| -> Given {
        Given::of(m.ids().filter_map(|id| {
            let from_user =
                m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine);
            from_user.then(|| Key::from_name(id.as_str())).flatten()
        }))
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    let train = |args: TrainArgs, m: &clap::ArgMatches| {
        Action::Train(Job {
            settings: args.settings(),
            given: given(m),
            resume: args.resume.clone(),
        })
    };
    Ok(match cli.command {
        None => train(cli.train, &matches),
        Some(Command::Train(args)) => train(args, sub.unwrap_or(&matches)),
        Some(Command::Compare(args)) => {
            if args.train.resume.is_some() {
                return Err(Cli::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--resume does not apply to gan compare: rerun the same gan compare command to continue it",
                ));
            }
            Action::Compare(compare::Options {
                acts: args.acts,
                alphas: args.alphas,
                seeds: args
                    .seeds
                    .unwrap_or(compare::scenario::default_seeds(args.scenario)),
                scenario: args.scenario,
                given: given(sub.unwrap_or(&matches)),
                train: args.train.settings(),
                primary: args.primary,
                margin: args.margin,
                mode: match (args.jobs, args.plan, args.task_index) {
                    (_, true, _) => compare::Mode::Plan,
                    (_, _, Some(i)) => compare::Mode::Task(i),
                    (Some(n), _, _) if n > 1 => compare::Mode::Jobs(n as usize),
                    _ => compare::Mode::Sequential,
                },
                command: compare::workers::this_command(),
            })
        }
        Some(Command::Findings(args)) => {
            if args.train.resume.is_some() {
                return Err(Cli::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--resume does not apply to gan findings: rerun the same command to continue it",
                ));
            }
            let given = given(sub.unwrap_or(&matches));
            let mut train = args.train.settings();
            if !given.has(Key::Out) {
                train.out = train.out.join("findings");
            }
            Action::Findings(findings::Options {
                scenarios: match args.scenarios.is_empty() {
                    true => Scenario::ALL.to_vec(),
                    false => args.scenarios,
                },
                seeds: args.seeds,
                primary: args.primary,
                replication_offset: args.replication_offset,
                jobs: args.jobs.unwrap_or(1) as usize,
                train,
                given,
            })
        }
        Some(Command::Sample(a)) => Action::Sample(sample::Options {
            run: a.run,
            n: a.n,
            seed: a.seed,
            output: a.output,
            interpolate: a.interpolate,
            backend: a.backend,
            device: a.device,
        }),
        Some(Command::Eval(a)) => Action::Eval(eval::Options {
            run: a.run,
            samples: a.samples,
            seed: a.seed,
            backend: a.backend,
            device: a.device,
        }),
        Some(Command::Report(a)) => Action::Report(report::Options {
            runs: a.runs,
            out: a.out,
            spec: report::verdict::Spec {
                primary: a
                    .primary
                    .unwrap_or(report::verdict::Spec::default().primary),
                margin: a.margin,
            },
        }),
    })
}

fn parse_primary(s: &str) -> Result<(Column, Take), String> {
    Column::parse_key(s).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        format!(
            "'{s}' is not a metric: use a metrics.csv column ({}; per-layer columns add _h1, \
             _h2, ...), optionally with :last or :mean",
            names.join(", ")
        )
    })
}

fn parse_margin(s: &str) -> Result<f64, String> {
    parse_in(s, "margin", |v| v > 0.0 && v < 1.0, "(0, 1)")
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

    fn action(args: &[&str]) -> Action {
        parse_from(std::iter::once("gan").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn flags_become_settings_and_given_keys() {
        let Action::Train(job) = action(&["--disc-act", "relu", "--steps", "7", "--threads", "1"])
        else {
            panic!("expected training")
        };
        assert_eq!(job.settings.disc_act, Act::Relu);
        assert_eq!(job.settings.steps, 7);
        assert_eq!(job.settings.threads, Some(1));
        assert_eq!(
            job.given,
            Given::of([Key::DiscAct, Key::Steps, Key::Threads])
        );
        assert_eq!(job.resume, None);
        let Action::Train(job) = action(&["train", "--resume", "r", "--lr", "1e-3"]) else {
            panic!("expected training")
        };
        assert_eq!(job.resume, Some(PathBuf::from("r")));
        assert_eq!(job.given, Given::of([Key::Lr]));
    }

    #[test]
    fn settings_written_back_as_flags_parse_to_the_same_settings() {
        let given = [
            "--disc-act",
            "relu",
            "--alpha",
            "0.1",
            "--no-disc-batch-norm",
            "--dataset",
            "fashion-mnist",
            "--data",
            "d i r",
            "--steps",
            "7",
            "--lr-d",
            "2e-3",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--eval-every",
            "5",
        ];
        let Action::Train(job) = action(&given) else {
            panic!("expected training")
        };
        let flags = job.settings.flags(job.given.iter());
        let Action::Train(again) = action(&flags.iter().map(String::as_str).collect::<Vec<_>>())
        else {
            panic!("expected training")
        };
        assert_eq!(again.settings, job.settings, "{flags:?}");
        assert_eq!(again.given, job.given);
        // Only the keys asked for; switches that are off and unset values are left out.
        assert_eq!(job.settings.flags([Key::Steps]), ["--steps", "7"]);
        assert!(
            TrainSettings::default()
                .flags([Key::Quiet, Key::LrG])
                .is_empty()
        );
    }

    #[test]
    fn defaults_are_the_settings_defaults() {
        let Action::Train(job) = action(&[]) else {
            panic!("expected training")
        };
        assert_eq!(job.settings, TrainSettings::default());
        assert_eq!(job.given, Given::default());
    }

    #[test]
    fn every_training_flag_is_a_setting_key() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let ids: Vec<&str> = cmd
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .filter(|id| !["resume", "help", "version"].contains(id))
            .collect();
        for id in &ids {
            assert!(Key::from_name(id).is_some(), "--{id} has no settings key");
        }
        assert_eq!(ids.len(), Key::ALL.len());
    }

    #[test]
    fn resume_help_names_every_setting_it_may_change() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let help = cmd
            .get_arguments()
            .find(|a| a.get_id() == "resume")
            .and_then(|a| a.get_help())
            .map(|h| h.to_string())
            .unwrap();
        for k in Key::ALL.iter().filter(|k| k.role().may_change_on_resume()) {
            assert!(help.contains(&k.flag()), "--resume help omits {}", k.flag());
        }
    }

    #[test]
    fn compare_refuses_resume() {
        let args = ["gan", "compare", "--resume", "x"];
        assert!(parse_from(args).is_err());
    }
}
